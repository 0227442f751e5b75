"""One open dump in the window: its hex view and everything the examiner did with it in this session.

The docks (structure, regions, findings, entropy, inspector, details) are shared by all tabs and are
re-pointed at the current tab's state when the tab changes; the state itself lives here, so switching
tabs loses nothing (findings, selection, bookmarks, search hits, the hash when it is done).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from viewer.evidence import Dump
from viewer.gui.hexview import HexView, Highlight, color_for_kind
from viewer.scan.finding import Finding

SELECTION_COLOR = QColor(80, 140, 255, 90)
PUBLIC_COLOR = QColor(120, 160, 200, 90)
CREDENTIAL_KINDS = {"jwt", "api-token", "aws-credentials", "aws-access-key-id", "password-in-url",
                    "gcp-service-account-key", "dpapi-blob", "pkcs12"}
KEY_KINDS = {"aes-key", "symmetric-key", "hmac-secret", "ssh-agent-prekey"}


def finding_color(finding: Finding) -> QColor:
    """Red for key material, magenta for credentials, grey-blue for public context, orange otherwise."""
    if not finding.secret:
        return QColor(PUBLIC_COLOR)
    if finding.kind.endswith("private-key") or finding.kind in KEY_KINDS:
        return color_for_kind("key")
    if finding.kind in CREDENTIAL_KINDS:
        return color_for_kind("credential")
    return color_for_kind("finding")
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
        self.legend = QLabel()
        self.legend.setObjectName("hex-legend")
        self.legend.setContentsMargins(6, 2, 6, 2)
        self.legend.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.hex, 1)
        layout.addWidget(self.legend)

    def refresh_highlights(self) -> None:
        """Findings (by kind), bookmarks, search hits and the selected field, painted in that order."""
        marks: list[Highlight] = []
        for f in self.findings:
            marks.append(
                Highlight(f.offset, f.length, finding_color(f), f"{f.kind} ({f.encoding}, {f.confidence})",
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
        self._update_legend({m.kind: m.color for m in marks})

    def _update_legend(self, colors: dict[str, QColor]) -> None:
        """A legend of the highlight colours present (findings by kind, bookmarks, search hits)."""
        if not colors:
            self.legend.hide()
            return
        items = []
        for kind in sorted(colors):
            c = colors[kind]
            swatch = f"rgba({c.red()},{c.green()},{c.blue()},{max(c.alpha(), 160)})"
            items.append(f'<span style="background:{swatch}">&nbsp;&nbsp;&nbsp;</span>&nbsp;{kind}')
        self.legend.setText("&nbsp;&nbsp;&nbsp;".join(items))
        self.legend.show()

    def legend_kinds(self) -> list[str]:
        """The kinds the legend shows (for tests and screen readers)."""
        return sorted({h.kind for h in self.hex.highlights()})
