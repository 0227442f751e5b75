"""Live EC private keys: the private scalar held as an OpenSSL BIGNUM, proved by d*G = Q.

An EC private key in a process using OpenSSL is a ``BIGNUM``: a pointer to an array of 64-bit
little-endian limbs, followed by ``top`` (limbs in use: 4 for P-256, 6 for P-384, 9 for P-521), ``dmax``
(limbs allocated), ``neg`` (0 or 1) and ``flags`` (a few low bits). That 24-byte header has a shape a
prefilter can find, and the number it points at can be checked against every EC public key the scan
knows — the examiner's supplied keys and the EC public keys of the first pass (certificates, SPKI, key
blobs, the public halves of EC private keys found in other encodings): if ``d*G`` equals a known ``Q``
the scalar *is* that private key, ``confirmed``. Every copy of ``d`` in the file (little-endian limbs and
big-endian bytes) is then reported.

Runs after the first pass (a post-scan detector) and only when an EC public key is known; then it costs
one hyperscan pass over the file (Python ``re`` without hyperscan) and one scalar multiplication per
distinct candidate (~0.1 ms), bounded by ``MAX_CANDIDATES``. No number goes into a reason, detail or note.
Not covered: libraries other than OpenSSL (their structures differ), 32-bit processes.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Iterable, Iterator
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from viewer.scan import keys, kinds
from viewer.scan.detector import PostScanContext
from viewer.scan.finding import Confidence, Finding
from viewer.scan.keymaterial import find_all, key_objects

try:  # optional: the fast path
    import hyperscan as _hs
except ImportError:  # pragma: no cover - hyperscan installs where the project runs
    _hs = None

CURVES: dict[str, tuple[ec.EllipticCurve, int]] = {
    "P-256": (ec.SECP256R1(), 4),
    "P-384": (ec.SECP384R1(), 6),
    "P-521": (ec.SECP521R1(), 9),
}
CHUNK = 64 * 1024 * 1024
MAX_CANDIDATES = 200_000
MAX_COPIES = 64
HEADER = 24  # d pointer, top, dmax, neg, flags


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


def _header_hits(ctx: PostScanContext, regex: bytes) -> Iterator[int]:
    """File offsets (8-aligned) of BIGNUM headers, chunk by chunk through the read-only source."""
    size = int(ctx.view.size)
    compiled = None
    if _hs is not None and os.environ.get("EV_NO_HYPERSCAN", "") not in ("1", "true", "yes"):
        try:
            compiled = _hs.Database(mode=_hs.HS_MODE_BLOCK)
            compiled.compile(expressions=[regex], ids=[0], elements=1,
                             flags=[_hs.HS_FLAG_DOTALL | _hs.HS_FLAG_SOM_LEFTMOST])
        except _hs.error:
            compiled = None
    pattern = re.compile(regex, re.DOTALL)
    for start in range(0, size, CHUNK):
        if ctx.state is not None and ctx.state.is_cancelled:
            return
        data = ctx.view.read(start, min(CHUNK + HEADER, size - start))
        hits: list[int] = []
        if compiled is not None:
            def on_match(_id: int, frm: int, _to: int, _flags: int, found: Any) -> None:
                if frm % 8 == 0 and frm < CHUNK:
                    found.append(frm)

            compiled.scan(data, match_event_handler=on_match, context=hits)
        else:
            hits = [m.start() for m in pattern.finditer(data) if m.start() % 8 == 0 and m.start() < CHUNK]
        for off in sorted(set(hits)):
            yield start + off


class EcBignumDetector:
    """EC private scalars held as OpenSSL BIGNUMs, proved against known EC public keys."""

    name = "ecbignum"
    patterns = ()

    def post_scan(self, ctx: PostScanContext) -> Iterable[Finding]:
        points = _known_points(ctx)
        if not points:
            return []
        dump = ctx.dump
        wanted_limbs = {CURVES[name][1]: name for name in points}
        regex = _header_regex(tuple(wanted_limbs))
        tried: set[int] = set()
        proved: dict[int, tuple[str, str, str, int]] = {}  # d -> (curve, key_id, source, header offset)
        candidates = 0
        for off in _header_hits(ctx, regex):
            header = ctx.view.read(off, HEADER)
            if len(header) < HEADER:
                continue
            ptr, top, dmax, neg, _flags = struct.unpack("<QiiII", header)
            name = wanted_limbs.get(top)
            if name is None or dmax < top or neg:
                continue
            target = dump.va_to_file(ptr)
            if target is None:
                continue
            raw = dump.read(target, 8 * top)
            if len(raw) < 8 * top:
                continue
            d = int.from_bytes(raw, "little")
            if d in tried or d <= 1:
                continue
            tried.add(d)
            candidates += 1
            if candidates > MAX_CANDIDATES:
                ctx.notes.append(f"candidate cap of {MAX_CANDIDATES} reached; later BIGNUMs not tried")
                break
            curve = CURVES[name][0]
            try:
                public = ec.derive_private_key(d, curve).public_key().public_numbers()
            except (ValueError, TypeError, OverflowError):
                continue
            for numbers, kid, source in points[name]:
                if public.x == numbers.x and public.y == numbers.y:
                    proved[d] = (name, kid, source, off)
                    break
        ctx.notes.append(f"{sum(len(v) for v in points.values())} EC public keys known, {candidates} BIGNUM "
                         f"candidates tried, {len(proved)} proved")
        return list(self._locations(ctx, proved))

    def _locations(self, ctx: PostScanContext, proved: dict[int, tuple[str, str, str, int]]) -> Iterator[Finding]:
        for d, (name, kid, source, header_off) in proved.items():
            size = (CURVES[name][0].key_size + 7) // 8
            forms = [("le64", d.to_bytes(8 * CURVES[name][1], "little")), ("be", d.to_bytes(size, "big"))]
            needles = [blob.rstrip(b"\0") if layout == "le64" else blob.lstrip(b"\0") for layout, blob in forms]
            for (layout, _blob), needle, offsets in zip(forms, needles, find_all(ctx.dump, needles, ctx.state, self.name, ctx.view), strict=True):
                for off in offsets[:MAX_COPIES]:
                    yield Finding(
                        kind=kinds.EC_PRIVATE_KEY,
                        encoding="raw-bignum",
                        offset=off,
                        length=len(needle),
                        confidence=Confidence.CONFIRMED,
                        reasons=[
                            f"d*G equals the public point of key {kid} ({source})",
                            f"found through the OpenSSL BIGNUM header at file offset {header_off:#x}",
                        ],
                        key_id=kid,
                        details={"algorithm": "EC", "curve": name, "component": "d", "layout": layout},
                    )


ORDER = 100  # where these run among the detectors (see viewer.scan.detectors)
DETECTORS = [EcBignumDetector()]
