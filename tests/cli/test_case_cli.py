"""`evidence-viewer case ...` as a program sees it: a real case file, the demo core as evidence, exit codes,
one-line errors, passphrases from a file, the environment and the keyring, no plaintext on disk.

The CLI uses the real (OWASP) Argon2id cost, since the core has no switch for a weaker one: every open
costs ~0.1 s, so the tests share one case where they can.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.case.test_case_store import needs_secret_service
from viewer.case import STATUSES

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "resources" / "sample" / "demo-keyholder.core"
EXE = [sys.executable, "-m", "viewer.cli.main", "case"]
PW = "correct horse battery staple"
PW2 = "a second passphrase, for the backup slot"
COMMENT = "private half of the harbour VPN key"
ENV_KEYS = ("EVIDENCE_VIEWER_PASSPHRASE", "EVIDENCE_VIEWER_NEW_PASSPHRASE")


def run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI with stdin not a terminal (so never a prompt) and no passphrase variables inherited."""
    base = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    return subprocess.run([*EXE, *map(str, args)], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL, env={**base, **(env or {})}, cwd=REPO)


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("evidence-viewer: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stderr


@pytest.fixture(scope="module")
def pwfile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("pw") / "pass.txt"
    p.write_text(PW + "\n")  # the first line, without its newline, is the passphrase
    return p


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory, pwfile: Path) -> dict:
    """One case: created without the keyring, the demo core added and scanned, one finding annotated."""
    folder = tmp_path_factory.mktemp("case")
    case = folder / "op.evcase"
    new = ok(run("new", case, "--name", "Operation Nightjar", "--examiner", "Ann Quill", "--number", "C-4711",
                 "--no-keyring", "--passphrase-file", pwfile))
    assert "passphrase" in new.stdout and PW not in new.stdout + new.stderr
    added = ok(run("add", case, SAMPLE, "--scan", "--no-keyring", "--passphrase-file", pwfile))
    assert "9e56a67d5b0e69cd9e126466199b9e844525e0c3efd408a09bca2d3fa633ca4e" in added.stdout
    before = json.loads(ok(run("show", case, "--json", "--no-keyring", "--passphrase-file", pwfile)).stdout)
    fid = before["findings"][0]["id"]
    ok(run("annotate", case, fid, "--status", "confirmed", "--comment", COMMENT, "--author", "Bob Ledger",
           "--no-keyring", "--passphrase-file", pwfile))
    return {"case": case, "fid": fid, "before": before}


def test_add_scan_puts_findings_with_ids_and_evidence_in_the_case(scanned):
    doc = scanned["before"]
    assert doc["case"]["name"] == "Operation Nightjar" and doc["case"]["number"] == "C-4711"
    assert [e["state"] for e in doc["evidence"]] == ["ok"]
    assert doc["evidence"][0]["sha256"] == "9e56a67d5b0e69cd9e126466199b9e844525e0c3efd408a09bca2d3fa633ca4e"
    findings = doc["findings"]
    assert findings and all(len(f["id"]) == 16 and f["status"] == "unreviewed" for f in findings)
    assert any(f["kind"] == "rsa-private-key" for f in findings)
    assert all(f["comments"] == [] and not any(k.startswith("excerpt") for k in f) for f in findings)
    assert doc["scans"][0]["findings"] == len(findings) and doc["scans"][0]["scanner_version"]
    assert doc["scans"][0]["settings"]["deep"] is False
    assert [s["kind"] for s in doc["key_slots"]] == ["passphrase"]
    assert all("wrapped" not in s and "salt" not in s.get("kdf", {}) for s in doc["key_slots"])
    assert doc["bookmarks"] == 0 and doc["audit"]["events"] == 4 and doc["audit"]["head"]["seq"] == 3


