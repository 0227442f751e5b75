"""Keys in Java heap dumps (HPROF), found by their objects, with the object context of every finding.

Runs after the first pass, on dumps whose format is ``hprof`` only (:mod:`viewer.evidence.formats.hprof`
builds the index: classes, instances, primitive arrays). What it reads:

* ``sun.security.rsa.RSAPrivateCrtKeyImpl``: its ``java.math.BigInteger`` fields n, e, d, p, q, pe, qe,
  coeff — each magnitude an int[] that HPROF writes big-endian; proved with ``keys.check_rsa`` (p*q = n,
  e*d = 1 mod lambda(n), the CRT values): every component's int[] is a finding, ``confirmed``;
* ``sun.security.ec.ECPrivateKeyImpl``: ``arrayS`` (the scalar, little-endian byte[]) or ``s``; the public
  key derived on each curve of the scalar's size is compared with every EC public key known — the heap's
  own ``sun.security.ec.ECPublicKeyImpl`` objects (their encoded point), the supplied keys, the first
  pass's public keys: a match is ``confirmed``, otherwise ``high`` (the structure is exact; the curve
  parameters object is not followed);
* ``sun.security.ec.ed.EdDSAPrivateKeyImpl`` (JDK 15+): ``h``, the 32-byte Ed25519 seed (a byte[]), and
  ``key``, the same seed as PKCS#8's inner OCTET STRING (04 20 || seed); the curve is the
  ``paramSpec``'s name. The public key derived from the seed must equal an Ed25519 public key known — the
  heap's own ``sun.security.ec.ed.EdDSAPublicKeyImpl`` objects (``key``: the raw 32-byte public key), the
  supplied keys, the first pass's public keys — and then both copies are findings, ``confirmed``. A seed
  that derives no known public key is *not* reported (32 random bytes have no structure of their own to
  check); a note says how many such objects there were, so that the examiner can supply the public key.
  Ed448 (57-byte ``h``) is counted in that note, not reported;
* ``javax.crypto.spec.SecretKeySpec``: ``key`` and ``algorithm`` — an AES key, an HMAC secret or another
  symmetric key, ``high`` (raw bytes have nothing to check), ``confirmed`` when another detector proved
  the same key (an AES schedule, HMAC pad blocks: same key id);

and for *every* finding of the scan that lies inside a primitive array — the AES schedules in
``AESCrypt``'s int[]s (big-endian here: the ``bytes`` layout, at whatever offset the packed records put
them), the HMAC pads of ``HmacCore``, the PKCS#8 ``byte[]`` the DER carver found — it adds
``details["hprof"]``: the array (type, length, id) and, where a key object holds it, the object's class,
id and the field path from the key object (``p.mag``, ``sessionK``, ``k_ipad``, ``h``). The context is
worked out again in :meth:`HprofDetector.annotate` from the index (never carried over from
``post_scan``, which may run in a forked worker whose state does not come back). The finding's bytes are
the array's elements, so redaction overwrites exactly them and the file stays a valid HPROF (same
records, same lengths).

Bounded by the index's limits; no key byte in reasons, details or notes.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from viewer.evidence.formats import hprof as fmt
from viewer.scan import keys, kinds
from viewer.scan.detector import PostScanContext
from viewer.scan.finding import Confidence, Finding
from viewer.scan.keymaterial import find_all, key_objects

RSA_CLASS = "sun.security.rsa.RSAPrivateCrtKeyImpl"
EC_CLASS = "sun.security.ec.ECPrivateKeyImpl"
EC_PUBLIC_CLASS = "sun.security.ec.ECPublicKeyImpl"
SECRET_CLASS = "javax.crypto.spec.SecretKeySpec"
ED_CLASS = "sun.security.ec.ed.EdDSAPrivateKeyImpl"
ED_PUBLIC_CLASS = "sun.security.ec.ed.EdDSAPublicKeyImpl"
RSA_FIELDS = {"n": "n", "e": "e", "d": "d", "p": "p", "q": "q", "pe": "dp", "qe": "dq", "coeff": "qinv"}
CURVES = {32: [("P-256", ec.SECP256R1())], 48: [("P-384", ec.SECP384R1())], 66: [("P-521", ec.SECP521R1())]}
ENCODING = "hprof-object"
MAX_HELD = 64  # arrays (and object arrays above them) whose holders are searched
MAX_HOLDERS = 4  # holders reported per array
MIN_DISTINCT = 7  # distinct byte values a raw key needs (a random 16-byte key has ~15)


class HprofDetector:
    """Key objects of Java heap dumps, and object context for every finding inside them."""

    name = "hprof"
    patterns = ()

    def post_scan(self, ctx: PostScanContext) -> Iterable[Finding]:
        if getattr(ctx.dump, "format", None) != fmt.FORMAT:
            return []
        src = ctx.dump.source
        idx = fmt.resolved(src)
        ctx.notes.extend(idx.warnings[:5])
        out: list[Finding] = []
        bigs = fmt.bigintegers(src, idx)
        out += self._rsa(src, idx, bigs)
        out += self._ec(ctx, src, idx, bigs)
        out += self._ed25519(ctx, src, idx)
        out += self._secret_keys(ctx, src, idx)
        ctx.notes.append(f"{len(idx.classes)} classes, {len(idx.primitive_arrays)} primitive arrays indexed; "
                         f"{len(out)} key-object findings")
        return out

    # -- RSA ----------------------------------------------------------------------------------------
    def _rsa(self, src: Any, idx: fmt.Index, bigs: dict[int, tuple[int, fmt.PrimitiveArray]]) -> list[Finding]:
        out: list[Finding] = []
        for obj in fmt.key_objects(src, iter([RSA_CLASS])):
            nums: dict[str, tuple[int, fmt.PrimitiveArray, int]] = {}
            for field_name, comp in RSA_FIELDS.items():
                ref = obj.fields.get(field_name, (0, 0, 0))[1]
                if ref in bigs:
                    value, arr = bigs[ref]
                    nums[comp] = (value, arr, ref)
            if not {"n", "e", "p", "q"} <= set(nums):
                continue
            check = keys.check_rsa(nums["n"][0], nums["e"][0], p=nums["p"][0], q=nums["q"][0])
            if not check.ok:
                continue
            public = check.private_key.public_key()
            kid = keys.key_id(public)
            where = f"{RSA_CLASS} @{obj.object_id:#x}"
            for comp, (value, arr, ref) in nums.items():
                field_name = next(f for f, c in RSA_FIELDS.items() if c == comp)
                if comp in ("n", "e"):
                    continue  # public
                details = keys.describe_public(public)
                details.update({"component": comp, "layout": "be", "component_bits": value.bit_length()})
                out.append(Finding(kinds.RSA_PRIVATE_KEY, ENCODING, arr.offset, arr.length, Confidence.CONFIRMED,
                                   reasons=[f"{comp} of {where} (BigInteger @{ref:#x}, its int[] magnitude)",
                                            *check.reasons],
                                   key_id=kid, details=details))
        return out

    # -- EC ----------------------------------------------------------------------------------------
    def _known_points(self, ctx: PostScanContext, src: Any, idx: fmt.Index) -> dict[tuple[int, int], str]:
        points: dict[tuple[int, int], str] = {}

        def add(obj: Any, source: str) -> None:
            if isinstance(obj, ec.EllipticCurvePrivateKey):
                obj = obj.public_key()
            if isinstance(obj, ec.EllipticCurvePublicKey):
                n = obj.public_numbers()
                points.setdefault((n.x, n.y), source)

        _outside_keys(ctx, (kinds.PUBLIC_KEY, kinds.CERTIFICATE, kinds.EC_PUBLIC_KEY), add)
        for obj in fmt.key_objects(src, iter([EC_PUBLIC_CLASS])):
            # JDK 17: X509Key.key (byte[]) holds the encoded point 04 || X || Y
            ref = obj.fields.get("key", (0, 0, 0))[1]
            arr = idx.primitive_arrays.get(ref)
            if arr is None or arr.type != 8 or arr.count not in (65, 97, 133):
                continue
            raw = src.read(arr.offset, arr.length)
            size = (len(raw) - 1) // 2
            for _name, curve in CURVES.get(size, []):
                try:
                    add(ec.EllipticCurvePublicKey.from_encoded_point(curve, raw),
                        f"{EC_PUBLIC_CLASS} @{obj.object_id:#x}")
                except ValueError:
                    continue
        return points

    def _ec(self, ctx: PostScanContext, src: Any, idx: fmt.Index,
            bigs: dict[int, tuple[int, fmt.PrimitiveArray]]) -> list[Finding]:
        objs = fmt.key_objects(src, iter([EC_CLASS]))
        if not objs:
            return []
        points = self._known_points(ctx, src, idx)
        out: list[Finding] = []
        for obj in objs:
            where = f"{EC_CLASS} @{obj.object_id:#x}"
            located: list[tuple[fmt.PrimitiveArray, int, str, str]] = []  # (array, d, layout, field)
            ref = obj.fields.get("arrayS", (0, 0, 0))[1]
            arr = idx.primitive_arrays.get(ref)
            if arr is not None and arr.type == 8 and arr.count in CURVES:
                located.append((arr, int.from_bytes(src.read(arr.offset, arr.length), "little"), "le", "arrayS"))
            ref = obj.fields.get("s", (0, 0, 0))[1]
            if ref in bigs:
                value, mag = bigs[ref]
                located.append((mag, value, "be", "s.mag"))
            for arr, d, layout, path in located:
                if len(set(d.to_bytes(max(1, (d.bit_length() + 7) // 8), "big"))) < MIN_DISTINCT:
                    continue  # a placeholder or a redacted scalar
                size = arr.length if layout == "le" else (d.bit_length() + 7) // 8
                best: tuple[Confidence, str, str, list[str]] | None = None
                for name, curve in CURVES.get(size, []) + [c for s, cs in CURVES.items() if s > size for c in cs][:1]:
                    try:
                        public = ec.derive_private_key(d, curve).public_key()
                    except (ValueError, TypeError, OverflowError):
                        continue
                    nums = public.public_numbers()
                    source = points.get((nums.x, nums.y))
                    if source is not None:
                        best = (Confidence.CONFIRMED, keys.key_id(public), name,
                                [f"d*G equals the public point of {source} on {name}"])
                        break
                    if best is None:
                        best = (Confidence.HIGH, keys.key_id(public), name,
                                [f"d in [1, n-1] on {name}; no public point known to check against"])
                if best is None:
                    continue
                confidence, kid, curve_name, why = best
                out.append(Finding(kinds.EC_PRIVATE_KEY, ENCODING, arr.offset, arr.length, confidence,
                                   reasons=[f"the private scalar of {where} ({path}, {layout})", *why],
                                   key_id=kid, details={"algorithm": "EC", "curve": curve_name, "component": "d",
                                                        "layout": layout}))
        return out

    # -- Ed25519 -----------------------------------------------------------------------------------
    @staticmethod
    def _known_ed25519(ctx: PostScanContext, src: Any, idx: fmt.Index) -> dict[bytes, str]:
        """Raw Ed25519 public keys known: supplied, found in the first pass, held by the heap's objects."""
        known: dict[bytes, str] = {}

        def add(obj: Any, source: str) -> None:
            if isinstance(obj, ed25519.Ed25519PrivateKey):
                obj = obj.public_key()
            if isinstance(obj, ed25519.Ed25519PublicKey):
                known.setdefault(obj.public_bytes_raw(), source)

        _outside_keys(ctx, (kinds.ED25519_PUBLIC_KEY, kinds.PUBLIC_KEY, kinds.CERTIFICATE), add)
        for obj in fmt.key_objects(src, iter([ED_PUBLIC_CLASS])):
            arr = idx.primitive_arrays.get(obj.fields.get("key", (0, 0, 0))[1])  # X509Key.key: the raw key
            if arr is not None and arr.type == 8 and arr.count == 32:
                known.setdefault(src.read(arr.offset, arr.length), f"{ED_PUBLIC_CLASS} @{obj.object_id:#x}")
        return known

    def _ed25519(self, ctx: PostScanContext, src: Any, idx: fmt.Index) -> list[Finding]:
        objs = fmt.key_objects(src, iter([ED_CLASS]))
        if not objs:
            return []
        known = self._known_ed25519(ctx, src, idx)
        out: list[Finding] = []
        unproved = 0
        for obj in objs:
            where = f"{ED_CLASS} @{obj.object_id:#x}"
            spec = fmt.object_at(src, idx, "java.security.spec.NamedParameterSpec",
                                 obj.fields.get("paramSpec", (0, 0, 0))[1])
            curve = fmt.string_value(src, idx, spec.get("name", (0, 0, 0))[1]) if spec else None
            h = idx.primitive_arrays.get(obj.fields.get("h", (0, 0, 0))[1])
            if h is None or h.type != 8 or h.count != 32 or curve not in (None, "Ed25519"):
                unproved += 1  # Ed448 (57 bytes), or not the layout read here
                continue
            seed = src.read(h.offset, 32)
            if len(set(seed)) < MIN_DISTINCT:
                continue  # a placeholder or a redacted seed
            public = ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key()
            source = known.get(public.public_bytes_raw())
            if source is None:
                unproved += 1
                continue
            kid = keys.key_id(public)
            copies = [(h.offset, "h", "the seed")]
            inner = idx.primitive_arrays.get(obj.fields.get("key", (0, 0, 0))[1])  # PKCS8Key.key: 04 20 || seed
            if (inner is not None and inner.type == 8 and inner.count == 34
                    and src.read(inner.offset, 34) == b"\x04\x20" + seed):
                copies.append((inner.offset + 2, "key", "the seed in PKCS#8's OCTET STRING (04 20 || seed)"))
            for offset, field_name, what in copies:
                out.append(Finding(
                    kinds.ED25519_PRIVATE_KEY, ENCODING, offset, 32, Confidence.CONFIRMED,
                    reasons=[f"{what} of {where} ({field_name}, curve {curve or '?'})",
                             f"the seed derives the public key of {source} (SHA-512, clamp, scalar times the "
                             "base point)"],
                    key_id=kid, details={"algorithm": "Ed25519", "component": "seed", "layout": "bytes"}))
        if unproved:
            ctx.notes.append(f"{unproved} {ED_CLASS} object(s) not reported: no Ed25519 public key known derives "
                             "from their seed (supply the public key), or not Ed25519")
        return out

    # -- SecretKeySpec -----------------------------------------------------------------------------
    def _secret_keys(self, ctx: PostScanContext, src: Any, idx: fmt.Index) -> list[Finding]:
        confirmed = {f.key_id for f in ctx.findings if f.confidence == Confidence.CONFIRMED and f.key_id}
        out: list[Finding] = []
        for obj in fmt.key_objects(src, iter([SECRET_CLASS])):
            ref = obj.fields.get("key", (0, 0, 0))[1]
            arr = idx.primitive_arrays.get(ref)
            if arr is None or arr.type != 8 or not 1 <= arr.count <= 1024:
                continue
            key = src.read(arr.offset, arr.length)
            if len(set(key)) < max(MIN_DISTINCT, len(key) // 3):
                continue  # a placeholder or a redacted key ("REDACTED" has 6 distinct bytes), not a key
            algorithm = fmt.string_value(src, idx, obj.fields.get("algorithm", (0, 0, 0))[1]) or "?"
            upper = algorithm.upper()
            kind = (kinds.AES_KEY if upper.startswith("AES") else kinds.HMAC_SECRET if upper.startswith("HMAC")
                    else kinds.SYMMETRIC_KEY)
            kid = keys.symmetric_key_id(key)
            reasons = [f"the key of {SECRET_CLASS} @{obj.object_id:#x} (algorithm {algorithm!r})"]
            confidence = Confidence.HIGH
            if kid in confirmed:
                confidence = Confidence.CONFIRMED
                reasons.append("the same key was proved elsewhere in the dump (a schedule or pad blocks)")
            else:
                reasons.append("raw key bytes: nothing to check them against")
            out.append(Finding(kind, ENCODING, arr.offset, arr.length, confidence, reasons=reasons, key_id=kid,
                               details={"algorithm": algorithm, "bits": 8 * len(key)}))
        return out

    # -- context -------------------------------------------------------------------------------------
    def annotate(self, ctx: PostScanContext) -> None:
        """After every post-scan detector: the array (and key object) holding each finding's bytes; for
        an array no key object holds, who does hold it (``held_by``: an instance's field, an object
        array's element — and then who holds that array)."""
        if getattr(ctx.dump, "format", None) != fmt.FORMAT:
            return
        src = ctx.dump.source
        idx = fmt.resolved(src)
        findings = list(ctx.findings)
        self._context(idx, self._owners(src, idx), findings)
        loose = list(dict.fromkeys(int(f.details["hprof"]["array_id"], 16) for f in findings
                                   if "hprof" in f.details and "class" not in f.details["hprof"]))[:MAX_HELD]
        if not loose:
            return
        holders = self._holders(ctx, src, idx, loose)
        hop = list(dict.fromkeys(r.object_id for refs in holders.values() for r in refs
                                 if r.where.startswith("[")))[:MAX_HELD]  # through object arrays: one level up
        above = self._holders(ctx, src, idx, hop) if hop else {}
        ctx.notes.append(f"holders of {len(loose)} array(s) no key object holds searched (the file read "
                         f"{2 if hop else 1} more time(s))")
        for f in findings:
            context = f.details.get("hprof")
            if not context or "class" in context:
                continue
            chains = []
            for r in holders.get(int(context["array_id"], 16), []):
                up = above.get(r.object_id, []) if r.where.startswith("[") else []
                chains.append(" ← ".join([r.text, *(u.text for u in up[:1])]))
            if chains:
                context["held_by"] = chains

    @staticmethod
    def _holders(ctx: PostScanContext, src: Any, idx: fmt.Index, targets: list[int]) -> dict[int, list[fmt.Referrer]]:
        """Object id -> its holders (at most ``MAX_HOLDERS``): every copy of its identifier in one pass
        over the file, kept where it is a reference (an object field, an object array's element)."""
        needles = [t.to_bytes(idx.id_size, "big") for t in targets]
        out: dict[int, list[fmt.Referrer]] = {}
        for target, positions in zip(targets, find_all(ctx.dump, needles, ctx.state, "hprof", ctx.view), strict=True):
            for pos in positions:
                ref = fmt.referrer_at(src, idx, pos, target)
                if ref is not None:
                    out.setdefault(target, []).append(ref)
                    if len(out[target]) >= MAX_HOLDERS:
                        break
        return out

    @staticmethod
    def _owners(src: Any, idx: fmt.Index) -> dict[int, tuple[str, int, str]]:
        """Array id -> (class, object id, field path) for every array a key object holds: directly
        (``key``, ``h``, ``k_ipad``) or as a ``java.math.BigInteger``'s magnitude (``p.mag``)."""
        owners: dict[int, tuple[str, int, str]] = {}
        for obj in fmt.key_objects(src):
            for name, (_at, value, _size) in obj.fields.items():
                if not isinstance(value, int) or not value:
                    continue
                if value in idx.primitive_arrays:
                    owners.setdefault(value, (obj.class_name, obj.object_id, name))
                    continue
                big = fmt.object_at(src, idx, "java.math.BigInteger", value)
                mag = big.get("mag", (0, 0, 0))[1] if big else 0
                if mag in idx.primitive_arrays:
                    owners.setdefault(mag, (obj.class_name, obj.object_id, f"{name}.mag"))
        return owners

    @staticmethod
    def _context(idx: fmt.Index, owners: dict[int, tuple[str, int, str]], findings: list[Finding]) -> None:
        arrays = sorted((a.offset, a.length, aid, a) for aid, a in idx.primitive_arrays.items())
        starts = [a[0] for a in arrays]
        for f in findings:
            i = bisect.bisect_right(starts, f.offset) - 1
            if i < 0:
                continue
            start, length, aid, arr = arrays[i]
            if not (start <= f.offset and f.offset + f.length <= start + length):
                continue
            context: dict[str, Any] = {"array": f"{fmt.TYPES[arr.type][0]}[{arr.count}]", "array_id": f"{aid:#x}"}
            owner = owners.get(aid)
            if owner is not None:
                context.update({"class": owner[0], "object_id": f"{owner[1]:#x}", "field": owner[2]})
            f.details["hprof"] = context


def _outside_keys(ctx: PostScanContext, found_kinds: tuple[str, ...], add: Any) -> None:
    """``add(key object, where)`` for every key known from outside the heap's objects: the supplied
    public keys, and the keys of the first pass's findings of ``found_kinds`` (SPKI, certificates, ...)."""
    for supplied in ctx.public_keys or ():
        add(getattr(supplied, "public_key", None), f"supplied public key {getattr(supplied, 'label', '?')}")
    for f in ctx.findings:
        if f.kind in found_kinds and f.length <= 65536:
            for obj in key_objects(ctx.view.read(f.offset, f.length), f.encoding):
                add(obj, f"{f.kind} at offset {f.offset:#x}")


ORDER = 135  # after the other post-scan detectors: it annotates their findings (see viewer.scan.detectors)
DETECTORS = [HprofDetector()]
