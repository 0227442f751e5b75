"""Workers that run long jobs off the GUI thread and report through ``sig_*`` signals.

:class:`ScanWorker` runs :func:`viewer.scan.engine.scan_dump` on a QThreadPool thread (the engine then
uses its thread executor: forking a Qt process is unsafe). The rules of main_window's HashWorker hold:
every exception becomes ``sig_failed`` with one line (type and message, never a traceback or evidence
bytes), and ``sig_finished`` is always the last signal.

Findings while the scan runs: the engine hands each chunk's *raw* findings to ``on_findings`` (before
merging, post-scan detectors, region attribution and public-key matching). The worker collects them and
emits them as provisional ``sig_findings`` batches of at most :data:`BATCH` findings, throttled together
with progress to at most :data:`MAX_EMITS_PER_S` per second, so the GUI's event loop is never flooded.
``sig_done`` carries the final :class:`~viewer.scan.engine.ScanResult`, which *replaces* the provisional
findings (deduplicated, attributed, confirmed against supplied keys).
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Signal

from viewer.evidence import Dump
from viewer.scan.engine import ScanState, scan_dump
from viewer.scan.finding import Finding

BATCH = 500
# The GUI scans in 4 MiB chunks, not the engine's 64 MiB: each scan thread allocates its chunk buffer
# with the GIL held, and on a VM faulting in 64 MiB took 180 ms (the window froze for 200-300 ms at the
# start of a scan); 4 MiB costs a few ms. Findings do not depend on the chunk size (the engine's overlap).
GUI_CHUNK = 4 * 1024 * 1024
MAX_EMITS_PER_S = 10
MESSAGE_LIMIT = 300


def one_line(text: str, limit: int = MESSAGE_LIMIT) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ScanSignals(QObject):
    """Signals of a :class:`ScanWorker` (a QRunnable is not a QObject). Byte counts are ``object``:
    dumps exceed 2 GiB, which a Qt ``int`` cannot carry."""

    sig_progress = Signal(object, object, float, float)  # done, total bytes, bytes/s, ETA s (NaN: unknown yet)
    sig_step = Signal(str, object, object)  # after the byte scan: step (detector) name, done, total (0: unknown)
    sig_findings = Signal(object)  # list[Finding]: a provisional batch (raw, not yet attributed)
    sig_done = Signal(object)  # ScanResult: the final findings, replacing every provisional batch
    sig_cancelled = Signal(object)  # ScanResult of the part scanned before the cancel (cancelled=True)
    sig_failed = Signal(str)  # one line: exception type and message
    sig_finished = Signal()  # always last


class ScanWorker(QRunnable):
    """One scan of one dump. ``QThreadPool.globalInstance().start(worker)``; ``cancel()`` from any thread.

    The worker is not auto-deleted: the owner keeps the Python object (and its signals) alive.
    """

    def __init__(
        self,
        dump: Dump,
        detectors: Sequence[Any] | None = None,
        public_keys: Sequence[Any] | None = None,
        *,
        chunk_size: int = GUI_CHUNK,
        executor: str = "auto",
        workers: int | None = None,
        deep: bool = False,
        min_interval: float = 1.0 / MAX_EMITS_PER_S,
    ):
        super().__init__()
        self.setAutoDelete(False)
        self.signals = ScanSignals()
        self.state = ScanState(progress=self._on_progress, step_progress=self._on_step)
        self._dump = dump
        self._detectors = detectors
        self._public_keys = public_keys
        self._kwargs: dict[str, Any] = {"chunk_size": chunk_size, "executor": executor, "workers": workers,
                                        "deep": deep}
        self._interval = min_interval
        self._lock = threading.Lock()
        self._pending: list[Finding] = []
        self._started = 0.0
        self._last_emit = float("-inf")
        self._last_done = -1
        self._last_step = ("", float("-inf"))
        self.result: Any = None

    # -- called from any thread ---------------------------------------------------------------
    def cancel(self) -> None:
        self.state.cancel()

    @property
    def is_cancelled(self) -> bool:
        return self.state.is_cancelled

    # -- called from the scanning thread ------------------------------------------------------
    def _on_findings(self, batch: list[Finding]) -> None:
        # Copies: the engine goes on mutating its own objects (merging reasons, attributing regions).
        with self._lock:
            self._pending.extend(copy.deepcopy(batch))

    def _flush_findings(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for i in range(0, len(pending), BATCH):
            self.signals.sig_findings.emit(pending[i : i + BATCH])

    def _on_progress(self, done: int, total: int) -> None:
        now = time.monotonic()
        final = done >= total
        if not final and now - self._last_emit < self._interval:
            return
        if done == self._last_done:
            return
        self._last_emit, self._last_done = now, done
        self._flush_findings()
        elapsed = now - self._started
        rate = done / elapsed if elapsed > 0 and done > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else float("nan")
        self.signals.sig_progress.emit(done, total, float(rate), float(0.0 if final else eta))

    def _on_step(self, step: str, done: int, total: int) -> None:
        """A post-scan step's progress, at most MAX_EMITS_PER_S per second (a new step always shows)."""
        now = time.monotonic()
        name, last = self._last_step
        if step == name and now - last < self._interval:
            return
        self._last_step = (step, now)
        self.signals.sig_step.emit(step, done, total)

    def run(self) -> None:
        try:
            self._started = time.monotonic()
            result = scan_dump(
                self._dump,
                self._detectors,
                self.state,
                self._public_keys,
                on_findings=self._on_findings,
                **self._kwargs,
            )
            self.result = result
            with self._lock:
                self._pending.clear()  # superseded by the final result
            if result.cancelled:
                self.signals.sig_cancelled.emit(result)
            else:
                self.signals.sig_done.emit(result)
        except Exception as exc:  # noqa: BLE001 - a worker reports every failure as a signal
            self.signals.sig_failed.emit(one_line(f"scan failed: {type(exc).__name__}: {exc}"))
        finally:
            self.signals.sig_finished.emit()


