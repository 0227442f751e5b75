"""Windows kernel crash dumps (``PAGEDU64`` / ``PAGEDUMP``): the header, then the body by ``DumpType``.

What the body holds depends on ``DumpType``:

* 1 (full): the pages of ``PhysicalMemoryBlockBuffer.Run[]`` stored run after run right after the header.
* 2, 5, 6, 8, 9, 10 (summary, bitmap, kernel, ... when a ``SDMP``/``FDMP`` header follows the main
  header): a bitmap of physical pages; every set bit is one page, stored in bit order from ``FirstPage``.
* 4 (triage): no physical image; the triage header points at data blocks captured by *virtual* address,
  the call stack and the driver list. Those blocks are mapped by virtual address.
* anything else: the header is parsed and a warning says the body is not mapped.

Every count in the file is treated as a claim: runs, pages, blocks and drivers are bounded by what the
header area and the file can hold (and by the parse's budget), and whatever goes past the end of the
file is clipped with a warning. Runs and bitmaps are mapped in :mod:`memory`, triage data in :mod:`triage`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from viewer.evidence.formats.base import Warnings, clean, without_gc
from viewer.evidence.formats.kernel_dump.context import KernelContext
from viewer.evidence.formats.kernel_dump.memory import bitmap_header_present, map_bitmap, map_runs
from viewer.evidence.formats.kernel_dump.structs import (
    DUMP_TYPES,
    FULL_DUMP,
    HEADER_ONLY,
    LAYOUT32,
    LAYOUT64,
    MACHINES,
    TRIAGE_DUMP,
    is_fill,
    text,
)
from viewer.evidence.formats.kernel_dump.triage import map_triage
from viewer.evidence.model import Node, ParseResult, Region
from viewer.evidence.source import ByteSource

FORMAT = "windows-kernel-dump"


def probe(head: bytes) -> bool:
    return head[:8] in (b"PAGEDU64", b"PAGEDUMP")


@without_gc
def parse(src: ByteSource, warnings: Warnings | None = None) -> ParseResult:
    warnings = warnings if warnings is not None else Warnings()
    layout = LAYOUT64 if src.read(0, 8) == b"PAGEDU64" else LAYOUT32
    size = layout.header_size
    raw = src.read(0, size)
    root = Node("Windows kernel dump", 0, src.size, f"PAGEDU{'64' if layout.bits == 64 else 'MP'}")
    if len(raw) < size:
        warnings.add(
            f"dump header truncated: {len(raw):#x} of {size:#x} bytes present; fields past the end are "
            "absent and the body is not mapped"
        )
    header = layout.header.parse(raw.ljust(size, b"\0"))
    ctx = KernelContext(src, warnings, layout, header, root)
    fields = ctx.fields(layout.header, header, 0, limit=len(raw))
    for node in fields:
        if node.name == "PhysicalMemoryBlockBuffer" and is_fill(raw[node.offset : node.offset + 4]):
            node.value = "unused (PAGE filler)"
    root.add(Node("header", 0, min(size, len(raw)), f"_DUMP_HEADER{'64' if layout.bits == 64 else ''}", fields))
    present = {n.name for n in fields}
    ctx.regions.append(Region(0, min(size, len(raw)), None, "header", "dump header"))
    ctx.details["header"] = _header_details(header, present)
    ctx.details["physical_memory"] = _physical_memory(ctx, present)
    meta = _meta(header, present)
    if len(raw) == size:
        _map_body(ctx)
    ctx.details["memory"] = [
        {"vaddr": r.vaddr, "size": r.size, "file_offset": r.file_offset} for r in ctx.memory
    ]
    ctx.regions.extend(ctx.memory)
    return ParseResult(FORMAT, meta, ctx.regions, root, warnings, ctx.details)


def _header_details(header: Any, present: set[str]) -> dict[str, Any]:
    """The header's spec-named fields as JSON (only those wholly inside the file)."""
    out: dict[str, Any] = {}
    for name, value in header.items():
        if name.startswith("_") or name not in present:
            continue
        if name in ("ContextRecord", "PhysicalMemoryBlockBuffer"):
            continue  # bytes of a CPU context; the runs go to details["physical_memory"]
        if name in ("Signature", "ValidDump", "Comment", "VersionUser", "VersionUser2", "Unused"):
            out[name] = text(value)
        else:
            out[name] = clean(value)
    return out


