"""`evidence-viewer scan` as a program sees it: exit codes, the JSON and SARIF documents, masking.

The key-bearing file is generated here with ``cryptography`` (a real PEM private key in a raw image), so
the test exercises the real default detectors end to end.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import CORPUS
from tests.scan.test_scan_engine import MarkerDetector, write_with_markers
from viewer.evidence import open_dump
from viewer.handover.documents import result_json, sarif_document, short_excerpt
from viewer.scan.detectors import default_detectors
from viewer.scan.engine import scan_dump
from viewer.scan.finding import Finding

EXE = [sys.executable, "-m", "viewer.cli.main"]
DETECTOR_NAMES = {d.name for d in default_detectors()}
needs_pem = pytest.mark.skipif("pem" not in DETECTOR_NAMES, reason="the PEM detector is not written yet")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EXE, *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def pem_image(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes, bytes]:
    """A raw image holding one RSA-2048 private key as PEM PKCS#8 (path, PEM bytes, DER bytes)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = tmp_path_factory.mktemp("pem") / "key.raw"
    path.write_bytes(b"\0" * 5000 + pem + b"\0" * 7000)
    return path, pem, der


def key_fragments(pem: bytes) -> list[str]:
    """Pieces of the key that must never be printed: the base64 body lines (as text)."""
    return [line.decode() for line in pem.splitlines()[1:-1] if len(line) > 20]


