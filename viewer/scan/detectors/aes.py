"""AES key schedules (AES-128/192/256), encryption and decryption, and the raw keys they lead to.

A program that uses AES keeps the *expanded* key, not just the key: 176/208/240 bytes of round keys
whose words obey the key-expansion relation of FIPS-197 (``w[i] = w[i-Nk] ^ f(w[i-1])``). That is the
aeskeyfind technique (Halderman et al., "Lest We Remember"); this module does it vectorised with numpy.

What is recognised (``layout`` in a finding's details):

* ``bytes``: round-key words in FIPS byte order — AES-NI (OpenSSL's ``aesni_set_*_key``, which Python's
  ``cryptography`` uses on any x86-64 with AES-NI: tests/test_detect_aes.py finds the AES-256-GCM/CBC
  encryption and AES-128-CBC decryption schedules of a live process this way), the Linux kernel,
  nettle/GnuTLS, SymCrypt (CNG);
* ``u32``: each word a native little-endian ``uint32`` of the big-endian word — OpenSSL's portable C
  ``AES_set_*_key`` (``rd_key`` filled with ``GETU32``) on x86.
* encryption schedules (``aes-key-schedule``): rounds 0..Nr, round 0 starts with the key;
* decryption schedules (``aes-decrypt-key-schedule``) as OpenSSL's ``AES_set_decrypt_key`` /
  ``aesni_set_decrypt_key`` leave them (the "equivalent inverse cipher"): the encryption round keys in
  reverse order, InvMixColumns applied to rounds 1..Nr-1. Undoing that (MixColumns, reverse) gives an
  encryption schedule, which is then checked like any other; the key comes from its first Nk words.
  CNG/SymCrypt keeps its decryption rounds after the encryption rounds without the first and last
  round; there the encryption schedule in front of them is what is found.

Not recognised: bit-sliced (bsaes) and vector-permutation (vpaes) schedules, whose round keys are
transformed; a schedule interleaved with other data.

* the JDK's decryption schedule (``com.sun.crypto.provider.AESCrypt``, ``details["rotated"] = "jdk"``):
  OpenSSL's decryption layout with its last round — the key's own round — moved to the front, kept as an
  ``int[]`` (``u32`` in a core; ``bytes`` in an HPROF heap dump, which writes ints big-endian).

How (per 64 MiB block). Every byte offset, as aeskeyfind: a packed format (HPROF's records) puts a
schedule anywhere. The key-expansion relations hold byte by byte, so a schedule 1-3 bytes past a word
boundary still satisfies the same word stencils at the aligned words that hold bytes of two related
schedule words: each alignment is a kind of its own with its own (sparser) structural zeros, sharing the
aligned kinds' stencils, so the prefilter runs once per stencil, not once per alignment (measured on
64 MiB: random bytes 35 -> 45 ms, a Go core's first 64 MiB 31 -> 50 ms, against 4x for the four
separate passes aeskeyfind's way). Each kind's candidates are first tested at 3 of its stencil
positions, the rest only on the survivors: with that, the whole detector at every byte offset measured
0.44-0.51 s on 4 blocks of the benchmark image against 0.60 s for the aligned kinds alone before.
``every_byte_offset=False`` keeps the aligned kinds only.


1. *Sampled linear prefilter.* Most relations of a schedule are linear: ``w[i] = w[i-Nk] ^ w[i-1]`` (3 of
   every 4 words for AES-128), and in a decryption schedule, since InvMixColumns is linear, similar
   three-word XOR relations hold between its middle rounds. Each kind of schedule has one such stencil
   ``w[j+x] ^ w[j+x+1] ^ w[j+y] == 0``, true at a fixed set of positions ``Z`` relative to the schedule's
   start (derived at import from the expansion itself, for three keys). The block is cut into rows of
   ``STRIDE`` (28) words and the stencils are evaluated at only ``T`` consecutive positions per row
   (``T`` computed so that every possible schedule start has a sampled position in ``Z``), in
   cache-sized pieces (``ROWS_PER_PIECE`` rows, the sampled columns copied out contiguous): a few
   vector operations per 112 bytes instead of a full relation check per position. A relation counts only
   when its three words are all non-zero: zero pages, and a zero word between two equal ones (arrays of
   small structs), satisfy the linear relations trivially; in a schedule of a random key a zero word
   has probability 2^-32 (keys with zero words may be missed, a documented limit). Pieces whose sampled
   words are all zero are skipped outright. The stencils are XORs of whole words, so they hold in both
   byte orders.
2. *Vectorised check of the candidates.* Each hit row gives the ~50 starts it could belong to; for those
   every stencil position of ``Z`` must hold (up to the error tolerance), and at least half the words of
   the schedule must be non-zero.
3. *Exact check in Python* on the few survivors, in both byte orders: the key (first Nk words; for a
   decryption schedule, the last round plus MixColumns of the one before) is expanded again and the
   whole stored schedule (encryption, or the decryption layout computed from it) must equal it, byte
   for byte. That is "the key's mathematics checked": 1408/1664/1920 bits are produced from 128/192/256
   by the expansion, a chance match has probability below 2^-1000, so the finding is ``confirmed``.

Degenerate keys are skipped: a key with fewer than ``MIN_KEY_DISTINCT_BYTES`` distinct byte values (the
all-zero key, a repeated byte or pair) has a valid schedule but is a placeholder or a coincidence of
patterned memory, not evidence (aeskeyfind skips them too).

Bit errors (decayed memory, as aeskeyfind ``-t``): ``max_bit_errors`` (default 0, at most 6). With a
tolerance the prefilter samples densely (``STRIDE_TOLERANT``), a stencil may fail at up to 3 positions per error, and
the schedule is re-derived from ``max_bit_errors + 1`` disjoint windows of Nk words (the expansion is
invertible: any Nk consecutive words determine it all); a window without an error derives the right
key, and the stored schedule may then differ from the derived one in at most ``max_bit_errors`` bits.
Such findings are ``high``, not ``confirmed``: the key is almost certainly right, but the bytes differ.

Raw keys: after the pass, :meth:`AesDetector.post_scan` re-derives each distinct key from its schedule
and looks for its bytes anywhere in the file (``MAX_RAW_KEYS`` keys, ``MAX_RAW_HITS`` occurrences each);
each occurrence outside a schedule is a ``raw`` finding, ``confirmed`` (the bytes equal a key whose
schedule was checked).

Chunking: ``block_overlap`` (256 bytes) covers the longest schedule, so a schedule is always whole in the
block where it starts; only schedules starting in the block's own range are reported, except in a block
that reaches the end of the file, which reports all (the engine dedupes the rare double then).

Speed (measured 2026-11-25 on the 2-vCPU AMD EPYC dev VM, shared with other work, so ranges; a 256 MiB
file of alternating 1 MiB random / 1 MiB zero blocks, page-cached; ``scan_dump`` with this detector
alone, forked workers): 700-1160 MB/s (one worker, inline: ~1000 MB/s; ``scan_block`` on 64 MiB of
random bytes in memory: 1.1-2.0 GB/s). Four separate passes for every byte offset (before the shared
stencils): 220-320 MB/s; ``max_bit_errors=2``:
~520 MB/s. All default detectors: 470-650 MB/s with this one, 780-1000 MB/s without. aeskeyfind
(Debian 1:1.0-11, every byte offset, encryption schedules only) on the same file: 35.8 s, 7.5 MB/s.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from viewer.scan import kinds
from viewer.scan.detector import PostScanContext, View
from viewer.scan.finding import Confidence, Finding
from viewer.scan.keymaterial import (
    ROUNDS,
    decrypt_schedule,
    expand_key,
    expand_words,
    find_all,
    invert_layout,
)
from viewer.scan.keys import symmetric_key_id

KIND = kinds.AES_KEY
ENC = "aes-key-schedule"
DEC = "aes-decrypt-key-schedule"
RAW = "raw"

STRIDE = 28  # words per sampled row (default)
STRIDE_TOLERANT = 8  # with max_bit_errors > 0
MAX_BIT_ERRORS = 6  # beyond, the sampled prefilter cannot guarantee a surviving relation
ROWS_PER_PIECE = 4096  # rows processed at once: keeps the sampled words in L2
COLUMNS = 16  # at most this many words of a row are sampled
MIN_KEY_DISTINCT_BYTES = 5
MAX_RAW_KEYS = 64
MAX_RAW_HITS = 64
RAW_PIECE = 32 * 1024 * 1024


# The AES arithmetic (key expansion, the decryption layout) is shared with redaction: keymaterial.


# -- the stencils of the prefilter -------------------------------------------------------------------
@dataclass(frozen=True)
class _Kind:
    nk: int
    decrypt: bool
    x: int  # stencil: w[j+x] ^ w[j+x+1] ^ w[j+y] == 0
    y: int
    zeros: np.ndarray  # positions j (relative to the schedule's first aligned word) where it holds structurally
    align: int = 0  # the schedule's byte offset past a 4-byte boundary (0-3)
    rotated: bool = False  # the JDK's decryption layout: the last round (the key) first

    @property
    def words(self) -> int:
        return 4 * (ROUNDS[self.nk] + 1)

    @property
    def bits(self) -> int:
        return 32 * self.nk


def layout_bytes(key: bytes, decrypt: bool, rotated: bool = False) -> bytes:
    """The schedule of ``key`` as stored (FIPS byte order): encryption, OpenSSL's decryption layout, or
    the JDK's (``com.sun.crypto.provider.AESCrypt``: OpenSSL's decryption layout with its last round —
    the key's own round — moved to the front)."""
    if not decrypt:
        return expand_key(key)
    dec = decrypt_schedule(key)
    return dec[-16:] + dec[:-16] if rotated else dec