class StepProgress(QObject):
    """Progress of a long core job (a redaction, a bundle export) running in a worker, carried to the GUI
    thread by queued signals.

    Its :attr:`state` is the :class:`~viewer.scan.engine.ScanState` handed to the job: a scan's bytes
    arrive as ``sig_progress``, every named step (finding copies, copying, re-scanning, hashing, writing
    the archive) as ``sig_step``; at most ``MAX_EMITS_PER_S`` a second, a new step or a finished one
    always. ``cancel()`` stops the job at its next check."""

    sig_progress = Signal(object, object)  # done, total bytes of the first scan
    sig_step = Signal(str, object, object)  # step, done, total (0: extent unknown)

    MAX_EMITS_PER_S = 10

    def __init__(self) -> None:
        super().__init__()
        self._last = ("", float("-inf"))
        self.state = ScanState(progress=self._progress, step_progress=self._step)

    def cancel(self) -> None:
        self.state.cancel()

    def _due(self, step: str, final: bool) -> bool:
        now = time.monotonic()
        name, last = self._last
        if step == name and not final and now - last < 1.0 / self.MAX_EMITS_PER_S:
            return False
        self._last = (step, now)
        return True

    def _progress(self, done: int, total: int) -> None:
        if self._due("scan", done >= total):
            self.sig_progress.emit(done, total)

    def _step(self, step: str, done: int, total: int) -> None:
        if self._due(step, bool(total) and done >= total):
            self.sig_step.emit(step, done, total)


def status_job_widgets(bar: Any, name: str, cancel_text: str, on_cancel: Any) -> tuple[Any, Any, Any]:
    """A long job's widgets at the right of a status bar, hidden until it runs: a label (what it does), a
    progress bar (busy until its first report) and a Cancel button calling ``on_cancel``."""
    from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton

    label = QLabel()
    label.setObjectName(f"{name}-label")
    progress = QProgressBar()
    progress.setObjectName(f"{name}-busy")
    progress.setRange(0, 0)
    progress.setMaximumWidth(120)
    cancel = QPushButton(cancel_text)
    cancel.setObjectName(f"{name}-cancel")
    cancel.clicked.connect(on_cancel)
    for w in (label, progress, cancel):
        w.hide()
        bar.addPermanentWidget(w)
    return label, progress, cancel
