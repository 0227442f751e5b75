"""Handing the open case over from the window: Case ▸ Export bundle… and Case ▸ Print report to PDF….

* Export bundle (Ctrl+Alt+X, :meth:`ExportController.export_bundle_to`): a small dialog
  (:class:`~viewer.gui.case_export.ExportBundleDialog`) asks for the ZIP and whether to include the
  evidence files and the secret bytes (masked by default; including them needs a confirmation).
  :func:`viewer.handover.bundle.export_bundle` runs in a worker — it appends the ``export`` audit event,
  *saves the case*, hashes the evidence and may copy gigabytes — with its steps in the status bar and a
  Cancel button; then the outcome (path, members, what is included, audit head, the signer's key) is shown.
  The bundle is signed with the examiner's key in the OS keyring, made there on first use
  (:func:`viewer.handover.signing.load_signing_key`, in the worker: the keyring's calls are bounded but
  may take seconds); without a keyring the export fails with one line saying so (the command line can
  sign with a passphrase-protected key file, or ``--no-sign``); ``sign=False`` writes an unsigned bundle.
* Print report (Ctrl+P, :meth:`ExportController.print_report_pdf`): recorded in the audit trail first
  (unsaved, like any edit), rendered and laid out in a worker, always masked
  (:func:`~viewer.gui.case_export.write_report_pdf`).

One export at a time. While one runs the case is held still (:meth:`Session.hold_case`): the case feature
disables its editing actions and refuses to close the case, autosave pauses — the worker reads (and, for
a bundle, saves) the same case object the window edits. Failures are one line, never a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from viewer.case.store import CaseFile
from viewer.evidence import EvidenceError
from viewer.gui.case_export import (
    PDF_FILTER,
    SECRETS_WARNING,
    ExportBundleDialog,
    default_pdf_path,
    protected_paths,
    write_report_pdf,
)
from viewer.gui.features.base import Feature, Host
from viewer.gui.features.case import CaseController
from viewer.gui.plain import message_box
from viewer.gui.report_preview import ReportPreview
from viewer.gui.task_worker import one_line
from viewer.gui.workers import status_job_widgets
from viewer.handover.bundle import BundleError, ExportCancelled
from viewer.handover.signing import SigningKeyError, load_signing_key
from viewer.tasks import TaskState

KNOWN_ERRORS = (BundleError, SigningKeyError, EvidenceError, OSError)


class ExportController(Feature):
    """Export bundle… and Print report to PDF… of the open case; their status-bar widgets."""

    def __init__(self, host: Host, cases: CaseController):
        super().__init__(host)
        self.job: str | None = None  # "bundle" / "pdf" while one runs
        self.result: Any = None  # the manifest (bundle) or the PDF path, None on failure
        self.message = ""
        self.dialog: ExportBundleDialog | None = None
        self._title = ""
        self._worker: Any = None
        self.action_export_bundle = host.add_action(cases.menu, "E&xport bundle…", self._ask_export_bundle,
                                                    "Ctrl+Alt+X",
                                                    "Write the case as a verifiable ZIP bundle for someone else")
        self.action_print_report = host.add_action(cases.menu, "&Print report to PDF…", self._ask_print_report,
                                                   QKeySequence.StandardKey.Print,
                                                   "The case report as a PDF (secret bytes masked)")
        self.action_preview = host.add_action(cases.menu, "Pre&view report…", self.preview_report, "Ctrl+Shift+P",
                                              "The report as it will be printed and bundled, before any export")
        self.preview: ReportPreview | None = None
        for act in (self.action_preview, self.action_export_bundle, self.action_print_report):
            cases.menu.removeAction(act)
        cases.add_case_actions([self.action_preview, self.action_export_bundle, self.action_print_report])
        self.label, self.busy, self.cancel_button = status_job_widgets(
            host.statusBar(), "case-export", "Cancel export", self.cancel)
        self.session.events.case_changed.connect(lambda _cf: self._update_actions())
        self.session.events.case_hold_changed.connect(lambda _job: self._update_actions())
        self._update_actions()

    # -- state -----------------------------------------------------------------------------------------
    def idle(self) -> bool:
        return self.job is None

    def _update_actions(self) -> None:
        enabled = self.session.case is not None and self.job is None
        self.action_export_bundle.setEnabled(enabled)
        self.action_print_report.setEnabled(enabled)
        self.action_preview.setEnabled(enabled)

    def _begin(self, job: str, text: str) -> None:
        """Mark the export running and hold the case still."""
        self.job = job
        self.result, self.message = None, ""
        self._title = text.rstrip("…")
        self.label.setText(text)
        self.busy.setRange(0, 0)
        for w in (self.label, self.busy, self.cancel_button):
            w.show()
        self.session.hold_case(job)

    def _end(self) -> None:
        self.job = None
        self._worker = None
        for w in (self.label, self.busy, self.cancel_button):
            w.hide()
        self.session.hold_case(None)

    def cancel(self) -> None:
        """Stop the running export at its next check: no bundle (or PDF) is written."""
        if self._worker is not None:
            self._worker.cancel()
            self.label.setText("cancelling…")

    def _cancelled(self) -> bool:
        return self._worker is not None and self._worker.is_cancelled

    def _on_step(self, step: str, done: int, total: int) -> None:
        if self.job is None or self._cancelled():
            return
        if total:
            self.busy.setRange(0, 1000)
            self.busy.setValue(int(1000 * min(done, total) / total))
            self.label.setText(f"{self._title}: {step} {100 * min(done, total) / total:.0f}%")
        else:
            self.busy.setRange(0, 0)
            self.label.setText(f"{self._title}: {step}…")

    def _refuse(self, title: str, text: str) -> bool:
        self.message = self.host.last_error = one_line(text)
        self.host.message(QMessageBox.Icon.Warning, title, self.message, "export-outcome")
        return False

    def _may_start(self, title: str, path: str | os.PathLike[str], overwrite: bool) -> tuple[CaseFile, Path] | None:
        """The open case and the output path when an export may start; else None, the refusal shown."""
        cf = self.session.case
        if cf is None:
            self._refuse(title, "No case is open")
            return None
        if self.job is not None:  # a status line, not a box: the actions are disabled meanwhile
            self.message = self.host.last_error = "An export is running: one at a time"
            self.status(self.message, 5000)
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
        if resolved in protected_paths(cf, tuple(self.session.evidence_overrides.values())):
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
        cf = self.session.case
        if cf is None or self.job is not None:
            self.status("Open a case first" if cf is None else "An export is running", 5000)
            return None
        dialog = ExportBundleDialog(self, cf, self.parent_widget)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _r: setattr(self, "dialog", None))
        self.dialog = dialog
        dialog.open()
        return dialog

    def confirm_include_secrets(self, parent: QWidget | None = None) -> bool:
        """Ask, defaulting to No, whether the bundle may carry live key material."""
        box = message_box(QMessageBox.Icon.Warning, "Include secret bytes?", SECRETS_WARNING,
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                          parent or self.parent_widget, name="export-secrets-confirm")
        box.setDefaultButton(QMessageBox.StandardButton.No)
        return box.exec() == QMessageBox.StandardButton.Yes

    def export_bundle_to(self, path: str | os.PathLike[str], *, include_evidence: bool = False,
                         include_secrets: bool = False, confirmed: bool = False, overwrite: bool = False,
                         sign: bool = True) -> bool:
        """Export the open case as the bundle ``path`` in a worker; False when no export started.

        ``include_secrets`` asks for a confirmation first unless ``confirmed`` (the dialog asked when the box
        was checked); refusing exports nothing. An existing ``path`` is replaced only with ``overwrite``;
        the case file, its recovery file and evidence never. ``sign``: with the examiner's keyring key (see
        the module docstring). Wait for :meth:`idle`; the outcome is in :attr:`result` (the manifest, None
        on failure) and :attr:`message`.
        """
        from viewer.handover.bundle import export_bundle

        start = self._may_start("Export bundle", path, overwrite)
        if start is None:
            return False
        cf, out = start
        if include_secrets and not confirmed and not self.confirm_include_secrets():
            self.message = "not exported: including the secret bytes was not confirmed"
            self.status(self.message, 5000)
            return False
        events_before = len(cf.case.audit)
        self._begin("bundle", "exporting the bundle…")
        self.status(f"Exporting {out.name}…", 5000)
        paths = dict(self.session.evidence_overrides)  # evidence extracted from a received bundle lives elsewhere

        signer_name = cf.author or cf.case.examiner

        def work(state: TaskState) -> dict[str, Any]:
            signer = load_signing_key(signer_name) if sign else None  # before anything is recorded or written
            return export_bundle(cf, out, include_evidence=include_evidence, include_secrets=include_secrets,
                                 evidence_paths=paths, state=state, signer=signer,
                                 unsigned_reason="exported from the window without a signature")

        failed = lambda text: self._on_failed(cf, events_before, "Export bundle", text)  # noqa: E731
        self._worker = self.run_task(work, what=f"cannot export {out.name}", known=KNOWN_ERRORS,
                                     cancelled_errors=(ExportCancelled,), step=self._on_step,
                                     done=lambda manifest: self._on_bundle_exported(cf, out, manifest),
                                     failed=failed, cancelled=lambda _v: failed("cancelled"))
        return True

    def _on_bundle_exported(self, cf: CaseFile, out: Path, manifest: dict[str, Any]) -> None:
        self._end()
        self.result = manifest
        head = manifest["audit"]["head"]
        lines = [f"Bundle written: {out}",
                 f"{len(manifest['members'])} members (and the manifest), each with its SHA-256.",
                 "Secret bytes: INCLUDED, unmasked — handle the bundle as key material." if manifest["secrets_included"]
                 else "Secret bytes: masked (not included).",
                 f"Evidence files: {'included' if manifest['evidence_included'] else 'not included'}.",
                 f"Audit head: event {head['seq']}, {head['hash']}"]
        sig = manifest.get("signature") or {}
        lines.append(f"Signed by {sig.get('signer')}, key fingerprint {sig.get('fingerprint')} (give the recipient "
                     "this fingerprint by another channel)." if sig.get("signed") else "NOT signed.")
        if cf is self.session.case:
            # export_bundle saved the case (and removed its recovery file) after appending its event; only
            # what was added to the trail since then is unsaved.
            if len(cf.case.audit) == manifest["audit"]["events"]:
                self.session.mark_saved()
                lines.append(f"The case was saved first, with the export in its audit trail: {cf.path}")
            else:
                self.session.mark_saved(dirty=True)
                lines.append("The case was saved first, with the export in its audit trail; changes made "
                             "since are not saved yet.")
        self.message = "\n".join(lines)
        self.status(f"bundle written: {out}", 10_000)
        icon = QMessageBox.Icon.Warning if manifest["secrets_included"] else QMessageBox.Icon.Information
        self.host.message(icon, "Export bundle", self.message, "export-outcome")

    def _on_failed(self, cf: CaseFile, events_before: int, title: str, text: str) -> None:
        cancelled = self._cancelled()
        self._end()
        if cf is self.session.case and len(cf.case.audit) != events_before:
            self.session.mark_dirty()  # the attempt is in the audit trail (saved or not: save again to be sure)
        if cancelled:  # the examiner's own request: said in the status bar, no warning box
            self.message = f"{title}: cancelled, nothing was written."
            self.status(self.message, 10_000)
            return
        self.message = self.host.last_error = one_line(text)
        self.host.message(QMessageBox.Icon.Warning, title, self.message, "export-outcome")

    # -- print the report ------------------------------------------------------------------------
    def _ask_print_report(self) -> None:
        cf = self.session.case
        if cf is None or self.job is not None:
            self.status("Open a case first" if cf is None else "An export is running", 5000)
            return
        path, _ = QFileDialog.getSaveFileName(self.parent_widget, "Print report to PDF", str(default_pdf_path(cf)),
                                              PDF_FILTER)
        if path:
            self.print_report_pdf(path if Path(path).suffix else path + ".pdf", overwrite=True)  # the dialog asked

    def print_report_pdf(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> bool:
        """The case report as a PDF at ``path``; False when it could not start.

        Masked only: secret bytes are shown as ``••`` and key ids stand in for keys; there is deliberately
        no unmasked variant (the way to hand key bytes over is a bundle with secrets, confirmed). The export
        is recorded in the audit trail first (unsaved, like any edit); the HTML is rendered, laid out and
        written in a worker (QTextDocument and QPdfWriter are not GUI objects: the layout of a report with a
        thousand findings takes seconds, which must not freeze the window). Wait for :meth:`idle`; the
        outcome is in :attr:`result` (the PDF's path, None on failure) and :attr:`message`.
        """
        from viewer.handover.bundle import render_case_report

        start = self._may_start("Print report", path, overwrite)
        if start is None:
            return False
        cf, out = start
        events_before = len(cf.case.audit)
        cf.record_export("report-pdf", out.name)
        self.session.mark_dirty()
        self._begin("pdf", "writing the report…")
        self.status(f"Rendering the report for {out.name}…", 5000)
        title = f"Case report: {cf.case.name}"
        paths = dict(self.session.evidence_overrides)  # evidence extracted from a received bundle lives elsewhere

        def work(state: TaskState) -> int:  # in the worker: reading the evidence, entropy, layout of hundreds of pages
            html = render_case_report(cf, include_secrets=False, evidence_paths=paths, state=state)
            return write_report_pdf(html, out, title)

        failed = lambda text: self._on_failed(cf, events_before, "Print report", text)  # noqa: E731
        self._worker = self.run_task(work, what=f"cannot write the report {out.name}", known=KNOWN_ERRORS,
                                     cancelled_errors=(ExportCancelled,), step=self._on_step,
                                     done=lambda pages: self._on_report_written(out, pages), failed=failed,
                                     cancelled=lambda _v: failed("cancelled"))
        return True

    def preview_report(self) -> bool:
        """Render the masked report in a worker (the case held still meanwhile) and show it in a
        :class:`ReportPreview`; False when it could not start. No file, no audit event."""
        from viewer.handover.bundle import render_case_report

        cf = self.session.case
        if cf is None or self.job is not None:
            self.status("Open a case first" if cf is None else "An export is running", 5000)
            return False
        self._begin("preview", "rendering the report…")
        paths = dict(self.session.evidence_overrides)

        def work(state: TaskState) -> str:
            return render_case_report(cf, include_secrets=False, evidence_paths=paths, state=state)

        def done(html: str) -> None:
            self._end()
            self.preview = ReportPreview(html, cf.case.name, self._ask_print_report, self._ask_export_bundle,
                                         self.parent_widget)
            self.preview.show()

        def failed(text: str) -> None:
            self._end()
            self._refuse("Preview report", text)

        self._worker = self.run_task(work, what="cannot render the report", known=KNOWN_ERRORS,
                                     cancelled_errors=(ExportCancelled,), step=self._on_step, done=done,
                                     failed=failed, cancelled=lambda _v: failed("cancelled"))
        return True

    def _on_report_written(self, out: Path, pages: int) -> None:
        self._end()
        self.result = out
        self.message = (f"Report written: {out} ({pages} page{'s' if pages != 1 else ''}, A4).\n"
                        "Secret bytes are masked; key ids stand in for keys.\n"
                        "The export is in the case's audit trail (save the case to keep it).")
        self.status(f"report written: {out}", 10_000)
        self.host.message(QMessageBox.Icon.Information, "Print report", self.message, "export-outcome")


__all__ = ["ExportController"]
