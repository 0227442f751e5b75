"""Shared test fixtures: where ../shared is, the corpus and its facts, the decompressed samples.

The corpus lives beside the repository (read-only, never copied in). ``EVIDENCE_SHARED`` overrides the
location for unusual checkouts.
"""

from __future__ import annotations

import json
import lzma
import os
import shutil
from pathlib import Path

import pytest

if not os.environ.get("DISPLAY") and not os.environ.get("QT_QPA_PLATFORM"):
    # Without a display, creating a QApplication would abort the whole run.
    os.environ["QT_QPA_PLATFORM"] = "offscreen"

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EVIDENCE_SHARED", REPO.parent / "shared"))
CORPUS = SHARED / "corpus"
FACTS = CORPUS / "facts"
SAMPLES = CORPUS / "samples"


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
    if not {"qapp", "qtbot", "qtmodeltester"} & set(request.fixturenames):
        return  # this test does not create Qt objects in this process
    from viewer.gui.app import broken_pyside_message, pyside_breaks_refcounts

    if pyside_breaks_refcounts():
        pytest.fail(broken_pyside_message(), pytrace=False)
