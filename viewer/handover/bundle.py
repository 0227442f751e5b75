"""Case bundles: one ZIP that carries a case to someone else, and the check that it arrived unchanged.

API::

    export_bundle(cf, out, *, include_evidence=False, include_secrets=False, author=None) -> dict
        # the manifest written; ``cf`` is an open viewer.case.CaseFile
    verify_bundle(path) -> VerifyResult   # .problems (one line each), .unreadable (str | None), .manifest
    BundleError                            # export failed (evidence missing, changed, unwritable ...)
    extract_bundle (viewer.handover.extract): verify, check the member names, extract

The documents (findings.json/csv/sarif, the excerpts and their masking) are written by
:mod:`viewer.handover.documents`, which the ``scan`` command's output shares.

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

Secrets. By default no member holds a byte of a secret finding: the excerpts follow the masking rule of
:mod:`viewer.handover.documents` (its context excerpt: every byte inside any secret finding of that
evidence is ``••``, and so is random-looking context). Key ids (fingerprints of the public half) stand in
for key material everywhere. With ``include_secrets`` the excerpts show the real bytes (a finding's first
4 KiB), and the manifest and the audit event say so.
Excerpts need the evidence file: when it is missing or its SHA-256 changed, findings carry no excerpt.

Signature (:mod:`viewer.handover.signing`): ``export_bundle(..., signer=key)`` names the signer in the
manifest and writes ``signature.json`` beside it, the Ed25519 signature of the manifest's exact bytes;
without a signer the manifest says ``"signature": {"signed": false, "reason": ...}`` and so does the
``export`` audit event (``signed``, ``signer`` fingerprint). ``verify_bundle`` reports the signature in
:attr:`VerifyResult.signature` (unsigned / valid / invalid, the signer, whether its fingerprint is in
``trusted``); an invalid one (the manifest changed after signing, a hostile signature member) is also a
problem. Whether an unsigned or untrusted bundle is acceptable is the caller's decision
(``--require-signature``; the window asks).

Verification (``verify_bundle``): every member listed in the manifest must be in the archive with the
declared size (checked from the ZIP directory before reading anything: a zip bomb is refused unread; only audit.jsonl
of a wrong size is still read, up to 256 MiB, to name the events that differ) and
SHA-256 (hashed in a stream, reading at most the declared size plus one byte); members not in the
manifest are reported too; audit.jsonl must be an intact chain ending at the manifest's head
(:meth:`viewer.case.audit.AuditTrail.verify`). Each problem is one line naming the member or the event.
Unreadable (not a ZIP, no manifest, manifest not JSON or over 16 MiB) is ``unreadable``, not a problem list.

Decompression bombs. Nothing trusts the sizes a ZIP declares: before a byte is inflated, each member's
declared size must be within its cap (:func:`decompression_cap`), the compressed sizes must fit in the
archive without overlapping, and the declared total must be within :data:`MAX_OTHER_TOTAL` plus the
evidence; while streaming, the bytes are counted as they come and reading stops one byte past the cap.
The caps: a document (report, findings, audit trail) at most :data:`MAX_DOCUMENT` and
:data:`DOC_RATIO` times its compressed size (small ones may always reach :data:`RATIO_FLOOR`); the case
file (encrypted, incompressible) :data:`MAX_CASE_MEMBER` and :data:`CASE_RATIO` times; an evidence file
exactly the size its manifest entry declares (no ratio: a dump of mostly zero pages compresses a
thousand times, honestly), at most :data:`MAX_EVIDENCE_MEMBER`; the signature :data:`MAX_SIGNATURE`.
Members are hashed and copied in chunks, never read whole (audit.jsonl, parsed for its chain, is kept
in memory within its cap). Evidence must be evidence the audit trail records as added (an
``evidence-added`` event with its SHA-256 and size; the trail is hashed first), so a size declared only
in the manifest buys nothing; a member compressed with another method than deflate (bzip2, LZMA: ratios
of a million) is refused like an unsafe name.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from viewer import __version__
from viewer.case.audit import AuditTrail, canonical_json, parse_lines, utc_now
from viewer.case.errors import CaseError
from viewer.case.store import CaseFile
from viewer.evidence import EvidenceError, close_dumps, open_dumps
from viewer.handover.documents import (
    TOOL_NAME,
    context_excerpt,
    findings_csv,
    findings_sarif,
    record_json,
    secret_ranges,
)
from viewer.handover.report import STEP_ENTROPY, render_report
from viewer.handover.signing import (
    MAX_SIGNATURE,
    SIGNATURE,
    SignatureCheck,
    SigningKey,
    check_signature,
    unsigned_block,
)
from viewer.tasks import TaskState
from viewer.tasks import ensure as ensure_state

FORMAT = "evidence-viewer-case-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
AUDIT = "audit.jsonl"
MAX_MANIFEST = 16 * 1024 * 1024
MAX_DOCUMENT = 256 * 1024 * 1024  # report.html, findings.*, audit.jsonl: each at most this when inflated
MAX_AUDIT = MAX_DOCUMENT  # audit.jsonl of a changed size is still read for the chain check up to this
DOC_RATIO = 100  # a document inflates at most this many times its compressed size (JSON/HTML: 3 to 20) ...
RATIO_FLOOR = 16 * 1024 * 1024  # ... but may always reach this
MAX_CASE_MEMBER = 2 * 1024**3 + RATIO_FLOOR  # the case store's payload cap and room for its header
CASE_RATIO = 2  # the case file is encrypted: it does not compress
CASE_FLOOR = 1024 * 1024
MAX_EVIDENCE_MEMBER = 1024**4  # 1 TiB: a dump may be large; it must also be exactly its declared size
MAX_OTHER_TOTAL = 4 * 1024**3  # everything but the evidence, together
COPY_BUF = 1024 * 1024


class BundleError(CaseError):
    """The export could not be made; ``str()`` is a one-line message."""


class BundleCancelled(BundleError):
    """The examiner cancelled a bundle's export, verification or extraction: nothing was written."""


