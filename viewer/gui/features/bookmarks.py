"""The Bookmarks dock: the current dump's bookmarks — go to, rename, recolour, a note, delete.

A bookmark lives without a case: the session keeps it per evidence hash in the settings until a case
takes it (:mod:`viewer.workspace.bookmark_store`); the dock shows where each one is kept. Every change
goes through the session (:meth:`~viewer.workspace.session.Session.update_bookmark`,
:meth:`~viewer.workspace.session.Session.remove_bookmark`), which records it in the case's audit trail
when a case holds the bookmark.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QColorDialog,
    QHBoxLayout,
    QHeaderView,
    QMenu,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from viewer.gui import context_menus
from viewer.gui.bookmarks_model import COL_LENGTH, COL_NAME, COL_NOTE, COL_OFFSET, BookmarksModel
from viewer.gui.features.base import Feature, Host
from viewer.gui.plain import ask_text
from viewer.workspace.session import Bookmark, OpenDump


class BookmarksController(Feature):
    """The Bookmarks dock over the session's bookmarks of the current dump."""

    def __init__(self, host: Host):
        super().__init__(host)
        self.model = BookmarksModel(self)
        self.model.sig_edit.connect(self._on_edit)
        self.view = QTableView()
        self.view.setObjectName("bookmarks-table")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                  | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.view.setAlternatingRowColors(True)
        self.view.verticalHeader().setVisible(False)
        self.view.setWordWrap(False)
        header = self.view.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(COL_NAME, 160)
        digits = self.view.fontMetrics().horizontalAdvance("0x00000000") + 18
        header.resizeSection(COL_OFFSET, digits)
        header.resizeSection(COL_LENGTH, digits * 2 // 3)
        self.view.activated.connect(self._on_activated)  # Enter on a row, or a double-click off the editable cells
        self.view.clicked.connect(self._on_activated)
        context_menus.install(self.view, self._menu)
        self.colour_button = QPushButton("Colour…")
        self.note_button = QPushButton("Note…")
        self.delete_button = QPushButton("Delete")
        self.delete_button.setObjectName("bookmark-delete")
        self.colour_button.clicked.connect(lambda: self.ask_colour(self.current_row()))
        self.note_button.clicked.connect(lambda: self.ask_note(self.current_row()))
        self.delete_button.clicked.connect(lambda: self.delete(self.current_row()))
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        for button in (self.colour_button, self.note_button, self.delete_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)
        self.dock = host.add_dock("Bookmarks", "bookmarks-dock", box, Qt.DockWidgetArea.LeftDockWidgetArea,
                                  toggle_shortcut="Alt+0", tab_with="regions-dock")
        self.view.selectionModel().currentRowChanged.connect(lambda *_: self._update_buttons())
        ev = self.session.events
        ev.current_changed.connect(lambda _od: self.refresh())
        ev.bookmarks_changed.connect(lambda od: self.refresh() if od is self.session.current else None)
        self.refresh()

    # -- state -----------------------------------------------------------------------------------
    @property
    def od(self) -> OpenDump | None:
        return self.session.current

    def refresh(self) -> None:
        marks = self.od.bookmarks if self.od is not None else []
        self.model.set_bookmarks(marks)
        self.dock.setWindowTitle(f"Bookmarks ({len(marks)})" if marks else "Bookmarks")
        self._update_buttons()

    def current_row(self) -> int:
        return self.view.currentIndex().row()

    def _update_buttons(self) -> None:
        some = self.model.bookmark(self.current_row()) is not None
        for button in (self.colour_button, self.note_button, self.delete_button):
            button.setEnabled(some)

    # -- actions ---------------------------------------------------------------------------------
    def go_to(self, row: int) -> bool:
        mark = self.model.bookmark(row)
        if mark is None:
            return False
        self.host.select(mark.offset, mark.length)
        return True

    def rename(self, row: int, name: str) -> bool:
        return self._update(row, name=name.strip()) if name.strip() else False

    def set_note(self, row: int, note: str) -> bool:
        return self._update(row, note=note)

    def recolour(self, row: int, colour: QColor | str) -> bool:
        return self._update(row, colour=QColor(colour).name(QColor.NameFormat.HexArgb))

    def delete(self, row: int) -> bool:
        mark, od = self.model.bookmark(row), self.od
        if mark is None or od is None:
            return False
        self.session.remove_bookmark(od, mark)
        return True

    def _update(self, row: int, **fields: Any) -> bool:
        mark, od = self.model.bookmark(row), self.od
        if mark is None or od is None:
            return False
        self.session.update_bookmark(od, mark, **fields)
        return True

    def _on_edit(self, mark: Bookmark, field: str, text: str) -> None:
        od = self.od
        if od is not None and mark in od.bookmarks:
            self.session.update_bookmark(od, mark, **{field: text})

    def _on_activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.go_to(index.row())

    def ask_colour(self, row: int) -> None:
        mark = self.model.bookmark(row)
        if mark is None:
            return
        colour = QColorDialog.getColor(QColor(mark.colour), self.parent_widget, "Bookmark colour",
                                       QColorDialog.ColorDialogOption.ShowAlphaChannel)
        if colour.isValid():
            self.recolour(row, colour)

    def ask_note(self, row: int) -> None:
        mark = self.model.bookmark(row)
        if mark is None:
            return
        text, ok = ask_text(self.parent_widget, "Bookmark note", f"Note on {mark.name}:", mark.note, multiline=True)
        if ok:
            self.set_note(row, text)

    def _menu(self, index: QModelIndex, menu: QMenu) -> None:
        row = index.row()
        menu.addAction("Go to", lambda: self.go_to(row))
        menu.addAction("Rename", lambda: self.view.edit(self.model.index(row, COL_NAME)))
        menu.addAction("Colour…", lambda: self.ask_colour(row))
        menu.addAction("Note…", lambda: self.ask_note(row))
        menu.addAction("Delete", lambda: self.delete(row))


__all__ = ["BookmarksController", "COL_NOTE"]
