"""What handing the open case over needs besides the job: the Export bundle dialog, the default paths,
the files an export must never replace, and the report laid out as an A4 PDF.

The feature (the Case menu's Export bundle… and Print report to PDF…, the worker, holding the case
still) is :class:`viewer.gui.features.export.ExportController`.

The PDF is always the *masked* report — there is no option to print secret bytes: paper and PDFs travel
further than bundles, and a bundle with secrets is the one deliberate way to hand key bytes over. It is
laid out with QTextDocument and written with QPdfWriter: A4, 15 mm margins.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import tempfile
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

from PySide6.QtCore import QMarginsF, QSizeF, QUrl
from PySide6.QtGui import (
    QFont,
    QImage,
    QPageLayout,
    QPageSize,
    QPdfWriter,
    QTextCursor,
    QTextDocument,
    QTextImageFormat,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from viewer.case.store import CaseFile, recovery_path
from viewer.gui.plain import PlainLabel, message_box, rich_label

BUNDLE_FILTER = "Case bundles (*.zip);;All files (*)"
PDF_FILTER = "PDF documents (*.pdf);;All files (*)"
PDF_MARGIN_MM = 15.0
PDF_RESOLUTION = 300  # dpi of the PDF's coordinate system (text and images stay vector / full size)
# Document pixels per PDF point. The report's CSS is made for screens (14 px text); at 96 dpi (4/3 px per
# point) an A4 page is 680 px wide and its six-column tables break words inside cells. Laying the page
# out 1.6 px per point wide (816 px) prints that text at about 8.8 pt, close to what the report's own
# print stylesheet asks a browser for, and keeps hashes and times on one or two lines.
LAYOUT_PX_PER_PT = 1.6
SECRETS_WARNING = ("The bundle will then contain live key material: the real bytes of every secret finding "
                   "(up to 4 KiB each) in findings.json and report.html, unmasked. Anyone who gets the bundle "
                   "gets the keys.\n\nInclude the secret bytes?")


# -- paths ---------------------------------------------------------------------------------------------
def _safe_stem(name: str, fallback: str) -> str:
    """A file-name stem from a case name (no separators, no leading dots)."""
    return re.sub(r"[^\w.-]+", "-", name).strip("-.") or fallback


def _free(path: Path) -> Path:
    """``path``, or ``x-2.zip``, ``x-3.zip``, … when it exists: a suggestion never replaces a file."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def default_bundle_path(cf: CaseFile) -> Path:
    """``<case name>-bundle.zip`` beside the case file (numbered when taken)."""
    return _free(cf.path.parent / f"{_safe_stem(cf.case.name, cf.path.stem)}-bundle.zip")


def default_pdf_path(cf: CaseFile) -> Path:
    """``<case name>-report.pdf`` beside the case file (numbered when taken)."""
    return _free(cf.path.parent / f"{_safe_stem(cf.case.name, cf.path.stem)}-report.pdf")


def protected_paths(cf: CaseFile, extra: list[Path] | tuple[Path, ...] = ()) -> set[Path]:
    """Files an export must never replace: the case file, its recovery file and every evidence file.

    ``export_bundle`` renames its ZIP over the target, so a mistyped path would otherwise destroy the case.
    """
    out = {cf.path, recovery_path(cf.path), *extra}
    for ref in cf.case.evidence:
        out.add(ref.resolve(cf.case_dir))
    return {p.resolve() for p in out}


# -- the report on paper -------------------------------------------------------------------------------
def _data_url_image(url: str) -> QImage | None:
    """The image of a ``data:`` URL (base64 or percent-encoded), None when it is not one."""
    head, sep, payload = url.partition(",")
    if not sep or not head.lower().startswith("data:"):
        return None
    try:
        data = base64.b64decode(payload, validate=False) if head.lower().endswith(";base64") \
            else unquote_to_bytes(payload)
    except (binascii.Error, ValueError):
        return None
    image = QImage.fromData(data)
    return None if image.isNull() else image


