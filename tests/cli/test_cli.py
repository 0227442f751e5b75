"""The `evidence-viewer` command as a program sees it: exit codes, JSON, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import CORPUS

EXE = [sys.executable, "-m", "viewer.cli.main"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EXE, *args], capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.slow
def test_info_json_has_the_common_contract():
    path = CORPUS / "bp_minidump2.dmp"
    proc = run("info", "--json", str(path))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["format"] == "minidump"
    assert doc["size"] == path.stat().st_size
    assert doc["sha256"] == "24b0ea7794b2d2523c46c9aea72c03ccbb0ab88ad76d8258d3752c7b71d233ff"
    for key in ("meta", "warnings", "regions", "streams", "threads", "modules", "memory", "system_info"):
        assert key in doc, key
    assert all({"file_offset", "size", "vaddr", "kind", "name"} <= set(r) for r in doc["regions"])


@pytest.mark.slow
def test_info_text_names_format_and_hash():
    proc = run("info", str(CORPUS / "rz_core-linux-x86_64"))
    assert proc.returncode == 0, proc.stderr
    assert "elf-core" in proc.stdout
    assert "c32f86bafe4d515e76c5d370a32ed75f0a6711338ab45e22adb447dd6b543d5f" in proc.stdout


@pytest.mark.slow
def test_no_hash_skips_the_digest():
    proc = run("info", "--json", "--no-hash", str(CORPUS / "bp_minidump2.dmp"))
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["sha256"] is None


@pytest.mark.parametrize("target", ["/nonexistent/dump.dmp", "/"])
def test_unreadable_input_exits_2_with_one_line(target):
    proc = run("info", target)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evidence-viewer:"), proc.stderr
    assert "Traceback" not in proc.stderr


def test_debug_adds_the_traceback():
    proc = run("--debug", "info", "/nonexistent/dump.dmp")
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr


@pytest.mark.slow
def test_bad_usage_exits_2():
    proc = run("info")
    assert proc.returncode == 2
    proc = run("info", "--no-such-flag", str(CORPUS / "bp_minidump2.dmp"))
    assert proc.returncode == 2


@pytest.mark.slow
def test_path_without_display_falls_back_to_info():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = run(str(CORPUS / "bp_minidump2.dmp"), env=env)
    assert proc.returncode == 0
    assert proc.stderr.count("\n") == 1 and "no display" in proc.stderr
    assert "format    minidump" in proc.stdout
