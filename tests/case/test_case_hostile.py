"""A received case file is untrusted input: crafted key-derivation parameters, slot lists, compression
bombs, keyring slots naming another case's entry, and symlinked case paths.

Every attack that could hang runs in a child process with a time limit, so that a regression fails the
test instead of stalling the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import keyring
import orjson
import pytest

from viewer.case import (
    TEST_KDF,
    CaseError,
    CaseTampered,
    KdfOutOfBounds,
    WrongPassphrase,
    create_case,
    crypto,
    open_case,
    recovery_path,
)

REPO = Path(__file__).resolve().parents[2]
PW = "correct horse battery staple"

needs_secret_service = pytest.mark.skipif(
    not os.environ.get("PYTHON_KEYRING_BACKEND"),
    reason="needs the Secret Service session of `make test` (tests/run-under-session.sh)",
)


def small(tmp_path: Path, name: str = "s.evcase", **kw):
    kw.setdefault("passphrase", PW)
    kw.setdefault("use_keyring", False)
    kw.setdefault("kdf", TEST_KDF)
    return create_case(tmp_path / name, "Small", "Ann", **kw)


def rewrite_slots(path: Path, mutate) -> None:
    """Rewrite the header's slot list as an attacker would: the header checksum recomputed, the payload
    left as it was (the attacker has no data key)."""
    header, payload = crypto.parse_header(path.read_bytes())
    slots = [dict(s) for s in header.slots]
    slots = mutate(slots) or slots
    path.write_bytes(crypto.build_header(header.case_id, slots, header.nonce) + payload)


OPENER = textwrap.dedent(
    """
    import sys, time
    from viewer.case import open_case
    t = time.monotonic()
    try:
        open_case(sys.argv[1], passphrase=sys.argv[2])
        print("opened")
    except Exception as exc:
        print(type(exc).__name__, "|", exc)
    print(f"{time.monotonic() - t:.3f}")
    """
)


def open_in_child(path: Path, passphrase: str = PW, timeout: float = 30) -> tuple[str, str, float]:
    """(exception class name or "opened", message, seconds) of opening ``path`` in a child process."""
    out = subprocess.run([sys.executable, "-c", OPENER, str(path), passphrase], cwd=REPO, capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-2000:]
    first, seconds = out.stdout.strip().splitlines()[-2:]
    name, _, message = first.partition(" | ")
    return name, message, float(seconds)


# -- 1. key-derivation parameters --------------------------------------------------------------------
HOSTILE_KDFS = [
    {"iterations": 2**31},
    {"memory_cost": 2**31},
    {"lanes": 2**20},
    {"memory_cost": 131072, "iterations": 16},  # each within its own bound, together too much work
    {"iterations": "2"},  # strings are not numbers
    {"iterations": True},
    {"iterations": 0},
    {"name": "pbkdf2"},
    {"salt": "AAAA"},  # 3 bytes of salt
    {"name": "scrypt", "n": 2**31, "r": 8, "p": 1},
    {"name": "scrypt", "n": 3 * 2**10, "r": 8, "p": 1},  # not a power of two
    {"name": "scrypt", "n": 2**14, "r": 8, "p": 2**20},
]


@pytest.mark.parametrize("change", HOSTILE_KDFS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_hostile_kdf_parameters_are_refused_before_use(tmp_path, change):
    cf = small(tmp_path)

    def mutate(slots):
        slots[0]["kdf"] = {**slots[0]["kdf"], **change}

    rewrite_slots(cf.path, mutate)
    name, message, seconds = open_in_child(cf.path)
    assert name == "KdfOutOfBounds", (name, message)
    assert seconds < 2, seconds
    assert "key-derivation" in message and "\n" not in message
    assert PW not in message


def test_kdf_bounds_refuse_and_accept_in_process(tmp_path):
    cf = small(tmp_path)
    for good in (crypto.DEFAULT_KDF, crypto.SCRYPT_KDF, TEST_KDF,
                 {"name": "argon2id", "memory_cost": 65536, "iterations": 3, "lanes": 4}):  # RFC 9106 second
        crypto.check_kdf({**good, "salt": crypto.b64e(os.urandom(16))})
    with pytest.raises(KdfOutOfBounds, match="iterations"):
        crypto.check_kdf({**TEST_KDF, "iterations": 2**31, "salt": crypto.b64e(os.urandom(16))})
    with pytest.raises(KdfOutOfBounds):
        cf.add_passphrase_slot("x", kdf={**TEST_KDF, "memory_cost": 2**31})
    assert issubclass(KdfOutOfBounds, CaseError)


def test_a_refused_slot_does_not_hide_a_good_one(tmp_path):
    """A hostile second slot is skipped; the examiner's own slot still opens the case."""
    cf = small(tmp_path)
    cf.add_passphrase_slot("other", kdf=TEST_KDF)
    cf.save()

    def mutate(slots):
        slots[1]["kdf"]["iterations"] = 2**31

    rewrite_slots(cf.path, mutate)
    # the header changed, so the payload no longer authenticates: tampered, found after the good slot
    name, message, seconds = open_in_child(cf.path)
    assert name == "CaseTampered" and seconds < 2, (name, message)
    name, message, seconds = open_in_child(cf.path, "other")
    assert name == "KdfOutOfBounds" and seconds < 2, (name, message)


