"""The scan engine: every byte of the dump through the prefilter, every hit to its detector.

Shape (Orange3 style): :func:`scan_dump` is a plain function that takes a :class:`~viewer.tasks.TaskState`
for progress and cancel, so the GUI runs it in a worker thread and the CLI calls it directly.

How the file is walked:

* **Linearly, all of it.** Key material does not care about region boundaries and a corrupt dump's
  regions may not cover everything, so the engine scans the file from byte 0 to the end and attributes
  each finding to a region afterwards (``Dump.region_at`` / ``Dump.file_to_va``).
* **In chunks with overlap.** Chunk ``[s, e)`` is scanned as the buffer ``[s - L, e + L)`` where ``L``
  is the largest ``Pattern.max_len`` (and ``BlockDetector.block_overlap``); only hits that *start* in
  ``[s, e)`` belong to the chunk. A match straddling a boundary is therefore whole in the chunk where it
  starts and reported exactly once; the lead-in makes the leftmost/non-overlapping hit semantics of
  :mod:`.prefilter` independent of where boundaries fall.
* **Mapped in forked workers, read elsewhere.** A ``pread`` copy of a chunk costs about as much as
  hashing it (measured here: 2.2 GB/s against SHA-256's 1.5 GB/s), so the command line's forked workers
  scan views of a private read-only map of the file, no copy, and drop each chunk's pages from their
  resident set when done (``MADV_DONTNEED``: the page cache keeps them), and a forked child of its own
  hashes the file the same way while they scan (:class:`_MappedHash`). Memory stays flat at about
  ``(workers + 1) * chunk_size``. A map read past the end of a file that shrank is a SIGBUS, which
  Python cannot catch: here it kills a child, and the scan ends with what was scanned and a warning.
  Threads and the inline executor, which run in the caller (the window), read chunks with ``preadv``
  into reused buffers instead, and hash those very buffers in file order. Validators read their few
  bytes through the Dump's source (``pread``).
* **In parallel: forked processes for the CLI, threads in the GUI.** Two costs dominate: the prefilter
  (hyperscan, which releases the GIL inside ``hs_scan``; each thread has its own scratch) and the
  validation of hits, which is Python and OpenSSL work under the GIL (an RSA key check costs ~40 ms).
  Measured on 2 cores with tests/bench/bench_scan.py, default detectors: 2 GiB mixed image with 57
  planted keys, inline 615 MB/s, threads 783 MB/s, forked processes 1326 MB/s (256 MiB with 64 keys:
  81 / 88 / 126 MB/s — there validation dominates); on key-free data hyperscan alone runs at 2-3 GB/s and
  is memory-bandwidth bound, so neither threads nor processes gain much there (inline 2.5-3.1 GB/s,
  threads 2.2-3.2, processes 1.6-2.4 on a 1 GiB page-cached file). So ``executor="auto"`` forks
  (each worker re-opens the file by path; the compiled database and detectors are inherited, findings
  come back pickled) when that is safe — a single-threaded process without Qt, i.e. the CLI — and
  uses threads otherwise: forking a process that runs Qt or other threads can deadlock the child.

Secrets are radioactive: nothing here ever puts evidence bytes into a warning, an exception or a log.
A validator that raises is reported by detector, exception type, pattern and file offset only.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import mmap
import multiprocessing
import os
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from viewer.evidence import Dump
from viewer.evidence.model import content_path
from viewer.evidence.source import ByteSource
from viewer.scan.detector import Detector, Hit, Pattern, PostScanContext, View
from viewer.scan.finding import Confidence, Finding
from viewer.scan.prefilter import Prefilter, hyperscan_available
from viewer.tasks import TaskState, ensure

MiB = 1024 * 1024
DEFAULT_CHUNK = 64 * MiB
MAX_WORKERS = 8
MAX_ERROR_WARNINGS = 50

class SuppliedKey(Protocol):
    """What public-key matching needs of a supplied key (viewer.scan.publickeys.SuppliedKey)."""

    label: str
    key_id: str


@dataclass
class DetectorStats:
    hits: int = 0
    findings: int = 0
    errors: int = 0

    def to_json(self) -> dict[str, int]:
        return {"hits": self.hits, "findings": self.findings, "errors": self.errors}


@dataclass
class ScanStats:
    bytes_scanned: int = 0
    total_bytes: int = 0
    seconds: float = 0.0
    engine: str = ""
    executor: str = ""
    workers: int = 1
    chunk_size: int = DEFAULT_CHUNK
    chunks: int = 0
    detectors: dict[str, DetectorStats] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # seconds per stage (read, hash, prefilter, validate:<detector>, block:<detector>, post:<detector>,
    # merge, attribute): worker stages summed over the workers, so they may add up to more than the wall
    stages: dict[str, float] = field(default_factory=dict)
    post_seconds: float = 0.0  # wall time of the post-scan steps (after ``seconds`` of the first pass)
    sha256: str | None = None  # the file's SHA-256 when the first pass computed it (every byte, in order)
    # bytes read from the file after the first pass (post-scan steps, with their names); 0 = read once
    reread: dict[str, int] = field(default_factory=dict)

    def add_stage(self, name: str, seconds: float) -> None:
        self.stages[name] = self.stages.get(name, 0.0) + seconds

    @property
    def mb_per_s(self) -> float:
        """Throughput in MB/s (10^6 bytes), the unit the benchmark compares tools in."""
        return self.bytes_scanned / 1e6 / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "bytes_scanned": self.bytes_scanned,
            "total_bytes": self.total_bytes,
            "seconds": round(self.seconds, 4),
            "mb_per_s": round(self.mb_per_s, 1),
            "engine": self.engine,
            "executor": self.executor,
            "workers": self.workers,
            "chunk_size": self.chunk_size,
            "chunks": self.chunks,
            "detectors": {name: s.to_json() for name, s in sorted(self.detectors.items())},
            "notes": list(self.notes),
            "stages": {name: round(t, 4) for name, t in sorted(self.stages.items())},
            "post_seconds": round(self.post_seconds, 4),
            "sha256_in_pass": self.sha256 is not None,
            "reread": dict(sorted(self.reread.items())),
        }


@dataclass
class Secret:
    """One key, wherever and however often it was found: the findings that share a ``key_id``."""

    key_id: str | None
    kind: str
    confidence: Confidence
    locations: list[dict[str, Any]]
    matches: list[str]
    finding_ids: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "kind": self.kind,
            "confidence": str(self.confidence),
            "locations": self.locations,
            "matches": list(self.matches),
            "finding_ids": list(self.finding_ids),
        }


@dataclass
class ScanResult:
    path: str
    size: int
    format: str
    findings: list[Finding]
    secrets: list[Secret]
    public_keys: list[dict[str, Any]]
    warnings: list[str]
    stats: ScanStats
    cancelled: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "findings": [f.to_json() for f in self.findings],
            "secrets": [s.to_json() for s in self.secrets],
            "public_keys": list(self.public_keys),
            "warnings": list(self.warnings),
            "stats": self.stats.to_json(),
            "cancelled": self.cancelled,
        }


# -- the per-chunk work (runs in worker threads or forked processes) -------------------------------
@dataclass
class ChunkResult:
    """What one chunk produced; pickleable so that process workers can return it."""

    start: int
    length: int
    findings: list[Finding] = field(default_factory=list)
    hits: Counter[str] = field(default_factory=Counter)
    produced: Counter[str] = field(default_factory=Counter)
    # (detector, exception type, pattern or "scan_block", file offset): never any data
    errors: list[tuple[str, str, str, int]] = field(default_factory=list)
    times: dict[str, float] = field(default_factory=dict)  # seconds per stage (ScanStats.stages)
    slot: int = -1  # the shared buffer the chunk was read into (the hash reads it there), -1: none


class _Slots:
    """The buffers chunks are read into, in one anonymous *shared* mapping made before workers fork: a
    forked worker reads its chunk into a slot and scans it there, and the parent hashes the very same
    bytes from the slot in file order (SHA-256 is sequential; the chunks finish in any order). So the
    hash, the prefilter and the block detectors share one read of each byte. Memory: ``count`` slots of
    ``chunk_size + 2L`` bytes, whatever the file's size."""

    def __init__(self, count: int, slot_size: int):
        self.count, self.slot_size = count, slot_size
        self.mem = mmap.mmap(-1, max(1, count * slot_size))  # MAP_SHARED | MAP_ANONYMOUS
        self.free = list(range(count - 1, -1, -1))

    def buffer(self, slot: int) -> memoryview:
        return memoryview(self.mem)[slot * self.slot_size : (slot + 1) * self.slot_size]

    def close(self) -> None:
        try:
            self.mem.close()
        except BufferError:  # a view is still held somewhere; the mapping goes with it
            pass


