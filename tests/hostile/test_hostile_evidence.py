"""Scanning and redacting hostile evidence (:func:`viewer.scan.engine.scan_dump` with the default
detectors, ``evidence-viewer scan``, :func:`viewer.handover.redact.redact_file`, ``evidence-viewer redact``)
on the hostile dumps of :mod:`tests.builders.hostile` (opening them is tested by tests/evidence), on a
minidump whose strings attack the terminal, and on files that shrink while they are read — each in a
limited child: it ends within its limits, no signal (SIGBUS from a shrunk mapping), and says what was
wrong (the parsers' warnings, the change on disk)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.builders import hostile
from tests.builders.limited import run_limited
from tests.cli.hostile_text import FRIENDLY, HOSTILE, assert_no_raw_controls, hostile_minidump, rsa_pem
from tests.conftest import DEMO_CORE
from tests.hostile import entry
from tests.hostile.marks import known

#: A 16 MiB hostile dump scans in 1-5 s and redacts (three scans) in 3-10 s here when the parsers keep
#: their bounds; these limits stop a regression well before the machine.
SCAN_CPU, REDACT_CPU, WALL = 30, 45, 90.0
#: The ones that take more than two seconds to scan: `make test-fast` leaves them out.
HEAVY_SCAN = {"elf-pn-xnum-one-spot", "elf-garbage-notes", "elf-many-notes", "kernel-checkerboard-bitmap",
              "kernel-lying-triage", "lime-many-ranges"}
LIGHT_REDACT = {"kernel-full-many-runs", "minidump-nested-crashpad", "lime-huge-range"}
#: Known still broken at the time of writing, with the owner who is fixing it.
BROKEN: dict[str, str] = {}


def _params(light: set[str] | None = None, heavy: set[str] | None = None) -> list:
    slow = (lambda n: n not in light) if light is not None else (lambda n: n in (heavy or set()))
    return [pytest.param(n, marks=pytest.mark.slow) if slow(n) else n for n in hostile.GENERATORS]


@pytest.fixture(scope="module")
def terminal_dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A minidump whose module path, thread name and comments attack the terminal, with a real RSA key
    in the module's memory (so the scan has a finding to place in the hostile module's region)."""
    path = tmp_path_factory.mktemp("terminal") / "terminal.dmp"
    path.write_bytes(hostile_minidump(f"C:\\{HOSTILE}\\{FRIENDLY}.dll", HOSTILE, HOSTILE, rsa_pem()))
    return path


# -- scan -----------------------------------------------------------------------------------------------
@pytest.mark.slow  # a limited child process per hostile dump: the full tier
@pytest.mark.parametrize("name", _params(heavy=HEAVY_SCAN))
def test_scan_of_a_hostile_dump_ends_and_warns(name: str, tmp_path: Path, request) -> None:
    known(request, BROKEN.get(f"scan {name}"))
    path = hostile.write(name, tmp_path / f"{name}.bin")
    got = entry.check_finished(run_limited(path, "tests.hostile.entry:scan", cpu_seconds=SCAN_CPU,
                                           wall_seconds=WALL), f"scan {name}")
    assert got["outcome"] == "scanned" and not got["cancelled"], got
    assert got["n_warnings"] >= 1, f"{name}: a hostile dump scanned without a word about it: {got}"


@pytest.mark.slow  # the command line in a child process (or a killed one): the full tier
@pytest.mark.parametrize("name", ["lime-huge-range", "minidump-lying-strings", "kernel-full-many-runs"])
def test_scan_command_on_a_hostile_dump(name: str, tmp_path: Path) -> None:
    path = hostile.write(name, tmp_path / f"{name}.bin")
    out = entry.run_cli("scan", path, cpu_seconds=SCAN_CPU, wall_seconds=WALL)
    stdout, _ = entry.check_cli(out, f"scan {name}")
    assert out.returncode == 0, out.stderr[-2000:]
    assert re.search(r"warning", stdout, re.I), stdout[-2000:]


@pytest.mark.slow  # the command line in a child process (or a killed one): the full tier
def test_scan_command_escapes_the_dumps_strings(terminal_dump: Path) -> None:
    """Exit 1 (the key is found); the hostile module name reaches neither stream raw, text or JSON."""
    for fmt in ((), ("--json",)):
        out = entry.run_cli("scan", terminal_dump, *fmt, cpu_seconds=SCAN_CPU, wall_seconds=WALL)
        entry.check_cli(out, f"scan {fmt}")
        assert out.returncode == 1, out.stderr[-2000:]
        assert_no_raw_controls(out.stdout, escaped=False)
        assert_no_raw_controls(out.stderr, escaped=False)


