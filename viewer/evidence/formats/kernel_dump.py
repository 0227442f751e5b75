"""Windows kernel crash dumps (``PAGEDU64`` / ``PAGEDUMP``): the header, the physical memory, triage data.

Layouts follow the published definitions (volatility's ``_DUMP_HEADER``/``_DUMP_HEADER64`` vtypes, the
Windows ``dump.h`` structures, kdmp-parser's ``BMP_HEADER64`` and rizin's triage structures). The field
names are the specification's, so the structure tree and ``info --json`` read like the documentation.

What the body holds depends on ``DumpType``:

* 1 (full): the pages of ``PhysicalMemoryBlockBuffer.Run[]`` stored run after run right after the header.
* 2, 5, 6, 8, 9, 10 (summary, bitmap, kernel, ... when a ``SDMP``/``FDMP`` header follows the main
  header): a bitmap of physical pages; every set bit is one page, stored in bit order from ``FirstPage``.
* 4 (triage): no physical image; the triage header points at data blocks captured by *virtual* address,
  the call stack and the driver list. Those blocks are mapped by virtual address.
* anything else: the header is parsed and a warning says the body is not mapped.

Every count in the file is treated as a claim: runs, pages, blocks and drivers are bounded by what the
header area and the file can hold, and whatever goes past the end of the file is clipped with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import construct as cs
import numpy as np

from viewer.evidence.formats.base import Warnings, bounded_count, clean, parse_at
from viewer.evidence.model import Node, ParseResult, Region
from viewer.evidence.source import ByteSource

FORMAT = "windows-kernel-dump"

PAGE_SIZE = 0x1000
#: Unused header bytes are filled with this pattern by the dump writer.
FILL = b"PAGE"
#: More regions than this are not built: each costs a Python object, and a checkerboard bitmap could
#: otherwise ask for millions of them. Real dumps have far fewer runs.
MAX_REGIONS = 1 << 18
#: The bitmap is scanned in chunks of this many bytes so memory stays bounded for any bitmap size.
BITMAP_CHUNK = 1 << 20
MAX_DRIVERS = 1 << 14
MAX_DRIVER_NAME_CHARS = 1024

DUMP_TYPES = {
    0: "unknown",
    1: "full",
    2: "summary",
    3: "header",
    4: "triage",
    5: "bitmap full",
    6: "bitmap kernel",
    7: "automatic",
    8: "kernel memory",
    9: "kernel and user memory",
    10: "complete memory",
}
FULL_DUMP = 1
TRIAGE_DUMP = 4
HEADER_ONLY = 3

MACHINES = {0x14C: "x86", 0x8664: "amd64", 0xAA64: "arm64", 0x1C4: "arm", 0x200: "ia64"}

# -- declarations (names and order as in the specification) ------------------------------------------

EXCEPTION_RECORD32 = cs.Struct(
    "ExceptionCode" / cs.Int32ul,
    "ExceptionFlags" / cs.Int32ul,
    "ExceptionRecord" / cs.Int32ul,
    "ExceptionAddress" / cs.Int32ul,
    "NumberParameters" / cs.Int32ul,
    "ExceptionInformation" / cs.Array(15, cs.Int32ul),
)

EXCEPTION_RECORD64 = cs.Struct(
    "ExceptionCode" / cs.Int32ul,
    "ExceptionFlags" / cs.Int32ul,
    "ExceptionRecord" / cs.Int64ul,
    "ExceptionAddress" / cs.Int64ul,
    "NumberParameters" / cs.Int32ul,
    "__unusedAlignment" / cs.Int32ul,
    "ExceptionInformation" / cs.Array(15, cs.Int64ul),
)

PHYSICAL_MEMORY_RUN32 = cs.Struct("BasePage" / cs.Int32ul, "PageCount" / cs.Int32ul)
PHYSICAL_MEMORY_RUN64 = cs.Struct("BasePage" / cs.Int64ul, "PageCount" / cs.Int64ul)

# The descriptor's Run[] is declared separately (see _runs): NumberOfRuns is a claim, not a size.
PHYSICAL_MEMORY_DESCRIPTOR32 = cs.Struct("NumberOfRuns" / cs.Int32ul, "NumberOfPages" / cs.Int32ul)
PHYSICAL_MEMORY_DESCRIPTOR64 = cs.Struct(
    "NumberOfRuns" / cs.Int32ul,
    cs.Padding(4),
    "NumberOfPages" / cs.Int64ul,
)

DMP_PHYSICAL_MEMORY_BLOCK_SIZE_32 = 700
DMP_PHYSICAL_MEMORY_BLOCK_SIZE_64 = 0x348 - 0x88  # 700 bytes rounded up to ContextRecord's alignment

DUMP_HEADER32 = cs.Struct(
    "Signature" / cs.Bytes(4),  # 0x000
    "ValidDump" / cs.Bytes(4),
    "MajorVersion" / cs.Int32ul,
    "MinorVersion" / cs.Int32ul,
    "DirectoryTableBase" / cs.Int32ul,  # 0x010
    "PfnDataBase" / cs.Int32ul,
    "PsLoadedModuleList" / cs.Int32ul,
    "PsActiveProcessHead" / cs.Int32ul,
    "MachineImageType" / cs.Int32ul,  # 0x020
    "NumberProcessors" / cs.Int32ul,
    "BugCheckCode" / cs.Int32ul,
    "BugCheckCodeParameter" / cs.Array(4, cs.Int32ul),  # 0x02c
    "VersionUser" / cs.Bytes(32),  # 0x03c
    "PaeEnabled" / cs.Int8ul,  # 0x05c
    "KdSecondaryVersion" / cs.Int8ul,
    "VersionUser2" / cs.Bytes(2),
    "KdDebuggerDataBlock" / cs.Int32ul,  # 0x060
    "PhysicalMemoryBlockBuffer" / cs.Padded(DMP_PHYSICAL_MEMORY_BLOCK_SIZE_32, PHYSICAL_MEMORY_DESCRIPTOR32),
    "ContextRecord" / cs.Bytes(1200),  # 0x320
    "Exception" / EXCEPTION_RECORD32,  # 0x7d0
    "Comment" / cs.Bytes(128),  # 0x820
    "_reserved0" / cs.Bytes(0xF88 - 0x8A0),
    "DumpType" / cs.Int32ul,  # 0xf88
    "MiniDumpFields" / cs.Int32ul,
    "SecondaryDataState" / cs.Int32ul,
    "ProductType" / cs.Int32ul,
    "SuiteMask" / cs.Int32ul,  # 0xf98
    "WriterStatus" / cs.Int32ul,
    "RequiredDumpSpace" / cs.Int64ul,  # 0xfa0
    "_reserved2" / cs.Bytes(16),
    "SystemUpTime" / cs.Int64ul,  # 0xfb8
    "SystemTime" / cs.Int64ul,  # 0xfc0
    "_reserved3" / cs.Bytes(56),
)

DUMP_HEADER64 = cs.Struct(
    "Signature" / cs.Bytes(4),  # 0x000
    "ValidDump" / cs.Bytes(4),
    "MajorVersion" / cs.Int32ul,
    "MinorVersion" / cs.Int32ul,
    "DirectoryTableBase" / cs.Int64ul,  # 0x010
    "PfnDataBase" / cs.Int64ul,
    "PsLoadedModuleList" / cs.Int64ul,  # 0x020
    "PsActiveProcessHead" / cs.Int64ul,
    "MachineImageType" / cs.Int32ul,  # 0x030
    "NumberProcessors" / cs.Int32ul,
    "BugCheckCode" / cs.Int32ul,  # 0x038
    cs.Padding(4),
    "BugCheckCodeParameter" / cs.Array(4, cs.Int64ul),  # 0x040
    "VersionUser" / cs.Bytes(32),  # 0x060
    "KdDebuggerDataBlock" / cs.Int64ul,  # 0x080
    "PhysicalMemoryBlockBuffer" / cs.Padded(DMP_PHYSICAL_MEMORY_BLOCK_SIZE_64, PHYSICAL_MEMORY_DESCRIPTOR64),
    "ContextRecord" / cs.Bytes(3000),  # 0x348
    "Exception" / EXCEPTION_RECORD64,  # 0xf00
    "DumpType" / cs.Int32ul,  # 0xf98
    cs.Padding(4),
    "RequiredDumpSpace" / cs.Int64ul,  # 0xfa0
    "SystemTime" / cs.Int64ul,  # 0xfa8
    "Comment" / cs.Bytes(128),  # 0xfb0
    "SystemUpTime" / cs.Int64ul,  # 0x1030
    "MiniDumpFields" / cs.Int32ul,  # 0x1038
    "SecondaryDataState" / cs.Int32ul,
    "ProductType" / cs.Int32ul,  # 0x1040
    "SuiteMask" / cs.Int32ul,
    "WriterStatus" / cs.Int32ul,  # 0x1048
    "Unused1" / cs.Int8ul,
    "KdSecondaryVersion" / cs.Int8ul,  # 0x104d
    "Unused" / cs.Bytes(2),
    "Attributes" / cs.Int32ul,  # 0x1050
    "BootId" / cs.Int32ul,  # 0x1054
    "_reserved0" / cs.Bytes(0x2000 - 0x1058),
)

#: The header that precedes the page bitmap of bitmap (and modern summary) dumps.
BMP_DUMP_HEADER = cs.Struct(
    "Signature" / cs.Bytes(4),  # 'SDMP' (summary/kernel) or 'FDMP' (full)
    "ValidDump" / cs.Bytes(4),  # 'DUMP'
    "_reserved" / cs.Bytes(0x18),
    "FirstPage" / cs.Int64ul,  # 0x20: file offset of the first stored page
    "TotalPresentPages" / cs.Int64ul,  # 0x28: number of set bits
    "Pages" / cs.Int64ul,  # 0x30: number of bits in Bitmap
)
BMP_SIGNATURES = (b"SDMP", b"FDMP")

# _TRIAGE_DUMP: the same offsets-of-everything header in both word sizes; from TopOfStack on, the 64-bit
# layout has pointer-sized fields and the Ia64 backing-store member of a union (0x80 bytes in all).
_TRIAGE_COMMON = [
    "ServicePackBuild", "SizeOfDump", "ValidOffset", "ContextOffset", "ExceptionOffset", "MmOffset",
    "UnloadedDriversOffset", "PrcbOffset", "ProcessOffset", "ThreadOffset", "CallStackOffset",
    "SizeOfCallStack", "DriverListOffset", "DriverCount", "StringPoolOffset", "StringPoolSize",
    "BrokenDriverOffset", "TriageOptions",
]
_TRIAGE_TAIL = ["DataPageOffset", "DataPageSize", "DebuggerDataOffset", "DebuggerDataSize", "DataBlocksOffset",
                "DataBlocksCount"]


def _triage_dump(wide: bool) -> cs.Struct:
    """The triage header for one word size (a factory, as pyelftools builds its per-class structures)."""
    pointer = cs.Int64ul if wide else cs.Int32ul
    ia64 = [
        "ArchitectureSpecific" / cs.Struct(  # the Ia64 member of a union
            "BStoreOffset" / cs.Int32ul,
            "SizeOfBStore" / cs.Int32ul,
            "LimitOfBStore" / cs.Int64ul,
        )
    ] if wide else []
    return cs.Struct(
        *(name / cs.Int32ul for name in _TRIAGE_COMMON),
        "TopOfStack" / pointer,  # 0x48 in the 64-bit layout
        *ia64,
        "DataPageAddress" / pointer,  # 0x60
        *(name / cs.Int32ul for name in _TRIAGE_TAIL),  # DebuggerDataOffset at 0x70
    )


TRIAGE_DUMP32 = _triage_dump(wide=False)
TRIAGE_DUMP64 = _triage_dump(wide=True)

TRIAGE_DATA_BLOCK32 = cs.Struct("Address" / cs.Int32ul, "Offset" / cs.Int32ul, "Size" / cs.Int32ul)
TRIAGE_DATA_BLOCK64 = cs.Struct("Address" / cs.Int64ul, "Offset" / cs.Int32ul, "Size" / cs.Int32ul)


def _unicode_string(pointer: cs.Construct) -> cs.Struct:
    return cs.Struct(
        "Length" / cs.Int16ul,
        "MaximumLength" / cs.Int16ul,
        *([cs.Padding(4)] if pointer.sizeof() == 8 else []),
        "Buffer" / pointer,
    )


def _kldr_data_table_entry(ptr: cs.Construct) -> cs.Struct:
    """The prefix of KLDR_DATA_TABLE_ENTRY that the triage writer copies (layout as rizin reads it)."""
    wide = ptr.sizeof() == 8
    align = [cs.Padding(4)] if wide else []
    return cs.Struct(
        "InLoadOrderLinks" / cs.Struct("Flink" / ptr, "Blink" / ptr),
        "ExceptionTable" / ptr,
        "ExceptionTableSize" / cs.Int32ul,
        *align,
        "GpValue" / ptr,
        "NonPagedDebugInfo" / ptr,
        "DllBase" / ptr,
        "EntryPoint" / ptr,
        "SizeOfImage" / cs.Int32ul,
        *align,
        "FullDllName" / _unicode_string(ptr),
        "BaseDllName" / _unicode_string(ptr),
        "Flags" / cs.Int32ul,
        "LoadCount" / cs.Int16ul,
        "_Undefined5" / cs.Int16ul,
        "SectionPointer" / ptr,
        "CheckSum" / cs.Int32ul,
        *align,
        "TimeDateStamp" / cs.Int32ul,
        *align,
    )


DUMP_DRIVER_ENTRY32 = cs.Struct(
    "DriverNameOffset" / cs.Int32ul,
    "LdrEntry" / _kldr_data_table_entry(cs.Int32ul),
)
DUMP_DRIVER_ENTRY64 = cs.Struct(
    "DriverNameOffset" / cs.Int32ul,
    "__alignment" / cs.Int32ul,
    "LdrEntry" / _kldr_data_table_entry(cs.Int64ul),
)

#: A string of the triage string pool: a length in UTF-16 code units, then the text and a NUL.
DUMP_STRING_LENGTH = cs.Int32ul


@dataclass(frozen=True)
class Layout:
    """What differs between the 32-bit (``PAGEDUMP``) and 64-bit (``PAGEDU64``) dumps."""

    bits: int
    header: cs.Struct
    run: cs.Struct
    descriptor_offset: int
    descriptor_size: int
    triage: cs.Struct
    data_block: cs.Struct
    driver_entry: cs.Struct

    @property
    def header_size(self) -> int:
        return self.header.sizeof()

    @property
    def descriptor_head(self) -> int:
        return 8 if self.bits == 32 else 16

    @property
    def max_runs(self) -> int:
        """How many runs fit in the header's PhysicalMemoryBlockBuffer."""
        return (self.descriptor_size - self.descriptor_head) // self.run.sizeof()


