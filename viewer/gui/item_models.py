"""What every item model of the window shares: the index types, the invalid parent, the header rule.

Each table and tree is a thin Qt adapter over data the core or the workspace holds; the few lines that
are the same in all of them — a horizontal header's text and tooltip, the default parent — live here once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt

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
