"""Case bundles: one ZIP that carries a case to someone else, and the check that it arrived unchanged.

API::

    export_bundle(cf, out, *, include_evidence=False, include_secrets=False, author=None) -> dict
        # the manifest written; ``cf`` is an open viewer.case.CaseFile
    verify_bundle(path) -> VerifyResult   # .problems (one line each), .unreadable (str | None), .manifest
    finding_excerpt(dump, finding, secret_ranges, reveal=False) -> list[dict]   # hex segments
    BundleError                            # export failed (evidence missing, changed, unwritable ...)

Members (all at the top of the archive except the case file and the evidence)::

    manifest.json      format, case id/name/number/examiner, program and version, creation time, whether
                       secrets and evidence are included, the audit head (seq, hash) and event count, size
                       and SHA-256 of every other member, size/SHA-256/format/state of each evidence file
    case/<name>.evcase the case file as saved (still encrypted), after the export event was appended
    report.html        the self-contained report (viewer.case.report)
    findings.json      every finding record with its review and a hex excerpt
    findings.csv       one row per finding (no bytes)
    findings.sarif     SARIF 2.1.0 (no bytes), the review status in each result's properties
    audit.jsonl        the audit trail, one event per line in its canonical JSON (hash chain intact)
    evidence/<sha256 prefix>-<file name>   only with ``include_evidence``: the dumps, streamed

Order of an export: the ``export`` audit event (kind ``bundle``, target, include_secrets,
include_evidence) is appended and the case saved *first*, so the case file inside the bundle, audit.jsonl
and the manifest's audit head all agree. If the export then fails (evidence missing or changed, disk
full) the event stays in the trail: the trail records the attempt, and no partial bundle is left (the ZIP
is written to a temporary file next to ``out`` and renamed into place at the end).

Secrets. By default no member holds a byte of a secret finding: excerpts show up to 16 bytes of
context before and after a finding (and the first 32 / last 16 bytes of long findings), but every byte
that lies inside *any* secret finding of that evidence is shown as ``••`` (in findings.json a segment's
``hex`` has ``••`` in place of each such byte). Context bytes are shown only in file-aligned 8-byte
groups that look like structure (:func:`looks_like_structure`: pointers, lengths, padding); random-looking
groups are masked too, because key material the scanner did not flag can sit right next to a finding
(seen in the corpus: the first bytes of an unflagged big-endian CRT coefficient 4 bytes after a flagged
component). Public context (certificates, public keys) shows its own bytes.
Key ids (fingerprints of the public half) stand in for key material everywhere. With ``include_secrets``
the excerpts show the real bytes (a finding's first 4 KiB), and the manifest and the audit event say so.
Excerpts need the evidence file: when it is missing or its SHA-256 changed, findings carry no excerpt.

Verification (``verify_bundle``): every member listed in the manifest must be in the archive with the
declared size (checked from the ZIP directory before reading anything: a zip bomb is refused unread; only audit.jsonl
of a wrong size is still read, up to 256 MiB, to name the events that differ) and
SHA-256 (hashed in a stream, reading at most the declared size plus one byte); members not in the
manifest are reported too; audit.jsonl must be an intact chain ending at the manifest's head
(:meth:`viewer.case.audit.AuditTrail.verify`). Each problem is one line naming the member or the event.
Unreadable (not a ZIP, no manifest, manifest not JSON or over 16 MiB) is ``unreadable``, not a problem list.
"""

from __future__ import annotations

import bisect
import contextlib
import csv
import hashlib
import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from viewer.case.audit import AuditTrail, canonical_json, utc_now
from viewer.case.errors import CaseError
from viewer.case.store import CaseFile
from viewer.scan.progress import is_cancelled, report_step

