"""The window's case: a Case menu, the Review and Case docks, autosave and recovery (mixed into MainWindow).

* New / Open / Save / Save As / Close case, Add the current dump, Key slots, Verify evidence, Examiner name
  (QSettings ``examiner/name``, used as the author of every change).
* Unlocking: the OS keyring when it works; otherwise (KeyringUnavailable, KeyringEntryMissing, no keyring
  slot) a passphrase is asked for, with the reason shown. A wrong passphrase is a one-line message.
* Opening a case opens its evidence files as tabs (paths relative to the case file resolved) and shows
  their findings as stored in the case (no re-scan); a scan finished in the window is merged into the
  case (``merge_scan``) when its dump is part of the case.
* The Review dock edits the selected finding's status, severity, tags and comments (``annotate``); the
  Case dock lists the evidence with its verification state (re-hashed in a worker on open), the case's
  bookmarks (double-click jumps) and the audit trail with a Verify button.
* Autosave: every :data:`AUTOSAVE_MS` while there are unsaved changes, to ``<case>.recovery``; on open
  an existing recovery file is offered. Closing the window with unsaved changes autosaves them (the
  recovery file is offered next time) instead of asking.

Unlocking (one Argon2id derivation, ~0.5 s with the default parameters) and reading the case run on the
GUI thread: short, and a worker would have to carry the passphrase around. Hashing evidence (seconds for
big dumps) runs in :class:`~viewer.gui.case_panels.VerifyWorker`.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, QModelIndex, QObject, QRunnable, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from viewer.case import (
    CaseError,
    CaseFile,
    KeyringEntryMissing,
    KeyringUnavailable,
    PassphraseRequired,
    create_case,
    has_recovery,
    open_case,
)
from viewer.case.model import EvidenceRef, _stored_path
from viewer.gui.case_panels import (
    AuditModel,
    BookmarksModel,
    EvidenceModel,
    KeySlotsDialog,
    ReviewPanel,
    VerifyWorker,
    ask_new_passphrase,
    table,
)
from viewer.gui.dump_tab import Bookmark as TabBookmark
from viewer.gui.workers import one_line
from viewer.scan.finding import Finding

SETTINGS_EXAMINER = "examiner/name"
AUTOSAVE_MS = 60_000
CASE_FILTER = "Evidence Viewer cases (*.evcase);;All files (*)"


def table_with_action(view: QWidget, button: QPushButton, result: QLabel) -> QWidget:
    """A table with a row under it: an action button and the label that tells its outcome."""
    box = QWidget()
    lay = QVBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.addWidget(view, 1)
    row = QHBoxLayout()
    row.addWidget(button)
    row.addWidget(result, 1)
    lay.addLayout(row)
    return box


class _ResultSignals(QObject):
    sig_finished = Signal()


class _ResultWorker(QRunnable):
    """Runs ``fn()`` on a pool thread and keeps its value or its exception (the caller re-raises it, so
    the exception's type still decides what the window does)."""

    def __init__(self, fn: Callable[[], Any]):
        super().__init__()
        self.setAutoDelete(False)
        self.fn = fn
        self.value: Any = None
        self.error: BaseException | None = None
        self.finished = threading.Event()
        self.signals = _ResultSignals()

    def run(self) -> None:
        try:
            self.value = self.fn()
        except Exception as exc:  # noqa: BLE001 - handed to the GUI thread, which re-raises it
            self.error = exc
        finally:
            self.finished.set()
            self.signals.sig_finished.emit()


class CaseMixin:
    """Everything about the open case; MainWindow calls :meth:`_build_case` after its own actions."""

    case_file: CaseFile | None
    case_kdf: dict[str, Any] | None  # Argon2id parameters for new passphrase slots (tests: TEST_KDF)

    # -- construction ----------------------------------------------------------------------------
    def _build_case(self) -> None:
        self.case_file = None
        self.case_kdf = None
        self.case_dirty = False
        self.case_states: dict[str, str] = {}  # evidence sha256 -> verification state
        # evidence sha256 -> where the file is when not where the case says (a bundle extracted elsewhere)
        self.evidence_overrides: dict[str, Path] = {}
        self._verify_worker: VerifyWorker | None = None
        self._verify_generation = 0
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave_case)
        self.autosave_timer.start()

        self.review = ReviewPanel()
        self.review.setObjectName("review-panel")
        self.review.sig_changed.connect(self._case_changed)
        self.review_dock = self._dock("Review", "review-dock", self.review, Qt.DockWidgetArea.RightDockWidgetArea)

        self.evidence_model = EvidenceModel(self)
        self.case_bookmarks_model = BookmarksModel(self)
        self.audit_model = AuditModel(self)
        self.evidence_view = table(self.evidence_model, "case-evidence")
        self.evidence_view.doubleClicked.connect(self._on_evidence_activated)
        self.case_bookmarks_view = table(self.case_bookmarks_model, "case-bookmarks")
        self.case_bookmarks_view.doubleClicked.connect(self._on_case_bookmark_activated)
        self.audit_view = table(self.audit_model, "case-audit")
        self.audit_verify_button = QPushButton("Verify the audit trail")
        self.audit_verify_button.clicked.connect(self.verify_audit)
        self.audit_result = QLabel()
        self.audit_result.setObjectName("audit-result")
        self.audit_result.setWordWrap(True)
        self.audit_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        audit_box = table_with_action(self.audit_view, self.audit_verify_button, self.audit_result)
        self.case_info = QLabel("No case open: Case ▸ New case… (Ctrl+Alt+N) or Open case… (Ctrl+Alt+O)")
        self.case_info.setObjectName("case-info")
        self.case_info.setWordWrap(True)
        self.case_tabs = QTabWidget()
        self.case_tabs.setDocumentMode(True)
        self.relocate_button = QPushButton("Relocate…")
        self.relocate_button.setObjectName("case-relocate")
        self.relocate_button.setToolTip("Point a missing or moved evidence item at its file: the file is hashed "
                                        "and accepted only with the evidence's SHA-256")
        self.relocate_button.clicked.connect(self._ask_relocate)
        self.relocate_result = QLabel()
        self.relocate_result.setObjectName("relocate-result")
        self.relocate_result.setWordWrap(True)
        self._relocating: tuple[VerifyWorker, EvidenceRef, str] | None = None
        evidence_box = table_with_action(self.evidence_view, self.relocate_button, self.relocate_result)
        self.evidence_view.selectionModel().currentRowChanged.connect(lambda *_: self._update_relocate_button())
        self.case_tabs.addTab(evidence_box, "Evidence")
        self.case_tabs.addTab(self.case_bookmarks_view, "Bookmarks")
        self.case_tabs.addTab(audit_box, "Audit trail")
        box = QWidget()
        lay = QVBoxLayout(box)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.case_info)
        lay.addWidget(self.case_tabs, 1)
        self.case_dock = self._dock("Case", "case-dock", box, Qt.DockWidgetArea.BottomDockWidgetArea)
        for number, dock in ((8, self.review_dock), (9, self.case_dock)):
            self.docks.append(dock)
            toggle = dock.toggleViewAction()
            toggle.setShortcut(QKeySequence(f"Alt+{number}"))
            self.view_menu.insertAction(self._view_separator, toggle)

        menu = self.menuBar().addMenu("&Case")
        self.case_menu = menu
        self.action_new_case = self._action(menu, "&New case…", self._ask_new_case, QKeySequence("Ctrl+Alt+N"))
        self.action_open_case = self._action(menu, "&Open case…", self._ask_open_case, QKeySequence("Ctrl+Alt+O"))
        self.action_save_case = self._action(menu, "&Save case", self.save_case, QKeySequence.StandardKey.Save)
        self.action_save_case_as = self._action(menu, "Save case &as…", self._ask_save_case_as,
                                                QKeySequence("Ctrl+Shift+S"))
        self.action_close_case = self._action(menu, "&Close case", lambda: self.close_case(), QKeySequence("Ctrl+Alt+W"))
        menu.addSeparator()
        self.action_add_evidence = self._action(menu, "Add the current dump as &evidence", self.add_current_dump,
                                                QKeySequence("Ctrl+Alt+E"))
        self.action_verify_evidence = self._action(menu, "&Verify evidence", self.verify_evidence,
                                                   QKeySequence("Ctrl+Alt+V"))
        self.action_key_slots = self._action(menu, "&Key slots…", self.show_key_slots, QKeySequence("Ctrl+Alt+K"))
        menu.addSeparator()
        self.action_examiner = self._action(menu, "E&xaminer name…", self._ask_examiner, QKeySequence("Ctrl+Alt+P"),
                                            "Your name, recorded as the author of every change to a case")
        self._update_case_ui()

    # -- preferences -----------------------------------------------------------------------------
    def examiner_name(self) -> str:
        return str(self.settings.value(SETTINGS_EXAMINER, "") or "")

    def set_examiner_name(self, name: str) -> None:
        self.settings.setValue(SETTINGS_EXAMINER, name.strip())
        if self.case_file is not None and name.strip():
            from viewer.case import make_author

            self.case_file.author = make_author(name)

    def _ask_examiner(self) -> None:
        name, ok = QInputDialog.getText(self, "Examiner", "Your name (the author of your changes to cases):",
                                        text=self.examiner_name())
        if ok:
            self.set_examiner_name(name)

    # -- new, open, save, close ------------------------------------------------------------------
    def _ask_new_case(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "New case", "", CASE_FILTER)
        if not path:
            return
        if not path.endswith(".evcase"):
            path += ".evcase"
        name, ok = QInputDialog.getText(self, "New case", "Case name:", text=Path(path).stem)
        if not ok:
            return
        passphrase = ask_new_passphrase(self, "New case: passphrase (also needed without a working keyring)")
        self.new_case(path, name or Path(path).stem, passphrase=passphrase)

    def new_case(self, path: str | os.PathLike[str], name: str, *, passphrase: str | None = None,
                 use_keyring: bool = True, number: str = "") -> bool:
        """Create a case (keyring slot when it works, plus a passphrase slot when given); True when created."""
        if not self.close_case():
            return False
        examiner = self.examiner_name()
        try:
            cf = create_case(path, name, examiner, number=number, passphrase=passphrase, use_keyring=use_keyring,
                             author_name=examiner or None, kdf=self.case_kdf)
        except CaseError as exc:
            self._case_error("Cannot create the case", str(exc))
            return False
        self._set_case(cf)
        for warning in cf.warnings:
            self.statusBar().showMessage(one_line(warning), 10_000)
        return True

    def _ask_open_case(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open case", "", CASE_FILTER)
        if path:
            self.open_case(path)

    def open_case(self, path: str | os.PathLike[str], *, passphrase: str | None = None, use_keyring: bool = True,
                  recover: bool | None = None, ask: bool = True) -> bool:
        """Open a case, its evidence as tabs and its findings; True when it opened.

        Without ``passphrase`` the keyring is tried (when ``use_keyring``); if it cannot open the case and
        ``ask`` is True a passphrase is asked for with the reason. ``recover``: None asks whether to open
        the autosaved state when there is one, True/False decide without asking.
        """
        if not self.close_case():
            return False
        path = Path(path)
        if recover is None and has_recovery(path):
            answer = QMessageBox.question(
                self, "Recover the case?",
                f"{path.name} has unsaved changes from an earlier session (autosaved). Open them?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes)
            recover = answer == QMessageBox.StandardButton.Yes
        author = self.examiner_name() or None
        while True:
            try:
                cf = self._unlock(functools.partial(open_case, path, passphrase=passphrase,
                                                    use_keyring=use_keyring and passphrase is None,
                                                    prefer_recovery=bool(recover), author_name=author),
                                  f"unlocking {path.name}…")
                break
            except (KeyringUnavailable, KeyringEntryMissing, PassphraseRequired) as exc:
                if not ask:
                    self._case_error("Cannot open the case", str(exc))
                    return False
                text, ok = QInputDialog.getText(self, "Case passphrase", f"{one_line(str(exc))}\n\nPassphrase:",
                                                QLineEdit.EchoMode.Password)
                if not ok:
                    return False
                passphrase = text
            except CaseError as exc:
                self._case_error("Cannot open the case", str(exc))
                return False
        self._set_case(cf)
        if cf.recovered:
            self.case_dirty = True  # the recovered state is not in the case file yet
            self._update_case_ui()
        self._open_case_evidence()
        return True

    def _unlock(self, fn: Callable[[], Any], text: str) -> Any:
        """``fn()`` (opening a case: an Argon2id derivation, a keyring call that may wait up to its
        timeout) on a pool thread, while a local event loop keeps the window painting; the window takes no
        input meanwhile, as under a modal dialog. Returns its value or raises its exception, as a direct
        call would: the callers stay simple and synchronous."""
        worker = _ResultWorker(fn)
        loop = QEventLoop()
        worker.signals.sig_finished.connect(loop.quit, Qt.ConnectionType.QueuedConnection)
        was_enabled = self.isEnabled()
        self.setEnabled(False)
        self.statusBar().showMessage(text)
        try:
            self._pool.start(worker)
            if not worker.finished.is_set():
                loop.exec()
            worker.finished.wait()
        finally:
            self.setEnabled(was_enabled)
            self.statusBar().clearMessage()
        if worker.error is not None:
            raise worker.error
        return worker.value

    def save_case(self) -> bool:
        cf = self.case_file
        if cf is None:
            return False
        try:
            cf.save()
        except (CaseError, OSError) as exc:
            self._case_error("Cannot save the case", str(exc))
            return False
        self.case_dirty = False
        self.statusBar().showMessage(f"Case saved to {cf.path}", 5000)
        self._update_case_ui()
        return True

    def _ask_save_case_as(self) -> None:
        if self.case_file is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save case as", str(self.case_file.path), CASE_FILTER)
        if path:
            self.save_case_as(path if path.endswith(".evcase") else path + ".evcase")

    def save_case_as(self, path: str | os.PathLike[str]) -> bool:
        """Save under a new name; relative evidence paths are rewritten for the new folder."""
        cf = self.case_file
        if cf is None:
            return False
        old_path, old_dir, new = cf.path, cf.case_dir, Path(path)
        old_refs = [ref.path for ref in cf.case.evidence]
        for ref in cf.case.evidence:
            ref.path = _stored_path(ref.resolve(old_dir), new.resolve().parent)
        cf.path = new
        if self.save_case():
            return True
        cf.path = old_path
        for ref, p in zip(cf.case.evidence, old_refs, strict=True):
            ref.path = p
        return False

    def close_case(self, save: bool | None = None) -> bool:
        """Close the case (its tabs stay open). Unsaved changes: ``save`` None asks, True saves, False
        leaves them in the recovery file. False when the examiner cancelled."""
        cf = self.case_file
        if cf is None:
            return True
        if self.case_dirty:
            if save is None:
                answer = QMessageBox.question(
                    self, "Unsaved case", f"Save the changes to {cf.case.name}?",
                    QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                    | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)
                if answer == QMessageBox.StandardButton.Cancel:
                    return False
                save = answer == QMessageBox.StandardButton.Save
            if save:
                if not self.save_case():
                    return False
            else:
                self.autosave_case()
        self._stop_verify()
        self._set_case(None)
        return True

    def autosave_case(self) -> None:
        """Write unsaved changes to the recovery file (the timer, and closing the window)."""
        if self.case_file is not None and self.case_dirty:
            try:
                self.case_file.autosave()
            except (CaseError, OSError) as exc:
                self.statusBar().showMessage(f"autosave failed: {one_line(str(exc))}", 10_000)
            else:
                self.statusBar().showMessage("Case autosaved", 3000)

    # -- evidence --------------------------------------------------------------------------------
    def evidence_path(self, ref) -> Path:  # noqa: ANN001 - EvidenceRef
        """Where ``ref``'s file is: an override (evidence extracted from a bundle), else the case's path."""
        assert self.case_file is not None
        return self.evidence_overrides.get(ref.sha256) or ref.resolve(self.case_file.case_dir)

    def tab_evidence_sha256(self, tab) -> str | None:  # noqa: ANN001 - DumpTab
        """The SHA-256 of ``tab``'s dump when it is evidence of the open case."""
        if self.case_file is None or tab is None:
            return None
        # The dump's own hash once computed (a changed file is not the evidence), else the case's.
        sha = tab.sha256 or getattr(tab, "case_sha256", None)
        if not sha or self.case_states.get(sha) in ("changed", "missing", "unreadable"):
            return None
        return sha if self.case_file.case.evidence_by_sha256(sha) is not None else None

    def add_current_dump(self) -> bool:
        """Add the dump in the current tab to the case (hashes it); its findings so far are merged."""
        tab, cf = self.tab, self.case_file
        if tab is None or cf is None:
            self.statusBar().showMessage("Open a case and a dump first", 5000)
            return False
        try:
            ref = cf.add_evidence(tab.dump.path)
        except CaseError as exc:
            self._case_error("Cannot add the evidence", str(exc))
            return False
        tab.case_sha256 = ref.sha256
        self.case_states[ref.sha256] = "ok"
        if tab.scan_result is not None:
            self._merge(tab, tab.scan_result)
        self._case_changed()
        return True

    def _open_case_evidence(self) -> None:
        """Open each evidence file (unless already open) as a tab with the case's findings; then verify."""
        cf = self.case_file
        assert cf is not None
        open_paths = {str(t.dump.path.resolve()): t for t in self._tabs_by_token.values()}
        problems = []
        for ref in cf.case.evidence:
            path = self.evidence_path(ref)
            tab = open_paths.get(str(path.resolve())) if path.exists() else None
            if tab is None:
                if not path.is_file():
                    problems.append(f"{ref.path}: missing")
                    continue
                error = self.load(path)
                if error is not None:
                    problems.append(error)
                    continue
                tab = self.tab
            tab.case_sha256 = ref.sha256
            known = {(b.offset, b.length, b.name) for b in tab.bookmarks}
            for b in cf.case.bookmarks:
                if b.evidence_sha256 == ref.sha256 and (b.offset, b.length, b.name) not in known:
                    colour = QColor(b.colour) if b.colour else QColor(170, 90, 255, 110)
                    tab.bookmarks.append(TabBookmark(b.name, b.offset, b.length, colour, b.note))
            tab.refresh_highlights()
            records = [r for r in cf.case.findings if r.evidence_sha256 == ref.sha256 and not r.stale]
            if records and not tab.findings:
                tab.findings = [Finding.from_json(r.finding) for r in records]
                tab.refresh_highlights()
                if tab is self.tab:
                    self._show_tab(tab)
        if problems:
            self.statusBar().showMessage("; ".join(problems), 10_000)
        self.verify_evidence()

    def verify_evidence(self) -> None:
        """Re-hash every evidence file in a worker; states appear in the Case dock as they come."""
        cf = self.case_file
        if cf is None:
            return
        self._stop_verify()
        self._verify_generation += 1
        generation = self._verify_generation
        items = [(ref.sha256, str(self.evidence_path(ref))) for ref in cf.case.evidence]
        for sha, _ in items:
            self.case_states[sha] = "checking…"
        worker = VerifyWorker(items, lambda: generation != self._verify_generation)
        worker.signals.sig_state.connect(lambda sha, state, g=generation: self._on_verified(g, sha, state))
        worker.signals.sig_finished.connect(lambda g=generation: self._on_verify_finished(g))
        self._verify_worker = worker
        self._refresh_case_views()
        self._pool.start(worker)

    def _on_verified(self, generation: int, sha: str, state: str) -> None:
        if generation == self._verify_generation:
            self.case_states[sha] = state
            self._refresh_case_views()
            if state != "ok":
                self.statusBar().showMessage(f"evidence {sha[:16]}…: {state}", 10_000)

    def _on_verify_finished(self, generation: int) -> None:
        if generation == self._verify_generation:
            self._verify_worker = None

    def _stop_verify(self) -> None:
        if self._verify_worker is not None:
            self._verify_generation += 1  # the worker sees it and stops
            self._verify_worker = None

    def verification_idle(self) -> bool:
        return self._verify_worker is None

    # -- findings, scans, bookmarks --------------------------------------------------------------
    def _merge(self, tab, result) -> None:  # noqa: ANN001 - DumpTab, ScanResult
        sha = self.tab_evidence_sha256(tab)
        if sha is None or self.case_file is None or result.cancelled:
            return
        settings = {"source": "window", "public_keys": len(result.public_keys)}
        run = self.case_file.merge_scan(sha, [f.to_json() for f in result.findings], settings)
        self.statusBar().showMessage(f"merged into the case: {run.findings} findings ({run.new} new, "
                                     f"{run.stale} gone)", 10_000)
        self._case_changed()

    def _review_finding(self, finding: Finding | None) -> None:
        cf, tab = self.case_file, self.tab
        if finding is None:
            self.review.show_record(None, None)
            return
        if cf is None:
            self.review.show_record(None, None, "No case open: findings are reviewed in a case.")
            return
        sha = self.tab_evidence_sha256(tab)
        if sha is None:
            self.review.show_record(None, None, "This dump is not evidence of the case: Case ▸ Add the current "
                                                "dump as evidence (Ctrl+Alt+E).")
            return
        try:
            record = cf.case.finding(finding.id, sha)
        except KeyError:
            self.review.show_record(None, None, "This finding is not in the case yet: scan the dump (Ctrl+R).")
            return
        self.review.show_record(cf, record)

    def _add_case_bookmark(self, name: str, offset: int, length: int, colour: str) -> None:
        sha = self.tab_evidence_sha256(self.tab)
        if sha is not None and self.case_file is not None:
            self.case_file.add_bookmark(sha, offset, length, name, colour=colour)
            self._case_changed()

    def _on_case_bookmark_activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.go_to_case_bookmark(index.row())

    def go_to_case_bookmark(self, row: int) -> bool:
        """Show the bookmark's evidence tab and select its bytes; False when that evidence is not open."""
        mark = self.case_bookmarks_model.item(row)
        for tab in self._tabs_by_token.values():
            if self.tab_evidence_sha256(tab) == mark.evidence_sha256:
                self.tabs.setCurrentWidget(tab)
                self._select(mark.offset, mark.length)
                return True
        self.statusBar().showMessage(f"the evidence of bookmark {mark.name!r} is not open", 5000)
        return False

    # -- relocating evidence ----------------------------------------------------------------------
    def _selected_evidence(self) -> EvidenceRef | None:
        row = self.evidence_view.currentIndex().row()
        if self.case_file is None or row < 0 or row >= self.evidence_model.rowCount():
            return None
        return self.evidence_model.item(row)

    def _update_relocate_button(self) -> None:
        ref = self._selected_evidence()
        exporting = getattr(self, "case_export_job", None) is not None  # an export reads the case meanwhile
        self.relocate_button.setEnabled(ref is not None and self._relocating is None and not exporting
                                        and self.case_states.get(ref.sha256) in ("missing", "changed", "unreadable"))

    def _ask_relocate(self) -> None:
        ref = self._selected_evidence()
        if ref is None:
            return
        path, _ = QFileDialog.getOpenFileName(self, f"Where is {Path(ref.path).name} now?",
                                              str(self.evidence_path(ref).parent), "All files (*)")
        if path:
            self.relocate_evidence(ref, path)

    def relocate_evidence(self, ref: EvidenceRef, path: str | os.PathLike[str]) -> bool:
        """Hash ``path`` in a worker; when it has ``ref``'s SHA-256, the case points at it (an audit event).
        False when no check started (one is running, or no case). Wait for :meth:`relocation_idle`."""
        if self.case_file is None or self._relocating is not None or getattr(self, "case_export_job", None):
            return False
        worker = VerifyWorker([(ref.sha256, str(path))])
        self._relocating = (worker, ref, str(path))
        worker.signals.sig_state.connect(self._on_relocate_checked)
        worker.signals.sig_finished.connect(self._on_relocate_finished)
        self.relocate_result.setText(f"checking {Path(path).name}…")
        self._update_relocate_button()
        self._pool.start(worker)
        return True

    def relocation_idle(self) -> bool:
        return self._relocating is None

    def _on_relocate_checked(self, sha: str, state: str) -> None:
        if self._relocating is None or self.case_file is None:
            return
        _worker, ref, path = self._relocating
        if state != "ok":
            why = "has another SHA-256" if state == "changed" else state
            self.relocate_result.setText(f"Not relocated: {Path(path).name} {why}; it is not this evidence.")
            return
        try:
            self.case_file.relocate(ref, path, actual_sha256=sha)
        except (CaseError, OSError) as exc:
            self.relocate_result.setText(f"Not relocated: {one_line(str(exc))}")
            return
        self.evidence_overrides.pop(ref.sha256, None)
        self.case_states[ref.sha256] = "ok"
        self.relocate_result.setText(f"Relocated to {ref.path} (SHA-256 verified).")
        self._case_changed()

    def _on_relocate_finished(self) -> None:
        self._relocating = None
        self._update_relocate_button()

    def _on_evidence_activated(self, index: QModelIndex) -> None:
        if not index.isValid() or self.case_file is None:
            return
        ref = self.evidence_model.item(index.row())
        for tab in self._tabs_by_token.values():
            if self.tab_evidence_sha256(tab) == ref.sha256:
                self.tabs.setCurrentWidget(tab)
                return

    # -- key slots, audit ------------------------------------------------------------------------
    def show_key_slots(self) -> KeySlotsDialog | None:
        if self.case_file is None:
            return None
        dialog = KeySlotsDialog(self.case_file, self, kdf=self.case_kdf)
        dialog.sig_changed.connect(self._case_changed)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.key_slots_dialog = dialog
        return dialog

    def verify_audit(self) -> list[str]:
        """Check the audit trail's hash chain; the problems (none: an intact trail) are shown."""
        if self.case_file is None:
            return []
        problems = self.case_file.case.audit.verify()
        n = len(self.case_file.case.audit)
        self.audit_result.setText(f"✔ {n} events, hash chain intact" if not problems else
                                  "✘ " + "; ".join(problems))
        self.audit_result.setStyleSheet("color: #1e963c" if not problems else "color: #d22828")
        return problems

    # -- state -----------------------------------------------------------------------------------
    def _set_case(self, cf: CaseFile | None) -> None:
        self.case_file = cf
        self.case_dirty = False
        self.case_states = {}
        if cf is None:
            self.evidence_overrides = {}
            for tab in self._tabs_by_token.values():
                tab.case_sha256 = None
        self.findings_panel.set_review_lookup(self._review_lookup if cf is not None else None)
        self.audit_result.clear()
        self.review.show_record(None, None)
        self._refresh_case_views()

    def _case_changed(self) -> None:
        self.case_dirty = True
        self._refresh_case_views()
        self.findings_panel.refresh_review()

    def _review_lookup(self, finding: Finding) -> tuple[str, str] | None:
        """(status, severity) of ``finding`` of the current tab in the open case; None when not in it."""
        cf = self.case_file
        sha = self.tab_evidence_sha256(self.tab)
        if cf is None or sha is None:
            return None
        try:
            review = cf.case.finding(finding.id, sha).review
        except KeyError:
            return None
        return review.status, review.severity

    def _refresh_case_views(self) -> None:
        cf = self.case_file
        selected = self.evidence_view.currentIndex().row()
        self.evidence_model.set_evidence(list(cf.case.evidence) if cf else [], self.case_states)
        if 0 <= selected < self.evidence_model.rowCount():  # a reset model forgets the selection
            self.evidence_view.selectRow(selected)
        self.case_bookmarks_model.set_bookmarks(cf)
        self.audit_model.set_case(cf)
        if cf is not None:
            self.audit_view.scrollToBottom()
            for view in (self.evidence_view, self.case_bookmarks_view, self.audit_view):
                view.resizeColumnsToContents()
        self._update_case_ui()
        self._update_relocate_button()

    def _update_case_ui(self) -> None:
        cf = self.case_file
        for act in (self.action_save_case, self.action_save_case_as, self.action_close_case, self.action_add_evidence,
                    self.action_verify_evidence, self.action_key_slots):
            act.setEnabled(cf is not None)
        self.audit_verify_button.setEnabled(cf is not None)
        if cf is None:
            self.case_info.setText("No case open: Case ▸ New case… (Ctrl+Alt+N) or Open case… (Ctrl+Alt+O)")
            self.case_dock.setWindowTitle("Case")
        else:
            star = " — unsaved changes" if self.case_dirty else ""
            recovered = " (recovered from the autosave)" if cf.recovered else ""
            number = f" #{cf.case.number}" if cf.case.number else ""
            self.case_info.setText(f"<b>{cf.case.name}</b>{number} — {cf.path}{recovered}{star}<br>"
                                   f"examiner: {cf.case.examiner or '—'}; you are: {cf.author}; "
                                   f"{len(cf.case.evidence)} evidence, {len(cf.case.findings)} findings, "
                                   f"{len(cf.case.bookmarks)} bookmarks")
            self.case_dock.setWindowTitle(f"Case: {cf.case.name}{' *' if self.case_dirty else ''}")
        self._update_title()

    def _case_error(self, title: str, text: str) -> None:
        self.last_error = one_line(text)
        box = QMessageBox(QMessageBox.Icon.Warning, title, self.last_error, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("case-error")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