LAYOUT32 = Layout(
    32, DUMP_HEADER32, PHYSICAL_MEMORY_RUN32, 0x64, DMP_PHYSICAL_MEMORY_BLOCK_SIZE_32,
    TRIAGE_DUMP32, TRIAGE_DATA_BLOCK32, DUMP_DRIVER_ENTRY32,
)
LAYOUT64 = Layout(
    64, DUMP_HEADER64, PHYSICAL_MEMORY_RUN64, 0x88, DMP_PHYSICAL_MEMORY_BLOCK_SIZE_64,
    TRIAGE_DUMP64, TRIAGE_DATA_BLOCK64, DUMP_DRIVER_ENTRY64,
)
assert DUMP_HEADER32.sizeof() == 0x1000 and DUMP_HEADER64.sizeof() == 0x2000
assert TRIAGE_DUMP64.sizeof() == 0x80 and DUMP_DRIVER_ENTRY64.sizeof() == 0x90


def probe(head: bytes) -> bool:
    return head[:8] in (b"PAGEDU64", b"PAGEDUMP")


# -- structure tree from a declaration ---------------------------------------------------------------


def _leaf_size(sub: cs.Construct, value: Any) -> int:
    try:
        return int(sub.sizeof())
    except cs.SizeofError:
        if isinstance(sub, cs.Array) and isinstance(value, list):
            return len(value) * int(sub.subcon.sizeof())
        raise


