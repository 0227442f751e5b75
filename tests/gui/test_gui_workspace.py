"""The examiner's workspace as a whole: tabs, docks kept in sync, go to, find, bookmarks, scans from the
window, remembered layout — driven through the real widgets, on real dumps.

Screenshots of the main states are saved into a folder this run names (``EV_SCREENSHOTS``, or a temporary
folder printed in the test output) so that a person can look at them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from tests.conftest import CORPUS, REPO
from viewer.evidence import open_dump

SAMPLE = REPO / "resources" / "sample" / "demo-keyholder.core"
MINIDUMP = CORPUS / "bp_minidump2.dmp"


@pytest.fixture(scope="module")
def keyfile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, int]:
    """A 2 MiB image with one real RSA key in PEM at a known offset."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    data = bytearray(os.urandom(2 * 1024 * 1024))
    where = 0x12345
    data[where : where + len(pem)] = pem
    path = tmp_path_factory.mktemp("keys") / "holder.img"
    path.write_bytes(bytes(data))
    return path, where, len(pem)


def wait_scan(qtbot, window, timeout=60_000) -> None:
    qtbot.waitUntil(lambda: window.scans.idle(), timeout=timeout)


def test_empty_window_then_a_dump_in_a_tab(window, qtbot, shots):
    assert window.windowTitle() == "Evidence Viewer"
    window.grab().save(str(shots / "01-empty.png"))
    assert window.load(MINIDUMP) is None
    assert window.windowTitle() == "Evidence Viewer — bp_minidump2.dmp"
    assert window.tabs.count() == 1
    qtbot.waitUntil(lambda: window.sha256 is not None, timeout=10_000)
    window.grab().save(str(shots / "02-dump-open.png"))
    with open_dump(MINIDUMP) as independent:
        assert window.regions_model.rowCount() == len(independent.regions)
        assert window.sha256 == independent.sha256()


def test_tabs_keep_their_own_state(window, qtbot):
    window.load(MINIDUMP)
    window.load(SAMPLE)
    assert window.tabs.count() == 2
    with open_dump(MINIDUMP) as a, open_dump(SAMPLE) as b:
        assert window.regions_model.rowCount() == len(b.regions)
        window.tabs.setCurrentIndex(0)
        assert window.regions_model.rowCount() == len(a.regions)
        assert window.dump.path == MINIDUMP
    window.close_tab(0)
    assert window.tabs.count() == 1 and window.dump.path == SAMPLE


def test_structure_and_hex_stay_in_sync(window, qtbot):
    window.load(MINIDUMP)
    model = window.structure_model
    root = model.index(0, 0)
    header = model.index(0, 0, root)
    window.tree.setCurrentIndex(header)
    node = model.node(header)
    assert window.hex.selection() == (node.offset, node.length)
    # Moving the cursor selects the deepest node containing it: NumberOfStreams at 8..12.
    window.go_to_offset(9)
    current = model.node(window.tree.currentIndex())
    assert current.offset <= 9 < current.offset + current.length
    assert current.name == "NumberOfStreams"
    assert "offset 0x9" in window.cursor_label.text()


def test_go_to_address_and_offset(window, qtbot):
    window.load(MINIDUMP)
    region = next(r for r in window.dump.regions if r.vaddr is not None and r.size > 16)
    assert window.go_to(f"va:{region.vaddr + 5:#x}") is None
    assert window.hex.cursor() == region.file_offset + 5
    assert f"va {region.vaddr + 5:#x}" in window.cursor_label.text()
    assert window.go_to("0x10") is None and window.hex.cursor() == 0x10
    assert "not in the dump" in window.go_to("va:0x1")
    assert "past the end" in window.go_to(f"{window.dump.size + 10:#x}")


def test_region_row_selects_its_bytes(window, qtbot):
    window.load(MINIDUMP)
    window.regions_view.setCurrentIndex(window.regions_view.model().index(3, 0))
    region = window.regions_model.region(window.regions_view.model().mapToSource(window.regions_view.currentIndex()).row())
    assert window.hex.selection() == (region.file_offset, region.size)
    window.regions_filter.setText("stack")
    assert 0 < window.regions_view.model().rowCount() < window.regions_model.rowCount()


def test_scan_from_the_window_and_select_a_finding(window, qtbot, keyfile, shots):
    path, where, length = keyfile
    window.load(path)
    assert window.scans.start_scan()
    wait_scan(qtbot, window)
    assert "scan done" in window.scans.label.text()
    hits = [f for f in window.session.current.findings if f.offset == where and f.length == length]
    assert hits and hits[0].kind == "rsa-private-key"
    row = next(i for i, f in enumerate(window.findings_panel.visible_findings()) if f.offset == where)
    window.findings_panel.select_row(row)
    assert window.hex.selection() == (where, length)
    assert "rsa-private-key" in window.details.text()
    window.grab().save(str(shots / "03-finding-selected.png"))