@pytest.mark.slow
def test_annotation_shows_and_audit_verifies(scanned, pwfile):
    case, fid = scanned["case"], scanned["fid"]
    doc = json.loads(ok(run("show", case, "--json", "--passphrase-file", pwfile)).stdout)
    rec = next(f for f in doc["findings"] if f["id"] == fid)
    assert rec["status"] == "confirmed"
    assert [(c["text"], c["author"].split(" (")[0]) for c in rec["comments"]] == [(COMMENT, "Bob Ledger")]
    assert doc["audit"]["events"] == 6
    audit = ok(run("audit", case, "--verify", "--no-keyring", "--passphrase-file", pwfile))
    assert "intact" in audit.stdout and "6 events" in audit.stdout
    listing = ok(run("audit", case, "--passphrase-file", pwfile)).stdout.splitlines()
    assert [line.split()[2] for line in listing] == [
        "case-created", "key-slot-change", "evidence-added", "scan-run", "status-change", "comment"]
    events = json.loads(ok(run("audit", case, "--json", "--passphrase-file", pwfile)).stdout)["events"]
    assert events[-1]["data"]["text"] == COMMENT


def test_case_file_holds_no_plaintext(scanned):
    data = scanned["case"].read_bytes()
    kinds = {f["kind"] for f in scanned["before"]["findings"]}
    for text in [*kinds, COMMENT, "Operation Nightjar", "Ann Quill", "C-4711", scanned["fid"], PW,
                 "demo-keyholder"]:
        assert text.encode() not in data, text


