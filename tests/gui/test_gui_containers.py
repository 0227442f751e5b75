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
