"""Issue 17, the examiner's workspace second pass: each defect driven through the real window, on real
dumps (the bundled sample, a Breakpad minidump), a real case and real QSettings.

Screenshots of the new views, light and dark, go into ``EV_SCREENSHOTS`` (or a temporary folder).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QHeaderView

from tests.builders.window import make_window as build_window
from tests.builders.window import scanned
from tests.conftest import CORPUS, REPO
from viewer.case import open_case
from viewer.scan.finding import Confidence

SAMPLE = REPO / "resources" / "sample" / "demo-keyholder.core"
MINIDUMP = CORPUS / "bp_minidump2.dmp"
PASS = "correct horse battery staple"


def make_window(qtbot, settings):
    return build_window(qtbot, settings, size=(1280, 900))


def test_a_finding_is_selected_from_its_first_byte_at_the_top_with_start_end_length(qtbot, window):
    scanned(qtbot, window)
    f = max(window.session.current.findings, key=lambda f: f.length)
    window.findings_panel.show_finding(f)
    window._on_finding_selected(f)
    hexv = window.hex
    assert hexv.selection() == (f.offset, f.length)
    assert hexv.cursor() == f.offset  # the first byte, not the last
    assert hexv.top_row() == min(f.offset // hexv.bytes_per_row(), hexv._max_top())
    assert window.inspector.offset == f.offset if hasattr(window.inspector, "offset") else True
    assert window.cursor_label.text().startswith(f"offset {f.offset:#x}")
    assert window._selection_label.text().startswith(f"{f.offset:#x}–{f.offset + f.length - 1:#x} ({f.length} bytes")


def test_bookmarks_without_a_case_outlive_a_restart_and_go_to_a_case_made_later(qtbot, settings, tmp_path):
    first = make_window(qtbot, settings)
    assert first.load(SAMPLE) is None
    first.add_bookmark("before any case", 0x40, 16)
    qtbot.waitUntil(lambda: first.sha256 is not None, timeout=20_000)
    first.close()

    again = make_window(qtbot, settings)  # a restart: the same settings
    try:
        assert again.load(SAMPLE) is None
        qtbot.waitUntil(lambda: [b.name for b in again.session.current.bookmarks] == ["before any case"],
                        timeout=20_000)
        dialog = again.cases.new_case_dialog()
        dialog.path_edit.setText(str(tmp_path / "later.evcase"))
        dialog.examiner_edit.setText("Dana Examiner")
        dialog.number_edit.setText("2026-0417")
        dialog.description_edit.setPlainText("laptop seized 2026-04-17")
        dialog.passphrase_edit.setText(PASS)
        dialog.again_edit.setText(PASS)
        assert all(check.isChecked() for check in dialog.evidence_checks.values())
        dialog.accept()
        cf = again.session.case
        assert cf is not None and [b.name for b in cf.case.bookmarks] == ["before any case"]
        assert again.cases.save_case()
    finally:
        again.close()
    reopened = open_case(tmp_path / "later.evcase", passphrase=PASS, use_keyring=False)
    case = reopened.case
    assert (case.examiner, case.number, case.description) == ("Dana Examiner", "2026-0417", "laptop seized 2026-04-17")
    assert case.name == "later" and len(case.evidence) == 1 and [b.name for b in case.bookmarks] == ["before any case"]


def test_the_new_case_form_refuses_until_complete(qtbot, window, tmp_path, shots):
    assert window.load(SAMPLE) is None
    dialog = window.cases.new_case_dialog()
    qtbot.addWidget(dialog)
    dialog.show()
    ok = dialog.buttons.button(dialog.buttons.StandardButton.Ok)
    assert not ok.isEnabled() and "examiner" in dialog.problem_label.text().lower()
    dialog.path_edit.setText(str(tmp_path / "form.evcase"))
    dialog.examiner_edit.setText("Dana")
    dialog.passphrase_edit.setText(PASS)
    dialog.again_edit.setText(PASS + "x")
    assert not ok.isEnabled() and "differ" in dialog.problem_label.text()
    dialog.again_edit.setText(PASS)
    assert ok.isEnabled() and dialog.name_edit.text() == "form"
    dialog.grab().save(str(shots / "s2-new-case-form.png"))
    dialog.reject()


def test_dark_theme_has_disabled_colours(qtbot, window, shots):
    window._apply_theme("dark")
    try:
        palette = QApplication.palette()
        for role in (QPalette.ColorRole.ButtonText, QPalette.ColorRole.Text, QPalette.ColorRole.WindowText):
            active = palette.color(QPalette.ColorGroup.Active, role)
            disabled = palette.color(QPalette.ColorGroup.Disabled, role)
            assert abs(active.lightness() - disabled.lightness()) > 60, role
        window.findings_panel.kind_combo.setEnabled(False)
        window.grab().save(str(shots / "s2-dark-disabled.png"))
        window.findings_panel.kind_combo.setEnabled(True)
    finally:
        window._apply_theme("light")


def test_each_tab_keeps_its_own_status_selection_find_results_and_entropy(qtbot, window):
    scanned(qtbot, window, SAMPLE)
    sample_text = window.scans.label.text()
    assert re.match(r"scan done: \d+ secrets? in \d+ findings?", sample_text), sample_text
    window.select(0x100, 32)
    window.show_find()
    window.find_bar.edit.setText("ELF")
    window.find_bar.set_mode("ascii")
    assert window.find_bar.find()
    qtbot.waitUntil(lambda: not window.find_bar.is_searching(), timeout=20_000)
    hits = window.find_bar.results()
    assert hits
    assert window.load(MINIDUMP) is None  # a second tab: nothing of the first one shows
    assert window.scans.label.text() == ""
    assert window.find_bar.results() == [] and window.find_bar.dump is window.dump
    assert window._selection_label.text() == ""
    assert "module" not in window.entropy_plot.legend_label.text() or window.entropy_plot.dump is window.dump
    assert window.entropy_plot.extent()[1] == pytest.approx(window.dump.size)  # its own axis at once
    window.tabs.setCurrentIndex(0)  # back: the sample's own state
    assert window.scans.label.text() == sample_text
    assert window.find_bar.results() == hits
    assert window._selection_label.text().startswith("0x100–0x11f (32 bytes")
    window.find_bar.next_result()
    assert window.hex.selection() == hits[0]


def test_a_click_on_a_finding_marker_selects_that_finding(qtbot, window):
    scanned(qtbot, window)
    plot = window.entropy_plot
    qtbot.waitUntil(lambda: not plot.is_computing(), timeout=20_000)
    qtbot.waitUntil(lambda: len(plot.findings) == len(window.session.current.findings), timeout=5_000)  # its own turn
    f = next(f for f in window.session.current.findings if f.secret)
    x = plot.x_for_offset(f.offset)
    assert plot.click_at_x(x) is not None
    chosen = window.session.finding
    assert chosen is not None and plot.hover_text(x).find(chosen.kind) >= 0
    assert window.hex.selection() == (chosen.offset, chosen.length)
    assert window.details.key_id == chosen.key_id


def test_structure_tooltips_decoded_times_and_memory_ranges(qtbot, window):
    from viewer.gui import structure_model as sm

    assert window.load(MINIDUMP) is None
    model = window.structure_model
    header = model.index(0, 0, model.index(0, 0))
    stamp = next(model.index(r, sm.COL_VALUE, header) for r in range(model.rowCount(header))
                 if model.index(r, 0, header).data() == "TimeDateStamp")
    assert "2007-02-14 19:13:55 UTC" in stamp.data()
    assert "TimeDateStamp" in stamp.data(Qt.ItemDataRole.ToolTipRole)
    assert "2007-02-14" in stamp.data(Qt.ItemDataRole.ToolTipRole)
    stack = next(r for r in window.dump.regions if r.kind == "stack")
    window.go_to_offset(stack.file_offset + 40)
    node = model.node(window.tree.currentIndex())
    assert node is not None and node is not window.dump.structure  # not the root any more
    values = [c.value for c in node.children]
    assert stack.vaddr in values  # the descriptor of that range (StartOfMemoryRange)
    ntdll = next(r for r in window.dump.regions if r.kind == "module")
    window.go_to_offset(ntdll.file_offset + 4)
    assert "module: ntdll.dll" in window.cursor_label.text()


def test_confidence_and_verdict_wording_counts_columns_and_key_id(qtbot, window, tmp_path, shots):
    from viewer.gui.findings import COL_CONFIDENCE, COL_MATCHES, COL_SEVERITY, COL_STATUS
    from viewer.gui.palette import verdict_colour
    from viewer.workspace.findings_view import COL_ID, summary_text

    assert window.cases.new_case(tmp_path / "w.evcase", "W", passphrase=PASS, use_keyring=False)
    scanned(qtbot, window)
    assert window.cases.add_current_dump()
    od = window.session.current
    panel = window.findings_panel
    f = next(f for f in od.findings if f.confidence == Confidence.CONFIRMED)
    window.session.case.annotate(f.id, status="confirmed", evidence_sha256=window.session.evidence_sha256(od))
    window.session.mark_dirty()
    row = next(r for r in range(panel.proxy.rowCount()) if panel.proxy.finding_at(r) == f)
    confidence = panel.proxy.index(row, COL_CONFIDENCE)
    status = panel.proxy.index(row, COL_STATUS)
    assert confidence.data() == "math-checked" and status.data() == "confirmed"
    assert status.data(Qt.ItemDataRole.ForegroundRole).color() == verdict_colour("confirmed")
    assert confidence.data(Qt.ItemDataRole.BackgroundRole) is not None and status.data(Qt.ItemDataRole.BackgroundRole) is None
    assert panel.proxy.index(row, COL_ID).data() == f.id
    # one set of counts: the scan's line, the panel's count
    secrets = summary_text(od.findings).split(" ")[0]
    assert window.scans.label.text() == f"scan done: {summary_text(od.findings)}"
    assert panel.count_label.text().startswith(f"{secrets} secret")
    header = panel.table.horizontalHeader()
    assert header.sectionResizeMode(COL_MATCHES) == QHeaderView.ResizeMode.Stretch
    assert header.sectionResizeMode(COL_SEVERITY) != QHeaderView.ResizeMode.Stretch and not header.stretchLastSection()
    assert header.sectionSize(COL_SEVERITY) < panel.table.width() // 4
    # a long key id does not widen the right dock
    window.details.show_finding(f)
    width = window.details_dock.width()
    window.details._set_key_id("f" * 400)
    QApplication.processEvents()
    assert window.details_dock.width() == width and window.details.key_label.toolTip() == "f" * 400
    window.grab().save(str(shots / "s2-review-light.png"))
    window._apply_theme("dark")
    try:
        window.grab().save(str(shots / "s2-review-dark.png"))
    finally:
        window._apply_theme("light")
    window.cases.close_case(save=False)


def test_the_window_fits_the_screen(qtbot, window):
    area = window.screen().availableGeometry()
    window.resize(area.width() * 2, area.height() * 2)
    window.save_layout()
    window.clamp_to_screen()
    frame = window.frameGeometry()
    assert frame.width() <= area.width() and frame.height() <= area.height()
    assert area.contains(frame.topLeft())


def test_a_bundle_copy_is_named_so_in_its_tab(qtbot, window, tmp_path):
    import shutil

    from viewer.workspace.session import BUNDLE_COPY

    copy = Path(shutil.copy(SAMPLE, tmp_path / SAMPLE.name))
    window.session.evidence_overrides["0" * 64] = copy
    assert window.load(copy) is None
    assert window.tabs.tabText(window.tabs.currentIndex()) == f"{SAMPLE.name} [{BUNDLE_COPY}]"
    assert "bundle" in window.tabs.tabToolTip(window.tabs.currentIndex())


def test_the_findings_model_with_its_id_column_passes_the_model_tester(qtmodeltester, window, qtbot):
    scanned(qtbot, window)
    qtmodeltester.check(window.findings_panel.model, force_py=True)
