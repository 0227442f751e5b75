"""The hex view: row text, address modes, selection, navigation, huge files, highlights, copy.

Real widgets on real files: corpus minidumps and files generated here (an 8 GiB sparse file among them).
Expected text is formatted independently from ``dump.read`` rather than taken from the widget.
"""

from __future__ import annotations

import base64
import random
import tracemalloc
from pathlib import Path

import pytest

from tests.conftest import CORPUS
from viewer.evidence import open_dump

CALC = CORPUS / "rz_calc.dmp"  # Windows minidump: headers and streams, then thread stacks and module bytes
INT32_MAX = 2**31 - 1




@pytest.fixture
def make_view(qtbot):
    """A shown HexView on a dump; the dumps are closed at teardown."""
    from viewer.gui.hexview import HexView

    opened = []

    def make(path: Path, width: int = 900, height: int = 600):
        dump = open_dump(path)
        opened.append(dump)
        view = HexView()
        qtbot.addWidget(view)
        view.resize(width, height)
        view.set_dump(dump)
        view.show()
        qtbot.waitExposed(view)
        return view, dump

    yield make
    for dump in opened:
        dump.close()


def write(tmp_path: Path, data: bytes, name: str = "blob.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def paint(view) -> None:
    """Run paintEvent now (``repaint`` may be deferred while the window's first paint is pending)."""
    view.viewport().grab()


def expected_row(data: bytes, offset: int, bpr: int, digits: int = 8) -> str:
    """Independent formatting of one row: address, grouped hex padded to a full row, ASCII."""
    hex_cells = [f"{b:02x}" for b in data] + ["  "] * (bpr - len(data))
    groups = [" ".join(hex_cells[i : i + 8]) for i in range(0, bpr, 8)]
    hex_part = "  ".join(groups).rstrip() if len(data) < bpr else "  ".join(groups)
    hex_part = hex_part.ljust(bpr * 3 + bpr // 8 - 2)
    text = "".join(chr(b) if 32 <= b < 127 else "." for b in data)
    return f"{offset:0{digits}x}  {hex_part}  {text}"


# -- row text --------------------------------------------------------------------------------------
@pytest.mark.parametrize("bpr", [16, 32])
def test_row_text_matches_the_bytes(make_view, bpr: int) -> None:
    view, dump = make_view(CALC)
    view.set_bytes_per_row(bpr)
    rows = view.row_count()
    assert rows == (dump.size + bpr - 1) // bpr
    for row in [*range(8), rows // 2, rows - 2, rows - 1]:  # the last row is partial for rz_calc.dmp
        data = dump.read(row * bpr, bpr)
        assert view.row_text(row) == expected_row(data, row * bpr, bpr)
    assert dump.size % bpr, "the corpus file should end in a partial row for this test to mean something"
    assert view.row_text(rows) == ""


def test_first_visible_rows_are_painted_from_visible_bytes_only(make_view) -> None:
    view, dump = make_view(CALC)
    paint(view)
    rows = view.visible_rows()
    assert rows.start == 0 and len(rows) == view.paint_stats["rows"]
    assert view.paint_stats["bytes_read"] == min(dump.size, len(rows) * 16)
    assert view.row_text(0).startswith("00000000  4d 44 4d 50")  # "MDMP"


def test_utf16_text_column(make_view, tmp_path: Path) -> None:
    data = "Hi Ωmega!".encode("utf-16-le") + b"\x00\xd8" + b"\x07\x00" + b"Z"  # surrogate, control, half
    view, _ = make_view(write(tmp_path, data))
    view.set_text_mode("utf16")
    text0 = view.row_text(0).split("  ")[-1]
    assert text0 == "Hi Ωmega"
    assert view.row_text(1).endswith("  !...")
    view.set_bytes_per_row(32)
    assert view.row_text(0).endswith("  Hi Ωmega!...")
    view.set_text_mode("ascii")
    assert view.row_text(0).endswith("  H.i. ...m.e.g.a.!.....Z")
    with pytest.raises(ValueError):
        view.set_text_mode("utf8")


# -- addresses -------------------------------------------------------------------------------------
def test_vaddr_mode_shows_addresses_inside_memory_and_greys_the_rest(make_view) -> None:
    view, dump = make_view(CALC)
    memory = [r for r in dump.regions if r.vaddr is not None and r.size > 0]
    assert memory, "rz_calc.dmp has thread stacks and module bytes"
    assert view.address_text(0) == ("00000000", True)
    view.set_address_mode("vaddr")
    assert view.address_mode() == "vaddr"
    digits = max(8, len(f"{max(r.vaddr + r.size - 1 for r in memory):x}"))
    checked = 0
    for r in memory:
        row = -(-r.file_offset // 16)  # first row starting inside the region
        if row * 16 >= r.end:
            continue
        va = dump.file_to_va(row * 16)
        assert va is not None
        assert view.address_text(row) == (f"{va:0{digits}x}", True)
        assert view.row_text(row).startswith(f"{va:0{digits}x}  ")
        checked += 1
    assert checked >= 3
    # Row 0 is the minidump header, not memory: its offset, greyed.
    assert view.address_text(0) == ("0" * digits, False)
    with pytest.raises(ValueError):
        view.set_address_mode("physical")


def test_go_to_offset_and_address(make_view, qtbot) -> None:
    view, dump = make_view(CALC)
    stack = next(r for r in dump.regions if r.kind == "stack" and r.size > 64)
    va = stack.vaddr + 40
    with qtbot.waitSignal(view.sig_cursor_moved) as moved:
        assert view.go_to_address(va)
    assert moved.args == [stack.file_offset + 40]
    assert view.cursor() == stack.file_offset + 40 == dump.va_to_file(va)
    assert view.selection() == (stack.file_offset + 40, 1)
    assert stack.file_offset // 16 in view.visible_rows()
    assert not view.go_to_address(0x10)  # not captured
    assert view.cursor() == stack.file_offset + 40
    assert view.go_to_offset(0)
    assert view.cursor() == 0 and view.top_row() == 0
    assert not view.go_to_offset(dump.size) and not view.go_to_offset(-1)
    assert view.go_to_offset(dump.size - 1)
    assert (dump.size - 1) // 16 in view.visible_rows()


def test_region_boundaries_are_drawn_in_vaddr_mode(make_view) -> None:
    view, dump = make_view(CALC)
    stack = next(r for r in dump.regions if r.kind == "stack")
    view.set_address_mode("vaddr")
    view.go_to_offset(stack.file_offset)
    paint(view)  # paints the step lines and names without error
    text = view.tooltip_text(stack.file_offset)
    assert f"vaddr 0x{stack.vaddr:x}" in text and stack.name in text
    assert "not in captured memory" in view.tooltip_text(0)


# -- selection -------------------------------------------------------------------------------------
def test_mouse_click_drag_and_shift_click(make_view, qtbot, tmp_path: Path) -> None:
    from PySide6.QtCore import Qt

    view, _ = make_view(write(tmp_path, bytes(range(256)) * 4))
    vp = view.viewport()
    left = Qt.MouseButton.LeftButton
    with qtbot.waitSignal(view.sig_selection_changed) as sel:
        qtbot.mouseClick(vp, left, pos=view.byte_rect(0x13).center())
    assert sel.args == [0x13, 1]
    assert view.cursor() == 0x13

    qtbot.mousePress(vp, left, pos=view.byte_rect(0x21).center())
    qtbot.mouseMove(vp, view.byte_rect(0x30).center())
    qtbot.mouseMove(vp, view.byte_rect(0x45).center())
    qtbot.mouseRelease(vp, left, pos=view.byte_rect(0x45).center())
    assert view.selection() == (0x21, 0x45 - 0x21 + 1)
    assert view.cursor() == 0x45

    with qtbot.waitSignal(view.sig_selection_changed) as sel:
        qtbot.mouseClick(vp, left, Qt.KeyboardModifier.ShiftModifier, view.byte_rect(0x10).center())
    assert sel.args == [0x10, 0x21 - 0x10 + 1]  # from the anchor back to the clicked byte

    # The ASCII column selects the same bytes.
    text_x = view.byte_rect(0).left() + round((view._text_col() - view._hex_col() + 5.5) * view._cw)
    from PySide6.QtCore import QPoint

    qtbot.mouseClick(vp, left, pos=QPoint(text_x, view.byte_rect(0x20).center().y()))
    assert view.selection() == (0x25, 1)


def test_keyboard_navigation_and_shift_extension(make_view, qtbot, tmp_path: Path) -> None:
    from PySide6.QtCore import Qt

    size = 100_000
    view, _ = make_view(write(tmp_path, random.Random(1).randbytes(size)))
    K, shift, ctrl = Qt.Key, Qt.KeyboardModifier.ShiftModifier, Qt.KeyboardModifier.ControlModifier
    moves: list[int] = []
    view.sig_cursor_moved.connect(moves.append)
    view.go_to_offset(0x105)
    qtbot.keyClick(view, K.Key_Right)
    assert view.cursor() == 0x106 and view.selection() == (0x106, 1)
    qtbot.keyClick(view, K.Key_Down)
    assert view.cursor() == 0x116
    qtbot.keyClick(view, K.Key_Left, shift)
    qtbot.keyClick(view, K.Key_Up, shift)
    assert view.cursor() == 0x105 and view.selection() == (0x105, 0x116 - 0x105 + 1)
    qtbot.keyClick(view, K.Key_Home)
    assert view.cursor() == 0x100 and view.selection() == (0x100, 1)
    qtbot.keyClick(view, K.Key_End, shift)
    assert view.selection() == (0x100, 16)
    page = view.page_rows()
    top = view.top_row()
    qtbot.keyClick(view, K.Key_PageDown)
    assert view.cursor() == 0x10F + page * 16 and view.top_row() == top + page
    qtbot.keyClick(view, K.Key_PageUp)
    assert view.cursor() == 0x10F and view.top_row() == top
    with qtbot.waitSignal(view.sig_cursor_moved) as moved:
        qtbot.keyClick(view, K.Key_End, ctrl)
    assert moved.args == [size - 1] and view.selection() == (size - 1, 1)
    assert view.top_row() + view.page_rows() >= view.row_count()
    qtbot.keyClick(view, K.Key_Right)  # clamped at the last byte: no move, no signal
    assert view.cursor() == size - 1
    qtbot.keyClick(view, K.Key_Home, ctrl | shift)
    assert view.selection() == (0, size) and view.top_row() == 0
    assert moves[-1] == 0


def test_select_api(make_view, qtbot, tmp_path: Path) -> None:
    view, _ = make_view(write(tmp_path, bytes(200_000)))
    with qtbot.waitSignals([view.sig_selection_changed, view.sig_cursor_moved]):
        assert view.select(150_000, 40)
    assert view.selection() == (150_000, 40) and view.cursor() == 150_000  # on the first byte (issue 17)
    row = 150_000 // 16
    assert view.top_row() == row - view.page_rows() // 2  # centred
    assert view.select(199_990, 100, center=False)
    assert view.selection() == (199_990, 10)  # clipped to the file
    assert not view.select(200_000, 1)
    view.set_dump(None)
    assert view.selection() == (0, 0) and view.row_text(0) == ""
    paint(view)


# -- a file far beyond what a scroll bar can count -------------------------------------------------
@pytest.mark.slow
def test_eight_gib_sparse_file(make_view, qtbot, tmp_path: Path) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QAbstractSlider

    size = 8 * 1024**3
    path = tmp_path / "sparse.img"
    with open(path, "wb") as fh:
        fh.truncate(size)
        fh.seek(size - 5)
        fh.write(b"TAIL!")
    view, dump = make_view(path)
    rows = view.row_count()
    assert rows == size // 16
    bar = view.verticalScrollBar()
    assert 0 < bar.maximum() <= INT32_MAX
    assert bar.maximum() < rows  # scaled: one step stands for several rows

    bar.setValue(bar.maximum())  # what dragging the thumb to the end does
    assert view.top_row() == rows - view.page_rows()
    assert rows - 1 in view.visible_rows()
    assert view.row_text(rows - 1).endswith("TAIL!")
    bar.setValue(bar.maximum() // 2)
    middle = view.top_row()
    assert abs(middle - rows // 2) <= rows // bar.maximum() + view.page_rows()
    bar.triggerAction(QAbstractSlider.SliderAction.SliderSingleStepAdd)  # exact rows even when scaled
    assert view.top_row() == middle + 1
    bar.triggerAction(QAbstractSlider.SliderAction.SliderPageStepSub)
    assert view.top_row() == middle + 1 - view.page_rows()

    view.setFocus()
    with qtbot.waitSignal(view.sig_cursor_moved) as moved:
        qtbot.keyClick(view, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
    assert moved.args == [size - 1] and view.cursor() == size - 1
    assert bar.value() == bar.maximum()
    qtbot.keyClick(view, Qt.Key.Key_Up)
    assert view.cursor() == size - 17
    assert view.go_to_offset(5 * 1024**3 + 3)
    assert view.top_row() == (5 * 1024**3) // 16 - view.page_rows() // 2  # exact, not the bar's rounding

    # Memory stays flat: scroll hundreds of pages, painting each.
    view.go_to_offset(0)
    paint(view)
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        for _ in range(120):
            qtbot.keyClick(view, Qt.Key.Key_PageDown)
            paint(view)
        for step in range(0, bar.maximum(), bar.maximum() // 30):
            bar.setValue(step)
            paint(view)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - base < 2 * 1024 * 1024, f"scrolling grew Python memory by {peak - base} bytes"
    assert view.paint_stats["bytes_read"] <= len(view.visible_rows()) * 16


def test_wheel_scrolls_three_rows(make_view, tmp_path: Path) -> None:
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    view, _ = make_view(write(tmp_path, bytes(1_000_000)))
    view.scroll_to_row(100)
    centre = QPointF(view.viewport().rect().center())
    event = QWheelEvent(
        centre,
        centre,
        QPoint(0, 0),
        QPoint(0, -240),  # two notches down
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.viewport(), event)
    assert view.top_row() == 106


# -- highlights ------------------------------------------------------------------------------------
def test_tooltip_names_the_highlight_and_the_place(make_view) -> None:
    from PySide6.QtGui import QColor

    from viewer.gui.hexview import Highlight
    from viewer.gui.palette import ROLE_COLOURS, role_color

    view, dump = make_view(CALC)
    stack = next(r for r in dump.regions if r.kind == "stack" and r.size > 64)
    off = stack.file_offset + 16
    view.set_highlights(
        [
            Highlight(off, 32, role_color("symmetric-key"), "AES-256 key schedule", "finding", secret=True),
            Highlight(off + 8, 4, role_color("bookmark"), "bookmark: return address", "bookmark"),
        ]
    )
    text = view.tooltip_text(off + 9)
    lines = text.splitlines()
    assert lines[0].startswith("AES-256 key schedule [finding") and "secret" in lines[0]
    assert lines[1].startswith("bookmark: return address [bookmark] byte 1 of 4")
    assert f"offset 0x{off + 9:x}" in text
    assert f"vaddr 0x{stack.vaddr + 25:x}" in text
    assert stack.name in text
    assert "AES" not in view.tooltip_text(off + 32)  # first byte after the highlight
    assert role_color("symmetric-key", dark=False) == QColor(*ROLE_COLOURS["symmetric-key"][0])
    assert role_color("no such role").isValid()


@pytest.mark.slow
def test_painting_considers_only_visible_highlights(make_view, tmp_path: Path) -> None:
    from viewer.gui.hexview import Highlight, IntervalIndex
    from viewer.gui.palette import role_color

    size = 16 * 1024 * 1024
    view, _ = make_view(write(tmp_path, bytes(size)))
    color = role_color("search")
    rng = random.Random(7)
    marks = [
        Highlight(rng.randrange(size), rng.randrange(1, 64), color, f"hit {i}", "search")
        for i in range(100_000)
    ]
    marks.append(Highlight(0, size, role_color("bookmark"), "whole file", "bookmark"))  # one long one
    view.set_highlights(marks)
    view.go_to_offset(size // 2)
    paint(view)
    rows = view.visible_rows()
    start, end = rows.start * 16, rows.stop * 16
    visible = [h for h in marks if h.offset < end and h.offset + h.length > start]
    considered = view.paint_stats["highlights_considered"]
    assert considered == len(visible)
    assert considered < 100, f"{considered} of {len(marks)} highlights considered for one page"
    assert view.paint_stats["index_nodes"] < 40 * (len(visible) + 1)

    # The index agrees with brute force, in the order highlights were given.
    index = IntervalIndex(marks[:3000])
    for _ in range(200):
        a = rng.randrange(size)
        b = a + rng.randrange(1, 4096)
        assert index.query(a, b) == [h for h in marks[:3000] if h.offset < b and h.offset + h.length > a]


# -- copy ------------------------------------------------------------------------------------------
def test_copy_formats(make_view, tmp_path: Path) -> None:
    from PySide6.QtWidgets import QApplication

    data = bytes([0x00, 0x41, 0xFF, 0x10, 0x7F, 0x22]) + bytes(range(0x80, 0x80 + 40))
    view, _ = make_view(write(tmp_path, data))
    clip = QApplication.clipboard()
    view.select(0, 5)
    assert view.copy_selection("hex") and clip.text() == "00 41 ff 10 7f"
    assert (
        view.copy_selection("c") and clip.text() == "unsigned char data[] = {0x00, 0x41, 0xff, 0x10, 0x7f};"
    )
    assert view.copy_selection("python") and clip.text() == 'b"\\x00\\x41\\xff\\x10\\x7f"'
    assert eval(clip.text()) == data[:5]  # noqa: S307 - our own literal
    assert view.copy_selection("base64") and clip.text() == base64.b64encode(data[:5]).decode()
    assert "copied 5 bytes" in view.last_message

    view.select(6, 20)
    assert view.copy_selection("c")
    row1 = ", ".join(f"0x{b:02x}" for b in range(0x80, 0x90))
    row2 = ", ".join(f"0x{b:02x}" for b in range(0x90, 0x94))
    assert clip.text() == f"unsigned char data[] = {{\n    {row1},\n    {row2}\n}};"
    with pytest.raises(ValueError):
        view.copy_selection("rot13")


def test_ctrl_c_copies_hex(make_view, qtbot, tmp_path: Path) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    view, _ = make_view(write(tmp_path, b"\xde\xad\xbe\xef" * 4))
    view.select(1, 3)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.clipboard().text() == "ad be ef"


def test_copy_is_capped(make_view, tmp_path: Path) -> None:
    from PySide6.QtWidgets import QApplication

    from viewer.gui.hexview import MAX_COPY

    path = tmp_path / "big.img"
    with open(path, "wb") as fh:
        fh.truncate(MAX_COPY + 100)
    view, _ = make_view(path)
    QApplication.clipboard().setText("before")
    messages: list[str] = []
    view.sig_status.connect(messages.append)
    view.select(0, MAX_COPY + 1)
    assert not view.copy_selection("hex")
    assert QApplication.clipboard().text() == "before"
    assert messages and "16 MiB" in messages[-1] and f"{MAX_COPY + 1:,}" in messages[-1]
    view.select(0, MAX_COPY)
    assert view.copy_selection("base64")
    assert len(QApplication.clipboard().text()) == (MAX_COPY + 2) // 3 * 4


def test_copying_a_secret_asks_first(make_view, tmp_path: Path) -> None:
    from PySide6.QtWidgets import QApplication

    from viewer.gui.hexview import Highlight
    from viewer.gui.palette import role_color

    view, _ = make_view(write(tmp_path, bytes(range(256))))
    view.set_highlights(
        [
            Highlight(0x40, 32, role_color("symmetric-key"), "AES-128 key", "key", secret=True),
            Highlight(0x10, 8, role_color("bookmark"), "bookmark", "bookmark"),
        ]
    )
    asked: list[str] = []
    answer = False

    def confirm(text: str) -> bool:
        asked.append(text)
        return answer

    view.confirm_secret_copy = confirm
    clip = QApplication.clipboard()
    clip.setText("unchanged")

    view.select(0x10, 8)  # only the bookmark: no question
    assert view.copy_selection("hex") and not asked
    clip.setText("unchanged")

    view.select(0x3E, 4)  # overlaps the key by two bytes
    assert not view.copy_selection("hex")
    assert clip.text() == "unchanged"
    assert len(asked) == 1 and "AES-128 key" in asked[0]
    assert "secret" in view.last_message

    answer = True
    assert view.copy_selection("python")
    assert clip.text() == 'b"\\x3e\\x3f\\x40\\x41"'
    assert len(asked) == 2


def test_context_menu_offers_the_copy_formats(make_view, tmp_path: Path) -> None:
    from PySide6.QtWidgets import QApplication

    view, _ = make_view(write(tmp_path, b"\x01\x02\x03\x04"))
    view.select(1, 2)
    menu = view.context_menu()
    titles = [a.text() for a in menu.actions()]
    assert titles == ["Copy as hex", "Copy as C array", "Copy as Python bytes", "Copy as Base64"]
    assert all(a.isEnabled() for a in menu.actions())
    menu.actions()[2].trigger()
    assert QApplication.clipboard().text() == 'b"\\x02\\x03"'
    view.set_dump(None)
    assert not any(a.isEnabled() for a in view.context_menu().actions())
