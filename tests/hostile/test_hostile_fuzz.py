"""Hypothesis over bundles, cases and dumps, each property in one limited child (:mod:`tests.hostile.fuzz`).

The suite runs a few derandomized examples per property; ``make fuzz`` runs many with random seeds
(``FUZZ_EXAMPLES``). The child's CPU and wall limits grow with the example count.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.builders import hostile_bundle, hostile_case
from tests.builders.limited import run_limited
from tests.hostile import entry
from tests.hostile.fuzz import EXAMPLES

CPU = 60 + 4 * EXAMPLES
WALL = 2.0 * CPU


def _run(path: Path, task: str) -> dict:
    got = entry.check_finished(run_limited(path, f"tests.hostile.fuzz:{task}", cpu_seconds=CPU, wall_seconds=WALL),
                               f"fuzz {task}")
    assert got["examples"] >= min(EXAMPLES, 5), got
    return got


def test_fuzz_bundles(tmp_path: Path) -> None:
    _run(hostile_bundle.base_bundle(tmp_path / "base"), "bundles")


def test_fuzz_cases(tmp_path: Path) -> None:
    _run(hostile_case.small(tmp_path / "case"), "cases")


@pytest.mark.slow  # a scan per example
def test_fuzz_dumps(tmp_path: Path) -> None:
    _run(tmp_path, "dumps")
