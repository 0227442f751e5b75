"""The case in the window: new, add the open dump, scan, review, save, reopen, audit, key slots, evidence
verification — through the real widgets, on real files (passphrase slots with the cheap test KDF, no keyring).

Screenshots of the main case states go to ``EV_SCREENSHOTS`` (default: a temporary folder) as case-*.png.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QLineEdit, QMessageBox

from tests.builders.window import ini_settings, make_window
from tests.conftest import REPO
from viewer.case import open_case

SAMPLE = REPO / "resources" / "sample" / "demo-keyholder.core"
PASS = "correct horse battery staple"


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return ini_settings(tmp_path, "Dana Examiner")


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    """A copy of the sample next to where the case will be (relative paths in the case)."""
    folder = tmp_path / "evidence"
    folder.mkdir()
    return Path(shutil.copy(SAMPLE, folder / SAMPLE.name))


def new_case_with_scan(window, qtbot, case_path: Path, evidence: Path) -> None:
    assert window.cases.new_case(case_path, "Operation Demo", passphrase=PASS, use_keyring=False, number="42")
    assert window.load(evidence) is None
    assert window.cases.add_current_dump()
    assert window.scans.start_scan()
    qtbot.waitUntil(lambda: window.scans.idle(), timeout=120_000)


def select_first_finding(window, qtbot) -> None:
    window.findings_panel.group_box.setChecked(False)  # the flat table: rows are findings
    qtbot.waitUntil(lambda: bool(window.findings_panel.visible_findings()), timeout=10_000)
    window.findings_panel.select_row(0)
    qtbot.waitUntil(lambda: window.cases.review.record is not None, timeout=5000)


@pytest.mark.slow
def test_case_round_trip_through_the_window(qtbot, settings, tmp_path, evidence, shots):
    case_path = tmp_path / "demo.evcase"
    window = make_window(qtbot, settings)
    window.grab().save(str(shots / "case-01-no-case.png"))
    new_case_with_scan(window, qtbot, case_path, evidence)
    cf = window.session.case
    sha = window.session.current.case_sha256
    assert cf.case.evidence[0].path == os.path.join("evidence", SAMPLE.name)
    records = [r for r in cf.case.findings if r.evidence_sha256 == sha]
    assert records and len(records) == len(window.session.current.findings)
    assert [e["type"] for e in cf.case.audit][-2:] == ["evidence-added", "scan-run"]

    select_first_finding(window, qtbot)
    finding = window.findings_panel.visible_findings()[0]
    window.cases.review.status_combo.setCurrentText("confirmed")
    window.cases.review.severity_combo.setCurrentText("high")
    window.cases.review.tags_edit.setText("ssh, triage")
    window.cases.review.apply_tags()
    qtbot.keyClicks(window.cases.review.comment_edit, "key matches the server's host key")
    window.cases.review.add_button.click()
    rec = cf.case.finding(finding.id, sha)
    assert (rec.review.status, rec.review.severity, rec.review.tags) == ("confirmed", "high", ["ssh", "triage"])
    assert rec.review.comments[0].text == "key matches the server's host key"
    assert rec.review.comments[0].author.startswith("Dana Examiner (")
    assert window.cases.review.comments.count() == 1
    assert window.session.case_dirty and window.windowTitle().endswith("*")
    window.add_bookmark("interesting", 0x40, 16)
    assert window.cases.bookmarks_model.rowCount() == 1
    window.cases.review_dock.raise_()
    window.cases.dock.raise_()
    window.grab().save(str(shots / "case-02-review.png"))

    assert window.cases.save_case()
    assert not window.session.case_dirty
    window.close()

    again = make_window(qtbot, settings)
    try:
        assert again.cases.open_case(case_path, passphrase=PASS, use_keyring=False, recover=False)
        assert again.tabs.count() == 1 and again.tab.dump.path == evidence.resolve()
        assert {f.id for f in again.session.current.findings} == {r.id for r in records}  # from the case, no re-scan
        assert again.scans.idle()
        again.findings_panel.group_box.setChecked(False)
        shown = next(i for i, f in enumerate(again.findings_panel.visible_findings()) if f.id == finding.id)
        again.findings_panel.select_row(shown)
        qtbot.waitUntil(lambda: again.cases.review.record is not None and again.cases.review.record.id == finding.id, timeout=5000)
        assert again.cases.review.status_combo.currentText() == "confirmed"
        assert again.cases.review.severity_combo.currentText() == "high"
        assert again.cases.review.tags_edit.text() == "ssh, triage"
        assert "key matches the server's host key" in again.cases.review.comments.item(0).text()
        types = [again.cases.audit_model.index(r, 2).data() for r in range(again.cases.audit_model.rowCount())]
        for t in ("case-created", "evidence-added", "scan-run", "status-change", "comment", "bookmark"):
            assert t in types
        assert again.cases.verify_audit() == []
        assert "intact" in again.cases.audit_result.text()
        qtbot.waitUntil(again.cases.verification_idle, timeout=10_000)
        assert again.cases.evidence_model.state(0) == "ok"
        assert again.cases.bookmarks_model.rowCount() == 1
        assert [(b.name, b.offset, b.length) for b in again.session.current.bookmarks] == [("interesting", 0x40, 16)]
        assert "bookmark" in again.tab.legend_kinds()
        assert again.cases.go_to_case_bookmark(0)
        assert again.hex.selection() == (0x40, 16)
        again.cases.tabs.setCurrentIndex(2)
        again.cases.dock.raise_()
        again.grab().save(str(shots / "case-03-reopened-audit.png"))
    finally:
        again.close()


def test_a_wrong_passphrase_is_one_line_and_no_crash(qtbot, window, tmp_path, evidence, shots):
    case_path = tmp_path / "c.evcase"
    assert window.cases.new_case(case_path, "C", passphrase=PASS, use_keyring=False)
    assert window.cases.close_case(save=False)
    assert not window.cases.open_case(case_path, passphrase="wrong", use_keyring=False, recover=False)
    assert window.session.case is None
    assert window.last_error and "\n" not in window.last_error
    boxes = [w for w in window.findChildren(QMessageBox) if w.objectName() == "case-error"]
    assert boxes and boxes[-1].text() == window.last_error
    window.grab().save(str(shots / "case-04-wrong-passphrase.png"))
    boxes[-1].grab().save(str(shots / "case-04b-wrong-passphrase-box.png"))
    # no passphrase and no keyring, not allowed to ask: the reason, one line
    assert not window.cases.open_case(case_path, use_keyring=False, recover=False, ask=False)
    assert "passphrase" in window.last_error


def test_evidence_verification_shows_changed(qtbot, window, tmp_path, evidence, shots):
    case_path = tmp_path / "v.evcase"
    assert window.cases.new_case(case_path, "V", passphrase=PASS, use_keyring=False)
    assert window.load(evidence) is None
    assert window.cases.add_current_dump()
    assert window.cases.save_case()
    window.close_tab(0)
    window.cases.close_case(save=False)
    data = bytearray(evidence.read_bytes())
    data[-1] ^= 0xFF
    evidence.write_bytes(bytes(data))
    assert window.cases.open_case(case_path, passphrase=PASS, use_keyring=False, recover=False)
    qtbot.waitUntil(window.cases.verification_idle, timeout=10_000)
    assert window.cases.evidence_model.state(0) == "changed"
    assert window.session.evidence_sha256(window.session.current) is None  # findings of a changed file are not merged
    window.cases.dock.raise_()
    window.cases.tabs.setCurrentIndex(0)
    window.grab().save(str(shots / "case-05-evidence-changed.png"))
    evidence.unlink()
    window.cases.verify_evidence()
    qtbot.waitUntil(window.cases.verification_idle, timeout=10_000)
    assert window.cases.evidence_model.state(0) == "missing"


def test_key_slot_dialog_adds_a_passphrase_that_opens_the_case(qtbot, window, tmp_path, shots):
    case_path = tmp_path / "k.evcase"
    assert window.cases.new_case(case_path, "K", passphrase=PASS, use_keyring=False)
    dialog = window.cases.show_key_slots()
    assert dialog.list.count() == 1
    index = dialog.add_passphrase("second passphrase")
    assert index == 1 and dialog.list.count() == 2
    dialog.grab().save(str(shots / "case-06-key-slots.png"))
    assert not dialog.remove(0) or dialog.list.count() == 1
    dialog.close()
    assert window.cases.save_case()
    window.cases.close_case()
    cf = open_case(case_path, passphrase="second passphrase", use_keyring=False)
    assert [s["kind"] for s in cf.slots()] == ["passphrase"]
    assert any(e["type"] == "key-slot-change" for e in cf.case.audit)
    assert window.cases.open_case(case_path, passphrase="second passphrase", use_keyring=False, recover=False)


def test_last_slot_cannot_be_removed(qtbot, window, tmp_path):
    assert window.cases.new_case(tmp_path / "l.evcase", "L", passphrase=PASS, use_keyring=False)
    dialog = window.cases.show_key_slots()
    assert not dialog.remove(0)
    assert "last key slot" in dialog.message.text()
    dialog.close()


def test_autosave_and_recovery(qtbot, settings, tmp_path, evidence):
    case_path = tmp_path / "r.evcase"
    window = make_window(qtbot, settings)
    assert window.cases.new_case(case_path, "R", passphrase=PASS, use_keyring=False)
    assert window.load(evidence) is None
    assert window.cases.add_current_dump()
    window.cases.autosave_case()
    assert case_path.with_name(case_path.name + ".recovery").is_file()
    window.close()  # unsaved: stays in the recovery file
    again = make_window(qtbot, settings)
    try:
        assert again.cases.open_case(case_path, passphrase=PASS, use_keyring=False, recover=True)
        assert again.session.case.recovered and again.session.case_dirty
        assert len(again.session.case.case.evidence) == 1 and again.tabs.count() == 1
        assert again.cases.save_case()
        assert not case_path.with_name(case_path.name + ".recovery").exists()
    finally:
        again.close()


def test_save_as_keeps_evidence_paths_working(qtbot, window, tmp_path, evidence):
    assert window.cases.new_case(tmp_path / "a.evcase", "A", passphrase=PASS, use_keyring=False)
    assert window.load(evidence) is None
    assert window.cases.add_current_dump()
    (tmp_path / "elsewhere").mkdir()
    target = tmp_path / "elsewhere" / "b.evcase"
    assert window.cases.save_case_as(target)
    cf = open_case(target, passphrase=PASS, use_keyring=False)
    assert [s.state for s in cf.verify_evidence()] == ["ok"]


def test_case_models(qtmodeltester, qtbot, window, tmp_path, evidence):
    assert window.cases.new_case(tmp_path / "m.evcase", "M", passphrase=PASS, use_keyring=False)
    assert window.load(evidence) is None
    assert window.cases.add_current_dump()
    window.add_bookmark("b", 0, 8)
    for model in (window.cases.evidence_model, window.cases.bookmarks_model, window.cases.audit_model):
        assert model.rowCount() > 0
        qtmodeltester.check(model)




def answer_passphrase(typed: list[str]) -> list[tuple[str, object, str]]:
    """Type each of ``typed`` into the passphrase dialogs as they show (one each, in order); returns what
    each dialog said: its reason, the echo mode of its field, its title."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from viewer.gui.case_forms import PassphraseDialog

    seen: list[tuple[str, object, str]] = []
    left = list(typed)
    tries = [0]

    def poll() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, PassphraseDialog) and left:
            seen.append((box.reason.text(), box.edit.echoMode(), box.windowTitle()))
            box.edit.setText(left.pop(0))
            box.accept()
        if left and tries[0] < 1000:
            tries[0] += 1
            QTimer.singleShot(20, poll)

    QTimer.singleShot(0, poll)
    return seen


