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

* ``{"kind": "keyring", "created", "service": "evidence-viewer", "user": "slot-<32 random hex>", "origin",
  "wrapped"}`` — the KEK is 32 random bytes kept (base64) in the OS keyring under that service and user.
  A random name per slot: a copy of a case that adds a keyring slot gets its own entry and never
  overwrites the original's. ``origin`` (HMAC of the file's resolved path under the data key) says which
  file created the slot. Slots of the first release named the entry by the case id (``"user": <case
  id>``, no origin); they still open. A slot naming any other service, or any other user, is refused
  unread: the header is public and a received case may name anyone's entry;
* ``{"kind": "passphrase", "created", "kdf": {...}, "wrapped"}`` — the KEK is derived from the
  passphrase. Default KDF: Argon2id at OWASP's first recommendation (m = 19 MiB, t = 2, p = 1,
  16-byte salt); ``scrypt`` slots (N, r, p stored) are read too. Parameters live in the slot, so
  cheaper ones (tests only: :data:`TEST_KDF`) open like any other.

Adding or removing a slot rewrites the header and re-seals the payload under the *same* data key (the
header is the payload's associated data); no passphrase change ever re-keys the case.

A received case is untrusted input, and its header is read before anything is authenticated, so:

* every KDF parameter is checked against fixed bounds (:func:`check_kdf`, :data:`KDF_BOUNDS`) before
  anything is derived — per slot and for all slots of a file together — and a slot outside them is
  refused with :class:`KdfOutOfBounds`. The parameters are also bound to the case: they are header
  bytes, the header is the payload's associated data, so a changed parameter fails authentication;
* at most :data:`MAX_SLOTS` slots; the decompressed payload at most :data:`PAYLOAD_RATIO` times its
  compressed size (and :data:`MAX_PAYLOAD`), checked while inflating;
* a keyring entry is deleted only by the case that owns it (:func:`delete_keyring_entry`): the entry
  must unwrap this slot to this case's data key, and the slot must have been created by this file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
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
    KdfOutOfBounds,
    KeyringEntryMissing,
    NewerFormatVersion,
    NotACaseFile,
    WrongPassphrase,
)
from viewer.case.oskeyring import bounded, os_keyring

MAGIC = b"\x89EVCASE\n"
FORMAT_VERSION = 1
KEYRING_SERVICE = "evidence-viewer"

#: OWASP Password Storage Cheat Sheet, Argon2id option 1: 19 MiB, 2 iterations, 1 lane.
DEFAULT_KDF: dict[str, Any] = {"name": "argon2id", "memory_cost": 19456, "iterations": 2, "lanes": 1}
#: OWASP's scrypt parameters, used when this cryptography has no Argon2id.
SCRYPT_KDF: dict[str, Any] = {"name": "scrypt", "n": 2**17, "r": 8, "p": 1}
#: Deliberately weak parameters, for tests only (hundreds of opens per test). Never for real cases.
TEST_KDF: dict[str, Any] = {"name": "argon2id", "memory_cost": 8, "iterations": 1, "lanes": 1}

#: Accepted range of each KDF parameter (inclusive), per algorithm. Argon2id: memory in KiB up to 128 MiB
#: (6x OWASP's 19 MiB, 2x RFC 9106's 64 MiB option), at most 16 passes and 8 lanes; scrypt: N a power of
#: two up to 2^20, 128·N·r bytes of memory up to 128 MiB (OWASP's N = 2^17, r = 8 is exactly that).
KDF_BOUNDS: dict[str, dict[str, tuple[int, int]]] = {
    "argon2id": {"memory_cost": (8, 131072), "iterations": (1, 16), "lanes": (1, 8)},
    "scrypt": {"n": (2, 2**20), "r": (1, 32), "p": (1, 16)},
}
SALT_BYTES = (16, 64)
#: Work of one slot (KiB of memory x passes; scrypt: 128·N·r·p bytes / 1024) and of all the slots of one
#: file together: about 1 s and 4 s here. The defaults cost 38,912 (Argon2id) and 131,072 (scrypt).
MAX_SLOT_WORK = 2**20
MAX_FILE_WORK = 2**22
SCRYPT_MAX_MEMORY = 128 * 1024 * 1024
#: More slots than anyone shares a case with; every one may cost a key derivation.
MAX_SLOTS = 32
#: The payload inflates at most this many times its compressed size (JSON of a case: about 5 to 10
#: times) and never beyond MAX_PAYLOAD; small payloads may always reach MIN_PAYLOAD_LIMIT.
PAYLOAD_RATIO = 100
MIN_PAYLOAD_LIMIT = 16 * 1024 * 1024
MAX_PAYLOAD = 2 * 1024**3
KEYRING_USER = re.compile(r"slot-[0-9a-f]{32}")

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
        slots = orjson.loads(body.slots)  # depth-limited (1,024 levels), unlike the json module
        if not isinstance(slots, list) or not all(isinstance(s, dict) for s in slots):
            raise ValueError
    except ValueError:
        raise CaseTampered("the case file's key slots are damaged") from None
    if len(slots) > MAX_SLOTS:
        raise CaseTampered(f"the case file has {len(slots)} key slots; at most {MAX_SLOTS} are accepted "
                           "(crafted or damaged)")
    payload = data[end:]
    if len(payload) < TAG_SIZE:
        raise CaseTampered("the case file is truncated (its encrypted payload is incomplete)")
    return Header(str(uuid.UUID(bytes=body.case_id)), slots, body.nonce, raw), payload