class ExportCancelled(BundleCancelled):
    """The examiner cancelled an export: no bundle was written (the partial archive is removed)."""


STEP_VERIFY, STEP_ARCHIVE = "verifying the evidence", "writing the archive"  # and STEP_ENTROPY (report)
STEP_VERIFY_BUNDLE = "verifying the bundle"
CANCELLED = "export cancelled: no bundle was written"


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


def _open_evidence(cf: CaseFile, paths: dict[str, Path] | None, state: TaskState) -> list[_Evidence]:
    """Every evidence item, verified, opened when its file is there and unchanged. ``paths`` (by SHA-256):
    where a file is when not where the case says (the window's evidence extracted from a bundle);
    ``state``: progress of the hashing (``verifying the evidence``, bytes over all files) and cancel."""
    total, done = sum({ref.sha256: ref.size for ref in cf.case.evidence}.values()), 0  # each file once

    def hashed(n: int) -> None:
        nonlocal done
        done += n
        state.step_progress(STEP_VERIFY, done, total)
        state.check(ExportCancelled, CANCELLED)

    state.check(ExportCancelled, CANCELLED)
    out = []
    opened: dict[Path, list[Any]] = {}  # a file holding several dumps is unwrapped once for all of them
    for st in cf.verify_evidence(paths, hashed):
        ev = _Evidence(st.ref, st.state, (paths or {}).get(st.ref.sha256) or st.ref.resolve(cf.case_dir))
        if st.state == "ok":
            try:
                if ev.path not in opened:
                    opened[ev.path] = open_dumps(ev.path)
                member = getattr(st.ref, "member", None)
                dumps = opened[ev.path]
                ev.dump = dumps[0] if member is None else next((d for d in dumps if d.member == member), None)
                if ev.dump is None:
                    ev.state = "missing"
            except (EvidenceError, OSError):
                ev.state = "missing"
        out.append(ev)
    for dumps in opened.values():  # the dumps no evidence item took: their contents (the file is shared)
        taken = [d for d in dumps if any(e.dump is d for e in out)]
        if taken:
            for d in dumps:
                if d not in taken:
                    d.source.close()
        else:
            close_dumps(dumps)
    return out


def _close_evidence(evidence: list[_Evidence]) -> None:
    close_dumps([e.dump for e in evidence if e.dump is not None])