def struct_nodes(struct: cs.Struct, value: Any, offset: int, limit: int | None = None) -> list[Node]:
    """One node per named field of ``struct`` parsed as ``value`` at file ``offset``.

    Why: the GUI selects the exact bytes of any field, so each node needs its offset and length; they
    come from the declaration itself rather than a second, hand-kept table. Fields that end past
    ``limit`` (a truncated file) are left out. Nested structs and arrays of structs get children.
    """
    nodes: list[Node] = []
    pos = offset
    for sub in struct.subcons:
        name = sub.name
        inner = sub.subcon if isinstance(sub, cs.Renamed) else sub
        field_value = value.get(name) if name else None
        size = _leaf_size(inner, field_value)
        if name and not name.startswith("_") and (limit is None or pos + size <= limit):
            nodes.append(_field_node(name, inner, field_value, pos, size, limit))
        pos += size
    return nodes


def _field_node(name: str, sub: cs.Construct, value: Any, pos: int, size: int, limit: int | None) -> Node:
    if isinstance(sub, cs.Padded):
        sub = sub.subcon
    if isinstance(sub, cs.Struct):
        return Node(name, pos, size, None, struct_nodes(sub, value, pos, limit))
    if isinstance(sub, cs.Array) and isinstance(sub.subcon, cs.Struct):
        elem = sub.subcon
        step = elem.sizeof()
        kids = [
            Node(f"{name}[{i}]", pos + i * step, step, None, struct_nodes(elem, v, pos + i * step, limit))
            for i, v in enumerate(value)
        ]
        return Node(name, pos, size, f"{len(value)} entries", kids)
    if isinstance(sub, cs.Array):
        step = sub.subcon.sizeof()
        kids = [Node(f"{name}[{i}]", pos + i * step, step, v) for i, v in enumerate(value)]
        return Node(name, pos, size, list(value), kids)
    if isinstance(value, bytes):
        return Node(name, pos, size, _text(value) if _is_text(value) else f"{len(value)} bytes")
    return Node(name, pos, size, value)