FORMAT = "evidence-viewer-case-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
AUDIT = "audit.jsonl"
MAX_MANIFEST = 16 * 1024 * 1024
MAX_AUDIT = 256 * 1024 * 1024  # audit.jsonl of a changed size is still read for the chain check up to this
CONTEXT = 16  # bytes of context either side of a finding
HEAD, TAIL = 32, 16  # bytes of a long finding shown (masked or not) at its start and end
GROUP = 8  # context bytes are judged in file-aligned groups of this many (looks_like_structure)
REVEAL_CAP = 4096
MASK = "••"
COPY_BUF = 1024 * 1024


class BundleError(CaseError):
    """The export could not be made; ``str()`` is a one-line message."""


class ExportCancelled(BundleError):
    """The examiner cancelled an export: no bundle was written (the partial archive is removed)."""


STEP_VERIFY, STEP_ENTROPY, STEP_ARCHIVE = "verifying the evidence", "entropy", "writing the archive"


class _Progress:
    """The caller's state (a ScanState, or None) seen by one export: byte counts across all the work of a
    step (``step_progress``), and cancel, which raises :class:`ExportCancelled` at the next check."""

    def __init__(self, state: Any, step: str, total: int):
        self.state, self.step, self.total, self.done = state, step, total, 0

    @property
    def is_cancelled(self) -> bool:
        return is_cancelled(self.state)

    def check(self) -> None:
        if self.is_cancelled:
            raise ExportCancelled("export cancelled: no bundle was written")

    def add(self, n: int) -> None:
        """``n`` more bytes done (a hashing or copying loop's callback)."""
        self.done += n
        report_step(self.state, self.step, self.done, self.total)
        self.check()

    def progress(self, done: int, total: int) -> None:
        """The entropy pass's callback: its bytes, offset by the files already done."""
        report_step(self.state, self.step, self.done + done, self.total)



