"""The encrypted case file: round trip, key slots (real Secret Service and the fail backend), every error
with its own exception, no plaintext on disk, single-byte tampering anywhere, atomic saves under SIGKILL,
recovery files."""

from __future__ import annotations

import base64
import os
import random
import shutil
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest

from viewer.case import (
    TEST_KDF,
    CaseError,
    CaseTampered,
    KeyringEntryMissing,
    KeyringUnavailable,
    NewerFormatVersion,
    NotACaseFile,
    PassphraseRequired,
    WrongPassphrase,
    create_case,
    crypto,
    has_recovery,
    open_case,
    open_recovery,
    recovery_path,
)
from viewer.evidence import open_dump

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "resources" / "sample" / "demo-keyholder.core"
PW = "correct horse battery staple"

needs_secret_service = pytest.mark.skipif(
    not os.environ.get("PYTHON_KEYRING_BACKEND"),
    reason="needs the Secret Service session of `make test` (tests/run-under-session.sh)",
)


@pytest.fixture(scope="module")
def sample_findings(demo_scan) -> list[dict]:
    return demo_scan.findings_json  # the demo core's default scan, done once per session




def full_case(tmp_path: Path, findings: list[dict], **kw):
    """A case with every kind of content; returns (CaseFile, the strings that must never be plain)."""
    evidence = Path(shutil.copy(SAMPLE, tmp_path / SAMPLE.name))
    kw.setdefault("passphrase", PW)
    kw.setdefault("use_keyring", False)
    kw.setdefault("kdf", TEST_KDF)
    cf = create_case(tmp_path / "op.evcase", "Operation Nightjar", "Ann Quill", number="CASE-4711",
                     description="laptop seized at the harbour office", **kw)
    ref = cf.add_evidence(evidence)
    cf.merge_scan(ref.sha256, findings, {"deep": False, "workers": 1})
    fid = findings[0]["id"]
    cf.annotate(fid, status="confirmed", comment="private key of the harbour VPN", severity="high",
                tags=["vpn-key"])
    cf.add_bookmark(ref.sha256, 4096, 32, "suspicious blob", colour="#00ff00", note="near the agent socket")
    cf.save()
    secrets = ["Operation Nightjar", "Ann Quill", "CASE-4711", "harbour office", "harbour VPN", "vpn-key",
               "suspicious blob", "agent socket", fid, ref.sha256, SAMPLE.name, findings[0]["kind"],
               "confirmed", "evidence-added", PW]
    return cf, secrets


def assert_no_plaintext(data: bytes, strings: list[str], keys: list[bytes]) -> None:
    for s in strings:
        for enc in (s.encode(), s.encode("utf-16-le")):
            assert enc not in data, f"{s!r} is in the file in plain text"
    for k in keys:
        for form in (k, k.hex().encode(), base64.b64encode(k)):
            assert form not in data, "key bytes are in the file"


