"""Undo and redo of review changes, without Qt.

A review change (a finding's status, severity or tags) goes into the case's append-only audit trail; an
undo does not erase it — it is one more change, back to the old value, attributed and time-stamped like
any other. This history only remembers which changes the examiner made in this session, as steps (one
step may touch many findings: a review given once for all copies of a key), so that Edit ▸ Undo and Redo
can apply them backwards and forwards. Comments are not undone: they are a conversation, and the trail
keeps every word anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

FIELDS = ("status", "severity", "tags")


@dataclass(frozen=True)
class ReviewChange:
    """One field of one finding's review: from ``old`` to ``new``."""

    finding_id: str
    evidence_sha256: str
    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class ReviewStep:
    """What one examiner action changed (``text``: how Undo/Redo name it)."""

    text: str
    changes: tuple[ReviewChange, ...]


def changes_for(case: Any, targets: Sequence[tuple[str, str]], **fields: Any) -> list[ReviewChange]:
    """The changes setting ``fields`` (status=, severity=, tags=) on each ``(finding id, evidence sha256)``
    of ``case`` (a CaseFile) would make — those whose value differs."""
    out = []
    for finding_id, sha in targets:
        review = case.case.finding(finding_id, sha).review
        for name, value in fields.items():
            if name not in FIELDS or value is None:
                continue
            if name == "tags":
                value = sorted({t.strip() for t in value if t.strip()})
            old = getattr(review, name)
            if old != value:
                out.append(ReviewChange(finding_id, sha, name, list(old) if name == "tags" else old, value))
    return out


def apply_changes(case: Any, changes: Sequence[ReviewChange], *, backwards: bool = False) -> None:
    """Write ``changes`` into ``case`` (its ``annotate``: one audit event each); ``backwards``: their old
    values, last change first."""
    for change in (reversed(changes) if backwards else changes):
        value = change.old if backwards else change.new
        case.annotate(change.finding_id, evidence_sha256=change.evidence_sha256, **{change.field: value})


class ReviewHistory:
    """The session's review steps: :meth:`record` after doing, :meth:`undo` / :meth:`redo` on a case."""

    def __init__(self, limit: int = 200) -> None:
        self.limit = limit
        self._done: list[ReviewStep] = []
        self._undone: list[ReviewStep] = []

    def clear(self) -> None:
        self._done.clear()
        self._undone.clear()

    def record(self, text: str, changes: Sequence[ReviewChange]) -> ReviewStep | None:
        """Remember a step just made (nothing when it changed nothing); a new step forgets what was undone."""
        if not changes:
            return None
        step = ReviewStep(text, tuple(changes))
        self._done.append(step)
        del self._done[:-self.limit]
        self._undone.clear()
        return step

    def apply(self, case: Any, text: str, targets: Sequence[tuple[str, str]], **fields: Any) -> ReviewStep | None:
        """Set ``fields`` on every target of ``case`` as one step (recorded); the step, None when nothing changed."""
        changes = changes_for(case, targets, **fields)
        apply_changes(case, changes)
        return self.record(text, changes)

    def can_undo(self) -> bool:
        return bool(self._done)

    def can_redo(self) -> bool:
        return bool(self._undone)

    def undo_text(self) -> str:
        return self._done[-1].text if self._done else ""

    def redo_text(self) -> str:
        return self._undone[-1].text if self._undone else ""

    def undo(self, case: Any) -> ReviewStep | None:
        if not self._done:
            return None
        step = self._done.pop()
        apply_changes(case, step.changes, backwards=True)
        self._undone.append(step)
        return step

    def redo(self, case: Any) -> ReviewStep | None:
        if not self._undone:
            return None
        step = self._undone.pop()
        apply_changes(case, step.changes)
        self._done.append(step)
        return step


__all__ = ["FIELDS", "ReviewChange", "ReviewHistory", "ReviewStep", "apply_changes", "changes_for"]
