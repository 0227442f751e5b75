"""HMAC secrets of the HS256/HS384/HS512 JWTs found in the dump, confirmed by their signatures.

A JWT signed with HMAC is ``medium`` on its own (jwk_jwt.py): without the secret the signature cannot be
checked. The process that issued or checked the token usually still holds the secret, so after the first
pass this post-scan detector collects the dump's candidate byte strings and tries each as the key of
every distinct HS* token's signature. A candidate that reproduces a signature (``hmac.compare_digest``)
*is* the signing secret: ``confirmed``. The JWT findings are left as they are.

Candidates (deduplicated as a set of byte strings; read in 16 MiB chunks with ``os.pread``, never through
the mapping, so RSS stays flat):

(a) runs of printable ASCII without space (``[\\x21-\\x7e]``) of 8-128 bytes, the whole run, as the raw
    secret (a run longer than 128 bytes is text, not a secret), and the fields of 8 bytes or more of
    such a run split at ``= : " ' , ;`` (``JWT_SECRET=value`` in a config line, JSON members). Not
    found: secrets with spaces, or glued to other printable bytes without one of those delimiters;
(b) runs of the base64 alphabet (with ``+/`` or ``-_``, padding optional) that decode to 16-64 bytes,
    decoded; the text itself is also tried raw (many services use the base64 string as the key);
(c) runs of hex digits, 32-128 of them (even), decoded; the text itself is also tried raw;
(d) raw binary windows of 32 and 64 bytes (48 too when an HS384 token exists) at 8-byte alignment (of
    the virtual address where known) inside writable memory regions (perms containing ``w``, or no
    perms known, as in raw images), keeping only key-like windows (few zero bytes, many distinct
    values). This is the costly family (random or encrypted data makes every window key-like: 64 MiB
    of random bytes gave 3.6 M windows and 41 s of work), so it is bounded three ways: by default it
    looks only within +-8 MiB (``RAW_RADIUS``) of the JWT copies, nearest first, in 64 KiB pieces — an
    application that holds a token usually holds its key in the same heap (in gcore dumps of a Python
    process holding both, the key sat 0.2-2 MiB from the token, so +-1 MiB was not enough) — and stops
    after 64 MiB of memory or 65,536 distinct key-like windows, whichever comes first (a note says
    so). With ``deep`` it covers all writable memory in file order, up to 1 GiB or 2 million windows,
    and the HMAC budget is five times larger.
    Steps (a)-(c) cover +-16 MiB (``TEXT_RADIUS``) around every JWT copy by default and the whole file
    with ``deep``, at ~160-190 MB/s of CPU (one thread): a whole-file pass by default would have cut the
    default scan of the 2 GiB benchmark image to ~100 MB/s. Measured on the
    512 MiB mixed image of tests/bench/bench_scan.py (one HS256 token, no secret) on the 2-core VM while
    other jobs loaded it: the whole post-scan took 3.7-3.9 s of CPU (4.9-9.1 s wall): ~2.9 s text
    candidates, ~0.5 s raw windows (then a 250,000-window cap, since lowered to 65,536 to keep the default scan above rsakeyfind's speed), ~0.4 s HMACs.
    A dump without HS* tokens costs nothing.

Cost: one HMAC costs ~1.3 us here (keyed inner/outer hash states made once per candidate, ~0.9 us,
and copied per token). Tokens are grouped by signer (alg, kid, iss); every candidate is tried against
one representative token per group first, then (budget permitting) against the other tokens; a secret
that verifies one token is checked against all of them. The whole search is bounded by ``budget``
HMAC computations (default 2 million: 3-5 s on the 2-core test VM); what did not fit is said in the
notes (how many tokens were not tried), never silently dropped. Cancel is checked between chunks while
collecting and every ~20,000 HMACs while verifying.

Findings: kind ``hmac-secret``, one per place where the verified secret's bytes occur in the file, in
any of its forms — raw bytes (``raw``), base64 (``base64``, padded or not), base64url (``base64url``),
hex (``hex``, either case) — found in one chunked pass over the file for all the forms of all the
verified secrets' (``bytes.find``; read, not mapped), at most ``MAX_LOCATIONS`` places per form. ``key_id`` is :func:`keys.symmetric_key_id` of the secret, so every copy is one secret. The secret
itself never appears in reasons, details or notes.

Limitation: post-scan detectors see only the first pass's findings, so a raw secret found here can also
be reported by the islands detector (kind ``high-entropy``, ``low``; deep scans only) at the same place.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import hmac
import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

import numpy as np

from viewer.evidence.model import content_path
from viewer.evidence.source import open_read_only
from viewer.scan import keys, kinds
from viewer.scan.detector import PostScanContext
from viewer.scan.finding import Confidence, Finding

MiB = 1024 * 1024
CHUNK = 16 * MiB
LEAD = 512  # overlap between chunks: longer than any candidate run (128 + 2 '=' bytes)
DEFAULT_BUDGET = 2_000_000  # HMAC computations per scan
RAW_RADIUS = 8 * MiB  # default raw-window search: this far either side of each JWT copy
TEXT_RADIUS = 16 * MiB  # default text-candidate search: this far either side of each JWT copy
RAW_LIMIT = 64 * MiB  # default cap on memory searched for raw windows
RAW_LIMIT_DEEP = 1024 * MiB  # with deep
MAX_RAW = 65_536  # default cap on distinct key-like windows (random data makes every window one)
MAX_RAW_DEEP = 2_000_000
DEEP_BUDGET_FACTOR = 5  # deep: five times the HMAC budget
PIECE = 64 * 1024  # raw-window search proceeds in pieces of this size, nearest to a JWT first
MAX_LOCATIONS = 100  # places reported per form of a verified secret
MAX_CANDIDATES = 2_000_000  # distinct text candidates kept (memory bound: ~200 MB at most)
CANCEL_EVERY = 20_000  # HMAC computations between cancel checks (~20 ms)

ASCII_MIN, ASCII_MAX = 8, 128
B64_MIN, B64_MAX = 22, 86  # unpadded characters decoding to 16..64 bytes
HEX_MIN, HEX_MAX = 32, 128

_HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
_DIGEST_NAMES = {"HS256": "sha256", "HS384": "sha384", "HS512": "sha512"}
_SIZES = {"HS256": 32, "HS384": 48, "HS512": 64}

_B64RUN = re.compile(rb"[A-Za-z0-9+/_-]{22,}")  # maximal runs: a shorter suffix never matches alone
_STD, _URL = frozenset(b"+/"), frozenset(b"-_")
_DELIMITED = re.compile(rb"[=:\"',;]")
_FIELD = re.compile(rb"[^=:\"',;]{8,}")
_HEXDIGITS = b"0123456789abcdefABCDEF"


@dataclass
class _Token:
    """One distinct signed token (a token may occur at several file offsets)."""

    alg: str
    message: bytes  # the signing input: base64url(header) "." base64url(claims)
    signature: bytes
    offsets: list[int]
    kid: str | None
    group: tuple[Any, ...]
    secret: bytes | None = None


@dataclass
class _Search:
    budget: int
    used: int = 0
    cancelled: bool = False
    notes: list[str] = field(default_factory=list)


def _printable_runs(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the runs of at least 8 bytes 0x21-0x7e in ``arr``.

    One compare for the range (uint8 arithmetic wraps), then three shifted ANDs so that position i is
    set when bytes i..i+7 are all printable: only runs of 8 or more leave edges. Random and binary data
    are ~37% printable and would otherwise give ~7 M edges per 16 MiB."""
    n = arr.size
    if n < ASCII_MIN:
        empty = np.empty(0, dtype=np.intp)
        return empty, empty
    m = np.less(arr - np.uint8(0x21), np.uint8(94))
    m2 = m[:-1] & m[1:]
    m4 = m2[:-2] & m2[2:]
    m8 = np.zeros(n - 5, dtype=bool)  # n - 7 positions plus a False on either side
    np.logical_and(m4[:-4], m4[4:], out=m8[1:-1])
    edges = np.flatnonzero(m8[1:] != m8[:-1])
    return edges[0::2], edges[1::2] + (ASCII_MIN - 1)


