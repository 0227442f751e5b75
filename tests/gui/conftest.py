"""What the window tests share: where their screenshots go.

Every GUI test that saves a screenshot puts it in ``$EV_SCREENSHOTS`` (a folder you choose, to look at
them afterwards), else in one temporary folder of the run, printed once.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("EV_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {folder}")
    return folder
