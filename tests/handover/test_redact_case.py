"""`redact DUMP --out CLEAN --case CASE`: the case's findings and reviews drive the redaction, and the
redaction is an audit event of the case (viewer.case.redact_case, redact_cli).

Real case files (Argon2id passphrase slots, and one with the real Secret Service), real dumps (the demo
gcore, a raw image with a key-like island), the CLI as a program sees it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.case.test_case_store import needs_secret_service
from viewer.case import open_case

pytestmark = pytest.mark.slow  # every test runs the command line on a case: seconds each

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "resources" / "sample" / "demo-keyholder.core"
PW = "redaction passphrase for tests"
ENV_KEYS = ("EVIDENCE_VIEWER_PASSPHRASE", "EVIDENCE_VIEWER_NEW_PASSPHRASE")


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    return subprocess.run([sys.executable, "-m", "viewer.cli.main", *map(str, args)], capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL, env=base, cwd=REPO)


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def pwfile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("pw") / "pass.txt"
    p.write_text(PW + "\n")
    return p


def new_case(folder: Path, pwfile: Path, dump: Path, *extra: str) -> Path:
    case = folder / "case.evcase"
    ok(run("case", "new", case, "--name", "Redaction", "--examiner", "Ann Quill", "--no-keyring",
           "--passphrase-file", pwfile))
    ok(run("case", "add", case, dump, "--scan", *extra, "--no-keyring", "--passphrase-file", pwfile))
    return case


def findings_of(case: Path, pwfile: Path) -> list[dict]:
    return json.loads(ok(run("case", "show", case, "--json", "--no-keyring", "--passphrase-file", pwfile)).stdout)[
        "findings"]


def annotate(case: Path, pwfile: Path, fid: str, status: str, author: str) -> None:
    ok(run("case", "annotate", case, fid, "--status", status, "--author", author, "--no-keyring",
           "--passphrase-file", pwfile))


def redact(dump: Path, out: Path, case: Path, pwfile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run("redact", dump, "--out", out, "--case", case, "--no-keyring", "--passphrase-file", pwfile,
               "--author", "Rita Redactor", *extra)


def test_redaction_is_an_audit_event_of_the_case(tmp_path: Path, pwfile: Path) -> None:
    case = new_case(tmp_path, pwfile, SAMPLE)
    before = sha256(SAMPLE)
    out = tmp_path / "clean.core"
    proc = ok(redact(SAMPLE, out, case, pwfile))
    assert proc.stdout.startswith("clean:") and str(case) in proc.stdout
    assert sha256(SAMPLE) == before
    cf = open_case(case, passphrase=PW, use_keyring=False)
    events = [e for e in cf.case.audit if e["type"] == "redact"]
    assert len(events) == 1
    ev = events[0]
    assert ev["author"] == "Rita Redactor" and ev["data"]["evidence"] == before
    assert ev["data"]["output_sha256"] == sha256(out) and ev["data"]["clean"] is True
    assert ev["data"]["ranges"] == len(json.loads(Path(str(out) + ".redaction.json").read_text())["removed"]) > 10
    assert cf.case.audit.verify() == []
    # the event holds no key bytes: none of the original's bytes that redaction removed appear in it
    original, clean = SAMPLE.read_bytes(), out.read_bytes()
    changed = [i for i in range(0, len(original), 97) if original[i] != clean[i]]
    assert changed
    text = json.dumps(ev)
    for i in changed[:50]:
        assert original[i : i + 16].hex() not in text


def test_false_positive_key_is_kept_everywhere(tmp_path: Path, pwfile: Path) -> None:
    """The demo core holds one key; the examiner calls one of its findings a false positive: every
    finding of that key stays, the log says who decided, and the copy is still called clean."""
    case = new_case(tmp_path, pwfile, SAMPLE)
    found = findings_of(case, pwfile)
    pem = next(f for f in found if f["encoding"] == "pem-pkcs8")
    annotate(case, pwfile, pem["id"], "false-positive", "Bob Ledger")
    out = tmp_path / "kept.core"
    proc = ok(redact(SAMPLE, out, case, pwfile))
    assert "kept" in proc.stdout
    assert out.read_bytes() == SAMPLE.read_bytes()
    log = json.loads(Path(str(out) + ".redaction.json").read_text())
    assert log["removed"] == [] and log["clean"] is True
    kept = {k["finding_id"]: k["reason"] for k in log["kept"]}
    secrets = {f["id"] for f in found if f["secret"]}
    assert set(kept) == secrets
    assert "Bob Ledger" in kept[pem["id"]]
    cf = open_case(case, passphrase=PW, use_keyring=False)
    ev = [e for e in cf.case.audit if e["type"] == "redact"][-1]
    assert ev["data"]["kept"] == len(secrets) and ev["data"]["ranges"] == 0


def test_a_confirmation_of_the_same_key_wins_over_a_false_positive(tmp_path: Path, pwfile: Path) -> None:
    """One finding of the key marked false-positive, another confirmed: the safe side wins, the key goes
    everywhere (the PEM too), and the log notes the contradiction."""
    case = new_case(tmp_path, pwfile, SAMPLE)
    found = findings_of(case, pwfile)
    pem = next(f for f in found if f["encoding"] == "pem-pkcs8")
    der = next(f for f in found if f["encoding"] == "der-pkcs1")
    annotate(case, pwfile, pem["id"], "false-positive", "Bob Ledger")
    annotate(case, pwfile, der["id"], "confirmed", "Ann Quill")
    out = tmp_path / "contradiction.core"
    ok(redact(SAMPLE, out, case, pwfile))
    log = json.loads(Path(str(out) + ".redaction.json").read_text())
    assert log["kept"] == [] and log["clean"] is True
    assert any(pem["id"] in n and "confirmed" in n for n in log["notes"])
    original, clean = SAMPLE.read_bytes(), out.read_bytes()
    for f in (pem, der):
        region = clean[f["offset"] : f["offset"] + f["length"]]
        assert b"REDACTED" in region and region != original[f["offset"] : f["offset"] + f["length"]]


def test_examiner_confirmed_lead_from_a_deep_scan_is_overwritten(tmp_path: Path, pwfile: Path) -> None:
    """A key-like island only a --deep scan reports (low confidence): a plain redaction leaves it; once the
    examiner confirms it in the case, redact --case overwrites it although it is below the threshold."""
    island = os.urandom(64)
    dump = tmp_path / "memory.raw"
    dump.write_bytes(bytes(1 << 20) + island + bytes(1 << 20))
    case = new_case(tmp_path, pwfile, dump, "--deep")
    found = [f for f in findings_of(case, pwfile) if f["kind"] == "high-entropy"]
    assert [(f["offset"], f["confidence"]) for f in found] == [(1 << 20, "low")]

    plain = tmp_path / "plain.raw"
    ok(run("redact", dump, "--out", plain))
    assert island in plain.read_bytes()

    annotate(case, pwfile, found[0]["id"], "confirmed", "Ann Quill")
    out = tmp_path / "confirmed.raw"
    ok(redact(dump, out, case, pwfile))
    clean = out.read_bytes()
    assert island not in clean and clean[1 << 20 : (1 << 20) + 64] == b"REDACTED" * 8
    assert clean[: 1 << 20] == bytes(1 << 20) and len(clean) == len(dump.read_bytes())
    log = json.loads(Path(str(out) + ".redaction.json").read_text())
    assert [(r["offset"], r["length"]) for r in log["removed"]] == [(1 << 20, 64)]


def test_dump_not_in_the_case_is_refused_and_nothing_written(tmp_path: Path, pwfile: Path) -> None:
    case = new_case(tmp_path, pwfile, SAMPLE)
    other = tmp_path / "other.raw"
    other.write_bytes(os.urandom(4096))
    out = tmp_path / "out.raw"
    proc = redact(other, out, case, pwfile)
    assert proc.returncode == 2 and "not evidence in the case" in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not out.exists() and not Path(str(out) + ".redaction.json").exists()
    assert list(tmp_path.glob(".out.raw.*")) == []
    cf = open_case(case, passphrase=PW, use_keyring=False)
    assert not [e for e in cf.case.audit if e["type"] == "redact"]


def test_wrong_passphrase_is_one_line_and_nothing_written(tmp_path: Path, pwfile: Path) -> None:
    case = new_case(tmp_path, pwfile, SAMPLE)
    bad = tmp_path / "bad.txt"
    bad.write_text("not the passphrase\n")
    out = tmp_path / "out.core"
    proc = redact(SAMPLE, out, case, bad)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "passphrase" in proc.stderr.lower()
    assert not out.exists()


@needs_secret_service
def test_case_opened_through_the_keyring(tmp_path: Path) -> None:
    case = tmp_path / "kr.evcase"
    ok(run("case", "new", case, "--name", "Keyring", "--examiner", "Ann Quill"))
    ok(run("case", "add", case, SAMPLE, "--scan"))
    out = tmp_path / "kr.core"
    ok(run("redact", SAMPLE, "--out", out, "--case", case))
    cf = open_case(case)
    assert [e["data"]["output_sha256"] for e in cf.case.audit if e["type"] == "redact"] == [sha256(out)]
