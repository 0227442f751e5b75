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


def data_spans(format_name: str, src: object) -> list[tuple[int, int]] | None:
    """The sorted ``[start, end)`` spans of a dump that hold values rather than structure, for a format
    whose parser says (its ``data_spans(src)``); None when any byte may be data (a core's memory)."""
    module = next((m for m in _registered() if m.FORMAT == format_name), None)
    spans = getattr(module, "data_spans", None)
    return spans(src) if spans is not None else None


__all__ = ["detect", "data_spans", "raw", "HEAD_SIZE"]
