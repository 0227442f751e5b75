"""Case ▸ Export bundle… and Case ▸ Print report to PDF… in the window — real widgets, real case files (the
demo core as evidence, its scan merged), the real bundle and PDF checked with the real tools (verify_bundle,
poppler's pdftotext, pdfimages and pdftoppm).

Screenshots go to ``EV_SCREENSHOTS`` (default /tmp): case-export-dialog.png (the dialog),
case-export-report-page1.png (the PDF's first page) and case-export-report-plot.png (the PDF page with the
entropy plot).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QMessageBox

from tests.builders.window import make_window
from tests.conftest import REPO
from tests.gui.test_gui_handover import observe_steps, sample_findings, settings
from viewer.case import TEST_KDF, create_case, has_recovery, open_case
from viewer.evidence import open_dump
from viewer.handover.bundle import render_case_report, verify_bundle

__all__ = ["sample_findings", "settings"]  # fixtures used here by name: the reviewer's window, the demo's findings

SAMPLE = REPO / "resources" / "sample" / "demo-keyholder.core"
PASS = "correct horse battery staple"
CASE_NAME = "Operation Demo"


@pytest.fixture
def window(qtbot, settings):
    win = make_window(qtbot, settings)  # the case tests' window: test KDF, 1400x900, shown
    yield win
    win.close()


@pytest.fixture(scope="module")
def prepared_case(case_factory, tmp_path_factory: pytest.TempPathFactory, sample_findings: list[dict]):
    """A case (passphrase slot only) in case/, a copy of the demo core in evidence/, its scan merged."""
    return case_factory.prepare(tmp_path_factory.mktemp("export-case"), [(SAMPLE, sample_findings)],
                                case_file="case/op-demo.evcase", evidence_dir="evidence", name=CASE_NAME,
                                examiner="Dana Examiner", number="42", passphrase=PASS, settings={"source": "test"})


@pytest.fixture
def case_path(tmp_path: Path, case_factory, prepared_case) -> Path:
    """This test's own copy of the prepared case (tmp_path/case/op-demo.evcase, tmp_path/evidence/...)."""
    return case_factory.copy(prepared_case, tmp_path).path


def open_in_window(window, qtbot, path: Path) -> None:
    assert window.cases.open_case(path, passphrase=PASS, use_keyring=False, recover=False)
    qtbot.waitUntil(window.cases.verification_idle, timeout=30_000)
    assert window.session.case is not None and not window.session.case_dirty


def wait_export(window, qtbot) -> None:
    qtbot.waitUntil(window.exports.idle, timeout=120_000)


def answer(name: str, button: QMessageBox.StandardButton) -> list[str]:
    """Click ``button`` of the modal QMessageBox named ``name`` as soon as it shows (it runs its own event
    loop); the texts of the boxes answered are collected in the returned list."""
    seen: list[str] = []
    tries = [0]

    def poll() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox) and box.objectName() == name:
            seen.append(box.text())
            box.button(button).click()
        elif tries[0] < 500:
            tries[0] += 1
            QTimer.singleShot(20, poll)

    QTimer.singleShot(0, poll)
    return seen


