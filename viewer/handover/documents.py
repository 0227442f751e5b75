"""The documents that carry findings out of the tool: JSON, CSV, SARIF 2.1.0, text, and the masked excerpts.

One writer for the ``scan`` command's output (``scan --json``, ``--sarif``, the text page) and for a
case bundle's members (findings.json, findings.csv, findings.sarif), so that the two cannot drift apart:
before this module the rules were written twice (``scan/report.py`` and ``case/bundle.py``), with two
SARIF writers and ``REVEAL_CAP`` twice. Volatility's idea: the data a scan yields is separate from the
renderers that print it.

Rules that hold for every document:

* Offsets are **file offsets** into the dump; the virtual address and region are given beside them.
* Messages (text, SARIF, CSV) describe a finding; they never quote its bytes. Key ids (fingerprints of
  the public half) stand in for key material.

**The masking rule** (its one home). A byte is *secret* when it lies inside a secret finding; public
context (certificates, public keys) is not secret. Two shapes of excerpt show it:

* the **short excerpt** (``scan --json``'s ``excerpt`` string, :func:`short_excerpt`): for a secret
  finding ``"**"`` for each of its first :data:`MASK_BYTES` (16) bytes, then ``"..."`` when longer — the
  shape of the data, none of its value (ASCII, for terminals and pipelines); for public context the hex
  of its first 4 and last 4 bytes joined by ``"..."`` (the whole hex when 8 bytes or shorter);
* the **context excerpt** (a bundle's findings.json and report, :func:`context_excerpt`): hex segments
  with :data:`CONTEXT` bytes either side of the finding (a long one shown as its first :data:`HEAD` and
  last :data:`TAIL` bytes); every byte inside *any* secret finding of that evidence is ``"••"``
  (:data:`MASK`), and so is every context byte whose file-aligned 8-byte group does not look like
  structure (:func:`looks_like_structure`): key material the scanner did not flag can sit right next to
  a finding (seen in the corpus: an unflagged CRT coefficient 4 bytes after a flagged component).

**Revealing** (``scan --reveal``, ``export --include-secrets``): the real bytes of the finding, at most
:data:`REVEAL_CAP` (4 KiB) of them — only in the excerpt fields, never in messages, warnings or errors.
The short excerpt says ``excerpt_truncated`` when the cap cut it; the context excerpt keeps its context.

Where the two former SARIF writers differed, the bundle's document now also carries, like the scan's,
``matches`` in each result's properties and the "private half of supplied public key(s)" clause in the
message (public facts; no bytes).
"""

from __future__ import annotations

import bisect
import csv
import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from viewer import __version__
from viewer.evidence import Dump
from viewer.scan.engine import ScanResult, Secret
from viewer.scan.finding import Confidence, Finding

TOOL_NAME = "evidence-viewer"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

REVEAL_CAP = 4096  # bytes of a finding shown when the examiner asked for its bytes
MASK_BYTES = 16  # secret bytes whose shape the short excerpt shows (as "**" each)
SHORT_MASK = "**"  # one masked byte in the short excerpt
MASK = "••"  # one masked byte in the context excerpt
CONTEXT = 16  # bytes of context either side of a finding (context excerpt)
HEAD, TAIL = 32, 16  # bytes of a long finding shown (masked or not) at its start and end
GROUP = 8  # context bytes are judged in file-aligned groups of this many (looks_like_structure)


def tool_json() -> dict[str, str]:
    return {"name": TOOL_NAME, "version": __version__}


# -- the masking rule ---------------------------------------------------------------------------------
def short_excerpt(dump: Dump, f: Finding, reveal: bool = False) -> dict[str, Any]:
    """The ``excerpt`` fields of a finding in ``scan --json`` (see the module docstring)."""
    if reveal:
        data = dump.read(f.offset, min(f.length, REVEAL_CAP))
        return {"excerpt": data.hex(), "excerpt_masked": False, "excerpt_truncated": f.length > REVEAL_CAP}
    if f.secret:
        text = SHORT_MASK * min(f.length, MASK_BYTES) + ("..." if f.length > MASK_BYTES else "")
    elif f.length <= 8:
        text = dump.read(f.offset, f.length).hex()
    else:
        text = dump.read(f.offset, 4).hex() + "..." + dump.read(f.offset + f.length - 4, 4).hex()
    return {"excerpt": text, "excerpt_masked": True, "excerpt_truncated": False}


