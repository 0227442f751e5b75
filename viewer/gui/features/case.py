"""The window's case: a Case menu, the Review and Case docks, autosave and recovery.

* New / Open / Save / Save As / Close case, Add the current dump, Key slots, Verify evidence, Examiner name
  (QSettings ``examiner/name``, used as the author of every change).
* Unlocking: the OS keyring when it works; otherwise (KeyringUnavailable, KeyringEntryMissing, no keyring
  slot) a passphrase is asked for, with the reason shown. A wrong passphrase is a one-line message.
* Opening a case opens its evidence files as tabs (paths relative to the case file resolved) and shows
  their findings as stored in the case (no re-scan); a scan finished in the window is merged into the
  case by the session when its dump is part of the case.
* The Review dock edits the selected finding's status, severity, tags and comments (``annotate``); the
  Case dock lists the evidence with its verification state (re-hashed in workers on open), the case's
  bookmarks (double-click jumps) and the audit trail with a Verify button.
* Autosave: every :data:`AUTOSAVE_MS` while there are unsaved changes, to ``<case>.recovery``; on open
  an existing recovery file is offered. Closing the window with unsaved changes autosaves them (the
  recovery file is offered next time) instead of asking.
* While a job holds the case still (:attr:`Session.case_hold`: an export reads it on another thread) the
  case actions and the Review dock are disabled and closing the case is refused.

Unlocking (one Argon2id derivation, ~0.5 s with the default parameters; a keyring call up to its
timeout) runs in a worker while a local event loop keeps the window painting (:meth:`CaseController._unlock`).
Hashing evidence (seconds for big dumps) runs in workers, one per evidence file
(:func:`viewer.workspace.session.evidence_file_state`).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, QModelIndex, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
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
    WrongPassphrase,
    create_case,
    has_recovery,
    open_case,
)
from viewer.case.model import EvidenceRef, _stored_path
from viewer.gui.case_forms import NewCaseDialog, ask_passphrase
from viewer.gui.case_panels import (
    AuditModel,
    BookmarksModel,
    EvidenceModel,
    KeySlotsDialog,
    ReviewPanel,
)
from viewer.gui.features.base import Feature, Host
from viewer.gui.plain import PlainLabel, ask, ask_text, esc, message_box, rich_label
from viewer.gui.table_view import table_view
from viewer.gui.task_worker import TaskWorker, one_line
from viewer.scan.finding import Finding
from viewer.workspace.case_form import NewCaseForm
from viewer.workspace.session import UNTRUSTED_STATES, evidence_file_state

SETTINGS_EXAMINER = "examiner/name"
AUTOSAVE_MS = 60_000
CASE_FILTER = "Evidence Viewer cases (*.evcase);;All files (*)"
NO_CASE = "No case open: Case ▸ New case… (Ctrl+Alt+N) or Open case… (Ctrl+Alt+O)"


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


def _attempt(_state: Any, fn: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    """``fn()``'s value or its exception, as a value: the caller re-raises it on the GUI thread, so the
    exception's type still decides what the window does (ask for a passphrase, or give up)."""
    try:
        return fn(), None
    except Exception as exc:  # noqa: BLE001 - handed to the GUI thread, which re-raises it
        return None, exc


