"""Small high-entropy islands: 16-64 bytes of key-like randomness set in quiet memory.

A symmetric key, a seed or a nonce that the other detectors cannot name (no header, no structure, no
mathematics to check) often still stands out: 32 random bytes in a zeroed struct or a freshly
allocated, zero-filled buffer. This detector reports such islands as leads — kind ``high-entropy``,
encoding ``raw``, confidence ``low`` always (never above low without a check that passed), ``secret``
True, no key_id — ranked so the examiner looks at the most isolated, most random ones first. It runs
only in a deep scan (see Speed below).

How (a post-scan detector, so it can leave out what another finding already explains):

1. The file is read in 1 MiB chunks (``os.preadv`` into one reused buffer: RSS stays flat) with a
   512-byte overlap, as 64-bit words. A word is *quiet* when its 8 bytes are all equal (zeros, or
   a fill pattern: 0xcc/0xcd debug fill, 0xff). Three vectorised operations per word.
2. Candidate islands are runs of 2-9 non-quiet words (16-72 bytes: a 64-byte island that is not
   8-aligned spans 9 words) with at most ``FLANK_NOISE`` non-quiet words among the 32 words (256
   bytes) on each side: one edge pass (``flatnonzero`` of the changes), then flank counts from the
   cumulative lengths of the runs (``searchsorted``), never a count over every word.
3. The few survivors are checked exactly in Python: the fill bytes at both ends are trimmed (so an
   island whose own first or last byte equals the fill is reported one byte shorter), the length must
   be 16-64 bytes, it must hold at most 2 zero bytes, at least 80% of the distinct byte values random
   bytes of that length have on average (32 bytes: >= 25 of ~30.2), and be less than 3/4 printable
   ASCII (text is not a key). Its Shannon entropy (bits per byte, at most log2 of its length) and
   its isolation (fraction of quiet words around it) make the score: entropy x isolation.
4. Islands overlapping any first-pass finding are dropped (that finding explains them); the best
   ``MAX_REPORTED`` (200) by score are reported, with ``details`` ``entropy`` and ``rank`` (1 = best);
   a note says how many more there were.

Speed, measured on the 512 MiB mixed image of tests/bench/bench_scan.py's generator (zeros, text,
code, zlib, random; 57 planted keys) on the 2-core VM while other jobs loaded it (load average 2-6,
so wall clocks were noisy): the islands pass alone takes 0.22-0.34 s (1.6-2.4 GB/s, one thread). What
made it so: 1 MiB chunks (the buffer stays in cache for the numpy passes; 8 MiB chunks took 0.34-0.36
s), the quiet test in 512 KiB blocks into reused buffers (fresh 8 MiB temporaries: page faults), and
flank counts from the runs themselves (a cumulative count over every word cost ~5 ms per 8 MiB). Two
threads were no faster (memory-bound, and the second core was busy), so it runs in one. In the
default scan of that image without the hmac detector (which only works when HS* tokens exist) it
took 0.25-0.38 s of post-scan; that scan measured 226-302 MB/s overall with islands and 255-398 MB/s
without, the first pass alone varying between 1.1 and 1.8 s from run to run on that busy machine.
Measured again with the machine quieter (load ~1.1): 277 and 318 MB/s overall with islands (0.34-0.41
s of post-scan), 365-436 MB/s without. Islands costs ~20-30% of the default scan's time, and with it
the default scan did not reliably stay >= 300 MB/s overall on 2 cores; so it runs only for a deep
scan (``ctx.deep``, the examiner's request for exhaustive search). ``IslandsDetector(deep_only=False)``
runs it on every scan.

Limitation: post-scan detectors see only the first pass's findings, so an island that another
post-scan detector explains (an HMAC secret it verified, say) is reported by both.
"""

from __future__ import annotations

import bisect
import heapq
import math
import os
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np

from viewer.evidence.model import content_path
from viewer.evidence.source import open_read_only
from viewer.scan import kinds
from viewer.scan.detector import PostScanContext
from viewer.scan.finding import Confidence, Finding

MiB = 1024 * 1024
CHUNK = 1 * MiB  # the buffer stays in cache for the numpy passes: 8 MiB chunks were ~30% slower
LEAD = 512  # bytes of overlap: a 72-byte run and 256 bytes of flank on each side fit
FLANK = 32  # words (256 bytes) looked at on each side
FLANK_NOISE = 2  # non-quiet words tolerated per flank (a length field, a pointer)
MIN_WORDS, MAX_WORDS = 2, 9
MIN_LEN, MAX_LEN = 16, 64
MAX_ZEROS = 2
MAX_REPORTED = 200
_REPEAT = np.uint64(0x0101010101010101)
_LOW_BYTE = np.uint64(0xFF)
_BLOCK = 64 * 1024  # words per numpy block in the quiet test


