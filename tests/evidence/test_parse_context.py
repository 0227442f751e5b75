"""The shared parse context's lazy tree lists: bounded per node, and a generator is only consumed as far
as the list is shown (a hostile table of 100,000 entries must not cost 100,000 nodes past the bound)."""

from __future__ import annotations

from collections.abc import Iterator

from viewer.evidence.formats import base
from viewer.evidence.formats.base import Budget, ParseContext
from viewer.evidence.model import Node
from viewer.evidence.source import ByteSource


def _context(tmp_path, tree_nodes: int) -> ParseContext:
    path = tmp_path / "bytes.bin"
    path.write_bytes(bytes(4096))
    return ParseContext(ByteSource(path), budget=Budget(copy_bytes=1 << 20, tree_nodes=tree_nodes))


def test_a_generator_is_consumed_only_as_far_as_the_list_is_shown(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(base, "MAX_LIST_NODES", 10)
    made: list[int] = []

    def build() -> Iterator[Node]:
        for i in range(100_000):
            made.append(i)
            yield Node(f"[{i}]", i, 1)

    kids = _context(tmp_path, 1000).lazy(build, 100_000)()
    assert [k.name for k in kids[:9]] == [f"[{i}]" for i in range(9)]
    assert kids[-1].name == "... 99991 more" and len(kids) == 10
    assert len(made) == 11  # ten listed and one to learn there are more: not 100,000


def test_a_list_and_the_tree_budget_bound_the_children(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(base, "MAX_LIST_NODES", 1000)
    ctx = _context(tmp_path, 5)
    kids = ctx.lazy(lambda: [Node(f"[{i}]", i, 1) for i in range(50)])()
    assert len(kids) == 5 and kids[-1].name == "... 46 more"
    assert ctx.budget.tree_nodes == 0
    assert ctx.lazy(lambda: [Node("x", 0, 1)])()[0].name == "not listed"


def test_a_generator_of_unknown_length_says_more_without_a_count(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(base, "MAX_LIST_NODES", 3)
    kids = _context(tmp_path, 100).lazy(lambda: (Node(str(i), i, 1) for i in range(7)))()
    assert [k.name for k in kids] == ["0", "1", "... more"]
    short = _context(tmp_path, 100).lazy(lambda: (Node(str(i), i, 1) for i in range(3)))()
    assert [k.name for k in short] == ["0", "1", "2"]