class _Reader:
    """Reads file ranges with ``os.pread`` into fresh buffers (flat RSS); falls back to ``view.read``."""

    def __init__(self, ctx: PostScanContext):
        self.view = ctx.view
        self.size = int(getattr(ctx.view, "size", 0) or getattr(ctx.dump, "size", 0))
        # the content's own file (a container's is in the cache); None: read through the view
        path = content_path(ctx.dump) if ctx.dump is not None else getattr(ctx.view, "path", None)
        self.fd = open_read_only(path)

    def read(self, offset: int, length: int) -> bytes:
        length = min(length, self.size - offset)
        if length <= 0:
            return b""
        if self.fd is None:
            return self.view.read(offset, length)
        parts = []
        done = 0
        while done < length:
            b = os.pread(self.fd, length - done, offset + done)
            if not b:
                break
            parts.append(b)
            done += len(b)
        return b"".join(parts) if len(parts) != 1 else parts[0]

    def chunks(self, start: int, end: int) -> Iterator[tuple[int, int, bytes]]:
        """(own start, buffer start, buffer) for [start, end) in CHUNK pieces with LEAD bytes of overlap."""
        for s in range(start, end, CHUNK):
            e = min(end, s + CHUNK)
            b0 = max(0, s - LEAD)
            yield s, b0, self.read(b0, min(self.size, e + LEAD) - b0)

    def locate(self, needles: list[bytes], limit: int) -> dict[bytes, tuple[list[int], bool]]:
        """File offsets of every needle (at most ``limit`` each; True when there were more), in one
        chunked pass over the file for all of them (read, not mapped: RSS stays flat)."""
        found: dict[bytes, tuple[list[int], bool]] = {n: ([], False) for n in needles}
        live = [n for n in needles if n and len(n) <= LEAD]
        for s, b0, buf in self.chunks(0, self.size):
            if not live:
                break
            own_hi = s - b0 + CHUNK
            for needle in list(live):
                offsets, _more = found[needle]
                pos = buf.find(needle, s - b0)
                while pos != -1 and pos < own_hi:
                    if len(offsets) == limit:
                        found[needle] = (offsets, True)
                        live.remove(needle)
                        break
                    offsets.append(b0 + pos)
                    pos = buf.find(needle, pos + 1)
        return found

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _tokens(ctx: PostScanContext, reader: _Reader) -> list[_Token]:
    by_content: dict[tuple[str, bytes, bytes], _Token] = {}
    for f in ctx.findings:
        if f.kind != kinds.JWT:
            continue
        alg = f.details.get("alg")
        if alg not in _HASHES:
            continue
        raw = reader.read(f.offset, f.length)
        if f.encoding.endswith("-utf16le"):
            raw = raw[0::2]  # the validator checked that every high byte is zero
        parts = raw.split(b".")
        if len(parts) != 3:
            continue
        try:
            sig = keys.b64url_decode(parts[2])
        except (ValueError, binascii.Error):
            continue
        if len(sig) != _SIZES[alg]:
            continue
        message = parts[0] + b"." + parts[1]
        key = (alg, message, sig)
        tok = by_content.get(key)
        if tok is None:
            kid = f.details.get("kid")
            group = (alg, kid, f.details.get("iss"))
            by_content[key] = _Token(alg, message, sig, [f.offset], kid if isinstance(kid, str) else None, group)
        else:
            tok.offsets.append(f.offset)
    return sorted(by_content.values(), key=lambda t: t.offsets[0])


