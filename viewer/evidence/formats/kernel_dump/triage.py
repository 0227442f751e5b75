"""Triage kernel dumps: the triage header, its data blocks, call stack, driver list and string pool.

The triage header follows the dump header; its offsets are file offsets, its blocks are memory captured
by *virtual* address. Counts (blocks, drivers) are bounded by the file and the parse's budget before
anything is read.
"""

from __future__ import annotations

from typing import Any

from viewer.evidence.formats.base import clean
from viewer.evidence.formats.kernel_dump.context import KernelContext
from viewer.evidence.formats.kernel_dump.structs import DUMP_STRING_LENGTH, MAX_DRIVER_NAME_CHARS
from viewer.evidence.model import Node, Region
from viewer.evidence.source import ByteSource

MAX_DRIVERS = 1 << 14


# -- triage dumps ------------------------------------------------------------------------------------


def map_triage(ctx: KernelContext) -> None:
    """Triage dump: parse the triage header, then map what it points at by virtual address.

    The triage header follows the dump header (file offset 0x2000 in 64-bit dumps, 0x1000 in 32-bit
    ones; rizin reads it at ``sizeof(dmp64_header)`` too). Its offsets are file offsets.
    """
    layout = ctx.layout
    at = layout.header_size
    triage = ctx.parse(layout.triage, at, "triage header")
    if triage is None:
        return
    ctx.root.add(Node("triage header", at, layout.triage.sizeof(), "_TRIAGE_DUMP",
                        ctx.fields(layout.triage, triage, at)))
    ctx.regions.append(Region(at, layout.triage.sizeof(), None, "header", "triage header"))
    ctx.details["triage"] = clean(triage)
    ctx.warn(
        "triage dump: there is no physical memory image, so physical memory is not mapped; "
        "the triage data blocks, call stack and debugger data are mapped by virtual address"
    )
    _triage_blocks(ctx, triage)
    _triage_extra(ctx, triage)
    _triage_drivers(ctx, triage)


def _triage_blocks(ctx: KernelContext, triage: Any) -> None:
    layout = ctx.layout
    entry = layout.data_block
    count = ctx.count(triage.DataBlocksOffset, triage.DataBlocksCount, entry.sizeof(), "triage DataBlocksCount")
    count = ctx.take_regions(count, "triage data blocks")
    if count == 0:
        return
    blocks = [b for _, b in ctx.records(entry, triage.DataBlocksOffset, count)]
    clipped = 0
    for i, block in enumerate(blocks):
        have = max(0, min(block.Size, ctx.src.available(block.Offset)))
        clipped += have < block.Size
        if have:
            ctx.memory.append(Region(block.Offset, have, block.Address, "memory", f"data block {i}"))
    if clipped:
        ctx.warn(f"triage: {clipped} data block(s) extend past the end of the file; clipped")
    table = Node("data blocks", triage.DataBlocksOffset, count * entry.sizeof(), f"{count} blocks")
    step = entry.sizeof()
    at = triage.DataBlocksOffset
    table._children = ctx.lazy(lambda: (
        ctx.struct_node(f"DataBlock[{i}]", entry, b, at + i * step, f"{b.Address:#x}") for i, b in enumerate(blocks)
    ), len(blocks))
    ctx.root.add(table)
    ctx.regions.append(Region(triage.DataBlocksOffset, count * step, None, "header", "triage data blocks"))


def _triage_extra(ctx: KernelContext, triage: Any) -> None:
    """The call stack and the KdDebuggerData copy: memory at known virtual addresses."""
    if triage.CallStackOffset and triage.SizeOfCallStack:
        have = ctx.clip(triage.CallStackOffset, triage.SizeOfCallStack, "triage call stack")
        if have:
            ctx.memory.append(Region(triage.CallStackOffset, have, triage.TopOfStack, "stack", "call stack"))
    if triage.DebuggerDataOffset and triage.DebuggerDataSize:
        have = ctx.clip(triage.DebuggerDataOffset, triage.DebuggerDataSize, "triage debugger data")
        if have:
            ctx.memory.append(Region(triage.DebuggerDataOffset, have, ctx.header.KdDebuggerDataBlock,
                                       "memory", "KdDebuggerData"))
    _triage_blobs(ctx, triage)


