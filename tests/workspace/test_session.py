"""The session model without Qt: open dumps, current dump, case, selection, findings, and the events it
emits — on the bundled sample dump and a real case file (cheap test KDF, passphrase slot only)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from viewer.case import TEST_KDF, create_case
from viewer.evidence import open_dump
from viewer.scan.finding import Finding
from viewer.tasks import TaskState
from viewer.workspace.events import EmitterGroup, EventEmitter
from viewer.workspace.session import Bookmark, Session, evidence_file_state

SAMPLE = REPO / "resources" / "sample" / "demo-keyholder.core"
PASS = "correct horse battery staple"


class Recorder:
    """Every event of a session, in order, as (name, args)."""

    def __init__(self, session: Session):
        self.seen: list[tuple[str, tuple]] = []
        for name in session.events.names:
            session.events[name].connect(lambda *args, n=name: self.seen.append((n, args)))

    def names(self) -> list[str]:
        return [n for n, _ in self.seen]


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    folder = tmp_path / "evidence"
    folder.mkdir()
    return Path(shutil.copy(SAMPLE, folder / SAMPLE.name))


@pytest.fixture
def session():
    s = Session()
    yield s
    for od in s.dumps:
        od.dump.close()


def finding(offset: int, length: int = 16) -> Finding:
    return Finding.from_json({"kind": "aes-key", "encoding": "raw", "offset": offset, "length": length,
                              "confidence": "high", "reasons": ["test"]})


def test_the_emitter_connects_once_disconnects_and_blocks():
    e = EventEmitter("x")
    got: list[int] = []
    cb = e.connect(got.append)
    e.connect(got.append)
    e.emit(1)
    with e.blocked():
        e.emit(2)
    e.disconnect(cb)
    e.emit(3)
    assert got == [1] and len(e) == 0
    group = EmitterGroup("a", "b")
    group.a.connect(got.append)
    group["b"].connect(got.append)
    group.a.emit(4)
    group.disconnect_all()
    group.b.emit(5)
    assert got == [1, 4]
    with pytest.raises(KeyError):
        group["c"]


def test_dumps_current_and_removal_emit_in_order(session, evidence):
    rec = Recorder(session)
    a = session.add_dump(open_dump(evidence))
    b = session.add_dump(open_dump(SAMPLE))
    assert [od.token for od in session.dumps] == [a.token, b.token] and a.token != b.token
    session.set_current(a)
    session.set_current(a)  # no change, no event
    assert session.current is a and session.find_path(evidence) is a and session.by_token(b.token) is b
    session.remove_dump(a)
    a.dump.close()
    assert session.current is None and session.dumps == [b]
    assert rec.names() == ["dump_added", "dump_added", "current_changed", "dump_removed", "current_changed"]


def test_selection_findings_bookmarks_without_a_case(session, evidence):
    od = session.add_dump(open_dump(evidence))
    session.set_current(od)
    rec = Recorder(session)
    session.select(0x40, 16)
    session.select(0x40, 16)  # unchanged: no event
    assert od.selection == (0x40, 16) and rec.seen == [("selection_changed", (od, 0x40, 16))]
    session.add_findings(od, [finding(0)])
    session.set_findings(od, [finding(0x100)], result="the result")
    assert [f.offset for f in od.findings] == [0x100] and od.scan_result == "the result"
    session.add_bookmark(od, Bookmark("b", 8, 4))
    session.set_search_hits(od, [(1, 2)])
    session.set_field(od, (0, 8, "header"))
    assert od.bookmarks[0].colour.startswith("#") and od.search_hits == [(1, 2)]
    assert rec.names()[1:] == ["findings_added", "findings_changed", "bookmarks_changed", "highlights_changed",
                               "highlights_changed"]
    assert session.evidence_sha256(od) is None and not session.case_dirty  # no case: nothing recorded


def test_evidence_of_the_case_merge_bookmarks_and_reviews(session, evidence, tmp_path):
    cf = create_case(tmp_path / "c.evcase", "C", "Dana", passphrase=PASS, use_keyring=False, kdf=TEST_KDF)
    rec = Recorder(session)
    session.set_case(cf)
    od = session.add_dump(open_dump(evidence))
    session.set_current(od)
    record, why = session.case_record(od, finding(0))
    assert record is None and "not evidence" in why
    ref = session.add_evidence(od)
    assert session.evidence_sha256(od) == ref.sha256 and session.case_dirty
    session.mark_saved()
    assert not session.case_dirty

    class Result:  # what merge_scan reads of a ScanResult
        cancelled = False
        public_keys: list = []
        findings = [finding(0x200)]

    run = session.merge_scan(od, Result())
    assert run is not None and run.new == 1 and session.case_dirty
    assert session.review_of(od, finding(0x200)) == ("unreviewed", cf.case.finding(finding(0x200).id).review.severity)
    session.add_bookmark(od, Bookmark("mark", 0x40, 16, "#ff00ff00"))
    assert [(b.name, b.offset, b.colour) for b in cf.case.bookmarks] == [("mark", 0x40, "#ff00ff00")]
    assert session.dump_of_evidence(ref.sha256) is od

    # the same file opened again takes the case's bookmarks and findings
    again = session.add_dump(open_dump(evidence))
    session.link_evidence(again, ref)
    assert [b.name for b in again.bookmarks] == ["mark"] and [f.offset for f in again.findings] == [0x200]

    # changed evidence is not the evidence; closing the case forgets the links
    session.set_evidence_state(ref.sha256, "changed")
    assert session.evidence_sha256(od) is None and session.merge_scan(od, Result()) is None
    session.hold_case("bundle")
    assert session.case_hold == "bundle"
    session.hold_case(None)
    session.set_case(None)
    assert od.case_sha256 is None and session.evidence_states == {} and session.evidence_overrides == {}
    for name in ("case_changed", "case_edited", "evidence_state_changed", "case_hold_changed"):
        assert name in rec.names()


def test_evidence_paths_prefer_an_override(session, evidence, tmp_path):
    cf = create_case(tmp_path / "o.evcase", "O", "Dana", passphrase=PASS, use_keyring=False, kdf=TEST_KDF)
    ref = cf.add_evidence(evidence)
    session.set_case(cf)
    assert session.evidence_path(ref) == evidence.resolve()
    elsewhere = tmp_path / "extracted.core"
    session.evidence_overrides[ref.sha256] = elsewhere
    assert session.evidence_path(ref) == elsewhere


def test_evidence_file_state_hashes_with_progress_and_cancel(evidence, tmp_path):
    import hashlib

    sha = hashlib.sha256(evidence.read_bytes()).hexdigest()
    seen: list[tuple[int, int]] = []
    assert evidence_file_state(TaskState(on_progress=lambda d, t: seen.append((d, t))), sha, evidence) == "ok"
    assert seen and seen[-1] == (evidence.stat().st_size,) * 2
    assert evidence_file_state(TaskState(), "0" * 64, evidence) == "changed"
    assert evidence_file_state(TaskState(), sha, tmp_path / "gone") == "missing"
    state = TaskState()
    state.cancel()
    from viewer.tasks import TaskCancelled

    with pytest.raises(TaskCancelled):
        evidence_file_state(state, sha, evidence)


def test_the_session_knows_no_qt():
    assert "PySide6" not in sys.modules or all(
        "PySide6" not in line for line in (REPO / "viewer" / "workspace" / "session.py").read_text().splitlines())
