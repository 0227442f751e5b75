"""The physical memory of full and bitmap kernel dumps: runs and page bitmaps mapped to regions.

Why numpy and chunks for the bitmap: a 64 GiB machine has 16M pages; a Python loop over bits takes
seconds, and unpacking a huge (possibly lying) bitmap at once could take gigabytes. The runs found are
capped by the parse's region budget before any per-run object is made, so a checkerboard bitmap (one
run per page) costs the same as a plain one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from viewer.evidence.formats.kernel_dump.context import KernelContext
from viewer.evidence.formats.kernel_dump.structs import BMP_DUMP_HEADER, BMP_SIGNATURES, PAGE_SIZE, text
from viewer.evidence.model import Node, Region

#: The bitmap is scanned in chunks of this many bytes so memory stays bounded for any bitmap size.
BITMAP_CHUNK = 1 << 20


# -- full dumps: runs --------------------------------------------------------------------------------


def map_runs(ctx: KernelContext) -> None:
    """Full dump: the runs' pages are stored one after another right after the header."""
    layout, src, warnings = ctx.layout, ctx.src, ctx.warnings
    physical = ctx.details.get("physical_memory")
    if physical is None:
        warnings.add("full dump without a physical memory descriptor: the body is not mapped")
        return
    runs = physical["runs"]
    body = Node("physical memory", layout.header_size, max(0, src.size - layout.header_size), f"{len(runs)} runs")
    ctx.root.add(body)
    offset = layout.header_size
    total_pages = 0
    clipped = 0
    for i, run in enumerate(runs):
        size = run["PageCount"] * PAGE_SIZE
        total_pages += run["PageCount"]
        have = min(size, src.available(offset))
        if have < size:
            clipped += 1
        if have > 0:
            region = Region(offset, have, run["BasePage"] * PAGE_SIZE, "physical", f"run {i}", mem_size=size)
            ctx.memory.append(region)
            body.add(Node(f"run {i}", offset, have, f"physical {region.vaddr:#x}, {run['PageCount']} pages"))
        offset += size
    if physical["NumberOfPages"] != total_pages:
        warnings.add(
            f"PhysicalMemoryBlockBuffer: NumberOfPages {physical['NumberOfPages']} but the runs hold "
            f"{total_pages} pages"
        )
    if clipped:
        warnings.add(f"{clipped} physical memory run(s) extend past the end of the file; clipped to it")
    elif src.size > offset:
        warnings.add(f"{src.size - offset} bytes after the last run are not described by the header")


# -- bitmap dumps ------------------------------------------------------------------------------------


def bitmap_header_present(ctx: KernelContext) -> bool:
    sig = ctx.src.read(ctx.layout.header_size, 8)
    return sig[:4] in BMP_SIGNATURES and sig[4:] == b"DUMP"


def map_bitmap(ctx: KernelContext) -> None:
    """Bitmap dump: bit i set = physical page i is stored; stored pages follow each other from FirstPage."""
    src, warnings = ctx.src, ctx.warnings
    at = ctx.layout.header_size
    bmp = ctx.parse(BMP_DUMP_HEADER, at, "bitmap dump header")
    if bmp is None:
        return
    bitmap_at = at + BMP_DUMP_HEADER.sizeof()
    bitmap_len = _bitmap_length(ctx, bmp, bitmap_at)
    node = Node("bitmap header", at, BMP_DUMP_HEADER.sizeof() + bitmap_len, text(bmp.Signature),
                ctx.fields(BMP_DUMP_HEADER, bmp, at))
    node.add(Node("Bitmap", bitmap_at, bitmap_len, f"{min(bmp.Pages, bitmap_len * 8)} bits"))
    ctx.root.add(node)
    ctx.regions.append(Region(at, BMP_DUMP_HEADER.sizeof() + bitmap_len, None, "header", "bitmap"))
    ctx.details["bitmap_header"] = {
        k: (text(v) if isinstance(v, bytes) else v) for k, v in bmp.items() if not k.startswith("_")
    }
    nbits = min(bmp.Pages, bitmap_len * 8)
    bitmap = src.view(bitmap_at, bitmap_len)
    # one more than the budget: finding it tells that the bitmap holds more runs than are mapped
    starts, lengths = bitmap_runs(bitmap, nbits, limit=ctx.budget.regions + 1)
    present = bitmap_popcount(bitmap, nbits)
    if present != bmp.TotalPresentPages:
        warnings.add(
            f"bitmap header: TotalPresentPages {bmp.TotalPresentPages} but the bitmap has {present} pages set"
        )
    _bitmap_regions(ctx, bmp.FirstPage, starts, lengths)


