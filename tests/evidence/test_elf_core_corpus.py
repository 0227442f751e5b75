"""The ELF core parser against the real corpus: every core cross-checked with readelf and pyelftools facts.

Where the third-party tools are wrong (the path-edited core, where they report dozens of bogus empty
notes; the x32 core, where pyelftools reads 32-bit uid/gid and so shifts pid/ppid), the test says so and
checks our result against the bytes instead.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CORPUS, corpus_files, load_facts
from viewer.cli.info import info_json, info_text
from viewer.evidence import open_dump
from viewer.evidence.formats import elf
from viewer.evidence.formats.base import Warnings
from viewer.evidence.model import Dump
from viewer.evidence.source import ByteSource

ELF_CORES = [p for p in corpus_files() if p.read_bytes()[:4] == b"\x7fELF"]
PATHEDITED = "rz_core-linux-x86_64.pathedited"
X32 = "eu_testfile-x32-core"

# pyelftools prints known note types by name and everything else as a number.
PYELF_NOTE_TYPES = {
    "NT_PRSTATUS": 1, "NT_FPREGSET": 2, "NT_PRPSINFO": 3, "NT_TASKSTRUCT": 4, "NT_AUXV": 6,
    "NT_SIGINFO": 0x53494749, "NT_FILE": 0x46494C45, "NT_PRXFPREG": 0x46E62B7F,
}
PYELF_MACHINES = {
    "EM_386": 3, "EM_68K": 4, "EM_MIPS": 8, "EM_PARISC": 15, "EM_PPC64": 21, "EM_S390": 22, "EM_ARM": 40,
    "EM_SPARCV9": 43, "EM_X86_64": 62, "EM_AARCH64": 183, "EM_RISCV": 243, "EM_LOONGARCH": 258,
}
PYELF_OSABI = {"ELFOSABI_SYSV": 0, "ELFOSABI_NETBSD": 2, "ELFOSABI_LINUX": 3, "ELFOSABI_OPENBSD": 12}


def parse_core(path: Path) -> Dump:
    """Our parser alone, so these tests do not depend on the other formats' probes."""
    src = ByteSource(path)
    return Dump(src, elf.parse(src, Warnings()))


@pytest.fixture(scope="module", params=ELF_CORES, ids=lambda p: p.name)
def core(request: pytest.FixtureRequest) -> tuple[Path, Dump, dict[str, Any]]:
    path: Path = request.param
    dump = parse_core(path)
    yield path, dump, load_facts(path)["facts"]
    dump.close()


def test_the_corpus_has_31_elf_cores() -> None:
    assert len(ELF_CORES) == 31


def test_probe_accepts_every_core() -> None:
    for path in ELF_CORES:
        assert elf.probe(path.read_bytes()[:64]), path.name


def test_program_headers_match_pyelftools_and_readelf(core: tuple[Path, Dump, dict]) -> None:
    _, dump, facts = core
    ours = dump.details["segments"]
    pyelf = facts["pyelftools"]["segments"]
    assert len(ours) == len(pyelf)
    for mine, theirs in zip(ours, pyelf, strict=True):
        assert mine["type_name"] == theirs["type"]
        for key in ("offset", "vaddr", "filesz", "memsz", "flags", "align"):
            assert mine[key] == theirs[key], key
    readelf = facts["readelf"]["program_headers"]
    assert [(s["offset"], s["paddr"], s["filesz"]) for s in ours] == [
        (r["offset"], r["paddr"], r["filesz"]) for r in readelf
    ]


def test_header_fields_match_pyelftools(core: tuple[Path, Dump, dict]) -> None:
    _, dump, facts = core
    theirs, header = facts["pyelftools"]["header"], dump.details["header"]
    machine = theirs["e_machine"]
    assert header["e_machine"] == (PYELF_MACHINES[machine] if isinstance(machine, str) else machine)
    assert header["class"] == theirs["ei_class"]
    assert header["data"] == theirs["ei_data"]
    assert header["osabi"] == PYELF_OSABI[theirs["ei_osabi"]]
    assert header["e_phnum"] == theirs["e_phnum"] and header["e_shnum"] == theirs["e_shnum"]
    assert header["e_type"] == 4
    assert dump.meta["bits"] == theirs["elfclass"]
    assert dump.meta["endianness"] == ("little" if theirs["little_endian"] else "big")


