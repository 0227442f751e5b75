"""Hashing a dump off the GUI thread, with progress and cancel.

The work itself is the evidence layer's streamed, cached SHA-256 (``ByteSource.sha256``); this only runs
it on a thread pool and turns its progress callback into signals. Because the digest is cached on the
dump, a later `info`, scan report or case file reuses it instead of reading the file again.
"""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QObject, QRunnable, Signal

from viewer.evidence import Dump
from viewer.evidence.source import HashCancelled

PROGRESS_EVERY_S = 0.1


def one_line(text: str) -> str:
    """Messages shown in a status bar or message box are one line."""
    return " ".join(str(text).split())


class HashSignals(QObject):
    """Signals of a :class:`HashWorker` (a QRunnable is not a QObject and cannot own signals).

    The token says which opened dump the result belongs to, so a late result for a dump that was closed
    or replaced in the meantime is recognised and dropped.
    """

    sig_progress = Signal(object, object, object)  # token, bytes done, bytes in all (ints beyond 32 bits)
    sig_done = Signal(object, str)  # token, SHA-256 hex digest
    sig_failed = Signal(object, str)  # token, one-line reason ("cancelled" when asked to stop)
    sig_finished = Signal(object)  # token; always last, after sig_done or sig_failed


class HashWorker(QRunnable):
    """SHA-256 of a whole dump, cancellable, reporting progress at most ten times a second."""

    def __init__(self, dump: Dump, token: int):
        super().__init__()
        self.setAutoDelete(False)  # the window keeps the Python object; Qt must not delete it under us
        self.signals = HashSignals()
        self.token = token
        self._dump = dump
        self._cancel = threading.Event()
        self._last = 0.0

    def cancel(self) -> None:
        self._cancel.set()

    def _progress(self, done: int, total: int) -> bool:
        if self._cancel.is_set():
            return False
        now = time.monotonic()
        if now - self._last >= PROGRESS_EVERY_S:
            self._last = now
            self.signals.sig_progress.emit(self.token, done, total)
        return True

    def run(self) -> None:
        try:
            digest = self._dump.source.sha256(progress=self._progress)
            self.signals.sig_done.emit(self.token, digest)
        except HashCancelled:
            self.signals.sig_failed.emit(self.token, "cancelled")
        except Exception as exc:  # noqa: BLE001 - a worker reports every failure as a signal
            self.signals.sig_failed.emit(self.token, one_line(f"{type(exc).__name__}: {exc}"))
        finally:
            self.signals.sig_finished.emit(self.token)
