"""The findings models, filter proxy, panel and details pane, on real findings of real scans.

Findings come from scanning a generated file with freshly generated RSA and EC keys planted in random
data, and from the two corpus samples (a Wine minidump and a gcore core holding keys).
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from viewer.evidence import open_dump
from viewer.scan.engine import scan_dump
from viewer.scan.finding import Confidence, Finding
from viewer.workspace.findings_view import confidence_label

WINE = "wine-keyholder-full.dmp"
GCORE = "gcore-python-rsa-ec.core"




# -- a generated file with real keys -----------------------------------------------------------------
@dataclass
class Planted:
    path: Path
    secrets: list[bytes]  # big-endian private numbers: must never appear in the GUI in any encoding
    offsets: dict[str, int]


def _be(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def plant_keys(path: Path, size: int, *, random_bytes: int | None = None, seed_offsets: int = 0) -> Planted:
    """A file of ``size`` bytes: random data (all of it, or the first ``random_bytes`` and zeros after),
    with an RSA-2048 key as PEM and DER, and a P-256 key as PEM, planted at known offsets."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    pem = rsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    der = rsa_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    ec_pem = ec_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption())
    blobs = {"rsa-pem": pem, "rsa-der": der, "ec-pem": ec_pem}
    rnd = size if random_bytes is None else min(size, random_bytes)
    step = max(4096, size // 4)
    offsets = {name: 4096 + seed_offsets + i * step + 123 for i, name in enumerate(blobs)}
    with open(path, "wb") as fh:
        done = 0
        while done < rnd:
            n = min(8 << 20, rnd - done)
            fh.write(os.urandom(n))
            done += n
        fh.truncate(size)  # sparse zeros after the random part
        for name, blob in blobs.items():
            fh.seek(offsets[name])
            fh.write(b"\0" + blob + b"\0")
            offsets[name] += 1
    nums = rsa_key.private_numbers()
    secrets = [_be(nums.d), _be(nums.p), _be(nums.q), _be(nums.dmp1), _be(nums.dmq1), _be(nums.iqmp),
               _be(ec_key.private_numbers().private_value), der]
    return Planted(path, secrets, offsets)


def secret_spellings(secret: bytes) -> list[str]:
    """Texts in which the bytes of a private number might leak into a widget."""
    out = [secret.hex(), secret.hex().upper(), base64.b64encode(secret).decode(),
           base64.urlsafe_b64encode(secret).decode().rstrip("=")]
    # a long enough piece is enough to count as a leak
    return [s[:24] for s in out] + [str(int.from_bytes(secret, "big"))[:24]]


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Planted:
    return plant_keys(tmp_path_factory.mktemp("keys") / "planted.bin", 3 << 20)


@pytest.fixture(scope="module")
def planted_findings(planted: Planted) -> list[Finding]:
    with open_dump(planted.path) as dump:
        result = scan_dump(dump)
    assert not result.cancelled
    return result.findings


@pytest.fixture(scope="module")
def wine_findings(samples_dir: Path, scan_once) -> list[Finding]:
    return scan_once(samples_dir / WINE, samples_dir / f"{WINE}.public.pem").result.findings  # shared scan


@pytest.fixture(scope="module")
def gcore_findings(samples_dir: Path, scan_once) -> list[Finding]:
    return scan_once(samples_dir / GCORE, samples_dir / f"{GCORE}.public.pem").result.findings  # shared scan


def test_the_planted_keys_are_found(planted: Planted, planted_findings: list[Finding]) -> None:
    by_offset = {f.offset: f for f in planted_findings}
    for name, off in planted.offsets.items():
        assert off in by_offset, name
        assert by_offset[off].confidence == Confidence.CONFIRMED, name


# -- models ------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("source", ["planted", "wine", "gcore"])
def test_models_pass_the_qt_model_tester(qtmodeltester, request: pytest.FixtureRequest, source: str) -> None:
    from viewer.gui.findings import FindingsFilterProxy, FindingsModel, FindingsTreeModel

    findings: list[Finding] = request.getfixturevalue(f"{source}_findings")
    assert findings
    model = FindingsModel(findings)
    qtmodeltester.check(model, force_py=True)
    proxy = FindingsFilterProxy()
    proxy.setSourceModel(model)
    proxy.sort(5)
    qtmodeltester.check(proxy, force_py=True)
    tree = FindingsTreeModel(findings)
    qtmodeltester.check(tree, force_py=True)
    assert sum(tree.rowCount(tree.index(r, 0)) for r in range(tree.rowCount())) == len(findings)


def test_model_rows_show_each_finding(qapp, wine_findings: list[Finding]) -> None:
    from viewer.gui.findings import FINDING_ROLE, HEADERS, FindingsModel, short_key_id

    model = FindingsModel(wine_findings)
    assert model.rowCount() == len(wine_findings) and model.columnCount() == len(HEADERS) == 9  # + Id (issue 17)
    for row, f in enumerate(wine_findings):
        cells = [model.index(row, c).data() for c in range(9)]
        assert cells[0] == f.kind and cells[1] == f.encoding and cells[2] == confidence_label(f.confidence)
        assert cells[8] == f.id  # the id the report gives it
        assert cells[3] == short_key_id(f.key_id)
        assert cells[5] == f"{f.offset:#x}"
        assert cells[6] == (f"{f.vaddr:#x}" if f.vaddr is not None else "—")
        assert cells[7] == ", ".join(f.matches)
        assert model.index(row, 0).data(FINDING_ROLE) is f and model.finding_at(row) is f
    confirmed = next(r for r, f in enumerate(wine_findings) if f.confidence == Confidence.CONFIRMED)
    from PySide6.QtCore import Qt

    brush = model.index(confirmed, 2).data(Qt.ItemDataRole.BackgroundRole)
    assert brush.color().green() > brush.color().red()  # green
    assert model.index(confirmed, 3).data(Qt.ItemDataRole.FontRole).fixedPitch() or True


def test_add_findings_inserts_rows(qtbot, planted_findings: list[Finding]) -> None:
    from viewer.gui.findings import FindingsModel

    model = FindingsModel()
    with qtbot.waitSignal(model.rowsInserted) as blocker:
        model.add_findings(planted_findings[:2])
    assert blocker.args[1:] == [0, 1]
    model.add_findings(planted_findings[2:])
    model.add_findings([])
    assert model.findings == planted_findings
    model.set_findings(planted_findings[:1])
    assert model.rowCount() == 1


def test_proxy_filters_by_kind_confidence_and_text_and_sorts_numerically(qapp, wine_findings) -> None:
    from viewer.gui.findings import COL_CONFIDENCE, COL_OFFSET, FindingsFilterProxy, FindingsModel

    model = FindingsModel(wine_findings)
    proxy = FindingsFilterProxy()
    proxy.setSourceModel(model)

    def shown() -> list[Finding]:
        return [proxy.finding_at(r) for r in range(proxy.rowCount())]

    proxy.set_kinds({"certificate"})
    assert shown() and all(f.kind == "certificate" for f in shown())
    assert len(shown()) == sum(f.kind == "certificate" for f in wine_findings)
    proxy.set_kinds(None)
    proxy.set_min_confidence(Confidence.CONFIRMED)
    assert {f.confidence for f in shown()} == {Confidence.CONFIRMED}
    assert len(shown()) == sum(f.confidence == Confidence.CONFIRMED for f in wine_findings)
    proxy.set_min_confidence(Confidence.LOW)
    key_id = next(f.key_id for f in wine_findings if f.key_id)
    proxy.set_text(key_id[:10].lower() if key_id[:10].lower() != key_id[:10] else key_id[:10])
    assert shown() and all(f.key_id and key_id[:10].lower() in f.key_id.lower() for f in shown())
    proxy.set_text("")
    assert proxy.rowCount() == len(wine_findings)

    # numeric sort: descending offsets; text sort of "0x..." would put 0x9... after 0x10...
    proxy.sort(COL_OFFSET, order=proxy.sortOrder().DescendingOrder)
    offsets = [f.offset for f in shown()]
    assert offsets == sorted(offsets, reverse=True)
    proxy.sort(COL_CONFIDENCE)
    ranks = [int(f.confidence) for f in shown()]
    assert ranks == sorted(ranks)


def test_tree_groups_by_key_id(qapp, wine_findings) -> None:
    from viewer.gui.findings import FINDING_ROLE, FindingGroup, FindingsTreeModel

    tree = FindingsTreeModel(wine_findings)
    key_ids = {f.key_id for f in wine_findings if f.key_id}
    no_id = sum(1 for f in wine_findings if not f.key_id)
    assert tree.rowCount() == len(key_ids) + no_id
    for r in range(tree.rowCount()):
        parent = tree.index(r, 0)
        group = parent.data(FINDING_ROLE)
        assert isinstance(group, FindingGroup)
        assert tree.index(r, 2).data() == confidence_label(max(f.confidence for f in group.findings))
        assert tree.rowCount(parent) == len(group.findings)
        for c in range(tree.rowCount(parent)):
            f = tree.index(c, 0, parent).data(FINDING_ROLE)
            assert f.key_id == group.key_id and tree.parent(tree.index(c, 3, parent)) == parent
    # the key of the supplied capi key: a blob plus its raw bignum components
    capi = next(g for g in tree.groups if "win-procdump-full.dmp#capi-gen-rsa-2048" in g.matches)
    assert len(capi.findings) > 1 and capi.confidence == Confidence.CONFIRMED


# -- the panel and the details pane ------------------------------------------------------------------
@pytest.fixture
def panel(qtbot, wine_findings):
    from viewer.gui.findings import FindingsPanel

    w = FindingsPanel()
    qtbot.addWidget(w)
    w.resize(1000, 400)
    w.show()
    w.set_findings(wine_findings)
    return w


def test_panel_filter_bar(panel, wine_findings) -> None:
    kinds = sorted({f.kind for f in wine_findings})
    assert [panel.kind_combo.itemText(i) for i in range(panel.kind_combo.count())] == ["all kinds", *kinds]
    panel.kind_combo.setCurrentText("certificate")
    assert {f.kind for f in panel.visible_findings()} == {"certificate"}
    panel.kind_combo.setCurrentIndex(0)
    panel.confidence_combo.setCurrentIndex(3)  # confirmed only
    assert {f.confidence for f in panel.visible_findings()} == {Confidence.CONFIRMED}
    panel.confidence_combo.setCurrentIndex(0)
    panel.text_filter.setText("memory")
    assert len(panel.visible_findings()) == sum("memory" in (f.region or "") for f in wine_findings)
    panel.text_filter.setText("")
    panel.group_box.setChecked(True)
    assert panel.stack.currentWidget() is panel.tree
    panel.confidence_combo.setCurrentIndex(3)
    assert panel.tree_model.groups and all(f.confidence == Confidence.CONFIRMED
                                           for f in panel.visible_findings())
    assert "secrets" in panel.count_label.text()  # one set of counts: secrets, not "keys" (issue 17)


def test_selecting_a_row_emits_the_finding(panel, qtbot) -> None:
    expected = panel.proxy.finding_at(2)
    with qtbot.waitSignal(panel.sig_finding_selected) as blocker:
        panel.select_row(2)
    assert blocker.args[0] is expected
    panel.group_box.setChecked(True)
    with qtbot.waitSignal(panel.sig_group_selected) as blocker:
        panel.select_row(0)
    assert blocker.args[0] is panel.tree_model.groups[0]
    child = panel.tree_model.index(0, 0, panel.tree_model.index(0, 0))
    with qtbot.waitSignal(panel.sig_finding_selected) as blocker:
        panel.tree.setCurrentIndex(child)
    assert blocker.args[0] is panel.tree_model.groups[0].findings[0]


def test_streaming_batches_then_final_replacement(qtbot, wine_findings) -> None:
    from viewer.gui.findings import FindingsPanel

    w = FindingsPanel()
    qtbot.addWidget(w)
    w.group_box.setChecked(True)
    for i in range(0, len(wine_findings), 10):
        w.add_findings(wine_findings[i : i + 10])
    assert w.model.rowCount() == len(wine_findings)
    assert sum(len(g.findings) for g in w.tree_model.groups) == len(wine_findings)
    w.set_findings(wine_findings[:5])
    assert w.model.rowCount() == 5


def test_details_pane_explains_a_finding_without_key_bytes(qtbot, planted: Planted, planted_findings) -> None:
    from viewer.gui.details import DetailsPane
    from viewer.gui.findings import FindingsTreeModel

    pane = DetailsPane()
    qtbot.addWidget(pane)
    leaks = [s for secret in planted.secrets for s in secret_spellings(secret)]
    for f in planted_findings:
        pane.show_finding(f)
        text = pane.text()
        assert f.kind in text and f.encoding in text
        assert f"{f.offset:#x}" in text and f"{f.length} bytes" in text
        for reason in f.reasons:
            assert reason in text
        if f.key_id:
            assert pane.key_id == f.key_id and f.key_id in text
        for leak in leaks:
            assert leak not in text and leak not in pane.browser.toHtml()
    for group in FindingsTreeModel(planted_findings).groups:
        pane.show_secret(group)
        text = pane.text()
        assert all(f"{f.offset:#x}" in text for f in group.findings)
        for leak in leaks:
            assert leak not in text and leak not in pane.browser.toHtml()


def test_details_pane_names_the_supplied_key_and_the_confidence(qtbot, wine_findings) -> None:
    from PySide6.QtGui import QGuiApplication

    from viewer.gui.details import DetailsPane

    pane = DetailsPane()
    qtbot.addWidget(pane)
    f = next(f for f in wine_findings if f.matches and f.encoding == "pem-pkcs1")
    pane.show_finding(f)
    text = pane.text()
    assert f.matches[0] in text
    assert "math-checked" in text and "mathematics was checked" in text  # the confidence's own word (issue 17)
    assert "2048" in text  # bits from details
    assert f"{f.vaddr:#x}" in text and (f.region or "") in text
    with qtbot.waitSignal(pane.sig_key_id_copied):
        pane.copy_button.click()
    assert QGuiApplication.clipboard().text() == f.key_id
    pane.clear()
    assert not pane.copy_button.isEnabled()
