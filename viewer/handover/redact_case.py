"""What a case says about redacting one of its evidence items (``redact --case``, and the window).

A case knows more than a fresh scan: findings of a deeper scan or of public keys given when the case was
built, and the examiner's review of each finding. :func:`case_selection` turns that into what
:func:`viewer.handover.redact.redact_file` adds to the scan it makes anyway:

* every finding the case holds for the evidence (stale ones too: they were seen in these very bytes);
* a finding the examiner marked ``confirmed`` is overwritten whatever its scanner confidence and the
  ``--min-confidence`` threshold (the examiner's word beats the threshold);
* a finding the examiner marked ``false-positive`` is *kept*: not overwritten and not counted against
  "clean"; so is every other finding of the same key id (the same key, so the same judgement), unless
  the examiner confirmed some finding of that key: then the key is redacted everywhere, the finding
  marked false-positive too (the safe side wins a contradiction, and the log notes it). Each kept
  finding is named in the redaction log with who decided.

The redaction is then an audit event of the case (:func:`redaction_facts`): output path and SHA-256,
log path, ranges removed, clean or not, how many findings were kept — never key bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from viewer.case.model import Case
from viewer.scan.finding import Confidence, Finding

CONFIRMED, FALSE_POSITIVE = "confirmed", "false-positive"


@dataclass
class CaseSelection:
    """The case's findings for one evidence item, ready for redaction."""

    evidence_sha256: str
    findings: list[Finding]
    kept_ids: dict[str, str] = field(default_factory=dict)  # finding id -> why it is kept
    kept_keys: dict[str, str] = field(default_factory=dict)  # key id -> why its findings are kept
    confirmed_keys: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    def keeps(self, f: Finding) -> str | None:
        """Why ``f`` stays in the copy (the examiner's review), or None when it is to be overwritten."""
        if f.key_id is not None and f.key_id in self.confirmed_keys:
            return None
        if f.id in self.kept_ids:
            return self.kept_ids[f.id]
        if f.key_id is not None and f.key_id in self.kept_keys:
            return self.kept_keys[f.key_id]
        return None


def _status_authors(case: Case, evidence_sha256: str) -> dict[str, str]:
    """finding id -> who set its current status, from the audit trail's last status change."""
    out: dict[str, str] = {}
    for ev in case.audit:
        data = ev.get("data") or {}
        if ev.get("type") == "status-change" and data.get("field") == "status" and data.get("evidence") == evidence_sha256:
            out[str(data.get("finding"))] = str(ev.get("author", ""))
    return out


def case_selection(case: Case, evidence_sha256: str) -> CaseSelection | None:
    """The selection for the evidence with this SHA-256; None when the case does not hold it."""
    if case.evidence_by_sha256(evidence_sha256) is None:
        return None
    sel = CaseSelection(evidence_sha256, [])
    authors = _status_authors(case, evidence_sha256)
    for rec in case.findings:
        if rec.evidence_sha256 != evidence_sha256:
            continue
        try:
            f = Finding.from_json(rec.finding)
        except (KeyError, TypeError, ValueError):
            continue  # a record this version cannot read: the fresh scan still covers its bytes
        status = rec.review.status
        if status == CONFIRMED:
            f.confidence = Confidence.CONFIRMED
            f.reasons = [*f.reasons, "confirmed by the examiner in the case"]
            if f.key_id:
                sel.confirmed_keys.add(f.key_id)
        elif status == FALSE_POSITIVE:
            why = f"marked false-positive in the case by {authors.get(rec.id) or 'the examiner'}"
            sel.kept_ids[f.id] = why
            if f.key_id:
                sel.kept_keys.setdefault(f.key_id, f"same key as finding {f.id}, {why}")
        sel.findings.append(f)
    for f in sel.findings:
        if f.id in sel.kept_ids and f.key_id in sel.confirmed_keys:
            sel.notes.append(f"finding {f.id} is marked false-positive but another finding of its key is "
                             "confirmed: the key is redacted everywhere")
    return sel


def merge(scanned: Iterable[Finding], selection: CaseSelection) -> tuple[list[Finding], list[tuple[Finding, str]]]:
    """(findings to redact, findings kept with the reason): the scan's and the case's, one per id; the
    case's version wins (it carries the examiner's confirmation)."""
    by_id = {f.id: f for f in scanned}
    by_id.update((f.id, f) for f in selection.findings)
    redact: list[Finding] = []
    kept: list[tuple[Finding, str]] = []
    for f in by_id.values():
        why = selection.keeps(f)
        if why is None:
            redact.append(f)
        elif f.secret:
            kept.append((f, why))
    return redact, kept


def redaction_facts(result: Any, threshold: Confidence) -> dict[str, Any]:
    """The audit event's payload for a :class:`~viewer.handover.redact.RedactionResult`."""
    return {
        "output": result.output,
        "output_sha256": result.output_sha256,
        "log": result.log,
        "min_confidence": str(threshold),
        "ranges": len(result.ranges),
        "clean": result.clean,
        "remaining": len(result.remaining),
        "kept": len(result.kept),
    }
