"""LiME images built range by range: mapping, the structure tree, and every way a header can lie."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.builders.lime import header, image, pattern
from viewer.evidence import Dump
from viewer.evidence.formats import lime
from viewer.evidence.formats.base import Warnings
from viewer.evidence.source import ByteSource


def parse_bytes(tmp_path: Path, data: bytes, name: str = "t.lime") -> Dump:
    path = tmp_path / name
    path.write_bytes(data)
    src = ByteSource(path)
    return Dump(src, lime.parse(src, Warnings()))


RANGES = [(0x0, 0x9F000), (0x100000, 0x3000), (0x7FFF0000, 0x1000), (0x1_0000_0000, 0x2345)]


def test_ranges_become_physical_regions(tmp_path: Path) -> None:
    data, offsets = image(RANGES)
    assert lime.probe(data[:64])
    dump = parse_bytes(tmp_path, data)
    assert dump.warnings == []
    physical = [r for r in dump.regions if r.kind == "physical"]
    assert [(r.vaddr, r.size, r.file_offset, r.name) for r in physical] == [
        (start, length, off, f"range {i}") for i, ((start, length), off) in enumerate(zip(RANGES, offsets, strict=True))
    ]
    assert dump.details["memory"] == [
        {"vaddr": start, "size": length, "file_offset": off}
        for (start, length), off in zip(RANGES, offsets, strict=True)
    ]
    assert dump.meta["os"] == "Linux" and dump.meta["arch"] == "unknown"
    assert dump.meta["ranges"] == 4 and dump.meta["physical_bytes"] == sum(n for _, n in RANGES)
    headers = [r for r in dump.regions if r.kind == "header"]
    assert [r.file_offset for r in headers] == [off - 32 for off in offsets]


def test_va_and_file_offsets_convert_both_ways(tmp_path: Path) -> None:
    data, offsets = image(RANGES)
    dump = parse_bytes(tmp_path, data)
    addr = 0x100000 + 0x1234
    assert dump.va_to_file(addr) == offsets[1] + 0x1234
    assert dump.file_to_va(offsets[1] + 0x1234) == addr
    assert dump.read_va(addr, 32) == pattern(1, 0x3000)[0x1234 : 0x1234 + 32]
    last = 0x1_0000_0000 + 0x2344
    assert dump.read_va(last, 100) == pattern(3, 0x2345)[-1:]  # clipped to the range
    assert dump.va_to_file(0x9F000) is None  # the gap after range 0
    assert dump.va_to_file(0x100000 + 0x3000) is None
    assert dump.file_to_va(offsets[1] - 1) is None  # inside range 1's header


def test_structure_tree_shows_each_header(tmp_path: Path) -> None:
    data, offsets = image(RANGES)
    dump = parse_bytes(tmp_path, data)
    ranges = dump.structure.children
    assert len(ranges) == 4
    fields = {n.name: n for n in ranges[2].children}
    assert fields["magic"].offset == offsets[2] - 32 and fields["magic"].value == lime.LIME_MAGIC
    assert (fields["s_addr"].offset, fields["s_addr"].length, fields["s_addr"].value) == (
        offsets[2] - 24, 8, 0x7FFF0000)
    assert fields["e_addr"].value == 0x7FFF0FFF
    assert (fields["data"].offset, fields["data"].length) == (offsets[2], 0x1000)


def test_truncated_last_range_is_clipped_with_a_warning(tmp_path: Path) -> None:
    data, offsets = image(RANGES)
    dump = parse_bytes(tmp_path, data[: offsets[3] + 100])
    assert any("past the end" in w for w in dump.warnings)
    last = [r for r in dump.regions if r.name == "range 3"][0]
    assert last.size == 100 and last.mem_size == 0x2345
    assert dump.read_va(0x1_0000_0000 + 90, 50) == pattern(3, 100)[90:]


def test_lying_e_addr_past_the_file_is_clipped(tmp_path: Path) -> None:
    data = header(0x1000, (1 << 64) - 1) + b"x" * 64
    dump = parse_bytes(tmp_path, data)
    assert any("past the end" in w for w in dump.warnings)
    [region] = [r for r in dump.regions if r.kind == "physical"]
    assert region.size == 64


@pytest.mark.parametrize(("bad", "fill", "said"), [
    (lambda: header(0x5000, 0x4000), b"y", "below s_addr"),
    (lambda: header(0x5000, 0x5FFF, magic=0xDEADBEEF), b"z", "bad magic 0xdeadbeef"),
], ids=["e_addr-below-s_addr", "bad-magic"])
def test_a_bad_header_mid_file_stops_with_a_warning(tmp_path: Path, bad, fill: bytes, said: str) -> None:
    good, _ = image(RANGES[:2])
    dump = parse_bytes(tmp_path, good + bad() + fill * 4096)
    assert any(said in w for w in dump.warnings)
    assert len([r for r in dump.regions if r.kind == "physical"]) == 2


def test_unknown_version_mid_file_is_read_with_a_warning(tmp_path: Path) -> None:
    good, _ = image(RANGES[:1])
    data = good + header(0x200000, 0x200FFF, version=2) + b"v" * 0x1000
    dump = parse_bytes(tmp_path, data)
    assert any("version 2" in w for w in dump.warnings)
    assert dump.read_va(0x200000, 2) == b"vv"


@pytest.mark.parametrize("cut", [1, 7, 8, 16, 31, 32, 33, 0x9F000 + 31, 0x9F000 + 33, 0x9F000 + 64, 0x9F000 + 70])
def test_truncation_anywhere_never_raises(tmp_path: Path, cut: int) -> None:
    data, _ = image(RANGES)
    dump = parse_bytes(tmp_path, data[:cut], f"cut{cut}.lime")
    assert dump.warnings
    assert all(r.end <= cut for r in dump.regions)


def test_trailing_garbage_shorter_than_a_header(tmp_path: Path) -> None:
    data, _ = image(RANGES[:1])
    dump = parse_bytes(tmp_path, data + b"\0" * 10)
    assert any("header truncated" in w for w in dump.warnings)


def test_probe_requires_magic_and_version_1() -> None:
    assert lime.probe(header(0, 0xFFF))
    assert not lime.probe(header(0, 0xFFF, version=2))
    assert not lime.probe(b"EMiL")
    assert not lime.probe(b"PAGEDU64" + bytes(24))


@pytest.mark.slow
def test_a_hundred_thousand_ranges_parse_fast(tmp_path: Path) -> None:
    count = 100_000
    # every other page: no two ranges touch
    data, _ = image([(i * 0x2000, 16) for i in range(count)], fill=lambda i, n: bytes([i & 0xFF]) * n)
    began = time.perf_counter()
    dump = parse_bytes(tmp_path, data)
    elapsed = time.perf_counter() - began
    assert dump.warnings == []
    assert dump.meta["ranges"] == count
    assert elapsed < 3.0, elapsed
    assert dump.read_va(99_999 * 0x2000 + 3, 2) == bytes([99_999 & 0xFF]) * 2
    assert dump.structure.has_children  # built lazily, on expansion
