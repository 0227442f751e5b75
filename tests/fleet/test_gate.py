"""The gate on the local pool: results equal to ``scan``'s, re-runs skip, a killed worker loses nothing,
a split dump gives the same findings, failures are recorded, and the database holds no secret byte."""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import DEMO_CORE, SAMPLE_DUMPS
from tests.fleet.helpers import comparable, records, run, scanned_whole
from viewer.evidence import open_dump
from viewer.fleet import GateOptions, LocalPool, ResultsDB, expand, make_settings, run_gate
from viewer.fleet.gate import split_plan
from viewer.fleet.settings import SCANNER_VERSION
from viewer.scan.engine import join_ranges, scan_dump, scan_range


@pytest.fixture(scope="module")
def pool():
    p = LocalPool(2)
    try:
        p.start()
        yield p
    finally:
        p.close()


def test_results_equal_scan_and_rerun_skips(fleet_dir: Path, pool: LocalPool, tmp_path: Path) -> None:
    db_path = tmp_path / "r.sqlite"
    first = run(db_path, pool, [str(fleet_dir)])
    n = len(list(p for p in fleet_dir.rglob("*") if p.is_file()))
    assert (first.total, first.scanned, first.skipped, first.failed, first.state) == (n, n, 0, 0, "done")
    with ResultsDB(db_path) as db:
        got = records(db)
        assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert len(got) == n
    for path, rec in got.items():
        assert comparable(rec) == scanned_whole(Path(path)), path
    assert got[str(DEMO_CORE.resolve())]["verdict"] == "secret"
    assert first.with_secrets == sum(1 for r in got.values() if r["verdict"] != "clean") >= 3
    second = run(db_path, pool, [str(fleet_dir)])
    assert (second.scanned, second.skipped, second.with_secrets) == (0, n, first.with_secrets)
    with ResultsDB(db_path) as db:
        runs = db.runs()
        assert [(r["scanned"], r["skipped"], r["failed"], r["state"]) for r in runs] == [
            (n, 0, 0, "done"), (0, n, 0, "done")]
        assert db.conn.execute("SELECT COUNT(*) FROM scans").fetchone()[0] == n


def test_a_new_threshold_is_a_new_verdict_not_a_rescan(fleet_dir: Path, pool: LocalPool, tmp_path: Path) -> None:
    db_path = tmp_path / "r.sqlite"
    run(db_path, pool, [str(fleet_dir / DEMO_CORE.name)])
    again = run(db_path, pool, [str(fleet_dir / DEMO_CORE.name)], GateOptions(threshold=__import__(
        "viewer.scan.finding", fromlist=["Confidence"]).Confidence.CONFIRMED))
    assert (again.scanned, again.skipped) == (0, 1)
    with ResultsDB(db_path) as db:
        assert {r[0] for r in db.conn.execute("SELECT min_confidence FROM verdicts")} == {"medium", "confirmed"}


def test_no_secret_bytes_in_the_database(fleet_dir: Path, pool: LocalPool, tmp_path: Path) -> None:
    """Every secret finding's bytes (16+ of them) are nowhere in the database file, as hex or raw."""
    db_path = tmp_path / "r.sqlite"
    run(db_path, pool, [str(fleet_dir / name) for name in SAMPLE_DUMPS] + [str(fleet_dir / DEMO_CORE.name)])
    with ResultsDB(db_path) as db:
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        recs = records(db)
    blob = db_path.read_bytes()
    checked = 0
    for path, rec in recs.items():
        with open_dump(path) as dump:
            for f in rec["findings"]:
                assert not f["secret"] or f["excerpt_masked"] and set(f["excerpt"]) <= {"*", "."}
                if f["secret"] and f["length"] >= 16:
                    data = dump.read(f["offset"], min(f["length"], 64))
                    assert data not in blob and data.hex().encode() not in blob
                    checked += 1
    assert checked >= 10


