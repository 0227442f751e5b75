"""Signed bundles: the examiner's Ed25519 signing key, the manifest's signature, and whom the recipient trusts.

Why: the manifest lists the SHA-256 of every member, but whoever rewrites a member can recompute every
hash. A signature binds the manifest's exact bytes to the holder of a private key; the recipient decides
whom to trust by the key's fingerprint, obtained from the examiner by another channel.

The signing key (:func:`load_signing_key`), created on first use and named after the examiner then:

* in the **OS keyring** (service ``evidence-viewer``, user ``bundle-signing-key``; the value a small JSON
  object: name, creation time, the 32-byte private seed in base64), through the bounded keyring calls of
  :mod:`viewer.case.oskeyring` (a locked keyring never hangs the export);
* or, with ``use_keyring=False`` or where no keyring answers, in a **passphrase-protected file**: PKCS#8,
  encrypted (cryptography's BestAvailableEncryption: PBKDF2 and AES-256-CBC), in PEM, by default
  ``$XDG_CONFIG_HOME/evidence-viewer/signing-key.pem`` (``~/.config`` without the variable), mode 0600 in
  a 0700 folder. The lines before the PEM block name the signer and the fingerprint (readable without
  the passphrase; not trusted for anything).

What is signed (:func:`signature_member`): ``MESSAGE_CONTEXT + b"\\0" + manifest.json's exact bytes`` (the
context separates this signature from any other use of the key). The manifest names its signer in
``"signature": {"signed": true, "algorithm": "ed25519", "fingerprint", "signer"}`` — signed with it — or
says ``{"signed": false, "reason"}``. The signature itself is the member ``signature.json`` beside the
manifest (it cannot be listed in what it signs)::

    {"format": "evidence-viewer-bundle-signature", "version": 1, "algorithm": "ed25519",
     "public_key": base64 of the 32 raw bytes, "signature": base64 of the 64 bytes}

The fingerprint is the SHA-256 of the raw public key, 64 hex digits in groups of four joined by ``:``
(:func:`fingerprint`); wherever one is read, case, separators and a ``SHA256:`` prefix do not matter
(:func:`parse_fingerprint`).

:func:`check_signature` never raises for what a bundle holds: a missing, huge, malformed, differently
typed or otherwise hostile signature member is an ``invalid`` :class:`SignatureCheck` with its reason.

Trusted keys (:func:`load_trusted_keys`): one fingerprint per line, optionally followed by a name;
``#`` starts a comment; by default ``$XDG_CONFIG_HOME/evidence-viewer/trusted-keys``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from viewer.case.audit import utc_now
from viewer.case.errors import CaseError, KeyringUnavailable
from viewer.case.oskeyring import bounded, os_keyring

SIGNATURE = "signature.json"
SIGNATURE_FORMAT = "evidence-viewer-bundle-signature"
SIGNATURE_VERSION = 1
ALGORITHM = "ed25519"
MESSAGE_CONTEXT = b"evidence-viewer bundle manifest v1"
MAX_SIGNATURE = 64 * 1024  # a real signature member is about 250 bytes
MAX_TRUSTED_KEYS = 1024 * 1024
MAX_NAME = 200
KEYRING_SERVICE = "evidence-viewer"
KEYRING_USER = "bundle-signing-key"
KEY_FILE = "signing-key.pem"
TRUSTED_KEYS_FILE = "trusted-keys"
_HEX64 = re.compile(r"[0-9a-f]{64}")


class SigningKeyError(CaseError):
    """The signing key cannot be created, read or unlocked; ``str()`` is one line saying what to do."""


# -- names and fingerprints ---------------------------------------------------------------------------
def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/evidence-viewer`` (``~/.config/evidence-viewer`` without the variable)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "evidence-viewer"


def default_key_path() -> Path:
    return config_dir() / KEY_FILE


def default_trusted_keys_path() -> Path:
    return config_dir() / TRUSTED_KEYS_FILE


def fingerprint(public_raw: bytes) -> str:
    """SHA-256 of the raw public key, readable: ``3f2a:91bc:…`` (16 groups of four hex digits)."""
    digest = hashlib.sha256(public_raw).hexdigest()
    return ":".join(digest[i:i + 4] for i in range(0, 64, 4))


def parse_fingerprint(text: str) -> str | None:
    """The canonical form of a fingerprint as someone typed or pasted it (any case, ``:``, ``-``, spaces,
    an ``SHA256:`` prefix), or None when it is not 64 hex digits."""
    t = text.strip().lower()
    if t.startswith("sha256:"):
        t = t[7:]
    t = re.sub(r"[\s:\-]", "", t)
    if not _HEX64.fullmatch(t):
        return None
    return ":".join(t[i:i + 4] for i in range(0, 64, 4))


def shown_text(text: Any, limit: int = MAX_NAME) -> str:
    """A name from a bundle or a file as it may be shown: a string, printable, at most ``limit`` characters
    (a crafted name must not reach a terminal or a dialog as control characters)."""
    s = text if isinstance(text, str) else ""
    s = "".join(c if c.isprintable() else "?" for c in s[:limit]).strip()
    return s


# -- the signing key ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class SigningKey:
    """The examiner's key: its name, the private half and where it is kept (``keyring`` or the file)."""

    name: str
    private: Ed25519PrivateKey = field(repr=False)
    store: str

    @property
    def public_raw(self) -> bytes:
        return self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_raw)

    def manifest_block(self) -> dict[str, Any]:
        """What the manifest says about its signer (signed with it)."""
        return {"signed": True, "algorithm": ALGORITHM, "fingerprint": self.fingerprint, "signer": self.name}

    def sign_manifest(self, manifest_bytes: bytes) -> bytes:
        """The ``signature.json`` member for the manifest's exact bytes."""
        sig = self.private.sign(manifest_message(manifest_bytes))
        return json.dumps({"format": SIGNATURE_FORMAT, "version": SIGNATURE_VERSION, "algorithm": ALGORITHM,
                           "public_key": base64.b64encode(self.public_raw).decode("ascii"),
                           "signature": base64.b64encode(sig).decode("ascii")}, indent=1).encode("utf-8")


