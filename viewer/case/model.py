"""The case model: what an examiner's case holds, as plain data (no Qt, no crypto).

* :class:`Case` — id (UUID4 string), name, number, examiner, description, created/modified (UTC ISO),
  evidence references, findings as scanned with their review, scan runs, bookmarks and the audit trail.
* :class:`EvidenceRef` — path (relative to the case file's folder where possible), size, SHA-256,
  format, added_at, added_by. :func:`verify_evidence` re-hashes every reference and reports ``ok``,
  ``changed`` or ``missing``; :func:`relocate` points a reference at a new path when its hash matches.
* :class:`FindingRecord` — one ``Finding.to_json()`` dict for one evidence item (keyed by evidence
  SHA-256 and finding id), the scanner version and settings that produced it, and its :class:`Review`
  (status, severity, tags, comment thread). :func:`merge_scan` merges a new scan by finding id and keeps
  every review; findings a later scan no longer reports are kept and flagged ``stale``.
* :class:`Bookmark` — evidence SHA-256, offset, length, name, colour, note.

Every mutating function takes an ``author`` (see :func:`make_author`: configured name plus the OS user)
and appends the matching event to ``case.audit``; the caller saves.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from viewer.case.audit import AuditTrail, utc_now
from viewer.case.errors import CaseError, EvidenceMismatch

STATUSES = ("unreviewed", "confirmed", "false-positive", "needs-more-information")
SEVERITIES = ("none", "low", "medium", "high", "critical")


def make_author(configured: str | None = None) -> str:
    """``"<configured name> (<os user>)"``, or just the OS user when no name is configured."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (containers): still record something
        user = f"uid-{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    configured = (configured or "").strip()
    return f"{configured} ({user})" if configured else user


def file_sha256(path: str | os.PathLike[str], progress: Callable[[int], None] | None = None) -> str:
    """SHA-256 of a file, streamed; ``progress(bytes)`` after each MiB (it may raise to stop)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            if progress is not None:
                progress(len(chunk))
    return h.hexdigest()


@dataclass
class EvidenceRef:
    path: str
    size: int
    sha256: str
    format: str
    added_at: str
    added_by: str
    #: For evidence that came in a container (compressed, ZIP, apport): the SHA-256 and size of the
    #: decompressed content the findings' offsets refer to, and the chain of layers; None otherwise.
    content_sha256: str | None = None
    content_size: int | None = None
    chain: list[str] | None = None
    #: The ZIP member, when the file holds several dumps and this is one of them (each is evidence).
    member: str | None = None

    @property
    def key(self) -> str:
        """The SHA-256 findings, scans and bookmarks name this evidence by (``Dump.evidence_sha256``):
        the file's, or for one of several dumps in one file (which share the file's hash) its content's."""
        return self.content_sha256 if self.member is not None and self.content_sha256 else self.sha256

    def resolve(self, case_dir: str | os.PathLike[str] | None) -> Path:
        p = Path(self.path)
        return p if p.is_absolute() or case_dir is None else Path(case_dir) / p


@dataclass
class EvidenceStatus:
    ref: EvidenceRef
    state: str  # "ok", "changed" or "missing"
    actual_sha256: str | None = None


@dataclass
class Comment:
    author: str
    time: str
    text: str
    edited: bool = False
    edited_at: str | None = None


@dataclass
class Review:
    status: str = "unreviewed"
    severity: str = "none"
    tags: list[str] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)


@dataclass
class FindingRecord:
    evidence_sha256: str
    finding: dict[str, Any]
    scanner_version: str
    settings: dict[str, Any]
    first_seen: str
    last_seen: str
    stale: bool = False
    review: Review = field(default_factory=Review)

    @property
    def id(self) -> str:
        return self.finding["id"]


@dataclass
class ScanRun:
    evidence_sha256: str
    time: str
    author: str
    scanner_version: str
    settings: dict[str, Any]
    findings: int
    new: int
    stale: int


@dataclass
class Bookmark:
    id: str
    evidence_sha256: str
    offset: int
    length: int
    name: str
    colour: str = ""
    note: str = ""
    author: str = ""
    created: str = ""


