"""Find bar: search the dump for hex (with ``??`` wildcards), ASCII, UTF-16LE or a bytes regex.

The search itself is Qt-free (:mod:`viewer.scan.search`: :func:`find_all`, :func:`parse_query`, re-exported
here); this module runs it (:func:`viewer.workspace.jobs.search_job`) in the window's one worker,
:class:`~viewer.gui.task_worker.TaskWorker`, on the bar's thread pool, and lists the results as their
batches arrive
(offset, virtual address, region, a 16-byte preview). Activating a result (double-click, Enter,
:meth:`FindBar.next_result` / :meth:`FindBar.previous_result`) emits ``sig_result_activated(offset,
length)``; the caller wires F3 / Shift+F3 to next/previous and shows the bytes.

Offsets travel as Python ints (``Signal(object, ...)``): dumps exceed 4 GiB and a Qt ``int`` is 32-bit.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from PySide6.QtCore import Qt, QThreadPool, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from viewer.gui.plain import PlainLabel
from viewer.gui.task_worker import TaskWorker
from viewer.scan.search import DEFAULT_LIMIT, find_all, parse_query
from viewer.workspace.jobs import search_job

__all__ = ["FindBar", "find_all", "parse_query", "MODE_LABELS"]

MODE_LABELS = (("Hex", "hex"), ("ASCII", "ascii"), ("UTF-16", "utf16"), ("Regex", "regex"))
MODE_TIPS = {
    "hex": "Hex bytes: 'de ad be ef' or 'deadbeef'; ?? matches any byte (4? any nibble)",
    "ascii": "Text as typed (UTF-8 beyond ASCII)",
    "utf16": "Text encoded UTF-16LE, as Windows keeps strings in memory",
    "regex": "Python bytes regex (DOTALL): \\x00 escapes, classes, {n,m}; matches are bounded to 4 KiB",
}
BATCH_MAX = 500
PREVIEW = 16
OFFSET_ROLE = Qt.ItemDataRole.UserRole + 1


def _preview(data: bytes) -> str:
    hexed = " ".join(f"{b:02x}" for b in data)
    text = "".join(chr(b) if 32 <= b < 127 else "." for b in data)
    return f"{hexed:<{PREVIEW * 3}} {text}"


class FindBar(QWidget):
    """Mode combo, pattern line edit, Find / Next / Previous, a status line and the results list.

    ``set_dump(dump)`` (or None) cancels any search in flight. ``find()`` starts a search of the whole
    dump; results arrive in batches (``results()`` lists what is in so far). ``sig_search_done(count)``
    fires once a search has ended, however it ended.
    """

    sig_result_activated = Signal(object, object)  # file offset, length
    sig_search_done = Signal(object)  # number of results listed
    sig_failed = Signal(str)  # one-line reason (bad query, read error)

    def __init__(self, parent: QWidget | None = None, limit: int = DEFAULT_LIMIT):
        super().__init__(parent)
        self.limit = limit
        self.chunk_size: int | None = None  # None: the scanner's default
        self.dump: Any = None
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._token = 0
        self._workers: dict[int, TaskWorker] = {}
        self._results: list[tuple[int, int]] = []
        self._fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)

        self.mode_combo = QComboBox()
        for label, mode in MODE_LABELS:
            self.mode_combo.addItem(label, mode)
            self.mode_combo.setItemData(
                self.mode_combo.count() - 1, MODE_TIPS[mode], Qt.ItemDataRole.ToolTipRole
            )
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("de ad ?? ef")
        self.edit.setClearButtonEnabled(True)
        self.find_button = QPushButton("Find")
        self.next_button = QPushButton("Next")
        self.prev_button = QPushButton("Previous")
        self.find_button.setDefault(True)
        self.next_button.setToolTip("Next result (F3)")
        self.prev_button.setToolTip("Previous result (Shift+F3)")
        self.status = PlainLabel("")
        self.results_list = QListWidget()
        self.results_list.setFont(self._fixed)
        self.results_list.setUniformItemSizes(True)  # 10,000 rows stay cheap
        self.results_list.setAlternatingRowColors(True)

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.mode_combo)
        row.addWidget(self.edit, 1)
        row.addWidget(self.find_button)
        row.addWidget(self.prev_button)
        row.addWidget(self.next_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.results_list, 1)

        self.mode_combo.currentIndexChanged.connect(self._on_mode_changed)
        self.edit.returnPressed.connect(self.find)
        self.edit.textChanged.connect(self._update_buttons)
        self.find_button.clicked.connect(self._on_find_clicked)
        self.next_button.clicked.connect(self.next_result)
        self.prev_button.clicked.connect(self.previous_result)
        self.results_list.itemActivated.connect(self._on_item_activated)
        self.setFocusProxy(self.edit)  # focusing the bar (Ctrl+F) puts the cursor in the line edit
        self._on_mode_changed()
        self._update_buttons()

    # -- public API ------------------------------------------------------------------------------
    def set_dump(self, dump: Any) -> None:
        """Search ``dump`` from now on (None: nothing); cancels a search in flight, clears results.
        The same dump again is a no-op: the results stay (showing the bar again must not lose them)."""
        if dump is self.dump:
            return
        self.cancel()
        self.dump = dump
        self._clear()
        self.status.setText("")
        self._update_buttons()

    def restore(self, results: list[tuple[int, int]], query: str = "") -> None:
        """Show ``results`` of an earlier search of the current dump (a tab shown again keeps its own
        find results, and clicking them selects bytes of that dump)."""
        self.cancel()
        self._clear()
        self.edit.setText(query)
        self._add_results(results)
        if results:
            self.status.setText(f"{len(results)} result{'s' if len(results) != 1 else ''} (earlier search)")
        self._update_buttons()

    def set_mode(self, mode: str) -> None:
        index = self.mode_combo.findData(mode)
        if index < 0:
            raise ValueError(f"unknown search mode {mode!r}")
        self.mode_combo.setCurrentIndex(index)

    def mode(self) -> str:
        return str(self.mode_combo.currentData())

    def results(self) -> list[tuple[int, int]]:
        """``(offset, length)`` of every result listed so far, in file order."""
        return list(self._results)

    def is_searching(self) -> bool:
        return self._token in self._workers

    def find(self) -> bool:
        """Start searching the whole dump for what the line edit holds; False (and a status line) when
        the query is not valid or no dump is shown."""
        if self.dump is None:
            self.status.setText("no dump open")
            return False
        try:
            pattern = parse_query(self.edit.text(), self.mode())
        except ValueError as exc:
            self.status.setText(str(exc))
            self.sig_failed.emit(str(exc))
            return False
        self.cancel()
        self._clear()
        self._token += 1
        worker = TaskWorker(search_job, self.dump, pattern, limit=self.limit, chunk_size=self.chunk_size,
                            what="search", partial="on_results", batch=BATCH_MAX)
        token = self._token
        worker.signals.sig_progress.connect(partial(self._on_progress, token))
        worker.signals.sig_partial.connect(partial(self._on_results, token))
        worker.signals.sig_done.connect(partial(self._on_done, token))
        worker.signals.sig_failed.connect(partial(self._on_failed, token))
        worker.signals.sig_finished.connect(partial(self._on_finished, token))
        self._workers[self._token] = worker
        self.status.setText("searching…")
        self._update_buttons()
        self._pool.start(worker)
        return True

    def cancel(self) -> None:
        """Stop the search in flight (its late results are dropped)."""
        worker = self._workers.get(self._token)
        if worker is not None:
            worker.cancel()
        self._token += 1  # whatever arrives for the old token is ignored

    def closeEvent(self, event: Any) -> None:
        self.cancel()
        super().closeEvent(event)

    def wait_idle(self, msecs: int = 30000) -> bool:
        """Block until no search runs (tests, closing)."""
        return self._pool.waitForDone(msecs)

    def next_result(self) -> tuple[int, int] | None:
        """Select and activate the result after the current one (wrapping); start a search first when
        there are no results yet but a query is typed."""
        return self._step(+1)

    def previous_result(self) -> tuple[int, int] | None:
        return self._step(-1)

    # -- internals -------------------------------------------------------------------------------
    def _step(self, delta: int) -> tuple[int, int] | None:
        n = self.results_list.count()
        if n == 0:
            if not self.is_searching() and self.edit.text():
                self.find()
            return None
        row = self.results_list.currentRow()
        row = (0 if delta > 0 else n - 1) if row < 0 else (row + delta) % n
        self.results_list.setCurrentRow(row)
        return self._activate(self.results_list.item(row))

    def _activate(self, item: QListWidgetItem | None) -> tuple[int, int] | None:
        if item is None:
            return None
        offset, length = item.data(OFFSET_ROLE)
        self.sig_result_activated.emit(offset, length)
        return offset, length

    def _on_item_activated(self, item: QListWidgetItem) -> None:
        self._activate(item)

    def _on_find_clicked(self) -> None:
        if self.is_searching():
            self.cancel()
            self.status.setText(f"cancelled: {len(self._results)} results")
            self._update_buttons()
        else:
            self.find()

    def _on_mode_changed(self, *_: object) -> None:
        mode = self.mode()
        self.edit.setToolTip(MODE_TIPS.get(mode, ""))
        placeholders = {
            "hex": "de ad ?? ef",
            "ascii": "text",
            "utf16": "text (UTF-16LE)",
            "regex": r"ssh-(rsa|ed25519)",
        }
        self.edit.setPlaceholderText(placeholders.get(mode, ""))

    def _clear(self) -> None:
        self._results.clear()
        self.results_list.clear()

    def _update_buttons(self, *_: object) -> None:
        searching = self.is_searching()
        self.find_button.setText("Cancel" if searching else "Find")
        has = self.results_list.count() > 0
        self.next_button.setEnabled(has or bool(self.edit.text()))
        self.prev_button.setEnabled(has)

    def _describe(self, offset: int, length: int) -> str:
        dump = self.dump
        va = "-"
        where = "-"
        region_at = getattr(dump, "region_at", None)
        region = region_at(offset) if callable(region_at) else None
        if region is not None:
            where = region.name or region.kind
            if region.name and region.kind:
                where = f"{region.kind}: {region.name}"
            if region.vaddr is not None:
                va = f"{region.vaddr + (offset - region.file_offset):#x}"
        data = dump.read(offset, PREVIEW) if dump is not None else b""
        return f"{offset:#012x}  {va:>18}  {_preview(data)}  {length:>5}  {where}"

    def _on_progress(self, token: int, done: int, total: int, _rate: float = 0.0, _eta: float = 0.0) -> None:
        if token == self._token and total:
            self.status.setText(f"searching… {100 * done // total}%  ({len(self._results)} results)")

    def _on_results(self, token: int, batch: list[tuple[int, int]]) -> None:
        if token != self._token:
            return
        self._add_results(batch)

    def _add_results(self, batch: list[tuple[int, int]]) -> None:
        self.results_list.setUpdatesEnabled(False)
        try:
            for offset, length in batch:
                item = QListWidgetItem(self._describe(offset, length))
                item.setData(OFFSET_ROLE, (offset, length))
                self.results_list.addItem(item)
                self._results.append((offset, length))
        finally:
            self.results_list.setUpdatesEnabled(True)
        self._update_buttons()

    def _on_done(self, token: int, result: tuple[int, bool]) -> None:
        if token != self._token:
            return
        count, limited = result
        text = f"{count} result{'s' if count != 1 else ''}"
        if limited:
            text += f" (stopped at the limit of {self.limit})"
        self.status.setText(text + "   offset · vaddr · bytes · length · region")

    def _on_failed(self, token: int, reason: str) -> None:
        if token != self._token:
            return
        self.status.setText(reason)  # the worker's line: "search failed: OSError: …"
        self.sig_failed.emit(reason)

    def _on_finished(self, token: int) -> None:
        self._workers.pop(token, None)
        if token == self._token:
            self._update_buttons()
            self.sig_search_done.emit(len(self._results))