# -- exit codes and usage --------------------------------------------------------------------------
@pytest.mark.slow
def test_missing_file_is_exit_2_with_one_line():
    proc = run("scan", "/nonexistent/dump.dmp")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "cannot open" in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [["scan"], ["scan", "--min-confidence", "bogus", str(CORPUS / "bp_minidump2.dmp")],
     ["scan", "--detector", "no-such-detector", str(CORPUS / "bp_minidump2.dmp")],
     ["scan", "--json", "--sarif", str(CORPUS / "bp_minidump2.dmp")]],
)
def test_bad_usage_is_exit_2(args):
    proc = run(*args)
    assert proc.returncode == 2, proc.stdout
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_clean_corpus_dump_is_exit_0_at_confirmed():
    proc = run("scan", "--min-confidence", "confirmed", "--no-hash", str(CORPUS / "bp_minidump2.dmp"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "secrets   0 at or above confirmed" in proc.stdout


@pytest.mark.slow
def test_one_unreadable_dump_among_good_ones_is_exit_2_and_the_rest_reported():
    proc = run("scan", "--json", "--no-hash", str(CORPUS / "bp_minidump2.dmp"), "/nonexistent")
    assert proc.returncode == 2
    doc = json.loads(proc.stdout)
    assert [r["evidence"]["path"] for r in doc["results"]] == [str(CORPUS / "bp_minidump2.dmp")]


# -- documents -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_json_document_shape_on_a_corpus_dump():
    path = CORPUS / "bp_minidump2.dmp"
    proc = run("scan", "--json", "--min-confidence", "confirmed", str(path))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["tool"]["name"] == "evidence-viewer" and doc["tool"]["version"]
    (res,) = doc["results"]
    assert res["evidence"] == {
        "path": str(path),
        "size": path.stat().st_size,
        "sha256": "24b0ea7794b2d2523c46c9aea72c03ccbb0ab88ad76d8258d3752c7b71d233ff",
        "format": "minidump",
    }
    for key in ("findings", "secrets", "public_keys", "warnings", "stats"):
        assert key in res
    assert res["stats"]["bytes_scanned"] == path.stat().st_size
    assert set(res["stats"]["detectors"]) == DETECTOR_NAMES


@pytest.mark.slow
@needs_pem
def test_pem_key_found_exit_1_text_never_shows_key_bytes(pem_image):
    path, pem, der = pem_image
    proc = run("scan", "--no-hash", str(path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "rsa-private-key" in proc.stdout and f"{5000:#012x}" in proc.stdout  # the file offset, in hex
    out = proc.stdout + proc.stderr
    assert not any(frag in out for frag in key_fragments(pem))
    assert der[-64:].hex() not in out


@pytest.mark.slow
@needs_pem
def test_json_excerpt_masked_by_default_and_real_with_reveal(pem_image):
    path, pem, _ = pem_image
    masked = json.loads(run("scan", "--json", "--no-hash", str(path)).stdout)
    revealed = json.loads(run("scan", "--json", "--no-hash", "--reveal", str(path)).stdout)
    fm = next(f for f in masked["results"][0]["findings"] if f["secret"])
    fr = next(f for f in revealed["results"][0]["findings"] if f["secret"])
    assert fm["offset"] == fr["offset"] == 5000
    assert fm["excerpt_masked"] and set(fm["excerpt"]) <= {"*", "."}
    assert not any(frag in json.dumps(masked) for frag in key_fragments(pem))
    assert not fr["excerpt_masked"]
    assert bytes.fromhex(fr["excerpt"]) == path.read_bytes()[5000 : 5000 + min(fr["length"], 4096)]
    assert base64.b64decode(b"".join(pem.splitlines()[1:-1]))  # (the key was real PEM)


@pytest.mark.slow
@needs_pem
def test_detector_flag_restricts_the_scan(pem_image):
    path, _, _ = pem_image
    only_pem = json.loads(run("scan", "--json", "--no-hash", "--detector", "pem", str(path)).stdout)
    assert set(only_pem["results"][0]["stats"]["detectors"]) == {"pem"}
    other = sorted(DETECTOR_NAMES - {"pem"})[:1]
    if other:
        proc = run("scan", "--no-hash", "--detector", other[0], "--min-confidence", "high", str(path))
        assert proc.returncode == 0, proc.stdout


def check_sarif(doc: dict) -> None:
    """Structural SARIF 2.1.0 checks (the parts code-scanning tools rely on)."""
    assert doc["version"] == "2.1.0" and doc["$schema"].endswith("sarif-2.1.0.json")
    (run_,) = doc["runs"]
    driver = run_["tool"]["driver"]
    assert driver["name"] == "evidence-viewer" and driver["version"]
    rule_ids = [r["id"] for r in driver["rules"]]
    assert len(rule_ids) == len(set(rule_ids))
    for res in run_["results"]:
        assert res["ruleId"] in rule_ids and rule_ids[res["ruleIndex"]] == res["ruleId"]
        assert res["level"] in ("error", "warning", "note")
        assert res["message"]["text"]
        (loc,) = res["locations"]
        phys = loc["physicalLocation"]
        assert phys["artifactLocation"]["uri"].startswith("file://")
        assert phys["region"]["byteOffset"] >= 0 and phys["region"]["byteLength"] > 0
        assert {"key_id", "confidence", "encoding"} <= set(res["properties"])


@pytest.mark.slow
def test_sarif_on_a_corpus_dump_is_structurally_valid():
    proc = run("scan", "--sarif", "--no-hash", "--min-confidence", "low", str(CORPUS / "rz_triage_x64.dmp"))
    assert proc.returncode in (0, 1), proc.stderr
    check_sarif(json.loads(proc.stdout))


@pytest.mark.slow
@needs_pem
def test_sarif_for_a_key_is_an_error_without_key_bytes(pem_image):
    path, pem, _ = pem_image
    proc = run("scan", "--sarif", "--no-hash", str(path))
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    check_sarif(doc)
    levels = {r["ruleId"]: r["level"] for r in doc["runs"][0]["results"]}
    assert levels.get("rsa-private-key") == "error"
    assert not any(frag in proc.stdout for frag in key_fragments(pem))


# -- the report functions on the engine with a test detector (independent of the real detectors) ---
def test_report_masks_and_reveals_with_the_test_detector(tmp_path):
    path = write_with_markers(tmp_path / "m.raw", 8192, [100, 5000])
    with open_dump(path) as dump:
        result = scan_dump(dump, [MarkerDetector()], chunk_size=4096)
        public = Finding("certificate", "der-x509", 4000, 20, result.findings[0].confidence, secret=False)
        masked = result_json(dump, result, with_hash=False)
        revealed = result_json(dump, result, with_hash=False, reveal=True)
        ctx = short_excerpt(dump, public)
        sarif = sarif_document([(dump, result)], result.findings[0].confidence, with_hash=False)
    assert [f["excerpt"] for f in masked["findings"]] == ["**" * 10] * 2
    assert "EVTEST" not in json.dumps(masked) and "4556544553" not in json.dumps(masked)
    assert [bytes.fromhex(f["excerpt"]) for f in revealed["findings"]] == [b"EVTEST1234"] * 2
    assert ctx == {"excerpt": "2e2e2e2e...2e2e2e2e", "excerpt_masked": True, "excerpt_truncated": False}
    check_sarif(sarif)
    assert [r["level"] for r in sarif["runs"][0]["results"]] == ["warning", "warning"]
    assert "EVTEST" not in json.dumps(sarif)
