"""Comparing a dump with its redacted copy, without Qt: where the bytes differ, as runs.

A redaction overwrites each key's bytes and nothing else, so the runs of changed bytes are exactly what
the redaction did — the examiner walks them ("next changed run") to see that every secret is gone and
nothing else was touched. A run is changed bytes with at most :data:`GAP` equal bytes inside it (an
overwrite with zeros leaves the key's own zero bytes equal: one run, not many). Bytes past the end of the
shorter file are one last run. Reads both files in chunks (a few MiB of memory whatever their size),
with progress and cancel (:class:`~viewer.tasks.TaskState`); at most :data:`MAX_RUNS` runs are listed.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from viewer.tasks import TaskState

CHUNK = 4 << 20
GAP = 16
MAX_RUNS = 100_000


@dataclass
class Comparison:
    """Changed runs ``(offset, length)`` in file order, sizes of both files, and whether the list is capped."""

    size_a: int
    size_b: int
    runs: list[tuple[int, int]] = field(default_factory=list)
    capped: bool = False

    @property
    def changed_bytes(self) -> int:
        return sum(length for _, length in self.runs)

    def next_run(self, offset: int) -> tuple[int, int] | None:
        """The first run starting after ``offset`` (None past the last)."""
        i = bisect.bisect_right([r[0] for r in self.runs], offset)
        return self.runs[i] if i < len(self.runs) else None

    def previous_run(self, offset: int) -> tuple[int, int] | None:
        """The last run starting before ``offset``."""
        i = bisect.bisect_left([r[0] for r in self.runs], offset) - 1
        return self.runs[i] if i >= 0 else None

    def index_of(self, offset: int) -> int:
        """The run holding ``offset`` (-1 when none does)."""
        i = bisect.bisect_right([r[0] for r in self.runs], offset) - 1
        if i >= 0 and offset < self.runs[i][0] + self.runs[i][1]:
            return i
        return -1

    def summary(self) -> str:
        if not self.runs:
            return "identical" if self.size_a == self.size_b else "sizes differ"
        more = " (first runs only)" if self.capped else ""
        return f"{len(self.runs)} changed run{'s' if len(self.runs) != 1 else ''}, {self.changed_bytes} bytes{more}"


def _add(runs: list[tuple[int, int]], start: int, end: int) -> None:
    """Append ``[start, end)``, merged with the last run when at most GAP equal bytes lie between."""
    if runs and start - (runs[-1][0] + runs[-1][1]) <= GAP:
        runs[-1] = (runs[-1][0], end - runs[-1][0])
    else:
        runs.append((start, end - start))


def changed_runs(state: TaskState | None, a: Any, b: Any, chunk: int = CHUNK) -> Comparison:
    """The runs where ``a`` and ``b`` (anything with ``size`` and ``read(offset, length)``: Dumps) differ."""
    size_a, size_b = int(a.size), int(b.size)
    common = min(size_a, size_b)
    out = Comparison(size_a, size_b)
    offset = 0
    while offset < common:
        if state is not None:
            state.check()
        n = min(chunk, common - offset)
        x = np.frombuffer(a.read(offset, n), dtype=np.uint8)
        y = np.frombuffer(b.read(offset, n), dtype=np.uint8)
        diff = np.flatnonzero(x != y)
        if diff.size:
            # boundaries of consecutive differing bytes (gaps merged by _add)
            breaks = np.flatnonzero(np.diff(diff) > 1)
            starts = np.concatenate(([diff[0]], diff[breaks + 1]))
            ends = np.concatenate((diff[breaks] + 1, [diff[-1] + 1]))
            for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
                _add(out.runs, offset + s, offset + e)
                if len(out.runs) > MAX_RUNS:
                    out.runs.pop()
                    out.capped = True
                    return out
        offset += n
        if state is not None:
            state.progress(offset, max(size_a, size_b))
    if size_a != size_b:
        _add(out.runs, common, max(size_a, size_b))
    return out


__all__ = ["CHUNK", "GAP", "MAX_RUNS", "Comparison", "changed_runs"]
