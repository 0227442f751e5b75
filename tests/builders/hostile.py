"""Hostile dumps: files an attacker writes to make a parser stall, swell or crash.

Each generator returns the bytes of one file of at most 16 MiB (the size the parsers promise to open in
under 2 s and 300 MB whatever the file claims). They are packed with :mod:`struct`, not with the parsers'
own declarations, so that a change in a parser cannot change what it is tested against. ``GENERATORS``
names them all; :func:`write` puts one in a file. The hostile-input harness of other entry points (scan,
case, bundle) reuses them.

The classes covered: counts and lengths that lie (far beyond the bytes present), the same structure
referred to again and again (a stream type repeated in the directory, program headers all pointing at
one spot, nested lists whose entries point at one shared list), and genuinely many small structures
(500,000 LiME ranges, a million 1-byte minidump ranges, a checkerboard page bitmap), and Java heap dumps
that lie about record lengths, array counts and class-dump counts.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

MiB = 1024 * 1024
LIMIT = 16 * MiB  # every generator stays at or below this

U32_MAX = 0xFFFFFFFF


# -- minidump ---------------------------------------------------------------------------------------
def _md_header(n_streams: int, directory_rva: int = 32) -> bytes:
    return struct.pack("<4sIIIIIQ", b"MDMP", 0xA793, n_streams, directory_rva, 0, 0, 0)


def _md_dir(entries: list[tuple[int, int, int]]) -> bytes:
    """MINIDUMP_DIRECTORY entries of (StreamType, DataSize, Rva)."""
    return b"".join(struct.pack("<III", t, size, rva) for t, size, rva in entries)


def _md_string(text: str) -> bytes:
    raw = text.encode("utf-16-le")
    return struct.pack("<I", len(raw)) + raw + b"\0\0"


def minidump_repeated_list_streams(size: int = 2 * MiB, repeats: int = 4096) -> bytes:
    """One big body that every list decoder can read, listed ``repeats`` times under each list type.

    The body is a count of U32_MAX followed by entries whose every word is 0x20 (small RVAs and sizes):
    read as a thread list, a module list, a memory list, ... it is as long as the stream allows. The
    directory names it again and again: without "decode a repeated type once" the work is
    repeats x body.
    """
    types = [3, 4, 5, 8, 9, 12, 14, 16, 17, 19, 24]
    directory = 32
    body_at = directory + 12 * repeats
    body_len = size - body_at
    body = struct.pack("<I", U32_MAX) + struct.pack("<I", 0x20) * ((body_len - 4) // 4)
    entries = [(types[i % len(types)], body_len, body_at) for i in range(repeats)]
    return _md_header(repeats) + _md_dir(entries) + body


def minidump_repeated_memory_list(size: int = 2 * MiB, repeats: int = 4096) -> bytes:
    """A MemoryList of 130,000 descriptors, each covering the whole file, listed ``repeats`` times."""
    directory = 32
    body_at = directory + 12 * repeats
    n = (size - body_at - 4) // 16
    desc = b"".join(struct.pack("<QII", 0x10000 + i * 0x1000, size, 0) for i in range(n))
    body = struct.pack("<I", n) + desc
    return _md_header(repeats) + _md_dir([(5, len(body), body_at)] * repeats) + body


def minidump_lying_strings(size: int = 2 * MiB) -> bytes:
    """Thread names and modules whose strings claim 4 GiB and overlap each other.

    A ThreadNamesStream of 170,000 entries points each name at a different offset of one 64 KiB run
    of text whose length field says U32_MAX; a ModuleList does the same with module names. Decoding each
    string on its own reads 64 KiB per entry: 11 GB from a 2 MiB file.
    """
    directory = 32
    text_at = directory + 12 * 2
    text_len = 64 * 1024
    text = struct.pack("<I", U32_MAX) + b"A\0" * (text_len // 2)
    names_at = text_at + len(text)
    modules_len = (size - names_at) // 3
    n_names = (size - names_at - modules_len - 4) // 12
    names = struct.pack("<I", n_names) + b"".join(
        struct.pack("<IQ", i, text_at + 2 * (i % 1024)) for i in range(n_names)
    )
    modules_at = names_at + len(names)
    module = struct.pack("<QIIII", 0x400000, 0x1000, 0, 0, text_at) + bytes(108 - 24)
    n_mods = (size - modules_at - 4) // 108
    mods = struct.pack("<I", U32_MAX) + b"".join(
        module[:20] + struct.pack("<I", text_at + 2 * (i % 1024)) + module[24:] for i in range(n_mods)
    )
    entries = [(24, len(names), names_at), (4, len(mods), modules_at)]
    out = _md_header(2) + _md_dir(entries) + text + names + mods
    return out


def minidump_nested_crashpad(size: int = 2 * MiB) -> bytes:
    """Crashpad module links that all point at one module info whose lists point at one big list.

    170,000 links x one MinidumpModuleCrashpadInfo x an RVA list of 100,000 strings each claiming
    U32_MAX bytes: the nesting multiplies, the bytes do not.
    """
    directory = 32
    info_at = directory + 12
    # MinidumpCrashpadInfo: version, report_id, client_id, simple_annotations, module_list (52 bytes)
    string_at = info_at + 52
    string = struct.pack("<I", U32_MAX) + b"x" * 4096
    rva_list_at = string_at + len(string)
    n_rvas = 100_000
    rva_list = struct.pack("<I", n_rvas) + struct.pack("<I", string_at) * n_rvas
    dict_at = rva_list_at + len(rva_list)
    n_pairs = 50_000
    str_dict = struct.pack("<I", n_pairs) + struct.pack("<II", string_at, string_at) * n_pairs
    module_info_at = dict_at + len(str_dict)
    module_info = struct.pack(
        "<IIIIIII", 1, len(rva_list), rva_list_at, len(str_dict), dict_at, len(rva_list), rva_list_at
    )
    links_at = module_info_at + len(module_info)
    n_links = (size - links_at - 4) // 12
    links = struct.pack("<I", n_links) + struct.pack("<III", 0, 28, module_info_at) * n_links
    info = struct.pack("<I", 1) + bytes(32) + struct.pack("<II", len(str_dict), dict_at)
    info += struct.pack("<II", len(links), links_at)
    assert len(info) == 52
    stream_len = size - info_at
    out = _md_header(1) + _md_dir([(0x43500001, stream_len, info_at)]) + info + string + rva_list
    out += str_dict + module_info + links
    return out


def minidump_dso_debug(size: int = 2 * MiB) -> bytes:
    """Breakpad's DSO list: dso_count U32_MAX, every link map naming one string of U32_MAX bytes."""
    directory = 32
    debug_at = directory + 12
    string_at = debug_at + 40
    string = struct.pack("<I", U32_MAX) + b"d\0" * 32768
    map_at = string_at + len(string)
    n = (size - map_at) // 24
    debug = struct.pack("<IIIIQQQ", 1, map_at, U32_MAX, 0, 0, 0, 0)  # MDRawDebug64
    link = struct.pack("<QIIQ", 0x1000, string_at, 0, 0)  # MDRawLinkMap64
    # no system info: the word size is guessed from the stream length, which is made a multiple of 16
    stream_len = (size - debug_at) // 16 * 16
    out = _md_header(1) + _md_dir([(0x4767000A, stream_len, debug_at)]) + debug + string + link * n
    return out


