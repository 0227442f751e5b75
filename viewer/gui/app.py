"""Start the GUI: the QApplication, the main window, the first file.

``viewer.cli`` imports this only after it has checked that a display exists, so that headless use
(`info`, scripts, CI) never loads Qt.
"""

from __future__ import annotations

import sys

BROKEN_PYSIDE_MESSAGE = (
    "evidence-viewer: this PySide6 ({version}) on Python {python} releases None on every call that "
    "returns nothing and would crash the GUI within seconds; install PySide6-Essentials<6.12 "
    "(pip install 'PySide6-Essentials>=6.6,<6.12')"
)


def pyside_breaks_refcounts() -> bool:
    """True when the installed PySide6 drops a reference to ``None`` on each void call.

    Why this exists: PySide6-Essentials 6.12.0 (abi3 wheel) on CPython 3.11 returns ``None`` from void
    methods without taking a reference (harmless from 3.12 on, where None is immortal). ``None`` starts
    with about 5,000 references, so after a few thousand ``setText``/``processEvents`` calls the
    interpreter aborts with "none_dealloc". Detecting it up front turns a random crash into one clear
    line. Measured: 6.12.0 loses 1 reference per call; 6.11.3 loses none.
    """
    if sys.version_info >= (3, 12):
        return False  # None is immortal; its reference count cannot run out
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(64):
        probe.setObjectName("refcount-probe")
    return sys.getrefcount(None) < before - 32


def broken_pyside_message() -> str:
    import PySide6

    python = ".".join(str(p) for p in sys.version_info[:3])
    return BROKEN_PYSIDE_MESSAGE.format(version=PySide6.__version__, python=python)


def run_gui(path: str | None) -> int:
    """Show the main window (opening ``path`` when given) and run the event loop; the exit code.

    A path that cannot be opened is not fatal: the window shows why in a message box and stays open,
    so the examiner can pick another file. A PySide6 build known to crash gives one line and exit 2.
    """
    if pyside_breaks_refcounts():
        print(broken_pyside_message(), file=sys.stderr)
        return 2
    from PySide6.QtWidgets import QApplication

    from viewer.gui.main_window import MainWindow

    # Only argv[0]: the dump path is ours, and Qt must not read options out of the examiner's file names.
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Evidence Viewer")
    app.setOrganizationName("evidence-viewer")
    window = MainWindow()
    window.show()
    if path:
        window.open_path_async(path)  # parsed in a worker: the window shows at once
    return int(app.exec())
