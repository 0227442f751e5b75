"""LiME (Linux Memory Extractor) images: physical memory ranges, each behind a 32-byte header.

Layout (LiME's ``lime_mem_range_header``, version 1, little-endian)::

    u32 magic (0x4C694D45, bytes "EMiL") | u32 version | u64 s_addr | u64 e_addr (inclusive) | u8 reserved[8]

followed by ``e_addr - s_addr + 1`` bytes of memory, then the next header, until the end of the file.
There is no range count: the walk is header by header, one small read each, so a 100,000-range image
costs 100,000 reads of 32 bytes rather than anything proportional to its size. A header that does not
carry the magic ends the walk (with a warning) because nothing after it can be located reliably.
"""

from __future__ import annotations

import struct
from typing import Any

import construct as cs

from viewer.evidence.formats.base import Warnings
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


def parse(src: ByteSource, warnings: Warnings | None = None) -> ParseResult:
    warnings = warnings if warnings is not None else Warnings()
    ranges = walk_ranges(src, warnings)
    regions: list[Region] = []
    for i, rng in enumerate(ranges):
        regions.append(Region(rng["header_offset"], HEADER_SIZE, None, "header", f"range {i} header"))
        if rng["size"]:
            regions.append(Region(rng["file_offset"], rng["size"], rng["s_addr"], "physical", f"range {i}",
                                  mem_size=rng["length"]))
    memory = [{"vaddr": r["s_addr"], "size": r["size"], "file_offset": r["file_offset"]} for r in ranges]
    meta = {
        "os": "Linux",
        "arch": "unknown",
        "ranges": len(ranges),
        "physical_bytes": sum(r["size"] for r in ranges),
    }
    root = Node("LiME image", 0, src.size, f"{len(ranges)} ranges", lambda: _range_nodes(src, ranges))
    return ParseResult(FORMAT, meta, regions, root, warnings, {"memory": memory})


def walk_ranges(src: ByteSource, warnings: Warnings) -> list[dict[str, Any]]:
    """Every range header from the start of the file to the first one that cannot be trusted."""
    ranges: list[dict[str, Any]] = []
    offset = 0
    while offset < src.size:
        raw = src.read(offset, HEADER_SIZE)
        if len(raw) < HEADER_SIZE:
            warnings.add(f"range {len(ranges)}: header truncated at offset {offset:#x} "
                         f"({len(raw)} of {HEADER_SIZE} bytes present)")
            break
        magic, version, s_addr, e_addr, _ = _HEADER.unpack(raw)
        if magic != LIME_MAGIC:
            warnings.add(f"range {len(ranges)}: bad magic {magic:#010x} at offset {offset:#x}; "
                         "the rest of the file is not parsed")
            break
        if version != LIME_VERSION:
            warnings.add(f"range {len(ranges)}: unknown LiME version {version} at offset {offset:#x}; "
                         "read as version 1")
        if e_addr < s_addr:
            warnings.add(f"range {len(ranges)}: e_addr {e_addr:#x} is below s_addr {s_addr:#x} at offset "
                         f"{offset:#x}; the length is unknown, so the rest of the file is not parsed")
            break
        length = e_addr - s_addr + 1
        data_at = offset + HEADER_SIZE
        size = min(length, src.available(data_at))
        ranges.append({"header_offset": offset, "file_offset": data_at, "s_addr": s_addr, "e_addr": e_addr,
                       "length": length, "size": size, "version": version})
        if size < length:
            warnings.add(f"range {len(ranges) - 1}: {length} bytes from offset {data_at:#x} run past the end "
                         f"of the file; clipped to {size} bytes")
            break
        offset = data_at + length
    return ranges


def _range_nodes(src: ByteSource, ranges: list[dict[str, Any]]) -> list[Node]:
    """Tree nodes, built only when the tree is expanded: one per range, the header's fields inside."""
    return [
        Node(f"range {i}", r["header_offset"], HEADER_SIZE + r["size"], f"{r['s_addr']:#x}-{r['e_addr']:#x}",
             (lambda r=r: _header_nodes(src, r)))
        for i, r in enumerate(ranges)
    ]


def _header_nodes(src: ByteSource, rng: dict[str, Any]) -> list[Node]:
    at = rng["header_offset"]
    header = LIME_MEM_RANGE_HEADER.parse(src.read(at, HEADER_SIZE))
    nodes = []
    pos = at
    for sub in LIME_MEM_RANGE_HEADER.subcons:
        size = sub.sizeof()
        value = header[sub.name]
        nodes.append(Node(sub.name, pos, size, value.hex() if isinstance(value, bytes) else value))
        pos += size
    nodes.append(Node("data", rng["file_offset"], rng["size"], f"{rng['size']} bytes of physical memory"))
    return nodes