# -- excerpts -----------------------------------------------------------------------------------------
def secret_ranges(findings: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """Merged, sorted ``[start, end)`` file ranges of every secret finding in ``findings``."""
    spans = sorted((int(f["offset"]), int(f["offset"]) + int(f["length"]))
                   for f in findings if f.get("secret", True))
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def _in_ranges(pos: int, ranges: list[tuple[int, int]], starts: list[int]) -> bool:
    i = bisect.bisect_right(starts, pos) - 1
    return i >= 0 and ranges[i][0] <= pos < ranges[i][1]


def finding_excerpt(dump: Any, finding: dict[str, Any], ranges: list[tuple[int, int]],
                    reveal: bool = False) -> list[dict[str, Any]]:
    """Hex segments around one finding: ``[{"offset", "length", "hex"}]``.

    Masked (default): CONTEXT bytes before and after; a finding longer than HEAD + TAIL bytes is shown as
    its first HEAD and last TAIL bytes (two segments); every byte inside ``ranges`` (the secret findings)
    is ``••``, and so is every context byte whose 8-byte group does not look like structure. With ``reveal``: the real bytes of the finding (at most REVEAL_CAP) plus the context.
    """
    off, length, size = int(finding["offset"]), int(finding["length"]), int(dump.size)
    end = off + length
    lo, hi = max(0, off - CONTEXT), min(size, end + CONTEXT)
    if reveal:
        windows = [(lo, min(hi, off + REVEAL_CAP))] if length > REVEAL_CAP else [(lo, hi)]
    elif length > HEAD + TAIL:
        windows = [(lo, min(size, off + HEAD)), (max(0, end - TAIL), hi)]
    else:
        windows = [(lo, hi)]
    starts = [r[0] for r in ranges]
    groups: dict[int, bool] = {}

    def shown(pos: int) -> bool:
        if _in_ranges(pos, ranges, starts):
            return False
        if off <= pos < end:  # the bytes of a public finding itself
            return True
        g = pos - pos % GROUP
        if g not in groups:
            groups[g] = looks_like_structure(dump.read(g, GROUP))
        return groups[g]

    out = []
    for s, e in windows:
        if e <= s:
            continue
        data = dump.read(s, e - s)
        if reveal:
            text = data.hex()
        else:
            text = "".join(f"{b:02x}" if shown(s + i) else MASK for i, b in enumerate(data))
        out.append({"offset": s, "length": len(data), "hex": text})
    return out


def looks_like_structure(group: bytes) -> bool:
    """True for an 8-byte context group that looks like structure (pointers, lengths, padding, small
    integers) rather than random data: at least two bytes 0x00/0xff, or at most six distinct values.
    Random bytes pass with a probability of about 0.7%; the rule keeps undetected key material next to a
    finding (a neighbouring CRT component the scanner did not flag, say) out of the excerpt."""
    return sum(1 for b in group if b in (0, 0xFF)) >= 2 or len(set(group)) <= 6


# -- the findings documents ----------------------------------------------------------------------------
def record_json(rec: Any, excerpt: list[dict[str, Any]] | None, masked: bool) -> dict[str, Any]:
    """One finding record of findings.json: the finding, its review, where it came from, its excerpt."""
    out = {k: v for k, v in rec.finding.items() if not k.startswith("excerpt")}
    rv = rec.review
    out.update({
        "evidence_sha256": rec.evidence_sha256,
        "scanner_version": rec.scanner_version,
        "settings": rec.settings,
        "first_seen": rec.first_seen,
        "last_seen": rec.last_seen,
        "stale": rec.stale,
        "review": {
            "status": rv.status, "severity": rv.severity, "tags": list(rv.tags),
            "comments": [{"author": c.author, "time": c.time, "text": c.text, "edited": c.edited,
                          "edited_at": c.edited_at} for c in rv.comments],
        },
        "excerpt": None if excerpt is None else {"masked": masked, "segments": excerpt},
    })
    return out


CSV_COLUMNS = ["id", "evidence_sha256", "kind", "encoding", "offset", "length", "vaddr", "region",
               "confidence", "secret", "key_id", "matches", "reasons", "stale", "status", "severity", "tags",
               "comments"]


def findings_csv(records: list[dict[str, Any]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for r in records:
        rv = r["review"]
        w.writerow([
            r["id"], r["evidence_sha256"], r["kind"], r["encoding"], r["offset"], r["length"],
            "" if r.get("vaddr") is None else f"{r['vaddr']:#x}", r.get("region") or "", r["confidence"],
            r.get("secret"), r.get("key_id") or "", "; ".join(r.get("matches") or []),
            " | ".join(r.get("reasons") or []), r["stale"], rv["status"], rv["severity"], "; ".join(rv["tags"]),
            " | ".join(f"{c['author']} {c['time']}: {c['text']}" for c in rv["comments"]),
        ])
    return buf.getvalue().encode("utf-8")


def _level(f: dict[str, Any]) -> str:
    if not f.get("secret", True):
        return "note"
    conf = f.get("confidence")
    return "error" if conf in ("high", "confirmed") else "warning" if conf == "medium" else "note"


def findings_sarif(case: Any, records: list[dict[str, Any]]) -> dict[str, Any]:
    """SARIF 2.1.0 of the case's findings: messages describe, they never quote bytes."""
    from viewer import __version__
    from viewer.scan.report import SARIF_SCHEMA, TOOL_NAME

    index = {ref.sha256: i for i, ref in enumerate(case.evidence)}
    artifacts = [{"location": {"uri": PurePosixPath(Path(ref.path).name).as_posix()}, "length": ref.size,
                  "hashes": {"sha-256": ref.sha256}} for ref in case.evidence]
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for r in records:
        kind = r["kind"]
        rules.setdefault(kind, {"id": kind, "name": kind.title().replace("-", ""),
                                "shortDescription": {"text": f"{kind} in process memory"},
                                "defaultConfiguration": {"level": "error" if r.get("secret", True) else "note"}})
        what = "possible secret" if r.get("secret", True) else "public context"
        text = (f"{kind} ({r['encoding']}), {what}, confidence {r['confidence']}, {r['length']} bytes at file "
                f"offset {r['offset']:#x}")
        if r.get("region"):
            text += f" in {r['region']}"
        if r.get("key_id"):
            text += f"; key id {r['key_id']}"
        res: dict[str, Any] = {
            "ruleId": kind, "level": _level(r), "message": {"text": text},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": artifacts[index[r["evidence_sha256"]]]["location"]["uri"]
                                     if r["evidence_sha256"] in index else "", "index": index.get(r["evidence_sha256"], -1)},
                "region": {"byteOffset": r["offset"], "byteLength": r["length"]}}}],
            "partialFingerprints": {"findingId/v1": r["id"]},
            "properties": {"key_id": r.get("key_id"), "confidence": r["confidence"], "encoding": r["encoding"],
                           "secret": r.get("secret", True), "vaddr": r.get("vaddr"), "region": r.get("region"),
                           "reasons": list(r.get("reasons") or []), "review_status": r["review"]["status"],
                           "severity": r["review"]["severity"], "stale": r["stale"],
                           "evidence_sha256": r["evidence_sha256"]},
        }
        if r["review"]["status"] == "false-positive":
            res["suppressions"] = [{"kind": "external", "status": "accepted",
                                    "justification": "reviewed as a false positive"}]
        results.append(res)
    rule_list = [rules[k] for k in sorted(rules)]
    rule_index = {r["id"]: i for i, r in enumerate(rule_list)}
    for res in results:
        res["ruleIndex"] = rule_index[res["ruleId"]]
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": TOOL_NAME, "version": __version__, "rules": rule_list}},
        "artifacts": artifacts, "results": results, "columnKind": "unicodeCodePoints"}]}


