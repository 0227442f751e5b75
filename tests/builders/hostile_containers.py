"""Hostile containers, vmcores and Mach-O cores (issue 15 in the harness of issue 12): bombs in every codec, archives
that lie about their members, nesting past any sensible depth, apport reports with broken or endless
lines, kdump-compressed headers whose counts and page descriptors lie, flattened records that reach for
the end of the address space. Each is written by the codecs' own libraries (zlib, lzma, zstandard, lz4,
zipfile) or declared with the parsers' construct structs — generated, at most 16 MiB each.

The decompression limit bounds a bomb's work: the tests run the children with
``EVIDENCE_VIEWER_MAX_DECOMPRESSED`` = :data:`TEST_LIMIT`.
"""

from __future__ import annotations

import base64
import bz2
import gzip
import io
import lzma
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

MiB = 1024 * 1024
LIMIT = 16 * MiB
TEST_LIMIT = "64M"


def _zeros_gzip(n: int) -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(MiB)
    return b"".join(comp.compress(block) for _ in range(n // MiB)) + comp.flush()


def gzip_bomb() -> bytes:
    """512 MiB of zeros in ~500 KB of gzip."""
    return _zeros_gzip(512 * MiB)


def zstd_bomb() -> bytes:
    import zstandard

    comp = zstandard.ZstdCompressor(level=19).compressobj()
    block = bytes(16 * MiB)
    return b"".join(comp.compress(block) for _ in range(256)) + comp.flush()  # 4 GiB of zeros


def xz_bomb() -> bytes:
    comp = lzma.LZMACompressor(preset=0)
    block = bytes(16 * MiB)
    return b"".join(comp.compress(block) for _ in range(16)) + comp.flush()


def lz4_bomb() -> bytes:
    import lz4.frame

    return lz4.frame.compress(bytes(256 * MiB), compression_level=0)


def bzip2_many_streams() -> bytes:
    """Thousands of tiny concatenated bzip2 streams (each one a new decompressor)."""
    one = bz2.compress(b"x" * 100)
    return one * (4 * MiB // len(one))


def gzip_truncated() -> bytes:
    data = gzip.compress(bytes(range(256)) * 40000)
    return data[: len(data) // 2]


def gzip_trailing_garbage() -> bytes:
    return gzip.compress(b"A" * 100000) + b"\x13\x37" * 1000


def nested_gzip() -> bytes:
    """gzip inside gzip, 40 deep (past MAX_DEPTH)."""
    data = b"core" * 1000
    for _ in range(40):
        data = gzip.compress(data)
    return data


def nested_zip() -> bytes:
    """A ZIP of a ZIP of ... 20 deep."""
    data = b"\x7fELF" + bytes(1000)
    for i in range(20):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr(f"layer{i}", data)
        data = buf.getvalue()
    return data


def zip_bomb_members() -> bytes:
    """200 members of 128 MiB of zeros each (deflated to ~128 KB): the allowance is for the whole open."""
    one = bytes(128 * MiB)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("m0", one)
    member = buf.getvalue()
    # replicate the member's local entry under new names, then a directory for all of them
    with zipfile.ZipFile(io.BytesIO(member)) as zf:
        info = zf.infolist()[0]
    local_end = 30 + len(info.filename) + info.compress_size
    out = io.BytesIO()
    entries = []
    for i in range(100):
        name = f"m{i:02d}".encode()[:2] if False else f"m{i}".encode()
        at = out.tell()
        local = bytearray(member[:30])
        struct.pack_into("<H", local, 26, len(name))
        out.write(bytes(local) + name + member[30 + len(info.filename):local_end])
        entries.append((name, at))
    cd_at = out.tell()
    for name, at in entries:
        cd = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, info.CRC, info.compress_size,
                         info.file_size, len(name), 0, 0, 0, 0, 0, at)
        out.write(cd + name)
    cd_size = out.tell() - cd_at
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), cd_size, cd_at, 0))
    return out.getvalue()


def zip_claims_a_million_members() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a", b"x" * 100)
    data = bytearray(buf.getvalue())
    eocd = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, eocd + 8, 0xFFFF, 0xFFFF)
    return bytes(data)


def zip_garbage_directory() -> bytes:
    """A local header, then an end record pointing at a central directory of random bytes."""
    body = b"PK\x03\x04" + bytes(26) + bytes(range(256)) * 4000
    return body + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 5, 5, 4000, 100, 0)


def _apport(fields: list[bytes]) -> bytes:
    return b"ProblemType: Crash\n" + b"".join(fields)


def apport_endless_line() -> bytes:
    """A CoreDump whose one base64 line has no end (16 MiB without a newline)."""
    return _apport([b"CoreDump: base64\n ", b"A" * (LIMIT - 64)])


def apport_bad_base64() -> bytes:
    header = base64.b64encode(b"\037\213\010\010\000\000\000\000\002\377CoreDump\000")
    return _apport([b"CoreDump: base64\n " + header + b"\n !!!not base64!!!\n" * 1000])


