"""Changed runs between a dump and its copy, without Qt (issue 17): runs across chunk boundaries, small
equal gaps merged, a size difference as the last run, next/previous, cancel."""

from __future__ import annotations

import pytest

from viewer.tasks import TaskCancelled, TaskState
from viewer.workspace.compare import GAP, changed_runs


class Bytes:
    def __init__(self, data: bytes):
        self.data = bytes(data)
        self.size = len(data)

    def read(self, offset: int, length: int) -> bytes:
        return self.data[offset:offset + length]


def test_runs_merge_small_gaps_span_chunks_and_end_with_the_size_difference():
    a = bytearray(range(256)) * 64  # 16 KiB
    b = bytearray(a)
    b[100:110] = b"\xff" * 10
    b[110 + GAP:120 + GAP] = b"\xee" * 10  # an equal gap of GAP bytes: the same run
    b[5000:5003] = b"zzz"
    b[4095:4097] = b"\xaa\xaa"  # across a chunk boundary (chunk 4096 below)
    b += b"tail"
    result = changed_runs(None, Bytes(a), Bytes(b), chunk=4096)
    assert result.runs == [(100, 20 + GAP), (4095, 2), (5000, 3), (len(a), 4)]
    assert result.summary() == f"4 changed runs, {20 + GAP + 2 + 3 + 4} bytes"
    assert result.next_run(-1) == (100, 20 + GAP) and result.next_run(100) == (4095, 2)
    assert result.previous_run(5000) == (4095, 2) and result.previous_run(100) is None
    assert result.index_of(4096) == 1 and result.index_of(3000) == -1
    assert changed_runs(None, Bytes(a), Bytes(a)).summary() == "identical"


def test_a_comparison_spans_chunks_and_cancels():
    state = TaskState()
    a, b = Bytes(b"\x00" * 20000), Bytes(b"\x01" * 20000)
    assert changed_runs(state, a, b, chunk=4096).runs == [(0, 20000)]  # one run across five chunks
    state.cancel()
    with pytest.raises(TaskCancelled):
        changed_runs(state, a, b, chunk=4096)
