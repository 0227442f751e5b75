"""Highlights without Qt: the interval index against brute force, finding roles from the registry of
kinds, the marks of one dump in paint order and their legend."""

from __future__ import annotations

import random

from viewer.scan.finding import Confidence, Finding
from viewer.scan.kinds import COLOUR_ROLES, KINDS
from viewer.workspace.highlights import (
    BOOKMARK_ROLE,
    CONTEXT_ROLE,
    FIELD_ROLE,
    SEARCH_ROLE,
    Highlight,
    IntervalIndex,
    dump_highlights,
    finding_role,
    legend,
)


def test_the_index_agrees_with_brute_force_and_costs_what_it_finds() -> None:
    rng = random.Random(11)
    size = 1 << 24
    marks = [Highlight(rng.randrange(size), rng.randrange(0, 64), None, f"m{i}", "search") for i in range(20_000)]
    marks.append(Highlight(0, size, None, "whole", "bookmark"))
    index = IntervalIndex(marks)
    assert len(index) == sum(1 for m in marks if m.length > 0)  # empty ranges are left out
    for _ in range(300):
        a = rng.randrange(size)
        b = a + rng.randrange(1, 4096)
        expect = [m for m in marks if m.length > 0 and m.offset < b and m.end > a]
        assert index.query(a, b) == expect  # in the order given: paint order
        assert index.last_considered == len(expect)
        assert index.last_visited < 40 * (len(expect) + 1)
    assert index.query(5, 5) == [] and IntervalIndex([]).query(0, 10) == []


def test_finding_roles_come_from_the_registry() -> None:
    for kind in KINDS.values():
        assert finding_role(Finding(kind.name, "raw", 0, 1, Confidence.LOW, secret=True)) == kind.colour_role
    assert finding_role(Finding("rsa-private-key", "der", 0, 1, Confidence.HIGH)) == "private-key"
    assert finding_role(Finding("aes-key", "raw", 0, 1, Confidence.HIGH)) == "symmetric-key"
    assert finding_role(Finding("jwt", "text", 0, 1, Confidence.HIGH)) == "token"
    assert finding_role(Finding("certificate", "der-x509", 0, 1, Confidence.HIGH, secret=False)) == CONTEXT_ROLE
    assert finding_role(Finding("pkcs12", "der", 0, 1, Confidence.HIGH, secret=False)) == CONTEXT_ROLE
    assert finding_role(Finding("made-up-kind", "raw", 0, 1, Confidence.LOW)) in COLOUR_ROLES


def test_dump_highlights_in_paint_order_with_their_legend(demo_scan) -> None:
    findings = demo_scan.result.findings
    assert findings

    class Mark:
        def __init__(self, name: str, offset: int, length: int, colour: str):
            self.name, self.offset, self.length, self.colour = name, offset, length, colour

    painted: list[tuple[str, object]] = []

    def paint(role: str, own: object) -> tuple[str, object]:
        painted.append((role, own))
        return role, own

    hits = [(i * 10, 4) for i in range(20_000)]
    marks = dump_highlights(findings, [Mark("b", 5, 3, "#ff00ff00")], hits, (0x40, 8, "e_ident"), paint)
    n = len(findings)
    assert [m.kind for m in marks[:n]] == [f.kind for f in findings]
    assert all(m.role == finding_role(f) and m.secret == f.secret for m, f in zip(marks, findings, strict=False))
    assert marks[n].role == BOOKMARK_ROLE and marks[n].color == (BOOKMARK_ROLE, "#ff00ff00")
    assert sum(m.role == SEARCH_ROLE for m in marks) == 10_000  # painted at most; the list has them all
    assert marks[-1].role == FIELD_ROLE and marks[-1].label == "e_ident"
    shown = legend(marks)
    assert {BOOKMARK_ROLE, SEARCH_ROLE, FIELD_ROLE} <= set(shown)
    for f in findings:
        assert f.kind in shown[finding_role(f)]
