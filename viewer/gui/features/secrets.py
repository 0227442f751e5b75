"""The Secrets overview dock: one row per key of the current dump, its copies side by side, and one review
given once for all copies of a key (one undoable step: Edit ▸ Undo).

The overview is rebuilt from the session when the dump, its findings or the case change — only while the
dock is visible (a scan's provisional batches do not pay for it); it catches up when shown.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, QTimer
from PySide6.QtGui import QFontDatabase, QFontMetrics
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from viewer.case.model import SEVERITIES, STATUSES
from viewer.gui.features.base import Feature, Host
from viewer.gui.features.finding_menu import FindingMenu
from viewer.gui.plain import PlainLabel
from viewer.gui.secrets import ROW_ROLE, CopiesModel, SecretsModel
from viewer.gui.table_view import table_view
from viewer.scan.finding import Finding
from viewer.workspace import secrets_view as sv
from viewer.workspace.findings_view import plural

KEEP = "(keep)"


def copies_text(n: int) -> str:
    return f"{n} {'copy' if n == 1 else 'copies'}"


class SecretsController(Feature):
    """Secrets dock over the session's current dump (and the case's reviews of it)."""

    def __init__(self, host: Host, finding_menu: FindingMenu | None = None):
        super().__init__(host)
        self.finding_menu = finding_menu
        self.model = SecretsModel(self)
        self.copies_model = CopiesModel(self)
        self._built = False
        self._holder = QWidget()  # the dock's widgets are made when it is first shown (a window that never
        holder = QVBoxLayout(self._holder)  # shows it does not pay for two tables and their fonts)
        holder.setContentsMargins(0, 0, 0, 0)
        self.dock = host.add_dock("Secrets", "secrets-dock", self._holder, Qt.DockWidgetArea.BottomDockWidgetArea,
                                  toggle_shortcut="Ctrl+Alt+S", tab_with="findings-dock")
        self.dock.visibilityChanged.connect(lambda visible: self.refresh() if visible and self._stale else None)
        self._stale = True
        self._queued = False  # a rebuild is waiting for its turn of the event loop
        self._quiet = False
        ev = self.session.events
        ev.current_changed.connect(lambda _od: self._changed())
        ev.findings_changed.connect(lambda od: self._changed(later=True) if od is self.session.current else None)
        ev.case_changed.connect(lambda _cf: self._changed())
        ev.case_edited.connect(self._review_changed)
        ev.evidence_state_changed.connect(lambda _sha, _state: self._changed())

    def _ensure_ui(self) -> None:
        if self._built:
            return
        self._built = True
        self.table = table_view(self.model, "secrets-table", self._secret_menu)
        self.copies = table_view(self.copies_model, "secret-copies", self._copy_menu)
        fm = self.table.fontMetrics()
        fixed = QFontMetrics(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        for col, text in ((sv.COL_KIND, "rsa-private-key"), (sv.COL_BITS, "00000"),
                          (sv.COL_COPIES, "00 (0 encodings)"), (sv.COL_REVIEW, "mixed: 2 confirmed, 1 other"),
                          (sv.COL_REGIONS, "stack of thread 0x0000")):
            self.table.setColumnWidth(col, fm.horizontalAdvance(text) + 18)
        self.table.setColumnWidth(sv.COL_KEY_ID, fixed.horizontalAdvance("0" * 13) + 18)
        self.table.horizontalHeader().setStretchLastSection(True)  # Matches: the spare width
        for col, text in ((sv.COPY_COL_ENCODING, "cryptoapi-privatekeyblob"), (sv.COPY_COL_OFFSET, "0x000000000"),
                          (sv.COPY_COL_LENGTH, "000000"), (sv.COPY_COL_CONFIDENCE, "math-checked"),
                          (sv.COPY_COL_STATUS, "needs-more-information"), (sv.COPY_COL_REGION, "stack of thread 0x00")):
            self.copies.setColumnWidth(col, fm.horizontalAdvance(text) + 18)
        self.copies.horizontalHeader().setStretchLastSection(True)
        self.table.selectionModel().currentRowChanged.connect(lambda cur, _prev: self._on_secret(cur))
        self.copies.selectionModel().currentRowChanged.connect(lambda cur, _prev: self._on_copy(cur))
        self.table.activated.connect(self._on_secret)

        self.status_combo = QComboBox()
        self.status_combo.setObjectName("secrets-status")
        self.status_combo.addItems([KEEP, *STATUSES])
        self.status_combo.setToolTip("The status every copy of this key gets")
        self.severity_combo = QComboBox()
        self.severity_combo.setObjectName("secrets-severity")
        self.severity_combo.addItems([KEEP, *SEVERITIES])
        self.severity_combo.setToolTip("The severity every copy of this key gets")
        self.apply_button = QPushButton("Review all copies")
        self.apply_button.setObjectName("secrets-apply")
        self.apply_button.setToolTip("One review for the key: every copy in the case gets it (one step for Undo)")
        self.apply_button.clicked.connect(lambda: self.review_all(self.status_combo.currentText(),
                                                                 self.severity_combo.currentText()))
        self.summary = PlainLabel()
        self.summary.setObjectName("secrets-summary")
        self.why = PlainLabel()
        self.why.setObjectName("secrets-why")
        self.why.setEnabled(False)  # grey: why the review is off
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(PlainLabel("Status"))
        row.addWidget(self.status_combo)
        row.addWidget(PlainLabel("Severity"))
        row.addWidget(self.severity_combo)
        row.addWidget(self.apply_button)
        row.addWidget(self.why, 1)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addLayout(row)
        lower_layout.addWidget(self.copies, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(lower)
        split.setSizes([640, 760])  # the key's columns through Review; the copies' through Region
        layout = self._holder.layout()
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)

    # -- state -----------------------------------------------------------------------------------
    def review_lookup(self) -> sv.Review | None:
        od = self.session.current
        if self.session.case is None or od is None:
            return None
        return lambda f: self.session.review_of(od, f)

    def _changed(self, later: bool = False) -> None:
        """Rebuild the rows (when the dock shows). ``later``: for new findings, in a turn of the event
        loop of their own, after the table and the hex view (a scan's result of thousands of findings:
        several views, never one long freeze)."""
        self._stale = True
        if not later:
            self._refresh_if_stale()
        elif not self._queued:
            self._queued = True
            QTimer.singleShot(0, self._deferred)

    def _deferred(self) -> None:
        self._queued = False
        self._refresh_if_stale()

    def _refresh_if_stale(self) -> None:
        if self._stale and self.dock.isVisible():
            self.refresh()

    def _review_changed(self) -> None:
        if self._stale or not self._built or not self.dock.isVisible():
            self._stale = True
            return
        review = self.review_lookup()
        self.model.refresh_review(review)
        current = self.current_row()
        self.copies_model.set_copies(current.copies if current is not None else [], review)
        self._update_review_widgets()

    def refresh(self) -> None:
        """Rebuild the rows from the current dump (keeping the selected key selected)."""
        self._ensure_ui()
        self._stale = False
        od = self.session.current
        keep = self.current_row().key if self.current_row() is not None else None
        rows = sv.secret_rows(od.findings) if od is not None else []
        self.model.set_rows(rows, self.review_lookup())
        copies = sum(len(r.copies) for r in rows)
        self.summary.setText(f"{plural(len(rows), 'secret')} in {plural(copies, 'place')}" if od is not None
                             and od.findings else "No secrets yet — Scan ▸ Scan for secrets (Ctrl+R).")
        self.dock.setWindowTitle(f"Secrets ({len(rows)})" if rows else "Secrets")
        again = next((i for i, r in enumerate(rows) if r.key == keep), 0 if rows else -1)
        if again >= 0:
            self._quiet = True  # a rebuild selects the key again; it does not move the hex view
            try:
                self.table.selectRow(again)
            finally:
                self._quiet = False
        else:
            self.copies_model.set_copies([], None)
        self._update_review_widgets()

    def current_row(self) -> sv.SecretRow | None:
        return self.model.row(self.table.currentIndex().row()) if self._built else None

    def _why_not(self) -> str:
        row = self.current_row()
        if row is None:
            return "Select a key."
        if self.session.case is None:
            return "No case open: keys are reviewed in a case."
        if self.session.case_hold is not None:
            return "The case is held still while an export runs."
        record, why = self.session.case_record(self.session.current, row.best)
        return why if record is None else ""

    def _update_review_widgets(self) -> None:
        why = self._why_not()
        for w in (self.status_combo, self.severity_combo, self.apply_button):
            w.setEnabled(not why)
        row = self.current_row()
        self.apply_button.setText(f"Review all {len(row.copies)} copies" if row is not None and len(row.copies) > 1
                                  else "Review the key")
        self.why.setText(why)

    # -- selection -------------------------------------------------------------------------------
    def _on_secret(self, index: QModelIndex) -> None:
        row = self.model.row(index.row()) if index.isValid() else None
        self.copies_model.set_copies(row.copies if row is not None else [], self.review_lookup())
        self._update_review_widgets()
        if row is not None:
            self.copies.selectRow(0)

    def _on_copy(self, index: QModelIndex) -> None:
        f = self.copies_model.finding(index.row()) if index.isValid() else None
        if f is not None and not self._quiet:
            self.show_copy(f)

    def show_copy(self, f: Finding) -> None:
        """Select ``f``'s bytes (its first byte at the top) and show it in Details and Review."""
        self.session.select_finding(f)
        self.host.select(f.offset, f.length)

    # -- one review for all copies ---------------------------------------------------------------
    def review_all(self, status: str = KEEP, severity: str = KEEP, row: sv.SecretRow | None = None) -> int:
        """Give every copy of the key (in the case) ``status`` and/or ``severity`` as one undoable step;
        the number of copies changed."""
        row = row or self.current_row()
        cf, od = self.session.case, self.session.current
        if row is None or cf is None or od is None or self.session.case_hold is not None:
            return 0
        sha = self.session.evidence_sha256(od)
        if sha is None:
            return 0
        targets = [(f.id, sha) for f in row.copies if self.session.case_record(od, f)[0] is not None]
        fields = {k: v for k, v in (("status", status), ("severity", severity)) if v and v != KEEP}
        if not targets or not fields:
            return 0
        what = " and ".join(f"{k} {v}" for k, v in fields.items())
        try:
            step = self.session.reviews.apply(cf, f"{what} of {copies_text(len(targets))} of {row.kind}",
                                              targets, **fields)
        except (ValueError, KeyError) as exc:
            self.host.message(QMessageBox.Icon.Warning, "Review", str(exc), "secrets-review-error")
            return 0
        if step is None:
            return 0
        self.session.mark_dirty()
        self.status(f"{what}: {copies_text(len({c.finding_id for c in step.changes}))} of {row.kind}", 5000)
        if self.session.finding is not None:
            self.session.select_finding(self.session.finding)  # the Review dock shows the new state
        return len({c.finding_id for c in step.changes})

    # -- context menus ---------------------------------------------------------------------------
    def _secret_menu(self, index: QModelIndex, menu: QMenu) -> None:
        row = index.data(ROW_ROLE)
        if not isinstance(row, sv.SecretRow):
            return
        menu.addAction("Go to the best copy", lambda: self.show_copy(row.best))
        if self.finding_menu is not None:
            self.finding_menu.add_actions(row.best, menu)

    def _copy_menu(self, index: QModelIndex, menu: QMenu) -> None:
        f = index.data(ROW_ROLE)
        if isinstance(f, Finding):
            menu.addAction("Go to this copy", lambda: self.show_copy(f))
            if self.finding_menu is not None:
                self.finding_menu.add_actions(f, menu)


__all__ = ["KEEP", "SecretsController"]
