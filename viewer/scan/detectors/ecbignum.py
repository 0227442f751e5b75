"""Live EC private keys: the private scalar held as an OpenSSL BIGNUM, proved by d*G = Q.

An EC private key in a process using OpenSSL is a ``BIGNUM``: a pointer to an array of 64-bit
little-endian limbs, followed by ``top`` (limbs in use: 4 for P-256, 6 for P-384, 9 for P-521), ``dmax``
(limbs allocated), ``neg`` (0 or 1) and ``flags`` (a few low bits). That 24-byte header has a shape a
prefilter can find, and the number it points at can be checked against every EC public key the scan
knows — the examiner's supplied keys and the EC public keys of the first pass (certificates, SPKI, key
blobs, the public halves of EC private keys found in other encodings): if ``d*G`` equals a known ``Q``
the scalar *is* that private key, ``confirmed``. Every copy of ``d`` in the file (little-endian limbs and
big-endian bytes) is then reported.

Other runtimes hold the scalar their own ways, and each is a source of candidates here too:

* Go's ``big.Int`` (``ecdsa.PrivateKey.D``): ``neg`` (a bool, padded to 8 bytes), then the ``nat`` slice
  (pointer, len, cap) of little-endian 64-bit words — a 32-byte header found the same way, pointer
  followed;
* the JVM (OpenJDK 17's ``ECPrivateKeyImpl``): ``arrayS``, the scalar as a little-endian ``byte[]``
  (array header: mark word, compressed class pointer, length 32/48/66), and the arithmetic's own form,
  an ``IntegerPolynomial`` ``long[]`` of 26-bit (P-256) or 28-bit (P-384, P-521) limbs — 10, 14 or 19
  longs, every one below 2^26/2^28 (very selective);
* a SEC1 ECPrivateKey of the first pass that holds no public key and no curve (the JDK's PKCS#8 inner
  structure), ``medium`` until now: its scalar is tried against the known points too, and on a match the
  finding itself becomes ``confirmed`` with the key's id (it is updated in place: the engine keeps one
  finding per place).

Every copy of a proved ``d`` is then located in every layout: little-endian limbs, big-endian, the JVM's
``byte[]`` (little-endian bytes), ``BigInteger`` int[] (``jint``) and ``IntegerPolynomial`` limbs.

Runs after the first pass (a post-scan detector) and only when an EC public key is known; then its header
shapes are located in the engine's shared search after the first pass (else in a pass of its own; Python
``re`` without hyperscan) and one scalar multiplication per
distinct candidate (~0.1 ms), bounded by ``MAX_CANDIDATES``. No number goes into a reason, detail or note.
Not covered: other libraries' structures, 32-bit processes, JVMs without compressed class pointers.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Iterator
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from viewer.evidence.model import content_path
from viewer.scan import keys, kinds
from viewer.scan.detector import PostScanContext
from viewer.scan.finding import Confidence, Finding
from viewer.scan.keymaterial import (
    Search,
    Shape,
    count_searched,
    encode,
    find_all,
    hyperscan_enabled,
    key_objects,
)

CURVES: dict[str, tuple[ec.EllipticCurve, int]] = {
    "P-256": (ec.SECP256R1(), 4),
    "P-384": (ec.SECP384R1(), 6),
    "P-521": (ec.SECP521R1(), 9),
}
CHUNK = 64 * 1024 * 1024
MAX_CANDIDATES = 200_000
MAX_COPIES = 64
HEADER = 24  # d pointer, top, dmax, neg, flags


# JDK IntegerPolynomial order fields: (bits per limb, limbs) by curve
JDK_LIMBS = {"P-256": (26, 10), "P-384": (28, 14), "P-521": (28, 19)}
GO_HEADER = 32  # neg (padded), nat pointer, len, cap
JAVA_HEADER = 16  # mark word, compressed class pointer, length


def _go_regex(limbs: tuple[int, ...]) -> bytes:
    """Go's big.Int: neg 0/1 padded to 8 bytes, a user-space pointer, len in ``limbs``, cap >= 4."""
    lens = b"".join(re.escape(bytes([n])) for n in sorted(set(limbs)))
    return rb"[\x00\x01]\x00{7}[\x00-\xff]{6}\x00\x00[" + lens + rb"]\x00{7}[\x04-\x40]\x00{7}"


