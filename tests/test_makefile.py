"""`make run` installs the application, not the test packages (issue 17); `make venv`/`make test` add them."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import REPO


def dry_run(target: str) -> str:
    return subprocess.run(["make", "-n", "-B", target], cwd=REPO, capture_output=True, text=True, check=True,
                          timeout=60).stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_run_installs_no_test_packages_and_make_venv_does():
    run = dry_run("run")
    assert "pip install -q -e ." in run and "[test]" not in run
    assert "evidence-viewer" in run
    assert "pip install -q -e '.[test]'" in dry_run("venv")
