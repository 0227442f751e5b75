"""The one documents writer (viewer.handover.documents): the scan's output and a bundle's members come from
the same SARIF writer and the same masking rule — checked on the demo core's real findings and on a raw
file with a known layout."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from viewer.evidence import open_dump
from viewer.handover import documents
from viewer.handover.bundle import export_bundle
from viewer.scan.finding import Confidence, Finding


def test_scan_and_bundle_sarif_describe_a_finding_the_same_way(demo_scan, case_factory, sample_case,
                                                               tmp_path: Path) -> None:
    with open_dump(demo_scan.path) as dump:
        scan_doc = documents.sarif_document([(dump, demo_scan.result)], Confidence.LOW, with_hash=False)
    cf = case_factory.copy(sample_case, tmp_path).open()
    bundle = tmp_path / "b.zip"
    export_bundle(cf, bundle)
    with zipfile.ZipFile(bundle) as zf:
        bundle_doc = json.loads(zf.read("findings.sarif"))
    scan_results = {r["partialFingerprints"]["findingId/v1"]: r for r in scan_doc["runs"][0]["results"]}
    bundle_results = {r["partialFingerprints"]["findingId/v1"]: r for r in bundle_doc["runs"][0]["results"]}
    assert set(scan_results) == set(bundle_results) and scan_results
    for fid, s in scan_results.items():
        b = bundle_results[fid]
        for key in ("ruleId", "level", "message", "ruleIndex"):
            assert s[key] == b[key], (fid, key)
        assert s["locations"][0]["physicalLocation"]["region"] == b["locations"][0]["physicalLocation"]["region"]
        assert {k: b["properties"][k] for k in s["properties"]} == s["properties"]
        assert {"review_status", "severity", "stale", "evidence_sha256"} <= set(b["properties"])
    assert scan_doc["runs"][0]["tool"]["driver"]["rules"] == bundle_doc["runs"][0]["tool"]["driver"]["rules"]


def _raw(tmp_path: Path) -> Path:
    """8 KiB: zeros, a 'secret' of 5000 random-looking bytes at 1024, structure-like bytes after it."""
    data = bytearray(8192)
    data[1024:6024] = bytes((i * 73 + 41) % 251 for i in range(5000))
    data[6024:6040] = b"\x00\x00\x00\x00\x10\x00\x00\x00" * 2
    path = tmp_path / "layout.raw"
    path.write_bytes(bytes(data))
    return path


def test_reveal_cap_and_masks_are_one_rule_for_both_excerpts(tmp_path: Path) -> None:
    path = _raw(tmp_path)
    secret = Finding("test-secret", "raw", 1024, 5000, Confidence.HIGH)
    with open_dump(path) as dump:
        raw = path.read_bytes()
        short = documents.short_excerpt(dump, secret, reveal=True)
        assert bytes.fromhex(short["excerpt"]) == raw[1024:1024 + documents.REVEAL_CAP] and short["excerpt_truncated"]
        masked = documents.short_excerpt(dump, secret)
        assert masked["excerpt"] == documents.SHORT_MASK * documents.MASK_BYTES + "..."
        record = secret.to_json()
        ranges = documents.secret_ranges([record])
        (seg,) = documents.context_excerpt(dump, record, ranges, reveal=True)
        assert seg["offset"] == 1024 - documents.CONTEXT and seg["length"] == documents.CONTEXT + documents.REVEAL_CAP
        head, tail = documents.context_excerpt(dump, record, ranges)
        # inside the secret: every byte masked; the structure-like context after it shown
        assert head["hex"] == "00" * documents.CONTEXT + documents.MASK * documents.HEAD
        assert tail["hex"] == documents.MASK * documents.TAIL + raw[6024:6040].hex()
