"""The minimap beside a hex view (ImHex-style): the whole file as a strip — region kind at the left,
entropy as a heat colour at the right, findings as marks across — with the hex view's visible rows
framed. Click or drag to go there; hover names the finding under the pointer.

Painted from a :class:`~viewer.workspace.minimap.Strip` (Qt-free) cached in a pixmap: rebuilt only when
the dump, its entropy, its findings, the height or the theme change; scrolling the hex view repaints
only the frame.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from viewer.gui.entropy_plot import finding_colour, kind_colour
from viewer.gui.palette import is_dark
from viewer.gui.plain import tip
from viewer.workspace import minimap as mm

WIDTH = 30
KIND_BAND = 9  # pixels of region kind at the left; the rest is entropy
HEAT = ((0.0, (24, 30, 70)), (3.0, (30, 90, 160)), (5.5, (40, 170, 120)), (7.0, (235, 200, 40)), (8.0, (225, 50, 40)))


def heat(bits: float | None) -> QColor:
    """The colour of an entropy (0..8 bits/byte); grey while not known."""
    if bits is None:
        return QColor(128, 128, 128, 70)
    bits = max(0.0, min(8.0, float(bits)))
    for (x0, c0), (x1, c1) in zip(HEAT, HEAT[1:], strict=False):
        if bits <= x1:
            t = (bits - x0) / (x1 - x0) if x1 > x0 else 0.0
            return QColor(*(round(a + (b - a) * t) for a, b in zip(c0, c1, strict=True)))
    return QColor(*HEAT[-1][1])


class Minimap(QWidget):
    """The strip of one dump, following one hex view."""

    sig_offset_clicked = Signal(object)  # file offset (Python int) the examiner clicked or dragged to

    def __init__(self, hexview: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("minimap")
        self.setFixedWidth(WIDTH)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.setToolTip("Minimap: region kind (left), entropy (right: blue low, red high), findings as marks; "
                        "click or drag to go there")
        self.hexview = hexview
        self.dump: Any = None
        self.pyramid: Any = None
        self.findings: list[Any] = []
        self.strip: mm.Strip | None = None
        self._pixmap: QPixmap | None = None
        self._dark: bool | None = None
        self._dragging = False
        hexview.viewport().installEventFilter(self)  # its paints (scrolls) move the frame

    # -- inputs ----------------------------------------------------------------------------------
    def set_dump(self, dump: Any) -> None:
        self.dump, self.pyramid, self.findings = dump, None, []
        self._invalidate()

    def set_pyramid(self, pyramid: Any) -> None:
        self.pyramid = pyramid
        self._invalidate()

    def set_findings(self, findings: Any) -> None:
        findings = list(findings)
        if len(findings) == len(self.findings) and all(a is b for a, b in zip(findings, self.findings, strict=True)):
            return  # the same findings (the highlights changed for another reason): keep the strip
        self.findings = findings
        self._invalidate()

    def _invalidate(self) -> None:
        self.strip, self._pixmap = None, None
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(WIDTH, 200)

    # -- the strip -------------------------------------------------------------------------------
    def current_strip(self) -> mm.Strip:
        rows = max(1, self.height())
        if self.strip is None or self.strip.rows != rows:
            size = int(self.dump.size) if self.dump is not None else 0
            region_at = self.dump.region_at if self.dump is not None else None
            self.strip = mm.build_strip(size, rows, region_at, self.pyramid, self.findings)
            self._pixmap = None
        return self.strip

    def _render(self, strip: mm.Strip) -> QPixmap:
        pixmap = QPixmap(self.width(), max(1, strip.rows))
        pixmap.fill(self.palette().base().color())
        p = QPainter(pixmap)
        try:
            for row in range(strip.rows):
                kind = strip.kinds[row] if row < len(strip.kinds) else None
                if kind is not None:
                    p.fillRect(0, row, KIND_BAND, 1, QColor(*kind_colour(kind)))
                bits = strip.entropy[row] if row < len(strip.entropy) else None
                p.fillRect(KIND_BAND + 1, row, self.width() - KIND_BAND - 1, 1, heat(bits))
            for first, last, f in strip.marks:
                colour = finding_colour(f)
                p.fillRect(0, first, self.width(), max(2, last - first + 1), colour)
        finally:
            p.end()
        return pixmap

    def visible_frame(self) -> QRect | None:
        """The rows of the strip the hex view shows now."""
        hexv, strip = self.hexview, self.strip
        if self.dump is None or strip is None or not self.dump.size:
            return None
        rows = hexv.visible_rows()
        if not rows:
            return None
        bpr = hexv.bytes_per_row()
        first = mm.row_of(strip.size, strip.rows, rows.start * bpr)
        last = mm.row_of(strip.size, strip.rows, min(strip.size - 1, rows.stop * bpr - 1))
        return QRect(0, first, self.width() - 1, max(3, last - first + 1))

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        strip = self.current_strip()
        dark = is_dark()
        if self._pixmap is None or self._dark != dark:
            self._dark = dark
            self._pixmap = self._render(strip)
        p = QPainter(self)
        try:
            p.drawPixmap(0, 0, self._pixmap)
            frame = self.visible_frame()
            if frame is not None:
                p.setPen(QPen(QColor(255, 255, 255) if dark else QColor(0, 0, 0), 1))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawRect(frame)
        finally:
            p.end()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Paint:
            self.update()  # the hex view scrolled or changed: the frame follows (the pixmap is kept)
        return False

    # -- navigation ------------------------------------------------------------------------------
    def offset_at(self, y: float) -> int | None:
        if self.dump is None or not self.dump.size:
            return None
        strip = self.current_strip()
        return mm.offset_at(strip.size, strip.rows, y)

    def go_to_y(self, y: float, *, move_cursor: bool) -> int | None:
        """Scroll the hex view so the bytes at pixel row ``y`` are in its middle (``move_cursor``: the cursor
        goes there too, as after a click); the offset, None without a dump."""
        offset = self.offset_at(y)
        if offset is None:
            return None
        hexv = self.hexview
        row = offset // hexv.bytes_per_row()
        hexv.scroll_to_row(row - hexv.page_rows() // 2)
        if move_cursor:
            self.sig_offset_clicked.emit(offset)
        return offset

    def hover_text(self, y: float) -> str:
        offset = self.offset_at(y)
        if offset is None:
            return ""
        strip = self.current_strip()
        row = max(0, min(int(y), strip.rows - 1))
        parts = [f"{offset:#x}"]
        kind = strip.kinds[row] if row < len(strip.kinds) else None
        if kind:
            parts.append(kind)
        bits = strip.entropy[row] if row < len(strip.entropy) else None
        if bits is not None:
            parts.append(f"entropy up to {bits:.2f}")
        marks = mm.marks_at(strip, row)
        text = ", ".join(parts)
        if marks:
            text += "\n" + "\n".join(f"{f.kind} at {f.offset:#x} ({f.length} bytes)" for f in marks[:5])
            if len(marks) > 5:
                text += f"\n… {len(marks) - 5} more"
        return text

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.LeftButton:
            self._dragging = True
            self.go_to_y(event.position().y(), move_cursor=False)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        y = event.position().y()
        if self._dragging:
            self.go_to_y(y, move_cursor=False)
        else:
            QToolTip.showText(event.globalPosition().toPoint(), tip(self.hover_text(y)), self)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.LeftButton and self._dragging:
            self._dragging = False
            self.go_to_y(event.position().y(), move_cursor=True)


__all__ = ["Minimap", "heat"]