def _stencil_zeros(nk: int, decrypt: bool, x: int, y: int, align: int = 0, rotated: bool = False) -> np.ndarray:
    """Where the stencil is zero for three unrelated keys: structural zeros of the layout, at the aligned
    words of a schedule stored ``align`` bytes past a word boundary (relative to the aligned word that
    holds its first byte; words that hold bytes of the surroundings, random here, never count)."""
    sets = []
    for seed in (b"\x01", b"\x5a", b"\xc3"):
        key = bytes((seed[0] * (i + 7) * 31 + i * i) & 0xFF for i in range(4 * nk))
        sched = layout_bytes(key, decrypt, rotated)
        noise = bytes((seed[0] * 131 + i * 197 + (i * i) % 251) & 0xFF | 0x01 for i in range(len(sched) + 64))
        buf = bytearray(noise)
        buf[16 + align : 16 + align + len(sched)] = sched
        w = np.frombuffer(bytes(buf[: len(buf) // 4 * 4]), dtype="<u4")
        n = len(w) - max(x + 1, y)
        j = np.arange(n)
        zero = np.flatnonzero((w[j + x] ^ w[j + x + 1] ^ w[j + y]) == 0) - 4
        sets.append(set(zero.tolist()))
    return np.array(sorted(set.intersection(*sets)), dtype=np.int64)


def _make_kinds() -> list[_Kind]:
    # Encryption: w[i] = w[i-Nk] ^ w[i-1] -> stencil at j = i - Nk: w[j+Nk-1] ^ w[j+Nk] ^ w[j].
    # Decryption (rounds reversed, InvMixColumns linear): d[k] ^ d[k+1] ^ d[k+D], D = 5, 3, 9.
    # The relations hold byte by byte, so a schedule 1-3 bytes past a word boundary still satisfies them
    # at the aligned words that hold bytes of two related words each: one more kind per alignment, with
    # its own (sparser) structural zeros; the stencils are the same, so the prefilter's cost is not.
    out = []
    for align in range(4):
        for nk in (4, 6, 8):
            out.append(_Kind(nk, False, nk - 1, 0, _stencil_zeros(nk, False, nk - 1, 0, align), align))
        for nk, d in ((4, 5), (6, 3), (8, 9)):
            if align and nk == 6:
                continue  # see below
            for rotated in (False, True):
                out.append(_Kind(nk, True, 0, d, _stencil_zeros(nk, True, 0, d, align, rotated), align, rotated))
    # Not in the first pass: AES-192 decryption schedules 1-3 bytes past a word boundary. Their stencil
    # holds at only 7 aligned positions, which would make the prefilter sample its stencil twice as densely
    # for every kind that shares it (measured: +60% for the whole detector); AES-192 is rare, and misaligned
    # decryption schedules only come from packed formats (an HPROF). ``--deep`` searches them in a pass of
    # their own (PACKED_192_KINDS, AesDetector.post_scan).
    return out


def _packed_192_kinds() -> list[_Kind]:
    return [_Kind(6, True, 0, 3, _stencil_zeros(6, True, 0, 3, align, rotated), align, rotated)
            for align in (1, 2, 3) for rotated in (False, True)]


KINDS = _make_kinds()
PACKED_192_KINDS = _packed_192_kinds()
DEEP_PIECE = 32 * 1024 * 1024  # bytes read at a time by the deep pass
DEEP_NOTE = ("deep: AES-192 decryption schedules 1-3 bytes past a word boundary were searched in a pass of "
             "their own (the file read once more)")


def _samples_needed(kind: _Kind, stride: int, min_hits: int) -> int:
    """Consecutive positions per row so that every schedule start has ``min_hits`` sampled zeros."""
    zs = set(kind.zeros.tolist())
    for t in range(1, COLUMNS - max(kind.x + 1, kind.y)):
        ok = True
        for p in range(stride):
            hits = sum(
                1
                for m in range(0, (kind.words + 2 * stride) // stride + 1)
                for u in range(t)
                if stride * m + u - p in zs
            )
            if hits < min_hits:
                ok = False
                break
        if ok:
            return t
    raise ValueError("stride too large for this schedule kind")


# -- the detector ------------------------------------------------------------------------------------
class AesDetector:
    """AES key schedules by the key-expansion relation; see the module docstring."""

    name = "aes"
    patterns = ()
    block_overlap = 256

    def __init__(self, max_bit_errors: int = 0, every_byte_offset: bool = True, kinds: list[_Kind] | None = None):
        self.max_bit_errors = max(0, int(max_bit_errors))
        if self.max_bit_errors > MAX_BIT_ERRORS:
            raise ValueError(f"max_bit_errors above {MAX_BIT_ERRORS} is not supported")
        # every byte offset is the default: the misaligned kinds share the aligned ones' stencils, so the
        # prefilter's cost barely grows; every_byte_offset=False keeps the 4-byte aligned kinds only
        self.every_byte_offset = every_byte_offset
        self.kinds = [k for k in (kinds or KINDS) if every_byte_offset or k.align == 0]
        self.stride = STRIDE if self.max_bit_errors == 0 else STRIDE_TOLERANT
        need = 1 + 3 * self.max_bit_errors
        self.samples = [_samples_needed(k, self.stride, need) for k in self.kinds]
        # kinds with the same stencil share its prefilter pass, sampled as densely as the neediest asks
        self.stencils: dict[tuple[int, int], int] = {}
        for k, t in zip(self.kinds, self.samples, strict=True):
            self.stencils[(k.x, k.y)] = max(t, self.stencils.get((k.x, k.y), 0))
        self.columns = max(max(x + t + 1, y + t) for (x, y), t in self.stencils.items())

    # -- pass 1 ----------------------------------------------------------------------------------
    def scan_block(self, view: View, start: int, data: bytes | memoryview) -> Iterable[Finding]:
        buf = memoryview(data).cast("B") if not isinstance(data, bytes) else data
        size = len(buf)
        if size < 176:
            return []
        own = size if start + size >= view.size else max(0, size - self.block_overlap)
        a0 = (-start) % 4
        n_words = (size - a0) // 4
        if n_words < 44:
            return []
        w = np.frombuffer(buf, dtype="<u4", count=n_words, offset=a0)
        return self._scan_words(buf, w, start, a0, own)

    def _rows(self, w: np.ndarray) -> dict[tuple[int, int], np.ndarray]:
        """Per stencil, the rows whose sampled positions satisfy it with non-zero words."""
        s = self.stride
        n = len(w)
        width = max(s, self.columns)  # a row: the words from s*m on that the stencils read
        n_rows = (n - width) // s + 1 if n >= width else 0
        plan = list(self.stencils.items())
        found: dict[tuple[int, int], list[np.ndarray]] = {st: [] for st, _t in plan}

        def piece(rows: np.ndarray, row0: int) -> None:
            # rows: (R, width), row m holds words s*m ..; the stencils read its first columns only
            cols = [np.ascontiguousarray(rows[:, c]) for c in range(self.columns)]
            if not any(c.any() for c in cols):
                return  # zero pages satisfy every linear relation and hold no schedule
            xors: dict[int, np.ndarray] = {}
            for (x, y), t in plan:
                hit = None
                for u in range(t):
                    c = x + u
                    if c not in xors:
                        xors[c] = cols[c] ^ cols[c + 1]
                    eq = xors[c] == cols[y + u]
                    hit = eq if hit is None else hit | eq
                idx = np.flatnonzero(hit)
                if not len(idx):
                    continue
                # a relation counts only on three non-zero words (zero runs, or a zero word between two
                # equal ones, satisfy it trivially)
                ok = np.zeros(len(idx), dtype=bool)
                for u in range(t):
                    x0, x1, y0 = cols[x + u][idx], cols[x + u + 1][idx], cols[y + u][idx]
                    ok |= ((x0 ^ x1) == y0) & (x0 != 0) & (x1 != 0) & (y0 != 0)
                idx = idx[ok]
                if len(idx):
                    found[(x, y)].append(idx + row0)

        if n_rows:
            whole = np.lib.stride_tricks.as_strided(
                w, shape=(n_rows, width), strides=(4 * s, 4), writeable=False
            )
            for r0 in range(0, n_rows, ROWS_PER_PIECE):
                piece(whole[r0 : r0 + ROWS_PER_PIECE], r0)
        rest = n - n_rows * s
        if rest > 0:  # the last rows, whose words run past the end: padded with zeros
            pad = np.zeros(rest + width + s, dtype=np.uint32)
            pad[:rest] = w[n_rows * s :]
            t_rows = (rest + s - 1) // s
            tail = np.lib.stride_tricks.as_strided(
                pad, shape=(t_rows, width), strides=(4 * s, 4), writeable=False
            )
            piece(tail, n_rows)
        return {st: np.concatenate(f) if f else np.empty(0, np.int64) for st, f in found.items()}

    def _scan_words(
        self, buf: bytes | memoryview, w: np.ndarray, start: int, a0: int, own: int
    ) -> list[Finding]:
        out: list[Finding] = []
        n = len(w)
        s = self.stride
        allowed = 3 * self.max_bit_errors
        rows_by_stencil = self._rows(w)
        for kind in self.kinds:
            rows = rows_by_stencil[(kind.x, kind.y)]
            if not len(rows):
                continue
            t = self.stencils[(kind.x, kind.y)]
            z = kind.zeros
            length = kind.words
            span_words = length + (1 if kind.align else 0)  # aligned words the schedule touches
            # every start p with some sampled position s*row + u (u < t) in p + zeros
            span = np.arange(-int(z[-1]), t - int(z[0]))
            cand = np.sort(((rows.astype(np.int64) * s)[:, None] + span[None, :]).ravel())
            cand = cand[np.concatenate(([True], cand[1:] != cand[:-1]))]
            # word starts whose schedule's first byte lies in the block's own range
            limit_own = (own - a0 - kind.align + 3) // 4
            cand = cand[(cand >= 0) & (cand + span_words <= n) & (cand < limit_own)]
            if not len(cand):
                continue
            for lo in range(0, len(cand), 65536):
                c = cand[lo : lo + 65536]
                if allowed == 0 and len(z) > 6:
                    # most candidates fail at once: test 3 stencil positions first, the rest on survivors
                    head = c[:, None] + z[None, :3]
                    c = c[~(w[head + kind.x] ^ w[head + kind.x + 1] ^ w[head + kind.y]).any(axis=1)]
                    if not len(c):
                        continue
                idx = c[:, None] + z[None, :]
                stencil = w[idx + kind.x] ^ w[idx + kind.x + 1] ^ w[idx + kind.y]
                good = np.count_nonzero(stencil, axis=1) <= allowed
                c = c[good]
                if not len(c):
                    continue
                nonzero = np.count_nonzero(w[c[:, None] + np.arange(length)[None, :]], axis=1)
                c = c[nonzero >= length // 2]
                for p in c.tolist():
                    off = a0 + 4 * p + kind.align
                    got = _verify(
                        bytes(buf[off : off + 4 * length]), kind.nk, kind.decrypt, self.max_bit_errors,
                        kind.rotated,
                    )
                    if got is not None:
                        out.append(_schedule_finding(start + off, kind, *got))
        return out

    # -- after the pass: where the keys lie raw ----------------------------------------------------
    def needles(self, ctx: PostScanContext) -> list[bytes]:
        """The raw keys of the first pass's schedules (located by the engine's shared search)."""
        return list(self._raw_keys(ctx, self._schedules(ctx), []))

    @staticmethod
    def _schedules(ctx: PostScanContext) -> list[Finding]:
        return [f for f in ctx.findings if f.kind == KIND and f.encoding in (ENC, DEC)]

    @staticmethod
    def _raw_keys(ctx: PostScanContext, schedules: list[Finding], notes: list[str]) -> dict[bytes, Finding]:
        """Each distinct key, re-derived from its schedule (the first schedule it came from)."""
        keys: dict[bytes, Finding] = {}
        for f in schedules:
            if len(keys) >= MAX_RAW_KEYS:
                notes.append(f"more than {MAX_RAW_KEYS} AES keys: raw copies searched for the first only")
                break
            nk = int(f.details.get("bits", 0)) // 32
            if nk not in ROUNDS:
                continue
            got = _verify(
                ctx.view.read(f.offset, f.length), nk, f.encoding == DEC, int(f.details.get("bit_errors", 0)),
                f.details.get("rotated") == "jdk",
            )
            if got is not None and got[0] not in keys:
                keys[got[0]] = f
        return keys

    def post_scan(self, ctx: PostScanContext) -> Iterable[Finding]:
        schedules = self._schedules(ctx)
        packed = self._packed_192(ctx) if ctx.deep else []
        schedules += packed
        if not schedules:
            return []
        keys = self._raw_keys(ctx, schedules, ctx.notes)
        covered = [(f.offset, f.offset + f.length) for f in schedules]
        found: list[Finding] = []
        # every key in one multi-needle pass (hyperscan), not one bytes.find walk per key
        order = list(keys)
        for key, offsets in zip(order, find_all(ctx.dump, order, ctx.state, "aes", ctx.view), strict=True):
            count = 0
            for off in offsets:
                if count >= MAX_RAW_HITS:
                    break
                if not any(a <= off and off + len(key) <= b for a, b in covered):
                    count += 1
                    found.append(_raw_finding(off, key, keys[key]))
        return packed + found

    @staticmethod
    def _packed_192(ctx: PostScanContext) -> list[Finding]:
        """``--deep``: the AES-192 decryption schedules the first pass leaves out (1-3 bytes past a word
        boundary), by the same stencil and verification, in a pass over the file of their own."""
        det = AesDetector(kinds=PACKED_192_KINDS)
        known = {f.offset for f in ctx.findings if f.kind == KIND}
        out: list[Finding] = []
        size, start = ctx.view.size, 0
        step = DEEP_PIECE - det.block_overlap
        while start < size:
            if ctx.state is not None and ctx.state.is_cancelled:
                break
            data = ctx.view.read(start, DEEP_PIECE)
            out += [f for f in det.scan_block(ctx.view, start, data) if f.offset not in known]
            start += step
        ctx.notes.append(DEEP_NOTE)
        return out


def _verify(stored: bytes, nk: int, decrypt: bool, max_errors: int, rotated: bool = False
            ) -> tuple[bytes, str, int] | None:
    """(key, layout, bit errors) when ``stored`` is a whole schedule of this kind, else None."""
    total = 4 * (ROUNDS[nk] + 1)
    if len(stored) < 4 * total:
        return None
    if rotated:  # the JDK's: the last round first; back to OpenSSL's decryption layout
        stored = stored[16 : 4 * total] + stored[:16]
    for layout, fmt in (("bytes", f">{total}I"), ("u32", f"<{total}I")):
        mem = list(struct.unpack(fmt, stored[: 4 * total]))
        ek = invert_layout(mem, nk, False) if decrypt else mem
        # windows of Nk words from which to re-derive: the key itself first, then disjoint others
        n_windows = min(max_errors + 1, total // nk)
        starts = [0] + [((total - nk) * i) // max(1, n_windows - 1) for i in range(1, n_windows)]
        for w0 in starts:
            derived = expand_words(ek[w0 : w0 + nk], nk, w0)
            expect = invert_layout(derived, nk, True) if decrypt else derived
            errors = (
                sum(bin(a ^ b).count("1") for a, b in zip(expect, mem, strict=True)) if expect != mem else 0
            )
            if errors <= max_errors:
                key = struct.pack(f">{nk}I", *derived[:nk])
                if len(set(key)) < MIN_KEY_DISTINCT_BYTES:
                    return None
                return key, layout, errors
    return None


def _schedule_finding(offset: int, kind: _Kind, key: bytes, layout: str, errors: int) -> Finding:
    what = "decryption" if kind.decrypt else "encryption"
    reasons = [
        f"AES-{kind.bits} {what} key schedule ({kind.words * 4} bytes, {layout} word order): "
        + (
            "every round key re-derives from the key"
            if not errors
            else f"re-derives from the key except {errors} bit(s)"
        )
    ]
    if kind.decrypt:
        reasons.append("decryption layout: rounds reversed, InvMixColumns on the middle rounds"
                       + (" (the JDK's: the last round moved to the front)" if kind.rotated else ""))
    details: dict[str, Any] = {"bits": kind.bits, "layout": layout}
    if kind.rotated:
        details["rotated"] = "jdk"
    if errors:
        details["bit_errors"] = errors
    return Finding(
        KIND,
        DEC if kind.decrypt else ENC,
        offset,
        kind.words * 4,
        Confidence.CONFIRMED if not errors else Confidence.HIGH,
        reasons=reasons,
        key_id=symmetric_key_id(key),
        details=details,
    )


def _raw_finding(offset: int, key: bytes, schedule: Finding) -> Finding:
    return Finding(
        KIND,
        RAW,
        offset,
        len(key),
        Confidence.CONFIRMED,
        reasons=[f"bytes equal the key of the schedule at {schedule.offset:#x}"],
        key_id=symmetric_key_id(key),
        details={"bits": 8 * len(key)},
    )


ORDER = 120  # where these run among the detectors (see viewer.scan.detectors)
DETECTORS = [AesDetector()]