def test_wrong_passphrase_is_exit_2_with_one_line(scanned, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("not the passphrase\n")
    err = one_line_error(run("show", scanned["case"], "--passphrase-file", bad))
    assert "wrong passphrase" in err and "not the passphrase" not in err


@pytest.mark.slow
def test_environment_passphrase(scanned):
    proc = ok(run("show", scanned["case"], "--no-keyring", env={"EVIDENCE_VIEWER_PASSPHRASE": PW}))
    assert "Operation Nightjar" in proc.stdout and PW not in proc.stdout


@pytest.mark.slow
def test_no_passphrase_and_no_terminal_is_a_clear_error(scanned):
    err = one_line_error(run("show", scanned["case"], "--no-keyring"))
    assert "--passphrase-file" in err and "EVIDENCE_VIEWER_PASSPHRASE" in err


def test_tampered_case_is_exit_2(scanned, pwfile, tmp_path):
    copy = tmp_path / "copy.evcase"
    data = bytearray(scanned["case"].read_bytes())
    data[len(data) // 2 + 40] ^= 0x01  # inside the encrypted payload
    copy.write_bytes(bytes(data))
    err = one_line_error(run("show", copy, "--passphrase-file", pwfile))
    assert "modified" in err or "tampered" in err or "damaged" in err


@pytest.mark.parametrize("content, expect", [(b"hello, not a case\n", "not an Evidence Viewer case file"),
                                             (None, "no such case file")])
def test_not_a_case_or_missing_is_exit_2(tmp_path, pwfile, content, expect):
    path = tmp_path / "x.evcase"
    if content is not None:
        path.write_bytes(content)
    assert expect in one_line_error(run("audit", path, "--passphrase-file", pwfile))


@pytest.mark.slow
def test_bad_usage_is_exit_2(scanned, pwfile):
    case = scanned["case"]
    proc = run("annotate", case, scanned["fid"], "--status", "bogus", "--passphrase-file", pwfile)
    assert proc.returncode == 2 and all(s in proc.stderr for s in STATUSES)
    assert "no finding" in one_line_error(run("annotate", case, "0000000000000000", "--status", "confirmed",
                                              "--passphrase-file", pwfile))
    assert run("case-less").returncode == 2 and run().returncode == 2
    assert "already exists" in one_line_error(run("new", case, "--name", "x", "--examiner", "y",
                                                  "--no-keyring", "--passphrase-file", pwfile))
    assert "cannot read passphrase file" in one_line_error(run("show", case, "--passphrase-file", "/nonexistent"))


@pytest.mark.slow
def test_slots_add_open_with_new_passphrase_and_remove(scanned, pwfile, tmp_path):
    case = tmp_path / "slots.evcase"
    shutil.copy(scanned["case"], case)
    new_pw = tmp_path / "new.txt"
    new_pw.write_text(PW2 + "\n")
    out = ok(run("slots", case, "--add-passphrase", "--new-passphrase-file", new_pw, "--passphrase-file", pwfile))
    assert "added passphrase slot 1" in out.stdout and PW2 not in out.stdout
    listing = ok(run("slots", case, "--passphrase-file", new_pw)).stdout  # the new passphrase opens it
    assert [line.split()[1] for line in listing.splitlines()] == ["passphrase", "passphrase"]
    ok(run("slots", case, "--remove", "0", env={"EVIDENCE_VIEWER_PASSPHRASE": PW2}))
    assert "wrong passphrase" in one_line_error(run("show", case, "--passphrase-file", pwfile))
    assert "last key slot" in one_line_error(run("slots", case, "--remove", "0", "--passphrase-file", new_pw))
    assert "no key slot 3" in one_line_error(run("slots", case, "--remove", "3", "--passphrase-file", new_pw))
    assert "intact" in ok(run("audit", case, "--verify", "--passphrase-file", new_pw)).stdout


def test_new_without_keyring_backend_needs_a_passphrase(tmp_path):
    env = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    case = tmp_path / "k.evcase"
    err = one_line_error(run("new", case, "--name", "n", "--examiner", "e", env=env))
    assert "keyring" in err and not case.exists()
    ok(run("new", case, "--name", "n", "--examiner", "e", env={**env, "EVIDENCE_VIEWER_PASSPHRASE": PW}))
    doc = json.loads(ok(run("show", case, "--json", env={**env, "EVIDENCE_VIEWER_PASSPHRASE": PW})).stdout)
    assert [s["kind"] for s in doc["key_slots"]] == ["passphrase"]


@pytest.mark.slow
@needs_secret_service
def test_keyring_case_opens_without_a_passphrase(tmp_path, pwfile):
    case = tmp_path / "kr.evcase"
    ok(run("new", case, "--name", "Keyring case", "--examiner", "Ann Quill"))
    doc = json.loads(ok(run("show", case, "--json")).stdout)
    assert [s["kind"] for s in doc["key_slots"]] == ["keyring"] and doc["case"]["name"] == "Keyring case"
    assert "passphrase" in one_line_error(run("show", case, "--no-keyring"))
    ok(run("slots", case, "--add-passphrase", env={"EVIDENCE_VIEWER_NEW_PASSPHRASE": PW}))
    ok(run("show", case, "--no-keyring", "--passphrase-file", pwfile))
    ok(run("slots", case, "--remove", "0", "--passphrase-file", pwfile))  # the keyring slot and its entry
    assert "no keyring slot" in one_line_error(run("show", case))


@pytest.mark.slow
def test_audit_verify_reports_each_problem_and_exits_1(tmp_path):
    from viewer.case import TEST_KDF, create_case

    case = tmp_path / "edited.evcase"
    cf = create_case(case, "Edited", "Ann Quill", passphrase=PW, use_keyring=False, kdf=TEST_KDF)
    cf.record_export("report", "r.pdf")
    cf.record_export("report", "s.pdf")
    cf.case.audit.events[1]["author"] = "Mallory"  # edited with the data key: only the chain tells
    del cf.case.audit.events[2]
    cf.save()
    proc = run("audit", case, "--verify", env={"EVIDENCE_VIEWER_PASSPHRASE": PW})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) >= 2 and any("event 1" in line and "edited" in line for line in lines)
    assert any("deleted" in line for line in lines) and "intact" not in proc.stdout
    doc = json.loads(run("audit", case, "--verify", "--json", env={"EVIDENCE_VIEWER_PASSPHRASE": PW}).stdout)
    assert doc["intact"] is False and doc["problems"] == lines