class _Context:
    """Everything a worker needs; built once per scan, inherited (not pickled) by forked workers."""

    def __init__(
        self,
        path: str,
        size: int,
        view: View | None,
        prefilter: Prefilter,
        detectors: Sequence[Detector],
        chunk_size: int,
        overlap: int,
        fd: int | None = None,
        slots: _Slots | None = None,
        mapped: bool = False,
    ):
        self.path = path
        self.size = size
        self.view = view  # None in a forked child until it re-opens the file
        self.prefilter = prefilter
        self.detectors = list(detectors)
        self.block_detectors = [d for d in detectors if callable(getattr(d, "scan_block", None))]
        self.chunk_size = chunk_size
        self.overlap = overlap
        self.shared_fd = fd  # the evidence's own descriptor (pread is thread-safe; forked children inherit it)
        self.slots = slots
        # forked workers only (a SIGBUS from a file that shrank kills a child, not the caller): chunks
        # are views of a private read-only map of the file instead of copies (see _MappedHash)
        self.mapped = mapped
        self.local = threading.local()
        self.fds: list[int] = []
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the descriptors the worker threads opened (forked children close theirs on exit)."""
        with self._lock:
            fds, self.fds = self.fds, []
        for fd in fds:
            os.close(fd)

    def _worker(self) -> threading.local:
        """Per-thread (and per-process) resources: a file descriptor, a buffer, a hyperscan scratch."""
        loc = self.local
        if getattr(loc, "pid", None) != os.getpid():
            loc.pid = os.getpid()
            # the evidence's own descriptor; else re-opened by path; no path: the content exists only
            # through the source (vmcore pages decompressed on demand)
            if self.shared_fd is not None:
                loc.fd = self.shared_fd
            else:
                loc.fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)) if self.path else None
                if loc.fd is not None:
                    with self._lock:
                        self.fds.append(loc.fd)
            loc.map = None
            if self.mapped and loc.fd is not None:
                loc.map = mmap.mmap(loc.fd, 0, access=mmap.ACCESS_READ)
            loc.buf = None if self.slots is not None or loc.map is not None \
                else bytearray(self.chunk_size + 2 * self.overlap)
            loc.scanner = self.prefilter.scanner()
            if self.view is None:
                self.view = ByteSource(self.path)
        return loc

    def _read(self, loc: threading.local, offset: int, length: int, slot: int) -> memoryview:
        if loc.map is not None:  # no copy: the map's pages (dropped again by _unmap)
            return memoryview(loc.map)[offset : min(len(loc.map), offset + length)]
        buf = self.slots.buffer(slot) if self.slots is not None and slot >= 0 else memoryview(loc.buf)
        if loc.fd is None:
            assert self.view is not None
            data = self.view.read(offset, length)
            buf[: len(data)] = data
            return buf[: len(data)]
        done = 0
        while done < length:
            n = os.preadv(loc.fd, [buf[done:length]], offset + done)
            if n <= 0:
                break  # the file shrank under us; scan what is there
            done += n
        return buf[:done]

    def scan_chunk(self, start: int, slot: int = -1) -> ChunkResult:
        loc = self._worker()
        if loc.buf is None and loc.map is None and slot < 0:  # a caller without slots (scan_range): a private buffer
            loc.buf = bytearray(self.chunk_size + 2 * self.overlap)
        clock = time.perf_counter
        t0 = clock()
        end = min(self.size, start + self.chunk_size)
        buf_start = max(0, start - self.overlap)
        data = self._read(loc, buf_start, min(self.size, end + self.overlap) - buf_start, slot)
        out = ChunkResult(start, end - start, slot=slot)
        times = out.times
        t1 = clock()
        times["read"] = t1 - t0
        view = self.view
        assert view is not None
        lead, own_end = start - buf_start, end - buf_start
        pf = self.prefilter
        if pf.patterns:
            raws = loc.scanner.scan(data)
            t2 = clock()
            times["prefilter"] = t2 - t1
            for raw in raws:
                if not lead <= raw.start < own_end:
                    continue
                det = self.detectors[pf.owners[raw.index]]
                pattern = pf.patterns[raw.index]
                hit = Hit(pattern.name, buf_start + raw.start, buf_start + raw.end)
                out.hits[det.name] += 1
                v0 = clock()
                try:
                    for finding in det.validate(view, hit):
                        out.findings.append(finding)
                        out.produced[det.name] += 1
                except Exception as exc:  # noqa: BLE001 - a detector bug must not stop the scan
                    out.errors.append((det.name, type(exc).__name__, pattern.name, hit.start))
                key = "validate:" + det.name
                times[key] = times.get(key, 0.0) + clock() - v0
        for det in self.block_detectors:
            extra = max(0, int(getattr(det, "block_overlap", 0)))
            block = data[lead : min(len(data), own_end + extra)]
            b0 = clock()
            try:
                for finding in det.scan_block(view, start, block):  # type: ignore[attr-defined]
                    out.findings.append(finding)
                    out.produced[det.name] += 1
            except Exception as exc:  # noqa: BLE001
                out.errors.append((det.name, type(exc).__name__, "scan_block", start))
            key = "block:" + det.name
            times[key] = times.get(key, 0.0) + clock() - b0
            _release(block)
        read = len(data)
        _release(data)
        if loc.map is not None:  # the chunk's pages out of this worker's resident set (the page cache keeps them)
            lo = buf_start - buf_start % mmap.PAGESIZE
            loc.map.madvise(mmap.MADV_DONTNEED, lo, buf_start + read - lo)
        return out


HASH_PIECE = 64 * MiB


class _MappedHash:
    """The SHA-256 of the file, computed while the forked workers scan it, in a forked child of its own
    that reads it through a private map (no copy: a ``pread`` copy costs as much as the hash) in
    ``HASH_PIECE`` pieces, each dropped from its resident set once hashed. A child, because a map read
    past the end of a file that shrank is a SIGBUS: it kills the child (no digest, the file's change is
    reported), never the caller. Started before the worker pool, while the caller is single-threaded."""

    def __init__(self, fd: int, size: int):
        context = multiprocessing.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(target=_hash_mapped, args=(fd, size, send), daemon=True)
        self._process.start()
        send.close()

    def result(self, wanted: bool) -> tuple[str | None, float]:
        """(hex digest, CPU seconds) once the child is done; (None, 0) when not ``wanted`` (the scan was
        cancelled or incomplete: the child is stopped) or when the child could not finish."""
        got: Any = None
        if wanted:
            try:
                got = self._receive.recv()
            except (EOFError, OSError):  # the child died (SIGBUS: the file shrank)
                got = None
        self._process.terminate()
        self._process.join()
        self._receive.close()
        return got if isinstance(got, tuple) else (None, 0.0)


def _hash_mapped(fd: int, size: int, out: Any) -> None:
    """The hashing child's work (see :class:`_MappedHash`)."""
    t0 = time.process_time()
    try:
        mapped = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        out.send(None)
        return
    if len(mapped) < size:
        out.send(None)
        return
    digest = hashlib.sha256()
    for start in range(0, size, HASH_PIECE):
        n = min(HASH_PIECE, size - start)
        with memoryview(mapped)[start : start + n] as piece:
            digest.update(piece)
        mapped.madvise(mmap.MADV_DONTNEED, start, n)
    out.send((digest.hexdigest(), time.process_time() - t0))


