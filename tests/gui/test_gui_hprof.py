"""A Java heap dump (HPROF) in the real window: written by tests/builders/hprof.py (an RSA key as
RSAPrivateCrtKeyImpl, an AES key in SecretKeySpec with AESCrypt's schedule, HmacCore's pads, an Ed25519
pair as EdDSAPrivateKeyImpl and EdDSAPublicKeyImpl), opened from the file, its structure tree listing the
key objects, scanned from the window, and each finding's object context (class, field) shown in the
details pane when it is selected in the findings table. A screenshot of the window is saved (``shots``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from tests.builders import hprof as build
from viewer.scan.detectors.aes import layout_bytes
from viewer.scan.finding import Confidence
from viewer.scan.keys import key_id

RSA_CLASS = "sun.security.rsa.RSAPrivateCrtKeyImpl"
ED_CLASS = "sun.security.ec.ed.EdDSAPrivateKeyImpl"


@pytest.fixture
def heap(tmp_path: Path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed = ed25519.Ed25519PrivateKey.generate()
    aes_key, hmac_key = os.urandom(32), os.urandom(32)
    data, at = build.jdk_heap(key, aes_key, hmac_key, layout_bytes(aes_key, True, True), ed_keys=(ed,),
                              ed_publics=(ed.public_key(),))
    path = tmp_path / "service.hprof"
    path.write_bytes(data)
    return path, key, ed, at


def _children(model, parent) -> list:
    while model.canFetchMore(parent):
        model.fetchMore(parent)
    return [model.index(row, 0, parent) for row in range(model.rowCount(parent))]


def test_heap_dump_in_the_window(qtbot, window, heap, shots: Path) -> None:
    path, key, ed, at = heap
    assert window.load(path) is None
    qtbot.waitUntil(lambda: window.session.current is not None and window.session.current.dump.format == "hprof",
                    timeout=20_000)
    model = window.structure_model
    (root,) = _children(model, window.tree.rootIndex())
    sections = {model.node(i).name: i for i in _children(model, root)}
    assert {"header", "classes", "key objects"} <= set(sections)
    objects = {model.node(i).name.split(" @")[0]: i for i in _children(model, sections["key objects"])}
    assert {RSA_CLASS, ED_CLASS, "javax.crypto.spec.SecretKeySpec"} <= set(objects)
    ed_fields = {model.node(i).name: i for i in _children(model, objects[ED_CLASS])}
    assert ed_fields["h"].siblingAtColumn(1).data() == "byte[32]"
    # selecting the seed's field in the tree selects its bytes in the hex view
    window.tree.expand(sections["key objects"])
    window.tree.expand(objects[ED_CLASS])
    window.tree.setCurrentIndex(ed_fields["h"])
    assert window.selected_range() == (at["ed0_h"], 32)

    assert window.scans.start_scan()
    qtbot.waitUntil(window.scans.idle, timeout=120_000)
    panel = window.findings_panel
    rows = {panel.proxy.finding_at(r).offset: r for r in range(panel.proxy.rowCount())
            if panel.proxy.finding_at(r).secret}
    for offset, kind, cls, field, kid in (
            (at["p"], "rsa-private-key", RSA_CLASS, "p.mag", key_id(key.public_key())),
            (at["ed0_h"], "ed25519-private-key", ED_CLASS, "h", key_id(ed.public_key()))):
        assert offset in rows, f"no {kind} row at {offset:#x}"
        with qtbot.waitSignal(panel.sig_finding_selected) as blocker:
            panel.select_row(rows[offset])
        finding = blocker.args[0]
        assert finding.kind == kind and finding.key_id == kid and finding.confidence == Confidence.CONFIRMED
        text = window.details.text()
        lines = text.splitlines()
        line = lines[lines.index("Java object") + 1]  # the table's next cell: the value
        assert line.startswith(f"{cls} @0x") and f", field {field} (" in line, line
        assert window.selected_range() == (offset, finding.length)
    # the Ed25519 seed is never shown in the details
    assert ed.private_bytes_raw().hex() not in window.details.text()
    assert window.details.browser.find("Java object")  # scrolled into view for the screenshot
    window.grab().save(str(shots / "hprof-01-ed25519-object.png"))
