"""The Bookmarks dock's table: the current dump's bookmarks (in a case or not), name and note editable.

A thin adapter over the session's :class:`~viewer.workspace.session.Bookmark` list; an edit is not
applied here but announced (``sig_edit``) so that the session — which decides whether the case or the
pending store keeps the bookmark — makes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QFontDatabase

from viewer.gui.item_models import AnyIndex, FlatTable
from viewer.gui.plain import tip
from viewer.workspace.session import Bookmark

COL_NAME, COL_OFFSET, COL_LENGTH, COL_NOTE = range(4)
HEADERS = ("Name", "Offset", "Length", "Note")
TIPS = ("The bookmark's name and colour (double-click to rename)", "File offset (hex)", "Bytes",
        "Your note (double-click to edit)")
EDITABLE = {COL_NAME: "name", COL_NOTE: "note"}


class BookmarksModel(FlatTable):
    """One row per bookmark of the current dump."""

    headers = HEADERS
    tips = TIPS

    sig_edit = Signal(object, str, str)  # Bookmark, field ("name" / "note"), new text

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._marks: list[Bookmark] = []
        self._fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)

    @property
    def bookmarks(self) -> list[Bookmark]:
        return list(self._marks)

    def set_bookmarks(self, marks: Sequence[Bookmark]) -> None:
        marks = list(marks)
        if len(marks) == len(self._marks) and all(a is b for a, b in zip(marks, self._marks, strict=True)):
            if marks:  # the same bookmarks, edited: no reset (an open editor stays, the selection too)
                self.dataChanged.emit(self.index(0, 0), self.index(len(marks) - 1, len(HEADERS) - 1))
            return
        self.beginResetModel()
        self._marks = marks
        self.endResetModel()

    def bookmark(self, row: int) -> Bookmark | None:
        return self._marks[row] if 0 <= row < len(self._marks) else None

    def row_count(self) -> int:
        return len(self._marks)

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return base | Qt.ItemFlag.ItemIsEditable if index.column() in EDITABLE else base

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        mark = self.bookmark(index.row()) if index.isValid() else None
        if mark is None:
            return None
        col = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return (mark.name, f"{mark.offset:#x}", str(mark.length), mark.note)[col]
        if role == Qt.ItemDataRole.ToolTipRole:
            where = "in the case" if mark.case_id else "kept for this dump (no case holds it yet)"
            return tip(f"{mark.name}\n{mark.offset:#x}, {mark.length} bytes — {where}" + (f"\n{mark.note}" if mark.note else ""))
        if role == Qt.ItemDataRole.DecorationRole and col == COL_NAME:
            return QColor(mark.colour)
        if role == Qt.ItemDataRole.FontRole and col in (COL_OFFSET, COL_LENGTH):
            return self._fixed
        return None

    def setData(self, index: AnyIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        mark = self.bookmark(index.row()) if index.isValid() else None
        field = EDITABLE.get(index.column())
        if mark is None or field is None or role != Qt.ItemDataRole.EditRole:
            return False
        text = str(value).strip() if field == "name" else str(value)
        if field == "name" and not text:
            return False  # a bookmark keeps a name
        self.sig_edit.emit(mark, field, text)
        self.dataChanged.emit(index, index)
        return True


__all__ = ["COL_LENGTH", "COL_NAME", "COL_NOTE", "COL_OFFSET", "HEADERS", "BookmarksModel"]
