"""The one real full-memory minidump: Wine 8.0's MiniDumpWriteDump of a process holding keys.

samples-truth.json records, for every planted key byte run, its file offset *and* the virtual address
the generator computed independently; the VA<->file mapping is checked against both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from viewer.evidence import Dump, open_dump


@pytest.fixture(scope="module")
def wine(samples_dir: Path) -> Any:
    with open_dump(samples_dir / "wine-keyholder-full.dmp") as dump:
        yield dump


@pytest.fixture(scope="module")
def truth(samples_truth: dict) -> dict:
    return next(d for d in samples_truth["dumps"] if d["file"] == "wine-keyholder-full.dmp")


def truth_hits(truth: dict) -> list[dict[str, Any]]:
    """Every (offset, length, vaddr) the truth file records: key representations and public objects."""
    hits = [h for s in truth["secrets"] for rep in s["representations"].values() for h in rep["hits"]]
    hits += [h for obj in truth["public_objects"] for h in obj["hits"]]
    return hits


def test_streams_and_the_raw_wine_stream(wine: Dump, truth: dict) -> None:
    assert wine.format == "minidump" and wine.warnings == []
    streams = wine.details["streams"]
    assert [s["name"] for s in streams if s["type"]] == [
        "SystemInfoStream",
        "ThreadListStream",
        "ModuleListStream",
        "Stream0xfff0",
        "MiscInfoStream",
        "Memory64ListStream",
    ]
    assert len(truth["format_info"]["streams"]) == 6
    node = wine.structure.find("Stream0xfff0")
    raw = next(s for s in streams if s["type"] == 0xFFF0)
    assert node is not None and (node.offset, node.length) == (raw["offset"], raw["size"])
    assert "raw" in node.value
    assert wine.meta["flags"] == truth["format_info"]["flags"]
    assert wine.meta["process"] == {"pid": int(truth["process"]["windows_pid"]), "name": "keyholder.exe"}
    assert wine.details["memory_info"] is None and wine.details["handles"] is None  # Wine writes neither


def test_memory64_regions(wine: Dump, truth: dict) -> None:
    memory = wine.details["memory"]
    assert len(memory) == truth["format_info"]["memory_ranges"] == 161
    assert sum(m["size"] for m in memory) == truth["format_info"]["dumped_memory_bytes"]
    # Memory64List ranges are contiguous from BaseRva, in order
    for a, b in zip(memory, memory[1:], strict=False):
        assert b["file_offset"] == a["file_offset"] + a["size"]
    assert memory[-1]["file_offset"] + memory[-1]["size"] == wine.size
    regions = [r for r in wine.regions if r.vaddr is not None]
    assert [(r.vaddr, r.size, r.file_offset) for r in regions] == [
        (m["vaddr"], m["size"], m["file_offset"]) for m in memory
    ]
    kinds = {r.kind for r in regions}
    assert {"module", "stack", "memory"} <= kinds
    exe = [r for r in regions if r.kind == "module" and r.name == "keyholder.exe"]
    assert exe and all(r.attrs["path"].endswith("keyholder.exe") for r in exe)
    stack = [r for r in regions if r.kind == "stack"]
    assert stack and stack[0].attrs["thread_id"] == wine.details["threads"][0]["id"]


def test_va_file_mapping_against_the_truth(wine: Dump, truth: dict) -> None:
    hits = truth_hits(truth)
    assert len(hits) > 20
    for hit in hits:
        offset, length = hit["offset"], hit["length"]
        va = wine.file_to_va(offset)
        assert va == int(hit["vaddr"], 16), hit  # the independent fact
        assert wine.va_to_file(va) == offset
        data = wine.read_va(va, length)
        assert data == wine.read(offset, len(data)) and len(data) > 0


def test_key_ranges_round_trip(wine: Dump, truth: dict) -> None:
    """Every planted range (offset, length) maps to an address and back, bytes identical."""
    for secret in truth["secrets"]:
        for offset, length in secret["ranges"]:
            va = wine.file_to_va(offset)
            assert va is not None
            assert wine.va_to_file(va) == offset
            data = wine.read_va(va, length)  # clipped at the end of the range that holds va
            assert data and data == wine.read(offset, len(data))