def _java_regex(lengths: tuple[int, ...]) -> bytes:
    """An OpenJDK array header (unlocked mark word 1, compressed class pointer, length in ``lengths``)."""
    alts = b"".join(re.escape(bytes([n])) for n in sorted(set(lengths)))
    return rb"\x01\x00{7}[\x00-\xff]{4}[" + alts + rb"]\x00\x00\x00"


def jdk_limbs(d: int, curve: str) -> bytes:
    """``d`` as the JDK's IntegerPolynomial keeps it: a long[] of ``bits``-bit limbs, least first."""
    bits, count = JDK_LIMBS[curve]
    mask = (1 << bits) - 1
    return b"".join(struct.pack("<q", (d >> (bits * i)) & mask) for i in range(count))


def _header_regex(limbs: tuple[int, ...]) -> bytes:
    """pointer (8 bytes, user space: top two bytes zero), top in ``limbs``, dmax >= top and <= 64,
    neg 0/1, flags < 16 — all little-endian."""
    tops = b"".join(re.escape(bytes([n])) for n in sorted(set(limbs)))
    return rb"[\x00-\xff]{6}\x00\x00[" + tops + rb"]\x00\x00\x00[\x04-\x40]\x00\x00\x00[\x00\x01]\x00\x00\x00[\x00-\x0f]\x00\x00\x00"


def _known_points(ctx: PostScanContext) -> dict[str, list[tuple[Any, str, str]]]:
    """EC public keys by curve: (public numbers, key_id, where from)."""
    found: dict[str, dict[str, tuple[Any, str, str]]] = {}

    def add(public: Any, source: str) -> None:
        if not isinstance(public, ec.EllipticCurvePublicKey):
            return
        name = keys.CURVE_JWK_NAMES.get(public.curve.name)
        if name not in CURVES:
            return
        kid = keys.key_id(public)
        found.setdefault(name, {}).setdefault(kid, (public.public_numbers(), kid, source))

    for supplied in ctx.public_keys:
        add(getattr(supplied, "public_key", None), getattr(supplied, "label", "supplied key"))
    for f in ctx.findings:
        if f.kind not in (kinds.EC_PRIVATE_KEY, kinds.PUBLIC_KEY, kinds.CERTIFICATE) or f.length > 65536:
            continue
        if f.details.get("algorithm") not in (None, "EC"):
            continue
        for obj in key_objects(ctx.view.read(f.offset, f.length), f.encoding):
            public = obj.public_key() if hasattr(obj, "private_numbers") else obj
            add(public, f"finding {f.id}")
    return {name: list(by_kid.values()) for name, by_kid in found.items()}


