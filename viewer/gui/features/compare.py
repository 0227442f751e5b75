"""Scan ▸ Compare with a copy…: the current dump beside another file (its redacted copy), the changed runs
found in a worker (:func:`viewer.workspace.compare.changed_runs`), shown in a :class:`CompareWindow`."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QFileDialog, QMessageBox

from viewer.evidence import EvidenceError, open_dump
from viewer.gui.compare import CompareWindow
from viewer.gui.features.base import Feature, Host
from viewer.tasks import TaskCancelled, TaskState
from viewer.workspace.compare import changed_runs


def compare_job(state: TaskState, original: Any, copy: Any) -> Any:
    return changed_runs(state, original, copy)


class CompareController(Feature):
    def __init__(self, host: Host, menu: Any, suggest: Callable[[Path], str | None] | None = None):
        """``suggest(dump path)``: the copy to offer first (the last redaction's output of that dump)."""
        super().__init__(host)
        self.suggest = suggest
        menu.addSeparator()
        self.action = host.add_action(menu, "Compare with a &copy…", self._ask, "Ctrl+Alt+D",
                                      "The current dump beside another file (its redacted copy): the changed "
                                      "runs, F7 for the next")
        self.windows: list[CompareWindow] = []

    def _ask(self) -> None:
        od = self.session.current
        if od is None:
            return
        start = (self.suggest(od.path) if self.suggest is not None else None) or \
            str(od.path.with_name(f"{od.path.stem}.redacted{od.path.suffix}"))
        path, _ = QFileDialog.getOpenFileName(self.parent_widget, "Compare with a copy (read-only)", start,
                                              "All files (*)")
        if path:
            self.compare_with(path)

    def compare_with(self, path: str | os.PathLike[str]) -> CompareWindow | None:
        """Open ``path`` read-only beside the current dump and start the comparison; the window."""
        od = self.session.current
        if od is None:
            return None
        try:
            copy = open_dump(path)
        except (EvidenceError, OSError) as exc:
            self.host.message(QMessageBox.Icon.Warning, "Compare", f"cannot open {path}: {exc}", "compare-error")
            return None
        window = CompareWindow(od.dump, copy, self.parent_widget)
        self.windows.append(window)
        worker = self.run_task(compare_job, od.dump, copy, what=f"comparing with {copy.path.name}",
                               cancelled_errors=(TaskCancelled,),
                               done=lambda result: window.set_comparison(result) if window in self.windows else None,
                               failed=lambda reason: window.set_failed(reason) if window in self.windows else None,
                               progress=lambda done, total, *_: window.set_progress(done, total)
                               if window in self.windows else None)

        def closed() -> None:
            worker.cancel()
            if window in self.windows:
                self.windows.remove(window)
            self._close_when_idle(copy, worker)

        window.sig_closed.connect(closed)
        window.show()
        return window

    def _close_when_idle(self, copy: Any, worker: Any) -> None:
        """The copy's mapping goes once its worker stopped reading it."""
        if worker in self._workers:
            worker.signals.sig_finished.connect(copy.close)
        else:
            copy.close()

    def idle(self) -> bool:
        return not self._workers

    def shutdown(self) -> None:
        for window in list(self.windows):
            window.close()
        super().shutdown()


__all__ = ["CompareController", "compare_job"]
