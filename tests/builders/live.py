"""Dumps of live processes made here and now: gdb's ``gcore`` of a process the test started.

One home for how a test dumps a process, so every live-process test (parsers, detectors, redaction)
fails the same clear way when gdb is missing or ptrace is refused.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

GDB = shutil.which("gdb")


def gcore(pid: int, out: Path, timeout: float = 180) -> Path:
    """Dump process ``pid`` to ``out`` with gdb (installed by `make test`); a failure fails the test."""
    assert GDB is not None, "gdb is not installed: `make deps` installs it"
    proc = subprocess.run([GDB, "-batch", "-nx", "-p", str(pid), "-ex", f"gcore {out}"],
                          capture_output=True, text=True, timeout=timeout)
    if not out.exists() or out.stat().st_size == 0:
        pytest.fail(f"gdb could not dump pid {pid} (ptrace not permitted?): {proc.stderr.strip()[-300:]}")
    return out


def dump_holder(script: str, args: list[str], core: Path) -> Path:
    """Run the Python ``script`` (it prints ``ready`` once its secrets are in memory, then waits), dump it
    to ``core`` with gcore, and stop it."""
    import sys

    proc = subprocess.Popen([sys.executable, "-c", script, *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        return gcore(proc.pid, core)
    finally:
        proc.kill()
        proc.wait()
