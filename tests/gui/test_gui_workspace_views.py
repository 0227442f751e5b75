"""Issue 17, the new views of the examiner's workspace, driven through the real window on real dumps, a real
case and real QSettings: the Bookmarks dock, Undo/Redo of review changes, context menus on every table,
the Secrets overview, the minimap, the Help menu and the field under the cursor.

Screenshots of each view, light and dark, go into ``EV_SCREENSHOTS`` (or a temporary folder).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QApplication

from tests.builders.window import ini_settings, scanned
from tests.builders.window import make_window as build_window
from tests.conftest import REPO
from viewer.gui import context_menus

SAMPLE = REPO / "resources" / "sample" / "demo-keyholder.core"
PASS = "correct horse battery staple"


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return ini_settings(tmp_path, examiner="Dana Examiner")


@pytest.fixture
def window(qtbot, settings):
    win = build_window(qtbot, settings, size=(1280, 900))
    yield win
    win.close()


def in_case(qtbot, window, tmp_path: Path) -> None:
    assert window.cases.new_case(tmp_path / "v.evcase", "Views", passphrase=PASS, use_keyring=False)
    scanned(qtbot, window)
    assert window.cases.add_current_dump()


def both_themes(window, widget, shots: Path, name: str) -> None:
    """``widget`` grabbed in the light and the dark theme."""
    window._apply_theme("light")
    QApplication.processEvents()
    widget.grab().save(str(shots / f"{name}-light.png"))
    window._apply_theme("dark")
    try:
        QApplication.processEvents()
        widget.grab().save(str(shots / f"{name}-dark.png"))
    finally:
        window._apply_theme("light")


# -- Bookmarks dock ------------------------------------------------------------------------------
def test_the_bookmarks_dock_renames_recolours_notes_deletes_and_keeps_them(qtbot, settings, qtmodeltester, shots):
    window = build_window(qtbot, settings, size=(1280, 900))
    try:
        assert window.load(SAMPLE) is None
        qtbot.waitUntil(lambda: window.sha256 is not None, timeout=20_000)
        window.add_bookmark("ELF header", 0, 64)
        window.add_bookmark("program headers", 0x40, 0x38)
        window.add_bookmark("spare", 0x200, 4)
        marks = window.bookmarks
        model = marks.model
        assert model.rowCount() == 3 and marks.dock.windowTitle() == "Bookmarks (3)"
        qtmodeltester.check(model, force_py=True)
        # rename in place (the table's editor), a note, a colour
        assert model.setData(model.index(1, 0), "PHDRs")
        assert marks.set_note(1, "two PT_LOAD, one PT_NOTE")
        assert marks.recolour(1, "#2bb673")
        od = window.session.current
        assert (od.bookmarks[1].name, od.bookmarks[1].note) == ("PHDRs", "two PT_LOAD, one PT_NOTE")
        assert QColor(od.bookmarks[1].colour).name() == "#2bb673"
        assert model.index(1, 3).data() == "two PT_LOAD, one PT_NOTE"
        assert model.index(1, 0).data(Qt.ItemDataRole.DecorationRole).name() == "#2bb673"
        assert model.flags(model.index(1, 1)) & Qt.ItemFlag.ItemIsEditable == Qt.ItemFlag.NoItemFlags
        assert not model.setData(model.index(1, 0), "  ")  # a bookmark keeps a name
        # go to, and delete from the context menu
        assert marks.go_to(1) and window.hex.selection() == (0x40, 0x38)
        menu = context_menus.menu_at(marks.view, model.index(2, 0))
        texts = [a.text() for a in menu.actions() if a.text()]
        assert texts[:5] == ["Go to", "Rename", "Colour…", "Note…", "Delete"] and "Copy row" in texts
        next(a for a in menu.actions() if a.text() == "Delete").trigger()
        assert [b.name for b in od.bookmarks] == ["ELF header", "PHDRs"] and model.rowCount() == 2
        marks.view.selectRow(1)
        marks.dock.show()
        marks.dock.raise_()
        marks.dock.resize(420, 220)
        both_themes(window, marks.dock, shots, "s2-bookmarks-dock")
    finally:
        window.close()
    again = build_window(qtbot, settings, size=(1280, 900))  # a restart: kept per evidence hash, edits too
    try:
        assert again.load(SAMPLE) is None
        qtbot.waitUntil(lambda: again.bookmarks.model.rowCount() == 2, timeout=20_000)
        kept = again.session.current.bookmarks[1]
        assert (kept.name, kept.note, QColor(kept.colour).name()) == ("PHDRs", "two PT_LOAD, one PT_NOTE", "#2bb673")
    finally:
        again.close()


def test_bookmark_edits_in_a_case_are_in_its_audit_trail(qtbot, window, tmp_path):
    in_case(qtbot, window, tmp_path)
    window.add_bookmark("key area", 0x1000, 32)
    cf = window.session.case
    assert [b.name for b in cf.case.bookmarks] == ["key area"]
    assert window.bookmarks.rename(0, "key material") and window.bookmarks.set_note(0, "see finding")
    assert [(b.name, b.note) for b in cf.case.bookmarks] == [("key material", "see finding")]
    assert window.bookmarks.delete(0) and cf.case.bookmarks == []
    kinds = [e["type"] for e in cf.case.audit.events]
    assert kinds.count("bookmark") == 6  # added; renamed, annotated (each removed and added again); deleted
    window.cases.close_case(save=False)


# -- Undo / Redo of review changes ---------------------------------------------------------------
def test_review_changes_undo_and_redo_from_the_edit_menu(qtbot, window, tmp_path):
    in_case(qtbot, window, tmp_path)
    od = window.session.current
    f = next(f for f in od.findings if f.secret)
    window.findings_panel.show_finding(f)
    window._on_finding_selected(f)
    review = window.cases.review
    assert review.record is not None and not window.cases.action_undo.isEnabled()
    review.status_combo.setCurrentText("confirmed")
    review.severity_combo.setCurrentText("high")
    sha = window.session.evidence_sha256(od)
    rec = lambda: window.session.case.case.finding(f.id, sha).review  # noqa: E731
    assert (rec().status, rec().severity) == ("confirmed", "high")
    undo = window.cases.action_undo
    assert undo.isEnabled() and "severity" in undo.text() and undo.shortcut().toString() == "Ctrl+Z"
    undo.trigger()
    assert (rec().status, rec().severity) == ("confirmed", "none")
    assert review.severity_combo.currentText() == "none"  # the Review dock shows it at once
    undo.trigger()
    assert rec().status == "unreviewed" and not undo.isEnabled()
    assert window.cases.action_redo.isEnabled()
    window.cases.action_redo.trigger()
    assert rec().status == "confirmed" and window.session.case_dirty
    changes = [e for e in window.session.case.case.audit.events if e["type"] == "status-change"]
    assert len(changes) >= 5  # every change, its undo and its redo: in the trail, attributed
    window.cases.close_case(save=False)
    assert not undo.isEnabled() and not window.cases.action_redo.isEnabled()


# -- context menus on every table ----------------------------------------------------------------
def test_every_table_and_tree_of_the_window_has_a_context_menu(qtbot, window, tmp_path):
    in_case(qtbot, window, tmp_path)
    views = [v for v in window.findChildren(QAbstractItemView)
             if v.objectName() != "context-menu" and v.parent() is not None and v.model() is not None
             and not type(v).__name__.startswith("Q_") and v.window() is window
             and type(v).__name__ in ("QTableView", "QTreeView", "QListView", "QListWidget", "QTreeWidget")]
    missing = [v.objectName() or type(v).__name__ for v in views if not v.property("ev_context_menu")]
    assert missing == [] and len(views) >= 12
    regions = window.regions_view
    menu = context_menus.menu_at(regions, regions.model().index(0, 0))
    assert "Copy row" in [a.text() for a in menu.actions()]


# -- finding context menu ------------------------------------------------------------------------
def test_a_right_click_on_a_finding_copies_its_location_and_key_id_and_exports_it(qtbot, window, tmp_path):
    import json

    in_case(qtbot, window, tmp_path)
    panel = window.findings_panel
    f = next(f for f in window.session.current.findings if f.secret and f.key_id)
    row = next(r for r in range(panel.proxy.rowCount()) if panel.proxy.finding_at(r) == f)
    menu = context_menus.menu_at(panel.table, panel.proxy.index(row, 0))
    actions = {a.text(): a for a in menu.actions() if a.text()}
    assert {"Copy location", "Copy key id", "Copy finding id", "Export this finding…", "Copy row"} <= set(actions)
    actions["Copy location"].trigger()
    text = QApplication.clipboard().text()
    assert text.startswith(f"{SAMPLE.name}") or f"file offset {f.offset:#x}" in text
    assert f"{f.length} bytes" in text
    actions["Copy key id"].trigger()
    assert QApplication.clipboard().text() == f.key_id
    out = tmp_path / "one.json"
    assert window.finding_menu.export(f, out)
    doc = json.loads(out.read_text())
    assert doc["finding"]["id"] == f.id and doc["finding"]["excerpt_masked"] is True
    assert doc["review"]["status"] == "unreviewed" and doc["dump"]["sha256"] == window.sha256
    raw = window.dump.read(f.offset, min(f.length, 16)).hex()
    assert raw not in out.read_text()  # the secret bytes never leave masked documents
    window.cases.close_case(save=False)


# -- Secrets overview ----------------------------------------------------------------------------
def test_the_secrets_overview_has_one_row_per_key_its_copies_and_one_review_for_all(qtbot, window, tmp_path,
                                                                                   qtmodeltester, shots):
    from viewer.workspace import secrets_view as sv
    from viewer.workspace.findings_view import secret_count, summary_text

    in_case(qtbot, window, tmp_path)
    secrets = window.secrets
    secrets.dock.show()
    secrets.dock.raise_()
    qtbot.waitUntil(lambda: secrets.model.rowCount() > 0, timeout=10_000)
    od = window.session.current
    assert secrets.model.rowCount() == secret_count(od.findings)  # one set of counts everywhere
    assert secrets.summary.text().startswith(summary_text(od.findings).split(" in ")[0])
    qtmodeltester.check(secrets.model, force_py=True)
    row = max(secrets.model.rows, key=lambda r: len(r.copies))
    index = secrets.model.rows.index(row)
    assert len(row.copies) > 1 and len({f.key_id for f in row.copies}) == 1
    assert secrets.model.index(index, sv.COL_BITS).data() == "2048"
    assert secrets.model.index(index, sv.COL_REVIEW).data() == "unreviewed"
    secrets.table.selectRow(index)
    assert secrets.copies_model.rowCount() == len(row.copies)
    qtmodeltester.check(secrets.copies_model, force_py=True)
    secrets.copies.selectRow(1)  # a copy: its bytes, from the first, and its details
    second = row.copies[1]
    assert window.hex.selection() == (second.offset, second.length) and window.session.finding == second
    assert secrets.apply_button.isEnabled() and str(len(row.copies)) in secrets.apply_button.text()
    # one review for all copies, one step for Undo
    assert secrets.review_all("confirmed", "critical") == len(row.copies)
    sha = window.session.evidence_sha256(od)
    reviews = {(window.session.case.case.finding(f.id, sha).review.status,
                window.session.case.case.finding(f.id, sha).review.severity) for f in row.copies}
    assert reviews == {("confirmed", "critical")}
    assert secrets.model.index(index, sv.COL_REVIEW).data() == "confirmed"
    assert secrets.copies_model.index(0, sv.COPY_COL_STATUS).data() == "confirmed"
    assert "copies" in window.cases.action_undo.text()
    secrets.dock.setFloating(True)
    secrets.dock.resize(1400, 280)
    QApplication.processEvents()
    both_themes(window, secrets.dock, shots, "s2-secrets-overview")
    window.cases.action_undo.trigger()
    assert secrets.model.index(index, sv.COL_REVIEW).data() == "unreviewed"
    # a review of one copy only: the key's review is mixed
    window.session.case.annotate(row.copies[0].id, status="false-positive", evidence_sha256=sha)
    window.session.mark_dirty()
    assert secrets.model.index(index, sv.COL_REVIEW).data().startswith("mixed: ")
    window.cases.close_case(save=False)
    assert secrets.model.index(index, sv.COL_REVIEW).data() == "—" and not secrets.apply_button.isEnabled()
    assert "No case open" in secrets.why.text()


# -- minimap -------------------------------------------------------------------------------------
def test_the_minimap_shows_entropy_regions_and_findings_and_navigates(qtbot, window, shots):
    from viewer.workspace import minimap as mm

    scanned(qtbot, window)
    tab = window.tab
    mini = tab.minimap
    assert mini.isVisible() and mini.width() < 40 and mini.height() > 300
    qtbot.waitUntil(lambda: mini.pyramid is not None, timeout=20_000)
    strip = mini.current_strip()
    assert strip.rows == mini.height() and all(e is not None for e in strip.entropy)
    assert any(strip.kinds) and len(strip.marks) == len(window.session.current.findings)
    f = max(window.session.current.findings, key=lambda f: f.length)
    row = mm.row_of(strip.size, strip.rows, f.offset)
    assert f.kind in mini.hover_text(row)
    # a click: the bytes there in the middle of the hex view, the cursor on them
    from PySide6.QtCore import QPoint

    qtbot.mouseClick(mini, Qt.MouseButton.LeftButton, pos=QPoint(mini.width() // 2, row))  # a real click
    offset = mini.offset_at(row)
    hexv = window.hex
    assert offset is not None and offset <= f.offset + f.length
    assert hexv.visible_rows().start <= offset // hexv.bytes_per_row() < hexv.visible_rows().stop
    assert abs(hexv.cursor() - offset) < hexv.bytes_per_row()
    frame = mini.visible_frame()
    assert frame is not None and frame.top() <= row + 1 and frame.bottom() >= row - 1
    # a drag to the end scrolls without moving the cursor; the frame follows
    cursor = hexv.cursor()
    mini.go_to_y(mini.height() - 1, move_cursor=False)
    assert hexv.top_row() >= hexv._max_top() - hexv.page_rows() and hexv.cursor() == cursor
    assert window.action_minimap.shortcut().toString() == "Ctrl+Shift+M"
    window.action_minimap.trigger()
    assert not mini.isVisible()
    window.action_minimap.trigger()
    assert mini.isVisible()
    window.entropy_dock.raise_()
    both_themes(window, window, shots, "s2-minimap-window")


# -- Help menu, keyboard navigation of the docks --------------------------------------------------
def test_help_lists_every_shortcut_once_and_about_names_versions_and_licences(qtbot, window, qtmodeltester, shots):
    from collections import Counter

    from viewer.gui import help as helpmod

    rows = helpmod.menu_shortcuts(window.menuBar())
    keys = Counter(key for _menu, _action, key in rows for key in key.split(" / "))
    assert [k for k, n in keys.items() if n > 1] == []  # no two actions share a shortcut
    by_action = {action: key for _menu, action, key in rows}
    assert by_action["Scan for secrets"] == "Ctrl+R" and by_action["Keyboard shortcuts…"] == "F1"
    assert by_action["New case…"] == "Ctrl+Alt+N" and by_action["Undo review change"] == "Ctrl+Z"
    assert {"Bookmarks", "Secrets", "Review", "Case"} <= set(by_action)  # the docks' toggles (Alt+0, Alt+8, …)
    assert window.help_actions["shortcuts"].shortcut().toString() == "F1"
    window.help_actions["shortcuts"].trigger()
    dialog = window.shortcuts_dialog
    qtbot.waitExposed(dialog)
    assert dialog.model.rowCount() == len(rows) + len(helpmod.EXTRA)
    model = helpmod.ShortcutsModel(dialog.model.rows)  # the dialog's is deleted with it
    qtmodeltester.check(model, force_py=True)
    dialog.filter.setText("ctrl+r")
    assert dialog.proxy.rowCount() >= 1 and all("Ctrl+R" in dialog.proxy.index(r, 2).data()
                                                 for r in range(dialog.proxy.rowCount()))
    dialog.filter.clear()
    both_themes(window, dialog, shots, "s2-help-shortcuts")
    dialog.close()
    window.help_actions["about"].trigger()
    about = window.about_dialog
    qtbot.waitExposed(about)
    names = {name: (version, licence) for name, version, licence in about.rows}
    assert "Qt" in names and names["PySide6-Essentials"][1].startswith("LGPL") and names["pyqtgraph"][1] == "MIT"
    from PySide6.QtWidgets import QLabel

    assert about.findChild(QLabel, "about-title").text() == "Evidence Viewer 0.1.0 — MIT licence"
    both_themes(window, about, shots, "s2-help-about")
    about.close()


def test_f6_walks_the_keyboard_focus_through_every_shown_dock(qtbot, window):
    from viewer.gui import dock_focus

    assert window.load(SAMPLE) is None
    window.activateWindow()
    chain = dock_focus.stops(window)
    assert chain[0] is window.hex and len(chain) >= 8
    seen = []
    for _ in range(len(chain)):
        seen.append(dock_focus.cycle(window, 1))
    assert {id(w) for w in seen} == {id(w) for w in chain}
    back = dock_focus.cycle(window, -1)
    assert back is seen[-2]
    assert window.action_next_dock.shortcut().toString() == "F6"


# -- small defects ---------------------------------------------------------------------------------
def test_open_bundle_takes_bundle_and_target_folder_each_with_browse(qtbot, window, tmp_path, shots):
    from PySide6.QtWidgets import QDialogButtonBox, QPushButton

    from viewer.handover.extract import default_target

    bundle = tmp_path / "received" / "case-bundle.zip"
    dialog = window.handover.open_bundle_dialog(str(bundle))
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.target() == default_target(bundle)
    assert isinstance(dialog.target_browse, QPushButton) and dialog.target_browse.text() == "Browse…"
    assert dialog.target_edit.width() > 300  # a real field, not a tiny text box
    other = tmp_path / "other.zip"
    dialog.bundle_edit.setText(str(other))
    assert dialog.target() == default_target(other)  # follows the bundle until chosen
    dialog.target_edit.setText(str(tmp_path / "mine"))
    dialog.bundle_edit.setText(str(bundle))
    assert dialog.target() == tmp_path / "mine"
    open_button = dialog.buttons.button(QDialogButtonBox.StandardButton.Open)
    assert open_button.isEnabled()
    dialog.target_edit.clear()
    assert not open_button.isEnabled()
    dialog.target_edit.setText(str(tmp_path / "mine"))
    both_themes(window, dialog, shots, "s2-open-bundle")
    dialog.reject()


def test_a_new_user_is_told_that_ctrl_r_scans(qtbot, window):
    assert "Ctrl+R" in window._placeholder.text() and "F1" in window._placeholder.text()
    assert window.load(SAMPLE) is None
    secrets = window.secrets
    secrets.refresh()
    assert "Ctrl+R" in secrets.summary.text()


# -- structure that explains the bytes --------------------------------------------------------------
def test_the_field_under_the_cursor_is_outlined_and_values_read_in_words(qtbot, window, shots):
    from viewer.gui import structure_model as sm
    from viewer.workspace.highlights import FIELD_ROLE

    assert window.load(SAMPLE) is None
    window.structure_dock.show()
    window.structure_dock.raise_()
    QApplication.processEvents()
    od = window.session.current
    window.go_to_offset(0x12)  # e_machine in the ELF header
    assert od.field == (0x12, 2, "e_machine")
    marks = [h for h in window.hex.highlights() if h.role == FIELD_ROLE]
    assert [(h.offset, h.length, h.label) for h in marks] == [(0x12, 2, "e_machine")]
    window.go_to_offset(0x13)  # the same field: nothing repainted for it
    assert od.field == (0x12, 2, "e_machine")
    window.go_to_offset(0x10)
    assert od.field == (0x10, 2, "e_type")
    model = window.structure_model
    index = window.tree.currentIndex()
    assert model.node(index).name == "e_type"
    assert "ET_CORE" in model.index(index.row(), sm.COL_VALUE, index.parent()).data()
    # program headers: the type and the flags in words
    window.go_to_offset(0x40 + 4)  # p_flags of the first program header
    flags = window.tree.currentIndex()
    assert model.node(flags).name == "p_flags"
    value = model.index(flags.row(), sm.COL_VALUE, flags.parent()).data()
    assert re.fullmatch(r"[r-][w-][x-]( \(.*\))?|[RWX-]{3}.*", value.split("  ")[-1].strip("()")), value
    window.go_to_offset(0x40)  # p_type
    ptype = window.tree.currentIndex()
    assert "PT_NOTE" in model.index(ptype.row(), sm.COL_VALUE, ptype.parent()).data()
    kinds = window.tab.legend_kinds()
    assert "field" in kinds
    both_themes(window, window, shots, "s2-field-under-cursor")


# -- compare a dump with its redacted copy ----------------------------------------------------------
def test_compare_with_the_redacted_copy_walks_the_changed_runs(qtbot, window, tmp_path, shots):
    from viewer.workspace.compare import changed_runs

    scanned(qtbot, window)
    out = tmp_path / "demo.redacted.core"
    assert window.handover.redact_current(out)
    qtbot.waitUntil(lambda: not window.handover.redact_busy, timeout=120_000)
    result = window.handover.redaction_result
    assert result is not None and result.clean
    compare = window.compare
    assert compare.action.shortcut().toString() == "Ctrl+Alt+D"
    assert window.handover.last_redaction_of(SAMPLE) == str(out)  # what Compare offers first
    assert "Compare with a copy" in window.handover.redaction_message
    view = compare.compare_with(out)
    assert view is not None
    qtbot.waitExposed(view)
    qtbot.waitUntil(lambda: view.comparison is not None, timeout=60_000)
    comparison = view.comparison
    assert comparison.runs and comparison.size_a == comparison.size_b
    redacted = sorted((r.offset, r.length) for r in result.ranges)
    # every range the redaction overwrote shows as changed, and nothing outside those ranges changed
    def overlaps(a, b):
        return a[0] < b[0] + b[1] and b[0] < a[0] + a[1]

    assert all(any(overlaps(r, run) for run in comparison.runs) for r in redacted)
    for run_off, run_n in comparison.runs:
        covered = [r for r in redacted if overlaps(r, (run_off, run_n))]
        assert covered and min(o for o, _ in covered) <= run_off
        assert run_off + run_n <= max(o + n for o, n in covered)
    first = comparison.runs[0]
    assert view.current == first and view.left.selection() == first and view.right.selection() == first
    assert view.left.top_row() == view.right.top_row()
    if len(comparison.runs) > 1:
        assert view.next_run() and view.current == comparison.runs[1]
        assert view.previous_run() and view.current == first
    assert "run 1 of" in view.where.text() and "changed run" in view.summary.text()
    both_themes(window, view, shots, "s2-compare")
    view.close()
    qtbot.waitUntil(compare.idle, timeout=10_000)
    # the job alone: a file against itself is identical; a shorter copy differs at its end
    assert changed_runs(None, window.dump, window.dump).summary() == "identical"


# -- report preview ----------------------------------------------------------------------------------
def test_the_report_preview_shows_the_masked_report_before_any_export(qtbot, window, tmp_path, shots):
    in_case(qtbot, window, tmp_path)
    exports = window.exports
    cf = window.session.case
    events = len(cf.case.audit.events)
    assert exports.action_preview.shortcut().toString() == "Ctrl+Shift+P"
    assert exports.preview_report()
    qtbot.waitUntil(lambda: exports.preview is not None and exports.idle(), timeout=60_000)
    preview = exports.preview
    qtbot.waitExposed(preview)
    text = preview.text()
    f = next(f for f in window.session.current.findings if f.secret)
    assert "Views" in text and f.id in text
    from viewer.workspace.findings_view import summary_text

    assert summary_text(window.session.current.findings) in text  # one set of counts: the window's words
    assert "math-checked" in text  # the scanner's confidence in its own words, as in the window
    secret_hex = window.dump.read(f.offset, 16).hex(" ")
    assert secret_hex not in text and window.dump.read(f.offset, 16).hex() not in text  # masked
    assert len(cf.case.audit.events) == events and window.session.case_hold is None  # not an export
    assert not list(tmp_path.glob("*.pdf")) and not list(tmp_path.glob("*.zip"))
    both_themes(window, preview, shots, "s2-report-preview")
    preview.close()
    window.cases.close_case(save=False)


# -- the keyboard, as an examiner uses it ------------------------------------------------------------
def test_the_new_views_answer_their_keys(qtbot, window):
    from PySide6.QtTest import QTest

    assert window.load(SAMPLE) is None
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)
    window.hex.setFocus()
    QTest.keyClick(window.hex, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
    shown = not window.secrets.dock.isHidden()
    QTest.keyClick(window.hex, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
    assert (not window.secrets.dock.isHidden()) != shown  # Ctrl+Alt+S toggles the Secrets dock
    QTest.keyClick(window.hex, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert not window.tab.minimap.isVisible()
    QTest.keyClick(window.hex, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.tab.minimap.isVisible()
    QTest.keyClick(window.hex, Qt.Key.Key_F6)
    assert QApplication.focusWidget() is not window.hex  # the next dock has the keyboard
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_F6, Qt.KeyboardModifier.ShiftModifier)
    assert QApplication.focusWidget() is window.hex
    QTest.keyClick(window.hex, Qt.Key.Key_F1)
    qtbot.waitUntil(lambda: getattr(window, "shortcuts_dialog", None) is not None, timeout=2_000)
    window.shortcuts_dialog.close()


@pytest.mark.parametrize("width", [1280])
def test_a_whole_hex_row_fits_beside_the_docks(qtbot, tmp_path, shots, width):
    """At 1280 px the docks' fixed widths left the hex view 470 px and cut off its text column: the docks
    now give it what a 16-byte row needs (address, hex, text), narrower where the window is small (the
    test screen is 1280 px wide; on a wider one the docks keep 430 and 340)."""
    from viewer.gui.main_window import side_dock_widths

    win = build_window(qtbot, ini_settings(tmp_path), size=(width, 900))
    assert win.load(REPO / "resources" / "sample" / "demo-keyholder.core") is None
    qtbot.wait(50)
    hex_view = win.tabs.currentWidget().hex
    assert hex_view.width() >= hex_view.preferred_width(), (width, hex_view.width(), hex_view.preferred_width())
    assert hex_view.horizontalScrollBar().maximum() == 0  # nothing to scroll to: the row is all there
    assert side_dock_widths(1920, hex_view.preferred_width()) == (430, 340)
    assert min(side_dock_widths(width, hex_view.preferred_width())) >= 220
    win.grab().save(str(shots / f"hex-row-at-{width}.png"))
