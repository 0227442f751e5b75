"""The window's jobs as plain functions of a TaskState, run without Qt on real files: the scan hands
copies of its provisional findings, hashing and entropy stop on cancel, the search hands its hits."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from viewer.evidence import open_dump
from viewer.scan.search import parse_query
from viewer.tasks import TaskCancelled, TaskState
from viewer.workspace.jobs import GUI_CHUNK, entropy_job, hash_job, scan_job, search_job


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory):
    from tests.gui.test_gui_findings import plant_keys

    return plant_keys(tmp_path_factory.mktemp("jobs") / "keys.bin", 3 * GUI_CHUNK)


@pytest.fixture(scope="module")
def keys_file(planted) -> Path:
    return planted.path


def test_scan_job_hands_copies_and_returns_the_truth(planted, keys_file: Path) -> None:
    batches: list[list] = []
    steps: list[tuple] = []
    state = TaskState(on_step=lambda *a: steps.append(a))
    with open_dump(keys_file) as dump:
        result = scan_job(state, dump, on_findings=batches.append)
    provisional = [f for b in batches for f in b]
    assert not result.cancelled and result.findings and provisional
    assert {f.offset for f in provisional} >= set(planted.offsets.values())  # the byte scan's finds
    final_ids = {id(f) for f in result.findings}
    assert not any(id(f) in final_ids for f in provisional)  # copies: the engine keeps its own objects
    assert result.stats.chunk_size == GUI_CHUNK and state.done == state.total == keys_file.stat().st_size


def test_scan_job_cancelled_returns_the_part_scanned(keys_file: Path) -> None:
    state = TaskState()
    state.on_progress = lambda done, total: state.cancel() if done else None
    with open_dump(keys_file) as dump:
        result = scan_job(state, dump, executor="inline")
    assert result.cancelled and 0 < result.stats.bytes_scanned < keys_file.stat().st_size


def test_hash_job(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    data = os.urandom(3 << 20)
    path.write_bytes(data)
    seen: list[int] = []
    with open_dump(path) as dump:
        assert hash_job(TaskState(on_progress=lambda d, t: seen.append(d)), dump) == hashlib.sha256(data).hexdigest()
    assert seen and seen[-1] == len(data)
    cancelled = TaskState()
    cancelled.cancel()
    with open_dump(path) as dump, pytest.raises(TaskCancelled):
        hash_job(cancelled, dump)


def test_entropy_job(tmp_path: Path) -> None:
    path = tmp_path / "half.bin"
    path.write_bytes(os.urandom(1 << 20) + bytes(1 << 20))
    with open_dump(path) as dump:
        pyramid = entropy_job(TaskState(), dump)
        assert pyramid.complete and pyramid.size == 2 << 20
        state = TaskState()
        state.cancel()
        with pytest.raises(TaskCancelled):
            entropy_job(state, dump)


def test_search_job_hands_every_hit_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "hits.bin"
    blob = bytearray(4 << 20)
    where = [i * 40_000 + 7 for i in range(100)]
    for w in where:
        blob[w : w + 6] = b"MARKER"
    path.write_bytes(bytes(blob))
    got: list[tuple[int, int]] = []
    with open_dump(path) as dump:
        count, limited = search_job(TaskState(), dump, parse_query("MARKER", "ascii"), on_results=got.extend)
        assert (count, limited) == (100, False) and got == [(w, 6) for w in where]
        few: list[tuple[int, int]] = []
        assert search_job(TaskState(), dump, parse_query("MARKER", "ascii"), limit=10, on_results=few.extend) \
            == (10, True)
        assert few == got[:10]
        state = TaskState()
        state.cancel()
        with pytest.raises(TaskCancelled):
            search_job(state, dump, parse_query("MARKER", "ascii"))
