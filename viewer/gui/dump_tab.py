"""One open dump in the window: its hex view and everything the examiner did with it in this session.

The docks (structure, regions, findings, entropy, inspector, details) are shared by all tabs and are
re-pointed at the current tab's state when the tab changes; the state itself lives here, so switching
tabs loses nothing (findings, selection, bookmarks, search hits, the hash when it is done).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ..evidence import Dump
from ..scan.finding import Finding
from .hexview import HexView, Highlight, color_for_kind

SELECTION_COLOR = QColor(80, 140, 255, 90)
SEARCH_COLOR = QColor(255, 220, 0, 140)


@dataclass
class Bookmark:
    """A named, coloured byte range the examiner marked (Ctrl+B)."""

    name: str
    offset: int
    length: int
    color: QColor = field(default_factory=lambda: QColor(170, 90, 255, 110))
    note: str = ""


class DumpTab(QWidget):
    """The hex view of one dump plus that dump's session state."""

    def __init__(self, dump: Dump, token: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.dump = dump
        self.token = token
        self.sha256: str | None = None
        self.findings: list[Finding] = []
        self.scan_result = None
        self.bookmarks: list[Bookmark] = []
        self.search_hits: list[tuple[int, int]] = []
        self.field: tuple[int, int, str] | None = None  # the structure field selected last
        self.hex = HexView(self)
        self.hex.setObjectName("hex-view")
        self.hex.set_dump(dump)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.hex)

    def refresh_highlights(self) -> None:
        """Findings (by kind), bookmarks, search hits and the selected field, painted in that order."""
        marks: list[Highlight] = []
        for f in self.findings:
            marks.append(
                Highlight(f.offset, f.length, color_for_kind(f.kind), f"{f.kind} ({f.encoding}, {f.confidence})",
                          f.kind, secret=f.secret)
            )
        for b in self.bookmarks:
            marks.append(Highlight(b.offset, b.length, b.color, f"bookmark: {b.name}", "bookmark"))
        for off, length in self.search_hits[:10000]:
            marks.append(Highlight(off, length, SEARCH_COLOR, "search hit", "search"))
        if self.field is not None:
            off, length, name = self.field
            marks.append(Highlight(off, length, SELECTION_COLOR, name, "field"))
        self.hex.set_highlights(marks)
