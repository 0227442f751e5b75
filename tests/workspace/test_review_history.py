"""Undo and redo of review changes without Qt (issue 17): one step may cover many findings (all copies of a
key), an undo is one more attributed audit event, and a new change forgets what was undone — on a real
case file with the bundled sample as evidence."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import REPO
from viewer.case import TEST_KDF, create_case
from viewer.scan.finding import Finding
from viewer.workspace.review_history import ReviewHistory, changes_for

SAMPLE = REPO / "resources" / "sample" / "demo-keyholder.core"
PASS = "correct horse battery staple"


def finding(offset: int) -> Finding:
    return Finding.from_json({"kind": "aes-key", "encoding": "raw", "offset": offset, "length": 16,
                              "confidence": "high", "reasons": ["test"], "key_id": "k1"})


def test_a_step_over_two_copies_is_undone_and_redone_as_audit_events(tmp_path: Path):
    dump = Path(shutil.copy(SAMPLE, tmp_path / SAMPLE.name))
    cf = create_case(tmp_path / "h.evcase", "H", "Dana", passphrase=PASS, use_keyring=False, kdf=TEST_KDF)
    sha = cf.add_evidence(dump).sha256
    a, b = finding(0x100), finding(0x200)
    cf.merge_scan(sha, [a.to_json(), b.to_json()], {})
    history = ReviewHistory()
    targets = [(a.id, sha), (b.id, sha)]
    events = len(cf.case.audit.events)

    step = history.apply(cf, "status of 2 copies", targets, status="confirmed", tags=["prod", " "])
    assert step is not None and len(step.changes) == 4
    assert {cf.case.finding(i, sha).review.status for i, _ in targets} == {"confirmed"}
    assert cf.case.finding(a.id, sha).review.tags == ["prod"]
    assert history.can_undo() and not history.can_redo() and history.undo_text() == "status of 2 copies"
    assert changes_for(cf, targets, status="confirmed") == []  # nothing left to change
    assert history.apply(cf, "again", targets, status="confirmed") is None

    assert history.undo(cf) is step
    assert {cf.case.finding(i, sha).review.status for i, _ in targets} == {"unreviewed"}
    assert cf.case.finding(b.id, sha).review.tags == []
    assert history.can_redo() and not history.can_undo()
    assert len(cf.case.audit.events) == events + 8  # the undo is in the trail too, never erased

    assert history.redo(cf) is step
    assert cf.case.finding(b.id, sha).review.status == "confirmed"
    history.undo(cf)
    history.apply(cf, "severity", [(a.id, sha)], severity="high")
    assert not history.can_redo()  # a new step forgets the undone one
    assert history.undo(cf) is not None and history.undo(cf) is None