def test_notes_match_pyelftools(core: tuple[Path, Dump, dict]) -> None:
    path, dump, facts = core
    if path.name == PATHEDITED:
        # The facts hold the tools' bogus empty notes for this file; test_pathedited_* checks it in full.
        assert len(dump.details["notes"]) == 7 and len(dump.warnings) == 1
        return
    theirs = [
        (n["name"], PYELF_NOTE_TYPES.get(n["type"], n["type"]), n["descsz"]) for n in facts["pyelftools"]["notes"]
    ]
    ours = [(n["owner"], n["type"], n["size"]) for n in dump.details["notes"]]
    assert ours == theirs
    assert not dump.warnings, dump.warnings
    readelf = [(n["owner"], n["descsz"]) for seg in facts["readelf"]["note_segments"] for n in seg["notes"]]
    assert [(o, s) for o, _, s in ours] == readelf


def _pyelf_note(facts: dict, key: str) -> dict | None:
    return next((n[key] for n in facts["pyelftools"]["notes"] if key in n), None)


def test_prpsinfo_matches_pyelftools(core: tuple[Path, Dump, dict]) -> None:
    path, dump, facts = core
    expected = _pyelf_note(facts, "prpsinfo")
    if expected is None:
        # No NT_PRPSINFO in this core (NetBSD/OpenBSD notes): we must not invent one either.
        assert not any(n["owner"] == "CORE" and n["type"] == 3 for n in dump.details["notes"])
        return
    if path.name == X32:
        # pyelftools misreads this one by 4 bytes: test_x32_prpsinfo_has_16_bit_ids checks the right values.
        assert dump.meta["process"]["pid"] == 6885
        return
    proc = dump.meta["process"]
    assert proc["name"] == expected["pr_fname"]
    assert proc["cmdline"] == expected["pr_psargs"]
    assert (proc["pid"], proc["ppid"], proc["uid"]) == (expected["pr_pid"], expected["pr_ppid"], expected["pr_uid"])


def test_nt_file_matches_pyelftools(core: tuple[Path, Dump, dict]) -> None:
    path, dump, facts = core
    expected = _pyelf_note(facts, "nt_file")
    if expected is None:
        assert "files" not in dump.details
        return
    files = dump.details["files"]
    assert len(files) == expected["num_map_entries"]
    assert dump.details["file_page_size"] == expected["page_size"]
    assert [f["path"] for f in files] == expected["filenames"]
    assert [(f["start"], f["end"], f["page_offset"]) for f in files] == [
        (m["start"], m["end"], m["page_offset"]) for m in expected["mappings"]
    ]
    names = {f["path"] for f in files}
    assert {m["name"] for m in dump.details["modules"]} == names
    for module in dump.details["modules"]:
        spans = [(f["start"], f["end"]) for f in files if f["path"] == module["name"]]
        assert module["base"] == min(s for s, _ in spans)
        assert module["base"] + module["size"] == max(e for _, e in spans)


def test_regions_follow_the_pt_loads(core: tuple[Path, Dump, dict]) -> None:
    _, dump, facts = core
    loads = [s for s in facts["pyelftools"]["segments"] if s["type"] == "PT_LOAD"]
    mem = [r for r in dump.regions if r.vaddr is not None]
    assert len(mem) == len(loads) == facts["pyelftools"]["load_segments"]
    for region, seg in zip(mem, loads, strict=True):
        assert (region.file_offset, region.vaddr, region.size, region.mem_size) == (
            seg["offset"], seg["vaddr"], seg["filesz"], seg["memsz"]
        )
        flags = seg["flags"]
        assert region.perms == "".join(c if flags & bit else "-" for c, bit in (("r", 4), ("w", 2), ("x", 1)))
        assert region.kind in ("memory", "module", "stack")
        if region.size:
            assert dump.va_to_file(region.vaddr) == region.file_offset
            assert dump.file_to_va(region.file_offset + region.size - 1) == region.vaddr + region.size - 1
    assert dump.details["memory"] == [
        {"vaddr": s["vaddr"], "size": s["filesz"], "file_offset": s["offset"]} for s in loads if s["filesz"]
    ]
    assert sum(m["size"] for m in dump.details["memory"]) == facts["pyelftools"]["load_filesz_total"]
    kinds = {r.kind for r in dump.regions if r.vaddr is None}
    assert kinds == {"header", "notes"}


def test_module_regions_are_named_by_their_file(core: tuple[Path, Dump, dict]) -> None:
    _, dump, _ = core
    files = dump.details.get("files", [])
    for region in dump.regions:
        if region.kind == "module":
            owner = next(f for f in files if f["path"] == region.attrs["path"])
            assert region.name == Path(owner["path"]).name


