"""EntropyPlot with real widgets and real files: curve values, click, hover, zoom, vaddr mode, findings."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import CORPUS
from viewer.evidence import open_dump
from viewer.scan.entropy import block_entropy
from viewer.scan.finding import Confidence, Finding

KiB = 1024
SEG = 256 * KiB
# zeros | text | random | zeros | random | ... : 16 segments of 256 KiB = 4 MiB (1024 blocks of 4 KiB)
KINDS = ["zeros", "text", "random", "zeros"] * 4
TEXT = b"It was the best of times, it was the worst of times, it was the age of wisdom. " * 8
MINIDUMP = CORPUS / "bp_minidump2.dmp"
# 8 MiB of zeros (2048 blocks: more than the plot's pixels, so the full view is the pyramid's) with a
# 1 KiB random island at an offset aligned to neither 4 KiB nor 64 bytes
ISLAND, ISLAND_LEN, ISLAND_FILE_SIZE = 0x19320, 1024, 8 * 1024 * KiB


@pytest.fixture(autouse=True)
def _usable_pyside(request: pytest.FixtureRequest) -> None:
    if "qtbot" not in request.fixturenames:
        return
    from viewer.gui.app import broken_pyside_message, pyside_breaks_refcounts

    if pyside_breaks_refcounts():
        pytest.fail(broken_pyside_message(), pytrace=False)


def segment(kind: str) -> bytes:
    if kind == "zeros":
        return bytes(SEG)
    if kind == "text":
        return (TEXT * (SEG // len(TEXT) + 1))[:SEG]
    return os.urandom(SEG)


@pytest.fixture(scope="module")
def mixed_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("entropy") / "mixed.bin"
    path.write_bytes(b"".join(segment(k) for k in KINDS))
    path.chmod(0o444)
    return path


def shaded(item) -> list[tuple[float, float]]:
    """The (x0, x1) spans a region BarGraphItem draws."""
    x0 = np.atleast_1d(item.opts["x0"]).tolist()
    x1 = np.atleast_1d(item.opts["x1"]).tolist()
    return list(zip(x0, x1, strict=True))


def make_plot(qtbot):
    from viewer.gui.entropy_plot import EntropyPlot

    plot = EntropyPlot()
    qtbot.addWidget(plot)
    plot.resize(900, 320)
    plot.show()
    qtbot.waitExposed(plot)
    return plot


def plotted(qtbot, path: Path):
    """A plot showing ``path`` once its entropy is ready; closes the dump afterwards."""
    plot = make_plot(qtbot)
    dump = open_dump(path)
    with qtbot.waitSignal(plot.sig_ready, timeout=30000):
        plot.set_dump(dump)
    yield plot, dump
    plot.set_dump(None)
    plot.wait_idle()
    dump.close()


@pytest.fixture
def shown(qtbot, mixed_file: Path):
    yield from plotted(qtbot, mixed_file)


def in_segment(x: np.ndarray, i: int, margin: int = 8 * KiB) -> np.ndarray:
    """Points well inside segment i (away from the edges, where a point may average two segments)."""
    return (x >= i * SEG + margin) & (x < (i + 1) * SEG - margin)


def test_curve_is_low_over_zeros_and_near_8_over_random(shown) -> None:
    plot, dump = shown
    assert plot.pyramid is not None and plot.pyramid.complete and plot.pyramid.size == dump.size
    x, y = plot.mean_curve.getData()
    assert x is not None and len(x) >= 100
    assert x.min() >= 0 and x.max() <= dump.size
    for i, kind in enumerate(KINDS):
        sel = in_segment(x, i)
        assert sel.sum() >= 5, (i, kind)
        vals = y[sel]
        if kind == "zeros":
            assert vals.max() < 0.01, (i, vals.max())
        elif kind == "random":
            assert vals.min() > 7.9, (i, vals.min())
        else:
            assert 3.0 < vals.min() and vals.max() < 5.5, (i, vals.min(), vals.max())
    _, ymax = plot.max_curve.getData()
    assert np.all(ymax >= y - 1e-6)
    # the region of a raw image is shaded across the file
    assert set(plot.region_items) == {"memory"}


def test_click_emits_the_file_offset(shown, qtbot) -> None:
    from PySide6.QtCore import QPoint, Qt

    plot, _dump = shown
    target = 2 * SEG + 100 * KiB  # inside the first random segment
    view = plot.plot_widget
    scene_pos = plot.scene_pos_for(target, 4.0)
    widget_pos = view.mapFromScene(scene_pos)
    with qtbot.waitSignal(plot.sig_offset_clicked, timeout=3000) as clicked:
        qtbot.mouseClick(
            view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(widget_pos.x(), widget_pos.y())
        )
    px = plot.view_box.viewPixelSize()[0]
    assert isinstance(clicked.args[0], int)
    assert abs(clicked.args[0] - target) <= 2 * px + 1
    # the slot the click handler calls, with an exact x
    with qtbot.waitSignal(plot.sig_offset_clicked) as clicked:
        assert plot.click_at_x(target + 0.7) == target
    assert clicked.args == [target]
    # clicking outside the file emits nothing
    with qtbot.assertNotEmitted(plot.sig_offset_clicked):
        assert plot.click_at_x(-10.0) is None


def test_hover_names_offset_region_and_entropy(shown, qtbot) -> None:
    plot, dump = shown
    text = plot.hover_text(2 * SEG + 5000)
    assert f"offset {2 * SEG + 5000:#x}" in text and "memory: raw image" in text
    m = re.search(r"entropy (\d\.\d\d) bits/byte", text)
    assert m and float(m.group(1)) > 7.9
    assert "entropy 0.00 bits/byte" in plot.hover_text(10)
    # the real mouse path: scene position -> label
    plot._on_mouse_moved(plot.scene_pos_for(SEG + 5000, 2.0))
    assert "memory: raw image" in plot.hover_label.text()
    m = re.search(r"entropy (\d\.\d\d)", plot.hover_label.text())
    assert m and 3.0 < float(m.group(1)) < 5.5
    assert plot.cursor_line.isVisible()


def test_zoom_recomputes_with_more_points(shown, qtbot) -> None:
    plot, dump = shown
    plot.set_fine_enabled(False)  # the pyramid's own zoom; the finer pass has its tests below
    lo, hi = 5 * SEG, 5 * SEG + 128 * KiB  # 32 blocks

    def steps_inside() -> int:
        starts = plot.mean_curve.getData()[0][0::2]  # a step per point: x = start, end, start, end...
        return int(((starts >= lo) & (starts < hi)).sum())

    before = steps_inside()
    assert 0 < before < 32  # the full view is coarser than one point per block
    plot.view_box.setXRange(lo, hi, padding=0)
    qtbot.waitUntil(lambda: steps_inside() > before)
    x, y = plot.mean_curve.getData()
    starts, ends, values = x[0::2], x[1::2], y[0::2]
    inside = (starts >= lo) & (starts < hi)
    assert inside.sum() == 32  # level 0: one step per 4 KiB block
    np.testing.assert_array_equal(ends[inside] - starts[inside], 4096)
    np.testing.assert_allclose(values[inside], plot.pyramid.values[lo // 4096 : hi // 4096], atol=1e-6)
    assert len(starts) < 100  # only the visible range (plus a block each side) is plotted


def test_axis_ticks_are_hex() -> None:
    from viewer.gui.entropy_plot import HexAxisItem

    axis = HexAxisItem("bottom")
    assert axis.tickStrings([0.0, 4096.0, 65536.0, 2.0**40], 1.0, 4096.0) == [
        "0x0",
        "0x1000",
        "0x10000",
        "0x10000000000",
    ]
    spacing = axis.tickSpacing(0.0, 3_400_000.0, 900.0)
    major = spacing[0][0]
    assert major == 2 ** int(np.log2(major))  # powers of two: hex labels stay round


def test_findings_are_marked_by_kind(shown) -> None:
    from viewer.gui.entropy_plot import FINDING_Y

    plot, _dump = shown
    findings = [
        Finding("rsa-private", "der", 2 * SEG + 100, 1190, Confidence.CONFIRMED),
        Finding("aes-key", "raw", 6 * SEG, 32, Confidence.LOW),
        Finding("aes-key", "raw", 10 * SEG, 32, Confidence.MEDIUM),
    ]
    plot.set_findings(findings)
    xs, ys = plot.findings_scatter.getData()
    assert sorted(xs.tolist()) == [2 * SEG + 100, 6 * SEG, 10 * SEG]
    assert np.all(ys == FINDING_Y)
    spots = {p.data().offset: p for p in plot.findings_scatter.points()}
    assert spots[6 * SEG].brush().color() == spots[10 * SEG].brush().color()
    assert spots[6 * SEG].brush().color() != spots[2 * SEG + 100].brush().color()
    assert spots[2 * SEG + 100].size() > spots[6 * SEG].size()  # confirmed is bigger than low
    assert "finding rsa-private (confirmed)" in plot.hover_text(2 * SEG + 100)


def test_new_dump_or_none_cancels(qtbot, mixed_file: Path) -> None:
    plot = make_plot(qtbot)
    first = open_dump(mixed_file)
    second = open_dump(MINIDUMP)
    ready: list[object] = []
    plot.sig_ready.connect(ready.append)
    plot.set_dump(first)
    plot.set_dump(None)  # cancels: nothing is ever shown for the first dump
    assert plot.wait_idle(30000)
    qtbot.wait(50)
    assert ready == [] and plot.pyramid is None and not plot.is_computing()
    with qtbot.waitSignal(plot.sig_ready, timeout=30000):
        plot.set_dump(first)
        plot.set_dump(second)  # replaces: only the second one arrives
    qtbot.wait(50)
    assert len(ready) == 1 and plot.pyramid is ready[0] and plot.pyramid.size == second.size
    # the same dump again is a no-op; a dump shown before comes back from the cache, no worker
    plot.set_dump(second)
    assert len(ready) == 1 and not plot.is_computing()
    with qtbot.waitSignal(plot.sig_ready, timeout=30000):
        plot.set_dump(first)
    first_pyramid = plot.pyramid
    assert first_pyramid is not None and first_pyramid.size == first.size
    plot.set_dump(second)
    assert plot.pyramid is ready[0] and not plot.is_computing()  # cached: shown at once
    plot.set_dump(first)
    assert plot.pyramid is first_pyramid
    plot.set_dump(None)
    plot.wait_idle()
    first.close()
    second.close()


def test_vaddr_mode_places_regions_at_their_vaddrs(qtbot) -> None:
    plot = make_plot(qtbot)
    dump = open_dump(MINIDUMP)
    try:
        with qtbot.waitSignal(plot.sig_ready, timeout=30000):
            plot.set_dump(dump)
        assert set(plot.region_items) >= {"header", "stream", "stack", "module"}  # offset mode: all
        stream = next(r for r in dump.regions if r.kind == "stream")
        assert any(
            x0 <= stream.file_offset and stream.end <= x1 for x0, x1 in shaded(plot.region_items["stream"])
        )
        plot.set_axis_mode("vaddr")
        assert plot.axis_mode() == "vaddr"
        memory = [r for r in dump.regions if r.vaddr is not None and r.size > 0]
        assert {r.kind for r in memory} == {"stack", "module"}
        assert set(plot.region_items) == {"stack", "module"}  # headers and streams have no address
        for kind, item in plot.region_items.items():
            want = sorted((r.vaddr, r.vaddr + r.size) for r in memory if r.kind == kind)
            got = shaded(item)
            # every region is shaded at its vaddrs (spans closer than a pixel may be merged into one)
            for a, b in want:
                assert any(x0 <= a and b <= x1 for x0, x1 in got), (kind, hex(a))
            assert {x0 for x0, _ in got} <= {a for a, _ in want} and {x1 for _, x1 in got} <= {
                b for _, b in want
            }
        lo, hi = plot.extent()
        assert lo == min(r.vaddr for r in memory) and hi == max(r.vaddr + r.size for r in memory)

        # zoom onto one stack: the curve lies inside it, its values are that region's blocks
        stack = next(r for r in memory if r.name == "stack of thread 0xbf4")
        plot.view_box.setXRange(stack.vaddr, stack.vaddr + stack.size, padding=0)
        plot.redraw()
        x, y = plot.mean_curve.getData()
        finite = np.isfinite(x)
        assert finite.sum() >= 1
        assert np.all((x[finite] >= stack.vaddr) & (x[finite] <= stack.vaddr + stack.size))
        # hover and click at an address resolve to the file offset of that byte
        va = stack.vaddr + 100
        assert plot.offset_for_x(va) == stack.file_offset + 100
        text = plot.hover_text(va)
        assert f"va {va:#x}" in text and "stack: stack of thread 0xbf4" in text and "entropy" in text
        with qtbot.waitSignal(plot.sig_offset_clicked) as clicked:
            plot.click_at_x(va)
        assert clicked.args == [stack.file_offset + 100]
        assert plot.offset_for_x(stack.vaddr + stack.size + 0x100000) is None
        # zoomed out to the whole address space, the narrow regions show as dots at their vaddrs
        plot.view_box.setXRange(lo, hi, padding=0)
        plot.redraw()
        dots_x, dots_y = plot.region_dots.getData()
        centres = sorted((r.vaddr + r.size / 2) for r in memory)
        assert sorted(dots_x.tolist()) == centres
        assert np.all((dots_y >= 0) & (dots_y <= 8))
        # findings move to their addresses; one outside memory (a header) is not drawn
        plot.set_findings(
            [
                Finding("aes-key", "raw", stack.file_offset + 64, 32, Confidence.HIGH),
                Finding("pem", "pem", 0x10, 32, Confidence.HIGH),
            ]
        )
        xs, _ = plot.findings_scatter.getData()
        assert xs.tolist() == [stack.vaddr + 64]
        plot.set_axis_mode("offset")
        xs, _ = plot.findings_scatter.getData()
        assert sorted(xs.tolist()) == [0x10, stack.file_offset + 64]
    finally:
        plot.set_dump(None)
        plot.wait_idle()
        dump.close()


def test_many_regions_stay_cheap_to_draw(qtbot, tmp_path: Path) -> None:
    """20,000 small regions (a full-memory minidump has 100,000): shading merges spans closer than a
    pixel, narrow regions become one dot per pixel column at most, and nothing takes seconds."""
    import time

    from viewer.evidence import ByteSource
    from viewer.evidence.model import Dump, Node, ParseResult, Region

    n, size = 20_000, 256
    path = tmp_path / "many.bin"
    path.write_bytes(os.urandom(n * size))
    regions = [
        Region(i * size, size, 0x10000000 + i * 0x10000, "stack" if i % 2 else "memory", f"r{i}")
        for i in range(n)
    ]
    dump = Dump(ByteSource(path), ParseResult("raw", {}, regions, Node("root", 0, 0), []))
    plot = make_plot(qtbot)
    try:
        with qtbot.waitSignal(plot.sig_ready, timeout=30000):
            plot.set_dump(dump)
        width = int(plot.view_box.width())
        assert all(len(shaded(item)) <= width + 1 for item in plot.region_items.values())
        t = time.monotonic()
        plot.set_axis_mode("vaddr")
        plot.redraw()
        plot.grab()  # paint it
        assert time.monotonic() - t < 5.0
        assert all(len(shaded(item)) <= width + 1 for item in plot.region_items.values())
        dots_x, dots_y = plot.region_dots.getData()
        assert 0 < len(dots_x) <= width + 1 and np.all(dots_y > 7.0)  # random bytes, 256-byte regions
        # zoomed in on ten regions, each is shaded on its own at its address
        lo = 0x10000000 + 100 * 0x10000
        plot.view_box.setXRange(lo, lo + 10 * 0x10000, padding=0)
        plot.redraw()
        spans = shaded(plot.region_items["stack"]) + shaded(plot.region_items["memory"])
        assert (float(lo), float(lo + size)) in spans
    finally:
        plot.set_dump(None)
        plot.wait_idle()
        dump.close()


# -- finer than the pyramid: a worker recomputes the visible bytes at a small block size -------------
@pytest.fixture(scope="module")
def island_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = bytearray(ISLAND_FILE_SIZE)
    data[ISLAND : ISLAND + ISLAND_LEN] = os.urandom(ISLAND_LEN)
    path = tmp_path_factory.mktemp("entropy") / "island.bin"
    path.write_bytes(bytes(data))
    path.chmod(0o444)
    return path


@pytest.fixture
def island(qtbot, island_file: Path):
    yield from plotted(qtbot, island_file)


def steps(curve) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(starts, ends, values) of a step curve (x = start, end, start, end...; each value twice; in vaddr
    mode a NaN after each region's steps, dropped here)."""
    x, y = curve.getData()
    keep = np.isfinite(x)
    x, y = x[keep], y[keep]
    return x[0::2], x[1::2], y[0::2]


