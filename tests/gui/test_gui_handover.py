"""Handing a case over, in the window: open a received bundle (verified first), redact the current dump,
and the review's Status and Severity columns in the findings table — real widgets, real files.

A screenshot of the findings table with the review columns goes to ``EV_SCREENSHOTS`` (default /tmp)
as handover-findings.png.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox

from tests.builders.window import ini_settings
from tests.conftest import REPO
from viewer.case import TEST_KDF, create_case
from viewer.gui.findings import COL_SEVERITY, COL_STATUS, HEADERS
from viewer.handover.bundle import export_bundle
from viewer.scan.finding import Finding

SAMPLE = REPO / "resources" / "sample" / "demo-keyholder.core"
PASS = "correct horse battery staple"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def sample_findings(demo_scan) -> list[dict]:
    return demo_scan.findings_json  # the demo core's default scan, done once per session


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return ini_settings(tmp_path, "Robin Reviewer")


def observe_steps(window, feature, slot: str, label, shot: Path, when: str) -> list[tuple[str, str]]:
    """Observe the step slot ``slot`` of a feature of the window (a job connects its progress signal to
    that attribute when it starts): the (step, label text) after each call. The status bar is saved to
    ``shot`` once the label has shown ``when`` — at the next call, when the event loop has laid that text
    out."""
    seen: list[tuple[str, str]] = []
    show = getattr(feature, slot)
    shot.unlink(missing_ok=True)

    def observed(step: str, done: int, total: int) -> None:
        if seen and seen[-1][1].startswith(when) and not shot.exists():
            window.statusBar().grab().save(str(shot))
        show(step, done, total)
        seen.append((step, label.text()))

    setattr(feature, slot, observed)
    return seen


def make_bundle(tmp_path: Path, findings: list[dict], *, far: bool, include_evidence: bool = True,
                signer=None) -> Path:
    """A case (passphrase slot only) with the sample as evidence and its scan merged, exported as a bundle.

    ``far``: the evidence lies outside the folder the bundle is extracted to (relative path with ``..``
    past it), so the window must use the extracted copy instead of the case's path.
    """
    src = tmp_path / "sender"
    case_dir = src / "deep" / "case" if far else src / "case"
    ev_dir = src / "far-away" if far else src / "evidence"
    case_dir.mkdir(parents=True)
    ev_dir.mkdir(parents=True)
    evidence = Path(shutil.copy(SAMPLE, ev_dir / SAMPLE.name))
    cf = create_case(case_dir / "op-demo.evcase", "Operation Demo", "Dana Examiner", number="42", passphrase=PASS,
                     use_keyring=False, kdf=TEST_KDF)
    ref = cf.add_evidence(evidence)
    cf.merge_scan(ref.sha256, findings, {"source": "test"})
    cf.save()
    out = tmp_path / "op-demo-bundle.zip"
    export_bundle(cf, out, include_evidence=include_evidence, signer=signer)
    return out


def wait_bundle(window, qtbot) -> None:
    qtbot.waitUntil(lambda: not window.handover.bundle_busy, timeout=60_000)


@pytest.mark.parametrize("far", [False, True], ids=["evidence-inside", "evidence-elsewhere"])
def test_open_bundle_verifies_extracts_and_opens_the_case_and_its_evidence(window, qtbot, tmp_path, sample_findings,
                                                                          far):
    bundle = make_bundle(tmp_path, sample_findings, far=far)
    assert window.handover.open_bundle(bundle, passphrase=PASS, ask_signer=False)
    wait_bundle(window, qtbot)
    assert window.handover.bundle_outcome == "opened", window.handover.bundle_problems
    target = tmp_path / "op-demo-bundle"  # default: beside the bundle, named after it
    cf = window.session.case
    assert cf is not None and cf.case.name == "Operation Demo"
    assert cf.path == target / "case" / "op-demo.evcase"
    ref = cf.case.evidence[0]
    tab = window.tab
    assert tab is not None and tab.state.case_sha256 == ref.sha256
    assert _inside(Path(tab.dump.path).resolve(), target.resolve())
    assert not os.access(tab.dump.path, os.W_OK) or os.geteuid() == 0  # extracted evidence is read-only
    assert sha256(Path(tab.dump.path)) == ref.sha256
    assert window.findings_panel.model.rowCount() == len([r for r in cf.case.findings if not r.stale]) > 0
    qtbot.waitUntil(window.cases.verification_idle, timeout=30_000)
    assert window.session.evidence_states[ref.sha256] == "ok"
    # never overwritten: opening the same bundle into the same folder is refused, nothing replaced
    before = sha256(cf.path)
    assert window.handover.open_bundle(bundle, target, passphrase=PASS, ask_signer=False)
    wait_bundle(window, qtbot)
    assert window.handover.bundle_outcome == "failed" and "exists" in window.handover.bundle_problems[0]
    assert sha256(target / "case" / "op-demo.evcase") == before


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def test_bundle_without_evidence_opens_the_case_with_the_evidence_missing(window, qtbot, tmp_path, sample_findings):
    bundle = make_bundle(tmp_path, sample_findings, far=True, include_evidence=False)
    target = tmp_path / "received"
    assert window.handover.open_bundle(bundle, target, passphrase=PASS, ask_signer=False)
    wait_bundle(window, qtbot)
    assert window.handover.bundle_outcome == "opened"
    assert window.session.case is not None and window.tab is None
    assert sorted(p.name for p in (target / "case").iterdir()) == ["op-demo.evcase"]
    qtbot.waitUntil(window.cases.verification_idle, timeout=30_000)
    assert window.session.evidence_states[window.session.case.case.evidence[0].sha256] == "missing"


def test_a_tampered_bundle_shows_the_problem_and_opens_nothing(window, qtbot, tmp_path, sample_findings):
    good = make_bundle(tmp_path, sample_findings, far=False)
    bad = tmp_path / "tampered.zip"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bad, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "findings.csv":
                data = data[:40] + bytes([data[40] ^ 0x01]) + data[41:]  # one bit of one byte
            zout.writestr(info.filename, data)
    target = tmp_path / "tampered"
    assert window.handover.open_bundle(bad, target, passphrase=PASS)
    wait_bundle(window, qtbot)
    assert window.handover.bundle_outcome == "problems"
    assert window.handover.bundle_problems == ["findings.csv: SHA-256 does not match the manifest (changed)"]
    assert window.session.case is None and window.tab is None
    assert not target.exists()
    box = window.findChild(object, "bundle-problems")
    assert box is not None and "findings.csv: SHA-256 does not match" in box.text()
    # not a ZIP at all: one line, nothing opened
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    assert window.handover.open_bundle(junk, tmp_path / "junk", passphrase=PASS)
    wait_bundle(window, qtbot)
    assert window.handover.bundle_outcome == "problems" and "not a readable ZIP" in window.handover.bundle_problems[0]
    assert window.session.case is None


# -- who made it --------------------------------------------------------------------------------------
@pytest.fixture
def signing_key(tmp_path, monkeypatch):
    """The examiner's signing key from the test session's real OS keyring (made there on first use), and a
    private $XDG_CONFIG_HOME for the trusted-keys file."""
    from viewer.handover.signing import load_signing_key

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return load_signing_key("Dana Examiner")


def _signer_box(window, qtbot) -> QMessageBox:
    qtbot.waitUntil(lambda: window.handover.signer_box is not None and window.handover.signer_box.isVisible(),
                    timeout=60_000)
    box = window.handover.signer_box
    assert box.objectName() == "bundle-signer-confirm" and box.defaultButton() is box.button(
        QMessageBox.StandardButton.Cancel)
    return box


def test_an_untrusted_signer_is_shown_and_asked_about_before_opening(window, qtbot, tmp_path, sample_findings,
                                                                    signing_key):
    bundle = make_bundle(tmp_path, sample_findings, far=False, signer=signing_key)
    target = tmp_path / "received"
    assert window.handover.open_bundle(bundle, target, passphrase=PASS)
    box = _signer_box(window, qtbot)
    text = box.text()
    assert signing_key.name in text and signing_key.fingerprint in text and "Trusted: NO" in text
    box.grab().save(os.path.join(os.environ.get("EV_SCREENSHOTS", "/tmp"), "handover-signer.png"))
    assert not window.handover.idle() and not target.exists()  # asked before anything is extracted
    box.button(QMessageBox.StandardButton.Cancel).click()
    wait_bundle(window, qtbot)
    assert window.handover.bundle_outcome == "not opened" and window.session.case is None and not target.exists()
    # asked again, answered Open: extracted and opened, the signer in the status line
    assert window.handover.open_bundle(bundle, target, passphrase=PASS)
    _signer_box(window, qtbot).button(QMessageBox.StandardButton.Open).click()
    wait_bundle(window, qtbot)
    assert window.handover.bundle_outcome == "opened", window.handover.bundle_problems
    assert window.handover.bundle_signature.valid and not window.handover.bundle_signature.trusted
    assert signing_key.fingerprint in window.statusBar().currentMessage()
    assert (target / "signature.json").is_file()


def test_a_trusted_signer_opens_without_a_question(window, qtbot, tmp_path, sample_findings, signing_key):
    from viewer.handover.signing import default_trusted_keys_path

    trusted = default_trusted_keys_path()
    trusted.parent.mkdir(parents=True)
    trusted.write_text(f"# colleagues\n{signing_key.fingerprint.upper()} Dana (lab 2)\n")
    bundle = make_bundle(tmp_path, sample_findings, far=False, signer=signing_key)
    assert window.handover.open_bundle(bundle, tmp_path / "received", passphrase=PASS)
    wait_bundle(window, qtbot)
    assert window.handover.signer_box is None
    assert window.handover.bundle_outcome == "opened", window.handover.bundle_problems
    check = window.handover.bundle_signature
    assert check.trusted and check.trusted_name == "Dana (lab 2)"
    assert "trusted as Dana (lab 2)" in window.statusBar().currentMessage()


def test_an_unsigned_bundle_is_asked_about(window, qtbot, tmp_path, sample_findings, signing_key):
    bundle = make_bundle(tmp_path, sample_findings, far=False)
    assert window.handover.open_bundle(bundle, tmp_path / "received", passphrase=PASS)
    box = _signer_box(window, qtbot)
    assert "NOT signed" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    wait_bundle(window, qtbot)
    assert window.handover.bundle_outcome == "not opened" and not (tmp_path / "received").exists()


def test_redact_current_writes_a_clean_copy_and_leaves_the_input_alone(window, qtbot, tmp_path):
    evidence = Path(shutil.copy(SAMPLE, tmp_path / SAMPLE.name))
    before = sha256(evidence)
    assert window.load(evidence) is None
    out = tmp_path / "out" / "demo.redacted.core"
    out.parent.mkdir()
    assert window.handover.redact_current(out)
    assert window.handover.redact_busy and window.handover.busy.isVisible()  # a busy indicator, the window lives on
    qtbot.waitUntil(lambda: not window.handover.redact_busy, timeout=120_000)
    result = window.handover.redaction_result
    assert result is not None, window.handover.redaction_message
    assert result.clean and len(result.ranges) > 0
    assert out.is_file() and out.stat().st_size == evidence.stat().st_size and sha256(out) != before
    assert Path(result.log).is_file()
    assert sha256(evidence) == before == result.input_sha256
    assert window.handover.redaction_message.startswith("Clean") and result.log in window.handover.redaction_message
    assert not window.handover.busy.isVisible()
    # the output must not be the input, and an existing output is not replaced without force
    assert window.handover.redact_current(evidence)
    qtbot.waitUntil(lambda: not window.handover.redact_busy, timeout=30_000)
    assert window.handover.redaction_result is None and "refusing to overwrite evidence" in window.handover.redaction_message
    assert sha256(evidence) == before


@pytest.mark.slow
def test_redact_with_the_case_open_uses_its_reviews_and_records_the_event(window, qtbot, tmp_path, sample_findings):
    """The dump is evidence of the open case: a finding the examiner marks false-positive (in the review
    panel) stays with every finding of its key, and the redaction lands in the case's audit trail."""
    bundle = make_bundle(tmp_path, sample_findings, far=False)
    assert window.handover.open_bundle(bundle, passphrase=PASS, ask_signer=False)
    wait_bundle(window, qtbot)
    assert window.handover.bundle_outcome == "opened"
    panel = window.findings_panel
    panel.group_box.setChecked(False)
    panel.select_row(0)
    qtbot.waitUntil(lambda: window.cases.review.record is not None, timeout=5000)
    marked = window.cases.review.record
    window.cases.review.status_combo.setCurrentText("false-positive")
    assert marked.review.status == "false-positive"
    events_before = len(window.session.case.case.audit)
    evidence = Path(window.tab.dump.path)
    out = tmp_path / "redacted.core"
    assert window.handover.redact_current(out)
    qtbot.waitUntil(lambda: not window.handover.redact_busy, timeout=120_000)
    result = window.handover.redaction_result
    assert result is not None, window.handover.redaction_message
    kept_ids = {f.id for f, _why in result.kept}
    assert marked.id in kept_ids
    same_key = {d["id"] for d in sample_findings if d["secret"] and d["key_id"] == marked.finding["key_id"]}
    assert kept_ids == same_key
    assert "Robin Reviewer" in dict((f.id, why) for f, why in result.kept)[marked.id]
    events = window.session.case.case.audit.events[events_before:]
    assert [e["type"] for e in events] == ["redact"]
    assert events[0]["data"]["output_sha256"] == result.output_sha256 == sha256(out)
    assert events[0]["data"]["kept"] == len(kept_ids)
    assert window.session.case_dirty and "Recorded in the case's audit trail" in window.handover.redaction_message
    assert out.read_bytes() == evidence.read_bytes()  # the demo core holds one key, and it was kept
    box = window.findChild(QMessageBox, "redact-outcome")
    assert box is not None and box.isVisible()
    qtbot.wait(200)
    shots = Path(os.environ.get("EV_SCREENSHOTS") or "/tmp")
    assert box.grab().save(str(shots / "handover-redact-case.png"))
    box.close()
    window.cases.dock.raise_()
    window.cases.tabs.setCurrentIndex(2)
    qtbot.wait(200)
    last = window.cases.audit_model.rowCount() - 1
    row_text = " ".join(str(window.cases.audit_model.index(last, c).data()) for c in range(window.cases.audit_model.columnCount()))
    assert "redact" in row_text
    assert window.cases.dock.grab().save(str(shots / "handover-redact-audit.png"))