#: Triage blocks whose size the header does not give; each is taken to end where the next one starts.
TRIAGE_BLOBS = ("Mm", "UnloadedDrivers", "Prcb", "Process", "Thread")


def _triage_blobs(ctx: KernelContext, triage: Any) -> None:
    """Tree nodes for the Mm, unloaded-driver, KPRCB, EPROCESS and ETHREAD copies.

    Why the sizes are inferred: the header gives only their offsets; the writer lays the blocks out
    back to back, so each ends where the next known block (any offset in the triage header) begins.
    """
    starts = sorted(
        {v for k, v in triage.items() if k.endswith("Offset") and isinstance(v, int) and v > 0}
        | {ctx.src.size}
    )
    for name in TRIAGE_BLOBS:
        offset = triage.get(f"{name}Offset", 0)
        if not ctx.layout.header_size <= offset < ctx.src.size:
            continue
        end = next(s for s in starts if s > offset)
        ctx.root.add(Node(name, offset, end - offset, f"{name}Offset {offset:#x} (size up to the next block)"))


def _triage_drivers(ctx: KernelContext, triage: Any) -> None:
    """The loaded-driver list: name (from the string pool), base, size, timestamp."""
    entry = ctx.layout.driver_entry
    count = ctx.count(triage.DriverListOffset, triage.DriverCount, entry.sizeof(), "triage DriverCount")
    count = ctx.take(ctx.cap(count, MAX_DRIVERS, "triage DriverCount"), "triage drivers")
    if count == 0:
        return
    drivers = [d for _, d in ctx.records(entry, triage.DriverListOffset, count)]
    bad_names = 0
    modules = []
    for drv in drivers:
        name = _dump_string(ctx.src, drv.DriverNameOffset)
        bad_names += name is None
        ldr = drv.LdrEntry
        modules.append({
            "name": name or "",
            "base": ldr.DllBase,
            "size": ldr.SizeOfImage,
            "timestamp": ldr.TimeDateStamp,
            "checksum": ldr.CheckSum,
            "name_offset": drv.DriverNameOffset,
        })
    if bad_names:
        ctx.warn(f"triage: {bad_names} driver name(s) could not be read from the string pool")
    ctx.details["modules"] = modules
    step = entry.sizeof()
    at = triage.DriverListOffset
    table = Node("driver list", at, count * step, f"{count} drivers")
    table._children = ctx.lazy(lambda: (
        ctx.struct_node(f"Driver[{i}]", entry, d, at + i * step, m["name"])
        for i, (d, m) in enumerate(zip(drivers, modules, strict=True))
    ), len(drivers))
    ctx.root.add(table)
    ctx.regions.append(Region(at, count * step, None, "header", "triage driver list"))
    if triage.StringPoolOffset and triage.StringPoolSize:
        have = ctx.clip(triage.StringPoolOffset, triage.StringPoolSize, "triage string pool")
        if have:
            ctx.regions.append(Region(triage.StringPoolOffset, have, None, "header", "triage string pool"))


def _dump_string(src: ByteSource, offset: int) -> str | None:
    """A DUMP_STRING (u32 length in UTF-16 units, then the text); None when absent or implausible."""
    raw = src.read(offset, 4)
    if len(raw) < 4:
        return None
    length = DUMP_STRING_LENGTH.parse(raw)
    if length > MAX_DRIVER_NAME_CHARS:
        return None
    data = src.read(offset + 4, length * 2)
    if len(data) < length * 2:
        return None
    return data.decode("utf-16-le", errors="replace")