def pack(case_json: dict[str, Any]) -> bytes:
    """The compressed plaintext of a payload."""
    # orjson and zlib level 1: a case with 100,000 findings must save and open in under 2 s (bench_case.py);
    # the standard json module and level 6 took twice that. The payload is encrypted either way.
    return zlib.compress(orjson.dumps(case_json), 1)


def seal_packed(packed: bytes, case_id: str, slots: list[dict[str, Any]], data_key: bytes) -> bytes:
    """The complete file bytes: header + AES-256-GCM(packed) bound to the header."""
    nonce = os.urandom(12)
    header = build_header(case_id, slots, nonce)
    return header + AESGCM(data_key).encrypt(nonce, packed, header)


def seal(case_json: dict[str, Any], case_id: str, slots: list[dict[str, Any]], data_key: bytes) -> bytes:
    """The complete file bytes: header + AES-256-GCM(zlib(JSON)) bound to the header."""
    return seal_packed(pack(case_json), case_id, slots, data_key)


def open_packed(header: Header, payload: bytes, data_key: bytes) -> bytes:
    """The authenticated, still compressed plaintext of a payload (CaseTampered when it does not verify)."""
    try:
        return AESGCM(data_key).decrypt(header.nonce, payload, header.raw)
    except InvalidTag:
        raise CaseTampered("the case file was modified, damaged or truncated (authentication failed)") from None


def unpack(packed: bytes, case_id: str) -> dict[str, Any]:
    """The case JSON of a packed payload, checked to belong to ``case_id``."""
    try:
        case_json = orjson.loads(inflate(packed))
    except (zlib.error, ValueError):  # authentic but unreadable: written by a broken program (JSONDecodeError too)
        raise CaseTampered("the case payload is authentic but unreadable") from None
    if not isinstance(case_json, dict) or case_json.get("id") != case_id:
        raise CaseTampered("the case payload does not belong to this header (case id mismatch)")
    return case_json


def unseal(header: Header, payload: bytes, data_key: bytes) -> dict[str, Any]:
    return unpack(open_packed(header, payload, data_key), header.case_id)


def inflate(data: bytes) -> bytes:
    """zlib-decompress an (authentic) payload, refusing a decompression bomb while inflating: whoever holds
    a passphrase of a received case could have sealed anything."""
    limit = min(MAX_PAYLOAD, max(MIN_PAYLOAD_LIMIT, PAYLOAD_RATIO * len(data)))
    d = zlib.decompressobj()
    out = d.decompress(data, limit)
    if d.unconsumed_tail:
        raise CaseTampered(f"the case payload inflates beyond {limit} bytes ({PAYLOAD_RATIO} times its size "
                           "or more): refused as a decompression bomb")
    return out + d.flush()


# -- key derivation and slots ---------------------------------------------------------------------
def _bounded_int(kdf: dict[str, Any], name: str, lo: int, hi: int) -> int:
    value = kdf.get(name)
    if type(value) is not int or not lo <= value <= hi:
        raise KdfOutOfBounds(
            f"a passphrase slot asks for key-derivation parameter {kdf.get('name')} {name} = {_short(value)} "
            f"(accepted: {lo} to {hi}): refused before deriving anything — the case was crafted or damaged")
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 24 else text[:21] + "..."