def derived_records(case: Any, evidence: list[_Evidence], include_secrets: bool) -> list[dict[str, Any]]:
    """findings.json's records: every finding with its review and its hex excerpt (masked unless
    ``include_secrets``; None when the evidence is not reachable)."""
    by_sha = {e.ref.key: e for e in evidence}
    ranges = {sha: secret_ranges([r.finding for r in case.findings if r.evidence_sha256 == sha]) for sha in by_sha}
    records = []
    for rec in case.findings:
        ev = by_sha.get(rec.evidence_sha256)
        ex = None
        if ev is not None and ev.dump is not None:
            ex = context_excerpt(ev.dump, rec.finding, ranges[rec.evidence_sha256], include_secrets)
        records.append(record_json(rec, ex, not include_secrets))
    return records


def render_case_report(cf: CaseFile, *, include_secrets: bool = False, author: str | None = None,
                       evidence_paths: dict[str, Path] | None = None, state: TaskState | Any = None) -> str:
    """report.html of the case as it is now, outside a bundle (the window prints it to PDF).

    The same content as a bundle's report; the program, time and audit head are those of the moment.
    The caller records the export in the audit trail first, so that the head the report names covers it.
    ``evidence_paths``, ``state``: as for :func:`export_bundle`.
    """
    state = ensure_state(state)
    case = cf.case
    evidence = _open_evidence(cf, evidence_paths, state)
    try:
        head = case.audit.head or (-1, "")
        manifest = {
            "program": {"name": TOOL_NAME, "version": __version__},
            "created": utc_now(), "created_by": author or cf.author,
            "secrets_included": bool(include_secrets),
            "audit": {"head": {"seq": head[0], "hash": head[1]}, "events": len(case.audit)},
        }
        report = render_report(case, evidence, derived_records(case, evidence, include_secrets), manifest, state)
        state.check(ExportCancelled, "cancelled: no report was made")
        return report
    finally:
        _close_evidence(evidence)


def export_bundle(cf: CaseFile, out: str | os.PathLike[str], *, include_evidence: bool = False,
                  include_secrets: bool = False, author: str | None = None,
                  evidence_paths: dict[str, Path] | None = None,
                  state: TaskState | Any = None, signer: SigningKey | None = None,
                  unsigned_reason: str = "exported without a signing key") -> dict[str, Any]:
    """Write the bundle ``out`` (see the module docstring) and return its manifest.

    ``signer``: the examiner's key (:func:`viewer.handover.signing.load_signing_key`); the manifest is
    signed with it and names it. None: an unsigned bundle, its manifest and audit event saying
    ``unsigned_reason`` (the command line: ``exported with --no-sign``).

    ``evidence_paths`` (by SHA-256): where an evidence file is when not at the case's path — the window
    passes the files it extracted from a received bundle; each is still verified against its SHA-256.
    ``state`` (a :class:`~viewer.tasks.TaskState`): progress of each step through
    ``step_progress`` (``STEP_*``: verifying, entropy, writing the archive) and cancel, which raises
    :class:`ExportCancelled` with no bundle written; a cancel after the export event was saved adds a
    second ``export`` event marked ``cancelled`` (the trail says the export began and did not finish)."""
    state = ensure_state(state)
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
        signature = signer.manifest_block() if signer is not None else unsigned_block(unsigned_reason)
        cf.case.audit.append("export", author or cf.author, {
            "kind": "bundle", "target": out.name, "include_secrets": bool(include_secrets),
            "include_evidence": bool(include_evidence), "signed": signer is not None,
            **({"signer": signer.fingerprint} if signer is not None else {"unsigned_reason": unsigned_reason})})
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
            entry = {"path": e.ref.path, "size": e.ref.size, "sha256": e.ref.sha256,
                     "format": e.ref.format, "state": e.state, "member": member}
            if getattr(e.ref, "content_sha256", None):  # came in a container: the content's hash too
                entry.update(content_sha256=e.ref.content_sha256, content_size=e.ref.content_size,
                             chain=e.ref.chain)
            if getattr(e.ref, "member", None) is not None:  # one of several dumps of the file: which
                entry["dump_member"] = e.ref.member
            ev_entries.append(entry)
        manifest: dict[str, Any] = {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "case": {"id": case.id, "name": case.name, "number": case.number, "examiner": case.examiner},
            "program": {"name": TOOL_NAME, "version": __version__},
            "created": created, "created_by": author or cf.author,
            "secrets_included": bool(include_secrets), "evidence_included": bool(include_evidence),
            "audit": {"head": {"seq": head[0], "hash": head[1]}, "events": len(case.audit)},
            "evidence": ev_entries,
            "members": [],
            "signature": signature,
        }
        report = render_report(case, evidence, records, manifest, state)
        state.check(ExportCancelled, CANCELLED)  # cancelled during the plots: the report is partial
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
            copied = 0
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
                members = manifest["members"]

                def stream(name: str, src: Path, expect: str | None = None) -> None:
                    nonlocal copied
                    with open(src, "rb") as fh, zf.open(name, "w", force_zip64=True) as dst:
                        hw = _HashingWriter(dst)
                        while chunk := fh.read(COPY_BUF):
                            hw.write(chunk)
                            copied += len(chunk)
                            state.step_progress(STEP_ARCHIVE, copied, to_copy)
                            state.check(ExportCancelled, CANCELLED)
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
                    streamed: set[str] = set()
                    for e, entry in zip(evidence, ev_entries, strict=True):
                        if entry["member"] not in streamed:  # several dumps of one file: the file once
                            streamed.add(entry["member"])
                            stream(entry["member"], e.path, e.ref.sha256)
                manifest_bytes = json.dumps(manifest, indent=1, ensure_ascii=False).encode("utf-8")
                zf.writestr(MANIFEST, manifest_bytes)
                if signer is not None:
                    zf.writestr(SIGNATURE, signer.sign_manifest(manifest_bytes))
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
        _close_evidence(evidence)


