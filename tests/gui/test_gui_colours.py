"""Colours tell kinds apart: the hex view, the findings table and the entropy plot colour each finding by
its kind's colour role (viewer.scan.kinds → viewer.gui.palette), the same role the same colour in all
three, different roles different colours, in the light and the dark theme.

Screenshots go to ``EV_SCREENSHOTS`` (or a temporary folder): colours-hex.png (the hex view with the
findings of the Wine sample marked), colours-grouped.png (the findings grouped by secret),
colours-entropy.png (the entropy plot with its markers)."""

from __future__ import annotations

import pytest

from viewer.evidence import open_dump
from viewer.scan.finding import Confidence, Finding
from viewer.scan.kinds import COLOUR_ROLES
from viewer.workspace.highlights import finding_role


@pytest.fixture(scope="module")
def wine(scanned_samples):
    """The Wine minidump's scan: RSA and EC private keys, AES keys, certificates and public keys."""
    return scanned_samples["wine-keyholder-full.dmp"]


def test_the_palette_tells_every_role_apart_in_both_themes() -> None:
    from viewer.gui.palette import ROLE_COLOURS, role_rgba

    roles = [*COLOUR_ROLES, "field", "search", "bookmark", "other"]
    assert set(COLOUR_ROLES) <= set(ROLE_COLOURS)
    for dark in (False, True):
        colours = [role_rgba(r, dark)[:3] for r in roles]
        for i, a in enumerate(colours):
            for b in colours[i + 1 :]:
                assert sum(abs(x - y) for x, y in zip(a, b, strict=True)) > 60, (dark, a, b)


def test_hex_view_marks_findings_by_role(qtbot, wine, shots) -> None:
    from PySide6.QtGui import QColor

    from viewer.gui.dump_tab import DumpTab
    from viewer.gui.palette import role_color
    from viewer.workspace.session import Session

    findings = wine.result.findings
    roles = {finding_role(f) for f in findings}
    assert len(roles) >= 3, roles  # keys of both kinds and public context
    with open_dump(wine.path) as dump:
        session = Session()
        od = session.add_dump(dump)
        tab = DumpTab(od)
        qtbot.addWidget(tab)
        tab.resize(900, 520)
        tab.show()
        qtbot.waitExposed(tab)
        session.set_findings(od, findings)
        tab.refresh_highlights()
        marks = tab.hex.highlights()
        for f, h in zip(findings, marks, strict=False):
            assert h.color == role_color(finding_role(f)) and h.role == finding_role(f)
        assert len({QColor(h.color).rgba() for h in marks}) == len({h.role for h in marks})
        first = min(findings, key=lambda f: f.offset)
        tab.hex.go_to_offset(first.offset)
        assert tab.legend.isVisible()
        assert tab.grab().save(str(shots / "colours-hex.png"))
        tab.hex.set_dump(None)


def test_findings_table_grouped_shows_role_swatches(qtbot, wine, shots) -> None:
    from PySide6.QtCore import Qt

    from viewer.gui.findings import COL_KIND, FindingsPanel
    from viewer.gui.palette import role_color

    panel = FindingsPanel()
    qtbot.addWidget(panel)
    panel.resize(1000, 420)
    panel.show()
    panel.set_findings(wine.result.findings)
    panel.group_box.setChecked(True)
    tree = panel.tree_model
    for r in range(tree.rowCount()):
        group = tree.group_at(r)
        swatch = tree.index(r, COL_KIND).data(Qt.ItemDataRole.DecorationRole)
        assert swatch == role_color(finding_role(group.best), opaque=True)
    row = panel.model.index(0, COL_KIND).data(Qt.ItemDataRole.DecorationRole)
    assert row == role_color(finding_role(panel.model.finding_at(0)), opaque=True)
    qtbot.wait(50)
    assert panel.grab().save(str(shots / "colours-grouped.png"))


def test_entropy_markers_take_the_role_colours(qtbot, wine, shots) -> None:
    from viewer.gui.entropy_plot import EntropyPlot, finding_colour

    plot = EntropyPlot()
    qtbot.addWidget(plot)
    plot.resize(900, 320)
    plot.show()
    qtbot.waitExposed(plot)
    dump = open_dump(wine.path)
    try:
        with qtbot.waitSignal(plot.sig_ready, timeout=30000):
            plot.set_dump(dump)
        extra = Finding("jwt", "text", dump.size // 2, 40, Confidence.HIGH)  # a token among the keys
        findings = [*wine.result.findings, extra]
        plot.set_findings(findings)
        spots = plot.findings_scatter.points()
        assert len(spots) == len(plot._finding_objs)
        by_role: dict[str, set[int]] = {}
        for spot in spots:
            f = spot.data()
            assert spot.brush().color() == finding_colour(f)
            by_role.setdefault(finding_role(f), set()).add(spot.brush().color().rgba())
        assert all(len(c) == 1 for c in by_role.values())
        assert len({next(iter(c)) for c in by_role.values()}) == len(by_role) >= 2
        qtbot.wait(50)
        assert plot.grab().save(str(shots / "colours-entropy.png"))
    finally:
        plot.set_dump(None)
        plot.wait_idle()
        dump.close()
