"""One open dump in the window: its hex view and everything the examiner did with it in this session.

The docks (structure, regions, findings, entropy, inspector, details) are shared by all tabs and are
re-pointed at the current tab's state when the tab changes; the state itself is the session's
:class:`~viewer.workspace.session.OpenDump` (Qt-free), so switching tabs loses nothing (findings,
selection, bookmarks, search hits, the hash when it is done).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from viewer.gui.hexview import HexView
from viewer.gui.minimap import Minimap
from viewer.gui.palette import role_color, role_label, swatch_css
from viewer.gui.plain import rich_label
from viewer.workspace.highlights import dump_highlights, legend
from viewer.workspace.session import OpenDump
from viewer.workspace.status import ModuleIndex


def paint_color(role: str, own: Any = None) -> QColor:
    """The QColor a highlight of ``role`` is painted with: its own colour (a bookmark's), else the
    palette's colour of the role in the current theme."""
    return QColor(own) if own is not None else role_color(role)


class DumpTab(QWidget):
    """The hex view of one open dump; that dump's session state is the session's :class:`OpenDump`."""

    def __init__(self, state: OpenDump, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.dump = state.dump
        self.token = state.token
        self.modules = ModuleIndex(self.dump)  # "in module …" on every cursor move, without a scan of regions
        self.range_paths: dict[tuple[int, int], list[int] | None] = {}  # memory range -> its tree node
        self.hex = HexView(self)
        self.hex.setObjectName("hex-view")
        self.hex.set_dump(self.dump)
        self.legend = rich_label()  # swatches: the role labels are the window's own words
        self.legend.setObjectName("hex-legend")
        self.legend.setContentsMargins(6, 2, 6, 2)
        self.legend.hide()
        self.minimap = Minimap(self.hex, self)  # the whole file beside the bytes: entropy, regions, findings
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.hex, 1)
        row.addWidget(self.minimap)
        self.minimap.set_dump(self.dump)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(row, 1)
        layout.addWidget(self.legend)

    def refresh_highlights(self) -> None:
        """Findings (by colour role), bookmarks, search hits and the selected field, painted in that order."""
        state = self.state
        marks = dump_highlights(state.findings, state.bookmarks, state.search_hits, state.field, paint_color)
        self.hex.set_highlights(marks)
        self.minimap.set_findings(state.findings)
        self._update_legend(legend(marks), {m.role: m.color for m in marks})

    def _update_legend(self, kinds: dict[str, list[str]], colors: dict[str, QColor]) -> None:
        """A legend of the colours present: one swatch per colour role, its kinds in the tooltip."""
        if not kinds:
            self.legend.hide()
            return
        items = []
        for role in kinds:
            items.append(f'<span style="background:{swatch_css(colors[role])}">&nbsp;&nbsp;&nbsp;</span>'
                         f"&nbsp;{role_label(role)}")
        self.legend.setText("&nbsp;&nbsp;&nbsp;".join(items))
        self.legend.setToolTip("\n".join(f"{role_label(r)}: {', '.join(n)}" for r, n in kinds.items()))
        self.legend.show()

    def legend_kinds(self) -> list[str]:
        """The kinds the legend shows (for tests and screen readers)."""
        return sorted({h.kind for h in self.hex.highlights()})
