"""The kdump bitmap is read a chunk at a time: the runs of dumped pages must be those of the whole
bitmap, whatever the chunk size (runs crossing chunks, all ones, all zeros, a last bit set)."""

from __future__ import annotations

import numpy as np
import pytest

import viewer.evidence.formats.diskdump as dd


class _Bytes:
    def __init__(self, data: bytes):
        self.data = data

    def read(self, offset: int, length: int) -> bytes:
        return self.data[offset:offset + length]


@pytest.mark.parametrize("trial", range(40))
def test_runs_equal_those_of_the_whole_bitmap(trial: int, monkeypatch) -> None:
    rng = np.random.default_rng(trial)
    nbits = int(rng.integers(1, 50000))
    bits = (rng.random(nbits) < rng.random()).astype(np.uint8)
    if trial % 4 == 0:
        bits[:] = 1
    if trial % 5 == 0:
        bits[: nbits // 2] = 0
    monkeypatch.setattr(dd, "BITMAP_CHUNK", int(rng.integers(1, 2000)))
    starts, ends = dd._runs(_Bytes(np.packbits(bits, bitorder="little").tobytes()), 0, nbits)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], bits.astype(np.int8), [0]))))
    assert starts.tolist() == edges[0::2].tolist() and ends.tolist() == edges[1::2].tolist()
