"""The main window: structure tree, regions table, warnings, and a status bar with format, size, SHA-256.

It is the base the real GUI grows on (hex view, entropy plot, findings), so the rules are set here:
the window only *reads* the :class:`~viewer.evidence.Dump`; anything that may take longer than a frame
(hashing a multi-GB dump now, scanning later) runs in a worker on the window's thread pool and reports
through ``sig_*`` signals; workers catch every exception and report it as ``sig_failed``, so a failure is
a status message, never a dead thread or a frozen window. A file that cannot be opened gives one clear
line in a message box, not a traceback, and leaves the dump that was open (if any) in place.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QRunnable,
    QSortFilterProxyModel,
    QStringListModel,
    Qt,
    QThreadPool,
    Signal,
)
from PySide6.QtGui import QAction, QCloseEvent, QFontDatabase, QFontMetrics, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QFileDialog,
    QHeaderView,
    QLabel,
    QListView,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from ..evidence import Dump, EvidenceError, open_dump
from . import regions_model as rm
from . import structure_model as sm
from .regions_model import RegionsModel, human_size
from .structure_model import StructureModel

APP_TITLE = "Evidence Viewer"
HASH_CHUNK = 8 * 1024 * 1024
PROGRESS_EVERY_S = 0.1


def _one_line(text: str) -> str:
    """Messages from the evidence layer are meant to be one line; make sure (status bar, message box)."""
    return " ".join(str(text).split())


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    """SHA-256 of a whole dump, off the GUI thread, cancellable, with progress.

    Why not ``Dump.sha256()``: it is one call over the whole file, which can neither report progress on
    a multi-GB dump nor stop when the examiner opens another file or closes the window. This streams the
    same read-only mapping (``dump.source.view``) in 8 MiB chunks and checks for cancel between them.
    """

    def __init__(self, dump: Dump, token: int):
        super().__init__()
        self.setAutoDelete(False)  # the window keeps the Python object; Qt must not delete it under us
        self.signals = HashSignals()
        self.token = token
        self._dump = dump
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:
        try:
            digest = hashlib.sha256()
            total = self._dump.size
            last = 0.0
            for start in range(0, total, HASH_CHUNK):
                if self._cancel.is_set():
                    self.signals.sig_failed.emit(self.token, "cancelled")
                    return
                with self._dump.source.view(start, HASH_CHUNK) as chunk:
                    digest.update(chunk)
                now = time.monotonic()
                if now - last >= PROGRESS_EVERY_S:
                    last = now
                    self.signals.sig_progress.emit(self.token, min(total, start + HASH_CHUNK), total)
            self.signals.sig_done.emit(self.token, digest.hexdigest())
        except Exception as exc:  # noqa: BLE001 - a worker reports every failure as a signal
            self.signals.sig_failed.emit(self.token, _one_line(f"{type(exc).__name__}: {exc}"))
        finally:
            self.signals.sig_finished.emit(self.token)


def _titled(title: QLabel, view: QWidget) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(4, 4, 4, 0)
    layout.setSpacing(2)
    layout.addWidget(title)
    layout.addWidget(view)
    return box


class MainWindow(QMainWindow):
    """One dump at a time: its structure tree and regions side by side, warnings below."""

    sig_dump_opened = Signal(object)  # the Dump now shown
    sig_range_selected = Signal(object, object)  # file offset, length (Python ints: dumps exceed 4 GiB)
    sig_hash_done = Signal(str)  # SHA-256 of the dump now shown

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.dump: Dump | None = None
        self.last_error: str | None = None
        self.sha256: str | None = None
        self._selected: tuple[int, int] | None = None
        self._token = 0
        self._workers: dict[int, HashWorker] = {}  # running hash workers by token
        self._retiring: dict[int, Dump] = {}  # replaced dumps to close when their worker stops
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)

        self.structure_model = StructureModel(parent=self)
        self.regions_model = RegionsModel(parent=self)
        self._regions_proxy = QSortFilterProxyModel(self)
        self._regions_proxy.setSourceModel(self.regions_model)
        self._regions_proxy.setSortRole(rm.SORT_ROLE)
        self.warnings_model = QStringListModel(self)

        self._build_actions()
        self._build_central()
        self._build_docks()
        self._build_status()
        self._update_title()
        self.resize(1200, 800)

    # -- construction ----------------------------------------------------------------------------
    def _build_actions(self) -> None:
        menu = self.menuBar().addMenu("&File")
        self.action_open = QAction("&Open…", self)
        self.action_open.setShortcut(QKeySequence.StandardKey.Open)
        self.action_open.setStatusTip("Open a dump read-only")
        self.action_open.triggered.connect(self._on_open_triggered)
        menu.addAction(self.action_open)
        menu.addSeparator()
        self.action_quit = QAction("&Quit", self)
        self.action_quit.setShortcut(QKeySequence.StandardKey.Quit)
        self.action_quit.setMenuRole(QAction.MenuRole.QuitRole)
        self.action_quit.triggered.connect(self.close)
        menu.addAction(self.action_quit)
        self._view_menu = self.menuBar().addMenu("&View")

    def _build_central(self) -> None:
        fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        digits = QFontMetrics(fixed)
        pad = 18  # cell margins

        self.tree = QTreeView()
        self.tree.setObjectName("structure-tree")
        self.tree.setModel(self.structure_model)
        self.tree.setUniformRowHeights(True)  # 100k rows under one node stay cheap to lay out
        self.tree.setAlternatingRowColors(True)
        self.tree.setAllColumnsShowFocus(True)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(sm.COL_VALUE, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(sm.COL_FIELD, 250)  # room for names three levels deep
        header.resizeSection(sm.COL_OFFSET, digits.horizontalAdvance("0x0000000000") + pad)
        header.resizeSection(sm.COL_LENGTH, digits.horizontalAdvance("0000000000") + pad)
        self.tree.selectionModel().currentChanged.connect(self._on_tree_current)

        self.regions_view = QTableView()
        self.regions_view.setObjectName("regions-table")
        self.regions_view.setModel(self._regions_proxy)
        self.regions_view.setAlternatingRowColors(True)
        self.regions_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.regions_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.regions_view.setWordWrap(False)
        vheader = self.regions_view.verticalHeader()
        vheader.setVisible(False)
        vheader.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # no per-row measuring of 100k rows
        vheader.setDefaultSectionSize(self.fontMetrics().height() + 6)
        rheader = self.regions_view.horizontalHeader()
        rheader.setStretchLastSection(False)
        rheader.setSectionResizeMode(rm.COL_NAME, QHeaderView.ResizeMode.Stretch)
        rheader.resizeSection(rm.COL_OFFSET, digits.horizontalAdvance("0x00000000") + pad)
        rheader.resizeSection(rm.COL_SIZE, digits.horizontalAdvance("00000000") + pad)
        rheader.resizeSection(rm.COL_VADDR, digits.horizontalAdvance("0x0000000000000000") + pad)
        rheader.resizeSection(rm.COL_KIND, self.fontMetrics().horizontalAdvance("module") + pad)
        rheader.resizeSection(rm.COL_PERMS, self.fontMetrics().horizontalAdvance("Perms") + pad)
        rheader.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # file order until a header is clicked
        self.regions_view.setSortingEnabled(True)
        self.regions_view.selectionModel().currentChanged.connect(self._on_region_current)

        self._structure_title = QLabel("<b>Structure</b>")
        self._regions_title = QLabel("<b>Regions</b>")
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("main-splitter")
        self.splitter.addWidget(_titled(self._structure_title, self.tree))
        self.splitter.addWidget(_titled(self._regions_title, self.regions_view))
        self.splitter.setChildrenCollapsible(False)
        # Equal halves: the tree's Value column and the regions' Name column are what elide first.
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([600, 600])

        self._placeholder = QLabel("Open a dump with File ▸ Open… (Ctrl+O)")
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._placeholder.setEnabled(False)  # drawn in the disabled (grey) text colour
        font = self._placeholder.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        self._placeholder.setFont(font)
        self._stack = QStackedWidget()
        self._stack.addWidget(self._placeholder)
        self._stack.addWidget(self.splitter)
        self.setCentralWidget(self._stack)

    def _build_docks(self) -> None:
        self.warnings_view = QListView()
        self.warnings_view.setObjectName("warnings-list")
        self.warnings_view.setModel(self.warnings_model)
        self.warnings_view.setUniformItemSizes(True)
        self.warnings_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.warnings_view.setWordWrap(False)
        self.warnings_dock = QDockWidget("Warnings", self)
        self.warnings_dock.setObjectName("warnings-dock")  # saveState() needs names
        self.warnings_dock.setWidget(self.warnings_view)
        self.warnings_dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetClosable | QDockWidget.DockWidgetFeature.DockWidgetMovable
        )
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.warnings_dock)
        self.resizeDocks([self.warnings_dock], [90], Qt.Orientation.Vertical)
        self._view_menu.addAction(self.warnings_dock.toggleViewAction())
        self.warnings_dock.hide()  # an empty white pane under the "open a dump" hint looks broken
        self._docks_shown = False

    def _build_status(self) -> None:
        bar = self.statusBar()
        self._selection_label = QLabel()
        self.format_label = QLabel()
        self.size_label = QLabel()
        self.sha256_label = QLabel()
        self.sha256_label.setObjectName("sha256-label")
        self.sha256_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sha256_label.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        bar.addWidget(self._selection_label, 1)
        for label in (self._selection_label, self.format_label, self.size_label, self.sha256_label):
            label.setContentsMargins(6, 0, 6, 0)
        for label in (self.format_label, self.size_label, self.sha256_label):
            bar.addPermanentWidget(label)

    # -- opening ---------------------------------------------------------------------------------
    def load(self, path: str | os.PathLike[str]) -> str | None:
        """Open ``path`` and show it; return None, or the one-line reason it could not be opened.

        No dialog here, so scripts and tests can open files; :meth:`open_path` adds the message box.
        """
        try:
            dump = open_dump(path)
        except EvidenceError as exc:
            self.last_error = _one_line(str(exc))
            return self.last_error
        except Exception as exc:  # noqa: BLE001 - one clear line for the examiner, never a traceback
            self.last_error = _one_line(f"cannot open {path}: {type(exc).__name__}: {exc}")
            return self.last_error
        self.last_error = None
        self._show(dump)
        return None

    def open_path(self, path: str | os.PathLike[str]) -> bool:
        """Open ``path``; on failure show the reason in a message box. True when it opened."""
        error = self.load(path)
        if error is not None:
            self._show_error(error)
        return error is None

    def _show_error(self, text: str) -> None:
        # open() rather than exec(): window-modal without a nested event loop, so nothing upstream waits.
        box = QMessageBox(QMessageBox.Icon.Warning, "Cannot open evidence", text, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("open-error")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _on_open_triggered(self) -> None:
        start = str(self.dump.path.parent) if self.dump is not None else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open evidence (read-only)", start, "All files (*)")
        if path:
            self.open_path(path)

    def _show(self, dump: Dump) -> None:
        old, old_token = self.dump, self._token
        self._token += 1
        self.dump = dump
        self.sha256 = None
        self._selected = None
        self.structure_model.set_root(dump.structure)
        self.regions_model.set_regions(dump.regions)
        self.regions_view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self._regions_proxy.sort(-1)
        self.warnings_model.setStringList([_one_line(w) for w in dump.warnings] or ["No warnings"])
        self.warnings_view.setEnabled(bool(dump.warnings))
        self.warnings_dock.setWindowTitle(f"Warnings ({len(dump.warnings)})")
        self._regions_title.setText(f"<b>Regions</b> ({len(dump.regions)})")
        self.format_label.setText(f"format: {dump.format}")
        self.size_label.setText(f"size: {dump.size} bytes ({human_size(dump.size)})")
        self._selection_label.clear()
        self._stack.setCurrentWidget(self.splitter)
        if not self._docks_shown:  # first dump: show the docks; later, respect what the examiner closed
            self._docks_shown = True
            self.warnings_dock.show()
        self._update_title()
        root = self.structure_model.index(0, 0)
        if root.isValid():
            self.tree.expand(root)
            self.tree.setCurrentIndex(root)
        if old is not None:
            self._retire(old, old_token)
        self._start_hash(dump)
        self.sig_dump_opened.emit(dump)

    def _update_title(self) -> None:
        self.setWindowTitle(f"{APP_TITLE} — {self.dump.path.name}" if self.dump is not None else APP_TITLE)

    # -- hashing ---------------------------------------------------------------------------------
    def _start_hash(self, dump: Dump) -> None:
        worker = HashWorker(dump, self._token)
        worker.signals.sig_progress.connect(self._on_hash_progress)
        worker.signals.sig_done.connect(self._on_hash_done)
        worker.signals.sig_failed.connect(self._on_hash_failed)
        worker.signals.sig_finished.connect(self._on_hash_finished)
        self._workers[worker.token] = worker
        self.sha256_label.setText("sha256: computing…")
        self._pool.start(worker)

    def _on_hash_progress(self, token: int, done: int, total: int) -> None:
        if token == self._token and total:
            self.sha256_label.setText(f"sha256: computing… {100 * done // total}%")

    def _on_hash_done(self, token: int, digest: str) -> None:
        if token != self._token:
            return  # a dump that is no longer shown
        self.sha256 = digest
        self.sha256_label.setText(f"sha256: {digest}")
        self.sha256_label.setToolTip("SHA-256 of the whole dump file (select to copy)")
        self.sig_hash_done.emit(digest)

    def _on_hash_failed(self, token: int, reason: str) -> None:
        if token == self._token:
            self.sha256_label.setText(f"sha256: failed ({reason})")

    def _on_hash_finished(self, token: int) -> None:
        self._workers.pop(token, None)
        retired = self._retiring.pop(token, None)
        if retired is not None:
            retired.close()

    def _retire(self, dump: Dump, token: int) -> None:
        """Close a dump that is no longer shown, once no worker reads its mapping any more."""
        worker = self._workers.get(token)
        if worker is None:
            dump.close()
        else:
            worker.cancel()
            self._retiring[token] = dump

    # -- selection -------------------------------------------------------------------------------
    def selected_range(self) -> tuple[int, int] | None:
        """``(file offset, length)`` of the field or region selected last, for the hex view to come."""
        return self._selected

    def _on_tree_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        node = self.structure_model.node(current)
        if node is not None:
            self._select(node.offset, node.length, str(node.name))

    def _on_region_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            return
        region = self.regions_model.region(self._regions_proxy.mapToSource(current).row())
        self._select(region.file_offset, region.size, region.name or region.kind)

    def _select(self, offset: int, length: int, what: str) -> None:
        self._selected = (offset, length)
        text = f"{_clip(what, 60)}: offset {offset:#x}, {length} bytes"
        if self.dump is not None:
            va = self.dump.file_to_va(offset)
            if va is not None:
                text += f", va {va:#x}"
        self._selection_label.setText(text)
        self.sig_range_selected.emit(offset, length)

    # -- closing ---------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop the workers before the mapping they read goes away, then close the dump."""
        for worker in list(self._workers.values()):
            worker.cancel()
        self._pool.waitForDone()
        for dump in list(self._retiring.values()):
            dump.close()
        self._retiring.clear()
        self._workers.clear()
        if self.dump is not None:
            self.dump.close()
        super().closeEvent(event)

