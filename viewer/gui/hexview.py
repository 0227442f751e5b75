"""The hex view: a custom-painted widget over the dump's read-only mapping.

Why a custom widget and not a QTableView: a dump can be many GB, i.e. hundreds of millions of rows. An
item view asks its model about every row it lays out, and QScrollBar counts in int32. This widget keeps
its own exact position (``_top_row``, a Python int) and paints only the rows that are visible, reading
just those bytes with ``dump.read``; memory use does not depend on the file size.

The scroll bar is only a *view* of that position: when a file has more rows than :data:`BAR_STEPS`, one
bar step stands for several rows (``row = value * max_top // bar_max``), so dragging the thumb to the end
still shows the last row, while the keyboard, the wheel and the bar's arrow buttons move by exact rows.

Highlights (findings, the selected structure field, search hits, bookmarks) are kept in an interval
index (:mod:`viewer.workspace.highlights`, Qt-free) so that painting a page costs in proportion to the
highlights on that page, not to how many were set; their colours come from the palette
(:mod:`viewer.gui.palette`). Offsets in signals are Python ints (``Signal(object)``): dumps exceed
the 2 GiB a C++ ``int`` can carry.
"""

from __future__ import annotations

import base64
import bisect
import math
from collections.abc import Callable, Sequence

from PySide6.QtCore import QEvent, QLineF, QPoint, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QFont,
    QFontDatabase,
    QFontMetricsF,
    QHelpEvent,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSlider,
    QApplication,
    QMenu,
    QMessageBox,
    QToolTip,
    QWidget,
)

from viewer.evidence.model import Dump, Region
from viewer.gui.plain import ask, tip
from viewer.workspace.highlights import Highlight, IntervalIndex

__all__ = ["COPY_FORMATS", "HexView", "Highlight", "IntervalIndex", "MAX_COPY", "format_copy"]

BAR_STEPS = 1 << 24  # beyond this many scroll positions, one bar step stands for several rows
MAX_COPY = 16 * 1024 * 1024  # clipboard copies are refused above this (hex text would be 3x as big)
WHEEL_ROWS = 3  # rows per wheel notch
GROUP = 8  # bytes per visual group in the hex column
ADDR_GAP = 2  # characters between address and hex, and between hex and text
NAME_CHARS = 28  # room for region names at the right margin (vaddr mode)
MARGIN = 4  # pixels left of the address column

COPY_FORMATS = {
    "hex": "Copy as hex",
    "c": "Copy as C array",
    "python": "Copy as Python bytes",
    "base64": "Copy as Base64",
}

def _ascii(b: int) -> str:
    return chr(b) if 0x20 <= b < 0x7F else "."


def _utf16_unit(lo: int, hi: int | None) -> str:
    """One UTF-16LE code unit as one character cell ("." for controls, surrogates, half units)."""
    if hi is None:
        return "."
    u = lo | (hi << 8)
    if 0xD800 <= u <= 0xDFFF:
        return "."
    ch = chr(u)
    return ch if ch.isprintable() and ch != "\u00ad" else "."


def format_copy(data: bytes, fmt: str) -> str:
    """Clipboard text of ``data`` in one of :data:`COPY_FORMATS`."""
    # Built with bytes.hex and str.replace (C loops): 16 MiB must not become 16 million small strings.
    if fmt == "hex":
        return data.hex(" ")
    if fmt == "c":

        def items(chunk: bytes) -> str:
            return "0x" + chunk.hex(" ").replace(" ", ", 0x") if chunk else ""

        if len(data) <= 16:
            return "unsigned char data[] = {" + items(data) + "};"
        lines = [items(data[i : i + 16]) for i in range(0, len(data), 16)]
        return "unsigned char data[] = {\n    " + ",\n    ".join(lines) + "\n};"
    if fmt == "python":
        return 'b"' + ("\\x" + data.hex(" ").replace(" ", "\\x") if data else "") + '"'
    if fmt == "base64":
        return base64.b64encode(data).decode("ascii")
    raise ValueError(f"unknown copy format {fmt!r} (one of {', '.join(COPY_FORMATS)})")


