"""The first GUI: structure tree and regions models, the main window, the hash worker, no-display CLI.

Run on real dumps (the bundled sample core and corpus files), whatever format they open as today: the
GUI must show what the Dump holds, so every expectation is taken from an independent ``open_dump``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import CORPUS, REPO
from viewer.evidence import Node, open_dump

SAMPLE = REPO / "resources" / "sample" / "demo-keyholder.core"
# One gdb core made here, a Breakpad minidump, and a 31-file Linux x86-64 core from rizin's tests.
DUMPS = [SAMPLE, CORPUS / "bp_minidump2.dmp", CORPUS / "rz_core-linux-x86_64"]
DUMP_IDS = [p.name for p in DUMPS]




def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def window(qtbot):
    from viewer.gui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)  # closed (workers stopped, dump closed) at teardown
    win.show()
    return win


# -- environment ---------------------------------------------------------------------------------
def test_fonts_are_installed(qapp) -> None:
    """Without a font every label renders as empty boxes and all other GUI tests still pass."""
    from PySide6.QtGui import QFontDatabase

    assert QFontDatabase.families(), "no fonts: install fonts-dejavu-core"


# -- structure model -----------------------------------------------------------------------------
@pytest.mark.parametrize("path", DUMPS, ids=DUMP_IDS)
def test_structure_model_passes_qt_model_tester(qtmodeltester, path: Path) -> None:
    from viewer.gui.structure_model import StructureModel

    with open_dump(path) as dump:
        model = StructureModel(dump.structure)
        qtmodeltester.check(model)
        assert model.rowCount() == 1
        assert model.node(model.index(0, 0)) is dump.structure


@pytest.mark.parametrize("path", DUMPS, ids=DUMP_IDS)
def test_every_fetched_row_shows_its_node(qapp, path: Path) -> None:
    """Walk what the tree would show (first batch of each level): names, hex offsets, lengths."""
    from viewer.gui.structure_model import LENGTH_ROLE, OFFSET_ROLE, StructureModel

    with open_dump(path) as dump:
        model = StructureModel(dump.structure)
        stack = [model.index(0, 0)]
        seen = 0
        while stack and seen < 5000:
            index = stack.pop()
            node = model.node(index)
            assert node is not None
            name = str(node.name)
            if len(name) < 160 and name.isprintable():
                assert index.data() == name
            assert index.siblingAtColumn(2).data() == f"{node.offset:#x}"
            assert index.siblingAtColumn(3).data() == str(node.length)
            assert index.data(OFFSET_ROLE) == node.offset and index.data(LENGTH_ROLE) == node.length
            while model.canFetchMore(index):
                model.fetchMore(index)
                if model.rowCount(index) >= 200:
                    break
            if model.rowCount(index):
                assert model.parent(model.index(0, 0, index)) == index
            stack.extend(model.index(r, 0, index) for r in range(model.rowCount(index)))
            seen += 1
        assert seen >= 1


def _wide_tree(n: int, calls: list[int]) -> Node:
    def children() -> list[Node]:
        calls.append(n)
        return [Node(f"range {i}", 0x1000 + 16 * i, 16, 0x7FF000000000 + 0x1000 * i) for i in range(n)]

    return Node("dump", 0, 0x1000 + 16 * n, children=[Node("Memory64List", 0x1000, 16 * n, n, children)])


@pytest.mark.slow
def test_100k_children_are_fetched_in_batches_not_upfront(qtbot, qtmodeltester) -> None:
    from PySide6.QtWidgets import QTreeView

    from viewer.gui.structure_model import FETCH_BATCH, StructureModel

    calls: list[int] = []
    model = StructureModel(_wide_tree(100_000, calls))
    view = QTreeView()
    qtbot.addWidget(view)
    view.setUniformRowHeights(True)
    view.setModel(model)
    view.resize(600, 400)
    view.show()
    root = model.index(0, 0)
    view.expand(root)
    big = model.index(0, 0, root)
    assert model.hasChildren(big) and not calls, "the lazy children must not be built to draw an arrow"

    started = time.perf_counter()
    view.expand(big)
    qtbot.wait(10)
    assert time.perf_counter() - started < 3.0
    assert calls == [100_000]
    # The view may ask for a batch or two more while its scroll range settles; never for everything.
    fetched = model.rowCount(big)
    assert fetched % FETCH_BATCH == 0 and FETCH_BATCH <= fetched <= 5 * FETCH_BATCH
    assert model.total_children(big) == 100_000

    # Scrolling to the end is what makes the tree view ask for the next batch.
    bar = view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0)
    fetched = model.rowCount(big)
    bar.setValue(bar.maximum())
    qtbot.waitUntil(lambda: model.rowCount(big) == fetched + FETCH_BATCH)
    last = model.index(fetched + FETCH_BATCH - 1, 0, big)
    assert last.data() == f"range {fetched + FETCH_BATCH - 1}"
    assert model.index(0, 1, big).data() == "0x7ff000000000"
    qtmodeltester.check(model)


def test_a_failing_lazy_parser_becomes_a_visible_row(qapp) -> None:
    from viewer.gui.structure_model import StructureModel

    def broken() -> list[Node]:
        raise ValueError("count 4294967295 at 0x40 is past the end")

    model = StructureModel(Node("dump", 0, 100, children=[Node("streams", 0x20, 12, children=broken)]))
    root = model.index(0, 0)
    model.fetchMore(root)
    streams = model.index(0, 0, root)
    assert model.hasChildren(streams)
    model.fetchMore(streams)
    assert model.rowCount(streams) == 1
    row = model.index(0, 0, streams)
    assert "not readable" in row.data()
    assert "ValueError: count 4294967295" in row.siblingAtColumn(1).data()


def test_values_are_rendered_readably() -> None:
    from viewer.gui.structure_model import MAX_VALUE_CHARS, format_value

    assert format_value(None) == ("", "")
    assert format_value(True)[0] == "true"
    assert format_value(512) == ("512", "512 (0x200)")
    assert format_value(0x7FFD12340000)[0] == "0x7ffd12340000"
    assert format_value(0x7FFD12340000)[1] == f"{0x7FFD12340000} (0x7ffd12340000)"
    shown, tip = format_value(bytes(range(100)))
    assert shown.startswith("00 01 02") and shown.endswith("(100 bytes)")
    assert tip.startswith("100 bytes: 00 01")
    shown, tip = format_value("x" * 10_000)
    assert len(shown) == MAX_VALUE_CHARS and shown.endswith("…") and len(tip) > len(shown)
    assert "\n" not in format_value("line one\nline two")[0]
    assert format_value(list(range(100)))[0].startswith("[100 items] 0, 1, 2")


# -- regions model -------------------------------------------------------------------------------
@pytest.mark.parametrize("path", DUMPS, ids=DUMP_IDS)
def test_regions_model_passes_qt_model_tester(qtmodeltester, path: Path) -> None:
    from viewer.gui.regions_model import RegionsModel

    with open_dump(path) as dump:
        model = RegionsModel(dump.regions)
        qtmodeltester.check(model)
        assert model.rowCount() == len(dump.regions)
        for row, region in enumerate(dump.regions):
            assert model.index(row, 0).data() == f"{region.file_offset:#x}"
            assert model.index(row, 1).data() == str(region.size)
            assert model.index(row, 2).data() == ("—" if region.vaddr is None else f"{region.vaddr:#x}")
            assert model.index(row, 3).data() == region.kind


# -- main window ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", DUMPS, ids=DUMP_IDS)
def test_window_shows_root_node_regions_and_warnings(window, path: Path) -> None:
    with open_dump(path) as expected:
        assert window.load(path) is None
        assert window.windowTitle() == f"Evidence Viewer — {path.name}"
        root = window.structure_model.index(0, 0)
        assert root.data() == expected.structure.name
        assert window.tree.isExpanded(root)
        assert window.regions_model.rowCount() == len(expected.regions)
        assert window.regions_view.model().rowCount() == len(expected.regions)
        assert window.warnings_model.rowCount() == max(1, len(expected.warnings))
        assert window.warnings_dock.windowTitle() == f"Warnings ({len(expected.warnings)})"
        assert window.format_label.text() == f"format: {expected.format}"
        assert window.size_label.text().startswith(f"size: {expected.size} bytes")


def test_selecting_a_tree_row_exposes_its_offset_and_length(window, qtbot) -> None:
    assert window.load(SAMPLE) is None
    model = window.structure_model
    root = model.index(0, 0)
    target = model.index(model.rowCount(root) - 1, 0, root) if model.rowCount(root) else root
    node = model.node(target)
    with qtbot.waitSignal(window.sig_range_selected) as blocker:
        window.tree.setCurrentIndex(target)
    assert blocker.args == [node.offset, node.length]
    assert window.selected_range() == (node.offset, node.length)


def test_selecting_a_region_exposes_its_bytes(window, qtbot) -> None:
    assert window.load(SAMPLE) is None
    view = window.regions_view
    row = view.model().rowCount() - 1
    region = window.regions_model.region(row)
    with qtbot.waitSignal(window.sig_range_selected) as blocker:
        view.setCurrentIndex(view.model().index(row, 0))
    assert blocker.args == [region.file_offset, region.size]


@pytest.mark.parametrize("path", [SAMPLE, CORPUS / "rz_core-linux-x86_64"], ids=["sample", "rz_core"])
def test_status_bar_sha256_matches_hashlib(window, qtbot, path: Path) -> None:
    with qtbot.waitSignal(window.sig_hash_done, timeout=10_000) as blocker:
        assert window.load(path) is None
    expected = sha256_of(path)
    assert blocker.args == [expected]
    assert window.sha256_label.text() == f"sha256: {expected}"


def test_a_replaced_dump_never_shows_the_old_hash(window, qtbot) -> None:
    """Open two files back to back: the first file's late result must not land on the second."""
    other = CORPUS / "rz_core-linux-x86_64"
    assert window.load(SAMPLE) is None
    assert window.load(other) is None
    qtbot.waitUntil(lambda: window.sha256 is not None, timeout=10_000)
    qtbot.wait(50)  # let a stale signal of the first worker arrive, if it would
    assert window.sha256 == sha256_of(other)
    assert window.sha256_label.text() == f"sha256: {sha256_of(other)}"