def _release(mv: memoryview) -> None:
    """Let go of a view of a slot (a detector that kept a derived array keeps it alive instead)."""
    try:
        mv.release()
    except BufferError:
        pass


_FORK_CONTEXT: _Context | None = None


def _process_chunk(start: int, slot: int = -1) -> ChunkResult:
    """Entry point of a forked worker: the context was inherited from the parent at fork time."""
    assert _FORK_CONTEXT is not None
    return _FORK_CONTEXT.scan_chunk(start, slot)


def _fork_is_safe() -> bool:
    """Forked workers are used only where fork is harmless: a single-threaded process without Qt (the
    CLI). In the GUI, or whenever other threads run, threads are used instead."""
    return (
        hasattr(os, "fork")
        and threading.active_count() == 1
        and threading.current_thread() is threading.main_thread()
        and not any(m in sys.modules for m in ("PySide6", "PyQt5", "PyQt6"))
    )


def fork_is_safe() -> bool:
    """Whether this process may fork workers (see :func:`_fork_is_safe`): the CLI asks before its pool."""
    return _fork_is_safe()


def prepare(detectors: Sequence[Detector], engine: str = "auto") -> None:
    """Compile the detectors' patterns now (cached in this process), so that workers forked afterwards
    inherit them instead of compiling them again, once per dump (~75 ms with hyperscan)."""
    _prefilter(detectors, engine, cached=True)