class Gate:
    """Holds ``dump.read`` until released: a fine pass that is still running when the test acts."""

    def __init__(self, dump, monkeypatch: pytest.MonkeyPatch):
        self.started = threading.Event()
        self.release = threading.Event()
        real = dump.read

        def read(offset: int, length: int) -> bytes:
            self.started.set()
            self.release.wait(10)
            return real(offset, length)

        monkeypatch.setattr(dump, "read", read)


def test_zoom_in_computes_finer_entropy_over_the_visible_bytes(island, qtbot) -> None:
    plot, dump = island
    p = plot.pyramid
    block = ISLAND // 4096
    # zoomed out: the pyramid; the island's 4 KiB block has partial entropy (1 KiB random, 3 KiB zeros)
    assert plot.view_box.width() < ISLAND_FILE_SIZE // 4096
    assert plot.fine_block() is None and not plot.is_computing_fine()
    assert 1.0 < p.values[block] < 4.0
    starts, ends, mx = steps(plot.max_curve)
    at = (starts <= ISLAND) & (ISLAND < ends)
    assert at.sum() == 1 and ends[at][0] - starts[at][0] >= 4096
    assert mx[at][0] == pytest.approx(float(p.values[block]), abs=1e-6)
    assert "(4096 B block)" in plot.hover_text(ISLAND)

    lo, hi = ISLAND - 8 * KiB, ISLAND + 8 * KiB
    plot.view_box.setXRange(lo, hi, padding=0)
    qtbot.waitUntil(lambda: plot.fine_block() is not None, timeout=10000)
    b = plot.fine_block()
    assert b == 64  # 16 KiB over ~850 pixels: the smallest block, 64 bytes
    fs, fe = plot.fine_range()
    assert fs <= lo and hi <= fe and fe - fs <= 2 * (hi - lo) + 2 * b  # the view plus half of it each side
    starts, ends, vals = steps(plot.mean_curve)
    inside = (starts >= lo) & (ends <= hi)
    assert inside.sum() >= (hi - lo) // b - 1
    np.testing.assert_array_equal((ends - starts)[inside], b)
    # high exactly over the island's bytes, to within one fine block
    high = inside & (vals > 0.5)
    assert ISLAND - b < starts[high].min() <= ISLAND
    assert ISLAND + ISLAND_LEN <= ends[high].max() < ISLAND + ISLAND_LEN + b
    full = inside & (starts >= ISLAND) & (ends <= ISLAND + ISLAND_LEN)
    assert full.sum() == ISLAND_LEN // b - 1  # the island starts half-way into a 64-byte block
    assert vals[full].min() > 5.0 and vals[full].max() <= 6.0 + 1e-6  # 64 bytes: at most log2(64) bits
    outside = inside & ((ends <= ISLAND) | (starts >= ISLAND + ISLAND_LEN))
    assert outside.sum() > 200 and vals[outside].max() < 1e-6
    first, n = int(starts[inside][0]), int(inside.sum())
    np.testing.assert_allclose(vals[inside], block_entropy(dump.read(first, n * b), b), atol=1e-6)
    _, _, mxs = steps(plot.max_curve)
    np.testing.assert_allclose(mxs[inside], vals[inside])  # one block per step: max = mean
    assert "(64 B block: at most 6 bits/byte)" in plot.hover_text(ISLAND + 100)

    # zoomed out again: back to the pyramid
    plot.view_box.setXRange(0, dump.size, padding=0)
    qtbot.waitUntil(lambda: plot.fine_block() is None)
    starts, ends, _ = steps(plot.mean_curve)
    assert np.all(ends - starts >= 4096)  # the file is whole 4 KiB blocks
    assert "(4096 B block)" in plot.hover_text(ISLAND) and not plot.is_computing_fine()