def _shrinking_copy(tmp_path: Path) -> Path:
    path = tmp_path / "shrinking.core"
    shutil.copy(DEMO_CORE, path)
    path.chmod(0o644)
    return path


def _says_it_changed(got: dict) -> bool:
    said = [got.get("message", ""), *got.get("warnings", [])]
    return any(entry.CHANGED.search(s) for s in said if s)


def test_evidence_shrinking_during_a_scan_is_a_warning_not_sigbus(tmp_path: Path, request) -> None:
    """The dump is truncated to 4 KiB after the scan's first chunk (in the child, deterministically): the
    child must finish (no SIGBUS from the shrunk mapping) and say that the evidence changed."""
    known(request, BROKEN.get("scan shrinking"))
    path = _shrinking_copy(tmp_path)
    got = entry.check_finished(run_limited(path, "tests.hostile.entry:scan_truncated", cpu_seconds=SCAN_CPU,
                                           wall_seconds=WALL), "scan of a shrinking dump")
    assert got["truncated"], got
    assert _says_it_changed(got), got


def test_evidence_shrinking_under_forked_mapped_workers_is_a_warning(tmp_path: Path) -> None:
    """The command line's workers scan views of a map of the file: when it shrinks under them (SIGBUS in
    a worker, or in the hashing child), the scan still ends, says it is incomplete and that the evidence
    changed, and adopts no hash."""
    path = _shrinking_copy(tmp_path)
    got = entry.check_finished(run_limited(path, "tests.hostile.entry:scan_truncated_forked",
                                           cpu_seconds=SCAN_CPU, wall_seconds=WALL), "forked scan of a shrinking dump")
    assert got["truncated"] and got["executor"] == "process", got
    assert _says_it_changed(got), got
    assert got["sha256"] is None, got


# -- redaction ------------------------------------------------------------------------------------------
@pytest.mark.slow  # a limited child process per hostile dump: the full tier
@pytest.mark.parametrize("name", _params(light=LIGHT_REDACT))
def test_redaction_of_a_hostile_dump_ends(name: str, tmp_path: Path, request) -> None:
    known(request, BROKEN.get(f"redact {name}"))
    path = hostile.write(name, tmp_path / f"{name}.bin")
    got = entry.check_finished(run_limited(path, "tests.hostile.entry:redact", cpu_seconds=REDACT_CPU,
                                           wall_seconds=WALL), f"redact {name}")
    assert got["outcome"] in ("clean", "not-clean", "EvidenceError", "RedactError"), got
    if got["outcome"] in ("clean", "not-clean"):
        assert entry.redact_target(path).stat().st_size == path.stat().st_size


def test_redaction_of_the_terminal_dump_is_clean(terminal_dump: Path, tmp_path: Path) -> None:
    path = Path(shutil.copy(terminal_dump, tmp_path / terminal_dump.name))
    got = entry.check_finished(run_limited(path, "tests.hostile.entry:redact", cpu_seconds=REDACT_CPU,
                                           wall_seconds=WALL), "redact terminal dump")
    assert got["outcome"] == "clean" and got["ranges"] >= 1, got


@pytest.mark.slow  # the command line in a child process (or a killed one): the full tier
def test_redact_command_escapes_the_dumps_strings(terminal_dump: Path, tmp_path: Path) -> None:
    out_path = tmp_path / "clean.dmp"
    out = entry.run_cli("redact", terminal_dump, "--out", out_path, cpu_seconds=REDACT_CPU, wall_seconds=WALL)
    entry.check_cli(out, "redact")
    assert out.returncode == 0 and out_path.exists(), out.stderr[-2000:]
    assert_no_raw_controls(out.stdout, escaped=False)
    assert_no_raw_controls(out.stderr, escaped=False)


def test_evidence_shrinking_during_a_redaction_is_refused_or_reported(tmp_path: Path, request) -> None:
    """The input is truncated once the first scan has begun: no SIGBUS, and either a refusal naming the
    change (nothing written) or a result whose warnings name it — never a silent "clean"."""
    known(request, BROKEN.get("redact shrinking"))
    path = _shrinking_copy(tmp_path)
    got = entry.check_finished(run_limited(path, "tests.hostile.entry:redact_truncated", cpu_seconds=REDACT_CPU,
                                           wall_seconds=WALL), "redaction of a shrinking dump")
    assert got["truncated"], got
    assert _says_it_changed(got), got
    if got["outcome"] not in ("clean", "not-clean"):
        assert not entry.redact_target(path).exists()