# -- the public function ---------------------------------------------------------------------------
def scan_dump(
    dump: Dump,
    detectors: Sequence[Detector] | None = None,
    state: TaskState | None = None,
    public_keys: Sequence[SuppliedKey] | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    *,
    engine: str = "auto",
    executor: str = "auto",
    workers: int | None = None,
    deep: bool = False,
    on_findings: Callable[[list[Finding]], Any] | None = None,
    hash: bool = True,
) -> ScanResult:
    """Scan every byte of ``dump`` with ``detectors`` (default: all of viewer.scan.detectors).

    ``on_findings(chunk_findings)``, when given, is called in the calling thread after each chunk with
    that chunk's raw findings (before merging, post-scan detectors, region attribution and public-key
    matching): provisional, for a GUI that shows findings while the scan runs. The result is the truth.

    ``engine``: "auto" (hyperscan when installed and EV_NO_HYPERSCAN is not set), "hyperscan" or "re".
    ``executor``: "auto" (threads), "thread", "process" (fork, headless only) or "inline" (one thread).
    ``hash``: compute the dump's SHA-256 in the same pass, from the same chunk buffers (the bytes the
    prefilter and the block detectors saw), and give it to the dump's source (``dump.sha256()`` is then
    free); skipped when the source already knows it, the scan is cancelled or the file changed.
    """
    global _FORK_CONTEXT
    if detectors is None:
        from viewer.scan.detectors import default_detectors

        detectors = default_detectors()
    state = ensure(state)
    names = [d.name for d in detectors]
    if len(set(names)) != len(names):
        raise ValueError("detector names must be unique")
    pf, overlap = _prefilter(detectors, engine, cached=True)
    chunk_size = max(4096, int(chunk_size))
    size = dump.size
    starts = list(range(0, size, chunk_size))
    cpu = os.cpu_count() or 1
    asked_workers = workers
    workers = max(1, min(workers or cpu, MAX_WORKERS, len(starts) or 1))
    requested = executor
    if executor == "auto":
        executor = "process" if _fork_is_safe() else "thread"
    if workers == 1 or executor == "inline":
        executor, workers = "inline", 1
    if executor not in ("thread", "process", "inline"):
        raise ValueError(f"unknown executor {executor!r}")

    stats = ScanStats(
        total_bytes=size,
        engine=pf.engine,
        executor=executor,
        workers=workers,
        chunk_size=chunk_size,
        detectors={d.name: DetectorStats() for d in detectors},
    )
    source = dump.source
    want_hash = bool(hash) and getattr(source, "_sha256", None) is None and callable(getattr(source, "fileno", None))
    fd = source.fileno() if callable(getattr(source, "fileno", None)) else None
    # forked workers scan views of a map of the file (no copy) and a child of its own hashes it the same
    # way; threads and the inline executor read into slots (a SIGBUS would kill the caller: see _Context)
    mapped = executor == "process" and fd is not None and size > 0 and bool(_content_path(dump)) \
        and hasattr(mmap, "MADV_DONTNEED")
    slot_size = chunk_size + 2 * overlap
    n_slots = 1 if executor == "inline" else 2 * workers + 1
    slots = _Slots(n_slots, slot_size) if size and not mapped else None
    ctx = _Context(_content_path(dump), size, source, pf, detectors, chunk_size, overlap, fd=fd, slots=slots,
                   mapped=mapped)
    results: list[ChunkResult] = []
    started = time.perf_counter()
    hasher = _MappedHash(fd, size) if want_hash and mapped and fd is not None else None
    digest = hashlib.sha256() if want_hash and hasher is None else None
    hashed = 0  # the file offset up to which the digest has consumed the chunks' own bytes
    ready: dict[int, ChunkResult] = {}  # scanned chunks waiting for the hash to reach them
    lost: str | None = None  # why the first pass could not finish (a worker died)
    if want_hash:
        source.check()  # as ByteSource.sha256: the file as it was opened, or EvidenceChanged

    def release(res: ChunkResult) -> None:
        """Hash the chunks that are next in file order (from their slots), then give the slots back."""
        nonlocal hashed
        ready[res.start] = res
        while hashed in ready:
            r = ready.pop(hashed)
            if digest is not None and slots is not None and r.slot >= 0:
                h0 = time.perf_counter()
                lead = r.start - max(0, r.start - overlap)
                mv = slots.buffer(r.slot)
                digest.update(mv[lead : lead + r.length])
                _release(mv)
                stats.add_stage("hash", time.perf_counter() - h0)
            hashed += r.length
            if slots is not None and r.slot >= 0:
                slots.free.append(r.slot)

    def collect(res: ChunkResult) -> None:
        results.append(res)
        stats.bytes_scanned += res.length
        stats.chunks += 1
        for name, t in res.times.items():
            stats.add_stage(name, t)
        release(res)
        if on_findings is not None and res.findings:
            on_findings(list(res.findings))
        state.progress(stats.bytes_scanned, size)

    state.progress(0, size)
    if executor == "inline":
        try:
            for s in starts:
                if state.is_cancelled:
                    break
                slot = slots.free.pop() if slots is not None else -1
                collect(ctx.scan_chunk(s, slot))
        finally:
            ctx.close()
    else:
        if executor == "process":
            _FORK_CONTEXT = ctx
            if ctx.path:
                ctx.view = None  # children re-open the file by path for the validators' reads (else they inherit the source)
            pool: cf.Executor = cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
            submit: Callable[[int, int], cf.Future[ChunkResult]] = lambda s, k: pool.submit(_process_chunk, s, k)  # noqa: E731
        else:
            pool = cf.ThreadPoolExecutor(workers, thread_name_prefix="scan")
            submit = lambda s, k: pool.submit(ctx.scan_chunk, s, k)  # noqa: E731
        try:
            pending: set[cf.Future[ChunkResult]] = set()
            queue = list(reversed(starts))
            while queue or pending:
                while queue and (slots is None or slots.free) and len(pending) < 2 * workers \
                        and not state.is_cancelled:
                    pending.add(submit(queue.pop(), slots.free.pop() if slots is not None else -1))
                if not pending:
                    break
                done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for fut in sorted(done, key=lambda f: f.result().start):
                    collect(fut.result())
        except cf.process.BrokenProcessPool:
            # a worker died: of SIGBUS where the file shrank under its map, else killed; what was
            # scanned stands, the rest is said to be missing
            # the change itself, when it is one, is the warning _finish adds
            lost = f"a scan worker stopped after {stats.bytes_scanned} of {size} bytes: the rest was not scanned"
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            _FORK_CONTEXT = None
            ctx.view = dump.source
            ctx.close()
    if slots is not None:
        slots.close()
    stats.seconds = time.perf_counter() - started
    cancelled = state.is_cancelled and stats.bytes_scanned < size
    if hasher is not None:
        hexdigest, seconds = hasher.result(wanted=not cancelled and lost is None and hashed == size)
        if hexdigest is not None and source.changed() is None:
            stats.add_stage("hash", seconds)
            source.adopt_sha256(hexdigest)
            stats.sha256 = hexdigest
    if digest is not None and not cancelled and hashed == size and source.changed() is None:
        stats.sha256 = digest.hexdigest()
        source.adopt_sha256(stats.sha256)
    # the post-scan steps in forked workers too, where the caller let the engine choose (or asked for
    # processes) and more than one worker is allowed
    post_workers = min(asked_workers or cpu, MAX_WORKERS) if requested in ("auto", "process") else 1
    return _finish(dump, detectors, results, stats, pf, public_keys, deep, state, cancelled,
                   post_workers=post_workers, lost=lost)


