"""Raw images: anything without a recognised header is one region of bytes with no address space."""

from __future__ import annotations

from viewer.evidence.formats.base import Warnings
from viewer.evidence.model import Node, ParseResult, Region
from viewer.evidence.source import ByteSource

FORMAT = "raw"


def probe(head: bytes) -> bool:
    return True


def parse(src: ByteSource, warnings: Warnings | None = None) -> ParseResult:
    warnings = warnings if warnings is not None else Warnings()
    regions = [Region(file_offset=0, size=src.size, vaddr=None, kind="memory", name="raw image")]
    if src.size == 0:
        warnings.add("the file is empty")
        regions = []
    root = Node("raw image", 0, src.size, f"{src.size} bytes")
    return ParseResult(FORMAT, {}, regions, root, warnings, {})
