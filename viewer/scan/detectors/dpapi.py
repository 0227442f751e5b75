"""Encrypted key containers, reported as context: Windows DPAPI blobs and PKCS#12 (PFX) files.

Neither can be opened without something the dump may not hold (the user's DPAPI master key; the PFX
password), so neither is a key in the clear. They are still secrets: whoever gets the master key or the
password gets what is inside. Hence ``secret=True`` and ``medium``: "an encrypted secret; the master key
(or password) is needed". Encrypted PKCS#8 (``ENCRYPTED PRIVATE KEY``) belongs to the PEM/DER detectors.

DPAPI blob (CryptProtectData's output; the layout of mimikatz' KULL_M_DPAPI_BLOB / dpapick)::

    dwVersion = 1, guidProvider = {df9d8cd0-1501-11d1-8c7a-00c04fc297eb},
    dwMasterKeyVersion, guidMasterKey, dwFlags, dwDescriptionLen, szDescription (UTF-16LE, NUL),
    algCrypt, dwAlgCryptLen, dwSaltLen, pbSalt, dwHmacKeyLen, pbHmacKey, algHash, dwAlgHashLen,
    dwHmac2KeyLen, pbHmac2Key, dwDataLen, pbData, dwSignLen, pbSign

The prefilter matches the 20 constant bytes (version + provider GUID). The validator parses the rest
with the construct declaration below from a bounded window, and accepts the blob only when every length
is plausible, the algorithms are CryptoAPI ALG_IDs it knows and the description is UTF-16 text. Details
(master-key GUID, description, algorithms, flags) are public facts about the blob, not secrets: the
master-key GUID names the file under ``%APPDATA%\\Microsoft\\Protect\\<SID>\\`` that an examiner needs.

PKCS#12: DER ``PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo (pkcs7-data ...), macData }``.
The prefilter matches the version and the pkcs7-data OID; the validator checks the DER lengths, then
tries to open it with no password and with the empty password (offline, in memory). A PFX that opens
is reported ``high`` with the key's ``key_id`` (its private key is readable by anyone); otherwise
``medium`` context.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from construct import Bytes, Const, ConstructError, Int32ul, Struct, this

from viewer.scan import kinds
from viewer.scan.detector import Hit, Pattern, View
from viewer.scan.finding import Confidence, Finding
from viewer.scan.keys import describe_public, key_id, symmetric_key_id

DPAPI_PROVIDER = uuid.UUID("df9d8cd0-1501-11d1-8c7a-00c04fc297eb")
DPAPI_PROVIDER_BYTES = DPAPI_PROVIDER.bytes_le  # d08c9ddf 0115 d111 8c7a 00c04fc297eb
DPAPI_MAGIC = b"\x01\x00\x00\x00" + DPAPI_PROVIDER_BYTES

DPAPI_BLOB = Struct(
    "dwVersion" / Const(1, Int32ul),
    "guidProvider" / Const(DPAPI_PROVIDER_BYTES),
    "dwMasterKeyVersion" / Int32ul,
    "guidMasterKey" / Bytes(16),
    "dwFlags" / Int32ul,
    "dwDescriptionLen" / Int32ul,
    "szDescription" / Bytes(this.dwDescriptionLen),
    "algCrypt" / Int32ul,
    "dwAlgCryptLen" / Int32ul,
    "dwSaltLen" / Int32ul,
    "pbSalt" / Bytes(this.dwSaltLen),
    "dwHmacKeyLen" / Int32ul,
    "pbHmacKey" / Bytes(this.dwHmacKeyLen),
    "algHash" / Int32ul,
    "dwAlgHashLen" / Int32ul,
    "dwHmac2KeyLen" / Int32ul,
    "pbHmac2Key" / Bytes(this.dwHmac2KeyLen),
    "dwDataLen" / Int32ul,
    "pbData" / Bytes(this.dwDataLen),
    "dwSignLen" / Int32ul,
    "pbSign" / Bytes(this.dwSignLen),
)

# CryptoAPI ALG_IDs (wincrypt.h) that DPAPI uses or used.
ALG_CRYPT = {
    0x6603: "3DES",
    0x6609: "3DES-112",
    0x6601: "DES",
    0x6801: "RC4",
    0x6602: "RC2",
    0x660E: "AES-128",
    0x660F: "AES-192",
    0x6610: "AES-256",
}
ALG_HASH = {
    0x8004: "SHA1",
    0x800C: "SHA-256",
    0x800D: "SHA-384",
    0x800E: "SHA-512",
    0x8003: "MD5",
    0x8009: "HMAC",
}
MAX_DESCRIPTION = 4096  # bytes; Windows descriptions are short labels
MAX_SALT_HMAC = 256
MAX_DATA = 16 * 1024 * 1024
MAX_SIGN = 256
DPAPI_WINDOW = 64 * 1024  # bytes read at once; a larger blob is read again at its declared size


def _dpapi_sign_at(head: bytes) -> int | None:
    """Offset of dwSignLen, from walking the length fields of the blob's start in ``head``; None when a
    length is implausible or the header runs past ``head``. (pbData may run past ``head``: the caller
    then reads the blob at its declared size, bounded by MAX_DATA.)"""
    pos = 44  # dwVersion, guidProvider, dwMasterKeyVersion, guidMasterKey, dwFlags

    def u32(at: int) -> int | None:
        return int.from_bytes(head[at : at + 4], "little") if at + 4 <= len(head) else None

    desc = u32(pos)
    if desc is None or desc > MAX_DESCRIPTION or desc % 2:
        return None
    pos += 4 + desc + 8  # dwDescriptionLen, szDescription, algCrypt, dwAlgCryptLen
    for _ in ("salt", "hmac key"):
        n = u32(pos)
        if n is None or n > MAX_SALT_HMAC:
            return None
        pos += 4 + n
    pos += 8  # algHash, dwAlgHashLen
    n = u32(pos)
    if n is None or n > MAX_SALT_HMAC:
        return None
    pos += 4 + n
    n = u32(pos)
    if n is None or n == 0 or n > MAX_DATA:
        return None
    return pos + 4 + n


def _guid_text(raw: bytes) -> str:
    return str(uuid.UUID(bytes_le=bytes(raw)))


class DpapiDetector:
    """DPAPI blobs (CryptProtectData output): context, medium; the master key is needed."""

    name = "dpapi"
    patterns = (
        Pattern(
            "dpapi-blob",
            rb"\x01\x00\x00\x00\xd0\x8c\x9d\xdf\x01\x15\xd1\x11\x8c\x7a\x00\xc0\x4f\xc2\x97\xeb",
            20,
        ),
    )

    def validate(self, view: View, hit: Hit) -> Iterable[Finding]:
        data = view.read(hit.start, DPAPI_WINDOW)
        if not data.startswith(DPAPI_MAGIC):
            return
        sign_at = _dpapi_sign_at(data)
        if sign_at is None:
            return
        if sign_at + 4 > len(data):  # a large pbData: read the whole declared blob (bounded by MAX_DATA)
            data = view.read(hit.start, sign_at + 4 + MAX_SIGN)
            if sign_at + 4 > len(data):
                return
        sign_len = int.from_bytes(data[sign_at : sign_at + 4], "little")
        if sign_len > MAX_SIGN or sign_at + 4 + sign_len > len(data):
            return
        total = sign_at + 4 + sign_len
        try:
            blob = DPAPI_BLOB.parse(data[:total])
        except (ConstructError, ValueError):
            return
        crypt, hsh = ALG_CRYPT.get(blob.algCrypt), ALG_HASH.get(blob.algHash)
        if crypt is None or hsh is None or blob.dwMasterKeyVersion > 16 or not blob.dwSignLen:
            return
        try:
            description = bytes(blob.szDescription).decode("utf-16-le")
        except UnicodeDecodeError:
            return
        if description.endswith("\0"):
            description = description[:-1]
        if "\0" in description or not all(ch.isprintable() for ch in description):
            return
        details: dict[str, Any] = {
            "masterkey_guid": _guid_text(blob.guidMasterKey),
            "masterkey_version": blob.dwMasterKeyVersion,
            "description": description[:256],
            "algCrypt": crypt,
            "algCrypt_bits": blob.dwAlgCryptLen,
            "algHash": hsh,
            "algHash_bits": blob.dwAlgHashLen,
            "flags": blob.dwFlags,
            "data_length": blob.dwDataLen,
        }
        yield Finding(
            kind=kinds.DPAPI_BLOB,
            encoding="dpapi",
            offset=hit.start,
            length=total,
            confidence=Confidence.MEDIUM,
            reasons=[
                "DPAPI blob header (version 1, provider {df9d8cd0-1501-11d1-8c7a-00c04fc297eb})",
                f"every length consistent; {crypt} with {hsh}",
                "an encrypted secret; the master key is needed to decrypt it",
            ],
            details=details,
            key_id=symmetric_key_id(bytes(data[:total])),  # names the blob, reveals nothing of its plaintext
        )


# -- PKCS#12 -----------------------------------------------------------------------------------------
PKCS7_DATA_OID = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01"
MAX_PFX = 16 * 1024 * 1024
ANY = rb"[\x00-\xff]"


def _der_len(data: bytes, pos: int) -> tuple[int | None, int] | None:
    """(length or None for BER indefinite, position after the length octets)."""
    if pos >= len(data):
        return None
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    if first == 0x80:
        return None, pos + 1
    n = first & 0x7F
    if n > 4 or pos + 1 + n > len(data):
        return None
    value = int.from_bytes(data[pos + 1 : pos + 1 + n], "big")
    if value < 0x80 or (n > 1 and data[pos + 1] == 0):
        return None  # not minimal: not DER (nor what any PKCS#12 writer produces)
    return value, pos + 1 + n


class Pkcs12Detector:
    """PKCS#12 / PFX files (DER): context, medium; high when it opens without a password."""

    name = "pkcs12"
    patterns = (
        Pattern(
            "pkcs12",
            rb"\x30(?:\x81" + ANY + rb"|\x82" + ANY + rb"{2}|\x83" + ANY + rb"{3})\x02\x01\x03"
            rb"\x30(?:\x80|\x81" + ANY + rb"|\x82" + ANY + rb"{2}|\x83" + ANY + rb"{3})"
            rb"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01",
            24,
        ),
    )

    def validate(self, view: View, hit: Hit) -> Iterable[Finding]:
        head = view.read(hit.start, 16)
        parsed = _der_len(head, 1)
        if parsed is None:
            return
        length, body = parsed
        if length is None:
            return  # the prefilter requires a definite outer length; BER-indefinite PFX is not handled
        total = body + length
        if total > MAX_PFX or length < 64:
            return
        data = view.read(hit.start, total)
        if len(data) != total:
            return
        details: dict[str, Any] = {"version": 3, "format": "PKCS#12 (PFX)"}
        reasons = ["PKCS#12 PFX: SEQUENCE { INTEGER 3, ContentInfo pkcs7-data }", "DER lengths fit the file"]
        opened = _open_pfx(data)
        if opened is None:
            details["password"] = "needed"
            reasons.append("an encrypted container; the password is needed")
            yield Finding(
                kind=kinds.PKCS12,
                encoding="der-pkcs12",
                offset=hit.start,
                length=total,
                confidence=Confidence.MEDIUM,
                reasons=reasons,
                details=details,
            )
            return
        password, private, certs = opened
        details["password"] = "none" if password is None else "empty"
        details["certificates"] = certs
        reasons.append(f"opens with {'no' if password is None else 'the empty'} password")
        if private is None:
            yield Finding(
                kind=kinds.PKCS12,
                encoding="der-pkcs12",
                offset=hit.start,
                length=total,
                confidence=Confidence.HIGH,
                reasons=reasons + ["holds no private key"],
                details=details,
                secret=False,
            )
            return
        public = private.public_key()
        details.update(describe_public(public))
        yield Finding(
            kind=kinds.PKCS12,
            encoding="der-pkcs12",
            offset=hit.start,
            length=total,
            confidence=Confidence.HIGH,
            reasons=reasons + ["private key readable by anyone"],
            details=details,
            key_id=key_id(public),
        )


def _open_pfx(data: bytes) -> tuple[bytes | None, Any, int] | None:
    """Try to open a PFX offline with no password and with the empty one; None when it stays shut."""
    from cryptography.hazmat.primitives.serialization import pkcs12

    for password in (None, b""):
        try:
            private, cert, extra = pkcs12.load_key_and_certificates(data, password)
        except Exception:  # noqa: BLE001 - wrong password, unsupported algorithm, damage: all "shut"
            continue
        return password, private, (1 if cert is not None else 0) + len(extra or [])
    return None


ORDER = 70  # where these run among the detectors (see viewer.scan.detectors)
DETECTORS = [DpapiDetector(), Pkcs12Detector()]
