"""The decompressed-content cache: content-addressed, read-only, verified by hash on every reuse.

Layout under the cache folder (``$EVIDENCE_VIEWER_CACHE_DIR``, else ``$XDG_CACHE_HOME/evidence-viewer``,
else ``~/.cache/evidence-viewer``; :func:`set_cache_dir` and the command line's ``--cache-dir`` move it)::

    content/<sha256>          the bytes of one decompressed layer, mode 0444, named by their own SHA-256
    index/<key>.json          which content a step of a container gives: {"sha256", "size", "step"}

``key`` is the SHA-256 of the parent's SHA-256 and the step (``gzip``, ``zip:member/name``,
``apport:CoreDump``), so the same container opened again finds its content without decompressing. The
index is a hint, never trusted: the content file is re-hashed and compared with the name it has before
it is used (a cache someone edited is decompressed again, with a warning). New content is written to a
temporary file in the same folder while it is hashed and counted, then renamed into place: a crash or a
bomb leaves no half file under a content name.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from viewer.evidence.containers.streams import Reader
from viewer.evidence.errors import EvidenceError

WRITE_CHUNK = 4 * 1024 * 1024
#: The default limit of what one open may decompress, in all layers together (a bomb stops here):
#: RATIO times the evidence file, at least FLOOR, at most DEFAULT_LIMIT — cores of sparse processes
#: compress 50-500x; a bomb's 10^4-10^6x stops after a bounded amount of work and disk. An explicit
#: limit (``--max-decompressed``, ``EVIDENCE_VIEWER_MAX_DECOMPRESSED``) replaces the rule.
DEFAULT_LIMIT = 64 * 1024**3
RATIO = 2000
FLOOR = 1024**3
#: Decompression also stops when the cache's filesystem would keep less than this free.
MIN_FREE = 512 * 1024 * 1024

_cache_dir: Path | None = None
_limit: int | None = None


def set_cache_dir(path: str | os.PathLike[str] | None) -> None:
    """Move the cache (the window's setting, ``--cache-dir``); None goes back to the default."""
    global _cache_dir
    _cache_dir = Path(path) if path else None


def cache_dir() -> Path:
    if _cache_dir is not None:
        return _cache_dir
    env = os.environ.get("EVIDENCE_VIEWER_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "evidence-viewer"


def set_limit(limit: int | None) -> None:
    """The most one open may decompress (``--max-decompressed``); None: the default or the environment."""
    global _limit
    _limit = limit


def limit(evidence_size: int | None = None) -> int:
    """The most one open of an evidence file of ``evidence_size`` bytes may decompress."""
    if _limit is not None:
        return _limit
    env = os.environ.get("EVIDENCE_VIEWER_MAX_DECOMPRESSED")
    if env:
        try:
            return parse_size(env)
        except ValueError:
            pass
    if evidence_size is None:
        return DEFAULT_LIMIT
    return min(DEFAULT_LIMIT, max(FLOOR, RATIO * evidence_size))


def parse_size(text: str) -> int:
    """``"512M"``, ``"64G"``, ``"1000000"`` as bytes (K/M/G/T are powers of 1024)."""
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    mult = 1
    if text and text[-1] in "KMGT":
        mult = 1024 ** ("KMGT".index(text[-1]) + 1)
        text = text[:-1]
    value = int(float(text) * mult)
    if value <= 0:
        raise ValueError("a size must be positive")
    return value


class TooLarge(EvidenceError):
    """Decompressing would pass the size limit: a decompression bomb, or a limit set too low."""


class Cancelled(EvidenceError):
    """The examiner cancelled the decompression; nothing was kept."""


@dataclass
class Allowance:
    """What one open may still decompress, shared by every layer and member (a ZIP of many bombs, a
    nested chain, all count against it)."""

    left: int
    total: int

    @classmethod
    def fresh(cls, evidence_size: int | None = None) -> Allowance:
        n = limit(evidence_size)
        return cls(n, n)


@dataclass
class Content:
    path: Path
    sha256: str
    size: int
    reused: bool


SPARSE_BLOCK = 64 * 1024
_ZEROS = bytes(SPARSE_BLOCK)


def _write_sparse(fd: int, chunk: bytes, at: int) -> None:
    """Write ``chunk`` at ``at``, leaving holes where a 64 KiB block is all zeros: cores are mostly
    zeros (reserved, untouched memory), and a hole costs no disk and no write time. Reads are the same.
    (Blocks are compared as bytes slices: a memoryview comparison is fifty times slower.)"""
    n = len(chunk)
    blocks = range(0, n, SPARSE_BLOCK)
    zero = [chunk[i:i + SPARSE_BLOCK] == _ZEROS[: min(SPARSE_BLOCK, n - i)] for i in blocks]
    view = memoryview(chunk)
    i = 0
    while i < len(zero):
        if zero[i]:
            i += 1
            continue
        j = i
        while j < len(zero) and not zero[j]:
            j += 1
        start, end = i * SPARSE_BLOCK, min(n, j * SPARSE_BLOCK)
        done = 0
        while done < end - start:
            done += os.pwrite(fd, view[start + done:end], at + start + done)
        i = j


def _check_free(folder: Path, what: str) -> None:
    try:
        st = os.statvfs(folder)
    except OSError:
        return
    if st.f_bavail * st.f_frsize < MIN_FREE:
        raise TooLarge(f"{what}: the cache's disk ({folder}) is almost full; stopped (move the cache with "
                       "--cache-dir)")


def _index_key(parent_sha256: str, step: str) -> str:
    return hashlib.sha256(f"{parent_sha256}\0{step}".encode("utf-8", "surrogateescape")).hexdigest()


def hash_file(path: Path, check: Callable[[], None] | None = None) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(WRITE_CHUNK):
            h.update(chunk)
            if check is not None:
                check()
    return h.hexdigest()


class ContentCache:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else cache_dir()
        self.content = self.root / "content"
        self.index = self.root / "index"

    def _ensure(self) -> None:
        try:
            self.content.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.index.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise EvidenceError(f"cannot use the decompression cache {self.root}: {exc.strerror or exc} "
                                "(move it with --cache-dir)") from None

    def lookup(self, parent_sha256: str, step: str, warn: Callable[[str], None],
               check: Callable[[], None] | None = None) -> Content | None:
        """The cached content of ``step`` of the parent, re-hashed; None when absent or not intact."""
        entry = self.index / f"{_index_key(parent_sha256, step)}.json"
        try:
            with open(entry, "rb") as f:
                data = json.loads(f.read(4096))
            sha, size = str(data["sha256"]), int(data["size"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            return None
        path = self.content / sha
        try:
            if not path.is_file() or path.stat().st_size != size:
                return None
            if hash_file(path, check) != sha:
                warn(f"the cached content {path} does not match its SHA-256 (the cache was changed); "
                     "decompressed again")
                path.unlink(missing_ok=True)
                return None
        except OSError:
            return None
        return Content(path, sha, size, True)

    def store(self, parent_sha256: str, step: str, reader: Reader, allowance: Allowance, what: str,
              check: Callable[[], None] | None = None) -> tuple[Content, Exception | None]:
        """Stream ``reader`` into the cache, hashing and counting; the content and the error that ended
        the stream early (a corrupt tail: what came before is kept), or TooLarge / Cancelled raised."""
        self._ensure()
        fd, tmp = tempfile.mkstemp(prefix=".part-", dir=self.content)
        h = hashlib.sha256()
        size = 0
        failure: Exception | None = None
        pos = 0
        try:
            with os.fdopen(fd, "wb", buffering=0) as out:
                while True:
                    if check is not None:
                        check()
                    try:
                        chunk = reader.read(min(WRITE_CHUNK, allowance.left + 1))
                    except EvidenceError:
                        raise
                    except Exception as exc:  # noqa: BLE001 - a corrupt stream keeps what came before it
                        failure = exc
                        break
                    if not chunk:
                        break
                    if len(chunk) > allowance.left:
                        raise TooLarge(
                            f"{what}: decompresses to more than {allowance.total} bytes (the limit of one open: "
                            f"{RATIO} times the file, at least {FLOOR >> 30} GiB, or --max-decompressed / "
                            "EVIDENCE_VIEWER_MAX_DECOMPRESSED); stopped — a decompression bomb, or raise the limit")
                    allowance.left -= len(chunk)
                    if size // (256 * 1024 * 1024) != (size + len(chunk)) // (256 * 1024 * 1024):
                        _check_free(self.content, what)
                    _write_sparse(out.fileno(), chunk, pos)
                    pos += len(chunk)
                    h.update(chunk)
                    size += len(chunk)
                os.ftruncate(out.fileno(), size)  # a content ending in zeros: its holes count
            sha = h.hexdigest()
            final = self._publish(tmp, sha)
        except BaseException:
            _remove(tmp)
            raise
        if failure is None:  # a stream that failed is not indexed: the next open reports it again
            self._remember(parent_sha256, step, sha, size)
        return Content(final, sha, size, False), failure

    def _publish(self, tmp: str, sha: str) -> Path:
        """A finished part file renamed to its content name, read-only: a name is only ever given to
        complete content (a kill before this leaves a ``.part-`` file, never a wrong entry)."""
        final = self.content / sha
        os.chmod(tmp, 0o444)
        os.replace(tmp, final)
        return final

    def _remember(self, parent_sha256: str, step: str, sha: str, size: int) -> None:
        """The index entry parent + step -> content (atomic; a cache that cannot be written is only slower)."""
        entry = self.index / f"{_index_key(parent_sha256, step)}.json"
        part = entry.with_suffix(".tmp")
        try:
            part.write_text(json.dumps({"sha256": sha, "size": size, "step": step}))
            os.replace(part, entry)
        except OSError:
            pass

    def store_built(self, parent_sha256: str, step: str, build: Callable[[int], None], what: str,
                    check: Callable[[], None] | None = None) -> Content:
        """Content written by ``build(fd)`` at any offsets (a layout rebuilt from records, e.g. kdump's
        flattened format), then hashed and renamed into place; ``build`` enforces its own bounds."""
        self._ensure()
        fd, tmp = tempfile.mkstemp(prefix=".part-", dir=self.content)
        try:
            try:
                build(fd)
            finally:
                os.close(fd)
            sha = hash_file(Path(tmp), check)
            size = os.path.getsize(tmp)
            final = self._publish(tmp, sha)
        except BaseException:
            _remove(tmp)
            raise
        self._remember(parent_sha256, step, sha, size)
        return Content(final, sha, size, False)


def _remove(path: str) -> None:
    """A part file of a store that failed, removed where it still exists."""
    try:
        os.unlink(path)
    except OSError:
        pass