def _prefilter(detectors: Sequence[Detector], engine: str, cached: bool = False) -> tuple[Prefilter, int]:
    """Every detector's patterns compiled into one Prefilter, and the overlap chunks need (the longest
    pattern or block overlap). ``cached``: reuse the Prefilter compiled before for the same patterns and
    engine in this process (a Prefilter is read-only once built; compiling costs ~75 ms with hyperscan,
    which a fleet worker scanning thousands of small dumps must not pay per dump)."""
    patterns: list[Pattern] = []
    owners: list[int] = []
    for i, det in enumerate(detectors):
        for p in getattr(det, "patterns", ()) or ():
            patterns.append(p)
            owners.append(i)
    if cached:
        key = (engine, hyperscan_available(), tuple(patterns), tuple(owners))
        with _PREFILTER_LOCK:
            pf = _PREFILTERS.get(key)
            if pf is None:
                if len(_PREFILTERS) >= 8:
                    _PREFILTERS.clear()
                pf = _PREFILTERS[key] = Prefilter.build(patterns, owners, engine)
    else:
        pf = Prefilter.build(patterns, owners, engine)
    block_overlap = max((int(getattr(d, "block_overlap", 0)) for d in detectors), default=0)
    return pf, max(pf.max_len, block_overlap)


_PREFILTERS: dict[tuple[Any, ...], Prefilter] = {}
_PREFILTER_LOCK = threading.Lock()


def _finish(dump: Dump, detectors: Sequence[Detector], results: list[ChunkResult], stats: ScanStats,
            pf: Prefilter, public_keys: Sequence[SuppliedKey] | None, deep: bool, state: TaskState,
            cancelled: bool, post_workers: int = 1, lost: str | None = None) -> ScanResult:
    """The work after the first pass: merge the chunks' findings, run the post-scan detectors over the
    whole dump, attribute regions, match the supplied public keys, group the secrets."""
    size = dump.size
    findings, warnings = _merge(results, stats)
    stats.notes = list(pf.notes)  # how patterns were compiled: for the curious, not a problem
    if cancelled:
        warnings.append(f"scan cancelled after {stats.bytes_scanned} of {size} bytes")
    if lost is not None:
        warnings.append(lost)
    keys = list(public_keys or ())
    if not cancelled and lost is None:
        m0 = time.perf_counter()
        findings = _run_post_detectors(dump, detectors, findings, keys, deep, state, stats, warnings,
                                       post_workers)
        stats.post_seconds = time.perf_counter() - m0
        cancelled = state.is_cancelled
    changed = _evidence_changed(dump)
    if changed is not None:
        warnings.append(f"{changed}: the scan read only what was there while it ran — its findings are "
                        "incomplete; re-check the hash and re-open the evidence")
    for f in findings:
        _attribute(dump, f)
    supplied = _match_public_keys(findings, keys)
    return ScanResult(
        path=str(dump.path),
        size=size,
        format=dump.format,
        findings=findings,
        secrets=group_secrets(findings),
        public_keys=supplied,
        warnings=warnings,
        stats=stats,
        cancelled=cancelled,
    )


# -- one dump split into byte ranges (viewer.fleet: ranges on different machines) -----------------
def scan_range(
    dump: Dump,
    detectors: Sequence[Detector],
    start: int,
    end: int,
    chunk_size: int = DEFAULT_CHUNK,
    *,
    engine: str = "auto",
    digest: Any = None,
) -> list[ChunkResult]:
    """The first pass of :func:`scan_dump` over the chunks of ``[start, end)``, inline in this thread.

    Each chunk is scanned exactly as scan_dump scans it (read with the overlap of the longest pattern,
    only hits that start inside it kept), so a match straddling a range boundary is found once, in the
    range where it starts. ``start`` and ``end`` must fall on chunk boundaries (``end`` may be the dump's
    size). ``digest`` (a hashlib object), when given, is updated with the range's bytes in order from the
    buffers the scan read (one read of each byte for a caller that hashes the whole dump). :func:`join_ranges` does the rest, once, over the whole dump. The compiled patterns are reused
    across calls in one process."""
    chunk_size = max(4096, int(chunk_size))
    size = dump.size
    if start < 0 or start % chunk_size or (end < size and end % chunk_size) or end < start:
        raise ValueError(f"range [{start}, {end}) does not fall on {chunk_size}-byte chunk boundaries")
    pf, overlap = _prefilter(detectors, engine, cached=True)
    source = dump.source
    fd = source.fileno() if callable(getattr(source, "fileno", None)) else None
    ctx = _Context(_content_path(dump), size, source, pf, detectors, chunk_size, overlap, fd=fd)
    out: list[ChunkResult] = []
    try:
        for s in range(start, min(end, size), chunk_size):
            res = ctx.scan_chunk(s)
            if digest is not None:  # the chunk's own bytes, from the buffer just scanned, in file order
                lead = s - max(0, s - overlap)
                mv = memoryview(ctx.local.buf)
                digest.update(mv[lead : lead + res.length])
                mv.release()
            out.append(res)
        return out
    finally:
        ctx.close()


