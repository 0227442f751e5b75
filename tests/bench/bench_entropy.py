#!/usr/bin/env python3
"""Benchmark of the entropy pass (viewer.scan.entropy): MB/s and peak RSS on a generated 1 GiB file.

Not a test: a script that prints numbers. The file is "mixed" like a real dump: random (encrypted /
compressed-like) stretches, text, small integers (pointer-ish), zeros and a sparse hole. Two
measurements:

* in-process ``compute_entropy`` (the pure numpy pass), timed twice (cold-ish then warm page cache);
* the real command ``evidence-viewer entropy FILE --no-hash --json`` in a child process, whose peak RSS
  is read from wait4() (``ru_maxrss`` counts the mapped file pages touched, which are shared and
  reclaimable; the child's private memory is reported separately from /proc via a probe run).

Usage: .venv/bin/python tests/bench/bench_entropy.py [--size-mib 1024] [--block 4096] [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.bench_info import run as run_child  # noqa: E402 - the one way the benchmarks time a child
from viewer.evidence import ByteSource  # noqa: E402
from viewer.scan.entropy import compute_entropy, high_entropy_regions  # noqa: E402
from viewer.tasks import TaskState  # noqa: E402

MiB = 1024 * 1024


def make_mixed(path: Path, size: int) -> None:
    """Write ``size`` bytes in 8 MiB pieces cycling through random, text, small ints, zeros, hole."""
    rng = np.random.default_rng(2024)
    piece = 8 * MiB
    text = (
        b"GET /index.html HTTP/1.1\r\nHost: example.org\r\nUser-Agent: bench\r\n\r\n" * (piece // 64 + 1)
    )[:piece]
    small = rng.integers(0, 16, size=piece // 8, dtype=np.uint64).astype("<u8").tobytes()
    with open(path, "wb") as fh:
        i = 0
        while fh.tell() < size:
            n = min(piece, size - fh.tell())
            kind = i % 5
            if kind == 0:
                fh.write(rng.integers(0, 256, size=n, dtype=np.uint8).tobytes())
            elif kind == 1:
                fh.write(text[:n])
            elif kind == 2:
                fh.write(small[:n])
            elif kind == 3:
                fh.write(bytes(n))
            else:
                fh.seek(n, os.SEEK_CUR)  # sparse hole: reads as zeros
                fh.truncate(fh.tell())
            i += 1


def rss_breakdown() -> dict[str, int]:
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) // 1024
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--block", type=int, default=4096)
    ap.add_argument("--workdir")
    ap.add_argument("--keep", action="store_true")
    opts = ap.parse_args()
    work = Path(opts.workdir or tempfile.mkdtemp(prefix="bench-entropy-"))
    work.mkdir(parents=True, exist_ok=True)
    path = work / "mixed.bin"
    size = opts.size_mib * MiB
    try:
        t = time.perf_counter()
        make_mixed(path, size)
        print(f"generated {size / MiB:.0f} MiB mixed file in {time.perf_counter() - t:.1f} s: {path}")
        before = rss_breakdown()
        for attempt in ("first", "second"):
            with ByteSource(path) as src:
                state = TaskState()
                t = time.perf_counter()
                pyr = compute_entropy(src, opts.block, state)
                dt = time.perf_counter() - t
                runs = high_entropy_regions(pyr)
                print(
                    f"in-process ({attempt}): {dt:.2f} s, {size / MiB / dt:.0f} MiB/s, {size / 1e6 / dt:.0f} MB/s, "
                    f"{pyr.blocks} blocks, {pyr.levels} levels, mean {pyr.mean:.3f}, {len(runs)} high runs"
                )
                del pyr
        after = rss_breakdown()
        print(f"in-process memory (MB): before {before}, after {after}")
        cmd = [
            sys.executable,
            "-m",
            "viewer.cli.main",
            "entropy",
            str(path),
            "--no-hash",
            "--block",
            str(opts.block),
        ]
        for extra in ([], ["--json"]):
            wall, rss, code = run_child(cmd + extra)
            print(
                f"command {' '.join(['entropy', *extra])}: exit {code}, {wall:.2f} s, peak RSS {rss:.0f} MB"
            )
    finally:
        if not opts.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