def unsigned_block(reason: str) -> dict[str, Any]:
    """The manifest's ``signature`` entry of a bundle exported without a signature (and why)."""
    return {"signed": False, "reason": reason}


def manifest_message(manifest_bytes: bytes) -> bytes:
    return MESSAGE_CONTEXT + b"\0" + manifest_bytes


def _raw_private(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())


Passphrase = Callable[[bool], str]  # ask(creating) -> the passphrase of the key file; raises when there is none


def load_signing_key(name: str, *, use_keyring: bool = True, path: str | os.PathLike[str] | None = None,
                     passphrase: Passphrase | None = None, create: bool = True) -> SigningKey:
    """The examiner's signing key; created (named ``name``) when there is none yet and ``create``.

    The OS keyring first (unless ``use_keyring`` is False or a ``path`` is given); where it does not
    answer, or without it, the passphrase-protected file ``path`` (default :func:`default_key_path`), whose
    passphrase ``passphrase(creating)`` supplies (asked only when the file is used). Raises :class:`SigningKeyError` (one line) when neither can be used.
    """
    file = Path(path) if path is not None else default_key_path()
    reason = "the keyring is not used"
    if use_keyring and path is None:
        try:
            return _keyring_key(name, create)
        except KeyringUnavailable as exc:
            reason = str(exc)
    if passphrase is None:
        raise SigningKeyError(f"cannot reach a signing key: {reason}; and no passphrase for the key file {file}")
    return _file_key(file, name, passphrase, create)


def _keyring_key(name: str, create: bool) -> SigningKey:
    keyring = os_keyring()
    value = bounded(keyring.get_password, KEYRING_SERVICE, KEYRING_USER)
    if value is not None:
        try:
            entry = json.loads(value)
            seed = base64.b64decode(entry["seed"], validate=True)
            key = Ed25519PrivateKey.from_private_bytes(seed)
            return SigningKey(shown_text(entry.get("name")) or name, key, "keyring")
        except (ValueError, TypeError, KeyError, binascii.Error):
            raise SigningKeyError(f"the OS keyring's entry {KEYRING_SERVICE}/{KEYRING_USER} is not a signing key "
                                  "(damaged?): remove it to make a new key, or use --no-keyring") from None
    if not create:
        raise SigningKeyError("no signing key in the OS keyring yet")
    key = Ed25519PrivateKey.generate()
    name = shown_text(name) or "examiner"
    entry = {"v": 1, "name": name, "created": utc_now(),
             "seed": base64.b64encode(_raw_private(key)).decode("ascii")}
    bounded(keyring.set_password, KEYRING_SERVICE, KEYRING_USER, json.dumps(entry))
    return SigningKey(name, key, "keyring")


