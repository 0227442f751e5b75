"""Compare a dump with its redacted copy: the two hex views side by side, scrolled together, every changed
run marked in both, and "next changed run" (F7) / "previous" (Shift+F7) to walk what the redaction did.

The runs come from :func:`viewer.workspace.compare.changed_runs` in a worker (the controller starts it);
this window only shows them. Both files are read only.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QSplitter, QVBoxLayout, QWidget

from viewer.gui.hexview import HexView
from viewer.gui.plain import label
from viewer.workspace.compare import Comparison
from viewer.workspace.highlights import Highlight

CHANGED_COLOUR = QColor(230, 60, 60, 110)
MAX_MARKS = 20_000  # runs painted (the list itself may be longer)


class CompareWindow(QWidget):
    """Original (left) and copy (right); the runs where they differ."""

    sig_closed = Signal()

    def __init__(self, original: Any, copy: Any, parent: QWidget | None = None):
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("compare-window")
        self.setWindowTitle(f"Compare {original.path.name} with {copy.path.name}")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.original, self.copy = original, copy
        self.comparison: Comparison | None = None
        self.current: tuple[int, int] | None = None
        self.left, self.right = HexView(), HexView()
        self.left.setObjectName("compare-original")
        self.right.setObjectName("compare-copy")
        self.left.set_dump(original)
        self.right.set_dump(copy)
        self._syncing = False
        for a, b in ((self.left, self.right), (self.right, self.left)):
            a.sig_selection_changed.connect(lambda off, n, b=b: self._follow(b, off, n))
            a.viewport().installEventFilter(self)
        self.prev_button = QPushButton("◀ Previous changed run")
        self.next_button = QPushButton("Next changed run ▶")
        self.next_button.setObjectName("compare-next")
        self.prev_button.setToolTip("Shift+F7")
        self.next_button.setToolTip("F7")
        self.prev_button.clicked.connect(self.previous_run)
        self.next_button.clicked.connect(self.next_run)
        QShortcut(QKeySequence(Qt.Key.Key_F7), self, self.next_run)
        QShortcut(QKeySequence("Shift+F7"), self, self.previous_run)
        QShortcut(QKeySequence.StandardKey.Close, self, self.close)
        self.summary = label("comparing…", name="compare-summary")
        self.where = label("", name="compare-where")
        bar = QHBoxLayout()
        bar.addWidget(self.prev_button)
        bar.addWidget(self.next_button)
        bar.addWidget(self.summary, 1)
        bar.addWidget(self.where)
        split = QSplitter(Qt.Orientation.Horizontal)
        for title, view in ((f"original: {original.path}", self.left), (f"copy: {copy.path}", self.right)):
            box = QWidget()
            lay = QVBoxLayout(box)
            lay.setContentsMargins(0, 0, 0, 0)
            head = label(title)
            head.setToolTip(title)
            lay.addWidget(head)
            lay.addWidget(view, 1)
            split.addWidget(box)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(split, 1)
        self._update_buttons()
        self.resize(1500, 800)

    # -- results ---------------------------------------------------------------------------------
    def set_comparison(self, comparison: Comparison) -> None:
        self.comparison = comparison
        marks = [Highlight(off, n, CHANGED_COLOUR, "changed", "changed", role="changed")
                 for off, n in comparison.runs[:MAX_MARKS]]
        self.left.set_highlights(marks)
        self.right.set_highlights(marks)
        sizes = "" if comparison.size_a == comparison.size_b else \
            f"; sizes differ ({comparison.size_a} and {comparison.size_b} bytes)"
        self.summary.setText(comparison.summary() + sizes)
        self._update_buttons()
        if comparison.runs:
            self.next_run()

    def set_progress(self, done: int, total: int) -> None:
        if self.comparison is None and total:
            self.summary.setText(f"comparing… {100 * done // total}%")

    def set_failed(self, reason: str) -> None:
        self.summary.setText(f"comparison failed: {reason}")

    # -- navigation ------------------------------------------------------------------------------
    def _update_buttons(self) -> None:
        runs = self.comparison.runs if self.comparison is not None else []
        at = self.current[0] if self.current is not None else -1
        self.next_button.setEnabled(any(off > at for off, _ in runs[-1:]) if runs else False)
        self.prev_button.setEnabled(bool(runs) and self.current is not None and runs[0][0] < at)
        if self.current is not None and self.comparison is not None:
            i = self.comparison.index_of(self.current[0])
            self.where.setText(f"run {i + 1} of {len(runs)}: {self.current[0]:#x}, {self.current[1]} bytes")

    def show_run(self, run: tuple[int, int] | None) -> bool:
        if run is None:
            return False
        self.current = run
        self._syncing = True
        try:
            for view in (self.left, self.right):
                view.select(run[0], run[1], top=True)
        finally:
            self._syncing = False
        self._update_buttons()
        return True

    def next_run(self) -> bool:
        """Select the next changed run in both views (from the current one, or the start)."""
        if self.comparison is None:
            return False
        at = self.current[0] if self.current is not None else -1
        return self.show_run(self.comparison.next_run(at))

    def previous_run(self) -> bool:
        if self.comparison is None or self.current is None:
            return False
        return self.show_run(self.comparison.previous_run(self.current[0]))

    def _follow(self, other: HexView, offset: int, length: int) -> None:
        """A selection in one view is the same bytes in the other (scrolled to the same row)."""
        if self._syncing:
            return
        self._syncing = True
        try:
            if other.selection() != (offset, length):
                other.select(offset, length, center=False)
        finally:
            self._syncing = False

    def eventFilter(self, watched: Any, event: Any) -> bool:  # noqa: N802 - Qt override
        from PySide6.QtCore import QEvent

        if event.type() == QEvent.Type.Paint and not self._syncing:  # scrolled: the other view follows
            source = self.left if watched is self.left.viewport() else self.right
            other = self.right if source is self.left else self.left
            if other.top_row() != source.top_row():
                self._syncing = True
                try:
                    other.scroll_to_row(source.top_row())
                finally:
                    self._syncing = False
        return False

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        self.left.set_dump(None)
        self.right.set_dump(None)
        self.sig_closed.emit()
        super().closeEvent(event)


__all__ = ["CompareWindow"]