def test_structure_tree_offsets_are_true(core: tuple[Path, Dump, dict]) -> None:
    """Every node lies inside the file, and the note nodes sit on the headers readelf found."""
    _, dump, _ = core
    for node in dump.structure.walk():
        assert 0 <= node.offset and node.offset + node.length <= dump.size, node
    header = dump.structure.find("ELF header")
    assert header is not None and header.offset == 0
    e_phoff = header.find("e_phoff")
    assert e_phoff is not None and dump.read(e_phoff.offset, e_phoff.length)
    phdrs = dump.structure.find("program headers")
    assert phdrs is not None and len(phdrs.children) == len(dump.details["segments"])
    notes = dump.structure.find("notes")
    assert notes is not None
    assert [n.offset for n in notes.children] == [n["offset"] for n in dump.details["notes"]]
    little = dump.meta["endianness"] == "little"
    for node, note in zip(notes.children, dump.details["notes"], strict=True):
        n_type = node.find("n_type")
        assert n_type is not None and n_type.offset == note["offset"] + 8
        raw = dump.read(n_type.offset, 4)
        assert struct.unpack("<I" if little else ">I", raw)[0] == note["type"]
        desc = node.find("desc")
        assert desc is not None and desc.length == note["size"]


def test_info_text_and_json(core: tuple[Path, Dump, dict]) -> None:
    _, dump, _ = core
    text = info_text(dump)
    assert "format    elf-core" in text
    data = json.loads(json.dumps(info_json(dump)))
    for key in ("segments", "notes", "memory", "threads", "modules", "header"):
        assert key in data
    assert data["meta"]["arch"] and data["meta"]["os"]


# -- explicit checks of the two files where the facts are wrong --------------------------------------
def test_pathedited_zero_gap_is_skipped_with_a_warning() -> None:
    dump = parse_core(CORPUS / PATHEDITED)
    notes = [(n["owner"], n["type_name"], n["offset"], n["size"]) for n in dump.details["notes"]]
    assert notes == [
        ("CORE", "NT_PRSTATUS", 0x510, 336),
        ("CORE", "NT_PRPSINFO", 0x674, 136),
        ("CORE", "NT_SIGINFO", 0x710, 128),
        ("CORE", "NT_AUXV", 0x7A4, 320),
        ("CORE", "NT_FILE", 0x8F8, 751),
        ("CORE", "NT_FPREGSET", 0xC30, 512),
        ("LINUX", "NT_X86_XSTATE", 0xE44, 832),
    ]
    assert len(dump.warnings) == 1
    assert "zero-filled gap of 52 bytes at 0xbfc" in dump.warnings[0] and "0xc30" in dump.warnings[0]
    # Everything before and after the gap is as in the pristine core.
    pristine = parse_core(CORPUS / "rz_core-linux-x86_64")
    assert dump.meta["process"] == pristine.meta["process"]
    assert dump.details["threads"] == pristine.details["threads"]
    assert [(n["type"], n["offset"], n["size"]) for n in pristine.details["notes"]][5:] == [
        (n[1] == "NT_FPREGSET" and 2 or 0x202, n[2], n[3]) for n in notes[5:]
    ]
    assert len(dump.details["files"]) == 15


def test_x32_prpsinfo_has_16_bit_ids() -> None:
    """ELFCLASS32 + EM_X86_64: 124-byte prpsinfo with 16-bit uid/gid; pid agrees with NT_PRSTATUS."""
    dump = parse_core(CORPUS / X32)
    assert dump.meta["arch"] == "x32"
    proc = dump.meta["process"]
    assert (proc["uid"], proc["pid"], proc["ppid"]) == (1000, 6885, 2792)
    assert (proc["name"], proc["cmdline"]) == ("a.out", "./a.out ")
    assert dump.details["threads"][0]["id"] == 6885
    # pyelftools reads uid16+gid16 as one 32-bit uid, and every later field 4 bytes late.
    facts = _pyelf_note(load_facts(CORPUS / X32)["facts"], "prpsinfo")
    assert facts["pr_uid"] == 65537000 == (1000 << 16) | 1000
    assert (facts["pr_pid"], facts["pr_fname"]) == (2792, "t")


# -- MANIFEST cross-checks -----------------------------------------------------------------------
LLDB_EXPECTED = {  # TestLinuxCore.py: pid and PT_LOAD count
    "lldb_linux-i386.core": (32306, 4),
    "lldb_linux-s390x.core": (1045, 2),
    "lldb_linux-mipsel-gnuabio32.core": (3532, 5),
    "lldb_linux-mips64el-gnuabin32.core": (3670, 5),
    "lldb_linux-ppc64le.core": (28147, 2),
}