def _bitmap_length(ctx: KernelContext, bmp: Any, bitmap_at: int) -> int:
    """Bytes of bitmap to read: what ``Pages`` asks for, bounded by the first page and the file."""
    want = (bmp.Pages + 7) // 8
    limit = ctx.src.available(bitmap_at)
    if bmp.FirstPage > bitmap_at:
        limit = min(limit, bmp.FirstPage - bitmap_at)
    else:
        ctx.warn(f"bitmap header: FirstPage {bmp.FirstPage:#x} lies inside the headers")
    if want > limit:
        ctx.warn(
            f"bitmap header: Pages {bmp.Pages} needs a {want}-byte bitmap but only {limit} bytes are "
            "available before the first page / end of file; the bitmap is cut there"
        )
        want = limit
    return max(0, want)


def bitmap_runs(bitmap: bytes | memoryview, nbits: int, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Runs of set bits (LSB first) as (first bit, length) arrays, scanned chunk by chunk.

    ``limit`` stops the scan once that many runs are found (the last may then be cut at a chunk
    boundary): a checkerboard bitmap of 16 MiB holds 64 million runs, and only the first are mapped.
    """
    starts: list[np.ndarray] = []
    ends: list[np.ndarray] = []
    found = 0
    nbytes = (nbits + 7) // 8
    for chunk_at in range(0, nbytes, BITMAP_CHUNK):
        chunk = np.frombuffer(bitmap[chunk_at : min(nbytes, chunk_at + BITMAP_CHUNK)], dtype=np.uint8)
        bits = np.unpackbits(chunk, bitorder="little")
        first_bit = chunk_at * 8
        bits = bits[: max(0, nbits - first_bit)]
        edges = np.diff(bits.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
        s = np.flatnonzero(edges == 1) + first_bit
        e = np.flatnonzero(edges == -1) + first_bit
        if ends and len(s) and len(ends[-1]) and ends[-1][-1] == s[0]:
            ends[-1] = ends[-1][:-1]  # a run crossing the chunk boundary: join the halves
            s = s[1:]
            found -= 1
        starts.append(s)
        ends.append(e)
        found += len(s)
        if limit is not None and found >= limit:
            break
    if not starts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    s_all = np.concatenate(starts).astype(np.int64)
    e_all = np.concatenate(ends).astype(np.int64)
    if limit is not None:
        s_all, e_all = s_all[:limit], e_all[:limit]
    return s_all, e_all - s_all


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)


def bitmap_popcount(bitmap: bytes | memoryview, nbits: int) -> int:
    """How many of the first ``nbits`` bits are set (pages present), in bounded memory."""
    nbytes = nbits // 8
    total = 0
    for chunk_at in range(0, nbytes, BITMAP_CHUNK):
        chunk = np.frombuffer(bitmap[chunk_at : min(nbytes, chunk_at + BITMAP_CHUNK)], dtype=np.uint8)
        total += int(_POPCOUNT[chunk].sum())
    if nbits % 8:
        last = bitmap[nbytes] & ((1 << (nbits % 8)) - 1)
        total += int(_POPCOUNT[last])
    return total


def _bitmap_regions(ctx: KernelContext, first_page: int, starts: np.ndarray, lengths: np.ndarray) -> None:
    """Regions for the runs of set bits, clipped to the pages the file really holds."""
    src, warnings = ctx.src, ctx.warnings
    if first_page > src.size:
        warnings.add(f"bitmap header: FirstPage {first_page:#x} lies past the end of the file; nothing mapped")
        return
    stored = (src.size - first_page) // PAGE_SIZE
    before = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64) if len(lengths) else lengths
    total = int(lengths.sum()) if len(lengths) else 0
    if total > stored:
        warnings.add(
            f"the bitmap claims {total} pages but the file holds {stored} after FirstPage; "
            "pages past the end of the file are not mapped"
        )
    keep = int((before < stored).sum())
    granted = ctx.take_regions(keep, "bitmap runs")
    body = Node("physical memory", first_page, stored * PAGE_SIZE, f"{keep} runs")
    ctx.root.add(body)
    for i, (start, length, done) in enumerate(zip(starts.tolist(), lengths.tolist(), before.tolist(), strict=True)):
        if done >= stored or i >= granted:
            break
        pages = min(length, stored - done)
        offset = first_page + done * PAGE_SIZE
        ctx.memory.append(Region(offset, pages * PAGE_SIZE, start * PAGE_SIZE, "physical", f"run {i}"))
    body._children = ctx.lazy(lambda: (
        Node(r.name, r.file_offset, r.size, f"physical {r.vaddr:#x}") for r in ctx.memory
    ), len(ctx.memory))
