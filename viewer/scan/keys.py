"""Key identity and key mathematics, shared by every detector.

Identity: one key found in five places and three encodings must be one secret. Every key is named by the
RFC 7638 JWK thumbprint of its public half (base64url SHA-256 of the canonical JWK with only the
required members, in lexicographic order); keys without a JWK form (DSA) by the SHA-256 of their
SubjectPublicKeyInfo DER, prefixed ``spki:``. Symmetric keys have no public half; they are named by a
domain-separated SHA-256, prefixed ``sym:``, which identifies them without revealing them.

Mathematics: a structure that merely parses is ``high``; a key whose numbers fit together (p*q = n,
e*d = 1 mod lambda(n), CRT values; d*G = Q) is ``confirmed``. All checks go through ``cryptography``
(OpenSSL) where it can do them, plain integers where it cannot.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519

MAX_RSA_BITS = 16384  # larger "moduli" are corrupt data, not keys; bounds every big-number operation

CURVE_JWK_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521", "secp256k1": "secp256k1"}
EC_CURVES: dict[str, ec.EllipticCurve] = {
    "P-256": ec.SECP256R1(),
    "P-384": ec.SECP384R1(),
    "P-521": ec.SECP521R1(),
    "secp256k1": ec.SECP256K1(),
}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str | bytes) -> bytes:
    if isinstance(text, str):
        text = text.encode("ascii")
    return base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))


def int_to_b64url(value: int, length: int | None = None) -> str:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return b64url(value.to_bytes(size, "big"))


def _thumbprint(members: dict[str, str]) -> str:
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return b64url(hashlib.sha256(canonical).digest())


def public_jwk(public_key: Any) -> dict[str, str] | None:
    """The required members of the public JWK (RFC 7517/7518/8037), or None when there is no JWK form."""
    if isinstance(public_key, rsa.RSAPublicKey):
        nums = public_key.public_numbers()
        return {"e": int_to_b64url(nums.e), "kty": "RSA", "n": int_to_b64url(nums.n)}
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        crv = CURVE_JWK_NAMES.get(public_key.curve.name)
        if crv is None:
            return None
        size = (public_key.curve.key_size + 7) // 8
        nums = public_key.public_numbers()
        return {"crv": crv, "kty": "EC", "x": int_to_b64url(nums.x, size), "y": int_to_b64url(nums.y, size)}
    okp = {
        ed25519.Ed25519PublicKey: "Ed25519",
        ed448.Ed448PublicKey: "Ed448",
        x25519.X25519PublicKey: "X25519",
        x448.X448PublicKey: "X448",
    }
    for cls, crv in okp.items():
        if isinstance(public_key, cls):
            raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            return {"crv": crv, "kty": "OKP", "x": b64url(raw)}
    return None


def key_id(public_key: Any) -> str:
    """The identity of a key, from its public half (a ``cryptography`` public key object)."""
    jwk = public_jwk(public_key)
    if jwk is not None:
        return _thumbprint(jwk)
    spki = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "spki:" + b64url(hashlib.sha256(spki).digest())


def symmetric_key_id(key: bytes) -> str:
    """A name for a symmetric key that identifies it without revealing it."""
    return "sym:" + b64url(hashlib.sha256(b"evidence-viewer symmetric key id\0" + key).digest())


def describe_public(public_key: Any) -> dict[str, Any]:
    """Public facts for a finding's details: algorithm, size, curve."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return {"algorithm": "RSA", "bits": public_key.key_size, "e": public_key.public_numbers().e}
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return {"algorithm": "EC", "curve": CURVE_JWK_NAMES.get(public_key.curve.name, public_key.curve.name)}
    if isinstance(public_key, dsa.DSAPublicKey):
        return {"algorithm": "DSA", "bits": public_key.key_size}
    jwk = public_jwk(public_key)
    if jwk is not None and jwk.get("kty") == "OKP":
        return {"algorithm": jwk["crv"]}
    return {"algorithm": type(public_key).__name__}


@dataclass
class Check:
    """The outcome of a mathematical check: ok, and the reasons (what was checked, or what failed)."""

    ok: bool
    reasons: list[str] = field(default_factory=list)
    private_key: Any = None