def join_ranges(
    dump: Dump,
    detectors: Sequence[Detector],
    parts: Iterable[ChunkResult],
    public_keys: Sequence[SuppliedKey] | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    *,
    engine: str = "auto",
    deep: bool = False,
    state: TaskState | None = None,
    seconds: float = 0.0,
) -> ScanResult:
    """The result of :func:`scan_dump` from the chunks :func:`scan_range` gave for ranges covering the
    dump: merged in file order, then the post-scan detectors once over the whole dump, regions, public
    keys and secrets as scan_dump does them. Raises ValueError when the chunks do not cover the dump
    exactly once. ``seconds``: the first pass's time, for the stats."""
    state = ensure(state)
    chunk_size = max(4096, int(chunk_size))
    results = sorted(parts, key=lambda r: r.start)
    pos = 0
    for r in results:
        if r.start != pos:
            raise ValueError(f"the ranges do not cover the dump: a gap or overlap at byte {pos}")
        pos = r.start + r.length
    if pos != dump.size:
        raise ValueError(f"the ranges do not cover the dump: they end at byte {pos} of {dump.size}")
    pf, _ = _prefilter(detectors, engine, cached=True)
    stats = ScanStats(
        bytes_scanned=pos, total_bytes=dump.size, seconds=seconds, engine=pf.engine, executor="ranges",
        workers=1, chunk_size=chunk_size, chunks=len(results),
        detectors={d.name: DetectorStats() for d in detectors},
    )
    return _finish(dump, detectors, results, stats, pf, public_keys, deep, state, False)


# -- after the scan --------------------------------------------------------------------------------
def _run_post_detectors(
    dump: Dump,
    detectors: Sequence[Detector],
    findings: list[Finding],
    keys: list[Any],
    deep: bool,
    state: TaskState,
    stats: ScanStats,
    warnings: list[str],
    workers: int = 1,
) -> list[Finding]:
    """Run the detectors that work from the first pass's findings; their findings join the rest.

    Each post-scan detector sees the first pass's findings only (never another post-scan detector's), so
    they are independent: with ``workers`` > 1 in a process that may fork (the CLI), they run at the same
    time in forked workers (the dump, the findings and the supplied keys inherited, their findings sent
    back); their results are taken in detector order either way, so the findings are the same.
    An exception is a warning naming the detector and the exception type, never the data."""
    posts = [i for i, det in enumerate(detectors) if getattr(det, "post_scan", None) is not None]
    first = tuple(findings)
    located = _shared_search(dump, [detectors[i] for i in posts], first, keys, deep, state, stats, workers)
    outcomes: dict[int, _PostOutcome] = {}
    if workers > 1 and len(posts) > 1 and _fork_is_safe() and not state.is_cancelled:
        outcomes = _post_in_workers(dump, detectors, posts, first, keys, deep, state, min(workers, len(posts)),
                                    located)
    seen = {f.id for f in findings}
    out = list(findings)
    for i in posts:
        det = detectors[i]
        if state.is_cancelled:
            break
        res = outcomes.get(i)
        if res is None:
            state.step_progress(det.name, 0, 0)  # the step has begun; detectors that can tell say how far
            res = _post_one(dump, det, first, keys, deep, state, located, workers)
        stats.add_stage("post:" + det.name, res.seconds)
        if res.reread:
            stats.reread[det.name] = stats.reread.get(det.name, 0) + res.reread
        if res.error is not None:
            stats.detectors[det.name].errors += 1
            warnings.append(f"detector {det.name} failed after the scan ({res.error}); its results are missing")
            continue
        stats.notes.extend(f"{det.name}: {n}" for n in res.notes)
        stats.notes.append(f"{det.name}: post-scan {res.seconds:.2f} s")
        for f in res.findings:
            if f.id not in seen:
                seen.add(f.id)
                out.append(f)
                stats.detectors[det.name].findings += 1
    # detectors that add context to every finding (first pass and post-scan alike), in place
    for det in detectors:
        annotate = getattr(det, "annotate", None)
        if annotate is None or state.is_cancelled:
            continue
        ctx = PostScanContext(dump=dump, view=dump.source, findings=tuple(out), public_keys=keys, deep=deep,
                              state=state)
        try:
            annotate(ctx)
        except Exception as exc:  # noqa: BLE001 - context is a bonus; the findings stand without it
            stats.detectors[det.name].errors += 1
            warnings.append(f"detector {det.name} could not add its context ({type(exc).__name__})")
        stats.notes.extend(f"{det.name}: {n}" for n in ctx.notes)
    out.sort(key=lambda f: (f.offset, f.length, f.kind))
    return out


# The shared search after the first pass: ranges of this size (a multiple of keymaterial.CHUNK) are
# searched in parallel where the engine may fork; at most this many needles (beyond, the steps search
# for the rest themselves).
SHARED_RANGE = 256 * MiB
MAX_SHARED_NEEDLES = 20_000
_SHARED_CONTEXT: tuple[str, int, Any] | None = None


@dataclass
class Located:
    """What the shared search found: offsets by needle, and by shape (keymaterial.Shape)."""

    needles: dict[bytes, list[int]] = field(default_factory=dict)
    shapes: dict[Any, list[int]] = field(default_factory=dict)


