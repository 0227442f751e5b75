"""The examiner's workspace: dumps in tabs (each a hex view), and docks kept in sync around them.

Docks — Structure, Regions, Findings, Entropy, Inspector, Details, Warnings — are shared by the tabs and
re-pointed at the current tab's dump; their layout is remembered (QSettings). Everything that can take
longer than a frame (parsing, hashing, scanning, entropy, find) runs in a worker on the window's thread
pool and reports through ``sig_*`` signals; workers catch every exception and report it as a signal, so
a failure is a status message, never a dead thread or a frozen window. The window only *reads* dumps.

Sync rules: selecting a structure node, a region, a finding, a search hit or a bookmark selects exactly
its bytes in the hex view; moving the hex cursor selects the deepest structure node containing it and
updates the inspector and the status bar (file offset, virtual address, region, selection length).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QRunnable,
    QSettings,
    QSortFilterProxyModel,
    QStringListModel,
    Qt,
    QThreadPool,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QFontDatabase,
    QFontMetrics,
    QKeySequence,
    QPalette,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QColorDialog,
    QDockWidget,
    QFileDialog,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListView,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from viewer.evidence import Dump, EvidenceError, open_dump
from viewer.gui import regions_model as rm
from viewer.gui import structure_model as sm
from viewer.gui.case_export import CaseExportMixin
from viewer.gui.case_window import CaseMixin
from viewer.gui.details import DetailsPane
from viewer.gui.dump_tab import Bookmark, DumpTab
from viewer.gui.entropy_plot import EntropyPlot
from viewer.gui.findings import FindingsPanel
from viewer.gui.handover import HandoverMixin
from viewer.gui.hash_worker import HashWorker, one_line
from viewer.gui.inspector import Inspector
from viewer.gui.regions_model import RegionsModel
from viewer.gui.search import FindBar
from viewer.gui.structure_model import StructureModel
from viewer.gui.workers import ScanWorker
from viewer.units import human_size

APP_TITLE = "Evidence Viewer"
BOOKMARK_COLORS = ("#aa5aff", "#2bb673", "#ff8c1a", "#1a9bff", "#e0409a", "#8fbf00")
MAX_RECENT = 10
SETTINGS_GEOMETRY, SETTINGS_STATE, SETTINGS_RECENT, SETTINGS_THEME = "window/geometry", "window/state", "recent", "theme"

__all__ = ["MainWindow", "HashWorker"]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class OpenSignals(QObject):
    sig_opened = Signal(object, str)  # Dump, path
    sig_failed = Signal(str, str)  # path, one-line reason


class OpenWorker(QRunnable):
    """Parse a dump off the GUI thread: a 100,000-range minidump takes a noticeable fraction of a second."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path
        self.signals = OpenSignals()

    def run(self) -> None:
        try:
            dump = open_dump(self.path)
        except EvidenceError as exc:
            self.signals.sig_failed.emit(self.path, one_line(str(exc)))
        except Exception as exc:  # noqa: BLE001 - one clear line, never a traceback
            self.signals.sig_failed.emit(self.path, one_line(f"cannot open {self.path}: {type(exc).__name__}: {exc}"))
        else:
            self.signals.sig_opened.emit(dump, self.path)


