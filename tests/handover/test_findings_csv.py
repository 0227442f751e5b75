"""findings.csv cannot start a spreadsheet formula (viewer.handover.documents.findings_csv).

Region and module names come from the dump, reasons, comments and tags from a case someone else may have
written: a cell starting with ``=``, ``+``, ``-``, ``@``, tab or CR is a formula to a spreadsheet. The
hostile case (tests/handover/hostile_case.py) starts every string with one of them; its CSV, read back with
the csv module, has every such cell prefixed with a single quote and everything else as it was.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tests.handover.hostile_case import FORMULA_STARTS, hostile_case
from viewer.handover.documents import CSV_COLUMNS, csv_cell, findings_csv, record_json

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "sample" / "demo-keyholder.core"


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def test_hostile_cells_are_neutralised_and_ours_stay_numbers(demo_scan, tmp_path: Path) -> None:
    cf, _given = hostile_case(tmp_path, SAMPLE, demo_scan.findings_json, port=9)
    records = [record_json(rec, None, True) for rec in cf.case.findings]
    rows = _rows(findings_csv(records))
    assert [list(r) for r in rows[:1]] == [CSV_COLUMNS] and len(rows) == len(records)
    hostile_columns = ("id", "kind", "encoding", "region", "confidence", "key_id", "matches", "reasons", "status",
                       "severity", "tags")
    for row, rec in zip(rows, records, strict=True):
        for col in hostile_columns:
            cell = row[col]
            assert cell.startswith("'") and cell[1] in FORMULA_STARTS, (col, cell)
        assert row["id"] == "'" + rec["id"] and row["region"] == "'" + rec["region"]
        # ours stay as they were: numbers, the hash, booleans
        assert row["offset"] == str(rec["offset"]) and row["length"] == str(rec["length"])
        assert row["evidence_sha256"] == rec["evidence_sha256"] and row["secret"] in ("True", "False")
        assert row["vaddr"] == ("" if rec.get("vaddr") is None else f"{rec['vaddr']:#x}")
    commented = [r for r in rows if r["comments"]]
    assert commented and all(r["comments"].startswith("'") for r in commented)
    assert not [c for r in rows for c in r.values() if c[:1] in FORMULA_STARTS]  # no cell left starting so


def test_ordinary_cells_are_unchanged(sample_case) -> None:
    cf = sample_case.open()
    records = [record_json(rec, None, True) for rec in cf.case.findings]
    rows = _rows(findings_csv(records))
    for row, rec in zip(rows, records, strict=True):
        assert row["kind"] == rec["kind"] and row["region"] == (rec.get("region") or "")
        assert row["reasons"] == " | ".join(rec["reasons"]) and row["offset"] == str(rec["offset"])


def test_the_rule_itself() -> None:
    for start in FORMULA_STARTS:
        assert csv_cell(start + "1+1") == "'" + start + "1+1"
    for ordinary in ("libc.so.6", "1+1", " =x", "'=x", "", "0x7f00"):
        assert csv_cell(ordinary) == ordinary
    for number in (0, -5, 123456, True, None, 1.5):
        assert csv_cell(number) is number
