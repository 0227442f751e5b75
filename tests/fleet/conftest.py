"""Fixtures of the fleet tests: a folder of real dumps, and a real Dask cluster on 127.0.0.1.

The cluster is a ``dask scheduler`` and two ``dask worker --no-nanny`` processes (one process each, so a
test can kill one by its PID) from the project's venv, so that the workers import this checkout. Every
process is stopped in the fixture's ``finally``, whatever the test did.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import CORPUS, DEMO_CORE, SAMPLE_DUMPS

CORPUS_DUMPS = ("bp_minidump2.dmp", "lldb_linux-x86_64.dmp", "pyelf_core_linux64.elf", "rm_linux-mini.dmp")
DASK = Path(sys.executable).with_name("dask")


@pytest.fixture(scope="session")
def fleet_dir(samples_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder tree of real dumps (symbolic links, read-only): the two samples, the demo core, a few
    corpus dumps (one in a sub-folder, to show the walk is recursive)."""
    out = tmp_path_factory.mktemp("fleet")
    (out / "sub").mkdir()
    for name in SAMPLE_DUMPS:
        (out / name).symlink_to(samples_dir / name)
    (out / DEMO_CORE.name).symlink_to(DEMO_CORE)
    for i, name in enumerate(CORPUS_DUMPS):
        (out / ("sub" if i % 2 else ".") / name).symlink_to(CORPUS / name)
    return out


def copy_tree(src: Path, dst: Path) -> Path:
    """A writable copy of ``src`` (real files), for tests that move or change dumps."""
    shutil.copytree(src, dst, symlinks=False)
    for p in dst.rglob("*"):
        if p.is_file():
            p.chmod(0o644)
    return dst


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 5
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


@dataclass
class Cluster:
    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen]

    def alive_workers(self) -> list[subprocess.Popen]:
        return [w for w in self.workers if w.poll() is None]


def _wait_workers(address: str, n: int, timeout: float = 60.0) -> None:
    from distributed import Client

    with Client(address, timeout=timeout) as client:
        client.wait_for_workers(n, timeout=timeout)


@pytest.fixture()
def dask_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A scheduler and two single-process workers on 127.0.0.1 (function scope: a test may kill one)."""
    pytest.importorskip("distributed")
    sched_file = tmp_path / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "3",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs: list[subprocess.Popen] = []
    log = open(tmp_path / "dask.log", "wb")  # noqa: SIM115 - closed in finally
    try:
        sched = subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                  "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(sched_file)], stdout=log, stderr=log, env=env)
        procs.append(sched)
        deadline = time.monotonic() + 60
        while not sched_file.exists() or not sched_file.read_text().strip():
            assert sched.poll() is None and time.monotonic() < deadline, "the dask scheduler did not start"
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        workers = []
        for _ in range(2):
            w = subprocess.Popen([str(DASK), "worker", address, "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1",
                                  "--no-dashboard", "--dashboard-address", "127.0.0.1:0"], stdout=log, stderr=log, env=env)
            procs.append(w)
            workers.append(w)
        _wait_workers(address, 2)
        yield Cluster(address, sched, workers)
    finally:
        _stop(procs[1:])  # the workers first: a scheduler going away makes them try to reconnect
        _stop(procs[:1])
        log.close()