def apport_many_fields() -> bytes:
    return _apport([f"Field{i}: {'x' * 20}\n".encode() for i in range(400_000)])


def apport_bomb() -> bytes:
    raw = _zeros_gzip(512 * MiB)
    lines = b"".join(b" " + base64.b64encode(raw[i:i + 65536]) + b"\n" for i in range(0, len(raw), 65536))
    return _apport([b"ExecutablePath: /bin/x\nCoreDump: base64\n", lines])


def apport_no_core() -> bytes:
    return _apport([b"ExecutablePath: \x1b[31m/bin/evil\x07\n", b"ProcEnviron:\n \x1b]0;pwned\x07\n"])


# -- kdump-compressed --------------------------------------------------------------------------------
def _kdump(block_size: int = 4096, bitmap_blocks: int = 2, max_mapnr: int = 1 << 20, sub_hdr_size: int = 1,
           header_version: int = 6, status: int = 1) -> bytearray:
    from viewer.evidence.formats.diskdump.structs import DISK_DUMP_HEADER, KDUMP_SUB_HEADER

    uts = {k: b"\0" * 65 for k in ("sysname", "nodename", "release", "version", "machine", "domainname")}
    uts["machine"] = b"x86_64".ljust(65, b"\0")
    hdr = DISK_DUMP_HEADER.build(dict(signature=b"KDUMP   ", header_version=header_version, utsname=uts,
                                      tv_sec=0, tv_usec=0, status=status, block_size=block_size,
                                      sub_hdr_size=sub_hdr_size, bitmap_blocks=bitmap_blocks,
                                      max_mapnr=max_mapnr & 0xFFFFFFFF, total_ram_blocks=0, device_blocks=0,
                                      written_blocks=0, current_cpu=0, nr_cpus=1))
    sub = KDUMP_SUB_HEADER.build(dict(phys_base=0, dump_level=0, split=0, start_pfn=0, end_pfn=0,
                                      offset_vmcoreinfo=0, size_vmcoreinfo=0, offset_note=0, size_note=0,
                                      offset_eraseinfo=0, size_eraseinfo=0, start_pfn_64=0, end_pfn_64=0,
                                      max_mapnr_64=max_mapnr))
    out = bytearray(hdr.ljust(4096, b"\0") + sub.ljust(4096, b"\0"))
    return out


def kdump_lying_counts() -> bytes:
    """bitmap_blocks and max_mapnr claim terabytes; the file is 1 MiB."""
    out = _kdump(bitmap_blocks=0xFFFFFFFF, max_mapnr=1 << 40)
    return bytes(out + b"\xff" * MiB)


