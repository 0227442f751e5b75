"""What a feature of the window is, and the small interface through which it talks to the window.

Spyder's shape: a feature (case, export, hand-over, scan) owns its actions, menus, docks, status-bar
widgets and workers; it reads and changes the examiner's state through the window's
:class:`~viewer.workspace.session.Session` and subscribes to the session's events. The window composes
its features (no mixins: a feature never overrides another's methods), and gives them only
:class:`Host` — where a menu, a dock or a status message goes, which pool runs the workers, how a dump is
opened and bytes are selected. A feature that needs another names it in its constructor (the export
holds the case still through the session, the hand-over opens a bundle's case through the case feature).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from PySide6.QtCore import QObject, QRunnable, QSettings, Qt, QThreadPool
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QMenu, QMessageBox, QStatusBar, QWidget

from viewer.gui.task_worker import TaskWorker, one_line
from viewer.tasks import TaskState
from viewer.workspace.session import Session


@dataclass(frozen=True)
class Failure:
    """A job's expected failure, as the sentence the examiner reads (``"cannot export x.zip: ..."``)."""

    line: str


def reporting(fn: Callable[..., Any], what: str, known: tuple[type[BaseException], ...],
              cancelled: tuple[type[BaseException], ...] = ()) -> Callable[..., Any]:
    """``fn(state, ...)`` whose ``known`` errors (the core's one-line errors: BundleError, OSError, ...)
    come back as a :class:`Failure` worded ``"<what>: <message>"`` — a sentence, not a crash report;
    its ``cancelled`` errors still raise (the worker reports them as a cancel)."""

    def run(state: TaskState, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(state, *args, **kwargs)
        except cancelled:
            raise
        except known as exc:
            return Failure(one_line(f"{what}: {exc}"))

    return run


class Host(Protocol):
    """The window, as its features see it (implemented by :class:`~viewer.gui.main_window.MainWindow`)."""

    session: Session
    settings: QSettings
    pool: QThreadPool
    last_error: str | None  # the last one-line error shown (tests and scripts read it)

    def menu(self, name: str) -> QMenu:
        """The window's menu ``file``, ``edit``, ``bookmarks``, ``view``; or a feature's, once added."""

    def add_menu(self, name: str, title: str) -> QMenu:
        """A new top-level menu, after the ones there are."""

    def add_action(self, menu: QMenu, text: str, slot: Callable[..., Any], shortcut: Any = None,
                   tip: str = "") -> QAction:
        """An action in ``menu`` calling ``slot``."""

    def add_dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea, *,
                 toggle_shortcut: str | None = None, tab_with: str | None = None,
                 height: int | None = None) -> QDockWidget:
        """A dock (``name``: its object name, for the saved layout), with a toggle in View; in the default
        layout tabbed with the dock named ``tab_with`` and ``height`` pixels high."""

    def statusBar(self) -> QStatusBar:  # noqa: N802 - QMainWindow's own name
        """The window's status bar (features add their job widgets at its right)."""

    def message(self, icon: QMessageBox.Icon, title: str, text: str, name: str) -> QMessageBox:
        """A window-modal, non-blocking message box named ``name`` (selectable text, deleted on close)."""

    def load(self, path: str | os.PathLike[str]) -> str | None:
        """Open a dump now in a new tab (it becomes current); None, or the one-line reason it did not."""

    def show_dump(self, token: int) -> None:
        """Make the open dump with this token the current one (its tab raised)."""

    def select(self, offset: int, length: int) -> None:
        """Select exactly these bytes of the current dump in the hex view."""

    def update_title(self) -> None:
        """The window title follows the current dump and the case."""


class Feature(QObject):
    """A part of the window: built on a :class:`Host`, stopped by :meth:`shutdown` when the window closes."""

    def __init__(self, host: Host):
        super().__init__(host)  # type: ignore[arg-type] - the host is the QMainWindow
        self.host = host
        self.session = host.session
        self._workers: set[Any] = set()

    @property
    def parent_widget(self) -> QWidget:
        """The window, as the parent of the feature's dialogs."""
        widget = self.parent()
        assert isinstance(widget, QWidget)
        return widget

    def status(self, text: str, ms: int = 0) -> None:
        self.host.statusBar().showMessage(text, ms)

    def start(self, worker: QRunnable, *, done: Callable[[Any], None] | None = None,
              failed: Callable[[str], None] | None = None, cancelled: Callable[[Any], None] | None = None,
              finished: Callable[[], None] | None = None) -> Any:
        """Run ``worker`` (a :class:`TaskWorker`, or one with its signals) on the window's pool, kept alive
        until its ``sig_finished``; the handlers run on the GUI thread."""
        signals = worker.signals  # type: ignore[attr-defined]
        if done is not None:
            signals.sig_done.connect(done)
        if failed is not None:
            signals.sig_failed.connect(failed)
        if cancelled is not None:
            signals.sig_cancelled.connect(cancelled)
        if finished is not None:
            signals.sig_finished.connect(finished)
        signals.sig_finished.connect(lambda: self._workers.discard(worker))
        self._workers.add(worker)
        self.host.pool.start(worker)
        return worker

    def run_task(self, fn: Callable[..., Any], *args: Any, what: str,
                 known: tuple[type[BaseException], ...] = (), cancelled_errors: tuple[type[BaseException], ...] = (),
                 done: Callable[[Any], None], failed: Callable[[str], None],
                 cancelled: Callable[[Any], None] | None = None, progress: Callable[..., None] | None = None,
                 step: Callable[[str, int, int], None] | None = None) -> TaskWorker:
        """Run ``fn(state, *args)`` in a :class:`TaskWorker`: its value to ``done``; a ``known`` error
        (worded ``"<what>: <message>"``) or any other exception (one line) to ``failed``; a cancel to
        ``cancelled`` (else to ``failed`` with ``"cancelled"``)."""
        worker = TaskWorker(reporting(fn, what, known, (*cancelled_errors,)), *args, what=what,
                            cancelled_errors=cancelled_errors)
        if progress is not None:
            worker.signals.sig_progress.connect(progress)
        if step is not None:
            worker.signals.sig_step.connect(step)

        def finished(value: Any) -> None:
            if isinstance(value, Failure):
                failed(value.line)
            else:
                done(value)

        return self.start(worker, done=finished, failed=failed,
                          cancelled=cancelled if cancelled is not None else (lambda _v: failed("cancelled")))

    def shutdown(self) -> None:
        """The window closes: ask every running worker to stop (the window then waits for its pool)."""
        for worker in list(self._workers):
            worker.cancel()


__all__ = ["Failure", "Feature", "Host", "reporting"]