@pytest.mark.slow
def test_review_columns_follow_the_review_panel(window, qtbot, tmp_path, sample_findings):
    panel = window.findings_panel
    assert panel.model.columnCount() == len(HEADERS)  # no case: no review columns
    bundle = make_bundle(tmp_path, sample_findings, far=False)
    assert window.handover.open_bundle(bundle, passphrase=PASS, ask_signer=False)
    wait_bundle(window, qtbot)
    assert window.handover.bundle_outcome == "opened"
    model = panel.model
    assert model.columnCount() == len(HEADERS) + 2
    assert model.headerData(COL_STATUS, Qt.Orientation.Horizontal) == "Status"
    assert model.headerData(COL_SEVERITY, Qt.Orientation.Horizontal) == "Severity"
    panel.group_box.setChecked(False)
    panel.select_row(0)
    qtbot.waitUntil(lambda: window.cases.review.record is not None, timeout=5000)
    first = panel.proxy.index(0, COL_STATUS)
    assert first.data() == "unreviewed"
    window.cases.review.status_combo.setCurrentText("confirmed")
    window.cases.review.severity_combo.setCurrentText("high")
    assert panel.proxy.index(0, COL_STATUS).data() == "confirmed"
    assert panel.proxy.index(0, COL_SEVERITY).data() == "high"
    assert window.session.case_dirty
    record = window.cases.review.record
    assert record.review.status == "confirmed"
    others = {panel.proxy.index(r, COL_STATUS).data() for r in range(1, panel.proxy.rowCount())}
    assert others <= {"unreviewed"}
    window.findings_dock.raise_()
    qtbot.wait(200)
    shots = Path(os.environ.get("EV_SCREENSHOTS") or "/tmp")
    window.grab().save(str(shots / "handover-window.png"))
    assert window.findings_dock.grab().save(str(shots / "handover-findings.png"))
    # closing the case removes the columns
    assert window.cases.close_case(save=False)
    assert model.columnCount() == len(HEADERS)


