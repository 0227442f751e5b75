"""The audit trail: hash chain, and verify() naming deleted, reordered and edited events."""

from __future__ import annotations

import copy

import pytest

from viewer.case import TEST_KDF, create_case, open_case
from viewer.case.audit import GENESIS, AuditTrail, canonical_json, event_hash


def trail(n: int = 5) -> AuditTrail:
    t = AuditTrail()
    t.append("case-created", "Ann (ann)", {"id": "x"})
    for i in range(1, n):
        t.append("comment", "Ann (ann)", {"i": i, "text": f"note {i}"})
    return t


def test_chain_is_linked_and_hashed():
    t = trail()
    assert t.events[0]["prev"] == GENESIS
    for i, ev in enumerate(t.events):
        assert ev["seq"] == i
        assert set(ev) == {"seq", "time", "author", "type", "data", "prev", "hash"}
        assert ev["hash"] == event_hash(ev)
        assert ev["time"].endswith("Z")
        if i:
            assert ev["prev"] == t.events[i - 1]["hash"]
    assert t.verify() == []
    assert t.head == (4, t.events[-1]["hash"])
    assert AuditTrail.from_json(t.to_json()).verify() == []


def test_canonical_json_is_key_order_independent():
    assert canonical_json({"b": 1, "a": "é"}) == canonical_json({"a": "é", "b": 1}) == '{"a":"é","b":1}'.encode()


def test_append_refuses_unknown_type_and_missing_author():
    t = AuditTrail()
    with pytest.raises(ValueError, match="unknown audit event type"):
        t.append("coffee-break", "Ann")
    with pytest.raises(ValueError, match="author"):
        t.append("comment", "")


def test_event_data_is_a_detached_copy():
    data = {"tags": ["a"]}
    t = AuditTrail()
    t.append("status-change", "Ann", data)
    data["tags"].append("b")
    assert t.verify() == []


def test_deleted_event_is_named():
    t = trail()
    del t.events[2]
    problems = t.verify()
    assert any("event(s) 2 before event 3" in p and "deleted" in p for p in problems), problems


def test_deleted_first_event_is_named():
    t = trail()
    del t.events[0]
    problems = t.verify()
    assert any("event(s) 0" in p and "deleted" in p for p in problems), problems


def test_reordered_events_are_named():
    t = trail()
    t.events[1], t.events[2] = t.events[2], t.events[1]
    problems = t.verify()
    assert any("event 1 (comment): comes after event 2 (reordered)" in p for p in problems), problems
    assert not any("deleted)" in p for p in problems), problems


def test_edited_event_is_named():
    t = trail()
    t.events[3]["data"]["text"] = "something else"
    problems = t.verify()
    assert problems == ["event 3 (comment): content does not match its hash (edited)"]


def test_edited_author_and_time_are_detected():
    for key, value in (("author", "Mallory"), ("time", "2000-01-01T00:00:00.000Z"), ("type", "export")):
        t = trail()
        t.events[2][key] = value
        assert any("event 2" in p and "edited" in p for p in t.verify()), key


def test_edited_event_with_recomputed_hash_breaks_the_next_link():
    t = trail()
    t.events[2]["data"]["text"] = "rewritten"
    t.events[2]["hash"] = event_hash(t.events[2])
    problems = t.verify()
    assert any(p.startswith("event 3 (comment): its link does not match event 2") for p in problems), problems


def test_deleted_tail_is_detected_against_a_recorded_head():
    t = trail()
    head = t.head
    shorter = AuditTrail(copy.deepcopy(t.events[:-1]))
    assert shorter.verify() == []  # a shorter chain is consistent in itself
    assert shorter.verify(head=head) == ["event 4 (the recorded head) is missing (deleted)"]
    assert t.verify(head=head) == []


