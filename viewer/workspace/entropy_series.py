"""The entropy plot's maths without Qt: curves from the pyramid, the finer pass, region shading spans.

The plot (:mod:`viewer.gui.entropy_plot`) draws what these functions compute; they take the pyramid
(:class:`viewer.scan.entropy.EntropyPyramid`), the visible x range and the plot's width in pixels:

* :func:`offset_series` / :func:`vaddr_series` — the curves at about one point per pixel, each point a
  flat step over the bytes it covers (x values in pairs: start, end); in vaddr mode a NaN ends each
  region's steps, regions narrower than 3 pixels become dots at their mean, and with more regions than
  half the pixels each region is one flat segment at its mean;
* :func:`want_fine`, :func:`fine_covers`, :func:`splice_fine` — when the view covers fewer pyramid
  blocks than pixels, which byte range to measure at a smaller block (:class:`FineRequest`), whether a
  pass already in hand covers the view, and the coarse steps with the fine result put in their place;
* :class:`MemoryMap`, :func:`region_spans`, :func:`merge_spans` — regions by address, the shaded spans of
  each region kind, and the visible spans merged where they are closer than a pixel (100,000 regions of a
  full-memory dump paint as at most a few thousand rectangles);
* :func:`hex_label`, :func:`hex_tick_spacing` — hex axis ticks on powers of two.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from viewer.scan.entropy import EntropyPyramid

MODES = ("offset", "vaddr")
MIN_POINTS = 100
FINE_MIN_BLOCK = 64  # smallest fine block (at most 6 bits/byte)
FINE_MAX_BYTES = 64 * 1024 * 1024  # bytes read by one fine pass, at most
FINE_CHUNK = 4 * 1024 * 1024  # bytes per read, cancel checked between reads

Arrays = tuple[np.ndarray, ...]


@dataclass(frozen=True)
class FineRequest:
    """A fine pass: file bytes [start, end) at ``block`` bytes per value, drawn at x = offset + shift
    (shift 0 in offset mode; ``vaddr - file_offset`` of the one region in vaddr mode)."""

    mode: str
    start: int
    end: int
    block: int
    shift: int = 0


@dataclass(frozen=True)
class FineResult:
    """Entropy of each ``request.block`` bytes of [request.start, request.end) (the last may be
    shorter, at the end of the file)."""

    request: FineRequest
    values: np.ndarray

    def entropy_at(self, offset: int) -> tuple[float, int] | None:
        """(entropy, block size) of the fine block holding file ``offset`` (None outside the pass)."""
        r = self.request
        if not r.start <= offset < r.end:
            return None
        i = (offset - r.start) // r.block
        return (float(self.values[i]), r.block) if i < self.values.size else None


# -- axis ------------------------------------------------------------------------------------------
def hex_label(value: float) -> str:
    if not math.isfinite(value) or value < 0:
        return ""
    return f"{round(value):#x}"


def hex_tick_spacing(min_val: float, max_val: float, size: float) -> list[tuple[float, float]] | None:
    """Major (and minor) tick spacings on powers of two for a hex axis ``size`` pixels long; None when
    the range is empty or not finite (the caller's default applies)."""
    span = max_val - min_val
    if not (span > 0 and math.isfinite(span)) or size <= 0:
        return None
    ticks = max(2.0, size / 130.0)  # hex labels of 64-bit addresses need ~100 px each
    major = float(2 ** max(0, math.ceil(math.log2(span / ticks))))
    levels = [(major, 0.0)]
    if major >= 4:
        levels.append((major / 4, 0.0))
    return levels


# -- regions ---------------------------------------------------------------------------------------
@dataclass
class MemoryMap:
    """The regions with an address, sorted by vaddr, as arrays (``va0``, ``va1``, ``fo0``)."""

    regions: list[Any] = field(default_factory=list)
    va0: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.float64))
    va1: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.float64))
    fo0: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    @classmethod
    def of(cls, regions: Iterable[Any]) -> MemoryMap:
        mem = sorted((r for r in regions if r.vaddr is not None and r.size > 0), key=lambda r: r.vaddr)
        return cls(
            mem,
            np.array([float(r.vaddr) for r in mem], dtype=np.float64),
            np.array([float(r.vaddr + r.size) for r in mem], dtype=np.float64),
            np.array([r.file_offset for r in mem], dtype=np.int64),
        )

    def __bool__(self) -> bool:
        return bool(self.va0.size)

    def extent(self) -> tuple[float, float] | None:
        return (float(self.va0.min()), float(self.va1.max())) if self else None

    def visible(self, x0: float, x1: float) -> np.ndarray:
        """Indices of the regions overlapping [x0, x1]."""
        return np.flatnonzero((self.va1 > x0) & (self.va0 < x1))


