"""The case's append-only, hash-chained audit trail.

Every event is a dict ``{seq, time, author, type, data, prev, hash}``:

* ``seq`` counts from 0, ``time`` is UTC ISO 8601, ``author`` is "configured name (os user)";
* ``prev`` is the ``hash`` of the event before it (64 zeros for the first event);
* ``hash`` is the SHA-256 (hex) of the event's canonical JSON *without* the ``hash`` key (so it covers
  ``prev``): keys sorted, no whitespace, UTF-8.

:meth:`AuditTrail.verify` recomputes the chain and returns one line per problem, naming the event and
what happened to it (edited, deleted, reordered). Removing events from the *end* of the trail leaves a
valid shorter chain; it is detected only against a head recorded elsewhere (``verify(head=...)`` with a
``(seq, hash)`` pair, e.g. the audit head exported into a case bundle). Inside a case file the whole trail
is part of the authenticated payload, so changing it there needs the data key.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64

EVENT_TYPES = frozenset(
    {
        "case-created",
        "case-edited",
        "evidence-added",
        "evidence-relocated",
        "scan-run",
        "status-change",
        "comment",
        "bookmark",
        "export",
        "redact",
        "key-slot-change",
    }
)


def utc_now() -> str:
    """Current time as UTC ISO 8601 with milliseconds and a ``Z`` suffix."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def event_hash(event: dict[str, Any]) -> str:
    body = {k: v for k, v in event.items() if k != "hash"}
    return hashlib.sha256(canonical_json(body)).hexdigest()


class AuditTrail:
    """The list of events; only :meth:`append` adds to it, nothing removes or changes one."""

    def __init__(self, events: list[dict[str, Any]] | None = None):
        self.events: list[dict[str, Any]] = list(events or [])

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self):
        return iter(self.events)

    @property
    def head(self) -> tuple[int, str] | None:
        """``(seq, hash)`` of the last event, or None for an empty trail."""
        if not self.events:
            return None
        last = self.events[-1]
        return last["seq"], last["hash"]

    def append(self, type: str, author: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        if type not in EVENT_TYPES:
            raise ValueError(f"unknown audit event type {type!r}")
        if not author:
            raise ValueError("an audit event needs an author")
        prev = self.events[-1]["hash"] if self.events else GENESIS
        seq = self.events[-1]["seq"] + 1 if self.events else 0
        event: dict[str, Any] = {
            "seq": seq,
            "time": utc_now(),
            "author": author,
            "type": type,
            "data": json.loads(canonical_json(data or {})),  # a JSON-clean copy, detached from the caller
            "prev": prev,
        }
        event["hash"] = event_hash(event)
        self.events.append(event)
        return event

    def to_json(self) -> list[dict[str, Any]]:
        return [dict(e) for e in self.events]

    @classmethod
    def from_json(cls, data: list[dict[str, Any]]) -> AuditTrail:
        return cls([dict(e) for e in data])

    def verify(self, head: tuple[int, str] | None = None) -> list[str]:
        """Problems found in the chain, one line each naming the event; empty when intact."""
        problems: list[str] = []
        seqs = [e.get("seq") for e in self.events]
        present = {s for s in seqs if isinstance(s, int)}
        edited: set[int] = set()
        for i, ev in enumerate(self.events):
            seq = ev.get("seq")
            label = f"event {seq} ({ev.get('type', '?')})"
            if not isinstance(seq, int):
                problems.append(f"event at position {i}: no sequence number (edited)")
                continue
            if ev.get("hash") != event_hash(ev):
                problems.append(f"{label}: content does not match its hash (edited)")
                edited.add(i)
            if ev.get("type") not in EVENT_TYPES:
                problems.append(f"{label}: unknown event type (edited)")
            prev_seq = seqs[i - 1] if i else -1
            if isinstance(prev_seq, int) and seq <= prev_seq:
                problems.append(f"{label}: comes after event {prev_seq} (reordered)")
            elif isinstance(prev_seq, int) and seq > prev_seq + 1:
                missing = [s for s in range(prev_seq + 1, seq) if s not in present]
                if missing:
                    names = ", ".join(str(s) for s in missing)
                    problems.append(f"event(s) {names} before {label}: missing (deleted)")
                else:
                    problems.append(f"{label}: comes after event {prev_seq} (reordered)")
            expected_prev = self.events[i - 1].get("hash") if i else GENESIS
            if ev.get("prev") != expected_prev and i not in edited:
                before = f"event {prev_seq}" if i else "the start of the trail"
                problems.append(
                    f"{label}: its link does not match {before} (an event before it was deleted, "
                    "reordered or edited)"
                )
        if head is not None:
            seq, digest = head
            match = [e for e in self.events if e.get("seq") == seq]
            if not match:
                problems.append(f"event {seq} (the recorded head) is missing (deleted)")
            elif match[0].get("hash") != digest:
                problems.append(f"event {seq} (the recorded head) does not match its recorded hash (edited)")
        return problems