def audit_jsonl(trail: AuditTrail) -> bytes:
    return b"".join(canonical_json(e) + b"\n" for e in trail.to_json())


# -- export ------------------------------------------------------------------------------------------
class _HashingWriter:
    """A write-only file object that hashes and counts what goes through it into ``target``."""

    def __init__(self, target: Any):
        self.target, self.sha, self.size = target, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self.target.write(data)


def _safe_name(name: str) -> str:
    keep = "".join(c if c.isalnum() or c in "._-" else "_" for c in name).strip("._") or "file"
    return keep[:120]


@dataclass
class _Evidence:
    ref: Any
    state: str  # ok / changed / missing
    path: Path
    dump: Any = None


def _open_evidence(cf: CaseFile, paths: dict[str, Path] | None = None, state: Any = None) -> list[_Evidence]:
    """Every evidence item, verified, opened when its file is there and unchanged. ``paths`` (by SHA-256):
    where a file is when not where the case says (the window's evidence extracted from a bundle);
    ``state``: progress of the hashing (``verifying the evidence``) and cancel."""
    from viewer.evidence import EvidenceError, open_dump

    out = []
    hashing = _Progress(state, STEP_VERIFY, sum(ref.size for ref in cf.case.evidence))
    hashing.check()
    for st in cf.verify_evidence(paths, hashing.add if state is not None else None):
        ev = _Evidence(st.ref, st.state, (paths or {}).get(st.ref.sha256) or st.ref.resolve(cf.case_dir))
        if st.state == "ok":
            try:
                ev.dump = open_dump(ev.path)
            except (EvidenceError, OSError):
                ev.state = "missing"
        out.append(ev)
    return out


def _entropy_progress(evidence: list[_Evidence], state: Any) -> Any:
    """The entropy pass's progress over all the evidence that is plotted (None without a state)."""
    if state is None:
        return None
    return _Progress(state, STEP_ENTROPY, sum(e.ref.size for e in evidence if e.dump is not None))


def derived_records(case: Any, evidence: list[_Evidence], include_secrets: bool) -> list[dict[str, Any]]:
    """findings.json's records: every finding with its review and its hex excerpt (masked unless
    ``include_secrets``; None when the evidence is not reachable)."""
    by_sha = {e.ref.sha256: e for e in evidence}
    ranges = {sha: secret_ranges([r.finding for r in case.findings if r.evidence_sha256 == sha]) for sha in by_sha}
    records = []
    for rec in case.findings:
        ev = by_sha.get(rec.evidence_sha256)
        ex = None
        if ev is not None and ev.dump is not None:
            ex = finding_excerpt(ev.dump, rec.finding, ranges[rec.evidence_sha256], include_secrets)
        records.append(record_json(rec, ex, not include_secrets))
    return records


