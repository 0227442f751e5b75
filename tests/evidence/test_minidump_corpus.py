"""The minidump parser against every real MDMP of the corpus and what independent parsers report.

The facts come from skelsec's `minidump` package (see corpus/MANIFEST.md). Where MANIFEST.md records
a mistake of that parser (header fields off by 4, the ARM64 system info it cannot parse, exception
records with code 0 it drops), the right value is tested explicitly instead. The last part checks the
values the upstream projects' own tests assert.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import corpus_files, load_facts
from viewer.cli.info import info_json
from viewer.evidence import Dump, open_dump


def is_minidump(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"MDMP"


MDMPS = [p for p in corpus_files() if is_minidump(p)]
IDS = [p.name for p in MDMPS]
BY_NAME = {p.name: p for p in MDMPS}

PRODUCT_TYPES = {"VER_NT_WORKSTATION": 1, "VER_NT_DOMAIN_CONTROLLER": 2, "VER_NT_SERVER": 3}
MEM_STATES = {"MEM_COMMIT": 0x1000, "MEM_RESERVE": 0x2000, "MEM_FREE": 0x10000}
MEM_TYPES = {"MEM_PRIVATE": 0x20000, "MEM_MAPPED": 0x40000, "MEM_IMAGE": 0x1000000}
PAGE_PROTECT = {
    "NONE": 0,
    "PAGE_NOACCESS": 0x01,
    "PAGE_READONLY": 0x02,
    "PAGE_READWRITE": 0x04,
    "PAGE_WRITECOPY": 0x08,
    "PAGE_EXECUTE": 0x10,
    "PAGE_EXECUTE_READ": 0x20,
    "PAGE_EXECUTE_READWRITE": 0x40,
    "PAGE_EXECUTE_WRITECOPY": 0x80,
}


def test_corpus_has_the_23_minidumps() -> None:
    assert len(MDMPS) == 23


_cache: dict[str, Dump] = {}


@pytest.fixture(scope="module", autouse=True)
def _close_dumps() -> Any:
    yield
    for dump in _cache.values():
        dump.close()
    _cache.clear()


def dump_of(name: str) -> Dump:
    if name not in _cache:
        _cache[name] = open_dump(BY_NAME[name])
    return _cache[name]


def facts_of(name: str) -> dict[str, Any]:
    return load_facts(BY_NAME[name])["facts"]


# -- every file: parses cleanly, and the model describes only bytes that exist -----------------------
@pytest.mark.parametrize("name", IDS)
def test_parses_without_warnings_and_within_the_file(name: str) -> None:
    dump = dump_of(name)
    assert dump.format == "minidump"
    assert dump.warnings == []
    for region in dump.regions:
        assert 0 <= region.file_offset and region.file_offset + region.size <= dump.size, region
    for node in dump.structure.walk():
        assert node.offset >= 0 and node.offset + node.length <= dump.size, node
    info = info_json(dump)
    assert info["meta"]["arch"] in {"x86", "amd64", "arm64"}
    assert info["streams"] and "memory" in info


@pytest.mark.parametrize("name", IDS)
def test_header_matches_spec_placed_facts(name: str) -> None:
    """skelsec's header is off by 4: the facts' time_date_stamp / flags64 are the spec-placed values."""
    header = dump_of(name).details["header"]
    facts = facts_of(name)["header"]
    assert header["version"] == facts["version"] == 0xA793
    assert header["number_of_streams"] == facts["number_of_streams"]
    assert header["stream_directory_rva"] == facts["stream_directory_rva"]
    assert header["checksum"] == facts["checksum"]
    assert header["time_date_stamp"] == facts["time_date_stamp"]
    assert header["flags"] == facts["flags64"]
    assert dump_of(name).meta["flags"] == f"{facts['flags64']:#x}"


@pytest.mark.parametrize("name", IDS)
def test_streams_in_directory_order(name: str) -> None:
    streams = dump_of(name).details["streams"]
    facts = facts_of(name)["streams"]
    assert [s["type"] for s in streams] == [f["type"] for f in facts]
    for ours, theirs in zip(streams, facts, strict=True):
        assert ours["index"] == theirs["index"]
        if theirs["rva"] is not None:  # streams outside skelsec's enum carry no location in the facts
            assert (ours["offset"], ours["size"]) == (theirs["rva"], theirs["size"])


@pytest.mark.parametrize("name", IDS)
def test_threads(name: str) -> None:
    threads = dump_of(name).details["threads"]
    facts = facts_of(name)["threads"]
    assert len(threads) == facts["count"]
    for t, f in zip(threads, facts["list"], strict=True):
        assert t["id"] == f["thread_id"]
        assert (t["suspend_count"], t["priority_class"], t["priority"], t["teb"]) == (
            f["suspend_count"],
            f["priority_class"],
            f["priority"],
            f["teb"],
        )
        assert (t["stack"]["vaddr"], t["stack"]["size"], t["stack"]["file_offset"]) == (
            f["stack_start"],
            f["stack_size"],
            f["stack_rva"],
        )
        assert (t["context_offset"], t["context_size"]) == (f["context_rva"], f["context_size"])


@pytest.mark.parametrize("name", IDS)
def test_modules(name: str) -> None:
    modules = dump_of(name).details["modules"]
    facts = facts_of(name)["modules"]
    assert len(modules) == facts["count"]
    for m, f in zip(modules, facts["list"], strict=True):
        assert (m["name"], m["base"], m["size"], m["checksum"], m["timestamp"]) == (
            f["name"],
            f["base"],
            f["size"],
            f["checksum"],
            f["timestamp"],
        )


@pytest.mark.parametrize("name", IDS)
def test_memory_ranges(name: str) -> None:
    """details["memory"] = every MemoryList and Memory64List descriptor, in directory order."""
    dump = dump_of(name)
    facts = facts_of(name)
    expected = []
    for s in dump.details["streams"]:
        key = {5: "memory_list", 9: "memory64_list"}.get(s["type"])
        if key:
            expected += [(r["start"], r["size"], r["rva"]) for r in facts[key]["ranges"]]
    got = [(m["vaddr"], m["size"], m["file_offset"]) for m in dump.details["memory"]]
    assert got == expected
    # every range is a region at its file offset, mapped both ways
    for vaddr, size, rva in got:
        if size:
            assert dump.va_to_file(vaddr) == rva
            assert dump.file_to_va(rva) == vaddr
            assert dump.read_va(vaddr, 16) == dump.read(rva, min(16, size))


@pytest.mark.parametrize("name", IDS)
def test_stack_regions_are_classified(name: str) -> None:
    """Each thread stack captured in the MemoryList is a region of kind "stack" naming its thread."""
    dump = dump_of(name)
    by_offset = {(r.file_offset, r.vaddr): r for r in dump.regions if r.vaddr is not None}
    for t in dump.details["threads"]:
        st = t["stack"]
        region = by_offset.get((st["file_offset"], st["vaddr"]))
        if region is not None and st["size"]:
            assert region.kind == "stack"
            assert region.attrs["thread_id"] == t["id"]


@pytest.mark.parametrize("name", IDS)
def test_system_info(name: str) -> None:
    si = dump_of(name).details["system_info"]
    facts = facts_of(name)["system_info"]
    if facts is None:  # skelsec cannot parse ARM64 (MANIFEST quirk 1): tested below
        assert name == "sy_macos-no-fp.dmp"
        return
    assert si["processor_architecture"] == facts["processor_architecture_value"]
    assert si["platform_id"] == facts["platform_id_value"]
    assert si["product_type"] == PRODUCT_TYPES.get(facts["product_type"], si["product_type"])
    for key in (
        "processor_level",
        "processor_revision",
        "number_of_processors",
        "major_version",
        "minor_version",
        "build_number",
        "csd_version",
    ):
        assert si[key] == facts[key], key


@pytest.mark.parametrize("name", IDS)
def test_exception(name: str) -> None:
    exceptions = dump_of(name).details["exception"]
    facts = facts_of(name)["exception"]
    if name == "rm_simple-crashpad.dmp":  # skelsec drops code-0 records (MANIFEST quirk 3): tested below
        assert facts == []
        return
    assert len(exceptions) == (len(facts) if facts else 0)
    for e, f in zip(exceptions, facts or [], strict=True):
        assert (e["thread_id"], e["code"], e["flags"], e["address"]) == (
            f["thread_id"],
            f["code"],
            f["flags"],
            f["address"],
        )
        assert len(e["parameters"]) == f["number_parameters"]
    if exceptions:
        e = exceptions[0]
        assert (
            dump_of(name).meta["exception"]
            == f"code {e['code']:#x} at {e['address']:#x} thread {e['thread_id']:#x}"
        )


@pytest.mark.parametrize("name", IDS)
def test_misc_info_and_counts(name: str) -> None:
    dump = dump_of(name)
    facts = facts_of(name)
    misc = facts["misc_info"]
    if misc is not None:
        assert dump.details["misc_info"]["process_id"] == misc["process_id"]
        assert dump.details["misc_info"]["process_create_time"] == misc["process_create_time"]
        assert dump.meta["process"]["pid"] == misc["process_id"]
    if facts["handles"] is not None:
        assert dump.details["handles"] == facts["handles"]["count"]
    if facts["thread_info_list"] is not None:
        assert dump.details["thread_info"] == facts["thread_info_list"]["count"]
    unloaded = facts["unloaded_modules"]
    expected = [(u["name"], u["base"], u["size"]) for u in unloaded["list"]] if unloaded else []
    assert [(u["name"], u["base"], u["size"]) for u in dump.details["unloaded_modules"]] == expected


def node_fields(node: Any) -> dict[str, Any]:
    return {c.name: c.value for c in node.children}


@pytest.mark.parametrize("name", IDS)
def test_memory_info_list(name: str) -> None:
    """MemoryInfoList entries, read back through the (lazily built) structure tree."""
    dump = dump_of(name)
    facts = facts_of(name)["memory_info_list"]
    stream = dump.structure.find("MemoryInfoListStream")
    if facts is None:
        assert stream is None and dump.details["memory_info"] is None
        return
    assert stream is not None and dump.details["memory_info"] == facts["count"]
    entries = [c for c in stream.children if c.children and "BaseAddress" in node_fields(c)]
    assert len(entries) == facts["count"]
    for node, f in zip(entries, facts["list"], strict=True):
        got = node_fields(node)
        assert node.length == 48 and dump.read(node.offset, 8) == got["BaseAddress"].to_bytes(8, "little")
        assert (got["BaseAddress"], got["AllocationBase"], got["RegionSize"]) == (
            f["base"],
            f["allocation_base"],
            f["size"],
        )
        assert got["State"] == MEM_STATES[f["state"]]
        if f["protect"] is not None:  # skelsec names only plain PAGE_* values
            assert got["Protect"] == PAGE_PROTECT[f["protect"]]
        assert got["Type"] == (MEM_TYPES[f["type"]] if f["type"] else 0)


# -- the mistakes of the other parser, checked against the right values --------------------------------
def test_arm64_macos_dump_that_skelsec_rejects() -> None:
    """PROCESSOR_ARCHITECTURE_ARM64 is 12 (winnt.h); the fallback facts still give threads and modules."""
    dump = dump_of("sy_macos-no-fp.dmp")
    si = dump.details["system_info"]
    assert si["processor_architecture"] == 12 and dump.meta["arch"] == "arm64"
    assert dump.meta["os"] == "macOS" and dump.meta["os_version"].startswith("15.7.4")
    assert si["cpu"] == {"processor_features": si["cpu"]["processor_features"]}  # OTHER_CPU_INFO, not CPUID
    assert len(dump.details["threads"]) == 3 and len(dump.details["modules"]) == 332
    assert len(dump.details["memory"]) == 3


def test_exception_record_with_code_zero() -> None:
    """skelsec treats code 0 as end-of-list; the file really has one record (EXC_CRASH in params)."""
    (e,) = dump_of("rm_simple-crashpad.dmp").details["exception"]
    assert e["thread_id"] == 0xE272C and e["code"] == 0 and e["address"] == 0x7FFF6F41333A
    assert e["parameters"] == [0xA, 0x6000000, 0]


# -- what the upstream projects' tests assert (MANIFEST.md, "Cross-checks") --------------------------
def test_breakpad_minidump2() -> None:
    dump = dump_of("bp_minidump2.dmp")
    d = dump.details
    assert dump.meta["os"] == "Windows NT" and dump.meta["os_version"] == "5.1.2600 Service Pack 2"
    assert dump.meta["arch"] == "x86" and d["system_info"]["platform_id"] == 2
    assert [s["type"] for s in d["streams"]].count(0) == 2 and len(d["streams"]) == 9
    assert [t["id"] for t in d["threads"]] == [0xBF4, 0x11C0]
    assert len(d["modules"]) == 13 and len(d["memory"]) == 3
    m0, m12 = d["modules"][0], d["modules"][12]
    assert (m0["name"], m0["base"], m0["size"]) == ("c:\\test_app.exe", 0x400000, 0x2D000)
    assert m12["name"].endswith("psapi.dll") and (m12["base"], m12["size"]) == (0x76BF0000, 0xB000)
    assert m12["version"] == "5.1.2600.2180"
    assert d["misc_info"]["process_id"] == 3932 and d["misc_info"]["process_create_time"] == 1171480435
    assert dump.meta["process"] == {"pid": 3932, "name": "test_app.exe"}
    assert d["breakpad"]["info"]["dump_thread_id"] == 0x11C0
    assert d["breakpad"]["info"]["requesting_thread_id"] == 0xBF4
    (e,) = d["exception"]
    assert (e["code"], e["thread_id"], e["address"]) == (0xC0000005, 0xBF4, 0x40429E)
    assert dump.meta["exception"] == "code 0xc0000005 at 0x40429e thread 0xbf4"
    assert dump.meta["time"] == "2007-02-14T19:13:55Z"
    pdb = m0["pdb"]
    assert pdb["format"] == "RSDS" and pdb["name"].endswith("test_app.pdb") and len(pdb["guid"]) == 36


def test_breakpad_tiny_exe_cet_xsave() -> None:
    dump = dump_of("bp_tiny-exe-with-cet-xsave.dmp")
    assert dump.meta["arch"] == "amd64" and dump.meta["os_version"] == "10.0.22000 282"
    assert "exception" not in dump.meta and len(dump.details["threads"]) == 1
    misc = dump.details["misc_info"]
    assert misc["version"] == "MINIDUMP_MISC_INFO_5" and misc["xstate"]["features"]
    x86 = dump_of("bp_tiny-exe-with-cet-xsave-x86.dmp")
    assert x86.meta["arch"] == "x86" and x86.meta["os_version"] == "10.0.22631"
    assert "exception" not in x86.meta and len(x86.details["threads"]) == 3


def test_memory_info_gives_region_perms() -> None:
    dump = dump_of("bp_tiny-exe-with-cet-xsave.dmp")
    mem = [r for r in dump.regions if r.vaddr is not None]
    assert mem and all(r.attrs.get("state") == "commit" for r in mem)
    assert all(r.perms is not None and len(r.perms) == 3 for r in mem)
    assert {r.attrs["type"] for r in mem} <= {"private", "image", "mapped"}
    assert any(r.kind == "module" and r.attrs["type"] == "image" for r in mem)


def test_write_av_non_canonical_raw_address() -> None:
    (e,) = dump_of("bp_write_av_non_canonical.dmp").details["exception"]
    assert e["address"] == 0x7FF738721331


def test_crashpad_annotation_dump() -> None:
    dump = dump_of("bp_minidump_crashpad_annotation.dmp")
    cp = dump.details["crashpad"]
    assert dump.meta["os"] == "iOS" and dump.meta["process"]["name"] == "ios_crash_xcuitests"
    assert len(cp["modules"]) == 2
    names = [a["name"] for a in cp["modules"][0]["annotation_objects"]]
    assert names == [
        "exceptionReason",
        "exceptionName",
        "firstexception_bt",
        "firstexception",
        "CounterAnnotation",
    ]
    assert cp["modules"][0]["annotation_objects"][1]["value"] == "NSRangeException"
    assert any(t.get("name") for t in dump.details["threads"])  # ThreadNames stream


def test_simple_crashpad_annotations() -> None:
    cp = dump_of("rm_simple-crashpad.dmp").details["crashpad"]
    assert len(cp["modules"]) == 2
    assert cp["simple_annotations"]["hello"] == "world"
    by_index = {m["module_index"]: m for m in cp["modules"]}
    assert "abort() called" in by_index[16]["list_annotations"]


def test_invalid_parameter_assertion() -> None:
    d = dump_of("rm_invalid-parameter.dmp").details
    a = d["breakpad"]["assertion"]
    assert (a["expression"], a["function"], a["line"]) == ("format != nullptr", "common_vfprintf", 32)
    assert d["exception"][0]["code"] == 0xC000000D


def test_calc_modules_token_and_ranges() -> None:
    dump = dump_of("rz_calc.dmp")
    d = dump.details
    assert len(d["streams"]) == 13 and d["header"]["flags"] == 0x40000
    assert dump.meta["os_version"] == "6.1.7601 Service Pack 1" and dump.meta["arch"] == "amd64"
    assert len(d["modules"]) == 28 and len(d["memory"]) == 9
    winsxs = [m["name"] for m in d["modules"] if "winsxs" in m["name"].lower()]
    assert any(n.lower().endswith("gdiplus.dll") for n in winsxs)
    assert any(n.lower().endswith("comctl32.dll") for n in winsxs)
    assert d["tokens"] >= 1


def test_linux_breakpad_streams() -> None:
    mini = dump_of("rm_linux-mini.dmp")
    assert mini.meta["os"] == "Linux" and mini.meta["os_version"].startswith("4.9.60-linuxkit-aufs")
    assert 0x4D7A0004 in [s["type"] for s in mini.details["streams"]]  # Mozilla soft errors, kept
    assert mini.details["exception"][0]["code"] == 11
    sigabrt = dump_of("bp_linux_raise_sigabrt.dmp")
    linux = sigabrt.details["breakpad"]["linux"]
    assert linux["cmdline"] == ["./driver"] and linux["lsb_release"]["DISTRIB_ID"] == "Ubuntu"
    assert linux["proc_status"]["Pid"] == "23526" and linux["environ_count"] > 0 and linux["maps_count"] > 0
    dsos = linux["dso_debug"]["dsos"]
    assert len(dsos) == linux["dso_debug"]["dso_count"] == 8
    assert any(d["name"] == "/lib/x86_64-linux-gnu/libpthread.so.0" for d in dsos)
    assert dump_of("lldb_linux-x86_64.dmp").details["exception"][0]["code"] == 11


def test_other_upstream_values() -> None:
    assert dump_of("lldb_fizzbuzz_no_heap.dmp").meta["process"]["pid"] == 4440
    linux = [m["name"] for m in dump_of("el_linux.dmp").details["modules"]]
    assert any(n.endswith("/electron") for n in linux) and any("libXss.so.1.0.0" in n for n in linux)
    assert any(m["name"].endswith("\\electron.exe") for m in dump_of("el_windows.dmp").details["modules"])
    assert any(m["name"].endswith("/Electron Helper") for m in dump_of("el_mac.dmp").details["modules"])
    names = [t.get("name") for t in dump_of("bp_thread_name_list.dmp").details["threads"]]
    assert any(names)


def test_structure_tree_nodes_point_at_their_bytes() -> None:
    dump = dump_of("bp_minidump2.dmp")
    root = dump.structure
    header = root.find("header")
    assert header is not None and (header.offset, header.length) == (0, 32)
    assert dump.read(header.find("Signature").offset, 4) == b"MDMP"
    modules = root.find("ModuleListStream")
    assert modules is not None
    first = modules.children[1]
    name = first.find("ModuleName")
    assert name is not None and name.value == "c:\\test_app.exe"
    assert dump.read(name.offset + 4, name.length - 4).decode("utf-16-le") == "c:\\test_app.exe"
    base = first.find("BaseOfImage")
    assert int.from_bytes(dump.read(base.offset, 8), "little") == 0x400000
