"""What the results database says, as documents: one dump's record (a JSON line of ``fleet scan
--json-lines``, an entry of ``fleet report --json``), the whole report, its text page, and SARIF.

A dump's record holds its path, SHA-256, verdict and its findings in the shape of ``scan --json``
(masked excerpts, as stored: the database never holds a secret byte). The SARIF log is written by the
one SARIF writer (:func:`viewer.handover.documents.sarif_log`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from viewer.fleet.db import ResultsDB
from viewer.handover import documents
from viewer.scan.finding import Confidence
from viewer.units import human_size


def dump_record(db: ResultsDB, dump_id: int, with_findings: bool = True) -> dict[str, Any]:
    """One dump: the file, its verdict, its scan's findings, secrets, public keys and warnings."""
    row = db.conn.execute(
        "SELECT d.*, r.min_confidence FROM dumps d JOIN runs r ON r.id = d.last_run WHERE d.id = ?",
        (dump_id,)).fetchone()
    if row is None:
        raise KeyError(dump_id)
    d = dict(row)
    rec: dict[str, Any] = {
        "path": d["path"], "sha256": d["sha256"], "size": d["size"], "host": d["host"],
        "verdict": d["verdict"], "min_confidence": d["min_confidence"], "run": d["last_run"],
        "skipped": False, "quarantined_to": d["quarantined_to"], "redacted_to": d["redacted_to"],
    }
    scan = db.scan_row(d["scan_id"]) if d["scan_id"] is not None else {}
    if scan:
        rec.update({"format": scan["format"], "process": scan["process"], "scanned_by": scan["worker"],
                    "scanned_in_run": scan["run_id"], "ranges": scan["ranges"],
                    "skipped": scan["run_id"] != d["last_run"]})
        if with_findings:
            rec["findings"] = db.scan_findings(d["scan_id"])
            rec["secrets"] = db.scan_secrets(d["scan_id"])
            rec["public_keys"] = json.loads(scan["public_keys"])
            rec["warnings"] = json.loads(scan["warnings"])
    errors = db.conn.execute("SELECT error FROM errors WHERE dump_id = ? AND run_id = ? ORDER BY id",
                             (dump_id, d["last_run"])).fetchall()
    rec["errors"] = [e[0] for e in errors]
    return rec


def report_document(db: ResultsDB) -> dict[str, Any]:
    """``fleet report --json``: the runs, every dump with its verdict and findings, and per key id every
    dump that holds it."""
    return {
        "tool": documents.tool_json(),
        "database": str(db.path),
        "runs": [_run_json(r) for r in db.runs()],
        "dumps": [dump_record(db, d["id"]) for d in db.dumps()],
        "keys": db.key_holders(),
    }


def _run_json(r: dict[str, Any]) -> dict[str, Any]:
    return {"id": r["id"], "started": r["started"], "finished": r["finished"], "state": r["state"],
            "scanner_version": r["scanner_version"], "settings_id": r["settings_id"],
            "settings": json.loads(r["settings"]), "min_confidence": r["min_confidence"], "runner": r["runner"],
            "scanned": r["scanned"], "skipped": r["skipped"], "failed": r["failed"],
            "with_secrets": r["with_secrets"], "bytes": r["bytes"]}


def report_lines(db: ResultsDB) -> list[str]:
    """The text page: verdict counts, the keys and where they are, the failures, the runs."""
    dumps = db.dumps()
    counts = {v: sum(1 for d in dumps if d["verdict"] == v) for v in ("production-key", "secret", "clean", "failed")}
    lines = [f"database  {db.path}",
             f"dumps     {len(dumps)}: " + ", ".join(f"{n} {v}" for v, n in counts.items())]
    keys = db.key_holders()
    if keys:
        lines.append(f"keys      {len(keys)} secret key id(s) found")
    for k in keys:
        hosts = f" from {k['hosts']} host(s)" if k["hosts"] else ""
        worst = f"  PRODUCTION KEY: private half of {', '.join(k['matches'])}" if k["production"] else ""
        lines.append(f"  {k['kind']} {k['key_id']} ({k['confidence']}) is in {len(k['dumps'])} dump(s){hosts}{worst}")
        lines.extend(f"      {d['path']}" + (f"  [{d['host']}]" if d["host"] else "") for d in k["dumps"][:50])
        if len(k["dumps"]) > 50:
            lines.append(f"      ... and {len(k['dumps']) - 50} more (see --json)")
    flagged = [d for d in dumps if d["verdict"] in ("production-key", "secret")]
    if flagged:
        lines.append(f"flagged   {len(flagged)} dump(s) with secrets")
        for d in flagged:
            where = f"  quarantined to {d['quarantined_to']}" if d["quarantined_to"] else ""
            where += f"  redacted copy {d['redacted_to']}" if d["redacted_to"] else ""
            lines.append(f"  {d['verdict']:<14} {d['secrets'] or 0:>3} secret(s)  {d['path']}{where}")
    failed = [d for d in dumps if d["verdict"] == "failed"]
    if failed:
        lines.append(f"failed    {len(failed)} dump(s) could not be scanned")
        lines.extend(f"  {d['path']}: {d['error'] or 'unknown error'}" for d in failed)
    for r in db.runs():
        lines.append(f"run {r['id']:<5} {r['started']} {r['state']:<11} {r['scanned']} scanned, {r['skipped']} skipped "
                     f"as done, {r['failed']} failed, {r['with_secrets']} with secrets, {human_size(r['bytes'])} "
                     f"({r['runner']}, at or above {r['min_confidence']})")
    return lines


def sarif_for(db: ResultsDB, dump_ids: list[int], threshold: Confidence) -> dict[str, Any]:
    """SARIF 2.1.0 of the given dumps: each an artifact (file URI, size, SHA-256), one result per finding
    at or above ``threshold``."""
    artifacts: list[dict[str, Any]] = []
    items: list[documents.SarifItem] = []
    for dump_id in dict.fromkeys(dump_ids):
        rec = dump_record(db, dump_id)
        artifact: dict[str, Any] = {"location": {"uri": Path(rec["path"]).resolve().as_uri()}, "length": rec["size"]}
        if rec["sha256"]:
            artifact["hashes"] = {"sha-256": rec["sha256"]}
        artifacts.append(artifact)
        index = len(artifacts) - 1
        items.extend(documents.SarifItem({k: v for k, v in f.items() if not k.startswith("excerpt")}, index,
                                         {"verdict": rec["verdict"]})
                     for f in rec.get("findings", []) if Confidence.parse(f["confidence"]) >= threshold)
    return documents.sarif_log(artifacts, items)


__all__ = ["dump_record", "report_document", "report_lines", "sarif_for"]
