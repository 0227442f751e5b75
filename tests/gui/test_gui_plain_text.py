"""Text from a case or a dump never renders as rich text (the hostile-input issue's known gap, issue 17).

A case named like markup, a dump file named like markup and a finding kind from a case file are shown
literally in every label, message box and tooltip of the window; and no module of the window makes a
label or a message box other than through :mod:`viewer.gui.plain`.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtWidgets import QLabel, QMessageBox

from tests.builders.window import ini_settings, make_window
from tests.conftest import REPO
from viewer.gui import plain

SAMPLE = REPO / "resources" / "sample" / "demo-keyholder.core"
PASS = "correct horse battery staple"
MARKUP = "<u>EVIL</u><img src='x'>"


def test_no_module_of_the_window_makes_a_label_or_message_box_but_through_plain():
    offenders = []
    for path in sorted((REPO / "viewer" / "gui").rglob("*.py")):
        if path.name == "plain.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if re.search(r"(?<![\w.])QLabel\(|QMessageBox\(|QMessageBox\.(question|warning|information|critical)\("
                         r"|QInputDialog\.get", line):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_helpers_are_plain(qtbot):
    label = plain.label(MARKUP)
    qtbot.addWidget(label)
    assert label.textFormat() == Qt.TextFormat.PlainText and label.text() == MARKUP
    box = plain.message_box(QMessageBox.Icon.Warning, "t", MARKUP, informative=MARKUP)
    qtbot.addWidget(box)
    assert box.textFormat() == Qt.TextFormat.PlainText
    assert all(lab.textFormat() == Qt.TextFormat.PlainText for lab in box.findChildren(QLabel) if MARKUP in lab.text())
    assert plain.tip("plain words") == "plain words" and plain.tip(None) is None
    assert "&lt;u&gt;EVIL" in plain.tip(MARKUP) and "<u>" not in plain.tip(MARKUP)
    assert plain.rich_label(f"<b>{plain.esc(MARKUP)}</b>").text().count("<u>") == 0


def _shown_literally(window) -> list[str]:
    """Every label of the window that shows the markup, and how: [] when all show it as text."""
    wrong = []
    for lab in window.findChildren(QLabel):
        text = lab.text()
        if "EVIL" not in text:
            continue
        if lab.textFormat() == Qt.TextFormat.PlainText:
            continue
        if "<u>" in text or (lab.textFormat() != Qt.TextFormat.RichText and GuiQt.mightBeRichText(text)):
            wrong.append(f"{lab.objectName() or type(lab).__name__}: {text!r}")
    return wrong


def test_a_case_and_a_dump_named_like_markup_show_literally(qtbot, tmp_path):
    dump = Path(shutil.copy(SAMPLE, tmp_path / "<u>EVIL<u>.core"))
    window = make_window(qtbot, ini_settings(tmp_path))
    try:
        assert window.load(dump) is None
        assert window.cases.new_case(tmp_path / "m.evcase", MARKUP, passphrase=PASS, use_keyring=False)
        window.cases.set_examiner_name(MARKUP)
        assert window.cases.add_current_dump()
        qtbot.waitUntil(lambda: "EVIL" in window.cases.info.text(), timeout=10_000)
        assert "&lt;u&gt;EVIL" in window.cases.info.text()
        assert _shown_literally(window) == []
        tab_tip = window.tabs.tabToolTip(window.tabs.currentIndex())
        assert "<u>" not in tab_tip and "EVIL" in tab_tip
        box = window.message(QMessageBox.Icon.Warning, "Cannot", f"{MARKUP} is not a dump", "plain-test")
        assert box.textFormat() == Qt.TextFormat.PlainText
        box.close()
        window._show_error(MARKUP)
        error = window.findChild(QMessageBox, "open-error")
        assert error is not None and error.textFormat() == Qt.TextFormat.PlainText
        error.close()
        window.cases.close_case(save=False)
    finally:
        window.close()


def test_a_text_prompt_naming_markup_shows_it_as_text(qtbot):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QInputDialog

    seen = []

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, QInputDialog):
            seen.extend(lab.textFormat() for lab in dialog.findChildren(QLabel) if "EVIL" in lab.text())
            dialog.setTextValue("renamed")
            dialog.accept()
        else:
            QTimer.singleShot(20, answer)

    QTimer.singleShot(0, answer)
    text, ok = plain.ask_text(None, "Bookmark note", f"Note on {MARKUP}:", "old", multiline=True)
    assert ok and text == "renamed" and seen == [Qt.TextFormat.PlainText]
