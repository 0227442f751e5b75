"""`evidence-viewer entropy` as a program sees it: the text summary, the JSON document, exit codes
(moved from tests/scan/test_entropy.py, which tests the computation itself)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PY = (
    str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv" / "bin" / "python").exists() else sys.executable
)
TEXT = (
    b"It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
    b"foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light. "
)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    path.chmod(0o444)
    return path


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PY, "-m", "viewer.cli.main", "entropy", *args], capture_output=True, text=True, cwd=REPO, timeout=120
    )


@pytest.fixture(scope="module")
def island_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = bytearray((TEXT * 2000)[: 64 * 4096])
    data[16 * 4096 : 20 * 4096] = os.urandom(4 * 4096)
    path = tmp_path_factory.mktemp("cli") / "island.raw"
    path.write_bytes(bytes(data))
    return path


@pytest.mark.slow
def test_cli_text(island_file: Path):
    r = cli(str(island_file))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "blocks    64" in out and "block     4096 bytes" in out
    assert "high-entropy runs (>= 7.2 bits/byte): 1" in out
    assert f"{16 * 4096:#014x}" in out and str(4 * 4096) in out
    assert "7.9-8.0" in out


@pytest.mark.slow
def test_cli_json(island_file: Path):
    r = cli(str(island_file), "--json", "--block", "8192")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["evidence"]["path"] == str(island_file) and doc["evidence"]["size"] == 64 * 4096
    assert len(doc["evidence"]["sha256"]) == 64 and doc["evidence"]["format"]
    assert doc["block"] == 8192 and doc["blocks"] == 32 and len(doc["entropy"]) == 32
    assert all(round(v, 3) == v for v in doc["entropy"])
    assert [(x["offset"], x["length"]) for x in doc["high_entropy_runs"]] == [(16 * 4096, 4 * 4096)]
    lvl = json.loads(cli(str(island_file), "--json", "--level", "2", "--no-hash").stdout)
    assert lvl["evidence"]["sha256"] is None and lvl["span"] == 4 * 4096
    assert len(lvl["entropy"]) == 16 and len(lvl["entropy_max"]) == 16
    assert lvl["entropy_max"][4] > 7.9  # blocks 16..19


@pytest.mark.slow
def test_cli_exit_codes(island_file: Path, tmp_path: Path):
    for bad in ("0", "-1", "1000", str(32 * 1024 * 1024)):
        r = cli(str(island_file), "--block", bad)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    r = cli(str(tmp_path / "missing.dmp"))
    assert r.returncode == 2 and "missing.dmp" in r.stderr and r.stderr.count("\n") == 1
    r = cli(str(tmp_path))
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    r = cli(str(island_file), "--level", "-1")
    assert r.returncode == 2
    empty = write(tmp_path, "empty.raw", b"")
    r = cli(str(empty), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["blocks"] == 0
