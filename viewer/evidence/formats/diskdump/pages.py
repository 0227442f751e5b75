"""The decompressed view of a kdump-compressed vmcore, page by page on demand.

Why a view instead of decompressing the whole file: a vmcore is as large as the machine's memory (tens
of GB); the examiner scrolls it and the scanner reads it once. :class:`PagedSource` offers the byte
source interface (``read``, ``view``, ``find``, ``size``, ``sha256``, ...) over a *content* laid out as

    [0, prefix_end)          the file's own bytes: headers, bitmaps, page descriptors (offsets unchanged)
    prefix_end + i*page      dumped page i (the i-th bit set in bitmap 2), decompressed

so headers keep their file offsets and every page has one place. A read finds the page's descriptor
(24 bytes at a computed offset — no table is built), reads its compressed bytes, decompresses them
(output bounded to one page whatever the input claims) and keeps it in an LRU of :data:`CACHE_PAGES`
pages: memory is O(1) in the size of the vmcore. A damaged page (offset or size outside the file, bad
compressed data, a codec not installed) reads as zeros and is counted in ``damaged``.

``sha256`` is the vmcore *file's* hash (the evidence); ``plain_path`` is None: a reader that wants the
content must read through this source, never re-open the file.
"""

from __future__ import annotations

import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable

from viewer.evidence.formats.diskdump.structs import (
    DUMP_DH_COMPRESSED_LZO,
    DUMP_DH_COMPRESSED_SNAPPY,
    DUMP_DH_COMPRESSED_ZLIB,
    DUMP_DH_COMPRESSED_ZSTD,
    PAGE_DESC_SIZE,
    SNAPPY_PREAMBLE,
)
from viewer.evidence.source import FIND_CHUNK, ByteSource

CACHE_PAGES = 256
_DESC = struct.Struct("<qIIQ")


def _zstd(data: bytes, page: int) -> bytes:
    import zstandard

    return zstandard.ZstdDecompressor().decompress(data, max_output_size=page)


def _lzo(data: bytes, page: int) -> bytes:
    import lzo  # python-lzo: optional (no Debian 12 QEMU writes lzo); a missing codec is a damaged page

    return lzo.decompress(data, False, page)


def _snappy(data: bytes, page: int) -> bytes:
    """A raw snappy block: its length preamble (a base-128 varint) is checked against the page first,
    because cramjam allocates whatever the preamble claims (4 GiB for five bytes) before it looks."""
    import cramjam  # optional, as lzo

    claimed = SNAPPY_PREAMBLE.parse(data[:5])
    if claimed != page:
        raise ValueError(f"snappy block claims {claimed} bytes")
    return bytes(cramjam.snappy.decompress_raw(data))


class PagedSource:
    plain_path = None

    def __init__(self, file: ByteSource, prefix_end: int, page_size: int, pd_offset: int, pages: int,
                 warnings: list[str] | None = None):
        self.file = file
        self.path = file.path
        self.prefix_end = prefix_end
        self.page_size = page_size
        self.pd_offset = pd_offset
        self.pages = pages
        self.size = prefix_end + pages * page_size
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.damaged: dict[int, str] = {}  # page index -> why (the first 1000)
        self.warnings = warnings  # the dump's warnings: a damaged page is added when it is first read
        self.codecs: dict[int, Callable[[bytes, int], bytes]] = {
            DUMP_DH_COMPRESSED_ZLIB: self._zlib, DUMP_DH_COMPRESSED_ZSTD: _zstd,
            DUMP_DH_COMPRESSED_LZO: _lzo, DUMP_DH_COMPRESSED_SNAPPY: _snappy,
        }

    @staticmethod
    def _zlib(data: bytes, page: int) -> bytes:
        dec = zlib.decompressobj()
        return dec.decompress(data, page)

    # -- pages -----------------------------------------------------------------------------------
    def descriptor(self, index: int) -> tuple[int, int, int, int] | None:
        raw = self.file.read(self.pd_offset + index * PAGE_DESC_SIZE, PAGE_DESC_SIZE)
        return _DESC.unpack(raw) if len(raw) == PAGE_DESC_SIZE else None

    def page(self, index: int) -> bytes:
        with self._lock:
            hit = self._cache.get(index)
            if hit is not None:
                self._cache.move_to_end(index)
                return hit
        data = self._decode(index)
        with self._lock:
            self._cache[index] = data
            if len(self._cache) > CACHE_PAGES:
                self._cache.popitem(last=False)
        return data

    def _damaged(self, index: int, why: str) -> bytes:
        if len(self.damaged) < 1000 and index not in self.damaged:
            self.damaged[index] = why
            if self.warnings is not None and hasattr(self.warnings, "add"):
                self.warnings.add(f"page {index} (content offset {self.prefix_end + index * self.page_size:#x}) "
                                  f"reads as zeros: {why}")
        return bytes(self.page_size)

    def _decode(self, index: int) -> bytes:
        page = self.page_size
        desc = self.descriptor(index)
        if desc is None:
            return self._damaged(index, "its descriptor is past the end of the file")
        offset, size, flags, _page_flags = desc
        if offset < 0 or size > page or offset + size > self.file.size:
            return self._damaged(index, f"its data ({size} bytes at {offset:#x}) lies outside the file "
                                 "or is larger than a page")
        raw = self.file.read(offset, size)
        codec = next((fn for bit, fn in self.codecs.items() if flags & bit), None)
        if codec is None:
            if size != page:
                return self._damaged(index, f"an uncompressed page of {size} bytes")
            return raw
        try:
            out = codec(raw, page)
        except ImportError:
            return self._damaged(index, f"its codec (flags {flags:#x}) is not installed")
        except Exception as exc:  # noqa: BLE001 - any codec error: this page is damaged, the rest reads
            return self._damaged(index, f"it does not decompress ({type(exc).__name__})")
        if len(out) != page:
            return self._damaged(index, f"it decompresses to {len(out)} bytes, not {page}")
        return out

    # -- the byte source interface ---------------------------------------------------------------
    def read(self, offset: int, length: int) -> bytes:
        if offset < 0 or length <= 0 or offset >= self.size:
            return b""
        end = min(self.size, offset + length)
        parts = []
        if offset < self.prefix_end:
            parts.append(self.file.read(offset, min(end, self.prefix_end) - offset))
            offset = self.prefix_end
        page = self.page_size
        while offset < end:
            i, within = divmod(offset - self.prefix_end, page)
            take = min(page - within, end - offset)
            data = self.page(i)
            parts.append(data[within:within + take])
            offset += take
        return b"".join(parts)

    def view(self, offset: int = 0, length: int | None = None) -> memoryview:
        offset = max(0, min(offset, self.size))
        end = self.size if length is None else min(self.size, offset + max(0, length))
        return memoryview(self.read(offset, end - offset))

    def available(self, offset: int) -> int:
        return max(0, self.size - offset)

    def find(self, needle: bytes, start: int = 0, end: int | None = None) -> int:
        stop = self.size if end is None else min(self.size, end)
        n = len(needle)
        pos = max(0, start)
        if not n:
            return pos if pos <= stop else -1
        while pos + n <= stop:
            want = min(FIND_CHUNK + n - 1, stop - pos)
            at = self.read(pos, want).find(needle)
            if at >= 0:
                return pos + at
            pos += want - n + 1
        return -1

    def sha256(self, progress=None) -> str:
        return self.file.sha256(progress)

    def rehash(self, progress=None) -> str:
        return self.file.rehash(progress)

    def changed(self) -> str | None:
        return self.file.changed()

    def check(self) -> None:
        self.file.check()

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> PagedSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
