"""A right-click (or the Menu key, Shift+F10) menu on every table and tree of the window.

Every view gets Copy cell and Copy row; a view's own actions (go to, copy key id, export this finding,
rename…) come first, from a builder the view's owner passes. :func:`menu_for` builds the menu a click on
an index would show, without showing it (tests, and the keyboard path).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QModelIndex, QPoint, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QAbstractItemView, QMenu

Builder = Callable[[QModelIndex, QMenu], None]


def row_text(index: QModelIndex) -> str:
    """The row of ``index`` as tab-separated cells (what Copy row puts on the clipboard)."""
    model = index.model()
    cells = [model.index(index.row(), col, index.parent()).data() for col in range(model.columnCount(index.parent()))]
    return "\t".join("" if c is None else str(c) for c in cells)


def menu_for(view: QAbstractItemView, index: QModelIndex, build: Builder | None = None) -> QMenu:
    """The context menu of ``view`` at ``index``: the view's own actions, then Copy cell / Copy row."""
    menu = QMenu(view)
    menu.setObjectName("context-menu")
    if index.isValid():
        if build is not None:
            build(index, menu)
            if menu.actions():
                menu.addSeparator()
        cell = index.data()
        menu.addAction("Copy cell", lambda: QGuiApplication.clipboard().setText("" if cell is None else str(cell)))
        menu.addAction("Copy row", lambda: QGuiApplication.clipboard().setText(row_text(index)))
    return menu


def install(view: QAbstractItemView, build: Builder | None = None) -> None:
    """Give ``view`` its context menu (the row under the pointer, or the current row from the keyboard)."""
    view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

    def show(pos: QPoint) -> None:
        index = view.indexAt(pos)
        if not index.isValid():
            index = view.currentIndex()
        if not index.isValid():
            return
        menu = menu_for(view, index, build)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(view.viewport().mapToGlobal(pos))

    view.customContextMenuRequested.connect(show)
    view.setProperty("ev_context_menu", True)  # tests: every view of the window has one
    view._ev_menu_builder = build  # type: ignore[attr-defined] - for menu_at


def menu_at(view: QAbstractItemView, index: QModelIndex) -> QMenu:
    """The menu :func:`install` gave ``view`` would show at ``index`` (not shown; the caller owns it)."""
    return menu_for(view, index, getattr(view, "_ev_menu_builder", None))


def install_window_menus(window: Any) -> None:
    """The main window's own tables (the features install theirs): select, go to, copy."""
    def structure(index: QModelIndex, menu: QMenu) -> None:
        node = window.structure_model.node(index)
        if node is not None:
            menu.addAction("Select its bytes", lambda: window.select(node.offset, node.length))

    def region(index: QModelIndex, menu: QMenu) -> None:
        r = window.regions_model.region(window._regions_proxy.mapToSource(index).row())
        menu.addAction("Select the region", lambda: window.select(r.file_offset, r.size))
        menu.addAction("Go to its start", lambda: window.go_to_offset(r.file_offset))

    install(window.tree, structure)
    install(window.regions_view, region)
    install(window.warnings_view)
    install(window.find_bar.results_list)
    install(window.inspector.tree)


__all__ = ["install", "install_window_menus", "menu_at", "menu_for", "row_text"]