def _expected_distinct(n: int) -> float:
    return 256.0 * (1.0 - (255.0 / 256.0) ** n)


_NEED = {n: math.ceil(0.8 * _expected_distinct(n)) for n in range(MIN_LEN, MAX_LEN + 1)}


def _entropy(data: bytes) -> float:
    n = len(data)
    return -sum(c / n * math.log2(c / n) for c in Counter(data).values())


class _Scratch:
    """Reused buffers for :func:`candidate_runs`: fresh temporaries cost page faults each chunk."""

    def __init__(self, words: int):
        self.tmp = np.empty(words, dtype=np.uint64)
        self.noisy = np.zeros(words + 2, dtype=bool)


def candidate_runs(
    words: np.ndarray, scratch: _Scratch | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised step: (start word, end word, non-quiet words before, after) of every run of 2-9
    non-quiet words with quiet flanks, in a chunk of 64-bit words."""
    n = words.size
    if scratch is None or scratch.tmp.size < n:
        scratch = _Scratch(n)
    tmp = scratch.tmp[:n]
    noisy = scratch.noisy[: n + 2]
    noisy[0] = noisy[-1] = False
    for i in range(0, n, _BLOCK):  # in L2-sized blocks: the three passes stay in cache (~30% faster)
        w, t = words[i : i + _BLOCK], tmp[i : i + _BLOCK]
        np.bitwise_and(w, _LOW_BYTE, out=t)
        np.multiply(t, _REPEAT, out=t)
        np.not_equal(w, t, out=noisy[1 + i : 1 + i + w.size])  # noisy: not one byte repeated 8 times
    edges = np.flatnonzero(noisy[1:] != noisy[:-1])
    all_starts, all_ends = edges[0::2], edges[1::2]
    length = all_ends - all_starts
    (idx,) = np.nonzero((length >= MIN_WORDS) & (length <= MAX_WORDS))
    if not idx.size:
        empty = np.empty(0, dtype=np.intp)
        return empty, empty, empty, empty
    starts, ends = all_starts[idx], all_ends[idx]
    # Non-quiet words in the flanks, from the other runs (not from a count over every word): noisy
    # words in [x, y) = whole runs inside, minus the part of the first run that begins before x.
    # Words outside the buffer count as quiet.
    cum = np.concatenate(([0], np.cumsum(length)))

    def noisy_words(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        k = np.searchsorted(all_ends, x, side="right")  # first run ending after x
        j = np.searchsorted(all_starts, y, side="left")  # first run starting at or after y
        total = cum[j] - cum[k]
        has = k < j
        kk = np.minimum(k, all_starts.size - 1)
        head = np.where(has, np.maximum(0, x - all_starts[kk]), 0)
        jj = np.maximum(j - 1, 0)
        tail = np.where(has, np.maximum(0, all_ends[jj] - y), 0)
        return total - head - tail

    before = noisy_words(np.maximum(0, starts - FLANK), starts)
    after = noisy_words(ends, np.minimum(n, ends + FLANK))
    ok = (before <= FLANK_NOISE) & (after <= FLANK_NOISE)
    return starts[ok], ends[ok], before[ok], after[ok]


def check_island(data: bytes, left_fill: int, right_fill: int) -> tuple[int, int, float] | None:
    """Exact check of a candidate's bytes: (trimmed start, trimmed end, entropy) or None."""
    a, b = 0, len(data)
    while a < b and data[a] == left_fill:
        a += 1
    while b > a and data[b - 1] == right_fill:
        b -= 1
    island = data[a:b]
    n = len(island)
    if not MIN_LEN <= n <= MAX_LEN:
        return None
    if island.count(0) > MAX_ZEROS:
        return None
    if len(set(island)) < _NEED[n]:
        return None
    if sum(0x20 <= c < 0x7F for c in island) * 4 >= 3 * n:
        return None
    return a, b, _entropy(island)


class _Explained:
    """The byte ranges of the first pass's findings, for overlap queries."""

    def __init__(self, findings: Iterable[Finding]):
        spans = sorted((f.offset, f.offset + max(1, f.length)) for f in findings)
        merged: list[list[int]] = []
        for s, e in spans:
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        self.starts = [m[0] for m in merged]
        self.ends = [m[1] for m in merged]

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect.bisect_right(self.starts, end - 1) - 1
        return i >= 0 and self.ends[i] > start


class IslandsDetector:
    """Post-scan: small high-entropy islands in quiet memory, ``low`` leads for the examiner."""

    name = "islands"
    patterns: tuple = ()

    def __init__(self, max_reported: int = MAX_REPORTED, deep_only: bool = True):
        self.max_reported = max_reported
        self.deep_only = deep_only

    def post_scan(self, ctx: PostScanContext) -> Iterable[Finding]:
        if self.deep_only and not ctx.deep:
            return []
        size = int(getattr(ctx.view, "size", 0))
        explained = _Explained(ctx.findings)
        best: list[tuple[float, int, int, int, float]] = []  # min-heap of (score, -offset, offset, end, entropy)
        found = dropped = 0
        kit = _Kit(content_path(ctx.dump))
        try:
            for s in range(0, size, CHUNK):
                if ctx.state is not None and getattr(ctx.state, "is_cancelled", False):
                    ctx.notes.append(f"cancelled after {s} of {size} bytes")
                    break
                for start, end, entropy, noise in self._chunk(ctx, kit, s, size):
                    found += 1
                    if explained.overlaps(start, end):
                        dropped += 1
                        continue
                    item = (entropy * (1.0 - noise / (2 * FLANK)), -start, start, end, entropy)
                    if len(best) < self.max_reported:
                        heapq.heappush(best, item)
                    elif item > best[0]:
                        heapq.heapreplace(best, item)
        finally:
            kit.close()
        ranked = sorted(best, reverse=True)
        if found:
            ctx.notes.append(
                f"{found} high-entropy island(s), {dropped} explained by other findings, "
                f"{len(ranked)} reported (cap {self.max_reported})"
            )
        if found - dropped > len(ranked):
            ctx.notes.append(f"{found - dropped - len(ranked)} lower-ranked island(s) not reported (cap reached)")
        out = []
        for rank, (score, _neg, start, end, entropy) in enumerate(ranked, 1):
            n = end - start
            out.append(
                Finding(
                    kind=kinds.HIGH_ENTROPY,
                    encoding="raw",
                    offset=start,
                    length=n,
                    confidence=Confidence.LOW,
                    reasons=[
                        f"{n} bytes of key-like randomness ({entropy:.2f} bits/byte) set in low-entropy memory",
                        "a lead only: nothing checks that these bytes are a key",
                    ],
                    details={"entropy": round(entropy, 3), "rank": rank, "score": round(score, 3)},
                )
            )
        return out

    @staticmethod
    def _chunk(ctx: PostScanContext, kit: _Kit, s: int, size: int) -> list[tuple[int, int, float, int]]:
        """The islands whose run starts in chunk [s, s + CHUNK): (start, end, entropy, flank noise)."""
        b0 = max(0, s - LEAD)
        data = kit.read(ctx, b0, min(size, s + CHUNK + LEAD) - b0)
        words = np.frombuffer(data, dtype="<u8", count=len(data) // 8)
        starts, ends, before, after = candidate_runs(words, kit.scratch)
        own_lo, own_hi = (s - b0) // 8, (min(size, s + CHUNK) - b0 + 7) // 8
        out = []
        for ws, we, nb, na in zip(starts.tolist(), ends.tolist(), before.tolist(), after.tolist(), strict=True):
            if not own_lo <= ws < own_hi:
                continue
            lo, hi = ws * 8, we * 8
            left_fill = data[lo - 1] if lo > 0 else 0
            right_fill = data[hi] if hi < len(data) else 0
            checked = check_island(bytes(data[lo:hi]), left_fill, right_fill)
            if checked is not None:
                a, b, entropy = checked
                out.append((b0 + lo + a, b0 + lo + b, entropy, nb + na))
        del words, data
        return out


class _Kit:
    """One worker's reusable resources: a read-only descriptor, a chunk buffer, numpy scratch."""

    def __init__(self, path: Any):
        self.fd = open_read_only(path)
        self.buf = bytearray(CHUNK + 2 * LEAD)
        self.scratch = _Scratch((CHUNK + 2 * LEAD) // 8)

    def read(self, ctx: PostScanContext, offset: int, length: int) -> Any:
        if self.fd is None:
            return ctx.view.read(offset, length)
        view = memoryview(self.buf)
        done = 0
        while done < length:
            n = os.preadv(self.fd, [view[done:length]], offset + done)
            if n <= 0:
                break
            done += n
        return view[:done]

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


ORDER = 140  # where these run among the detectors (see viewer.scan.detectors)
DETECTORS = [IslandsDetector()]