def _shared_search(dump: Dump, posts: Sequence[Any], first: tuple[Finding, ...], keys: list[Any], deep: bool,
                   state: TaskState, stats: ScanStats, workers: int) -> Located | None:
    """Every needle and shape the post-scan steps say they will locate (``LocatingDetector``), located in
    one search of the file shared by all of them: the file is read once after the first pass for all
    the steps' first searches, not once by each. None when there is nothing to locate or the search
    cannot run (no hyperscan, no file to map): the steps then search for themselves, as before."""
    from viewer.scan.keymaterial import MAX_HITS, Search, Shape, hyperscan_enabled

    path = _content_path(dump)
    size = int(dump.size)
    if not path or size <= 0 or not hyperscan_enabled() or state.is_cancelled:
        return None
    ctx = PostScanContext(dump=dump, view=dump.source, findings=first, public_keys=keys, deep=deep)
    wanted: dict[bytes, None] = {}
    shapes: dict[Shape, None] = {}
    asking = 0
    for det in posts:
        try:
            got = [bytes(n) for n in getattr(det, "needles", lambda _ctx: ())(ctx) if len(n)]
            forms = [sh for sh in getattr(det, "shapes", lambda _ctx: ())(ctx) if isinstance(sh, Shape)]
        except Exception:  # noqa: BLE001 - that step searches for itself
            continue
        asking += bool(got or forms)
        wanted.update(dict.fromkeys(got))
        shapes.update(dict.fromkeys(forms))
    order, forms = list(wanted)[:MAX_SHARED_NEEDLES], list(shapes)
    if not order and not forms:
        return None
    started = time.perf_counter()
    search = Search.compile(order, forms)  # once: the ranges (and the forked workers) share it
    if search is None:
        return None
    ranges = [(lo, min(size, lo + SHARED_RANGE)) for lo in range(0, size, SHARED_RANGE)]
    parts: list[list[list[int]] | None]
    try:
        if workers > 1 and len(ranges) > 1 and _fork_is_safe():
            parts = _shared_in_workers(path, size, search, ranges, state, min(workers, len(ranges)))
        else:
            parts = [search.run(path, size, lo, hi, state, "locating") for lo, hi in ranges]
    except (OSError, ValueError, cf.process.BrokenProcessPool):
        return None  # the file cannot be mapped (or changed under the search): the steps search themselves
    if state.is_cancelled or any(p is None for p in parts):  # None: a cancelled worker search
        return None
    joined: list[list[int]] = [[] for _ in range(len(order) + len(forms))]
    for part in parts:
        assert part is not None
        for i, offsets in enumerate(part):
            joined[i] += offsets
    # the caps again over the joined ranges: the first hits of the whole file, as one search gives them
    located = Located({n: joined[i][:MAX_HITS] for i, n in enumerate(order)},
                      {sh: joined[len(order) + k][: sh.cap] for k, sh in enumerate(forms)})
    seconds = time.perf_counter() - started
    stats.add_stage("post:search", seconds)
    stats.reread["search"] = stats.reread.get("search", 0) + size
    stats.notes.append(f"search: {len(order)} byte strings and {len(forms)} structure shapes of {asking} post-scan "
                       f"steps located in one shared search of the file ({seconds:.2f} s)")
    return located


def _shared_task(lo: int, hi: int) -> list[list[int]]:
    """Entry point of a forked worker of the shared search (its compiled search inherited at fork time)."""
    assert _SHARED_CONTEXT is not None
    path, size, search = _SHARED_CONTEXT
    return search.run(path, size, lo, hi)


