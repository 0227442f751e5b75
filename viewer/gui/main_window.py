"""The examiner's workspace: dumps in tabs (each a hex view), docks kept in sync around them, and the
window's features composed beside them.

The window derives from QMainWindow only. What it shows is the Qt-free session
(:class:`~viewer.workspace.session.Session`: open dumps, the current dump, the case, the selection,
findings per dump); it changes state through the session and follows the session's events. The features
— :class:`~viewer.gui.features.scan.ScanController`, :class:`~viewer.gui.features.case.CaseController`,
:class:`~viewer.gui.features.export.ExportController`,
:class:`~viewer.gui.features.handover.HandoverController` — own their menus, actions, docks and workers
and see the window only as a :class:`~viewer.gui.features.base.Host` (menus, docks, status bar, the
pool, opening a dump, selecting bytes).

Docks — Structure, Regions, Findings, Entropy, Inspector, Details, Warnings (and the features' Review and
Case) — are shared by the tabs and re-pointed at the current dump; their layout is remembered
(QSettings). Everything that can take longer than a frame (parsing, hashing, scanning, entropy, find)
runs in a worker on the window's thread pool and reports through ``sig_*`` signals; workers catch every
exception and report it as a signal, so a failure is a status message, never a dead thread or a frozen
window. The window only *reads* dumps.

Sync rules: selecting a structure node, a region, a finding, a search hit or a bookmark selects exactly
its bytes in the hex view; moving the hex cursor selects the deepest structure node containing it and
updates the inspector and the status bar (file offset, virtual address, region, selection length).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QSettings,
    QSortFilterProxyModel,
    QStringListModel,
    Qt,
    QThreadPool,
    QTimer,
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
    QLineEdit,
    QListView,
    QMainWindow,
    QMenu,
    QMessageBox,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from viewer.evidence import Dump, EvidenceError, open_dumps
from viewer.evidence.containers.cache import cache_dir, set_cache_dir
from viewer.gui import context_menus, dock_focus
from viewer.gui import regions_model as rm
from viewer.gui import structure_model as sm
from viewer.gui.details import DetailsPane
from viewer.gui.dump_tab import DumpTab
from viewer.gui.entropy_plot import EntropyPlot
from viewer.gui.features.base import Failure, Feature
from viewer.gui.features.bookmarks import BookmarksController
from viewer.gui.features.case import CaseController
from viewer.gui.features.compare import CompareController
from viewer.gui.features.export import ExportController
from viewer.gui.features.finding_menu import FindingMenu
from viewer.gui.features.handover import HandoverController
from viewer.gui.features.scan import ScanController
from viewer.gui.features.secrets import SecretsController
from viewer.gui.findings import FindingsPanel
from viewer.gui.fleet_results import open_fleet_results
from viewer.gui.help import add_help_menu
from viewer.gui.hexview import HexView
from viewer.gui.inspector import Inspector
from viewer.gui.minimap import WIDTH as MINIMAP_WIDTH
from viewer.gui.palette import dark_palette
from viewer.gui.plain import PlainLabel, ask_text, message_box
from viewer.gui.plain import tip as plain_tip
from viewer.gui.regions_model import RegionsModel
from viewer.gui.search import FindBar
from viewer.gui.structure_model import StructureModel
from viewer.gui.task_worker import TaskWorker, one_line
from viewer.scan.finding import Finding
from viewer.units import human_size
from viewer.workspace.bookmark_store import PendingBookmarks
from viewer.workspace.geometry import clamp_rect
from viewer.workspace.jobs import hash_job
from viewer.workspace.session import Bookmark, OpenDump, Session, tab_title
from viewer.workspace.status import cursor_text, selection_text
from viewer.workspace.structure_view import describing_path

APP_TITLE = "Evidence Viewer"
BOOKMARK_COLORS = ("#aa5aff", "#2bb673", "#ff8c1a", "#1a9bff", "#e0409a", "#8fbf00")
MAX_RECENT = 10
SETTINGS_GEOMETRY, SETTINGS_STATE, SETTINGS_RECENT, SETTINGS_THEME = "window/geometry", "window/state", "recent", "theme"
SETTINGS_CACHE_DIR = "evidence/cache_dir"

__all__ = ["MainWindow", "open_or_failure"]


def open_or_failure(path: str | os.PathLike[str]) -> Dump | Failure:
    """The parsed dump, or why not in one line (a 100,000-range minidump takes a noticeable fraction of a
    second: the window runs this in a worker)."""
    got = open_all_or_failure(path)
    if isinstance(got, Failure):
        return got
    for extra in got[1:]:
        extra.close()
    return got[0]


def open_all_or_failure(path: str | os.PathLike[str], state: Any = None) -> list[Dump] | Failure:
    """Every dump in ``path`` (one per member of a ZIP of dumps: a tab each), or why not in one line.
    ``state``: progress of hashing and decompressing a container, and its cancel."""
    try:
        return open_dumps(path, state)
    except EvidenceError as exc:
        return Failure(one_line(str(exc)))
    except Exception as exc:  # noqa: BLE001 - one clear line for the examiner, never a traceback
        return Failure(one_line(f"cannot open {path}: {type(exc).__name__}: {exc}"))


def _open_job(state: Any, path: str) -> list[Dump] | Failure:
    return open_all_or_failure(path, state)


def side_dock_widths(window: int, centre: int) -> tuple[int, int]:
    """Widths of the left (structure) and right (inspector) dock columns: 430 and 340 where the window
    has room, narrower down to 240 and 220 so that the hex view keeps ``centre`` pixels for a whole row
    (at 1280 px the fixed widths left it 470 px and cut off the text column)."""
    spare = max(0, window - centre)
    if spare >= 430 + 340:
        return 430, 340
    left = max(240, spare * 56 // 100)
    return left, max(220, spare - left)


class MainWindow(QMainWindow):
    """Tabs of dumps with a hex view each; structure, regions, findings, entropy, inspector and details
    docks; the scan, case, export and hand-over features. Implements :class:`~viewer.gui.features.base.Host`."""

    sig_dump_opened = Signal(object)  # the Dump now shown
    sig_range_selected = Signal(object, object)  # file offset, length (Python ints: dumps exceed 4 GiB)
    sig_hash_done = Signal(str)  # SHA-256 of the dump now shown

    def __init__(self, parent: QWidget | None = None, settings: QSettings | None = None):
        super().__init__(parent)
        self.settings = settings or QSettings()
        self.last_error: str | None = None
        self.session = Session(PendingBookmarks(self.settings))  # bookmarks in no case: kept per dump hash
        self._tabs: dict[int, DumpTab] = {}
        self._hash_workers: dict[int, TaskWorker] = {}
        self._hash_by_scan: set[int] = set()  # dumps whose hash job stopped for the scan that hashes them
        self._open_workers: set[TaskWorker] = set()
        self._retiring: dict[int, Dump] = {}
        self._syncing = False
        self._menus: dict[str, QMenu] = {}
        self._docks: list[QDockWidget] = []
        self._layout_hints: list[tuple[QDockWidget, str | None, int | None]] = []
        self._view_separator: QAction | None = None
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(4)
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
        # The features, in the order their menus, docks and status-bar widgets appear.
        self.scans = ScanController(self)
        self._build_dump_labels()
        self.cases = CaseController(self)
        self.handover = HandoverController(self, self.cases, self.scans)
        self.exports = ExportController(self, self.cases)
        self.bookmarks = BookmarksController(self)
        self.finding_menu = FindingMenu(self, self.findings_panel)
        self.secrets = SecretsController(self, self.finding_menu)
        self.compare = CompareController(self, self.scans.menu, self.handover.last_redaction_of)
        self.features: list[Feature] = [self.scans, self.cases, self.handover, self.exports, self.bookmarks,
                                        self.finding_menu, self.secrets, self.compare]
        context_menus.install_window_menus(self)  # right-click on the window's own tables
        self.help_actions = add_help_menu(self)  # the last menu: Keyboard shortcuts (F1), About
        self._follow_session()
        self.update_title()
        self.resize(1400, 900)
        self.clamp_to_screen()
        self._apply_theme(str(self.settings.value(SETTINGS_THEME, "system")))
        if self.settings.value(SETTINGS_CACHE_DIR):  # the examiner's choice of decompression cache
            set_cache_dir(str(self.settings.value(SETTINGS_CACHE_DIR)))

    # -- the current dump ------------------------------------------------------------------------
    @property
    def tab(self) -> DumpTab | None:
        widget = self.tabs.currentWidget()
        return widget if isinstance(widget, DumpTab) else None

    @property
    def dump(self) -> Dump | None:
        return self.session.current.dump if self.session.current is not None else None

    @property
    def sha256(self) -> str | None:
        return self.session.current.sha256 if self.session.current is not None else None

    @property
    def hex(self):  # noqa: ANN201 - HexView | None
        return self.tab.hex if self.tab is not None else None

    # -- Host: what the features see -------------------------------------------------------------
    def menu(self, name: str) -> QMenu:
        return self._menus[name]

    def add_menu(self, name: str, title: str) -> QMenu:
        menu = self.menuBar().addMenu(title)
        self._menus[name] = menu
        return menu

    def add_action(self, menu: QMenu, text: str, slot: Callable[..., Any], shortcut: Any = None,
                   tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def add_dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea, *,
                 toggle_shortcut: str | None = None, tab_with: str | None = None,
                 height: int | None = None) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)  # saveState() needs names
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self._docks.append(dock)
        self._layout_hints.append((dock, tab_with, height))
        if self._view_separator is not None:  # a feature's dock: its toggle joins the window's in View
            toggle = dock.toggleViewAction()
            if toggle_shortcut:
                toggle.setShortcut(QKeySequence(toggle_shortcut))
            self.menu("view").insertAction(self._view_separator, toggle)
        return dock

    def message(self, icon: QMessageBox.Icon, title: str, text: str, name: str) -> QMessageBox:
        box = message_box(icon, title, text, QMessageBox.StandardButton.Ok, self, name=name)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    def show_dump(self, token: int) -> None:
        tab = self._tabs.get(token)
        if tab is not None:
            self.tabs.setCurrentWidget(tab)

    @property
    def docks(self) -> list[QDockWidget]:
        return list(self._docks)

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
        self._placeholder = PlainLabel("Open a dump with File ▸ Open… (Ctrl+O), or drop it here;\n"
                                       "then Scan ▸ Scan for secrets (Ctrl+R) looks for keys in it.\n"
                                       "Help ▸ Keyboard shortcuts (F1) lists every shortcut.")
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
        self.structure_dock = self.add_dock("Structure", "structure-dock", self.tree, left)

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
        self.regions_dock = self.add_dock("Regions", "regions-dock", regions_box, left)

        self.findings_panel = FindingsPanel()
        self.findings_panel.setObjectName("findings-panel")
        self.findings_panel.sig_finding_selected.connect(self._on_finding_selected)
        self.findings_dock = self.add_dock("Findings", "findings-dock", self.findings_panel, bottom)

        self.entropy_plot = EntropyPlot()
        self.entropy_plot.setObjectName("entropy-plot")
        self.entropy_plot.sig_offset_clicked.connect(self.go_to_offset)
        self.entropy_plot.sig_finding_clicked.connect(self._on_finding_marker_clicked)
        self.entropy_plot.sig_ready.connect(self._on_entropy_ready)  # the minimap of that dump's tab
        self.entropy_dock = self.add_dock("Entropy", "entropy-dock", self.entropy_plot, bottom)

        self.inspector = Inspector()
        self.inspector.setObjectName("inspector")
        self.inspector.sig_follow_pointer.connect(self.go_to_offset)
        self.inspector_dock = self.add_dock("Inspector", "inspector-dock", self.inspector, right)

        self.details = DetailsPane()
        self.details.setObjectName("details-pane")
        self.details_dock = self.add_dock("Details", "details-dock", self.details, right)

        self.warnings_view = QListView()
        self.warnings_view.setObjectName("warnings-list")
        self.warnings_view.setModel(self.warnings_model)
        self.warnings_view.setUniformItemSizes(True)
        self.warnings_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.warnings_view.setWordWrap(False)
        self.warnings_dock = self.add_dock("Warnings", "warnings-dock", self.warnings_view, bottom)

        self._arranged = False

    def _arrange_docks(self) -> None:
        """The default layout: docks tabbed in pairs (a feature's dock with the one it names). Done on first
        show, not in __init__: tabifying before the window has a layout leaves stale, visible tab bars
        behind in Qt 6.11 (seen in screenshots)."""
        self.tabifyDockWidget(self.structure_dock, self.regions_dock)
        self.tabifyDockWidget(self.findings_dock, self.entropy_dock)
        self.tabifyDockWidget(self.findings_dock, self.warnings_dock)
        by_name = {d.objectName(): d for d in self._docks}
        for dock, tab_with, _height in self._layout_hints:
            if tab_with is not None and tab_with in by_name:
                self.tabifyDockWidget(by_name[tab_with], dock)
        self.findings_dock.raise_()
        self.structure_dock.raise_()
        left, right_width = side_dock_widths(self.width(), self._hex_width_hint())
        self.resizeDocks([self.structure_dock, self.inspector_dock], [left, right_width], Qt.Orientation.Horizontal)
        self.resizeDocks([self.findings_dock], [240], Qt.Orientation.Vertical)
        right = [(self.inspector_dock, 260), (self.details_dock, 300)]
        right += [(d, h) for d, tab_with, h in self._layout_hints
                  if h is not None and tab_with is None and self.dockWidgetArea(d) == Qt.DockWidgetArea.RightDockWidgetArea]
        self.resizeDocks([d for d, _ in right], [h for _, h in right], Qt.Orientation.Vertical)

    def _hex_width_hint(self) -> int:
        """What a tab needs for a whole hex row at 16 bytes (a fresh view: file offsets, ASCII) and its
        minimap."""
        probe = HexView()
        try:
            # and the tab widget's frame and the docks' separators, measured at 12 px here; 24 spares it
            return probe.preferred_width() + MINIMAP_WIDTH + 24
        finally:
            probe.deleteLater()

    def showEvent(self, event) -> None:  # noqa: ANN001
        if not self._arranged:
            self._arranged = True
            if not self._restore_layout():
                self._arrange_docks()
        super().showEvent(event)

    def _build_actions(self) -> None:
        bar = self.menuBar()
        file_menu = self._menus["file"] = bar.addMenu("&File")
        self.file_menu = file_menu
        self.action_open = self.add_action(file_menu, "&Open…", self._on_open_triggered, QKeySequence.StandardKey.Open,
                                           "Open a dump read-only")
        self.recent_menu = self._menus["recent"] = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.action_fleet_results = self.add_action(file_menu, "Open &Fleet Results…", lambda: open_fleet_results(self),
                                                    QKeySequence("Ctrl+Alt+F"),
                                                    tip="Open a fleet scan's results database read-only")
        self.action_close_tab = self.add_action(file_menu, "&Close", self._close_current, QKeySequence.StandardKey.Close)
        self.action_cancel_open = self.add_action(file_menu, "Cancel &Opening", self.cancel_opening,
                                                  QKeySequence("Ctrl+Shift+."),
                                                  tip="Stop decompressing a container being opened (nothing is kept)")
        self.action_cache_dir = self.add_action(file_menu, "Decompression &Cache Folder…", self._choose_cache_dir,
                                                QKeySequence("Ctrl+Alt+H"), tip="Where compressed evidence is decompressed to (content-addressed, "
                                                    "read-only, re-verified on reuse)")
        file_menu.addSeparator()
        self.action_quit = self.add_action(file_menu, "&Quit", self.close, QKeySequence("Ctrl+Q"))
        self.action_quit.setMenuRole(QAction.MenuRole.QuitRole)

        edit = self._menus["edit"] = bar.addMenu("&Edit")
        self.action_copy = self.add_action(edit, "&Copy as hex", lambda: self._copy("hex"), QKeySequence.StandardKey.Copy)
        self.add_action(edit, "Copy as C array", lambda: self._copy("c"), QKeySequence("Ctrl+Shift+C"))
        self.add_action(edit, "Copy as Python bytes", lambda: self._copy("python"), QKeySequence("Ctrl+Alt+C"))
        self.add_action(edit, "Copy as base64", lambda: self._copy("base64"), QKeySequence("Ctrl+Alt+B"))
        edit.addSeparator()
        self.action_find = self.add_action(edit, "&Find…", self.show_find, QKeySequence.StandardKey.Find)
        self.action_find_next = self.add_action(edit, "Find &next", self.find_bar.next_result,
                                                QKeySequence(Qt.Key.Key_F3))
        self.add_action(edit, "Find &previous", self.find_bar.previous_result, QKeySequence("Shift+F3"))
        self.action_goto = self.add_action(edit, "&Go to offset or address…", self.ask_go_to, QKeySequence("Ctrl+G"))
        self.action_bookmark = self.add_action(edit, "&Bookmark selection…", self.ask_bookmark, QKeySequence("Ctrl+B"))

        self.bookmarks_menu = self._menus["bookmarks"] = bar.addMenu("&Bookmarks")
        self.bookmarks_menu.aboutToShow.connect(self._fill_bookmarks_menu)

        view = self._menus["view"] = bar.addMenu("&View")
        for number, dock in enumerate(self._docks, start=1):
            toggle = dock.toggleViewAction()
            toggle.setShortcut(QKeySequence(f"Alt+{number}"))
            view.addAction(toggle)
        self.view_menu = view
        self._view_separator = view.addSeparator()
        self.action_vaddr = self.add_action(view, "Show &virtual addresses", self._toggle_address_mode,
                                            QKeySequence("Ctrl+Shift+A"))
        self.action_vaddr.setCheckable(True)
        self.action_entropy_va = self.add_action(view, "Entropy over the &address space", self._toggle_entropy_axis,
                                                 QKeySequence("Ctrl+Shift+E"))
        self.action_entropy_va.setCheckable(True)
        self.action_wide = self.add_action(view, "&32 bytes per row", self._toggle_width, QKeySequence("Ctrl+Shift+W"))
        self.action_wide.setCheckable(True)
        self.action_utf16 = self.add_action(view, "Text as &UTF-16", self._toggle_text_mode,
                                            QKeySequence("Ctrl+Shift+U"))
        self.action_utf16.setCheckable(True)
        self.action_minimap = self.add_action(view, "&Minimap beside the bytes", self._toggle_minimap,
                                              QKeySequence("Ctrl+Shift+M"))
        self.action_minimap.setCheckable(True)
        self.action_minimap.setChecked(True)
        theme_menu = view.addMenu("&Theme")
        self._theme_group = QActionGroup(self)
        for key, label, keys in (("system", "Follow the &system", "Ctrl+Shift+1"), ("light", "&Light", "Ctrl+Shift+2"),
                                 ("dark", "&Dark", "Ctrl+Shift+3")):
            act = self.add_action(theme_menu, label, lambda _=False, k=key: self._apply_theme(k, save=True),
                                  QKeySequence(keys))
            act.setCheckable(True)
            act.setData(key)
            self._theme_group.addAction(act)
        view.addSeparator()
        self.action_next_dock = self.add_action(view, "Focus the next dock", lambda: dock_focus.cycle(self, 1),
                                                QKeySequence(Qt.Key.Key_F6))
        self.action_previous_dock = self.add_action(view, "Focus the previous dock", lambda: dock_focus.cycle(self, -1),
                                                    QKeySequence("Shift+F6"))

    def _build_status(self) -> None:
        """Where the cursor is, and the selection, at the left; the features' jobs and the dump's format,
        size and hash at the right (:meth:`_build_dump_labels`, after the scan's widgets)."""
        bar = self.statusBar()
        self._selection_label = PlainLabel()
        self.cursor_label = PlainLabel()
        self.cursor_label.setObjectName("cursor-label")
        bar.addWidget(self.cursor_label, 1)
        bar.addWidget(self._selection_label)
        for label in (self.cursor_label, self._selection_label):
            label.setContentsMargins(6, 0, 6, 0)

    def _build_dump_labels(self) -> None:
        bar = self.statusBar()
        self.format_label = PlainLabel()
        self.size_label = PlainLabel()
        self.sha256_label = PlainLabel()
        self.sha256_label.setObjectName("sha256-label")
        self.sha256_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sha256_label.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        for w in (self.format_label, self.size_label, self.sha256_label):
            w.setContentsMargins(6, 0, 6, 0)
            bar.addPermanentWidget(w)

    def _follow_session(self) -> None:
        """What the window shows of the session: the current dump in the docks, each dump's highlights."""
        ev = self.session.events
        ev.dump_added.connect(self._on_dump_added)
        ev.dump_removed.connect(self._on_dump_removed)
        ev.current_changed.connect(self._show)
        ev.hashed.connect(self._on_hashed)
        ev.scan_changed.connect(self._on_scan_changed)
        ev.findings_changed.connect(self._on_findings_changed)
        ev.findings_added.connect(self._on_findings_added)
        ev.bookmarks_changed.connect(self._refresh_highlights)
        ev.highlights_changed.connect(self._refresh_highlights)
        ev.selection_changed.connect(self._on_selection_changed)
        ev.finding_selected.connect(self.details.show_finding)
        ev.case_changed.connect(self._on_case_changed)
        ev.case_edited.connect(self._on_case_edited)

    # -- layout, theme, recent files -------------------------------------------------------------
    def _restore_layout(self) -> bool:
        """The examiner's last layout, when there is one; True when it was restored."""
        geometry = self.settings.value(SETTINGS_GEOMETRY)
        state = self.settings.value(SETTINGS_STATE)
        if geometry is not None:
            self.restoreGeometry(geometry)
        self.clamp_to_screen()
        return state is not None and bool(self.restoreState(state))

    def clamp_to_screen(self) -> None:
        """Fit the window inside the available area of its screen (a geometry remembered on a bigger
        screen, or before the desktop scaling changed, would come back larger than the screen)."""
        screen = self.screen() or QApplication.primaryScreen()
        if screen is None or self.isMaximized() or self.isFullScreen():
            return
        area = screen.availableGeometry()
        frame = self.frameGeometry()
        extra_w, extra_h = frame.width() - self.width(), frame.height() - self.height()
        x, y, w, h = clamp_rect((frame.x(), frame.y(), frame.width(), frame.height()),
                                (area.x(), area.y(), area.width(), area.height()))
        if (w, h) != (frame.width(), frame.height()):
            self.resize(w - extra_w, h - extra_h)
        if (x, y) != (frame.x(), frame.y()):
            self.move(x, y)

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
            app.setPalette(dark_palette())
        elif key == "light":
            QApplication.setStyle("Fusion")
            app.setPalette(QApplication.style().standardPalette())
        else:
            key = "system"
            app.setPalette(QPalette())  # back to the platform's palette (Qt follows its light/dark scheme)
        for act in self._theme_group.actions():
            act.setChecked(act.data() == key)
        for tab in self._tabs.values():
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

        Synchronous, for scripts, tests and the case's evidence; the menu, drag and drop and recent files
        use :meth:`open_path_async`, which parses in a worker.
        """
        opened = open_all_or_failure(path)
        if isinstance(opened, Failure):
            self.last_error = opened.line
            return self.last_error
        self.last_error = None
        for dump in opened:  # a ZIP of dumps: a tab each
            self.session.add_dump(dump)
        return None

    def open_path(self, path: str | os.PathLike[str]) -> bool:
        """Open ``path``; on failure show the reason in a message box. True when it opened."""
        error = self.load(path)
        if error is not None:
            self._show_error(error)
        return error is None

    def open_path_async(self, path: str | os.PathLike[str]) -> None:
        """Parse ``path`` in a worker; the tab appears when it is done (the window never blocks)."""
        worker = TaskWorker(_open_job, str(path), what=f"opening {path}")
        worker.signals.sig_step.connect(
            lambda step, done, total, p=path: self.statusBar().showMessage(
                f"Opening {Path(p).name}: {step} {human_size(done)}" + (f" of {human_size(total)}" if total else "")
                + " (Ctrl+Shift+. cancels)", 3000))
        worker.signals.sig_done.connect(self._on_opened)
        worker.signals.sig_failed.connect(self._on_open_failed)
        worker.signals.sig_finished.connect(lambda: self._open_workers.discard(worker))
        self.statusBar().showMessage(f"Opening {path}…", 3000)
        self._open_workers.add(worker)
        self.pool.start(worker)

    def cancel_opening(self) -> None:
        """Cancel every open still running (a container being decompressed); nothing is kept."""
        for worker in list(self._open_workers):
            worker.cancel()

    def _choose_cache_dir(self) -> None:
        start = str(self.settings.value(SETTINGS_CACHE_DIR, "") or cache_dir())
        path = QFileDialog.getExistingDirectory(self, "Decompression cache folder", start)
        if path:
            self.set_cache_dir(path)

    def set_cache_dir(self, path: str | None) -> None:
        """Move the decompressed-content cache (remembered in the settings); None: the default."""
        self.settings.setValue(SETTINGS_CACHE_DIR, path or "")
        set_cache_dir(path or None)
        self.statusBar().showMessage(f"Decompression cache: {cache_dir()}", 5000)

    def _on_opened(self, opened: list[Dump] | Failure) -> None:
        if isinstance(opened, Failure):
            self._on_open_failed(opened.line)
        else:
            for dump in opened:  # a ZIP of dumps: a tab each
                self.session.add_dump(dump)

    def _on_open_failed(self, reason: str) -> None:
        self.last_error = reason
        self._show_error(reason)

    def _show_error(self, text: str) -> None:
        box = message_box(QMessageBox.Icon.Warning, "Cannot open evidence", text, parent=self, name="open-error")
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

    # -- tabs follow the session's dumps ---------------------------------------------------------
    def _on_dump_added(self, od: OpenDump) -> None:
        """A tab with the dump's hex view; it becomes the current dump, and hashing starts."""
        tab = DumpTab(od)
        tab.minimap.setVisible(self.action_minimap.isChecked())
        tab.minimap.sig_offset_clicked.connect(self.go_to_offset)
        tab.hex.sig_cursor_moved.connect(self._on_cursor_moved)
        tab.hex.sig_selection_changed.connect(lambda offset, length, od=od: self._on_hex_selection(od, offset, length))
        tab.hex.sig_status.connect(lambda text: self.statusBar().showMessage(text, 5000))
        self._tabs[od.token] = tab
        self._remember(str(od.dump.path))
        title, tip = tab_title(self.session, od)
        index = self.tabs.addTab(tab, title)
        self.tabs.setTabToolTip(index, plain_tip(tip))
        self.tabs.setCurrentIndex(index)  # _on_tab_changed makes it the session's current dump
        self.session.set_current(od)  # (already, unless the tab widget kept its current index)
        self._start_hash(od)
        self.sig_dump_opened.emit(od.dump)

    def _on_tab_changed(self, _index: int) -> None:
        tab = self.tab
        self.session.set_current(tab.state if tab is not None else None)

    def _show(self, od: OpenDump | None) -> None:
        """Point every dock at ``od``'s dump and state."""
        tab = self._tabs.get(od.token) if od is not None else None
        dump = od.dump if od is not None else None
        self.structure_model.set_root(dump.structure if dump is not None else None)
        self.regions_model.set_regions(dump.regions if dump is not None else [])
        self.regions_view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self._regions_proxy.sort(-1)
        warnings = list(dump.warnings) if dump is not None else []
        self.warnings_model.setStringList([one_line(w) for w in warnings] or ["No warnings"])
        self.warnings_view.setEnabled(bool(warnings))
        self.warnings_dock.setWindowTitle(f"Warnings ({len(warnings)})")
        self.regions_dock.setWindowTitle(f"Regions ({len(dump.regions)})" if dump is not None else "Regions")
        self.findings_panel.set_findings(od.findings if od is not None else [])
        self.findings_dock.setWindowTitle(f"Findings ({len(od.findings)})" if od is not None else "Findings")
        self.details.clear()
        self.inspector.set_dump(dump)
        self.entropy_plot.set_dump(dump)
        if self.find_bar.dump is not dump:  # this tab's own find results (or none), never the last tab's
            self.find_bar.set_dump(dump)
            if od is not None:
                self.find_bar.restore(od.search_hits, od.find_query)
        if od is not None and dump is not None:
            self._stack.setCurrentWidget(self._work)
            self.entropy_plot.set_findings(od.findings)
            self.format_label.setText(f"format: {dump.format}")
            self.size_label.setText(f"size: {dump.size} bytes ({human_size(dump.size)})")
            self.sha256_label.setText(f"sha256: {od.sha256}" if od.sha256 else "sha256: computing…")
            root = self.structure_model.index(0, 0)
            if root.isValid():
                self.tree.expand(root)
            if tab is not None:
                self._on_cursor_moved(tab.hex.cursor())
                offset, length = tab.hex.selection()
                self._selection_label.setText(selection_text(offset, length) if length > 1 else "")
        else:
            for label in (self.format_label, self.size_label, self.sha256_label, self.cursor_label, self._selection_label):
                label.clear()
            self.find_bar.hide()
            self._stack.setCurrentWidget(self._placeholder)
        self.update_title()

    def update_title(self) -> None:
        title = f"{APP_TITLE} — {self.dump.path.name}" if self.dump is not None else APP_TITLE
        cf = self.session.case
        if cf is not None:
            title += f" — case {cf.case.name}{' *' if self.session.case_dirty else ''}"
        self.setWindowTitle(title)

    def _close_current(self) -> None:
        if self.tabs.currentIndex() >= 0:
            self.close_tab(self.tabs.currentIndex())

    def close_tab(self, index: int) -> None:
        tab = self.tabs.widget(index)
        if not isinstance(tab, DumpTab):
            return
        if self.scans.scanning(tab.state):
            self.scans.cancel_scan()
            return  # the scan worker still reads this dump; close again once it stopped
        self.session.remove_dump(tab.state)

    def _on_dump_removed(self, od: OpenDump) -> None:
        tab = self._tabs.pop(od.token, None)
        if tab is None:
            return
        self.tabs.removeTab(self.tabs.indexOf(tab))  # the next tab becomes current
        self._retire(od.dump, od.token)
        tab.hex.set_dump(None)
        tab.deleteLater()
        if self.tabs.count() == 0:
            self.session.set_current(None)
            self._show(None)

    # -- following the session -------------------------------------------------------------------
    def _refresh_highlights(self, od: OpenDump) -> None:
        tab = self._tabs.get(od.token)
        if tab is not None:
            tab.refresh_highlights()

    def _on_findings_changed(self, od: OpenDump) -> None:
        self._refresh_highlights(od)
        if od is self.session.current:
            self.findings_panel.set_findings(od.findings)
            self.findings_dock.setWindowTitle(f"Findings ({len(od.findings)})")
            # the plot's markers in a turn of the event loop of their own: a scan's result of thousands of
            # findings would otherwise keep the window from repainting for all the views at once
            QTimer.singleShot(0, self._plot_current_findings)

    def _plot_current_findings(self) -> None:
        od = self.session.current
        self.entropy_plot.set_findings(od.findings if od is not None else [])

    def _on_findings_added(self, od: OpenDump, batch: list[Finding]) -> None:
        if od is self.session.current:
            self.findings_panel.add_findings(batch)
            self.findings_dock.setWindowTitle(f"Findings ({len(od.findings)})")

    def _on_case_changed(self, cf: Any) -> None:
        lookup = (lambda f: self.session.review_of(self.session.current, f)) if cf is not None else None
        self.findings_panel.set_review_lookup(lookup)
        self.update_title()

    def _on_case_edited(self) -> None:
        self.findings_panel.refresh_review()
        self.update_title()

    # -- hashing ---------------------------------------------------------------------------------
    def _start_hash(self, od: OpenDump) -> None:
        worker, token = TaskWorker(hash_job, od.dump, what="hashing"), od.token
        worker.signals.sig_progress.connect(lambda done, total, _rate, _eta: self._on_hash_progress(token, done, total))
        worker.signals.sig_done.connect(lambda digest: self._on_hash_done(token, digest))
        worker.signals.sig_failed.connect(lambda reason: self._on_hash_failed(token, reason))
        worker.signals.sig_cancelled.connect(lambda _none: self._on_hash_failed(token, "cancelled"))
        worker.signals.sig_finished.connect(lambda: self._on_hash_finished(token, worker))
        self._hash_workers[token] = worker
        self.pool.start(worker)

    def _on_hash_progress(self, token: int, done: int, total: int) -> None:
        current = self.session.current
        if current is not None and token == current.token and total:
            self.sha256_label.setText(f"sha256: computing… {100 * done // total}%")

    def _on_hash_done(self, token: int, digest: str) -> None:
        od = self.session.by_token(token)
        if od is not None:  # else a dump that was closed
            self.session.set_sha256(od, digest)

    def _on_hashed(self, od: OpenDump) -> None:
        if od is self.session.current and od.sha256:
            self.sha256_label.setText(f"sha256: {od.sha256}")
            self.sha256_label.setToolTip("SHA-256 of the whole dump file (select to copy)")
            self.sig_hash_done.emit(od.sha256)

    def _on_hash_failed(self, token: int, reason: str) -> None:
        current = self.session.current
        if current is not None and token == current.token:
            busy = token in self._hash_by_scan
            self.sha256_label.setText("sha256: by the scan…" if busy else f"sha256: failed ({reason})")

    def _on_scan_changed(self, od: OpenDump | None) -> None:
        """A scan hashes the dump in its own pass: the dump's hash job, still running, stops (the scan
        would read every byte a second time, competing for the cores); when the scan ends, its digest
        becomes the dump's, or (cancelled, failed) the hash job starts again."""
        if od is not None:
            worker = self._hash_workers.get(od.token)
            if worker is not None and od.sha256 is None:
                self._hash_by_scan.add(od.token)
                worker.cancel()
            return
        QTimer.singleShot(0, self._after_scan_hash)

    def _after_scan_hash(self) -> None:
        for token in sorted(self._hash_by_scan):
            od = self.session.by_token(token)
            if od is None or od is self.session.scanning:
                continue
            self._hash_by_scan.discard(token)
            digest = od.dump.source.known_sha256
            if digest is not None:
                self.session.set_sha256(od, digest)
            elif od.sha256 is None:
                self._start_hash(od)

    def _on_hash_finished(self, token: int, worker: TaskWorker | None = None) -> None:
        if worker is not None and self._hash_workers.get(token) is not worker:
            return  # a hash job stopped for a scan, after its successor started
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
        od = self.session.current
        if node is not None and od is not None:
            self.session.set_field(od, (node.offset, node.length, str(node.name)))
            self.select(node.offset, node.length)

    def _on_region_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            return
        region = self.regions_model.region(self._regions_proxy.mapToSource(current).row())
        self.select(region.file_offset, region.size)

    def _on_finding_selected(self, finding) -> None:  # noqa: ANN001 - Finding
        self.session.select_finding(finding)  # the details show it, the case feature reviews it
        self.select(finding.offset, finding.length, top=True)

    def _on_finding_marker_clicked(self, finding) -> None:  # noqa: ANN001 - Finding
        """A marker on the entropy plot: that finding, selected as from the table (and shown there)."""
        self.findings_panel.show_finding(finding)
        self._on_finding_selected(finding)

    def _on_search_done(self, _count: int) -> None:
        """Search hits are highlighted in the hex view of the dump they were found in."""
        od = self.session.current
        if od is not None and self.find_bar.dump is od.dump:
            od.find_query = self.find_bar.edit.text()
            self.session.set_search_hits(od, list(self.find_bar.results()))

    def _on_search_result(self, offset: int, length: int) -> None:
        self.select(offset, length)

    def select(self, offset: int, length: int, *, top: bool = False) -> None:
        """Select exactly these bytes in the hex view (which reports back through the status bar); the
        cursor on the first byte, the view scrolled so it is in the middle (``top``: at the top)."""
        self.session.select(offset, length)
        if self.hex is not None:
            self.hex.select(offset, length, top=top)
        self.sig_range_selected.emit(offset, length)

    def _on_selection_changed(self, od: OpenDump, offset: int, length: int) -> None:
        """A selection made through the session (by a feature, a script) shows in the dump's hex view."""
        tab = self._tabs.get(od.token)
        if tab is not None and tab.hex.selection() != (offset, length):
            tab.hex.select(offset, length)

    def go_to_offset(self, offset: int) -> None:
        if self.hex is not None:
            self.hex.go_to_offset(int(offset))

    def _on_cursor_moved(self, offset: int) -> None:
        dump = self.dump
        if dump is None:
            return
        tab = self.tab
        self.cursor_label.setText(cursor_text(dump, offset, tab.modules if tab is not None else None))
        self.inspector.show_at(offset)
        if self.structure_dock.isVisible():
            index = self._structure_index(dump, offset)
            if index.isValid():
                self._syncing = True
                try:
                    self.tree.setCurrentIndex(index)
                    self.tree.scrollTo(index)
                finally:
                    self._syncing = False
            self._highlight_field(offset, index)

    def _highlight_field(self, offset: int, index: QModelIndex) -> None:
        """The parsed field under the cursor is outlined in the hex view (its name in the tooltip), as
        the structure tree shows it; bytes in no field (captured memory) outline nothing."""
        od = self.session.current
        node = self.structure_model.node(index) if index.isValid() else None
        inside = (node is not None and index.parent().isValid() and node.length > 0
                  and node.offset <= offset < node.offset + node.length)
        wanted = (node.offset, node.length, str(node.name)) if inside and node is not None else None
        if od is not None and od.field != wanted:
            self.session.set_field(od, wanted)

    def _structure_index(self, dump: Dump, offset: int) -> QModelIndex:
        """The tree row for the byte at ``offset``: the deepest field holding it; for a byte of captured
        memory (outside every field but the root) the descriptor of its memory range (remembered per
        range in the tab)."""
        index = self.structure_model.index_for_offset(offset)
        if index.isValid() and index.parent().isValid():
            return index
        region = dump.region_at(offset)
        tab = self.tab
        if region is None or region.vaddr is None or tab is None:
            return index
        key = (region.file_offset, region.vaddr)
        if key not in tab.range_paths:
            tab.range_paths[key] = describing_path(dump.structure, region.file_offset, region.vaddr)
        path = tab.range_paths[key]
        found = self.structure_model.index_for_path(path) if path is not None else QModelIndex()
        return found if found.isValid() else index

    def _on_hex_selection(self, od: OpenDump, offset: int, length: int) -> None:
        self.session.select(offset, length, od)
        if od is self.session.current:
            self._selection_label.setText(selection_text(offset, length) if length > 1 else "")

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
        text, ok = ask_text(self, "Go to", "File offset, or virtual address prefixed with 'va:' (hex with 0x):")
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
        name, ok = ask_text(self, "Bookmark", f"Name for {max(1, length)} bytes at {offset:#x}:")
        if not ok:
            return
        color = QColorDialog.getColor(self._next_bookmark_color(), self, "Bookmark colour",
                                      QColorDialog.ColorDialogOption.ShowAlphaChannel)
        self.add_bookmark(name or f"bookmark {len(self.tab.state.bookmarks) + 1}", offset, max(1, length),
                          color if color.isValid() else None)

    def _next_bookmark_color(self) -> QColor:
        count = len(self.session.current.bookmarks) if self.session.current is not None else 0
        return QColor(BOOKMARK_COLORS[count % len(BOOKMARK_COLORS)])

    def add_bookmark(self, name: str, offset: int, length: int, color: QColor | None = None) -> None:
        """A named, coloured byte range; listed in the Bookmarks menu, painted in the hex view, recorded in
        the case when the dump is its evidence."""
        od = self.session.current
        if od is not None:
            colour = QColor(color or self._next_bookmark_color()).name(QColor.NameFormat.HexArgb)
            self.session.add_bookmark(od, Bookmark(name, offset, length, colour))

    def _fill_bookmarks_menu(self) -> None:
        self.bookmarks_menu.clear()
        self.bookmarks_menu.addAction(self.action_bookmark)
        self.bookmarks_menu.addSeparator()
        for mark in self.session.current.bookmarks if self.session.current is not None else []:
            act = self.bookmarks_menu.addAction(f"{mark.name}  —  {mark.offset:#x}, {mark.length} bytes")
            act.triggered.connect(lambda _=False, m=mark: self.select(m.offset, m.length))

    def _toggle_address_mode(self, checked: bool) -> None:
        for tab in self._tabs.values():
            tab.hex.set_address_mode("vaddr" if checked else "offset")

    def _toggle_entropy_axis(self, checked: bool) -> None:
        self.entropy_plot.set_axis_mode("vaddr" if checked else "offset")

    def _toggle_width(self, checked: bool) -> None:
        for tab in self._tabs.values():
            tab.hex.set_bytes_per_row(32 if checked else 16)

    def _toggle_minimap(self, checked: bool) -> None:
        for tab in self._tabs.values():
            tab.minimap.setVisible(checked)

    def _on_entropy_ready(self, pyramid: Any) -> None:
        plotted = self.entropy_plot.dump
        for tab in self._tabs.values():
            if tab.dump is plotted:
                tab.minimap.set_pyramid(pyramid)

    def _toggle_text_mode(self, checked: bool) -> None:
        for tab in self._tabs.values():
            tab.hex.set_text_mode("utf16" if checked else "ascii")

    # -- closing ---------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        """Remember the layout, stop the features and workers before the mappings they read go away
        (unsaved case changes go to the recovery file, offered at the next open), close dumps."""
        self.save_layout()
        for feature in self.features:
            feature.shutdown()
        for worker in list(self._hash_workers.values()):
            worker.cancel()
        self.entropy_plot.set_dump(None)
        self.inspector.set_dump(None)
        self.find_bar.set_dump(None)
        self.entropy_plot.wait_idle()  # both have pools of their own reading the mappings
        self.find_bar.wait_idle()
        self.pool.waitForDone()
        for dump in list(self._retiring.values()):
            dump.close()
        self._retiring.clear()
        self._hash_workers.clear()
        for tab in list(self._tabs.values()):
            tab.hex.set_dump(None)
            tab.dump.close()
        self._tabs.clear()
        super().closeEvent(event)
