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

import bisect
import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

import orjson

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
        """Problems found in the chain, one line each naming the event; empty when intact.

        Never raises, whatever the events hold (they may come from a received bundle): an event that is not
        a JSON object, is nested deeper than :data:`MAX_DEPTH` or does not serialise is itself a problem.
        The work is O(n log n) in the events present and the output O(n), whatever sequence numbers they
        claim: a gap is counted and its missing ranges found by binary search over the sorted sequence
        numbers, never enumerated.
        """
        problems: list[str] = []
        events = self.events
        seqs = [_seq(e) for e in events]
        present = sorted({s for s in seqs if s is not None})
        digests: list[str | None] = []
        for i, ev in enumerate(events):
            seq = seqs[i]
            if seq is None:
                what = "not an event object" if not isinstance(ev, dict) else "no sequence number"
                problems.append(f"event at position {i}: {what} (edited)")
                digests.append(None)
                continue
            label = f"event {seq} ({_text(ev.get('type', '?'))})"
            digest, trouble = _checked_hash(ev)
            digests.append(digest)
            edited = False
            if trouble:
                problems.append(f"{label}: {trouble} (edited)")
                edited = True
            elif ev.get("hash") != digest:
                problems.append(f"{label}: content does not match its hash (edited)")
                edited = True
            if ev.get("type") not in EVENT_TYPES:
                problems.append(f"{label}: unknown event type (edited)")
            prev_seq = seqs[i - 1] if i else -1
            if prev_seq is not None and seq <= prev_seq:
                problems.append(f"{label}: comes after event {prev_seq} (reordered)")
            elif prev_seq is not None and seq > prev_seq + 1:
                gaps, count = _missing(present, prev_seq, seq)
                if count:
                    names = ", ".join(gaps)
                    many = f", {count} events" if count > 1 and len(gaps) < count else ""
                    problems.append(f"event(s) {names} before {label}: missing (deleted{many})")
                else:
                    problems.append(f"{label}: comes after event {prev_seq} (reordered)")
            expected_prev = events[i - 1].get("hash") if i and isinstance(events[i - 1], dict) else GENESIS
            if ev.get("prev") != expected_prev and not edited:
                before = f"event {prev_seq}" if i else "the start of the trail"
                problems.append(
                    f"{label}: its link does not match {before} (an event before it was deleted, "
                    "reordered or edited)"
                )
        if head is not None:
            try:
                seq, digest = head
            except (TypeError, ValueError):
                return [*problems, "the recorded head is not a (sequence, hash) pair"]
            match = [e for e, s in zip(events, seqs, strict=True) if s is not None and s == seq]
            if not match:
                problems.append(f"event {_text(seq)} (the recorded head) is missing (deleted)")
            elif match[0].get("hash") != digest:
                problems.append(f"event {_text(seq)} (the recorded head) does not match its recorded hash (edited)")
        return problems


#: Deepest nesting an event may have (ours have at most 4 levels). Deeper is refused before hashing or
#: parsing recurses (the standard JSON module raises RecursionError near 1,000 levels; orjson stops at 1,024).
MAX_DEPTH = 32
#: Missing ranges named per gap; the rest are counted.
MAX_LISTED = 8


def _seq(ev: Any) -> int | None:
    """An event's sequence number: an int that is not a bool, else None."""
    if not isinstance(ev, dict):
        return None
    seq = ev.get("seq")
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


def _text(value: Any) -> str:
    """A short printable form of a value taken from an event (it may be anything, of any length)."""
    text = value if isinstance(value, str) else repr(value) if isinstance(value, int | float | None) else "?"
    return text if len(text) <= 40 else text[:37] + "..."


def depth_exceeds(value: Any, limit: int = MAX_DEPTH) -> bool:
    """True when ``value`` nests lists/dicts deeper than ``limit``. Iterative: never recurses."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth >= limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _checked_hash(ev: dict[str, Any]) -> tuple[str | None, str | None]:
    """(hash, None), or (None, why the event cannot be hashed)."""
    if depth_exceeds(ev):
        return None, f"nested deeper than {MAX_DEPTH} levels"
    try:
        return event_hash(ev), None
    except (TypeError, ValueError, RecursionError):
        return None, "not plain JSON data"


def _missing(present: list[int], lo: int, hi: int) -> tuple[list[str], int]:
    """The sequence numbers strictly between ``lo`` and ``hi`` that are not in ``present`` (sorted,
    distinct): up to :data:`MAX_LISTED` ranges named, and how many numbers are missing in all.

    Binary search: between index ``a`` and ``b`` of ``present`` nothing is missing exactly when
    ``present[b] - present[a] == b - a``; each missing range is found in O(log n) steps."""
    a = bisect.bisect_right(present, lo)
    b = bisect.bisect_left(present, hi)
    count = (hi - lo - 1) - (b - a)
    names: list[str] = []
    cursor, idx = lo, a  # numbers <= cursor are accounted for; present[idx:] are the ones still ahead
    while count and len(names) < MAX_LISTED and cursor + 1 < hi:
        if idx < b and present[idx] == cursor + 1:
            # skip the run of consecutive present numbers starting at present[idx]
            lo_i, hi_i = idx, b - 1
            while lo_i < hi_i:
                mid = (lo_i + hi_i + 1) // 2
                if present[mid] - present[idx] == mid - idx:
                    lo_i = mid
                else:
                    hi_i = mid - 1
            cursor, idx = present[lo_i], lo_i + 1
            continue
        start = cursor + 1
        end = (present[idx] if idx < b else hi) - 1
        names.append(str(start) if start == end else f"{start} to {end}")
        cursor = end
    if count and cursor + 1 < hi and len(names) >= MAX_LISTED:
        names.append("more")
    return names, count


def parse_lines(data: bytes) -> tuple[list[dict[str, Any]], list[str]]:
    """Events from JSON lines (a bundle's audit.jsonl): ``(events, problems)``, never raising.

    Each line is checked for its nesting depth on the raw bytes before it is parsed (a bracket count
    outside strings, linear in the line), so that neither parser recurses on a hostile line; a line
    that is not a JSON object is a problem naming the line."""
    events: list[dict[str, Any]] = []
    problems: list[str] = []
    for i, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        if _raw_depth(line) > MAX_DEPTH + 2:
            problems.append(f"line {i} is nested deeper than {MAX_DEPTH} levels")
            continue
        try:
            ev = orjson.loads(line)
        except orjson.JSONDecodeError:
            problems.append(f"line {i} is not a JSON event")
            continue
        if not isinstance(ev, dict):
            problems.append(f"line {i} is not a JSON event")
            continue
        events.append(ev)
    return events, problems


_BRACKETS = re.compile(rb'[\[\]{}]|"(?:[^"\\]|\\.)*"')


def _raw_depth(line: bytes) -> int:
    """Deepest bracket nesting of a JSON text, strings skipped (one regex pass, no recursion)."""
    depth = deepest = 0
    for m in _BRACKETS.finditer(line):
        tok = m.group()
        if tok in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif tok in (b"]", b"}"):
            depth -= 1
    return deepest
