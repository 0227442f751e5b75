"""Hostile containers and vmcores (tests.builders.hostile_containers), each opened fully — and the
vmcores read through — in a limited child: it ends, within time and memory, with warnings that say what
was wrong, and nothing is left half-written in the cache. Bombs stop at the decompression limit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.builders import hostile_containers as hc
from tests.builders.limited import run_limited

CPU_SECONDS = 4.0  # the 2 s target of issue 12 with the margin of tests/evidence/test_hostile.py
TARGET_BYTES = 300 * 1024 * 1024
#: no warning needed: a valid container whose content is simply odd
QUIET = {"bzip2-many-streams"}


def open_and_read(path: str) -> dict:
    """open_dumps, every tree node built, every region's first and last 64 KiB read."""
    from viewer.evidence import open_dumps

    dumps = open_dumps(path)
    out = {"dumps": len(dumps), "formats": [], "warnings": [], "chains": []}
    for d in dumps:
        with d:
            sum(1 for _ in d.structure.walk())
            for r in d.regions[:2000]:
                d.read(r.file_offset, 65536)
                d.read(max(r.file_offset, r.end - 65536), 65536)
            out["formats"].append(d.format)
            out["chains"].append(d.chain)
            out["warnings"] += list(d.warnings)
            out["warnings"] += [f"damaged page {i}: {why}" for i, why in getattr(d.source, "damaged", {}).items()][:5]
    return out


@pytest.mark.slow  # a child process per hostile container: the full tier
@pytest.mark.parametrize("name", sorted(hc.GENERATORS))
def test_hostile_container_opens_within_time_and_memory(name: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("EVIDENCE_VIEWER_MAX_DECOMPRESSED", hc.TEST_LIMIT)
    cache = tmp_path / "cache"
    monkeypatch.setenv("EVIDENCE_VIEWER_CACHE_DIR", str(cache))
    path = hc.write(name, tmp_path / name)
    outcome = run_limited(path, "tests.hostile.test_hostile_containers:open_and_read", wall_seconds=90)
    assert not outcome.timed_out, f"{name}: still running"
    assert outcome.ok, f"{name}: exit {outcome.returncode}\n{outcome.stderr}"
    got = outcome.result
    assert not any("parser failed" in w or "detection failed" in w for w in got["warnings"]), got["warnings"][:5]
    if name not in QUIET:
        assert got["warnings"], f"{name}: opened without a word: {got}"
    assert got["cpu_seconds"] < CPU_SECONDS, f"{name}: {got['cpu_seconds']:.2f} s CPU"
    assert got["peak_rss"] < TARGET_BYTES, f"{name}: {got['peak_rss'] >> 20} MB"
    if (cache / "content").exists():
        assert not [p for p in os.listdir(cache / "content") if p.startswith(".part-")]
        used = sum(p.stat().st_size for p in (cache / "content").iterdir())
        assert used <= 2 * 64 * 1024 * 1024, f"{name}: {used} bytes in the cache"


@pytest.mark.slow  # writes every generator (about 20 s): the full tier
def test_generators_stay_within_16_mib() -> None:
    for name, make in hc.GENERATORS.items():
        assert len(make()) <= hc.LIMIT, name


#: the entry points past opening: a scan and a redaction of the worst of them
SCANNED = ["gzip-bomb", "zip-bomb-members", "nested-zip", "apport-bad-base64", "kdump-every-page-lies",
           "kdump-flattened-lying-sizes", "macho-lying-counts", "macho-note-images"]


@pytest.mark.slow
@pytest.mark.parametrize("name", SCANNED)
def test_scan_and_redact_of_a_hostile_container_end(name: str, tmp_path: Path, monkeypatch) -> None:
    from tests.hostile import entry

    monkeypatch.setenv("EVIDENCE_VIEWER_MAX_DECOMPRESSED", hc.TEST_LIMIT)
    monkeypatch.setenv("EVIDENCE_VIEWER_CACHE_DIR", str(tmp_path / "cache"))
    path = hc.write(name, tmp_path / name)
    got = entry.check_finished(run_limited(path, "tests.hostile.entry:scan", cpu_seconds=60, wall_seconds=120),
                               f"scan {name}")
    assert got["outcome"] == "scanned" and not got["cancelled"], got
    assert got["n_warnings"] >= 1, got
    red = entry.check_finished(run_limited(path, "tests.hostile.entry:redact", cpu_seconds=90, wall_seconds=180),
                               f"redact {name}")
    if name.startswith("kdump-every"):
        assert red["outcome"] == "RedactError" and "kdump-compressed" in red["message"], red
    else:
        assert red["outcome"] in ("clean", "not-clean"), red
