"""The window opens a results database read-only as a table; a double-click opens the dump."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from tests.conftest import CORPUS, DEMO_CORE
from viewer.cli.main import main


def test_results_table_and_double_click(tmp_path: Path, qtbot, qtmodeltester) -> None:
    from viewer.gui.fleet_results import open_fleet_results
    from viewer.gui.main_window import MainWindow

    db = tmp_path / "r.sqlite"
    assert main(["fleet", "scan", str(DEMO_CORE), str(CORPUS / "bp_minidump2.dmp"), "--db", str(db),
                 "--workers", "1"]) == 1
    before = db.read_bytes()
    window = MainWindow()
    qtbot.addWidget(window)
    assert window.action_fleet_results.text().startswith("Open &Fleet")
    dialog = open_fleet_results(window, str(db))
    assert dialog is not None
    qtmodeltester.check(dialog.model)
    table = dialog.table
    texts = {table.model().index(r, 2).data(): table.model().index(r, 0).data() for r in range(table.model().rowCount())}
    assert texts == {str(DEMO_CORE): "secret", str(CORPUS / "bp_minidump2.dmp"): "clean"}
    assert "1 secret, 1 clean" in dialog.summary.text()
    row = next(r for r in range(table.model().rowCount()) if table.model().index(r, 2).data() == str(DEMO_CORE))
    table.sortByColumn(1, Qt.SortOrder.DescendingOrder)
    row = next(r for r in range(table.model().rowCount()) if table.model().index(r, 2).data() == str(DEMO_CORE))
    dialog._open_row(table.model().index(row, 0))
    qtbot.waitUntil(lambda: window.tab is not None and str(window.tab.dump.path) == str(DEMO_CORE), timeout=20000)
    dialog.close()
    assert db.read_bytes() == before  # read-only


def test_a_file_that_is_not_a_results_database(tmp_path: Path, qtbot, monkeypatch) -> None:

    from viewer.gui.fleet_results import open_fleet_results
    from viewer.gui.main_window import MainWindow

    shown: list[str] = []
    monkeypatch.setattr("viewer.gui.fleet_results.warn", lambda _w, _t, text: shown.append(text))
    window = MainWindow()
    qtbot.addWidget(window)
    (tmp_path / "x.sqlite").write_bytes(b"no")
    assert open_fleet_results(window, str(tmp_path / "x.sqlite")) is None
    assert shown and "not a results database" in shown[0]
