"""Progress after the byte scan: every post-scan detector announces its step, the long ones say how far
they are (TaskState.step_progress); the window shows it in its progress bar and label, the command line
on a terminal's progress line.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.builders.terminal import stderr_on_a_terminal
from tests.conftest import REPO
from viewer.evidence import open_dump
from viewer.scan.detectors import default_detectors
from viewer.scan.engine import scan_dump
from viewer.tasks import TaskState

SAMPLE = REPO / "resources" / "sample" / "demo-keyholder.core"


def test_every_post_scan_detector_announces_its_step_and_bignum_counts() -> None:
    steps: list[tuple[str, int, int]] = []
    state = TaskState(on_step=lambda name, done, total: steps.append((name, done, total)))
    detectors = default_detectors()
    with open_dump(SAMPLE) as dump:
        result = scan_dump(dump, detectors, state, executor="inline")
        size = dump.size
    post = [d.name for d in detectors if hasattr(d, "post_scan")]
    announced = [name for name, done, total in steps if (done, total) == (0, 0)]
    assert announced == post  # each once, in the order they run
    # the long part after the byte scan is the one search shared by the steps: it says how far it is
    located = [(d, t) for name, d, t in steps if name == "locating" and t]
    assert located and all(0 <= d <= t for d, t in located) and {t for _d, t in located} == {size}
    assert located[-1] == (size, size)
    assert any(f.encoding == "raw-bignum" for f in result.findings)  # the bignum step did real work


@pytest.mark.slow
def test_window_shows_the_step_after_the_byte_scan(qtbot, tmp_path: Path) -> None:
    from PySide6.QtCore import QSettings

    from viewer.gui.main_window import MainWindow

    win = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    assert win.load(SAMPLE) is None
    labels: list[str] = []
    busy: list[bool] = []
    show_step = win.scans._on_step  # the scan feature's own slot, observed after each call
    shot = Path(os.environ.get("EV_SCREENSHOTS") or tmp_path) / "scan-step.png"
    shot.unlink(missing_ok=True)

    def observed(step: str, done: int, total: int) -> None:
        if labels and labels[-1].startswith("after the byte scan: ") and not shot.exists():
            win.grab().save(str(shot))  # the previous step's text, laid out by the event loop since
        show_step(step, done, total)
        labels.append(win.scans.label.text())
        busy.append(win.scans.progress.maximum() == 0)

    win.scans._on_step = observed  # start_scan connects the worker's sig_step to this attribute
    assert win.scans.start_scan()
    qtbot.waitUntil(win.scans.idle, timeout=60_000)
    assert any(t.startswith("after the byte scan: ") for t in labels), labels
    assert any(busy) and win.scans.progress.maximum() == 1000  # busy while a step runs, reset afterwards
    assert not win.scans.progress.isVisible() and "finding" in win.scans.label.text()
    assert shot.is_file()
    win.close()


@pytest.mark.slow
def test_command_line_progress_names_the_step_on_a_terminal() -> None:
    returncode, out, seen = stderr_on_a_terminal([sys.executable, "-m", "viewer.cli.main", "scan", str(SAMPLE)],
                                                 REPO)
    assert returncode == 1  # the demo core holds a key
    text = seen.decode("utf-8", "replace")
    assert "scanning demo-keyholder.core:" in text and "bignum" in text, text[-500:]
    assert text.split("\r")[-1].strip() == ""  # the progress line is erased before the report
    assert b"secret" in out.lower() and b"scanning" not in out  # the report on stdout, progress on stderr