def test_kdf_parameters_are_bound_to_the_payload(tmp_path):
    """Parameters changed within the bounds (the wrapped key of that slot then no longer unwraps): the
    other slot opens the key, and the payload's associated data (the whole header) refuses the file."""
    cf = small(tmp_path)
    cf.add_passphrase_slot("other", kdf=TEST_KDF)
    cf.save()

    def mutate(slots):
        slots[1]["kdf"]["iterations"] = 2

    rewrite_slots(cf.path, mutate)
    with pytest.raises(CaseTampered, match="authentication failed"):
        open_case(cf.path, passphrase=PW)
    with pytest.raises(WrongPassphrase):
        open_case(cf.path, passphrase="other")


def test_too_many_slots_are_refused(tmp_path):
    cf = small(tmp_path)
    rewrite_slots(cf.path, lambda slots: slots * (crypto.MAX_SLOTS + 1))
    name, message, seconds = open_in_child(cf.path)
    assert name == "CaseTampered" and "key slots" in message and seconds < 2, (name, message)


def test_total_kdf_work_of_a_file_is_bounded(tmp_path):
    """Many slots, each at the largest allowed cost: refused before any of them is derived."""
    cf = small(tmp_path)
    big = {"name": "argon2id", "memory_cost": 131072, "iterations": 8, "lanes": 1}

    def mutate(slots):
        return [slots[0]] + [{**slots[0], "kdf": {**big, "salt": slots[0]["kdf"]["salt"]}} for _ in range(8)]

    rewrite_slots(cf.path, mutate)
    name, message, seconds = open_in_child(cf.path, "not the passphrase")
    assert name == "KdfOutOfBounds" and "together" in message and seconds < 2, (name, message)


def test_decompression_bomb_payload_is_refused(tmp_path):
    """An authentic payload (made by someone holding the key) that inflates a thousandfold."""
    cf = small(tmp_path)
    bomb = zlib.compress(orjson.dumps({"id": cf.case.id, "pad": "A" * (64 * 1024 * 1024)}), 9)
    assert len(bomb) * 1000 < 64 * 1024 * 1024
    header, _ = crypto.parse_header(cf.path.read_bytes())
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    cf.path.write_bytes(header.raw + AESGCM(cf._data_key).encrypt(header.nonce, bomb, header.raw))
    with pytest.raises(CaseTampered, match="inflates"):
        open_case(cf.path, passphrase=PW)


# -- 3. keyring slots --------------------------------------------------------------------------------
def keyring_user(cf) -> str:
    [user] = [s["user"] for s in cf.slots() if s["kind"] == "keyring"]
    return user


@needs_secret_service
def test_removing_a_received_cases_keyring_slot_leaves_my_entry(tmp_path):
    mine = create_case(tmp_path / "mine.evcase", "Mine", "Ann")  # keyring only
    my_user = keyring_user(mine)
    assert keyring.get_password(crypto.KEYRING_SERVICE, my_user)

    # The attacker's case names my entry in its keyring slot (and has a passphrase for me).
    theirs = small(tmp_path, "theirs.evcase")
    slot = {"kind": "keyring", "created": "2026-01-01T00:00:00.000Z", "service": crypto.KEYRING_SERVICE,
            "user": my_user, "wrapped": crypto.b64e(crypto.aes_key_wrap(os.urandom(32), theirs._data_key))}
    theirs._slots.append(slot)
    theirs.save()
    legacy = {**slot, "user": mine.case.id}  # the old naming: the victim's case id
    theirs._slots.append(legacy)
    theirs.save()

    received = open_case(theirs.path, passphrase=PW)
    received.remove_slot(2)
    received.remove_slot(1)
    received.save()
    assert any("not touched" in w for w in received.warnings), received.warnings
    assert keyring.get_password(crypto.KEYRING_SERVICE, my_user) is not None
    assert open_case(mine.path).case.name == "Mine"