def check_kdf(kdf: Any) -> int:
    """Check a slot's KDF parameters against :data:`KDF_BOUNDS`; returns the slot's work (see
    :data:`MAX_SLOT_WORK`). Raises :class:`KdfOutOfBounds` naming the parameter. The one home of the rule:
    :func:`derive_kek` calls it, and so does everything that builds or opens a slot."""
    name = kdf.get("name") if isinstance(kdf, dict) else None
    if not isinstance(name, str) or name not in KDF_BOUNDS:  # a JSON list or object is unhashable
        raise KdfOutOfBounds(f"a passphrase slot uses an unknown key-derivation {_short(name)}: refused")
    values = {k: _bounded_int(kdf, k, lo, hi) for k, (lo, hi) in KDF_BOUNDS[kdf["name"]].items()}
    try:
        salt = b64d(kdf.get("salt", ""))
    except (ValueError, TypeError, AttributeError):
        salt = b""
    if not SALT_BYTES[0] <= len(salt) <= SALT_BYTES[1]:
        raise KdfOutOfBounds(f"a passphrase slot's key-derivation salt is not {SALT_BYTES[0]} to {SALT_BYTES[1]} "
                             "bytes of base64: refused")
    if kdf["name"] == "argon2id":
        if values["memory_cost"] < 8 * values["lanes"]:
            raise KdfOutOfBounds("a passphrase slot's key-derivation memory is below 8 KiB per lane: refused")
        work = values["memory_cost"] * values["iterations"]
    else:
        n, r, p = values["n"], values["r"], values["p"]
        if n & (n - 1):
            raise KdfOutOfBounds(f"a passphrase slot's key-derivation scrypt n = {n} is not a power of two: refused")
        if 128 * n * r > SCRYPT_MAX_MEMORY:
            raise KdfOutOfBounds(f"a passphrase slot's key-derivation scrypt memory 128·n·r = {128 * n * r} bytes "
                                 f"exceeds {SCRYPT_MAX_MEMORY}: refused")
        work = 128 * n * r * p // 1024
    if work > MAX_SLOT_WORK:
        raise KdfOutOfBounds(f"a passphrase slot's key-derivation work ({work}) exceeds {MAX_SLOT_WORK}: refused "
                             "before deriving anything — the case was crafted or damaged")
    return work


def derive_kek(passphrase: str, kdf: dict[str, Any]) -> bytes:
    check_kdf(kdf)
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
    raise KdfOutOfBounds(f"unknown key derivation {kdf['name']!r} in a passphrase slot")


def passphrase_slot(data_key: bytes, passphrase: str, kdf: dict[str, Any] | None = None) -> dict[str, Any]:
    if not passphrase:
        raise ValueError("an empty passphrase")
    kdf = {**(kdf or DEFAULT_KDF), "salt": b64e(os.urandom(16))}
    kek = derive_kek(passphrase, kdf)
    return {"kind": "passphrase", "created": utc_now(), "kdf": kdf, "wrapped": b64e(aes_key_wrap(kek, data_key))}


def unlock_with_passphrase(slots: list[dict[str, Any]], passphrase: str) -> bytes:
    """The data key from the first passphrase slot that opens with ``passphrase``.

    Every slot's parameters are checked first (none is derived before all are known to be within the
    bounds, alone and together); refused slots are skipped, and when no other slot opens the case the
    refusal is the answer (KdfOutOfBounds), not "wrong passphrase"."""
    candidates = [s for s in slots if s.get("kind") == "passphrase"]
    if not candidates:
        raise WrongPassphrase("this case has no passphrase slot: open it with the keyring")
    usable: list[dict[str, Any]] = []
    refused: KdfOutOfBounds | None = None
    total = 0
    for s in candidates:
        try:
            total += check_kdf(s.get("kdf"))
            usable.append(s)
        except KdfOutOfBounds as exc:
            refused = refused or exc
    if total > MAX_FILE_WORK:
        raise KdfOutOfBounds(f"the passphrase slots of this case together ask for key-derivation work {total} "
                             f"(at most {MAX_FILE_WORK}): refused before deriving anything — crafted or damaged")
    for s in usable:
        try:
            return aes_key_unwrap(derive_kek(passphrase, s["kdf"]), b64d(s["wrapped"]))
        except (InvalidUnwrap, ValueError, KeyError, TypeError):
            continue
    if refused is not None:
        raise refused
    raise WrongPassphrase("wrong passphrase: no passphrase slot of this case opens with it")


def keyring_origin(data_key: bytes, path: str | os.PathLike[str]) -> str:
    """Which file created a keyring slot: HMAC-SHA256 of its resolved path under the data key (32 hex).
    Public in the header, meaningless without the data key, unforgeable without it."""
    real = os.path.realpath(os.fspath(path)).encode("utf-8", "surrogateescape")
    return hmac.new(data_key, b"evidence-viewer keyring origin\0" + real, hashlib.sha256).hexdigest()[:32]


