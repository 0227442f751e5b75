"""Windows key blobs: CryptoAPI PRIVATEKEYBLOB / PUBLICKEYBLOB (and the bare RSAPUBKEY CAPI keeps in
memory), CNG BCRYPT_RSAKEY_BLOB, BCRYPT_ECCKEY_BLOB and BCRYPT_KEY_DATA_BLOB.

The layouts are declared with ``construct`` (little-endian headers; CryptoAPI big numbers little-endian,
CNG big numbers big-endian). Every header is checked before anything else is read, so a random "RSA2"
costs a 24-byte read; a blob's total length is computed from its header and refused when absurd.

References: wincrypt.h (BLOBHEADER, RSAPUBKEY, "Base Provider Key BLOBs"), bcrypt.h
(BCRYPT_RSAKEY_BLOB, BCRYPT_ECCKEY_BLOB, BCRYPT_KEY_DATA_BLOB_HEADER).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from construct import (
    Bytes,
    BytesInteger,
    Const,
    ConstructError,
    If,
    Int8ul,
    Int16ul,
    Int32ul,
    Struct,
    this,
)
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from viewer.scan import keys, kinds
from viewer.scan.detector import Hit, Pattern, View
from viewer.scan.finding import Confidence, Finding

# --- declarations -----------------------------------------------------------------------------------

PRIVATEKEYBLOB = 0x07
PUBLICKEYBLOB = 0x06
CUR_BLOB_VERSION = 0x02
CALG_RSA_KEYX = 0xA400
CALG_RSA_SIGN = 0x2400

BLOBHEADER = Struct(
    "bType" / Int8ul,
    "bVersion" / Int8ul,
    "reserved" / Int16ul,
    "aiKeyAlg" / Int32ul,
)

RSAPUBKEY = Struct(
    "magic" / Bytes(4),  # b"RSA1" public, b"RSA2" private
    "bitlen" / Int32ul,
    "pubexp" / Int32ul,
)


def _le(length: Any) -> BytesInteger:
    return BytesInteger(length, signed=False, swapped=True)


def _be(length: Any) -> BytesInteger:
    return BytesInteger(length, signed=False, swapped=False)


# RSAPUBKEY followed by the private numbers, all little-endian (the in-memory CAPI form without BLOBHEADER).
CAPI_RSA_PRIVATE = Struct(
    "magic" / Const(b"RSA2"),
    "bitlen" / Int32ul,
    "pubexp" / Int32ul,
    "modulus" / _le(this.bitlen // 8),
    "prime1" / _le(this.bitlen // 16),
    "prime2" / _le(this.bitlen // 16),
    "exponent1" / _le(this.bitlen // 16),
    "exponent2" / _le(this.bitlen // 16),
    "coefficient" / _le(this.bitlen // 16),
    "privateExponent" / _le(this.bitlen // 8),
)

CAPI_RSA_PUBLIC = Struct(
    "magic" / Const(b"RSA1"),
    "bitlen" / Int32ul,
    "pubexp" / Int32ul,
    "modulus" / _le(this.bitlen // 8),
)

CAPI_PRIVATEKEYBLOB = Struct("header" / BLOBHEADER, "rsa" / CAPI_RSA_PRIVATE)
CAPI_PUBLICKEYBLOB = Struct("header" / BLOBHEADER, "rsa" / CAPI_RSA_PUBLIC)

BCRYPT_RSAPUBLIC_MAGIC = b"RSA1"  # 0x31415352
BCRYPT_RSAPRIVATE_MAGIC = b"RSA2"  # 0x32415352
BCRYPT_RSAFULLPRIVATE_MAGIC = b"RSA3"  # 0x33415352

BCRYPT_RSAKEY_BLOB = Struct(
    "Magic" / Bytes(4),
    "BitLength" / Int32ul,
    "cbPublicExp" / Int32ul,
    "cbModulus" / Int32ul,
    "cbPrime1" / Int32ul,
    "cbPrime2" / Int32ul,
)

_PRIV = this.header.Magic != BCRYPT_RSAPUBLIC_MAGIC
_FULL = this.header.Magic == BCRYPT_RSAFULLPRIVATE_MAGIC

BCRYPT_RSA = Struct(
    "header" / BCRYPT_RSAKEY_BLOB,
    "PublicExponent" / _be(this.header.cbPublicExp),
    "Modulus" / _be(this.header.cbModulus),
    "Prime1" / If(_PRIV, _be(this.header.cbPrime1)),
    "Prime2" / If(_PRIV, _be(this.header.cbPrime2)),
    "Exponent1" / If(_FULL, _be(this.header.cbPrime1)),
    "Exponent2" / If(_FULL, _be(this.header.cbPrime2)),
    "Coefficient" / If(_FULL, _be(this.header.cbPrime1)),
    "PrivateExponent" / If(_FULL, _be(this.header.cbModulus)),
)

# dwMagic -> (curve candidates, private?, algorithm)
ECC_MAGICS: dict[bytes, tuple[tuple[str, ...], bool, str]] = {
    b"ECS1": (("P-256",), False, "ECDSA"),
    b"ECS2": (("P-256",), True, "ECDSA"),
    b"ECS3": (("P-384",), False, "ECDSA"),
    b"ECS4": (("P-384",), True, "ECDSA"),
    b"ECS5": (("P-521",), False, "ECDSA"),
    b"ECS6": (("P-521",), True, "ECDSA"),
    b"ECK1": (("P-256",), False, "ECDH"),
    b"ECK2": (("P-256",), True, "ECDH"),
    b"ECK3": (("P-384",), False, "ECDH"),
    b"ECK4": (("P-384",), True, "ECDH"),
    b"ECK5": (("P-521",), False, "ECDH"),
    b"ECK6": (("P-521",), True, "ECDH"),
    # generic magics (curve set separately with BCRYPT_ECC_CURVE_NAME): the curve follows from cbKey
    b"ECDP": ((), False, "ECDSA"),
    b"ECDV": ((), True, "ECDSA"),
    b"ECKP": ((), False, "ECDH"),
    b"ECKV": ((), True, "ECDH"),
}
CBKEY_CURVES = {32: ("P-256", "secp256k1"), 48: ("P-384",), 66: ("P-521",)}

BCRYPT_ECCKEY_BLOB = Struct(
    "dwMagic" / Bytes(4),
    "cbKey" / Int32ul,
    "X" / Bytes(this.cbKey),
    "Y" / Bytes(this.cbKey),
    "d" / If(lambda ctx: ECC_MAGICS.get(ctx.dwMagic, ((), False, ""))[1], Bytes(this.cbKey)),
)

BCRYPT_KEY_DATA_BLOB_MAGIC = b"KDBM"  # 0x4d42444b
BCRYPT_KEY_DATA_BLOB = Struct(
    "dwMagic" / Const(BCRYPT_KEY_DATA_BLOB_MAGIC),
    "dwVersion" / Const(1, Int32ul),
    "cbKeyData" / Int32ul,
    "key" / Bytes(this.cbKeyData),
)

MIN_RSA_BITS = 256
MAX_KEY_DATA = 64  # AES 16/24/32, DES 8, 3DES 16/24, RC2/RC4 5..16, HMAC keys a little longer

# --- helpers ----------------------------------------------------------------------------------------


def _plausible_bitlen(bits: int) -> bool:
    return MIN_RSA_BITS <= bits <= keys.MAX_RSA_BITS and bits % 16 == 0


def capi_private_size(bitlen: int) -> int:
    """Bytes of RSAPUBKEY + private numbers (without the 8-byte BLOBHEADER)."""
    return 12 + 9 * (bitlen // 16)


def _rsa_public(n: int, e: int) -> Any:
    try:
        return rsa.RSAPublicNumbers(e, n).public_key()
    except (ValueError, TypeError, OverflowError):
        return None


def _low_entropy(data: bytes) -> bool:
    return len(set(data)) < max(4, len(data) // 4)


def _partly_consistent(n: int, e: int, d: int | None, p: int | None, q: int | None) -> bool:
    """For a blob whose mathematics failed: does any part still belong to the modulus (a damaged or
    half-overwritten key, worth a low finding), or is it noise that happened to look like a header?"""
    for factor in (p, q):
        if factor is not None and 1 < factor < n and n % factor == 0:
            return True
    if d is not None and 1 < d < n:
        return pow(pow(2, e, n), d, n) == 2
    return False


def _rsa_finding(
    encoding: str,
    offset: int,
    length: int,
    n: int,
    e: int,
    check: keys.Check,
    bits: int,
    partly_consistent: bool = False,
) -> Finding | None:
    public = check.private_key.public_key() if check.ok else _rsa_public(n, e)
    if check.ok:
        confidence = Confidence.CONFIRMED
        reasons = [f"{encoding} structure parsed", *check.reasons]
    else:
        if public is None or not partly_consistent:
            return None
        confidence = Confidence.LOW
        reasons = [f"{encoding} structure parsed", "key mathematics failed: " + "; ".join(check.reasons)]
    details: dict[str, Any] = keys.describe_public(public) if public is not None else {"algorithm": "RSA"}
    details["declared_bits"] = bits
    return Finding(
        kind=kinds.RSA_PRIVATE_KEY,
        encoding=encoding,
        offset=offset,
        length=length,
        confidence=confidence,
        reasons=reasons,
        key_id=keys.key_id(public) if public is not None else None,
        details=details,
    )


def _rsa_public_finding(encoding: str, offset: int, length: int, n: int, e: int, bits: int) -> Finding | None:
    # Public context: the modulus must be odd with exactly the declared bit length, e odd and > 1.
    if n.bit_length() != bits or n % 2 == 0 or e < 3 or e % 2 == 0:
        return None
    public = _rsa_public(n, e)
    if public is None:
        return None
    return Finding(
        kind=kinds.RSA_PUBLIC_KEY,
        encoding=encoding,
        offset=offset,
        length=length,
        confidence=Confidence.HIGH,
        reasons=[f"{encoding} structure parsed", "modulus odd with the declared bit length"],
        key_id=keys.key_id(public),
        details=keys.describe_public(public),
        secret=False,
    )


# --- the detector -----------------------------------------------------------------------------------


class WinBlobDetector:
    name = "winblobs"
    patterns = (
        # "RSA1"/"RSA2"/"RSA3" followed by a bit length in [256, 16384]: covers the CAPI RSAPUBKEY (with or
        # without its BLOBHEADER in front, looked for by the validator) and the CNG BCRYPT_RSAKEY_BLOB.
        Pattern("rsa-magic", rb"RSA[123][\x00-\xff][\x01-\x40]\x00\x00", 8),
        Pattern("ecc-magic", rb"EC[SDK][1-6PV][\x20\x30\x42]\x00\x00\x00", 8),
        Pattern("key-data-blob", rb"KDBM\x01\x00\x00\x00[\x05-\x40]\x00\x00\x00", 12),
    )

    def validate(self, view: View, hit: Hit) -> Iterable[Finding]:
        try:
            if hit.pattern == "rsa-magic":
                yield from self._rsa(view, hit.start)
            elif hit.pattern == "ecc-magic":
                yield from self._ecc(view, hit.start)
            elif hit.pattern == "key-data-blob":
                yield from self._key_data(view, hit.start)
        except (ConstructError, ValueError, OverflowError):
            return  # malformed data: nothing to report (never echo the bytes)

    # RSA ------------------------------------------------------------------------------------------

    def _rsa(self, view: View, start: int) -> Iterator[Finding]:
        head = view.read(start, 24)
        if len(head) < 12:
            return
        magic = head[:4]
        cng = self._bcrypt_rsa(view, start, head)
        if cng is not None:
            yield cng
            return
        capi = RSAPUBKEY.parse(head[:12])
        if not _plausible_bitlen(capi.bitlen) or capi.pubexp < 3 or capi.pubexp % 2 == 0:
            return
        header = None
        if start >= 8:
            h = BLOBHEADER.parse(view.read(start - 8, 8))
            want = PRIVATEKEYBLOB if magic == b"RSA2" else PUBLICKEYBLOB
            if (
                h.bType == want
                and h.bVersion == CUR_BLOB_VERSION
                and h.reserved == 0
                and h.aiKeyAlg in (CALG_RSA_KEYX, CALG_RSA_SIGN)
            ):
                header = h
        if magic == b"RSA2":
            size = capi_private_size(capi.bitlen)
            offset = start - 8 if header is not None else start
            data = view.read(offset, size + (8 if header is not None else 0))
            if len(data) != size + (8 if header is not None else 0):
                return
            if header is not None:
                k = CAPI_PRIVATEKEYBLOB.parse(data).rsa
                encoding = "cryptoapi-privatekeyblob"
            else:
                k = CAPI_RSA_PRIVATE.parse(data)
                encoding = "cryptoapi-rsapubkey"
            n = k.modulus
            if n.bit_length() != capi.bitlen or n % 2 == 0:
                return  # quick reject before any big-number work
            check = keys.check_rsa(
                n, k.pubexp, k.privateExponent, k.prime1, k.prime2, k.exponent1, k.exponent2, k.coefficient
            )
            partly = not check.ok and _partly_consistent(n, k.pubexp, k.privateExponent, k.prime1, k.prime2)
            finding = _rsa_finding(encoding, offset, len(data), n, k.pubexp, check, capi.bitlen, partly)
            if finding is not None:
                if header is not None:
                    finding.details["alg_id"] = (
                        "CALG_RSA_KEYX" if header.aiKeyAlg == CALG_RSA_KEYX else "CALG_RSA_SIGN"
                    )
                yield finding
        elif magic == b"RSA1" and header is not None:
            length = 8 + 12 + capi.bitlen // 8
            data = view.read(start - 8, length)
            if len(data) != length:
                return
            k = CAPI_PUBLICKEYBLOB.parse(data).rsa
            finding = _rsa_public_finding(
                "cryptoapi-publickeyblob", start - 8, length, k.modulus, k.pubexp, capi.bitlen
            )
            if finding is not None:
                yield finding

    def _bcrypt_rsa(self, view: View, start: int, head: bytes) -> Finding | None:
        if len(head) < 24:
            return None
        h = BCRYPT_RSAKEY_BLOB.parse(head)
        bits = h.BitLength
        if not (MIN_RSA_BITS <= bits <= keys.MAX_RSA_BITS and bits % 8 == 0):
            return None
        if not 1 <= h.cbPublicExp <= 8 or h.cbModulus != (bits + 7) // 8:
            return None
        if h.Magic == BCRYPT_RSAPUBLIC_MAGIC:
            if h.cbPrime1 > h.cbModulus or h.cbPrime2 > h.cbModulus:
                return None
            size = 24 + h.cbPublicExp + h.cbModulus
        else:
            if not (
                h.cbModulus // 4 <= h.cbPrime1 <= h.cbModulus
                and h.cbModulus // 4 <= h.cbPrime2 <= h.cbModulus
            ):
                return None
            size = 24 + h.cbPublicExp + h.cbModulus + h.cbPrime1 + h.cbPrime2
            if h.Magic == BCRYPT_RSAFULLPRIVATE_MAGIC:
                size += 2 * h.cbPrime1 + h.cbPrime2 + h.cbModulus
        data = view.read(start, size)
        if len(data) != size:
            return None
        k = BCRYPT_RSA.parse(data)
        n, e = k.Modulus, k.PublicExponent
        if n.bit_length() != bits or n % 2 == 0:
            return None
        if h.Magic == BCRYPT_RSAPUBLIC_MAGIC:
            return _rsa_public_finding("bcrypt-rsapublic", start, size, n, e, bits)
        if h.Magic == BCRYPT_RSAFULLPRIVATE_MAGIC:
            check = keys.check_rsa(
                n, e, k.PrivateExponent, k.Prime1, k.Prime2, k.Exponent1, k.Exponent2, k.Coefficient
            )
            encoding = "bcrypt-rsafullprivate"
        else:
            check = keys.check_rsa(n, e, None, k.Prime1, k.Prime2)
            encoding = "bcrypt-rsaprivate"
        partly = not check.ok and _partly_consistent(n, e, k.PrivateExponent, k.Prime1, k.Prime2)
        return _rsa_finding(encoding, start, size, n, e, check, bits, partly)

    # ECC ------------------------------------------------------------------------------------------

    def _ecc(self, view: View, start: int) -> Iterator[Finding]:
        head = view.read(start, 8)
        if len(head) < 8:
            return
        magic = head[:4]
        spec = ECC_MAGICS.get(magic)
        if spec is None:
            return
        curves, private, algorithm = spec
        cb = int.from_bytes(head[4:8], "little")
        candidates = tuple(c for c in (curves or CBKEY_CURVES.get(cb, ())) if c in CBKEY_CURVES.get(cb, ()))
        if not candidates:
            return
        size = 8 + cb * (3 if private else 2)
        data = view.read(start, size)
        if len(data) != size:
            return
        k = BCRYPT_ECCKEY_BLOB.parse(data)
        point = b"\x04" + k.X + k.Y
        if private:
            d = int.from_bytes(k.d, "big")
            if d == 0:
                return
            for curve in candidates:
                check = keys.check_ec(curve, d, point)
                if check.ok:
                    public = check.private_key.public_key()
                    details = keys.describe_public(public)
                    details["bcrypt_algorithm"] = algorithm
                    yield Finding(
                        kind=kinds.EC_PRIVATE_KEY,
                        encoding="bcrypt-eccprivate",
                        offset=start,
                        length=size,
                        confidence=Confidence.CONFIRMED,
                        reasons=["bcrypt-eccprivate structure parsed", *check.reasons],
                        key_id=keys.key_id(public),
                        details=details,
                    )
                    return
            public = self._ec_public(candidates, point)
            if public is not None:  # the point is on the curve but d does not produce it
                yield Finding(
                    kind=kinds.EC_PRIVATE_KEY,
                    encoding="bcrypt-eccprivate",
                    offset=start,
                    length=size,
                    confidence=Confidence.LOW,
                    reasons=[
                        "bcrypt-eccprivate structure parsed",
                        "public point on the curve",
                        "d*G != (X, Y)",
                    ],
                    key_id=keys.key_id(public),
                    details={**keys.describe_public(public), "bcrypt_algorithm": algorithm},
                )
            return
        public = self._ec_public(candidates, point)
        if public is not None:
            yield Finding(
                kind=kinds.EC_PUBLIC_KEY,
                encoding="bcrypt-eccpublic",
                offset=start,
                length=size,
                confidence=Confidence.HIGH,
                reasons=["bcrypt-eccpublic structure parsed", "(X, Y) is a point on the curve"],
                key_id=keys.key_id(public),
                details={**keys.describe_public(public), "bcrypt_algorithm": algorithm},
                secret=False,
            )

    @staticmethod
    def _ec_public(curves: tuple[str, ...], point: bytes) -> Any:
        for curve in curves:
            try:
                return ec.EllipticCurvePublicKey.from_encoded_point(keys.EC_CURVES[curve], point)
            except (ValueError, TypeError):
                continue
        return None

    # symmetric ------------------------------------------------------------------------------------

    def _key_data(self, view: View, start: int) -> Iterator[Finding]:
        head = view.read(start, 12)
        if len(head) < 12:
            return
        cb = int.from_bytes(head[8:12], "little")
        if not 5 <= cb <= MAX_KEY_DATA:
            return
        data = view.read(start, 12 + cb)
        if len(data) != 12 + cb:
            return
        blob = BCRYPT_KEY_DATA_BLOB.parse(data)
        key = blob.key
        aes = cb in (16, 24, 32)
        reasons = ["BCRYPT_KEY_DATA_BLOB header (KDBM, version 1) parsed", f"{cb}-byte key"]
        confidence = Confidence.HIGH
        if _low_entropy(key):
            confidence = Confidence.LOW
            reasons.append("key bytes have little variety: probably not a live key")
        yield Finding(
            kind=kinds.AES_KEY if aes else kinds.SYMMETRIC_KEY,
            encoding="bcrypt-key-data-blob",
            offset=start,
            length=len(data),
            confidence=confidence,
            reasons=reasons,
            key_id=keys.symmetric_key_id(key),
            details={"bits": cb * 8} if aes else {"bytes": cb},
        )


ORDER = 30  # where these run among the detectors (see viewer.scan.detectors)
DETECTORS = [WinBlobDetector()]
