"""Windows kernel dump structures, declared with construct; names and order as in the specification.

Layouts follow the published definitions (volatility's ``_DUMP_HEADER``/``_DUMP_HEADER64`` vtypes, the
Windows ``dump.h`` structures, kdmp-parser's ``BMP_HEADER64`` and rizin's triage structures). What differs
between the 32-bit (``PAGEDUMP``) and 64-bit (``PAGEDU64``) dumps is gathered in one :class:`Layout` per
word size; the triage and driver structures are built by a factory per word size.
"""

from __future__ import annotations

from dataclasses import dataclass

import construct as cs

PAGE_SIZE = 0x1000
#: Unused header bytes are filled with this pattern by the dump writer.
FILL = b"PAGE"
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



def is_text(raw: bytes) -> bool:
    head = raw.split(b"\0", 1)[0]
    return len(raw) <= 128 and all(32 <= c < 127 for c in head)


def text(raw: bytes) -> str:
    """A fixed-size CHAR field as text, up to its first NUL."""
    return raw.split(b"\0", 1)[0].decode("latin-1")


def is_fill(raw: bytes) -> bool:
    """True when bytes are the writer's ``PAGE`` filler, i.e. the field was never written."""
    return len(raw) >= 4 and raw == FILL * (len(raw) // 4) + FILL[: len(raw) % 4]


def show_bytes(raw: bytes) -> str:
    """A bytes field as the tree shows it: its text when it is text, else its length."""
    return text(raw) if is_text(raw) else f"{len(raw)} bytes"