def test_pan_keeps_the_fine_curve_over_its_bytes_and_the_pyramid_outside(island, qtbot, monkeypatch) -> None:
    plot, dump = island
    plot.view_box.setXRange(ISLAND - 8 * KiB, ISLAND + 8 * KiB, padding=0)
    qtbot.waitUntil(lambda: plot.fine_block() is not None, timeout=10000)
    fs, fe = plot.fine_range()
    gate = Gate(dump, monkeypatch)
    lo, hi = fe - 8 * KiB, fe + 8 * KiB  # half the view inside the fine bytes, half outside
    plot.view_box.setXRange(lo, hi, padding=0)
    plot.redraw()
    assert gate.started.wait(10) and plot.is_computing_fine()
    starts, ends, _ = steps(plot.mean_curve)
    visible = (ends > lo) & (starts < hi)
    fine = visible & (ends <= fe)
    coarse = visible & (starts >= fe)
    assert fine.sum() >= 8 * KiB // 64 and coarse.sum() >= 2 and (fine | coarse).sum() == visible.sum()
    np.testing.assert_array_equal((ends - starts)[fine], 64)
    assert np.all((ends - starts)[coarse] <= 4096) and np.all(ends[coarse] % 4096 == 0)
    assert plot.fine_range() == (fs, fe)  # the old pass stays drawn until the new one arrives
    gate.release.set()
    qtbot.waitUntil(lambda: plot.fine_range() != (fs, fe), timeout=10000)
    starts, ends, _ = steps(plot.mean_curve)
    visible = (ends > lo) & (starts < hi)
    np.testing.assert_array_equal((ends - starts)[visible], 64)


