"""Read-only access to an evidence file — one that may change on disk while it is open.

Why pread for reads and searches: dumps are several GB, and the file may be truncated or rewritten by
something else while it is open (a dump still being written, a copy tool, an attacker). Touching a page
of a memory mapping past the file's *current* end kills the process with SIGBUS, which Python cannot
catch, and the window would die with every tab. ``os.pread`` on the descriptor kept open instead just
returns fewer bytes: :meth:`ByteSource.read` and :meth:`ByteSource.find` never touch the mapping, so
they survive any change. Cost (256 MiB, see the docstrings): large reads are as fast as through the
mapping (faster here), a 16-byte read is one system call (~2 µs), a search over the whole file is the
same speed in 4 MiB pieces — and no page stays resident in this process.

The mapping (``ACCESS_READ``, opened ``O_RDONLY``: no code path can write to evidence) is kept for
:meth:`ByteSource.view` of large ranges only — the zero-copy view the regex search and the entropy
fallback use — and is created on the first such call. Each view is preceded by a size check (one
``fstat``); a view no larger than :data:`COPY_VIEW` is a copy made with ``pread`` instead, which cannot
fault at all. What remains: a caller that holds a large view while the file shrinks under it.

When a change is noticed — a read comes back short, or ``fstat`` shows another size or modification
time — the source raises :class:`EvidenceChanged` (an :class:`EvidenceError`, one clear line) from then
on: the bytes are no longer those that were opened. :meth:`ByteSource.changed` checks on request,
:meth:`ByteSource.rehash` re-hashes what is on disk now. Hashes are taken through the descriptor that was
opened, so a file replaced at the same path (a rename) is not mistaken for the evidence.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import stat
import threading
import weakref
from collections.abc import Callable
from pathlib import Path

from viewer.evidence.errors import EvidenceError

HASH_CHUNK = 8 * 1024 * 1024
FIND_CHUNK = 4 * 1024 * 1024  # searched piece by piece through pread (measured: as fast as mmap.find)
COPY_VIEW = 4 * 1024 * 1024  # views up to this size are pread copies; larger ones share the mapping
MAX_PREAD = 0x7FFFF000  # Linux returns at most this much per read call
RELEASE_AFTER = 1024 * 1024  # reads and searches this long check the file's size and time first (fstat)


class HashCancelled(Exception):
    """The examiner cancelled hashing (progress callback returned False)."""


def open_read_only(path: str | os.PathLike[str] | None) -> int | None:
    """A read-only descriptor of ``path`` for a worker's own ``pread`` loop (not inherited by children);
    None when there is no path or it cannot be opened — the caller then reads through its view."""
    if path is None:
        return None
    try:
        return os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None


class EvidenceChanged(EvidenceError):
    """The evidence file changed on disk while it was open (shrank, grew or was rewritten).

    Raised by every read, search, view and hash once the change is noticed: what is there now is no
    longer the evidence that was opened. ``str()`` is one line for the examiner; ``opened_size`` and
    ``current_size`` say what happened. Re-check the hash (:meth:`ByteSource.rehash`) and re-open it.
    """

    def __init__(self, path: Path, opened_size: int, current_size: int | None, detail: str = ""):
        self.path, self.opened_size, self.current_size = path, opened_size, current_size
        now = "is gone" if current_size is None else f"{opened_size} -> {current_size} bytes"
        super().__init__(f"{path}: the evidence file changed on disk while it was open ({now}{detail}); "
                         "its bytes are no longer those that were opened: re-check its SHA-256 and re-open it")


class ByteSource:
    """A read-only view of one evidence file, safe against the file changing under it.

    Reads outside the file (as it was opened) are clipped, never raised: parsers check what they got
    against what they asked for and turn a short read into a warning. A read the file can no longer
    satisfy because it changed raises :class:`EvidenceChanged`.
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
        except BaseException:
            os.close(fd)
            raise
        self._fd: int | None = fd
        self._closer = weakref.finalize(self, os.close, fd)  # the descriptor goes with the object
        self.size = st.st_size
        self._mtime_ns = st.st_mtime_ns
        self._changed: EvidenceChanged | None = None
        self._map: mmap.mmap | None = None
        self._view: memoryview | None = None
        self._map_lock = threading.Lock()
        self._sha256: str | None = None

    # -- change detection ------------------------------------------------------------------------
    def _descriptor(self) -> int:
        if self._changed is not None:
            raise self._changed
        if self._fd is None:
            raise EvidenceError(f"{self.path}: the evidence file was closed")
        return self._fd

    def _noticed(self, current_size: int | None, detail: str = "") -> EvidenceChanged:
        if self._changed is None:
            self._changed = EvidenceChanged(self.path, self.size, current_size, detail)
        return self._changed

    def changed(self) -> str | None:
        """Whether the file changed since it was opened (one ``fstat``): None, or the one-line warning.
        Once changed, the source stays changed: every later read raises EvidenceChanged."""
        if self._changed is None and self._fd is not None:
            st = os.fstat(self._fd)
            if st.st_size != self.size:
                self._noticed(st.st_size)
            elif st.st_mtime_ns != self._mtime_ns:
                self._noticed(st.st_size, ", rewritten in place")
        return None if self._changed is None else str(self._changed)

    def check(self) -> None:
        """Raise EvidenceChanged when the file changed since it was opened (see :meth:`changed`)."""
        if self.changed() is not None:
            raise self._changed  # type: ignore[misc]

    # -- reading ---------------------------------------------------------------------------------
    def _pread(self, fd: int, offset: int, n: int) -> bytes:
        """Exactly ``n`` bytes at ``offset`` (within the size the file had when opened), or
        EvidenceChanged: a regular file returns fewer bytes only past its current end."""
        data = os.pread(fd, min(n, MAX_PREAD), offset)
        if len(data) < n:
            parts, got = [data], len(data)
            while got < n:
                more = os.pread(fd, min(n - got, MAX_PREAD), offset + got)
                if not more:
                    raise self._noticed(os.fstat(fd).st_size)
                parts.append(more)
                got += len(more)
            data = b"".join(parts)
        return data

    def read(self, offset: int, length: int) -> bytes:
        """Bytes at [offset, offset+length), clipped to the file (may be shorter, or empty).

        One ``pread``: never touches the mapping, so a file that shrank gives EvidenceChanged, not SIGBUS.
        A read of :data:`RELEASE_AFTER` bytes or more (the scanner's) also checks size and modification
        time first (one ``fstat``, nothing next to copying a MiB); small reads (the hex view's, the
        parsers') are not checked, beyond the short read that a shrunken file gives."""
        if offset < 0 or length <= 0 or offset >= self.size:
            return b""
        fd = self._descriptor()
        n = min(self.size, offset + length) - offset
        if n >= RELEASE_AFTER:
            self.check()
        return self._pread(fd, offset, n)

    def view(self, offset: int = 0, length: int | None = None) -> memoryview:
        """A read-only view of part of the file, clipped to the file.

        Up to :data:`COPY_VIEW` bytes: a copy (pread). Larger: zero-copy, from the mapping, after a
        check that the file still has its size — the caller must not hold it across a change."""
        if offset < 0:
            offset = 0
        offset = min(offset, self.size)
        end = self.size if length is None else min(self.size, offset + max(0, length))
        if end - offset <= COPY_VIEW:
            return memoryview(self.read(offset, end - offset))
        self._descriptor()
        self.check()
        return self._mapped()[offset:end]

    def _mapped(self) -> memoryview:
        with self._map_lock:
            if self._view is None:
                fd = self._descriptor()
                try:
                    self._map = mmap.mmap(fd, self.size, access=mmap.ACCESS_READ)
                except (OSError, ValueError) as exc:
                    raise EvidenceError(f"cannot map {self.path}: {exc}") from None
                self._view = memoryview(self._map)
            return self._view

    def available(self, offset: int) -> int:
        """How many bytes exist from ``offset`` to the end of the file."""
        return max(0, self.size - offset)

    def find(self, needle: bytes, start: int = 0, end: int | None = None) -> int:
        """First offset of ``needle`` in [start, end), or -1; searched in :data:`FIND_CHUNK` pieces read
        with ``pread`` into one reused buffer (no mapping: no SIGBUS, no resident pages)."""
        stop = self.size if end is None else min(self.size, end)
        start = max(0, start)
        n = len(needle)
        if not n or stop - start < n:
            return start if not n and start <= stop else -1
        fd = self._descriptor()
        if stop - start >= RELEASE_AFTER:
            self.check()
        buf = bytearray(min(FIND_CHUNK + n - 1, stop - start))
        mv = memoryview(buf)
        pos = start
        while pos + n <= stop:
            want = min(len(buf), stop - pos)
            got = os.preadv(fd, [mv[:want]], pos)
            if got < want:
                raise self._noticed(os.fstat(fd).st_size)
            at = buf.find(needle, 0, want)
            if at >= 0:
                return pos + at
            pos += want - n + 1
        return -1

    # -- integrity -------------------------------------------------------------------------------
    def _hash(self, fd: int, size: int | None, progress: Callable[[int, int], bool | None] | None) -> tuple[str, int]:
        """SHA-256 of the open file's first ``size`` bytes (None: to its current end) through ``pread``
        into one reused buffer (no mapping: a multi-GB hash leaves no resident pages); (hex, bytes read)."""
        digest = hashlib.sha256()
        buf = bytearray(HASH_CHUNK)
        mv = memoryview(buf)
        total = self.size if size is None else size
        done = 0
        while size is None or done < size:
            want = len(buf) if size is None else min(len(buf), size - done)
            n = os.preadv(fd, [mv[:want]], done)
            if not n:
                break
            digest.update(mv[:n])
            done += n
            if progress is not None and progress(done, max(total, done)) is False:
                raise HashCancelled()
        return digest.hexdigest(), done

    def sha256(self, progress: Callable[[int, int], bool | None] | None = None) -> str:
        """SHA-256 of the file as it was opened, streamed in large chunks and cached.

        Through the descriptor opened with the file (a file put at the same path since is not hashed),
        checked for a change before and after (EvidenceChanged). ``progress(done, total)`` is called per
        chunk; returning False cancels (HashCancelled).
        """
        if self._sha256 is None:
            fd = self._descriptor()
            self.check()
            digest, done = self._hash(fd, self.size, progress)
            if done != self.size:
                raise self._noticed(os.fstat(fd).st_size, f", {done} of {self.size} bytes hashed")
            self.check()
            self._sha256 = digest
        else:
            self.check()
        return self._sha256

    def fileno(self) -> int:
        """The descriptor the evidence was opened with (for a reader's own ``pread`` loop: the scan
        engine reads its chunks through it, so it hashes and scans the file that was opened, not one
        put at the same path since). Raises EvidenceChanged once a change was noticed."""
        return self._descriptor()

    @property
    def known_sha256(self) -> str | None:
        """The SHA-256 when it is already known (computed or adopted), without reading anything."""
        return self._sha256

    def adopt_sha256(self, digest: str) -> None:
        """Record the SHA-256 a caller computed over every byte of this source, in order, read through
        :meth:`fileno` (the scan engine's first pass), after checking that the file did not change
        meanwhile; :meth:`sha256` then returns it without reading the file again."""
        self.check()
        if self._sha256 is None:
            self._sha256 = digest

    def rehash(self, progress: Callable[[int, int], bool | None] | None = None) -> str:
        """SHA-256 of what the opened file holds *now*, whatever its size: to re-check the evidence on
        request (after EvidenceChanged, or before handing it over). Never cached; never raises
        EvidenceChanged — comparing it with the recorded hash is the point."""
        if self._fd is None:
            raise EvidenceError(f"{self.path}: the evidence file was closed")
        return self._hash(self._fd, None, progress)[0]

    def close(self) -> None:
        """Close the file. Views still held elsewhere keep the mapping alive until they are dropped."""
        self._fd = None
        self._closer()
        try:
            if self._view is not None:
                self._view.release()
            if self._map is not None:
                self._map.close()
        except BufferError:
            return  # a caller still holds a slice; the mapping closes when it is garbage-collected
        self._map = self._view = None

    def __enter__(self) -> ByteSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
