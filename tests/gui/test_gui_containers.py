"""The window and containers: a ZIP of two dumps opens as two tabs named by member, a compressed dump as
its content with the chain in the tab's tooltip; the cache folder setting moves the cache; a container
being decompressed can be cancelled (nothing is kept, one clear line)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.builders.containers import compress, zip_of
from tests.builders.window import ini_settings, make_window
from tests.conftest import DEMO_CORE
from viewer.evidence.containers import cache


def test_zip_members_open_in_a_tab_each(qtbot, tmp_path: Path) -> None:
    a = tmp_path / "first.core"
    shutil.copy(DEMO_CORE, a)
    b = tmp_path / "second.core"
    b.write_bytes(DEMO_CORE.read_bytes()[: 1 << 16])
    archive = zip_of(tmp_path / "upload.zip", a, b)
    window = make_window(qtbot, ini_settings(tmp_path))
    assert window.load(archive) is None, window.last_error
    assert window.tabs.count() == 2
    assert [window.tabs.tabText(i) for i in range(2)] == ["upload.zip › first.core", "upload.zip › second.core"]
    assert "zip > elf-core" in window.tabs.tabToolTip(0)
    gz = compress(a, "gz")
    assert window.load(gz) is None
    assert window.tabs.count() == 3 and window.dump.chain == ["gzip", "elf-core"]
    assert "offsets in the decompressed content" in window.tabs.tabToolTip(2)


@pytest.mark.slow  # decompresses a large container to cancel it: the full tier
def test_cache_folder_setting_and_cancel(qtbot, tmp_path: Path, monkeypatch) -> None:
    window = make_window(qtbot, ini_settings(tmp_path))
    try:
        window.set_cache_dir(str(tmp_path / "my-cache"))
        assert cache.cache_dir() == tmp_path / "my-cache"
        assert window.settings.value("evidence/cache_dir") == str(tmp_path / "my-cache")
        big = tmp_path / "zeros"
        with open(big, "wb") as f:
            f.truncate(512 * 1024 * 1024)
        gz = compress(big, "gz")
        big.unlink()
        window.open_path_async(gz)
        qtbot.waitUntil(lambda: bool(window._open_workers), timeout=5000)
        window.cancel_opening()
        qtbot.waitUntil(lambda: window.last_error is not None, timeout=60000)
        assert "cancelled" in window.last_error and window.tabs.count() == 0
        assert not [p for p in (tmp_path / "my-cache" / "content").glob(".part-*")]
    finally:
        cache.set_cache_dir(None)


def test_each_dump_of_a_zip_is_evidence_of_its_own(qtbot, tmp_path: Path, shots: Path) -> None:
    """With a case open, the tab of the second member is added as evidence: the case names it by its
    content's hash and its member; the first member's tab stays outside the case until it is added too."""
    import hashlib

    from tests.builders.case import CaseFactory

    clean = tmp_path / "a.core"
    clean.write_bytes(DEMO_CORE.read_bytes()[:32768])
    keyed = tmp_path / "b.core"
    shutil.copy(DEMO_CORE, keyed)
    archive = zip_of(tmp_path / "upload.zip", clean, keyed)
    CaseFactory().create(tmp_path / "op.evcase").save()
    window = make_window(qtbot, ini_settings(tmp_path))
    assert window.cases.open_case(tmp_path / "op.evcase", passphrase=CaseFactory.passphrase, use_keyring=False,
                                  recover=False)
    assert window.load(archive) is None, window.last_error
    first, second = window.session.find_path(archive, "a.core"), window.session.find_path(archive, "b.core")
    assert first is not None and second is not None and first is not second
    window.tabs.setCurrentIndex(1)
    assert window.session.current is second
    assert window.cases.add_current_dump()
    ref = window.session.case.case.evidence[0]
    assert (ref.member, ref.key) == ("b.core", hashlib.sha256(keyed.read_bytes()).hexdigest())
    assert window.session.evidence_sha256(second) == ref.key
    assert window.session.evidence_sha256(first) is None
    window.tabs.setCurrentIndex(0)
    assert window.cases.add_current_dump()
    assert [e.member for e in window.session.case.case.evidence] == ["b.core", "a.core"]
    assert window.session.evidence_sha256(first) == hashlib.sha256(clean.read_bytes()).hexdigest()
    from PySide6.QtWidgets import QDockWidget

    case_dock = next(d for d in window.findChildren(QDockWidget) if d.windowTitle().startswith("Case"))
    case_dock.raise_()
    qtbot.wait(100)
    window.grab().save(str(shots / "containers-zip-members-evidence.png"))