def check_rsa(
    n: int,
    e: int,
    d: int | None = None,
    p: int | None = None,
    q: int | None = None,
    dp: int | None = None,
    dq: int | None = None,
    qinv: int | None = None,
) -> Check:
    """Check an RSA private key's numbers. Confirmed when p*q = n and e*d = 1 mod lambda(n) (and the CRT
    values, where given, agree). With only (n, e, d): confirmed by recovering p and q from them."""
    reasons: list[str] = []
    if n <= 3 or n.bit_length() > MAX_RSA_BITS or e <= 1 or e >= n:
        return Check(False, ["modulus or exponent out of range"])
    if p is None or q is None:
        if d is None or not 1 < d < n:
            return Check(False, ["no factors and no usable private exponent"])
        try:
            p, q = rsa.rsa_recover_prime_factors(n, e, d)
        except (ValueError, OverflowError):
            return Check(False, ["e*d does not reveal a factorisation of n"])
        reasons.append("p and q recovered from (n, e, d)")
    if not (1 < p < n and 1 < q < n) or p * q != n:
        return Check(False, ["p*q != n"])
    reasons.append("p*q = n")
    lam = (p - 1) * (q - 1) // math.gcd(p - 1, q - 1)
    if d is None:
        try:
            d = pow(e, -1, lam)
        except ValueError:
            return Check(False, ["e is not invertible mod lambda(n)"])
        reasons.append("d derived from p, q and e")
    elif (e * d) % lam != 1:
        return Check(False, ["e*d != 1 mod lambda(n)"])
    else:
        reasons.append("e*d = 1 mod lambda(n)")
    if dp is not None and dq is not None:
        if dp != d % (p - 1) or dq != d % (q - 1):
            if dp == d % (q - 1) and dq == d % (p - 1):
                p, q = q, p  # some writers order the primes the other way round
            else:
                return Check(False, ["dp/dq do not match d"])
        reasons.append("dp = d mod (p-1), dq = d mod (q-1)")
    if qinv is not None:
        if (qinv * q) % p != 1:
            if (qinv * p) % q == 1:
                p, q = q, p
            else:
                return Check(False, ["qinv * q != 1 mod p"])
        reasons.append("qinv * q = 1 mod p")
    try:
        # The numbers were just checked above; OpenSSL's own check (primality tests, ~40 ms a key) would
        # dominate a scan of key-dense memory without adding evidence.
        private = rsa.RSAPrivateNumbers(
            p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), rsa.RSAPublicNumbers(e, n)
        ).private_key(unsafe_skip_rsa_key_validation=True)
    except (ValueError, TypeError) as exc:
        return Check(False, [f"OpenSSL rejected the numbers: {type(exc).__name__}"])
    return Check(True, reasons, private)


def check_ec(curve_name: str, d: int, public_point: bytes | None = None) -> Check:
    """Check an EC private scalar: in range for the curve, and d*G equals the stored public point."""
    curve = EC_CURVES.get(curve_name)
    if curve is None:
        return Check(False, [f"unsupported curve {curve_name}"])
    try:
        private = ec.derive_private_key(d, curve)
    except (ValueError, TypeError):
        return Check(False, ["private scalar out of range for the curve"])
    reasons = [f"d in [1, n-1] on {curve_name}"]
    if public_point is not None:
        computed = private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        stored = public_point
        if stored[:1] in (b"\x02", b"\x03"):
            computed = private.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
            )
        if computed != stored:
            return Check(False, ["d*G != stored public point"])
        reasons.append("d*G = Q (stored public point)")
        return Check(True, reasons, private)
    return Check(False, reasons + ["no public point stored to check against"], private)


def check_ed25519(seed: bytes, public: bytes | None) -> Check:
    """An Ed25519 seed is confirmed when it derives the stored public key."""
    if len(seed) != 32:
        return Check(False, ["seed is not 32 bytes"])
    private = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    derived = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if public is None:
        return Check(False, ["no public key stored to check against"], private)
    if derived != public:
        return Check(False, ["seed does not derive the stored public key"])
    return Check(True, ["seed derives the stored public key"], private)
