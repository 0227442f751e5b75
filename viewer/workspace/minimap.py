"""The minimap beside the hex view, without Qt: the whole file as a strip of ``rows`` pixel rows, each with
the entropy of its bytes, the kind of region it falls in and the findings it holds.

Row ``i`` of a strip of ``rows`` covers file bytes ``[i * size // rows, (i + 1) * size // rows)``.
Entropy per row is the *highest* block entropy in the row (the entropy pyramid's maxima), so a 256-byte
key in a 64 MiB row of zeros still shows; region kind is the kind at the row's middle byte. Cost: one
pass over the pyramid's chosen level (at most a few thousand points) and one region look-up per row —
independent of the file's size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MAX_ROWS = 8192


@dataclass
class Strip:
    """What a minimap of ``rows`` rows over a file of ``size`` bytes paints."""

    size: int
    rows: int
    entropy: list[float | None] = field(default_factory=list)  # bits/byte per row, None: not known yet
    kinds: list[str | None] = field(default_factory=list)  # region kind per row, None: in no region
    marks: list[tuple[int, int, Any]] = field(default_factory=list)  # (first row, last row, finding)


def row_start(size: int, rows: int, row: int) -> int:
    """The file offset where ``row`` starts."""
    return int(row) * int(size) // max(1, int(rows))


def row_of(size: int, rows: int, offset: int) -> int:
    """The row holding byte ``offset`` (clamped to the strip)."""
    if size <= 0 or rows <= 0:
        return 0
    offset = max(0, min(int(offset), size - 1))
    row = offset * rows // size
    while row + 1 < rows and row_start(size, rows, row + 1) <= offset:
        row += 1
    while row > 0 and row_start(size, rows, row) > offset:
        row -= 1
    return row


def offset_at(size: int, rows: int, y: float) -> int:
    """The file offset a click at pixel row ``y`` (0 at the top) means: the start of that row."""
    if size <= 0 or rows <= 0:
        return 0
    row = max(0, min(int(y), rows - 1))
    return min(size - 1, row_start(size, rows, row))


def row_entropy(size: int, rows: int, pyramid: Any) -> list[float | None]:
    """Highest block entropy per row from an :class:`~viewer.scan.entropy.EntropyPyramid` (None: no pyramid,
    or a row past what an incomplete pyramid covers)."""
    if pyramid is None or size <= 0 or rows <= 0:
        return [None] * max(0, rows)
    series = pyramid.range(0, size, max_points=max(rows, 1) * 2)
    xs = np.asarray(series.x, dtype=np.int64)
    peaks = np.asarray(series.max, dtype=np.float64)
    if xs.size == 0:
        return [None] * rows
    starts = np.array([row_start(size, rows, r) for r in range(rows)], dtype=np.int64)
    first = np.clip(np.searchsorted(xs, starts, side="right") - 1, 0, xs.size - 1)
    top = np.maximum.reduceat(peaks, first)
    covered = int(getattr(pyramid, "size", size))
    return [float(v) if s < covered else None for v, s in zip(top, starts, strict=True)]


def build_strip(size: int, rows: int, region_at: Callable[[int], Any] | None = None, pyramid: Any = None,
                findings: Iterable[Any] = ()) -> Strip:
    """The strip of ``rows`` rows (at most :data:`MAX_ROWS`) for a file of ``size`` bytes."""
    rows = max(0, min(int(rows), MAX_ROWS))
    strip = Strip(size, rows)
    if rows == 0 or size <= 0:
        return strip
    strip.entropy = row_entropy(size, rows, pyramid)
    kinds: list[str | None] = []
    for r in range(rows):
        middle = (row_start(size, rows, r) + row_start(size, rows, r + 1)) // 2
        region = region_at(min(size - 1, middle)) if region_at is not None else None
        kinds.append(getattr(region, "kind", None))
    strip.kinds = kinds
    strip.marks = [(row_of(size, rows, f.offset), row_of(size, rows, f.offset + max(1, f.length) - 1), f)
                   for f in findings]
    return strip


def marks_at(strip: Strip, row: int, slack: int = 2) -> Sequence[Any]:
    """The findings marked within ``slack`` rows of ``row`` (what a hover names)."""
    return [f for first, last, f in strip.marks if first - slack <= row <= last + slack]


__all__ = ["MAX_ROWS", "Strip", "build_strip", "marks_at", "offset_at", "row_entropy", "row_of", "row_start"]
