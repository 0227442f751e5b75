"""The one worker of the window: runs any plain function that takes a :class:`~viewer.tasks.TaskState`.

Orange3's shape: a long job is a plain function ``fn(state, *args, **kwargs)`` of the core (a scan, an
entropy pass, hashing, a redaction, an export, a verification, opening a dump or a case); this worker
runs it on a ``QThreadPool`` thread and carries what it reports to the GUI thread as queued ``sig_*``
signals (Spyder's names). A widget only starts it and shows the results.

Rules (they used to be written out in nine workers):
- every exception becomes ``sig_failed`` with one line (type and message, never a traceback or evidence
  bytes: a message may quote a path, never key material);
- a job that stops because the state was cancelled ends with ``sig_cancelled`` (its partial result, or
  None), whether it returned or raised its own "cancelled" exception (``cancelled_errors``);
- progress is throttled to :data:`MAX_EMITS_PER_S` a second (a finished one, or a new step, always shows),
  so the event loop is never flooded;
- ``sig_finished`` is always the last signal.

Partial results (Spyder's "results in batches"): a job that finds things as it goes (the scan's
provisional findings, the find bar's hits) takes a callable in the keyword argument named by
``partial=`` and hands it lists of items from its own thread. The worker gathers them and emits
``sig_partial(list)`` batches of at most ``batch`` items, at most :data:`MAX_EMITS_PER_S` times a second
(together with progress), and every item handed in arrives before the final ``sig_done``,
``sig_cancelled`` or ``sig_failed``. Items are passed on as they are: a job whose objects change after
it handed them (the engine merges and attributes its findings) hands copies.

Byte counts travel as ``object``: dumps exceed 2 GiB, which a Qt ``int`` cannot carry.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Signal

from viewer.tasks import TaskCancelled, TaskState

MAX_EMITS_PER_S = 10
MESSAGE_LIMIT = 300
BATCH = 500  # items in one sig_partial batch, at most


def one_line(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` on one line of at most ``limit`` characters (a status bar, a message box)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class TaskSignals(QObject):
    """Signals of a :class:`TaskWorker` (a QRunnable is not a QObject)."""

    sig_progress = Signal(object, object, float, float)  # done, total bytes, bytes/s, ETA s (NaN: unknown)
    sig_step = Signal(str, object, object)  # step name, done, total (0: extent unknown)
    sig_partial = Signal(object)  # list: a batch of partial results (see ``partial=``), before the end
    sig_done = Signal(object)  # the function's return value
    sig_cancelled = Signal(object)  # the partial result (None when the job raised its cancel exception)
    sig_failed = Signal(str)  # one line: what failed, exception type and message
    sig_finished = Signal()  # always last


class TaskWorker(QRunnable):
    """Run ``fn(state, *args, **kwargs)`` off the GUI thread. ``QThreadPool.globalInstance().start(w)``;
    ``cancel()`` from any thread. Not auto-deleted: the owner keeps the Python object (and its signals)
    alive until ``sig_finished``.

    ``what`` prefixes a failure's line ("scan failed: ValueError: ..."). ``cancelled_errors`` are the
    job's own exceptions that mean "stopped because cancelled" (ExportCancelled, RedactCancelled, ...).
    ``is_cancelled_result`` tells a returned result that was cut short (a ScanResult with
    ``cancelled``) from a whole one. ``partial`` names the job's keyword argument that receives
    :meth:`add_partial` (``"on_findings"`` for a scan): its batches arrive as ``sig_partial``.
    """

    def __init__(self, fn: Callable[..., Any], *args: Any, what: str = "task",
                 cancelled_errors: tuple[type[BaseException], ...] = (),
                 is_cancelled_result: Callable[[Any], bool] | None = None,
                 min_interval: float = 1.0 / MAX_EMITS_PER_S,
                 partial: str | None = None, batch: int = BATCH, **kwargs: Any):
        super().__init__()
        self.setAutoDelete(False)
        self.signals = TaskSignals()
        self.state = TaskState(on_progress=self._on_progress, on_step=self._on_step)
        self.result: Any = None
        if partial is not None:
            kwargs[partial] = self.add_partial
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self._batch = max(1, int(batch))
        self._lock = threading.Lock()
        self._pending: list[Any] = []
        self._last_flush = float("-inf")
        self._what = what
        self._cancelled_errors = (TaskCancelled, *cancelled_errors)
        self._is_cancelled_result = is_cancelled_result
        self._interval = min_interval
        self._started = 0.0
        self._last_emit = float("-inf")
        self._last_done = -1
        self._last_step = ("", float("-inf"))

    # -- any thread ---------------------------------------------------------------------------------
    def cancel(self) -> None:
        self.state.cancel()

    @property
    def is_cancelled(self) -> bool:
        return self.state.is_cancelled

    # -- the job's thread ---------------------------------------------------------------------------
    def add_partial(self, items: Iterable[Any]) -> None:
        """Hand partial results (any thread); they go out as ``sig_partial`` batches, throttled."""
        with self._lock:
            self._pending.extend(items)
        if time.monotonic() - self._last_flush >= self._interval:
            self._flush_partial()

    def _flush_partial(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
            self._last_flush = time.monotonic()
        for i in range(0, len(pending), self._batch):
            self.signals.sig_partial.emit(pending[i : i + self._batch])

    def _on_progress(self, done: int, total: int) -> None:
        now = time.monotonic()
        final = done >= total
        if done == self._last_done or (not final and now - self._last_emit < self._interval):
            return
        self._last_emit, self._last_done = now, done
        self._flush_partial()
        elapsed = now - self._started
        rate = done / elapsed if elapsed > 0 and done > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else float("nan")
        self.signals.sig_progress.emit(done, total, float(rate), float(0.0 if final else eta))

    def _on_step(self, step: str, done: int, total: int) -> None:
        now = time.monotonic()
        name, last = self._last_step
        final = bool(total) and done >= total
        if step == name and not final and now - last < self._interval:
            return
        self._last_step = (step, now)
        self.signals.sig_step.emit(step, done, total)

    def run(self) -> None:
        try:
            self._started = time.monotonic()
            result = self._fn(self.state, *self._args, **self._kwargs)
            self.result = result
            self._flush_partial()
            cut_short = self._is_cancelled_result(result) if self._is_cancelled_result else False
            if cut_short:
                self.signals.sig_cancelled.emit(result)
            else:
                self.signals.sig_done.emit(result)
        except self._cancelled_errors:
            self._flush_partial()
            self.signals.sig_cancelled.emit(None)
        except Exception as exc:  # noqa: BLE001 - a worker reports every failure as a signal
            self._flush_partial()
            self.signals.sig_failed.emit(one_line(f"{self._what} failed: {type(exc).__name__}: {exc}"))
        finally:
            self.signals.sig_finished.emit()
