"""Highlights of the hex view and their interval index: what is marked where, without any Qt.

A :class:`Highlight` is a byte range with a label, a kind and a paint value (``color``) that only the
widget interprets (a QColor in the GUI); the index never looks at it. :class:`IntervalIndex` answers
"which highlights overlap [a, b)?" in proportion to the answer, so painting a page of a dump with
100,000 search hits costs as much as painting the few on that page.

:func:`finding_role` is the one place where a finding becomes a colour role: the registry of kinds
(:func:`viewer.scan.kinds.kind_info`) gives its kind's role, and a finding that says it is public
context (a certificate, a public key, a PKCS#12 container without a key) is "context" whatever its kind.
The hex view's own marks have the roles below. The GUI's palette maps each role to a colour.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from viewer.scan.kinds import kind_info

# Colour roles beside the registry's (viewer.scan.kinds.COLOUR_ROLES): the hex view's own marks.
FIELD_ROLE = "field"
SEARCH_ROLE = "search"
BOOKMARK_ROLE = "bookmark"
CONTEXT_ROLE = "context"


@dataclass
class Highlight:
    """A marked byte range: a finding, the selected field, a search hit, a bookmark.

    ``secret`` marks key material: copying any of its bytes asks the examiner first. ``color`` is what
    the widget paints with (this layer never reads it); ``role`` the colour role it was painted from
    (the legend groups by it).
    """

    offset: int
    length: int
    color: Any
    label: str
    kind: str
    secret: bool = False
    role: str = ""

    @property
    def end(self) -> int:
        return self.offset + max(0, self.length)


class IntervalIndex:
    """Static index of highlights answering "which overlap [a, b)?" in O((k + 1) log n).

    Sorted by start, with a binary tree over the maximum end of each block of items: a subtree is
    skipped when it starts at or after ``b`` or when nothing in it reaches past ``a``. Plain
    "sorted starts + bisect" alone would have to scan back over every earlier item whenever one long
    highlight (a whole region bookmarked) covers the page.
    """

    def __init__(self, items: Sequence[Highlight]):
        # Empty ranges cover no byte: left out, so they can never count as "on the page".
        order = sorted((i for i in range(len(items)) if items[i].length > 0), key=lambda i: items[i].offset)
        self.items = [items[i] for i in order]
        self.rank = order  # original position: later highlights paint on top of earlier ones
        self.starts = [h.offset for h in self.items]
        self._size = 1
        while self._size < len(self.items):
            self._size *= 2
        tree = [-1] * (2 * self._size)
        for i, h in enumerate(self.items):
            tree[self._size + i] = h.end
        for i in range(self._size - 1, 0, -1):
            tree[i] = max(tree[2 * i], tree[2 * i + 1])
        self._tree = tree
        self.last_considered = 0  # items whose end was checked by the last query
        self.last_visited = 0  # tree nodes visited by the last query

    def __len__(self) -> int:
        return len(self.items)

    def query(self, a: int, b: int) -> list[Highlight]:
        """Highlights overlapping [a, b), in the order they were given (paint order)."""
        self.last_considered = self.last_visited = 0
        if not self.items or b <= a:
            return []
        hi = bisect.bisect_left(self.starts, b)  # items [0, hi) start before b
        found: list[int] = []
        tree, size = self._tree, self._size
        stack = [(1, 0, size)]
        while stack:
            node, lo, n_hi = stack.pop()
            self.last_visited += 1
            if lo >= hi or tree[node] <= a:
                continue
            if node >= size:
                self.last_considered += 1
                found.append(node - size)  # start < b (lo < hi) and end > a (tree check)
                continue
            mid = (lo + n_hi) // 2
            stack.append((2 * node + 1, mid, n_hi))
            stack.append((2 * node, lo, mid))
        found.sort(key=lambda i: self.rank[i])
        return [self.items[i] for i in found]


def finding_role(finding: Any) -> str:
    """The colour role of a finding (anything with ``kind`` and ``secret``): public context is
    :data:`CONTEXT_ROLE`; a secret takes its kind's role from the registry."""
    if not getattr(finding, "secret", True):
        return CONTEXT_ROLE
    return kind_info(str(finding.kind)).colour_role


def finding_label(finding: Any) -> str:
    """What a finding's highlight says: kind, encoding and confidence."""
    return f"{finding.kind} ({finding.encoding}, {finding.confidence})"


MAX_SEARCH_MARKS = 10_000  # search hits painted at most (the list shows them all)
Paint = Callable[[str, Any], Any]  # (role, a mark's own colour or None) -> what the widget paints with


def dump_highlights(findings: Iterable[Any], bookmarks: Iterable[Any], search_hits: Sequence[tuple[int, int]],
                    field: tuple[int, int, str] | None, paint: Paint) -> list[Highlight]:
    """Everything marked in one dump, in paint order: findings (by colour role), bookmarks (each its own
    colour: ``colour`` or ``color``), search hits, the selected structure field on top."""
    marks = [Highlight(f.offset, f.length, paint(finding_role(f), None), finding_label(f), f.kind,
                       secret=f.secret, role=finding_role(f)) for f in findings]
    for b in bookmarks:
        own = getattr(b, "colour", None) or getattr(b, "color", None)
        marks.append(Highlight(b.offset, b.length, paint(BOOKMARK_ROLE, own), f"bookmark: {b.name}", "bookmark",
                               role=BOOKMARK_ROLE))
    for off, length in search_hits[:MAX_SEARCH_MARKS]:
        marks.append(Highlight(off, length, paint(SEARCH_ROLE, None), "search hit", "search", role=SEARCH_ROLE))
    if field is not None:
        off, length, name = field
        marks.append(Highlight(off, length, paint(FIELD_ROLE, None), name, "field", role=FIELD_ROLE))
    return marks


def legend(highlights: Iterable[Highlight]) -> dict[str, list[str]]:
    """The legend of what is marked: each colour role present, with the kinds painted in it (sorted)."""
    out: dict[str, set[str]] = {}
    for h in highlights:
        out.setdefault(h.role or h.kind, set()).add(h.kind)
    return {role: sorted(kinds) for role, kinds in sorted(out.items())}
