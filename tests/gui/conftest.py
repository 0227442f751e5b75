"""What the window tests share: a window on private settings, and where their screenshots go.

Every GUI test that saves a screenshot puts it in ``$EV_SCREENSHOTS`` (a folder you choose, to look at
them afterwards), else in one temporary folder of the run, printed once.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from tests.builders.window import ini_settings, make_window


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("EV_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {folder}")
    return folder


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    """Settings of this test only (an INI file in its tmp_path); a module overrides it to name an examiner."""
    return ini_settings(tmp_path)


@pytest.fixture
def window(qtbot, settings):
    """A shown main window on ``settings``, closed after the test."""
    win = make_window(qtbot, settings)
    yield win
    win.close()