def region_spans(regions: Iterable[Any], mode: str, mem: MemoryMap | None = None
                 ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per region kind, the sorted (starts, ends) of its regions on the x axis of ``mode``."""
    by_kind: dict[str, list[tuple[float, float]]] = {}
    if mode == "offset":
        for r in regions:
            if r.size > 0:
                by_kind.setdefault(r.kind, []).append((float(r.file_offset), float(r.file_offset + r.size)))
    else:
        for r in (mem if mem is not None else MemoryMap.of(regions)).regions:
            by_kind.setdefault(r.kind, []).append((float(r.vaddr), float(r.vaddr + r.size)))
    out = {}
    for kind, spans in sorted(by_kind.items()):
        arr = np.array(sorted(spans), dtype=np.float64)
        out[kind] = (arr[:, 0].copy(), arr[:, 1].copy())
    return out


def merge_spans(starts: np.ndarray, ends: np.ndarray, x0: float, x1: float, px: float) -> tuple[np.ndarray, np.ndarray]:
    """The spans visible in [x0, x1] (``starts`` sorted), those closer than ``px`` merged."""
    vis = (ends > x0) & (starts < x1)
    a, b = starts[vis], ends[vis]
    if a.size > 1:
        reach = np.maximum.accumulate(b)  # starts are sorted; the furthest end so far
        new = np.concatenate(([True], a[1:] > reach[:-1] + px))
        idx = np.flatnonzero(new)
        a = a[idx]
        b = np.maximum.reduceat(b, idx)
    return a, b


# -- curves ----------------------------------------------------------------------------------------
def steps(starts: np.ndarray, ends: np.ndarray, *values: np.ndarray) -> Arrays:
    """x = start0, end0, start1, end1, ...; each value repeated: a flat step per point."""
    x = np.stack([starts, ends], axis=1).reshape(-1).astype(np.float64)
    return (x, *(np.repeat(v.astype(np.float64), 2) for v in values))


def region_means(p: EntropyPyramid, fo0: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Mean level-0 entropy of each region (vectorised over regions)."""
    b0 = np.minimum(fo0 // p.block, p.blocks).astype(np.int64)
    b1 = np.minimum(-(-(fo0 + size.astype(np.int64)) // p.block), p.blocks).astype(np.int64)
    cs = getattr(p, "_cumsum", None)  # the pyramid's float64 prefix sums of level 0, when it has them
    if cs is None or len(cs) != p.blocks + 1:
        cs = np.concatenate(([0.0], np.cumsum(p.values, dtype=np.float64)))
    return (cs[b1] - cs[b0]) / np.maximum(b1 - b0, 1)


def splice_fine(fine: FineResult | None, mode: str, starts: np.ndarray, ends: np.ndarray, mean: np.ndarray,
                mx: np.ndarray, x0: float, x1: float, shift: int) -> Arrays:
    """Coarse steps [starts, ends) with the fine result put in place of them over its bytes (the
    coarse steps cut at its edges); only the fine blocks in [x0, x1] (one more each side) are kept.
    ``shift`` maps these steps' file offsets to x: the fine result applies only if it has the same."""
    if fine is None or fine.request.mode != mode or fine.request.shift != shift or not starts.size:
        return starts, ends, mean, mx
    r = fine.request
    fx0, fx1 = float(r.start + shift), float(r.end + shift)
    if fx1 <= float(starts[0]) or fx0 >= float(ends[-1]):
        return starts, ends, mean, mx
    i0 = max(0, math.floor((x0 - fx0) / r.block) - 1)
    i1 = min(fine.values.size, math.ceil((x1 - fx0) / r.block) + 1)
    if i1 <= i0:
        return starts, ends, mean, mx
    fs = np.arange(i0, i1, dtype=np.int64) * r.block + r.start
    fe = np.minimum(fs + r.block, r.end)
    fv = fine.values[i0:i1]
    left = starts < fx0
    right = ends > fx1
    return (
        np.concatenate((starts[left], (fs + shift).astype(np.float64), np.maximum(starts[right], fx1))),
        np.concatenate((np.minimum(ends[left], fx0), (fe + shift).astype(np.float64), ends[right])),
        np.concatenate((mean[left], fv, mean[right])),
        np.concatenate((mx[left], fv, mx[right])),
    )


def offset_series(p: EntropyPyramid, x0: float, x1: float, points: int, fine: FineResult | None = None) -> Arrays:
    """(x, mean, max) of the offset-mode curves over [x0, x1] at about ``points`` points."""
    s = p.range(max(0, math.floor(x0)), math.ceil(x1) + 1, points)
    parts = splice_fine(fine, "offset", s.x, np.minimum(s.x + s.span, p.size), s.mean, s.max, x0, x1, 0)
    return steps(*parts)


@dataclass
class VaddrSeries:
    """The vaddr-mode curves (x, mean, max; NaN between regions) and the dots of narrow regions."""

    x: np.ndarray
    mean: np.ndarray
    max: np.ndarray
    dot_x: np.ndarray
    dot_y: np.ndarray


def vaddr_series(p: EntropyPyramid, mem: MemoryMap, x0: float, x1: float, points: int, px: float,
                 fine: FineResult | None = None) -> VaddrSeries:
    """The vaddr-mode curves over [x0, x1] at about ``points`` points, ``px`` x units a pixel."""
    empty = np.empty(0)
    out = VaddrSeries(empty, empty, empty, empty, empty)
    if not mem:
        return out
    visible = np.flatnonzero((mem.va1 > x0) & (mem.va0 < x1) & (mem.fo0 < p.size))
    if not visible.size:
        return out
    va0, va1, fo0 = mem.va0[visible], mem.va1[visible], mem.fo0[visible]
    # regions too narrow to show a curve at this zoom get a dot at their mean
    narrow = (va1 - va0) < 3 * px
    if narrow.any():
        means = region_means(p, fo0[narrow], va1[narrow] - va0[narrow])
        centres = (va0[narrow] + va1[narrow]) / 2.0
        if centres.size > points:  # more dots than pixels: keep the highest per pixel column
            cols = np.floor((centres - x0) / px).astype(np.int64)
            order = np.lexsort((-means, cols))
            keep = order[np.concatenate(([True], cols[order][1:] != cols[order][:-1]))]
            centres, means = centres[keep], means[keep]
        out.dot_x, out.dot_y = centres, means
    if visible.size * 2 > points:  # one flat segment per region, at its mean (max = mean here)
        mean = region_means(p, fo0, va1 - va0)
        xs = np.stack([va0, va1, va1], axis=1).reshape(-1)
        ys = np.stack([mean, mean, np.full_like(mean, np.nan)], axis=1).reshape(-1)
        out.x, out.mean, out.max = xs, ys, ys.copy()
        return out
    lo = np.maximum(va0, x0)
    hi = np.minimum(va1, x1)
    total = float(np.sum(hi - lo)) or 1.0
    xs_parts: list[np.ndarray] = []
    mean_parts: list[np.ndarray] = []
    max_parts: list[np.ndarray] = []
    nan = np.array([np.nan])
    for idx, a0, a1, f0, v_lo, v_hi in zip(
        visible.tolist(), va0.tolist(), va1.tolist(), fo0.tolist(), lo.tolist(), hi.tolist(), strict=True
    ):
        budget = max(2, int(points * (v_hi - v_lo) / total))
        f_lo = int(f0 + (v_lo - a0))
        f_hi = int(f0 + (v_hi - a0))
        s = p.range(f_lo, max(f_hi, f_lo + 1), budget)
        if not s.x.size:
            continue
        starts = np.clip(a0 + (s.x - f0), a0, a1)
        ends = np.clip(a0 + (np.minimum(s.x + s.span, p.size) - f0), a0, a1)
        region = mem.regions[idx]
        x, mean, mx = steps(
            *splice_fine(fine, "vaddr", starts, ends, s.mean, s.max, x0, x1, region.vaddr - region.file_offset)
        )
        xs_parts += [x, nan]
        mean_parts += [mean, nan]
        max_parts += [mx, nan]
    if xs_parts:
        out.x, out.mean, out.max = (np.concatenate(xs_parts), np.concatenate(mean_parts),
                                    np.concatenate(max_parts))
    return out


# -- the fine pass ---------------------------------------------------------------------------------
def want_fine(p: EntropyPyramid, mode: str, mem: MemoryMap, x0: float, x1: float, width: int
              ) -> tuple[FineRequest, int, int] | None:
    """The fine pass the view [x0, x1] at ``width`` pixels calls for, and the visible file bytes
    [v0, v1) it must cover; None when the pyramid already gives a block per pixel (or vaddr mode
    shows more than one region, or the view holds more than FINE_MAX_BYTES)."""
    span = x1 - x0
    if width <= 0 or not (span > 0 and math.isfinite(span)) or span >= width * p.block:
        return None
    block = FINE_MIN_BLOCK
    while block * 2 <= span / width:
        block *= 2
    if block >= p.block:
        return None
    if mode == "offset":
        lo, hi, shift = 0, p.size, 0
    else:
        if not mem:
            return None
        vis = mem.visible(x0, x1)
        if vis.size != 1:  # two regions or more: not one run of file bytes; the pyramid only
            return None
        region = mem.regions[int(vis[0])]
        shift = region.vaddr - region.file_offset
        lo, hi = region.file_offset, min(region.file_offset + region.size, p.size)
    v0 = max(lo, math.floor(x0) - shift)
    v1 = min(hi, math.ceil(x1) - shift)
    if v1 <= v0 or v1 - v0 > FINE_MAX_BYTES:
        return None
    pad = min((v1 - v0) // 2, (FINE_MAX_BYTES - (v1 - v0)) // 2)
    start = lo + (max(lo, v0 - pad) - lo) // block * block
    end = min(hi, start + -(-(min(hi, v1 + pad) - start) // block) * block)
    return FineRequest(mode, start, end, block, shift), v0, v1


def fine_covers(req: FineRequest | None, want: FineRequest, v0: int, v1: int) -> bool:
    """Whether the pass ``req`` (drawn or in flight) serves the view that calls for ``want``."""
    return (
        req is not None
        and (req.mode, req.block, req.shift) == (want.mode, want.block, want.shift)
        and req.start <= v0
        and v1 <= req.end
    )


def finding_points(findings: Sequence[Any], x_for_offset: Any) -> tuple[np.ndarray, list[Any]]:
    """The x of each finding that has one (``x_for_offset(offset)`` not None), sorted, and the findings
    in that order."""
    xs: list[float] = []
    objs: list[Any] = []
    for f in findings:
        x = x_for_offset(int(f.offset))
        if x is not None:
            xs.append(x)
            objs.append(f)
    order = np.argsort(np.array(xs, dtype=np.float64), kind="stable")
    return np.array(xs, dtype=np.float64)[order], [objs[i] for i in order.tolist()]


def nearest(xs: np.ndarray, x: float, within: float) -> int | None:
    """Index of the value of sorted ``xs`` nearest to ``x`` when it is within ``within`` (else None)."""
    if not xs.size:
        return None
    i = int(np.searchsorted(xs, x))
    best = min((j for j in (i - 1, i) if 0 <= j < xs.size), key=lambda j: abs(xs[j] - x))
    return best if abs(xs[best] - x) <= within else None
