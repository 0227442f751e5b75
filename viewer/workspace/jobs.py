"""The window's long jobs as plain functions ``job(state, ...)`` of a :class:`~viewer.tasks.TaskState`.

The window's one worker (:class:`viewer.gui.task_worker.TaskWorker`) runs any function whose first
argument is the state; the core's functions take it elsewhere (``scan_dump(dump, detectors, state)``) or
report progress their own way (``ByteSource.sha256(progress=...)`` returns False to stop). These
adapters give each the one shape, with the GUI's choices (4 MiB scan chunks, threads, copies of the
provisional findings) written once, and no Qt: they are tested without a display.

Cancelled means :class:`~viewer.tasks.TaskCancelled` for every job here except the scan, which returns
its partial :class:`~viewer.scan.engine.ScanResult` with ``cancelled`` set.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from viewer.evidence.source import HashCancelled
from viewer.scan.engine import ScanResult, scan_dump
from viewer.scan.entropy import DEFAULT_BLOCK, EntropyPyramid, block_entropy, compute_entropy
from viewer.scan.finding import Finding
from viewer.scan.search import DEFAULT_LIMIT, iter_matches
from viewer.tasks import TaskCancelled, TaskState
from viewer.workspace.entropy_series import FINE_CHUNK, FineRequest, FineResult

# The GUI scans in 4 MiB chunks, not the engine's 64 MiB: each scan thread allocates its chunk buffer
# with the GIL held, and on a VM faulting in 64 MiB took 180 ms (the window froze for 200-300 ms at the
# start of a scan); 4 MiB costs a few ms. Findings do not depend on the chunk size (the engine's overlap).
GUI_CHUNK = 4 * 1024 * 1024

Sink = Callable[[list[Any]], Any]


def scan_job(state: TaskState, dump: Any, detectors: Sequence[Any] | None = None,
             public_keys: Sequence[Any] | None = None, *, on_findings: Sink | None = None,
             chunk_size: int = GUI_CHUNK, executor: str = "auto", workers: int | None = None,
             deep: bool = False) -> ScanResult:
    """:func:`viewer.scan.engine.scan_dump` for the window. ``on_findings`` receives *copies* of each
    chunk's raw findings (provisional: the engine goes on merging and attributing its own objects); the
    result replaces them. A Qt process must not fork, so "auto" means threads here (the engine decides)."""
    sink = None
    if on_findings is not None:
        def sink(batch: list[Finding]) -> None:
            on_findings(copy.deepcopy(batch))
    return scan_dump(dump, detectors, state, public_keys, chunk_size, executor=executor, workers=workers,
                     deep=deep, on_findings=sink)


def hash_job(state: TaskState, dump: Any) -> str:
    """The dump's SHA-256 (streamed and cached on the dump: a later report or case reuses it)."""
    def progress(done: int, total: int) -> bool:
        state.progress(done, total)
        return not state.is_cancelled

    try:
        return str(dump.source.sha256(progress=progress))
    except HashCancelled:
        raise TaskCancelled("hashing cancelled") from None


def entropy_job(state: TaskState, dump: Any, block: int = DEFAULT_BLOCK) -> EntropyPyramid:
    """The entropy pyramid of the whole dump; cancelled or cut short (the file shrank) is not a result."""
    pyramid = compute_entropy(dump.source, block, state)
    state.check(message="entropy cancelled")
    if not pyramid.complete:
        raise OSError("short read: the file ended before its size")
    return pyramid


def fine_entropy_job(state: TaskState, dump: Any, request: FineRequest) -> FineResult:
    """Entropy of one byte range at ``request.block`` bytes per value (finer than the pyramid).

    Reads go through ``dump.read`` (the read-only source; bytes copied, nothing is written) in pieces of
    :data:`~viewer.workspace.entropy_series.FINE_CHUNK`, whole blocks each, cancel checked between them."""
    block = request.block
    step = max(block, FINE_CHUNK // block * block)
    parts: list[np.ndarray] = []
    offset = request.start
    while offset < request.end:
        state.check(message="fine entropy cancelled")
        data = dump.read(offset, min(step, request.end - offset))
        if not data:
            break
        parts.append(block_entropy(data, block))
        offset += len(data)
        state.progress(offset - request.start, request.end - request.start)
        if len(data) % block:  # a short read ends the pass (its last block measured on its own)
            break
    state.check(message="fine entropy cancelled")
    if offset < request.end:
        raise OSError("short read")
    values = np.concatenate(parts) if parts else np.empty(0, dtype=np.float32)
    return FineResult(request, values)


def search_job(state: TaskState, source: Any, pattern: Any, start: int = 0, end: int | None = None,
               limit: int = DEFAULT_LIMIT, chunk_size: int | None = None, *,
               on_results: Sink | None = None) -> tuple[int, bool]:
    """Every match of ``pattern`` in [start, end), at most ``limit``, handed to ``on_results`` as lists
    of ``(offset, length)`` in file order. Returns (count, whether the limit stopped it); cancelled
    raises TaskCancelled after the results found so far were handed on."""
    kwargs = {} if chunk_size is None else {"chunk_size": chunk_size}
    count = 0
    batch: list[tuple[int, int]] = []
    for hit in iter_matches(source, pattern, start, end, state, **kwargs):
        batch.append(hit)
        count += 1
        if len(batch) >= 64:
            if on_results is not None:
                on_results(batch)
            batch = []
        if count >= limit:
            break
    if batch and on_results is not None:
        on_results(batch)
    state.check(message="search cancelled")
    return count, count >= limit
