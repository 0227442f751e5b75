"""JSON Web Keys (RFC 7517/7518/8037) and JSON Web Tokens in JWS compact form (RFC 7515/7519).

JWK: the prefilter matches the ``"kty": "..."`` member; the validator finds the enclosing JSON object
(scanning back for ``{`` and forward with string-aware brace matching, both bounded), parses it and checks
a private key's mathematics like every other detector. A public-only JWK (a JWKS in memory) is reported
as public context.

JWT: a bearer token is a credential in itself; without the signing key it cannot be confirmed, so it is
``medium`` (``low`` when unsigned). Tokens are found in ASCII and in UTF-16LE (Windows strings, .NET and
Java heaps), the latter with the encoding ``jws-compact-utf16le`` and a length in bytes of the wide text. Only non-personal header and claim values are reported (alg, kid, typ,
iss, aud, exp, iat) — never sub, email, names, nor the signature.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x448, x25519

from viewer.scan import keys, kinds
from viewer.scan.detector import Hit, Pattern, View
from viewer.scan.detectors.pem import utf16_pattern, utf16_to_ascii
from viewer.scan.finding import Confidence, Finding

MAX_BACK = 16 * 1024  # how far back to look for the '{' opening a JWK
MAX_OBJECT = 64 * 1024  # the largest JWK considered (x5c chains make them a few KiB)
MAX_CANDIDATES = 8  # '{' positions tried, nearest first
MAX_TOKEN = 16 * 1024

_STRUCTURAL = re.compile(rb'[{}"\\]')
_JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{13,4096}\.eyJ[A-Za-z0-9_-]{2,12000}\.[A-Za-z0-9_-]{0,2800}")

# Decoded signature lengths per alg. RSA signatures are as long as the modulus: multiples of 16 bytes.
_SIG_LEN: dict[str, tuple[int, ...]] = {
    "HS256": (32,),
    "HS384": (48,),
    "HS512": (64,),
    "ES256": (64,),
    "ES256K": (64,),
    "ES384": (96,),
    "ES512": (132,),
    "EdDSA": (64, 114),
    "Ed25519": (64,),
    "Ed448": (114,),
}
_RSA_SIG = tuple(range(64, keys.MAX_RSA_BITS // 8 + 1, 16))
MAX_TRAILING = 3  # base64url-looking bytes that happen to follow a token in memory


def _b64_len(n: int) -> int:
    """Characters of unpadded base64url for n bytes."""
    return (4 * n + 2) // 3


def _signature_chars(alg: str, available: int) -> int | None:
    """How many of the ``available`` signature characters belong to the token, or None when no
    signature length of ``alg`` fits (cut short, or damaged)."""
    sizes = _SIG_LEN.get(alg) or (_RSA_SIG if alg[:2] in ("RS", "PS") else ())
    if not sizes:
        return available if available else None  # unknown alg: take what is there
    fitting = [_b64_len(n) for n in sizes if available - MAX_TRAILING <= _b64_len(n) <= available]
    return max(fitting) if fitting else None


def _object_end(data: bytes, start: int) -> int | None:
    """Index one past the '}' closing the object opened at ``data[start]``, or None."""
    depth = 0
    in_string = False
    pos = start
    while True:
        m = _STRUCTURAL.search(data, pos)
        if m is None:
            return None
        ch = data[m.start()]
        pos = m.end()
        if in_string:
            if ch == 0x5C:  # backslash: skip the escaped byte
                pos += 1
            elif ch == 0x22:
                in_string = False
        elif ch == 0x22:
            in_string = True
        elif ch == 0x7B:
            depth += 1
        elif ch == 0x7D:
            depth -= 1
            if depth == 0:
                return pos


def _str(obj: dict[str, Any], name: str, limit: int = 200) -> str | None:
    value = obj.get(name)
    if isinstance(value, str) and len(value) <= limit and value.isprintable():
        return value
    return None


def _b64int(obj: dict[str, Any], name: str) -> int | None:
    raw = _b64bytes(obj, name)
    return int.from_bytes(raw, "big") if raw is not None else None


def _b64bytes(obj: dict[str, Any], name: str) -> bytes | None:
    value = obj.get(name)
    if not isinstance(value, str) or len(value) > 8192:
        return None
    try:
        return keys.b64url_decode(value)
    except (ValueError, UnicodeEncodeError):
        return None


_OKP = {
    "Ed25519": (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey, "ed25519"),
    "Ed448": (ed448.Ed448PrivateKey, ed448.Ed448PublicKey, "ed448"),
    "X25519": (x25519.X25519PrivateKey, x25519.X25519PublicKey, "x25519"),
    "X448": (x448.X448PrivateKey, x448.X448PublicKey, "x448"),
}


def _jwk_public(jwk: dict[str, Any]) -> Any:
    """The public key a JWK describes, or None."""
    kty = jwk.get("kty")
    try:
        if kty == "RSA":
            n, e = _b64int(jwk, "n"), _b64int(jwk, "e")
            if n is None or e is None or n.bit_length() > keys.MAX_RSA_BITS:
                return None
            return rsa.RSAPublicNumbers(e, n).public_key()
        if kty == "EC":
            curve = keys.EC_CURVES.get(jwk.get("crv"))  # type: ignore[arg-type]
            x, y = _b64bytes(jwk, "x"), _b64bytes(jwk, "y")
            if curve is None or x is None or y is None:
                return None
            size = (curve.key_size + 7) // 8
            if len(x) > size or len(y) > size:
                return None
            point = b"\x04" + x.rjust(size, b"\0") + y.rjust(size, b"\0")
            return ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
        if kty == "OKP":
            spec = _OKP.get(jwk.get("crv"))  # type: ignore[arg-type]
            x = _b64bytes(jwk, "x")
            if spec is None or x is None:
                return None
            return spec[1].from_public_bytes(x)
    except (ValueError, TypeError, OverflowError):
        return None
    return None


def _raw_public(public: Any) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _check_private(jwk: dict[str, Any], public: Any) -> keys.Check:
    kty = jwk.get("kty")
    if kty == "RSA":
        nums = public.public_numbers()
        return keys.check_rsa(
            nums.n,
            nums.e,
            _b64int(jwk, "d"),
            _b64int(jwk, "p"),
            _b64int(jwk, "q"),
            _b64int(jwk, "dp"),
            _b64int(jwk, "dq"),
            _b64int(jwk, "qi"),
        )
    d = _b64bytes(jwk, "d")
    if d is None:
        return keys.Check(False, ["private member d is not base64url"])
    if kty == "EC":
        point = public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return keys.check_ec(jwk["crv"], int.from_bytes(d, "big"), point)
    if kty == "OKP":
        crv = jwk["crv"]
        if crv == "Ed25519":
            return keys.check_ed25519(d, _raw_public(public))
        try:
            derived = _raw_public(_OKP[crv][0].from_private_bytes(d).public_key())
        except (ValueError, TypeError):
            return keys.Check(False, [f"d is not a {crv} private key"])
        if derived != _raw_public(public):
            return keys.Check(False, [f"d does not derive the stored {crv} public key"])
        return keys.Check(True, [f"d derives the stored {crv} public key"])
    return keys.Check(False, ["unsupported key type"])


def _kind(jwk: dict[str, Any], private: bool) -> str:
    kty = jwk.get("kty")
    algorithm = kty if kty in ("RSA", "EC") else jwk["crv"]
    return kinds.private_key_kind(algorithm) if private else kinds.public_key_kind(algorithm)


class JwkDetector:
    name = "jwk"
    patterns = (Pattern("jwk-kty", rb'"kty"[ \t\r\n]{0,4}:[ \t\r\n]{0,4}"(RSA|EC|OKP|oct)"', 24),)

    def validate(self, view: View, hit: Hit) -> Iterable[Finding]:
        try:
            found = self._validate(view, hit)
        except (ValueError, TypeError, KeyError, OverflowError, RecursionError):
            return
        if found is not None:
            yield found

    def _validate(self, view: View, hit: Hit) -> Finding | None:
        bounds = self._enclosing_object(view, hit)
        if bounds is None:
            return None
        offset, length, jwk = bounds
        details = {k: v for k in ("kid", "alg", "use") if (v := _str(jwk, k)) is not None}
        kty = jwk["kty"]
        if kty == "oct":
            k = _b64bytes(jwk, "k")
            if not k:
                return None
            reasons = ["JWK (kty oct) parsed", f"{len(k)}-byte key"]
            confidence = Confidence.HIGH if len(k) >= 16 else Confidence.MEDIUM
            return Finding(
                kind=kinds.SYMMETRIC_KEY,
                encoding="jwk",
                offset=offset,
                length=length,
                confidence=confidence,
                reasons=reasons,
                key_id=keys.symmetric_key_id(k),
                details={**details, "bytes": len(k)},
            )
        public = _jwk_public(jwk)
        private = "d" in jwk
        if public is None:
            return None
        info = {**keys.describe_public(public), **details}
        if not private:
            return Finding(
                kind=_kind(jwk, False),
                encoding="jwk",
                offset=offset,
                length=length,
                confidence=Confidence.HIGH,
                reasons=[
                    f"JWK (kty {kty}) parsed",
                    "public members form a valid public key",
                    "no private members",
                ],
                key_id=keys.key_id(public),
                details=info,
                secret=False,
            )
        check = _check_private(jwk, public)
        if check.ok:
            confidence = Confidence.CONFIRMED
            reasons = [f"JWK (kty {kty}) parsed", *check.reasons]
        else:
            confidence = Confidence.LOW
            reasons = [f"JWK (kty {kty}) parsed", "key mathematics failed: " + "; ".join(check.reasons)]
        return Finding(
            kind=_kind(jwk, True),
            encoding="jwk",
            offset=offset,
            length=length,
            confidence=confidence,
            reasons=reasons,
            key_id=keys.key_id(public),
            details=info,
        )

    @staticmethod
    def _enclosing_object(view: View, hit: Hit) -> tuple[int, int, dict[str, Any]] | None:
        back_start = max(0, hit.start - MAX_BACK)
        before = view.read(back_start, hit.start - back_start)
        pos = len(before)
        for _ in range(MAX_CANDIDATES):
            pos = before.rfind(b"{", 0, pos)
            if pos < 0:
                return None
            start = back_start + pos
            data = view.read(start, MAX_OBJECT)
            end = _object_end(data, 0)
            if end is None or start + end <= hit.start:
                continue  # unterminated, or a nested object closed before the "kty" member
            try:
                obj = json.loads(data[:end].decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                continue
            if (
                isinstance(obj, dict)
                and isinstance(obj.get("kty"), str)
                and obj["kty"] in ("RSA", "EC", "OKP", "oct")
            ):
                return start, end, obj
        return None


class JwtDetector:
    name = "jwt"
    # "eyJ" is base64url of '{"': a JSON object. Hyperscan cannot keep start-of-match for long bounded
    # repeats, so the prefilter is a fixed-length prefix; the validator re-matches the whole token.
    patterns = (
        Pattern("jwt-header", rb"eyJ[A-Za-z0-9_-]{13}", 16),
        Pattern("jwt-header-utf16le", utf16_pattern(b"eyJ") + rb"(?:[A-Za-z0-9_-]\x00){13}", 32),
    )

    def validate(self, view: View, hit: Hit) -> Iterable[Finding]:
        wide = hit.pattern == "jwt-header-utf16le"
        unit = 2 if wide else 1
        if hit.start >= unit and view.read(hit.start - unit, unit) == ".".encode("utf-16-le" if wide else "ascii"):
            return  # the payload segment of a token whose header was (or will be) matched
        data = view.read(hit.start, unit * MAX_TOKEN)
        m = _JWT.match(utf16_to_ascii(data) if wide else data)
        if m is None:
            return
        try:
            finding = self._token(hit.start, m.group(0), wide)
        except (ValueError, TypeError, UnicodeDecodeError, RecursionError):
            return
        if finding is not None:
            yield finding

    @staticmethod
    def _token(offset: int, token: bytes, wide: bool = False) -> Finding | None:
        head_b64, claims_b64, sig_b64 = token.split(b".")
        header = json.loads(keys.b64url_decode(head_b64).decode("utf-8"))
        claims = json.loads(keys.b64url_decode(claims_b64).decode("utf-8"))
        if not isinstance(header, dict) or not isinstance(claims, dict):
            return None
        alg = header.get("alg")
        if not isinstance(alg, str) or "enc" in header:
            return None  # not a JWS (a JWE has "enc" and five segments)
        sig_chars = None if alg.lower() == "none" else _signature_chars(alg, len(sig_b64))
        if sig_chars is not None:
            token = token[: len(token) - len(sig_b64) + sig_chars]
        elif alg.lower() == "none" and len(sig_b64) <= MAX_TRAILING:
            token = token[: len(token) - len(sig_b64)]  # unsigned: the signature segment is empty
        details: dict[str, Any] = {}
        for name in ("alg", "kid", "typ"):
            if (v := _str(header, name)) is not None:
                details[name] = v
        if (v := _str(claims, "iss")) is not None:
            details["iss"] = v
        aud = claims.get("aud")
        if isinstance(aud, str) and (v := _str(claims, "aud")) is not None:
            details["aud"] = v
        elif isinstance(aud, list):
            details["aud"] = [a for a in aud[:10] if isinstance(a, str) and len(a) <= 200 and a.isprintable()]
        for name in ("exp", "iat", "nbf"):
            if isinstance(claims.get(name), int | float) and not isinstance(claims.get(name), bool):
                details[name] = claims[name]
        reasons = ["JWS compact serialization: header and claims are base64url JSON"]
        if alg.lower() == "none":
            confidence = Confidence.LOW
            reasons.append("unsigned token (alg none)")
        else:
            if sig_chars is None:
                confidence = Confidence.LOW
                reasons.append(f"signature length does not fit {alg}: token truncated or damaged")
            else:
                confidence = Confidence.MEDIUM
                reasons.append(f"signature present ({alg}); not verified without the signing key")
        return Finding(
            kind=kinds.JWT,
            encoding="jws-compact-utf16le" if wide else "jws-compact",
            offset=offset,
            length=len(token) * (2 if wide else 1),
            confidence=confidence,
            reasons=reasons,
            details=details,
        )


ORDER = 50  # where these run among the detectors (see viewer.scan.detectors)
DETECTORS = [JwkDetector(), JwtDetector()]