# -- verify ------------------------------------------------------------------------------------------
@dataclass
class VerifyResult:
    problems: list[str] = field(default_factory=list)
    unreadable: str | None = None
    manifest: dict[str, Any] | None = None
    checked: int = 0
    signature: SignatureCheck = field(default_factory=lambda: SignatureCheck("unsigned"))
    manifest_sha256: str | None = None  # of the manifest's bytes as verified (extraction checks them again)
    signature_sha256: str | None = None  # of signature.json as verified, when there is one

    @property
    def ok(self) -> bool:
        return self.unreadable is None and not self.problems


def shown_name(name: str) -> str:
    """A member name as it may appear in a message: as is when printable, else Python's ``ascii()`` of it
    (a crafted name must not reach the examiner's terminal as control characters)."""
    return name if name.isprintable() else ascii(name)


def member_name_problem(info: zipfile.ZipInfo) -> str | None:
    """Why member ``info`` may not become a file under a folder (None: it may): the rule both
    :func:`verify_bundle` and the extraction (:mod:`viewer.handover.extract`) apply. A bundle we wrote never
    has such a member; one that does was crafted."""
    name = info.filename
    if not name:
        return "an empty member name"
    if not name.isprintable():
        return "control characters in the member name"
    if "\\" in name or ":" in name:
        return "a backslash or colon in the member name (a Windows path)"
    if name.startswith("/"):
        return "an absolute path"
    if info.is_dir():
        return "a folder entry, not a file"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "an empty, '.' or '..' path component"
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return "compressed with a method other than deflate (bzip2 and LZMA inflate a million times)"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_IFMT(mode) and not stat.S_ISREG(mode):
        return "not a regular file"
    return None


@dataclass(frozen=True)
class Cap:
    """The most bytes a member may inflate to, and why (for the message)."""

    limit: int
    why: str


def decompression_cap(name: str, compressed: int, evidence_size: int | None = None) -> Cap:
    """The cap of member ``name`` stored in ``compressed`` bytes (see the module docstring);
    ``evidence_size``: the size its manifest evidence entry declares, when it is evidence."""
    if evidence_size is not None:
        return Cap(min(evidence_size, MAX_EVIDENCE_MEMBER),
                   f"the evidence size its manifest entry declares (at most {MAX_EVIDENCE_MEMBER})")
    if name == SIGNATURE:
        return Cap(MAX_SIGNATURE, f"at most {MAX_SIGNATURE} bytes for a signature")
    if name == MANIFEST:
        return Cap(MAX_MANIFEST, f"at most {MAX_MANIFEST} bytes for the manifest")
    absolute, ratio, floor = ((MAX_CASE_MEMBER, CASE_RATIO, CASE_FLOOR) if name.startswith("case/")
                              else (MAX_DOCUMENT, DOC_RATIO, RATIO_FLOOR))
    by_ratio = max(floor, ratio * compressed)
    if by_ratio < absolute:
        return Cap(by_ratio, f"{ratio} times its {compressed} compressed bytes")
    return Cap(absolute, f"at most {absolute} bytes for this member")


