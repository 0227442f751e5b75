"""The shared fixtures and tiers of tests/conftest.py: what other tests rely on, checked once here."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import DEMO_CORE, SAMPLE_DUMPS
from viewer.case import WrongPassphrase, open_case


def test_qt_fixture_means_gui(qtbot, request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("gui") is not None


def test_no_qt_fixture_no_gui(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("gui") is None


def test_samples_scanned_once(scanned_samples: dict, scan_once, samples_dir: Path) -> None:
    assert sorted(scanned_samples) == sorted(SAMPLE_DUMPS)
    for name, scanned in scanned_samples.items():
        assert scanned.path == samples_dir / name and scanned.path.is_file()
        assert scanned.result.findings and not scanned.result.cancelled
        assert scan_once(samples_dir / name) is scanned  # the same object: scanned once
        assert scanned.findings_json == [f.to_json() for f in scanned.result.findings]
        assert scanned.findings_json is not scanned.findings_json  # a fresh list: callers may change it


def test_scan_with_public_keys_is_its_own(scan_once, scanned_samples: dict, samples_dir: Path) -> None:
    name = SAMPLE_DUMPS[0]
    keyed = scan_once(samples_dir / name, samples_dir / f"{name}.public.pem")
    assert keyed is not scanned_samples[name]
    assert keyed.result.public_keys and all(pk["found"] for pk in keyed.result.public_keys)
    assert scanned_samples[name].result.public_keys == []


def test_sample_case_and_its_copy(sample_case, case_factory, demo_scan, tmp_path: Path) -> None:
    cf = sample_case.open()
    assert [e.sha256 for e in cf.case.evidence] and len(cf.case.findings) == len(demo_scan.result.findings)
    assert [s.state for s in cf.verify_evidence()] == ["ok"]
    assert sample_case.evidence[0].read_bytes() == DEMO_CORE.read_bytes()
    before = sample_case.path.read_bytes()

    mine = case_factory.copy(sample_case, tmp_path)
    assert mine.path == tmp_path / sample_case.path.name and mine.path.read_bytes() == before
    changed = mine.open()
    assert [s.state for s in changed.verify_evidence()] == ["ok"]  # the evidence came along
    changed.annotate(changed.case.findings[0].id, status="confirmed", comment="mine",
                     evidence_sha256=changed.case.findings[0].evidence_sha256)
    changed.save()
    assert sample_case.path.read_bytes() == before  # the shared case is untouched
    with pytest.raises(WrongPassphrase):
        open_case(mine.path, passphrase="not it", use_keyring=False)


def test_factory_defaults(case_factory, tmp_path: Path) -> None:
    cf = case_factory.create(tmp_path / "a.evcase", number="7")
    assert cf.case.number == "7"
    again = open_case(cf.path, passphrase=case_factory.passphrase, use_keyring=False)
    assert again.case.name == cf.case.name


def test_prepared_layout_kept_by_copy(case_factory, demo_scan, tmp_path: Path) -> None:
    """Evidence in a folder beside the case's (a relative path with ``..``): the copy still finds it."""
    prepared = case_factory.prepare(tmp_path / "prepared", [(DEMO_CORE, demo_scan.findings_json)],
                                    case_file="case/c.evcase", evidence_dir="evidence", name="Layout")
    mine = case_factory.copy(prepared, tmp_path / "mine")
    assert mine.path == tmp_path / "mine" / "case" / "c.evcase"
    assert mine.evidence == (tmp_path / "mine" / "evidence" / DEMO_CORE.name,)
    assert [s.state for s in mine.open().verify_evidence()] == ["ok"]
