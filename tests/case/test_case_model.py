"""The case model without the file: evidence references, scan merging, reviews, bookmarks, authors."""

from __future__ import annotations

import getpass
import shutil
from pathlib import Path

import pytest

from viewer.case import model
from viewer.case.errors import CaseError, EvidenceMismatch
from viewer.evidence import open_dump

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "sample" / "demo-keyholder.core"


@pytest.fixture(scope="module")
def sample_findings(demo_scan) -> list[dict]:
    result = demo_scan.result  # the demo core's default scan, done once per session
    assert len(result.findings) >= 3
    return [f.to_json() for f in result.findings]


@pytest.fixture
def evidence(tmp_path) -> Path:
    (tmp_path / "evidence").mkdir()
    return Path(shutil.copy(SAMPLE, tmp_path / "evidence" / SAMPLE.name))


@pytest.fixture
def case() -> model.Case:
    return model.Case.new("Operation Keyholder", "Ann Examiner", number="2026-017", description="demo")


def test_author_is_configured_name_and_os_user():
    assert model.make_author("Ann") == f"Ann ({getpass.getuser()})"
    assert model.make_author("") == getpass.getuser()


def test_new_case(case):
    import uuid

    assert uuid.UUID(case.id).version == 4
    assert case.created == case.modified and case.created.endswith("Z")
    assert [e["type"] for e in case.audit] == ["case-created"]
    assert case.audit.events[0]["author"] == model.make_author("Ann Examiner")


def test_add_evidence_relative_path_hash_format(case, evidence, tmp_path):
    author = model.make_author("Ann")
    ref = model.add_evidence(case, evidence, author, case_dir=tmp_path)
    assert ref.path == f"evidence/{SAMPLE.name}"
    assert ref.sha256 == model.file_sha256(SAMPLE) and ref.size == SAMPLE.stat().st_size
    assert ref.format == open_dump(SAMPLE).format and ref.added_by == author
    ev = case.audit.events[-1]
    assert ev["type"] == "evidence-added" and ev["data"]["sha256"] == ref.sha256
    with pytest.raises(CaseError, match="already in the case"):
        model.add_evidence(case, evidence, author, case_dir=tmp_path)


def test_verify_flags_changed_and_missing_then_relocate(case, evidence, tmp_path):
    ref = model.add_evidence(case, evidence, "Ann", case_dir=tmp_path)
    assert [s.state for s in model.verify_evidence(case, tmp_path)] == ["ok"]

    moved = tmp_path / "moved.core"
    evidence.rename(moved)
    assert [s.state for s in model.verify_evidence(case, tmp_path)] == ["missing"]

    other = tmp_path / "other.core"
    other.write_bytes(moved.read_bytes() + b"\x00")
    with pytest.raises(EvidenceMismatch, match="is not that of the evidence"):
        model.relocate(case, ref, other, "Ann", case_dir=tmp_path)
    assert ref.path == f"evidence/{SAMPLE.name}"

    model.relocate(case, ref, moved, "Ann", case_dir=tmp_path)
    assert ref.path == "moved.core"
    assert case.audit.events[-1]["type"] == "evidence-relocated"
    assert [s.state for s in model.verify_evidence(case, tmp_path)] == ["ok"]

    data = bytearray(moved.read_bytes())
    data[100] ^= 0xFF
    moved.write_bytes(bytes(data))
    [status] = model.verify_evidence(case, tmp_path)
    assert status.state == "changed" and status.actual_sha256 != ref.sha256


def test_merge_scan_keeps_reviews(case, evidence, tmp_path, sample_findings):
    ref = model.add_evidence(case, evidence, "Ann", case_dir=tmp_path)
    run = model.merge_scan(case, ref.sha256, sample_findings, {"deep": False}, "Ann", scanner_version="0.1.0")
    assert run.new == len(sample_findings) and run.stale == 0
    first, second = sample_findings[0]["id"], sample_findings[1]["id"]
    model.annotate(case, first, "Bob", status="confirmed", severity="high", tags=["rsa", "ssh"],
                   comment="the agent's key")
    model.annotate(case, second, "Bob", status="false-positive")

    # The rescan: the first finding changed details, the second is gone, a new one appears.
    rescanned = [dict(sample_findings[0], confidence="high")] + sample_findings[2:]
    new = dict(sample_findings[2], id="feedfacefeedface", offset=1)
    run2 = model.merge_scan(case, ref.sha256, rescanned + [new], {"deep": True}, "Carl", scanner_version="0.2.0")
    assert (run2.new, run2.stale, run2.findings) == (1, 1, len(rescanned) + 1)
    rec1 = case.finding(first)
    assert rec1.finding["confidence"] == "high" and rec1.scanner_version == "0.2.0"
    assert rec1.settings == {"deep": True} and not rec1.stale
    assert rec1.review.status == "confirmed" and rec1.review.severity == "high"
    assert rec1.review.tags == ["rsa", "ssh"]
    assert [c.text for c in rec1.review.comments] == ["the agent's key"]
    rec2 = case.finding(second)
    assert rec2.stale and rec2.review.status == "false-positive"
    assert case.finding("feedfacefeedface").review.status == "unreviewed"
    assert len(case.findings) == len(sample_findings) + 1
    scans = [e for e in case.audit if e["type"] == "scan-run"]
    assert [s["data"]["scanner_version"] for s in scans] == ["0.1.0", "0.2.0"]
    assert case.audit.verify() == []