def kdump_every_page_lies() -> bytes:
    """A full bitmap of 16384 dumped pages whose descriptors point past the file, at one another, claim
    4 GiB sizes, hold zlib bombs, zlib bytes flagged lzo, or snappy blocks whose length preamble claims
    4 GiB."""
    bs = 4096
    pages = 16384
    out = _kdump(bitmap_blocks=2, max_mapnr=pages)  # 2 blocks: two 4 KiB bitmaps = 32768 bits each
    bitmap = b"\xff" * (pages // 8) + bytes(bs - pages // 8)
    out += bitmap + bitmap
    bomb = zlib.compress(bytes(64 * MiB), 9)[:4000]
    data_at = len(out) + pages * 24
    descs = bytearray()
    snappy_at = data_at + len(bomb)
    snappy = b"\xff\xff\xff\xff\x0f" + b"\x00\x10" * 1000  # preamble: 2**32 - 1 bytes; then literals
    for i in range(pages):
        kind = i % 6
        if kind == 0:
            descs += struct.pack("<qIIQ", 1 << 50, bs, 0, 0)
        elif kind == 1:
            descs += struct.pack("<qIIQ", data_at, 0xFFFFFFFF, 1, 0)
        elif kind == 2:
            descs += struct.pack("<qIIQ", data_at, len(bomb), 1, 0)
        elif kind == 3:
            descs += struct.pack("<qIIQ", 0, 100, 0x20, 0)  # zstd flag on the header's bytes
        elif kind == 4:
            descs += struct.pack("<qIIQ", data_at, len(bomb), 0x2, 0)  # the zlib bomb flagged lzo
        else:
            descs += struct.pack("<qIIQ", snappy_at, len(snappy), 0x4, 0)
    return bytes(out + descs + bomb + snappy)


def kdump_bad_block_size() -> bytes:
    return bytes(_kdump(block_size=12345) + bytes(MiB))


def kdump_flattened_far_offsets() -> bytes:
    """Flattened records that write a few bytes at 2**62 (a sparse file bigger than any disk)."""
    head = b"makedumpfile\0\0\0\0" + struct.pack(">qq", 1, 1)
    out = bytearray(head.ljust(4096, b"\0"))
    out += struct.pack(">qq", 0, 8) + b"KDUMP   "
    out += struct.pack(">qq", 1 << 62, 4096) + bytes(4096)
    out += struct.pack(">qq", -1, 0)
    return bytes(out)


def kdump_flattened_lying_sizes() -> bytes:
    head = b"makedumpfile\0\0\0\0" + struct.pack(">qq", 1, 1)
    out = bytearray(head.ljust(4096, b"\0"))
    for i in range(100000):
        out += struct.pack(">qq", i * 4096, 16)  + bytes(16)
    out += struct.pack(">qq", 0, 1 << 40)
    return bytes(out)


# -- Mach-O cores ------------------------------------------------------------------------------------
def _macho(cmds: list[bytes], ncmds: int | None = None, sizeofcmds: int | None = None, tail: bytes = b"") -> bytes:
    from macholib import mach_o as m

    body = b"".join(cmds)
    header = m.mach_header_64(_endian_="<", magic=m.MH_MAGIC_64, cputype=0x01000007, cpusubtype=3,
                              filetype=m.MH_CORE, ncmds=len(cmds) if ncmds is None else ncmds,
                              sizeofcmds=len(body) if sizeofcmds is None else sizeofcmds, flags=0, reserved=0)
    return header.to_str() + body + tail


def _lc(cmd: int, payload: bytes, cmdsize: int | None = None) -> bytes:
    return struct.pack("<II", cmd, 8 + len(payload) if cmdsize is None else cmdsize) + payload


def macho_lying_counts() -> bytes:
    """ncmds 2**32-1 and sizeofcmds 4 GiB over 16 MiB of segment commands that all claim 2**64 bytes."""
    seg = _lc(0x19, b"evil".ljust(16, b"\0") + struct.pack("<QQQQiiII", 0, 2**64 - 1, 0, 2**63, 7, 7,
                                                            0xFFFFFFFF, 0))
    return _macho([seg] * (LIMIT // 80), ncmds=0xFFFFFFFF, sizeofcmds=0xFFFFFFF0)


def macho_zero_cmdsize() -> bytes:
    """A load command of cmdsize 0 (a walk that never advances), then 1 MiB of garbage."""
    return _macho([_lc(0x19, bytes(64), cmdsize=0)], ncmds=1000, sizeofcmds=MiB, tail=bytes(range(256)) * 4096)


def macho_thread_overrun() -> bytes:
    """LC_THREADs whose flavor counts claim 2**32 words, and 100,000 tiny flavors in one command."""
    big = _lc(0x4, struct.pack("<II", 4, 0xFFFFFFFF) + bytes(168))
    many = _lc(0x4, struct.pack("<II", 99, 0) * 100_000)
    return _macho([big, many])


def macho_note_images() -> bytes:
    """An `all image infos` note claiming 2**32 images whose path offsets all point at one huge string."""
    note_at = 4096
    payload = struct.pack("<IIQII", 1, 0xFFFFFFFF, note_at + 24, 48, 0)
    entry = struct.pack("<Q16sQQII", note_at + 8 * MiB, bytes(16), 0x1000, 0, 0, 0)
    body = (payload + entry * (6 * MiB // 48)).ljust(8 * MiB, b"\0") + b"A" * (4 * MiB)
    note = _lc(0x31, b"all image infos".ljust(16, b"\0") + struct.pack("<QQ", note_at, len(body)))
    head = _macho([note])
    return head.ljust(note_at, b"\0") + body


GENERATORS: dict[str, Callable[[], bytes]] = {
    "gzip-bomb": gzip_bomb,
    "zstd-bomb": zstd_bomb,
    "xz-bomb": xz_bomb,
    "lz4-bomb": lz4_bomb,
    "bzip2-many-streams": bzip2_many_streams,
    "gzip-truncated": gzip_truncated,
    "gzip-trailing-garbage": gzip_trailing_garbage,
    "nested-gzip": nested_gzip,
    "nested-zip": nested_zip,
    "zip-bomb-members": zip_bomb_members,
    "zip-million-members": zip_claims_a_million_members,
    "zip-garbage-directory": zip_garbage_directory,
    "apport-endless-line": apport_endless_line,
    "apport-bad-base64": apport_bad_base64,
    "apport-many-fields": apport_many_fields,
    "apport-bomb": apport_bomb,
    "apport-no-core": apport_no_core,
    "kdump-lying-counts": kdump_lying_counts,
    "kdump-every-page-lies": kdump_every_page_lies,
    "kdump-bad-block-size": kdump_bad_block_size,
    "kdump-flattened-far-offsets": kdump_flattened_far_offsets,
    "kdump-flattened-lying-sizes": kdump_flattened_lying_sizes,
    "macho-lying-counts": macho_lying_counts,
    "macho-zero-cmdsize": macho_zero_cmdsize,
    "macho-thread-overrun": macho_thread_overrun,
    "macho-note-images": macho_note_images,
}


def write(name: str, path: Path) -> Path:
    data = GENERATORS[name]()
    assert len(data) <= LIMIT, f"{name}: {len(data)} bytes"
    path.write_bytes(data)
    return path