def _hash_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int,
                 tick: Any = None, keep_content: bool = False) -> tuple[str, int, bytes | None, bool]:
    """SHA-256 and size of a member read in a stream, counting the bytes as they come and stopping at
    ``limit + 1`` (whatever the ZIP declares); the content too with ``keep_content`` (audit.jsonl is parsed
    afterwards; its ``limit`` is within its cap). The last value is False when the member cannot be read.
    ``tick(n)``: called after each chunk of ``n`` bytes (progress and cancel)."""
    sha, n, keep = hashlib.sha256(), 0, io.BytesIO()
    try:
        with zf.open(info) as fh:
            while n <= limit:
                chunk = fh.read(min(COPY_BUF, limit + 1 - n))
                if not chunk:
                    break
                sha.update(chunk)
                n += len(chunk)
                if keep_content:
                    keep.write(chunk)
                if tick is not None:
                    tick(len(chunk))
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError, NotImplementedError, zlib.error):
        return "", n, None, False
    return sha.hexdigest(), n, keep.getvalue() if keep_content else None, True


def _archive_problems(infos: dict[str, zipfile.ZipInfo], archive_size: int) -> list[str]:
    """Compressed sizes that do not fit in the archive: a member claiming more than the file holds, or
    members sharing compressed bytes (the overlapping-entries zip bomb), refused before anything inflates."""
    problems = [f"{shown_name(i.filename)}: declares {i.compress_size} compressed bytes, more than the archive "
                f"holds ({archive_size}); refused unread" for i in infos.values() if i.compress_size > archive_size]
    if not problems and sum(i.compress_size for i in infos.values()) > archive_size:
        problems.append("the archive's members overlap (their compressed sizes add up to more than the file): "
                        "a crafted ZIP (zip bomb); refused unread")
    return problems


def _evidence_sizes(manifest: dict[str, Any]) -> dict[str, int]:
    """Evidence member -> the size its manifest entry declares (entries of the wrong shape are left out:
    such a member gets a document's cap)."""
    out: dict[str, int] = {}
    for e in manifest.get("evidence", []) or []:
        if isinstance(e, dict) and isinstance(e.get("member"), str) and isinstance(e.get("size"), int) \
                and not isinstance(e.get("size"), bool) and e["size"] >= 0:
            out[e["member"]] = e["size"]
    return out


def _read_small(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes | None:
    """A small member whole (the manifest, the signature), at most ``limit`` bytes counted; None when larger
    or unreadable."""
    try:
        with zf.open(info) as fh:
            data = fh.read(limit + 1)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError, NotImplementedError, zlib.error):
        return None
    return data if len(data) <= limit else None