# -- round trip --------------------------------------------------------------------------------------
def test_round_trip_everything(tmp_path, sample_findings):
    cf, _ = full_case(tmp_path, sample_findings)
    again = open_case(cf.path, passphrase=PW)
    assert again.case.to_json() == cf.case.to_json()
    assert again.case.audit.verify() == []
    c = again.case
    assert (c.name, c.examiner, c.number) == ("Operation Nightjar", "Ann Quill", "CASE-4711")
    assert c.evidence[0].path == SAMPLE.name and c.evidence[0].format == open_dump(SAMPLE).format
    assert len(c.findings) == len(sample_findings)
    rec = c.finding(sample_findings[0]["id"])
    assert rec.finding == sample_findings[0] and rec.review.status == "confirmed"
    assert rec.review.comments[0].author == cf.author
    assert c.bookmarks[0].name == "suspicious blob"
    assert [s.state for s in again.verify_evidence()] == ["ok"]
    assert [e["type"] for e in c.audit] == ["case-created", "key-slot-change", "evidence-added", "scan-run",
                                            "status-change", "status-change", "status-change", "comment",
                                            "bookmark"]
    assert stat.S_IMODE(cf.path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_file_holds_no_plaintext(tmp_path, sample_findings):
    cf, strings = full_case(tmp_path, sample_findings)
    cf.autosave()
    for path in (cf.path, recovery_path(cf.path)):
        data = path.read_bytes()
        assert data.startswith(crypto.MAGIC)
        assert_no_plaintext(data, strings, [cf._data_key])


def test_default_kdf_is_owasp_and_slots_are_public_info_only(tmp_path):
    cf = create_case(tmp_path / "k.evcase", "K", "Ann", passphrase=PW, use_keyring=False)
    [slot] = cf.slots()
    assert slot["kind"] == "passphrase" and slot["created"].endswith("Z")
    if crypto.Argon2id is not None:
        assert slot["kdf"] == {"name": "argon2id", "memory_cost": 19456, "iterations": 2, "lanes": 1}
    else:
        assert slot["kdf"] == {"name": "scrypt", "n": 2**17, "r": 8, "p": 1}
    assert "wrapped" not in slot and "salt" not in slot["kdf"]
    assert open_case(cf.path, passphrase=PW).case.id == cf.case.id


# -- errors ------------------------------------------------------------------------------------------
def test_error_classes_are_distinct_case_errors():
    classes = [WrongPassphrase, KeyringEntryMissing, KeyringUnavailable, CaseTampered, NewerFormatVersion,
               NotACaseFile, PassphraseRequired]
    assert len(set(classes)) == len(classes)
    for a in classes:
        assert issubclass(a, CaseError)
        assert not any(issubclass(a, b) for b in classes if b is not a)


@pytest.fixture
def small_case(tmp_path):
    cf = create_case(tmp_path / "s.evcase", "Small", "Ann", description="tiny", passphrase=PW,
                     use_keyring=False, kdf=TEST_KDF)
    return cf.path


def expect(exc_class, path, **kw):
    kw.setdefault("passphrase", PW)
    with pytest.raises(exc_class) as info:
        open_case(path, **kw)
    msg = str(info.value)
    assert msg and "\n" not in msg
    return msg


def test_wrong_passphrase(small_case):
    assert "wrong passphrase" in expect(WrongPassphrase, small_case, passphrase="Correct horse")


def test_passphrase_required(small_case):
    assert "passphrase" in expect(PassphraseRequired, small_case, passphrase=None)
    assert "passphrase" in expect(PassphraseRequired, small_case, passphrase=None, use_keyring=False)
    with pytest.raises(PassphraseRequired):
        create_case(small_case.parent / "n.evcase", "N", "Ann", use_keyring=False)


def test_tampered_payload_byte(small_case):
    data = bytearray(small_case.read_bytes())
    data[-20] ^= 0x40
    small_case.write_bytes(bytes(data))
    assert "authentication failed" in expect(CaseTampered, small_case)


def test_truncated_file(small_case):
    """Every shorter prefix of the file: CaseTampered (NotACaseFile while not even the magic is whole)."""
    data = small_case.read_bytes()
    for n in range(len(data)):
        small_case.write_bytes(data[:n])
        if n < len(crypto.MAGIC):
            expect(NotACaseFile, small_case)
        else:
            msg = expect(CaseTampered, small_case)
            assert "truncated" in msg, (n, msg)


def test_newer_format_version(small_case):
    data = bytearray(small_case.read_bytes())
    data[len(crypto.MAGIC) : len(crypto.MAGIC) + 2] = (crypto.FORMAT_VERSION + 1).to_bytes(2, "big")
    small_case.write_bytes(bytes(data))
    msg = expect(NewerFormatVersion, small_case)
    assert f"version {crypto.FORMAT_VERSION + 1}" in msg and "newer release" in msg


def test_random_and_empty_files_are_not_case_files(tmp_path):
    rnd = random.Random(7)
    for i, data in enumerate([bytes(rnd.randrange(256) for _ in range(4096)), b"", b"EVCASE", b"PK\3\4"]):
        p = tmp_path / f"r{i}.evcase"
        p.write_bytes(data)
        assert "not an Evidence Viewer case file" in expect(NotACaseFile, p)
    with pytest.raises(NotACaseFile):
        open_case(tmp_path, passphrase=PW)
    with pytest.raises(CaseError, match="no such case file"):
        open_case(tmp_path / "absent.evcase", passphrase=PW)


def test_every_single_byte_flip_is_detected(small_case):
    """Whatever byte changes, the case never opens: header bytes give NotACaseFile, NewerFormatVersion or
    CaseTampered, payload bytes CaseTampered."""
    original = small_case.read_bytes()
    assert len(original) < 2000
    rnd = random.Random(1)
    header_len = len(crypto.parse_header(original)[0].raw)
    for i in range(len(original)):
        data = bytearray(original)
        data[i] ^= rnd.randrange(1, 256)
        small_case.write_bytes(bytes(data))
        with pytest.raises((CaseTampered, NotACaseFile, NewerFormatVersion)) as info:
            open_case(small_case, passphrase=PW)
        if i >= header_len:
            assert info.type is CaseTampered, i
        if i < len(crypto.MAGIC):
            assert info.type is NotACaseFile, i


def test_byte_flips_in_a_full_case_are_detected(tmp_path, sample_findings):
    cf, _ = full_case(tmp_path, sample_findings)
    original = cf.path.read_bytes()
    rnd = random.Random(2)
    for i in sorted(rnd.sample(range(len(original)), 300)):
        data = bytearray(original)
        data[i] ^= rnd.randrange(1, 256)
        cf.path.write_bytes(bytes(data))
        with pytest.raises((CaseTampered, NotACaseFile, NewerFormatVersion)):
            open_case(cf.path, passphrase=PW)


@pytest.mark.slow
@needs_secret_service
def test_every_single_byte_flip_is_detected_with_the_keyring(tmp_path):
    path = tmp_path / "kr.evcase"
    create_case(path, "Small", "Ann")
    original = path.read_bytes()
    rnd = random.Random(3)
    for i in range(len(original)):
        data = bytearray(original)
        data[i] ^= rnd.randrange(1, 256)
        path.write_bytes(bytes(data))
        with pytest.raises((CaseTampered, NotACaseFile, NewerFormatVersion)):
            open_case(path)
    path.write_bytes(original)
    assert open_case(path).case.name == "Small"


def test_case_already_exists(small_case):
    with pytest.raises(CaseError, match="already exists"):
        create_case(small_case, "Again", "Ann", passphrase=PW, use_keyring=False)


# -- passphrase slots --------------------------------------------------------------------------------
def test_add_remove_and_change_passphrase_slots(small_case):
    cf = open_case(small_case, passphrase=PW)
    key = cf._data_key
    i = cf.add_passphrase_slot("for the reviewer", kdf=TEST_KDF)
    assert i == 1 and [s["kind"] for s in cf.slots()] == ["passphrase", "passphrase"]
    cf.save()
    reviewer = open_case(small_case, passphrase="for the reviewer")
    assert reviewer._data_key == key and reviewer.case.to_json() == cf.case.to_json()

    new_index = cf.change_passphrase(0, "new owner passphrase", kdf=TEST_KDF)
    assert new_index == 1
    cf.save()
    expect(WrongPassphrase, small_case, passphrase=PW)
    assert open_case(small_case, passphrase="new owner passphrase")._data_key == key

    cf.remove_slot(0)
    cf.save()
    expect(WrongPassphrase, small_case, passphrase="for the reviewer")
    with pytest.raises(CaseError, match="last key slot"):
        cf.remove_slot(0)
    with pytest.raises(IndexError):
        cf.remove_slot(5)
    changes = [e["data"] for e in open_case(small_case, passphrase="new owner passphrase").case.audit
               if e["type"] == "key-slot-change"]
    assert [c["action"] for c in changes] == ["added", "added", "added", "removed", "removed"]


# -- keyring -----------------------------------------------------------------------------------------
@needs_secret_service
def test_keyring_slot_with_the_real_secret_service(tmp_path, sample_findings):
    assert "SecretService" in type(keyring.get_keyring()).__module__
    cf, strings = full_case(tmp_path, sample_findings, passphrase=None, use_keyring=True)
    assert [s["kind"] for s in cf.slots()] == ["keyring"]
    user = cf.slots()[0]["user"]  # the entry's name: random per slot (a copy's slot never shares it)
    assert user.startswith("slot-") and user != cf.case.id
    kek = base64.b64decode(keyring.get_password("evidence-viewer", user))
    assert len(kek) == 32
    assert_no_plaintext(cf.path.read_bytes(), strings, [cf._data_key, kek])

    again = open_case(cf.path)
    assert again.case.to_json() == cf.case.to_json()
    expect(WrongPassphrase, cf.path, passphrase="anything")  # a keyring-only case has no passphrase slot

    again.add_passphrase_slot(PW, kdf=TEST_KDF)
    again.save()
    keyring.delete_password("evidence-viewer", user)
    msg = expect(KeyringEntryMissing, cf.path, passphrase=None)
    assert cf.case.id in msg and "no entry" in msg
    assert open_case(cf.path, passphrase=PW).case.name == "Operation Nightjar"

    keyring.set_password("evidence-viewer", user, base64.b64encode(os.urandom(32)).decode())
    assert "does not open it" in expect(KeyringEntryMissing, cf.path, passphrase=None)

    # A new keyring slot; removing it deletes the keyring entry as well.
    owner = open_case(cf.path, passphrase=PW)
    owner.remove_slot(0)
    owner.add_keyring_slot()
    owner.save()
    # the replaced entry did not open this case: left alone, and said so
    assert keyring.get_password("evidence-viewer", user) is not None
    assert any("not touched" in w for w in owner.warnings)
    assert open_case(cf.path).case.id == cf.case.id
    new_user = owner.slots()[1]["user"]
    assert new_user != user
    owner.remove_slot(1)
    assert keyring.get_password("evidence-viewer", new_user) is not None  # the saved file still needs it
    owner.save()
    assert keyring.get_password("evidence-viewer", new_user) is None
    assert "no keyring slot" in expect(PassphraseRequired, cf.path, passphrase=None)


@needs_secret_service
def test_keyring_case_under_the_fail_backend(tmp_path):
    path = tmp_path / "k.evcase"
    create_case(path, "K", "Ann", passphrase=PW, kdf=TEST_KDF)
    assert open_case(path).case.name == "K"
    before = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        msg = expect(KeyringUnavailable, path, passphrase=None)
        assert "use a passphrase" in msg
        assert open_case(path, passphrase=PW).case.name == "K"
    finally:
        keyring.set_keyring(before)


def test_fail_backend_create_and_open(tmp_path, fail_keyring):
    with pytest.raises(KeyringUnavailable, match="no OS keyring is available.*use a passphrase"):
        create_case(tmp_path / "a.evcase", "A", "Ann")
    assert not (tmp_path / "a.evcase").exists()

    cf = create_case(tmp_path / "b.evcase", "B", "Ann", passphrase=PW, kdf=TEST_KDF)
    assert [s["kind"] for s in cf.slots()] == ["passphrase"]
    assert cf.warnings and "passphrase only" in cf.warnings[0]
    assert "no keyring slot" in expect(PassphraseRequired, cf.path, passphrase=None)
    assert open_case(cf.path, passphrase=PW).case.name == "B"
    with pytest.raises(KeyringUnavailable):
        cf.add_keyring_slot()

    # A case that has a keyring slot (made without a backend here: the slot is built by hand).
    cf._slots.append({"kind": "keyring", "created": "2026-01-01T00:00:00.000Z", "service": "evidence-viewer",
                      "user": cf.case.id, "wrapped": crypto.b64e(crypto.aes_key_wrap(os.urandom(32),
                                                                                      cf._data_key))})
    cf.save()
    assert "no OS keyring" in expect(KeyringUnavailable, cf.path, passphrase=None)
    assert open_case(cf.path, passphrase=PW).case.name == "B"


NO_DBUS = textwrap.dedent(
    """
    import sys
    from viewer.case import KeyringUnavailable, create_case, open_case
    try:
        create_case(sys.argv[1], "D", "Ann")
    except KeyringUnavailable as exc:
        print("unavailable:", exc)
    cf = create_case(sys.argv[1], "D", "Ann", passphrase=sys.argv[2], kdf={"name": "argon2id",
                     "memory_cost": 8, "iterations": 1, "lanes": 1})
    print("warning:", cf.warnings[0])
    print("opened:", open_case(sys.argv[1], passphrase=sys.argv[2]).case.name)
    """
)


def test_secret_service_without_a_dbus_session(tmp_path):
    """The Secret Service backend chosen, but no D-Bus session: KeyringUnavailable, the passphrase works."""
    env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.SecretService.Keyring"
    env["XDG_RUNTIME_DIR"] = str(tmp_path)  # no bus socket to fall back to either
    out = subprocess.run([sys.executable, "-c", NO_DBUS, str(tmp_path / "d.evcase"), PW], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("unavailable: the OS keyring cannot be used (") and "use a passphrase" in lines[0]
    assert "passphrase only" in lines[1]
    assert lines[2] == "opened: D"


# -- recovery ----------------------------------------------------------------------------------------
def test_autosave_and_recovery(small_case):
    cf = open_case(small_case, passphrase=PW)
    assert not has_recovery(small_case)
    cf.case.description = "unsaved work on the harbour logs"
    cf.record_export("csv", "out.csv")
    cf.autosave()
    assert has_recovery(small_case)
    assert_no_plaintext(recovery_path(small_case).read_bytes(), ["harbour logs", "out.csv"], [cf._data_key])

    assert open_case(small_case, passphrase=PW).case.description == "tiny"
    rec = open_case(small_case, passphrase=PW, prefer_recovery=True)
    assert rec.recovered and rec.path == small_case
    assert rec.case.description == "unsaved work on the harbour logs"
    assert rec.case.audit.events[-1]["type"] == "export"
    assert open_recovery(small_case, passphrase=PW).case.to_json() == rec.case.to_json()

    rec.save()
    assert not has_recovery(small_case)
    assert open_case(small_case, passphrase=PW).case.description == "unsaved work on the harbour logs"
    assert open_case(small_case, passphrase=PW, prefer_recovery=True).recovered is False
    with pytest.raises(CaseError, match="no recovery file"):
        open_recovery(small_case, passphrase=PW)


def test_tampered_recovery_is_refused(small_case):
    cf = open_case(small_case, passphrase=PW)
    cf.autosave()
    data = bytearray(recovery_path(small_case).read_bytes())
    data[-1] ^= 1
    recovery_path(small_case).write_bytes(bytes(data))
    expect(CaseTampered, small_case, prefer_recovery=True)
    assert open_case(small_case, passphrase=PW).case.name == "Small"


# -- crash safety ------------------------------------------------------------------------------------
SAVER = textwrap.dedent(
    """
    import os, sys
    from viewer.case import open_case
    cf = open_case(sys.argv[1], passphrase=sys.argv[2], use_keyring=False)
    n = int(cf.case.description.split(":")[0])
    while True:
        n += 1
        cf.case.description = f"{n}:{os.urandom(150_000).hex()}"  # incompressible: a long write
        print("saving", n, flush=True)
        cf.save()
        print("saved", n, flush=True)
    """
)


@pytest.mark.slow
def test_sigkill_during_saves_leaves_old_or_new_version(tmp_path):
    path = tmp_path / "crash.evcase"
    cf = create_case(path, "Crash", "Ann", description="0:", passphrase=PW, use_keyring=False, kdf=TEST_KDF)
    rnd = random.Random(42)
    mid_save = 0
    for _ in range(30):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path), PW], stdout=subprocess.PIPE,
                                cwd=REPO)
        try:
            out = []
            while not (out and out[-1].startswith(b"saved")):
                out.append(proc.stdout.readline())
                assert out[-1], "the saver died before its first save"
            time.sleep(rnd.uniform(0, 0.15))
        finally:
            proc.kill()
            proc.wait()
        # Only whole lines count: the kill can land while a line is half written.
        text = (b"".join(out) + proc.stdout.read()).decode()
        pairs = [line.split() for line in text.split("\n")[:-1]]
        pairs = [(word, int(n)) for word, n in (p for p in pairs if len(p) == 2)]
        saved = max(n for word, n in pairs if word == "saved")
        saving = max(n for word, n in pairs if word == "saving")
        mid_save += saving > saved
        n = int(open_case(path, passphrase=PW).case.description.split(":")[0])
        assert n in (saved, saving), (n, saved, saving)
    assert cf.case.id == open_case(path, passphrase=PW).case.id
    print(f"killed mid-save {mid_save} of 30 times")