@dataclass
class Case:
    id: str
    name: str
    number: str = ""
    examiner: str = ""
    description: str = ""
    created: str = ""
    modified: str = ""
    evidence: list[EvidenceRef] = field(default_factory=list)
    findings: list[FindingRecord] = field(default_factory=list)
    scans: list[ScanRun] = field(default_factory=list)
    bookmarks: list[Bookmark] = field(default_factory=list)
    audit: AuditTrail = field(default_factory=AuditTrail)

    @classmethod
    def new(cls, name: str, examiner: str, *, number: str = "", description: str = "",
            author: str | None = None) -> Case:
        now = utc_now()
        case = cls(id=str(uuid.uuid4()), name=name, number=number, examiner=examiner,
                   description=description, created=now, modified=now)
        case.audit.append("case-created", author or make_author(examiner),
                          {"id": case.id, "name": name, "number": number, "examiner": examiner})
        return case

    def touch(self) -> None:
        self.modified = utc_now()

    def _by_id(self) -> dict[str, list[FindingRecord]]:
        """Finding records by id, rebuilt when records were added or removed: a case holds 100,000
        findings, and a linear search per annotation made reviewing them quadratic."""
        index = self.__dict__.get("_finding_index")
        if index is None or self.__dict__.get("_finding_count") != len(self.findings):
            index = {}
            for r in self.findings:
                index.setdefault(r.id, []).append(r)
            self.__dict__["_finding_index"] = index
            self.__dict__["_finding_count"] = len(self.findings)
        return index

    def finding(self, finding_id: str, evidence_sha256: str | None = None) -> FindingRecord:
        hits = [r for r in self._by_id().get(finding_id, ())
                if evidence_sha256 is None or r.evidence_sha256 == evidence_sha256]
        if not hits:
            raise KeyError(f"no finding {finding_id} in the case")
        if len(hits) > 1:
            raise KeyError(f"finding {finding_id} is in several evidence items: name the evidence SHA-256")
        return hits[0]

    def evidence_by_sha256(self, sha256: str) -> EvidenceRef | None:
        """The evidence item findings name by ``sha256`` (its :attr:`EvidenceRef.key`)."""
        return next((e for e in self.evidence if e.key == sha256), None)

    # -- serialisation ---------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """Plain dicts for the payload, built field by field: ``dataclasses.asdict`` deep-copies every
        value and took 27 s for 100,000 findings (the JSON encoder never mutates what it is given)."""

        def review(rv: Review) -> dict[str, Any]:
            return {"status": rv.status, "severity": rv.severity, "tags": list(rv.tags),
                    "comments": [dict(vars(c)) for c in rv.comments]}

        def record(r: FindingRecord) -> dict[str, Any]:
            out = {k: v for k, v in vars(r).items() if k != "review"}
            out["review"] = review(r.review)
            return out

        return {
            "id": self.id, "name": self.name, "number": self.number, "examiner": self.examiner,
            "description": self.description, "created": self.created, "modified": self.modified,
            "evidence": [{k: v for k, v in vars(e).items() if v is not None or k != "member"} for e in self.evidence],
            "findings": [record(r) for r in self.findings],
            "scans": [dict(vars(sc)) for sc in self.scans],
            "bookmarks": [dict(vars(b)) for b in self.bookmarks],
            "audit": self.audit.to_json(),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Case:
        def record(r: dict[str, Any]) -> FindingRecord:
            rv = dict(r["review"])
            rv["comments"] = [Comment(**c) for c in rv.get("comments", [])]
            return FindingRecord(**{**r, "review": Review(**rv)})

        return cls(
            id=d["id"], name=d["name"], number=d.get("number", ""), examiner=d.get("examiner", ""),
            description=d.get("description", ""), created=d["created"], modified=d["modified"],
            evidence=[EvidenceRef(**e) for e in d.get("evidence", [])],
            findings=[record(r) for r in d.get("findings", [])],
            scans=[ScanRun(**s) for s in d.get("scans", [])],
            bookmarks=[Bookmark(**b) for b in d.get("bookmarks", [])],
            audit=AuditTrail.from_json(d.get("audit", [])),
        )


# -- evidence -------------------------------------------------------------------------------------
def _stored_path(path: Path, case_dir: str | os.PathLike[str] | None) -> str:
    path = path.resolve()
    if case_dir is None:
        return str(path)
    try:
        return os.path.relpath(path, Path(case_dir).resolve())
    except ValueError:  # another drive (Windows): keep it absolute
        return str(path)


def add_evidence(case: Case, dump_path: str | os.PathLike[str], author: str,
                 case_dir: str | os.PathLike[str] | None = None, member: str | None = None) -> EvidenceRef:
    """Open the dump (read-only), hash it and add a reference; the same evidence twice is refused.

    A file holding several dumps (a ZIP of dumps) gives one evidence item per dump: ``member`` names
    the one to add (:func:`add_all_evidence` adds each); without it such a file is refused."""
    from viewer.evidence import open_dump

    dump = open_dump(dump_path, member=member)
    if member is None and dump.origin is not None and dump.origin.several:
        dump.close()
        raise CaseError(f"{dump_path}: the file holds {dump.origin.dumps} dumps; each is added as evidence of "
                        "its own (`case add` adds them all; the window adds the dump of the current tab)")
    try:
        return _add(case, dump, dump_path, author, case_dir)
    finally:
        dump.close()


def add_all_evidence(case: Case, dump_path: str | os.PathLike[str], author: str,
                     case_dir: str | os.PathLike[str] | None = None) -> list[EvidenceRef]:
    """Every dump in the file as evidence (one for a dump, one per dump of a ZIP of several); a dump
    already in the case is passed over, and when all of them are, CaseError."""
    from viewer.evidence import close_dumps, open_dumps

    dumps = open_dumps(dump_path)
    added: list[EvidenceRef] = []
    try:
        for dump in dumps:
            try:
                added.append(_add(case, dump, dump_path, author, case_dir))
            except CaseError:
                if len(dumps) == 1:
                    raise
        if not added:
            raise CaseError(f"{dump_path}: its {len(dumps)} dumps are all in the case already")
        return added
    finally:
        close_dumps(dumps)


def _add(case: Case, dump: Any, dump_path: str | os.PathLike[str], author: str,
         case_dir: str | os.PathLike[str] | None) -> EvidenceRef:
    sha, size, fmt, member = dump.sha256(), dump.evidence_size, dump.format, dump.member
    contained = dump.origin is not None
    content = (dump.content_sha256(), dump.size, dump.chain) if contained else (None, None, None)
    if any(e.sha256 == sha and e.member == member for e in case.evidence):
        which = f" ({member})" if member is not None else ""
        raise CaseError(f"{dump_path}{which}: this evidence (SHA-256 {sha[:16]}…) is already in the case")
    ref = EvidenceRef(path=_stored_path(Path(dump_path), case_dir), size=size, sha256=sha, format=fmt,
                      added_at=utc_now(), added_by=author, content_sha256=content[0], content_size=content[1],
                      chain=content[2], member=member)
    case.evidence.append(ref)
    facts = {"sha256": sha, "path": ref.path, "size": ref.size, "format": ref.format}
    if contained:
        facts.update(content_sha256=ref.content_sha256, content_size=ref.content_size, chain=ref.chain)
    if member is not None:
        facts["member"] = member
    case.audit.append("evidence-added", author, facts)
    case.touch()
    return ref


def verify_evidence(case: Case, case_dir: str | os.PathLike[str] | None = None,
                    paths: dict[str, Path] | None = None,
                    progress: Callable[[int], None] | None = None) -> list[EvidenceStatus]:
    """Re-hash every evidence file: ``ok``, ``changed`` (other SHA-256) or ``missing``. ``paths`` (by
    SHA-256) says where a file is when not where the case says (evidence extracted from a bundle);
    ``progress(bytes)`` as :func:`file_sha256`."""
    out = []
    digests: dict[Path, str] = {}  # several dumps of one file: the file is hashed once
    for ref in case.evidence:
        p = (paths or {}).get(ref.sha256) or ref.resolve(case_dir)
        if not p.is_file():
            out.append(EvidenceStatus(ref, "missing"))
            continue
        if p not in digests:
            digests[p] = file_sha256(p, progress)
        actual = digests[p]
        out.append(EvidenceStatus(ref, "ok" if actual == ref.sha256 else "changed", actual))
    return out


def relocate(case: Case, ref: EvidenceRef, new_path: str | os.PathLike[str], author: str,
             case_dir: str | os.PathLike[str] | None = None, *, actual_sha256: str | None = None) -> None:
    """Point ``ref`` at ``new_path`` if that file has the reference's SHA-256; else EvidenceMismatch.

    ``actual_sha256``: the file's digest when the caller has just computed it (the window hashes
    gigabytes in a worker, not on its GUI thread); otherwise the file is hashed here."""
    actual = actual_sha256 or file_sha256(new_path)
    if actual != ref.sha256:
        raise EvidenceMismatch(
            f"{new_path}: SHA-256 {actual[:16]}… is not that of the evidence ({ref.sha256[:16]}…)")
    old = ref.path
    ref.path = _stored_path(Path(new_path), case_dir)
    case.audit.append("evidence-relocated", author, {"sha256": ref.sha256, "from": old, "to": ref.path})
    case.touch()


# -- findings -------------------------------------------------------------------------------------
def merge_scan(case: Case, evidence_sha256: str, findings_json: list[dict[str, Any]],
               settings: dict[str, Any], author: str, scanner_version: str | None = None) -> ScanRun:
    """Merge one scan of one evidence item by finding id.

    A finding seen before gets the new scan's data and keeps its review (status, severity, tags,
    comments); a new one starts unreviewed; one the scan no longer reports stays, flagged ``stale``.
    """
    if case.evidence_by_sha256(evidence_sha256) is None:
        raise CaseError(f"no evidence with SHA-256 {evidence_sha256[:16]}… in the case: add it first")
    if scanner_version is None:
        from viewer import __version__ as scanner_version
    now = utc_now()
    existing = {r.id: r for r in case.findings if r.evidence_sha256 == evidence_sha256}
    seen: set[str] = set()
    new = 0
    for f in findings_json:
        fid = f["id"]
        seen.add(fid)
        rec = existing.get(fid)
        if rec is None:
            rec = FindingRecord(evidence_sha256, dict(f), scanner_version, dict(settings), now, now)
            case.findings.append(rec)
            existing[fid] = rec
            new += 1
        else:
            rec.finding, rec.scanner_version, rec.settings = dict(f), scanner_version, dict(settings)
            rec.last_seen, rec.stale = now, False
    stale = 0
    for fid, rec in existing.items():
        if fid not in seen:
            rec.stale = True
            stale += 1
    run = ScanRun(evidence_sha256, now, author, scanner_version, dict(settings), len(seen), new, stale)
    case.scans.append(run)
    case.audit.append("scan-run", author, {
        "evidence": evidence_sha256, "scanner_version": scanner_version, "settings": dict(settings),
        "findings": len(seen), "new": new, "stale": stale})
    case.touch()
    return run


def annotate(case: Case, finding_id: str, author: str, *, evidence_sha256: str | None = None,
             status: str | None = None, severity: str | None = None, tags: list[str] | None = None,
             comment: str | None = None) -> FindingRecord:
    """Change a finding's review; one audit event per changed field and per comment."""
    rec = case.finding(finding_id, evidence_sha256)
    rv = rec.review
    ref = {"finding": finding_id, "evidence": rec.evidence_sha256}
    if status is not None:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}: use one of {', '.join(STATUSES)}")
        if status != rv.status:
            case.audit.append("status-change", author, {**ref, "field": "status", "old": rv.status, "new": status})
            rv.status = status
    if severity is not None:
        if severity not in SEVERITIES:
            raise ValueError(f"unknown severity {severity!r}: use one of {', '.join(SEVERITIES)}")
        if severity != rv.severity:
            case.audit.append("status-change", author,
                              {**ref, "field": "severity", "old": rv.severity, "new": severity})
            rv.severity = severity
    if tags is not None:
        tags = sorted({t.strip() for t in tags if t.strip()})
        if tags != rv.tags:
            case.audit.append("status-change", author, {**ref, "field": "tags", "old": rv.tags, "new": tags})
            rv.tags = tags
    if comment is not None:
        if not comment.strip():
            raise ValueError("an empty comment")
        rv.comments.append(Comment(author, utc_now(), comment))
        case.audit.append("comment", author,
                          {**ref, "action": "added", "index": len(rv.comments) - 1, "text": comment})
    case.touch()
    return rec


