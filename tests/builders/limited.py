"""Run a piece of work on one file in a child process with hard limits on memory and CPU.

Why a child: a regression in a parser facing hostile input must fail the test, not the machine (eight
engineers share two cores and 23 GB). The child gets ``RLIMIT_AS`` and ``RLIMIT_CPU`` before it starts,
the parent a wall-clock timeout; the child reports its own timing and peak RSS (``getrusage``) as one
JSON line on stdout.

``run_limited(path, task)`` runs one of the ``TASKS`` below; other entry points add their own task
(a function name in an importable module taking the path and returning a JSON-able dict).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ADDRESS_SPACE = 1536 * 1024 * 1024  # RLIMIT_AS: far above the 300 MB target, far below the machine
CPU_SECONDS = 30
WALL_SECONDS = 60.0

CHILD = r"""
import json, resource, sys, time, importlib
module, name, path = sys.argv[1], sys.argv[2], sys.argv[3]
task = getattr(importlib.import_module(module), name)
from tests.builders.limited import reference_work
before = reference_work()
started = time.perf_counter(); cpu0 = time.process_time()
result = task(path)
result["seconds"] = time.perf_counter() - started
result["cpu_seconds"] = time.process_time() - cpu0
result["reference_cpu_seconds"] = (before + reference_work()) / 2
result["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
try:  # ru_maxrss keeps the parent's peak across fork and exec (Linux): VmHWM is this process's own
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            result["peak_rss"] = int(line.split()[1]) * 1024
except OSError:
    pass
print(json.dumps(result))
"""


def reference_work() -> float:
    """CPU seconds of a fixed piece of parse-like work (unpack records, build and walk tree nodes).

    Run in the child just before and after its task, it says how fast a CPU second is on this machine
    right now: a test compares the task's CPU time with the target scaled by how much slower than
    ``REFERENCE_IDLE_SECONDS`` the reference ran, so a loaded machine does not fail a bound that an
    idle one meets, and a parser that really got slower still fails it.
    """
    import struct
    import time

    from viewer.evidence.model import Node

    cpu0 = time.process_time()
    record = struct.Struct("<QQII")
    data = bytes(range(256)) * (record.size * 10_000 // 256 + 1)
    root = Node("reference", 0, len(data))
    for i, (a, b, c, d) in enumerate(record.iter_unpack(memoryview(data)[: record.size * 10_000])):
        fields = {"start": a, "size": b, "rva": c, "flags": d}
        root.children.append(Node(f"[{i}]", i * record.size, record.size, fields["size"],
                                  [Node(k, i * record.size, 8, v) for k, v in fields.items()]))
    sum(1 for _ in root.walk())
    return time.process_time() - cpu0


#: ``reference_work`` on an idle machine of the kind CI runs on (2 cores), measured in the child (cold) 2026-12-04: 0.06 to 0.09 s.
REFERENCE_IDLE_SECONDS = 0.08


def slowdown(result: dict[str, Any]) -> float:
    """How much slower than idle this machine ran the child's reference work (at least 1)."""
    return max(1.0, result.get("reference_cpu_seconds", 0.0) / REFERENCE_IDLE_SECONDS)


def open_fully(path: str) -> dict[str, Any]:
    """What opening costs: open_dump, every node of the structure tree built, every region touched."""
    from viewer.evidence import open_dump

    with open_dump(path) as dump:
        nodes = sum(1 for _ in dump.structure.walk())
        mapped = sum(r.size for r in dump.regions)
        return {"format": dump.format, "nodes": nodes, "regions": len(dump.regions), "mapped": mapped,
                "warnings": list(dump.warnings)}


def baseline(path: str) -> dict[str, Any]:
    """The cost of the child itself (interpreter, imports) for comparison: nothing is opened."""
    import viewer.evidence  # noqa: F401 - the imports are what is measured

    return {"format": None, "warnings": []}


@dataclass
class Outcome:
    """How the child ended; ``result`` is its JSON report when it finished."""

    returncode: int | None
    timed_out: bool
    stderr: str
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and bool(self.result)


def apply_limits(address_space: int, cpu_seconds: int) -> None:
    """The child's limits (a ``preexec_fn``); also used for the command line by tests/hostile/entry.py."""
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))


def run_limited(
    path: Path,
    task: str = "tests.builders.limited:open_fully",
    address_space: int = ADDRESS_SPACE,
    cpu_seconds: int = CPU_SECONDS,
    wall_seconds: float = WALL_SECONDS,
) -> Outcome:
    """Run ``task`` ("module:function") on ``path`` in a limited child; never raises on its failure."""
    module, name = task.split(":")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    try:
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, module, name, str(path)],
            capture_output=True, text=True, timeout=wall_seconds, env=env, cwd=REPO,
            preexec_fn=lambda: apply_limits(address_space, cpu_seconds),
        )
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return Outcome(None, True, err)
    result: dict[str, Any] = {}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and lines:
        result = json.loads(lines[-1])
    return Outcome(proc.returncode, False, proc.stderr[-4000:], result)
