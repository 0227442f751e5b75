"""Handing a case over, in the window: open a received bundle (File ▸ Open bundle…), redact a dump
(Scan ▸ Redact to…).

* Open bundle (Ctrl+Shift+O, :meth:`HandoverController.open_bundle`): the ZIP is verified in a worker
  (:func:`viewer.handover.bundle.verify_bundle`, against the examiner's trusted keys,
  ``$XDG_CONFIG_HOME/evidence-viewer/trusted-keys``); any problem (one line each) is shown and nothing is
  extracted or opened. Then the signer is shown — name, fingerprint, trusted or not — and, for an unsigned
  bundle or one signed by a key not trusted, the window asks before going on (Cancel by default). Then
  the bundle is extracted with every member checked and re-hashed against what was verified, in a
  worker — the core's :func:`viewer.handover.extract.extract_bundle`, the same as ``evidence-viewer
  extract`` — and the case is opened through the case feature (keyring, else the passphrase dialog),
  with the extracted evidence where the case's paths do not lead.
* Redact to (Ctrl+Shift+D, :meth:`HandoverController.redact_current`): a redacted copy of the current
  dump (:func:`viewer.handover.redact.redact_file`) written in a worker; progress (the scan in bytes,
  then each later step by name) beside a Cancel redaction button; a cancel leaves nothing behind. When
  the dump is evidence of the open case, the case's selection (its findings, the examiner's confirmations
  and false positives) is made on the GUI thread and handed to the worker, and the finished redaction is
  added to the case's audit trail (unsaved, like any edit).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox

from viewer.evidence import EvidenceError
from viewer.gui.bundle_forms import OpenBundleDialog
from viewer.gui.features.base import Feature, Host
from viewer.gui.features.case import CaseController
from viewer.gui.features.scan import ScanController
from viewer.gui.plain import message_box
from viewer.gui.task_worker import one_line
from viewer.gui.workers import status_job_widgets
from viewer.handover.bundle import BundleError, VerifyResult, verify_bundle
from viewer.handover.extract import BundleNotVerified, ExtractedBundle, default_target, extract_bundle
from viewer.handover.redact import RedactCancelled, RedactError
from viewer.handover.redact_case import case_selection, redaction_facts
from viewer.handover.signing import SignatureCheck, default_trusted_keys_path, load_trusted_keys
from viewer.scan.finding import Confidence
from viewer.tasks import TaskState

KNOWN_ERRORS = (BundleError, RedactError, EvidenceError, OSError)


def verify_bundle_job(state: TaskState, bundle: Path) -> VerifyResult:
    """The verification of ``bundle`` against the examiner's trusted keys (a line of that file that is
    not a fingerprint is skipped; an unreadable file trusts no one)."""
    try:
        trusted = load_trusted_keys().names
    except (OSError, ValueError):
        trusted = {}
    return verify_bundle(bundle, state, trusted)


def extract_bundle_job(state: TaskState, bundle: Path, target: Path,
                       verified: VerifyResult) -> ExtractedBundle | VerifyResult:
    """The extracted bundle (every byte checked against ``verified``); or, when it no longer verifies,
    the verification (its problems are shown)."""
    try:
        return extract_bundle(bundle, target, state, verified=verified)
    except BundleNotVerified as exc:
        return exc.result


def signer_text(check: SignatureCheck) -> str:
    """The signer as the window says it, a few lines: who, which key, trusted or not, what that means."""
    if check.status == "unsigned":
        return ("This bundle is NOT signed: nothing shows who made it. Its hashes only show that it is "
                "complete as its manifest describes it; anyone could have written both."
                + (f"\nThe manifest says: {check.reason}." if check.reason else ""))
    if check.status == "invalid":
        return f"The signature is INVALID: {check.reason}."
    lines = [f"Signed by: {check.signer or '(no name)'}", f"Key fingerprint: {check.fingerprint}"]
    if check.trusted:
        lines.append("Trusted: yes" + (f", as {check.trusted_name}" if check.trusted_name else "") + ".")
    else:
        lines.append("Trusted: NO — this key is not in your trusted keys. Anyone can sign with a name of their "
                     "choosing: trust the key only if you got this fingerprint from the signer by another way "
                     f"(to trust it, add it to {default_trusted_keys_path()}).")
    return "\n".join(lines)


class HandoverController(Feature):
    """Open bundle… and Redact to…, with one status-bar label and bar for both (Cancel for the redaction)."""

    def __init__(self, host: Host, cases: CaseController, scans: ScanController):
        super().__init__(host)
        self.cases, self.scans = cases, scans
        self.bundle_busy = False
        self.bundle_problems: list[str] = []
        self.bundle_outcome = ""  # "opened", "problems", "failed", "not opened"
        self.bundle_signature: SignatureCheck | None = None  # the last verified bundle's signature
        self.signer_box: QMessageBox | None = None  # the question before opening an unsigned/untrusted bundle
        self.redact_busy = False
        self.redaction_result: Any = None
        self.redaction_message = ""
        self._redaction_case: tuple[Any, str] | None = None  # (case file, evidence sha256) of a running redaction
        self._redact_worker: Any = None

        file_menu = host.menu("file")
        self.action_open_bundle = host.add_action(file_menu, "Open &bundle…", self._ask_open_bundle, "Ctrl+Shift+O",
                                                  "Verify a case bundle (ZIP), extract its case and open it")
        file_menu.removeAction(self.action_open_bundle)  # after Open…, before Open Recent
        file_menu.insertAction(host.menu("recent").menuAction(), self.action_open_bundle)
        scan_menu = scans.menu
        scan_menu.addSeparator()
        self.action_redact = host.add_action(scan_menu, "&Redact to…", self._ask_redact, "Ctrl+Shift+D",
                                             "Write a copy of the current dump with every key found overwritten")
        self.label, self.busy, self.cancel_button = status_job_widgets(
            host.statusBar(), "handover", "Cancel redaction", self.cancel_redaction)

    # -- shared ----------------------------------------------------------------------------------
    def _update_busy(self, redact_text: str = "redacting…") -> None:
        parts = (["verifying the bundle…"] if self.bundle_busy else []) + ([redact_text] if self.redact_busy else [])
        self.label.setText("; ".join(parts))
        self.label.setVisible(bool(parts))
        self.busy.setVisible(bool(parts))
        self.cancel_button.setVisible(self.redact_busy)
        if not self.redact_busy or self.bundle_busy:
            self.busy.setRange(0, 0)  # busy: bundle verification reports no progress
        self.action_open_bundle.setEnabled(not self.bundle_busy)
        self.action_redact.setEnabled(not self.redact_busy)

    def idle(self) -> bool:
        return not self.bundle_busy and not self.redact_busy

    def last_redaction_of(self, dump_path: Path) -> str | None:
        """The redacted copy written last of ``dump_path`` in this session (what Compare offers first)."""
        r = self.redaction_result
        if r is None or Path(r.input).resolve() != Path(dump_path).resolve():
            return None
        return str(r.output)

    # -- open a bundle ---------------------------------------------------------------------------
    def open_bundle_dialog(self, bundle: str = "") -> OpenBundleDialog:
        """The Open bundle dialog (bundle and target folder, each with Browse…), not shown yet."""
        return OpenBundleDialog(bundle, self.parent_widget)

    def _ask_open_bundle(self) -> None:
        dialog = self.open_bundle_dialog()
        try:
            if dialog.exec() == QDialog.DialogCode.Accepted:
                self.open_bundle(dialog.bundle(), dialog.target())
        finally:
            dialog.deleteLater()

    def open_bundle(self, path: str | os.PathLike[str], target_dir: str | os.PathLike[str] | None = None,
                    passphrase: str | None = None, *, ask_signer: bool = True) -> bool:
        """Verify, extract and open a bundle (see the module docstring); False when it could not start.

        Verification and extraction run in workers: wait for :meth:`idle`; the outcome is in
        :attr:`bundle_outcome` (and :attr:`bundle_problems`), the signature in :attr:`bundle_signature`.
        While the question about an unsigned or untrusted signer is open (:attr:`signer_box`) the job is
        still busy. ``ask_signer`` False: the signer is shown but not asked about (a script that decided
        already). ``passphrase`` None: the keyring, else the passphrase dialog.
        """
        if self.bundle_busy:
            return False
        path = Path(path)
        target = Path(target_dir) if target_dir is not None else default_target(path)
        self.bundle_problems, self.bundle_outcome, self.bundle_signature = [], "", None
        self.bundle_busy = True
        self._update_busy()
        self.status(f"Verifying {path.name}…", 5000)
        self.run_task(verify_bundle_job, path, what=f"cannot open the bundle {path.name}", known=KNOWN_ERRORS,
                      done=lambda res: self._on_verified(path, target, res, passphrase, ask_signer),
                      failed=self._on_bundle_failed)
        return True

    def _on_verified(self, path: Path, target: Path, res: VerifyResult, passphrase: str | None,
                     ask_signer: bool) -> None:
        if not res.ok:
            self._on_bundle_ready(path, res, passphrase)
            return
        check = self.bundle_signature = res.signature
        if not ask_signer or (check.valid and check.trusted):
            self._extract(path, target, res, passphrase)
            return
        box = message_box(QMessageBox.Icon.Warning, "Open bundle: who made it?",
                          f"{path.name} verifies: every member matches its manifest.\n\n{signer_text(check)}\n\n"
                          "Open it anyway?", QMessageBox.StandardButton.Open | QMessageBox.StandardButton.Cancel,
                          self.parent_widget, name="bundle-signer-confirm")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.signer_box = box

        def answered(_result: int) -> None:
            self.signer_box = None
            if box.standardButton(box.clickedButton()) == QMessageBox.StandardButton.Open:
                self._extract(path, target, res, passphrase)
                return
            self.bundle_busy = False
            self._update_busy()
            self.bundle_outcome = "not opened"
            self.status(f"{path.name} not opened: {check.describe()}", 10_000)

        box.finished.connect(answered)
        box.open()

    def _extract(self, path: Path, target: Path, res: VerifyResult, passphrase: str | None) -> None:
        self.status(f"Extracting {path.name} ({res.signature.describe()})…", 5000)
        self.run_task(extract_bundle_job, path, target, res, what=f"cannot open the bundle {path.name}",
                      known=KNOWN_ERRORS, done=lambda v: self._on_bundle_ready(path, v, passphrase),
                      failed=self._on_bundle_failed)

    def _on_bundle_failed(self, text: str) -> None:
        self.bundle_busy = False
        self._update_busy()
        self.bundle_outcome = "failed"
        self.bundle_problems = [text]
        self.host.last_error = text
        self.host.message(QMessageBox.Icon.Warning, "Open bundle", text, "bundle-problems")

    def _on_bundle_ready(self, path: Path, extracted: ExtractedBundle | VerifyResult, passphrase: str | None) -> None:
        self.bundle_busy = False
        self._update_busy()
        if isinstance(extracted, VerifyResult):
            res = extracted
            self.bundle_outcome = "problems"
            self.bundle_problems = [res.unreadable] if res.unreadable else [one_line(p) for p in res.problems]
            self.host.last_error = self.bundle_problems[0] if self.bundle_problems else None
            n = len(self.bundle_problems)
            self.host.message(QMessageBox.Icon.Warning, "The bundle does not verify",
                              f"{path.name}: {n} problem{'s' if n != 1 else ''}; nothing was extracted or opened.\n\n"
                              + "\n".join(self.bundle_problems), "bundle-problems")
            return
        res, where = extracted.verify, extracted.out_dir
        if not self.cases.close_case():
            self.bundle_outcome = "not opened"
            return
        opened = self.cases.open_case(extracted.case_path, passphrase=passphrase, use_keyring=passphrase is None,
                                      recover=False, evidence_overrides=dict(extracted.overrides))
        if not opened:
            self.bundle_outcome = "not opened"
            self.status(f"bundle verified and extracted to {where}; the case was not opened", 10_000)
            return
        self.bundle_outcome = "opened"
        evidence = f", {len(extracted.evidence)} evidence file(s)" if extracted.evidence else ", no evidence in it"
        self.status(f"bundle {path.name} verified ({res.checked} members), {res.signature.describe()}; case "
                    f"extracted to {where}{evidence}", 15_000)

    # -- redact ----------------------------------------------------------------------------------
    def _ask_redact(self) -> None:
        od = self.session.current
        if od is None:
            self.status("Open a dump first", 5000)
            return
        src = od.path
        suggestion = src.with_name(f"{src.stem}.redacted{src.suffix}")
        out, _ = QFileDialog.getSaveFileName(self.parent_widget, "Redact to", str(suggestion), "All files (*)")
        if out:
            self.redact_current(out, force=True)  # the dialog asked before replacing a file

    def redact_current(self, out_path: str | os.PathLike[str], *, force: bool = False) -> bool:
        """Write a redacted copy of the current dump to ``out_path`` in a worker; False when none started.

        The findings shown are reused when the dump's scan is finished (``redact_file`` scans otherwise).
        Wait for :meth:`idle`; the outcome is in :attr:`redaction_result` (a
        :class:`~viewer.handover.redact.RedactionResult`, None on failure) and :attr:`redaction_message`.
        """
        from viewer.handover.redact import redact_file

        od = self.session.current
        if od is None or self.redact_busy:
            self.status("Open a dump first" if od is None else "A redaction is running", 5000)
            return False
        src, member = od.path, od.dump.member  # one of several dumps of the file: that one
        findings = list(od.findings) if od.findings and not self.scans.scanning(od) else None
        # With the dump's case open: its findings and reviews too (made here, on the GUI thread that owns
        # the case), and the redaction recorded in its audit trail when done.
        sha = self.session.evidence_sha256(od)
        cf = self.session.case
        selection = case_selection(cf.case, sha) if sha is not None and cf is not None else None
        self._redaction_case = (cf, sha) if selection is not None else None
        out = Path(out_path)
        self.redaction_result, self.redaction_message = None, ""
        self.redact_busy = True
        self._update_busy()

        def work(state: Any) -> Any:
            return redact_file(src, out, findings=findings, force=force, selection=selection, state=state,
                               member=member)

        self._redact_worker = self.run_task(
            work, what=f"cannot redact {src.name}", known=KNOWN_ERRORS, cancelled_errors=(RedactCancelled,),
            progress=self._on_redact_progress, step=self._on_redact_step, done=self._on_redacted,
            failed=self._on_redact_failed, cancelled=lambda _v: self._on_redact_failed("cancelled"))
        return True

    def cancel_redaction(self) -> None:
        """Stop the running redaction at its next check; nothing is written (the partial copy is removed)."""
        if self._redact_worker is not None and self.redact_busy:
            self._redact_worker.cancel()
            self._update_busy("cancelling the redaction…")

    def _redact_cancelled(self) -> bool:
        return self._redact_worker is not None and self._redact_worker.is_cancelled

    def _show_redact_progress(self, text: str, done: int, total: int) -> None:
        if not self.redact_busy or self.bundle_busy or self._redact_worker is None or self._redact_cancelled():
            return
        if total:
            self.busy.setRange(0, 1000)
            self.busy.setValue(int(1000 * min(done, total) / total))
            text += f" {100 * min(done, total) / total:.0f}%"
        else:
            self.busy.setRange(0, 0)
            text += "…"
        self._update_busy(f"redacting: {text}")
        if total:  # _update_busy leaves the bar as set when a redaction alone runs
            self.busy.setRange(0, 1000)

    def _on_redact_progress(self, done: int, total: int, _rate: float = 0.0, _eta: float = 0.0) -> None:
        self._show_redact_progress("scanning", done, total)

    def _on_redact_step(self, step: str, done: int, total: int) -> None:
        self._show_redact_progress(step, done, total)

    def _record_redaction(self, result: Any) -> str:
        """Add the redaction to the audit trail of the case it was made from (when still open)."""
        made_from, self._redaction_case = self._redaction_case, None
        if made_from is None:
            return ""
        cf, sha = made_from
        if cf is not self.session.case or sha != result.evidence_sha256:
            return "The case it was made from is closed: the redaction is not in its audit trail."
        cf.record_redaction(sha, redaction_facts(result, Confidence.HIGH))
        self.session.mark_dirty()
        kept = f" {len(result.kept)} finding(s) kept: the case marks them false-positive." if result.kept else ""
        return f"Recorded in the case's audit trail (save the case to keep it).{kept}"

    def _on_redacted(self, result: Any) -> None:
        self.redact_busy = False
        self._redact_worker = None
        self._update_busy()
        case_line = self._record_redaction(result)
        self.redaction_result = result
        n = len(result.ranges)
        if result.clean:
            verdict = "Clean: the re-scan finds no key at high confidence or better."
        else:
            kinds = ", ".join(sorted({f.kind for f in result.remaining}))
            verdict = f"NOT clean: {len(result.remaining)} finding(s) remain ({kinds})."
        lines = [verdict, f"{n} range{'s' if n != 1 else ''} overwritten in {result.rounds} round(s), "
                 f"{result.seconds:.1f} s.", f"Copy: {result.output}", f"Log: {result.log}",
                 f"Input unchanged, SHA-256 {result.input_sha256}",
                 "Scan ▸ Compare with a copy… (Ctrl+Alt+D) shows every changed run beside the original."]
        if case_line:
            lines.append(case_line)
        lines += [f"note: {one_line(w)}" for w in result.warnings[:5]]
        self.redaction_message = "\n".join(lines)
        self.status(f"redacted copy written: {result.output} ({'clean' if result.clean else 'NOT clean'}, {n} ranges)",
                    10_000)
        icon = QMessageBox.Icon.Information if result.clean else QMessageBox.Icon.Warning
        self.host.message(icon, "Redaction", self.redaction_message, "redact-outcome")

    def _on_redact_failed(self, text: str) -> None:
        cancelled = self._redact_cancelled()
        self._redaction_case = None
        self._redact_worker = None
        self.redact_busy = False
        self._update_busy()
        if cancelled:  # the examiner's own request: said in the status bar, no warning box
            self.redaction_message = "Redaction cancelled: nothing was written."
            self.status(self.redaction_message, 10_000)
            return
        self.redaction_message = text
        self.host.last_error = text
        self.host.message(QMessageBox.Icon.Warning, "Redaction", text, "redact-outcome")


__all__ = ["HandoverController"]
