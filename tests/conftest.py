"""Shared test fixtures and tiers: where ../shared is, the corpus and its facts, the decompressed samples,
the samples scanned once, cases made the tests' way; the ``gui`` and ``slow`` markers.

The corpus lives beside the repository (read-only, never copied in). ``EVIDENCE_SHARED`` overrides the
location for unusual checkouts.

Session fixtures hand every test the same objects (a ScanResult, its findings): read them, never change
them — a test that changes a case takes a copy (``case_factory.copy(sample_case, tmp_path)``).

Tiers: ``gui`` is set here on everything under tests/gui/ and on any test that uses a Qt fixture;
``slow`` is set by hand on the tests `make test-fast` leaves out (`make test` runs everything).
"""

from __future__ import annotations

import json
import lzma
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # imported where used: a broken viewer module must not stop the whole collection
    from tests.builders.case import CaseFactory, PreparedCase
    from viewer.scan.engine import ScanResult

if not os.environ.get("DISPLAY") and not os.environ.get("QT_QPA_PLATFORM"):
    # Without a display, creating a QApplication would abort the whole run.
    os.environ["QT_QPA_PLATFORM"] = "offscreen"

if not os.environ.get("EVIDENCE_VIEWER_CACHE_DIR"):
    # The decompressed-content cache of containers: one private folder per test run (never ~/.cache).
    import atexit
    import shutil
    import tempfile

    _CACHE = tempfile.mkdtemp(prefix="ev-test-cache-")
    os.environ["EVIDENCE_VIEWER_CACHE_DIR"] = _CACHE
    atexit.register(shutil.rmtree, _CACHE, True)

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EVIDENCE_SHARED", REPO.parent / "shared"))
CORPUS = SHARED / "corpus"
FACTS = CORPUS / "facts"
SAMPLES = CORPUS / "samples"
SAMPLE_DUMPS = ("gcore-python-rsa-ec.core", "wine-keyholder-full.dmp")  # the two real samples, decompressed
DEMO_CORE = REPO / "resources" / "sample" / "demo-keyholder.core"  # the small demo core in the repository
GUI_DIR = Path(__file__).resolve().parent / "gui"
QT_FIXTURES = frozenset({"qapp", "qtbot", "qtmodeltester"})


def corpus_files() -> list[Path]:
    """Every dump of the public corpus (not the facts, manifests or samples)."""
    if not CORPUS.is_dir():
        raise RuntimeError(f"the shared corpus is missing: {CORPUS}")
    return sorted(p for p in CORPUS.iterdir() if p.is_file() and not p.name.startswith("MANIFEST"))


def load_facts(dump: Path) -> dict:
    candidates = [FACTS / f"{dump.name}.json", FACTS / f"{dump.stem}.json"]
    for c in candidates:
        if c.exists():
            return json.loads(c.read_text())
    raise FileNotFoundError(f"no facts for {dump.name}")


@pytest.fixture(scope="session")
def samples_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two sample dumps decompressed once per session into a temporary directory."""
    out = tmp_path_factory.mktemp("samples")
    for xz in SAMPLES.glob("*.xz"):
        target = out / xz.name[:-3]
        with lzma.open(xz) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 8 * 1024 * 1024)
        target.chmod(0o444)
    for other in SAMPLES.iterdir():
        if not other.name.endswith(".xz"):
            shutil.copy(other, out / other.name)
    return out


@pytest.fixture(scope="session")
def samples_truth() -> dict:
    return json.loads((SAMPLES / "samples-truth.json").read_text())


@pytest.fixture(autouse=True)
def _usable_pyside(request: pytest.FixtureRequest) -> None:
    """Fail with the reason, instead of aborting the whole run, on a PySide6 that corrupts refcounts."""
    if not QT_FIXTURES & set(request.fixturenames):
        return  # this test does not create Qt objects in this process
    from viewer.gui.app import broken_pyside_message, pyside_breaks_refcounts

    if pyside_breaks_refcounts():
        pytest.fail(broken_pyside_message(), pytrace=False)


@pytest.hookimpl(tryfirst=True)  # before -m deselects, so that `-m "not gui"` sees the marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """``gui`` on every test under tests/gui/ and on every test that needs a QApplication (a Qt fixture,
    directly or through another fixture)."""
    for item in items:
        if GUI_DIR in item.path.parents or QT_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.gui)


# -- scanned once per session ------------------------------------------------------------------------
@dataclass(frozen=True)
class ScannedSample:
    """A dump and the engine's result for it (default detectors). Shared: read it, do not change it."""

    path: Path
    result: ScanResult

    @property
    def findings_json(self) -> list[dict]:
        """The findings as a case stores them (``Finding.to_json()``), a fresh list each time."""
        return [f.to_json() for f in self.result.findings]


@pytest.fixture(scope="session")
def scan_once() -> Callable[..., ScannedSample]:
    """``scan_once(path, public_keys_file=None)``: the dump scanned with the default detectors (and the
    public keys of that file, if given) the first time it is asked for, the same result afterwards."""
    from viewer.evidence import open_dump
    from viewer.scan.engine import scan_dump
    from viewer.scan.publickeys import load_public_keys

    done: dict[tuple[Path, Path | None], ScannedSample] = {}

    def scan(path: Path, public_keys_file: Path | None = None) -> ScannedSample:
        key = (Path(path).resolve(), None if public_keys_file is None else Path(public_keys_file).resolve())
        if key not in done:
            keys = load_public_keys([public_keys_file]) if public_keys_file is not None else None
            with open_dump(path) as dump:
                done[key] = ScannedSample(Path(path), scan_dump(dump, public_keys=keys))
        return done[key]

    return scan


@pytest.fixture(scope="session")
def scanned_samples(samples_dir: Path, scan_once: Callable[..., ScannedSample]) -> dict[str, ScannedSample]:
    """The two real samples (by file name), scanned once with the default detectors and no public keys."""
    return {name: scan_once(samples_dir / name) for name in SAMPLE_DUMPS}


@pytest.fixture(scope="session")
def demo_scan(scan_once: Callable[..., ScannedSample]) -> ScannedSample:
    """resources/sample/demo-keyholder.core scanned once with the default detectors."""
    return scan_once(DEMO_CORE)


# -- cases ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def case_factory() -> CaseFactory:
    """Cases the tests' way (TEST_KDF, the tests' passphrase, no keyring unless asked); ``copy`` gives a
    test its own copy of a prepared case."""
    from tests.builders.case import CaseFactory

    return CaseFactory()


@pytest.fixture(scope="session")
def sample_case(case_factory: CaseFactory, demo_scan: ScannedSample,
                tmp_path_factory: pytest.TempPathFactory) -> PreparedCase:
    """A saved case holding (a copy of) the demo core and its default scan. Read-only: a test that changes
    it takes ``case_factory.copy(sample_case, tmp_path)``."""
    return case_factory.prepare(tmp_path_factory.mktemp("sample-case"), [(DEMO_CORE, demo_scan.findings_json)],
                                name="Sample case", number="CASE-1")


@pytest.fixture
def fail_keyring():
    """No OS keyring for this test (keyring's fail backend), as on a machine without a Secret Service."""
    import keyring
    import keyring.backends.fail

    before = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(before)
