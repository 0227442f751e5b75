"""Bookmarks without a case: kept per evidence hash until a case takes them (issue 17), without Qt —
on the bundled sample dump and a real case file (cheap test KDF, passphrase slot only)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO
from viewer.case import TEST_KDF, create_case
from viewer.evidence import open_dump
from viewer.workspace.bookmark_store import PREFIX, MemoryStore, PendingBookmarks
from viewer.workspace.session import Bookmark, Session

SAMPLE = REPO / "resources" / "sample" / "demo-keyholder.core"
PASS = "correct horse battery staple"
SHA = hashlib.sha256(SAMPLE.read_bytes()).hexdigest()


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    folder = tmp_path / "evidence"
    folder.mkdir()
    return Path(shutil.copy(SAMPLE, folder / SAMPLE.name))


def test_the_store_keeps_checked_records_per_hash_and_refuses_what_is_not_one():
    store = MemoryStore()
    pending = PendingBookmarks(store)
    pending.save(SHA, [{"name": "a", "offset": 4, "length": 2, "colour": "#ff0000", "note": "n"},
                       {"name": "bad", "offset": -1, "length": 2}, "junk"])
    assert pending.load(SHA) == [{"name": "a", "offset": 4, "length": 2, "colour": "#ff0000", "note": "n"}]
    assert json.loads(store.data[PREFIX + SHA])[0]["name"] == "a"
    store.data[PREFIX + SHA] = "{not json"
    assert pending.load(SHA) == []
    pending.save(SHA, [])
    assert PREFIX + SHA not in store.data
    with pytest.raises(ValueError):
        pending.load("../../etc")


def test_a_bookmark_without_a_case_outlives_the_session_and_goes_to_a_case_made_later(evidence, tmp_path):
    store = MemoryStore()  # the window's QSettings, across "restarts"
    first = Session(PendingBookmarks(store))
    od = first.add_dump(open_dump(evidence))
    first.add_bookmark(od, Bookmark("before the hash", 0x40, 16))
    first.set_sha256(od, SHA)  # the hash arrives after the bookmark: it is kept now
    first.add_bookmark(od, Bookmark("after", 0x80, 8, note="look here"))
    od.dump.close()

    second = Session(PendingBookmarks(store))  # a restart
    again = second.add_dump(open_dump(evidence))
    seen: list[str] = []
    second.events.bookmarks_changed.connect(lambda o: seen.append("bookmarks"))
    second.set_sha256(again, SHA)
    assert [(b.name, b.offset, b.note) for b in again.bookmarks] == [("before the hash", 0x40, ""),
                                                                      ("after", 0x80, "look here")]
    assert seen == ["bookmarks"]

    cf = create_case(tmp_path / "c.evcase", "C", "Dana", passphrase=PASS, use_keyring=False, kdf=TEST_KDF)
    second.set_case(cf)
    second.add_evidence(again)
    assert [(b.name, b.offset, b.note) for b in cf.case.bookmarks] == [("before the hash", 0x40, ""),
                                                                        ("after", 0x80, "look here")]
    assert all(b.case_id for b in again.bookmarks) and second.case_dirty
    assert PREFIX + SHA not in store.data  # the case holds them now
    again.dump.close()


def test_rename_and_delete_reach_the_store_and_the_case(evidence, tmp_path):
    store = MemoryStore()
    session = Session(PendingBookmarks(store))
    od = session.add_dump(open_dump(evidence))
    session.set_sha256(od, SHA)
    a, b = Bookmark("a", 1, 1), Bookmark("b", 2, 1)
    session.add_bookmark(od, a)
    session.add_bookmark(od, b)
    session.update_bookmark(od, a, name="renamed", colour="#ff112233", note="why")
    session.remove_bookmark(od, b)
    assert [r["name"] for r in session.pending.load(SHA)] == ["renamed"]
    cf = create_case(tmp_path / "d.evcase", "D", "Dana", passphrase=PASS, use_keyring=False, kdf=TEST_KDF)
    session.set_case(cf)
    session.add_evidence(od)
    session.update_bookmark(od, a, name="in the case")
    assert [(m.name, m.note, m.colour) for m in cf.case.bookmarks] == [("in the case", "why", "#ff112233")]
    session.remove_bookmark(od, a)
    assert cf.case.bookmarks == [] and od.bookmarks == []
    actions = [e["data"]["action"] for e in cf.case.audit if e["type"] == "bookmark"]
    assert actions == ["added", "removed", "added", "removed"]  # renamed in the case: removed, added
    od.dump.close()
