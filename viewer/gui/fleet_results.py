"""The window's view of a boundary-gate results database (``fleet scan --db``): a table of dumps with
their verdicts and secrets, opened read-only (the gate may still be writing: SQLite WAL lets us read);
a double-click opens the dump (or its quarantined copy) in the window.

A thin adapter (napari's style): the rows come from :meth:`viewer.fleet.db.ResultsDB.dumps`; the model
only shows them. The database is read once when opened; Reload reads it again.
"""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHeaderView,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from viewer.fleet.db import ResultsDB, ResultsError
from viewer.gui import context_menus
from viewer.gui.item_models import FlatTable
from viewer.gui.plain import PlainLabel, inform, warn
from viewer.units import human_size

COLUMNS = ("Verdict", "Secrets", "Path", "Host", "Format", "Size", "SHA-256", "Quarantined / redacted")
Index = QModelIndex | QPersistentModelIndex



class FleetResultsModel(FlatTable):
    """One row per dump of the database (``dumps()`` rows), read-only."""

    headers = COLUMNS

    def __init__(self, rows: list[dict[str, Any]], parent: QWidget | None = None):
        super().__init__(parent)
        self.rows = rows

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        r = self.row_at(index)
        if r is None:
            return None
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return [r["verdict"] or "", "" if r["secrets"] is None else str(r["secrets"]), r["path"], r["host"] or "",
                    r["format"] or "", human_size(r["size"]), r["sha256"] or "",
                    r["quarantined_to"] or r["redacted_to"] or r["error"] or ""][col]
        if role == Qt.ItemDataRole.UserRole:  # the sort key
            return [r["verdict"] or "", r["secrets"] or 0, r["path"], r["host"] or "", r["format"] or "", r["size"],
                    r["sha256"] or "", r["quarantined_to"] or ""][col]
        if role == Qt.ItemDataRole.FontRole and r["verdict"] == "production-key":
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole and col == 0 and r["verdict"] == "production-key":
            return "holds the private half of a supplied production public key"
        return None

    def dump_path(self, row: int) -> str | None:
        """The file to open for ``row``: the dump where it was seen, else its quarantined copy."""
        r = self.rows[row]
        return next((p for p in (r["path"], r["quarantined_to"]) if p and os.path.isfile(p)), None)


class FleetResultsDialog(QDialog):
    """The table of one results database; ``open_dump(path)`` is called on a double-click."""

    def __init__(self, db_path: str, open_dump: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.db_path = db_path
        self.open_dump = open_dump
        self.setWindowTitle(f"Fleet results — {os.path.basename(db_path)}")
        self.summary = PlainLabel()
        self.table = QTableView()
        context_menus.install(self.table)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.doubleClicked.connect(self._open_row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.reload_button = buttons.addButton("Reload", QDialogButtonBox.ButtonRole.ActionRole)
        self.reload_button.clicked.connect(self.reload)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(1000, 500)
        self.model: FleetResultsModel | None = None
        self.reload()

    def reload(self) -> None:
        """Read the database again (read-only); raises ResultsError when it cannot be used."""
        with ResultsDB(self.db_path, readonly=True) as db:
            rows = db.dumps()
        self.model = FleetResultsModel(rows, self)
        proxy = QSortFilterProxyModel(self)
        proxy.setSourceModel(self.model)
        proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.table.setModel(proxy)
        counts = {v: sum(1 for r in rows if r["verdict"] == v) for v in ("production-key", "secret", "clean", "failed")}
        self.summary.setText(f"{len(rows)} dump(s): " + ", ".join(f"{n} {v}" for v, n in counts.items()))

    def _open_row(self, index: QModelIndex) -> None:
        proxy = self.table.model()
        assert isinstance(proxy, QSortFilterProxyModel) and self.model is not None
        path = self.model.dump_path(proxy.mapToSource(index).row())
        if path is None:
            inform(self, "Fleet results", "The dump is no longer at its path or in quarantine.")
            return
        self.open_dump(path)


def open_fleet_results(window: Any, path: str | None = None) -> FleetResultsDialog | None:
    """Ask for a results database (unless ``path``) and show its table beside ``window``, whose
    ``open_path_async`` opens a double-clicked dump."""
    if path is None:
        path, _ = QFileDialog.getOpenFileName(window, "Open fleet results", "",
                                              "Fleet results (*.sqlite *.db);;All files (*)")
        if not path:
            return None
    try:
        dialog = FleetResultsDialog(path, window.open_path_async, window)
    except ResultsError as exc:
        warn(window, "Fleet results", str(exc))
        return None
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog


__all__ = ["FleetResultsModel", "FleetResultsDialog", "open_fleet_results", "COLUMNS"]