def verify_bundle(path: str | os.PathLike[str], state: TaskState | None = None,
                  trusted: Mapping[str, str] | None = None) -> VerifyResult:
    """Check a bundle: see the module docstring. Never raises for a bad bundle.

    Every member name must also be safe to extract (:func:`member_name_problem`; names differing only in
    case are refused too). ``state``: the hashing's progress as the step ``verifying the bundle`` (bytes
    over the declared sizes) and cancel, which raises :class:`BundleCancelled`. ``trusted``: fingerprint
    (canonical form) -> name, for :attr:`VerifyResult.signature`'s ``trusted``."""
    res = VerifyResult()
    try:
        zf = zipfile.ZipFile(path)
        archive_size = os.fstat(zf.fp.fileno()).st_size if zf.fp is not None else 0
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        res.unreadable = f"{path}: not a readable ZIP archive ({getattr(exc, 'strerror', None) or exc})"
        return res
    with zf:
        infos: dict[str, zipfile.ZipInfo] = {}
        folded: dict[str, str] = {}
        for info in zf.infolist():
            name = info.filename
            if name in infos:
                res.problems.append(f"{shown_name(name)}: the archive holds this member more than once")
            elif folded.get(name.casefold(), name) != name:
                res.problems.append(f"{shown_name(name)}: the same name as {shown_name(folded[name.casefold()])} "
                                    "but for case (one would replace the other on some disks)")
            problem = member_name_problem(info)
            if problem is not None:
                res.problems.append(f"{shown_name(name)}: {problem}")
            infos[name] = info
            folded.setdefault(name.casefold(), name)
        overlapping = _archive_problems(infos, archive_size)
        if overlapping:
            res.problems.extend(overlapping)
            return res
        mi = infos.get(MANIFEST)
        if mi is None:
            res.unreadable = f"{path}: no {MANIFEST} in the archive"
            return res
        if mi.file_size > MAX_MANIFEST:
            res.unreadable = f"{path}: {MANIFEST} declares {mi.file_size} bytes (more than {MAX_MANIFEST})"
            return res
        try:
            manifest_bytes = _read_small(zf, mi, MAX_MANIFEST)
            if manifest_bytes is None:
                raise ValueError(f"cannot be read within {MAX_MANIFEST} bytes")
            manifest = json.loads(manifest_bytes)
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise ValueError("not a case bundle manifest")
            members = manifest["members"]
            if not isinstance(members, list):
                raise TypeError("its members are not a list")
            head = manifest["audit"]["head"]
            head_pair = (int(head["seq"]), str(head["hash"]))
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            res.unreadable = f"{path}: {MANIFEST} is unreadable ({exc})"
            return res
        res.manifest = manifest
        res.manifest_sha256 = hashlib.sha256(manifest_bytes).hexdigest()
        # the signature, before any member is hashed: it says nothing about them, only about the manifest
        si = infos.get(SIGNATURE)
        sig_bytes = _read_small(zf, si, MAX_SIGNATURE) if si is not None and si.file_size <= MAX_SIGNATURE else None
        if sig_bytes is not None:
            res.signature_sha256 = hashlib.sha256(sig_bytes).hexdigest()
        res.signature = check_signature(manifest, manifest_bytes, sig_bytes, present=si is not None, trusted=trusted)
        if res.signature.status == "invalid":
            res.problems.append(f"{SIGNATURE}: {res.signature.reason}")
        evidence_sizes = _evidence_sizes(manifest)
        entries_by_member = _evidence_by_member(manifest)
        entries: list[tuple[str, int, str, zipfile.ZipInfo]] = []
        listed: set[str] = set()
        for m in members:
            try:
                name, size, digest = str(m["name"]), int(m["size"]), str(m["sha256"])
            except (KeyError, TypeError, ValueError):
                res.problems.append(f"{MANIFEST}: a malformed member entry ({shown_name(str(m)[:80])})")
                continue
            if name in listed:
                res.problems.append(f"{shown_name(name)}: listed more than once in the manifest")
                continue
            listed.add(name)
            info = infos.get(name)
            if info is None:
                res.problems.append(f"{shown_name(name)}: missing from the archive")
                continue
            entries.append((name, size, digest, info))
        declared_other = sum(i.file_size for n, _s, _d, i in entries if n not in evidence_sizes)
        if declared_other > MAX_OTHER_TOTAL:
            res.problems.append(f"the members other than evidence declare {declared_other} bytes together, more than "
                                f"{MAX_OTHER_TOTAL}: refused unread as a decompression bomb")
            return res
        audit_bytes: bytes | None = None
        added: set[tuple[str, int]] | None = None  # (sha256, size) the audit trail records as added
        entries.sort(key=lambda e: e[0] != AUDIT)  # the audit trail first: evidence is checked against it
        tick = None
        if state is not None:
            total = sum(i.file_size for _n, size, _d, i in entries if i.file_size == size)
            done = 0

            def tick(n: int) -> None:
                nonlocal done
                done += n
                state.step_progress(STEP_VERIFY_BUNDLE, done, total)
                state.check(BundleCancelled, "verification cancelled")

            state.step_progress(STEP_VERIFY_BUNDLE, 0, total)
            state.check(BundleCancelled, "verification cancelled")
        for name, size, digest, info in entries:
            cap = decompression_cap(name, min(info.compress_size, archive_size), evidence_sizes.get(name))
            if info.file_size != size:
                res.problems.append(f"{shown_name(name)}: size {info.file_size} in the archive, {size} in the manifest "
                                    "(changed; not hashed)")
                if name == AUDIT and info.file_size <= cap.limit:  # still name the events that differ
                    audit_bytes = _hash_member(zf, info, info.file_size, keep_content=True)[2]
                continue
            if name in evidence_sizes and added is not None and not _added(entries_by_member, name, added):
                res.problems.append(f"{shown_name(name)}: evidence the audit trail never added (no evidence-added "
                                    "event with its SHA-256 and size); refused unread")
                continue
            if size > cap.limit:
                res.problems.append(f"{shown_name(name)}: declares {size} bytes inflated, over its cap ({cap.why}): "
                                    "refused unread as a decompression bomb")
                continue
            actual, n, content, readable = _hash_member(zf, info, size, tick, keep_content=name == AUDIT)
            res.checked += 1
            if not readable:
                res.problems.append(f"{shown_name(name)}: cannot be read from the archive (damaged)")
            elif n != size:
                res.problems.append(f"{shown_name(name)}: {n if n <= size else 'more'} bytes when read, {size} in "
                                    "the manifest")
            elif actual != digest:
                res.problems.append(f"{shown_name(name)}: SHA-256 does not match the manifest (changed)")
            if name == AUDIT:
                audit_bytes = content
                added = _evidence_added(content) if content is not None and actual == digest else None
        for name in infos:
            if name not in (MANIFEST, SIGNATURE) and name not in listed:
                res.problems.append(f"{shown_name(name)}: in the archive but not in the manifest (added)")
        by_name: dict[Any, dict[str, Any]] = {}  # one index, not a search per entry (60,000 x 60,000)
        for m in members:
            if isinstance(m, dict) and isinstance(m.get("name"), str):
                by_name.setdefault(m["name"], m)
        for e in manifest.get("evidence", []) or []:
            member = e.get("member") if isinstance(e, dict) else None
            if not member:
                continue
            entry = by_name.get(member) if isinstance(member, str) else None
            if entry is None or entry.get("sha256") != e.get("sha256"):
                res.problems.append(f"{shown_name(str(member))}: the manifest's evidence SHA-256 is not that of the member")
            elif entry.get("size") != e.get("size"):
                res.problems.append(f"{shown_name(str(member))}: the manifest's evidence size is not that of the member")
        if AUDIT not in listed:
            res.problems.append(f"{AUDIT}: not listed in the manifest")
        elif audit_bytes is not None:
            res.problems.extend(_verify_audit(audit_bytes, head_pair))
    return res