def minidump_million_ranges(size: int = 16 * MiB) -> bytes:
    """A Memory64List of a million 1-byte ranges (genuinely present: 17 bytes of file each)."""
    directory = 32
    list_at = directory + 12
    n = (size - list_at - 16) // 17
    data_at = list_at + 16 + 16 * n
    head = struct.pack("<QQ", n, data_at)
    desc = b"".join(struct.pack("<QQ", 0x10000 + i * 0x1000, 1) for i in range(n))
    return _md_header(1) + _md_dir([(9, 16 + 16 * n, list_at)]) + head + desc + b"\xcc" * n


# -- ELF cores --------------------------------------------------------------------------------------
def _elf64_header(phnum: int, phoff: int = 64, shoff: int = 0, shnum: int = 0) -> bytes:
    ident = b"\x7fELF" + bytes([2, 1, 1, 3]) + bytes(8)
    return ident + struct.pack("<HHIQQQIHHHHHH", 4, 62, 1, 0, phoff, shoff, 0, 64, 56, phnum, 64, shnum, 0)


def _phdr64(p_type: int, offset: int, filesz: int, vaddr: int = 0, flags: int = 6, align: int = 4) -> bytes:
    return struct.pack("<IIQQQQQQ", p_type, flags, offset, vaddr, 0, filesz, filesz, align)


