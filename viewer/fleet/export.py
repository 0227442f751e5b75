"""``fleet export``: the chosen dumps' findings into an encrypted case, for an examiner to review.

Each chosen dump becomes evidence of the case (:meth:`~viewer.case.store.CaseFile.add_evidence` hashes
the file: it must still be where the database saw it, or where it was quarantined, with the same
SHA-256) and its stored findings are merged as one scan with the run's scanner version and settings
(:meth:`~viewer.case.store.CaseFile.merge_scan`; the reviews already in the case are kept). The masked
excerpts stay behind: a case holds findings, not bytes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from viewer.case.errors import CaseError
from viewer.evidence import EvidenceError
from viewer.fleet.db import ResultsDB


@dataclass
class ExportSummary:
    added: list[str] = field(default_factory=list)  # SHA-256 of each dump merged
    findings: int = 0
    skipped: list[str] = field(default_factory=list)  # one line each: why a chosen dump was not exported


def choose(db: ResultsDB, selectors: list[str] | None, verdicts: tuple[str, ...]) -> list[dict[str, Any]]:
    """The dumps to export: those whose path or SHA-256 (or a prefix of 8 or more hex digits) is one of
    ``selectors``, else every dump with one of ``verdicts``; one per SHA-256."""
    out: dict[str, dict[str, Any]] = {}
    for d in db.dumps():
        if not d["sha256"] or d["scan_id"] is None:
            continue
        if selectors:
            hit = any(s == d["path"] or os.path.abspath(s) == d["path"] or s == d["quarantined_to"]
                      or (len(s) >= 8 and d["sha256"].startswith(s.lower())) for s in selectors)
        else:
            hit = d["verdict"] in verdicts
        if hit:
            out.setdefault(d["sha256"], d)
    return list(out.values())


def export_to_case(db: ResultsDB, cf: Any, dumps: list[dict[str, Any]], author: str | None = None) -> ExportSummary:
    """Add each dump to the case ``cf`` (an unlocked :class:`~viewer.case.store.CaseFile`) with its
    findings; the caller saves."""
    summary = ExportSummary()
    for d in dumps:
        scan = db.scan_row(d["scan_id"])
        where = next((p for p in (d["quarantined_to"], d["path"]) if p and os.path.isfile(p)), None)
        if where is None:
            summary.skipped.append(f"{d['path']}: the file is gone (neither at its path nor in quarantine)")
            continue
        findings = [{k: v for k, v in f.items() if not k.startswith("excerpt")} for f in db.scan_findings(d["scan_id"])]
        by_member: dict[str | None, list[dict[str, Any]]] = {}
        for f in findings:
            by_member.setdefault(f.pop("member", None), []).append(f)
        members = [m for m in json.loads(scan.get("stats") or "{}").get("members", []) if isinstance(m, str)]
        run = db.run(scan["run_id"])
        settings = {**json.loads(run["settings"]), "fleet_run": run["id"], "fleet_database": str(db.path)}
        try:
            for member in members or [None]:  # one of several dumps of the file: evidence of its own
                ref = next((e for e in cf.case.evidence if e.sha256 == d["sha256"] and e.member == member), None)
                if ref is None:
                    ref = cf.add_evidence(where, author, member=member)
                    if ref.sha256 != d["sha256"]:
                        raise CaseError("its SHA-256 changed since the scan")
                cf.merge_scan(ref.key, by_member.get(member, []), settings, scanner_version=scan["scanner_version"],
                              author=author)
        except (CaseError, EvidenceError) as exc:
            summary.skipped.append(f"{where}: {exc}")
            continue
        summary.added.append(d["sha256"])
        summary.findings += len(findings)
    return summary


__all__ = ["ExportSummary", "choose", "export_to_case"]
