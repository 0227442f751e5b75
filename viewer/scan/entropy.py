"""Shannon entropy of a dump, per block, kept as a pyramid so a plot can zoom from 8 GiB to one block.

Context only: entropy never makes a finding by itself. High-entropy runs point the examiner at
compressed, encrypted or random data (key material lives there, so does every JPEG); the detectors decide.

How it is computed
    The file is read in 4 MiB pieces into one reused buffer (``readinto`` on a read-only descriptor, as
    ``ByteSource.sha256`` does; ``ByteSource.view`` for sources without a path) and counted in chunks of
    about 256 KiB, so memory stays flat whatever the file's size. A chunk is reshaped to ``(nblocks, block)``
    and one ``np.bincount`` over ``(block_index << 8) | byte`` gives every block's 256-bin histogram in
    one vectorised call (uint16 indices while ``nblocks * 256`` fits, which halves the traffic). The
    entropy is ``log2(n) - sum(c * log2 c) / n`` with ``c * log2 c`` read from a table. Alternatives
    measured on the same machine (64 MiB, 4 KiB blocks): bincount with int64 indices ~10% slower;
    sorting each block and counting runs ~25 MB/s; 256 comparisons per chunk far slower still; two
    threads over bincount gain < 20% (it holds the GIL) and are not worth the complexity. Chunks of
    256 KiB beat 1 MiB and 4 MiB ones (the 64K-bin histogram stays in L2).

    Measured (tests/bench/bench_entropy.py, 1 GiB mixed file: random, text, small integers, zeros, a
    sparse hole; 2-core VM shared with other jobs, so numbers vary by ~20%): the numpy pass runs at
    350-470 MB/s (2.3-3.1 s per GiB; 8 GiB in ~20-25 s). The whole command, ``evidence-viewer entropy
    --no-hash`` on that file, took 4.4 s with a peak RSS of 52 MB (60 MB with ``--json``, which holds
    the 262,144 per-block values as a list while writing). Reading through the mapping instead of
    ``readinto`` was as fast but peaked at 1.07 GB RSS (every touched page of the mapping counts).

The pyramid
    Level 0 holds one value per block (float32: 8 GiB at 4 KiB blocks = 2 M values = 8 MB). Level k
    covers ``2**k`` blocks per point and holds their mean and their max, so a plot shows spikes that an
    average would hide. Means at every level are exact means of level 0 over the point's span (from
    one float64 cumulative sum); the last point of a level averages only the blocks that exist. Every
    block counts equally, including a last partial block (its entropy uses its own length).

Progress and cancel
    Like the rest of the scanner, a plain function taking an optional :class:`viewer.tasks.TaskState`
    (bytes done through ``progress``, cancel through ``is_cancelled``). On cancel the pyramid of the blocks done so far is returned with
    ``complete = False``: a GUI can still draw it, and nobody can mistake it for the whole file.

The command
    ``evidence-viewer entropy`` (text, JSON, the histogram) is :mod:`viewer.cli.entropy`: this module
    computes and knows no command line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from viewer.tasks import TaskState

DEFAULT_BLOCK = 4096
MIN_BLOCK = 256  # below 256 bytes a block cannot reach 8 bits/byte and the scale loses its meaning
MAX_BLOCK = 16 * 1024 * 1024
CHUNK_TARGET = 256 * 1024  # bytes per numpy pass; measured fastest (see module docstring)
HIGH_ENTROPY = 7.2  # bits per byte; random and encrypted data sit above 7.9 at 4 KiB, compressed ~7.5-7.99
_TABLE_LIMIT = 1 << 16  # c*log2(c) from a table up to this block size; computed directly above it




class Series(NamedTuple):
    """Points of a plot: ``x`` the file offset where each point's span starts, its mean and max entropy
    (bits per byte), and ``span`` the bytes each point covers (the last may cover fewer)."""

    x: np.ndarray
    mean: np.ndarray
    max: np.ndarray
    span: int


@dataclass(frozen=True)
class EntropyRun:
    """A run of consecutive high-entropy blocks: file offset, length in bytes, mean and max entropy."""

    offset: int
    length: int
    mean: float
    max: float

    def to_json(self) -> dict[str, Any]:
        return {
            "offset": self.offset,
            "length": self.length,
            "mean": round(self.mean, 3),
            "max": round(self.max, 3),
        }


def check_block(block: int) -> int:
    """The block size, or ValueError with a one-line reason (power of two in [256, 16 MiB])."""
    if not isinstance(block, int) or isinstance(block, bool):
        raise ValueError(f"block size must be an integer, not {block!r}")
    if block < MIN_BLOCK or block > MAX_BLOCK or block & (block - 1):
        raise ValueError(
            f"block size must be a power of two between {MIN_BLOCK} and {MAX_BLOCK} bytes (16 MiB), not {block}"
        )
    return block


def _clog_table(block: int) -> np.ndarray:
    c = np.arange(block + 1, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = c * np.log2(c)
    t[0] = 0.0
    return t


def _entropy_from_counts(counts: np.ndarray, n: int, table: np.ndarray | None) -> np.ndarray:
    """Entropy (bits/byte) of each row of ``counts`` (rows of 256 byte counts summing to ``n``)."""
    if table is not None:
        s = table[counts].sum(axis=1)
    else:
        c = counts.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.where(c > 0, c * np.log2(np.where(c > 0, c, 1.0)), 0.0).sum(axis=1)
    h = math.log2(n) - s / n
    return np.clip(h, 0.0, 8.0)  # rounding may give -1e-16 for a constant block


def block_entropy(data: bytes | memoryview | np.ndarray, block: int = DEFAULT_BLOCK) -> np.ndarray:
    """Entropy of each ``block``-byte block of ``data`` (a last partial block is measured on its own
    length). The building block of :func:`compute_entropy`; handy for small buffers and tests."""
    arr = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.reshape(-1)
    out = np.empty((arr.size + block - 1) // block, dtype=np.float32)
    _Counter(block).into(arr, out, 0)
    return out


class _Counter:
    """Per-block entropy of chunks of a fixed number of whole blocks, buffers reused between chunks."""

    def __init__(self, block: int):
        self.block = block
        self.table = _clog_table(block) if block <= _TABLE_LIMIT else None
        self.per_chunk = max(1, CHUNK_TARGET // block)
        dtype = np.uint16 if self.per_chunk * 256 <= 1 << 16 else np.intp
        self.base = (np.arange(self.per_chunk, dtype=dtype) << 8)[:, None]
        self.idx = np.empty((self.per_chunk, block), dtype=dtype)

    def whole(self, arr: np.ndarray) -> np.ndarray:
        """Entropy of ``arr`` made of nb <= per_chunk whole blocks."""
        nb = arr.size // self.block
        idx = self.idx[:nb]
        np.bitwise_or(self.base[:nb], arr.reshape(nb, self.block), out=idx)
        counts = np.bincount(idx.reshape(-1), minlength=nb * 256).reshape(nb, 256)
        return _entropy_from_counts(counts, self.block, self.table)

    def into(self, arr: np.ndarray, out: np.ndarray, at: int) -> int:
        """Write the entropy of every block of ``arr`` into ``out[at:]``; return the count written."""
        step = self.per_chunk * self.block
        whole = arr.size // self.block * self.block
        n = 0
        for off in range(0, whole, step):
            h = self.whole(arr[off : min(whole, off + step)])
            out[at + n : at + n + h.size] = h
            n += h.size
        if whole < arr.size:
            tail = arr[whole:]
            counts = np.bincount(tail, minlength=256)[None, :]
            out[at + n] = _entropy_from_counts(counts, tail.size, None)[0]
            n += 1
        return n


class EntropyPyramid:
    """Per-block entropy of a file and its zoom levels.

    ``level(0)`` is one point per block; ``level(k)`` one per ``2**k`` blocks (mean and max).
    ``range(start, end, max_points)`` picks the finest level that fits ``max_points`` for a plot.
    """

    def __init__(self, values: np.ndarray, block: int, size: int, complete: bool = True):
        self.block = block
        self.size = size  # bytes covered (the file size when complete)
        self.complete = complete
        self.values = np.asarray(values, dtype=np.float32)  # level 0
        n = self.values.size
        self._cumsum = np.concatenate(([0.0], np.cumsum(self.values, dtype=np.float64)))
        self._means: list[np.ndarray] = [self.values]
        self._maxes: list[np.ndarray] = [self.values]
        k = 0
        while (n + (1 << k) - 1) >> k > 1:
            k += 1
            span = 1 << k
            starts = np.arange(0, n, span)
            ends = np.minimum(starts + span, n)
            self._means.append(
                ((self._cumsum[ends] - self._cumsum[starts]) / (ends - starts)).astype(np.float32)
            )
            prev = self._maxes[-1]
            self._maxes.append(np.maximum.reduceat(prev, np.arange(0, prev.size, 2)))

    @property
    def blocks(self) -> int:
        return int(self.values.size)

    @property
    def levels(self) -> int:
        """Number of levels; the top one has a single point (or none for an empty file)."""
        return len(self._means)

    @property
    def mean(self) -> float:
        """Mean entropy over all blocks (0.0 for an empty file)."""
        return float(self._cumsum[-1] / self.values.size) if self.values.size else 0.0

    def level(self, k: int) -> Series:
        if not 0 <= k < self.levels:
            raise IndexError(f"level {k} out of range 0..{self.levels - 1}")
        span = self.block << k
        mean = self._means[k]
        return Series(np.arange(mean.size, dtype=np.int64) * span, mean, self._maxes[k], span)

    def range(self, start_offset: int, end_offset: int, max_points: int = 2000) -> Series:
        """Points covering file bytes [start_offset, end_offset) at the finest level with at most
        ``max_points`` points. Each point's span starts at its ``x`` (so ``x[0] <= start_offset``)."""
        if max_points < 1:
            raise ValueError("max_points must be at least 1")
        start = max(0, int(start_offset))
        end = min(self.size, int(end_offset))
        if end <= start or not self.blocks:
            empty = np.empty(0, dtype=np.float32)
            return Series(np.empty(0, dtype=np.int64), empty, empty, self.block)
        b0 = start // self.block
        b1 = min(self.blocks, -(-end // self.block))
        k = 0
        while k < self.levels - 1 and (-(-b1 >> k)) - (b0 >> k) > max_points:
            k += 1
        i0, i1 = b0 >> k, -(-b1 >> k)
        span = self.block << k
        return Series(
            np.arange(i0, i1, dtype=np.int64) * span, self._means[k][i0:i1], self._maxes[k][i0:i1], span
        )


def compute_entropy(
    source: Any, block: int = DEFAULT_BLOCK, state: TaskState | None = None
) -> EntropyPyramid:
    """Entropy pyramid of a whole evidence file.

    ``source`` is a :class:`viewer.evidence.ByteSource` (or a Dump: its source is used), or anything with
    ``size`` and ``view(offset, length) -> memoryview``. Memory is the level-0 array (4 bytes per block)
    plus a few MB of reused buffers, whatever the file's size.

    Where the source has a ``path`` the bytes are read with ``readinto`` into one reused buffer (a
    read-only descriptor, like ``ByteSource.sha256``) rather than through the mapping: reading 1 GiB
    through ``ByteSource.view`` measured the same speed but made every touched page count as this
    process's RSS (peak 1.07 GB for a 1 GiB file, against ~100 MB this way). Sources without a path
    (in-memory test doubles) are read through ``view``.
    """
    check_block(block)
    src = getattr(source, "source", source)
    size = int(src.size)
    nblocks = (size + block - 1) // block
    values = np.zeros(nblocks, dtype=np.float32)
    counter = _Counter(block)
    step = max(block, (4 * 1024 * 1024) // block * block)  # whole blocks, ~4 MiB between progress checks
    done_blocks = 0
    offset = 0
    if state is not None:
        state.progress(0, size)
    # the file that holds the bytes as they are; a source decompressing on demand has none (plain_path None)
    path = getattr(src, "plain_path", getattr(src, "path", None))
    fh = None
    if path is not None and size:
        try:
            fh = open(path, "rb", buffering=0)  # noqa: SIM115 - closed below
        except OSError:
            fh = None  # fall back to the mapping, which is already open
    buf = np.empty(step if fh is not None else 0, dtype=np.uint8)
    try:
        while offset < size:
            if state is not None and state.is_cancelled:
                break
            want = min(step, size - offset)
            if fh is not None:
                fh.seek(offset)
                got = fh.readinto(memoryview(buf)[:want])
                arr = buf[: min(got or 0, want)]
            else:
                arr = np.frombuffer(src.view(offset, want), dtype=np.uint8)
            if arr.size < want:  # the file shrank under us: keep whole blocks, report what exists
                arr = arr[: arr.size // block * block]
            if not arr.size:
                break
            done_blocks += counter.into(arr, values, done_blocks)
            offset += arr.size
            del arr  # drop any view of the mapping now: nothing keeps it pinned between chunks
            if state is not None:
                state.progress(offset, size)
    finally:
        if fh is not None:
            fh.close()
    return EntropyPyramid(values[:done_blocks], block, offset, complete=offset >= size)


def high_entropy_regions(
    pyramid: EntropyPyramid, threshold: float = HIGH_ENTROPY, min_length: int = 0
) -> list[EntropyRun]:
    """Runs of consecutive level-0 blocks with entropy >= ``threshold``: file offset, length (clipped to
    the bytes covered), mean and max. Runs shorter than ``min_length`` bytes are left out."""
    vals = pyramid.values
    if not vals.size:
        return []
    high = np.concatenate(([False], vals >= threshold, [False]))
    edges = np.flatnonzero(high[1:] != high[:-1])
    runs: list[EntropyRun] = []
    for s, e in zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True):
        offset = s * pyramid.block
        length = min(pyramid.size, e * pyramid.block) - offset
        if length < min_length:
            continue
        seg = vals[s:e]
        runs.append(EntropyRun(offset, length, float(seg.mean(dtype=np.float64)), float(seg.max())))
    return runs
