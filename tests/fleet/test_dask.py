"""The gate on a real Dask cluster (a scheduler and two --no-nanny workers on 127.0.0.1): the same
results as the local pool's, a worker killed mid-run loses nothing, a split dump joins to the whole,
``--dask local``. Slow: the cluster takes seconds to come up."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SAMPLE_DUMPS
from tests.fleet.conftest import Cluster
from tests.fleet.helpers import comparable, records, run, scanned_whole
from viewer.cli.main import main
from viewer.fleet import DaskRunner, GateOptions, LocalPool, ResultsDB

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def test_dask_results_equal_the_local_pools(fleet_dir: Path, dask_cluster: Cluster, tmp_path: Path) -> None:
    pool = LocalPool(2)
    try:
        local = run(tmp_path / "local.sqlite", pool, [str(fleet_dir)])
    finally:
        pool.close()
    runner = DaskRunner(dask_cluster.address)
    try:
        assert runner.workers == 2
        remote = run(tmp_path / "dask.sqlite", runner, [str(fleet_dir)],
                     GateOptions(split_over=8 << 20, range_size=4 << 20))  # the big sample goes split, too
    finally:
        runner.close()
    assert (remote.scanned, remote.failed) == (local.scanned, 0)
    with ResultsDB(tmp_path / "local.sqlite") as a, ResultsDB(tmp_path / "dask.sqlite") as b:
        ra, rb = records(a), records(b)
    assert ra.keys() == rb.keys()
    for path in ra:
        assert comparable(rb[path]) == comparable(ra[path]), path
        assert (rb[path]["verdict"], rb[path]["sha256"]) == (ra[path]["verdict"], ra[path]["sha256"])
    assert rb[str((fleet_dir / SAMPLE_DUMPS[1]).resolve())]["ranges"] > 1
    workers = {r["scanned_by"] for r in rb.values()}
    assert len(workers) == 2  # both workers took part


def test_a_worker_killed_mid_run_loses_nothing(fleet_dir: Path, dask_cluster: Cluster, tmp_path: Path) -> None:
    runner = DaskRunner(dask_cluster.address)
    killed: list[int] = []

    def kill_one(summary) -> None:
        if summary.done >= 1 and not killed:
            victim = dask_cluster.alive_workers()[0]
            killed.append(victim.pid)
            victim.kill()

    try:
        summary = run(tmp_path / "r.sqlite", runner, [str(fleet_dir)],
                      GateOptions(split_over=8 << 20, range_size=2 << 20), on_update=kill_one)
    finally:
        runner.close()
    n = sum(1 for p in fleet_dir.rglob("*") if p.is_file())
    assert killed and len(dask_cluster.alive_workers()) == 1
    assert (summary.scanned, summary.failed, summary.state) == (n, 0, "done")
    with ResultsDB(tmp_path / "r.sqlite") as db:
        for path, rec in records(db).items():
            assert comparable(rec) == scanned_whole(Path(path)), path


def test_the_command_line_on_the_cluster_and_on_a_local_cluster(fleet_dir: Path, dask_cluster: Cluster,
                                                                tmp_path: Path) -> None:
    assert main(["fleet", "scan", str(fleet_dir), "--db", str(tmp_path / "a.sqlite"), "--dask",
                 dask_cluster.address]) == 1
    assert main(["fleet", "scan", str(fleet_dir), "--db", str(tmp_path / "b.sqlite"), "--dask", "local",
                 "--workers", "2"]) == 1
    with ResultsDB(tmp_path / "a.sqlite") as a, ResultsDB(tmp_path / "b.sqlite") as b:
        ra, rb = records(a), records(b)
        assert "dask tcp://127.0.0.1:" in a.runs()[0]["runner"] and "LocalCluster" in b.runs()[0]["runner"]
    assert {p: comparable(r) for p, r in ra.items()} == {p: comparable(r) for p, r in rb.items()}
    assert main(["fleet", "scan", str(fleet_dir), "--db", str(tmp_path / "c.sqlite"), "--dask",
                 "tcp://127.0.0.1:1", "--dask-timeout", "2"]) == 2  # nothing listens there: one line, exit 2
