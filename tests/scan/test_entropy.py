"""Entropy per block, the zoom pyramid and high-entropy runs (no mocks); the `evidence-viewer entropy`
command is tested in tests/cli/test_entropy_cli.py."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from viewer.evidence import ByteSource
from viewer.scan.entropy import (
    EntropyPyramid,
    block_entropy,
    check_block,
    compute_entropy,
    high_entropy_regions,
)
from viewer.tasks import TaskState

TEXT = (
    b"It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
    b"foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light. "
)


def reference_entropy(data: bytes) -> float:
    counts = np.bincount(np.frombuffer(data, np.uint8), minlength=256)
    p = counts[counts > 0] / len(data)
    return float(-(p * np.log2(p)).sum())


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    path.chmod(0o444)
    return path


def pyramid_of(path: Path, block: int = 4096, state=None) -> EntropyPyramid:
    with ByteSource(path) as src:
        return compute_entropy(src, block, state)


def test_known_values(tmp_path: Path):
    rng = np.random.default_rng(7)
    text = (TEXT * 200)[:8192]
    data = bytes(4096) + bytes(range(256)) * 16 + rng.integers(0, 256, 4096, dtype=np.uint8).tobytes() + text
    pyr = pyramid_of(write(tmp_path, "known.bin", data))
    v = pyr.level(0).mean
    assert v[0] == 0.0
    assert v[1] == pytest.approx(8.0, abs=1e-6)
    assert v[2] > 7.9
    assert 3.0 < v[3] < 5.5 and 3.0 < v[4] < 5.5
    for i in range(5):
        assert v[i] == pytest.approx(reference_entropy(data[i * 4096 : (i + 1) * 4096]), abs=1e-5)


def test_block_entropy_matches_file_pass_and_reference(tmp_path: Path):
    rng = np.random.default_rng(1)
    data = rng.integers(0, 40, 300_001, dtype=np.uint8).tobytes()  # not a multiple of any block size
    for block in (256, 1024, 4096, 65536, 131072):
        direct = block_entropy(data, block)
        pyr = pyramid_of(write(tmp_path, f"b{block}.bin", data), block)
        assert pyr.blocks == math.ceil(len(data) / block) == direct.size
        assert np.allclose(direct, pyr.values, atol=1e-6)
        last = data[(pyr.blocks - 1) * block :]
        assert pyr.values[-1] == pytest.approx(reference_entropy(last), abs=1e-5)  # partial block: own length


def test_partial_last_block(tmp_path: Path):
    data = bytes(4096) + bytes(range(256))  # 4352 bytes: one whole block, one of 256 bytes
    pyr = pyramid_of(write(tmp_path, "partial.bin", data))
    assert pyr.blocks == 2 and pyr.size == 4352 and pyr.complete
    assert pyr.values[1] == pytest.approx(8.0, abs=1e-6)


def test_empty_file(tmp_path: Path):
    pyr = pyramid_of(write(tmp_path, "empty.bin", b""))
    assert pyr.blocks == 0 and pyr.mean == 0.0 and pyr.complete
    assert high_entropy_regions(pyr) == []
    assert pyr.range(0, 100, 10).x.size == 0
    assert pyr.level(0).mean.size == 0


def test_random_island_reported_exactly(tmp_path: Path):
    rng = np.random.default_rng(3)
    island_at, island_len = 37 * 4096, 11 * 4096
    data = bytearray((TEXT * 5000)[: 100 * 4096])
    data[island_at : island_at + island_len] = rng.integers(0, 256, island_len, dtype=np.uint8).tobytes()
    data[90 * 4096 : 90 * 4096 + 200] = bytes(200)
    pyr = pyramid_of(write(tmp_path, "island.bin", bytes(data)))
    (run,) = high_entropy_regions(pyr)
    assert (run.offset, run.length) == (island_at, island_len)
    assert 7.9 < run.mean <= run.max <= 8.0
    assert high_entropy_regions(pyr, threshold=7.99) == []
    assert high_entropy_regions(pyr, min_length=island_len + 1) == []


def test_island_in_last_partial_block_is_clipped(tmp_path: Path):
    data = bytes(8192) + os.urandom(3000)
    pyr = pyramid_of(write(tmp_path, "tail.bin", data))
    (run,) = high_entropy_regions(pyr, threshold=7.0)
    assert (run.offset, run.length) == (8192, 3000)


def test_pyramid_levels_consistent():
    rng = np.random.default_rng(11)
    for n in (1, 2, 3, 1000, 1025, 4096):
        v = (rng.random(n) * 8).astype(np.float32)
        pyr = EntropyPyramid(v, 4096, n * 4096 - 100)
        assert pyr.level(pyr.levels - 1).mean.size == 1
        for k in range(pyr.levels):
            s = pyr.level(k)
            span = 1 << k
            assert s.span == 4096 * span and s.mean.size == math.ceil(n / span)
            assert np.array_equal(s.x, np.arange(s.mean.size) * 4096 * span)
            for i in range(s.mean.size):
                chunk = v[i * span : (i + 1) * span]
                assert s.mean[i] == pytest.approx(float(chunk.astype(np.float64).mean()), abs=1e-5)
                assert s.max[i] == chunk.max()
        with pytest.raises(IndexError):
            pyr.level(pyr.levels)


def test_range_downsampling_bounds():
    n = 10_000
    v = (np.random.default_rng(5).random(n) * 8).astype(np.float32)
    block = 4096
    pyr = EntropyPyramid(v, block, n * block)
    # Everything fits: level 0, exact.
    s = pyr.range(100 * block, 200 * block, 1000)
    assert s.span == block and s.x[0] == 100 * block and s.x.size == 100
    assert np.array_equal(s.mean, v[100:200])
    for start, end, points in (
        (0, n * block, 500),
        (12345, 7_777_777, 64),
        (5 * block + 1, 5 * block + 2, 1),
        (0, n * block, 1),
        (3 * block, 9000 * block, 999),
    ):
        s = pyr.range(start, end, points)
        assert 1 <= s.x.size <= points
        assert s.x[0] <= start < s.x[0] + s.span  # the first point covers the start
        assert s.x[-1] < end <= s.x[-1] + s.span or end > n * block  # the last covers the end
        assert np.all(np.diff(s.x) == s.span)
        # the chosen level is the finest that fits: one level finer would not
        if s.span > block:
            finer = s.span // 2
            assert (math.ceil(end / finer) - start // finer) > points
    # Clipping and empty ranges.
    assert pyr.range(-100, 2 * block, 10).x[0] == 0
    assert pyr.range(n * block + 10, n * block + 20, 10).x.size == 0
    with pytest.raises(ValueError):
        pyr.range(0, 100, 0)


def test_progress_and_cancel(tmp_path: Path):
    path = write(tmp_path, "big.bin", os.urandom(12 * 1024 * 1024))
    seen: list[tuple[int, int]] = []

    pyr = pyramid_of(path, 4096, TaskState(on_progress=lambda done, total: seen.append((done, total))))
    assert pyr.complete and seen[0] == (0, path.stat().st_size) and seen[-1][0] == path.stat().st_size
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)

    cancel_after_first = TaskState()
    cancel_after_first.on_progress = lambda done, total: cancel_after_first.cancel() if done > 0 else None
    part = pyramid_of(path, 4096, cancel_after_first)
    assert not part.complete
    assert 0 < part.blocks < pyr.blocks and part.size == part.blocks * 4096
    assert np.array_equal(part.values, pyr.values[: part.blocks])

    cancelled = TaskState()
    cancelled.cancel()
    none = pyramid_of(path, 4096, cancelled)
    assert none.blocks == 0 and not none.complete


def test_memory_source_without_path():
    """Anything with size and view() works (read through the view)."""

    class Buffer:
        def __init__(self, data: bytes):
            self.size = len(data)
            self._mv = memoryview(data)

        def view(self, offset: int, length: int) -> memoryview:
            return self._mv[offset : offset + length]

    data = bytes(4096) + os.urandom(4096)
    pyr = compute_entropy(Buffer(data))
    assert pyr.values[0] == 0.0 and pyr.values[1] > 7.9


@pytest.mark.parametrize("bad", [0, -4096, 100, 4095, 128, 32 * 1024 * 1024, True])
def test_bad_block_sizes(bad):
    with pytest.raises(ValueError):
        check_block(bad)


def test_task_state_drives_it(tmp_path: Path):
    """viewer.tasks.TaskState (the one state of every long job: the scan's too) drives it."""
    path = write(tmp_path, "state.bin", os.urandom(9 * 1024 * 1024))
    calls: list[int] = []
    state = TaskState(on_progress=lambda done, total: calls.append(done))
    pyr = pyramid_of(path, 4096, state)
    assert pyr.complete and calls[-1] == path.stat().st_size
    assert pyramid_of(path, 4096, TaskState()).complete  # nobody watching: fine

    state = TaskState()
    state.on_progress = lambda done, total: state.cancel() if done else None
    part = pyramid_of(path, 4096, state)
    assert not part.complete and 0 < part.blocks < pyr.blocks