def _file_key(file: Path, name: str, passphrase: Passphrase, create: bool) -> SigningKey:
    try:
        data = file.read_bytes()[:MAX_TRUSTED_KEYS]
    except FileNotFoundError:
        data = None
    except OSError as exc:
        raise SigningKeyError(f"{file}: cannot read the signing key ({exc.strerror or exc})") from None
    if data is not None:
        pw = passphrase(False)
        try:
            key = serialization.load_pem_private_key(data, pw.encode("utf-8"))
        except TypeError:
            raise SigningKeyError(f"{file}: the signing key is not encrypted; refused (make a new one)") from None
        except ValueError:
            raise SigningKeyError(f"{file}: wrong passphrase for the signing key (or not a key file)") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError(f"{file}: not an Ed25519 signing key")
        found = re.search(rb"^Signer: (.*)$", data.split(b"-----BEGIN", 1)[0], re.MULTILINE)
        signer = shown_text(found.group(1).decode("utf-8", "replace")) if found else ""
        return SigningKey(signer or name, key, f"file {file}")
    if not create:
        raise SigningKeyError(f"{file}: no signing key yet")
    pw = passphrase(True)
    if not pw:
        raise SigningKeyError("an empty passphrase for the signing key file")
    key = Ed25519PrivateKey.generate()
    signing = SigningKey(shown_text(name) or "examiner", key, f"file {file}")
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.BestAvailableEncryption(pw.encode("utf-8")))
    text = (f"Evidence Viewer bundle signing key\nSigner: {signing.name}\nFingerprint: {signing.fingerprint}\n"
            .encode() + pem)
    file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made one meanwhile: use that one
        return _file_key(file, name, passphrase, create=False)
    except OSError as exc:
        raise SigningKeyError(f"{file}: cannot write the signing key ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        with contextlib.suppress(OSError):
            file.unlink()
        raise SigningKeyError(f"{file}: cannot write the signing key ({exc.strerror or exc})") from None
    return signing


# -- checking a signature ----------------------------------------------------------------------------
@dataclass(frozen=True)
class SignatureCheck:
    """What a bundle's signature says. ``status``: ``unsigned``, ``valid`` or ``invalid`` (``reason``
    says why, and for ``unsigned`` what the manifest gives as the reason, if anything). ``signer`` is the
    name the manifest claims; ``trusted_name`` the name the recipient's trusted keys give the fingerprint."""

    status: str
    reason: str = ""
    signer: str = ""
    fingerprint: str = ""
    trusted: bool = False
    trusted_name: str = ""

    @property
    def valid(self) -> bool:
        return self.status == "valid"

    def describe(self) -> str:
        """One line for the examiner: who signed and whether that key is trusted."""
        if self.status == "unsigned":
            return "NOT signed" + (f" ({self.reason})" if self.reason else "")
        if self.status == "invalid":
            return f"INVALID signature: {self.reason}"
        who = f"signed by {self.signer or '(no name)'}, key {self.fingerprint}"
        if self.trusted:
            named = f" as {self.trusted_name}" if self.trusted_name and self.trusted_name != self.signer else ""
            return f"{who}: trusted{named}"
        return f"{who}: NOT trusted (this key is not in your trusted keys)"


def _invalid(reason: str, signer: str = "", fp: str = "") -> SignatureCheck:
    return SignatureCheck("invalid", reason, signer, fp)


def _b64_field(doc: dict[str, Any], key: str, length: int) -> bytes:
    value = doc.get(key)
    if not isinstance(value, str) or len(value) > 4 * length:
        raise ValueError(f"its {key} is not a base64 string")
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError(f"its {key} is not valid base64") from None
    if len(raw) != length:
        raise ValueError(f"its {key} has {len(raw)} bytes, not {length}")
    return raw


def check_signature(manifest: Mapping[str, Any], manifest_bytes: bytes, member: bytes | None, *,
                    present: bool = False, trusted: Mapping[str, str] | None = None) -> SignatureCheck:
    """Check ``signature.json`` (``member``: its bytes; None with ``present`` when it was there but too
    large or unreadable) against the manifest's exact bytes and the signer it names. Never raises."""
    declared = manifest.get("signature")
    declared = declared if isinstance(declared, dict) else {}
    claims = declared.get("signed") is True
    signer = shown_text(declared.get("signer"))
    if member is None and not present:
        if claims:
            return _invalid(f"the manifest says it is signed but there is no {SIGNATURE} (removed?)", signer)
        return SignatureCheck("unsigned", shown_text(declared.get("reason")))
    if member is None:
        return _invalid(f"{SIGNATURE} cannot be read (over {MAX_SIGNATURE} bytes or damaged)", signer)
    try:
        doc = json.loads(member)
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
        if doc.get("format") != SIGNATURE_FORMAT or doc.get("version") != SIGNATURE_VERSION:
            raise ValueError("not a bundle signature of a known format and version")
        if doc.get("algorithm") != ALGORITHM:
            raise ValueError(f"algorithm {shown_text(doc.get('algorithm'), 40)!r} is not {ALGORITHM}")
        public_raw = _b64_field(doc, "public_key", 32)
        sig = _b64_field(doc, "signature", 64)
    except (ValueError, TypeError, RecursionError) as exc:
        return _invalid(f"{SIGNATURE} is malformed ({shown_text(str(exc), 120)})", signer)
    fp = fingerprint(public_raw)
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(sig, manifest_message(manifest_bytes))
    except (InvalidSignature, ValueError):
        return _invalid("the signature does not match the manifest (changed after it was signed)", signer, fp)
    if not claims or parse_fingerprint(str(declared.get("fingerprint", ""))) != fp:
        return _invalid("the manifest does not name the key that signed it", signer, fp)
    names = trusted or {}
    return SignatureCheck("valid", "", signer, fp, fp in names, names.get(fp, ""))


# -- trusted keys ------------------------------------------------------------------------------------
@dataclass
class TrustedKeys:
    """Fingerprints the recipient trusts (canonical form -> the name given to it, may be empty) and the
    lines that could not be read (one line each, for a note)."""

    names: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(self, fp_text: str, name: str = "") -> bool:
        fp = parse_fingerprint(fp_text)
        if fp is None:
            return False
        self.names.setdefault(fp, shown_text(name))
        return True


def parse_trusted_keys(text: str, source: str = TRUSTED_KEYS_FILE) -> TrustedKeys:
    """Read a trusted-keys file's text: ``FINGERPRINT [name…]`` per line, ``#`` comments, blank lines."""
    out = TrustedKeys()
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        fp_text, *name = line.split()
        if not out.add(fp_text, " ".join(name)):
            out.problems.append(f"{source} line {n}: not a fingerprint (64 hex digits); ignored")
    return out


def load_trusted_keys(path: str | os.PathLike[str] | None = None, *, required: bool = False,
                      extra: Iterable[str] = ()) -> TrustedKeys:
    """The trusted keys of ``path`` (default :func:`default_trusted_keys_path`; a missing default file is
    no keys, a missing ``required`` file an error) and the ``extra`` fingerprints (``--trust``; one that
    is not a fingerprint raises :class:`ValueError`)."""
    file = Path(path) if path is not None else default_trusted_keys_path()
    try:
        with open(file, "rb") as fh:
            data = fh.read(MAX_TRUSTED_KEYS + 1)
    except FileNotFoundError:
        if required:
            raise
        data = b""
    if len(data) > MAX_TRUSTED_KEYS:
        raise ValueError(f"{file}: over {MAX_TRUSTED_KEYS} bytes; not a trusted-keys file")
    keys = parse_trusted_keys(data.decode("utf-8", "replace"), str(file))
    for fp in extra:
        if not keys.add(fp):
            raise ValueError(f"{shown_text(fp, 80)!r} is not a fingerprint (64 hex digits)")
    return keys


__all__ = ["SIGNATURE", "SIGNATURE_FORMAT", "ALGORITHM", "MESSAGE_CONTEXT", "MAX_SIGNATURE", "SigningKeyError",
           "SigningKey", "SignatureCheck", "TrustedKeys", "load_signing_key", "unsigned_block", "check_signature",
           "manifest_message", "fingerprint", "parse_fingerprint", "parse_trusted_keys", "load_trusted_keys",
           "config_dir", "default_key_path", "default_trusted_keys_path", "shown_text"]