def _meta(header: Any, present: set[str]) -> dict[str, Any]:
    meta: dict[str, Any] = {"os": "Windows"}
    if {"MajorVersion", "MinorVersion"} <= present:
        meta["os_version"] = f"{header.MajorVersion}.{header.MinorVersion}"
        meta["build"] = header.MinorVersion
        meta["build_type"] = {0xF: "free", 0xC: "checked"}.get(header.MajorVersion, "unknown")
    if "MachineImageType" in present:
        meta["arch"] = MACHINES.get(header.MachineImageType, f"unknown ({header.MachineImageType:#x})")
    if "NumberProcessors" in present:
        meta["cpu_count"] = header.NumberProcessors
    if {"BugCheckCode", "BugCheckCodeParameter"} <= present:
        params = ", ".join(f"{p:#x}" for p in header.BugCheckCodeParameter)
        meta["bugcheck"] = f"{header.BugCheckCode:#010x} ({params})"
    if "DumpType" in present:
        meta["dump_type"] = DUMP_TYPES.get(header.DumpType, f"unknown ({header.DumpType})")
    if "SystemTime" in present:
        meta["time"] = filetime_iso(header.SystemTime)
    if "Comment" in present and not is_fill(header.Comment) and text(header.Comment).strip():
        meta["comment"] = text(header.Comment)
    return meta


def filetime_iso(filetime: int) -> str | None:
    """A FILETIME (100 ns ticks since 1601-01-01 UTC) as ISO 8601; None when unset or absurd."""
    if filetime <= 0:
        return None
    try:
        return (datetime(1601, 1, 1, tzinfo=UTC) + timedelta(microseconds=filetime // 10)).isoformat()
    except OverflowError:
        return None


def _physical_memory(ctx: KernelContext, present: set[str]) -> dict[str, Any] | None:
    """The PhysicalMemoryBlockBuffer descriptor: counts and the runs that fit in the header."""
    if "PhysicalMemoryBlockBuffer" not in present:
        return None
    start = ctx.layout.descriptor_offset
    if is_fill(ctx.read(start, 4)):
        return None  # never written: triage and header-only dumps
    desc = ctx.header.PhysicalMemoryBlockBuffer
    runs = _runs(ctx, desc.NumberOfRuns)
    return {
        "NumberOfRuns": desc.NumberOfRuns,
        "NumberOfPages": desc.NumberOfPages,
        "runs": [{"BasePage": r.BasePage, "PageCount": r.PageCount} for r in runs],
    }


def _runs(ctx: KernelContext, claimed: int) -> list[Any]:
    """Run[] of the descriptor, bounded by the buffer that holds it (43 runs in 64-bit, 86 in 32-bit)."""
    layout = ctx.layout
    count = claimed
    if count > layout.max_runs:
        ctx.warn(
            f"PhysicalMemoryBlockBuffer: NumberOfRuns {claimed} exceeds the {layout.max_runs} runs the "
            "header can hold; only those are read"
        )
        count = layout.max_runs
    offset = layout.descriptor_offset + layout.descriptor_head
    return [run for _, run in ctx.records(layout.run, offset, count)]


def _map_body(ctx: KernelContext) -> None:
    dump_type = ctx.header.DumpType
    if dump_type == FULL_DUMP:
        map_runs(ctx)
    elif dump_type == TRIAGE_DUMP:
        map_triage(ctx)
    elif dump_type != HEADER_ONLY and bitmap_header_present(ctx):
        map_bitmap(ctx)
    else:
        name = DUMP_TYPES.get(dump_type, "unknown")
        ctx.warn(
            f"DumpType {dump_type} ({name}): the body is not mapped; only the header is parsed"
        )
