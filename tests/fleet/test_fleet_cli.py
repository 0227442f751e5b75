"""`evidence-viewer fleet ...` as a pipeline calls it: exit codes, JSON lines, SARIF, quarantine,
redacted copies, --watch, a killed run resumed, 1,000 dumps, the report and the export into a case."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import CORPUS, DEMO_CORE
from tests.fleet.conftest import copy_tree
from viewer.cli.main import main
from viewer.fleet import ResultsDB

PUBLIC = str(DEMO_CORE.with_suffix(".public.pem"))
CLEAN = str(CORPUS / "bp_minidump2.dmp")
CLI = [sys.executable, "-m", "viewer.cli"]
REPO = Path(__file__).resolve().parents[2]


def test_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "r.sqlite")
    clean = Path(CLEAN).resolve()
    assert main(["fleet", "scan", str(clean), "--db", db]) == 0
    assert main(["fleet", "scan", str(DEMO_CORE), "--db", db]) == 1
    gone = tmp_path / "gone"
    assert main(["fleet", "scan", str(gone), "--db", db]) == 2  # no such source: usage
    assert main(["fleet", "scan", str(clean), "--db", db, "--copy"]) == 2
    assert main(["fleet", "scan", str(clean), "--db", str(tmp_path)]) == 2  # a folder is no database
    err = capsys.readouterr().err
    assert "skipped as done" in err and "gone: no such file or folder" in err


@pytest.mark.slow  # the command line in a child process (or a killed one): the full tier
def test_a_list_on_stdin_with_hosts(tmp_path: Path) -> None:
    """``-``: one path a line, a tab and the host after it; comments and blank lines skipped."""
    other = tmp_path / "other.core"
    other.write_bytes(bytes(100))
    listing = f"{DEMO_CORE}\thost-a\n# a comment\n\n{other}\thost-b\n"
    done = subprocess.run([*CLI, "fleet", "scan", "-", "--db", str(tmp_path / "r.sqlite"), "--workers", "1"],
                          input=listing, text=True, cwd=REPO, capture_output=True, timeout=120)
    assert done.returncode == 1, done.stderr  # the demo core has a secret
    with ResultsDB(tmp_path / "r.sqlite", readonly=True) as db:
        assert {d["path"]: d["host"] for d in db.dumps()} == {str(DEMO_CORE): "host-a", str(other): "host-b"}


@pytest.mark.slow  # the command line in a child process (or a killed one): the full tier
def test_json_lines_sarif_quarantine_and_redaction(fleet_dir: Path, tmp_path: Path) -> None:
    work = copy_tree(fleet_dir, tmp_path / "in")
    quarantine, redacted = tmp_path / "q", tmp_path / "red"
    quarantine.mkdir()
    redacted.mkdir()
    db = str(tmp_path / "r.sqlite")
    code = main(["fleet", "scan", str(work), "--db", db, "--public-key", PUBLIC, "--json-lines",
                 str(tmp_path / "out.jsonl"), "--sarif", str(tmp_path / "out.sarif"), "--quarantine",
                 str(quarantine), "--redact-to", str(redacted), "--workers", "2"])
    assert code == 1
    lines = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    total = sum(1 for p in fleet_dir.rglob("*") if p.is_file())
    assert len(lines) == total
    by_name = {Path(x["path"]).name: x for x in lines}
    demo = by_name[DEMO_CORE.name]
    assert demo["verdict"] == "production-key" and demo["findings"] and demo["sha256"]
    flagged = [x for x in lines if x["verdict"] != "clean"]
    assert len(flagged) >= 3
    for x in flagged:
        assert not Path(x["path"]).exists()  # moved
        assert Path(x["quarantined_to"]).parent == quarantine and Path(x["quarantined_to"]).is_file()
        assert x["redacted_to"] and Path(x["redacted_to"]).parent == redacted, x["errors"]
        log = json.loads(Path(x["redacted_to"] + ".redaction.json").read_text())
        assert log["clean"] and log["input_sha256"] == x["sha256"]
    for x in lines:
        if x["verdict"] == "clean":
            assert Path(x["path"]).exists() and x["quarantined_to"] is None and x["redacted_to"] is None
    sarif = json.loads((tmp_path / "out.sarif").read_text())
    assert sarif["version"] == "2.1.0" and len(sarif["runs"][0]["artifacts"]) == total
    assert any(r["properties"]["matches"] for r in sarif["runs"][0]["results"])
    # a redacted copy scans clean through the gate itself
    assert main(["fleet", "scan", str(redacted), "--db", str(tmp_path / "r2.sqlite"), "--min-confidence",
                 "high"]) == 0


def test_quarantine_copy_keeps_the_original(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "core").write_bytes(DEMO_CORE.read_bytes())
    (tmp_path / "q").mkdir()
    assert main(["fleet", "scan", str(src), "--db", str(tmp_path / "r.sqlite"), "--quarantine",
                 str(tmp_path / "q"), "--copy"]) == 1
    assert (src / "core").read_bytes() == (tmp_path / "q" / "core").read_bytes()


def test_report_and_export(fleet_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "r.sqlite")
    assert main(["fleet", "scan", str(fleet_dir), "--db", db, "--public-key", PUBLIC, "--host", "prod-7"]) == 1
    assert main(["fleet", "scan", str(fleet_dir), "--db", db, "--public-key", PUBLIC]) == 1
    capsys.readouterr()
    assert main(["fleet", "report", "--db", db, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    total = sum(1 for p in fleet_dir.rglob("*") if p.is_file())
    assert [(r["scanned"], r["skipped"], r["failed"]) for r in doc["runs"]] == [(total, 0, 0), (0, total, 0)]
    assert len(doc["dumps"]) == total and all(d["sha256"] and "verdict" in d for d in doc["dumps"])
    prod = [k for k in doc["keys"] if k["production"]]
    assert len(prod) == 1 and prod[0]["dumps"][0]["path"].endswith(DEMO_CORE.name) and prod[0]["hosts"] == 1
    assert main(["fleet", "report", "--db", db]) == 0
    text = capsys.readouterr().out
    assert "PRODUCTION KEY" in text and "from 1 host(s)" in text and f"{total} scanned" in text
    pw = tmp_path / "pw"
    pw.write_text("correct horse battery\n")
    case = tmp_path / "review.evcase"
    assert main(["fleet", "export", "--db", db, "--case", str(case), "--no-keyring", "--passphrase-file",
                 str(pw)]) == 0
    from viewer.case.store import open_case

    cf = open_case(case, passphrase="correct horse battery", use_keyring=False)
    flagged = [d for d in doc["dumps"] if d["verdict"] != "clean"]
    assert len(cf.case.evidence) == len(flagged)
    assert len(cf.case.findings) == sum(len(d["findings"]) for d in flagged)
    assert not any(k.startswith("excerpt") for r in cf.case.findings for k in r.finding)
    assert main(["fleet", "report", "--db", str(tmp_path / "missing.sqlite")]) == 2


def _rows(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
            return c.execute("SELECT COUNT(*) FROM dumps").fetchone()[0]
    except sqlite3.Error:
        return 0


def _small_dumps(folder: Path, n: int, secret_every: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    demo = DEMO_CORE.read_bytes()
    for i in range(n):
        body = demo if secret_every and i % secret_every == 0 else os.urandom(2048)
        (folder / f"d{i:05d}.bin").write_bytes(body + i.to_bytes(4, "little"))


@pytest.mark.slow
def test_a_killed_run_resumes_without_rescanning(tmp_path: Path) -> None:
    dumps = tmp_path / "dumps"
    _small_dumps(dumps, 300)
    db = tmp_path / "r.sqlite"
    proc = subprocess.Popen([*CLI, "fleet", "scan", str(dumps), "--db", str(db), "--workers", "2"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while _rows(db) < 60:
            assert proc.poll() is None and time.monotonic() < deadline, "the run ended before it was killed"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the gate and its pool processes, as a crash would
        proc.wait(10)
    with ResultsDB(db, readonly=True) as r:
        done_before = {d["path"] for d in r.dumps()}
        assert r.runs()[0]["state"] == "running"  # it never got to say otherwise
    assert 60 <= len(done_before) < 300
    out = subprocess.run([*CLI, "fleet", "scan", str(dumps), "--db", str(db), "--json-lines", "-"], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    assert len(lines) == 300
    assert {x["path"] for x in lines if x["skipped"]} == done_before
    with ResultsDB(db, readonly=True) as r:
        last = r.runs()[-1]
        assert (last["scanned"], last["skipped"], last["state"]) == (300 - len(done_before), len(done_before), "done")
        assert r.conn.execute("SELECT COUNT(*) FROM scans").fetchone()[0] == 300


@pytest.mark.slow
def test_a_thousand_small_dumps_in_one_run(tmp_path: Path) -> None:
    dumps = tmp_path / "dumps"
    _small_dumps(dumps, 1000, secret_every=250)
    started = time.monotonic()
    code = main(["fleet", "scan", str(dumps), "--db", str(tmp_path / "r.sqlite"), "--workers", "2"])
    seconds = time.monotonic() - started
    assert code == 1
    with ResultsDB(tmp_path / "r.sqlite", readonly=True) as db:
        run = db.runs()[0]
        assert (run["scanned"], run["failed"], run["with_secrets"]) == (1000, 0, 4)
    print(f"1000 dumps in {seconds:.1f} s")


@pytest.mark.slow  # the command line in a child process (or a killed one): the full tier
def test_watch_takes_files_once_they_stop_growing(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "early.bin").write_bytes(os.urandom(4096))
    proc = subprocess.Popen([*CLI, "fleet", "scan", str(inbox), "--db", str(tmp_path / "r.sqlite"), "--watch",
                             "--poll", "0.2", "--settle", "3.0", "--stop-after", "60", "--json-lines",
                             str(tmp_path / "out.jsonl"), "--workers", "1"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        growing = inbox / "growing.core"
        data = DEMO_CORE.read_bytes()
        with open(growing, "wb") as f:
            for i in range(0, len(data), len(data) // 6 + 1):  # written over ~1 s, in six pieces
                f.write(data[i : i + len(data) // 6 + 1])
                f.flush()
                time.sleep(0.15)
        deadline = time.monotonic() + 60
        while _rows(tmp_path / "r.sqlite") < 2:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(1.5)  # a few more polls: nothing is taken twice
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, err  # the demo core has a secret
    lines = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert sorted(Path(x["path"]).name for x in lines) == ["early.bin", "growing.core"], [(x["path"], x["size"], x["skipped"]) for x in lines]
    assert next(x for x in lines if x["path"].endswith("growing.core"))["size"] == len(data)