def click_box(qtbot, check) -> None:
    """Click a check box where a user does: on its indicator (a wide box ignores clicks past its text)."""
    qtbot.mouseClick(check, Qt.MouseButton.LeftButton, pos=QPoint(8, check.height() // 2))


def outcome_box(window) -> QMessageBox:
    """The latest outcome message the window showed."""
    boxes = window.findChildren(QMessageBox, "export-outcome")
    assert boxes
    return boxes[-1]


def reopened(path: Path):
    return open_case(path, passphrase=PASS, use_keyring=False)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- the actions ---------------------------------------------------------------------------------------
def test_actions_need_a_case_and_their_shortcuts_clash_with_none(window, qtbot, case_path):
    assert not window.exports.action_export_bundle.isEnabled() and not window.exports.action_print_report.isEnabled()
    assert window.exports.action_export_bundle.shortcut() == QKeySequence("Ctrl+Alt+X")
    assert window.exports.action_print_report.shortcut().toString() == "Ctrl+P"
    keys: dict[str, list[str]] = {}
    for act in window.findChildren(QAction):
        for seq in act.shortcuts():
            keys.setdefault(seq.toString(), []).append(act.text())
    clashes = {k: v for k, v in keys.items() if len(v) > 1}
    assert not clashes
    texts = [a.text() for a in window.cases.menu.actions()]
    assert texts.index("E&xport bundle…") < texts.index("&Print report to PDF…") < texts.index("E&xaminer name…")
    open_in_window(window, qtbot, case_path)
    assert window.exports.action_export_bundle.isEnabled() and window.exports.action_print_report.isEnabled()
    assert window.cases.close_case()
    assert not window.exports.action_export_bundle.isEnabled() and not window.exports.action_print_report.isEnabled()


# -- export a bundle -----------------------------------------------------------------------------------
def test_export_bundle_saves_the_case_and_writes_a_bundle_that_verifies(window, qtbot, case_path, tmp_path):
    open_in_window(window, qtbot, case_path)
    cf = window.session.case
    # unsaved work, autosaved to the recovery file: the export's save must take it in and drop the recovery
    window.add_bookmark("key area", 60413, 256)
    assert window.session.case_dirty
    window.cases.autosave_case()
    assert has_recovery(case_path)
    events_before = len(cf.case.audit)
    out = tmp_path / "out" / "op-demo.zip"
    out.parent.mkdir()
    assert window.exports.export_bundle_to(out)
    # a worker with a busy indicator; the case is held still meanwhile, and a second export is refused
    assert not window.exports.idle() and window.exports.busy.isVisible()
    assert not window.exports.action_export_bundle.isEnabled() and not window.cases.action_save.isEnabled()
    assert not window.cases.review.isEnabled()
    assert not window.exports.export_bundle_to(tmp_path / "second.zip")
    assert "one at a time" in window.exports.message
    assert not window.cases.close_case()
    wait_export(window, qtbot)
    assert window.exports.result is not None, window.exports.message
    assert not window.exports.busy.isVisible() and window.cases.review.isEnabled()
    res = verify_bundle(out)
    assert res.ok, res.problems or res.unreadable
    manifest = res.manifest
    assert manifest["secrets_included"] is False and manifest["evidence_included"] is False
    assert manifest["case"]["name"] == CASE_NAME
    # the window reflects the save export_bundle made
    assert not window.session.case_dirty and window.windowTitle().count("*") == 0
    assert not has_recovery(case_path)
    on_disk = reopened(case_path)
    last = on_disk.case.audit.events[-1]
    assert last["type"] == "export" and last["data"]["kind"] == "bundle" and last["data"]["target"] == out.name
    assert last["data"]["include_secrets"] is False
    assert len(on_disk.case.audit) == events_before + 1 == manifest["audit"]["events"]
    assert [b.name for b in on_disk.case.bookmarks] == ["key area"]
    head = manifest["audit"]["head"]
    assert (head["seq"], head["hash"]) == tuple(on_disk.case.audit.head)
    rows = window.cases.audit_model.rowCount()
    assert rows == len(on_disk.case.audit)
    assert "export" in " ".join(str(window.cases.audit_model.index(rows - 1, c).data())
                                for c in range(window.cases.audit_model.columnCount()))
    box = outcome_box(window)
    assert str(out) in box.text() and head["hash"] in box.text() and "masked" in box.text()
    assert f"{len(manifest['members'])} members" in box.text()
    # never over the case file (export_bundle renames its ZIP over the target)
    before = sha256(case_path)
    assert not window.exports.export_bundle_to(case_path, overwrite=True)
    assert "case file" in window.exports.message and sha256(case_path) == before
    assert not window.exports.export_bundle_to(out)  # exists: refused without overwrite
    assert "exists" in window.exports.message


def test_the_export_dialog_exports_what_its_widgets_say(window, qtbot, case_path, shots):
    open_in_window(window, qtbot, case_path)
    window.exports.action_export_bundle.trigger()
    dialog = window.exports.dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitExposed(dialog)
    expected = case_path.parent / "Operation-Demo-bundle.zip"  # <case name>-bundle.zip beside the case file
    assert Path(dialog.path_edit.text()) == expected
    assert not dialog.evidence_check.isChecked() and not dialog.secrets_check.isChecked()
    click_box(qtbot, dialog.evidence_check)
    assert dialog.evidence_check.isChecked()
    # secrets: checking the box asks; refusing leaves it unchecked
    asked = answer("export-secrets-confirm", QMessageBox.StandardButton.No)
    click_box(qtbot, dialog.secrets_check)
    assert asked and "live key material" in asked[0]
    assert not dialog.secrets_check.isChecked()
    qtbot.wait(150)
    assert dialog.grab().save(str(shots / "case-export-dialog.png"))
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    wait_export(window, qtbot)
    assert window.exports.result is not None, window.exports.message
    res = verify_bundle(expected)
    assert res.ok, res.problems or res.unreadable
    assert res.manifest["evidence_included"] is True and res.manifest["secrets_included"] is False
    ref = window.session.case.case.evidence[0]
    with zipfile.ZipFile(expected) as zf:
        names = zf.namelist()
    assert any(n.startswith("evidence/") and n.endswith(SAMPLE.name) for n in names)
    assert any(e["sha256"] == ref.sha256 and e["member"] for e in res.manifest["evidence"])
    assert not window.session.case_dirty
    assert "Evidence files: included" in window.exports.message


@pytest.mark.slow
def test_including_secrets_needs_a_confirmation_and_refusing_exports_nothing(window, qtbot, case_path, tmp_path):
    open_in_window(window, qtbot, case_path)
    cf = window.session.case
    events_before = len(cf.case.audit)
    disk_before = sha256(case_path)
    out = tmp_path / "with-secrets.zip"
    asked = answer("export-secrets-confirm", QMessageBox.StandardButton.No)
    assert not window.exports.export_bundle_to(out, include_secrets=True)
    assert asked and "live key material" in asked[0]
    assert window.exports.idle() and not out.exists()
    assert len(cf.case.audit) == events_before and sha256(case_path) == disk_before
    assert not list(tmp_path.glob(".with-secrets.zip.*"))
    # confirmed: the bundle carries the bytes, and says so in the manifest and the audit trail
    asked = answer("export-secrets-confirm", QMessageBox.StandardButton.Yes)
    assert window.exports.export_bundle_to(out, include_secrets=True)
    assert asked
    wait_export(window, qtbot)
    res = verify_bundle(out)
    assert res.ok, res.problems or res.unreadable
    assert res.manifest["secrets_included"] is True
    last = reopened(case_path).case.audit.events[-1]
    assert last["data"]["kind"] == "bundle" and last["data"]["include_secrets"] is True
    assert "INCLUDED" in window.exports.message


def test_a_failed_export_is_one_line_and_leaves_no_bundle(window, qtbot, case_path, tmp_path):
    open_in_window(window, qtbot, case_path)
    evidence = tmp_path / "evidence" / SAMPLE.name
    with open(evidence, "r+b") as fh:  # the evidence changes after the case recorded its hash
        fh.seek(100)
        fh.write(b"\xff")
    out = tmp_path / "changed.zip"
    assert window.exports.export_bundle_to(out, include_evidence=True)
    wait_export(window, qtbot)
    assert window.exports.result is None
    message = window.exports.message
    assert "changed" in message and "\n" not in message and "Traceback" not in message
    assert message.startswith("cannot export changed.zip:")
    assert window.last_error == message
    assert outcome_box(window).text() == message
    assert not out.exists() and not list(tmp_path.glob(".changed.zip.*"))
    assert window.exports.action_export_bundle.isEnabled()  # free for the next try


# -- print the report ----------------------------------------------------------------------------------
def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def secret_windows(case, evidence: Path) -> set[str]:
    """Hex of every 8-byte window of every secret finding's bytes that looks like key material (at least
    six distinct byte values: zero runs and padding would match unrelated text)."""
    out: set[str] = set()
    with open_dump(evidence) as dump:
        for rec in case.findings:
            if not rec.finding.get("secret", True):
                continue
            data = dump.read(int(rec.finding["offset"]), int(rec.finding["length"]))
            for i in range(len(data) - 7):
                chunk = data[i:i + 8]
                if len(set(chunk)) >= 6:
                    out.add(chunk.hex())
    assert len(out) > 1000  # the demo key's d, p, q, CRT values, PEM and DER
    return out


def leaked(text: str, windows: set[str]) -> set[str]:
    flat = re.sub(r"\s+", "", text).lower()
    return {w for w in windows if w in flat}


@pytest.mark.slow
def test_print_report_to_pdf_records_the_export_and_masks_the_secrets(window, qtbot, case_path, tmp_path, shots):
    open_in_window(window, qtbot, case_path)
    cf = window.session.case
    out = tmp_path / "report.pdf"
    assert window.exports.print_report_pdf(out)
    assert not window.exports.idle() and not window.exports.action_print_report.isEnabled()
    # recorded first (unsaved, like any edit), so the report's audit head covers it
    last = cf.case.audit.events[-1]
    assert last["type"] == "export" and last["data"] == {"kind": "report-pdf", "target": "report.pdf"}
    assert window.session.case_dirty
    wait_export(window, qtbot)
    assert window.exports.result == out, window.exports.message
    data = out.read_bytes()
    assert data.startswith(b"%PDF") and b"%%EOF" in data[-64:]
    assert "masked" in window.exports.message and "page" in window.exports.message
    text = pdf_text(out)
    assert CASE_NAME in text
    ids = [r.id for r in cf.case.findings]
    assert len(ids) == 14
    missing = [i for i in ids if i not in text]
    assert not missing
    assert f"event {last['seq']}, {last['hash']}" in re.sub(r"\s+", " ", text)  # the head covers the export
    windows = secret_windows(cf.case, tmp_path / "evidence" / SAMPLE.name)
    assert not leaked(text, windows)
    # the entropy plot (an embedded data: PNG) is in the PDF as an image
    images = subprocess.run(["pdfimages", "-list", str(out)], check=True, capture_output=True, text=True).stdout
    rows = [line.split() for line in images.splitlines()[2:] if line.strip()]
    assert rows and all(r[2] == "image" for r in rows)
    plot_page = int(rows[0][0])
    for page, name in ((1, "case-export-report-page1"), (plot_page, "case-export-report-plot")):
        prefix = tmp_path / name
        subprocess.run(["pdftoppm", "-r", "80", "-png", "-singlefile", "-f", str(page), "-l", str(page),
                        str(out), str(prefix)], check=True)
        png = prefix.with_suffix(".png")
        assert png.stat().st_size > 10_000  # not an empty page
        shutil.copy(png, shots / png.name)


def test_the_leak_check_finds_secret_bytes_when_they_are_there(window, qtbot, case_path, tmp_path):
    """The check above can fail: the unmasked report (never printed by the window) shows the key's bytes."""
    from viewer.gui.case_export import write_report_pdf

    cf = reopened(case_path)
    out = tmp_path / "unmasked.pdf"
    assert write_report_pdf(render_case_report(cf, include_secrets=True), out) > 1
    assert len(leaked(pdf_text(out), secret_windows(cf.case, tmp_path / "evidence" / SAMPLE.name))) > 100


def test_print_report_refuses_to_replace_the_evidence(window, qtbot, case_path, tmp_path):
    open_in_window(window, qtbot, case_path)
    evidence = tmp_path / "evidence" / SAMPLE.name
    before = sha256(evidence)
    events = len(window.session.case.case.audit)
    assert not window.exports.print_report_pdf(evidence, overwrite=True)
    assert "evidence" in window.exports.message
    assert sha256(evidence) == before and len(window.session.case.case.audit) == events
    assert not window.session.case_dirty


def test_a_received_case_is_exported_again_with_the_extracted_evidence(window, qtbot, tmp_path, sample_findings):
    """A reviewer opens a bundle whose evidence the window extracted beside the case (not where the case's
    path points): exporting again with the evidence, and printing the report, use the extracted file."""
    from tests.gui.test_gui_handover import make_bundle

    received = make_bundle(tmp_path, sample_findings, far=True)
    assert window.handover.open_bundle(received, passphrase=PASS, ask_signer=False)
    qtbot.waitUntil(lambda: not window.handover.bundle_busy, timeout=60_000)
    assert window.handover.bundle_outcome == "opened"
    sha = window.session.case.case.evidence[0].sha256
    assert sha in window.session.evidence_overrides  # the case's own path leads nowhere on this machine
    out = tmp_path / "again.zip"
    assert window.exports.export_bundle_to(out, include_evidence=True)
    wait_export(window, qtbot)
    assert window.exports.result is not None, window.exports.message
    res = verify_bundle(out)
    assert res.ok, res.problems
    assert [e["state"] for e in res.manifest["evidence"]] == ["ok"]
    with zipfile.ZipFile(out) as zf:
        findings = json.loads(zf.read("findings.json"))["findings"]
        html = zf.read("report.html").decode()
    assert findings and all(f["excerpt"] is not None for f in findings)
    assert "data:image/png;base64," in html and "No plot" not in html
    pdf = tmp_path / "again.pdf"
    assert window.exports.print_report_pdf(pdf)
    wait_export(window, qtbot)
    assert window.exports.result == pdf, window.exports.message
    images = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert len(images.strip().splitlines()) >= 3  # header lines and at least one image: the entropy plot


@pytest.mark.slow
def test_export_shows_its_steps_and_a_cancel_writes_nothing(window, qtbot, tmp_path):
    """A case whose evidence takes a while to hash (192 MiB): the export's steps show in the status bar;
    Cancel export stops it with no bundle and no partial archive, and says so without a warning box."""
    big = tmp_path / "big.raw"
    with open(big, "wb") as f:
        f.truncate(192 * 1024 * 1024)
    cf = create_case(tmp_path / "big.evcase", CASE_NAME, "Dana Examiner", passphrase=PASS, use_keyring=False,
                     kdf=TEST_KDF)
    cf.add_evidence(big)
    cf.save()
    open_in_window(window, qtbot, cf.path)
    shot = Path(os.environ.get("EV_SCREENSHOTS") or tmp_path) / "case-export-progress.png"
    seen = observe_steps(window, window.exports, "_on_step", window.exports.label, shot,
                         "exporting the bundle: entropy")
    out = tmp_path / "out.zip"
    assert window.exports.export_bundle_to(out)
    assert window.exports.cancel_button.isVisible()
    qtbot.waitUntil(window.exports.idle, timeout=120_000)
    assert window.exports.result is not None, window.exports.message
    steps = " | ".join(text for _, text in seen)
    for step in ("verifying the evidence", "entropy", "writing the archive"):
        assert f"exporting the bundle: {step}" in steps, steps
    assert not window.exports.cancel_button.isVisible() and shot.is_file()

    cancelled = tmp_path / "cancelled.zip"
    assert window.exports.export_bundle_to(cancelled)
    window.exports.cancel()
    qtbot.waitUntil(window.exports.idle, timeout=120_000)
    assert window.exports.result is None
    assert window.exports.message == "Export bundle: cancelled, nothing was written."
    assert not cancelled.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".cancelled.zip")]
    assert not any(b.isVisible() for b in window.findChildren(QMessageBox, "export-outcome")
                   if "cancel" in b.text().lower())
