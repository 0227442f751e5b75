"""The case's widgets: review of one finding, case bookmarks, evidence verification, audit trail, key slots.

Thin widgets over the session's case (:attr:`viewer.workspace.session.Session.case`); the case
feature (:mod:`viewer.gui.features.case`) composes them. The item models here (:class:`EvidenceModel`, :class:`BookmarksModel`, :class:`AuditModel`) are read-only
tables over a :class:`~viewer.case.CaseFile`'s data; the window resets them after every change. Every
change the examiner makes goes through the CaseFile (``annotate``, ``add_passphrase_slot``…), which
appends the audit event; the widgets only emit ``sig_changed`` so that the window marks the case dirty.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QObject,
    Qt,
    Signal,
)
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from viewer.case import STATUSES, CaseError, CaseFile
from viewer.case.model import SEVERITIES, EvidenceRef, FindingRecord
from viewer.gui import context_menus
from viewer.gui.item_models import AnyIndex, FlatTable
from viewer.gui.plain import PlainLabel, ask_text, esc, rich_label, tip, warn
from viewer.gui.task_worker import one_line
from viewer.workspace.review_history import FIELDS, ReviewHistory


class _Table(FlatTable):
    """A flat, read-only table of rows (lists of display strings) with a header."""

    headers: Sequence[str] = ()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._rows: list[list[str]] = []
        self._items: list[Any] = []

    def _set(self, items: list[Any], rows: list[list[str]]) -> None:
        self.beginResetModel()
        self._items, self._rows = items, rows
        self.endResetModel()

    def item(self, row: int) -> Any:
        return self._items[row]

    def row_count(self) -> int:
        return len(self._rows)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        value = self._cell(index, role)
        return tip(value) if role == Qt.ItemDataRole.ToolTipRole else value  # dump text shown literally

    def _cell(self, index: AnyIndex, role: int) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._rows)):
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self._rows[index.row()][index.column()]
        return None


class EvidenceModel(_Table):
    """The case's evidence references and their verification state (``checking…``, ok, changed, missing)."""

    headers = ("State", "Path", "Size", "SHA-256")

    def set_evidence(self, refs: list[EvidenceRef], states: dict[str, str]) -> None:
        self._set(list(refs), [[states.get(r.sha256, "not checked"),
                                r.path if r.member is None else f"{r.path} › {r.member}", str(r.size), r.sha256]
                               for r in refs])

    def state(self, row: int) -> str:
        return self._rows[row][0]

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole and index.isValid() and index.column() == 0 \
                and 0 <= index.row() < len(self._rows):
            from PySide6.QtGui import QColor

            state = self._rows[index.row()][0]
            return {"ok": QColor(30, 150, 60), "changed": QColor(210, 40, 40),
                    "missing": QColor(210, 120, 0)}.get(state)
        return super().data(index, role)


class BookmarksModel(_Table):
    headers = ("Name", "Offset", "Length", "Evidence", "Author")

    def set_bookmarks(self, cf: CaseFile | None) -> None:
        marks = list(cf.case.bookmarks) if cf is not None else []
        names = {e.key: e.path if e.member is None else f"{e.path} › {e.member}" for e in cf.case.evidence} \
            if cf is not None else {}
        self._set(marks, [[b.name, f"{b.offset:#x}", str(b.length), names.get(b.evidence_sha256, b.evidence_sha256[:16]),
                           b.author] for b in marks])


def _summary(event: dict[str, Any]) -> str:
    data = event.get("data") or {}
    return one_line(", ".join(f"{k}={v}" for k, v in data.items() if k not in ("author",)), 200)


class AuditModel(_Table):
    headers = ("#", "Time", "Event", "Author", "Details")

    def set_case(self, cf: CaseFile | None) -> None:
        events = list(cf.case.audit) if cf is not None else []
        self._set(events, [[str(e.get("seq", i)), str(e.get("time", "")), str(e.get("type", "")),
                            str(e.get("author", "")), _summary(e)] for i, e in enumerate(events)])


