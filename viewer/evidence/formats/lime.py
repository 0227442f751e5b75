"""LiME (Linux Memory Extractor) images: physical memory ranges, each behind a 32-byte header.

Layout (LiME's ``lime_mem_range_header``, version 1, little-endian)::

    u32 magic (0x4C694D45, bytes "EMiL") | u32 version | u64 s_addr | u64 e_addr (inclusive) | u8 reserved[8]

followed by ``e_addr - s_addr + 1`` bytes of memory, then the next header, until the end of the file.
There is no range count: the walk is header by header, unpacked in place from the mapped file, so a
100,000-range image costs 100,000 unpacks of 32 bytes. Each range makes two regions (its header and
its memory); the walk stops, with a warning, when the parse's region budget (counted in ranges) is
spent (a 16 MB image can hold 500,000 one-byte ranges). A header that does not carry the magic ends the
walk (with a warning) because nothing after it can be located reliably.
"""

from __future__ import annotations

import struct

import construct as cs

from viewer.evidence.formats.base import ParseContext, Warnings, without_gc
from viewer.evidence.model import Node, ParseResult, Region
from viewer.evidence.source import ByteSource

FORMAT = "lime"

LIME_MAGIC = 0x4C694D45
LIME_VERSION = 1

LIME_MEM_RANGE_HEADER = cs.Struct(
    "magic" / cs.Int32ul,
    "version" / cs.Int32ul,
    "s_addr" / cs.Int64ul,
    "e_addr" / cs.Int64ul,  # inclusive
    "reserved" / cs.Bytes(8),
)
HEADER_SIZE = LIME_MEM_RANGE_HEADER.sizeof()
#: The same layout for the hot loop: construct costs tens of microseconds a header, struct one.
_HEADER = struct.Struct("<IIQQ8s")
assert _HEADER.size == HEADER_SIZE


def probe(head: bytes) -> bool:
    if len(head) < 8:
        return False
    magic, version = struct.unpack_from("<II", head)
    return magic == LIME_MAGIC and version == LIME_VERSION


@without_gc
def parse(src: ByteSource, warnings: Warnings | None = None) -> ParseResult:
    ctx = ParseContext(src, warnings)
    ranges = walk_ranges(ctx)
    regions: list[Region] = []
    for i, (header_at, data_at, s_addr, _e_addr, length, size, _version) in enumerate(ranges):
        regions.append(Region(header_at, HEADER_SIZE, None, "header", f"range {i} header"))
        if size:
            regions.append(Region(data_at, size, s_addr, "physical", f"range {i}", mem_size=length))
    memory = [{"vaddr": r[2], "size": r[5], "file_offset": r[1]} for r in ranges]
    meta = {
        "os": "Linux",
        "arch": "unknown",
        "ranges": len(ranges),
        "physical_bytes": sum(r[5] for r in ranges),
    }
    root = Node("LiME image", 0, src.size, f"{len(ranges)} ranges", ctx.lazy(lambda: _range_nodes(ctx, ranges)))
    return ParseResult(FORMAT, meta, regions, root, ctx.warnings, {"memory": memory})


Range = tuple[int, int, int, int, int, int, int]  # header, data offset, s_addr, e_addr, length, size, version


def walk_ranges(ctx: ParseContext) -> list[Range]:
    """Every range header from the start of the file to the first one that cannot be trusted."""
    ranges: list[Range] = []
    view = ctx.src.view()
    size = ctx.size
    unpack = _HEADER.unpack_from
    most = ctx.budget.regions  # a range's header region comes with its memory region, uncounted
    offset = 0
    while offset < size:
        if len(ranges) >= most:
            ctx.take_regions(ctx.budget.regions + 1, "LiME ranges")  # spends the budget and says so, once
            break
        if size - offset < HEADER_SIZE:
            ctx.warn(f"range {len(ranges)}: header truncated at offset {offset:#x} "
                     f"({size - offset} of {HEADER_SIZE} bytes present)")
            break
        magic, version, s_addr, e_addr, _ = unpack(view, offset)
        if magic != LIME_MAGIC:
            ctx.warn(f"range {len(ranges)}: bad magic {magic:#010x} at offset {offset:#x}; "
                     "the rest of the file is not parsed")
            break
        if version != LIME_VERSION:
            ctx.warn(f"range {len(ranges)}: unknown LiME version {version} at offset {offset:#x}; "
                     "read as version 1")
        if e_addr < s_addr:
            ctx.warn(f"range {len(ranges)}: e_addr {e_addr:#x} is below s_addr {s_addr:#x} at offset "
                     f"{offset:#x}; the length is unknown, so the rest of the file is not parsed")
            break
        length = e_addr - s_addr + 1
        data_at = offset + HEADER_SIZE
        present = min(length, size - data_at)
        ranges.append((offset, data_at, s_addr, e_addr, length, present, version))
        if present < length:
            ctx.warn(f"range {len(ranges) - 1}: {length} bytes from offset {data_at:#x} run past the end "
                     f"of the file; clipped to {present} bytes")
            break
        offset = data_at + length
    view.release()
    if len(ranges) < most:
        ctx.budget.regions -= len(ranges)
    return ranges


def _range_nodes(ctx: ParseContext, ranges: list[Range]) -> list[Node]:
    """Tree nodes, built only when the tree is expanded: one per range, the header's fields inside."""
    return [
        Node(f"range {i}", r[0], HEADER_SIZE + r[5], f"{r[2]:#x}-{r[3]:#x}", (lambda r=r: _header_nodes(ctx, r)))
        for i, r in enumerate(ranges)
    ]


def _header_nodes(ctx: ParseContext, rng: Range) -> list[Node]:
    header_at, data_at, _s, _e, _length, size, _v = rng
    fields = ctx.lazy_fields(LIME_MEM_RANGE_HEADER, None, header_at)()
    if not fields:  # past the tree's budget: the range node alone already covers header and data
        return []
    return [*fields, Node("data", data_at, size, f"{size} bytes of physical memory")]