class MainWindow(CaseExportMixin, CaseMixin, HandoverMixin, QMainWindow):
    """Tabs of dumps with a hex view each; structure, regions, findings, entropy, inspector and details docks."""

    sig_dump_opened = Signal(object)  # the Dump now shown
    sig_range_selected = Signal(object, object)  # file offset, length (Python ints: dumps exceed 4 GiB)
    sig_hash_done = Signal(str)  # SHA-256 of the dump now shown
    sig_scan_finished = Signal(object)  # ScanResult of the current dump

    def __init__(self, parent: QWidget | None = None, settings: QSettings | None = None):
        super().__init__(parent)
        self.settings = settings or QSettings()
        self.last_error: str | None = None
        self._token = 0
        self._tabs_by_token: dict[int, DumpTab] = {}
        self._hash_workers: dict[int, HashWorker] = {}
        self._retiring: dict[int, Dump] = {}
        self._scan: tuple[ScanWorker, DumpTab] | None = None
        self._syncing = False
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(4)
        self.setAcceptDrops(True)

        self.structure_model = StructureModel(parent=self)
        self.regions_model = RegionsModel(parent=self)
        self._regions_proxy = QSortFilterProxyModel(self)
        self._regions_proxy.setSourceModel(self.regions_model)
        self._regions_proxy.setSortRole(rm.SORT_ROLE)
        self._regions_proxy.setFilterKeyColumn(-1)
        self._regions_proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.warnings_model = QStringListModel(self)

        self._build_central()
        self._build_docks()
        self._build_actions()
        self._build_status()
        self._build_case()
        self._build_handover()
        self._build_case_export()
        self._update_title()
        self.resize(1400, 900)
        self._apply_theme(str(self.settings.value(SETTINGS_THEME, "system")))

    # -- the current dump ------------------------------------------------------------------------
    @property
    def tab(self) -> DumpTab | None:
        widget = self.tabs.currentWidget()
        return widget if isinstance(widget, DumpTab) else None

    @property
    def dump(self) -> Dump | None:
        return self.tab.dump if self.tab is not None else None

    @property
    def sha256(self) -> str | None:
        return self.tab.sha256 if self.tab is not None else None

    @property
    def hex(self):  # noqa: ANN201 - HexView | None
        return self.tab.hex if self.tab is not None else None

    # -- construction ----------------------------------------------------------------------------
    def _build_central(self) -> None:
        self.tabs = QTabWidget()
        self.tabs.setObjectName("dump-tabs")
        self.tabs.setDocumentMode(True)
        self.tabs.setTabsClosable(True)
        self.tabs.setMovable(True)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.tabs.tabCloseRequested.connect(self.close_tab)
        self.find_bar = FindBar()
        self.find_bar.setObjectName("find-bar")
        self.find_bar.hide()
        self.find_bar.sig_result_activated.connect(self._on_search_result)
        self.find_bar.sig_search_done.connect(self._on_search_done)
        self._placeholder = QLabel("Open a dump with File ▸ Open… (Ctrl+O), or drop it here")
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._placeholder.setEnabled(False)  # drawn in the disabled (grey) text colour
        font = self._placeholder.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        self._placeholder.setFont(font)
        work = QWidget()
        layout = QVBoxLayout(work)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.find_bar)
        self._stack = QStackedWidget()
        self._stack.addWidget(self._placeholder)
        self._stack.addWidget(work)
        self._work = work
        self.setCentralWidget(self._stack)

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)  # saveState() needs names
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        digits = QFontMetrics(fixed)
        pad = 18
        left, right, bottom = (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea,
                               Qt.DockWidgetArea.BottomDockWidgetArea)

        self.tree = QTreeView()
        self.tree.setObjectName("structure-tree")
        self.tree.setModel(self.structure_model)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setAllColumnsShowFocus(True)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(sm.COL_VALUE, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(sm.COL_FIELD, 200)
        header.resizeSection(sm.COL_OFFSET, digits.horizontalAdvance("0x00000000") + pad)
        header.resizeSection(sm.COL_LENGTH, digits.horizontalAdvance("00000000") + pad)
        self.tree.selectionModel().currentChanged.connect(self._on_tree_current)
        self.structure_dock = self._dock("Structure", "structure-dock", self.tree, left)

        self.regions_view = QTableView()
        self.regions_view.setObjectName("regions-table")
        self.regions_view.setModel(self._regions_proxy)
        self.regions_view.setAlternatingRowColors(True)
        self.regions_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.regions_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.regions_view.setWordWrap(False)
        vheader = self.regions_view.verticalHeader()
        vheader.setVisible(False)
        vheader.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vheader.setDefaultSectionSize(self.fontMetrics().height() + 6)
        rheader = self.regions_view.horizontalHeader()
        rheader.setStretchLastSection(False)
        rheader.setSectionResizeMode(rm.COL_NAME, QHeaderView.ResizeMode.Stretch)
        rheader.resizeSection(rm.COL_OFFSET, digits.horizontalAdvance("0x00000000") + pad)
        rheader.resizeSection(rm.COL_SIZE, digits.horizontalAdvance("00000000") + pad)
        rheader.resizeSection(rm.COL_VADDR, digits.horizontalAdvance("0x0000000000000000") + pad)
        rheader.resizeSection(rm.COL_KIND, self.fontMetrics().horizontalAdvance("module") + pad)
        rheader.resizeSection(rm.COL_PERMS, self.fontMetrics().horizontalAdvance("Perms") + pad)
        rheader.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.regions_view.setSortingEnabled(True)
        self.regions_view.selectionModel().currentChanged.connect(self._on_region_current)
        self.regions_filter = QLineEdit()
        self.regions_filter.setPlaceholderText("Filter regions (name, kind, address…)")
        self.regions_filter.setClearButtonEnabled(True)
        self.regions_filter.textChanged.connect(self._regions_proxy.setFilterFixedString)
        regions_box = QWidget()
        box = QVBoxLayout(regions_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addWidget(self.regions_filter)
        box.addWidget(self.regions_view)
        self.regions_dock = self._dock("Regions", "regions-dock", regions_box, left)

        self.findings_panel = FindingsPanel()
        self.findings_panel.setObjectName("findings-panel")
        self.findings_panel.sig_finding_selected.connect(self._on_finding_selected)
        self.findings_dock = self._dock("Findings", "findings-dock", self.findings_panel, bottom)

        self.entropy_plot = EntropyPlot()
        self.entropy_plot.setObjectName("entropy-plot")
        self.entropy_plot.sig_offset_clicked.connect(self.go_to_offset)
        self.entropy_dock = self._dock("Entropy", "entropy-dock", self.entropy_plot, bottom)

        self.inspector = Inspector()
        self.inspector.setObjectName("inspector")
        self.inspector.sig_follow_pointer.connect(self.go_to_offset)
        self.inspector_dock = self._dock("Inspector", "inspector-dock", self.inspector, right)

        self.details = DetailsPane()
        self.details.setObjectName("details-pane")
        self.details_dock = self._dock("Details", "details-dock", self.details, right)

        self.warnings_view = QListView()
        self.warnings_view.setObjectName("warnings-list")
        self.warnings_view.setModel(self.warnings_model)
        self.warnings_view.setUniformItemSizes(True)
        self.warnings_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.warnings_view.setWordWrap(False)
        self.warnings_dock = self._dock("Warnings", "warnings-dock", self.warnings_view, bottom)

        self._arranged = False
        self.docks = [self.structure_dock, self.regions_dock, self.findings_dock, self.entropy_dock,
                      self.inspector_dock, self.details_dock, self.warnings_dock]

    def _arrange_docks(self) -> None:
        """The default layout: docks tabbed in pairs. Done on first show, not in __init__: tabifying before
        the window has a layout leaves stale, visible tab bars behind in Qt 6.11 (seen in screenshots)."""
        self.tabifyDockWidget(self.structure_dock, self.regions_dock)
        self.tabifyDockWidget(self.findings_dock, self.entropy_dock)
        self.tabifyDockWidget(self.findings_dock, self.warnings_dock)
        self.tabifyDockWidget(self.findings_dock, self.case_dock)
        self.findings_dock.raise_()
        self.structure_dock.raise_()
        self.resizeDocks([self.structure_dock, self.inspector_dock], [430, 340], Qt.Orientation.Horizontal)
        self.resizeDocks([self.findings_dock], [240], Qt.Orientation.Vertical)
        self.resizeDocks([self.inspector_dock, self.details_dock, self.review_dock], [260, 300, 280],
                         Qt.Orientation.Vertical)

    def showEvent(self, event) -> None:  # noqa: ANN001
        if not self._arranged:
            self._arranged = True
            if not self._restore_layout():
                self._arrange_docks()
        super().showEvent(event)

    def _action(self, menu, text: str, slot, shortcut=None, tip: str = "") -> QAction:  # noqa: ANN001
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_actions(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.file_menu = file_menu
        self.action_open = self._action(file_menu, "&Open…", self._on_open_triggered, QKeySequence.StandardKey.Open,
                                        "Open a dump read-only")
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.action_close_tab = self._action(file_menu, "&Close", self._close_current, QKeySequence.StandardKey.Close)
        file_menu.addSeparator()
        self.action_quit = self._action(file_menu, "&Quit", self.close, QKeySequence("Ctrl+Q"))
        self.action_quit.setMenuRole(QAction.MenuRole.QuitRole)

        edit = bar.addMenu("&Edit")
        self.action_copy = self._action(edit, "&Copy as hex", lambda: self._copy("hex"), QKeySequence.StandardKey.Copy)
        self._action(edit, "Copy as C array", lambda: self._copy("c"), QKeySequence("Ctrl+Shift+C"))
        self._action(edit, "Copy as Python bytes", lambda: self._copy("python"), QKeySequence("Ctrl+Alt+C"))
        self._action(edit, "Copy as base64", lambda: self._copy("base64"), QKeySequence("Ctrl+Alt+B"))
        edit.addSeparator()
        self.action_find = self._action(edit, "&Find…", self.show_find, QKeySequence.StandardKey.Find)
        self.action_find_next = self._action(edit, "Find &next", self.find_bar.next_result, QKeySequence(Qt.Key.Key_F3))
        self._action(edit, "Find &previous", self.find_bar.previous_result, QKeySequence("Shift+F3"))
        self.action_goto = self._action(edit, "&Go to offset or address…", self.ask_go_to, QKeySequence("Ctrl+G"))
        self.action_bookmark = self._action(edit, "&Bookmark selection…", self.ask_bookmark, QKeySequence("Ctrl+B"))

        self.bookmarks_menu = bar.addMenu("&Bookmarks")
        self.bookmarks_menu.aboutToShow.connect(self._fill_bookmarks_menu)

        view = bar.addMenu("&View")
        for number, dock in enumerate(self.docks, start=1):
            toggle = dock.toggleViewAction()
            toggle.setShortcut(QKeySequence(f"Alt+{number}"))
            view.addAction(toggle)
        self.view_menu = view
        self._view_separator = view.addSeparator()
        self.action_vaddr = self._action(view, "Show &virtual addresses", self._toggle_address_mode, QKeySequence("Ctrl+Shift+A"))
        self.action_vaddr.setCheckable(True)
        self.action_entropy_va = self._action(view, "Entropy over the &address space", self._toggle_entropy_axis,
                                              QKeySequence("Ctrl+Shift+E"))
        self.action_entropy_va.setCheckable(True)
        self.action_wide = self._action(view, "&32 bytes per row", self._toggle_width, QKeySequence("Ctrl+Shift+W"))
        self.action_wide.setCheckable(True)
        self.action_utf16 = self._action(view, "Text as &UTF-16", self._toggle_text_mode, QKeySequence("Ctrl+Shift+U"))
        self.action_utf16.setCheckable(True)
        theme_menu = view.addMenu("&Theme")
        self._theme_group = QActionGroup(self)
        for key, label, keys in (("system", "Follow the &system", "Ctrl+Shift+1"), ("light", "&Light", "Ctrl+Shift+2"),
                                 ("dark", "&Dark", "Ctrl+Shift+3")):
            act = self._action(theme_menu, label, lambda _=False, k=key: self._apply_theme(k, save=True), QKeySequence(keys))
            act.setCheckable(True)
            act.setData(key)
            self._theme_group.addAction(act)

        scan = bar.addMenu("&Scan")
        self.scan_menu = scan
        self.action_scan = self._action(scan, "&Scan for secrets", self.start_scan, QKeySequence("Ctrl+R"),
                                        "Find key material in the current dump")
        self.action_scan_keys = self._action(scan, "Scan with &public keys…", self._scan_with_keys, QKeySequence("Ctrl+Shift+R"),
                                             "Scan and match findings to public keys, certificates or a JWKS")
        self.action_cancel_scan = self._action(scan, "&Cancel scan", self.cancel_scan, QKeySequence("Ctrl+."))
        self.action_cancel_scan.setEnabled(False)

    def _build_status(self) -> None:
        bar = self.statusBar()
        self._selection_label = QLabel()
        self.cursor_label = QLabel()
        self.cursor_label.setObjectName("cursor-label")
        self.format_label = QLabel()
        self.size_label = QLabel()
        self.sha256_label = QLabel()
        self.sha256_label.setObjectName("sha256-label")
        self.sha256_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sha256_label.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.scan_progress = QProgressBar()
        self.scan_progress.setObjectName("scan-progress")
        self.scan_progress.setMaximumWidth(220)
        self.scan_progress.setRange(0, 1000)
        self.scan_progress.hide()
        self.scan_label = QLabel()
        self.scan_cancel_button = QPushButton("Cancel")
        self.scan_cancel_button.clicked.connect(self.cancel_scan)
        self.scan_cancel_button.hide()
        bar.addWidget(self.cursor_label, 1)
        bar.addWidget(self._selection_label)
        for label in (self.cursor_label, self._selection_label, self.format_label, self.size_label, self.sha256_label,
                      self.scan_label):
            label.setContentsMargins(6, 0, 6, 0)
        for w in (self.scan_label, self.scan_progress, self.scan_cancel_button, self.format_label, self.size_label,
                  self.sha256_label):
            bar.addPermanentWidget(w)

    # -- layout, theme, recent files -------------------------------------------------------------
    def _restore_layout(self) -> bool:
        """The examiner's last layout, when there is one; True when it was restored."""
        geometry = self.settings.value(SETTINGS_GEOMETRY)
        state = self.settings.value(SETTINGS_STATE)
        if geometry is not None:
            self.restoreGeometry(geometry)
        return state is not None and bool(self.restoreState(state))

    def save_layout(self) -> None:
        self.settings.setValue(SETTINGS_GEOMETRY, self.saveGeometry())
        self.settings.setValue(SETTINGS_STATE, self.saveState())
        self.settings.sync()

    def _apply_theme(self, key: str, save: bool = False) -> None:
        """System (Qt follows the platform's colour scheme), or an explicit light or dark palette."""
        app = QApplication.instance()
        if app is None:
            return
        if key == "dark":
            QApplication.setStyle("Fusion")
            palette = QPalette()
            for role, color in (
                (QPalette.ColorRole.Window, QColor(45, 45, 48)), (QPalette.ColorRole.WindowText, QColor(220, 220, 220)),
                (QPalette.ColorRole.Base, QColor(30, 30, 32)), (QPalette.ColorRole.AlternateBase, QColor(40, 40, 44)),
                (QPalette.ColorRole.Text, QColor(220, 220, 220)), (QPalette.ColorRole.Button, QColor(55, 55, 58)),
                (QPalette.ColorRole.ButtonText, QColor(220, 220, 220)), (QPalette.ColorRole.Highlight, QColor(60, 110, 200)),
                (QPalette.ColorRole.HighlightedText, QColor(255, 255, 255)), (QPalette.ColorRole.ToolTipBase, QColor(60, 60, 64)),
                (QPalette.ColorRole.ToolTipText, QColor(230, 230, 230)), (QPalette.ColorRole.PlaceholderText, QColor(140, 140, 140)),
            ):
                palette.setColor(role, color)
            app.setPalette(palette)
        elif key == "light":
            QApplication.setStyle("Fusion")
            app.setPalette(QApplication.style().standardPalette())
        else:
            key = "system"
            app.setPalette(QPalette())  # back to the platform's palette (Qt follows its light/dark scheme)
        for act in self._theme_group.actions():
            act.setChecked(act.data() == key)
        for tab in self._tabs_by_token.values():
            tab.hex.viewport().update()  # painted by hand: repaint with the new palette now
        if save:
            self.settings.setValue(SETTINGS_THEME, key)

    def recent_files(self) -> list[str]:
        value = self.settings.value(SETTINGS_RECENT) or []
        return [str(v) for v in (value if isinstance(value, list) else [value])]

    def _remember(self, path: str) -> None:
        path = str(Path(path).resolve())
        recent = [p for p in self.recent_files() if p != path]
        self.settings.setValue(SETTINGS_RECENT, [path, *recent][:MAX_RECENT])

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_files():
            act = self.recent_menu.addAction(path)
            act.triggered.connect(lambda _=False, p=path: self.open_path_async(p))
        if not self.recent_menu.actions():
            self.recent_menu.addAction("(none)").setEnabled(False)

    # -- opening ---------------------------------------------------------------------------------
    def load(self, path: str | os.PathLike[str]) -> str | None:
        """Open ``path`` now and show it in a new tab; None, or the one-line reason it could not be opened.

        Synchronous, for scripts and tests; the menu, drag and drop and recent files use
        :meth:`open_path_async`, which parses in a worker.
        """
        try:
            dump = open_dump(path)
        except EvidenceError as exc:
            self.last_error = one_line(str(exc))
            return self.last_error
        except Exception as exc:  # noqa: BLE001 - one clear line for the examiner, never a traceback
            self.last_error = one_line(f"cannot open {path}: {type(exc).__name__}: {exc}")
            return self.last_error
        self.last_error = None
        self._add_tab(dump)
        return None

    def open_path(self, path: str | os.PathLike[str]) -> bool:
        """Open ``path``; on failure show the reason in a message box. True when it opened."""
        error = self.load(path)
        if error is not None:
            self._show_error(error)
        return error is None

    def open_path_async(self, path: str | os.PathLike[str]) -> None:
        """Parse ``path`` in a worker; the tab appears when it is done (the window never blocks)."""
        worker = OpenWorker(str(path))
        worker.signals.sig_opened.connect(lambda dump, _p: self._add_tab(dump))
        worker.signals.sig_failed.connect(lambda _p, reason: self._on_open_failed(reason))
        self.statusBar().showMessage(f"Opening {path}…", 3000)
        self._open_workers = getattr(self, "_open_workers", set())
        self._open_workers.add(worker)
        worker.signals.sig_opened.connect(lambda *_: self._open_workers.discard(worker))
        worker.signals.sig_failed.connect(lambda *_: self._open_workers.discard(worker))
        self._pool.start(worker)

    def _on_open_failed(self, reason: str) -> None:
        self.last_error = reason
        self._show_error(reason)

    def _show_error(self, text: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, "Cannot open evidence", text, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("open-error")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _on_open_triggered(self) -> None:
        start = str(self.dump.path.parent) if self.dump is not None else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open evidence (read-only)", start, "All files (*)")
        if path:
            self.open_path_async(path)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        for url in event.mimeData().urls():
            if url.isLocalFile():
                self.open_path_async(url.toLocalFile())
        event.acceptProposedAction()

    def _add_tab(self, dump: Dump) -> DumpTab:
        self._token += 1
        tab = DumpTab(dump, self._token)
        tab.hex.sig_cursor_moved.connect(self._on_cursor_moved)
        tab.hex.sig_selection_changed.connect(self._on_hex_selection)
        tab.hex.sig_status.connect(lambda text: self.statusBar().showMessage(text, 5000))
        self._tabs_by_token[tab.token] = tab
        self._remember(str(dump.path))
        index = self.tabs.addTab(tab, dump.path.name)
        self.tabs.setTabToolTip(index, str(dump.path))
        self._stack.setCurrentWidget(self._work)
        self.tabs.setCurrentIndex(index)  # _on_tab_changed re-points the docks
        self._show_tab(tab)
        self._start_hash(tab)
        self.sig_dump_opened.emit(dump)
        return tab

    def _on_tab_changed(self, _index: int) -> None:
        self._show_tab(self.tab)

    def _show_tab(self, tab: DumpTab | None) -> None:
        """Point every dock at ``tab``'s dump and state."""
        dump = tab.dump if tab is not None else None
        self.structure_model.set_root(dump.structure if dump is not None else None)
        self.regions_model.set_regions(dump.regions if dump is not None else [])
        self.regions_view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self._regions_proxy.sort(-1)
        warnings = list(dump.warnings) if dump is not None else []
        self.warnings_model.setStringList([one_line(w) for w in warnings] or ["No warnings"])
        self.warnings_view.setEnabled(bool(warnings))
        self.warnings_dock.setWindowTitle(f"Warnings ({len(warnings)})")
        self.regions_dock.setWindowTitle(f"Regions ({len(dump.regions)})" if dump is not None else "Regions")
        self.findings_panel.set_findings(tab.findings if tab is not None else [])
        self.findings_dock.setWindowTitle(f"Findings ({len(tab.findings)})" if tab is not None else "Findings")
        self.details.clear()
        self._review_finding(None)
        self.inspector.set_dump(dump)
        self.entropy_plot.set_dump(dump)
        if tab is not None:
            self.entropy_plot.set_findings(tab.findings)
            self.format_label.setText(f"format: {dump.format}")
            self.size_label.setText(f"size: {dump.size} bytes ({human_size(dump.size)})")
            self.sha256_label.setText(f"sha256: {tab.sha256}" if tab.sha256 else "sha256: computing…")
            root = self.structure_model.index(0, 0)
            if root.isValid():
                self.tree.expand(root)
            self._on_cursor_moved(tab.hex.cursor())
        else:
            for label in (self.format_label, self.size_label, self.sha256_label, self.cursor_label, self._selection_label):
                label.clear()
            self._stack.setCurrentWidget(self._placeholder)
        self._update_title()

    def _update_title(self) -> None:
        title = f"{APP_TITLE} — {self.dump.path.name}" if self.dump is not None else APP_TITLE
        cf = getattr(self, "case_file", None)
        if cf is not None:
            title += f" — case {cf.case.name}{' *' if self.case_dirty else ''}"
        self.setWindowTitle(title)

    def _close_current(self) -> None:
        if self.tabs.currentIndex() >= 0:
            self.close_tab(self.tabs.currentIndex())

    def close_tab(self, index: int) -> None:
        tab = self.tabs.widget(index)
        if not isinstance(tab, DumpTab):
            return
        if self._scan is not None and self._scan[1] is tab:
            self.cancel_scan()
            return  # the scan worker still reads this dump; close again once it stopped
        self.tabs.removeTab(index)
        self._tabs_by_token.pop(tab.token, None)
        self._retire(tab.dump, tab.token)
        tab.hex.set_dump(None)
        tab.deleteLater()
        if self.tabs.count() == 0:
            self._show_tab(None)

    # -- hashing ---------------------------------------------------------------------------------
    def _start_hash(self, tab: DumpTab) -> None:
        worker = HashWorker(tab.dump, tab.token)
        worker.signals.sig_progress.connect(self._on_hash_progress)
        worker.signals.sig_done.connect(self._on_hash_done)
        worker.signals.sig_failed.connect(self._on_hash_failed)
        worker.signals.sig_finished.connect(self._on_hash_finished)
        self._hash_workers[worker.token] = worker
        self._pool.start(worker)

    def _on_hash_progress(self, token: int, done: int, total: int) -> None:
        if self.tab is not None and token == self.tab.token and total:
            self.sha256_label.setText(f"sha256: computing… {100 * done // total}%")

    def _on_hash_done(self, token: int, digest: str) -> None:
        tab = self._tabs_by_token.get(token)
        if tab is None:
            return  # a dump that was closed
        tab.sha256 = digest
        if tab is self.tab:
            self.sha256_label.setText(f"sha256: {digest}")
            self.sha256_label.setToolTip("SHA-256 of the whole dump file (select to copy)")
            self.sig_hash_done.emit(digest)

    def _on_hash_failed(self, token: int, reason: str) -> None:
        if self.tab is not None and token == self.tab.token:
            self.sha256_label.setText(f"sha256: failed ({reason})")

    def _on_hash_finished(self, token: int) -> None:
        self._hash_workers.pop(token, None)
        retired = self._retiring.pop(token, None)
        if retired is not None:
            retired.close()

    def _retire(self, dump: Dump, token: int) -> None:
        """Close a dump that is no longer shown, once no worker reads its mapping any more."""
        worker = self._hash_workers.get(token)
        if worker is None:
            dump.close()
        else:
            worker.cancel()
            self._retiring[token] = dump

    # -- selection and sync ----------------------------------------------------------------------
    def selected_range(self) -> tuple[int, int] | None:
        """``(file offset, length)`` of what was selected last (field, region, finding, hex selection)."""
        return self.hex.selection() if self.hex is not None else None

    def _on_tree_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self._syncing:
            return
        node = self.structure_model.node(current)
        if node is not None and self.tab is not None:
            self.tab.field = (node.offset, node.length, str(node.name))
            self.tab.refresh_highlights()
            self._select(node.offset, node.length)

    def _on_region_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            return
        region = self.regions_model.region(self._regions_proxy.mapToSource(current).row())
        self._select(region.file_offset, region.size)

    def _on_finding_selected(self, finding) -> None:  # noqa: ANN001 - Finding
        self.details.show_finding(finding)
        self._review_finding(finding)
        self._select(finding.offset, finding.length)

    def _on_search_done(self, _count: int) -> None:
        """Search hits are highlighted in the hex view of the dump they were found in."""
        tab = self.tab
        if tab is not None and self.find_bar.dump is tab.dump:
            tab.search_hits = list(self.find_bar.results())
            tab.refresh_highlights()

    def _on_search_result(self, offset: int, length: int) -> None:
        self._select(offset, length)

    def _select(self, offset: int, length: int) -> None:
        """Select exactly these bytes in the hex view (which reports back through the status bar)."""
        if self.hex is not None:
            self.hex.select(offset, length)
        self.sig_range_selected.emit(offset, length)

    def go_to_offset(self, offset: int) -> None:
        if self.hex is not None:
            self.hex.go_to_offset(int(offset))

    def _on_cursor_moved(self, offset: int) -> None:
        dump = self.dump
        if dump is None:
            return
        text = f"offset {offset:#x}"
        va = dump.file_to_va(offset)
        if va is not None:
            text += f"   va {va:#x}"
        region = dump.region_at(offset)
        if region is not None:
            text += f"   {region.kind}: {_clip(region.name or region.kind, 50)}"
        self.cursor_label.setText(text)
        self.inspector.show_at(offset)
        if self.structure_dock.isVisible():
            index = self.structure_model.index_for_offset(offset)
            if index.isValid():
                self._syncing = True
                try:
                    self.tree.setCurrentIndex(index)
                    self.tree.scrollTo(index)
                finally:
                    self._syncing = False

    def _on_hex_selection(self, offset: int, length: int) -> None:
        self._selection_label.setText(f"selection {length} bytes" if length > 1 else "")

    # -- edit actions ----------------------------------------------------------------------------
    def _copy(self, fmt: str) -> None:
        if self.hex is not None:
            self.hex.copy_selection(fmt)

    def show_find(self) -> None:
        if self.dump is None:
            return
        self.find_bar.set_dump(self.dump)
        self.find_bar.show()
        self.find_bar.setFocus()

    def ask_go_to(self) -> None:
        if self.hex is None:
            return
        text, ok = QInputDialog.getText(self, "Go to", "File offset, or virtual address prefixed with 'va:' (hex with 0x):")
        if ok and text.strip():
            error = self.go_to(text)
            if error:
                self.statusBar().showMessage(error, 5000)

    def go_to(self, text: str) -> str | None:
        """Go to ``0x1234`` / ``4660`` (file offset) or ``va:0x7ff...`` (virtual address); None or why not."""
        text = text.strip().lower()
        is_va = text.startswith("va:") or text.startswith("@")
        number = text.split(":", 1)[1] if text.startswith("va:") else text.lstrip("@")
        try:
            value = int(number.strip(), 0)
        except ValueError:
            return f"not a number: {number.strip()!r}"
        if self.hex is None:
            return "no dump open"
        if is_va:
            return None if self.hex.go_to_address(value) else f"address {value:#x} is not in the dump"
        return None if self.hex.go_to_offset(value) else f"offset {value:#x} is past the end of the file"

    def ask_bookmark(self) -> None:
        if self.tab is None:
            return
        offset, length = self.tab.hex.selection()
        name, ok = QInputDialog.getText(self, "Bookmark", f"Name for {max(1, length)} bytes at {offset:#x}:")
        if not ok:
            return
        color = QColorDialog.getColor(self._next_bookmark_color(), self, "Bookmark colour",
                                      QColorDialog.ColorDialogOption.ShowAlphaChannel)
        self.add_bookmark(name or f"bookmark {len(self.tab.bookmarks) + 1}", offset, max(1, length),
                          color if color.isValid() else None)

    def _next_bookmark_color(self) -> QColor:
        count = len(self.tab.bookmarks) if self.tab is not None else 0
        return QColor(BOOKMARK_COLORS[count % len(BOOKMARK_COLORS)])

    def add_bookmark(self, name: str, offset: int, length: int, color: QColor | None = None) -> None:
        """A named, coloured byte range; listed in the Bookmarks menu, painted in the hex view."""
        if self.tab is not None:
            mark = Bookmark(name, offset, length, QColor(color or self._next_bookmark_color()))
            self.tab.bookmarks.append(mark)
            self.tab.refresh_highlights()
            self._add_case_bookmark(name, offset, length, mark.color.name(QColor.NameFormat.HexArgb))

    def _fill_bookmarks_menu(self) -> None:
        self.bookmarks_menu.clear()
        self.bookmarks_menu.addAction(self.action_bookmark)
        self.bookmarks_menu.addSeparator()
        for mark in self.tab.bookmarks if self.tab is not None else []:
            act = self.bookmarks_menu.addAction(f"{mark.name}  —  {mark.offset:#x}, {mark.length} bytes")
            act.triggered.connect(lambda _=False, m=mark: self._select(m.offset, m.length))

    def _toggle_address_mode(self, checked: bool) -> None:
        for tab in self._tabs_by_token.values():
            tab.hex.set_address_mode("vaddr" if checked else "offset")

    def _toggle_entropy_axis(self, checked: bool) -> None:
        self.entropy_plot.set_axis_mode("vaddr" if checked else "offset")

    def _toggle_width(self, checked: bool) -> None:
        for tab in self._tabs_by_token.values():
            tab.hex.set_bytes_per_row(32 if checked else 16)

    def _toggle_text_mode(self, checked: bool) -> None:
        for tab in self._tabs_by_token.values():
            tab.hex.set_text_mode("utf16" if checked else "ascii")

    # -- scanning --------------------------------------------------------------------------------
    def _scan_with_keys(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Public keys, certificates or JWKS to match", "",
                                                "Keys (*.pem *.der *.crt *.cer *.pub *.json *.jwks);;All files (*)")
        if paths:
            self.start_scan(paths)

    def start_scan(self, public_key_paths: list[str] | None = None) -> bool:
        """Scan the current dump in a worker; findings appear as they come; False when none could start."""
        tab = self.tab
        if tab is None or self._scan is not None:
            return False
        public_keys = []
        if public_key_paths:
            from viewer.scan.publickeys import load_public_keys

            try:
                public_keys = load_public_keys(public_key_paths)
            except ValueError as exc:
                self._show_error(one_line(str(exc)))
                return False
        worker = ScanWorker(tab.dump, public_keys=public_keys)
        worker.signals.sig_progress.connect(self._on_scan_progress)
        worker.signals.sig_step.connect(self._on_scan_step)
        worker.signals.sig_findings.connect(self._on_scan_findings)
        worker.signals.sig_done.connect(self._on_scan_done)
        worker.signals.sig_cancelled.connect(self._on_scan_cancelled)
        worker.signals.sig_failed.connect(self._on_scan_failed)
        self._scan = (worker, tab)
        tab.findings = []
        if tab is self.tab:
            self.findings_panel.set_findings([])
        self.scan_progress.setRange(0, 1000)
        self.scan_progress.setValue(0)
        self.scan_progress.show()
        # room for the longest text while scanning (the status bar would squeeze the label otherwise)
        self.scan_label.setMinimumWidth(self.scan_label.fontMetrics().horizontalAdvance(
            "after the byte scan: ecbignum 100% ") + 12)
        self.scan_cancel_button.show()
        self.scan_label.setText("scanning…")
        self.action_scan.setEnabled(False)
        self.action_scan_keys.setEnabled(False)
        self.action_cancel_scan.setEnabled(True)
        self._pool.start(worker)
        return True

    def cancel_scan(self) -> None:
        if self._scan is not None:
            self._scan[0].cancel()
            self.scan_label.setText("cancelling…")

    def _on_scan_progress(self, done: int, total: int, rate: float, eta: float) -> None:
        if total:
            self.scan_progress.setValue(int(1000 * done / total))
        text = f"scanning… {human_size(int(rate))}/s" if rate > 0 else "scanning…"
        if eta == eta and eta != float("inf"):  # NaN until the rate is known
            text += f", {eta:.0f} s left"
        self.scan_label.setText(text)

    def _on_scan_step(self, step: str, done: int, total: int) -> None:
        """After the byte scan, a detector's own search (big numbers around moduli, HMAC secrets, copies
        of keys): its name, and how far it is when it can tell (else a busy bar)."""
        if self._scan is None or self._scan[0].is_cancelled:
            return
        if total:
            self.scan_progress.setRange(0, 1000)
            self.scan_progress.setValue(int(1000 * min(done, total) / total))
            self.scan_label.setText(f"after the byte scan: {step} {100 * min(done, total) / total:.0f}%")
        else:
            self.scan_progress.setRange(0, 0)
            self.scan_label.setText(f"after the byte scan: {step}…")

    def _on_scan_findings(self, batch: list) -> None:
        if self._scan is None:
            return
        tab = self._scan[1]
        tab.findings.extend(batch)
        if tab is self.tab:
            self.findings_panel.add_findings(batch)
            self.findings_dock.setWindowTitle(f"Findings ({len(tab.findings)})")

    def _scan_ended(self, message: str) -> None:
        self._scan = None
        self.scan_progress.setRange(0, 1000)
        self.scan_progress.hide()
        self.scan_label.setMinimumWidth(0)
        self.scan_cancel_button.hide()
        self.scan_label.setText(message)
        self.action_scan.setEnabled(True)
        self.action_scan_keys.setEnabled(True)
        self.action_cancel_scan.setEnabled(False)

    def _on_scan_done(self, result) -> None:  # noqa: ANN001 - ScanResult
        if self._scan is None:
            return
        tab = self._scan[1]
        tab.scan_result = result
        tab.findings = list(result.findings)
        tab.refresh_highlights()
        secrets = sum(1 for s in result.secrets)
        self._scan_ended(f"scan done: {len(result.findings)} findings, {secrets} secrets")
        self._merge(tab, result)
        if tab is self.tab:
            self.findings_panel.set_findings(tab.findings)
            self.findings_dock.setWindowTitle(f"Findings ({len(tab.findings)})")
            self.entropy_plot.set_findings(tab.findings)
            self.sig_scan_finished.emit(result)

    def _on_scan_cancelled(self, result=None) -> None:  # noqa: ANN001
        if self._scan is not None and result is not None:
            tab = self._scan[1]
            tab.scan_result = result
            tab.findings = list(result.findings)
            tab.refresh_highlights()
            if tab is self.tab:
                self.findings_panel.set_findings(tab.findings)
        self._scan_ended("scan cancelled")

    def _on_scan_failed(self, reason: str) -> None:
        self._scan_ended(f"scan failed: {reason}")

    # -- closing ---------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        """Remember the layout, stop the workers before the mappings they read go away, close dumps."""
        self.save_layout()
        self.autosave_case()  # unsaved case changes go to the recovery file, offered at the next open
        self._stop_verify()
        self.autosave_timer.stop()
        if self._scan is not None:
            self._scan[0].cancel()
        for worker in list(self._hash_workers.values()):
            worker.cancel()
        self.entropy_plot.set_dump(None)
        self.inspector.set_dump(None)
        self.find_bar.set_dump(None)
        self.entropy_plot.wait_idle()  # both have pools of their own reading the mappings
        self.find_bar.wait_idle()
        self._pool.waitForDone()
        for dump in list(self._retiring.values()):
            dump.close()
        self._retiring.clear()
        self._hash_workers.clear()
        for tab in list(self._tabs_by_token.values()):
            tab.hex.set_dump(None)
            tab.dump.close()
        self._tabs_by_token.clear()
        super().closeEvent(event)