def edit_comment(case: Case, finding_id: str, index: int, text: str, author: str, *,
                 evidence_sha256: str | None = None) -> Comment:
    """Replace a comment's text (only its author may) and flag it edited."""
    rec = case.finding(finding_id, evidence_sha256)
    c = rec.review.comments[index]
    if c.author != author:
        raise CaseError(f"only {c.author} may edit this comment")
    case.audit.append("comment", author, {"finding": finding_id, "evidence": rec.evidence_sha256,
                                          "action": "edited", "index": index, "old": c.text, "text": text})
    c.text, c.edited, c.edited_at = text, True, utc_now()
    case.touch()
    return c


# -- bookmarks ------------------------------------------------------------------------------------
def add_bookmark(case: Case, evidence_sha256: str, offset: int, length: int, name: str, author: str, *,
                 colour: str = "", note: str = "") -> Bookmark:
    if case.evidence_by_sha256(evidence_sha256) is None:
        raise CaseError(f"no evidence with SHA-256 {evidence_sha256[:16]}… in the case")
    if offset < 0 or length < 0:
        raise ValueError("bookmark offset and length must not be negative")
    b = Bookmark(uuid.uuid4().hex, evidence_sha256, offset, length, name, colour, note, author, utc_now())
    case.bookmarks.append(b)
    case.audit.append("bookmark", author, {"action": "added", **asdict(b)})
    case.touch()
    return b


def remove_bookmark(case: Case, bookmark_id: str, author: str) -> None:
    b = next((b for b in case.bookmarks if b.id == bookmark_id), None)
    if b is None:
        raise KeyError(f"no bookmark {bookmark_id}")
    case.bookmarks.remove(b)
    case.audit.append("bookmark", author, {"action": "removed", "id": b.id, "name": b.name})
    case.touch()


def record_redaction(case: Case, evidence_sha256: str, facts: dict[str, Any], author: str) -> None:
    """Note a redacted copy made of one evidence item (where, its hash, what was removed: no key bytes)."""
    case.audit.append("redact", author, {"evidence": evidence_sha256, **facts})
    case.touch()


def record_export(case: Case, kind: str, target: str, author: str) -> None:
    """Note an export (report, bundle, findings file) in the audit trail."""
    case.audit.append("export", author, {"kind": kind, "target": target})
    case.touch()
