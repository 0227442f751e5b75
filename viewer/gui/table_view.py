"""The window's one kind of table view: whole rows selected one at a time, read-only, no word wrap,
compact rows, columns the examiner can resize, and a context menu — so every dock's table behaves alike."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from viewer.gui import context_menus


def table_view(model: QAbstractItemModel, name: str, menu: context_menus.Builder | None = None,
               stretch_last: bool = True) -> QTableView:
    """A table over ``model`` named ``name`` (for tests and styles); ``menu`` adds to its context menu."""
    view = QTableView()
    view.setObjectName(name)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 6)
    view.horizontalHeader().setStretchLastSection(stretch_last)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    context_menus.install(view, menu)
    return view
