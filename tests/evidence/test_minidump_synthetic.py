"""Synthetic minidumps: a 100,000-range Memory64List, lying counts, streams and ranges past EOF.

Built by tests/builders/minidump.py with the parser's own construct declarations. Every damaged input
must give warnings and a partial result, never an exception (open_dump would turn one into a
"parser failed" warning, which the tests reject).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tests.builders.minidump import (
    BASE_VA,
    CSD,
    MODULE_PATH,
    THREAD_ID,
    VA_STEP,
    Layout,
    build_minidump,
    build_streams,
)
from viewer.evidence import Dump, open_dump
from viewer.evidence.formats.base import MAX_LIST_NODES
from viewer.evidence.formats.minidump import structs as S


def open_bytes(tmp_path: Path, data: bytes, name: str = "synthetic.dmp") -> Dump:
    path = tmp_path / name
    path.write_bytes(data)
    return open_dump(path)


def assert_sane(dump: Dump) -> None:
    """No parser crash, and nothing described outside the file."""
    assert dump.format == "minidump"
    assert not any("parser failed" in w for w in dump.warnings), dump.warnings
    for r in dump.regions:
        assert r.file_offset >= 0 and r.file_offset + r.size <= dump.size, r
    for node in dump.structure.walk():
        assert node.offset >= 0 and (node.length == 0 or node.offset + node.length <= dump.size), node


def memory_regions(dump: Dump) -> list:
    return [r for r in dump.regions if r.vaddr is not None]


def patch(data: bytes, offset: int, fmt: str, *values: int) -> bytes:
    buf = bytearray(data)
    struct.pack_into(fmt, buf, offset, *values)
    return bytes(buf)


def dir_entry(layout: Layout, index: int) -> int:
    return layout.directory + 12 * index


# -- a big, valid full-memory dump ------------------------------------------------------------------
@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Dump, Layout]:
    data, layout = build_minidump(100_000)
    dump = open_bytes(tmp_path_factory.mktemp("big"), data, "big.dmp")
    yield dump, layout
    dump.close()


def test_100k_ranges_all_regions(big: tuple[Dump, Layout]) -> None:
    dump, layout = big
    assert dump.warnings == []
    regions = memory_regions(dump)
    assert len(regions) == len(dump.details["memory"]) == 100_000
    assert [r.vaddr for r in regions[:3]] == [BASE_VA, BASE_VA + VA_STEP, BASE_VA + 2 * VA_STEP]
    for i in (0, 1, 2, 4_999, 50_000, 50_003, 77_777, 99_999):
        r = regions[i]
        assert (r.vaddr, r.file_offset, r.size) == (
            layout.range_va(i),
            layout.range_offset(i),
            layout.range_size,
        )
        assert dump.read_va(r.vaddr + 8, 8) == struct.pack("<Q", i)
        assert dump.va_to_file(r.vaddr + 5) == r.file_offset + 5
        assert dump.file_to_va(r.file_offset + 7) == r.vaddr + 7
        row = dump.details["memory"][i]
        assert row == {"vaddr": r.vaddr, "size": layout.range_size, "file_offset": r.file_offset}
    assert regions[layout.stack_range].kind == "stack"
    assert regions[layout.stack_range].attrs["thread_id"] == THREAD_ID
    for i in layout.module_ranges:
        assert regions[i].kind == "module" and regions[i].name == "app.exe"
        assert regions[i].attrs["path"] == MODULE_PATH
    assert regions[0].kind == regions[-1].kind == "memory"


@pytest.mark.slow
def test_100k_ranges_meta_details_and_lazy_tree(big: tuple[Dump, Layout]) -> None:
    dump, layout = big
    assert dump.meta["arch"] == "amd64" and dump.meta["os"] == "Windows NT"
    assert dump.meta["os_version"] == f"10.0.19045 {CSD}"
    assert dump.meta["process"] == {"name": "app.exe"} and dump.meta["flags"] == "0x2"
    assert dump.details["modules"][0]["version"] == "1.2.3.4"
    node = dump.structure.find("Memory64ListStream")
    assert node is not None and node.has_children and callable(node._children)  # not built yet
    kids = node.children
    assert len(kids) == MAX_LIST_NODES  # the tree lists that many; the regions hold every range
    assert kids[-1].name == f"... {2 + 100_000 - MAX_LIST_NODES + 1} more"
    assert len(memory_regions(dump)) == 100_000
    d = kids[2 + 12_345]
    assert d.offset == layout.memory64_list + 16 + 16 * 12_345 and d.length == 16
    fields = {c.name: c.value for c in d.children}
    assert fields == {"StartOfMemoryRange": layout.range_va(12_345), "DataSize": layout.range_size}


def test_memory_info_perms(tmp_path: Path) -> None:
    data, layout = build_minidump(1000, memory_info=True)
    dump = open_bytes(tmp_path, data)
    assert dump.warnings == [] and dump.details["memory_info"] == 1000
    regions = memory_regions(dump)
    plain = regions[0]
    assert plain.perms == "rw-" and plain.attrs == {"protect": "0x4", "state": "commit", "type": "private"}
    mod = regions[layout.module_ranges[0]]
    assert mod.kind == "module" and mod.perms == "r-x" and mod.attrs["type"] == "image"
    assert regions[layout.stack_range].perms == "rw-"


# -- lying counts, locations past EOF, overlaps ------------------------------------------------------
@pytest.fixture(scope="module")
def small() -> tuple[bytes, Layout]:
    return build_minidump(64)


def test_stream_count_lies(tmp_path: Path, small: tuple[bytes, Layout]) -> None:
    data, layout = small
    dump = open_bytes(tmp_path, patch(data, 8, "<I", 0xFFFFFFFF))
    assert_sane(dump)
    assert any("stream directory" in w for w in dump.warnings)
    assert len(memory_regions(dump)) == 64  # the real streams still parse


def test_memory64_count_lies(tmp_path: Path, small: tuple[bytes, Layout]) -> None:
    data, layout = small
    dump = open_bytes(tmp_path, patch(data, layout.memory64_list, "<Q", 0xFFFFFFFF))
    assert_sane(dump)
    assert any("Memory64ListStream: count 4294967295" in w for w in dump.warnings)
    assert len(memory_regions(dump)) == 64


@pytest.mark.parametrize("field", ["thread_list", "module_list"])
def test_list_counts_lie(tmp_path: Path, small: tuple[bytes, Layout], field: str) -> None:
    data, layout = small
    dump = open_bytes(tmp_path, patch(data, getattr(layout, field), "<I", 0xFFFFFFFF))
    assert_sane(dump)
    assert any("count 4294967295" in w for w in dump.warnings)
    assert len(dump.details["threads"]) == 1 and len(dump.details["modules"]) == 1


def test_stream_rva_past_eof(tmp_path: Path, small: tuple[bytes, Layout]) -> None:
    data, layout = small
    entry = dir_entry(layout, 3)  # Memory64ListStream
    dump = open_bytes(tmp_path, patch(data, entry + 8, "<I", len(data) + 100))
    assert_sane(dump)
    assert any("Memory64ListStream" in w and "past the end" in w for w in dump.warnings)
    assert memory_regions(dump) == [] and len(dump.details["threads"]) == 1


def test_stream_size_past_eof(tmp_path: Path, small: tuple[bytes, Layout]) -> None:
    data, layout = small
    entry = dir_entry(layout, 1)  # ThreadListStream
    dump = open_bytes(tmp_path, patch(data, entry + 4, "<I", 0xFFFFFF00))
    assert_sane(dump)
    assert any("ThreadListStream" in w and "clipped" in w for w in dump.warnings)
    assert len(dump.details["threads"]) == 1


def test_directory_past_eof(tmp_path: Path, small: tuple[bytes, Layout]) -> None:
    data, _ = small
    dump = open_bytes(tmp_path, patch(data, 12, "<I", 0x7FFFFFF0))
    assert_sane(dump)
    assert any("stream directory" in w for w in dump.warnings)
    assert dump.details["streams"] == [] and memory_regions(dump) == []


def test_ranges_past_eof_are_clipped(tmp_path: Path, small: tuple[bytes, Layout]) -> None:
    data, layout = small
    cut = layout.range_offset(40) + 10  # range 40 partly present, 41.. wholly past EOF
    dump = open_bytes(tmp_path, data[:cut])
    assert_sane(dump)
    assert any("past the end of the file and were clipped" in w for w in dump.warnings)
    regions = memory_regions(dump)
    assert len(regions) == 41 and regions[-1].size == 10
    assert len(dump.details["memory"]) == 64  # the descriptors, as the file says
    assert dump.details["memory"][40]["size"] == layout.range_size


def test_huge_range_size_does_not_wrap(tmp_path: Path, small: tuple[bytes, Layout]) -> None:
    data, layout = small
    dump = open_bytes(tmp_path, patch(data, layout.memory64_list + 16 + 16 * 5 + 8, "<Q", 2**64 - 1))
    assert_sane(dump)
    regions = memory_regions(dump)
    assert len(regions) == 6 and regions[5].size == len(data) - layout.range_offset(5)
    assert any("clipped" in w for w in dump.warnings)


def test_overlapping_ranges(tmp_path: Path, small: tuple[bytes, Layout]) -> None:
    data, layout = small
    third = layout.memory64_list + 16 + 16 * 3
    dump = open_bytes(tmp_path, patch(data, third, "<Q", layout.range_va(2) + 8))
    assert_sane(dump)
    assert any("overlap" in w for w in dump.warnings)
    assert len(memory_regions(dump)) == 64


def test_truncated_header(tmp_path: Path, small: tuple[bytes, Layout]) -> None:
    dump = open_bytes(tmp_path, small[0][:20])
    assert_sane(dump)
    assert any("MINIDUMP_HEADER" in w and "truncated" in w for w in dump.warnings)


def test_string_length_lies(tmp_path: Path, small: tuple[bytes, Layout]) -> None:
    data, layout = small
    name_rva = struct.unpack_from("<I", data, layout.module_list + 4 + 20)[0]
    dump = open_bytes(tmp_path, patch(data, name_rva, "<I", 0xFFFFFFFF))
    assert_sane(dump)
    assert any("claims 4294967295 bytes" in w for w in dump.warnings)
    assert len(dump.details["modules"]) == 1


def test_corrupt_stream_is_kept_raw(tmp_path: Path) -> None:
    """A MemoryInfoList whose entry size is too small: warning, raw stream, the rest parses."""
    bad_info = S.MINIDUMP_MEMORY_INFO_LIST.build({"SizeOfHeader": 16, "SizeOfEntry": 8, "NumberOfEntries": 3})
    dump = open_bytes(tmp_path, build_streams([(16, bad_info + bytes(24)), (0xFFF0, b"wine")]))
    assert_sane(dump)
    assert any("smaller than MINIDUMP_MEMORY_INFO" in w for w in dump.warnings)
    assert dump.structure.find("Stream0xfff0").value == "4 bytes (raw)"


# -- stream variants --------------------------------------------------------------------------------
MISC_SIZES = [(24, "MINIDUMP_MISC_INFO"), (44, "MINIDUMP_MISC_INFO_2"), (232, "MINIDUMP_MISC_INFO_3"),
              (832, "MINIDUMP_MISC_INFO_4"), (1364, "MINIDUMP_MISC_INFO_5")]  # fmt: skip


@pytest.mark.parametrize(("size", "version"), MISC_SIZES)
def test_misc_info_versions(tmp_path: Path, size: int, version: str) -> None:
    body = struct.pack("<IIIIII", size, 0x3FF, 4242, 1_600_000_000, 7, 8).ljust(size, b"\0")
    if size >= 832:  # BuildString (WCHAR[260]) at offset 232
        body = body[:232] + "22621.1.amd64fre".encode("utf-16-le").ljust(520, b"\0") + body[752:]
    dump = open_bytes(tmp_path, build_streams([(15, body)]))
    assert dump.warnings == []
    misc = dump.details["misc_info"]
    assert misc["version"] == version and misc["process_id"] == 4242
    assert misc["process_create_time"] == 1_600_000_000 and dump.meta["process"]["pid"] == 4242
    if size >= 44:
        assert "processor_max_mhz" in misc
    if size >= 232:
        assert misc["time_zone"]["standard_name"] == ""
    if size >= 832:
        assert misc["build_string"] == "22621.1.amd64fre"
    if size == 1364:
        assert misc["process_cookie"] == 0 and misc["xstate"]["features"] == []


@pytest.mark.parametrize(
    ("arch", "name"),
    [
        (0, "x86"),
        (5, "arm"),
        (6, "ia64"),
        (9, "amd64"),
        (12, "arm64"),
        (0x8003, "arm64"),
        (0xFFFF, "unknown(65535)"),
    ],
)
def test_every_processor_architecture(tmp_path: Path, arch: int, name: str) -> None:
    si = S.MINIDUMP_SYSTEM_INFO.build(
        {
            "ProcessorArchitecture": arch,
            "ProcessorLevel": 1,
            "ProcessorRevision": 2,
            "NumberOfProcessors": 8,
            "ProductType": 1,
            "MajorVersion": 14,
            "MinorVersion": 1,
            "BuildNumber": 0,
            "PlatformId": 0x8101,
            "CSDVersionRva": 0,
            "SuiteMask": 0,
            "Reserved2": 0,
            "Cpu": bytes(24),
        }
    )
    dump = open_bytes(tmp_path, build_streams([(7, si)]))
    assert dump.warnings == []
    assert dump.meta["arch"] == name and dump.meta["os"] == "macOS" and dump.meta["os_version"] == "14.1.0"
    assert dump.details["system_info"]["processor_architecture"] == arch


def test_breakpad_text_streams(tmp_path: Path) -> None:
    streams = [
        (0x47670006, b"/usr/bin/app\0--flag\0value\0"),
        (0x47670007, b"HOME=/root\0PATH=/bin\0"),
        (0x47670004, b"Name:\tapp\nPid:\t4321\n"),
        (0x47670001, struct.pack("<III", 3, 0x10, 0x20)),
        (0x4767000F, b"future"),
        (0x4D7A0001, b"moz"),
    ]
    dump = open_bytes(tmp_path, build_streams(streams))
    assert dump.warnings == []
    linux = dump.details["breakpad"]["linux"]
    assert linux["cmdline"] == ["/usr/bin/app", "--flag", "value"] and linux["environ_count"] == 2
    assert dump.meta["process"] == {"pid": 4321}
    assert dump.details["breakpad"]["info"] == {
        "validity": 3,
        "dump_thread_id": 0x10,
        "requesting_thread_id": 0x20,
    }
    cmd = dump.structure.find("LinuxCmdLine")
    assert [c.value for c in cmd.children] == ["/usr/bin/app", "--flag", "value"]
    assert dump.read(cmd.children[1].offset, cmd.children[1].length) == b"--flag"
    names = [s["name"] for s in dump.details["streams"]]
    assert names[-2:] == ["BreakpadStream0x4767000f", "MozMacosCrashInfoStream"]


def test_unused_entries_are_listed(tmp_path: Path) -> None:
    data = build_streams([(0, b""), (0xFFF0, b"abc"), (0, b"")])
    dump = open_bytes(tmp_path, data)
    assert [s["type"] for s in dump.details["streams"]] == [0, 0xFFF0, 0]
    assert dump.warnings == []
