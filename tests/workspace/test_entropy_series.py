"""The entropy plot's maths without Qt, on pyramids of real files: step curves, the finer pass (when,
where, spliced in place of the pyramid), region spans and their merging, hex ticks."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from viewer.evidence import open_dump
from viewer.evidence.model import Region
from viewer.scan.entropy import compute_entropy
from viewer.tasks import TaskState
from viewer.workspace.entropy_series import (
    FINE_MIN_BLOCK,
    FineResult,
    MemoryMap,
    fine_covers,
    hex_label,
    hex_tick_spacing,
    merge_spans,
    offset_series,
    region_spans,
    splice_fine,
    steps,
    vaddr_series,
    want_fine,
)
from viewer.workspace.jobs import fine_entropy_job

KiB = 1024
ISLAND = 0x19320


@pytest.fixture(scope="module")
def island(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 MiB of zeros with a 1 KiB random island at an offset aligned to neither 4 KiB nor 64 bytes."""
    data = bytearray(8 * 1024 * KiB)
    data[ISLAND : ISLAND + KiB] = os.urandom(KiB)
    path = tmp_path_factory.mktemp("series") / "island.bin"
    path.write_bytes(bytes(data))
    return path


def test_steps_and_the_offset_series_cover_the_file(island: Path) -> None:
    x, a, b = steps(np.array([0.0, 4.0]), np.array([4.0, 8.0]), np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    assert x.tolist() == [0, 4, 4, 8] and a.tolist() == [1, 1, 2, 2] and b.tolist() == [3, 3, 4, 4]
    with open_dump(island) as dump:
        p = compute_entropy(dump.source)
    x, mean, mx = offset_series(p, 0, p.size, 900)
    starts, ends = x[0::2], x[1::2]
    assert starts[0] == 0 and ends[-1] == p.size and np.all(starts[1:] == ends[:-1])
    assert len(starts) <= 2 * 900 and np.all(mx >= mean - 1e-6)
    spike = (starts <= ISLAND) & (ISLAND < ends)
    assert mx[0::2][spike][0] > 1.0 and mean[0::2][~spike].max() < 1e-6


def test_the_fine_pass_is_asked_for_when_blocks_are_fewer_than_pixels(island: Path) -> None:
    with open_dump(island) as dump:
        p = compute_entropy(dump.source)
        mem = MemoryMap()
        assert want_fine(p, "offset", mem, 0, p.size, 900) is None  # 2048 blocks > 900 pixels
        lo, hi = ISLAND - 8 * KiB, ISLAND + 8 * KiB
        req, v0, v1 = want_fine(p, "offset", mem, lo, hi, 850)
        assert req.block == FINE_MIN_BLOCK and (v0, v1) == (lo, hi)
        assert req.start <= lo and hi <= req.end and req.start % req.block == 0
        assert fine_covers(req, req, v0, v1) and not fine_covers(None, req, v0, v1)
        fine = fine_entropy_job(TaskState(), dump, req)
    assert isinstance(fine, FineResult) and fine.values.size == -(-(req.end - req.start) // req.block)
    value, block = fine.entropy_at(ISLAND + 100)
    assert block == 64 and 5.0 < value <= 6.0 + 1e-6
    assert fine.entropy_at(req.end) is None
    x, mean, _ = offset_series(p, lo, hi, 850, fine)
    starts, ends = x[0::2], x[1::2]
    inside = (starts >= lo) & (ends <= hi)
    np.testing.assert_array_equal((ends - starts)[inside], 64)
    high = inside & (mean[0::2] > 0.5)
    assert ISLAND - 64 < starts[high].min() <= ISLAND and ISLAND + KiB <= ends[high].max() < ISLAND + KiB + 64
    # a fine result of another mode or shift is not spliced in
    s = p.range(lo, hi, 10)
    same = splice_fine(fine, "vaddr", s.x, s.x + s.span, s.mean, s.max, lo, hi, 0)
    assert same[0] is s.x


def test_regions_spans_merge_and_vaddr_series(island: Path) -> None:
    regions = [Region(0, 64 * KiB, 0x400000, "memory", "A"), Region(64 * KiB, 64 * KiB, 0x500000, "stack", "B"),
               Region(128 * KiB, 4 * KiB, None, "header", "H")]
    mem = MemoryMap.of(regions)
    assert [r.name for r in mem.regions] == ["A", "B"] and mem.extent() == (0x400000, 0x510000)
    spans = region_spans(regions, "offset")
    assert set(spans) == {"memory", "stack", "header"} and spans["header"][0].tolist() == [128 * KiB]
    assert region_spans(regions, "vaddr", mem)["stack"][0].tolist() == [0x500000]
    a, b = merge_spans(np.array([0.0, 10.0, 10.5, 100.0]), np.array([10.0, 10.4, 20.0, 110.0]), 0, 200, 1.0)
    assert a.tolist() == [0.0, 100.0] and b.tolist() == [20.0, 110.0]
    with open_dump(island) as dump:
        p = compute_entropy(dump.source)
    series = vaddr_series(p, mem, 0x400000, 0x510000, 900, (0x510000 - 0x400000) / 900)
    finite = np.isfinite(series.x)
    assert series.x[finite].min() >= 0x400000 and series.x[finite].max() <= 0x510000
    assert np.isnan(series.x).sum() == 2  # one NaN after each region's steps
    one = want_fine(p, "vaddr", mem, 0x400000, 0x404000, 900)
    assert one is not None and one[0].shift == 0x400000 and one[0].end <= 64 * KiB
    assert want_fine(p, "vaddr", mem, 0x400000, 0x510000, 900) is None  # two regions: the pyramid only


def test_hex_axis() -> None:
    assert hex_label(4096.2) == "0x1000" and hex_label(float("nan")) == "" and hex_label(-1) == ""
    levels = hex_tick_spacing(0, 1 << 20, 900)
    assert levels is not None and levels[0][0] == 2 ** int(np.log2(levels[0][0]))
    assert hex_tick_spacing(5, 5, 900) is None
