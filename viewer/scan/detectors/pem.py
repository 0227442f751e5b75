"""PEM armour, in ASCII and in UTF-16LE: private keys of every type, and certificates and public keys as
public context.

A hit is a ``-----BEGIN <label>-----`` line. From there, at most ``MAX_PEM`` characters are looked at:
optional RFC 1421 headers (``Proc-Type``, ``DEK-Info``), a body of base64, whitespace and — for PEM
kept inside JSON strings — the escapes ``\\n``, ``\\r`` and ``\\/``, and the matching END line.

* A complete private key is decoded and handed to the DER analysis of :mod:`.der` (the same strict
  parser and the same mathematics): ``confirmed`` when the numbers fit, ``high`` when there is nothing
  stored to check against, ``low`` when the structure is well-formed but the mathematics fails or the
  DER is malformed ("malformed PEM private key").
* Encrypted keys (``ENCRYPTED PRIVATE KEY``, legacy ``Proc-Type: 4,ENCRYPTED``, encrypted OpenSSH) are
  ``high``: a real key, not recoverable without the passphrase.
* No END line within reach: "truncated PEM private key", ``medium`` when the decodable prefix starts like
  the structure the label announces, ``low`` otherwise, never a key_id. A BEGIN line with (almost) no
  base64 after it is a string constant in some program, not a key: no finding.
* Offsets and lengths are those of the bytes in the file: BEGIN through the END line and its line
  break; for UTF-16LE text twice the characters, and the encoding gets the suffix ``-utf16le``.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

from viewer.scan import keys
from viewer.scan.detector import Hit, Pattern, View
from viewer.scan.detectors.der import (
    PBE_NAMES,
    DerError,
    KeyResult,
    Reader,
    analyse_private_der,
    header,
    pkcs8_algorithm_kind,
    public_context,
)
from viewer.scan.finding import Confidence, Finding

MAX_PEM = 64 * 1024  # characters looked at from the BEGIN line: the END line must be within reach
MIN_BASE64 = 64  # fewer base64 characters after a BEGIN line: a string constant, not key material

# label -> (kind before decoding, DER format for .der, encoding)
PRIVATE_LABELS: dict[str, tuple[str, str | None, str]] = {
    "RSA PRIVATE KEY": ("rsa-private-key", "pkcs1", "pem-pkcs1"),
    "PRIVATE KEY": ("private-key", "pkcs8", "pem-pkcs8"),
    "EC PRIVATE KEY": ("ec-private-key", "sec1", "pem-sec1"),
    "DSA PRIVATE KEY": ("dsa-private-key", "pkcs1", "pem-dsa"),
    "ENCRYPTED PRIVATE KEY": ("private-key", None, "pem-pkcs8-encrypted"),
    "OPENSSH PRIVATE KEY": ("private-key", None, "pem-openssh"),
}
# label -> (DER format for der.public_context, encoding)
PUBLIC_LABELS: dict[str, tuple[str, str]] = {
    "CERTIFICATE": ("x509", "pem-x509"),
    "X509 CERTIFICATE": ("x509", "pem-x509"),
    "TRUSTED CERTIFICATE": ("x509", "pem-x509-trusted"),
    "PUBLIC KEY": ("spki", "pem-spki"),
    "RSA PUBLIC KEY": ("pkcs1-public", "pem-pkcs1-public"),
}

_LABELS = rb"(?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY|(?:TRUSTED |X509 )?CERTIFICATE|(?:RSA )?PUBLIC KEY"


def utf16_pattern(pattern: bytes) -> bytes:
    """The UTF-16LE form of a pattern made of ASCII literals, spaces and one group of alternatives."""
    out = b""
    for ch in pattern:
        c = bytes([ch])
        out += c if c in b"(?:|)" else c + rb"\x00"
    return out


PATTERNS = (
    Pattern("pem-begin", rb"-----BEGIN (?:" + _LABELS + rb")-----", 46),
    Pattern("pem-begin-utf16le", utf16_pattern(b"-----BEGIN (?:") + utf16_pattern(_LABELS) + utf16_pattern(b")-----"), 92),
)

_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9 ]{1,40})-----")
_NL = rb"(?:\r?\n|\\r\\n|\\n)"
_HEADERS = re.compile(rb"(?:" + _NL + rb"[A-Za-z][A-Za-z0-9-]{0,30}: ?[^\r\n\\]{0,200}){1,8}")
_HEADER_ITEM = re.compile(rb"([A-Za-z][A-Za-z0-9-]{0,30}): ?([^\r\n\\]{0,200})")
_BODY = re.compile(rb"(?:[A-Za-z0-9+/=\s]+|\\[rn/])*")
_END = re.compile(rb"-----END ([A-Z0-9 ]{1,40})-----(" + _NL + rb")?")
_NOT_B64 = re.compile(rb"\s+|\\[rn]")


@dataclass
class Armour:
    """One PEM block as found: label, headers, the cleaned base64, where it ends."""

    label: str
    headers: dict[str, str]
    b64: bytes
    length: int  # characters from BEGIN through the END line and its line break (or the last body char)
    complete: bool
    end_label: str | None
    json_escaped: bool


def read_armour(text: bytes) -> Armour | None:
    """Parse the PEM block at the start of ``text`` (ASCII). None when there is no BEGIN line."""
    begin = _BEGIN.match(text)
    if begin is None:
        return None
    label = begin.group(1).decode("ascii")
    pos = begin.end()
    headers: dict[str, str] = {}
    m = _HEADERS.match(text, pos)
    if m is not None:
        for item in _HEADER_ITEM.finditer(m.group(0)):
            headers[item.group(1).decode("ascii")] = item.group(2).decode("ascii", "replace").strip()
        pos = m.end()
    body = _BODY.match(text, pos)
    assert body is not None  # the pattern matches the empty string
    raw = body.group(0)
    json_escaped = b"\\n" in raw
    b64 = _NOT_B64.sub(b"", raw).replace(b"\\/", b"/")
    end = _END.match(text, body.end())
    if end is None:
        length = len(raw.rstrip()) + body.start()
        while text[length - 2 : length] in (b"\\n", b"\\r"):  # a trailing JSON escape is not the key
            length -= 2
        return Armour(label, headers, b64, length, False, None, json_escaped)
    return Armour(label, headers, b64, end.end(), True, end.group(1).decode("ascii"), json_escaped)


def _decode(b64: bytes) -> bytes | None:
    try:
        return base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        return None


def _prefix(b64: bytes) -> bytes:
    """What the largest decodable prefix of a truncated body decodes to."""
    b64 = b64.split(b"=")[0]
    return _decode(b64[: len(b64) - len(b64) % 4]) or b""


# --- OpenSSH ----------------------------------------------------------------------------------------

OPENSSH_MAGIC = b"openssh-key-v1\x00"
SSH_KINDS = {
    "ssh-rsa": "rsa-private-key",
    "ssh-ed25519": "ed25519-private-key",
    "ssh-dss": "dsa-private-key",
    "ecdsa-sha2-nistp256": "ec-private-key",
    "ecdsa-sha2-nistp384": "ec-private-key",
    "ecdsa-sha2-nistp521": "ec-private-key",
}


def _ssh_string(blob: bytes, pos: int) -> tuple[bytes, int]:
    if pos + 4 > len(blob):
        raise DerError("truncated OpenSSH container")
    size = int.from_bytes(blob[pos : pos + 4], "big")
    if pos + 4 + size > len(blob):
        raise DerError("truncated OpenSSH container")
    return blob[pos + 4 : pos + 4 + size], pos + 4 + size


def _shared_openssh_parser() -> Any:
    """``viewer.scan.detectors.openssh.parse_openssh_key`` once that module provides it, else None."""
    try:
        module = importlib.import_module(f"{__package__}.openssh")
    except ImportError:
        return None
    return getattr(module, "parse_openssh_key", None)


def _from_shared(info: Any) -> KeyResult | None:
    """Adapt one item returned by the shared OpenSSH parser (a Finding, a dict or an object with the
    same names) to a KeyResult."""
    def get(name: str, default: Any = None) -> Any:
        return info.get(name, default) if isinstance(info, dict) else getattr(info, name, default)

    confidence = get("confidence")
    if isinstance(confidence, str):
        confidence = Confidence.parse(confidence)
    if not isinstance(confidence, Confidence):
        return None
    return KeyResult(get("kind", "private-key"), confidence, list(get("reasons", []) or []), get("key_id"),
                     dict(get("details", {}) or {}))


def openssh_key_result(blob: bytes) -> KeyResult:
    """Analyse a decoded ``openssh-key-v1`` container: through the shared ``parse_openssh_key`` of the
    openssh detector (one object, a list of them, or None for "not a key"); with ``cryptography`` here
    only if that module does not provide it."""
    parser = _shared_openssh_parser()
    if parser is None:
        return _openssh_local(blob)
    try:
        found = parser(blob)
    except Exception as exc:  # noqa: BLE001 - a bug there must not lose the PEM finding here
        return KeyResult("private-key", None, [f"OpenSSH parser failed: {type(exc).__name__}"])
    items = found if isinstance(found, list | tuple) else [found] if found is not None else []
    results = [r for r in (_from_shared(i) for i in items) if r is not None]
    if not results:
        return KeyResult("private-key", None, ["not a well-formed openssh-key-v1 container"])
    return max(results, key=lambda r: r.confidence or 0)


def _openssh_local(blob: bytes) -> KeyResult:
    if not blob.startswith(OPENSSH_MAGIC):
        return KeyResult("private-key", None, ["no openssh-key-v1 magic"])
    try:
        pos = len(OPENSSH_MAGIC)
        cipher, pos = _ssh_string(blob, pos)
        kdf, pos = _ssh_string(blob, pos)
        _, pos = _ssh_string(blob, pos)
        if pos + 4 > len(blob):
            raise DerError("truncated OpenSSH container")
        count = int.from_bytes(blob[pos : pos + 4], "big")
        pubblob, pos = _ssh_string(blob, pos + 4)
        keytype, _ = _ssh_string(pubblob, 0)
        if count < 1:
            raise DerError("no keys in the OpenSSH container")
    except DerError as exc:
        return KeyResult("private-key", None, [str(exc)])
    typename = keytype.decode("ascii", "replace")
    kind = SSH_KINDS.get(typename, "private-key")
    details: dict[str, Any] = {"ssh_key_type": typename}
    key_id = None
    try:
        public = serialization.load_ssh_public_key(keytype + b" " + base64.b64encode(pubblob))
        key_id = keys.key_id(public)
        details.update(keys.describe_public(public))
    except (ValueError, TypeError, NotImplementedError, UnsupportedAlgorithm):
        public = None
    reasons = ["openssh-key-v1 container well-formed"]
    if cipher != b"none":
        details.update({"cipher": cipher.decode("ascii", "replace"), "kdf": kdf.decode("ascii", "replace")})
        return KeyResult(kind, Confidence.HIGH,
                         reasons + ["encrypted OpenSSH key: key not recoverable without the passphrase"], key_id, details)
    armoured = b"-----BEGIN OPENSSH PRIVATE KEY-----\n" + base64.encodebytes(blob) + b"-----END OPENSSH PRIVATE KEY-----\n"
    try:
        private = serialization.load_ssh_private_key(armoured, password=None)
    except (ValueError, TypeError, NotImplementedError, UnsupportedAlgorithm):
        return KeyResult(kind, Confidence.LOW, reasons + ["private section does not load"])
    if isinstance(private, rsa.RSAPrivateKey):
        nums = private.private_numbers()
        check = keys.check_rsa(nums.public_numbers.n, nums.public_numbers.e, nums.d, nums.p, nums.q,
                               nums.dmp1, nums.dmq1, nums.iqmp)
        if not check.ok:
            return KeyResult(kind, Confidence.LOW, reasons + check.reasons)
        reasons += check.reasons
    elif not isinstance(private, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | dsa.DSAPrivateKey):
        return KeyResult(kind, Confidence.HIGH, reasons, key_id, details)
    if public is None or keys.key_id(private.public_key()) != key_id:
        return KeyResult(kind, Confidence.LOW, reasons + ["private key does not match the stored public key"])
    reasons.append("private key derives the stored public key")
    return KeyResult(kind, Confidence.CONFIRMED, reasons, key_id, details)


# --- encrypted forms --------------------------------------------------------------------------------


def _encrypted_pkcs8(der: bytes) -> tuple[bool, dict[str, Any]]:
    """Whether ``der`` is a well-formed EncryptedPrivateKeyInfo, and its (public) scheme names."""
    try:
        tag, cs, ce = header(der, 0, len(der))
        if tag != 0x30:
            return False, {}
        r = Reader(der, cs, ce)
        alg = r.sub(0x30)
        oid = alg.oid()
        details: dict[str, Any] = {"scheme": PBE_NAMES.get(oid, oid.hex())}
        if details["scheme"] == "pbes2":
            params = alg.sub(0x30)
            kdf = params.sub(0x30).oid()
            cipher = params.sub(0x30).oid()
            details["kdf"] = PBE_NAMES.get(kdf, kdf.hex())
            details["cipher"] = PBE_NAMES.get(cipher, cipher.hex())
        if not r.raw(0x04):
            return False, {}
        r.finish()
        return True, details
    except DerError:
        return False, {}


# --- the detector -----------------------------------------------------------------------------------


def _truncated_confidence(fmt: str | None, label: str, prefix: bytes) -> Confidence:
    if label == "OPENSSH PRIVATE KEY":
        return Confidence.MEDIUM if prefix.startswith(OPENSSH_MAGIC) else Confidence.LOW
    if len(prefix) >= 32 and prefix[0] == 0x30 and prefix[1] in (0x81, 0x82):
        return Confidence.MEDIUM
    return Confidence.LOW


def analyse_armour(arm: Armour) -> tuple[str, str, Confidence, list[str], str | None, dict[str, Any], bool] | None:
    """(kind, encoding, confidence, reasons, key_id, details, secret) for one armoured block, or None."""
    if arm.label in PUBLIC_LABELS:
        fmt, encoding = PUBLIC_LABELS[arm.label]
        der = _decode(arm.b64) if arm.complete and arm.end_label == arm.label else None
        if not der:
            return None
        if fmt == "x509":  # TRUSTED CERTIFICATE carries auxiliary trust data after the certificate
            try:
                der = der[: header(der, 0, len(der))[2]]
            except DerError:
                return None
        context = public_context(der, fmt)
        if context is None:
            return None
        kind, key_id, details = context
        what = "X.509 certificate" if kind == "certificate" else "public key"
        return kind, encoding, Confidence.HIGH, [f"PEM {what} parsed (public context)"], key_id, details, False
    kind, fmt, encoding = PRIVATE_LABELS[arm.label]
    if not arm.complete:
        if len(arm.b64) < MIN_BASE64:
            return None
        prefix = _prefix(arm.b64)
        if fmt == "pkcs8":  # the algorithm is named in the first bytes
            kind = pkcs8_algorithm_kind(prefix) or kind
        reasons = ["truncated PEM private key: no END line within reach", f"{len(arm.b64)} base64 characters"]
        return kind, encoding, _truncated_confidence(fmt, arm.label, prefix), reasons, None, {}, True
    if arm.end_label != arm.label:
        return kind, encoding, Confidence.LOW, ["malformed PEM private key: END label does not match BEGIN"], None, {}, True
    der = _decode(arm.b64)
    if not der:
        return kind, encoding, Confidence.LOW, ["malformed PEM private key: body is not valid base64"], None, {}, True
    if arm.headers.get("Proc-Type", "").replace(" ", "") == "4,ENCRYPTED":
        cipher = arm.headers.get("DEK-Info", "").split(",")[0]
        encoding += "-encrypted"
        if len(der) % 8:
            return kind, encoding, Confidence.LOW, ["malformed legacy encrypted PEM: not whole cipher blocks"], None, {}, True
        reasons = ["legacy encrypted PEM (Proc-Type: 4,ENCRYPTED): key not recoverable without the passphrase"]
        return kind, encoding, Confidence.HIGH, reasons, None, {"cipher": cipher}, True
    if arm.label == "ENCRYPTED PRIVATE KEY":
        ok, details = _encrypted_pkcs8(der)
        if not ok:
            return kind, encoding, Confidence.LOW, ["malformed EncryptedPrivateKeyInfo"], None, {}, True
        reasons = ["encrypted PKCS#8: key not recoverable without the passphrase"]
        return kind, encoding, Confidence.HIGH, reasons, None, details, True
    if arm.label == "OPENSSH PRIVATE KEY":
        result = openssh_key_result(der)
    else:
        assert fmt is not None
        result = analyse_private_der(der, fmt)
    if result.confidence is None:
        return kind, encoding, Confidence.LOW, ["malformed PEM private key"] + result.reasons, None, {}, True
    return result.kind, encoding, result.confidence, result.reasons, result.key_id, result.details, True


def utf16_to_ascii(raw: bytes) -> bytes:
    """The leading run of ``raw`` that is UTF-16LE text with high bytes zero, as one byte per char."""
    high = raw[1::2]
    chars = len(high) - len(high.lstrip(b"\x00"))
    return raw[0 : 2 * chars : 2]


class PemDetector:
    name = "pem"
    patterns = PATTERNS

    def validate(self, view: View, hit: Hit) -> Iterable[Finding]:
        return list(self._validate(view, hit))

    def _validate(self, view: View, hit: Hit) -> Iterator[Finding]:
        wide = hit.pattern == "pem-begin-utf16le"
        if wide:
            text = utf16_to_ascii(view.read(hit.start, 2 * MAX_PEM))
        else:
            text = view.read(hit.start, MAX_PEM)
        arm = read_armour(text)
        if arm is None or (arm.label not in PRIVATE_LABELS and arm.label not in PUBLIC_LABELS):
            return
        outcome = analyse_armour(arm)
        if outcome is None:
            return
        kind, encoding, confidence, reasons, key_id, details, secret = outcome
        yield Finding(
            kind=kind,
            encoding=encoding + ("-json-escaped" if arm.json_escaped else "") + ("-utf16le" if wide else ""),
            offset=hit.start,
            length=arm.length * (2 if wide else 1),
            confidence=confidence,
            reasons=reasons,
            key_id=key_id,
            details=details,
            secret=secret,
        )


DETECTORS = [PemDetector()]