def test_new_dump_while_a_fine_pass_runs_drops_its_result(
    qtbot, island_file, mixed_file, monkeypatch
) -> None:
    from viewer.gui.task_worker import TaskWorker

    # a pass that does not stop when cancelled still has its late result dropped (by its token)
    monkeypatch.setattr(TaskWorker, "cancel", lambda self: None)
    plot = make_plot(qtbot)
    first = open_dump(island_file)
    second = open_dump(mixed_file)
    fine: list[object] = []
    plot.sig_fine_ready.connect(fine.append)
    try:
        with qtbot.waitSignal(plot.sig_ready, timeout=30000):
            plot.set_dump(first)
        gate = Gate(first, monkeypatch)
        plot.view_box.setXRange(ISLAND - 8 * KiB, ISLAND + 8 * KiB, padding=0)
        plot.redraw()
        assert gate.started.wait(10) and plot.is_computing_fine()
        with qtbot.waitSignal(plot.sig_ready, timeout=30000):
            plot.set_dump(second)
            assert not plot.is_computing_fine()
            gate.release.set()
        assert plot.wait_idle(30000)
        qtbot.wait(50)
        assert fine == [] and plot.fine_block() is None and not plot.is_computing_fine()
        assert plot.pyramid is not None and plot.pyramid.size == second.size
    finally:
        plot.set_dump(None)
        plot.wait_idle()
        first.close()
        second.close()


