"""Handing the open case over, from the window (mixed into MainWindow): a bundle, and the report as a PDF.

* Case ▸ Export bundle… (Ctrl+Alt+X, :meth:`CaseExportMixin.export_bundle_to`): a small dialog
  (:class:`ExportBundleDialog`) asks for the ZIP (default ``<case name>-bundle.zip`` beside the case file)
  and whether to include the evidence files and the secret bytes. Secrets are radioactive: masked by
  default, and checking "Include secret bytes" asks for an explicit confirmation first (the bundle would
  carry live key material). :func:`viewer.case.bundle.export_bundle` runs in a worker — it appends the
  ``export`` audit event, *saves the case* (removing its recovery file), hashes the evidence and may copy
  gigabytes — with a busy indicator; then the window shows the path, the member count, what is included
  and the audit head, and reflects the save (no unsaved changes, the audit trail view refreshed).
* Case ▸ Print report to PDF… (Ctrl+P, :meth:`CaseExportMixin.print_report_pdf`): the export is recorded
  in the audit trail first (``record_export("report-pdf", <file name>)``, unsaved like any edit, so the
  report's audit head covers it), the report HTML is rendered in a worker
  (:func:`viewer.case.bundle.render_case_report` reads every evidence file for its excerpts and entropy),
  and it is laid out with QTextDocument and written with QPdfWriter on the GUI thread (Qt's text layout
  and painting belong there): A4, 15 mm margins. The PDF is always the *masked* report — there is no
  option to print secret bytes: paper and PDFs travel further than bundles, and a bundle with secrets is
  the one deliberate way to hand key bytes over.

One export at a time. While one runs the case is held still: the Review dock, New/Open/Save/Close case,
Add evidence and Key slots are disabled, closing the case is refused and autosave pauses — the worker
reads (and, for a bundle, saves) the same case object the window edits, and a bundle's case file, report
and findings must describe the same state. Failures (BundleError, OSError, evidence missing or changed)
are one line in a message, never a traceback.
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

from PySide6.QtCore import QMarginsF, QSizeF, Qt, QUrl
from PySide6.QtGui import (
    QFont,
    QImage,
    QKeySequence,
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
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from viewer.case.store import CaseFile, recovery_path
from viewer.gui.workers import StepProgress, one_line, status_job_widgets

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

    def __init__(self, window: Any, cf: CaseFile, parent: QWidget | None = None):
        super().__init__(parent)
        self._window = window
        self._replace_ok: Path | None = None  # the file dialog already asked before replacing this one
        self.setObjectName("export-bundle-dialog")
        self.setWindowTitle("Export bundle")
        intro = QLabel(f"A ZIP that carries the case <b>{escape(cf.case.name)}</b> to someone else: the "
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
        note = QLabel("Secret bytes are masked unless you include them; the manifest and the audit trail "
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
        if checked and not self._window.confirm_include_secrets(self):
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
            box = QMessageBox(QMessageBox.Icon.Question, "Export bundle", f"{path.name} exists. Replace it?",
                              QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
            box.setObjectName("export-replace-confirm")
            box.setDefaultButton(QMessageBox.StandardButton.No)
            if box.exec() != QMessageBox.StandardButton.Yes:
                return
        overwrite = path.exists()
        if self._window.export_bundle_to(path, include_evidence=self.evidence_check.isChecked(),
                                         include_secrets=self.secrets_check.isChecked(), confirmed=True,
                                         overwrite=overwrite):
            super().accept()


# -- the window part -----------------------------------------------------------------------------------
class CaseExportMixin:
    """Export bundle… and Print report to PDF…; MainWindow calls :meth:`_build_case_export` after
    :meth:`_build_case` and :meth:`_build_handover`. It must come before CaseMixin in MainWindow's bases:
    it extends :meth:`_update_case_ui` and :meth:`close_case` to hold the case still during an export."""

    case_export_job: str | None  # "bundle" / "pdf" while one runs

    def _build_case_export(self) -> None:
        self.case_export_job = None
        self.case_export_result: Any = None  # the manifest (bundle) or the PDF path, None on failure
        self.case_export_message = ""
        self.export_dialog: ExportBundleDialog | None = None

        menu = self.case_menu
        anchor = self._examiner_separator()
        self.action_export_bundle = self._action(menu, "E&xport bundle…", self._ask_export_bundle,
                                                 QKeySequence("Ctrl+Alt+X"),
                                                 "Write the case as a verifiable ZIP bundle for someone else")
        self.action_print_report = self._action(menu, "&Print report to PDF…", self._ask_print_report,
                                                QKeySequence(QKeySequence.StandardKey.Print),
                                                "The case report as a PDF (secret bytes masked)")
        for act in (self.action_export_bundle, self.action_print_report):  # before Examiner name…
            menu.removeAction(act)
            menu.insertAction(anchor, act)
        menu.insertSeparator(self.action_export_bundle)

        self.case_export_label, self.case_export_busy, self.case_export_cancel_button = status_job_widgets(
            self.statusBar(), "case-export", "Cancel export", self.cancel_case_export)
        self._case_export_progress: StepProgress | None = None
        self._update_case_ui()

    def _examiner_separator(self) -> Any:
        """The separator above Case ▸ Examiner name… (the exports go just above it)."""
        actions = self.case_menu.actions()
        i = actions.index(self.action_examiner)
        return actions[i - 1] if i > 0 and actions[i - 1].isSeparator() else self.action_examiner

    # -- holding the case still ------------------------------------------------------------------
    def _update_case_ui(self) -> None:
        super()._update_case_ui()  # type: ignore[misc]
        if not hasattr(self, "action_print_report"):
            return  # CaseMixin's own construction, before ours
        busy = self.case_export_job is not None
        has_case = self.case_file is not None
        self.action_export_bundle.setEnabled(has_case and not busy)
        self.action_print_report.setEnabled(has_case and not busy)
        for act in (self.action_new_case, self.action_open_case):
            act.setEnabled(not busy)
        if busy:
            for act in (self.action_save_case, self.action_save_case_as, self.action_close_case,
                        self.action_add_evidence, self.action_key_slots):
                act.setEnabled(False)
        self.review.setEnabled(not busy)
        self._update_relocate_button()

    def close_case(self, save: bool | None = None) -> bool:
        """Refused while an export reads the case (opening another case or a bundle closes this one)."""
        if self.case_export_job is not None and self.case_file is not None:
            self.last_error = "an export of the case is running: wait for it to finish"
            self.statusBar().showMessage(self.last_error, 5000)
            return False
        return super().close_case(save)  # type: ignore[misc]

    def _begin_job(self, job: str, text: str) -> StepProgress:
        """Mark the export running; the returned progress carries its steps here and its cancel there."""
        self.case_export_job = job
        self.case_export_result, self.case_export_message = None, ""
        self.autosave_timer.stop()  # autosave would serialise the case while the worker uses it
        self._case_export_title = text.rstrip("…")
        self.case_export_label.setText(text)
        self.case_export_busy.setRange(0, 0)
        for w in (self.case_export_label, self.case_export_busy, self.case_export_cancel_button):
            w.show()
        progress = StepProgress()
        progress.sig_step.connect(self._on_case_export_step)
        self._case_export_progress = progress
        self._update_case_ui()
        return progress

    def _end_job(self) -> None:
        self.case_export_job = None
        self._case_export_progress = None
        for w in (self.case_export_label, self.case_export_busy, self.case_export_cancel_button):
            w.hide()
        self.autosave_timer.start()
        self._update_case_ui()

    def cancel_case_export(self) -> None:
        """Stop the running export at its next check: no bundle (or PDF) is written."""
        if self._case_export_progress is not None:
            self._case_export_progress.cancel()
            self.case_export_label.setText("cancelling…")

    def _export_cancelled(self) -> bool:
        return self._case_export_progress is not None and self._case_export_progress.state.is_cancelled

    def _on_case_export_step(self, step: str, done: int, total: int) -> None:
        if self.case_export_job is None or self._export_cancelled():
            return
        if total:
            self.case_export_busy.setRange(0, 1000)
            self.case_export_busy.setValue(int(1000 * min(done, total) / total))
            self.case_export_label.setText(f"{self._case_export_title}: {step} "
                                           f"{100 * min(done, total) / total:.0f}%")
        else:
            self.case_export_busy.setRange(0, 0)
            self.case_export_label.setText(f"{self._case_export_title}: {step}…")

    def case_export_idle(self) -> bool:
        return self.case_export_job is None

    def _refuse(self, title: str, text: str) -> bool:
        self.case_export_message = self.last_error = one_line(text)
        self._message(QMessageBox.Icon.Warning, title, self.case_export_message, "export-outcome")
        return False

    def _busy_refusal(self) -> bool:
        """A status line, not a box: the actions are disabled meanwhile, so only a program gets here."""
        self.case_export_message = self.last_error = "An export is running: one at a time"
        self.statusBar().showMessage(self.case_export_message, 5000)
        return False

    def _may_start(self, title: str, path: str | os.PathLike[str], overwrite: bool) -> tuple[CaseFile, Path] | None:
        """The open case and the output path when an export may start; else None, the refusal shown."""
        cf = self.case_file
        if cf is None:
            self._refuse(title, "No case is open")
            return None
        if self.case_export_job is not None:
            self._busy_refusal()
            return None
        out = Path(path)
        why = self._check_target(cf, out, overwrite)
        if why is not None:
            self._refuse(title, why)
            return None
        return cf, out

    def _check_target(self, cf: CaseFile, out: Path, overwrite: bool) -> str | None:
        """Why ``out`` cannot be written to, or None."""
        resolved = out.resolve()
        if resolved in protected_paths(cf, tuple(self.evidence_overrides.values())):
            return f"{out}: that is the case file, its recovery file or evidence; choose another file"
        if out.is_dir():
            return f"{out}: is a folder"
        if not out.parent.is_dir():
            return f"{out.parent}: no such folder"
        if out.exists() and not overwrite:
            return f"{out}: exists; choose another file"
        return None

    # -- export a bundle -------------------------------------------------------------------------
    def _ask_export_bundle(self) -> ExportBundleDialog | None:
        """Open the export dialog (window-modal, not blocking); returns it, None without a case."""
        cf = self.case_file
        if cf is None or self.case_export_job is not None:
            self.statusBar().showMessage("Open a case first" if cf is None else "An export is running", 5000)
            return None
        dialog = ExportBundleDialog(self, cf, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _r: setattr(self, "export_dialog", None))
        self.export_dialog = dialog
        dialog.open()
        return dialog

    def confirm_include_secrets(self, parent: QWidget | None = None) -> bool:
        """Ask, defaulting to No, whether the bundle may carry live key material."""
        box = QMessageBox(QMessageBox.Icon.Warning, "Include secret bytes?", SECRETS_WARNING,
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, parent or self)
        box.setObjectName("export-secrets-confirm")
        box.setDefaultButton(QMessageBox.StandardButton.No)
        return box.exec() == QMessageBox.StandardButton.Yes

    def export_bundle_to(self, path: str | os.PathLike[str], *, include_evidence: bool = False,
                         include_secrets: bool = False, confirmed: bool = False, overwrite: bool = False) -> bool:
        """Export the open case as the bundle ``path`` in a worker; False when no export started.

        ``include_secrets`` asks for a confirmation first unless ``confirmed`` (the dialog asked when the box
        was checked); refusing exports nothing. An existing ``path`` is replaced only with ``overwrite``;
        the case file, its recovery file and evidence never. Wait for :meth:`case_export_idle`; the outcome
        is in :attr:`case_export_result` (the manifest, None on failure) and :attr:`case_export_message`.
        """
        from viewer.handover.bundle import export_bundle

        start = self._may_start("Export bundle", path, overwrite)
        if start is None:
            return False
        cf, out = start
        if include_secrets and not confirmed and not self.confirm_include_secrets(self):
            self.case_export_message = "not exported: including the secret bytes was not confirmed"
            self.statusBar().showMessage(self.case_export_message, 5000)
            return False
        events_before = len(cf.case.audit)
        progress = self._begin_job("bundle", "exporting the bundle…")
        self.statusBar().showMessage(f"Exporting {out.name}…", 5000)
        paths = dict(self.evidence_overrides)  # evidence extracted from a received bundle lives elsewhere
        self._run(lambda: export_bundle(cf, out, include_evidence=include_evidence, include_secrets=include_secrets,
                                        evidence_paths=paths, state=progress.state),
                  f"cannot export {out.name}",
                  lambda manifest: self._on_bundle_exported(cf, out, manifest),
                  lambda text: self._on_export_failed(cf, events_before, "Export bundle", text))
        return True

    def _on_bundle_exported(self, cf: CaseFile, out: Path, manifest: dict[str, Any]) -> None:
        self._end_job()
        self.case_export_result = manifest
        head = manifest["audit"]["head"]
        lines = [f"Bundle written: {out}",
                 f"{len(manifest['members'])} members (and the manifest), each with its SHA-256.",
                 "Secret bytes: INCLUDED, unmasked — handle the bundle as key material." if manifest["secrets_included"]
                 else "Secret bytes: masked (not included).",
                 f"Evidence files: {'included' if manifest['evidence_included'] else 'not included'}.",
                 f"Audit head: event {head['seq']}, {head['hash']}"]
        if cf is self.case_file:
            # export_bundle saved the case (and removed its recovery file) after appending its event; only
            # what was added to the trail since then is unsaved.
            if len(cf.case.audit) == manifest["audit"]["events"]:
                self.case_dirty = False
                lines.append(f"The case was saved first, with the export in its audit trail: {cf.path}")
            else:
                self.case_dirty = True
                lines.append("The case was saved first, with the export in its audit trail; changes made "
                             "since are not saved yet.")
            self._refresh_case_views()
        self.case_export_message = "\n".join(lines)
        self.statusBar().showMessage(f"bundle written: {out}", 10_000)
        icon = QMessageBox.Icon.Warning if manifest["secrets_included"] else QMessageBox.Icon.Information
        self._message(icon, "Export bundle", self.case_export_message, "export-outcome")

    def _on_export_failed(self, cf: CaseFile, events_before: int, title: str, text: str) -> None:
        cancelled = self._export_cancelled()
        self._end_job()
        if cf is self.case_file and len(cf.case.audit) != events_before:
            self._case_changed()  # the attempt is in the audit trail (saved or not: save again to be sure)
        if cancelled:  # the examiner's own request: said in the status bar, no warning box
            self.case_export_message = f"{title}: cancelled, nothing was written."
            self.statusBar().showMessage(self.case_export_message, 10_000)
            return
        self.case_export_message = self.last_error = one_line(text)
        self._message(QMessageBox.Icon.Warning, title, self.case_export_message, "export-outcome")

    # -- print the report ------------------------------------------------------------------------
    def _ask_print_report(self) -> None:
        cf = self.case_file
        if cf is None or self.case_export_job is not None:
            self.statusBar().showMessage("Open a case first" if cf is None else "An export is running", 5000)
            return
        path, _ = QFileDialog.getSaveFileName(self, "Print report to PDF", str(default_pdf_path(cf)), PDF_FILTER)
        if path:
            self.print_report_pdf(path if Path(path).suffix else path + ".pdf", overwrite=True)  # the dialog asked

    def print_report_pdf(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> bool:
        """The case report as a PDF at ``path``; False when it could not start.

        Masked only: secret bytes are shown as ``••`` and key ids stand in for keys; there is deliberately
        no unmasked variant (the way to hand key bytes over is a bundle with secrets, confirmed). The export
        is recorded in the audit trail first (unsaved, like any edit); the HTML is rendered, laid out and
        written in a worker (QTextDocument and QPdfWriter are not GUI objects: the layout of a report with a
        thousand findings takes seconds, which must not freeze the window). Wait for :meth:`case_export_idle`; the outcome is in
        :attr:`case_export_result` (the PDF's path, None on failure) and :attr:`case_export_message`.
        """
        from viewer.handover.bundle import render_case_report

        start = self._may_start("Print report", path, overwrite)
        if start is None:
            return False
        cf, out = start
        events_before = len(cf.case.audit)
        cf.record_export("report-pdf", out.name)
        self._case_changed()
        progress = self._begin_job("pdf", "writing the report…")
        self.statusBar().showMessage(f"Rendering the report for {out.name}…", 5000)
        title = f"Case report: {cf.case.name}"

        paths = dict(self.evidence_overrides)  # evidence extracted from a received bundle lives elsewhere

        def work() -> int:  # in the worker: reading the evidence, entropy, layout of hundreds of pages
            html = render_case_report(cf, include_secrets=False, evidence_paths=paths, state=progress.state)
            return write_report_pdf(html, out, title)

        self._run(work, f"cannot write the report {out.name}", lambda pages: self._on_report_written(out, pages),
                  lambda text: self._on_export_failed(cf, events_before, "Print report", text))
        return True

    def _on_report_written(self, out: Path, pages: int) -> None:
        self._end_job()
        self.case_export_result = out
        self.case_export_message = (f"Report written: {out} ({pages} page{'s' if pages != 1 else ''}, A4).\n"
                                    "Secret bytes are masked; key ids stand in for keys.\n"
                                    "The export is in the case's audit trail (save the case to keep it).")
        self.statusBar().showMessage(f"report written: {out}", 10_000)
        self._message(QMessageBox.Icon.Information, "Print report", self.case_export_message, "export-outcome")


__all__ = ["CaseExportMixin", "ExportBundleDialog", "default_bundle_path", "default_pdf_path", "protected_paths",
           "report_document", "write_report_pdf"]
