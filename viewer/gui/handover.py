"""Handing a case over, in the window (mixed into MainWindow): open a received bundle, redact a dump.

* File ▸ Open bundle… (Ctrl+Shift+O, :meth:`HandoverMixin.open_bundle`): the ZIP is verified in a
  worker (:func:`viewer.case.bundle.verify_bundle`); any problem (one line each) is shown and nothing is
  extracted or opened. A bundle that verifies has its case file (and the evidence, when the bundle
  carries it) extracted to a folder — by default a new folder beside the bundle named after it — with
  every member re-hashed against the manifest while it is written, and the case is opened through the
  window's case path (keyring, else the passphrase dialog). Evidence is extracted where the case's
  relative path points when that is inside the folder, else to ``<folder>/evidence/`` (the window then
  uses that file for the evidence: :attr:`CaseMixin.evidence_overrides`); extracted evidence is made
  read-only. Nothing is ever overwritten: an existing file is an error.
* Scan ▸ Redact to… (Ctrl+Shift+D, :meth:`HandoverMixin.redact_current`): a redacted copy of the
  current dump (:func:`viewer.case.redact.redact_file`) written in a worker with a busy indicator;
  the outcome (clean or not, ranges, log path, input SHA-256) is shown in a message. The input is only
  read. Progress (the scan in bytes, then each later step by name) shows in the status bar beside a
  Cancel redaction button; a cancel leaves nothing behind. When the dump
  is evidence of the open case, the case's selection (:func:`viewer.case.redact_case.case_selection`:
  its findings, the examiner's confirmations and false positives) is made on the GUI thread and handed
  to the worker, and the finished redaction is added to the case's audit trail (unsaved, like any edit).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from viewer.evidence import EvidenceError
from viewer.gui.workers import StepProgress, one_line, status_job_widgets
from viewer.handover.bundle import BundleError, VerifyResult, verify_bundle
from viewer.handover.redact import RedactError
from viewer.handover.redact_case import case_selection, redaction_facts
from viewer.scan.finding import Confidence

BUNDLE_FILTER = "Case bundles (*.zip);;All files (*)"
COPY_BUF = 1024 * 1024


# -- extraction (worker thread) ----------------------------------------------------------------------
@dataclass
class Extracted:
    case_path: Path
    overrides: dict[str, Path] = field(default_factory=dict)  # evidence sha256 -> extracted file
    evidence: list[Path] = field(default_factory=list)


def default_target(bundle: str | os.PathLike[str]) -> Path:
    """A new folder beside the bundle, named after it (``x.zip`` -> ``x``; ``x-2`` … when taken)."""
    p = Path(bundle)
    base = p.with_suffix("") if p.suffix else p.with_name(p.name + "-case")
    target, n = base, 1
    while target.exists():
        n += 1
        target = base.with_name(f"{base.name}-{n}")
    return target


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def _extract_member(zf: zipfile.ZipFile, name: str, sha256: str, dest: Path) -> None:
    """Stream ``name`` to ``dest`` (never overwritten) through a temporary file, checking its SHA-256."""
    if dest.exists():
        raise BundleError(f"{dest} exists: choose another folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        sha = hashlib.sha256()
        with zf.open(name) as src, os.fdopen(fd, "wb") as out:
            while chunk := src.read(COPY_BUF):
                sha.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if sha.hexdigest() != sha256:
            raise BundleError(f"{name}: SHA-256 does not match the manifest (changed since it was verified)")
        if dest.exists():
            raise BundleError(f"{dest} exists: choose another folder")
        os.replace(tmp, dest)
        tmp = ""
    finally:
        if tmp:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def extract_bundle(bundle: str | os.PathLike[str], target: str | os.PathLike[str],
                   manifest: dict[str, Any]) -> Extracted:
    """Extract the case file (and the evidence members) of a *verified* bundle into ``target``."""
    target = Path(target).resolve()
    members = {str(m["name"]): str(m["sha256"]) for m in manifest.get("members", []) if isinstance(m, dict)}
    cases = [n for n in members if n.startswith("case/") and n.endswith(".evcase")]
    if len(cases) != 1:
        raise BundleError(f"{bundle}: {len(cases)} case files in the bundle (expected one)")
    case_name = PurePosixPath(cases[0]).name
    if not case_name or case_name in (".", ".."):
        raise BundleError(f"{cases[0]}: not a usable file name")
    target.mkdir(parents=True, exist_ok=True)
    case_path = target / "case" / case_name
    out = Extracted(case_path)
    with zipfile.ZipFile(bundle) as zf:
        _extract_member(zf, cases[0], members[cases[0]], case_path)
        for e in manifest.get("evidence", []) or []:
            member = e.get("member") if isinstance(e, dict) else None
            if not member or member not in members:
                continue
            stored = Path(str(e.get("path") or ""))
            natural = (case_path.parent / stored).resolve() if str(stored) and not stored.is_absolute() else None
            if natural is not None and _inside(natural, target) and not natural.exists():
                dest = natural
            else:
                dest = target / "evidence" / PurePosixPath(member).name
                out.overrides[str(e["sha256"])] = dest
            _extract_member(zf, member, members[member], dest)
            os.chmod(dest, 0o444)  # evidence: read-only
            out.evidence.append(dest)
    return out


# -- a worker for one call ---------------------------------------------------------------------------
class CallSignals(QObject):
    sig_done = Signal(object)
    sig_failed = Signal(str)  # one line


class CallWorker(QRunnable):
    """Runs ``fn()`` on a pool thread; its value is ``sig_done``, any exception one line in ``sig_failed``."""

    def __init__(self, fn: Callable[[], Any], what: str):
        super().__init__()
        self.setAutoDelete(False)
        self.fn, self.what = fn, what
        self.signals = CallSignals()

    def run(self) -> None:
        try:
            value = self.fn()
        except Exception as exc:  # noqa: BLE001 - one clear line, never a traceback
            text = str(exc) if isinstance(exc, (BundleError, RedactError, EvidenceError, OSError)) else f"{type(exc).__name__}: {exc}"
            self.signals.sig_failed.emit(one_line(f"{self.what}: {text}"))
        else:
            self.signals.sig_done.emit(value)


# -- the window part -------------------------------------------------------------------------------
class HandoverMixin:
    """Open bundle and Redact to…; MainWindow calls :meth:`_build_handover` after :meth:`_build_case`."""

    def _build_handover(self) -> None:
        self._handover_workers: set[CallWorker] = set()
        self.bundle_busy = False
        self.bundle_problems: list[str] = []
        self.bundle_outcome = ""  # "opened", "problems", "failed", "not opened"
        self.redact_busy = False
        self.redaction_result: Any = None
        self.redaction_message = ""
        self._redaction_case: tuple[Any, str] | None = None  # (case file, evidence sha256) of a running redaction

        self.action_open_bundle = self._action(self.file_menu, "Open &bundle…", self._ask_open_bundle,
                                               QKeySequence("Ctrl+Shift+O"),
                                               "Verify a case bundle (ZIP), extract its case and open it")
        self.file_menu.removeAction(self.action_open_bundle)  # after Open…, before Open Recent
        self.file_menu.insertAction(self.recent_menu.menuAction(), self.action_open_bundle)
        self.scan_menu.addSeparator()
        self.action_redact = self._action(self.scan_menu, "&Redact to…", self._ask_redact,
                                          QKeySequence("Ctrl+Shift+D"),
                                          "Write a copy of the current dump with every key found overwritten")

        # one label and bar for both jobs (bundle verification is busy-only), Cancel for the redaction
        self.handover_label, self.handover_busy, self.redact_cancel_button = status_job_widgets(
            self.statusBar(), "handover", "Cancel redaction", self.cancel_redaction)
        self._redact_progress: StepProgress | None = None

    # -- shared ----------------------------------------------------------------------------------
    def _run(self, fn: Callable[[], Any], what: str, done: Callable[[Any], None],
             failed: Callable[[str], None]) -> None:
        worker = CallWorker(fn, what)
        self._handover_workers.add(worker)

        def finish(handler: Callable[[Any], None], value: Any) -> None:
            self._handover_workers.discard(worker)
            handler(value)

        worker.signals.sig_done.connect(lambda v: finish(done, v))
        worker.signals.sig_failed.connect(lambda t: finish(failed, t))
        self._pool.start(worker)

    def _update_busy(self, redact_text: str = "redacting…") -> None:
        parts = (["verifying the bundle…"] if self.bundle_busy else []) + ([redact_text] if self.redact_busy else [])
        self.handover_label.setText("; ".join(parts))
        self.handover_label.setVisible(bool(parts))
        self.handover_busy.setVisible(bool(parts))
        self.redact_cancel_button.setVisible(self.redact_busy)
        if not self.redact_busy or self.bundle_busy:
            self.handover_busy.setRange(0, 0)  # busy: bundle verification reports no progress
        self.action_open_bundle.setEnabled(not self.bundle_busy)
        self.action_redact.setEnabled(not self.redact_busy)

    def _message(self, icon: QMessageBox.Icon, title: str, text: str, name: str) -> QMessageBox:
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self)
        box.setObjectName(name)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    def handover_idle(self) -> bool:
        return not self.bundle_busy and not self.redact_busy

    # -- open a bundle ---------------------------------------------------------------------------
    def _ask_open_bundle(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open bundle", "", BUNDLE_FILTER)
        if not path:
            return
        folder, ok = QInputDialog.getText(self, "Open bundle", "Extract the case to the folder:",
                                          text=str(default_target(path)))
        if ok and folder.strip():
            self.open_bundle(path, folder.strip())

    def open_bundle(self, path: str | os.PathLike[str], target_dir: str | os.PathLike[str] | None = None,
                    passphrase: str | None = None) -> bool:
        """Verify, extract and open a bundle (see the module docstring); False when it could not start.

        Verification and extraction run in a worker: wait for :meth:`handover_idle`; the outcome is in
        :attr:`bundle_outcome` (and :attr:`bundle_problems`). ``passphrase`` None: the keyring, else the
        passphrase dialog.
        """
        if self.bundle_busy:
            return False
        path = Path(path)
        target = Path(target_dir) if target_dir is not None else default_target(path)
        self.bundle_problems, self.bundle_outcome = [], ""

        def work() -> tuple[VerifyResult, Extracted | None]:
            res = verify_bundle(path)
            if not res.ok or res.manifest is None:
                return res, None
            return res, extract_bundle(path, target, res.manifest)

        self.bundle_busy = True
        self._update_busy()
        self.statusBar().showMessage(f"Verifying {path.name}…", 5000)
        self._run(work, f"cannot open the bundle {path.name}",
                  lambda v: self._on_bundle_ready(path, v, passphrase), self._on_bundle_failed)
        return True

    def _on_bundle_failed(self, text: str) -> None:
        self.bundle_busy = False
        self._update_busy()
        self.bundle_outcome = "failed"
        self.bundle_problems = [text]
        self.last_error = text
        self._message(QMessageBox.Icon.Warning, "Open bundle", text, "bundle-problems")

    def _on_bundle_ready(self, path: Path, value: tuple[VerifyResult, Extracted | None],
                         passphrase: str | None) -> None:
        res, extracted = value
        self.bundle_busy = False
        self._update_busy()
        if extracted is None:
            self.bundle_outcome = "problems"
            self.bundle_problems = [res.unreadable] if res.unreadable else [one_line(p) for p in res.problems]
            self.last_error = self.bundle_problems[0] if self.bundle_problems else None
            n = len(self.bundle_problems)
            self._message(QMessageBox.Icon.Warning, "The bundle does not verify",
                          f"{path.name}: {n} problem{'s' if n != 1 else ''}; nothing was extracted or opened.\n\n"
                          + "\n".join(self.bundle_problems), "bundle-problems")
            return
        if not self.close_case():
            self.bundle_outcome = "not opened"
            return
        self.evidence_overrides = dict(extracted.overrides)
        opened = self.open_case(extracted.case_path, passphrase=passphrase, use_keyring=passphrase is None,
                                recover=False)
        if not opened:
            self.evidence_overrides = {}
            self.bundle_outcome = "not opened"
            self.statusBar().showMessage(f"bundle verified and extracted to {extracted.case_path.parent.parent}; "
                                         "the case was not opened", 10_000)
            return
        self.bundle_outcome = "opened"
        where = extracted.case_path.parent.parent
        evidence = f", {len(extracted.evidence)} evidence file(s)" if extracted.evidence else ", no evidence in it"
        self.statusBar().showMessage(f"bundle {path.name} verified ({res.checked} members); case extracted to "
                                     f"{where}{evidence}", 10_000)

    # -- redact ----------------------------------------------------------------------------------
    def _ask_redact(self) -> None:
        tab = self.tab
        if tab is None:
            self.statusBar().showMessage("Open a dump first", 5000)
            return
        src = Path(tab.dump.path)
        suggestion = src.with_name(f"{src.stem}.redacted{src.suffix}")
        out, _ = QFileDialog.getSaveFileName(self, "Redact to", str(suggestion), "All files (*)")
        if out:
            self.redact_current(out, force=True)  # the dialog asked before replacing a file

    def redact_current(self, out_path: str | os.PathLike[str], *, force: bool = False) -> bool:
        """Write a redacted copy of the current dump to ``out_path`` in a worker; False when none started.

        The findings shown are reused when the dump's scan is finished (``redact_file`` scans otherwise).
        Wait for :meth:`handover_idle`; the outcome is in :attr:`redaction_result` (a
        :class:`~viewer.case.redact.RedactionResult`, None on failure) and :attr:`redaction_message`.
        """
        from viewer.handover.redact import redact_file

        tab = self.tab
        if tab is None or self.redact_busy:
            self.statusBar().showMessage("Open a dump first" if tab is None else "A redaction is running", 5000)
            return False
        src = Path(tab.dump.path)
        scanning = self._scan is not None and self._scan[1] is tab
        findings = list(tab.findings) if tab.findings and not scanning else None
        # With the dump's case open: its findings and reviews too (made here, on the GUI thread that owns
        # the case), and the redaction recorded in its audit trail when done.
        sha = self.tab_evidence_sha256(tab)
        selection = case_selection(self.case_file.case, sha) if sha is not None else None
        self._redaction_case = (self.case_file, sha) if selection is not None else None
        out = Path(out_path)
        self.redaction_result, self.redaction_message = None, ""
        self.redact_busy = True
        progress = StepProgress()
        progress.sig_progress.connect(self._on_redact_progress)
        progress.sig_step.connect(self._on_redact_step)
        self._redact_progress = progress
        self._update_busy()
        self._run(lambda: redact_file(src, out, findings=findings, force=force, selection=selection,
                                      state=progress.state),
                  f"cannot redact {src.name}", self._on_redacted, self._on_redact_failed)
        return True

    def cancel_redaction(self) -> None:
        """Stop the running redaction at its next check; nothing is written (the partial copy is removed)."""
        if self._redact_progress is not None and self.redact_busy:
            self._redact_progress.cancel()
            self._update_busy("cancelling the redaction…")

    def _show_redact_progress(self, text: str, done: int, total: int) -> None:
        if not self.redact_busy or self.bundle_busy or self._redact_progress is None:
            return
        if self._redact_progress.state.is_cancelled:
            return
        if total:
            self.handover_busy.setRange(0, 1000)
            self.handover_busy.setValue(int(1000 * min(done, total) / total))
            text += f" {100 * min(done, total) / total:.0f}%"
        else:
            self.handover_busy.setRange(0, 0)
            text += "…"
        self._update_busy(f"redacting: {text}")
        if total:  # _update_busy leaves the bar as set when a redaction alone runs
            self.handover_busy.setRange(0, 1000)

    def _on_redact_progress(self, done: int, total: int) -> None:
        self._show_redact_progress("scanning", done, total)

    def _on_redact_step(self, step: str, done: int, total: int) -> None:
        self._show_redact_progress(step, done, total)

    def _record_redaction(self, result: Any) -> str:
        """Add the redaction to the audit trail of the case it was made from (when still open)."""
        made_from, self._redaction_case = self._redaction_case, None
        if made_from is None:
            return ""
        cf, sha = made_from
        if cf is not self.case_file or sha != result.input_sha256:
            return "The case it was made from is closed: the redaction is not in its audit trail."
        cf.record_redaction(sha, redaction_facts(result, Confidence.HIGH))
        self._case_changed()
        kept = f" {len(result.kept)} finding(s) kept: the case marks them false-positive." if result.kept else ""
        return f"Recorded in the case's audit trail (save the case to keep it).{kept}"

    def _on_redacted(self, result: Any) -> None:
        self.redact_busy = False
        self._redact_progress = None
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
                 f"Input unchanged, SHA-256 {result.input_sha256}"]
        if case_line:
            lines.append(case_line)
        lines += [f"note: {one_line(w)}" for w in result.warnings[:5]]
        self.redaction_message = "\n".join(lines)
        self.statusBar().showMessage(f"redacted copy written: {result.output} "
                                     f"({'clean' if result.clean else 'NOT clean'}, {n} ranges)", 10_000)
        icon = QMessageBox.Icon.Information if result.clean else QMessageBox.Icon.Warning
        self._message(icon, "Redaction", self.redaction_message, "redact-outcome")

    def _on_redact_failed(self, text: str) -> None:
        cancelled = self._redact_progress is not None and self._redact_progress.state.is_cancelled
        self._redaction_case = None
        self._redact_progress = None
        self.redact_busy = False
        self._update_busy()
        if cancelled:  # the examiner's own request: said in the status bar, no warning box
            self.redaction_message = "Redaction cancelled: nothing was written."
            self.statusBar().showMessage(self.redaction_message, 10_000)
            return
        self.redaction_message = text
        self.last_error = text
        self._message(QMessageBox.Icon.Warning, "Redaction", text, "redact-outcome")
