"""ZIP archives of crash uploads: one dump per member.

The standard library's :mod:`zipfile` reads the archive (stored, deflate, bzip2 and lzma members; CRC
checked at each member's end) through a seekable read-only file over the byte source. Before it is let
loose on the central directory, the end-of-central-directory record is read here and its entry count
checked against :data:`MAX_MEMBERS` and against the bytes the directory can hold (a hostile archive can
claim millions of entries, and zipfile would build an object for each). Members are never trusted for
their declared size: what they decompress to is counted while it streams (see ``cache.store``).
Directories, empty members and encrypted members are skipped with a line each.
"""

from __future__ import annotations

import io
import struct
import zipfile
from dataclasses import dataclass

from viewer.evidence.source import ByteSource

MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
MAX_MEMBERS = 256
_EOCD = b"PK\x05\x06"
_EOCD64_LOC = b"PK\x06\x07"


def probe(head: bytes) -> bool:
    return head.startswith(MAGICS)


class SourceFile(io.RawIOBase):
    """A read-only, seekable file object over a byte source (for :mod:`zipfile`)."""

    def __init__(self, src: ByteSource):
        self.src = src
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: self.src.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, buf) -> int:
        data = self.src.read(self.pos, len(buf))
        buf[: len(data)] = data
        self.pos += len(data)
        return len(data)

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = max(0, self.src.size - self.pos)
        data = self.src.read(self.pos, n)
        self.pos += len(data)
        return data


@dataclass
class Member:
    name: str
    info: zipfile.ZipInfo


def declared_entries(src: ByteSource) -> int | None:
    """The entry count of the end-of-central-directory record (zip64's when present); None without one."""
    tail_at = max(0, src.size - (22 + 0xFFFF))
    tail = src.read(tail_at, src.size - tail_at)
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        return None
    total = struct.unpack_from("<H", tail, at + 10)[0]
    loc = at - 20
    if total == 0xFFFF and loc >= 0 and tail[loc:loc + 4] == _EOCD64_LOC:
        eocd64_at = struct.unpack_from("<Q", tail, loc + 8)[0]
        rec = src.read(eocd64_at, 56)
        if len(rec) == 56 and rec[:4] == b"PK\x06\x06":
            total = struct.unpack_from("<Q", rec, 32)[0]
    return total


def members(src: ByteSource, warnings: list[str]) -> tuple[zipfile.ZipFile, list[Member]] | None:
    """The archive and its dump members; None (and a warning) when it cannot be read as a ZIP."""
    total = declared_entries(src)
    if total is None:
        warnings.append("zip: no end-of-central-directory record (a truncated or damaged archive); "
                        "not opened as an archive")
        return None
    if total > MAX_MEMBERS or total * 46 > src.size:
        warnings.append(f"zip: the archive claims {total} members (at most {MAX_MEMBERS} are opened, and the "
                        "file cannot hold that many); not opened as an archive")
        return None
    try:
        zf = zipfile.ZipFile(SourceFile(src))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, struct.error,
            NotImplementedError, UnicodeDecodeError) as exc:
        warnings.append(f"zip: the archive cannot be read ({type(exc).__name__}: {exc}); not opened as an archive")
        return None
    out: list[Member] = []
    seen: set[str] = set()
    for info in infos[:MAX_MEMBERS]:
        name = info.filename
        if info.is_dir():
            continue
        if info.flag_bits & 0x1:
            warnings.append(f"zip: member {name!r} is encrypted; not opened")
            continue
        if name in seen:
            warnings.append(f"zip: member name {name!r} repeats; only its first entry is opened")
            continue
        seen.add(name)
        out.append(Member(name, info))
    return zf, out