@pytest.mark.slow
def test_scan_cancelled_midway(window, qtbot, tmp_path, shots):
    big = tmp_path / "big.img"
    with open(big, "wb") as fh:
        for _ in range(24):
            fh.write(os.urandom(8 * 1024 * 1024))
    window.load(big)
    seen: list[int] = []

    def on_progress(done, total, rate, eta):
        seen.append(done)
        if len(seen) == 1:
            window.grab().save(str(shots / "04-scan-running.png"))
            window.scans.cancel_scan()

    assert window.scans.start_scan()
    worker = window.scans.worker
    # The cancel itself is made on the scanning thread at its first report (a direct connection): a queued
    # one could reach the GUI thread after a fast machine had scanned the whole file.
    worker.signals.sig_progress.connect(lambda *_a: worker.cancel(), Qt.ConnectionType.DirectConnection)
    worker.signals.sig_progress.connect(on_progress)
    wait_scan(qtbot, window)
    assert window.scans.label.text() == "scan cancelled"
    assert window.session.current.scan_result is not None and window.session.current.scan_result.cancelled
    assert window.scans.action_scan.isEnabled()


def test_find_and_bookmark(window, qtbot):
    window.load(MINIDUMP)
    window.show_find()
    bar = window.find_bar
    bar.set_mode("ascii")
    bar.edit.setText("test_app")
    assert bar.find()
    qtbot.waitUntil(lambda: not bar.is_searching() and bool(bar.results()), timeout=10_000)
    data = MINIDUMP.read_bytes()
    first = data.find(b"test_app")
    assert bar.results()[0] == (first, len(b"test_app"))
    bar.results_list.setCurrentRow(0)
    bar.results_list.itemActivated.emit(bar.results_list.item(0))
    assert window.hex.selection() == (first, len(b"test_app"))
    assert any(h.kind == "search" and h.offset == first for h in window.hex.highlights())
    window.add_bookmark("name", first, 8)
    window.add_bookmark("second", 0, 4)
    marks = [h for h in window.hex.highlights() if h.kind == "bookmark"]
    assert {(h.offset, h.label) for h in marks} == {(first, "bookmark: name"), (0, "bookmark: second")}
    assert len({h.color.name() for h in marks}) == 2  # each bookmark its own colour
    window._fill_bookmarks_menu()
    entries = [a for a in window.bookmarks_menu.actions() if a.text().startswith("second")]
    entries[0].trigger()
    assert window.hex.selection() == (0, 4)
    assert {"bookmark", "search"} <= set(window.tab.legend_kinds())
    assert window.tab.legend.isVisible() and "bookmark" in window.tab.legend.text()


def test_entropy_click_moves_the_hex_view(window, qtbot):
    window.load(CORPUS / "rz_core-linux-mips32el-bin-ls")
    plot = window.entropy_plot
    qtbot.waitUntil(lambda: not plot.is_computing(), timeout=20_000)
    x = plot.x_for_offset(0x20000)
    offset = plot.click_at_x(x)
    assert offset is not None and abs(offset - 0x20000) < 0x2000
    assert window.hex.cursor() == offset


def test_drop_and_recent_files(window, qtbot):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(MINIDUMP))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.sig_dump_opened, timeout=10_000):
        window.dropEvent(event)
    assert window.dump.path == MINIDUMP
    assert window.recent_files()[0] == str(MINIDUMP.resolve())


def test_layout_is_remembered(qtbot, settings):
    from viewer.gui.main_window import MainWindow

    first = MainWindow(settings=settings)
    qtbot.addWidget(first)
    first.show()
    qtbot.waitExposed(first)
    first.inspector_dock.hide()
    first.close()
    second = MainWindow(settings=settings)
    qtbot.addWidget(second)
    second.show()
    qtbot.waitExposed(second)
    assert not second.inspector_dock.isVisible() and second.structure_dock.isVisible()
    second.close()


def test_dark_palette(window, qtbot, shots):
    window._apply_theme("dark")
    try:
        window.load(SAMPLE)
        qtbot.wait(200)
        assert window.hex.palette().base().color().lightness() < 80
        window.grab().save(str(shots / "05-dark.png"))
    finally:
        window._apply_theme("system")


def test_every_action_has_a_menu_entry_and_a_shortcut(window):
    def walk(menu):
        for action in menu.actions():
            if action.menu() is not None:
                yield from walk(action.menu())
            elif not action.isSeparator():
                yield action

    window.recent_menu.aboutToShow.emit()
    window.bookmarks_menu.aboutToShow.emit()
    actions = list({id(a): a for m in window.menuBar().actions() if m.menu() for a in walk(m.menu())}.values())
    assert len(actions) > 25
    dynamic = {window.recent_menu, window.bookmarks_menu}  # one entry per file or bookmark: no shortcuts
    missing = [a.text() for a in actions
               if a.shortcut().isEmpty() and not any(a in m.actions() for m in dynamic) or
               (a.shortcut().isEmpty() and a is window.action_bookmark)]
    assert not missing, missing
    shortcuts = [a.shortcut().toString() for a in actions if not a.shortcut().isEmpty()]
    assert len(shortcuts) == len(set(shortcuts)), "two actions share a shortcut"
    assert window.action_goto.shortcut().toString() == "Ctrl+G"
    assert window.action_bookmark.shortcut().toString() == "Ctrl+B"
    assert window.action_find_next.shortcut().toString() == "F3"