def test_a_wrong_typed_passphrase_asks_again_with_the_reason(qtbot, window, tmp_path, fail_keyring):
    """Issue 17: a typo in the passphrase prompt asks again (saying it was wrong), not the end of the open;
    the dialog is wide enough for its title."""
    case_path = tmp_path / "again.evcase"
    assert window.cases.new_case(case_path, "Again", passphrase=PASS, use_keyring=False)
    window.cases.close_case(save=False)
    asked = answer_passphrase(["typo", PASS])
    assert window.cases.open_case(case_path, recover=False)
    assert len(asked) == 2 and "wrong passphrase" in asked[1][0].lower()
    assert window.session.case is not None and window.session.case.case.name == "Again"
    from viewer.gui.case_forms import PassphraseDialog

    dialog = PassphraseDialog("why")
    qtbot.addWidget(dialog)
    assert dialog.minimumWidth() > dialog.fontMetrics().horizontalAdvance(dialog.windowTitle()) * 3


def test_no_keyring_asks_for_the_passphrase_with_the_reason(qtbot, window, tmp_path, monkeypatch, fail_keyring):
    case_path = tmp_path / "nk.evcase"
    assert window.cases.new_case(case_path, "NK", passphrase=PASS, use_keyring=True)  # keyring fails: passphrase only
    assert [s["kind"] for s in window.session.case.slots()] == ["passphrase"]
    assert window.session.case.warnings
    window.cases.close_case(save=False)
    asked = answer_passphrase([PASS])  # the real dialog, answered as the examiner would
    assert window.cases.open_case(case_path, recover=False)  # keyring first, then the passphrase asked for
    assert len(asked) == 1
    reason, echo, title = asked[0]
    assert "keyring" in reason.lower() or "passphrase" in reason.lower()
    assert echo == QLineEdit.EchoMode.Password and title == "Case passphrase"
    assert window.session.case.case.name == "NK"