def test_merge_scan_needs_the_evidence(case, sample_findings):
    with pytest.raises(CaseError, match="add it first"):
        model.merge_scan(case, "0" * 64, sample_findings, {}, "Ann")


def test_annotate_events_and_validation(case, evidence, tmp_path, sample_findings):
    ref = model.add_evidence(case, evidence, "Ann", case_dir=tmp_path)
    model.merge_scan(case, ref.sha256, sample_findings, {}, "Ann")
    fid = sample_findings[0]["id"]
    n = len(case.audit)
    model.annotate(case, fid, "Bob", status="needs-more-information", comment="check the heap")
    new = case.audit.events[n:]
    assert [e["type"] for e in new] == ["status-change", "comment"]
    assert new[0]["data"] == {"finding": fid, "evidence": ref.sha256, "field": "status",
                              "old": "unreviewed", "new": "needs-more-information"}
    assert all(e["author"] == "Bob" for e in new)
    model.annotate(case, fid, "Bob", status="needs-more-information")  # no change, no event
    assert len(case.audit) == n + 2
    with pytest.raises(ValueError, match="unknown status"):
        model.annotate(case, fid, "Bob", status="maybe")
    with pytest.raises(ValueError, match="unknown severity"):
        model.annotate(case, fid, "Bob", severity="apocalyptic")
    with pytest.raises(KeyError, match="no finding"):
        model.annotate(case, "nope", "Bob", status="confirmed")

    c = model.edit_comment(case, fid, 0, "check the heap and the stack", "Bob")
    assert c.edited and c.edited_at and c.text.endswith("stack")
    assert case.audit.events[-1]["data"]["action"] == "edited"
    with pytest.raises(CaseError, match="only Bob"):
        model.edit_comment(case, fid, 0, "mine now", "Mallory")


def test_same_finding_id_in_two_evidence_items(case, evidence, tmp_path, sample_findings):
    other = tmp_path / "copy.core"
    other.write_bytes(evidence.read_bytes() + b"\0")
    a = model.add_evidence(case, evidence, "Ann", case_dir=tmp_path)
    b = model.add_evidence(case, other, "Ann", case_dir=tmp_path)
    model.merge_scan(case, a.sha256, sample_findings[:1], {}, "Ann")
    model.merge_scan(case, b.sha256, sample_findings[:1], {}, "Ann")
    fid = sample_findings[0]["id"]
    with pytest.raises(KeyError, match="several evidence items"):
        model.annotate(case, fid, "Ann", status="confirmed")
    model.annotate(case, fid, "Ann", status="confirmed", evidence_sha256=b.sha256)
    assert case.finding(fid, a.sha256).review.status == "unreviewed"


def test_bookmarks(case, evidence, tmp_path):
    ref = model.add_evidence(case, evidence, "Ann", case_dir=tmp_path)
    b = model.add_bookmark(case, ref.sha256, 0x1000, 64, "stack canary", "Ann", colour="#ff8800", note="odd")
    assert (b.offset, b.length, b.colour, b.note, b.author) == (0x1000, 64, "#ff8800", "odd", "Ann")
    assert case.audit.events[-1]["type"] == "bookmark"
    with pytest.raises(CaseError):
        model.add_bookmark(case, "f" * 64, 0, 1, "x", "Ann")
    model.remove_bookmark(case, b.id, "Ann")
    assert case.bookmarks == [] and case.audit.events[-1]["data"]["action"] == "removed"


def test_json_round_trip(case, evidence, tmp_path, sample_findings):
    ref = model.add_evidence(case, evidence, "Ann", case_dir=tmp_path)
    model.merge_scan(case, ref.sha256, sample_findings, {"workers": 2}, "Ann")
    model.annotate(case, sample_findings[0]["id"], "Ann", status="confirmed", tags=["x"], comment="c")
    model.add_bookmark(case, ref.sha256, 1, 2, "b", "Ann")
    model.record_export(case, "json", "out.json", "Ann")
    import json

    again = model.Case.from_json(json.loads(json.dumps(case.to_json())))
    assert again.to_json() == case.to_json()
    assert again.finding(sample_findings[0]["id"]).review.comments[0].text == "c"
    assert again.audit.verify() == []


def test_the_case_core_never_imports_qt():
    import subprocess
    import sys

    code = ("import sys, viewer.case, viewer.case.store, viewer.case.model;"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_evidence_in_a_container_records_both_hashes_and_the_chain(case, tmp_path):
    """A compressed dump is evidence by its container's hash (what is on disk to verify), with the
    content's hash, size and chain beside it; it round-trips through the payload and verifies."""
    from tests.builders.containers import compress

    (tmp_path / "evidence").mkdir()
    core = Path(shutil.copy(SAMPLE, tmp_path / "evidence" / SAMPLE.name))
    zst = compress(core, "zst")
    core.unlink()
    ref = model.add_evidence(case, zst, "Ann", case_dir=tmp_path)
    assert ref.sha256 == model.file_sha256(zst) and ref.size == zst.stat().st_size
    assert ref.content_sha256 == model.file_sha256(SAMPLE) and ref.content_size == SAMPLE.stat().st_size
    assert ref.chain == ["zstd", "elf-core"] and ref.format == "elf-core"
    facts = case.audit.events[-1]["data"]
    assert facts["content_sha256"] == ref.content_sha256 and facts["chain"] == ref.chain
    again = model.Case.from_json(case.to_json())
    assert again.evidence[0] == ref
    assert [s.state for s in model.verify_evidence(again, tmp_path)] == ["ok"]