def _header_shapes(points: dict[str, list[tuple[Any, str, str]]]) -> list[Shape]:
    """The three header shapes searched for the curves of the known points: the JDK's arrays, OpenSSL's
    BIGNUM, Go's big.Int (8-aligned, at most ``MAX_CANDIDATES`` matches each)."""
    curves = list(points)
    limbs = tuple(CURVES[name][1] for name in curves)
    lengths = tuple(JDK_LIMBS[name][1] for name in curves) + tuple((CURVES[name][0].key_size + 7) // 8 for name in curves)
    return [Shape(_java_regex(lengths), JAVA_HEADER, 8, MAX_CANDIDATES),
            Shape(_header_regex(limbs), HEADER, 8, MAX_CANDIDATES),
            Shape(_go_regex(limbs), GO_HEADER, 8, MAX_CANDIDATES)]


def _header_hits(ctx: PostScanContext, forms: list[Shape]) -> list[list[int]]:
    """File offsets (8-aligned) of the matches of each shape (at most ``MAX_CANDIDATES`` each): from the
    engine's shared search after the first pass where it located them (``ctx.view.located_shapes``),
    else in one pass of its own (``keymaterial.Search``: through a private map of the file where it has
    one, else chunk by chunk through the read-only source; Python ``re`` without hyperscan)."""
    shared = getattr(ctx.view, "located_shapes", None) or {}
    if all(form in shared for form in forms):
        return [list(shared[form]) for form in forms]
    size = int(ctx.view.size)
    search = Search.compile([], forms) if hyperscan_enabled() else None
    path = content_path(ctx.dump)
    if search is not None and path:
        try:
            found = search.run(str(path), size, state=ctx.state, step="ecbignum")
            count_searched(ctx.view, size)
            return found
        except (OSError, ValueError):  # the file cannot be mapped again: through the source
            pass
    out: list[list[int]] = [[] for _ in forms]
    patterns = [re.compile(f.regex, re.DOTALL) for f in forms]
    scratches = search.scratches() if search is not None else []
    overlap = max(f.length for f in forms)
    for start in range(0, size, CHUNK):
        if ctx.state is not None and ctx.state.is_cancelled:
            break
        data = ctx.view.read(start, min(CHUNK + overlap, size - start))
        if search is not None:
            search.scan(data, start, CHUNK, out, scratches)
            continue
        for i, pattern in enumerate(patterns):
            hits = sorted({m.start() for m in pattern.finditer(data) if m.start() % 8 == 0 and m.start() < CHUNK})
            out[i].extend(start + off for off in hits[: max(0, MAX_CANDIDATES - len(out[i]))])
    return out


class EcBignumDetector:
    """EC private scalars held as OpenSSL BIGNUMs, Go big.Ints and JDK arrays, proved against known EC
    public keys."""

    name = "ecbignum"
    patterns = ()

    def shapes(self, ctx: PostScanContext) -> list[Shape]:
        """The header shapes step 1 searches (located by the engine's shared search), when an EC public
        key is known."""
        points = _known_points(ctx)
        return _header_shapes(points) if points else []

    def post_scan(self, ctx: PostScanContext) -> Iterable[Finding]:
        points = _known_points(ctx)
        if not points:
            return []
        self._tried: set[int] = set()
        self._candidates = 0
        self._all_proved = False
        total = sum(len(v) for v in points.values())
        proved: dict[int, tuple[str, str, str, str]] = {}  # d -> (curve, key_id, source, how it was found)
        for d, how in self._all_candidates(ctx, points):
            if self._candidates > MAX_CANDIDATES:
                ctx.notes.append(f"candidate cap of {MAX_CANDIDATES} reached; later candidates not tried")
                break
            hit = self._prove(d, points)
            if hit is not None and d not in proved:
                proved[d] = (*hit, how)
                self._all_proved = len({v[1] for v in proved.values()}) >= total
        upgraded = self._upgrade_sec1(ctx, points, proved)
        ctx.notes.append(f"{sum(len(v) for v in points.values())} EC public keys known, {self._candidates} "
                         f"candidates tried, {len(proved)} proved" + (f", {upgraded} SEC1 keys confirmed" if upgraded else ""))
        return list(self._locations(ctx, proved))

    def _prove(self, d: int, points: dict[str, list[tuple[Any, str, str]]]) -> tuple[str, str, str] | None:
        """(curve, key_id, source) when d*G is a known point (each d tried once)."""
        if d in self._tried or d <= 1:
            return None
        self._tried.add(d)
        self._candidates += 1
        for name, known in points.items():
            curve = CURVES[name][0]
            if d.bit_length() > curve.key_size:
                continue
            try:
                public = ec.derive_private_key(d, curve).public_key().public_numbers()
            except (ValueError, TypeError, OverflowError):
                continue
            for numbers, kid, source in known:
                if public.x == numbers.x and public.y == numbers.y:
                    return name, kid, source
        return None

    def _all_candidates(self, ctx: PostScanContext, points: dict[str, list[tuple[Any, str, str]]]
                        ) -> Iterator[tuple[int, str]]:
        """(d, how it was found) from every header shape, cheapest and most selective first."""
        dump = ctx.dump
        curves = [name for name in points]
        shapes = {JDK_LIMBS[name][1]: name for name in curves}
        sizes = {(CURVES[name][0].key_size + 7) // 8: name for name in curves}
        java_hits, bn_hits, go_hits = _header_hits(ctx, _header_shapes(points))
        jdk_hits = bytes_hits = java_hits  # told apart by the array's length
        # the JDK's IntegerPolynomial long[] (every limb below 2^bits: very selective)
        for off in jdk_hits:
            head = ctx.view.read(off, JAVA_HEADER)
            if len(head) < JAVA_HEADER:
                continue
            count = struct.unpack_from("<I", head, 12)[0]
            name = shapes.get(count)
            if name is None:
                continue
            bits, _ = JDK_LIMBS[name]
            raw = ctx.view.read(off + JAVA_HEADER, 8 * count)
            if len(raw) < 8 * count:
                continue
            words = struct.unpack(f"<{count}q", raw)
            if any(not 0 <= w < 1 << bits for w in words):
                continue
            yield sum(w << (bits * i) for i, w in enumerate(words)), f"a JDK IntegerPolynomial long[] at file offset {off:#x}"
        # OpenSSL BIGNUM headers
        wanted_limbs = {CURVES[name][1]: name for name in curves}
        for off in bn_hits:
            header = ctx.view.read(off, HEADER)
            if len(header) < HEADER:
                continue
            ptr, top, dmax, neg, _flags = struct.unpack("<QiiII", header)
            if wanted_limbs.get(top) is None or dmax < top or neg:
                continue
            target = dump.va_to_file(ptr)
            if target is None:
                continue
            raw = dump.read(target, 8 * top)
            if len(raw) == 8 * top:
                yield int.from_bytes(raw, "little"), f"the OpenSSL BIGNUM header at file offset {off:#x}"
        # Go big.Int headers
        for off in go_hits:
            header = ctx.view.read(off, GO_HEADER)
            if len(header) < GO_HEADER:
                continue
            _neg, ptr, length, cap = struct.unpack("<QQQQ", header)
            if length not in wanted_limbs or cap < length:
                continue
            target = dump.va_to_file(ptr)
            if target is None:
                continue
            raw = dump.read(target, 8 * length)
            if len(raw) == 8 * length:
                yield int.from_bytes(raw, "little"), f"the Go big.Int header at file offset {off:#x}"
        # the JDK's little-endian byte[] (arrayS): many byte[]s of that size (hashes, nonces), so only
        # while some known point is still without its scalar
        for off in bytes_hits:
            if self._all_proved:
                break
            head = ctx.view.read(off, JAVA_HEADER)
            count = struct.unpack_from("<I", head, 12)[0] if len(head) == JAVA_HEADER else 0
            if count not in sizes:
                continue
            raw = ctx.view.read(off + JAVA_HEADER, count)
            if len(raw) == count and len(set(raw)) >= count // 3:
                yield int.from_bytes(raw, "little"), f"a JDK byte[] (little-endian) at file offset {off:#x}"

    def _upgrade_sec1(self, ctx: PostScanContext, points: dict[str, list[tuple[Any, str, str]]],
                      proved: dict[int, tuple[str, str, str, str]]) -> int:
        """SEC1 keys of the first pass without public key or curve: confirmed in place when d*G is known."""
        done = 0
        for f in ctx.findings:
            if f.kind != kinds.EC_PRIVATE_KEY or f.key_id is not None or f.encoding != "der-sec1" or f.length > 200:
                continue
            data = ctx.view.read(f.offset, f.length)
            if len(data) < 7 or data[2:5] != b"\x02\x01\x01" or data[5] != 0x04 or 7 + data[6] > len(data):
                continue
            d = int.from_bytes(data[7 : 7 + data[6]], "big")
            self._tried.discard(d)
            hit = self._prove(d, points)
            if hit is None:
                continue
            name, kid, source = hit
            proved.setdefault(d, (name, kid, source, f"the SEC1 ECPrivateKey at file offset {f.offset:#x}"))
            f.key_id = kid
            f.confidence = Confidence.CONFIRMED
            f.reasons.append(f"d*G equals the public point of key {kid} ({source}) on {name}")
            f.details.update({"algorithm": "EC", "curve": name})
            done += 1
        return done

    def _locations(self, ctx: PostScanContext, proved: dict[int, tuple[str, str, str, str]]) -> Iterator[Finding]:
        for d, (name, kid, source, how) in proved.items():
            size = (CURVES[name][0].key_size + 7) // 8
            forms = [("le64", d.to_bytes(8 * CURVES[name][1], "little").rstrip(b"\0")),
                     ("be", d.to_bytes(size, "big").lstrip(b"\0")),
                     ("jint", encode(d, "jint")),
                     ("jdk-limbs", jdk_limbs(d, name))]
            needles = [blob for _layout, blob in forms]
            found = find_all(ctx.dump, needles, ctx.state, self.name, ctx.view)
            for (layout, needle), offsets in zip(forms, found, strict=True):
                for off in offsets[:MAX_COPIES]:
                    if layout == "le64" and off % 8:
                        layout_name = "le"
                    else:
                        layout_name = layout
                    yield Finding(
                        kind=kinds.EC_PRIVATE_KEY,
                        encoding="raw-bignum",
                        offset=off,
                        length=len(needle),
                        confidence=Confidence.CONFIRMED,
                        reasons=[
                            f"d*G equals the public point of key {kid} ({source})",
                            f"found through {how}",
                        ],
                        key_id=kid,
                        details={"algorithm": "EC", "curve": name, "component": "d", "layout": layout_name},
                    )


ORDER = 100  # where these run among the detectors (see viewer.scan.detectors)
DETECTORS = [EcBignumDetector()]
