"""Synthetic minidumps for tests and the benchmark, built with the parser's own construct declarations.

Why build instead of ship: a full-memory dump with 100,000 ranges is tens of MB, and tests of lying
counts need exact control of each field. The layout is fixed and documented by ``Layout`` so that a test
can overwrite one field and know what it broke.

Layout: header, directory (SystemInfo, ThreadList, ModuleList, Memory64List[, MemoryInfoList]), the
streams, the CSD and module-name strings, then the memory data. Range ``i`` starts at
``BASE_VA + i * VA_STEP`` and holds ``range_size`` bytes, each 8-byte word being ``i`` (so every range is
recognisable); thread 0x1234's stack is range ``stack_range`` and the module covers ranges
``module_ranges``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from viewer.evidence.formats.minidump import structs as S

BASE_VA = 0x10000000
VA_STEP = 0x1000
THREAD_ID = 0x1234
MODULE_PATH = "C:\\synthetic\\app.exe"
CSD = "Service Pack 9"
TIME = 1_700_000_000
FLAGS = 0x2  # MiniDumpWithFullMemory
PAGE_READWRITE, PAGE_EXECUTE_READ = 0x04, 0x20
MEM_COMMIT, MEM_PRIVATE, MEM_IMAGE = 0x1000, 0x20000, 0x1000000


@dataclass
class Layout:
    """Where build_minidump put things: file offsets for tests that corrupt one field."""

    directory: int
    system_info: int
    thread_list: int
    module_list: int
    memory64_list: int
    memory_info_list: int | None
    data: int
    ranges: int
    range_size: int
    stack_range: int
    module_ranges: range

    def range_offset(self, i: int) -> int:
        return self.data + i * self.range_size

    def range_va(self, i: int) -> int:
        return BASE_VA + i * VA_STEP


def utf16_string(text: str) -> bytes:
    """A MINIDUMP_STRING: byte length, UTF-16LE, and the NUL terminator that is not counted."""
    raw = text.encode("utf-16-le")
    return S.MINIDUMP_STRING_HEADER.build({"Length": len(raw)}) + raw + b"\0\0"


def location(size: int, rva: int) -> dict[str, int]:
    return {"DataSize": size, "Rva": rva}


def build_minidump(
    ranges: int, range_size: int = 64, memory_info: bool = False, stack_range: int = 1
) -> tuple[bytes, Layout]:
    """A valid full-memory minidump with ``ranges`` Memory64List ranges (and its Layout)."""
    assert range_size % 8 == 0 and ranges >= 2
    n_streams = 5 if memory_info else 4
    directory = 32
    system_info = directory + 12 * n_streams
    thread_list = system_info + S.MINIDUMP_SYSTEM_INFO.sizeof()
    module_list = thread_list + 4 + S.MINIDUMP_THREAD.sizeof()
    memory64_list = module_list + 4 + S.MINIDUMP_MODULE.sizeof()
    m64_size = 16 + 16 * ranges
    mil = memory64_list + m64_size if memory_info else None
    mil_size = 16 + S.MINIDUMP_MEMORY_INFO.sizeof() * ranges if memory_info else 0
    strings = memory64_list + m64_size + mil_size
    csd = utf16_string(CSD)
    module_name = utf16_string(MODULE_PATH)
    data = strings + len(csd) + len(module_name)
    module_ranges = range(ranges // 2, ranges // 2 + min(4, ranges - ranges // 2))
    layout = Layout(
        directory,
        system_info,
        thread_list,
        module_list,
        memory64_list,
        mil,
        data,
        ranges,
        range_size,
        stack_range,
        module_ranges,
    )

    streams = [
        (7, S.MINIDUMP_SYSTEM_INFO.sizeof(), system_info),
        (3, 4 + S.MINIDUMP_THREAD.sizeof(), thread_list),
        (4, 4 + S.MINIDUMP_MODULE.sizeof(), module_list),
        (9, m64_size, memory64_list),
    ]
    if memory_info:
        streams.append((16, mil_size, mil))
    parts = [
        S.MINIDUMP_HEADER.build(
            {
                "Version": S.MINIDUMP_VERSION,
                "NumberOfStreams": n_streams,
                "StreamDirectoryRva": directory,
                "CheckSum": 0,
                "TimeDateStamp": TIME,
                "Flags": FLAGS,
            }
        ),
        *(
            S.MINIDUMP_DIRECTORY.build({"StreamType": t, "Location": location(size, rva)})
            for t, size, rva in streams
        ),
        system_info_bytes(strings),
        thread_list_bytes(layout),
        module_list_bytes(layout, strings + len(csd)),
        memory64_bytes(layout),
    ]
    if memory_info:
        parts.append(memory_info_bytes(layout))
    parts += [csd, module_name, memory_data(ranges, range_size)]
    out = b"".join(parts)
    assert len(out) == data + ranges * range_size
    return out, layout


def system_info_bytes(csd_rva: int) -> bytes:
    return S.MINIDUMP_SYSTEM_INFO.build(
        {
            "ProcessorArchitecture": 9,
            "ProcessorLevel": 6,
            "ProcessorRevision": 0x9E0A,
            "NumberOfProcessors": 4,
            "ProductType": 1,
            "MajorVersion": 10,
            "MinorVersion": 0,
            "BuildNumber": 19045,
            "PlatformId": 2,
            "CSDVersionRva": csd_rva,
            "SuiteMask": 0x100,
            "Reserved2": 0,
            "Cpu": b"GenuineIntel" + bytes(12),
        }
    )


def thread_list_bytes(layout: Layout) -> bytes:
    i = layout.stack_range
    thread = {
        "ThreadId": THREAD_ID,
        "SuspendCount": 0,
        "PriorityClass": 0x20,
        "Priority": 0,
        "Teb": 0x7FF000,
        "Stack": {
            "StartOfMemoryRange": layout.range_va(i),
            "Memory": location(layout.range_size, layout.range_offset(i)),
        },
        "ThreadContext": location(0, 0),
    }
    return S.MINIDUMP_THREAD_LIST_HEADER.build({"NumberOfThreads": 1}) + S.MINIDUMP_THREAD.build(thread)


def module_list_bytes(layout: Layout, name_rva: int) -> bytes:
    first, count = layout.module_ranges[0], len(layout.module_ranges)
    version = {k.name: 0 for k in S.VS_FIXEDFILEINFO.subcons}
    version.update(
        dwSignature=S.VS_FFI_SIGNATURE, dwFileVersionMS=(1 << 16) | 2, dwFileVersionLS=(3 << 16) | 4
    )
    module = {
        "BaseOfImage": layout.range_va(first),
        "SizeOfImage": count * VA_STEP,
        "CheckSum": 0xABCD,
        "TimeDateStamp": TIME,
        "ModuleNameRva": name_rva,
        "VersionInfo": version,
        "CvRecord": location(0, 0),
        "MiscRecord": location(0, 0),
        "Reserved0": 0,
        "Reserved1": 0,
    }
    return S.MINIDUMP_MODULE_LIST_HEADER.build({"NumberOfModules": 1}) + S.MINIDUMP_MODULE.build(module)


def memory64_bytes(layout: Layout) -> bytes:
    """Header via construct; the descriptors via numpy (construct builds ~100k structs/s: too slow)."""
    head = S.MINIDUMP_MEMORY64_LIST_HEADER.build(
        {"NumberOfMemoryRanges": layout.ranges, "BaseRva": layout.data}
    )
    desc = np.zeros(layout.ranges, dtype=S.MEMORY_DESCRIPTOR64_DTYPE)
    desc["start"] = BASE_VA + np.arange(layout.ranges, dtype=np.uint64) * VA_STEP
    desc["size"] = layout.range_size
    return head + desc.tobytes()


def memory_info_bytes(layout: Layout) -> bytes:
    """One MINIDUMP_MEMORY_INFO per range: module ranges image/r-x, the rest private/rw-."""
    head = S.MINIDUMP_MEMORY_INFO_LIST.build(
        {"SizeOfHeader": 16, "SizeOfEntry": S.MINIDUMP_MEMORY_INFO.sizeof(), "NumberOfEntries": layout.ranges}
    )
    info = np.zeros(layout.ranges, dtype=S.MEMORY_INFO_DTYPE)
    info["base"] = info["allocation_base"] = BASE_VA + np.arange(layout.ranges, dtype=np.uint64) * VA_STEP
    info["size"] = VA_STEP
    info["state"] = MEM_COMMIT
    info["protect"] = info["allocation_protect"] = PAGE_READWRITE
    info["type"] = MEM_PRIVATE
    mods = slice(layout.module_ranges.start, layout.module_ranges.stop)
    info["protect"][mods] = PAGE_EXECUTE_READ
    info["type"][mods] = MEM_IMAGE
    return head + info.tobytes()


def memory_data(ranges: int, range_size: int) -> bytes:
    words = range_size // 8
    return np.repeat(np.arange(ranges, dtype="<u8"), words).tobytes()


def build_streams(streams: list[tuple[int, bytes]]) -> bytes:
    """A minimal minidump holding the given (type, data) streams, laid out in order after the directory.

    For streams whose data holds no RVAs (MiscInfo, SystemInfo without CSD, vendor text, unknown types).
    """
    directory = 32
    rva = directory + 12 * len(streams)
    entries, blobs = [], []
    for stream_type, data in streams:
        entries.append(
            S.MINIDUMP_DIRECTORY.build({"StreamType": stream_type, "Location": location(len(data), rva)})
        )
        blobs.append(data)
        rva += len(data)
    header = S.MINIDUMP_HEADER.build(
        {
            "Version": S.MINIDUMP_VERSION,
            "NumberOfStreams": len(streams),
            "StreamDirectoryRva": directory,
            "CheckSum": 0,
            "TimeDateStamp": TIME,
            "Flags": 0,
        }
    )
    return header + b"".join(entries) + b"".join(blobs)
