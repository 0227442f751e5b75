#!/usr/bin/env python3
"""Benchmark of `evidence-viewer info` (issue 2): wall time and peak RSS on large generated inputs.

Not a test: a script that prints numbers. Each case runs the real command in a child process and reads
the child's peak RSS from wait4(). Targets (DESIGN.md / issue 2): under 1 s and 150 MB for `info` on
an 8 GiB sparse file and on a minidump with 100,000 Memory64List ranges. `info` hashes the whole file
by default (forensic practice); hashing is measured separately in MB/s, and the structure-only time is
`info --no-hash`.

Usage: .venv/bin/python tests/bench/bench_info.py [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.builders.minidump import build_minidump  # noqa: E402

GiB = 1024**3
TARGET_SECONDS, TARGET_MB = 1.0, 150


def run(cmd: list[str]) -> tuple[float, float, int]:
    """Run ``cmd``; return wall seconds, peak RSS in MB and the exit code."""
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.execv(cmd[0], cmd)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    return wall, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def sparse_raw(path: Path, size: int) -> None:
    with open(path, "wb") as fh:
        fh.truncate(size)
        fh.seek(size // 2)
        fh.write(b"not all zeros")


def sparse_elf_core(path: Path, size: int) -> None:
    """A 64-bit ELF core with one PT_LOAD spanning ``size`` sparse bytes."""
    ehdr = struct.pack(
        "<4sBBBBB7sHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0, 0, b"\0" * 7, 4, 62, 1, 0, 64, 0, 0, 64, 56, 1, 0, 0, 0
    )
    phdr = struct.pack("<IIQQQQQQ", 1, 6, 4096, 0x7F0000000000, 0, size - 4096, size - 4096, 4096)
    with open(path, "wb") as fh:
        fh.write(ehdr + phdr)
        fh.truncate(size)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="ev-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    exe = str(Path(sys.executable).with_name("evidence-viewer"))

    cases: list[tuple[str, Path]] = []
    raw = work / "sparse-8g.img"
    sparse_raw(raw, 8 * GiB)
    cases.append(("raw, 8 GiB sparse", raw))
    core = work / "sparse-8g.core"
    sparse_elf_core(core, 8 * GiB)
    cases.append(("ELF core, one 8 GiB PT_LOAD (sparse)", core))
    mdmp = work / "memory64-100k.dmp"
    data, _ = build_minidump(100_000, range_size=64, memory_info=True)
    mdmp.write_bytes(data)
    cases.append(("minidump, 100,000 Memory64List ranges + MemoryInfoList", mdmp))

    print(f"evidence-viewer info benchmark  (python {sys.version.split()[0]}, {os.cpu_count()} cpus)")
    print(f"target: < {TARGET_SECONDS:.1f} s and < {TARGET_MB} MB peak RSS per `info --no-hash`\n")
    print(f"{'input':<55} {'mode':<16} {'wall s':>8} {'peak MB':>8} {'MB/s':>9}  verdict")
    failures = 0
    for label, path in cases:
        size_mb = path.stat().st_size / 1e6
        for mode, extra in (("--no-hash", ["--no-hash"]), ("--no-hash --json", ["--no-hash", "--json"])):
            wall, rss, rc = run([exe, "info", *extra, str(path)])
            ok = rc == 0 and wall < TARGET_SECONDS and rss < TARGET_MB
            failures += not ok
            print(f"{label:<55} {mode:<16} {wall:8.3f} {rss:8.1f} {'':>9}  {'ok' if ok else 'MISSED'} (rc={rc})")
        if path.stat().st_size <= 8 * GiB:
            wall, rss, rc = run([exe, "info", str(path)])
            print(f"{label:<55} {'with sha256':<16} {wall:8.3f} {rss:8.1f} {size_mb / wall:9.0f}  (hash-bound, rc={rc})")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{failures} case(s) missed the target")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
