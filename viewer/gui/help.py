"""Help: the list of keyboard shortcuts (read from the window's menus, so it is never out of date) and the
About box (versions and licences from the installed distributions, Qt's own version)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QSortFilterProxyModel, Qt, qVersion
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLineEdit,
    QMenu,
    QMenuBar,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from viewer.gui import context_menus
from viewer.gui.item_models import AnyIndex, FlatTable
from viewer.gui.plain import label
from viewer.workspace.about import components, tool_line

HEADERS = ("Menu", "Action", "Shortcut")


def _clean(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def menu_shortcuts(bar: QMenuBar) -> list[tuple[str, str, str]]:
    """``(menu path, action, shortcut)`` of every action with a shortcut, in menu order (submenus too)."""
    rows: list[tuple[str, str, str]] = []

    def walk(menu: QMenu, path: str) -> None:
        for act in menu.actions():
            if act.menu() is not None:
                walk(act.menu(), f"{path} ▸ {_clean(act.menu().title())}")
                continue
            keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in act.shortcuts() if not k.isEmpty()]
            if keys and not act.isSeparator():
                rows.append((path, _clean(act.text()), " / ".join(keys)))

    for top in bar.actions():
        if top.menu() is not None:
            walk(top.menu(), _clean(top.menu().title()))
    return rows


class ShortcutsModel(FlatTable):
    def __init__(self, rows: list[tuple[str, str, str]], parent: QObject | None = None,
                 headers: tuple[str, ...] = HEADERS):
        super().__init__(parent)
        self.rows = list(rows)
        self.headers = headers

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self.row_at(index)
        return row[index.column()] if row is not None and role == Qt.ItemDataRole.DisplayRole else None


class ShortcutsDialog(QDialog):
    """Every shortcut of the window, filterable (type a word or a key)."""

    def __init__(self, bar: QMenuBar, extra: list[tuple[str, str, str]] = (), parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("shortcuts-dialog")
        self.setWindowTitle("Keyboard shortcuts")
        self.model = ShortcutsModel([*menu_shortcuts(bar), *extra], self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter (an action, a menu or a key: Ctrl+R)")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.table = QTableView()
        self.table.setObjectName("shortcuts-table")
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 6)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        context_menus.install(self.table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.resize(720, 640)


class AboutDialog(QDialog):
    """The tool's version and licence; Qt's and every component's version and licence."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("about-dialog")
        self.setWindowTitle("About Evidence Viewer")
        rows = [("Qt", qVersion(), "LGPL-3.0-only OR GPL-2.0-only OR GPL-3.0-only")]
        rows += [(c.name, c.version, c.licence) for c in components()]
        self.rows = rows
        self.model = ShortcutsModel(rows, self, ("Component", "Version", "Licence"))
        self.table = QTableView()
        self.table.setObjectName("about-components")
        self.table.setModel(self.model)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 6)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        context_menus.install(self.table)
        title = label(tool_line(), name="about-title")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        title.setFont(font)
        what = label("Forensic examination of crash dumps: structure, entropy, keys whose mathematics is "
                     "checked, reviewed cases and verifiable bundles. Reads evidence only; never writes it.")
        what.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(what)
        layout.addWidget(label("Built with:"))
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.resize(640, 480)


def add_help_menu(window: Any) -> dict[str, QAction]:
    """Help ▸ Keyboard shortcuts (F1), About: the actions, by name."""
    menu = window.add_menu("help", "&Help")
    shortcuts = window.add_action(menu, "&Keyboard shortcuts…", lambda: show_shortcuts(window),
                                  QKeySequence(Qt.Key.Key_F1), "Every shortcut of the window")
    about = window.add_action(menu, "&About Evidence Viewer…", lambda: show_about(window),
                              QKeySequence("Ctrl+F1"), "Versions and licences")
    about.setMenuRole(QAction.MenuRole.AboutRole)
    return {"shortcuts": shortcuts, "about": about}


EXTRA = [("Hex view", "Extend the selection", "Shift+arrows / Shift+click"),
         ("Tables", "Context menu of the current row", "Menu / Shift+F10")]


def show_shortcuts(window: Any) -> ShortcutsDialog:
    dialog = ShortcutsDialog(window.menuBar(), EXTRA, window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    window.shortcuts_dialog = dialog
    return dialog


def show_about(window: Any) -> AboutDialog:
    dialog = AboutDialog(window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    window.about_dialog = dialog
    return dialog


__all__ = ["AboutDialog", "ShortcutsDialog", "ShortcutsModel", "add_help_menu", "menu_shortcuts"]
