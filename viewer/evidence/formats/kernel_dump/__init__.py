"""Windows kernel crash dumps (``PAGEDU64`` / ``PAGEDUMP``): ``structs`` (the header and triage
declarations, a layout per word size), ``memory`` (runs and page bitmaps), ``triage`` (triage data),
``core`` (the parser)."""

from __future__ import annotations

from viewer.evidence.formats.kernel_dump.core import FORMAT, filetime_iso, parse, probe
from viewer.evidence.formats.kernel_dump.memory import BITMAP_CHUNK, bitmap_popcount, bitmap_runs
from viewer.evidence.formats.kernel_dump.structs import (
    BMP_DUMP_HEADER,
    DUMP_HEADER32,
    DUMP_HEADER64,
    FILL,
    LAYOUT32,
    LAYOUT64,
    PAGE_SIZE,
    TRIAGE_DUMP32,
    TRIAGE_DUMP64,
    Layout,
)

__all__ = [
    "FORMAT", "probe", "parse", "filetime_iso", "bitmap_runs", "bitmap_popcount", "BITMAP_CHUNK", "BMP_DUMP_HEADER",
    "DUMP_HEADER32", "DUMP_HEADER64", "FILL", "LAYOUT32", "LAYOUT64", "PAGE_SIZE", "TRIAGE_DUMP32",
    "TRIAGE_DUMP64", "Layout",
]
