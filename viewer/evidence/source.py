"""Read-only access to an evidence file.

Why mmap: dumps are several GB and the hex view, the parsers and the scanner all need random access
without copying. The file is opened ``O_RDONLY`` and mapped with ``ACCESS_READ`` so that no code path can
write to evidence, even by mistake. Empty files cannot be mapped; they get an empty view instead.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import stat
from collections.abc import Callable
from pathlib import Path

from viewer.evidence.errors import EvidenceError

HASH_CHUNK = 8 * 1024 * 1024
RELEASE_AFTER = 1024 * 1024  # reads and searches this long give their pages back (see ByteSource._release)


class HashCancelled(Exception):
    """The examiner cancelled hashing (progress callback returned False)."""


class ByteSource:
    """A read-only, memory-mapped view of one evidence file.

    Reads outside the file are clipped, never raised: parsers check what they got against what they
    asked for and turn a short read into a warning.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        # O_NONBLOCK: opening a FIFO or a device must never hang; non-files are refused below.
        flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(self.path, flags)
        except OSError as exc:
            raise EvidenceError(f"cannot open {self.path}: {exc.strerror or exc}") from None
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise EvidenceError(f"cannot open {self.path}: it is a directory")
            if not stat.S_ISREG(st.st_mode):
                raise EvidenceError(f"cannot open {self.path}: not a regular file")
            self.size = st.st_size
            self._mtime_ns = st.st_mtime_ns
            if self.size == 0:
                self._map: mmap.mmap | None = None
                self._view = memoryview(b"")
            else:
                try:
                    self._map = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
                except (OSError, ValueError) as exc:
                    raise EvidenceError(f"cannot map {self.path}: {exc}") from None
                self._view = memoryview(self._map)
        finally:
            os.close(fd)
        self._sha256: str | None = None

    # -- reading ---------------------------------------------------------------------------------
    def read(self, offset: int, length: int) -> bytes:
        """Bytes at [offset, offset+length), clipped to the file (may be shorter, or empty)."""
        if offset < 0 or length <= 0 or offset >= self.size:
            return b""
        end = min(self.size, offset + length)
        data = bytes(self._view[offset:end])
        if end - offset >= RELEASE_AFTER:
            self._release(offset, end)
        return data

    def view(self, offset: int = 0, length: int | None = None) -> memoryview:
        """A zero-copy, read-only view of part of the file, clipped to the file."""
        if offset < 0:
            offset = 0
        end = self.size if length is None else min(self.size, offset + max(0, length))
        return self._view[min(offset, self.size) : end]

    def available(self, offset: int) -> int:
        """How many bytes exist from ``offset`` to the end of the file."""
        return max(0, self.size - offset)

    def find(self, needle: bytes, start: int = 0, end: int | None = None) -> int:
        if self._map is None:
            return -1
        stop = self.size if end is None else min(self.size, end)
        at = self._map.find(needle, start, stop)
        searched_to = stop if at < 0 else at + len(needle)
        if searched_to - start >= RELEASE_AFTER:
            self._release(max(0, start), searched_to)
        return at

    def _release(self, start: int, end: int) -> None:
        """Drop the mapping's pages in [start, end) from this process (``MADV_DONTNEED``).

        Why: every page a read or a search touches stays resident in the mapping and counts as this
        process's memory; a scanner pass over a 4 GiB dump would show 4 GiB "used". The pages stay in the
        page cache (the file is mapped read-only and shared), so a later access is a cheap minor fault, and
        zero-copy views keep working: they fault the pages back in. Large reads and searches only
        (``RELEASE_AFTER``): small ones are the hex view's and parsers' working set.
        """
        if self._map is None or not hasattr(self._map, "madvise") or not hasattr(mmap, "MADV_DONTNEED"):
            return
        lo = start - start % mmap.PAGESIZE
        try:
            self._map.madvise(mmap.MADV_DONTNEED, lo, min(self.size, end) - lo)
        except (OSError, ValueError):
            pass  # only a memory-use optimisation

    # -- integrity -------------------------------------------------------------------------------
    def sha256(self, progress: Callable[[int, int], bool | None] | None = None) -> str:
        """SHA-256 of the whole file, streamed in large chunks and cached.

        Read through a plain file descriptor into one reused buffer rather than through the mapping:
        touching every page of a multi-GB mapping would make them all count as this process's memory.
        ``progress(done, total)`` is called per chunk; returning False cancels (HashCancelled).
        """
        if self._sha256 is None:
            digest = hashlib.sha256()
            buf = bytearray(HASH_CHUNK)
            done = 0
            try:
                fh = open(self.path, "rb", buffering=0)  # noqa: SIM115 - closed below
            except OSError as exc:
                raise EvidenceError(f"cannot read {self.path}: {exc.strerror or exc}") from None
            with fh:
                while done < self.size:
                    n = fh.readinto(buf)
                    if not n:
                        break
                    n = min(n, self.size - done)
                    digest.update(memoryview(buf)[:n])
                    done += n
                    if progress is not None and progress(done, self.size) is False:
                        raise HashCancelled()
            if done != self.size:
                raise EvidenceError(f"{self.path} changed size while being hashed ({done} of {self.size} bytes)")
            self._sha256 = digest.hexdigest()
        return self._sha256

    def close(self) -> None:
        """Unmap the file. Views still held elsewhere keep the mapping alive until they are dropped."""
        try:
            self._view.release()
            if self._map is not None:
                self._map.close()
        except BufferError:
            return  # a caller still holds a slice; the mapping closes when it is garbage-collected
        self._map = None

    def __enter__(self) -> ByteSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