@pytest.mark.parametrize(("name", "expected"), LLDB_EXPECTED.items())
def test_lldb_pids_and_load_counts(name: str, expected: tuple[int, int]) -> None:
    dump = parse_core(CORPUS / name)
    loads = [s for s in dump.details["segments"] if s["type_name"] == "PT_LOAD"]
    assert (dump.meta["process"]["pid"], len(loads)) == expected
    assert dump.meta["os"] == "Linux"
    assert dump.meta["signal"]["name"] == "SIGSEGV"


def test_lldb_gcore_and_thread_crash() -> None:
    gcore = parse_core(CORPUS / "lldb_gcore-linux-x86_64.core")
    assert gcore.meta["process"]["pid"] == 5669
    assert gcore.meta["threads"] == 3
    assert gcore.meta["exception"] is None  # gcore of a live process: no thread has a current signal
    crash = parse_core(CORPUS / "lldb_thread_crash-linux-x86_64.core")
    assert crash.meta["process"]["pid"] == 5222
    assert crash.details["threads"][0]["id"] == 5250  # the kernel writes the crashing thread first
    assert sorted(t["id"] for t in crash.details["threads"]) == [5222, 5249, 5250]
    assert crash.meta["signal"]["address"] is None  # si_code SI_TKILL: the union is a pid, not an address
    stacks = [r for r in crash.regions if r.kind == "stack"]
    assert len(stacks) == 3


@pytest.mark.parametrize(
    ("name", "pid", "loads", "arch"),
    [
        ("lldb_netbsd-2lwp_process_SIGSEGV.aarch64.core", 1403, 30, "arm64"),
        ("lldb_netbsd-2lwp_process_SIGSEGV.amd64.core", 665, 24, "amd64"),
    ],
)
def test_netbsd_cores(name: str, pid: int, loads: int, arch: str) -> None:
    dump = parse_core(CORPUS / name)
    assert dump.meta["os"] == "NetBSD" and dump.meta["arch"] == arch
    assert dump.meta["process"]["pid"] == pid
    assert len([r for r in dump.regions if r.vaddr is not None]) == loads
    assert dump.meta["threads"] == 2 and sorted(t["id"] for t in dump.details["threads"]) == [1, 2]
    assert dump.meta["signal"]["name"] == "SIGSEGV"
    types = {(n["owner"], n["type"]): n["type_name"] for n in dump.details["notes"]}
    assert types[("NetBSD-CORE", 1)] == "NT_NETBSDCORE_PROCINFO"  # not misnamed NT_PRSTATUS
    assert types[("NetBSD-CORE", 2)] == "NT_NETBSDCORE_AUXV"
    assert "auxv" not in dump.details  # NetBSD notes are not decoded as Linux ones


def test_openbsd_core() -> None:
    dump = parse_core(CORPUS / "rz_core-openbsd-sparc64")
    assert (dump.meta["os"], dump.meta["arch"], dump.meta["endianness"]) == ("OpenBSD", "sparc64", "big")
    assert dump.meta["process"]["pid"] == 5370
    assert dump.meta["process"]["name"] == "sparc64_insn_jmp.bin"
    assert [n["type_name"] for n in dump.details["notes"]] == [
        "NT_OPENBSD_PROCINFO", "NT_OPENBSD_AUXV", "NT_OPENBSD_WCOOKIE", "NT_OPENBSD_REGS", "NT_OPENBSD_FPREGS",
    ]
    assert dump.details["threads"] == [{"id": 229157, "signal": 11}]


def test_pyelftools_unit_test_expectations() -> None:
    core64 = parse_core(CORPUS / "pyelf_core_linux64.elf")
    assert {k: core64.meta["process"][k] for k in ("pid", "ppid", "uid")} == {"pid": 23395, "ppid": 23187, "uid": 1000}
    core32 = parse_core(CORPUS / "pyelf_core_linux32.elf")
    assert core32.meta["process"]["pid"] == 11038
    for dump in (core64, core32):
        assert len(dump.details["files"]) == 10 and dump.details["file_page_size"] == 4096