def test_review_columns_pass_the_model_tester(qtmodeltester, sample_findings):
    from viewer.gui.findings import FindingsModel

    findings = [Finding.from_json(d) for d in sample_findings]
    model = FindingsModel(findings, review=lambda f: ("confirmed", "high") if f.offset % 2 else None)
    qtmodeltester.check(model, force_py=True)
    model.set_review_lookup(None)
    qtmodeltester.check(model, force_py=True)


@pytest.mark.slow
def test_redaction_shows_its_steps_and_a_cancel_leaves_nothing(window, qtbot, tmp_path):
    evidence = Path(shutil.copy(SAMPLE, tmp_path / SAMPLE.name))
    assert window.load(evidence) is None
    shot = Path(os.environ.get("EV_SCREENSHOTS") or tmp_path) / "handover-redact-progress.png"
    seen = observe_steps(window, window.handover, "_on_redact_step", window.handover.label, shot, "redacting: copying")
    out = tmp_path / "stepped.core"
    assert window.handover.redact_current(out)
    assert window.handover.cancel_button.isVisible()
    qtbot.waitUntil(lambda: not window.handover.redact_busy, timeout=120_000)
    assert window.handover.redaction_result is not None and out.is_file()
    assert {"copying", "re-scanning the copy", "hashing the copy"} <= {step for step, _ in seen}, seen
    assert any(text.startswith("redacting: copying") for _, text in seen), seen
    assert not window.handover.cancel_button.isVisible() and not window.handover.busy.isVisible()
    assert shot.is_file()

    # cancelled at once: the worker stops at its first check; no copy, no log, no partial file
    cancelled = tmp_path / "cancelled.core"
    assert window.handover.redact_current(cancelled)
    window.handover.cancel_redaction()
    assert "cancelling" in window.handover.label.text()
    qtbot.waitUntil(lambda: not window.handover.redact_busy, timeout=60_000)
    assert window.handover.redaction_result is None
    assert window.handover.redaction_message == "Redaction cancelled: nothing was written."
    assert window.findChild(QMessageBox, "redact-outcome") is None or not any(
        b.isVisible() and "cancel" in b.text().lower() for b in window.findChildren(QMessageBox, "redact-outcome"))
    assert not cancelled.exists() and not Path(str(cancelled) + ".redaction.json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".cancelled.core.")]
    assert sha256(evidence) == sha256(SAMPLE)
