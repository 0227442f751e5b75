"""Three-way merge of a case saved by two processes: what this one changed and what the other saved.

Why: an examiner and a reviewer (or two windows) with one case open must not silently lose each other's
reviews and audit events — the second save used to overwrite the first. Reviews, comments, bookmarks,
scan runs and audit events are append-mostly, so most concurrent changes combine without doubt:

* the audit trail: both sides must still start with the trail as it was read (the hash chain proves it);
  the other side's new events are kept as they are, ours are appended after them and re-chained (new
  ``seq``, ``prev`` and ``hash``; author, time, type and data unchanged);
* scan runs: both sides' new runs, theirs first;
* evidence, bookmarks, findings: by key; an item one side added, changed or removed while the other left
  it as it was takes that side's version; new comments of both sides are kept (theirs first);
* case fields (name, description, ...), a review's status, severity and tags, key slots: taken from the
  side that changed them.

When both sides changed the same thing differently (the same status, the same comment, the slots), or a
side's trail no longer starts with the one that was read, there is no safe answer: :class:`MergeConflict`
names it, and the caller refuses the save (nothing is dropped, nothing written).

Works on the case JSON (``Case.to_json()``), pure: no I/O, no crypto, the inputs are not modified.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from viewer.case.audit import GENESIS, event_hash

SCALARS = ("name", "number", "examiner", "description", "created")


class MergeConflict(Exception):
    """Both sides changed the same thing differently; ``str()`` names it."""


def three_way(base: Any, ours: Any, theirs: Any, what: str) -> Any:
    if ours == base or ours == theirs:
        return theirs
    if theirs == base:
        return ours
    raise MergeConflict(what)


def merge_case(base: dict[str, Any], ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    """The case JSON combining ``ours`` and ``theirs``, both descended from ``base``."""
    if not (base.get("id") == ours.get("id") == theirs.get("id")):
        raise MergeConflict("the file on disk is another case now")
    out = dict(ours)
    for field in SCALARS:
        out[field] = three_way(base.get(field), ours.get(field), theirs.get(field), f"the case {field}")
    out["modified"] = max(str(ours.get("modified", "")), str(theirs.get("modified", "")))
    out["audit"] = merge_audit(base.get("audit", []), ours.get("audit", []), theirs.get("audit", []))
    out["scans"] = _appended(base.get("scans", []), ours.get("scans", []), theirs.get("scans", []), "scan runs")
    out["evidence"] = _keyed(base.get("evidence", []), ours.get("evidence", []), theirs.get("evidence", []),
                             lambda e: (e["sha256"], e.get("member")), "evidence")
    out["bookmarks"] = _keyed(base.get("bookmarks", []), ours.get("bookmarks", []), theirs.get("bookmarks", []),
                              lambda b: b["id"], "bookmark")
    out["findings"] = _keyed(base.get("findings", []), ours.get("findings", []), theirs.get("findings", []),
                             lambda r: (r["evidence_sha256"], r["finding"]["id"]), "finding", _record)
    return out


def merge_slots(base: list[Any], ours: list[Any], theirs: list[Any]) -> list[Any]:
    return three_way(base, ours, theirs, "the key slots")


def merge_audit(base: list[dict[str, Any]], ours: list[dict[str, Any]],
                theirs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    n = len(base)
    head = [e.get("hash") for e in base]
    if [e.get("hash") for e in ours[:n]] != head or [e.get("hash") for e in theirs[:n]] != head:
        raise MergeConflict("the audit trail (it no longer starts with the events that were read)")
    merged = [dict(e) for e in theirs]
    for ev in ours[n:]:
        ev = dict(ev)
        last = merged[-1] if merged else None
        ev["seq"] = last["seq"] + 1 if last else 0
        ev["prev"] = last["hash"] if last else GENESIS
        ev.pop("hash", None)
        ev["hash"] = event_hash(ev)
        merged.append(ev)
    return merged


def _appended(base: list[Any], ours: list[Any], theirs: list[Any], what: str) -> list[Any]:
    n = len(base)
    if ours[:n] != base or theirs[:n] != base:
        raise MergeConflict(what)
    return [*theirs, *ours[n:]]


def _keyed(base: list[dict[str, Any]], ours: list[dict[str, Any]], theirs: list[dict[str, Any]],
           key: Callable[[dict[str, Any]], Hashable], what: str,
           item: Callable[[Any, Any, Any, str], Any] = three_way) -> list[dict[str, Any]]:
    b = {key(x): x for x in base}
    o = {key(x): x for x in ours}
    t = {key(x): x for x in theirs}
    out: list[dict[str, Any]] = []
    for k, mine in o.items():
        if k in t:
            out.append(item(b.get(k), mine, t[k], f"{what} {_name(k)}"))  # base None: added on both sides
        elif k in b:  # they removed it
            if mine != b[k]:
                raise MergeConflict(f"{what} {_name(k)} (changed here, removed there)")
        else:
            out.append(mine)
    for k, theirs_item in t.items():
        if k in o:
            continue
        if k in b:  # we removed it
            if theirs_item != b[k]:
                raise MergeConflict(f"{what} {_name(k)} (removed here, changed there)")
        else:
            out.append(theirs_item)
    return out


def _name(key: Hashable) -> str:
    text = key[-1] if isinstance(key, tuple) else key
    return str(text)[:16]


def _record(base: dict[str, Any] | None, ours: dict[str, Any], theirs: dict[str, Any], what: str) -> dict[str, Any]:
    """A finding record: scan data from the side that rescanned (the later one when both did), the review
    merged field by field, new comments of both sides kept."""
    if ours == theirs:
        return ours

    def rest(r: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if r is None else {k: v for k, v in r.items() if k != "review"}

    ro, rt, rb = rest(ours), rest(theirs), rest(base)
    if ro == rt or rt == rb:
        out = dict(ours)
    elif ro == rb:
        out = dict(theirs)
    else:  # both rescanned: the later scan's view of the finding
        out = dict(theirs if str(theirs.get("last_seen", "")) > str(ours.get("last_seen", "")) else ours)
    vb = base["review"] if base is not None else {}
    vo, vt = ours["review"], theirs["review"]
    review = {field: three_way(vb.get(field), vo.get(field), vt.get(field), f"the {field} of {what}")
              for field in ("status", "severity", "tags")}
    review["comments"] = _comments(vb.get("comments", []), vo.get("comments", []), vt.get("comments", []), what)
    out["review"] = review
    return out


def _comments(base: list[Any], ours: list[Any], theirs: list[Any], what: str) -> list[Any]:
    n = len(base)
    if len(ours) < n or len(theirs) < n:
        raise MergeConflict(f"the comments of {what}")
    kept = [three_way(base[i], ours[i], theirs[i], f"comment {i} of {what}") for i in range(n)]
    return [*kept, *theirs[n:], *ours[n:]]