def test_rizin_x86_64_registers_maps_and_stack() -> None:
    dump = parse_core(CORPUS / "rz_core-linux-x86_64")
    thread = dump.details["threads"][0]
    assert (thread["pc"], thread["sp"]) == (0x56149DFB014D, 0x7FFC8354C0B0)
    stack = next(r for r in dump.regions if r.kind == "stack")
    assert stack.vaddr <= thread["sp"] < stack.vaddr + stack.size and stack.perms == "rw-"
    assert dump.va_to_file(thread["sp"]) is not None
    exe = [r for r in dump.regions if r.kind == "module" and r.name == "crash-linux-x86_64"]
    assert exe and {r.attrs["path"] for r in exe} == {"/home/florian/dev/crash/crash-linux-x86_64"}
    text = [r for r in exe if r.vaddr <= thread["pc"] < r.vaddr + r.mem_size]
    assert len(text) == 1 and text[0].perms == "r-x"
    assert dump.meta["exception"] == "signal 11 (SIGSEGV) at 0x0"
    assert any(a["name"] == "AT_PAGESZ" and a["value"] == 4096 for a in dump.details["auxv"])


def test_arch_names_cover_the_corpus() -> None:
    arches = {parse_core(p).meta["arch"] for p in ELF_CORES}
    assert arches == {
        "x86", "amd64", "x32", "arm", "arm64", "ppc64", "s390x", "sparc64", "m68k", "parisc", "alpha",
        "loongarch64", "riscv64", "mips", "mips64",
    }


def test_prstatus_and_prpsinfo_agree_on_the_pid() -> None:
    """The per-arch prstatus prefix (2-byte aligned on m68k) lands pr_pid where prpsinfo says."""
    for path in ELF_CORES:
        dump = parse_core(path)
        threads, proc = dump.details["threads"], dump.meta["process"]
        if dump.meta["os"] == "Linux" and threads:
            assert proc["pid"] in {t["id"] for t in threads}, path.name


def test_open_dump_detects_elf_core() -> None:
    with open_dump(CORPUS / "rz_core-linux-arm32") as dump:
        assert dump.format == "elf-core"
        assert dump.meta["process"]["pid"] == 8715


# -- synthetic damaged cores (built with the parser's own construct structures) -------------------
# Kept in this file on purpose: the brief allows only the two elf_core test modules.
S64 = elf.elf_structs(64, True)
S32BE = elf.elf_structs(32, False)


def note_bytes(S: elf.ElfStructs, owner: bytes, n_type: int, desc: bytes) -> bytes:
    name = owner + b"\0"
    pad = lambda b: b + b"\0" * (-len(b) % 4)  # noqa: E731 - 4-byte note alignment
    return S.Nhdr.build({"n_namesz": len(name), "n_descsz": len(desc), "n_type": n_type}) + pad(name) + pad(desc)


def make_core(
    S: elf.ElfStructs, segments: list[tuple[int, bytes, int, int]], machine: int = 62, **ehdr: int
) -> tuple[bytearray, list[int]]:
    """An ELF core: header, program headers, then each segment's bytes; returns (bytes, data offsets).

    ``segments`` holds (p_type, data, vaddr, p_flags); ``ehdr`` overrides header fields after layout.
    """
    ehsize, phsize = S.Ehdr.sizeof(), S.Phdr.sizeof()
    offset = ehsize + phsize * len(segments)
    offsets, phdrs, blobs = [], [], []
    for p_type, data, vaddr, flags in segments:
        offset += -offset % 16
        offsets.append(offset)
        phdrs.append(S.Phdr.build({
            "p_type": p_type, "p_flags": flags, "p_offset": offset, "p_vaddr": vaddr, "p_paddr": 0,
            "p_filesz": len(data), "p_memsz": len(data), "p_align": 4 if p_type == 4 else 0x1000,
        }))
        blobs.append((offset, data))
        offset += len(data)
    ident = b"\x7fELF" + bytes([1 if S.bits == 32 else 2, 1 if S.little else 2, 1]) + b"\0" * 9
    fields = {
        "e_ident": ident, "e_type": 4, "e_machine": machine, "e_version": 1, "e_entry": 0,
        "e_phoff": ehsize, "e_shoff": 0, "e_flags": 0, "e_ehsize": ehsize, "e_phentsize": phsize,
        "e_phnum": len(segments), "e_shentsize": 0, "e_shnum": 0, "e_shstrndx": 0,
    }
    fields.update(ehdr)
    out = bytearray(offset)
    out[:ehsize] = S.Ehdr.build(fields)
    out[ehsize : ehsize + phsize * len(segments)] = b"".join(phdrs)
    for off, data in blobs:
        out[off : off + len(data)] = data
    return out, offsets


