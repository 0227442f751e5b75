"""The case's dialogs: one New case form, and the passphrase prompt that says why it asks.

Thin widgets over :class:`viewer.workspace.case_form.NewCaseForm` (what the form holds and when it is
complete is decided there, tested without a display).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from viewer.gui.plain import PlainLabel
from viewer.workspace.case_form import CASE_SUFFIX, NewCaseForm
from viewer.workspace.session import OpenDump

CASE_FILTER = "Evidence Viewer cases (*.evcase);;All files (*)"
DIALOG_MIN_WIDTH = 460  # wide enough for its title in every window manager seen (a narrow one cuts it off)


def path_row(edit: QLineEdit, button: QPushButton) -> QWidget:
    """A path field with its Browse… button beside it."""
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(edit, 1)
    row.addWidget(button)
    return box


class NewCaseDialog(QDialog):
    """File, name, number, examiner, description, passphrase twice, and the open dumps to add."""

    def __init__(self, dumps: Sequence[OpenDump], examiner: str = "", keyring: bool = True,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("new-case-dialog")
        self.setWindowTitle("New case")
        self.setMinimumWidth(DIALOG_MIN_WIDTH + 80)
        self.keyring = keyring
        self.path_edit = QLineEdit()
        self.path_edit.setObjectName("new-case-path")
        self.path_edit.setPlaceholderText(f"where the case file goes (…{CASE_SUFFIX})")
        browse = QPushButton("Browse…")
        browse.setObjectName("new-case-browse")
        browse.clicked.connect(self._browse)
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("new-case-name")
        self.number_edit = QLineEdit()
        self.number_edit.setObjectName("new-case-number")
        self.number_edit.setPlaceholderText("your reference, e.g. 2026-0417")
        self.examiner_edit = QLineEdit(examiner)
        self.examiner_edit.setObjectName("new-case-examiner")
        self.description_edit = QPlainTextEdit()
        self.description_edit.setObjectName("new-case-description")
        self.description_edit.setFixedHeight(self.fontMetrics().height() * 4 + 12)
        self.passphrase_edit = QLineEdit()
        self.passphrase_edit.setObjectName("new-case-passphrase")
        self.again_edit = QLineEdit()
        self.again_edit.setObjectName("new-case-again")
        for edit in (self.passphrase_edit, self.again_edit):
            edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase_edit.setPlaceholderText("also opens the case where the keyring does not" if keyring
                                                else "required: the keyring does not work here")
        form = QFormLayout()
        form.addRow("Case &file", path_row(self.path_edit, browse))
        form.addRow("&Name", self.name_edit)
        form.addRow("Case n&umber", self.number_edit)
        form.addRow("&Examiner", self.examiner_edit)
        form.addRow("&Description", self.description_edit)
        form.addRow("&Passphrase", self.passphrase_edit)
        form.addRow("The same &again", self.again_edit)

        self.evidence_checks: dict[int, QCheckBox] = {}
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        if dumps:
            group = QGroupBox("Add the open dumps as evidence (with their bookmarks)")
            inner = QVBoxLayout(group)
            for od in dumps:
                marks = len(od.bookmarks)
                check = QCheckBox(f"{od.path.name}" + (f" — {marks} bookmark{'s' if marks != 1 else ''}" if marks else ""))
                check.setToolTip(str(od.path))
                check.setChecked(True)
                inner.addWidget(check)
                self.evidence_checks[od.token] = check
            layout.addWidget(group)
        self.problem_label = PlainLabel()
        self.problem_label.setObjectName("new-case-problems")
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("color: palette(link)")
        layout.addWidget(self.problem_label)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create case")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        for edit in (self.path_edit, self.name_edit, self.examiner_edit, self.passphrase_edit, self.again_edit):
            edit.textChanged.connect(self._check)
        self.path_edit.textChanged.connect(self._suggest_name)
        self._named_by_hand = False
        self.name_edit.textEdited.connect(lambda _t: setattr(self, "_named_by_hand", True))
        self._check()

    def form(self) -> NewCaseForm:
        return NewCaseForm(self.path_edit.text(), self.name_edit.text().strip(), self.number_edit.text().strip(),
                           self.examiner_edit.text().strip(), self.description_edit.toPlainText().strip(),
                           self.passphrase_edit.text(), self.again_edit.text(),
                           [token for token, check in self.evidence_checks.items() if check.isChecked()])

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "New case file", self.path_edit.text(), CASE_FILTER)
        if path:
            self.path_edit.setText(path)

    def _suggest_name(self, text: str) -> None:
        if not self._named_by_hand and text.strip():
            self.name_edit.setText(Path(text.strip()).stem)

    def _check(self, *_: object) -> None:
        problems = self.form().problems(keyring=self.keyring)
        self.problem_label.setText("\n".join(problems))
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not problems)

    def accept(self) -> None:
        if not self.form().problems(keyring=self.keyring):
            super().accept()


class PassphraseDialog(QDialog):
    """"Case passphrase": why it is asked (no keyring, a wrong passphrase) above a hidden field."""

    def __init__(self, reason: str, title: str = "Case passphrase", parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("passphrase-dialog")
        self.setWindowTitle(title)
        self.setMinimumWidth(DIALOG_MIN_WIDTH)
        self.reason = PlainLabel(reason)
        self.reason.setObjectName("passphrase-reason")
        self.reason.setWordWrap(True)
        self.reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.edit = QLineEdit()
        self.edit.setObjectName("passphrase-edit")
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.reason)
        layout.addWidget(PlainLabel("Passphrase:"))
        layout.addWidget(self.edit)
        layout.addWidget(buttons)


def ask_passphrase(parent: QWidget, reason: str, title: str = "Case passphrase") -> str | None:
    """The passphrase typed (hidden), or None when cancelled."""
    dialog = PassphraseDialog(reason, title, parent)
    try:
        return dialog.edit.text() if dialog.exec() == QDialog.DialogCode.Accepted else None
    finally:
        dialog.deleteLater()


__all__ = ["NewCaseDialog", "PassphraseDialog", "ask_passphrase", "path_row"]