def test_hash_worker_reports_a_failure_as_a_signal(qtbot, tmp_path: Path) -> None:
    from viewer.gui.task_worker import TaskWorker
    from viewer.workspace.jobs import hash_job

    copy = tmp_path / "vanishing.core"
    copy.write_bytes(SAMPLE.read_bytes())
    dump = open_dump(copy)
    with open(copy, "r+b") as f:  # the evidence changes on disk: hashing it raises inside the worker
        f.truncate(len(SAMPLE.read_bytes()) // 2)
    worker = TaskWorker(hash_job, dump, what="hashing")  # as the window starts it
    failed, finished, done = [], [], []
    worker.signals.sig_failed.connect(failed.append)
    worker.signals.sig_done.connect(done.append)
    worker.signals.sig_finished.connect(lambda: finished.append(True))
    worker.run()  # in this thread: the exception must not escape
    assert len(failed) == 1 and failed[0].startswith("hashing failed: ") and "\n" not in failed[0]
    assert finished == [True] and not done


def test_opening_a_missing_file_shows_one_line_in_a_message_box(window, qtbot, tmp_path: Path) -> None:
    from PySide6.QtWidgets import QMessageBox

    assert window.load(SAMPLE) is None
    missing = tmp_path / "no-such.dmp"
    assert window.open_path(missing) is False
    box = window.findChild(QMessageBox, "open-error")
    assert box is not None
    qtbot.waitUntil(box.isVisible)
    text = box.text()
    assert "no-such.dmp" in text and "No such file" in text
    assert "\n" not in text and "Traceback" not in text
    assert text == window.last_error
    # The dump that was open stays open.
    assert window.windowTitle() == f"Evidence Viewer — {SAMPLE.name}"
    box.close()


def test_opening_a_directory_is_a_clear_error(window, tmp_path: Path) -> None:
    error = window.load(tmp_path)
    assert error is not None and "directory" in error and "\n" not in error
    assert window.dump is None
    assert window.windowTitle() == "Evidence Viewer"


# -- the command without a display ---------------------------------------------------------------
def test_cli_without_display_prints_info_and_one_line_on_stderr() -> None:
    script = Path(sys.executable).parent / "evidence-viewer"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "viewer.cli.main"]
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run(
        [*command, str(SAMPLE)], env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no display" in lines[0], proc.stderr
    assert f"sha256    {sha256_of(SAMPLE)}" in proc.stdout
    assert proc.stdout.startswith("file ") and "format" in proc.stdout