def _is_text(raw: bytes) -> bool:
    head = raw.split(b"\0", 1)[0]
    return len(raw) <= 128 and all(32 <= c < 127 for c in head)


def _text(raw: bytes) -> str:
    """A fixed-size CHAR field as text, up to its first NUL."""
    return raw.split(b"\0", 1)[0].decode("latin-1")


def _is_fill(raw: bytes) -> bool:
    """True when bytes are the writer's ``PAGE`` filler, i.e. the field was never written."""
    return len(raw) >= 4 and raw == FILL * (len(raw) // 4) + FILL[: len(raw) % 4]


# -- parse -------------------------------------------------------------------------------------------


@dataclass
class _State:
    """What one parse accumulates; passed between the small steps below."""

    src: ByteSource
    warnings: Warnings
    layout: Layout
    header: Any
    root: Node
    regions: list[Region]
    details: dict[str, Any]
    memory: list[Region]


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
    fields = struct_nodes(layout.header, header, 0, limit=len(raw))
    for node in fields:
        if node.name == "PhysicalMemoryBlockBuffer" and _is_fill(raw[node.offset : node.offset + 4]):
            node.value = "unused (PAGE filler)"
    root.add(Node("header", 0, min(size, len(raw)), f"_DUMP_HEADER{'64' if layout.bits == 64 else ''}", fields))
    present = {n.name for n in fields}
    state = _State(src, warnings, layout, header, root, [], {}, [])
    state.regions.append(Region(0, min(size, len(raw)), None, "header", "dump header"))
    state.details["header"] = _header_details(header, present)
    state.details["physical_memory"] = _physical_memory(state, present)
    meta = _meta(header, present)
    if len(raw) == size:
        _map_body(state)
    state.details["memory"] = [
        {"vaddr": r.vaddr, "size": r.size, "file_offset": r.file_offset} for r in state.memory
    ]
    state.regions.extend(state.memory)
    return ParseResult(FORMAT, meta, state.regions, root, warnings, state.details)


def _header_details(header: Any, present: set[str]) -> dict[str, Any]:
    """The header's spec-named fields as JSON (only those wholly inside the file)."""
    out: dict[str, Any] = {}
    for name, value in header.items():
        if name.startswith("_") or name not in present:
            continue
        if name in ("ContextRecord", "PhysicalMemoryBlockBuffer"):
            continue  # bytes of a CPU context; the runs go to details["physical_memory"]
        if name in ("Signature", "ValidDump", "Comment", "VersionUser", "VersionUser2", "Unused"):
            out[name] = _text(value)
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
    if "Comment" in present and not _is_fill(header.Comment) and _text(header.Comment).strip():
        meta["comment"] = _text(header.Comment)
    return meta


def filetime_iso(filetime: int) -> str | None:
    """A FILETIME (100 ns ticks since 1601-01-01 UTC) as ISO 8601; None when unset or absurd."""
    if filetime <= 0:
        return None
    try:
        return (datetime(1601, 1, 1, tzinfo=UTC) + timedelta(microseconds=filetime // 10)).isoformat()
    except OverflowError:
        return None


def _physical_memory(state: _State, present: set[str]) -> dict[str, Any] | None:
    """The PhysicalMemoryBlockBuffer descriptor: counts and the runs that fit in the header."""
    if "PhysicalMemoryBlockBuffer" not in present:
        return None
    layout, src = state.layout, state.src
    start = layout.descriptor_offset
    if _is_fill(src.read(start, 4)):
        return None  # never written: triage and header-only dumps
    desc = state.header.PhysicalMemoryBlockBuffer
    runs = _runs(state, desc.NumberOfRuns)
    return {
        "NumberOfRuns": desc.NumberOfRuns,
        "NumberOfPages": desc.NumberOfPages,
        "runs": [{"BasePage": r.BasePage, "PageCount": r.PageCount} for r in runs],
    }


def _runs(state: _State, claimed: int) -> list[Any]:
    """Run[] of the descriptor, bounded by the buffer that holds it (43 runs in 64-bit, 86 in 32-bit)."""
    layout = state.layout
    count = claimed
    if count > layout.max_runs:
        state.warnings.add(
            f"PhysicalMemoryBlockBuffer: NumberOfRuns {claimed} exceeds the {layout.max_runs} runs the "
            "header can hold; only those are read"
        )
        count = layout.max_runs
    offset = layout.descriptor_offset + layout.descriptor_head
    runs = cs.Array(count, layout.run).parse(state.src.read(offset, count * layout.run.sizeof()))
    return list(runs)


def _map_body(state: _State) -> None:
    dump_type = state.header.DumpType
    if dump_type == FULL_DUMP:
        _map_runs(state)
    elif dump_type == TRIAGE_DUMP:
        _map_triage(state)
    elif dump_type != HEADER_ONLY and _bitmap_header_present(state):
        _map_bitmap(state)
    else:
        name = DUMP_TYPES.get(dump_type, "unknown")
        state.warnings.add(
            f"DumpType {dump_type} ({name}): the body is not mapped; only the header is parsed"
        )


# -- full dumps: runs --------------------------------------------------------------------------------


def _map_runs(state: _State) -> None:
    """Full dump: the runs' pages are stored one after another right after the header."""
    layout, src, warnings = state.layout, state.src, state.warnings
    physical = state.details.get("physical_memory")
    if physical is None:
        warnings.add("full dump without a physical memory descriptor: the body is not mapped")
        return
    runs = physical["runs"]
    body = Node("physical memory", layout.header_size, max(0, src.size - layout.header_size), f"{len(runs)} runs")
    state.root.add(body)
    offset = layout.header_size
    total_pages = 0
    clipped = 0
    for i, run in enumerate(runs):
        size = run["PageCount"] * PAGE_SIZE
        total_pages += run["PageCount"]
        have = min(size, src.available(offset))
        if have < size:
            clipped += 1
        if have > 0:
            region = Region(offset, have, run["BasePage"] * PAGE_SIZE, "physical", f"run {i}", mem_size=size)
            state.memory.append(region)
            body.add(Node(f"run {i}", offset, have, f"physical {region.vaddr:#x}, {run['PageCount']} pages"))
        offset += size
    if physical["NumberOfPages"] != total_pages:
        warnings.add(
            f"PhysicalMemoryBlockBuffer: NumberOfPages {physical['NumberOfPages']} but the runs hold "
            f"{total_pages} pages"
        )
    if clipped:
        warnings.add(f"{clipped} physical memory run(s) extend past the end of the file; clipped to it")
    elif src.size > offset:
        warnings.add(f"{src.size - offset} bytes after the last run are not described by the header")


# -- bitmap dumps ------------------------------------------------------------------------------------


def _bitmap_header_present(state: _State) -> bool:
    sig = state.src.read(state.layout.header_size, 8)
    return sig[:4] in BMP_SIGNATURES and sig[4:] == b"DUMP"


def _map_bitmap(state: _State) -> None:
    """Bitmap dump: bit i set = physical page i is stored; stored pages follow each other from FirstPage."""
    src, warnings = state.src, state.warnings
    at = state.layout.header_size
    bmp = parse_at(BMP_DUMP_HEADER, src, at, None, "bitmap dump header", warnings)
    if bmp is None:
        return
    bitmap_at = at + BMP_DUMP_HEADER.sizeof()
    bitmap_len = _bitmap_length(state, bmp, bitmap_at)
    node = Node("bitmap header", at, BMP_DUMP_HEADER.sizeof() + bitmap_len, _text(bmp.Signature),
                struct_nodes(BMP_DUMP_HEADER, bmp, at))
    node.add(Node("Bitmap", bitmap_at, bitmap_len, f"{min(bmp.Pages, bitmap_len * 8)} bits"))
    state.root.add(node)
    state.regions.append(Region(at, BMP_DUMP_HEADER.sizeof() + bitmap_len, None, "header", "bitmap"))
    state.details["bitmap_header"] = {
        k: (_text(v) if isinstance(v, bytes) else v) for k, v in bmp.items() if not k.startswith("_")
    }
    starts, lengths = bitmap_runs(src.view(bitmap_at, bitmap_len), min(bmp.Pages, bitmap_len * 8))
    present = int(lengths.sum()) if len(lengths) else 0
    if present != bmp.TotalPresentPages:
        warnings.add(
            f"bitmap header: TotalPresentPages {bmp.TotalPresentPages} but the bitmap has {present} pages set"
        )
    _bitmap_regions(state, bmp.FirstPage, starts, lengths)


def _bitmap_length(state: _State, bmp: Any, bitmap_at: int) -> int:
    """Bytes of bitmap to read: what ``Pages`` asks for, bounded by the first page and the file."""
    want = (bmp.Pages + 7) // 8
    limit = state.src.available(bitmap_at)
    if bmp.FirstPage > bitmap_at:
        limit = min(limit, bmp.FirstPage - bitmap_at)
    else:
        state.warnings.add(f"bitmap header: FirstPage {bmp.FirstPage:#x} lies inside the headers")
    if want > limit:
        state.warnings.add(
            f"bitmap header: Pages {bmp.Pages} needs a {want}-byte bitmap but only {limit} bytes are "
            "available before the first page / end of file; the bitmap is cut there"
        )
        want = limit
    return max(0, want)


def bitmap_runs(bitmap: bytes | memoryview, nbits: int) -> tuple[np.ndarray, np.ndarray]:
    """Runs of set bits (LSB first) as (first bit, length) arrays, scanned chunk by chunk.

    Why numpy and chunks: a 64 GiB machine has 16M pages; a Python loop over bits takes seconds, and
    unpacking a huge (possibly lying) bitmap at once could take gigabytes.
    """
    starts: list[np.ndarray] = []
    ends: list[np.ndarray] = []
    nbytes = (nbits + 7) // 8
    for chunk_at in range(0, nbytes, BITMAP_CHUNK):
        chunk = np.frombuffer(bitmap[chunk_at : min(nbytes, chunk_at + BITMAP_CHUNK)], dtype=np.uint8)
        bits = np.unpackbits(chunk, bitorder="little")
        first_bit = chunk_at * 8
        bits = bits[: max(0, nbits - first_bit)]
        edges = np.diff(bits.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
        s = np.flatnonzero(edges == 1) + first_bit
        e = np.flatnonzero(edges == -1) + first_bit
        if ends and len(s) and len(ends[-1]) and ends[-1][-1] == s[0]:
            ends[-1] = ends[-1][:-1]  # a run crossing the chunk boundary: join the halves
            s = s[1:]
        starts.append(s)
        ends.append(e)
    if not starts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    s_all = np.concatenate(starts).astype(np.int64)
    e_all = np.concatenate(ends).astype(np.int64)
    return s_all, e_all - s_all


def _bitmap_regions(state: _State, first_page: int, starts: np.ndarray, lengths: np.ndarray) -> None:
    """Regions for the runs of set bits, clipped to the pages the file really holds."""
    src, warnings = state.src, state.warnings
    if first_page > src.size:
        warnings.add(f"bitmap header: FirstPage {first_page:#x} lies past the end of the file; nothing mapped")
        return
    stored = (src.size - first_page) // PAGE_SIZE
    before = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64) if len(lengths) else lengths
    total = int(lengths.sum()) if len(lengths) else 0
    if total > stored:
        warnings.add(
            f"the bitmap claims {total} pages but the file holds {stored} after FirstPage; "
            "pages past the end of the file are not mapped"
        )
    keep = before < stored
    if int(keep.sum()) > MAX_REGIONS:
        warnings.add(f"the bitmap has {int(keep.sum())} runs; only the first {MAX_REGIONS} are mapped")
    body = Node("physical memory", first_page, stored * PAGE_SIZE, f"{int(keep.sum())} runs")
    state.root.add(body)
    for i, (start, length, done) in enumerate(zip(starts.tolist(), lengths.tolist(), before.tolist(), strict=True)):
        if done >= stored or i >= MAX_REGIONS:
            break
        pages = min(length, stored - done)
        offset = first_page + done * PAGE_SIZE
        state.memory.append(Region(offset, pages * PAGE_SIZE, start * PAGE_SIZE, "physical", f"run {i}"))
    body._children = lambda: [
        Node(r.name, r.file_offset, r.size, f"physical {r.vaddr:#x}") for r in state.memory
    ]


# -- triage dumps ------------------------------------------------------------------------------------


def _map_triage(state: _State) -> None:
    """Triage dump: parse the triage header, then map what it points at by virtual address.

    The triage header follows the dump header (file offset 0x2000 in 64-bit dumps, 0x1000 in 32-bit
    ones; rizin reads it at ``sizeof(dmp64_header)`` too). Its offsets are file offsets.
    """
    src, warnings, layout = state.src, state.warnings, state.layout
    at = layout.header_size
    triage = parse_at(layout.triage, src, at, None, "triage header", warnings)
    if triage is None:
        return
    state.root.add(Node("triage header", at, layout.triage.sizeof(), "_TRIAGE_DUMP",
                        struct_nodes(layout.triage, triage, at)))
    state.regions.append(Region(at, layout.triage.sizeof(), None, "header", "triage header"))
    state.details["triage"] = clean(triage)
    warnings.add(
        "triage dump: there is no physical memory image, so physical memory is not mapped; "
        "the triage data blocks, call stack and debugger data are mapped by virtual address"
    )
    _triage_blocks(state, triage)
    _triage_extra(state, triage)
    _triage_drivers(state, triage)


def _clip(state: _State, offset: int, size: int, what: str) -> int:
    """How many of ``size`` bytes at ``offset`` are in the file (a warning when not all)."""
    have = max(0, min(size, state.src.available(offset)))
    if have < size:
        state.warnings.add(f"{what} at {offset:#x} ({size} bytes) extends past the end of the file; clipped")
    return have


def _triage_blocks(state: _State, triage: Any) -> None:
    layout = state.layout
    entry = layout.data_block
    count = bounded_count(state.src, triage.DataBlocksOffset, triage.DataBlocksCount, entry.sizeof(),
                          "triage DataBlocksCount", state.warnings)
    if count > MAX_REGIONS:
        state.warnings.add(f"triage: {count} data blocks; only the first {MAX_REGIONS} are mapped")
        count = MAX_REGIONS
    if count == 0:
        return
    raw = state.src.read(triage.DataBlocksOffset, count * entry.sizeof())
    blocks = cs.Array(count, entry).parse(raw)
    clipped = 0
    for i, block in enumerate(blocks):
        have = max(0, min(block.Size, state.src.available(block.Offset)))
        clipped += have < block.Size
        if have:
            state.memory.append(Region(block.Offset, have, block.Address, "memory", f"data block {i}"))
    if clipped:
        state.warnings.add(f"triage: {clipped} data block(s) extend past the end of the file; clipped")
    table = Node("data blocks", triage.DataBlocksOffset, count * entry.sizeof(), f"{count} blocks")
    step = entry.sizeof()
    table._children = lambda: [
        Node(f"DataBlock[{i}]", triage.DataBlocksOffset + i * step, step, f"{b.Address:#x}",
             struct_nodes(entry, b, triage.DataBlocksOffset + i * step))
        for i, b in enumerate(blocks)
    ]
    state.root.add(table)
    state.regions.append(Region(triage.DataBlocksOffset, count * step, None, "header", "triage data blocks"))


def _triage_extra(state: _State, triage: Any) -> None:
    """The call stack and the KdDebuggerData copy: memory at known virtual addresses."""
    if triage.CallStackOffset and triage.SizeOfCallStack:
        have = _clip(state, triage.CallStackOffset, triage.SizeOfCallStack, "triage call stack")
        if have:
            state.memory.append(Region(triage.CallStackOffset, have, triage.TopOfStack, "stack", "call stack"))
    if triage.DebuggerDataOffset and triage.DebuggerDataSize:
        have = _clip(state, triage.DebuggerDataOffset, triage.DebuggerDataSize, "triage debugger data")
        if have:
            state.memory.append(Region(triage.DebuggerDataOffset, have, state.header.KdDebuggerDataBlock,
                                       "memory", "KdDebuggerData"))
    _triage_blobs(state, triage)


#: Triage blocks whose size the header does not give; each is taken to end where the next one starts.
TRIAGE_BLOBS = ("Mm", "UnloadedDrivers", "Prcb", "Process", "Thread")


def _triage_blobs(state: _State, triage: Any) -> None:
    """Tree nodes for the Mm, unloaded-driver, KPRCB, EPROCESS and ETHREAD copies.

    Why the sizes are inferred: the header gives only their offsets; the writer lays the blocks out
    back to back, so each ends where the next known block (any offset in the triage header) begins.
    """
    starts = sorted(
        {v for k, v in triage.items() if k.endswith("Offset") and isinstance(v, int) and v > 0}
        | {state.src.size}
    )
    for name in TRIAGE_BLOBS:
        offset = triage.get(f"{name}Offset", 0)
        if not state.layout.header_size <= offset < state.src.size:
            continue
        end = next(s for s in starts if s > offset)
        state.root.add(Node(name, offset, end - offset, f"{name}Offset {offset:#x} (size up to the next block)"))


def _triage_drivers(state: _State, triage: Any) -> None:
    """The loaded-driver list: name (from the string pool), base, size, timestamp."""
    entry = state.layout.driver_entry
    count = bounded_count(state.src, triage.DriverListOffset, triage.DriverCount, entry.sizeof(),
                          "triage DriverCount", state.warnings)
    if count > MAX_DRIVERS:
        state.warnings.add(f"triage: DriverCount {count}; only the first {MAX_DRIVERS} are read")
        count = MAX_DRIVERS
    if count == 0:
        return
    raw = state.src.read(triage.DriverListOffset, count * entry.sizeof())
    drivers = cs.Array(count, entry).parse(raw)
    bad_names = 0
    modules = []
    for drv in drivers:
        name = _dump_string(state.src, drv.DriverNameOffset)
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
        state.warnings.add(f"triage: {bad_names} driver name(s) could not be read from the string pool")
    state.details["modules"] = modules
    step = entry.sizeof()
    at = triage.DriverListOffset
    table = Node("driver list", at, count * step, f"{count} drivers")
    table._children = lambda: [
        Node(f"Driver[{i}]", at + i * step, step, m["name"], struct_nodes(entry, d, at + i * step))
        for i, (d, m) in enumerate(zip(drivers, modules, strict=True))
    ]
    state.root.add(table)
    state.regions.append(Region(at, count * step, None, "header", "triage driver list"))
    if triage.StringPoolOffset and triage.StringPoolSize:
        have = _clip(state, triage.StringPoolOffset, triage.StringPoolSize, "triage string pool")
        if have:
            state.regions.append(Region(triage.StringPoolOffset, have, None, "header", "triage string pool"))


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
