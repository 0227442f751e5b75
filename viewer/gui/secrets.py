"""The Secrets overview's tables: one row per key (:class:`SecretsModel`) and the copies of the selected
key side by side (:class:`CopiesModel`) — thin adapters over :mod:`viewer.workspace.secrets_view`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QFontDatabase

from viewer.gui.item_models import AnyIndex, FlatTable
from viewer.gui.palette import verdict_colour
from viewer.gui.plain import tip
from viewer.scan.finding import Finding
from viewer.workspace import secrets_view as sv

ROW_ROLE = Qt.ItemDataRole.UserRole + 1  # the SecretRow (SecretsModel) or the Finding (CopiesModel)


class SecretsModel(FlatTable):
    """One row per secret key of the current dump."""

    headers = sv.HEADERS
    tips = sv.TIPS

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._rows: list[sv.SecretRow] = []
        self.review: sv.Review | None = None
        self._fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)

    @property
    def rows(self) -> list[sv.SecretRow]:
        return list(self._rows)

    def set_rows(self, rows: Sequence[sv.SecretRow], review: sv.Review | None) -> None:
        self.beginResetModel()
        self._rows, self.review = list(rows), review
        self.endResetModel()

    def refresh_review(self, review: sv.Review | None) -> None:
        self.review = review
        if self._rows:
            col = sv.COL_REVIEW
            self.dataChanged.emit(self.index(0, col), self.index(len(self._rows) - 1, col))

    def row(self, row: int) -> sv.SecretRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_count(self) -> int:
        return len(self._rows)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        r = self.row(index.row()) if index.isValid() else None
        if r is None:
            return None
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return sv.row_cell(r, col, self.review)
        if role == ROW_ROLE:
            return r
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == sv.COL_KEY_ID:
                return tip(r.key_id or "no key id: the public half could not be derived")
            if col in (sv.COL_MATCHES, sv.COL_REGIONS, sv.COL_REVIEW, sv.COL_COPIES):
                return tip(sv.row_cell(r, col, self.review) + ("\n" + ", ".join(r.encodings) if col == sv.COL_COPIES else ""))
            return None
        if role == Qt.ItemDataRole.FontRole and col == sv.COL_KEY_ID:
            return self._fixed
        if role == Qt.ItemDataRole.ForegroundRole and col == sv.COL_REVIEW and self.review is not None:
            state = sv.row_cell(r, col, self.review)
            return None if state.startswith(("mixed", "not", "—")) else verdict_colour(state)
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (sv.COL_BITS, sv.COL_COPIES):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class CopiesModel(FlatTable):
    """The copies of one key, side by side: encoding, offset, length, region, confidence, status, id."""

    headers = sv.COPY_HEADERS

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._copies: list[Finding] = []
        self.review: sv.Review | None = None
        self._fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)

    @property
    def copies(self) -> list[Finding]:
        return list(self._copies)

    def set_copies(self, copies: Sequence[Finding], review: sv.Review | None) -> None:
        self.beginResetModel()
        self._copies, self.review = list(copies), review
        self.endResetModel()

    def finding(self, row: int) -> Finding | None:
        return self._copies[row] if 0 <= row < len(self._copies) else None

    def row_count(self) -> int:
        return len(self._copies)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        f = self.finding(index.row()) if index.isValid() else None
        if f is None:
            return None
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return sv.copy_cell(f, col, self.review)
        if role == ROW_ROLE:
            return f
        if role == Qt.ItemDataRole.ToolTipRole and col in (sv.COPY_COL_ENCODING, sv.COPY_COL_REGION):
            return tip(sv.copy_cell(f, col, self.review))
        if role == Qt.ItemDataRole.FontRole and col in (sv.COPY_COL_OFFSET, sv.COPY_COL_LENGTH, sv.COPY_COL_ID):
            return self._fixed
        if role == Qt.ItemDataRole.ForegroundRole and col == sv.COPY_COL_STATUS and self.review is not None:
            r = self.review(f)
            return verdict_colour(r[0]) if r is not None else None
        return None


__all__ = ["ROW_ROLE", "CopiesModel", "SecretsModel"]
