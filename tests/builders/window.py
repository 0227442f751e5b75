"""The window the GUI tests drive: real settings in an INI file of the test's own, the test KDF, shown.

One builder for the tests that open a whole MainWindow (case, hand-over, workspace, second pass), so that
what "a test window" is — its size, its fast key derivation, that it is exposed before the test starts —
has one home.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

from viewer.case import TEST_KDF


def ini_settings(folder: Path, examiner: str | None = None) -> QSettings:
    """QSettings in ``folder/settings.ini`` (never the examiner's own), with an examiner name if given."""
    settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
    if examiner is not None:
        settings.setValue("examiner/name", examiner)
    return settings


def make_window(qtbot: Any, settings: QSettings, size: tuple[int, int] = (1400, 900)) -> Any:
    """A shown MainWindow on ``settings`` whose new cases use the test KDF (Argon2id at test cost)."""
    from viewer.gui.main_window import MainWindow

    win = MainWindow(settings=settings)
    win.cases.case_kdf = TEST_KDF
    qtbot.addWidget(win)
    win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    return win


DEMO_SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "sample" / "demo-keyholder.core"


def scanned(qtbot: Any, window: Any, path: Path = DEMO_SAMPLE) -> None:
    """``path`` opened in ``window`` and scanned to the end, its SHA-256 known (the demo sample by default)."""
    assert window.load(path) is None
    assert window.scans.start_scan()
    qtbot.waitUntil(window.scans.idle, timeout=120_000)
    qtbot.waitUntil(lambda: window.sha256 is not None, timeout=20_000)