def _no_ligatures(font: QFont) -> QFont:
    """Hashes and ids must copy out of the PDF as typed: "ff" must not become the ligature "ﬀ"."""
    try:
        font.setFeature(QFont.Tag("liga"), 0)
        font.setFeature(QFont.Tag("clig"), 0)
    except AttributeError:  # Qt < 6.7: no QFont.Tag; shaping off does it too
        font.setStyleStrategy(QFont.StyleStrategy.PreferNoShaping)
    return font


def report_document(html: str, page_size: QSizeF) -> QTextDocument:
    """The report laid out on pages of ``page_size`` (document pixels), ready for :meth:`QTextDocument.print_`.

    Images given as ``data:`` URLs (the entropy plot is an embedded PNG) are decoded and registered as
    resources, so they render whatever the Qt version's own data-URL support; an image wider than its
    block's room on the page is scaled down to fit (QTextDocument knows no ``max-width``). Images inside
    table cells are not resized (the report has none).
    """
    doc = QTextDocument()
    doc.setDefaultFont(_no_ligatures(doc.defaultFont()))
    doc.setHtml(html)
    doc.setPageSize(page_size)
    page_room = page_size.width() - 2 * doc.documentMargin()
    images: list[tuple[int, int, QTextImageFormat, float]] = []
    block = doc.begin()
    while block.isValid():
        bf = block.blockFormat()  # the body's CSS margin arrives as block margins
        room = (page_room - bf.leftMargin() - bf.rightMargin() - max(0.0, bf.textIndent())
                - bf.indent() * doc.indentWidth())
        it = block.begin()
        while not it.atEnd():
            frag = it.fragment()
            fmt = frag.charFormat()
            if fmt.isImageFormat():
                images.append((frag.position(), frag.length(), fmt.toImageFormat(), room))
            it += 1
        block = block.next()
    for position, length, fmt, room in images:
        image = _data_url_image(fmt.name())
        if image is not None:
            doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(fmt.name()), image)
        width = fmt.width() or (image.width() if image is not None else 0)
        height = fmt.height() or (image.height() if image is not None else 0)
        if width > room > 0:
            fmt.setWidth(room)
            fmt.setHeight(height * room / width)
            cursor = QTextCursor(doc)
            cursor.setPosition(position)
            cursor.setPosition(position + length, QTextCursor.MoveMode.KeepAnchor)
            cursor.setCharFormat(fmt)
    return doc


def write_report_pdf(html: str, path: str | os.PathLike[str], title: str = "Case report") -> int:
    """Write ``html`` as an A4 PDF to ``path`` (through a temporary file renamed into place, so a failure
    leaves no partial PDF); returns the number of pages. Raises OSError when it cannot be written."""
    from viewer import __version__

    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        writer = QPdfWriter(tmp)
        writer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4), QPageLayout.Orientation.Portrait,
                                         QMarginsF(PDF_MARGIN_MM, PDF_MARGIN_MM, PDF_MARGIN_MM, PDF_MARGIN_MM),
                                         QPageLayout.Unit.Millimeter))
        writer.setResolution(PDF_RESOLUTION)
        writer.setTitle(title)
        writer.setCreator(f"Evidence Viewer {__version__}")
        paint = writer.pageLayout().paintRect(QPageLayout.Unit.Point)
        doc = report_document(html, QSizeF(paint.width() * LAYOUT_PX_PER_PT, paint.height() * LAYOUT_PX_PER_PT))
        pages = doc.pageCount()
        doc.print_(writer)
        del writer  # the PDF is finished when the writer goes
        with open(tmp, "rb") as fh:
            if fh.read(5) != b"%PDF-":
                raise OSError(f"{path}: Qt could not write the PDF")
        os.replace(tmp, path)
        tmp = ""
        return pages
    finally:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