def parse_bytes(tmp_path: Path, data: bytes | bytearray, name: str = "core") -> Dump:
    path = tmp_path / name
    path.write_bytes(bytes(data))
    dump = parse_core(path)
    for node in dump.structure.walk():
        assert 0 <= node.offset and node.offset + node.length <= dump.size, node
    for region in dump.regions:
        assert region.file_offset + region.size <= dump.size, region
    json.dumps(info_json(dump))
    return dump


def prstatus64(pid: int, sig: int, rsp: int) -> bytes:
    prefix = S64.prstatus(2).build({
        "si_signo": sig, "si_code": 0, "si_errno": 0, "pr_cursig": sig, "pr_sigpend": 0, "pr_sighold": 0,
        "pr_pid": pid, "pr_ppid": 1, "pr_pgrp": pid, "pr_sid": pid,
        **{f"{t}_{u}": 0 for t in ("pr_utime", "pr_stime", "pr_cutime", "pr_cstime") for u in ("sec", "usec")},
    })
    regs = [0] * 27
    regs[19], regs[16] = rsp, 0x401000
    return prefix + struct.pack("<27Q", *regs) + b"\0" * 8


def nt_file(S: elf.ElfStructs, entries: list[tuple[int, int, int, str]], count: int | None = None) -> bytes:
    head = S.NtFileHeader.build({"count": len(entries) if count is None else count, "page_size": 4096})
    table = b"".join(S.NtFileEntry.build({"start": a, "end": b, "file_ofs": o}) for a, b, o, _ in entries)
    return head + table + b"".join(p.encode() + b"\0" for *_, p in entries)


def good_notes() -> bytes:
    return (
        note_bytes(S64, b"CORE", 1, prstatus64(4242, 11, 0x7FFF0010))
        + note_bytes(S64, b"CORE", 6, struct.pack("<4Q", 6, 4096, 0, 0))
        + note_bytes(S64, b"CORE", 0x46494C45, nt_file(S64, [(0x400000, 0x401000, 0, "/bin/demo")]))
    )


def good_segments(notes: bytes | None = None) -> list[tuple[int, bytes, int, int]]:
    return [
        (4, good_notes() if notes is None else notes, 0, 0),
        (1, b"\x7fELF" + b"T" * 4092, 0x400000, 5),
        (1, b"S" * 4096, 0x7FFF0000, 6),
    ]


def test_synthetic_core_parses_cleanly(tmp_path: Path) -> None:
    data, offsets = make_core(S64, good_segments())
    dump = parse_bytes(tmp_path, data)
    assert not dump.warnings
    assert dump.meta["process"]["pid"] == 4242 and dump.meta["exception"] == "signal 11 (SIGSEGV)"
    kinds = {r.name: r.kind for r in dump.regions if r.vaddr is not None}
    assert kinds == {"demo": "module", "stack of thread 4242": "stack"}
    assert dump.va_to_file(0x7FFF0010) == offsets[2] + 0x10
    assert dump.read_va(0x400000, 4) == b"\x7fELF"


def test_synthetic_big_endian_32_bit(tmp_path: Path) -> None:
    prpsinfo = S32BE.prpsinfo(False).build({
        "pr_state": 0, "pr_sname": b"R", "pr_zomb": 0, "pr_nice": 0, "pr_flag": 0, "pr_uid": 1000,
        "pr_gid": 1000, "pr_pid": 77, "pr_ppid": 1, "pr_pgrp": 77, "pr_sid": 77,
        "pr_fname": b"be-demo".ljust(16, b"\0"), "pr_psargs": b"./be-demo -x".ljust(80, b"\0"),
    })
    notes = note_bytes(S32BE, b"CORE", 3, prpsinfo) + note_bytes(
        S32BE, b"CORE", 0x46494C45, nt_file(S32BE, [(0x10000, 0x11000, 0, "/usr/bin/be-demo")])
    )
    data, offsets = make_core(S32BE, [(4, notes, 0, 0), (1, b"B" * 4096, 0x10000, 5)], machine=15)
    dump = parse_bytes(tmp_path, data)
    assert not dump.warnings
    assert dump.meta["process"] == {"pid": 77, "ppid": 1, "uid": 1000, "name": "be-demo", "cmdline": "./be-demo -x"}
    assert (dump.meta["arch"], dump.meta["endianness"], dump.meta["bits"]) == ("parisc", "big", 32)
    assert dump.va_to_file(0x10010) == offsets[1] + 0x10


