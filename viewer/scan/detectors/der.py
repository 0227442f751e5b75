"""DER carving: private keys (PKCS#1, PKCS#8, SEC1, OpenSSL's traditional DSA) and public context
(X.509 certificates, SubjectPublicKeyInfo, PKCS#1 RSAPublicKey) found as raw DER in memory.

How a hit is handled, cheapest first (most hits in real memory are not keys):

1. the prefilter patterns are anchored on the DER header bytes, OIDs included where there are any;
2. the outer length is read from the header; lengths over 64 KiB (``MAX_DER``) are refused before
   anything else is read;
3. a tiny strict DER reader walks the structure: definite minimal lengths, every child inside its
   parent, INTEGERs minimally encoded and positive, nothing left over;
4. only then the mathematics (``keys.check_rsa``/``check_ec``/...).

Confidence: ``confirmed`` when the numbers fit together (RSA p*q = n, e*d = 1 mod lambda(n), CRT values;
EC d*G = Q against the stored point; DSA y = g^x mod p; Ed25519/X25519 seed derives the stored public
key). ``high`` for a well-formed key with nothing stored to check against (SEC1 or PKCS#8 without the
public point, Ed25519 PKCS#8 v1, PKCS#8 DSA). A well-formed structure whose mathematics *fails* is
``low`` with the failed check as the reason and no key_id: it is not the key it claims to be (corrupt,
or a decoy), but an examiner may want to look at it.

The parsing and checking functions here (``analyse_private_der``, ``public_context``) are shared with the
PEM detector, which decodes the base64 and hands the DER over.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ed448, ed25519, rsa, x448, x25519

from viewer.scan import keys, kinds
from viewer.scan.detector import Hit, Pattern, View
from viewer.scan.finding import Confidence, Finding

MAX_DER = 64 * 1024  # a longer "key" or certificate is corrupt data; never read more than this per hit
MAX_INT_BYTES = keys.MAX_RSA_BITS // 8 + 1

# --- OIDs (DER content bytes) ------------------------------------------------------------------------
OID_RSA = bytes.fromhex("2a864886f70d010101")
OID_RSA_PSS = bytes.fromhex("2a864886f70d01010a")
OID_EC = bytes.fromhex("2a8648ce3d0201")
OID_DSA = bytes.fromhex("2a8648ce380401")
OID_X25519 = bytes.fromhex("2b656e")
OID_X448 = bytes.fromhex("2b656f")
OID_ED25519 = bytes.fromhex("2b6570")
OID_ED448 = bytes.fromhex("2b6571")
CURVE_OIDS = {
    bytes.fromhex("2a8648ce3d030107"): "P-256",
    bytes.fromhex("2b81040022"): "P-384",
    bytes.fromhex("2b81040023"): "P-521",
    bytes.fromhex("2b8104000a"): "secp256k1",
}
CURVE_SIZES = {"P-256": 32, "P-384": 48, "P-521": 66, "secp256k1": 32}
OKP = {
    OID_ED25519: (kinds.ED25519_PRIVATE_KEY, 32, ed25519.Ed25519PrivateKey),
    OID_X25519: (kinds.X25519_PRIVATE_KEY, 32, x25519.X25519PrivateKey),
    OID_ED448: (kinds.ED448_PRIVATE_KEY, 57, ed448.Ed448PrivateKey),
    OID_X448: (kinds.X448_PRIVATE_KEY, 56, x448.X448PrivateKey),
}
PBE_NAMES = {
    bytes.fromhex("2a864886f70d01050d"): "pbes2",
    bytes.fromhex("2a864886f70d01050c"): "pbkdf2",
    bytes.fromhex("2b06010401da47040b"): "scrypt",
    bytes.fromhex("2a864886f70d010c0103"): "pbeWithSHAAnd3-KeyTripleDES-CBC",
    bytes.fromhex("2a864886f70d010c0106"): "pbeWithSHAAnd40BitRC2-CBC",
    bytes.fromhex("2a864886f70d010c0101"): "pbeWithSHAAnd128BitRC4",
    bytes.fromhex("2a864886f70d010503"): "pbeWithMD5AndDES-CBC",
    bytes.fromhex("2a864886f70d01050a"): "pbeWithSHA1AndDES-CBC",
    bytes.fromhex("608648016503040102"): "aes-128-cbc",
    bytes.fromhex("608648016503040116"): "aes-192-cbc",
    bytes.fromhex("60864801650304012a"): "aes-256-cbc",
    bytes.fromhex("2a864886f70d0307"): "des-ede3-cbc",
}

# Regex fragments. Raw bytes literals: every byte is written as an escape, so OID bytes such as 0x2a
# ('*') and 0x2b ('+') are literals for both ``re`` and hyperscan, and no NUL byte reaches hyperscan.
_ANY = rb"[\x00-\xff]"
_LEN_SMALL = rb"(?:[\x05-\x7f]|\x81[\x80-\xff]|\x82[\x00-\xff]{2})"
_ALG_OIDS = (
    rb"\x06(?:\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01[\x01\x0a]|\x07\x2a\x86\x48\xce\x3d\x02\x01"
    rb"|\x07\x2a\x86\x48\xce\x38\x04\x01|\x03\x2b\x65[\x6e-\x71])"
)

PATTERNS = (
    # PKCS#1 RSAPrivateKey and OpenSSL's traditional DSAPrivateKey: SEQUENCE { INTEGER 0, INTEGER big }
    Pattern("der-pkcs1", rb"\x30(?:\x82[\x00-\xff]{2}|\x81[\x80-\xff])\x02\x01\x00\x02(?:\x81|\x82)", 10),
    # PKCS#8 PrivateKeyInfo / OneAsymmetricKey: SEQUENCE { INTEGER 0|1, SEQUENCE { OID alg ...
    Pattern(
        "der-pkcs8",
        rb"\x30(?:[\x2e-\x7f]|\x81[\x80-\xff]|\x82[\x00-\xff]{2})\x02\x01[\x00\x01]\x30" + _LEN_SMALL + _ALG_OIDS,
        30,
    ),
    # SEC1 ECPrivateKey: SEQUENCE { INTEGER 1, OCTET STRING d
    Pattern("der-sec1", rb"\x30(?:[\x25-\x7f]|\x81[\x80-\xff])\x02\x01\x01\x04[\x18-\x42]", 8),
    # X.509 Certificate: SEQUENCE { SEQUENCE (tbs) { [0] { INTEGER version } ...
    Pattern(
        "der-x509",
        rb"\x30(?:\x82[\x00-\xff]{2}|\x81[\x80-\xff])\x30(?:\x82[\x00-\xff]{2}|\x81[\x80-\xff])\xa0\x03\x02\x01[\x00-\x02]",
        13,
    ),
    # SubjectPublicKeyInfo: SEQUENCE { SEQUENCE { OID alg ...
    Pattern("der-spki", rb"\x30(?:[\x2a-\x7f]|\x81[\x80-\xff]|\x82[\x00-\xff]{2})\x30" + _LEN_SMALL + _ALG_OIDS, 26),
    # PKCS#1 RSAPublicKey: SEQUENCE { INTEGER n (>= 512 bits, positive, top byte set), INTEGER e }
    Pattern("der-pkcs1-public", rb"\x30(?:\x82[\x00-\xff]{2}|\x81[\x80-\xff])\x02(?:\x82[\x00-\xff]{2}|\x81[\x40-\xff])\x00[\x80-\xff]", 11),
)


class DerError(ValueError):
    """Not well-formed DER (the message names the structure, never the bytes)."""


# --- a tiny strict DER reader -----------------------------------------------------------------------


def header(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the TLV at ``pos``; strict DER, inside ``[pos, end)``."""
    if pos + 2 > end:
        raise DerError("truncated header")
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise DerError("high tag number")
    first = buf[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 3:
            raise DerError("indefinite or oversized length")
        if pos + count > end:
            raise DerError("truncated length")
        length = int.from_bytes(buf[pos : pos + count], "big")
        if length < 0x80 or length >> (8 * (count - 1)) == 0:
            raise DerError("length not minimally encoded")
        pos += count
    if length > end - pos:
        raise DerError("length runs past its parent")
    return tag, pos, pos + length


def outer_length(head: bytes) -> int | None:
    """Total size of the TLV starting ``head`` (at least 5 bytes), or None if it is not a plausible DER
    SEQUENCE no longer than ``MAX_DER``."""
    if len(head) < 2 or head[0] != 0x30:
        return None
    first = head[1]
    if first < 0x80:
        return 2 + first
    count = first & 0x7F
    if count == 0 or count > 2 or len(head) < 2 + count:
        return None
    length = int.from_bytes(head[2 : 2 + count], "big")
    if length < 0x80 or length >> (8 * (count - 1)) == 0 or length + 2 + count > MAX_DER:
        return None
    return 2 + count + length


class Reader:
    """Sequential reader over the children of one constructed value."""

    def __init__(self, buf: bytes, start: int, end: int) -> None:
        self.buf, self.pos, self.end = buf, start, end

    def at_end(self) -> bool:
        return self.pos >= self.end

    def peek_tag(self) -> int | None:
        return self.buf[self.pos] if self.pos < self.end else None

    def next(self, expect: int) -> tuple[int, int]:
        tag, start, end = header(self.buf, self.pos, self.end)
        if tag != expect:
            raise DerError(f"expected tag 0x{expect:02x}")
        self.pos = end
        return start, end

    def raw(self, expect: int) -> bytes:
        start, end = self.next(expect)
        return self.buf[start:end]

    def sub(self, expect: int) -> Reader:
        start, end = self.next(expect)
        return Reader(self.buf, start, end)

    def integer(self, max_bytes: int = MAX_INT_BYTES) -> int:
        data = self.raw(0x02)
        if not data:
            raise DerError("empty INTEGER")
        if len(data) > max_bytes:
            raise DerError("INTEGER too large")
        if data[0] & 0x80:
            raise DerError("negative INTEGER")
        if len(data) > 1 and data[0] == 0 and not data[1] & 0x80:
            raise DerError("INTEGER not minimally encoded")
        return int.from_bytes(data, "big")

    def oid(self) -> bytes:
        data = self.raw(0x06)
        if not data or data[-1] & 0x80:
            raise DerError("bad OID")
        return data

    def bit_string(self) -> bytes:
        data = self.raw(0x03)
        if not data or data[0] != 0:
            raise DerError("BIT STRING with unused bits")
        return data[1:]

    def finish(self) -> None:
        if self.pos != self.end:
            raise DerError("trailing data")


# --- analysis results -------------------------------------------------------------------------------


@dataclass
class KeyResult:
    """What a private key structure turned out to be. ``confidence`` None means: not a key at all."""

    kind: str
    confidence: Confidence | None
    reasons: list[str] = field(default_factory=list)
    key_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _public_of(private: Any) -> tuple[str | None, dict[str, Any]]:
    public = private.public_key()
    return keys.key_id(public), keys.describe_public(public)


def _from_check(kind: str, check: keys.Check, unchecked: Confidence, reasons: list[str]) -> KeyResult:
    """Confirmed when the check passed; ``unchecked`` when it passed as far as it could go (nothing to
    check against); low when the mathematics failed."""
    if check.ok:
        key_id, details = _public_of(check.private_key)
        return KeyResult(kind, Confidence.CONFIRMED, reasons + check.reasons, key_id, details)
    if check.private_key is not None:
        key_id, details = _public_of(check.private_key)
        return KeyResult(kind, unchecked, reasons + check.reasons, key_id, details)
    return KeyResult(kind, Confidence.LOW, reasons + ["well-formed structure, mathematics failed"] + check.reasons)


def _rsa_numbers(r: Reader) -> KeyResult:
    """After the version INTEGER 0: n, e, d, p, q, dp, dq, qinv (PKCS#1) or p, q, g, y, x (DSA)."""
    values = []
    while not r.at_end() and len(values) < 9:
        values.append(r.integer())
    r.finish()
    if len(values) == 5:
        return _dsa_traditional(*values)
    if len(values) != 8:
        raise DerError("wrong number of INTEGERs")
    n, e, d, p, q, dp, dq, qinv = values
    nbits = n.bit_length()
    if nbits < 256 or e < 3 or e.bit_length() > nbits or d.bit_length() > nbits:
        raise DerError("RSA numbers out of range")
    for half in (p, q, dp, dq, qinv):
        if half.bit_length() > nbits // 2 + 16 or half == 0:
            raise DerError("RSA CRT value out of range")
    check = keys.check_rsa(n, e, d, p, q, dp, dq, qinv)
    return _from_check(kinds.RSA_PRIVATE_KEY, check, Confidence.HIGH, ["PKCS#1 RSAPrivateKey well-formed"])


def _dsa_check(p: int, q: int, g: int, x: int, y: int | None, what: str) -> KeyResult:
    if not (512 <= p.bit_length() <= keys.MAX_RSA_BITS and 160 <= q.bit_length() <= 512):
        raise DerError("DSA parameters out of range")
    if not (0 < x < q and 1 < g < p):
        raise DerError("DSA values out of range")
    reasons = [f"{what} well-formed"]
    if (p - 1) % q or pow(g, q, p) != 1:
        return KeyResult(kinds.DSA_PRIVATE_KEY, Confidence.LOW, reasons + ["DSA parameters inconsistent (q | p-1, g^q = 1)"])
    reasons.append("q | p-1 and g^q = 1 mod p")
    derived = pow(g, x, p)
    if y is not None:
        if derived != y:
            return KeyResult(kinds.DSA_PRIVATE_KEY, Confidence.LOW, reasons + ["y != g^x mod p"])
        reasons.append("y = g^x mod p")
    key_id = None
    details: dict[str, Any] = {"algorithm": "DSA", "bits": p.bit_length()}
    try:
        public = dsa.DSAPublicNumbers(derived, dsa.DSAParameterNumbers(p, q, g)).public_key()
        key_id, details = keys.key_id(public), keys.describe_public(public)
    except (ValueError, TypeError):
        reasons.append("key id unavailable: parameters not supported by OpenSSL")
    if y is None:
        reasons.append("no public value stored to check against")
        return KeyResult(kinds.DSA_PRIVATE_KEY, Confidence.HIGH, reasons, key_id, details)
    return KeyResult(kinds.DSA_PRIVATE_KEY, Confidence.CONFIRMED, reasons, key_id, details)


def _dsa_traditional(p: int, q: int, g: int, y: int, x: int) -> KeyResult:
    return _dsa_check(p, q, g, x, y, "DSAPrivateKey (OpenSSL traditional)")


def _ec_result(curve: str | None, d: int, point: bytes | None, what: str) -> KeyResult:
    reasons = [f"{what} well-formed"]
    candidates = [curve] if curve else []
    if not candidates and point is not None:
        size = (len(point) - 1) // 2 if point[:1] == b"\x04" else len(point) - 1
        candidates = [c for c, s in CURVE_SIZES.items() if s == size]
    if not candidates:
        return KeyResult(kinds.EC_PRIVATE_KEY, Confidence.MEDIUM, reasons + ["curve unknown: nothing to check"])
    last: KeyResult | None = None
    for name in candidates:
        check = keys.check_ec(name, d, point)
        result = _from_check(kinds.EC_PRIVATE_KEY, check, Confidence.HIGH, list(reasons))
        if result.confidence is Confidence.CONFIRMED or len(candidates) == 1:
            return result
        last = last or result
    assert last is not None
    return last


def parse_sec1(buf: bytes, start: int, end: int, curve: str | None = None) -> KeyResult:
    """SEC1 ECPrivateKey (RFC 5915) occupying exactly ``buf[start:end]``."""
    tag, cs, ce = header(buf, start, end)
    if tag != 0x30 or ce != end:
        raise DerError("not a SEQUENCE of the given size")
    r = Reader(buf, cs, ce)
    if r.integer(4) != 1:
        raise DerError("SEC1 version is not 1")
    d_bytes = r.raw(0x04)
    if not 16 <= len(d_bytes) <= 66:
        raise DerError("EC private scalar of implausible size")
    point = None
    if r.peek_tag() == 0xA0:
        params = r.sub(0xA0)
        oid = params.oid()
        params.finish()
        named = CURVE_OIDS.get(oid)
        if named is None:
            return KeyResult(kinds.EC_PRIVATE_KEY, Confidence.MEDIUM, ["SEC1 ECPrivateKey on an unsupported curve"],
                             details={"algorithm": "EC", "curve_oid": oid.hex()})
        if curve is not None and curve != named:
            raise DerError("curve parameters disagree")
        curve = named
    if r.peek_tag() == 0xA1:
        pub = r.sub(0xA1)
        point = pub.bit_string()
        pub.finish()
        if point[:1] not in (b"\x02", b"\x03", b"\x04"):
            raise DerError("bad EC point encoding")
    r.finish()
    if curve is not None and len(d_bytes) > CURVE_SIZES[curve]:
        raise DerError("scalar longer than the curve order")
    return _ec_result(curve, int.from_bytes(d_bytes, "big"), point, "SEC1 ECPrivateKey")


def parse_pkcs1(buf: bytes, start: int, end: int) -> KeyResult:
    """PKCS#1 RSAPrivateKey (or OpenSSL's traditional DSAPrivateKey) occupying exactly ``buf[start:end]``."""
    tag, cs, ce = header(buf, start, end)
    if tag != 0x30 or ce != end:
        raise DerError("not a SEQUENCE of the given size")
    r = Reader(buf, cs, ce)
    if r.integer(4) != 0:
        raise DerError("version is not 0")
    return _rsa_numbers(r)


def parse_pkcs8(buf: bytes, start: int, end: int) -> KeyResult:
    """PKCS#8 PrivateKeyInfo / OneAsymmetricKey (RFC 5958) occupying exactly ``buf[start:end]``."""
    tag, cs, ce = header(buf, start, end)
    if tag != 0x30 or ce != end:
        raise DerError("not a SEQUENCE of the given size")
    r = Reader(buf, cs, ce)
    version = r.integer(4)
    if version not in (0, 1):
        raise DerError("PKCS#8 version is not 0 or 1")
    alg = r.sub(0x30)
    oid = alg.oid()
    params_tag = alg.peek_tag()
    inner_start, inner_end = r.next(0x04)
    if r.peek_tag() == 0xA0:  # attributes: skipped
        r.next(0xA0)
    public: bytes | None = None
    if r.peek_tag() == 0x81:  # [1] IMPLICIT BIT STRING publicKey (v2)
        s, e = r.next(0x81)
        if e == s or buf[s] != 0:
            raise DerError("bad publicKey BIT STRING")
        public = buf[s + 1 : e]
    r.finish()
    if oid in (OID_RSA, OID_RSA_PSS):
        if oid == OID_RSA:
            alg.raw(0x05)
        elif not alg.at_end():
            alg.next(0x30)
        alg.finish()
        result = parse_pkcs1(buf, inner_start, inner_end)
        if result.kind != kinds.RSA_PRIVATE_KEY:
            raise DerError("PKCS#8 RSA holds no RSA key")
        result.reasons.insert(0, "PKCS#8 PrivateKeyInfo well-formed")
        return result
    if oid == OID_EC:
        curve_oid = alg.oid()
        alg.finish()
        curve = CURVE_OIDS.get(curve_oid)
        if curve is None:
            return KeyResult(kinds.EC_PRIVATE_KEY, Confidence.MEDIUM, ["PKCS#8 EC key on an unsupported curve"],
                             details={"algorithm": "EC", "curve_oid": curve_oid.hex()})
        result = parse_sec1(buf, inner_start, inner_end, curve)
        result.reasons.insert(0, "PKCS#8 PrivateKeyInfo well-formed")
        return result
    if oid == OID_DSA:
        params = alg.sub(0x30)
        p, q, g = params.integer(), params.integer(), params.integer()
        params.finish()
        alg.finish()
        inner = Reader(buf, inner_start, inner_end)
        x = inner.integer()
        inner.finish()
        return _dsa_check(p, q, g, x, None, "PKCS#8 DSA PrivateKeyInfo")
    if oid in OKP:
        if params_tag is not None:
            raise DerError("unexpected parameters")
        kind, size, cls = OKP[oid]
        inner = Reader(buf, inner_start, inner_end)
        seed = inner.raw(0x04)
        inner.finish()
        if len(seed) != size:
            raise DerError("wrong private key size")
        private = cls.from_private_bytes(seed)
        key_id, details = _public_of(private)
        reasons = ["PKCS#8 OneAsymmetricKey well-formed"]
        if public is None:
            return KeyResult(kind, Confidence.HIGH, reasons + ["no public key stored to check against"], key_id, details)
        derived = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        if derived != public:
            return KeyResult(kind, Confidence.LOW, reasons + ["private key does not derive the stored public key"])
        return KeyResult(kind, Confidence.CONFIRMED, reasons + ["private key derives the stored public key"], key_id, details)
    raise DerError("unsupported algorithm")


def pkcs8_algorithm_kind(prefix: bytes) -> str | None:
    """The key kind a PKCS#8 structure announces in its first bytes, read from a prefix (a truncated
    PEM's decodable beginning); None when the prefix does not start like PKCS#8."""
    if len(prefix) < 4 or prefix[0] != 0x30:
        return None
    skip = 2 + (prefix[1] & 0x7F if prefix[1] & 0x80 else 0)
    try:
        r = Reader(prefix, skip, len(prefix))
        if r.integer(4) not in (0, 1):
            return None
        oid = r.sub(0x30).oid()
    except DerError:
        return None
    if oid in (OID_RSA, OID_RSA_PSS):
        return kinds.RSA_PRIVATE_KEY
    if oid == OID_EC:
        return kinds.EC_PRIVATE_KEY
    if oid == OID_DSA:
        return kinds.DSA_PRIVATE_KEY
    return OKP[oid][0] if oid in OKP else None


PARSERS = {"pkcs1": parse_pkcs1, "pkcs8": parse_pkcs8, "sec1": parse_sec1}


def analyse_private_der(der: bytes, fmt: str) -> KeyResult:
    """Analyse a whole DER private key in the given format (``pkcs1``, ``pkcs8``, ``sec1``). Never raises:
    a structure that is not well-formed gives confidence None with the reason."""
    try:
        return PARSERS[fmt](der, 0, len(der))
    except (DerError, ValueError, TypeError, OverflowError, UnsupportedAlgorithm) as exc:
        reason = str(exc) if isinstance(exc, DerError) else f"rejected: {type(exc).__name__}"
        return KeyResult(kinds.PRIVATE_KEY, None, [reason])


# --- public context ---------------------------------------------------------------------------------


def public_context(der: bytes, fmt: str) -> tuple[str, str | None, dict[str, Any]] | None:
    """(kind, key_id, details) for a DER certificate (``x509``), SubjectPublicKeyInfo (``spki``) or PKCS#1
    RSAPublicKey (``pkcs1-public``), or None if it does not load."""
    try:
        if fmt == "x509":
            cert = x509.load_der_x509_certificate(der)
            details: dict[str, Any] = {
                "subject": cert.subject.rfc4514_string(),
                "issuer": cert.issuer.rfc4514_string(),
                "serial": format(cert.serial_number, "x"),
                "not_after": cert.not_valid_after_utc.isoformat(),
            }
            try:
                public = cert.public_key()
            except (ValueError, TypeError, NotImplementedError, UnsupportedAlgorithm):
                return kinds.CERTIFICATE, None, details
            details.update(keys.describe_public(public))
            return kinds.CERTIFICATE, keys.key_id(public), details
        if fmt == "spki":
            public = serialization.load_der_public_key(der)
        elif fmt == "pkcs1-public":
            r = Reader(der, *header(der, 0, len(der))[1:])
            n, e = r.integer(), r.integer()
            r.finish()
            if n.bit_length() < 512 or not 3 <= e < n:
                return None
            public = rsa.RSAPublicNumbers(e, n).public_key()
        else:
            return None
    except (DerError, ValueError, TypeError, NotImplementedError, OverflowError, UnsupportedAlgorithm):
        return None
    if not isinstance(public, rsa.RSAPublicKey) and keys.public_jwk(public) is None and not isinstance(
        public, dsa.DSAPublicKey
    ):
        return None
    return kinds.PUBLIC_KEY, keys.key_id(public), keys.describe_public(public)


# --- the detector -----------------------------------------------------------------------------------

_PKCS8_HEAD = re.compile(PATTERNS[1].regex)


def _nested_in_pkcs8(view: View, start: int, length: int) -> bool:
    """Whether the key at ``start`` is the privateKey OCTET STRING of a PKCS#8 structure just before it
    (reported once, by the PKCS#8 pattern)."""
    lookback = min(start, 48)
    before = view.read(start - lookback, lookback)
    for m in _PKCS8_HEAD.finditer(before):
        total = outer_length(before[m.start() : m.start() + 4])
        if total is None or m.start() + total < lookback + length:
            continue
        data = view.read(start - lookback + m.start(), total)
        try:
            tag, cs, ce = header(data, 0, len(data))
            r = Reader(data, cs, ce)
            r.integer(4)
            r.next(0x30)
            s, e = r.next(0x04)
        except DerError:
            continue
        if s == lookback - m.start() and e - s == length:
            return True
    return False


class DerDetector:
    name = "der"
    patterns = PATTERNS

    def validate(self, view: View, hit: Hit) -> Iterable[Finding]:
        return list(self._validate(view, hit))

    def _validate(self, view: View, hit: Hit) -> Iterator[Finding]:
        head = view.read(hit.start, 4)
        total = outer_length(head)
        if total is None or hit.start + total > view.size or total < hit.end - hit.start:
            return
        data = view.read(hit.start, total)
        if len(data) != total:
            return
        pattern = hit.pattern
        if pattern in ("der-pkcs1", "der-pkcs8", "der-sec1"):
            fmt = pattern[4:]
            if fmt != "pkcs8" and _nested_in_pkcs8(view, hit.start, total):
                return
            result = analyse_private_der(data, fmt)
            if result.confidence is None:
                return
            encoding = "der-dsa" if result.kind == kinds.DSA_PRIVATE_KEY and fmt == "pkcs1" else pattern
            yield Finding(
                kind=result.kind,
                encoding=encoding,
                offset=hit.start,
                length=total,
                confidence=result.confidence,
                reasons=result.reasons,
                key_id=result.key_id,
                details=result.details,
            )
            return
        if pattern == "der-pkcs1-public":
            before = view.read(hit.start - 5, 5) if hit.start >= 5 else b""
            if len(before) == 5 and before[-1] == 0 and (before[0] == 0x03 or before[1] == 0x03 or before[2] == 0x03):
                return  # the RSAPublicKey inside a SubjectPublicKeyInfo's BIT STRING: reported as the SPKI
        fmt = pattern[4:]
        context = public_context(data, fmt)
        if context is None:
            return
        kind, key_id, details = context
        yield Finding(
            kind=kind,
            encoding=pattern,
            offset=hit.start,
            length=total,
            confidence=Confidence.HIGH,
            reasons=[f"{'X.509 certificate' if kind == 'certificate' else 'public key'} parsed (public context)"],
            key_id=key_id,
            details=details,
            secret=False,
        )


ORDER = 20  # where these run among the detectors (see viewer.scan.detectors)
DETECTORS = [DerDetector()]
