#!/usr/bin/env python3
"""Benchmark of the boundary gate (issue 16): dumps/s and MB/s for 1 and 2 workers, on the local pool and
on a Dask cluster (a real ``dask scheduler`` and ``dask worker --no-nanny`` processes on 127.0.0.1),
and the per-dump overhead (target: under 100 ms).

Not a test: a script that prints numbers. Two workloads:

- **small**: N tiny dumps (4 KiB of random bytes; every 50th the demo core, which holds a key): the
  scan itself is almost nothing, so the time per dump and worker is the gate's overhead — task
  dispatch, a dump opened and hashed, the findings masked, one SQLite transaction, the verdict;
- **large**: the two real samples (14 and 49 MB) three times each under different names: MB/s.

The pools and clusters are started before the clock starts (a pipeline keeps its cluster running).

Usage: .venv/bin/python tests/bench/bench_fleet.py [--small N] [--no-dask]
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from viewer.fleet import DaskRunner, GateOptions, LocalPool, ResultsDB, expand, make_settings, run_gate  # noqa: E402

SAMPLES = REPO.parent / "shared" / "corpus" / "samples"
DEMO = REPO / "resources" / "sample" / "demo-keyholder.core"
DASK = Path(sys.executable).with_name("dask")
TARGET_MS = 100.0


def make_small(folder: Path, n: int) -> None:
    folder.mkdir()
    demo = DEMO.read_bytes()
    for i in range(n):
        (folder / f"d{i:05d}.bin").write_bytes((demo if i % 50 == 0 else os.urandom(4096)) + i.to_bytes(4, "little"))


def make_large(folder: Path) -> None:
    folder.mkdir()
    for xz in sorted(SAMPLES.glob("*.xz")):
        first = folder / xz.name[:-3]
        with lzma.open(xz) as src, open(first, "wb") as dst:
            shutil.copyfileobj(src, dst, 8 << 20)
        for k in (1, 2):
            (folder / f"{first.name}.{k}").symlink_to(first)


class Cluster:
    """A scheduler and ``n`` single-threaded, single-process workers on 127.0.0.1."""

    def __init__(self, n: int, tmp: Path):
        self.procs: list[subprocess.Popen] = []
        sched_file = tmp / f"sched-{n}.json"
        kw = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        self.procs.append(subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0",
                                            "--no-dashboard", "--dashboard-address", "127.0.0.1:0",
                                            "--scheduler-file", str(sched_file)], **kw))
        while not sched_file.exists() or not sched_file.read_text().strip():
            time.sleep(0.1)
        self.address = json.loads(sched_file.read_text())["address"]
        for _ in range(n):
            self.procs.append(subprocess.Popen([str(DASK), "worker", self.address, "--nthreads", "1", "--no-nanny",
                                                "--host", "127.0.0.1", "--no-dashboard", "--dashboard-address",
                                                "127.0.0.1:0"], **kw))

    def close(self) -> None:
        for group in (self.procs[1:], self.procs[:1]):
            for p in group:
                p.send_signal(signal.SIGTERM)
            for p in group:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()


def measure(runner, folder: Path, db_path: Path) -> tuple[float, int, int]:
    """Seconds, dumps and bytes of one gate run over ``folder`` into a new database."""
    cands = expand([str(folder)])
    with ResultsDB(db_path) as db:
        started = time.perf_counter()
        summary = run_gate(db, runner, make_settings(), cands, GateOptions())
        seconds = time.perf_counter() - started
    assert summary.failed == 0 and summary.scanned == len(cands), summary.to_json()
    return seconds, summary.scanned, summary.bytes_done


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=400, help="number of small dumps (400)")
    ap.add_argument("--no-dask", action="store_true", help="the local pool only")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    try:
        make_small(tmp / "small", args.small)
        make_large(tmp / "large")
        rows = []
        configs = [("local", 1), ("local", 2)] + ([] if args.no_dask else [("dask", 1), ("dask", 2)])
        for kind, n in configs:
            cluster = None
            if kind == "local":
                runner = LocalPool(n)
                runner.start()
            else:
                cluster = Cluster(n, tmp)
                runner = DaskRunner(cluster.address)
                runner.client.wait_for_workers(n, timeout=60)
                runner.workers = n
            try:
                s_sec, s_n, _ = measure(runner, tmp / "small", tmp / f"{kind}{n}-small.sqlite")
                l_sec, l_n, l_bytes = measure(runner, tmp / "large", tmp / f"{kind}{n}-large.sqlite")
            finally:
                runner.close()
                if cluster is not None:
                    cluster.close()
            rows.append((f"{kind}, {n} worker(s)", s_n / s_sec, 1000 * s_sec * n / s_n, l_n / l_sec,
                         l_bytes / 1e6 / l_sec))
        print(f"\nsmall: {args.small} dumps of ~4 KiB; large: 6 dumps, {sum(p.stat().st_size for p in (tmp / 'large').iterdir()) / 1e6:.0f} MB")
        print(f"{'where':<22} {'small dumps/s':>14} {'ms/dump/worker':>15} {'large dumps/s':>14} {'large MB/s':>11}")
        for name, dps, ms, ldps, mbs in rows:
            flag = "" if ms < TARGET_MS else "  (over the 100 ms target)"
            print(f"{name:<22} {dps:>14.1f} {ms:>15.1f} {ldps:>14.2f} {mbs:>11.1f}{flag}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
