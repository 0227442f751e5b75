"""Open bundle: one dialog for the bundle and the folder its case is extracted to, each with Browse…."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLineEdit,
    QPushButton,
    QWidget,
)

from viewer.gui.case_export import BUNDLE_FILTER
from viewer.gui.case_forms import DIALOG_MIN_WIDTH, path_row
from viewer.gui.plain import label
from viewer.handover.extract import default_target


class OpenBundleDialog(QDialog):
    """The bundle (a ZIP) and the target folder (default: beside the bundle, named after it)."""

    def __init__(self, bundle: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("open-bundle-dialog")
        self.setWindowTitle("Open bundle")
        self.setMinimumWidth(DIALOG_MIN_WIDTH + 160)
        self.bundle_edit = QLineEdit(bundle)
        self.bundle_edit.setObjectName("open-bundle-path")
        self.bundle_edit.setPlaceholderText("the case bundle (.zip) you received")
        self.target_edit = QLineEdit(str(default_target(bundle)) if bundle else "")
        self.target_edit.setObjectName("open-bundle-target")
        self.target_edit.setPlaceholderText("an empty folder (made if missing)")
        self.bundle_browse = QPushButton("Browse…")
        self.bundle_browse.clicked.connect(self._browse_bundle)
        self.target_browse = QPushButton("Browse…")
        self.target_browse.setObjectName("open-bundle-target-browse")
        self.target_browse.clicked.connect(self._browse_target)
        self.bundle_edit.textChanged.connect(self._bundle_changed)
        self.bundle_edit.textChanged.connect(self._check)
        self.target_edit.textChanged.connect(self._check)
        note = label("The bundle is verified (every member against its manifest, and its signature) before "
                     "anything is extracted; the case opens from the folder.")
        note.setWordWrap(True)
        note.setEnabled(False)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("&Bundle", path_row(self.bundle_edit, self.bundle_browse))
        form.addRow("Extract &to", path_row(self.target_edit, self.target_browse))
        form.addRow(note)
        form.addRow(self.buttons)
        self._auto_target = self.target_edit.text()
        self._check()

    def bundle(self) -> Path:
        return Path(self.bundle_edit.text().strip())

    def target(self) -> Path:
        return Path(self.target_edit.text().strip())

    def _bundle_changed(self, text: str) -> None:
        """The target follows the bundle until the examiner chose one."""
        if self.target_edit.text() == self._auto_target and text.strip():
            self._auto_target = str(default_target(text.strip()))
            self.target_edit.setText(self._auto_target)

    def _check(self, *_: object) -> None:
        ok = bool(self.bundle_edit.text().strip()) and bool(self.target_edit.text().strip())
        self.buttons.button(QDialogButtonBox.StandardButton.Open).setEnabled(ok)

    def _browse_bundle(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open bundle", self.bundle_edit.text(), BUNDLE_FILTER)
        if path:
            self.bundle_edit.setText(path)

    def _browse_target(self) -> None:
        start = self.target_edit.text() or str(Path(self.bundle_edit.text()).parent)
        folder = QFileDialog.getExistingDirectory(self, "Extract the case to", str(Path(start).parent))
        if folder:
            self.target_edit.setText(folder)


__all__ = ["OpenBundleDialog"]