def test_a_split_dump_gives_the_findings_of_the_whole(samples_dir: Path, pool: LocalPool, tmp_path: Path) -> None:
    wine = samples_dir / SAMPLE_DUMPS[1]
    size = wine.stat().st_size
    chunk, ranges = split_plan(size, 4 << 20, 3 << 20)
    assert len(ranges) > 10 and all(s % chunk == 0 for s, _ in ranges)
    summary = run(tmp_path / "r.sqlite", pool, [str(wine)], GateOptions(split_over=4 << 20, range_size=3 << 20))
    assert summary.scanned == 1
    with ResultsDB(tmp_path / "r.sqlite") as db:
        rec = records(db)[str(wine.resolve())]
    assert rec["ranges"] == len(ranges)
    assert comparable(rec) == scanned_whole(wine)


def test_scan_range_and_join_equal_scan_dump_with_odd_ranges(samples_dir: Path) -> None:
    """The engine's hook directly: ranges of 5 chunks of 256 KiB (boundaries nowhere near scan_dump's)."""
    path = samples_dir / SAMPLE_DUMPS[0]
    with open_dump(path) as dump:
        whole = scan_dump(dump)
        chunk, step = 256 << 10, 5 * (256 << 10)
        parts = [c for s in range(0, dump.size, step)
                 for c in scan_range(dump, whole_detectors(), s, min(dump.size, s + step), chunk)]
        joined = join_ranges(dump, whole_detectors(), parts, None, chunk)
        assert [f.to_json() for f in joined.findings] == [f.to_json() for f in whole.findings]
        with pytest.raises(ValueError, match="cover"):
            join_ranges(dump, whole_detectors(), parts[1:], None, chunk)
        with pytest.raises(ValueError, match="boundaries"):
            scan_range(dump, whole_detectors(), 100, 200, chunk)


def whole_detectors():
    from viewer.scan.detectors import default_detectors

    return default_detectors()


@pytest.mark.slow  # the command line in a child process (or a killed one): the full tier
def test_a_killed_worker_loses_nothing(fleet_dir: Path, tmp_path: Path) -> None:
    pool = LocalPool(2)
    killed: list[int] = []

    def kill_one(summary) -> None:
        if summary.done >= 1 and not killed and pool.pids():
            killed.append(pool.pids()[0])
            os.kill(killed[0], signal.SIGKILL)

    try:
        pool.start()
        summary = run(tmp_path / "r.sqlite", pool, [str(fleet_dir)], GateOptions(max_in_flight=4),
                      on_update=kill_one)
    finally:
        pool.close()
    n = len(list(p for p in fleet_dir.rglob("*") if p.is_file()))
    assert killed
    assert (summary.scanned, summary.failed, summary.state) == (n, 0, "done")
    with ResultsDB(tmp_path / "r.sqlite") as db:
        for path, rec in records(db).items():
            assert comparable(rec) == scanned_whole(Path(path))


def test_a_dump_that_cannot_be_scanned_is_failed_with_one_line(tmp_path: Path, pool: LocalPool) -> None:
    gone = tmp_path / "gone.core"
    gone.write_bytes(b"\x7fELF" + bytes(4000))
    cands = expand([str(gone), str(DEMO_CORE)])
    gone.unlink()  # between the listing and the scan: the worker cannot open it
    with ResultsDB(tmp_path / "r.sqlite") as db:
        summary = run_gate(db, pool, make_settings(), cands)
        assert (summary.scanned, summary.failed) == (1, 1)
        (err,) = db.errors()
        assert err["path"] == str(gone) and "\n" not in err["error"] and err["error"]
        assert {d["path"]: d["verdict"] for d in db.dumps()}[str(gone)] == "failed"


def test_a_foreign_database_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as c:
        c.execute("CREATE TABLE t (x)")
    from viewer.fleet import ResultsError

    with pytest.raises(ResultsError, match="not a results database"):
        ResultsDB(other)
    (tmp_path / "junk").write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(ResultsError):
        ResultsDB(tmp_path / "junk")


def test_settings_key(tmp_path: Path) -> None:
    from viewer.scan.publickeys import load_public_keys

    plain = make_settings()
    keyed = make_settings(public_keys=load_public_keys([DEMO_CORE.with_suffix(".public.pem")]))
    assert plain.settings_id != keyed.settings_id != make_settings(deep=True).settings_id
    assert plain.settings_id == make_settings().settings_id and SCANNER_VERSION
    import pickle

    assert pickle.loads(pickle.dumps(keyed)) == keyed
