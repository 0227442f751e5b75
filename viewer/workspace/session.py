"""The examiner's session, without Qt: open dumps, the current dump, the case, the selection, findings.

napari's shape: this model holds the state and emits an event (:class:`SessionEvents`) after each change;
the window and its feature controllers read and change state only here and subscribe to what they show.
Before it, which case and which dump was attached to tab widgets ad hoc and the rules below lived in
mixins of the window; here they are one testable place:

* which open dump is evidence of the case (:meth:`Session.evidence_sha256`: the dump's own hash once
  computed — a changed file is not the evidence — and never while its verification says changed,
  missing or unreadable);
* a finished scan of evidence is merged into the case (:meth:`Session.merge_scan`), a bookmark on
  evidence is recorded in it (:meth:`Session.add_bookmark`); either marks the case dirty;
* the case's evidence is found at an override (a bundle extracted elsewhere) before its stored path;
* while a job reads the case (an export: :meth:`Session.hold_case`) the case must be held still.

Events carry the changed :class:`OpenDump` (or the value) as their argument; all are emitted on the
thread that made the change (the window's: the GUI thread).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from viewer.case import CaseFile
from viewer.case.model import EvidenceRef, ScanRun
from viewer.evidence import Dump
from viewer.scan.finding import Finding
from viewer.tasks import TaskState
from viewer.workspace.bookmark_store import PendingBookmarks
from viewer.workspace.events import EmitterGroup, EventEmitter
from viewer.workspace.review_history import ReviewHistory

DEFAULT_BOOKMARK_COLOUR = "#6eaa5aff"  # #AARRGGBB: the translucent violet of bookmarks
UNTRUSTED_STATES = ("changed", "missing", "unreadable")  # evidence in these states is not the evidence
HASH_CHUNK = 1 << 20


@dataclass
class Bookmark:
    """A named, coloured byte range the examiner marked (``colour``: ``#AARRGGBB`` or ``#RRGGBB``)."""

    name: str
    offset: int
    length: int
    colour: str = DEFAULT_BOOKMARK_COLOUR
    note: str = ""
    case_id: str = ""  # the case's id of this bookmark once a case holds it ("" while in no case)

    def record(self) -> dict[str, Any]:
        """The plain fields the pending store keeps (:mod:`viewer.workspace.bookmark_store`)."""
        return {"name": self.name, "offset": self.offset, "length": self.length, "colour": self.colour,
                "note": self.note}


@dataclass(eq=False)
class OpenDump:
    """One open dump and everything the examiner did with it in this session (kept across tab switches)."""

    dump: Dump
    token: int  # unique in the session: late worker results for a closed dump are recognised by it
    sha256: str | None = None  # the whole file's, once hashed
    findings: list[Finding] = field(default_factory=list)
    scan_result: Any = None  # the last finished (or cancelled) ScanResult
    bookmarks: list[Bookmark] = field(default_factory=list)
    search_hits: list[tuple[int, int]] = field(default_factory=list)
    find_query: str = ""  # what the find bar searched for last in this dump
    field: tuple[int, int, str] | None = None  # the structure field selected last: offset, length, name
    selection: tuple[int, int] = (0, 0)  # file offset, length
    case_sha256: str | None = None  # the case's SHA-256 for it, when it was opened or added as evidence

    @property
    def path(self) -> Path:
        return Path(self.dump.path)


class SessionEvents(EmitterGroup):
    """What a :class:`Session` announces (argument in brackets)."""

    dump_added: EventEmitter  # (OpenDump)
    dump_removed: EventEmitter  # (OpenDump)
    current_changed: EventEmitter  # (OpenDump | None)
    hashed: EventEmitter  # (OpenDump): its sha256 is known
    findings_changed: EventEmitter  # (OpenDump): its findings were replaced
    findings_added: EventEmitter  # (OpenDump, list[Finding]): a provisional batch while scanning
    bookmarks_changed: EventEmitter  # (OpenDump)
    highlights_changed: EventEmitter  # (OpenDump): search hits or the selected field
    selection_changed: EventEmitter  # (OpenDump, offset, length)
    finding_selected: EventEmitter  # (Finding | None)
    scan_changed: EventEmitter  # (OpenDump | None): the dump being scanned, None when no scan runs
    case_changed: EventEmitter  # (CaseFile | None): another case (or none) is open
    case_edited: EventEmitter  # (): the open case changed or was saved (see case_dirty)
    case_hold_changed: EventEmitter  # (str | None): the job holding the case still, None when released
    evidence_state_changed: EventEmitter  # (sha256, state)

    NAMES = ("dump_added", "dump_removed", "current_changed", "hashed", "findings_changed", "findings_added",
             "bookmarks_changed", "highlights_changed", "selection_changed", "finding_selected", "scan_changed",
             "case_changed", "case_edited", "case_hold_changed", "evidence_state_changed")

    def __init__(self) -> None:
        super().__init__(*self.NAMES)


class Session:
    """The state the window shows. Change it through the methods (they emit); read the attributes."""

    def __init__(self, pending: PendingBookmarks | None = None) -> None:
        self.events = SessionEvents()
        self.pending = pending if pending is not None else PendingBookmarks()  # bookmarks in no case
        self._dumps: dict[int, OpenDump] = {}
        self._token = 0
        self.current: OpenDump | None = None
        self.finding: Finding | None = None  # the finding selected last (in the current dump)
        self.scanning: OpenDump | None = None
        self.case: CaseFile | None = None
        self.case_dirty = False
        self.case_hold: str | None = None  # "bundle" / "pdf" while an export reads the case
        self.reviews = ReviewHistory()  # this session's review changes of the open case (Undo/Redo)
        self.evidence_states: dict[str, str] = {}  # evidence sha256 -> "checking…", "ok", "changed", ...
        # evidence sha256 -> where its file is when not where the case says (a bundle extracted elsewhere)
        self.evidence_overrides: dict[str, Path] = {}

    # -- open dumps -------------------------------------------------------------------------------------
    @property
    def dumps(self) -> list[OpenDump]:
        """The open dumps, in the order they were opened."""
        return list(self._dumps.values())

    def __iter__(self) -> Iterator[OpenDump]:
        return iter(self.dumps)

    def by_token(self, token: int) -> OpenDump | None:
        return self._dumps.get(token)

    def find_path(self, path: str | os.PathLike[str], member: str | None = None) -> OpenDump | None:
        """The open dump of the file ``path`` (paths resolved) — the one named ``member`` when the file
        holds several dumps — None when it is not open."""
        wanted = Path(path).resolve()
        return next((od for od in self._dumps.values()
                     if od.path.resolve() == wanted and (member is None or od.dump.member == member)), None)

    def add_dump(self, dump: Dump) -> OpenDump:
        self._token += 1
        od = OpenDump(dump, self._token)
        self._dumps[od.token] = od
        self.events.dump_added.emit(od)
        return od

    def remove_dump(self, od: OpenDump) -> None:
        """Forget ``od`` (the caller closes the dump once no worker reads it). Subscribers of
        ``dump_removed`` may make another dump current; if none did, there is no current dump."""
        if self._dumps.pop(od.token, None) is None:
            return
        self.events.dump_removed.emit(od)
        if self.current is od:
            self.set_current(None)

    def set_current(self, od: OpenDump | None) -> None:
        if od is self.current:
            return
        self.current = od
        self.finding = None
        self.events.current_changed.emit(od)

    def set_sha256(self, od: OpenDump, digest: str) -> None:
        """``od``'s hash is known: the bookmarks kept for that hash come back (and the tab's go to the
        store, or to the case when ``od`` is its evidence)."""
        od.sha256 = digest
        known = {(b.offset, b.length, b.name) for b in od.bookmarks}
        kept = [Bookmark(r["name"], r["offset"], r["length"], r["colour"] or DEFAULT_BOOKMARK_COLOUR, r["note"])
                for r in self.pending.load(digest) if (r["offset"], r["length"], r["name"]) not in known]
        od.bookmarks.extend(kept)
        self._keep_bookmarks(od)
        self.events.hashed.emit(od)
        if kept:
            self.events.bookmarks_changed.emit(od)

    # -- findings, bookmarks, highlights, selection -----------------------------------------------------
    def set_findings(self, od: OpenDump, findings: list[Finding], result: Any = None) -> None:
        """Replace ``od``'s findings (a finished scan's when ``result`` is given, or the case's)."""
        od.findings = list(findings)
        if result is not None:
            od.scan_result = result
        self.events.findings_changed.emit(od)

    def add_findings(self, od: OpenDump, batch: list[Finding]) -> None:
        """Provisional findings of a running scan; its result replaces them."""
        od.findings.extend(batch)
        self.events.findings_added.emit(od, batch)

    def add_bookmark(self, od: OpenDump, mark: Bookmark, *, record: bool = True) -> None:
        """A bookmark on ``od``; recorded in the case when ``od`` is its evidence and ``record``, else
        kept per the dump's hash (:attr:`pending`) until a case takes it."""
        od.bookmarks.append(mark)
        if record:
            self._keep_bookmarks(od)
        self.events.bookmarks_changed.emit(od)

    def remove_bookmark(self, od: OpenDump, mark: Bookmark) -> None:
        """Delete ``mark`` from ``od`` (and from the case or the store that holds it)."""
        if mark not in od.bookmarks:
            return
        od.bookmarks.remove(mark)
        if mark.case_id and self.case is not None:
            try:
                self.case.remove_bookmark(mark.case_id)
            except KeyError:
                pass  # the case no longer has it
            self.mark_dirty()
        self._keep_bookmarks(od)
        self.events.bookmarks_changed.emit(od)

    def update_bookmark(self, od: OpenDump, mark: Bookmark, *, name: str | None = None,
                        colour: str | None = None, note: str | None = None) -> None:
        """Rename, recolour or annotate ``mark``. A case records bookmarks, it does not edit them: one it
        holds is removed and added again with the new fields (both in the audit trail)."""
        if mark not in od.bookmarks:
            return
        mark.name = mark.name if name is None else name
        mark.colour = mark.colour if colour is None else colour
        mark.note = mark.note if note is None else note
        if mark.case_id and self.case is not None:
            try:
                self.case.remove_bookmark(mark.case_id)
            except KeyError:
                pass
            mark.case_id = ""
        self._keep_bookmarks(od)
        self.events.bookmarks_changed.emit(od)

    def _keep_bookmarks(self, od: OpenDump) -> None:
        """Where ``od``'s bookmarks in no case go: into the case when ``od`` is its evidence (the store
        forgets them), else into the store under the dump's hash (once it is known)."""
        loose = [b for b in od.bookmarks if not b.case_id]
        sha = self.evidence_sha256(od)
        if sha is not None and self.case is not None:
            for b in loose:
                b.case_id = self.case.add_bookmark(sha, b.offset, b.length, b.name, colour=b.colour, note=b.note).id
            if od.sha256:
                self.pending.discard(od.sha256)
            if loose:
                self.mark_dirty()
        elif od.sha256:
            self.pending.save(od.sha256, [b.record() for b in loose])

    def set_search_hits(self, od: OpenDump, hits: list[tuple[int, int]]) -> None:
        od.search_hits = list(hits)
        self.events.highlights_changed.emit(od)

    def set_field(self, od: OpenDump, node_field: tuple[int, int, str] | None) -> None:
        od.field = node_field
        self.events.highlights_changed.emit(od)

    def select(self, offset: int, length: int, od: OpenDump | None = None) -> None:
        """Select ``length`` bytes at file ``offset`` of ``od`` (the current dump by default)."""
        od = od or self.current
        if od is None:
            return
        if od.selection == (offset, length):
            return
        od.selection = (int(offset), int(length))
        self.events.selection_changed.emit(od, od.selection[0], od.selection[1])

    def select_finding(self, finding: Finding | None) -> None:
        self.finding = finding
        self.events.finding_selected.emit(finding)

    def set_scanning(self, od: OpenDump | None) -> None:
        self.scanning = od
        self.events.scan_changed.emit(od)

    # -- the case ---------------------------------------------------------------------------------------
    def set_case(self, cf: CaseFile | None) -> None:
        """Another case (or none): its state starts clean; closing forgets overrides and evidence links."""
        self.case = cf
        self.case_dirty = False
        self.evidence_states = {}
        self.reviews.clear()  # the steps were another case's
        if cf is None:
            self.evidence_overrides = {}
            for od in self._dumps.values():
                od.case_sha256 = None
        self.events.case_changed.emit(cf)

    def mark_dirty(self) -> None:
        """The open case changed in memory (saved by the next save or autosave)."""
        self.case_dirty = True
        self.events.case_edited.emit()

    def mark_saved(self, dirty: bool = False) -> None:
        """The case was written (``dirty``: something was added since, as after an export)."""
        self.case_dirty = dirty
        self.events.case_edited.emit()

    def hold_case(self, job: str | None) -> None:
        """``job`` reads the case on another thread: nothing may change or close it until released."""
        self.case_hold = job
        self.events.case_hold_changed.emit(job)

    def set_evidence_state(self, sha256: str, state: str) -> None:
        self.evidence_states[sha256] = state
        self.events.evidence_state_changed.emit(sha256, state)

    def evidence_path(self, ref: EvidenceRef) -> Path:
        """Where ``ref``'s file is: an override (evidence extracted from a bundle), else the case's path."""
        if self.case is None:
            raise ValueError("no case is open")
        return self.evidence_overrides.get(ref.sha256) or ref.resolve(self.case.case_dir)

    def evidence_sha256(self, od: OpenDump | None) -> str | None:
        """The SHA-256 of ``od`` when it is evidence of the open case, else None.

        The dump's own hash once computed (a changed file is not the evidence), else the case's; never
        while its verification says changed, missing or unreadable.
        """
        if self.case is None or od is None:
            return None
        sha = od.sha256 or od.case_sha256
        if not sha or self.evidence_states.get(sha) in UNTRUSTED_STATES:
            return None
        if od.dump.member is not None:  # one of several dumps of the file: named by its content's hash
            sha = od.dump.content_sha256()
        return sha if self.case.case.evidence_by_sha256(sha) is not None else None

    def add_evidence(self, od: OpenDump) -> EvidenceRef:
        """Add ``od``'s file to the case (hashed by the case); its finished scan is merged."""
        if self.case is None:
            raise ValueError("no case is open")
        ref = self.case.add_evidence(od.dump.path, member=od.dump.member)
        od.case_sha256 = ref.sha256
        self.evidence_states[ref.sha256] = "ok"
        if od.scan_result is not None:
            self.merge_scan(od, od.scan_result)
        self._keep_bookmarks(od)  # the bookmarks made before the case are the case's now
        self.mark_dirty()
        return ref

    def merge_scan(self, od: OpenDump, result: Any) -> ScanRun | None:
        """Merge a finished scan of ``od`` into the case when ``od`` is its evidence; the run, else None."""
        sha = self.evidence_sha256(od)
        if sha is None or self.case is None or result.cancelled:
            return None
        settings = {"source": "window", "public_keys": len(result.public_keys)}
        run = self.case.merge_scan(sha, [f.to_json() for f in result.findings], settings)
        self.mark_dirty()
        return run

    def link_evidence(self, od: OpenDump, ref: EvidenceRef) -> None:
        """``od`` is the file of the case's ``ref``: take the case's bookmarks, and its findings when
        ``od`` has none yet (stored findings are shown without a re-scan)."""
        if self.case is None:
            raise ValueError("no case is open")
        od.case_sha256 = ref.sha256
        known = {(b.offset, b.length, b.name): b for b in od.bookmarks}
        added = False
        for b in self.case.case.bookmarks:
            if b.evidence_sha256 != ref.key:
                continue
            same = known.get((b.offset, b.length, b.name))
            if same is not None:
                same.case_id = same.case_id or b.id
                continue
            od.bookmarks.append(Bookmark(b.name, b.offset, b.length, b.colour or DEFAULT_BOOKMARK_COLOUR, b.note,
                                         case_id=b.id))
            added = True
        if any(not b.case_id for b in od.bookmarks):
            self._keep_bookmarks(od)
            added = True
        if added:
            self.events.bookmarks_changed.emit(od)
        records = [r for r in self.case.case.findings if r.evidence_sha256 == ref.key and not r.stale]
        if records and not od.findings:
            self.set_findings(od, [Finding.from_json(r.finding) for r in records])

    def case_record(self, od: OpenDump | None, finding: Finding) -> tuple[Any, str]:
        """``(record, "")`` of ``finding`` of ``od`` in the case, or ``(None, why it has none)``."""
        if self.case is None:
            return None, "No case open: findings are reviewed in a case."
        sha = self.evidence_sha256(od)
        if sha is None:
            return None, ("This dump is not evidence of the case: Case ▸ Add the current dump as evidence "
                          "(Ctrl+Alt+E).")
        try:
            return self.case.case.finding(finding.id, sha), ""
        except KeyError:
            return None, "This finding is not in the case yet: scan the dump (Ctrl+R)."

    def review_of(self, od: OpenDump | None, finding: Finding) -> tuple[str, str] | None:
        """``(status, severity)`` of ``finding`` of ``od`` in the case; None when it is not in it."""
        record, _why = self.case_record(od, finding)
        return None if record is None else (record.review.status, record.review.severity)

    def dump_of_evidence(self, sha256: str) -> OpenDump | None:
        """The open dump that is the case's evidence ``sha256``, None when it is not open."""
        return next((od for od in self._dumps.values() if self.evidence_sha256(od) == sha256), None)


BUNDLE_COPY = "bundle copy"


def tab_title(session: Session, od: OpenDump) -> tuple[str, str]:
    """``(title, tooltip)`` of ``od``'s tab: the file name, marked as the bundle's copy when the file is
    evidence extracted from a received bundle (it must not pass for the examiner's original)."""
    path = od.path.resolve()
    if any(Path(p).resolve() == path for p in session.evidence_overrides.values()):
        return f"{od.path.name} [{BUNDLE_COPY}]", f"{od.path}\nthe copy of the evidence inside a received bundle"
    origin = getattr(od.dump, "origin", None)
    if origin is not None:  # a dump that came in a container: the member and the chain
        member = origin.member
        title = f"{od.path.name} › {member}" if member else od.path.name
        return title, f"{od.path}\n{' > '.join(od.dump.chain)} (offsets in the decompressed content)"
    return od.path.name, str(od.path)


def evidence_file_state(state: TaskState, sha256: str, path: str | os.PathLike[str]) -> str:
    """``"ok"`` when the file at ``path`` has the digest ``sha256``, else what is wrong with it
    (``changed``, ``missing``, ``unreadable``). A long job for big evidence: progress in bytes, cancel."""
    h = hashlib.sha256()
    try:
        total = os.path.getsize(path)
        done = 0
        with open(path, "rb") as f:
            while chunk := f.read(HASH_CHUNK):
                state.check()
                h.update(chunk)
                done += len(chunk)
                state.progress(done, total)
    except FileNotFoundError:
        return "missing"
    except OSError:
        return "unreadable"
    return "ok" if h.hexdigest() == sha256 else "changed"


__all__ = ["BUNDLE_COPY", "DEFAULT_BOOKMARK_COLOUR", "Bookmark", "OpenDump", "Session", "SessionEvents", "evidence_file_state",
           "tab_title"]
