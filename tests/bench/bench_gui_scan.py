#!/usr/bin/env python3
"""Benchmark of the window's scan (issue 13): as fast as the command line, the window responsive.

Not a test: a script that prints numbers. For each dump given (default: the real-dump set of
``bench_scan.py --real`` in ``--workdir``, made when missing), in one run:

* the command line: ``evidence-viewer scan --json DUMP`` in a child process (start-up included), wall;
* the window: a real MainWindow (offscreen unless DISPLAY is set) loads the dump, Scan ▸ Scan for secrets
  (``ScanController.start_scan``) runs until the scan is done, wall from the start to the result; while it
  runs a 10 ms QTimer measures the event loop: the largest gap between its ticks and the 99th percentile
  (the target: under 100 ms, the window never freezes);
* the same findings (kind, encoding, offset, length) from both.

By default the window's scan starts once the jobs that opening a dump starts (its hash, its entropy) are
done; ``--at-once`` starts it right after opening (the scan then takes the hash over, the entropy job
still competes for the cores).

Usage: .venv/bin/python tests/bench/bench_gui_scan.py [--workdir DIR] [--repeat 1] [--at-once] [DUMP...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen" if not os.environ.get("DISPLAY") else "xcb")

SAMPLES = Path(os.environ.get("EVIDENCE_SHARED", REPO.parent / "shared")) / "corpus" / "samples"


def cli_scan(path: Path) -> tuple[float, set[tuple]]:
    """Wall of the command line's scan of ``path`` (a child process), and its findings."""
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "viewer.cli.main", "scan", "--json", "--min-confidence", "low",
                          str(path)], cwd=REPO, capture_output=True, check=False)
    wall = time.perf_counter() - started
    doc = json.loads(out.stdout)
    found = {(f["kind"], f["encoding"], f["offset"], f["length"]) for r in doc["results"] for f in r["findings"]}
    return wall, found


def window_scan(app, window, path: Path, settle: bool) -> tuple[float, float, float, set[tuple]]:
    """(wall, largest event-loop gap ms, 99th percentile gap ms, findings) of the window's scan; with
    ``settle``, started once the jobs that opening starts (hash, entropy) are done, else at once."""
    from PySide6.QtCore import QEventLoop, QThreadPool, QTimer

    error = window.load(path)
    assert error is None, error
    while window.session.current is None:
        app.processEvents()
    while settle and (window.pool.activeThreadCount() or QThreadPool.globalInstance().activeThreadCount()):
        app.processEvents()
        time.sleep(0.005)
    results: list = []
    window.scans.sig_scan_finished.connect(results.append)
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    loop = QEventLoop()  # the window's own event loop, as in the application (not a polling loop)
    window.scans.sig_scan_finished.connect(lambda _result: loop.quit())
    QTimer.singleShot(600_000, loop.quit)
    started = time.perf_counter()
    assert window.scans.start_scan()
    loop.exec()
    wall = time.perf_counter() - started
    timer.stop()
    gaps = [1000 * (b - a) for a, b in zip(ticks, ticks[1:], strict=False)] or [0.0]
    gaps.sort()
    p99 = gaps[min(len(gaps) - 1, int(0.99 * len(gaps)))]
    found = {(f.kind, f.encoding, f.offset, f.length) for f in results[0].findings} if results else set()
    return wall, max(gaps), p99, found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dumps", nargs="*", type=Path)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--heap-mb", type=int, default=96)
    parser.add_argument("--at-once", action="store_true",
                        help="scan as soon as the dump is open (its hash and entropy jobs still running)")
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="ev-bench-gui-scan-"))
    dumps = list(args.dumps)
    if not dumps:
        from real_dumps import make_real_dumps, sample_dumps

        dumps = make_real_dumps(work / "real", args.heap_mb) + sample_dumps(SAMPLES, work / "real")

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from viewer.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    settings = QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat)
    when = "as soon as the dump is open" if args.at_once else "once the jobs opening started (hash, entropy) are done"
    print(f"window scan against the command line (platform {app.platformName()}, {os.cpu_count()} cores, "
          f"medians of {args.repeat}; the window's scan started {when})")
    print("| dump | MB | command line (s) | window (s) | window / command line | event loop max / p99 (ms) | "
          "same findings |")
    print("|---|---:|---:|---:|---:|---:|---|")
    missed = 0
    for path in dumps:
        cli_walls, gui_walls, worst, p99s = [], [], [], []
        same = True
        for _ in range(args.repeat):
            cli_wall, cli_found = cli_scan(path)
            window = MainWindow(settings=settings)
            window.resize(1400, 900)
            window.show()
            app.processEvents()
            gui_wall, gap, p99, gui_found = window_scan(app, window, path, not args.at_once)
            window.close()
            app.processEvents()
            cli_walls.append(cli_wall)
            gui_walls.append(gui_wall)
            worst.append(gap)
            p99s.append(p99)
            same = same and cli_found == gui_found
        c, g = statistics.median(cli_walls), statistics.median(gui_walls)
        missed += max(worst) >= 100 or not same
        print(f"| {path.name} | {path.stat().st_size / 1e6:.0f} | {c:.2f} | {g:.2f} | {g / c:.2f} | "
              f"{max(worst):.0f} / {statistics.median(p99s):.0f} | {'yes' if same else 'NO'} |")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