def _note(owner: bytes, n_type: int, desc: bytes) -> bytes:
    name = owner + b"\0"
    pad = lambda b: b + bytes(-len(b) % 4)  # noqa: E731 - one-line helper
    return struct.pack("<III", len(name), len(desc), n_type) + pad(name) + pad(desc)


def elf_pn_xnum_one_spot(size: int = 16 * MiB) -> bytes:
    """PN_XNUM with sh_info U32_MAX; every program header a PT_LOAD or PT_NOTE over the same bytes.

    The notes segment at the end is an NT_FILE whose count says U32_MAX, so every PT_LOAD would be
    looked up among all the mapped files.
    """
    nt_file_entries = 20_000
    files = struct.pack("<QQ", U32_MAX, 0x1000) + b"".join(
        struct.pack("<QQQ", 0x400000 + i * 0x1000, 0x400000 + (i + 1) * 0x1000, 0)
        for i in range(nt_file_entries)
    ) + b"/bin/x\0" * nt_file_entries
    notes = _note(b"CORE", 0x46494C45, files)
    shoff = 64
    phoff = shoff + 64
    n_ph = (size - phoff - len(notes)) // 56
    notes_at = phoff + 56 * n_ph
    section0 = struct.pack("<IIQQQQIIQQ", 0, 0, 0, 0, 0, 0, 0, U32_MAX, 0, 0)
    ph = []
    for i in range(n_ph):
        if i % 2:
            ph.append(_phdr64(4, notes_at, len(notes)))
        else:
            ph.append(_phdr64(1, 0, size, vaddr=0x400000 + (i % nt_file_entries) * 0x1000))
    return _elf64_header(0xFFFF, phoff, shoff, 1) + section0 + b"".join(ph) + notes


