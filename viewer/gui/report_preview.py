"""Case ▸ Preview report…: the masked report as it will be printed, in the window before any export.

The same HTML and the same layout as Print report to PDF (:func:`~viewer.gui.case_export.report_document`),
shown in a read-only QTextBrowser; from here the examiner prints it or exports the bundle. A preview is not
an export: it leaves nothing on disk and nothing in the audit trail.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSizeF, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QPushButton, QTextBrowser, QVBoxLayout, QWidget

from viewer.gui.case_export import report_document
from viewer.gui.plain import label

A4_POINTS = QSizeF(595.0, 842.0)  # the page the PDF is laid out on (document units), for the same line breaks


class ReportPreview(QDialog):
    """The rendered report, with Print to PDF… and Export bundle… beside Close."""

    def __init__(self, html: str, title: str, print_pdf: Callable[[], None], export_bundle: Callable[[], None],
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("report-preview")
        self.setWindowTitle(f"Report preview — {title}")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.html = html
        self.document = report_document(html, A4_POINTS)
        self.document.setParent(self)
        self.browser = QTextBrowser()
        self.browser.setObjectName("report-preview-browser")
        self.browser.setOpenLinks(False)  # the report's links point into files that are not here yet
        self.browser.setDocument(self.document)
        paper = self.browser.palette()  # the report is a sheet of paper in either theme (its CSS assumes white)
        paper.setColor(QPalette.ColorRole.Base, QColor("white"))
        paper.setColor(QPalette.ColorRole.Text, QColor("black"))
        self.browser.setPalette(paper)
        note = label("As it will be printed and bundled: secret bytes masked, key ids standing in for keys. "
                     "Nothing is written until you export.")
        note.setWordWrap(True)
        note.setEnabled(False)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.print_button = QPushButton("Print to PDF…")
        self.bundle_button = QPushButton("Export bundle…")
        buttons.addButton(self.print_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.bundle_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.print_button.clicked.connect(lambda: (self.close(), print_pdf()))
        self.bundle_button.clicked.connect(lambda: (self.close(), export_bundle()))
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addWidget(self.browser, 1)
        layout.addWidget(buttons)
        self.resize(900, 900)

    def text(self) -> str:
        return self.document.toPlainText()


__all__ = ["ReportPreview"]