def test_truncated_headers_never_raise(tmp_path: Path) -> None:
    data, _ = make_core(S64, good_segments())
    for cut in (0, 4, 16, 17, 18, 30, 63, 64, 65, 100, 64 + 56 * 3 - 1, 300):
        dump = parse_bytes(tmp_path, data[:cut], f"cut{cut}")
        assert dump.warnings or cut >= 64 + 56 * 3, cut


def test_phoff_past_eof(tmp_path: Path) -> None:
    data, _ = make_core(S64, good_segments(), e_phoff=10**9)
    dump = parse_bytes(tmp_path, data)
    assert any("e_phoff" in w for w in dump.warnings)
    assert not [r for r in dump.regions if r.vaddr is not None]


def test_wrong_phentsize(tmp_path: Path) -> None:
    data, _ = make_core(S64, good_segments(), e_phentsize=20)
    dump = parse_bytes(tmp_path, data)
    assert any("e_phentsize 20" in w for w in dump.warnings) and not dump.details["segments"]
    # A larger stride than the standard size is honoured (with a warning): read phdrs 64 bytes apart.
    data, _ = make_core(S64, good_segments(), e_phentsize=64, e_phnum=1)
    dump = parse_bytes(tmp_path, data, "stride")
    assert any("e_phentsize 64" in w for w in dump.warnings)
    assert [s["type_name"] for s in dump.details["segments"]] == ["PT_NOTE"]


def test_lying_phnum_is_bounded_by_the_file(tmp_path: Path) -> None:
    data, _ = make_core(S64, good_segments(), e_phnum=0xFFFE)
    dump = parse_bytes(tmp_path, data)
    assert any("program headers: count 65534" in w for w in dump.warnings)
    assert len(dump.details["segments"]) == (len(data) - 64) // 56


def test_pn_xnum_reads_the_count_from_section_zero(tmp_path: Path) -> None:
    data, _ = make_core(S64, good_segments())
    shoff = len(data)
    data += S64.Shdr.build({
        "sh_name": 0, "sh_type": 0, "sh_flags": 0, "sh_addr": 0, "sh_offset": 0, "sh_size": 0,
        "sh_link": 0, "sh_info": 3, "sh_addralign": 0, "sh_entsize": 0,
    })
    data[:64] = make_core(S64, good_segments(), e_phnum=0xFFFF, e_shoff=shoff, e_shentsize=64, e_shnum=0)[0][:64]
    dump = parse_bytes(tmp_path, data)
    assert not dump.warnings
    assert dump.details["header"]["e_phnum"] == 0xFFFF and dump.details["header"]["phnum"] == 3
    assert len([r for r in dump.regions if r.vaddr is not None]) == 2
    # A lying sh_info is bounded by the file, not trusted.
    data[shoff + 44 : shoff + 48] = struct.pack("<I", 0xFFFFFFFF)
    dump = parse_bytes(tmp_path, data, "xnum-lie")
    assert dump.warnings and len(dump.details["segments"]) <= len(data) // 56


@pytest.mark.parametrize("field_offset", [0, 4], ids=["namesz", "descsz"])
def test_note_sizes_of_ffffffff_resync(tmp_path: Path, field_offset: int) -> None:
    bad = bytearray(note_bytes(S64, b"CORE", 3, b"\0" * 136))
    bad[field_offset : field_offset + 4] = b"\xff\xff\xff\xff"
    data, _ = make_core(S64, good_segments(bytes(bad) + good_notes()))
    dump = parse_bytes(tmp_path, data)
    assert any("corrupt note header" in w for w in dump.warnings), dump.warnings
    assert [n["type_name"] for n in dump.details["notes"]] == ["NT_PRSTATUS", "NT_AUXV", "NT_FILE"]
    assert dump.meta["process"]["pid"] == 4242


def test_last_note_overrunning_the_segment(tmp_path: Path) -> None:
    notes = bytearray(good_notes())
    last = len(notes) - len(note_bytes(S64, b"CORE", 0x46494C45, nt_file(S64, [(0x400000, 0x401000, 0, "/bin/demo")])))
    notes[last + 4 : last + 8] = struct.pack("<I", 0xFFFFFF)  # the NT_FILE descsz
    data, _ = make_core(S64, good_segments(bytes(notes)))
    dump = parse_bytes(tmp_path, data)
    assert any("no further note found" in w for w in dump.warnings), dump.warnings
    assert [n["type_name"] for n in dump.details["notes"]] == ["NT_PRSTATUS", "NT_AUXV"]


