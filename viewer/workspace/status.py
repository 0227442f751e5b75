"""What the status bar says about the cursor and the selection, without Qt.

One wording for every way bytes get selected (a finding, a field, a region, a bookmark, the mouse):
the selection as ``start–end (length)`` with the end inclusive, the cursor as offset, virtual address,
region and — where the address lies in a loaded module — that module.
"""

from __future__ import annotations

import bisect
from typing import Any

from viewer.units import human_size

NAME_LIMIT = 50


def _clip(text: str, limit: int = NAME_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def selection_text(offset: int, length: int) -> str:
    """``0x100–0x10f (16 bytes)``; one byte is ``0x100 (1 byte)``; nothing selected is ``""``."""
    if length <= 0:
        return ""
    if length == 1:
        return f"{offset:#x} (1 byte)"
    size = f"{length} bytes" if length < 1024 else f"{length} bytes, {human_size(length)}"
    return f"{offset:#x}–{offset + length - 1:#x} ({size})"


class ModuleIndex:
    """The dump's module regions by address, for "which module is this address in" on every cursor move
    (a full-memory dump has 100,000 regions and a few hundred modules: built once, then a bisect)."""

    def __init__(self, dump: Any):
        mods = sorted((r for r in dump.regions if r.kind == "module" and r.vaddr is not None),
                      key=lambda r: r.vaddr)
        self._starts = [r.vaddr for r in mods]
        self._mods = mods

    def at(self, vaddr: int | None) -> Any:
        """The module region holding ``vaddr`` (None when there is none)."""
        if vaddr is None:
            return None
        i = bisect.bisect_right(self._starts, vaddr) - 1
        for r in reversed(self._mods[max(0, i - 7): i + 1]):  # modules may nest: the innermost below wins
            if vaddr < r.vaddr + max(r.size, r.mem_size or 0):
                return r
        return None


def cursor_text(dump: Any, offset: int, modules: ModuleIndex | None = None) -> str:
    """``offset 0x1639   va 0x12f31c   stack: stack of thread 0xbf4`` (and ``in module x`` when the
    address is inside a module other than the region itself)."""
    text = f"offset {offset:#x}"
    va = dump.file_to_va(offset)
    if va is not None:
        text += f"   va {va:#x}"
    region = dump.region_at(offset)
    if region is not None:
        text += f"   {region.kind}: {_clip(region.name or region.kind)}"
    module = (modules or ModuleIndex(dump)).at(va)
    if module is not None and module is not region:
        text += f"   in module {_clip(module.name or '?')}"
    return text


__all__ = ["ModuleIndex", "cursor_text", "selection_text"]
