"""What the fleet tests compare: a dump's findings as ``scan`` gives them, and a run on a runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from viewer.evidence import open_dump
from viewer.fleet import GateOptions, ResultsDB, expand, make_settings, run_gate
from viewer.fleet.report import dump_record
from viewer.handover import documents
from viewer.scan.engine import scan_dump


def scanned_whole(path: Path, public_keys: list[Any] | None = None) -> dict[str, Any]:
    """The findings (masked, as ``scan --json``) and secrets of ``path`` scanned by scan_dump."""
    with open_dump(path) as dump:
        result = scan_dump(dump, public_keys=public_keys)
        return {"findings": [documents.finding_json(dump, f) for f in result.findings],
                "secrets": [s.to_json() for s in result.secrets]}


def records(db: ResultsDB) -> dict[str, dict[str, Any]]:
    """Every dump of the database by (real) path: its record."""
    return {str(Path(d["path"]).resolve()): dump_record(db, d["id"]) for d in db.dumps()}


def comparable(rec: dict[str, Any]) -> dict[str, Any]:
    return {"findings": rec["findings"], "secrets": rec["secrets"]}


def run(db_path: Path, runner: Any, sources: list[str], options: GateOptions | None = None, **kw: Any) -> Any:
    with ResultsDB(db_path) as db:
        return run_gate(db, runner, make_settings(), expand(sources), options, **kw)