def elf_garbage_notes(size: int = 16 * MiB, segments: int = 65534) -> bytes:
    """65,534 PT_NOTEs (e_phnum at its largest below PN_XNUM) over one segment of plausible-looking garbage: each resync scans 64 KiB."""
    phoff = 64
    notes_at = phoff + 56 * segments
    seg = size - notes_at
    garbage = (struct.pack("<III", 0xFFFFFFF0, 4, 1) + b"CORE") * (seg // 16)
    garbage += bytes(seg - len(garbage))
    ph = _phdr64(4, notes_at, seg) * segments
    return _elf64_header(segments, phoff) + ph + garbage


def elf_many_notes(size: int = 16 * MiB) -> bytes:
    """800,000 small, valid notes (20 bytes each) and an auxv note of 400,000 non-terminated entries."""
    auxv = struct.pack("<QQ", 6, 4096) * 400_000
    head = _note(b"CORE", 6, auxv)
    phoff = 64
    notes_at = phoff + 56
    one = _note(b"CORE", 0x202, b"")
    n = (size - notes_at - len(head)) // len(one)
    notes = head + one * n
    return _elf64_header(1, phoff) + _phdr64(4, notes_at, len(notes)) + notes


# -- Windows kernel dumps ---------------------------------------------------------------------------
def _kd_header64(dump_type: int) -> bytearray:
    raw = bytearray(b"PAGE" * (0x2000 // 4))
    raw[0:8] = b"PAGEDU64"
    struct.pack_into("<II", raw, 8, 0xF, 19041)
    struct.pack_into("<I", raw, 0x30, 0x8664)
    struct.pack_into("<I", raw, 0xF98, dump_type)
    return raw


def kernel_checkerboard_bitmap(size: int = 16 * MiB) -> bytes:
    """A bitmap dump whose bitmap fills the file with 0x55: one run per page, 60 million runs."""
    raw = _kd_header64(5)
    bitmap_len = size - 0x2000 - 0x38
    bmp = struct.pack("<4s4s24sQQQ", b"FDMP", b"DUMP", bytes(24), size, 4 * bitmap_len, 8 * bitmap_len)
    return bytes(raw) + bmp + b"\x55" * bitmap_len


def kernel_lying_triage(size: int = 16 * MiB) -> bytes:
    """A triage dump whose data-block and driver tables fill the file and point at each other."""
    raw = _kd_header64(4)
    at = 0x2000
    table = at + 0x80
    n_blocks = (size - table) // 16
    triage = bytearray(0x80)
    fields = {  # offsets within _TRIAGE_DUMP64
        0x04: size,  # SizeOfDump
        0x30: table, 0x34: U32_MAX,  # DriverListOffset, DriverCount
        0x38: table, 0x3C: U32_MAX,  # StringPoolOffset, StringPoolSize
        0x28: table, 0x2C: U32_MAX,  # CallStackOffset, SizeOfCallStack
        0x78: table, 0x7C: n_blocks,  # DataBlocksOffset, DataBlocksCount
    }
    for off, value in fields.items():
        struct.pack_into("<I", triage, off, value)
    blocks = struct.pack("<QII", 0xFFFFF80000000000, table, 0x7FFFFFFF) * n_blocks
    return bytes(raw) + bytes(triage) + blocks


def kernel_full_many_runs(size: int = 16 * MiB) -> bytes:
    """A full dump whose 43 runs each claim 2**40 pages and whose NumberOfPages lies."""
    raw = _kd_header64(1)
    struct.pack_into("<IIQ", raw, 0x88, U32_MAX, 0, 2**63)
    for i in range(43):
        struct.pack_into("<QQ", raw, 0x98 + 16 * i, i << 40, 1 << 40)
    return bytes(raw) + b"\xaa" * (size - len(raw))


# -- LiME -------------------------------------------------------------------------------------------
def lime_many_ranges(ranges: int = 500_000, data: int = 1) -> bytes:
    """``ranges`` LiME ranges of ``data`` bytes each (16.5 MB for the default 500,000 x 1 byte)."""
    out = bytearray()
    for i in range(ranges):
        base = i * 0x1000
        out += struct.pack("<IIQQ8x", 0x4C694D45, 1, base, base + data - 1) + b"\x5a" * data
    return bytes(out[:LIMIT])


def lime_huge_range(size: int = 16 * MiB) -> bytes:
    """One range claiming the whole 64-bit address space."""
    return struct.pack("<IIQQ8x", 0x4C694D45, 1, 0, 2**64 - 1) + b"\x11" * (size - 32)


GENERATORS: dict[str, Callable[[], bytes]] = {
    "minidump-repeated-list-streams": minidump_repeated_list_streams,
    "minidump-repeated-memory-list": minidump_repeated_memory_list,
    "minidump-lying-strings": minidump_lying_strings,
    "minidump-nested-crashpad": minidump_nested_crashpad,
    "minidump-dso-debug": minidump_dso_debug,
    "minidump-million-ranges": minidump_million_ranges,
    "elf-pn-xnum-one-spot": elf_pn_xnum_one_spot,
    "elf-garbage-notes": elf_garbage_notes,
    "elf-many-notes": elf_many_notes,
    "kernel-checkerboard-bitmap": kernel_checkerboard_bitmap,
    "kernel-lying-triage": kernel_lying_triage,
    "kernel-full-many-runs": kernel_full_many_runs,
    "lime-many-ranges": lime_many_ranges,
    "lime-huge-range": lime_huge_range,
    # HPROF (tests/builders/hprof.py writes them from the format's description)
    "hprof-lying-record-length": lambda: _hprof().lying_record_length(),
    "hprof-lying-array-counts": lambda: _hprof().lying_array_counts(),
    "hprof-many-tiny-records": lambda: _hprof().many_tiny_records(),
    "hprof-class-dump-lies": lambda: _hprof().class_dump_lies(),
}


def _hprof():  # imported when used: the HPROF builder is a module of its own
    from tests.builders import hprof

    return hprof


def write(name: str, path: Path) -> Path:
    """Write the hostile file ``name`` (a key of GENERATORS) to ``path``; returns ``path``."""
    data = GENERATORS[name]()
    assert len(data) <= LIMIT, f"{name}: {len(data)} bytes"
    path.write_bytes(data)
    return path