# -- the review of one finding --------------------------------------------------------------------
class ReviewPanel(QWidget):
    """Status, severity, tags and the comment thread of the selected finding; changes call ``annotate``.

    A comment is edited (its author only: the case model refuses anyone else) by selecting it and
    pressing Edit, or by double-clicking it; the old text stays in the audit trail."""

    sig_changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.case: CaseFile | None = None
        self.record: FindingRecord | None = None
        self.history: ReviewHistory | None = None  # where status, severity and tag changes are recorded (Undo)
        self._loading = False
        self.title = rich_label()  # the kind from the case file: escaped (esc)
        self.title.setWordWrap(True)
        self.status_combo = QComboBox()
        self.status_combo.setObjectName("review-status")
        self.status_combo.addItems(list(STATUSES))
        self.severity_combo = QComboBox()
        self.severity_combo.setObjectName("review-severity")
        self.severity_combo.addItems(list(SEVERITIES))
        self.tags_edit = QLineEdit()
        self.tags_edit.setObjectName("review-tags")
        self.tags_edit.setPlaceholderText("tags, comma separated (Enter to apply)")
        self.comments = QListWidget()
        self.comments.setObjectName("review-comments")
        self.comments.setWordWrap(True)
        context_menus.install(self.comments)
        self.comment_edit = QLineEdit()
        self.comment_edit.setObjectName("review-comment-edit")
        self.comment_edit.setPlaceholderText("Add a comment…")
        self.add_button = QPushButton("Add")
        self.add_button.setObjectName("review-add-comment")
        self.edit_button = QPushButton("Edit…")
        self.edit_button.setObjectName("review-edit-comment")
        self.edit_button.setToolTip("Edit the selected comment (your own comments only; the audit trail keeps "
                                    "the old text)")
        form = QFormLayout()
        form.addRow("Status", self.status_combo)
        form.addRow("Severity", self.severity_combo)
        form.addRow("Tags", self.tags_edit)
        row = QHBoxLayout()
        row.addWidget(self.comment_edit, 1)
        row.addWidget(self.add_button)
        row.addWidget(self.edit_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(form)
        layout.addWidget(PlainLabel("Comments"))
        layout.addWidget(self.comments, 1)
        layout.addLayout(row)
        self.status_combo.currentTextChanged.connect(lambda s: self._annotate(status=s))
        self.severity_combo.currentTextChanged.connect(lambda s: self._annotate(severity=s))
        self.tags_edit.editingFinished.connect(self.apply_tags)
        self.add_button.clicked.connect(self.add_comment)
        self.comment_edit.returnPressed.connect(self.add_comment)
        self.edit_button.clicked.connect(self._ask_edit)
        self.comments.itemDoubleClicked.connect(lambda _item: self._ask_edit())
        self.comments.currentRowChanged.connect(lambda _row: self._update_edit_button())
        self.show_record(None, None)

    def show_record(self, case: CaseFile | None, record: FindingRecord | None, why: str = "") -> None:
        self.case, self.record = case, record
        self._loading = True
        try:
            enabled = case is not None and record is not None
            for w in (self.status_combo, self.severity_combo, self.tags_edit, self.comment_edit, self.add_button):
                w.setEnabled(enabled)
            self.edit_button.setEnabled(False)
            self.comments.clear()
            if not enabled:
                self.title.setText(esc(why) or "Select a finding of a case's evidence to review it.")
                self.status_combo.setCurrentIndex(0)
                self.severity_combo.setCurrentIndex(0)
                self.tags_edit.clear()
                return
            f = record.finding
            stale = " — stale: the last scan no longer reports it" if record.stale else ""
            self.title.setText(f"<b>{esc(f.get('kind'))}</b> at {int(f.get('offset', 0)):#x} ({esc(f.get('length'))} bytes){stale}")
            self.status_combo.setCurrentText(record.review.status)
            self.severity_combo.setCurrentText(record.review.severity)
            self.tags_edit.setText(", ".join(record.review.tags))
            for c in record.review.comments:
                edited = " (edited)" if c.edited else ""
                self.comments.addItem(f"{c.author}, {c.time}{edited}:\n{c.text}")
        finally:
            self._loading = False
            self._update_edit_button()

    def _editable(self, index: int) -> bool:
        """Whether the examiner at the keyboard wrote comment ``index`` (only its author may edit it)."""
        if self.case is None or self.record is None:
            return False
        comments = self.record.review.comments
        return 0 <= index < len(comments) and comments[index].author == self.case.author

    def _update_edit_button(self) -> None:
        self.edit_button.setEnabled(self._editable(self.comments.currentRow()))

    def edit_comment(self, index: int, text: str) -> bool:
        """Replace the text of comment ``index`` of the shown finding; False when nothing changed."""
        text = text.strip()
        if not text or not self._editable(index):
            return False
        assert self.case is not None and self.record is not None
        if self.record.review.comments[index].text == text:
            return False
        try:
            self.case.edit_comment(self.record.id, index, text, evidence_sha256=self.record.evidence_sha256)
        except (CaseError, ValueError, KeyError, IndexError) as exc:
            warn(self, "Review", one_line(str(exc)))
            return False
        self.show_record(self.case, self.record)
        self.comments.setCurrentRow(index)
        self.sig_changed.emit()
        return True

    def _ask_edit(self) -> None:
        index = self.comments.currentRow()
        if not self._editable(index):
            return
        assert self.record is not None
        old = self.record.review.comments[index].text
        text, ok = ask_text(self, "Edit comment", "Comment:", old, multiline=True)
        if ok:
            self.edit_comment(index, text)

    def _annotate(self, **changes: Any) -> None:
        if self._loading or self.case is None or self.record is None:
            return
        try:
            reviewed = {k: v for k, v in changes.items() if k in FIELDS}
            if self.history is not None and reviewed and len(reviewed) == len(changes):  # undoable
                target = [(self.record.id, self.record.evidence_sha256)]
                name = next(iter(reviewed))
                self.history.apply(self.case, f"{name} of {self.record.finding.get('kind')}", target, **reviewed)
                self.record = self.case.case.finding(self.record.id, self.record.evidence_sha256)
            else:
                self.record = self.case.annotate(self.record.id, evidence_sha256=self.record.evidence_sha256, **changes)
        except (CaseError, ValueError, KeyError) as exc:
            warn(self, "Review", one_line(str(exc)))
            return
        self.show_record(self.case, self.record)
        self.sig_changed.emit()

    def apply_tags(self) -> None:
        tags = [t for t in self.tags_edit.text().split(",") if t.strip()]
        if self.record is not None and sorted({t.strip() for t in tags}) != self.record.review.tags:
            self._annotate(tags=tags)

    def add_comment(self) -> None:
        text = self.comment_edit.text().strip()
        if text:
            self.comment_edit.clear()
            self._annotate(comment=text)


# -- key slots ------------------------------------------------------------------------------------
def ask_new_passphrase(parent: QWidget, title: str) -> str | None:
    """A passphrase typed twice (hidden); None when cancelled or the two differ (then says so)."""
    first, ok = ask_text(parent, title, "New passphrase:", echo=QLineEdit.EchoMode.Password)
    if not ok or not first:
        return None
    again, ok = ask_text(parent, title, "The same passphrase again:", echo=QLineEdit.EchoMode.Password)
    if not ok:
        return None
    if again != first:
        warn(parent, title, "The two passphrases differ; nothing was changed.")
        return None
    return first


class KeySlotsDialog(QDialog):
    """The case's key slots (keyring, passphrase) with Add passphrase and Remove; saved with the case."""

    sig_changed = Signal()

    def __init__(self, case: CaseFile, parent: QWidget | None = None, kdf: dict[str, Any] | None = None):
        super().__init__(parent)
        self.setWindowTitle("Key slots")
        self.setObjectName("key-slots-dialog")
        self.case = case
        self.kdf = kdf
        self.list = QListWidget()
        context_menus.install(self.list)
        self.list.setObjectName("key-slots")
        self.message = PlainLabel()
        self.message.setWordWrap(True)
        add = QPushButton("Add passphrase…")
        add.clicked.connect(self._ask_add)
        remove = QPushButton("Remove")
        remove.clicked.connect(self._ask_remove)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(add)
        row.addWidget(remove)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(PlainLabel("A case opens with any one of its slots. Changes are written by the next save."))
        layout.addWidget(self.list)
        layout.addLayout(row)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.refresh()

    def refresh(self) -> None:
        self.list.clear()
        for i, s in enumerate(self.case.slots()):
            kdf = s.get("kdf") or {}
            extra = f", {kdf.get('name')} {kdf.get('memory_cost', '')} KiB" if kdf else ""
            self.list.addItem(f"{i}: {s.get('kind')} (created {s.get('created', '?')}{extra})")

    def add_passphrase(self, passphrase: str) -> int:
        index = self.case.add_passphrase_slot(passphrase, kdf=self.kdf)
        self.refresh()
        self.message.setText(f"Passphrase slot {index} added; save the case to keep it.")
        self.sig_changed.emit()
        return index

    def remove(self, index: int) -> bool:
        try:
            self.case.remove_slot(index)
        except (CaseError, IndexError) as exc:
            self.message.setText(one_line(str(exc)))
            return False
        self.refresh()
        self.message.setText(f"Slot {index} removed; save the case to make it final.")
        self.sig_changed.emit()
        return True

    def _ask_add(self) -> None:
        passphrase = ask_new_passphrase(self, "Add a passphrase slot")
        if passphrase:
            self.add_passphrase(passphrase)

    def _ask_remove(self) -> None:
        row = self.list.currentRow()
        if row >= 0:
            self.remove(row)