def _shared_in_workers(path: str, size: int, search: Any, ranges: list[tuple[int, int]],
                       state: TaskState, workers: int) -> list[list[list[int]] | None]:
    """The ranges of the shared search in forked workers (a SIGBUS of a file that shrank kills a worker,
    not the caller); a cancel stops them."""
    global _SHARED_CONTEXT
    _SHARED_CONTEXT = (path, size, search)
    pool = cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    try:
        futures = [pool.submit(_shared_task, lo, hi) for lo, hi in ranges]
        pending = set(futures)
        while pending and not state.is_cancelled:
            state.step_progress("locating", len(futures) - len(pending), len(futures))
            _done, pending = cf.wait(pending, timeout=0.2, return_when=cf.FIRST_COMPLETED)
        if pending:
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.terminate()
            return [None]
        return [f.result() for f in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        _SHARED_CONTEXT = None


@dataclass
class _PostOutcome:
    """One post-scan detector's result (pickleable: it may come back from a forked worker)."""

    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    reread: int = 0
    error: str | None = None  # the exception's type name: never its message (it may hold data)


def _post_one(dump: Dump, det: Any, first: tuple[Finding, ...], keys: list[Any], deep: bool,
              state: TaskState, located: Located | None = None, workers: int = 1) -> _PostOutcome:
    counting = _CountingView(dump.source, located)
    ctx = PostScanContext(dump=dump, view=counting, findings=first, public_keys=keys, deep=deep, state=state,
                          workers=workers)
    started = time.perf_counter()
    res = _PostOutcome()
    try:
        res.findings = list(det.post_scan(ctx))
    except Exception as exc:  # noqa: BLE001 - a detector bug must not lose the other findings
        res.error = type(exc).__name__
    res.seconds = time.perf_counter() - started
    res.reread = counting.bytes_read
    res.notes = list(ctx.notes)
    return res


_POST_CONTEXT: tuple[Any, ...] | None = None


def _post_task(i: int) -> _PostOutcome:
    """Entry point of a forked post-scan worker (its context inherited at fork time)."""
    assert _POST_CONTEXT is not None
    dump, detectors, first, keys, deep, located, workers = _POST_CONTEXT
    return _post_one(dump, detectors[i], first, keys, deep, TaskState(), located, workers)


def _post_in_workers(dump: Dump, detectors: Sequence[Detector], posts: list[int], first: tuple[Finding, ...],
                     keys: list[Any], deep: bool, state: TaskState, workers: int,
                     located: Located | None = None) -> dict[int, _PostOutcome]:
    """The post-scan detectors at the same time in forked workers; progress names the steps as they end.
    A cancel stops waiting (the workers are stopped); what had finished is kept."""
    global _POST_CONTEXT
    _POST_CONTEXT = (dump, detectors, first, keys, deep, located, workers)
    out: dict[int, _PostOutcome] = {}
    pool = cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    try:
        futures = {pool.submit(_post_task, i): i for i in posts}
        state.step_progress("after the scan", 0, len(posts))
        pending = set(futures)
        while pending and not state.is_cancelled:
            done, pending = cf.wait(pending, timeout=0.2, return_when=cf.FIRST_COMPLETED)
            for fut in done:
                i = futures[fut]
                try:
                    out[i] = fut.result()
                except Exception as exc:  # noqa: BLE001 - a worker that died: that detector's results are missing
                    out[i] = _PostOutcome(error=type(exc).__name__)
                state.step_progress(f"after the scan: {detectors[i].name} done", len(out), len(posts))
        if pending:
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.terminate()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        _POST_CONTEXT = None
    return out


class _CountingView:
    """The dump's source as a post-scan detector sees it, counting the bytes it reads again (the scan's
    stats say what was read after the first pass, and by whom). Reads of whole-file searches that map
    the file themselves (keymaterial.find_all) are counted through :meth:`count`."""

    def __init__(self, source: Any, located: Located | None = None):
        self._source = source
        self.size = source.size
        self.bytes_read = 0
        # the shared search's offsets (keymaterial.find_all and ecbignum take them from here)
        self.located = located.needles if located is not None else {}
        self.located_shapes = located.shapes if located is not None else {}

    def count(self, n: int) -> None:
        self.bytes_read += int(n)

    def read(self, offset: int, length: int) -> bytes:
        data = self._source.read(offset, length)
        self.bytes_read += len(data)
        return data

    def find(self, needle: bytes, start: int = 0, end: int | None = None) -> int:
        at = self._source.find(needle, start, end)
        stop = self.size if end is None else min(self.size, end)
        self.bytes_read += max(0, (at + len(needle) if at >= 0 else stop) - max(0, start))
        return at

    def view(self, offset: int = 0, length: int | None = None) -> memoryview:
        mv = self._source.view(offset, length)
        self.bytes_read += len(mv)
        return mv

    def __getattr__(self, name: str) -> Any:  # path, available, sha256, ...: as the source
        return getattr(self._source, name)


def _merge(results: Iterable[ChunkResult], stats: ScanStats) -> tuple[list[Finding], list[str]]:
    """Dedupe findings by id (keep the most confident, merge reasons), count, and turn validator
    errors into warnings that carry no data."""
    by_id: dict[str, Finding] = {}
    errors: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    for res in results:
        for name, n in res.hits.items():
            stats.detectors[name].hits += n
        for name, n in res.produced.items():
            stats.detectors[name].findings += n
        for det, exc, pattern, offset in res.errors:
            stats.detectors[det].errors += 1
            errors[(det, exc)].append((pattern, offset))
        for f in res.findings:
            old = by_id.get(f.id)
            if old is None:
                by_id[f.id] = f
                continue
            keep, other = (f, old) if f.confidence > old.confidence else (old, f)
            keep.reasons.extend(r for r in other.reasons if r not in keep.reasons)
            keep.key_id = keep.key_id or other.key_id
            by_id[f.id] = keep
    warnings = []
    for (det, exc), where in sorted(errors.items()):
        where.sort(key=lambda w: w[1])
        pattern, offset = where[0]
        warnings.append(
            f"detector {det!r} raised {exc} on {len(where)} hit(s) (first at file offset {offset:#x}, "
            f"pattern {pattern!r}); those hits were skipped"
        )
    findings = sorted(by_id.values(), key=lambda f: (f.offset, f.length, f.kind, f.encoding))
    return findings, warnings


def _attribute(dump: Dump, f: Finding) -> None:
    """Fill vaddr and region from the dump model."""
    region = dump.region_at(f.offset)
    f.vaddr = dump.file_to_va(f.offset)
    f.region = (region.name or region.kind) if region is not None else None


def location(f: Finding) -> dict[str, Any]:
    return {
        "finding_id": f.id,
        "offset": f.offset,
        "length": f.length,
        "vaddr": f.vaddr,
        "region": f.region,
        "encoding": f.encoding,
        "confidence": str(f.confidence),
    }


def group_key(f: Finding) -> str:
    """What a finding is grouped under: its key id, or its own id when it has none (a secret of its own)."""
    return f.key_id or f"finding:{f.id}"


@dataclass
class SecretGroup:
    """One secret with its findings: what a view of "group by secret" needs (``key`` is
    :func:`group_key` of the members; ``kind`` and ``confidence`` are those of the best finding, the
    most confident and, among equals, the first in the file)."""

    key: str
    key_id: str | None
    kind: str
    confidence: Confidence
    findings: list[Finding]
    matches: list[str]

    def to_secret(self) -> Secret:
        return Secret(key_id=self.key_id, kind=self.kind, confidence=self.confidence,
                      locations=[location(f) for f in self.findings], matches=list(self.matches),
                      finding_ids=[f.id for f in self.findings])


def secret_groups(findings: Iterable[Finding]) -> list[SecretGroup]:
    """The secret findings grouped by key id (a finding without key id is a group of its own), best
    confidence first, then by the first location; each group's findings in file order. Public context
    (``secret=False``) is left out: a view that shows it beside its key adds it by :func:`group_key`."""
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        if f.secret:
            groups.setdefault(group_key(f), []).append(f)
    out = []
    for key, members in groups.items():
        members.sort(key=lambda f: (f.offset, f.length, f.kind))
        best = max(members, key=lambda f: (f.confidence, -f.offset))
        matches: list[str] = []
        for f in members:
            matches.extend(m for m in f.matches if m not in matches)
        out.append(SecretGroup(key, best.key_id, best.kind, best.confidence, members, matches))
    out.sort(key=lambda g: (-g.confidence, g.findings[0].offset))
    return out


def _content_path(dump: Any) -> str | None:
    """The file the workers re-open for the bytes the offsets refer to: the dump itself, the decompressed
    content of a container (in the cache), or None when the content exists only through the source."""
    path = content_path(dump)
    return str(path) if path is not None else None


def _evidence_changed(dump: Dump) -> str | None:
    """The one-line warning when the evidence changed on disk since it was opened (a short read inside the
    scan reads what is there, silently: this is where it is said), else None."""
    try:
        return dump.source.changed()
    except OSError as exc:  # the descriptor itself failed: that is a change too
        return f"{dump.path}: the evidence file cannot be checked any more ({exc.strerror})"


def group_secrets(findings: Iterable[Finding]) -> list[Secret]:
    """One Secret per key_id (a finding without key_id is a secret of its own), best confidence first:
    :func:`secret_groups` as the documents report them (locations instead of Finding objects)."""
    return [g.to_secret() for g in secret_groups(findings)]


def _match_public_keys(findings: list[Finding], keys: Sequence[SuppliedKey]) -> list[dict[str, Any]]:
    """Mark the private halves of supplied public keys; list every supplied key, found or not.

    Only secret findings can be a private half; a public key seen in the dump gets the label in
    ``matches`` too (useful context) but neither counts as found nor changes confidence.
    """
    out = []
    for key in keys:
        found = False
        for f in findings:
            if f.key_id is None or f.key_id != key.key_id:
                continue
            if key.label not in f.matches:
                f.matches.append(key.label)
            if f.secret:
                found = True
                if f.confidence < Confidence.CONFIRMED:
                    f.confidence = Confidence.CONFIRMED
                    f.reasons.append(f"private half of supplied public key {key.label}")
        out.append({"label": key.label, "key_id": key.key_id, "found": found})
    return out
