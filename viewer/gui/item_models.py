"""What every item model of the window shares: the index types, the invalid parent, the header rule.

Each table and tree is a thin Qt adapter over data the core or the workspace holds; the few lines that
are the same in all of them — a horizontal header's text and tooltip, the default parent — live here once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

AnyIndex = QModelIndex | QPersistentModelIndex
NO_PARENT = QModelIndex()  # the default parent argument: one shared invalid index


def header_data(section: int, orientation: Qt.Orientation, role: int, headers: Sequence[str],
                tips: Sequence[str] = ()) -> Any:
    """A horizontal header's text (DisplayRole) and tooltip (ToolTipRole, when ``tips`` has one); None
    for anything else, so Qt uses its defaults."""
    if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(headers):
        return None
    if role == Qt.ItemDataRole.DisplayRole:
        return headers[section]
    if role == Qt.ItemDataRole.ToolTipRole and section < len(tips):
        return tips[section]
    return None


class FlatTable(QAbstractTableModel):
    """A flat, read-only table: its rows counted by :meth:`row_count`, its columns named by ``headers``
    (their tooltips in ``tips``). Subclasses say what a row is and what its cells show (``data``)."""

    headers: Sequence[str] = ()
    tips: Sequence[str] = ()
    rows: Sequence[Any] = ()  # the rows, where a subclass keeps them in a plain list

    def row_count(self) -> int:
        return len(self.rows)

    def row_at(self, index: AnyIndex) -> Any | None:
        """The row ``index`` stands for, or None for an invalid or stale index."""
        return self.rows[index.row()] if index.isValid() and 0 <= index.row() < len(self.rows) else None

    def rowCount(self, parent: AnyIndex = NO_PARENT) -> int:
        return 0 if parent.isValid() else self.row_count()

    def columnCount(self, parent: AnyIndex = NO_PARENT) -> int:
        return 0 if parent.isValid() else len(self.headers)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        return header_data(section, orientation, role, self.headers, self.tips)