def _load64(arr: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The 8 bytes at each offset ``at`` of ``arr`` as little-endian uint64."""
    idx = at[:, None] + np.arange(8)
    return np.ascontiguousarray(arr[idx]).view("<u8").reshape(-1)


def _text_candidates(buf: bytes, own_lo: int, own_hi: int, out: dict[bytes, None]) -> None:
    """Add the (a), (b), (c) candidates of ``buf`` that start in [own_lo, own_hi).

    Numpy finds the printable runs of 8 bytes or more (see :func:`_printable_runs`; a 256-entry class
    table indexed per byte was 4x slower), dedupes the short ones (text repeats its words) and Python
    takes them whole, plus the fields of a run with delimiters (``KEY=value``, ``"k":"v"``); a regex
    finds the base64/hex runs inside the printable runs of 22 bytes or more (every base64 or hex run
    lies inside one). A run starting in the lead-in belongs to the previous chunk. Measured at
    100-250 MB/s on the 512 MiB mixed bench image (2-core VM loaded by other jobs)."""
    arr = np.frombuffer(buf, dtype=np.uint8)
    starts, ends = _printable_runs(arr)
    n = ends - starts
    short = (n >= ASCII_MIN) & (n <= ASCII_MAX) & (starts >= own_lo) & (starts < own_hi)
    ss, se = starts[short], ends[short]
    if ss.size > 1024:
        # Text repeats its words: dedupe in numpy before slicing in Python. Runs of up to 16 bytes are
        # named exactly by (first 8 bytes, last 8 bytes, length), mixed into one 64-bit hash here (two
        # different runs sharing a hash, ~1e-9 per chunk, would lose one candidate); longer runs are
        # taken as they are.
        small = (se - ss) <= 16
        i_small = np.flatnonzero(small)
        if i_small.size:
            first = _load64(arr, ss[i_small])  # runs are >= 8 bytes: both loads stay inside
            last = _load64(arr, se[i_small] - 8)
            h = (first * np.uint64(0x9E3779B97F4A7C15)) ^ (last * np.uint64(0xC2B2AE3D27D4EB4F))
            h ^= (se[i_small] - ss[i_small]).astype(np.uint64)
            _, first_of_each = np.unique(h, return_index=True)
            keep_idx = np.concatenate((i_small[first_of_each], np.flatnonzero(~small)))
            ss, se = ss[keep_idx], se[keep_idx]
    pieces = list(map(buf.__getitem__, map(slice, ss.tolist(), se.tolist())))
    out.update(zip(pieces, repeat(None)))
    # "KEY=value", '"secret":"value"': the value alone is a candidate too
    for p in pieces:
        if _DELIMITED.search(p) is not None:
            out.update(zip((m.group(0) for m in _FIELD.finditer(p)), repeat(None)))
    long = (n >= B64_MIN) & (ends > own_lo) & (starts < own_hi)
    for s, e in zip(starts[long].tolist(), ends[long].tolist(), strict=True):
        for m in _B64RUN.finditer(buf, s, e):
            if not own_lo <= m.start() < own_hi:
                continue
            text = m.group(0)
            size = len(text)
            if B64_MIN <= size <= B64_MAX and size % 4 != 1:
                std, url = _STD.intersection(text), _URL.intersection(text)
                if not (std and url):
                    out[text] = None
                    padded = text + b"=" * (-size % 4)
                    try:
                        out[base64.urlsafe_b64decode(padded) if url else base64.b64decode(padded)] = None
                    except (ValueError, binascii.Error):
                        pass
            if HEX_MIN <= size <= HEX_MAX and size % 2 == 0 and not text.translate(None, _HEXDIGITS):
                out[text] = None
                out[bytes.fromhex(text.decode("ascii"))] = None


def _writable_spans(ctx: PostScanContext, size: int) -> list[tuple[int, int, int]]:
    """(file start, file end, address - file offset) of the writable memory regions (perms with ``w``,
    or no perms known), sorted; the whole file when the dump has no regions."""
    regions = list(getattr(ctx.dump, "regions", None) or [])
    spans: list[tuple[int, int, int]] = []
    for r in regions:
        if r.size <= 0 or (r.perms is not None and "w" not in r.perms):
            continue
        base = r.vaddr if r.vaddr is not None else r.file_offset
        spans.append((r.file_offset, min(size, r.file_offset + r.size), base - r.file_offset))
    if not regions:
        spans = [(0, size, 0)]
    return sorted(spans)


def _text_spans(ctx: PostScanContext, tokens: list[_Token], size: int) -> list[tuple[int, int]]:
    """Where to collect text candidates: the whole file with ``deep``; by default the merged spans of
    +-TEXT_RADIUS around every JWT copy, so the cost follows the tokens, not the size of the dump (a
    whole-file text pass runs at ~170 MB/s and would halve the default scan's speed)."""
    if ctx.deep:
        return [(0, size)]
    spans = sorted((max(0, o - TEXT_RADIUS), min(size, o + TEXT_RADIUS)) for t in tokens for o in t.offsets)
    merged: list[tuple[int, int]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _raw_pieces(ctx: PostScanContext, tokens: list[_Token], size: int) -> Iterator[tuple[int, int, int, int]]:
    """(start, end, span end, address delta) of the pieces of writable memory to search for raw windows,
    nearest to a JWT copy first (by default, within RAW_RADIUS), or in file order with ``deep``."""
    spans = _writable_spans(ctx, size)
    starts = [sp[0] for sp in spans]

    def clip(lo: int, hi: int) -> Iterator[tuple[int, int, int, int]]:
        i = max(0, bisect.bisect_right(starts, lo) - 1)
        while i < len(spans) and spans[i][0] < hi:
            s, e, delta = spans[i]
            if max(lo, s) < min(hi, e):
                yield max(lo, s), min(hi, e), e, delta
            i += 1

    if ctx.deep:
        for s, e, delta in spans:
            for lo in range(s, e, PIECE):
                yield lo, min(e, lo + PIECE), e, delta
        return
    centres = sorted({o // PIECE for t in tokens for o in t.offsets})
    seen: set[int] = set()
    for ring in range(RAW_RADIUS // PIECE + 1):
        for c in centres:
            for p in (c - ring, c + ring):
                if p < 0 or p * PIECE >= size or p in seen:
                    continue
                seen.add(p)
                yield from clip(p * PIECE, min(size, (p + 1) * PIECE))


def _raw_candidates(buf: bytes, base: int, delta: int, sizes: Iterable[int], out: dict[bytes, None]) -> None:
    """Key-like windows of ``sizes`` bytes at 8-byte alignment of the address (file offset + delta)."""
    arr = np.frombuffer(buf, dtype=np.uint8)
    first = (-(base + delta)) % 8
    zeros = np.concatenate(([0], np.cumsum(arr == 0, dtype=np.int32)))
    printable = np.concatenate(([0], np.cumsum((arr - np.uint8(0x21)) < 94, dtype=np.int32)))
    for w in sizes:
        if arr.size < first + w:
            continue
        pos = np.arange(first, arr.size - w + 1, 8)
        nz = zeros[pos + w] - zeros[pos]
        # random bytes: P(zero) = 1/256, so key-like windows have almost none; about 37% of random
        # bytes are printable (3/4 of them: P ~ 1e-5), so a window that is mostly text is not a key
        pos = pos[(nz <= w // 16) & (printable[pos + w] - printable[pos] < (3 * w) // 4)]
        if not pos.size:
            continue
        win = np.lib.stride_tricks.sliding_window_view(arr, w)[pos]
        srt = np.sort(win, axis=1)
        distinct = 1 + np.count_nonzero(np.diff(srt, axis=1), axis=1)
        need = {32: 24, 48: 34, 64: 44}.get(w, int(0.7 * w))  # random: ~30.2, ~43.7, ~56.8 expected
        for row in win[distinct >= need]:
            out[row.tobytes()] = None


_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


def _pads(key: bytes, alg: str) -> tuple[Any, Any]:
    """The keyed inner and outer hash states of HMAC (RFC 2104) for ``key``: copying them per message
    costs ~1.3 us a token where ``hmac.digest`` costs ~5 us (OpenSSL 3 fetches the algorithm per call).
    A match is re-checked with ``hmac.digest`` and ``hmac.compare_digest``."""
    new = _HASHES[alg]
    block = new().block_size
    if len(key) > block:
        key = new(key).digest()
    key = key.ljust(block, b"\0")
    return new(key.translate(_IPAD)), new(key.translate(_OPAD))


def _cancelled(ctx: PostScanContext) -> bool:
    return bool(ctx.state is not None and getattr(ctx.state, "is_cancelled", False))


class HmacSecretDetector:
    """Post-scan: the signing secrets of HS256/384/512 JWTs, verified by their signatures."""

    name = "hmac"
    patterns: tuple = ()

    def __init__(self, budget: int = DEFAULT_BUDGET):
        self.budget = budget

    def post_scan(self, ctx: PostScanContext) -> Iterable[Finding]:
        reader = _Reader(ctx)
        try:
            return self._post_scan(ctx, reader)
        finally:
            reader.close()

    def _post_scan(self, ctx: PostScanContext, reader: _Reader) -> list[Finding]:
        tokens = _tokens(ctx, reader)
        if not tokens:
            return []
        started = time.perf_counter()
        search = _Search(self.budget * (DEEP_BUDGET_FACTOR if ctx.deep else 1))
        candidates = self._collect(ctx, reader, tokens, search)
        ctx.notes.append(
            f"{len(tokens)} distinct HS* token(s), {len(candidates)} distinct candidate secrets "
            f"collected in {time.perf_counter() - started:.2f} s"
        )
        if search.cancelled:
            ctx.notes.append("cancelled while collecting candidates; no secret searched")
            return []
        self._verify(ctx, tokens, candidates, search)
        ctx.notes.extend(search.notes)
        ctx.notes.append(f"{search.used} HMAC computations of a budget of {search.budget}")
        return self._findings(reader, tokens, ctx)

    # -- candidates --------------------------------------------------------------------------------
    def _collect(self, ctx: PostScanContext, reader: _Reader, tokens: list[_Token], search: _Search) -> list[bytes]:
        text: dict[bytes, None] = {}  # an ordered set: the same order on every run
        for start, end in _text_spans(ctx, tokens, reader.size):
            for s, b0, buf in reader.chunks(start, end):
                if _cancelled(ctx):
                    search.cancelled = True
                    return []
                _text_candidates(buf, s - b0, min(len(buf), s - b0 + min(CHUNK, end - s)), text)
                if len(text) >= MAX_CANDIDATES:
                    break
            if len(text) >= MAX_CANDIDATES:
                search.notes.append(f"candidate text strings capped at {MAX_CANDIDATES}; the rest of the file not searched")
                break
        if not ctx.deep:
            search.notes.append(
                f"text candidates: within {TEXT_RADIUS // MiB} MiB of each JWT copy (--deep: the whole file)"
            )
        raw: dict[bytes, None] = {}
        sizes = {32, 64} | ({48} if any(t.alg == "HS384" for t in tokens) else set())
        limit = RAW_LIMIT_DEEP if ctx.deep else RAW_LIMIT
        cap = MAX_RAW_DEEP if ctx.deep else MAX_RAW
        searched, stopped = 0, ""
        for lo, hi, span_end, delta in _raw_pieces(ctx, tokens, reader.size):
            if _cancelled(ctx):
                search.cancelled = True
                return []
            if searched >= limit or len(raw) >= cap:
                stopped = f"{limit} bytes searched" if searched >= limit else f"{cap} key-like windows collected"
                break
            # windows start in [lo, hi) and end inside the region: read up to 63 bytes past hi
            buf = reader.read(lo, min(span_end, hi + 63) - lo)
            _raw_candidates(buf, lo, delta, sorted(sizes), raw)
            searched += hi - lo
        where = "writable memory" if ctx.deep else f"writable memory within {RAW_RADIUS // MiB} MiB of a JWT, nearest first"
        search.notes.append(f"raw windows: {searched} bytes of {where} searched, {len(raw)} key-like windows")
        if stopped:
            search.notes.append(f"raw windows: search stopped at the cap ({stopped}); farther memory not searched")
        # (a)-(c) first: the common forms; raw windows last
        return [c for c in text if c] + [c for c in raw if c not in text]

    # -- verification ------------------------------------------------------------------------------
    def _verify(self, ctx: PostScanContext, tokens: list[_Token], candidates: list[bytes], search: _Search) -> None:
        reps: list[_Token] = []
        seen_groups: set[tuple[Any, ...]] = set()
        rest: list[_Token] = []
        for t in tokens:
            (rest if t.group in seen_groups else reps).append(t)
            seen_groups.add(t.group)
        for label, round_tokens in (("signer group", reps), ("further token", rest)):
            todo = [t for t in round_tokens if t.secret is None]
            if not todo or search.cancelled:
                continue
            left = max(0, search.budget - search.used)
            fit = left // max(1, len(candidates))
            cands = candidates
            if fit == 0 and left > 0:
                # not even one token against every candidate: one token against as many as fit
                cands, fit = candidates[:left], 1
            chosen, skipped = todo[:fit], todo[fit:]
            if skipped:
                search.notes.append(f"HMAC budget exhausted: {len(skipped)} {label}(s) not tried")
            if len(cands) < len(candidates) and chosen:
                search.notes.append(f"HMAC budget exhausted: {len(candidates) - len(cands)} candidates not tried")
            if chosen:
                self._try(ctx, chosen, tokens, cands, search)

    def _try(
        self, ctx: PostScanContext, chosen: list[_Token], tokens: list[_Token], cands: list[bytes], search: _Search
    ) -> None:
        active = list(chosen)

        def by_alg(ts: list[_Token]) -> list[tuple[str, list[tuple[bytes, bytes, _Token]]]]:
            groups: dict[str, list[tuple[bytes, bytes, _Token]]] = {}
            for t in ts:
                groups.setdefault(t.alg, []).append((t.message, t.signature, t))
            return sorted(groups.items())

        groups = by_alg(active)
        since = CANCEL_EVERY
        step = getattr(ctx.state, "step_progress", None)
        for i, cand in enumerate(cands):
            if since >= CANCEL_EVERY:
                since = 0
                if step is not None:
                    step("hmac", i, len(cands))
                if _cancelled(ctx):
                    search.cancelled = True
                    search.notes.append(f"cancelled after {i} of {len(cands)} candidates")
                    return
            since += len(active)
            search.used += len(active)
            hit = None
            for alg, members in groups:
                inner, outer = _pads(cand, alg)
                for message, signature, t in members:
                    h = inner.copy()
                    h.update(message)
                    o = outer.copy()
                    o.update(h.digest())
                    if o.digest() == signature:
                        hit = t
                        break
                if hit is not None:
                    break
            if hit is None or not hmac.compare_digest(
                hmac.digest(cand, hit.message, _DIGEST_NAMES[hit.alg]), hit.signature
            ):
                continue
            for other in tokens:  # one secret often signs many tokens
                if other.secret is None and hmac.compare_digest(
                    hmac.digest(cand, other.message, _DIGEST_NAMES[other.alg]), other.signature
                ):
                    other.secret = cand
            search.used += len(tokens)
            active = [a for a in active if a.secret is None]
            if not active:
                break
            groups = by_alg(active)
        if step is not None:
            step("hmac", len(cands), len(cands))

    # -- findings ----------------------------------------------------------------------------------
    def _findings(self, reader: _Reader, tokens: list[_Token], ctx: PostScanContext) -> list[Finding]:
        by_secret: dict[bytes, list[_Token]] = {}
        for t in tokens:
            if t.secret is not None:
                by_secret.setdefault(t.secret, []).append(t)
        out: list[Finding] = []
        all_forms = {secret: _forms(secret) for secret in by_secret}
        needles = list(dict.fromkeys(needle for forms in all_forms.values() for _enc, needle, _pad in forms))
        located = reader.locate(needles, MAX_LOCATIONS) if needles else {}
        for secret, signed in by_secret.items():
            first = min(signed, key=lambda t: t.offsets[0])
            jwt_offset = first.offsets[0]
            copies = sum(len(t.offsets) for t in signed)
            reasons = [f"verifies the {first.alg} signature of the JWT at file offset {jwt_offset:#x}"]
            if copies > 1:
                reasons.append(f"verifies {copies} JWT copies ({len(signed)} distinct tokens) in all")
            details: dict[str, Any] = {"alg": first.alg, "jwt_offset": jwt_offset}
            if first.kid is not None:
                details["kid"] = first.kid
            details["bytes"] = len(secret)
            details["jwts_verified"] = copies
            key_id = keys.symmetric_key_id(secret)
            places: dict[int, tuple[int, str]] = {}
            for encoding, needle, pad in all_forms[secret]:
                offsets, more = located[needle]
                if more:
                    ctx.notes.append(f"a verified secret's {encoding} form occurs more than {MAX_LOCATIONS} times; "
                                     f"the first {MAX_LOCATIONS} are reported")
                for off in offsets:
                    length = len(needle)
                    if pad and reader.read(off + length, pad) == b"=" * pad:
                        length += pad  # padded base64: the padding belongs to the string
                    old = places.get(off)
                    if old is None or old[0] < length:
                        places[off] = (length, encoding)
            for off, (length, encoding) in sorted(places.items()):
                out.append(
                    Finding(
                        kind=kinds.HMAC_SECRET,
                        encoding=encoding,
                        offset=off,
                        length=length,
                        confidence=Confidence.CONFIRMED,
                        reasons=list(reasons),
                        key_id=key_id,
                        details=dict(details),
                    )
                )
        if by_secret:
            ctx.notes.append(f"{len(by_secret)} HMAC secret(s) verified, {len(out)} location(s)")
        return out


def _forms(secret: bytes) -> list[tuple[str, bytes, int]]:
    """(encoding, needle, padding) of every form of ``secret`` to look for: raw, base64 and base64url
    without padding (``padding`` '=' characters extend a match when they follow it), hex in both cases."""
    std = base64.b64encode(secret)
    url = base64.urlsafe_b64encode(secret)
    pad = len(std) - len(std.rstrip(b"="))
    forms = [("raw", secret, 0), ("base64", std.rstrip(b"="), pad)]
    if url != std:
        forms.append(("base64url", url.rstrip(b"="), pad))
    hx = secret.hex().encode()
    forms.append(("hex", hx, 0))
    if hx.upper() != hx:
        forms.append(("hex", hx.upper(), 0))
    seen: set[bytes] = set()
    out = []
    for enc, needle, p in forms:
        if needle and needle not in seen:
            seen.add(needle)
            out.append((enc, needle, p))
    return out


ORDER = 110  # where these run among the detectors (see viewer.scan.detectors)
DETECTORS = [HmacSecretDetector()]