def secret_ranges(findings: Iterable[dict[str, Any]]) -> list[tuple[int, int]]:
    """Merged, sorted ``[start, end)`` file ranges of every secret finding in ``findings`` (JSON records)."""
    spans = sorted((int(f["offset"]), int(f["offset"]) + int(f["length"]))
                   for f in findings if f.get("secret", True))
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def looks_like_structure(group: bytes) -> bool:
    """True for an 8-byte context group that looks like structure (pointers, lengths, padding, small
    integers) rather than random data: at least two bytes 0x00/0xff, or at most six distinct values.
    Random bytes pass with a probability of about 0.7%; the rule keeps undetected key material next to a
    finding (a neighbouring CRT component the scanner did not flag, say) out of the excerpt."""
    return sum(1 for b in group if b in (0, 0xFF)) >= 2 or len(set(group)) <= 6


def context_excerpt(dump: Any, finding: dict[str, Any], ranges: list[tuple[int, int]],
                    reveal: bool = False) -> list[dict[str, Any]]:
    """Hex segments around one finding (a JSON record): ``[{"offset", "length", "hex"}]``.

    Masked (default): see the module docstring; ``ranges`` are the evidence's :func:`secret_ranges`.
    With ``reveal``: the real bytes of the finding (at most REVEAL_CAP) plus the context.
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
        i = bisect.bisect_right(starts, pos) - 1
        if i >= 0 and ranges[i][0] <= pos < ranges[i][1]:
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


# -- scan output: JSON -----------------------------------------------------------------------------
def finding_json(dump: Dump, f: Finding, reveal: bool = False) -> dict[str, Any]:
    out = f.to_json()
    out.update(short_excerpt(dump, f, reveal))
    return out


def result_json(
    dump: Dump, result: ScanResult, with_hash: bool = True, reveal: bool = False,
    min_confidence: Confidence = Confidence.MEDIUM,
) -> dict[str, Any]:
    """One entry of the ``results`` list of ``scan --json``: the evidence, then what was found in it.

    Every finding is listed whatever its confidence (each carries it); ``min_confidence`` is recorded so
    that a program reading the document knows which threshold set the exit code.
    """
    return {
        "evidence": evidence_json(dump, with_hash),
        "min_confidence": str(min_confidence),
        "cancelled": result.cancelled,
        "findings": [finding_json(dump, f, reveal) for f in result.findings],
        "secrets": [s.to_json() for s in result.secrets],
        "public_keys": list(result.public_keys),
        "warnings": list(dump.warnings) + list(result.warnings),
        "stats": result.stats.to_json(),
    }


def evidence_json(dump: Dump, with_hash: bool = True) -> dict[str, Any]:
    """The evidence a result is about. For a dump that came in a container, ``sha256`` is the evidence
    file's (the container's) and ``content_sha256`` that of the decompressed bytes the offsets refer
    to; ``chain`` names the layers (``["zip", "apport", "gzip", "elf-core"]``) and ``member`` the ZIP
    member."""
    out: dict[str, Any] = {
        "path": str(dump.path),
        "size": dump.size,
        "sha256": dump.sha256() if with_hash else None,
        "format": dump.format,
    }
    origin = getattr(dump, "origin", None)
    if origin is not None:
        out["evidence_size"] = dump.evidence_size
        out["content_sha256"] = dump.content_sha256()
        out["chain"] = dump.chain
        if origin.member:
            out["member"] = origin.member
        out["offsets"] = "decompressed content"
    return out


def scan_document(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {"tool": tool_json(), "results": results}


def secrets_at_or_above(result: ScanResult, threshold: Confidence) -> list[Secret]:
    return [s for s in result.secrets if s.confidence >= threshold]


# -- scan output: text -----------------------------------------------------------------------------
def _location_text(loc: dict[str, Any]) -> str:
    vaddr = f"va {loc['vaddr']:#x}" if loc.get("vaddr") is not None else "no va"
    region = loc.get("region") or "(outside any region)"
    return (
        f"      at {loc['offset']:#012x}  len {loc['length']:>6}  {loc['encoding']:<26} "
        f"{loc['confidence']:<9} {region} ({vaddr})"
    )


def result_text(dump: Dump, result: ScanResult, threshold: Confidence, with_hash: bool = True) -> str:
    """:func:`result_lines` as one text."""
    return "\n".join(result_lines(dump, result, threshold, with_hash))


def result_lines(dump: Dump, result: ScanResult, threshold: Confidence, with_hash: bool = True) -> list[str]:
    """A page for people, one line each (so a writer can escape each line's content, newlines in a
    region name included). Shows where keys are and why we believe it; never a byte of them."""
    lines = [
        f"file      {dump.path}",
        f"format    {dump.format}, {dump.size} bytes",
        f"sha256    {dump.sha256() if with_hash else '(not computed: --no-hash)'}",
    ]
    if getattr(dump, "origin", None) is not None:
        ev = evidence_json(dump, with_hash=False)
        lines[1:2] = [f"format    {dump.format}, {dump.size} bytes decompressed (offsets are in the content)",
                      f"chain     {' > '.join(dump.chain)}" + (f"  member {ev['member']}" if "member" in ev else "")]
        lines.append(f"content   sha256 {dump.content_sha256()}")
    shown = secrets_at_or_above(result, threshold)
    lines.append(f"secrets   {len(shown)} at or above {threshold}")
    if shown:
        lines.append(f"  {'KIND':<22} {'CONFIDENCE':<10} {'KEY ID':<46} LOCATIONS")
        for s in shown:
            key = s.key_id or "(no key id)"
            lines.append(f"  {s.kind:<22} {str(s.confidence):<10} {key:<46} {len(s.locations)}")
            lines.extend(_location_text(loc) for loc in s.locations)
            if s.matches:
                lines.append(f"      matches supplied public key(s): {', '.join(s.matches)}")
    below = [s for s in result.secrets if s.confidence < threshold]
    public = [f for f in result.findings if not f.secret]
    if public:
        kinds = Counter(f.kind for f in public)
        lines.append(f"context   {len(public)} public finding(s): "
                     + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
        for f in public[:20]:
            lines.append(
                f"      at {f.offset:#012x}  len {f.length:>6}  {f.kind} ({f.encoding}) {f.region or ''}"
                + (f"  key id {f.key_id}" if f.key_id else "")
            )
        if len(public) > 20:
            lines.append(f"      ... and {len(public) - 20} more (see --json)")
    if below:
        lines.append(f"below     {len(below)} possible secret(s) below {threshold} "
                     "(see --min-confidence low or --json)")
    for pk in result.public_keys:
        state = "FOUND (private half in this dump)" if pk["found"] else "not found"
        lines.append(f"pubkey    {pk['label']}: {state}  [{pk['key_id']}]")
    warnings = list(dump.warnings) + list(result.warnings)
    if warnings:
        lines.append(f"warnings  {len(warnings)}")
        lines.extend(f"  - {w}" for w in warnings[:50])
    st = result.stats
    lines.append(
        f"scanned   {st.bytes_scanned} of {st.total_bytes} bytes in {st.seconds:.2f} s "
        f"({st.mb_per_s:.0f} MB/s, {st.engine}, {st.workers} {st.executor} worker(s))"
        + ("  CANCELLED" if result.cancelled else "")
    )
    return lines


# -- SARIF 2.1.0 (the one writer) ------------------------------------------------------------------
@dataclass
class SarifItem:
    """One finding to report: its JSON record (:meth:`Finding.to_json` shape), the index of its artifact
    (-1: none), properties added after the finding's own, and a suppression's justification (if any)."""

    finding: dict[str, Any]
    artifact: int
    properties: dict[str, Any] = field(default_factory=dict)
    suppressed: str | None = None


def _level(f: dict[str, Any]) -> str:
    if not f.get("secret", True):
        return "note"
    conf = Confidence.parse(str(f.get("confidence", "low")))
    return "error" if conf >= Confidence.HIGH else "warning" if conf == Confidence.MEDIUM else "note"


def _message(f: dict[str, Any]) -> str:
    secret = f.get("secret", True)
    what = "possible secret" if secret else "public context"
    text = (f"{f['kind']} ({f['encoding']}), {what}, confidence {f['confidence']}, {f['length']} bytes at file "
            f"offset {int(f['offset']):#x}")
    if f.get("region"):
        text += f" in {f['region']}"
    if f.get("key_id"):
        text += f"; key id {f['key_id']}"
    if f.get("matches") and secret:
        text += f"; private half of supplied public key(s) {', '.join(f['matches'])}"
    return text


def sarif_log(artifacts: list[dict[str, Any]], items: Iterable[SarifItem]) -> dict[str, Any]:
    """A SARIF 2.1.0 log: one run, one rule per finding kind (sorted), one result per item. Messages
    describe the finding; they never quote its bytes."""
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for item in items:
        f = item.finding
        kind, secret = f["kind"], f.get("secret", True)
        rules.setdefault(kind, {
            "id": kind,
            "name": kind.title().replace("-", ""),
            "shortDescription": {"text": f"{kind} in process memory"},
            "defaultConfiguration": {"level": "error" if secret else "note"},
        })
        uri = artifacts[item.artifact]["location"]["uri"] if item.artifact >= 0 else ""
        res: dict[str, Any] = {
            "ruleId": kind,
            "level": _level(f),
            "message": {"text": _message(f)},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": uri, "index": item.artifact},
                "region": {"byteOffset": f["offset"], "byteLength": f["length"]},
            }}],
            "partialFingerprints": {"findingId/v1": f["id"]},
            "properties": {
                "key_id": f.get("key_id"), "confidence": f["confidence"], "encoding": f["encoding"],
                "secret": secret, "vaddr": f.get("vaddr"), "region": f.get("region"),
                "matches": list(f.get("matches") or []), "reasons": list(f.get("reasons") or []),
                **item.properties,
            },
        }
        if item.suppressed is not None:
            res["suppressions"] = [{"kind": "external", "status": "accepted", "justification": item.suppressed}]
        results.append(res)
    rule_list = [rules[k] for k in sorted(rules)]
    rule_index = {r["id"]: i for i, r in enumerate(rule_list)}
    for res in results:
        res["ruleIndex"] = rule_index[res["ruleId"]]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": TOOL_NAME, "version": __version__, "rules": rule_list}},
            "artifacts": artifacts,
            "results": results,
            "columnKind": "unicodeCodePoints",
        }],
    }


def sarif_document(entries: list[tuple[Dump, ScanResult]], threshold: Confidence,
                   with_hash: bool = True) -> dict[str, Any]:
    """``scan --sarif``: one result per finding at or above ``threshold`` (public context included as
    ``note``); each dump an artifact named by its absolute file URI."""
    artifacts: list[dict[str, Any]] = []
    items: list[SarifItem] = []
    for index, (dump, result) in enumerate(entries):
        artifact: dict[str, Any] = {"location": {"uri": Path(dump.path).resolve().as_uri()}, "length": dump.size}
        if with_hash:
            artifact["hashes"] = {"sha-256": dump.sha256()}
        if getattr(dump, "origin", None) is not None:  # findings' offsets are in the decompressed content
            artifact["properties"] = {"chain": dump.chain, "content_sha256": dump.content_sha256(),
                                      "content_length": dump.size, "offsets": "decompressed content"}
            artifact["length"] = dump.evidence_size
        artifacts.append(artifact)
        items.extend(SarifItem(f.to_json(), index) for f in result.findings if f.confidence >= threshold)
    return sarif_log(artifacts, items)


# -- a case's findings (bundle members) ------------------------------------------------------------
def record_json(rec: Any, excerpt: list[dict[str, Any]] | None, masked: bool) -> dict[str, Any]:
    """One finding record of findings.json: the finding, its review, where it came from, its excerpt
    (:func:`context_excerpt`; None when the evidence is not reachable)."""
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


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet reads a cell starting so as a formula


def csv_cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet shows as text, never runs: a string starting with one of
    :data:`FORMULA_START` gets a leading single quote (OWASP's "CSV injection" advice), since region and
    module names come from the dump and comments, tags and reasons from a case someone else may have
    written. Numbers stay numbers (ours: offsets, lengths); only strings can carry a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def findings_csv(records: list[dict[str, Any]]) -> bytes:
    """findings.csv: one row per record (:func:`record_json`), no bytes; every cell through :func:`csv_cell`."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for r in records:
        rv = r["review"]
        w.writerow(csv_cell(cell) for cell in [
            r["id"], r["evidence_sha256"], r["kind"], r["encoding"], r["offset"], r["length"],
            "" if r.get("vaddr") is None else f"{r['vaddr']:#x}", r.get("region") or "", r["confidence"],
            r.get("secret"), r.get("key_id") or "", "; ".join(r.get("matches") or []),
            " | ".join(r.get("reasons") or []), r["stale"], rv["status"], rv["severity"], "; ".join(rv["tags"]),
            " | ".join(f"{c['author']} {c['time']}: {c['text']}" for c in rv["comments"]),
        ])
    return buf.getvalue().encode("utf-8")


