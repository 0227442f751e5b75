"""Property-based fuzzing of every parser through open_dump (hypothesis).

Seeds are real dumps of each format; hypothesis overwrites bytes, splices huge integers and truncates.
CI runs a short, deterministic pass; a long run is `make fuzz` (EV_FUZZ_EXAMPLES, random seeds).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import fuzzing
from tests.builders.lime import image as lime_image
from tests.builders.mutations import check_parse
from tests.conftest import CORPUS

pytestmark = pytest.mark.slow  # hypothesis over every parser

EXAMPLES = int(os.environ.get("EV_FUZZ_EXAMPLES", "150"))
LONG_RUN = "EV_FUZZ_EXAMPLES" in os.environ


def lime_seed() -> bytes:
    """A small LiME image: three ranges with gaps (no public LiME sample exists)."""
    ranges = [(0x1000, 0x2000), (0x100000, 0x1000), (0x7FFF0000, 0x800)]
    return lime_image(ranges, fill=lambda i, n: bytes([ranges[i][0] >> 12 & 0xFF]) * n)[0]


SEED_FILES = [
    "bp_minidump2.dmp",
    "rz_calc.dmp",
    "bp_tiny-exe-with-cet-xsave.dmp",
    "bp_linux_raise_sigabrt.dmp",
    "rm_simple-crashpad.dmp",
    "lldb_linux-s390x.core",
    "lldb_linux-i386.core",
    "pyelf_core_linux64.elf",
    "rz_core-linux-m68k",
    "lldb_netbsd-2lwp_process_SIGSEGV.amd64.core",
    "rz_triage_x64.dmp",
]
SEEDS: list[bytes] = [(CORPUS / name).read_bytes() for name in SEED_FILES] + [lime_seed()]

edits = fuzzing.edits(8191)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not LONG_RUN,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.sampled_from(range(len(SEEDS))), changes=edits, cut=st.one_of(st.none(), st.floats(0, 1)))
def test_mutated_dumps_never_crash(tmp_path: Path, seed: int, changes, cut) -> None:
    target = tmp_path / "fuzz.bin"
    target.write_bytes(fuzzing.apply_edits(SEEDS[seed], changes, cut))
    check_parse(target)