def test_vaddr_mode_fine_pass_maps_one_region_only(qtbot, tmp_path: Path) -> None:
    """In vaddr mode the fine pass is made when one region fills the view (its bytes are one run of the
    file, drawn at its addresses); with two regions in view the plot stays on the pyramid."""
    from viewer.evidence import ByteSource
    from viewer.evidence.model import Dump, Node, ParseResult, Region

    data = bytearray(128 * KiB)
    data[0x1000:0x1400] = os.urandom(0x400)  # an island in region A
    data[64 * KiB :] = os.urandom(64 * KiB)  # region B: random
    path = tmp_path / "two.bin"
    path.write_bytes(bytes(data))
    va_a, va_b = 0x400000, 0x411000
    regions = [Region(0, 64 * KiB, va_a, "memory", "A"), Region(64 * KiB, 64 * KiB, va_b, "stack", "B")]
    dump = Dump(ByteSource(path), ParseResult("raw", {}, regions, Node("root", 0, 0), []))
    plot = make_plot(qtbot)
    try:
        with qtbot.waitSignal(plot.sig_ready, timeout=30000):
            plot.set_dump(dump)
        qtbot.waitUntil(lambda: plot.fine_block() is not None)  # offset mode: 32 blocks, fewer than pixels
        plot.set_axis_mode("vaddr")
        assert plot.fine_block() is None
        plot.redraw()  # both regions in view: no fine pass
        assert plot.fine_block() is None and not plot.is_computing_fine()
        plot.view_box.setXRange(va_a, va_a + 0x4000, padding=0)
        qtbot.waitUntil(lambda: plot.fine_block() is not None, timeout=10000)
        b = plot.fine_block()
        fs, fe = plot.fine_range()
        assert b == 64 and 0 <= fs and fe <= 64 * KiB  # region A's bytes only
        starts, ends, vals = steps(plot.mean_curve)
        inside = (starts >= va_a) & (ends <= va_a + 0x4000)
        np.testing.assert_array_equal((ends - starts)[inside], b)
        high = inside & (vals > 0.5)
        assert starts[high].min() == va_a + 0x1000 and ends[high].max() == va_a + 0x1400
        assert "(64 B block: at most 6 bits/byte)" in plot.hover_text(va_a + 0x1100)
        plot.set_axis_mode("offset")  # another mode: the vaddr pass goes
        assert plot.fine_block() is None
    finally:
        plot.set_dump(None)
        plot.wait_idle()
        dump.close()