class HexView(QAbstractScrollArea):
    """Hex + text view of a dump with address modes, highlights, selection, copy and tooltips."""

    sig_cursor_moved = Signal(object)  # file offset of the cursor byte
    sig_selection_changed = Signal(object, object)  # file offset, length (always >= 1 with a dump)
    sig_status = Signal(str)  # one line for the status bar: why a copy was refused, what was copied

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.dump: Dump | None = None
        self._bpr = 16
        self._address_mode = "offset"
        self._text_mode = "ascii"
        self._top_row = 0
        self._cursor = 0
        self._anchor = 0
        self._dragging = False
        self._wheel_acc = 0
        self._highlights: list[Highlight] = []
        self._hl_index = IntervalIndex([])
        self._regions: list[Region] = []
        self._region_starts: list[int] = []
        self._region_ends: list[int] = []  # sorted separately: ends of the same regions
        self._vaddr_digits = 8
        self.last_message = ""
        self.paint_stats = {"rows": 0, "bytes_read": 0, "highlights_considered": 0, "index_nodes": 0}
        # Configuration, replaceable by the caller (and by tests): asked before copying secret bytes.
        self.confirm_secret_copy: Callable[[str], bool] = self._ask_secret_copy

        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setFixedPitch(True)
        self.setFont(font)
        self.viewport().setFont(font)
        self._update_metrics()

        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.viewport().setMouseTracking(False)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.verticalScrollBar().valueChanged.connect(self._on_vbar_value)
        self.verticalScrollBar().actionTriggered.connect(self._on_vbar_action)
        self.horizontalScrollBar().valueChanged.connect(self.viewport().update)

    # -- configuration ---------------------------------------------------------------------------
    def set_dump(self, dump: Dump | None) -> None:
        """Show ``dump`` (or nothing). The view never closes the dump: its owner does."""
        self.dump = dump
        self._top_row = 0
        self._cursor = self._anchor = 0
        regions = sorted(
            (r for r in (dump.regions if dump else []) if r.size > 0), key=lambda r: r.file_offset
        )
        self._regions = regions
        self._region_starts = [r.file_offset for r in regions]
        self._region_ends = sorted(r.end for r in regions)
        top_va = max((r.vaddr + r.size - 1 for r in regions if r.vaddr is not None), default=0)
        self._vaddr_digits = max(8, len(f"{top_va:x}"))
        self._layout_changed()
        if dump is not None:  # not on None: a closing tab must not report offset 0 to the window
            self.sig_cursor_moved.emit(self._cursor)
            self.sig_selection_changed.emit(*self.selection())

    def set_address_mode(self, mode: str) -> None:
        """``"offset"``: file offsets; ``"vaddr"``: virtual addresses, region boundaries and names."""
        if mode not in ("offset", "vaddr"):
            raise ValueError(f"address mode must be 'offset' or 'vaddr', not {mode!r}")
        self._address_mode = mode
        self._layout_changed()

    def address_mode(self) -> str:
        return self._address_mode

    def set_bytes_per_row(self, n: int) -> None:
        if n not in (16, 32):
            raise ValueError(f"bytes per row must be 16 or 32, not {n!r}")
        self._bpr = n
        self._layout_changed()
        self._ensure_visible(self._cursor)

    def bytes_per_row(self) -> int:
        return self._bpr

    def set_text_mode(self, mode: str) -> None:
        """``"ascii"``: one character per byte; ``"utf16"``: one per UTF-16LE code unit."""
        if mode not in ("ascii", "utf16"):
            raise ValueError(f"text mode must be 'ascii' or 'utf16', not {mode!r}")
        self._text_mode = mode
        self._layout_changed()

    def text_mode(self) -> str:
        return self._text_mode

    def set_highlights(self, highlights: Sequence[Highlight]) -> None:
        """Replace all highlights (later ones paint on top of earlier ones)."""
        self._highlights = list(highlights)
        self._hl_index = IntervalIndex(self._highlights)
        self.viewport().update()

    def highlights(self) -> list[Highlight]:
        return list(self._highlights)

    def highlights_in(self, offset: int, length: int) -> list[Highlight]:
        """Highlights overlapping [offset, offset+length), through the interval index."""
        return self._hl_index.query(offset, offset + length)

    # -- geometry --------------------------------------------------------------------------------
    def _update_metrics(self) -> None:
        # Fractional advance: DejaVu Sans Mono at 9 pt is 7.22 px wide, and rounding to 7 would make
        # the text drift one character left of its column within a 48-character hex row.
        fm = QFontMetricsF(self.font())
        self._cw = max(1.0, fm.horizontalAdvance("0" * 64) / 64)
        self._ch = max(1, math.ceil(fm.height()))
        self._ascent = fm.ascent()
        self._glyphs: dict[str, bool] = {}
        self._fm = fm

    def preferred_width(self) -> int:
        """Pixels the view needs to show a whole row (address, hex, text; region names in vaddr mode)
        with its scroll bar: what the window leaves it when it lays out its docks."""
        bar = self.style().pixelMetric(self.style().PixelMetric.PM_ScrollBarExtent)
        return math.ceil(2 * MARGIN + self._total_chars() * self._cw) + bar + 2 * self.frameWidth()

    def _addr_digits(self) -> int:
        size = self.dump.size if self.dump else 0
        digits = max(8, len(f"{max(0, size - 1):x}"))
        return max(digits, self._vaddr_digits) if self._address_mode == "vaddr" else digits

    def _hex_col(self) -> int:
        return self._addr_digits() + ADDR_GAP

    def _hex_width(self) -> int:
        return self._bpr * 3 + self._bpr // GROUP - 2

    def _text_col(self) -> int:
        return self._hex_col() + self._hex_width() + ADDR_GAP

    def _text_width(self) -> int:
        return self._bpr if self._text_mode == "ascii" else self._bpr // 2

    def _name_col(self) -> int:
        return self._text_col() + self._text_width() + ADDR_GAP

    def _total_chars(self) -> int:
        return self._name_col() + (NAME_CHARS if self._address_mode == "vaddr" else 0)

    @staticmethod
    def _byte_hex_col(i: int) -> int:
        """Column of byte ``i`` of a row inside the hex area (a space every byte, two every group)."""
        return i * 3 + i // GROUP

    def row_count(self) -> int:
        return 0 if not self.dump else (self.dump.size + self._bpr - 1) // self._bpr

    def page_rows(self) -> int:
        """Rows that fit fully in the viewport (at least 1)."""
        return max(1, self.viewport().height() // self._ch)

    def _max_top(self) -> int:
        return max(0, self.row_count() - self.page_rows())

    def top_row(self) -> int:
        return self._top_row

    def visible_rows(self) -> range:
        """Rows painted now (the last may be partly visible)."""
        n = self.viewport().height() // self._ch + 1
        return range(self._top_row, min(self.row_count(), self._top_row + n))

    def _layout_changed(self) -> None:
        self._update_metrics()
        self._top_row = min(self._top_row, self._max_top())
        self._sync_bars()
        self.viewport().update()

    # -- scrolling -------------------------------------------------------------------------------
    def _bar_max(self) -> int:
        return min(self._max_top(), BAR_STEPS)

    def _bar_value(self, row: int) -> int:
        max_top, bar_max = self._max_top(), self._bar_max()
        return row if max_top <= bar_max else row * bar_max // max_top

    def _row_for_bar(self, value: int) -> int:
        max_top, bar_max = self._max_top(), self._bar_max()
        return value if max_top <= bar_max else value * max_top // bar_max

    def _sync_bars(self) -> None:
        bar = self.verticalScrollBar()
        bar_max = self._bar_max()
        bar.blockSignals(True)
        bar.setRange(0, bar_max)
        scaled = self._max_top() > bar_max
        bar.setPageStep(
            max(1, self.page_rows() * bar_max // max(1, self._max_top())) if scaled else self.page_rows()
        )
        bar.setSingleStep(1)
        bar.setValue(self._bar_value(self._top_row))
        bar.blockSignals(False)
        hbar = self.horizontalScrollBar()
        content = math.ceil(MARGIN + self._total_chars() * self._cw + MARGIN)
        hbar.setRange(0, max(0, content - self.viewport().width()))
        hbar.setPageStep(max(1, self.viewport().width()))
        hbar.setSingleStep(self._cw)

    def scroll_to_row(self, row: int) -> None:
        """Make ``row`` the top row (clamped), exactly, whatever the bar can represent."""
        row = max(0, min(int(row), self._max_top()))
        if row != self._top_row:
            self._top_row = row
            bar = self.verticalScrollBar()
            bar.blockSignals(True)
            bar.setValue(self._bar_value(row))
            bar.blockSignals(False)
            self.viewport().update()

    def _on_vbar_value(self, value: int) -> None:
        # Only a value the current row does not map to comes from the user (thumb drag, click).
        if value != self._bar_value(self._top_row):
            self._top_row = max(0, min(self._row_for_bar(value), self._max_top()))
            self.viewport().update()

    def _on_vbar_action(self, action: int) -> None:
        """Arrow buttons and page clicks move by exact rows even when the bar is scaled."""
        A = QAbstractSlider.SliderAction
        steps = {
            A.SliderSingleStepAdd.value: 1,
            A.SliderSingleStepSub.value: -1,
            A.SliderPageStepAdd.value: self.page_rows(),
            A.SliderPageStepSub.value: -self.page_rows(),
        }
        delta = steps.get(getattr(action, "value", action))
        if delta is None:
            return
        row = max(0, min(self._top_row + delta, self._max_top()))
        self._top_row = row
        self.verticalScrollBar().setSliderPosition(self._bar_value(row))
        self.viewport().update()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        dy = event.angleDelta().y()
        if dy == 0 or event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            super().wheelEvent(event)  # horizontal scrolling through the (unscaled) horizontal bar
            return
        self._wheel_acc += dy
        notches = int(self._wheel_acc / 120)
        if notches:
            self._wheel_acc -= notches * 120
            self.scroll_to_row(self._top_row - notches * WHEEL_ROWS)
        event.accept()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self.viewport().setFont(self.font())
            self._layout_changed()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._top_row = min(self._top_row, self._max_top())
        self._sync_bars()

    def _ensure_visible(self, offset: int) -> None:
        row = offset // self._bpr
        full = self.page_rows()
        if row < self._top_row:
            self.scroll_to_row(row)
        elif row >= self._top_row + full:
            self.scroll_to_row(row - full + 1)

    def _center_on(self, offset: int) -> None:
        self.scroll_to_row(offset // self._bpr - self.page_rows() // 2)

    # -- text of a row (what paint draws) --------------------------------------------------------
    def address_text(self, row: int) -> tuple[str, bool]:
        """Address column of ``row`` and whether it is "live" (False: an offset shown greyed).

        In vaddr mode a row whose first byte lies in memory shows that byte's virtual address; a row
        outside memory shows its file offset, greyed, so it is never mistaken for an address.
        """
        digits = self._addr_digits()
        off = row * self._bpr
        if self._address_mode == "vaddr" and self.dump is not None:
            va = self.dump.file_to_va(off)
            if va is not None:
                return f"{va:0{digits}x}", True
            return f"{off:0{digits}x}", False
        return f"{off:0{digits}x}", True

    def _hex_text(self, data: bytes) -> str:
        groups = [data[i : i + GROUP].hex(" ") for i in range(0, len(data), GROUP)]
        return "  ".join(groups).ljust(self._hex_width())

    def _text_cells(self, data: bytes) -> str:
        if self._text_mode == "ascii":
            return "".join(_ascii(b) for b in data)
        return "".join(
            _utf16_unit(data[i], data[i + 1] if i + 1 < len(data) else None) for i in range(0, len(data), 2)
        )

    def row_text(self, row: int, data: bytes | None = None) -> str:
        """The row as painted: address, hex bytes (grouped by 8, padded), text column.

        Paint draws exactly these pieces at their character columns, so testing this tests what is shown.
        """
        if self.dump is None or not 0 <= row < self.row_count():
            return ""
        if data is None:
            data = self.dump.read(row * self._bpr, self._bpr)
        addr, _live = self.address_text(row)
        return addr + " " * ADDR_GAP + self._hex_text(data) + " " * ADDR_GAP + self._text_cells(data)

    # -- painting --------------------------------------------------------------------------------
    def _x(self, col: float) -> float:
        return MARGIN + col * self._cw - self.horizontalScrollBar().value()

    def _fill_range(self, p: QPainter, start: int, end: int, first: int, rows: range, color: QColor) -> None:
        """Background of bytes [start, end) in both the hex and the text column of the visible rows."""
        bpr = self._bpr
        start = max(start, rows.start * bpr)
        end = min(end, rows.stop * bpr)
        hex_col, text_col = self._hex_col(), self._text_col()
        unit = 1 if self._text_mode == "ascii" else 2
        off = start
        while off < end:
            row = off // bpr
            c0 = off - row * bpr
            c1 = min(end - row * bpr, bpr) - 1
            y = (row - first) * self._ch
            x0 = self._x(hex_col + self._byte_hex_col(c0))
            x1 = self._x(hex_col + self._byte_hex_col(c1) + 2)
            p.fillRect(QRectF(x0, y, x1 - x0, self._ch), color)
            t0 = self._x(text_col + c0 // unit)
            t1 = self._x(text_col + c1 // unit + 1)
            p.fillRect(QRectF(t0, y, t1 - t0, self._ch), color)
            off = (row + 1) * bpr

    def _boundary(self, p: QPainter, offset: int, first: int, pen: QPen) -> None:
        """A step line at a region start/end: above the row from its column on, below it before."""
        row, col = divmod(offset, self._bpr)
        y = (row - first) * self._ch
        unit = 1 if self._text_mode == "ascii" else 2
        hex_col, text_col = self._hex_col(), self._text_col()
        areas = (  # (left edge, edge before byte `col`, right edge) of the hex and the text column
            (hex_col - 0.5, hex_col + self._byte_hex_col(col) - 0.5, hex_col + self._hex_width() + 0.5),
            (text_col, text_col + col // unit, text_col + self._text_width()),
        )
        p.setPen(pen)
        for left_col, at_col, right_col in areas:
            left, xc, right = self._x(left_col), self._x(at_col), self._x(right_col)
            p.drawLine(QLineF(xc, y, right, y))
            if col:
                p.drawLine(QLineF(xc, y, xc, y + self._ch))
                p.drawLine(QLineF(left, y + self._ch, xc, y + self._ch))

    def _has_glyph(self, ch: str) -> bool:
        """Whether the font (or a fallback) can draw ``ch``; random UTF-16 would otherwise be boxes."""
        known = self._glyphs.get(ch)
        if known is None:
            known = self._glyphs[ch] = self._fm.inFontUcs4(ord(ch))
        return known

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        p = QPainter(self.viewport())
        pal = self.palette()
        p.fillRect(event.rect(), pal.base())
        p.setFont(self.font())
        stats = {"rows": 0, "bytes_read": 0, "highlights_considered": 0, "index_nodes": 0}
        self.paint_stats = stats
        if self.dump is None or self.row_count() == 0:
            p.setPen(pal.placeholderText().color())
            message = "No dump open" if self.dump is None else "The file is empty"
            p.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter, message)
            return
        rows = self.visible_rows()
        bpr = self._bpr
        first = rows.start
        start, end = rows.start * bpr, min(self.dump.size, rows.stop * bpr)
        data = self.dump.read(start, end - start)
        stats["rows"] = len(rows)
        stats["bytes_read"] = len(data)

        # Address column background, so the eye separates it from the bytes.
        addr_right = self._x(self._hex_col() - ADDR_GAP / 2)
        p.fillRect(QRectF(0, 0, max(0.0, addr_right), self.viewport().height()), pal.alternateBase())

        for h in self._hl_index.query(start, end):
            self._fill_range(p, h.offset, h.end, first, rows, h.color)
        stats["highlights_considered"] = self._hl_index.last_considered
        stats["index_nodes"] = self._hl_index.last_visited

        sel_off, sel_len = self.selection()
        sel_color = QColor(pal.highlight().color())
        sel_color.setAlpha(110)
        self._fill_range(p, sel_off, sel_off + sel_len, first, rows, sel_color)

        text_pen = pal.text().color()
        base = pal.base().color()
        grey = QColor(
            (text_pen.red() + base.red()) // 2,
            (text_pen.green() + base.green()) // 2,
            (text_pen.blue() + base.blue()) // 2,
        )
        hex_col, text_col = self._hex_col(), self._text_col()
        for row in rows:
            chunk = data[(row - first) * bpr : (row - first + 1) * bpr]
            y = (row - first) * self._ch + self._ascent
            addr, live = self.address_text(row)
            p.setPen(text_pen if live else grey)
            p.drawText(QPointF(self._x(0), y), addr)
            p.setPen(text_pen)
            p.drawText(QPointF(self._x(hex_col), y), self._hex_text(chunk))
            cells = self._text_cells(chunk)
            if cells.isascii():
                p.drawText(QPointF(self._x(text_col), y), cells)
            else:  # wide or combining characters must not push later cells out of their columns
                for i, ch in enumerate(cells):
                    p.drawText(QPointF(self._x(text_col + i), y), ch if self._has_glyph(ch) else ".")

        # The cursor byte: a frame in both columns.
        if rows.start * bpr <= self._cursor < rows.stop * bpr:
            row, c = divmod(self._cursor, bpr)
            y = (row - first) * self._ch
            unit = 1 if self._text_mode == "ascii" else 2
            p.setPen(QPen(pal.highlight().color(), 1))
            x = self._x(hex_col + self._byte_hex_col(c))
            p.drawRect(QRectF(x, y, 2 * self._cw, self._ch - 1))
            x = self._x(text_col + c // unit)
            p.drawRect(QRectF(x, y, self._cw, self._ch - 1))

        if self._address_mode == "vaddr":
            self._paint_regions(p, start, end, first)
        p.end()

    def _paint_regions(self, p: QPainter, start: int, end: int, first: int) -> None:
        """Region starts and ends on this page as step lines; names at the right margin."""
        mem_pen = QPen(QColor(30, 90, 200), 1)
        other_pen = QPen(QColor(150, 150, 150), 1, Qt.PenStyle.DashLine)
        i0 = bisect.bisect_left(self._region_starts, start)
        i1 = bisect.bisect_right(self._region_starts, end)
        starting = self._regions[i0:i1]
        e0 = bisect.bisect_left(self._region_ends, start + 1)
        e1 = bisect.bisect_right(self._region_ends, end)
        starts = {r.file_offset for r in starting}
        for off in sorted(set(self._region_ends[e0:e1]) - starts):
            if off < self.dump.size:
                r = self.dump.region_at(off)
                live = r is not None and r.vaddr is not None
                self._boundary(p, off, first, mem_pen if live else other_pen)
        names: dict[int, list[str]] = {}
        for r in starting:
            self._boundary(p, r.file_offset, first, mem_pen if r.vaddr is not None else other_pen)
            names.setdefault(r.file_offset // self._bpr, []).append(r.name or r.kind)
        p.setPen(QColor(30, 90, 200))
        x = self._x(self._name_col())
        for row, labels in names.items():
            text = ", ".join(dict.fromkeys(labels))
            if len(text) > NAME_CHARS:
                text = text[: NAME_CHARS - 1] + "…"
            p.drawText(QPointF(x, (row - first) * self._ch + self._ascent), text)

    # -- hit testing and tooltips ----------------------------------------------------------------
    def offset_at(self, pos: QPoint, clamp: bool = False) -> int | None:
        """File offset of the byte under ``pos`` (viewport coordinates), None outside the bytes.

        With ``clamp`` (mouse drags) a point left/right of the columns, above or below the rows, maps
        to the nearest byte, so a drag can run past the edges.
        """
        if self.dump is None or self.dump.size == 0:
            return None
        col = (pos.x() + self.horizontalScrollBar().value() - MARGIN) / self._cw
        row = self._top_row + int(pos.y() // self._ch) if pos.y() >= 0 else self._top_row - 1
        hex_col, text_col = self._hex_col(), self._text_col()
        unit = 1 if self._text_mode == "ascii" else 2
        if text_col - ADDR_GAP / 2 <= col < text_col + self._text_width() + (ADDR_GAP if clamp else 0):
            i = int(col - text_col) * unit if col >= text_col else 0
        elif hex_col - (hex_col if clamp else 0.5) <= col < text_col - ADDR_GAP / 2:
            c = int(col - hex_col) if col >= hex_col else 0
            g, k = divmod(c, 3 * GROUP + 1)
            i = g * GROUP + min(k // 3, GROUP - 1)
        elif clamp:
            i = 0 if col < hex_col else self._bpr - 1
        else:
            return None
        i = max(0, min(i, self._bpr - 1))
        off = row * self._bpr + i
        if clamp:
            return max(0, min(off, self.dump.size - 1))
        return off if 0 <= row < self.row_count() and off < self.dump.size else None

    def byte_rect(self, offset: int) -> QRect:
        """Viewport rectangle of the byte's hex cell (for tests and tooltips)."""
        row, c = divmod(offset, self._bpr)
        y = (row - self._top_row) * self._ch
        x = self._x(self._hex_col() + self._byte_hex_col(c))
        return QRectF(x, y, 2 * self._cw, self._ch).toRect()

    def tooltip_text(self, offset: int) -> str:
        """What the byte at ``offset`` is: highlight labels, then offset, address and region."""
        if self.dump is None or not 0 <= offset < self.dump.size:
            return ""
        lines = []
        for h in self._hl_index.query(offset, offset + 1):
            rel = offset - h.offset
            secret = " — secret" if h.secret else ""
            lines.append(f"{h.label} [{h.kind}{secret}] byte {rel} of {h.length}")
        lines.append(f"offset 0x{offset:x} ({offset})")
        va = self.dump.file_to_va(offset)
        lines.append(f"vaddr 0x{va:x}" if va is not None else "vaddr: not in captured memory")
        r = self.dump.region_at(offset)
        if r is not None:
            perms = f", {r.perms}" if r.perms else ""
            lines.append(f"region {r.name or '(unnamed)'} ({r.kind}{perms}) +0x{offset - r.file_offset:x}")
        else:
            lines.append("region: none")
        return "\n".join(lines)

    def viewportEvent(self, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.ToolTip:
            assert isinstance(event, QHelpEvent)
            off = self.offset_at(event.pos())
            if off is None:
                QToolTip.hideText()
            else:
                QToolTip.showText(event.globalPos(), tip(self.tooltip_text(off)), self.viewport())
            return True
        return super().viewportEvent(event)

    # -- cursor and selection --------------------------------------------------------------------
    def cursor(self) -> int:  # type: ignore[override] - the byte cursor, not a QCursor
        return self._cursor

    def selection(self) -> tuple[int, int]:
        """(offset, length) of the selection: anchor to cursor inclusive; (0, 0) without bytes."""
        if self.dump is None or self.dump.size == 0:
            return 0, 0
        lo, hi = sorted((self._anchor, self._cursor))
        return lo, hi - lo + 1

    def _set_cursor(self, offset: int, extend: bool, ensure: bool = True) -> None:
        if self.dump is None or self.dump.size == 0:
            return
        offset = max(0, min(int(offset), self.dump.size - 1))
        old_cursor, old_sel = self._cursor, self.selection()
        self._cursor = offset
        if not extend:
            self._anchor = offset
        if ensure:
            self._ensure_visible(offset)
        self._emit_changes(old_cursor, old_sel)

    def _emit_changes(self, old_cursor: int, old_sel: tuple[int, int]) -> None:
        self.viewport().update()
        if self._cursor != old_cursor:
            self.sig_cursor_moved.emit(self._cursor)
        if self.selection() != old_sel:
            self.sig_selection_changed.emit(*self.selection())

    def select(self, offset: int, length: int, center: bool = True, *, top: bool = False) -> bool:
        """Select [offset, offset+length) (clipped to the file; at least one byte); the cursor — and with
        it the inspector and the status bar — on its *first* byte (what was selected starts there).

        ``top`` scrolls the first byte's row to the top of the view (a finding: as much of it as fits is
        shown); ``center`` to the middle (a field, a go-to); otherwise the view scrolls only as far as
        needed. False when ``offset`` is outside the file.
        """
        if self.dump is None or not 0 <= offset < self.dump.size:
            return False
        last = max(offset, min(offset + max(1, length), self.dump.size) - 1)
        old_cursor, old_sel = self._cursor, self.selection()
        self._anchor, self._cursor = last, offset
        if top:
            self.scroll_to_row(offset // self._bpr)
        elif center:
            self._center_on(offset)
        else:
            self._ensure_visible(last)
            self._ensure_visible(offset)
        self._emit_changes(old_cursor, old_sel)
        return True

    def go_to_offset(self, offset: int) -> bool:
        """Cursor (and a one-byte selection) at file ``offset``, centred; False outside the file."""
        return self.select(offset, 1, center=True)

    def go_to_address(self, vaddr: int) -> bool:
        """Like :meth:`go_to_offset` for a virtual address; False when that memory is not in the dump."""
        if self.dump is None:
            return False
        off = self.dump.va_to_file(vaddr)
        return off is not None and self.go_to_offset(off)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if self.dump is None or self.dump.size == 0:
            super().keyPressEvent(event)
            return
        if event.matches(QKeySequence.StandardKey.Copy):
            self.copy_selection("hex")
            return
        mods = event.modifiers()
        extend = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        key = event.key()
        bpr, cur, page = self._bpr, self._cursor, self.page_rows()
        K = Qt.Key
        if key == K.Key_Left:
            target = cur - 1
        elif key == K.Key_Right:
            target = cur + 1
        elif key == K.Key_Up:
            target = cur - bpr if cur >= bpr else cur
        elif key == K.Key_Down:
            target = cur + bpr
        elif key == K.Key_PageDown:
            target = min(cur + page * bpr, self.dump.size - 1)
            self.scroll_to_row(self._top_row + page)
        elif key == K.Key_PageUp:
            target = cur - page * bpr if cur >= page * bpr else cur % bpr
            self.scroll_to_row(self._top_row - page)
        elif key == K.Key_Home:
            target = 0 if ctrl else cur - cur % bpr
        elif key == K.Key_End:
            target = self.dump.size - 1 if ctrl else cur - cur % bpr + bpr - 1
        else:
            super().keyPressEvent(event)
            return
        self._set_cursor(target, extend)
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() != Qt.MouseButton.LeftButton:
            super().mousePressEvent(event)
            return
        off = self.offset_at(event.position().toPoint())
        if off is None:
            return
        extend = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        self._dragging = True
        self._set_cursor(off, extend)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if not self._dragging or not event.buttons() & Qt.MouseButton.LeftButton:
            return
        pos = event.position().toPoint()
        off = self.offset_at(pos, clamp=True)
        if off is not None:
            self._set_cursor(off, extend=True)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.LeftButton and self._dragging:
            self._dragging = False
            off = self.offset_at(event.position().toPoint(), clamp=True)
            if off is not None:
                self._set_cursor(off, extend=True)

    # -- copy ------------------------------------------------------------------------------------
    def _ask_secret_copy(self, text: str) -> bool:
        answer = ask(
            self,
            "Copy secret bytes?",
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _report(self, message: str) -> None:
        self.last_message = message
        self.sig_status.emit(message)

    def copy_selection(self, fmt: str = "hex") -> bool:
        """Put the selected bytes on the clipboard in ``fmt`` (see :data:`COPY_FORMATS`).

        Refused (False, with a message in :attr:`last_message` and ``sig_status``) above
        :data:`MAX_COPY` or when the examiner declines copying bytes of a secret.
        """
        if fmt not in COPY_FORMATS:
            raise ValueError(f"unknown copy format {fmt!r} (one of {', '.join(COPY_FORMATS)})")
        offset, length = self.selection()
        if self.dump is None or length == 0:
            self._report("nothing to copy: no bytes selected")
            return False
        if length > MAX_COPY:
            self._report(
                f"not copied: the selection is {length:,} bytes; the clipboard limit is "
                f"{MAX_COPY // (1024 * 1024)} MiB (export the range to a file instead)"
            )
            return False
        secrets = [h for h in self._hl_index.query(offset, offset + length) if h.secret]
        if secrets:
            names = ", ".join(dict.fromkeys(h.label or h.kind for h in secrets[:5]))
            more = f" and {len(secrets) - 5} more" if len(secrets) > 5 else ""
            question = (
                f"The selection (0x{offset:x}, {length} bytes) contains secret material: {names}{more}.\n"
                "Copy these bytes to the clipboard anyway?"
            )
            if not self.confirm_secret_copy(question):
                self._report("not copied: the selection contains secret material")
                return False
        text = format_copy(self.dump.read(offset, length), fmt)
        QApplication.clipboard().setText(text)
        self._report(f"copied {length:,} bytes at 0x{offset:x} as {fmt}")
        return True

    def context_menu(self) -> QMenu:
        """The right-click menu: the copy formats (disabled without a selection)."""
        menu = QMenu(self)
        has_bytes = self.selection()[1] > 0
        for fmt, title in COPY_FORMATS.items():
            action = menu.addAction(title)
            action.setObjectName(f"copy-{fmt}")
            action.setEnabled(has_bytes)
            action.triggered.connect(lambda _checked=False, f=fmt: self.copy_selection(f))
        return menu

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802 - Qt override
        menu = self.context_menu()
        menu.exec(event.globalPos())
        menu.deleteLater()
