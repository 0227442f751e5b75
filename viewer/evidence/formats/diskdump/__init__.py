"""kdump-compressed vmcores (makedumpfile's diskdump format, QEMU's ``dump-guest-memory`` kdump-*).

The header, the sub-header, VMCOREINFO and the ELF notes are parsed with construct; the bitmaps are
read with numpy to find the runs of dumped pages (each run one ``physical`` region at its physical
address); pages are decompressed on demand by :class:`~.pages.PagedSource`, which becomes the dump's
source, so offsets are offsets in the decompressed view (see :mod:`.pages`). Every count is checked
against the file: a block size that is not a power of two between 512 bytes and 1 MiB, bitmaps or
descriptors past the end of the file, a max_mapnr the bitmap cannot hold — each a warning, with what the
file really holds used instead. The flattened layout (``makedumpfile -F``, QEMU without a seekable
output) is rebuilt by the container layer first (``containers``: ``kdump-flattened``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from viewer.evidence.formats.base import ParseContext, Warnings, clean, without_gc
from viewer.evidence.formats.diskdump.pages import PagedSource
from viewer.evidence.formats.diskdump.structs import (
    COMPRESSIONS,
    DISK_DUMP_HEADER,
    KDUMP_SUB_HEADER,
    PAGE_DESC,
    PAGE_DESC_SIZE,
    SIGNATURE,
)
from viewer.evidence.model import Node, ParseResult, Region
from viewer.evidence.source import ByteSource

FORMAT = "kdump-compressed"
MAX_VMCOREINFO = 64 * 1024
MAX_NOTES = 4096


def probe(head: bytes) -> bool:
    return head.startswith(SIGNATURE)


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


@without_gc
def parse(src: ByteSource, warnings: Warnings | None = None) -> ParseResult:
    warnings = warnings if warnings is not None else Warnings()
    ctx = ParseContext(src, warnings)
    root = Node("kdump-compressed vmcore", 0, src.size, "")
    regions: list[Region] = []
    hdr = ctx.parse(DISK_DUMP_HEADER, 0, "disk_dump_header")
    if hdr is None:
        return ParseResult(FORMAT, {}, [Region(0, min(src.size, 8), None, "header", "signature")], root, warnings)
    ctx.render_bytes = staticmethod(_text)  # type: ignore[assignment]
    root.add(ctx.node("disk_dump_header", 0, DISK_DUMP_HEADER.sizeof(), hdr.header_version,
                      ctx.fields(DISK_DUMP_HEADER, hdr, 0)))
    bs = hdr.block_size
    meta: dict[str, Any] = {
        "os": _text(hdr.utsname.sysname) or None, "os_version": _text(hdr.utsname.release) or None,
        "arch": _text(hdr.utsname.machine) or None, "hostname": _text(hdr.utsname.nodename) or None,
        "vmcore": "kdump-compressed (makedumpfile diskdump)", "header_version": hdr.header_version,
        "time": hdr.tv_sec or None, "cpus": hdr.nr_cpus,
    }
    details: dict[str, Any] = {"header": clean(hdr)}
    if not (512 <= bs <= 1 << 20) or bs & (bs - 1):
        ctx.warn(f"disk_dump_header: block_size {bs} is not a power of two between 512 and 1 MiB; "
                 "the rest of the file is not parsed")
        return ParseResult(FORMAT, meta, [Region(0, min(src.size, bs if bs > 0 else 8), None, "header",
                                                 "disk_dump_header")], root, warnings, details)
    regions.append(Region(0, min(bs, src.size), None, "header", "disk_dump_header"))
    sub_at = bs
    sub = ctx.parse(KDUMP_SUB_HEADER, sub_at, "kdump_sub_header") if hdr.header_version >= 1 else None
    max_mapnr = hdr.max_mapnr
    if sub is not None:
        root.add(ctx.node("kdump_sub_header", sub_at, KDUMP_SUB_HEADER.sizeof(), None,
                          ctx.fields(KDUMP_SUB_HEADER, sub, sub_at)))
        details["sub_header"] = clean(sub)
        if hdr.header_version >= 6 and sub.max_mapnr_64:
            max_mapnr = sub.max_mapnr_64
        meta["phys_base"], meta["dump_level"] = sub.phys_base, sub.dump_level
        _vmcoreinfo(ctx, sub, root, meta, details)
        _notes(ctx, sub, root, details)
    sub_blocks = max(0, hdr.sub_hdr_size)
    if sub_blocks:
        regions.append(Region(sub_at, ctx.clip(sub_at, sub_blocks * bs, "kdump_sub_header"), None, "header",
                              "kdump_sub_header"))
    bitmap_at = (1 + sub_blocks) * bs
    bitmap_len = hdr.bitmap_blocks * bs
    present = ctx.clip(bitmap_at, bitmap_len, "bitmaps")
    half = bitmap_len // 2
    if present < bitmap_len:
        half = present // 2
    if max_mapnr > half * 8:
        ctx.warn(f"max_mapnr {max_mapnr} is more than the bitmap holds ({half * 8} pages); only those are read")
        max_mapnr = half * 8
    regions.append(Region(bitmap_at, half, None, "header", "bitmap 1 (pages present)"))
    regions.append(Region(bitmap_at + half, half, None, "header", "bitmap 2 (pages dumped)"))
    root.add(ctx.node("bitmap 1", bitmap_at, half, "a bit per page frame that exists"))
    root.add(ctx.node("bitmap 2", bitmap_at + half, half, "a bit per page frame dumped"))
    starts, ends = _runs(src, bitmap_at + half, max_mapnr)
    dumped = int((ends - starts).sum()) if len(starts) else 0
    pd_at = bitmap_at + bitmap_len
    n = ctx.count(pd_at, dumped, PAGE_DESC_SIZE, "page descriptors")
    prefix_end = pd_at + n * PAGE_DESC_SIZE
    regions.append(Region(pd_at, n * PAGE_DESC_SIZE, None, "header", "page descriptors"))
    _check_descriptors(ctx, pd_at, n, bs)
    content = PagedSource(src, prefix_end, bs, pd_at, n, warnings)
    root.add(ctx.node("page descriptors", pd_at, n * PAGE_DESC_SIZE, f"{n} pages",
                      ctx.lazy(lambda: [ctx.struct_node(f"[{i}]", PAGE_DESC, None, pd_at + i * PAGE_DESC_SIZE)
                                        for i in range(min(n, 1 << 16))])))
    # runs of dumped pfns -> physical regions, laid out one after another in the content
    runs = ctx.take_regions(len(starts), "runs of dumped pages")
    physical = []
    rank = 0
    for s, e in zip(starts[:runs].tolist(), ends[:runs].tolist(), strict=True):
        length = e - s
        if rank >= n:
            break
        length = min(length, n - rank)
        at = prefix_end + rank * bs
        regions.append(Region(at, length * bs, s * bs, "physical", f"physical {s * bs:#x}",
                              attrs={"first_pfn": s, "pages": length}))
        physical.append({"paddr": s * bs, "size": length * bs, "file_offset": at})
        rank += length
    root.add(Node("pages (decompressed on demand)", prefix_end, n * bs, f"{n} pages of {bs} bytes"))
    if dumped > n:
        ctx.warn(f"{dumped - n} dumped pages have no descriptor in the file (truncated?); they are not shown")
    meta.update(page_size=bs, pages_dumped=n, physical_bytes=n * bs, max_mapnr=max_mapnr,
                compression=[name for bit, name in COMPRESSIONS.items() if hdr.status & bit])
    details["physical_memory"] = physical
    root.value = f"{n} pages, {meta['compression'] or 'uncompressed'}"
    # the tree's nodes lie in the content (the prefix is the file's own bytes; pages follow)
    return ParseResult(FORMAT, meta, regions, root, warnings, details, source=content)


BITMAP_CHUNK = 1 << 20  # bytes of bitmap (8 million page frames) unpacked at a time


def _runs(src: ByteSource, at: int, nbits: int) -> tuple[np.ndarray, np.ndarray]:
    """(first pfn, end pfn) of every run of set bits in the bitmap at ``at``, read a chunk at a time: the
    memory is that of one chunk and of the runs, not of one byte per page frame of the machine."""
    starts: list[np.ndarray] = []
    ends: list[np.ndarray] = []
    prev = 0  # the last bit of the previous chunk
    done = 0  # bits seen
    nbytes = (nbits + 7) // 8
    for off in range(0, nbytes, BITMAP_CHUNK):
        raw = np.frombuffer(src.read(at + off, min(BITMAP_CHUNK, nbytes - off)), dtype=np.uint8)
        bits = np.unpackbits(raw, bitorder="little")[: max(0, nbits - off * 8)].astype(np.int8)
        if not bits.size:
            break
        edges = np.diff(np.concatenate(([prev], bits)))
        starts.append(np.flatnonzero(edges == 1).astype(np.int64) + off * 8)
        ends.append(np.flatnonzero(edges == -1).astype(np.int64) + off * 8)
        prev = int(bits[-1])
        done = off * 8 + bits.size
    if prev:
        ends.append(np.array([done], dtype=np.int64))
    if not starts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(starts), np.concatenate(ends)


_DESC_DTYPE = np.dtype([("offset", "<i8"), ("size", "<u4"), ("flags", "<u4"), ("page_flags", "<u8")])
_KNOWN_FLAGS = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20


def _check_descriptors(ctx: ParseContext, pd_at: int, n: int, bs: int) -> None:
    """Every page descriptor checked at open, a million at a time with numpy (24 bytes of file each, so
    O(the file)): data outside the file, sizes over a page, raw pages of the wrong size, unknown flags.
    Such pages read as zeros later; here they are counted in one warning."""
    bad_place = bad_size = bad_flags = 0
    first = None
    step = 1 << 20
    for start in range(0, n, step):
        count = min(step, n - start)
        raw = ctx.read(pd_at + start * PAGE_DESC_SIZE, count * PAGE_DESC_SIZE)
        d = np.frombuffer(raw, dtype=_DESC_DTYPE, count=len(raw) // PAGE_DESC_SIZE)
        off, size, flags = d["offset"], d["size"].astype(np.int64), d["flags"]
        place = (off < 0) | (off + size > ctx.size)
        over = (size > bs) | (((flags & 0x27) == 0) & (size != bs))
        unknown = (flags & ~np.uint32(_KNOWN_FLAGS)) != 0
        bad = place | over | unknown
        if first is None and bad.any():
            first = start + int(np.flatnonzero(bad)[0])
        bad_place += int(place.sum())
        bad_size += int((over & ~place).sum())
        bad_flags += int(unknown.sum())
    if bad_place or bad_size or bad_flags:
        ctx.warn(f"page descriptors: {bad_place} point outside the file, {bad_size} claim more than a page or a "
                 f"raw page of the wrong size, {bad_flags} have unknown flags (first: page {first}); those "
                 "pages read as zeros")


def _vmcoreinfo(ctx: ParseContext, sub: Any, root: Node, meta: dict[str, Any], details: dict[str, Any]) -> None:
    at, size = sub.offset_vmcoreinfo, sub.size_vmcoreinfo
    if at <= 0 or size <= 0:
        return
    size = ctx.clip(at, min(size, MAX_VMCOREINFO), "VMCOREINFO")
    raw = ctx.read(at, size)
    info: dict[str, str] = {}
    kids = []
    pos = 0
    for line in raw.split(b"\n")[:1024]:
        text = line.rstrip(b"\0").decode("ascii", "replace")
        if "=" in text:
            k, _, v = text.partition("=")
            info.setdefault(k, v)
            kids.append(ctx.node(k, at + pos, len(line), v))
        pos += len(line) + 1
    root.add(ctx.node("VMCOREINFO", at, size, f"{len(info)} entries", kids))
    details["vmcoreinfo"] = info
    if info.get("OSRELEASE"):
        meta["os_version"] = info["OSRELEASE"]


def _notes(ctx: ParseContext, sub: Any, root: Node, details: dict[str, Any]) -> None:
    """The ELF notes the dumper kept (NT_PRSTATUS per CPU, QEMU's CPU state), listed by owner and type."""
    at, size = sub.offset_note, sub.size_note
    if at <= 0 or size <= 0:
        return
    size = ctx.clip(at, min(size, 16 * 1024 * 1024), "notes")
    raw = ctx.read(at, size)
    pos, out, kids = 0, [], []
    while pos + 12 <= len(raw) and len(out) < MAX_NOTES:
        namesz, descsz, ntype = np.frombuffer(raw, dtype="<u4", count=3, offset=pos).tolist()
        name_end = pos + 12 + namesz
        desc_at = pos + 12 + ((namesz + 3) & ~3)
        end = desc_at + ((descsz + 3) & ~3)
        if end > len(raw):
            ctx.warn(f"note at {at + pos:#x}: runs past the notes' {size} bytes")
            break
        owner = raw[pos + 12:name_end].rstrip(b"\0").decode("ascii", "replace")
        out.append({"owner": owner, "type": ntype, "offset": at + pos, "size": end - pos})
        kids.append(ctx.node(f"[{len(kids)}] {owner} type {ntype}", at + pos, end - pos, f"{descsz} bytes"))
        pos = end
    root.add(ctx.node("notes", at, size, len(out), kids))
    details["notes"] = out
