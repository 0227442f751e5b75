"""Format parsers, a module or package each, and detection by magic bytes (never by file name).

All of them parse through the one parse context of :mod:`base` (bounds, budgets, field nodes). Each
has ``FORMAT`` (the name used in JSON), ``probe(head) -> bool`` looking at the first bytes, and
``parse(src, warnings) -> ParseResult``.
"""

from __future__ import annotations

from types import ModuleType

from viewer.evidence.formats import raw

HEAD_SIZE = 64


def _registered() -> list[ModuleType]:
    from viewer.evidence.formats import diskdump, elf, hprof, kernel_dump, lime, macho, minidump

    return [minidump, elf, kernel_dump, lime, diskdump, macho, hprof]


def detect(head: bytes) -> ModuleType | None:
    """The parser module whose magic matches ``head``; None when nothing matches (open as raw)."""
    for module in _registered():
        if module.probe(head):
            return module
    return None


__all__ = ["detect", "raw", "HEAD_SIZE"]
