"""Windows kernel dumps: the two real triage dumps against volatility3 and rizin, and synthetic full,
bitmap and 32-bit dumps built byte by byte so that every page's place in the file is known.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path

import numpy as np
import pytest

from tests.builders.kernel_dump import PAGE, bitmap_dump, build_header, full_dump, page
from tests.conftest import CORPUS, load_facts
from viewer.evidence import Dump, open_dump
from viewer.evidence.formats import kernel_dump as kd
from viewer.evidence.formats.base import Warnings
from viewer.evidence.source import ByteSource

X64 = CORPUS / "rz_triage_x64.dmp"
ARM64 = CORPUS / "rz_triage_arm64.dmp"
TRIAGE = [X64, ARM64]


def parse_bytes(tmp_path: Path, data: bytes, name: str = "t.dmp") -> Dump:
    """Parse with the kernel-dump parser directly, so a parser exception fails the test."""
    path = tmp_path / name
    path.write_bytes(data)
    src = ByteSource(path)
    return Dump(src, kd.parse(src, Warnings()))


def open_kd(path: Path) -> Dump:
    """A corpus dump through this parser alone (detection is tested once, in test_open_dump_detects)."""
    src = ByteSource(path)
    return Dump(src, kd.parse(src, Warnings()))


def mentions(dump: Dump, *words: str) -> bool:
    return any(all(w.lower() in w_.lower() for w in words) for w_ in dump.warnings)


# -- the real triage dumps -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", TRIAGE, ids=lambda p: p.name)
def test_triage_header_matches_volatility3(path: Path) -> None:
    facts = load_facts(path)["facts"]["volatility3_dump_header64"]
    with open_kd(path) as dump:
        assert dump.format == "windows-kernel-dump"
        header = dump.details["header"]
        for name, expected in facts.items():
            assert header[name] == expected, name


@pytest.mark.parametrize("path", TRIAGE, ids=lambda p: p.name)
def test_triage_field_nodes_sit_at_the_published_offsets(path: Path) -> None:
    offsets = {
        "MajorVersion": 0x8, "DirectoryTableBase": 0x10, "MachineImageType": 0x30, "NumberProcessors": 0x34,
        "BugCheckCode": 0x38, "BugCheckCodeParameter": 0x40, "KdDebuggerDataBlock": 0x80,
        "PhysicalMemoryBlockBuffer": 0x88, "ContextRecord": 0x348, "Exception": 0xF00, "DumpType": 0xF98,
        "RequiredDumpSpace": 0xFA0, "SystemTime": 0xFA8, "Comment": 0xFB0, "SystemUpTime": 0x1030,
        "MiniDumpFields": 0x1038, "SecondaryDataState": 0x103C, "ProductType": 0x1040, "SuiteMask": 0x1044,
        "WriterStatus": 0x1048, "KdSecondaryVersion": 0x104D, "Attributes": 0x1050, "BootId": 0x1054,
    }
    with open_kd(path) as dump:
        header = dump.structure.find("header")
        assert header is not None and (header.offset, header.length) == (0, 0x2000)
        for name, offset in offsets.items():
            node = header.find(name)
            assert node is not None and node.offset == offset, name
        # every leaf's bytes decode to the value shown
        for name in ("NumberProcessors", "DumpType", "ProductType"):
            node = header.find(name)
            assert struct.unpack("<I", dump.read(node.offset, 4))[0] == node.value


def test_triage_x64_rizin_expectations() -> None:
    with open_kd(X64) as dump:
        h, t = dump.details["header"], dump.details["triage"]
        assert (h["MajorVersion"], h["MinorVersion"]) == (0xF, 0x4A61)
        assert h["DirectoryTableBase"] == 0x1AD000
        assert h["MachineImageType"] == 0x8664 and h["NumberProcessors"] == 16
        assert h["BugCheckCode"] == 0x1000007E
        assert h["BugCheckCodeParameter"][:2] == [0xFFFFFFFFC0000005, 0xFFFFF8048B58334C]
        assert h["KdDebuggerDataBlock"] == 0xFFFFF8047C600B20
        assert t["SizeOfDump"] == 0x13A28C and t["DriverCount"] == 0x97 and t["ContextOffset"] == 0x348
        assert t["ExceptionOffset"] == 0xF00  # the header's own Exception field
        meta = dump.meta
        assert meta["os"] == "Windows" and meta["os_version"] == "15.19041" and meta["arch"] == "amd64"
        assert meta["cpu_count"] == 16 and meta["dump_type"] == "triage"
        assert meta["bugcheck"].startswith("0x1000007e (0xffffffffc0000005, 0xfffff8048b58334c")
        assert meta["time"].startswith("2021-02-21T01:38:22")
        assert "comment" not in meta  # the Comment is the writer's PAGE filler


def test_triage_arm64_rizin_expectations() -> None:
    with open_kd(ARM64) as dump:
        h = dump.details["header"]
        assert h["MinorVersion"] == 0x55F0 and h["DirectoryTableBase"] == 0x946AA000
        assert dump.meta["arch"] == "arm64" and dump.meta["cpu_count"] == 8
        assert dump.details["triage"]["ContextOffset"] == 0x348


@pytest.mark.parametrize("path", TRIAGE, ids=lambda p: p.name)
def test_triage_drivers_blocks_and_warning(path: Path) -> None:
    with open_kd(path) as dump:
        triage = dump.details["triage"]
        modules = dump.details["modules"]
        assert len(modules) == triage["DriverCount"]
        assert modules[0]["name"] == "\\SystemRoot\\system32\\ntoskrnl.exe"
        assert modules[1]["name"].lower().endswith("hal.dll")
        assert all(m["name"] for m in modules)
        assert all(m["base"] >= 0xFFFF800000000000 for m in modules)
        assert dump.details["physical_memory"] is None  # PAGE-filled in a triage dump
        # physical memory is not mapped: the warning says so
        assert mentions(dump, "triage", "not mapped")
        # the debugger data block is reachable by its kernel address and is a real KDBG
        kdbg = dump.details["header"]["KdDebuggerDataBlock"]
        assert dump.read_va(kdbg + 0x10, 4) == b"KDBG"
        assert dump.va_to_file(kdbg) == triage["DebuggerDataOffset"]
        blocks = [r for r in dump.regions if r.name.startswith("data block")]
        assert len(blocks) == triage["DataBlocksCount"]
        assert all(r.vaddr is not None and r.end <= dump.size for r in blocks)
        assert dump.details["memory"] and all(set(m) == {"vaddr", "size", "file_offset"}
                                              for m in dump.details["memory"])


# -- synthetic full dumps ------------------------------------------------------------------------------


def test_full_dump_64_maps_runs_to_physical_addresses(tmp_path: Path) -> None:
    runs = [(0x10, 2), (0x100, 3), (0x5000, 1)]
    data, starts = full_dump(kd.LAYOUT64, runs, RequiredDumpSpace=0)
    dump = parse_bytes(tmp_path, data)
    assert dump.warnings == []
    assert dump.meta["dump_type"] == "full"
    physical = [r for r in dump.regions if r.kind == "physical"]
    assert [(r.vaddr, r.size, r.file_offset) for r in physical] == [
        (base * PAGE, count * PAGE, start) for (base, count), start in zip(runs, starts, strict=True)
    ]
    # the second page of run 2 (run index 1) is body page 3 -> filled with byte 4
    addr = 0x101 * PAGE + 0x10
    assert dump.va_to_file(addr) == starts[1] + PAGE + 0x10
    assert dump.read_va(addr, 16) == page(4)[:16]
    assert dump.file_to_va(starts[1] + PAGE + 0x10) == addr
    assert dump.va_to_file(0x200 * PAGE) is None  # a hole between runs
    pm = dump.details["physical_memory"]
    assert pm["NumberOfRuns"] == 3 and pm["NumberOfPages"] == 6
    assert pm["runs"][2] == {"BasePage": 0x5000, "PageCount": 1}
    assert dump.details["memory"][1] == {"vaddr": 0x100 * PAGE, "size": 3 * PAGE, "file_offset": starts[1]}
    body = dump.structure.find("physical memory")
    assert body is not None and [n.offset for n in body.children] == starts


def test_full_dump_32_pagedump(tmp_path: Path) -> None:
    runs = [(0x1, 1), (0x80, 2)]
    data, starts = full_dump(kd.LAYOUT32, runs, MinorVersion=2600)
    assert data[:8] == b"PAGEDUMP" and starts[0] == 0x1000
    assert kd.probe(data[:64])
    dump = parse_bytes(tmp_path, data)
    assert dump.warnings == []
    assert dump.meta["arch"] == "x86" and dump.meta["os_version"] == "15.2600"
    assert dump.meta["comment"] == "synthetic"
    assert dump.details["header"]["ValidDump"] == "DUMP"
    assert dump.structure.find("header").find("DumpType").offset == 0xF88
    assert dump.structure.find("header").find("SystemTime").offset == 0xFC0
    addr = 0x81 * PAGE + 5
    assert dump.va_to_file(addr) == starts[1] + PAGE + 5
    assert dump.read_va(addr, 3) == page(3)[:3]


def test_full_dump_number_of_runs_lies(tmp_path: Path) -> None:
    data, _ = full_dump(kd.LAYOUT64, [(0x10, 1)])
    raw = bytearray(data)
    struct.pack_into("<I", raw, 0x88, 0xFFFFFFFF)
    dump = parse_bytes(tmp_path, bytes(raw))
    assert mentions(dump, "NumberOfRuns", "4294967295")
    assert len(dump.details["physical_memory"]["runs"]) == kd.LAYOUT64.max_runs == 43
    assert dump.read_va(0x10 * PAGE, 4) == page(1)[:4]  # the real first run still maps


def test_full_dump_runs_past_eof_are_clipped(tmp_path: Path) -> None:
    data, starts = full_dump(kd.LAYOUT64, [(0x10, 2), (0x100, 3)])
    cut = data[: starts[1] + PAGE + 100]  # run 2 keeps one page and 100 bytes
    dump = parse_bytes(tmp_path, cut)
    assert mentions(dump, "past the end of the file")
    run2 = [r for r in dump.regions if r.name == "run 1"][0]
    assert run2.size == PAGE + 100 and run2.mem_size == 3 * PAGE
    assert dump.read_va(0x101 * PAGE, 1000) == page(4)[:100]


def test_full_dump_huge_page_count_and_number_of_pages_mismatch(tmp_path: Path) -> None:
    header = build_header(kd.LAYOUT64, [(0x10, 1 << 60)], DumpType=1)
    struct.pack_into("<Q", header, 0x90, 7)  # NumberOfPages disagrees with the runs
    dump = parse_bytes(tmp_path, bytes(header) + page(1))
    assert mentions(dump, "NumberOfPages")
    assert mentions(dump, "past the end")
    [run] = [r for r in dump.regions if r.kind == "physical"]
    assert run.size == PAGE


# -- synthetic bitmap dumps ----------------------------------------------------------------------------


def test_bitmap_dump_maps_set_bits(tmp_path: Path) -> None:
    bits = [0, 1, 2, 10, 100, 101, 102, 103, 4095]
    data, first = bitmap_dump(bits, 4096)
    dump = parse_bytes(tmp_path, data)
    assert dump.warnings == []
    assert dump.meta["dump_type"] == "bitmap full"
    physical = [r for r in dump.regions if r.kind == "physical"]
    assert [(r.vaddr // PAGE, r.size // PAGE) for r in physical] == [(0, 3), (10, 1), (100, 4), (4095, 1)]
    for index, bit in enumerate(bits):
        assert dump.va_to_file(bit * PAGE + 7) == first + index * PAGE + 7
        assert dump.read_va(bit * PAGE, 8) == page(index + 1)[:8]
    assert dump.va_to_file(50 * PAGE) is None
    assert dump.details["bitmap_header"]["Signature"] == "FDMP"
    assert dump.details["bitmap_header"]["FirstPage"] == first


def test_summary_dump_with_sdmp_header_is_mapped(tmp_path: Path) -> None:
    data, first = bitmap_dump([3, 4], 64, dump_type=2, signature=b"SDMP")
    dump = parse_bytes(tmp_path, data)
    assert dump.warnings == [] and dump.meta["dump_type"] == "summary"
    assert dump.va_to_file(4 * PAGE) == first + PAGE


def test_bitmap_claims_more_pages_than_the_file_holds(tmp_path: Path) -> None:
    bits = list(range(0, 40, 2))
    data, first = bitmap_dump(bits, 64, pages_present=5)
    dump = parse_bytes(tmp_path, data)
    assert mentions(dump, "claims 20 pages", "holds 5")
    physical = [r for r in dump.regions if r.kind == "physical"]
    assert len(physical) == 5 and all(r.end <= dump.size for r in physical)


def test_bitmap_total_present_pages_lies(tmp_path: Path) -> None:
    data, _ = bitmap_dump([1, 2, 3], 64, total_present=99)
    dump = parse_bytes(tmp_path, data)
    assert mentions(dump, "TotalPresentPages 99")


def test_bitmap_pages_field_huge(tmp_path: Path) -> None:
    data, _ = bitmap_dump([1, 2, 3], 64)
    raw = bytearray(data)
    struct.pack_into("<Q", raw, 0x2000 + 0x30, (1 << 64) - 1)
    dump = parse_bytes(tmp_path, bytes(raw))
    assert mentions(dump, "bitmap")
    assert dump.read_va(2 * PAGE, 1) == page(2)[:1]


@pytest.mark.slow
def test_bitmap_runs_cross_chunks_and_match_a_reference() -> None:
    rng = np.random.default_rng(7)
    nbits = kd.BITMAP_CHUNK * 8 * 2 + 12345  # three chunks, the last one partial
    bits = np.zeros(nbits, dtype=np.uint8)
    for start in rng.integers(0, nbits - 5000, 3000):
        bits[start : start + rng.integers(1, 5000)] = 1
    edge = kd.BITMAP_CHUNK * 8
    bits[edge - 3 : edge + 3] = 1  # a run across the first chunk boundary
    raw = np.packbits(bits, bitorder="little").tobytes()
    starts, lengths = kd.bitmap_runs(raw, nbits)
    padded = np.concatenate(([0], bits.astype(np.int8), [0]))
    ref_starts = np.flatnonzero(np.diff(padded) == 1)
    ref_ends = np.flatnonzero(np.diff(padded) == -1)
    assert np.array_equal(starts, ref_starts) and np.array_equal(lengths, ref_ends - ref_starts)
    assert int(lengths.sum()) == int(bits.sum())


def test_bitmap_of_a_64_gib_machine_is_fast() -> None:
    nbits = 64 * (1 << 30) // PAGE  # 16M pages
    rng = np.random.default_rng(1)
    bits = (rng.random(nbits // 64) < 0.5).repeat(64).astype(np.uint8)  # runs of 64 pages
    raw = np.packbits(bits, bitorder="little").tobytes()
    began = time.perf_counter()
    starts, lengths = kd.bitmap_runs(raw, nbits)
    assert time.perf_counter() - began < 2.0
    assert int(lengths.sum()) == int(bits.sum()) and len(starts) > 1000


# -- other dump types and bad input --------------------------------------------------------------------


@pytest.mark.parametrize("dump_type", [3, 6, 7, 0x55])
def test_unmapped_types_parse_the_header_and_warn(tmp_path: Path, dump_type: int) -> None:
    data = bytes(build_header(kd.LAYOUT64, [], DumpType=dump_type)) + page(1)
    dump = parse_bytes(tmp_path, data)
    assert mentions(dump, f"DumpType {dump_type}", "not mapped")
    assert dump.details["header"]["DumpType"] == dump_type
    assert not [r for r in dump.regions if r.vaddr is not None]


def test_triage_32_bit_header_is_parsed(tmp_path: Path) -> None:
    header = build_header(kd.LAYOUT32, [], DumpType=4)
    fields = {sub.name: 0 for sub in kd.TRIAGE_DUMP32.subcons}
    triage = kd.TRIAGE_DUMP32.build(fields | {"SizeOfDump": 0x2000})
    dump = parse_bytes(tmp_path, bytes(header) + triage)
    assert dump.details["triage"]["SizeOfDump"] == 0x2000
    assert mentions(dump, "triage", "not mapped")


def _truncations(size: int) -> list[int]:
    cuts = {8, 9, 0x10, 0x34, 0x40, 0x87, 0x88, 0x8C, 0x100, 0x348, 0xF00, 0xF9C, 0xFB0, 0x1000, 0x1031,
            0x1fff, 0x2000, 0x2001, 0x2038, 0x2080, 0x3000, size - 1}
    return sorted(c for c in cuts if c < size)


@pytest.mark.parametrize("path", TRIAGE, ids=lambda p: p.name)
def test_truncated_triage_dumps_open_with_warnings(tmp_path: Path, path: Path) -> None:
    data = path.read_bytes()
    for cut in _truncations(len(data)) + [0x10900, 0x15d20, 0x19440]:
        dump = parse_bytes(tmp_path, data[:cut], f"cut{cut}.dmp")
        assert dump.format == "windows-kernel-dump"
        if cut < 0x2000:
            assert mentions(dump, "header truncated")
            assert all(n.offset + n.length <= cut for n in dump.structure.find("header").children)
        assert all(r.end <= cut for r in dump.regions)
        dump.close()


def test_truncated_synthetic_dumps_never_raise(tmp_path: Path) -> None:
    full, _ = full_dump(kd.LAYOUT64, [(0x10, 2), (0x100, 1)])
    full32, _ = full_dump(kd.LAYOUT32, [(0x10, 2)])
    bmp, _ = bitmap_dump([1, 5, 6], 128)
    for name, data in (("full", full), ("full32", full32), ("bmp", bmp)):
        for cut in _truncations(len(data)) + [0x2039, 0x2040, 0x2050]:
            dump = parse_bytes(tmp_path, data[:cut], f"{name}{cut}.dmp")
            assert all(r.end <= cut for r in dump.regions)
            if cut < len(data):
                assert dump.warnings, (name, cut)
            dump.close()


@pytest.mark.slow
def test_triage_lying_counts(tmp_path: Path) -> None:
    raw = bytearray(X64.read_bytes())
    struct.pack_into("<I", raw, 0x2000 + 0x34, 0xFFFFFFFF)  # DriverCount
    struct.pack_into("<I", raw, 0x2000 + 0x7C, 0xFFFFFFFF)  # DataBlocksCount
    dump = parse_bytes(tmp_path, bytes(raw))
    assert mentions(dump, "DriverCount", "exceeds the file")
    assert mentions(dump, "DataBlocksCount", "exceeds the file")
    assert all(r.end <= dump.size for r in dump.regions)


@pytest.mark.parametrize("path", TRIAGE, ids=lambda p: p.name)
def test_open_dump_detects_by_magic(path: Path) -> None:
    with open_dump(path) as dump:
        assert dump.format == "windows-kernel-dump" and not mentions(dump, "parser failed")
    assert kd.probe(b"PAGEDU64") and kd.probe(b"PAGEDUMP")
    assert not kd.probe(b"PAGEDU32") and not kd.probe(b"MDMP")
    assert kd.filetime_iso(0) is None


def test_bitmap_first_page_inside_the_headers(tmp_path: Path) -> None:
    data, _ = bitmap_dump([1, 2], 64)
    raw = bytearray(data)
    struct.pack_into("<Q", raw, 0x2000 + 0x20, 0x10)  # FirstPage points into the dump header
    dump = parse_bytes(tmp_path, bytes(raw))
    assert mentions(dump, "FirstPage", "inside the headers")
    assert all(r.end <= dump.size for r in dump.regions)