def test_case_operations_are_audited_and_survive_the_file(tmp_path):
    path = tmp_path / "a.evcase"
    cf = create_case(path, "Audit case", "Ann", passphrase="pw", use_keyring=False, kdf=TEST_KDF)
    cf.add_passphrase_slot("second", kdf=TEST_KDF)
    cf.record_export("report", "/tmp/report.html")
    cf.save()
    again = open_case(path, passphrase="second")
    types = [e["type"] for e in again.case.audit]
    assert types == ["case-created", "key-slot-change", "key-slot-change", "export"]
    assert all(e["author"] == cf.author for e in again.case.audit)
    assert again.case.audit.verify() == []


# -- hostile trails: verify() is linear in the events present, bounded in depth, and never raises ----
def run_bounded(code: str, timeout: float = 60, memory_mib: int = 400) -> str:
    """Run ``code`` in a child process with a memory limit (RLIMIT_AS) and a time limit; its stdout."""
    import resource
    import subprocess
    import sys
    from pathlib import Path

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_mib << 20, memory_mib << 20))

    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2],
                         capture_output=True, text=True, timeout=timeout, preexec_fn=limit)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_a_huge_sequence_gap_is_reported_in_constant_memory():
    out = run_bounded(
        "import time\n"
        "from tests.case.test_case_audit import trail\n"
        "from viewer.case.audit import event_hash\n"
        "t = trail(3)\n"
        "t.events[2]['seq'] = 10**10\n"
        "t.events[2]['hash'] = event_hash(t.events[2])\n"
        "s = time.monotonic()\n"
        "problems = t.verify()\n"
        "print(time.monotonic() - s)\n"
        "print(repr(problems))\n", timeout=30, memory_mib=600)
    seconds, problems = out.splitlines()
    assert float(seconds) < 1
    problems = eval(problems)  # noqa: S307 - our own child's repr of a list of str
    assert any("event(s) 2 to 9999999999" in p and "9999999998 events" in p and "deleted" in p for p in problems), problems


def test_gaps_around_reordered_events_are_found_without_walking_them():
    """0, N, 1, N+1, 2, ...: each jump spans many present events; verify stays fast and names what is
    missing (N-n .. N-1 and n .. N-1 are gone)."""
    import time

    t = trail(2)
    base = t.events[1]
    n, big = 2000, 10**6
    events = [t.events[0]]
    for i in range(1, n):
        for seq in (i, big + i):
            ev = {**base, "seq": seq}
            ev["hash"] = event_hash(ev)
            events.append(ev)
    start = time.monotonic()
    problems = AuditTrail(events).verify()
    assert time.monotonic() - start < 2
    assert len(problems) < 10 * len(events)


def test_deeply_nested_event_is_a_problem_not_an_exception():
    t = trail(3)
    deep: object = "x"
    for _ in range(100_000):
        deep = [deep]
    t.events[1]["data"] = {"nested": deep}
    problems = t.verify()
    assert any("event 1" in p and "nested deeper" in p for p in problems), problems


def test_junk_events_are_problems_not_exceptions():
    t = trail(4)
    t.events[1] = ["not", "a", "dict"]
    t.events[2]["data"] = {"x": {1, 2}}  # not JSON at all
    t.events[3]["seq"] = True
    problems = t.verify(head=(3, "x" * 64))
    assert any("position 1" in p for p in problems), problems
    assert any("event 2" in p for p in problems), problems
    assert AuditTrail([None, 5, "s"]).verify(head=("junk", None))  # type: ignore[list-item]


def test_parse_lines_has_a_depth_limit_and_never_raises():
    from viewer.case.audit import parse_lines

    t = trail(3)
    lines = [canonical_json(e) for e in t.events]
    deep = b'{"seq":1,"data":' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    data = b"\n".join([lines[0], deep, b"not json", b"[1,2]", lines[1], lines[2]])
    events, problems = parse_lines(data)
    assert [e["seq"] for e in events] == [0, 1, 2]
    assert any("line 2" in p and "nested deeper" in p for p in problems), problems
    assert any("line 3" in p for p in problems) and any("line 4" in p for p in problems), problems
    assert AuditTrail(events).verify() == []