def keyring_slot(data_key: bytes, origin_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Store a fresh random KEK in the OS keyring under a fresh random name and return the slot wrapping
    the data key with it. A new name every time: no existing entry is ever overwritten."""
    keyring = os_keyring()
    kek = os.urandom(32)
    user = f"slot-{uuid.uuid4().hex}"
    # locked keyring (KeyringLocked, or no answer in time), D-Bus errors, backend errors alike
    bounded(keyring.set_password, KEYRING_SERVICE, user, b64e(kek))
    return {"kind": "keyring", "created": utc_now(), "service": KEYRING_SERVICE, "user": user,
            "origin": keyring_origin(data_key, origin_path), "wrapped": b64e(aes_key_wrap(kek, data_key))}


def _entry_name(slot: dict[str, Any], case_id: str) -> str:
    """The keyring user a slot may name: ours (``slot-<hex>``) or the first release's (the case id).
    Anything else — another service, another case's id, any other name — is refused unread."""
    service, user = slot.get("service", KEYRING_SERVICE), slot.get("user")
    if service != KEYRING_SERVICE or not isinstance(user, str) or not (
            KEYRING_USER.fullmatch(user) or user == case_id):
        raise KeyringEntryMissing(
            f"the keyring slot of case {case_id} names a keyring entry outside {KEYRING_SERVICE}'s own "
            "(crafted?): it is not used; use a passphrase")
    return user


def unlock_with_keyring(slots: list[dict[str, Any]], case_id: str) -> bytes:
    slot = next(s for s in slots if s.get("kind") == "keyring")
    user = _entry_name(slot, case_id)
    keyring = os_keyring()
    secret = bounded(keyring.get_password, KEYRING_SERVICE, user)
    if secret is None:
        raise KeyringEntryMissing(
            f"the OS keyring has no entry for case {case_id} (deleted, or another user/machine): use a passphrase")
    try:
        return aes_key_unwrap(b64d(secret), b64d(slot["wrapped"]))
    except (InvalidUnwrap, ValueError, KeyError, TypeError):
        raise KeyringEntryMissing(
            f"the OS keyring entry for case {case_id} does not open it (replaced?): use a passphrase") from None


def delete_keyring_entry(slot: dict[str, Any], case_id: str, data_key: bytes,
                         path: str | os.PathLike[str]) -> str | None:
    """Remove the KEK of a removed keyring slot from the OS keyring — only when this case owns it.

    Ownership: the entry unwraps this slot to this case's ``data_key`` (a received case naming someone
    else's entry cannot pass: it would need that entry's KEK), and the slot was created by the file at
    ``path`` (a byte copy of a case shares its data key and its entry with the original; removing the
    slot from the copy must not lock the original out). First-release slots have no origin: ownership
    alone. Best effort, bounded like every keyring call. Returns None when the entry was deleted or was
    already gone, else a one-line reason why it was not touched.
    """
    try:
        user = _entry_name(slot, case_id)
    except KeyringEntryMissing:
        return "a removed keyring slot named an entry outside evidence-viewer's own: not touched"
    try:
        keyring = os_keyring()
        secret = bounded(keyring.get_password, KEYRING_SERVICE, user)
        if secret is None:
            return None
        try:
            owned = hmac.compare_digest(aes_key_unwrap(b64d(secret), b64d(slot["wrapped"])), data_key)
        except (InvalidUnwrap, ValueError, KeyError, TypeError):
            owned = False
        if not owned:
            return "the keyring entry a removed slot named does not open this case: not touched"
        origin = slot.get("origin")
        if origin is not None and not hmac.compare_digest(str(origin), keyring_origin(data_key, path)):
            return ("the keyring entry of the removed slot was created by another copy (or an earlier "
                    "location) of this case: not touched, that copy may still need it")
        bounded(keyring.delete_password, KEYRING_SERVICE, user)
    except Exception as exc:  # noqa: BLE001 - the slot is gone from the file either way
        return f"the keyring entry of the removed slot could not be deleted ({type(exc).__name__})"
    return None


def public_slot_info(slot: dict[str, Any]) -> dict[str, Any]:
    """What may be shown about a slot: kind, created, KDF parameters (never the wrapped key)."""
    info = {"kind": slot.get("kind"), "created": slot.get("created")}
    if slot.get("kind") == "passphrase":
        kdf = slot.get("kdf")
        info["kdf"] = {k: v for k, v in kdf.items() if k != "salt"} if isinstance(kdf, dict) else {}
    if slot.get("kind") == "keyring":
        info["service"], info["user"] = slot.get("service"), slot.get("user")
    return info