def _evidence_added(audit: bytes) -> set[tuple[str, int]]:
    """(SHA-256, size) of every ``evidence-added`` event of an audit trail (an intact one: its hash matched
    the manifest)."""
    out: set[tuple[str, int]] = set()
    for ev in parse_lines(audit)[0]:
        data = ev.get("data")
        if ev.get("type") == "evidence-added" and isinstance(data, dict) and isinstance(data.get("size"), int):
            out.add((str(data.get("sha256")), data["size"]))
    return out


def _evidence_by_member(manifest: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The manifest's evidence entries by member name, built once per verification."""
    out: dict[str, list[dict[str, Any]]] = {}
    for e in manifest.get("evidence", []) or []:
        if isinstance(e, dict) and isinstance(e.get("member"), str):
            out.setdefault(e["member"], []).append(e)
    return out


def _added(entries_by_member: dict[str, list[dict[str, Any]]], member: str, added: set[tuple[str, int]]) -> bool:
    """Whether the evidence entries naming ``member`` are evidence the audit trail records as added."""
    entries = entries_by_member.get(member, [])
    return bool(entries) and all((str(e.get("sha256")), e.get("size")) in added for e in entries)


def _verify_audit(data: bytes, head: tuple[int, str]) -> list[str]:
    events, problems = parse_lines(data)  # depth-limited, never raises
    return [f"{AUDIT}: {p}" for p in (*problems, *AuditTrail(events).verify(head=head))]


__all__ = ["BundleError", "BundleCancelled", "ExportCancelled", "member_name_problem", "shown_name", "VerifyResult", "export_bundle", "verify_bundle", "render_case_report",
           "Cap", "decompression_cap", "SIGNATURE",
           "FORMAT", "FORMAT_VERSION", "MANIFEST", "AUDIT", "STEP_VERIFY", "STEP_ENTROPY", "STEP_ARCHIVE",
           "STEP_VERIFY_BUNDLE"]