def test_nt_file_count_lie(tmp_path: Path) -> None:
    lie = nt_file(S64, [(0x400000, 0x401000, 0, "/bin/demo")], count=0xFFFFFFFF_FFFF)
    data, _ = make_core(S64, good_segments(note_bytes(S64, b"CORE", 0x46494C45, lie)))
    dump = parse_bytes(tmp_path, data)
    assert any("NT_FILE" in w and "exceeds" in w for w in dump.warnings), dump.warnings
    assert len(dump.details["files"]) <= 1


def test_zero_gap_and_trailing_zeros(tmp_path: Path) -> None:
    notes = good_notes()
    cut = notes.index(b"CORE\0\0\0\0", 20) - 12  # the start of the second note
    gapped = notes[:cut] + b"\0" * 40 + notes[cut:] + b"\0" * 24
    data, _ = make_core(S64, good_segments(gapped))
    dump = parse_bytes(tmp_path, data)
    assert [n["type_name"] for n in dump.details["notes"]] == ["NT_PRSTATUS", "NT_AUXV", "NT_FILE"]
    assert any("zero-filled gap of 40 bytes" in w for w in dump.warnings)
    assert any("24 zero bytes at its end" in w for w in dump.warnings)


def test_pt_load_clipped_at_eof(tmp_path: Path) -> None:
    data, offsets = make_core(S64, good_segments())
    dump = parse_bytes(tmp_path, data[: offsets[2] + 100])
    stack = [r for r in dump.regions if r.vaddr == 0x7FFF0000][0]
    assert stack.size == 100 and stack.mem_size == 4096
    assert any("only 100 in the file" in w for w in dump.warnings)
    assert dump.read_va(0x7FFF0000, 4096) == b"S" * 100
    assert dump.va_to_file(0x7FFF0000 + 100) is None


@pytest.mark.slow
def test_garbage_note_segment_is_fast(tmp_path: Path) -> None:
    import random
    import time

    rng = random.Random(7)
    garbage = bytes(rng.getrandbits(8) for _ in range(512 * 1024))
    data, _ = make_core(S64, good_segments(garbage))
    started = time.monotonic()
    dump = parse_bytes(tmp_path, data)
    assert time.monotonic() - started < 5
    assert dump.warnings


def test_probe() -> None:
    data, _ = make_core(S64, good_segments())
    assert elf.probe(bytes(data[:64]))
    assert not elf.probe(bytes(data[:17]))
    exe = bytearray(data[:64])
    exe[16:18] = struct.pack("<H", 2)  # ET_EXEC
    assert not elf.probe(bytes(exe))
    be, _ = make_core(S32BE, [(4, b"", 0, 0)], machine=4)
    assert elf.probe(bytes(be[:64]))
    swapped = bytearray(be[:64])
    swapped[5] = 1  # claims little endian: e_type reads 0x0400, not ET_CORE
    assert not elf.probe(bytes(swapped))


def test_zero_size_pt_load_past_eof(tmp_path: Path) -> None:
    """A PT_LOAD with p_filesz 0 and an offset past EOF (truncated core) is a size-0 region, no warning."""
    data, offsets = make_core(S64, good_segments())
    struct.pack_into("<Q", data, 64 + 2 * 56 + 32, 0)  # third phdr: p_filesz = 0
    dump = parse_bytes(tmp_path, data[: offsets[2] - 16])
    region = [r for r in dump.regions if r.vaddr == 0x7FFF0000][0]
    assert region.size == 0 and region.mem_size == 4096 and region.file_offset <= dump.size


@pytest.mark.parametrize(
    ("name", "pid"), [("rz_core-linux-m68k", 1677), ("rz_core-linux-sparc64", 597), ("eu_testfile-x32-core", 6885)]
)
def test_prstatus_field_nodes_point_at_the_pid(name: str, pid: int) -> None:
    """The node of pr_pid covers the 4 bytes that hold the pid (m68k: 2-byte aligned prefix)."""
    dump = parse_core(CORPUS / name)
    notes = dump.structure.find("notes")
    assert notes is not None
    prstatus = next(n for n in notes.children if n.name.endswith("NT_PRSTATUS"))
    desc = prstatus.find("desc")
    node = desc.find("pr_pid") if desc is not None else None
    assert node is not None and node.value == pid and node.length == 4
    order = "little" if dump.meta["endianness"] == "little" else "big"
    assert int.from_bytes(dump.read(node.offset, 4), order) == pid
