"""The `.evcase` file format and its cryptography (no file I/O here: bytes in, bytes out).

Layout (big-endian; declared with ``construct``)::

    magic      8 bytes   b"\\x89EVCASE\\n"  (high bit and newline catch text-mode damage, as in PNG)
    version    u16       FORMAT_VERSION (1); a larger value is refused with NewerFormatVersion
    case_id    16 bytes  the case UUID
    slots      u32 length + UTF-8 JSON list of key slots (public: no key material in plain form)
    nonce      12 bytes  AES-GCM nonce of this save (fresh random per save)
    check      32 bytes  SHA-256 of all header bytes before it (catches accidental header damage, so a
                         damaged slot reads as "tampered", not as "wrong passphrase")
    payload    rest      AES-256-GCM(data key, nonce, zlib(JSON of the case), AAD = every header byte)

One random 256-bit **data key** per case encrypts the payload. Each **key slot** wraps it with AES key
wrap (RFC 3394, ``keywrap.aes_key_wrap``) under a key-encryption key:

* ``{"kind": "keyring", "created", "service": "evidence-viewer", "user": <case id>, "wrapped"}`` — the
  KEK is 32 random bytes kept (base64) in the OS keyring under that service and user;
* ``{"kind": "passphrase", "created", "kdf": {...}, "wrapped"}`` — the KEK is derived from the
  passphrase. Default KDF: Argon2id at OWASP's first recommendation (m = 19 MiB, t = 2, p = 1,
  16-byte salt); ``scrypt`` slots (N, r, p stored) are read too. Parameters live in the slot, so
  cheaper ones (tests only: :data:`TEST_KDF`) open like any other.

Adding or removing a slot rewrites the header and re-seals the payload under the *same* data key (the
header is the payload's associated data); no passphrase change ever re-keys the case.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import uuid
import zlib
from dataclasses import dataclass
from typing import Any

import construct as c
import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from viewer.case.audit import utc_now
from viewer.case.errors import (
    CaseTampered,
    KeyringEntryMissing,
    KeyringUnavailable,
    NewerFormatVersion,
    NotACaseFile,
    WrongPassphrase,
)

MAGIC = b"\x89EVCASE\n"
FORMAT_VERSION = 1
KEYRING_SERVICE = "evidence-viewer"
#: Seconds an OS keyring call may take. A locked gnome-keyring waits for an unlock prompt that never comes
#: on a headless machine; past this the call is abandoned (its daemon thread left behind) and
#: KeyringUnavailable raised.
KEYRING_TIMEOUT = 10.0

#: OWASP Password Storage Cheat Sheet, Argon2id option 1: 19 MiB, 2 iterations, 1 lane.
DEFAULT_KDF: dict[str, Any] = {"name": "argon2id", "memory_cost": 19456, "iterations": 2, "lanes": 1}
#: OWASP's scrypt parameters, used when this cryptography has no Argon2id.
SCRYPT_KDF: dict[str, Any] = {"name": "scrypt", "n": 2**17, "r": 8, "p": 1}
#: Deliberately weak parameters, for tests only (hundreds of opens per test). Never for real cases.
TEST_KDF: dict[str, Any] = {"name": "argon2id", "memory_cost": 8, "iterations": 1, "lanes": 1}

try:
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
except ImportError:  # cryptography < 44
    Argon2id = None  # type: ignore[assignment,misc]
    DEFAULT_KDF = SCRYPT_KDF

Prelude = c.Struct("magic" / c.Bytes(len(MAGIC)), "version" / c.Int16ub)
Body = c.Struct(
    "case_id" / c.Bytes(16),
    "slots" / c.Prefixed(c.Int32ub, c.GreedyBytes),
    "nonce" / c.Bytes(12),
    "check" / c.Bytes(32),
)
PRELUDE_SIZE = len(MAGIC) + 2
TAG_SIZE = 16


def b64e(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def b64d(s: str) -> bytes:
    return base64.b64decode(s.encode("ascii"), validate=True)


@dataclass
class Header:
    case_id: str
    slots: list[dict[str, Any]]
    nonce: bytes
    raw: bytes  # the exact header bytes (associated data of the payload)


def build_header(case_id: str, slots: list[dict[str, Any]], nonce: bytes) -> bytes:
    slots_json = json.dumps(slots, sort_keys=True, separators=(",", ":")).encode("utf-8")
    head = Prelude.build({"magic": MAGIC, "version": FORMAT_VERSION})
    head += Body.build({"case_id": uuid.UUID(case_id).bytes, "slots": slots_json, "nonce": nonce,
                        "check": b"\0" * 32})[:-32]
    return head + hashlib.sha256(head).digest()


def parse_header(data: bytes) -> tuple[Header, bytes]:
    """Split a case file into its header and the sealed payload, with the checks that need no key."""
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise NotACaseFile("not an Evidence Viewer case file (no case magic at its start)")
    if len(data) < PRELUDE_SIZE:
        raise CaseTampered("the case file is truncated (it ends inside its header)")
    version = Prelude.parse(data[:PRELUDE_SIZE]).version
    if version > FORMAT_VERSION:
        raise NewerFormatVersion(
            f"the case file has format version {version}; this Evidence Viewer reads up to version "
            f"{FORMAT_VERSION}: open it with a newer release")
    if version < 1:
        raise CaseTampered(f"the case file's header is damaged (format version {version} does not exist)")
    try:
        body = Body.parse(data[PRELUDE_SIZE:])
    except c.ConstructError:
        raise CaseTampered("the case file is truncated or its header is damaged") from None
    end = PRELUDE_SIZE + 16 + 4 + len(body.slots) + 12 + 32
    raw = data[:end]
    if hashlib.sha256(raw[:-32]).digest() != body.check:
        raise CaseTampered("the case file's header is damaged or was modified (header checksum mismatch)")
    try:
        slots = json.loads(body.slots.decode("utf-8"))
        if not isinstance(slots, list) or not all(isinstance(s, dict) for s in slots):
            raise ValueError
    except ValueError:
        raise CaseTampered("the case file's key slots are damaged") from None
    payload = data[end:]
    if len(payload) < TAG_SIZE:
        raise CaseTampered("the case file is truncated (its encrypted payload is incomplete)")
    return Header(str(uuid.UUID(bytes=body.case_id)), slots, body.nonce, raw), payload


def seal(case_json: dict[str, Any], case_id: str, slots: list[dict[str, Any]], data_key: bytes) -> bytes:
    """The complete file bytes: header + AES-256-GCM(zlib(JSON)) bound to the header."""
    nonce = os.urandom(12)
    header = build_header(case_id, slots, nonce)
    # orjson and zlib level 1: a case with 100,000 findings must save and open in under 2 s (bench_case.py);
    # the standard json module and level 6 took twice that. The payload is encrypted either way.
    plain = zlib.compress(orjson.dumps(case_json), 1)
    return header + AESGCM(data_key).encrypt(nonce, plain, header)


def unseal(header: Header, payload: bytes, data_key: bytes) -> dict[str, Any]:
    try:
        plain = AESGCM(data_key).decrypt(header.nonce, payload, header.raw)
    except InvalidTag:
        raise CaseTampered("the case file was modified, damaged or truncated (authentication failed)") from None
    try:
        case_json = orjson.loads(zlib.decompress(plain))
    except (zlib.error, ValueError):  # authentic but unreadable: written by a broken program (JSONDecodeError too)
        raise CaseTampered("the case payload is authentic but unreadable") from None
    if not isinstance(case_json, dict) or case_json.get("id") != header.case_id:
        raise CaseTampered("the case payload does not belong to this header (case id mismatch)")
    return case_json


# -- key derivation and slots ---------------------------------------------------------------------
def derive_kek(passphrase: str, kdf: dict[str, Any]) -> bytes:
    pw = passphrase.encode("utf-8")
    salt = b64d(kdf["salt"])
    if kdf["name"] == "argon2id":
        if Argon2id is None:
            raise WrongPassphrase("this slot uses Argon2id, which this cryptography build lacks")
        return Argon2id(salt=salt, length=32, iterations=int(kdf["iterations"]), lanes=int(kdf["lanes"]),
                        memory_cost=int(kdf["memory_cost"])).derive(pw)
    if kdf["name"] == "scrypt":
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

        return Scrypt(salt=salt, length=32, n=int(kdf["n"]), r=int(kdf["r"]), p=int(kdf["p"])).derive(pw)
    raise CaseTampered(f"unknown key derivation {kdf['name']!r} in a passphrase slot")


def passphrase_slot(data_key: bytes, passphrase: str, kdf: dict[str, Any] | None = None) -> dict[str, Any]:
    if not passphrase:
        raise ValueError("an empty passphrase")
    kdf = {**(kdf or DEFAULT_KDF), "salt": b64e(os.urandom(16))}
    kek = derive_kek(passphrase, kdf)
    return {"kind": "passphrase", "created": utc_now(), "kdf": kdf, "wrapped": b64e(aes_key_wrap(kek, data_key))}


def unlock_with_passphrase(slots: list[dict[str, Any]], passphrase: str) -> bytes:
    candidates = [s for s in slots if s.get("kind") == "passphrase"]
    if not candidates:
        raise WrongPassphrase("this case has no passphrase slot: open it with the keyring")
    for s in candidates:
        try:
            return aes_key_unwrap(derive_kek(passphrase, s["kdf"]), b64d(s["wrapped"]))
        except (InvalidUnwrap, ValueError, KeyError):
            continue
    raise WrongPassphrase("wrong passphrase: no passphrase slot of this case opens with it")


def _keyring():
    import keyring
    import keyring.backends.fail

    try:
        backend = keyring.get_keyring()  # a forced backend (PYTHON_KEYRING_BACKEND) may fail right here
    except Exception as exc:  # noqa: BLE001 - no D-Bus, backend import errors alike
        raise _unavailable(exc) from exc
    if isinstance(backend, keyring.backends.fail.Keyring):
        raise KeyringUnavailable("no OS keyring is available (no Secret Service / D-Bus session): use a passphrase")
    return keyring


def _unavailable(exc: Exception) -> KeyringUnavailable:
    from keyring.errors import KeyringLocked

    if isinstance(exc, KeyringLocked):
        return KeyringUnavailable("the OS keyring is locked (unlock it, or use a passphrase)")
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return KeyringUnavailable(f"the OS keyring cannot be used ({detail}): use a passphrase")


def _bounded(call: Any, *args: Any) -> Any:
    """``call(*args)`` in a daemon thread, at most :data:`KEYRING_TIMEOUT` seconds.

    Any exception of the call, and a call that does not return in time (a locked keyring waiting for an
    unlock prompt), becomes KeyringUnavailable. A timed-out call keeps running in its daemon thread; it
    cannot be cancelled, but it no longer blocks the caller nor the interpreter's exit.
    """
    timeout = KEYRING_TIMEOUT
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = call(*args)
        except BaseException as exc:  # noqa: BLE001 - handed over to the caller
            result["error"] = exc

    worker = threading.Thread(target=run, name="evidence-viewer-keyring", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise KeyringUnavailable(
            f"the OS keyring did not answer within {timeout:g} s (locked?) — use a passphrase")
    if "error" in result:
        exc = result["error"]
        if not isinstance(exc, Exception):
            raise exc
        raise _unavailable(exc) from exc
    return result.get("value")


def keyring_slot(data_key: bytes, case_id: str) -> dict[str, Any]:
    """Store a fresh random KEK in the OS keyring and return the slot wrapping the data key with it."""
    keyring = _keyring()
    kek = os.urandom(32)
    # locked keyring (KeyringLocked, or no answer in time), D-Bus errors, backend errors alike
    _bounded(keyring.set_password, KEYRING_SERVICE, case_id, b64e(kek))
    return {"kind": "keyring", "created": utc_now(), "service": KEYRING_SERVICE, "user": case_id,
            "wrapped": b64e(aes_key_wrap(kek, data_key))}


def unlock_with_keyring(slots: list[dict[str, Any]], case_id: str) -> bytes:
    slot = next(s for s in slots if s.get("kind") == "keyring")
    keyring = _keyring()
    secret = _bounded(keyring.get_password, slot.get("service", KEYRING_SERVICE), slot.get("user", case_id))
    if secret is None:
        raise KeyringEntryMissing(
            f"the OS keyring has no entry for case {case_id} (deleted, or another user/machine): use a passphrase")
    try:
        return aes_key_unwrap(b64d(secret), b64d(slot["wrapped"]))
    except (InvalidUnwrap, ValueError, KeyError):
        raise KeyringEntryMissing(
            f"the OS keyring entry for case {case_id} does not open it (replaced?): use a passphrase") from None


def delete_keyring_entry(slot: dict[str, Any]) -> None:
    """Best effort: remove the KEK of a removed keyring slot from the OS keyring (bounded like the others)."""
    try:
        keyring = _keyring()
        _bounded(keyring.delete_password, slot.get("service", KEYRING_SERVICE), slot["user"])
    except Exception:  # noqa: BLE001 - the slot is gone from the file either way
        pass


def public_slot_info(slot: dict[str, Any]) -> dict[str, Any]:
    """What may be shown about a slot: kind, created, KDF parameters (never the wrapped key)."""
    info = {"kind": slot.get("kind"), "created": slot.get("created")}
    if slot.get("kind") == "passphrase":
        info["kdf"] = {k: v for k, v in slot["kdf"].items() if k != "salt"}
    if slot.get("kind") == "keyring":
        info["service"], info["user"] = slot.get("service"), slot.get("user")
    return info