@needs_secret_service
def test_keyring_slot_outside_our_service_is_never_read(tmp_path):
    keyring.set_password("some-other-app", "ann", crypto.b64e(os.urandom(32)))
    cf = small(tmp_path)
    cf._slots.insert(0, {"kind": "keyring", "created": "2026-01-01T00:00:00.000Z", "service": "some-other-app",
                         "user": "ann", "wrapped": crypto.b64e(crypto.aes_key_wrap(os.urandom(32), cf._data_key))})
    cf.save()
    from viewer.case import KeyringEntryMissing

    with pytest.raises(KeyringEntryMissing, match="outside"):
        open_case(cf.path)
    again = open_case(cf.path, passphrase=PW)
    again.remove_slot(0)
    again.save()
    assert keyring.get_password("some-other-app", "ann") is not None
    keyring.delete_password("some-other-app", "ann")


@needs_secret_service
def test_a_copy_never_overwrites_or_deletes_the_originals_entry(tmp_path):
    original = create_case(tmp_path / "orig.evcase", "Orig", "Ann", passphrase=PW, kdf=TEST_KDF)
    user = keyring_user(original)
    before = keyring.get_password(crypto.KEYRING_SERVICE, user)
    copy = tmp_path / "copy.evcase"
    copy.write_bytes(original.path.read_bytes())

    cf = open_case(copy, passphrase=PW)
    cf.remove_slot(0)
    cf.add_keyring_slot()  # a new slot of the copy gets its own entry
    cf.save()
    assert keyring_user(cf) != user
    assert keyring.get_password(crypto.KEYRING_SERVICE, user) == before
    assert open_case(original.path).case.name == "Orig"
    assert open_case(copy).case.name == "Orig"

    # The copy removing the slot it shares with the original (same bytes, same data key): kept, since
    # this file did not create it.
    copy3 = tmp_path / "copy3.evcase"
    copy3.write_bytes(original.path.read_bytes())
    cf3 = open_case(copy3, passphrase=PW)
    cf3.remove_slot(0)
    cf3.save()
    assert keyring.get_password(crypto.KEYRING_SERVICE, user) == before
    assert any("not touched" in w for w in cf3.warnings)
    assert open_case(original.path).case.name == "Orig"

    # The owner removing its own slot: the entry goes (after the save).
    owner = open_case(original.path)
    owner.remove_slot(0)
    owner.save()
    assert keyring.get_password(crypto.KEYRING_SERVICE, user) is None


@needs_secret_service
def test_legacy_keyring_slot_still_opens(tmp_path):
    """A case whose keyring slot uses the first naming (user = case id) opens, and its owner can remove it."""
    cf = small(tmp_path)
    kek = os.urandom(32)
    keyring.set_password(crypto.KEYRING_SERVICE, cf.case.id, crypto.b64e(kek))
    cf._slots.insert(0, {"kind": "keyring", "created": "2026-01-01T00:00:00.000Z",
                         "service": crypto.KEYRING_SERVICE, "user": cf.case.id,
                         "wrapped": crypto.b64e(crypto.aes_key_wrap(kek, cf._data_key))})
    cf.save()
    assert open_case(cf.path).case.name == "Small"


# -- 5. symlinks -------------------------------------------------------------------------------------
def test_saving_through_a_symlink_writes_the_target(tmp_path):
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    cf = small(real_dir, "op.evcase")
    link = tmp_path / "link.evcase"
    link.symlink_to(cf.path)

    via = open_case(link, passphrase=PW)
    via.case.description = "saved through the link"
    via.save()
    assert link.is_symlink() and os.readlink(link) == str(cf.path)
    assert open_case(cf.path, passphrase=PW).case.description == "saved through the link"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []

    # The recovery file, a symlink too: written through.
    rec_target = real_dir / "op.recovery-target"
    rec_target.write_bytes(b"")
    recovery_path(link).symlink_to(rec_target)
    via.case.description = "autosaved"
    via.autosave()
    assert recovery_path(link).is_symlink()
    assert rec_target.read_bytes().startswith(crypto.MAGIC)
    assert open_case(link, passphrase=PW, prefer_recovery=True).case.description == "autosaved"


def test_a_link_retargeted_after_opening_does_not_redirect_the_save(tmp_path):
    """The path is resolved once, when the case is opened: the save goes to the file that was read."""
    cf = small(tmp_path, "a.evcase")
    other = tmp_path / "other.bin"
    other.write_bytes(b"not a case")
    link = tmp_path / "l.evcase"
    link.symlink_to(cf.path)
    via = open_case(link, passphrase=PW)
    link.unlink()
    link.symlink_to(other)
    via.case.description = "x"
    via.save()
    assert other.read_bytes() == b"not a case"
    assert open_case(cf.path, passphrase=PW).case.description == "x"


def test_bounds_checks_are_fast(tmp_path):
    t = time.monotonic()
    for _ in range(1000):
        crypto.check_kdf({**crypto.DEFAULT_KDF, "salt": crypto.b64e(os.urandom(16))})
    assert time.monotonic() - t < 1
