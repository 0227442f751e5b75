"""Editing a comment and relocating moved evidence from the window (the case model had both; the window
now has controls for them): real window, real case file, the demo core as evidence.
"""

from __future__ import annotations

import os
import shutil

from tests.gui.test_gui_case import (
    PASS,
    evidence,
    make_window,
    new_case_with_scan,
    select_first_finding,
    settings,
)
from viewer.case import open_case

__all__ = ["evidence", "settings"]  # fixtures used here by name


def test_edit_own_comment_keeps_the_old_text_in_the_audit_trail(qtbot, settings, tmp_path, evidence, shots):
    window = make_window(qtbot, settings)
    new_case_with_scan(window, qtbot, tmp_path / "c.evcase", evidence)
    select_first_finding(window, qtbot)
    review = window.cases.review
    assert not review.edit_button.isEnabled()  # no comment selected yet
    qtbot.keyClicks(review.comment_edit, "first thoughts")
    review.add_button.click()
    rec = review.record
    cf = window.session.case
    # a second comment from another examiner, who is not at this keyboard
    cf.annotate(rec.id, comment="a colleague's note", evidence_sha256=rec.evidence_sha256, author="Other Person (x)")
    review.show_record(cf, cf.case.finding(rec.id, rec.evidence_sha256))
    review.comments.setCurrentRow(1)
    assert not review.edit_button.isEnabled()
    assert not review.edit_comment(1, "rewritten by someone else")
    assert cf.case.finding(rec.id, rec.evidence_sha256).review.comments[1].text == "a colleague's note"
    review.comments.setCurrentRow(0)
    assert review.edit_button.isEnabled()
    assert review.edit_comment(0, "second thoughts: the key is the server's")
    c = cf.case.finding(rec.id, rec.evidence_sha256).review.comments[0]
    assert (c.text, c.edited) == ("second thoughts: the key is the server's", True) and c.edited_at
    ev = [e for e in cf.case.audit if e["type"] == "comment"][-1]
    assert (ev["data"]["action"], ev["data"]["old"], ev["data"]["index"]) == ("edited", "first thoughts", 0)
    assert "(edited)" in review.comments.item(0).text() and window.session.case_dirty
    assert not review.edit_comment(0, "second thoughts: the key is the server's")  # unchanged: no event
    assert [e for e in cf.case.audit if e["type"] == "comment"][-1] is ev
    window.cases.review_dock.raise_()
    qtbot.wait(100)
    assert review.grab().save(str(shots / "case-07-comment-edited.png"))
    window.close()


def test_relocate_moved_evidence_verifies_the_hash(qtbot, settings, tmp_path, evidence, shots):
    window = make_window(qtbot, settings)
    case_path = tmp_path / "r.evcase"
    new_case_with_scan(window, qtbot, case_path, evidence)
    assert window.cases.save_case()
    assert window.cases.close_case(save=False)
    moved = tmp_path / "elsewhere" / evidence.name
    moved.parent.mkdir()
    shutil.move(evidence, moved)
    impostor = tmp_path / "impostor.core"
    impostor.write_bytes(os.urandom(4096))
    assert window.cases.open_case(case_path, passphrase=PASS, use_keyring=False)
    qtbot.waitUntil(window.cases.verification_idle, timeout=30_000)
    ref = window.session.case.case.evidence[0]
    assert window.session.evidence_states[ref.sha256] == "missing"
    window.cases.dock.raise_()
    window.cases.tabs.setCurrentIndex(0)
    window.cases.evidence_view.selectRow(0)
    assert window.cases.relocate_button.isEnabled()

    assert window.cases.relocate_evidence(ref, impostor)
    qtbot.waitUntil(window.cases.relocation_idle, timeout=30_000)
    assert "Not relocated" in window.cases.relocate_result.text() and "another SHA-256" in window.cases.relocate_result.text()
    assert window.session.evidence_states[ref.sha256] == "missing" and ref.path == os.path.join("evidence", evidence.name)

    assert window.cases.relocate_evidence(ref, moved)
    qtbot.waitUntil(window.cases.relocation_idle, timeout=30_000)
    assert window.session.evidence_states[ref.sha256] == "ok" and "Relocated" in window.cases.relocate_result.text()
    assert ref.path == os.path.join("elsewhere", evidence.name)
    ev = [e for e in window.session.case.case.audit if e["type"] == "evidence-relocated"][-1]
    assert ev["data"]["to"] == ref.path and window.session.case_dirty
    assert not window.cases.relocate_button.isEnabled()  # nothing to relocate any more
    qtbot.wait(100)
    assert window.cases.dock.grab().save(str(shots / "case-08-relocated.png"))
    assert window.cases.save_case()
    reopened = open_case(case_path, passphrase=PASS, use_keyring=False)
    assert reopened.case.evidence[0].path == os.path.join("elsewhere", evidence.name)
    window.close()


def test_unlocking_a_case_keeps_the_window_painting(qtbot, settings, tmp_path):
    """Opening a case (a real Argon2id derivation: the default cost, ~0.1 s) runs on a pool thread while
    the window's event loop goes on — a 5 ms timer keeps firing during the call — and the window takes no
    input meanwhile; a wrong passphrase is still one clear error."""
    from PySide6.QtCore import QTimer

    from viewer.case import create_case

    path = tmp_path / "slow.evcase"
    create_case(path, "Slow", "Ann", passphrase=PASS, use_keyring=False)  # the default (OWASP) KDF cost
    window = make_window(qtbot, settings)
    ticks: list[bool] = []
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks.append(window.isEnabled()))
    timer.start()
    assert window.cases.open_case(path, passphrase=PASS, use_keyring=False)
    timer.stop()
    assert window.session.case is not None and window.session.case.case.name == "Slow"
    assert ticks and not any(ticks)  # the loop ran while unlocking, with the window disabled
    assert window.isEnabled()
    assert window.cases.close_case(save=False)
    assert not window.cases.open_case(path, passphrase="wrong", use_keyring=False, ask=False)
    assert window.session.case is None and window.isEnabled()
    assert "passphrase" in (window.last_error or "").lower()
    window.close()
