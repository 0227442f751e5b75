"""Vmcores made by a real QEMU (TCG) through QMP dump-guest-memory, in each format it offers, and the
kdump one rebuilt by makedumpfile -R: the physical layout checked against readelf (ELF) and against each
other, the marker loaded into the guest read back at its physical address, the pages decompressed on
demand with a bounded cache, the scan finding a key placed in guest memory."""

from __future__ import annotations

import os
import re
import subprocess
import tracemalloc

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.builders.qemu import MARKER_ADDR, makedumpfile_rebuild, qemu_vmcores
from viewer.evidence import open_dump
from viewer.evidence.formats.diskdump.pages import CACHE_PAGES
from viewer.scan.engine import scan_dump

pytestmark = pytest.mark.slow  # starts QEMU


@pytest.fixture(scope="module")
def vm(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("qemu")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    marker = os.urandom(4096) + pem
    cores = qemu_vmcores(work, marker)
    assert {"elf", "kdump-zlib"} <= set(cores), cores
    cores["diskdump"] = makedumpfile_rebuild(cores["kdump-zlib"], work / "vmcore.diskdump")
    return {"cores": cores, "marker": marker, "pem": pem}


def _readelf_loads(path) -> list[tuple[int, int, int]]:
    text = subprocess.run(["readelf", "-lW", str(path)], capture_output=True, text=True, check=True).stdout
    out = []
    for m in re.finditer(r"^\s+LOAD\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)", text, re.M):
        out.append((int(m.group(1), 16), int(m.group(2), 16), int(m.group(3), 16)))
    return out


def test_elf_vmcore_physical_regions_match_readelf(vm):
    path = vm["cores"]["elf"]
    with open_dump(path) as dump:
        assert dump.format == "elf-vmcore"
        phys = [(r.file_offset, r.vaddr, r.size) for r in dump.regions if r.kind == "physical"]
        assert phys == _readelf_loads(path)
        off = dump.va_to_file(MARKER_ADDR)
        assert dump.read(off, len(vm["marker"])) == vm["marker"]
        assert dump.meta["vmcore"].startswith("QEMU")


def test_kdump_compressed_physical_memory_equals_the_elf_one(vm):
    with open_dump(vm["cores"]["elf"]) as elf:
        for name in ("kdump-zlib", "diskdump"):
            with open_dump(vm["cores"][name]) as kd:
                assert kd.format == "kdump-compressed", (name, kd.warnings)
                assert kd.chain == (["kdump-flattened"] if name == "kdump-zlib" else []) + ["kdump-compressed"]
                assert kd.meta["compression"] == ["zlib"] and not kd.warnings, kd.warnings
                assert kd.details["physical_memory"], name
                for r in kd.regions:
                    if r.kind != "physical":
                        continue
                    at = elf.va_to_file(r.vaddr)
                    assert at is not None
                    assert elf.read(at, r.size) == kd.read(r.file_offset, r.size), (name, hex(r.vaddr))
                assert kd.read(kd.va_to_file(MARKER_ADDR), len(vm["marker"])) == vm["marker"]
                assert not kd.source.damaged


def test_our_rebuild_of_the_flattened_layout_is_makedumpfiles(vm):
    with open_dump(vm["cores"]["kdump-zlib"]) as kd:
        rebuilt = kd.origin.content_path.read_bytes()
    assert rebuilt == vm["cores"]["diskdump"].read_bytes()


def test_pages_are_decompressed_on_demand_in_bounded_memory(vm):
    with open_dump(vm["cores"]["diskdump"]) as kd:
        src = kd.source
        tracemalloc.start()
        for r in kd.regions:
            if r.kind == "physical":
                for off in range(r.file_offset, r.end, 1 << 20):
                    src.read(off, 1 << 20)
        _cur, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert len(src._cache) <= CACHE_PAGES
        assert peak < 16 * 1024 * 1024, peak  # a 64 MiB guest read through: a few MiB at a time


def test_scan_finds_a_key_in_guest_memory_of_each_vmcore(vm):
    for name in ("elf", "kdump-zlib"):
        with open_dump(vm["cores"][name]) as dump:
            result = scan_dump(dump)
            want = dump.va_to_file(MARKER_ADDR) + 4096
            hits = [f for f in result.findings if f.kind == "rsa-private-key" and f.offset == want]
            assert hits and hits[0].vaddr == MARKER_ADDR + 4096, (name, [(f.kind, f.offset) for f in result.findings])


def test_vmcore_info_on_the_command_line(vm):
    import json
    import sys

    out = subprocess.run([sys.executable, "-m", "viewer.cli.main", "info", "--json", str(vm["cores"]["kdump-zlib"])],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["format"] == "kdump-compressed" and doc["chain"] == ["kdump-flattened", "kdump-compressed"]
    assert doc["header"]["block_size"] == 4096 and doc["physical_memory"]


def _recompressed(src, out, codec_flag: int, compress) -> None:
    """makedumpfile's diskdump of the QEMU guest with every page re-compressed by another codec (the
    real library), headers, bitmaps and layout kept: what makedumpfile -z writes where it is built
    with zstd (Debian 12's is not)."""
    import struct

    from viewer.evidence.formats.diskdump.structs import DISK_DUMP_HEADER

    data = src.read_bytes()
    hdr = DISK_DUMP_HEADER.parse(data[:DISK_DUMP_HEADER.sizeof()])
    bs = hdr.block_size
    pd_at = (1 + hdr.sub_hdr_size + hdr.bitmap_blocks) * bs
    with open_dump(src) as kd:
        n = kd.meta["pages_dumped"]
        pages = [kd.source.page(i) for i in range(n)]
    head = bytearray(data[:pd_at + n * 24])
    struct.pack_into("<I", head, 424, codec_flag)  # status (after signature, version, utsname, timeval)
    body = bytearray()
    at = len(head)
    for i, page in enumerate(pages):
        packed = compress(page)
        flags = codec_flag if len(packed) < bs else 0
        blob = packed if flags else page
        struct.pack_into("<qIIQ", head, pd_at + i * 24, at + len(body), len(blob), flags, 0)
        body += blob
    out.write_bytes(bytes(head + body))


def test_zstd_pages(vm, tmp_path):
    import zstandard

    out = tmp_path / "vmcore.zstd-pages"
    _recompressed(vm["cores"]["diskdump"], out, 0x20, zstandard.ZstdCompressor().compress)
    with open_dump(vm["cores"]["diskdump"]) as ref, open_dump(out) as kd:
        assert kd.meta["compression"] == ["zstd"] and not kd.warnings, kd.warnings
        for r in kd.regions:
            if r.kind == "physical":
                assert kd.read(r.file_offset, r.size) == ref.read(ref.va_to_file(r.vaddr), r.size)
        assert not kd.source.damaged


@pytest.fixture(scope="module")
def linux(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from tests.builders.qemu import linux_vmcores

    work = tmp_path_factory.mktemp("linux")
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    marker = f"EVIDENCE-VIEWER-MARKER {os.urandom(8).hex()}"
    return {**linux_vmcores(work, {"key.pem": pem}, marker), "pem": pem, "marker": marker}


def test_a_linux_kernels_vmcoreinfo_is_in_both_formats(linux):
    """A real kernel (Debian's cloud kernel under TCG) gave QEMU its VMCOREINFO: it is decoded in the
    ELF vmcore and the kdump-compressed one, and says which kernel it is."""
    for name in ("elf", "kdump-zlib"):
        with open_dump(linux[name]) as dump:
            info = dump.details["vmcoreinfo"]
            assert info["OSRELEASE"] == linux["release"] and info["PAGESIZE"] == "4096", name
            assert dump.meta["os_version"] == linux["release"]
            node = next(n for n in dump.structure.children if n.name == "VMCOREINFO")
            first = node.children[0]
            assert first.name == "OSRELEASE" and dump.read(first.offset, first.length) == \
                f"OSRELEASE={linux['release']}".encode()


def test_a_linux_kernels_memory_is_the_same_in_both_formats(linux):
    """Every dumped page of the kdump equals the ELF's; the kernel's log holds the marker the guest
    wrote (as its serial console shows), and the scan finds the key file the guest read, confirmed, at
    the same physical address in both."""
    assert linux["marker"].encode() in linux["serial"].read_bytes()
    found = {}
    with open_dump(linux["elf"]) as elf, open_dump(linux["kdump-zlib"]) as kd:
        assert not kd.warnings, kd.warnings
        for r in kd.regions:
            if r.kind == "physical":
                at = elf.va_to_file(r.vaddr)
                for off in range(0, r.size, 8 << 20):
                    n = min(8 << 20, r.size - off)
                    assert elf.read(at + off, n) == kd.read(r.file_offset + off, n), hex(r.vaddr + off)
        for name, dump in (("elf", elf), ("kdump", kd)):
            assert dump.source.find(linux["marker"].encode()) >= 0, name
            keys = {f.vaddr for f in scan_dump(dump).findings
                    if f.kind == "rsa-private-key" and str(f.confidence) == "confirmed"}
            assert keys, name
            found[name] = keys
    assert found["elf"] == found["kdump"]


def test_snappy_pages(vm, tmp_path):
    """Every page re-compressed as a raw snappy block by the real library (cramjam): what QEMU's
    kdump-snappy and makedumpfile -p write where they are built with snappy (Debian 12's are not)."""
    import cramjam

    out = tmp_path / "vmcore.snappy-pages"
    _recompressed(vm["cores"]["diskdump"], out, 0x4, lambda page: bytes(cramjam.snappy.compress_raw(page)))
    with open_dump(vm["cores"]["diskdump"]) as ref, open_dump(out) as kd:
        assert kd.meta["compression"] == ["snappy"] and not kd.warnings, kd.warnings
        for r in kd.regions:
            if r.kind == "physical":
                assert kd.read(r.file_offset, r.size) == ref.read(ref.va_to_file(r.vaddr), r.size)
        assert kd.read(kd.va_to_file(MARKER_ADDR), len(vm["marker"])) == vm["marker"]
        assert not kd.source.damaged


@pytest.fixture(scope="module")
def made_by_makedumpfile(linux, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The Linux guest's ELF vmcore through the real makedumpfile: lzo pages with nothing excluded
    (-d 0) and with free, cache, user and zero pages excluded (-d 31), and an ELF of -d 31 (-E)."""
    from tests.builders.qemu import makedumpfile, makedumpfile_input

    work = tmp_path_factory.mktemp("makedumpfile")
    elf = makedumpfile_input(linux["elf"], work / "vmcore.elf")
    return {
        "lzo-d0": makedumpfile(["-l", "-d", "0"], elf, work / "lzo-d0"),
        "lzo-d31": makedumpfile(["-l", "-d", "31"], elf, work / "lzo-d31"),
        "elf-d31": makedumpfile(["-E", "-d", "31"], elf, work / "elf-d31"),
    }


def _physical(dump) -> list:
    return [r for r in dump.regions if r.kind == "physical"]


def test_makedumpfile_lzo_pages_are_the_guests_memory(linux, made_by_makedumpfile):
    """makedumpfile -l (lzo, python-lzo): every page it kept equals the QEMU ELF's at the same physical
    address; -d 0 keeps all RAM (the ELF's first PT_LOAD), -d 31 fewer pages; the key the guest read is
    found, confirmed, at the same physical addresses as in the ELF (with -d 31, at some of them)."""
    with open_dump(linux["elf"]) as elf:
        ram = next(r for r in _physical(elf) if r.vaddr == 0).size
        want = {f.vaddr for f in scan_dump(elf).findings
                if f.kind == "rsa-private-key" and str(f.confidence) == "confirmed"}
        assert want
        kept = {}
        for name in ("lzo-d0", "lzo-d31"):
            with open_dump(made_by_makedumpfile[name]) as kd:
                assert kd.format == "kdump-compressed" and kd.meta["compression"] == ["lzo"], (name, kd.meta)
                assert kd.details["vmcoreinfo"]["OSRELEASE"] == linux["release"]
                for r in _physical(kd):
                    at = elf.va_to_file(r.vaddr)
                    for off in range(0, r.size, 8 << 20):
                        n = min(8 << 20, r.size - off)
                        assert elf.read(at + off, n) == kd.read(r.file_offset + off, n), (name, hex(r.vaddr + off))
                assert not kd.warnings and not kd.source.damaged, (name, kd.warnings)
                kept[name] = sum(r.size for r in _physical(kd))
                got = {f.vaddr for f in scan_dump(kd).findings
                       if f.kind == "rsa-private-key" and str(f.confidence) == "confirmed"}
                # -d 31 drops the page cache the guest read the key file into: what is left is a subset
                assert (got == want) if name == "lzo-d0" else (got <= want), name
    assert kept["lzo-d0"] == ram
    assert 0 < kept["lzo-d31"] < kept["lzo-d0"]


def test_makedumpfile_reads_the_same_kernel_log_we_read(linux, made_by_makedumpfile, tmp_path):
    """makedumpfile --dump-dmesg (an independent reader of the kdump format, walking the kernel's printk
    ring through VMCOREINFO) finds the marker the guest logged in the lzo vmcore; its log lines lie in
    the memory our reader decompresses."""
    from tests.builders.qemu import makedumpfile

    log = makedumpfile(["--dump-dmesg"], made_by_makedumpfile["lzo-d31"], tmp_path / "dmesg.txt").read_text()
    assert linux["marker"] in log
    lines = [re.sub(r"^\[\s*[\d.]+\] ", "", line) for line in log.splitlines() if len(line) > 40]
    assert len(lines) > 50
    with open_dump(made_by_makedumpfile["lzo-d31"]) as kd:
        for text in [linux["marker"], *lines[:: max(1, len(lines) // 20)]]:
            assert kd.source.find(text.encode()) >= 0, text


def test_makedumpfile_elf_vmcore_matches_readelf(linux, made_by_makedumpfile):
    """makedumpfile -E (an ELF vmcore with excluded pages cut from the segments): our physical regions
    are readelf's PT_LOADs (offset, address, bytes in the file) and hold the QEMU ELF's bytes."""
    path = made_by_makedumpfile["elf-d31"]
    with open_dump(path) as dump, open_dump(linux["elf"]) as elf:
        assert dump.format == "elf-vmcore"
        phys = _physical(dump)
        assert [(r.file_offset, r.vaddr, r.size) for r in phys] == _readelf_loads(path)
        for r in phys:
            assert dump.read(r.file_offset, r.size) == elf.read(elf.va_to_file(r.vaddr), r.size), hex(r.vaddr)