class CaseController(Feature):
    """Everything about the open case (the case itself is the session's :attr:`Session.case`)."""

    def __init__(self, host: Host):
        super().__init__(host)
        self.case_kdf: dict[str, Any] | None = None  # Argon2id parameters for new passphrase slots (tests: TEST_KDF)
        self._verify_workers: list[TaskWorker] = []
        self._verify_generation = 0
        self._relocating: tuple[TaskWorker, EvidenceRef, str] | None = None
        self.key_slots_dialog: KeySlotsDialog | None = None
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave_case)
        self.autosave_timer.start()
        self._build_docks()
        self._build_menu()
        session = self.session
        session.events.case_changed.connect(lambda _cf: self._on_case_changed())
        session.events.case_edited.connect(self._refresh)
        session.events.case_hold_changed.connect(self._on_hold_changed)
        session.events.evidence_state_changed.connect(lambda _sha, _state: self._refresh())
        session.events.finding_selected.connect(self._review_finding)
        session.events.current_changed.connect(lambda _od: self._review_finding(None))
        self._refresh()

    # -- construction ----------------------------------------------------------------------------
    def _build_docks(self) -> None:
        host = self.host
        self.review = ReviewPanel()
        self.review.setObjectName("review-panel")
        self.review.history = self.session.reviews  # status, severity, tags: undoable (Edit ▸ Undo)
        self.review.sig_changed.connect(self.session.mark_dirty)
        self.review_dock = host.add_dock("Review", "review-dock", self.review, Qt.DockWidgetArea.RightDockWidgetArea,
                                         toggle_shortcut="Alt+8", height=280)

        self.evidence_model = EvidenceModel(self)
        self.bookmarks_model = BookmarksModel(self)
        self.audit_model = AuditModel(self)
        self.evidence_view = table_view(self.evidence_model, "case-evidence")
        self.evidence_view.doubleClicked.connect(self._on_evidence_activated)
        self.bookmarks_view = table_view(self.bookmarks_model, "case-bookmarks")
        self.bookmarks_view.doubleClicked.connect(self._on_bookmark_activated)
        self.audit_view = table_view(self.audit_model, "case-audit")
        self.audit_verify_button = QPushButton("Verify the audit trail")
        self.audit_verify_button.clicked.connect(self.verify_audit)
        self.audit_result = PlainLabel()
        self.audit_result.setObjectName("audit-result")
        self.audit_result.setWordWrap(True)
        self.audit_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        audit_box = table_with_action(self.audit_view, self.audit_verify_button, self.audit_result)
        self.info = rich_label(NO_CASE)  # case name, path, examiner: escaped (esc)
        self.info.setObjectName("case-info")
        self.info.setWordWrap(True)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.relocate_button = QPushButton("Relocate…")
        self.relocate_button.setObjectName("case-relocate")
        self.relocate_button.setToolTip("Point a missing or moved evidence item at its file: the file is hashed "
                                        "and accepted only with the evidence's SHA-256")
        self.relocate_button.clicked.connect(self._ask_relocate)
        self.relocate_result = PlainLabel()
        self.relocate_result.setObjectName("relocate-result")
        self.relocate_result.setWordWrap(True)
        evidence_box = table_with_action(self.evidence_view, self.relocate_button, self.relocate_result)
        self.evidence_view.selectionModel().currentRowChanged.connect(lambda *_: self._update_relocate_button())
        self.tabs.addTab(evidence_box, "Evidence")
        self.tabs.addTab(self.bookmarks_view, "Bookmarks")
        self.tabs.addTab(audit_box, "Audit trail")
        box = QWidget()
        lay = QVBoxLayout(box)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.info)
        lay.addWidget(self.tabs, 1)
        self.dock = host.add_dock("Case", "case-dock", box, Qt.DockWidgetArea.BottomDockWidgetArea,
                                  toggle_shortcut="Alt+9", tab_with="findings-dock")

    def _build_menu(self) -> None:
        host = self.host
        menu = self.menu = host.add_menu("case", "&Case")
        self.action_new = host.add_action(menu, "&New case…", self._ask_new_case, "Ctrl+Alt+N")
        self.action_open = host.add_action(menu, "&Open case…", self._ask_open_case, "Ctrl+Alt+O")
        self.action_save = host.add_action(menu, "&Save case", self.save_case, "Ctrl+S")
        self.action_save_as = host.add_action(menu, "Save case &as…", self._ask_save_case_as, "Ctrl+Shift+S")
        self.action_close = host.add_action(menu, "&Close case", lambda: self.close_case(), "Ctrl+Alt+W")
        menu.addSeparator()
        self.action_add_evidence = host.add_action(menu, "Add the current dump as &evidence", self.add_current_dump,
                                                   "Ctrl+Alt+E")
        self.action_verify_evidence = host.add_action(menu, "&Verify evidence", self.verify_evidence, "Ctrl+Alt+V")
        self.action_key_slots = host.add_action(menu, "&Key slots…", self.show_key_slots, "Ctrl+Alt+K")
        self._examiner_separator = menu.addSeparator()
        self.action_examiner = host.add_action(menu, "E&xaminer name…", self._ask_examiner, "Ctrl+Alt+P",
                                               "Your name, recorded as the author of every change to a case")
        edit = host.menu("edit")
        first = edit.actions()[0] if edit.actions() else None
        self.action_undo = host.add_action(edit, "&Undo review change", self.undo_review, QKeySequence.StandardKey.Undo,
                                           "Set the last status, severity or tags change back (the trail keeps both)")
        self.action_redo = host.add_action(edit, "&Redo review change", self.redo_review, QKeySequence.StandardKey.Redo)
        if first is not None:  # Undo and Redo first in Edit, as everywhere
            for act in (self.action_undo, self.action_redo):
                edit.removeAction(act)
                edit.insertAction(first, act)
            edit.insertSeparator(first)

    def add_case_actions(self, actions: list[QAction]) -> None:
        """Another feature's actions on the case (export), in their own group above Examiner name…."""
        for act in actions:
            self.menu.insertAction(self._examiner_separator, act)
        self.menu.insertSeparator(actions[0])

    # -- the case ------------------------------------------------------------------------------------
    @property
    def case_file(self) -> CaseFile | None:
        return self.session.case

    def examiner_name(self) -> str:
        return str(self.host.settings.value(SETTINGS_EXAMINER, "") or "")

    def set_examiner_name(self, name: str) -> None:
        self.host.settings.setValue(SETTINGS_EXAMINER, name.strip())
        if self.session.case is not None and name.strip():
            from viewer.case import make_author

            self.session.case.author = make_author(name)

    def _ask_examiner(self) -> None:
        name, ok = ask_text(self.parent_widget, "Examiner", "Your name (the author of your changes to cases):",
                            self.examiner_name())
        if ok:
            self.set_examiner_name(name)

    # -- new, open, save, close ------------------------------------------------------------------
    def new_case_dialog(self) -> NewCaseDialog:
        """The New case form, filled with the examiner's name and offering the open dumps."""
        dialog = NewCaseDialog(self.session.dumps, self.examiner_name(), parent=self.parent_widget)
        dialog.accepted.connect(lambda: self.create_from_form(dialog.form()))
        dialog.finished.connect(lambda _r: dialog.deleteLater())
        return dialog

    def _ask_new_case(self) -> None:
        self.new_case_dialog().open()

    def create_from_form(self, form: NewCaseForm) -> bool:
        """Create the case the form describes and add the dumps it ticked (their bookmarks go with them)."""
        if form.examiner and form.examiner != self.examiner_name():
            self.set_examiner_name(form.examiner)
        if not self.new_case(form.case_path, form.name, passphrase=form.passphrase or None, number=form.number,
                             examiner=form.examiner, description=form.description):
            return False
        for token in form.evidence:
            od = self.session.by_token(token)
            if od is not None:
                try:
                    self.session.add_evidence(od)
                except (CaseError, OSError) as exc:
                    self._case_error("Cannot add the evidence", str(exc))
        return True

    def new_case(self, path: str | os.PathLike[str], name: str, *, passphrase: str | None = None,
                 use_keyring: bool = True, number: str = "", examiner: str | None = None,
                 description: str = "") -> bool:
        """Create a case (keyring slot when it works, plus a passphrase slot when given); True when created."""
        if not self.close_case():
            return False
        examiner = examiner if examiner else self.examiner_name()
        try:
            cf = create_case(path, name, examiner, number=number, description=description, passphrase=passphrase,
                             use_keyring=use_keyring, author_name=examiner or None, kdf=self.case_kdf)
        except CaseError as exc:
            self._case_error("Cannot create the case", str(exc))
            return False
        self.session.set_case(cf)
        for warning in cf.warnings:
            self.status(one_line(warning), 10_000)
        return True

    def _ask_open_case(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.parent_widget, "Open case", "", CASE_FILTER)
        if path:
            self.open_case(path)

    def open_case(self, path: str | os.PathLike[str], *, passphrase: str | None = None, use_keyring: bool = True,
                  recover: bool | None = None, ask: bool = True,
                  evidence_overrides: dict[str, Path] | None = None) -> bool:
        """Open a case, its evidence as tabs and its findings; True when it opened.

        Without ``passphrase`` the keyring is tried (when ``use_keyring``); if it cannot open the case and
        ``ask`` is True a passphrase is asked for with the reason. ``recover``: None asks whether to open
        the autosaved state when there is one, True/False decide without asking. ``evidence_overrides``:
        where evidence files are when not where the case says (a bundle extracted elsewhere).
        """
        if not self.close_case():
            return False
        path = Path(path)
        if recover is None and has_recovery(path):
            answer = ask(
                self.parent_widget, "Recover the case?",
                f"{path.name} has unsaved changes from an earlier session (autosaved). Open them?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes)
            recover = answer == QMessageBox.StandardButton.Yes
        author = self.examiner_name() or None
        typed = False
        while True:
            try:
                cf = self._unlock(functools.partial(open_case, path, passphrase=passphrase,
                                                    use_keyring=use_keyring and passphrase is None,
                                                    prefer_recovery=bool(recover), author_name=author),
                                  f"unlocking {path.name}…")
                break
            except (KeyringUnavailable, KeyringEntryMissing, PassphraseRequired, WrongPassphrase) as exc:
                if isinstance(exc, WrongPassphrase) and not typed:  # the caller's passphrase: its error
                    self._case_error("Cannot open the case", str(exc))
                    return False
                if not ask:
                    self._case_error("Cannot open the case", str(exc))
                    return False
                reason = (f"Wrong passphrase for {path.name}: try again." if isinstance(exc, WrongPassphrase)
                          else one_line(str(exc)))
                text = ask_passphrase(self.parent_widget, reason)
                if text is None:
                    return False
                passphrase, typed = text, True  # a typo is asked again, not the end of the open
            except CaseError as exc:
                self._case_error("Cannot open the case", str(exc))
                return False
        self.session.set_case(cf)
        self.session.evidence_overrides = dict(evidence_overrides or {})
        if cf.recovered:
            self.session.mark_dirty()  # the recovered state is not in the case file yet
        self._open_case_evidence()
        return True

    def _unlock(self, fn: Callable[[], Any], text: str) -> Any:
        """``fn()`` (opening a case: an Argon2id derivation, a keyring call that may wait up to its
        timeout) in a worker, while a local event loop keeps the window painting; the window takes no
        input meanwhile, as under a modal dialog. Returns its value or raises its exception, as a direct
        call would: the callers stay simple and synchronous."""
        worker = TaskWorker(_attempt, fn, what="unlocking the case")
        loop = QEventLoop()
        worker.signals.sig_finished.connect(loop.quit, Qt.ConnectionType.QueuedConnection)
        window = self.parent_widget
        was_enabled = window.isEnabled()
        window.setEnabled(False)
        self.status(text)
        try:
            self.start(worker)
            loop.exec()  # sig_finished is queued: it arrives here even when the job was quicker than this line
        finally:
            window.setEnabled(was_enabled)
            self.host.statusBar().clearMessage()
        value, error = worker.result if worker.result is not None else (None, RuntimeError("unlocking failed"))
        if error is not None:
            raise error
        return value

    def save_case(self) -> bool:
        cf = self.session.case
        if cf is None:
            return False
        try:
            cf.save()
        except (CaseError, OSError) as exc:
            self._case_error("Cannot save the case", str(exc))
            return False
        self.session.mark_saved()
        self.status(f"Case saved to {cf.path}", 5000)
        return True

    def _ask_save_case_as(self) -> None:
        if self.session.case is None:
            return
        path, _ = QFileDialog.getSaveFileName(self.parent_widget, "Save case as", str(self.session.case.path),
                                              CASE_FILTER)
        if path:
            self.save_case_as(path if path.endswith(".evcase") else path + ".evcase")

    def save_case_as(self, path: str | os.PathLike[str]) -> bool:
        """Save under a new name; relative evidence paths are rewritten for the new folder."""
        cf = self.session.case
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
        leaves them in the recovery file. False when the examiner cancelled, or while a job holds the case."""
        cf = self.session.case
        if cf is None:
            return True
        if self.session.case_hold is not None:
            self.host.last_error = "an export of the case is running: wait for it to finish"
            self.status(self.host.last_error, 5000)
            return False
        if self.session.case_dirty:
            if save is None:
                answer = ask(
                    self.parent_widget, "Unsaved case", f"Save the changes to {cf.case.name}?",
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
        self.session.set_case(None)
        return True

    def autosave_case(self) -> None:
        """Write unsaved changes to the recovery file (the timer, and closing the window)."""
        cf = self.session.case
        if cf is not None and self.session.case_dirty and self.session.case_hold is None:
            try:
                cf.autosave()
            except (CaseError, OSError) as exc:
                self.status(f"autosave failed: {one_line(str(exc))}", 10_000)
            else:
                self.status("Case autosaved", 3000)

    def shutdown(self) -> None:
        self.autosave_case()  # unsaved case changes go to the recovery file, offered at the next open
        self._stop_verify()
        self.autosave_timer.stop()
        super().shutdown()

    # -- evidence --------------------------------------------------------------------------------
    def add_current_dump(self) -> bool:
        """Add the current dump to the case (hashes it); its findings so far are merged."""
        od, cf = self.session.current, self.session.case
        if od is None or cf is None:
            self.status("Open a case and a dump first", 5000)
            return False
        try:
            self.session.add_evidence(od)
        except CaseError as exc:
            self._case_error("Cannot add the evidence", str(exc))
            return False
        return True

    def _open_case_evidence(self) -> None:
        """Open each evidence file (unless already open) as a tab with the case's findings; then verify."""
        cf = self.session.case
        assert cf is not None
        problems = []
        for ref in cf.case.evidence:
            path = self.session.evidence_path(ref)
            od = self.session.find_path(path, ref.member) if path.exists() else None
            if od is None:
                if not path.is_file():
                    problems.append(f"{ref.path}: missing")
                    continue
                error = self.host.load(path)
                if error is not None:
                    problems.append(error)
                    continue
                od = self.session.find_path(path, ref.member) if ref.member is not None else self.session.current
                if od is None:
                    problems.append(f"{ref.path}: no dump {ref.member} in it")
                    continue
            assert od is not None
            self.session.link_evidence(od, ref)
        if problems:
            self.status("; ".join(problems), 10_000)
        self.verify_evidence()

    def verify_evidence(self) -> None:
        """Re-hash every evidence file in workers; states appear in the Case dock as they come."""
        cf = self.session.case
        if cf is None:
            return
        self._stop_verify()
        self._verify_generation += 1
        generation = self._verify_generation
        # one worker per file: several dumps of one file (a ZIP of dumps) share its hash and its state
        items = list(dict.fromkeys((ref.sha256, str(self.session.evidence_path(ref))) for ref in cf.case.evidence))
        for sha, _ in items:
            self.session.evidence_states[sha] = "checking…"
        self._refresh()
        for sha, path in items:
            worker = TaskWorker(evidence_file_state, sha, path, what=f"verifying {Path(path).name}")
            self._verify_workers.append(worker)
            self.start(worker, done=lambda state, s=sha, g=generation: self._on_verified(g, s, state),
                       failed=lambda _line, s=sha, g=generation: self._on_verified(g, s, "unreadable"),
                       finished=lambda w=worker: self._verify_workers.remove(w) if w in self._verify_workers else None)

    def _on_verified(self, generation: int, sha: str, state: str) -> None:
        if generation == self._verify_generation:
            self.session.set_evidence_state(sha, state)
            if state != "ok":
                self.status(f"evidence {sha[:16]}…: {state}", 10_000)

    def _stop_verify(self) -> None:
        self._verify_generation += 1  # late results are dropped
        for worker in self._verify_workers:
            worker.cancel()
        self._verify_workers = []

    def verification_idle(self) -> bool:
        return not self._verify_workers

    # -- review, bookmarks -----------------------------------------------------------------------
    def undo_review(self) -> bool:
        """Set the last review step back (as new audit events); True when there was one."""
        return self._step(self.session.reviews.undo)

    def redo_review(self) -> bool:
        return self._step(self.session.reviews.redo)

    def _step(self, fn: Callable[[Any], Any]) -> bool:
        cf = self.session.case
        if cf is None or self.session.case_hold is not None:
            return False
        try:
            step = fn(cf)
        except (CaseError, ValueError, KeyError) as exc:
            self._case_error("Review", str(exc))
            return False
        if step is None:
            return False
        self.status(f"{'Undone' if fn == self.session.reviews.undo else 'Redone'}: {step.text}", 5000)
        self.session.mark_dirty()
        self._review_finding(self.session.finding)
        return True

    def _update_undo(self) -> None:
        reviews, ok = self.session.reviews, self.session.case is not None and self.session.case_hold is None
        self.action_undo.setEnabled(ok and reviews.can_undo())
        self.action_redo.setEnabled(ok and reviews.can_redo())
        self.action_undo.setText(f"&Undo {reviews.undo_text()}" if reviews.can_undo() else "&Undo review change")
        self.action_redo.setText(f"&Redo {reviews.redo_text()}" if reviews.can_redo() else "&Redo review change")

    def _review_finding(self, finding: Finding | None) -> None:
        if finding is None:
            self.review.show_record(None, None)
            return
        record, why = self.session.case_record(self.session.current, finding)
        self.review.show_record(self.session.case if record is not None else None, record, why)

    def _on_bookmark_activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.go_to_case_bookmark(index.row())

    def go_to_case_bookmark(self, row: int) -> bool:
        """Show the bookmark's evidence tab and select its bytes; False when that evidence is not open."""
        mark = self.bookmarks_model.item(row)
        od = self.session.dump_of_evidence(mark.evidence_sha256)
        if od is None:
            self.status(f"the evidence of bookmark {mark.name!r} is not open", 5000)
            return False
        self.host.show_dump(od.token)
        self.host.select(mark.offset, mark.length)
        return True

    def _on_evidence_activated(self, index: QModelIndex) -> None:
        if not index.isValid() or self.session.case is None:
            return
        od = self.session.dump_of_evidence(self.evidence_model.item(index.row()).sha256)
        if od is not None:
            self.host.show_dump(od.token)

    # -- relocating evidence ----------------------------------------------------------------------
    def _selected_evidence(self) -> EvidenceRef | None:
        row = self.evidence_view.currentIndex().row()
        if self.session.case is None or row < 0 or row >= self.evidence_model.rowCount():
            return None
        return self.evidence_model.item(row)

    def _update_relocate_button(self) -> None:
        ref = self._selected_evidence()
        self.relocate_button.setEnabled(ref is not None and self._relocating is None
                                        and self.session.case_hold is None  # an export reads the case meanwhile
                                        and self.session.evidence_states.get(ref.sha256) in UNTRUSTED_STATES)

    def _ask_relocate(self) -> None:
        ref = self._selected_evidence()
        if ref is None:
            return
        path, _ = QFileDialog.getOpenFileName(self.parent_widget, f"Where is {Path(ref.path).name} now?",
                                              str(self.session.evidence_path(ref).parent), "All files (*)")
        if path:
            self.relocate_evidence(ref, path)

    def relocate_evidence(self, ref: EvidenceRef, path: str | os.PathLike[str]) -> bool:
        """Hash ``path`` in a worker; when it has ``ref``'s SHA-256, the case points at it (an audit event).
        False when no check started (one is running, no case, or the case is held). Wait for
        :meth:`relocation_idle`."""
        if self.session.case is None or self._relocating is not None or self.session.case_hold is not None:
            return False
        worker = TaskWorker(evidence_file_state, ref.sha256, str(path), what=f"checking {Path(path).name}")
        self._relocating = (worker, ref, str(path))
        self.relocate_result.setText(f"checking {Path(path).name}…")
        self._update_relocate_button()
        self.start(worker, done=self._on_relocate_checked, failed=lambda _line: self._on_relocate_checked("unreadable"),
                   finished=self._on_relocate_finished)
        return True

    def relocation_idle(self) -> bool:
        return self._relocating is None

    def _on_relocate_checked(self, state: str) -> None:
        cf = self.session.case
        if self._relocating is None or cf is None:
            return
        _worker, ref, path = self._relocating
        if state != "ok":
            why = "has another SHA-256" if state == "changed" else state
            self.relocate_result.setText(f"Not relocated: {Path(path).name} {why}; it is not this evidence.")
            return
        try:
            cf.relocate(ref, path, actual_sha256=ref.sha256)
        except (CaseError, OSError) as exc:
            self.relocate_result.setText(f"Not relocated: {one_line(str(exc))}")
            return
        self.session.evidence_overrides.pop(ref.sha256, None)
        self.session.evidence_states[ref.sha256] = "ok"
        self.relocate_result.setText(f"Relocated to {ref.path} (SHA-256 verified).")
        self.session.mark_dirty()

    def _on_relocate_finished(self) -> None:
        self._relocating = None
        self._update_relocate_button()

    # -- key slots, audit ------------------------------------------------------------------------
    def show_key_slots(self) -> KeySlotsDialog | None:
        if self.session.case is None:
            return None
        dialog = KeySlotsDialog(self.session.case, self.parent_widget, kdf=self.case_kdf)
        dialog.sig_changed.connect(self.session.mark_dirty)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.key_slots_dialog = dialog
        return dialog

    def verify_audit(self) -> list[str]:
        """Check the audit trail's hash chain; the problems (none: an intact trail) are shown."""
        cf = self.session.case
        if cf is None:
            return []
        problems = cf.case.audit.verify()
        n = len(cf.case.audit)
        self.audit_result.setText(f"✔ {n} events, hash chain intact" if not problems else "✘ " + "; ".join(problems))
        self.audit_result.setStyleSheet("color: #1e963c" if not problems else "color: #d22828")
        return problems

    # -- following the session -------------------------------------------------------------------
    def _on_case_changed(self) -> None:
        self.audit_result.clear()
        self.review.show_record(None, None)
        self._refresh()

    def _on_hold_changed(self, job: str | None) -> None:
        if job is None:
            self.autosave_timer.start()
        else:
            self.autosave_timer.stop()  # autosave would serialise the case while the job uses it
        self._refresh()

    def _refresh(self) -> None:
        """The Case dock's tables, the actions and the title, from the session."""
        cf = self.session.case
        selected = self.evidence_view.currentIndex().row()
        self.evidence_model.set_evidence(list(cf.case.evidence) if cf else [], self.session.evidence_states)
        if 0 <= selected < self.evidence_model.rowCount():  # a reset model forgets the selection
            self.evidence_view.selectRow(selected)
        self.bookmarks_model.set_bookmarks(cf)
        self.audit_model.set_case(cf)
        if cf is not None:
            self.audit_view.scrollToBottom()
            for view in (self.evidence_view, self.bookmarks_view, self.audit_view):
                view.resizeColumnsToContents()
        self._update_actions()
        self._update_undo()
        self._update_relocate_button()
        self.host.update_title()

    def _update_actions(self) -> None:
        cf, held = self.session.case, self.session.case_hold is not None
        for act in (self.action_save, self.action_save_as, self.action_close, self.action_add_evidence,
                    self.action_key_slots):
            act.setEnabled(cf is not None and not held)
        self.action_verify_evidence.setEnabled(cf is not None)
        for act in (self.action_new, self.action_open):
            act.setEnabled(not held)
        self.review.setEnabled(not held)
        self.audit_verify_button.setEnabled(cf is not None)
        if cf is None:
            self.info.setText(NO_CASE)
            self.dock.setWindowTitle("Case")
            return
        dirty = self.session.case_dirty
        star = " — unsaved changes" if dirty else ""
        recovered = " (recovered from the autosave)" if cf.recovered else ""
        number = f" #{cf.case.number}" if cf.case.number else ""
        self.info.setText(f"<b>{esc(cf.case.name)}</b>{esc(number)} — {esc(cf.path)}{recovered}{star}<br>"
                          f"examiner: {esc(cf.case.examiner or '—')}; you are: {esc(cf.author)}; "
                          f"{len(cf.case.evidence)} evidence, {len(cf.case.findings)} findings, "
                          f"{len(cf.case.bookmarks)} bookmarks")
        self.dock.setWindowTitle(f"Case: {cf.case.name}{' *' if dirty else ''}")

    def _case_error(self, title: str, text: str) -> None:
        self.host.last_error = one_line(text)
        box = message_box(QMessageBox.Icon.Warning, title, self.host.last_error, QMessageBox.StandardButton.Ok,
                          self.parent_widget, name="case-error")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()


__all__ = ["AUTOSAVE_MS", "CASE_FILTER", "SETTINGS_EXAMINER", "CaseController", "table_with_action"]