# -- the dialog ----------------------------------------------------------------------------------------
class ExportBundleDialog(QDialog):
    """Where to write the bundle and what goes in it; secrets need a confirmation when checked."""

    def __init__(self, exports: Any, cf: CaseFile, parent: QWidget | None = None):
        """``exports``: the :class:`~viewer.gui.features.export.ExportController` that runs the export."""
        super().__init__(parent)
        self._exports = exports
        self._replace_ok: Path | None = None  # the file dialog already asked before replacing this one
        self.setObjectName("export-bundle-dialog")
        self.setWindowTitle("Export bundle")
        intro = rich_label(f"A ZIP that carries the case <b>{escape(cf.case.name)}</b> to someone else: the "
                       "encrypted case file, a self-contained report.html, the findings as JSON, CSV and "
                       "SARIF, the audit trail, and a manifest with the SHA-256 of every member. The case "
                       "is saved first, with the export in its audit trail.")
        intro.setWordWrap(True)
        self.path_edit = QLineEdit(str(default_bundle_path(cf)))
        self.path_edit.setObjectName("export-path")
        self.path_edit.setMinimumWidth(440)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.browse_button)
        self.evidence_check = QCheckBox("Include the evidence files")
        self.evidence_check.setObjectName("export-include-evidence")
        self.evidence_check.setToolTip("Copy the dumps into the bundle (checked against their SHA-256)")
        self.secrets_check = QCheckBox("Include secret bytes (unmasked)")
        self.secrets_check.setObjectName("export-include-secrets")
        self.secrets_check.setToolTip("Off: every byte of a secret finding is masked (••); key ids stand in "
                                      "for keys")
        self.secrets_check.toggled.connect(self._on_secrets_toggled)
        note = PlainLabel("Secret bytes are masked unless you include them; the manifest and the audit trail "
                      "record the choice.")
        note.setObjectName("export-note")
        note.setWordWrap(True)
        note.setEnabled(False)  # drawn in the disabled (grey) text colour
        form = QFormLayout()
        form.addRow("Bundle:", row)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.export_button.setObjectName("export-button")
        self.export_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addLayout(form)
        lay.addWidget(self.evidence_check)
        lay.addWidget(self.secrets_check)
        lay.addWidget(note)
        lay.addWidget(self.buttons)

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export bundle", self.path_edit.text(), BUNDLE_FILTER)
        if path:
            self._replace_ok = Path(path)
            self.path_edit.setText(path if Path(path).suffix else path + ".zip")

    def _on_secrets_toggled(self, checked: bool) -> None:
        if checked and not self._exports.confirm_include_secrets(self):
            self.secrets_check.blockSignals(True)
            self.secrets_check.setChecked(False)
            self.secrets_check.blockSignals(False)

    def accept(self) -> None:
        """Start the export; the dialog stays open when it could not start (the reason is shown)."""
        text = self.path_edit.text().strip()
        if not text:
            self.path_edit.setFocus()
            return
        path = Path(text).expanduser()
        if not path.suffix:
            path = path.with_suffix(".zip")
        if path.exists() and path != self._replace_ok:
            box = message_box(QMessageBox.Icon.Question, "Export bundle", f"{path.name} exists. Replace it?",
                              QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self,
                              name="export-replace-confirm")
            box.setDefaultButton(QMessageBox.StandardButton.No)
            if box.exec() != QMessageBox.StandardButton.Yes:
                return
        overwrite = path.exists()
        if self._exports.export_bundle_to(path, include_evidence=self.evidence_check.isChecked(),
                                         include_secrets=self.secrets_check.isChecked(), confirmed=True,
                                         overwrite=overwrite):
            super().accept()


__all__ = ["BUNDLE_FILTER", "PDF_FILTER", "SECRETS_WARNING", "ExportBundleDialog", "default_bundle_path",
           "default_pdf_path", "protected_paths", "report_document", "write_report_pdf"]
