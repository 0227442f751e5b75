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
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from viewer.scan import kinds
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
from viewer.scan.openssh_key import MAGIC as OPENSSH_MAGIC
from viewer.scan.openssh_key import parse_openssh_key

MAX_PEM = 64 * 1024  # characters looked at from the BEGIN line: the END line must be within reach
MIN_BASE64 = 64  # fewer base64 characters after a BEGIN line: a string constant, not key material

# label -> (kind before decoding, DER format for .der, encoding)
PRIVATE_LABELS: dict[str, tuple[str, str | None, str]] = {
    "RSA PRIVATE KEY": (kinds.RSA_PRIVATE_KEY, "pkcs1", "pem-pkcs1"),
    "PRIVATE KEY": (kinds.PRIVATE_KEY, "pkcs8", "pem-pkcs8"),
    "EC PRIVATE KEY": (kinds.EC_PRIVATE_KEY, "sec1", "pem-sec1"),
    "DSA PRIVATE KEY": (kinds.DSA_PRIVATE_KEY, "pkcs1", "pem-dsa"),
    "ENCRYPTED PRIVATE KEY": (kinds.PRIVATE_KEY, None, "pem-pkcs8-encrypted"),
    "OPENSSH PRIVATE KEY": (kinds.PRIVATE_KEY, None, "pem-openssh"),
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


def openssh_key_result(blob: bytes) -> KeyResult:
    """Analyse a decoded ``openssh-key-v1`` container with the shared parser
    (:func:`viewer.scan.openssh_key.parse_openssh_key`); confidence None when it is not a key."""
    found = parse_openssh_key(blob)
    if found is None:
        return KeyResult(kinds.PRIVATE_KEY, None, ["not a well-formed openssh-key-v1 container"])
    return KeyResult(found.kind, found.confidence, list(found.reasons), found.key_id, dict(found.details))


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
        what = "X.509 certificate" if kind == kinds.CERTIFICATE else "public key"
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


ORDER = 10  # where these run among the detectors (see viewer.scan.detectors)
DETECTORS = [PemDetector()]