def findings_sarif(case: Any, records: list[dict[str, Any]]) -> dict[str, Any]:
    """findings.sarif: every record, the review in each result's properties, a false positive as an
    accepted suppression; each evidence an artifact named by its file name (the receiver's paths differ)."""
    index = {ref.key: i for i, ref in enumerate(case.evidence)}
    artifacts = [{"location": {"uri": PurePosixPath(Path(ref.path).name).as_posix()}, "length": ref.size,
                  "hashes": {"sha-256": ref.sha256},
                  **({"properties": {"member": ref.member, "content_sha256": ref.content_sha256}}
                     if ref.member is not None else {})} for ref in case.evidence]
    items = [
        SarifItem(r, index.get(r["evidence_sha256"], -1),
                  {"review_status": r["review"]["status"], "severity": r["review"]["severity"],
                   "stale": r["stale"], "evidence_sha256": r["evidence_sha256"]},
                  "reviewed as a false positive" if r["review"]["status"] == "false-positive" else None)
        for r in records
    ]
    return sarif_log(artifacts, items)


__all__ = ["TOOL_NAME", "SARIF_SCHEMA", "REVEAL_CAP", "MASK", "SHORT_MASK", "MASK_BYTES", "CSV_COLUMNS",
           "FORMULA_START", "SarifItem", "tool_json", "csv_cell", "short_excerpt", "context_excerpt", "secret_ranges", "looks_like_structure",
           "finding_json", "result_json", "scan_document", "secrets_at_or_above", "result_text", "result_lines", "sarif_log",
           "sarif_document", "record_json", "findings_csv", "findings_sarif"]