def render_case_report(cf: CaseFile, *, include_secrets: bool = False, author: str | None = None,
                       evidence_paths: dict[str, Path] | None = None, state: Any = None) -> str:
    """report.html of the case as it is now, outside a bundle (the window prints it to PDF).

    The same content as a bundle's report; the program, time and audit head are those of the moment.
    The caller records the export in the audit trail first, so that the head the report names covers it.
    ``evidence_paths``, ``state``: as for :func:`export_bundle`.
    """
    from viewer import __version__
    from viewer.handover.report import render_report

    case = cf.case
    evidence = _open_evidence(cf, evidence_paths, state)
    try:
        head = case.audit.head or (-1, "")
        manifest = {
            "program": {"name": "evidence-viewer", "version": __version__},
            "created": utc_now(), "created_by": author or cf.author,
            "secrets_included": bool(include_secrets),
            "audit": {"head": {"seq": head[0], "hash": head[1]}, "events": len(case.audit)},
        }
        return render_report(case, evidence, derived_records(case, evidence, include_secrets), manifest,
                             _entropy_progress(evidence, state))
    finally:
        for e in evidence:
            if e.dump is not None:
                e.dump.close()


def export_bundle(cf: CaseFile, out: str | os.PathLike[str], *, include_evidence: bool = False,
                  include_secrets: bool = False, author: str | None = None,
                  evidence_paths: dict[str, Path] | None = None, state: Any = None) -> dict[str, Any]:
    """Write the bundle ``out`` (see the module docstring) and return its manifest.

    ``evidence_paths`` (by SHA-256): where an evidence file is when not at the case's path — the window
    passes the files it extracted from a received bundle; each is still verified against its SHA-256.
    ``state`` (a :class:`~viewer.scan.engine.ScanState`): progress of each step through ``step_progress``
    (``STEP_*``: verifying, entropy, writing the archive) and cancel, which raises
    :class:`ExportCancelled` with no bundle written; a cancel after the export event was saved adds a
    second ``export`` event marked ``cancelled`` (the trail says the export began and did not finish)."""
    from viewer import __version__
    from viewer.handover.report import render_report

    out = Path(out)
    if not out.parent.is_dir():
        raise BundleError(f"{out.parent}: no such folder")
    case = cf.case
    evidence = _open_evidence(cf, evidence_paths, state)
    recorded = False
    try:
        if include_evidence:
            bad = [e for e in evidence if e.state != "ok"]
            if bad:
                raise BundleError(f"{bad[0].ref.path}: evidence {bad[0].state} "
                                  f"(SHA-256 {bad[0].ref.sha256[:16]}…); cannot include it")
        # 1. the export event, saved, before anything is copied
        cf.case.audit.append("export", author or cf.author, {
            "kind": "bundle", "target": out.name, "include_secrets": bool(include_secrets),
            "include_evidence": bool(include_evidence)})
        case.touch()
        cf.save()
        recorded = True
        head = case.audit.head
        assert head is not None
        # 2. the derived documents
        records = derived_records(case, evidence, include_secrets)
        created = utc_now()
        ev_entries = []
        for e in evidence:
            member = f"evidence/{e.ref.sha256[:16]}-{_safe_name(Path(e.ref.path).name)}" if include_evidence else None
            ev_entries.append({"path": e.ref.path, "size": e.ref.size, "sha256": e.ref.sha256,
                               "format": e.ref.format, "state": e.state, "member": member})
        manifest: dict[str, Any] = {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "case": {"id": case.id, "name": case.name, "number": case.number, "examiner": case.examiner},
            "program": {"name": "evidence-viewer", "version": __version__},
            "created": created, "created_by": author or cf.author,
            "secrets_included": bool(include_secrets), "evidence_included": bool(include_evidence),
            "audit": {"head": {"seq": head[0], "hash": head[1]}, "events": len(case.audit)},
            "evidence": ev_entries,
            "members": [],
        }
        report = render_report(case, evidence, records, manifest, _entropy_progress(evidence, state))
        docs = [
            ("report.html", report.encode("utf-8")),
            ("findings.json", json.dumps({"case_id": case.id, "secrets_included": bool(include_secrets),
                                          "findings": records}, indent=1, ensure_ascii=False).encode("utf-8")),
            ("findings.csv", findings_csv(records)),
            ("findings.sarif", json.dumps(findings_sarif(case, records), indent=1,
                                          ensure_ascii=False).encode("utf-8")),
            (AUDIT, audit_jsonl(case.audit)),
        ]
        # 3. the archive, into a temporary file renamed into place
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
        os.close(fd)
        try:
            to_copy = cf.path.stat().st_size + (sum(e.ref.size for e in evidence) if include_evidence else 0)
            archive = _Progress(state, STEP_ARCHIVE, to_copy)
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
                members = manifest["members"]

                def stream(name: str, src: Path, expect: str | None = None) -> None:
                    with open(src, "rb") as fh, zf.open(name, "w", force_zip64=True) as dst:
                        hw = _HashingWriter(dst)
                        while chunk := fh.read(COPY_BUF):
                            hw.write(chunk)
                            archive.add(len(chunk))
                    digest = hw.sha.hexdigest()
                    if expect is not None and digest != expect:
                        raise BundleError(f"{src}: changed while it was copied (SHA-256 {digest[:16]}…, "
                                          f"expected {expect[:16]}…)")
                    members.append({"name": name, "size": hw.size, "sha256": digest})

                stream(f"case/{_safe_name(cf.path.name)}", cf.path)
                for name, data in docs:
                    zf.writestr(name, data)
                    members.append({"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
                if include_evidence:
                    for e, entry in zip(evidence, ev_entries, strict=True):
                        stream(entry["member"], e.path, e.ref.sha256)
                zf.writestr(MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False).encode("utf-8"))
            os.replace(tmp, out)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return manifest
    except ExportCancelled:
        if recorded:
            cf.case.audit.append("export", author or cf.author, {"kind": "bundle", "target": out.name,
                                                                 "cancelled": True})
            case.touch()
            cf.save()
        raise
    finally:
        for e in evidence:
            if e.dump is not None:
                e.dump.close()


# -- verify ------------------------------------------------------------------------------------------
@dataclass
class VerifyResult:
    problems: list[str] = field(default_factory=list)
    unreadable: str | None = None
    manifest: dict[str, Any] | None = None
    checked: int = 0

    @property
    def ok(self) -> bool:
        return self.unreadable is None and not self.problems


def _hash_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> tuple[str, int, bytes | None, bool]:
    """SHA-256 and size of a member read in a stream, at most ``limit + 1`` bytes; the content too when it is
    small (audit.jsonl is parsed afterwards). The last value is False when the member cannot be read."""
    sha, n, keep = hashlib.sha256(), 0, io.BytesIO()
    keeping = info.filename == AUDIT and limit <= MAX_AUDIT
    try:
        with zf.open(info) as fh:
            while n <= limit:
                chunk = fh.read(min(COPY_BUF, limit + 1 - n))
                if not chunk:
                    break
                sha.update(chunk)
                n += len(chunk)
                if keeping:
                    keep.write(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError, NotImplementedError):
        return "", n, None, False
    return sha.hexdigest(), n, keep.getvalue() if keeping else None, True


def verify_bundle(path: str | os.PathLike[str]) -> VerifyResult:
    """Check a bundle: see the module docstring. Never raises for a bad bundle."""
    res = VerifyResult()
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        res.unreadable = f"{path}: not a readable ZIP archive ({getattr(exc, 'strerror', None) or exc})"
        return res
    with zf:
        infos: dict[str, zipfile.ZipInfo] = {}
        for info in zf.infolist():
            if info.filename in infos:
                res.problems.append(f"{info.filename}: the archive holds this member more than once")
            infos[info.filename] = info
        mi = infos.get(MANIFEST)
        if mi is None:
            res.unreadable = f"{path}: no {MANIFEST} in the archive"
            return res
        if mi.file_size > MAX_MANIFEST:
            res.unreadable = f"{path}: {MANIFEST} declares {mi.file_size} bytes (more than {MAX_MANIFEST})"
            return res
        try:
            with zf.open(mi) as fh:
                manifest = json.loads(fh.read(MAX_MANIFEST + 1))
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise ValueError("not a case bundle manifest")
            members = manifest["members"]
            head = manifest["audit"]["head"]
            head_pair = (int(head["seq"]), str(head["hash"]))
        except (zipfile.BadZipFile, OSError, ValueError, KeyError, TypeError, EOFError, RuntimeError) as exc:
            res.unreadable = f"{path}: {MANIFEST} is unreadable ({exc})"
            return res
        res.manifest = manifest
        listed = set()
        audit_bytes: bytes | None = None
        for m in members:
            try:
                name, size, digest = str(m["name"]), int(m["size"]), str(m["sha256"])
            except (KeyError, TypeError, ValueError):
                res.problems.append(f"{MANIFEST}: a malformed member entry ({str(m)[:80]})")
                continue
            listed.add(name)
            info = infos.get(name)
            if info is None:
                res.problems.append(f"{name}: missing from the archive")
                continue
            if info.file_size != size:
                res.problems.append(f"{name}: size {info.file_size} in the archive, {size} in the manifest "
                                    "(changed; not hashed)")
                if name == AUDIT and info.file_size <= MAX_AUDIT:  # still name the events that differ
                    audit_bytes = _hash_member(zf, info, info.file_size)[2]
                continue
            actual, n, content, readable = _hash_member(zf, info, size)
            res.checked += 1
            if not readable:
                res.problems.append(f"{name}: cannot be read from the archive (damaged)")
            elif n != size:
                res.problems.append(f"{name}: {n} bytes when read, {size} in the manifest")
            elif actual != digest:
                res.problems.append(f"{name}: SHA-256 does not match the manifest (changed)")
            if name == AUDIT:
                audit_bytes = content
                if content is None and readable:
                    res.problems.append(f"{AUDIT}: over {MAX_AUDIT} bytes; its chain was not checked")
        for name in infos:
            if name != MANIFEST and name not in listed:
                res.problems.append(f"{name}: in the archive but not in the manifest (added)")
        for e in manifest.get("evidence", []) or []:
            member = e.get("member") if isinstance(e, dict) else None
            if member and not any(m.get("name") == member and m.get("sha256") == e.get("sha256")
                                  for m in members if isinstance(m, dict)):
                res.problems.append(f"{member}: the manifest's evidence SHA-256 is not that of the member")
        if AUDIT not in listed:
            res.problems.append(f"{AUDIT}: not listed in the manifest")
        elif audit_bytes is not None:
            res.problems.extend(_verify_audit(audit_bytes, head_pair))
    return res


def _verify_audit(data: bytes, head: tuple[int, str]) -> list[str]:
    events, problems = [], []
    for i, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
            if not isinstance(ev, dict):
                raise ValueError
        except ValueError:
            problems.append(f"{AUDIT}: line {i} is not a JSON event")
            continue
        events.append(ev)
    problems.extend(f"{AUDIT}: {p}" for p in AuditTrail(events).verify(head=head))
    return problems


__all__ = ["BundleError", "VerifyResult", "export_bundle", "verify_bundle", "finding_excerpt", "secret_ranges",
           "FORMAT", "FORMAT_VERSION", "MANIFEST", "AUDIT"]
