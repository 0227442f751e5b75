"""Two real processes with one case open: the second save merges the first one's reviews and audit events
(or refuses with CaseChangedOnDisk when both changed the same thing), and saves are serialised by the
case's lock — never a silent loss."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from viewer.case import TEST_KDF, create_case, open_case
from viewer.evidence import open_dump
from viewer.scan.engine import scan_dump

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "resources" / "sample" / "demo-keyholder.core"
PW = "pw for two processes"

WORKER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from viewer.case import CaseChangedOnDisk, open_case

    path, me, mode, folder = sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])
    other = "B" if me == "A" else "A"

    def wait(name):
        deadline = time.monotonic() + 60
        while not (folder / name).exists():
            if time.monotonic() > deadline:
                raise SystemExit(f"{me}: timed out waiting for {name}")
            time.sleep(0.01)

    cf = open_case(path, passphrase=sys.argv[5], author_name=f"Examiner {me}")
    fids = [r.id for r in cf.case.findings]
    (folder / f"opened-{me}").touch()
    wait(f"opened-{other}")
    out = {"me": me}
    if mode == "merge":
        if me == "B":
            wait("saved-A")
        if me == "A":
            cf.annotate(fids[0], status="confirmed", comment="A: this is the VPN key")
            cf.record_export("csv", "a.csv")
        else:
            cf.annotate(fids[1], status="false-positive", comment="B: a test vector")
            cf.annotate(fids[0], comment="B: agreed with A")  # the same finding: comments of both are kept
            ev = cf.case.evidence[0].sha256
            cf.add_bookmark(ev, 4096, 16, "B's bookmark")
        cf.save()
        out["warnings"] = cf.warnings
        out["head"] = list(cf.case.audit.head)
        (folder / f"saved-{me}").touch()
    elif mode == "conflict":
        if me == "B":
            wait("saved-A")
        cf.case.description = f"written by {me}"
        cf.annotate(fids[0], status="confirmed" if me == "A" else "false-positive")
        try:
            cf.save()
            out["saved"] = True
        except CaseChangedOnDisk as exc:
            out["saved"] = False
            out["error"] = str(exc)
        out["description"] = cf.case.description  # the in-memory case is kept
        (folder / f"saved-{me}").touch()
    elif mode == "race":
        for i in range(int(sys.argv[6])):
            cf.record_export("report", f"{me}-{i}.html")
            cf.save()
    print("RESULT " + json.dumps(out), flush=True)
    """
)


@pytest.fixture(scope="module")
def sample_findings() -> list[dict]:
    return [f.to_json() for f in scan_dump(open_dump(SAMPLE)).findings]


@pytest.fixture
def case_path(tmp_path, sample_findings) -> Path:
    evidence = Path(shutil.copy(SAMPLE, tmp_path / SAMPLE.name))
    cf = create_case(tmp_path / "shared.evcase", "Shared", "Ann", passphrase=PW, use_keyring=False, kdf=TEST_KDF)
    ref = cf.add_evidence(evidence)
    cf.merge_scan(ref.sha256, sample_findings, {"deep": False})
    cf.save()
    return cf.path


def run_two(case_path: Path, mode: str, *extra: str) -> dict[str, dict]:
    folder = case_path.parent / f"sync-{mode}"
    folder.mkdir()
    procs = {me: subprocess.Popen([sys.executable, "-c", WORKER, str(case_path), me, mode, str(folder), PW, *extra],
                                  cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for me in ("A", "B")}
    out = {}
    for me, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{me}: {stderr[-3000:]}"
        line = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")][-1]
        out[me] = json.loads(line[len("RESULT "):])
    return out


def test_second_save_merges_the_first_ones_reviews_and_events(case_path):
    before = open_case(case_path, passphrase=PW).case
    out = run_two(case_path, "merge")
    assert any("merged" in w for w in out["B"]["warnings"]), out["B"]
    case = open_case(case_path, passphrase=PW).case
    assert case.audit.verify() == []
    f0, f1 = case.findings[0], case.findings[1]
    assert f0.review.status == "confirmed"
    assert [c.text for c in f0.review.comments] == ["A: this is the VPN key", "B: agreed with A"]
    assert f1.review.status == "false-positive"
    assert [b.name for b in case.bookmarks] == ["B's bookmark"]
    new = case.audit.events[len(before.audit):]
    authors = {e["author"].split(" (")[0] for e in new}
    assert authors == {"Examiner A", "Examiner B"}
    assert [e["type"] for e in new if e["author"].startswith("Examiner A")] == ["status-change", "comment", "export"]
    assert [e["type"] for e in new if e["author"].startswith("Examiner B")] == [
        "status-change", "comment", "comment", "bookmark"]
    assert list(case.audit.head) == out["B"]["head"]


def test_conflicting_changes_are_refused_not_dropped(case_path):
    out = run_two(case_path, "conflict")
    assert out["A"]["saved"] is True
    assert out["B"]["saved"] is False
    msg = out["B"]["error"]
    assert "another process" in msg and "nothing was written" in msg and "\n" not in msg
    assert out["B"]["description"] == "written by B"
    case = open_case(case_path, passphrase=PW).case
    assert case.description == "written by A" and case.findings[0].review.status == "confirmed"
    assert case.audit.verify() == []


def test_saves_racing_in_two_processes_lose_nothing(case_path):
    n = 12
    start = time.monotonic()
    run_two(case_path, "race", str(n))
    case = open_case(case_path, passphrase=PW).case
    targets = sorted(e["data"]["target"] for e in case.audit if e["type"] == "export")
    assert targets == sorted(f"{me}-{i}.html" for me in "AB" for i in range(n))
    assert case.audit.verify() == []
    assert [e["seq"] for e in case.audit] == list(range(len(case.audit)))
    assert time.monotonic() - start < 240
    assert (case_path.parent / f".{case_path.name}.lock").exists()
