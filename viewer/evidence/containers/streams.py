"""Streaming decompression: every codec as a reader whose ``read(n)`` never returns more than ``n`` bytes.

Why readers bounded per call: a decompression bomb (a few KB that inflate to terabytes) must be stopped
while it streams, by counting what comes out, never by trusting a size the container declares. Each
reader asks its codec for at most ``n`` output bytes (``max_length``), so memory stays at one chunk
whatever the ratio. Concatenated streams (``cat a.gz b.gz``, multi-frame zstd, multi-stream xz/bzip2)
are read to the end, as the command-line tools do; trailing bytes that do not start a new stream end
the content with a warning.

Detection is by magic bytes only (:func:`codec_of`).
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable
from typing import Protocol

from viewer.evidence.source import ByteSource

CHUNK = 1 << 20  # bytes read from the compressed input per call (the bindings' stream readers)
#: Input given to the standard library's decompressors at a time: what follows a stream's end is copied
#: once per stream, so thousands of tiny concatenated streams must not each copy a megabyte.
FEED = 32 * 1024


class Reader(Protocol):
    def read(self, n: int) -> bytes: ...


class CorruptStream(Exception):
    """The compressed stream is malformed or ends early; the content read so far is kept."""


#: (name, magic) — the first bytes of each stream format.
MAGICS: list[tuple[str, bytes]] = [
    ("gzip", b"\x1f\x8b\x08"),
    ("xz", b"\xfd7zXZ\x00"),
    ("zstd", b"\x28\xb5\x2f\xfd"),
    ("lz4", b"\x04\x22\x4d\x18"),
]


def codec_of(head: bytes) -> str | None:
    """The stream codec whose magic starts ``head`` (bzip2 needs its block or end-of-stream magic too)."""
    for name, magic in MAGICS:
        if head.startswith(magic):
            return name
    if len(head) >= 10 and head[:3] == b"BZh" and 0x31 <= head[3] <= 0x39 and head[4:10] in (
        b"1AY&SY", b"\x17rE8P\x90"
    ):
        return "bzip2"
    return None


class SourceReader:
    """Sequential reads of [start, end) of a byte source; ``pos`` is where the next read starts."""

    def __init__(self, src: ByteSource, start: int = 0, end: int | None = None,
                 on_read: Callable[[int], None] | None = None):
        self.src = src
        self.pos = start
        self.end = src.size if end is None else min(end, src.size)
        self.on_read = on_read

    def read(self, n: int) -> bytes:
        n = min(n, self.end - self.pos)
        if n <= 0:
            return b""
        data = self.src.read(self.pos, n)
        self.pos += len(data)
        if self.on_read is not None:
            self.on_read(self.pos)
        return data


class _Decompressing:
    """The common loop of the standard library's incremental decompressors (zlib, lzma, bz2)."""

    name = ""

    def __init__(self, inner: Reader):
        self.inner = inner
        self.dec = self._new()
        self.done = False
        self.trailing = 0  # bytes after the last stream that start no new stream (the caller warns)

    def _new(self):  # pragma: no cover - each codec overrides
        raise NotImplementedError

    def _needs_input(self) -> bool:
        return bool(self.dec.needs_input)

    def _feed(self, data: bytes, room: int) -> bytes:
        return self.dec.decompress(data, room)

    def _next_stream(self) -> None:
        """After a stream's end: start the next one (concatenated streams) or stop."""
        rest = self.dec.unused_data
        while len(rest) < 16:
            more = self.inner.read(FEED)
            if not more:
                break
            rest += more
        if not rest.strip(b"\0"):  # the end (gzip and tar writers may pad with zeros)
            while (more := self.inner.read(FEED)):
                if more.strip(b"\0"):
                    rest = more
                    break
            else:
                self.done = True
                return
        if codec_of(rest[:16] + b"\0" * 10) != self.name:
            self.trailing = len(rest)
            self.done = True
            return
        self.dec = self._new()
        self._pending = rest

    _pending = b""

    def read(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n and not self.done:
            if self.dec.eof:
                self._next_stream()
                continue
            data, self._pending = self._pending, b""
            if not data and self._needs_input():
                data = self.inner.read(FEED)
                if not data:
                    raise CorruptStream(f"{self.name}: the compressed stream ends before its end marker")
            try:
                out += self._feed(data, n - len(out))
            except (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError) as exc:
                raise CorruptStream(f"{self.name}: {exc}") from None
        return bytes(out)


class GzipReader(_Decompressing):
    name = "gzip"

    def _new(self):
        return zlib.decompressobj(wbits=31)

    def _needs_input(self) -> bool:
        return not self.dec.unconsumed_tail

    def _feed(self, data: bytes, room: int) -> bytes:
        return self.dec.decompress(self.dec.unconsumed_tail + data, room)


class XzReader(_Decompressing):
    name = "xz"

    def _new(self):
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ)


class Bzip2Reader(_Decompressing):
    name = "bzip2"

    def _new(self):
        return bz2.BZ2Decompressor()


class ZstdReader:
    """zstd through the ``zstandard`` binding's stream reader (every frame; output bounded per read)."""

    name = "zstd"

    def __init__(self, inner: Reader):
        import zstandard

        self._error = zstandard.ZstdError
        self.trailing = 0
        self.stream = zstandard.ZstdDecompressor().stream_reader(_FileLike(inner), read_size=CHUNK,
                                                                  read_across_frames=True)

    def read(self, n: int) -> bytes:
        try:
            return self.stream.read(n)
        except self._error as exc:
            raise CorruptStream(f"zstd: {exc}") from None


class Lz4Reader:
    """The lz4 frame format (``lz4 -f``, systemd-coredump's ``.lz4``) through the ``lz4`` binding."""

    name = "lz4"

    def __init__(self, inner: Reader):
        import lz4.frame

        self.trailing = 0
        self.stream = lz4.frame.LZ4FrameFile(_FileLike(inner), mode="rb")

    def read(self, n: int) -> bytes:
        try:
            return self.stream.read(n)
        except (RuntimeError, EOFError, OSError, ValueError) as exc:
            raise CorruptStream(f"lz4: {exc}") from None


class _FileLike:
    """A Reader as the minimal binary file object the bindings' stream readers want."""

    def __init__(self, inner: Reader):
        self.inner = inner

    def read(self, n: int = -1) -> bytes:
        return self.inner.read(CHUNK if n is None or n < 0 else n)

    def readinto(self, buf) -> int:
        data = self.inner.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return False

    def close(self) -> None:
        pass


READERS: dict[str, Callable[[Reader], Reader]] = {
    "gzip": GzipReader,
    "xz": XzReader,
    "bzip2": Bzip2Reader,
    "zstd": ZstdReader,
    "lz4": Lz4Reader,
}


class Peek:
    """A reader with its first bytes looked at in advance (to detect the next layer's magic)."""

    def __init__(self, inner: Reader, n: int = 64):
        self.inner = inner
        self.head = b""
        while len(self.head) < n:
            more = inner.read(n - len(self.head))
            if not more:
                break
            self.head += more
        self._buf = self.head

    def read(self, n: int) -> bytes:
        if self._buf:
            out, self._buf = self._buf[:n], self._buf[n:]
            return out
        return self.inner.read(n)
