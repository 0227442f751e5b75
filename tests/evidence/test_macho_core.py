"""Mach-O cores (MH_CORE): the memory and registers of a live process (gcore) written as Mach-O cores
through macholib, in x86_64 and arm64 (little-endian) and PowerPC (big-endian) layouts, read by our
parser and cross-checked against LIEF (an independent reader): segments with their protections,
LC_THREAD flavors and pc, LC_NOTE owners, offsets and sizes; `all image infos` gives the modules, and
the scan finds the process's key at the same virtual address as in the ELF core."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.builders.live import dump_holder
from tests.builders.macho import (
    CPU_TYPE_ARM64,
    CPU_TYPE_POWERPC,
    CPU_TYPE_X86,
    macho_core,
    prstatus_registers,
)
from viewer.evidence import open_dump
from viewer.scan.engine import scan_dump

lief = pytest.importorskip("lief", reason="LIEF is a test dependency (pip install -e '.[test]')")

pytestmark = pytest.mark.slow  # gcore of a live process

HOLDER = r"""
import ctypes, sys
ctypes.CDLL(None).prctl(0x59616D61, ctypes.c_ulong(-1), 0, 0, 0)
blobs = [open(p, "rb").read() for p in sys.argv[1:]]
print("ready", flush=True)
sys.stdin.read()
"""


@pytest.fixture(scope="module")
def cores(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("macho")
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (work / "key.pem").write_bytes(pem)
    elf = dump_holder(HOLDER, [str(work / "key.pem")], work / "holder.core")
    data = elf.read_bytes()
    with open_dump(elf) as dump:
        regs = prstatus_registers(data, dump)
        segs = [(r.name[:16], r.vaddr, data[r.file_offset:r.end], {"r--": 1, "rw-": 3, "r-x": 5}.get(r.perms, 3))
                for r in dump.regions if r.vaddr is not None and r.size]
        images = [(mod["name"], mod["base"]) for mod in dump.details["modules"]]
    arm_regs = {"pc": regs["rip"], "sp": regs["rsp"], "fp": regs["rbp"], "lr": 0x1234, "x0": regs["rax"]}
    return {
        "elf": elf, "pem": pem, "regs": regs, "segs": segs, "images": images,
        "x86_64": macho_core(work / "x86_64.core", segs, regs, images),
        "arm64": macho_core(work / "arm64.core", segs, arm_regs, images, cputype=CPU_TYPE_ARM64),
        "ppc-be": macho_core(work / "ppc.core", segs[:8], {}, images[:2], cputype=CPU_TYPE_POWERPC, endian=">"),
        # an i386 layout (32-bit header and LC_SEGMENT), addresses folded into 32 bits
        "i386": macho_core(work / "i386.core", [(n, a & 0xFFFFF000, d, p) for n, a, d, p in segs[:8]],
                           {"eip": regs["rip"] & 0xFFFFFFFF, "esp": regs["rsp"] & 0xFFFFFFFF}, [], cputype=CPU_TYPE_X86),
    }


@pytest.mark.parametrize("name", ["x86_64", "arm64", "ppc-be", "i386"])
def test_segments_threads_and_notes_match_lief(cores, name):
    path = cores[name]
    ref = lief.MachO.parse(str(path)).at(0)
    with open_dump(path) as dump:
        assert dump.format == "macho-core", dump.warnings
        assert not dump.warnings, dump.warnings
        assert dump.meta["endianness"] == ("big" if name == "ppc-be" else "little")
        ours = dump.details["segments"]
        theirs = list(ref.segments)
        assert [(s["segname"], s["vmaddr"], s["vmsize"], s["fileoff"], s["filesize"]) for s in ours] == [
            (s.name, s.virtual_address, s.virtual_size, s.file_offset, s.file_size) for s in theirs]
        perms = {1: "r--", 3: "rw-", 5: "r-x", 7: "rwx"}
        assert [s["initprot"] for s in ours] == [perms[s.init_protection] for s in theirs]
        assert [s["maxprot"] for s in ours] == [perms[s.max_protection] for s in theirs]
        mem = [r for r in dump.regions if r.kind == "memory"]
        assert [(r.vaddr, r.size) for r in mem] == [(s.virtual_address, s.file_size) for s in theirs]
        notes = [c for c in ref.commands if isinstance(c, lief.MachO.NoteCommand)]
        assert [(n["owner"], n["offset"], n["size"]) for n in dump.details["notes"]] == [
            (c.owner_str, c.note_offset, c.note_size) for c in notes]
        thread = dump.details["threads"][0]
        tc = ref.thread_command
        assert (thread["flavors"][0]["flavor"], thread["flavors"][0]["count"]) == (tc.flavor, tc.count)
        if name == "i386":
            assert thread["pc"] == tc.pc == cores["regs"]["rip"] & 0xFFFFFFFF and dump.meta["bits"] == 32
        elif name != "ppc-be":
            assert thread["pc"] == tc.pc == cores["regs"]["rip"]
            assert [m["name"] for m in dump.details["modules"]] == [p for p, _ in cores["images"]]
            assert dump.details["notes"][0]["addressing_bits"] == 47
        for seg, r in zip(cores["segs"][:len(mem)], mem, strict=False):
            assert dump.read(r.file_offset, 64) == seg[2][:64]


def test_x86_64_and_arm64_register_states(cores):
    with open_dump(cores["x86_64"]) as dump:
        t = dump.details["threads"][0]
        assert {k: t["registers"][k] for k in ("rip", "rsp", "rbp", "rax")} == {
            k: cores["regs"][k] for k in ("rip", "rsp", "rbp", "rax")}
        assert t["exception"] == {"trapno": 14, "cpu": 0, "err": 4, "faultvaddr": 0xDEAD}
        labels = [n.name for n in dump.structure.walk() if n.name.startswith("x86_")]
        assert labels == ["x86_THREAD_STATE64", "x86_EXCEPTION_STATE64 (exception)"]
    with open_dump(cores["arm64"]) as dump:
        t = dump.details["threads"][0]
        assert (t["pc"], t["sp"], t["registers"]["lr"], t["registers"]["x0"]) == (
            cores["regs"]["rip"], cores["regs"]["rsp"], 0x1234, cores["regs"]["rax"])
        assert t["exception"] == {"far": 0xBAD, "esr": 0x92000046, "exception": 1}


def test_scan_finds_the_key_at_the_same_virtual_address_as_in_the_elf_core(cores):
    def keys(path: Path) -> set[tuple[str, int | None]]:
        with open_dump(path) as dump:
            return {(f.kind, f.vaddr) for f in scan_dump(dump).findings if f.kind == "rsa-private-key"}

    expected = keys(cores["elf"])
    assert expected
    assert keys(cores["x86_64"]) == expected
