"""Live big-number RSA keys: private keys held the way libraries hold them in memory.

OpenSSL, GMP and Go (``big.Int``'s nat) keep a number as an array of little-endian limbs (64 or 32 bits:
the same bytes as the number written little-endian), the JVM's ``BigInteger`` an int[] of big-endian word
order with little-endian words (``jint``), libtommath as digits of 28 bits in 32-bit words (``MP_32BIT``; Wine's
rsaenh) or 60 bits in 64-bit words (``MP_64BIT``), CNG and DER as big-endian bytes. None of these has a
header to look for, so this detector runs after the first pass (a ``PostDetector``) and starts from the
moduli it already knows:

* every RSA public key of the first pass (certificates, public keys, key blobs, private keys: the
  finding's bytes are parsed again and kept only when they give the finding's own key_id), and the public
  keys the examiner supplied (``--public-key``);
* the private keys the first pass confirmed: their numbers are known, so every live copy of p, q, d,
  dp, dq and qinv is simply located.

How a key is proved, cheapest first:

1. one multi-pattern pass over the file (the engine's shared search of every post-scan step's needles;
   hyperscan, ``ByteSource.find`` without it) locates every copy of
   every known modulus in every layout (big-endian, little-endian, 28- and 60-bit digits) — the needle is
   the first 32 bytes of each representation, the whole representation is compared at each hit;
2. around each located copy that is not part of a first-pass structure (a certificate's modulus has no
   factor next to it; a key blob's numbers are the first pass's business) a window of ``WINDOW`` bytes
   either side is searched for a factor: every position (limb-aligned for the word layouts) whose bytes
   could be one (odd, the right top byte, random-looking — a numpy prefilter) is tested exactly,
   ``n % c == 0``; a factor proves the key (``keys.check_rsa`` derives and checks the rest). Where no
   factor is, the window is searched for d (little- or big-endian, at its own length: often a byte or
   more shorter than n): e*d/n must be close to a fraction k/g (k < e; g divides gcd(p-1, q-1), of any
   size up to ``MAX_G``), found among its continued-fraction convergents in floating point and checked
   exactly, then ``2^(e*d) = 2 mod n``, then ``check_rsa``;
2b. a key still unproved: its numbers may be far from the copy of n (OpenSSL generates p and q long before
   n), but the structure that points at n's limbs (a BIGNUM, an mp_int) is allocated with its siblings:
   the aligned pointers to each little-endian or digit copy are located (one more pass) and the windows
   around them searched the same way;
3. with ``deep``, the writable regions are searched the same way, exhaustively, for a factor of any
   modulus still unproved (slow, ~10 MB/s per modulus: the throughput is reported in the scan notes);
4. a second pass locates every copy of p, q, d, dp, dq and qinv of each key proved in 2 or 3 (both
   orders of the factors are tried; the one under which qinv = q^-1 mod p is in memory names p and q).

Default-mode cost: nothing without an RSA modulus; otherwise its share of the shared search (~2-4 GB/s)
plus work proportional to the number of moduli and their copies, and one more pass for each of 2b and 4
only when there is something to look for.

Each located private number is one ``rsa-private-key`` finding, encoding ``raw-bignum``, ``confirmed``,
with the key's key_id; ``details`` name the component and the layout (``be``, ``le64``/``le32`` when the
little-endian bytes are limb-aligned in the address space, ``le`` otherwise, ``digits28``, ``digits60``).
The offset and length are those of the number's minimal representation (no leading zero bytes, no zero
top digits). Copies of the modulus itself are public and are not reported (they would only add noise).
Numbers inside first-pass structures (a DER key's integers, a blob's fields) are reported too: they are
where the key is, and the examiner asked for every location; ``details["within"]`` names the enclosing
finding (id and encoding) so that they are not mistaken for more live copies.

Bounded: at most ``MAX_MODULI`` moduli, ``MAX_HITS`` copies of a needle, ``WINDOW`` bytes either side of a
copy and ``WINDOW_BUDGET`` (about 3 s of tests) in the default mode. No number ever goes into a reason, a
detail or a note. Not covered: d far from every copy of n and of its holders (found with the factors,
never alone, outside them), dp/dq/qinv alone, EC private scalars.
"""

from __future__ import annotations

import bisect
import concurrent.futures as cf
import math
import multiprocessing
import os
import struct
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric import rsa

from viewer.evidence.model import content_path
from viewer.scan import keys, kinds
from viewer.scan.detector import Hit, PostScanContext, View
from viewer.scan.finding import Confidence, Finding
from viewer.scan.keymaterial import (
    DIGITS,
    LAYOUTS,
    MIN_BITS,
    decode_digits,
    encode,
    key_objects,
    locate,
    needles_of,
    swap32,
)

STEP = "bignum"  # the name its post-scan progress is reported under (TaskState.step_progress)

MAX_MODULI = 256
WINDOW = 16 * 1024  # bytes either side of a modulus copy searched for a factor
# Work allowed in the windows in the default mode, all windows together, in units of about a microsecond:
# a division n % c costs 3, a byte of the private-exponent prefilter 2, a modular exponentiation 20000.
WINDOW_BUDGET = 3_000_000
MAX_PARSE = 1 << 20
DEEP_CHUNK = 4 * 1024 * 1024

COMPONENTS = ("p", "q", "d", "dp", "dq", "qinv")


# Representations of numbers (LAYOUTS, encode), key objects from a finding's bytes and the search for
# every copy of a byte string are shared with ecbignum and redaction: viewer.scan.keymaterial.

# --- keys -------------------------------------------------------------------------------------------


@dataclass
class KeyInfo:
    n: int
    e: int
    key_id: str
    source: str  # where the modulus came from (no numbers: a label, an encoding and an offset)
    numbers: rsa.RSAPrivateNumbers | None = None
    proof: list[str] = field(default_factory=list)
    copies: list[tuple[int, str]] = field(default_factory=list)  # (offset, layout) of the modulus

    @property
    def bits(self) -> int:
        return self.n.bit_length()


def _collect_keys(ctx: PostScanContext) -> tuple[dict[int, KeyInfo], int]:
    """The RSA keys to work from: supplied public keys first, then every RSA key of the first pass.
    Returns (keys by modulus, how many were left out by ``MAX_MODULI``)."""
    found: dict[int, KeyInfo] = {}
    skipped = 0

    def add(public: Any, source: str, private: Any = None) -> None:
        nonlocal skipped
        if not isinstance(public, rsa.RSAPublicKey):
            return
        nums = public.public_numbers()
        if nums.n.bit_length() < MIN_BITS or nums.n.bit_length() > keys.MAX_RSA_BITS:
            return
        info = found.get(nums.n)
        if info is None:
            if len(found) >= MAX_MODULI:
                skipped += 1
                return
            info = found[nums.n] = KeyInfo(nums.n, nums.e, keys.key_id(public), source)
        if private is not None and info.numbers is None:
            info.numbers = private.private_numbers()
            info.proof = ["private key confirmed by the first pass"]

    for supplied in ctx.public_keys or ():
        add(getattr(supplied, "public_key", None), f"supplied public key {getattr(supplied, 'label', '?')}")

    by_id: dict[str, list[Finding]] = {}
    for f in ctx.findings:
        if f.key_id is None or f.encoding == "raw-bignum":
            continue
        if f.details.get("algorithm") == "RSA" or "rsa" in f.kind:
            by_id.setdefault(f.key_id, []).append(f)
    for kid, group in by_id.items():
        if _cancelled(ctx):
            break
        group.sort(key=lambda f: (-(f.secret and f.confidence == Confidence.CONFIRMED), f.offset))
        known = next((i for i in found.values() if i.key_id == kid), None)
        if known is not None and (known.numbers is not None or not any(
            f.secret and f.confidence == Confidence.CONFIRMED for f in group
        )):
            continue
        for f in group[:4]:
            if f.length > MAX_PARSE:
                continue
            data = ctx.view.read(f.offset, f.length)
            done = False
            for obj in key_objects(data, f.encoding):
                private = obj if isinstance(obj, rsa.RSAPrivateKey) else None
                public = obj.public_key() if private is not None else obj
                if not isinstance(public, rsa.RSAPublicKey) or keys.key_id(public) != kid:
                    continue
                confirmed = f.secret and f.confidence == Confidence.CONFIRMED
                add(public, f"{f.kind} ({f.encoding}) at offset {f.offset:#x}", private if confirmed else None)
                done = private is not None or not confirmed
                if done:
                    break
            if done:
                break
    return found, skipped


def _cancelled(ctx: PostScanContext) -> bool:
    return ctx.state is not None and ctx.state.is_cancelled


# --- exact search of many needles over the whole file -------------------------------------------------


def _locate(ctx: PostScanContext, wanted: list[tuple[bytes, Any]]) -> list[tuple[int, bytes, Any]]:
    """(offset, representation, tag) of every complete copy of every representation in ``wanted``."""
    return locate(ctx.dump, wanted, ctx.state, STEP, ctx.view)


# --- factor candidates ------------------------------------------------------------------------------


def _phase(ctx: PostScanContext, at: int, buf_start: int, width: int) -> int:
    """Where, in a buffer read from ``buf_start``, the addresses aligned to ``width`` begin (mod
    ``width``): taken from the address of the file offset ``at`` (file offsets without an address are
    taken as addresses)."""
    to_va = getattr(ctx.dump, "file_to_va", None)
    va = to_va(at) if to_va is not None else None
    delta = at - va if va is not None else 0
    return (delta - buf_start) % width


def _factor_shapes(n: int) -> list[tuple[int, int]]:
    """(bits, byte length) of the factors worth looking for: the two halves of the modulus."""
    nb = n.bit_length()
    return sorted({(b, (b + 7) // 8) for b in {nb // 2, (nb + 1) // 2}})


# A factor of a modulus is a large prime: never a multiple of a small one (a random odd number is a multiple
# of one of these 67 times in 100). The value mod their product is had for every position of a buffer at
# once (prefix sums of the bytes times powers of 256), so most candidates never become Python integers.
SIEVE_PRIMES = (3, 5, 7, 11, 13, 17, 19, 23)
SIEVE_MOD = math.prod(SIEVE_PRIMES)  # below 2^27: a product of two residues fits in an int64
_SIEVE_POWERS: list[np.ndarray] = [np.ones(1, dtype=np.int64), np.ones(1, dtype=np.int64)]


def _sieve_powers(size: int) -> tuple[np.ndarray, np.ndarray]:
    """256^t and 256^-t mod ``SIEVE_MOD`` for t < ``size`` (cached; grown by doubling)."""
    up, down = _SIEVE_POWERS
    while len(up) < size:
        k = len(up)
        up = np.concatenate((up, up * pow(256, k, SIEVE_MOD) % SIEVE_MOD))
        down = np.concatenate((down, down * pow(256, -k, SIEVE_MOD) % SIEVE_MOD))
    _SIEVE_POWERS[:] = [up, down]
    return up, down


def _coprime(residues: np.ndarray) -> np.ndarray:
    ok = np.ones(len(residues), dtype=bool)
    for prime in SIEVE_PRIMES:
        ok &= residues % prime != 0
    return ok


class _Sieve:
    """For one buffer: whether the number at a position, read in a layout ("le", "be", "jint" at
    positions = ``phase4`` mod 4), has no factor in ``SIEVE_PRIMES``. The prefix sums of each layout are
    made once per buffer, on first use, and serve every length (both factor shapes)."""

    def __init__(self, a: np.ndarray, phase4: int, longest: int):
        self.a, self.phase4 = a, phase4 % 4
        self.up, self.down = _sieve_powers(len(a) + longest + 4)
        self.sums: dict[str, np.ndarray] = {}

    def _prefix(self, layout: str) -> np.ndarray:
        if layout not in self.sums:
            size, up, down = len(self.a), self.up, self.down
            if layout == "le":  # sum b_t 256^t over a window is value * 256^i
                weights = up[:size]
            elif layout == "be":  # sum b_t 256^-t is value * 256^-(i+length-1)
                weights = down[:size]
            else:  # jint: byte r of word j (from i) weighs 256^(r + 4(words-1-j)); here 256^(r - 4j)
                t = np.arange(size, dtype=np.int64) - self.phase4
                weights = np.where(t >= 0, up[t % 4] * down[4 * (np.maximum(t, 0) // 4)] % SIEVE_MOD, 0)
            sums = np.zeros(size + 1, dtype=np.int64)  # below 2^35 a byte: no overflow under 2^28 bytes
            np.cumsum(self.a * weights, out=sums[1:])
            self.sums[layout] = sums
        return self.sums[layout]

    def coprime(self, layout: str, idx: np.ndarray, length: int) -> np.ndarray:
        if not len(idx):
            return np.zeros(0, dtype=bool)
        sums = self._prefix(layout)
        if layout == "le":
            scale = self.down[idx]
        elif layout == "be":
            scale = self.up[idx + length - 1]
        else:
            scale = self.up[idx - self.phase4 + length - 4]
        return _coprime((sums[idx + length] - sums[idx]) % SIEVE_MOD * scale % SIEVE_MOD)


def _candidates(buf: bytes, phase4: int, phase8: int, shapes: Sequence[tuple[int, int]]
                ) -> Iterator[tuple[int, int, str, int | None]]:
    """(relative offset, length, layout, value) of every position of ``buf`` whose bytes could be a
    factor of the given shapes; the prefilter rejects what cannot be (even, wrong top byte, not random).
    The value is None where the bytes are a multiple of a small prime (``_Sieve``: not a factor either);
    those positions are still yielded, so that the work budget counts the same positions as before the
    sieve, and the same windows are searched."""
    a = np.frombuffer(buf, dtype=np.uint8)
    size = len(a)
    if size < 8:
        return
    sieve = _Sieve(a, phase4, max(length for _bits, length in shapes))
    # A factor is a random-looking number: few zero bytes (a random 128-byte number has more than 6 with
    # probability ~1e-6) and about half its bytes >= 0x80 (fewer than a quarter: ~1e-8). Pointers, small
    # integers, text and most code fail one or the other.
    zeros = np.concatenate(([0], np.cumsum(a == 0, dtype=np.int64)))
    highs = np.concatenate(([0], np.cumsum(a >= 0x80, dtype=np.int64)))
    # Nor is it periodic: tables of 32- and 64-bit records repeat bytes 4 or 8 apart.
    same4 = np.concatenate(([0], np.cumsum(a[:-4] == a[4:], dtype=np.int64), [0] * 4))
    same8 = np.concatenate(([0], np.cumsum(a[:-8] == a[8:], dtype=np.int64), [0] * 8))
    same4[size - 3 :] = same4[size - 4]
    same8[size - 7 :] = same8[size - 8]
    for bits, length in shapes:
        if size < length:
            continue
        top_min = 1 << ((bits - 1) % 8)
        count = size - length + 1
        ok = (zeros[length : length + count] - zeros[:count]) <= max(6, length // 20)
        ok &= (highs[length : length + count] - highs[:count]) >= max(0, length // 4 - 2)
        span = length - 8
        ok &= (same4[span : span + count] - same4[:count]) <= max(8, length // 16)
        ok &= (same8[span : span + count] - same8[:count]) <= max(8, length // 16)
        first, last = a[:count], a[length - 1 : length - 1 + count]
        # little-endian bytes, at 4-byte alignment (covers 32- and 64-bit limbs)
        le = ok & (first & 1).astype(bool) & (last >= top_min)
        idx = np.flatnonzero(le)
        idx = idx[(idx - phase4) % 4 == 0]
        for i, prime in zip(idx.tolist(), sieve.coprime("le", idx, length).tolist(), strict=True):
            yield i, length, "le", int.from_bytes(buf[i : i + length], "little") if prime else None
        # big-endian bytes, at any offset
        idx = np.flatnonzero(ok & (last & 1).astype(bool) & (first >= top_min))
        for i, prime in zip(idx.tolist(), sieve.coprime("be", idx, length).tolist(), strict=True):
            yield i, length, "be", int.from_bytes(buf[i : i + length], "big") if prime else None
        # a Java int[] magnitude (big-endian word order, little-endian words), 4-byte aligned: the top
        # word first (its top byte at +3), the lowest word last (its lowest byte at length-4)
        if length % 4 == 0:
            top_byte = a[3 : 3 + count] if count + 3 <= size else None
            low_byte = a[length - 4 : length - 4 + count]
            if top_byte is not None and len(top_byte) == count:
                jint = ok & (low_byte & 1).astype(bool) & (top_byte >= top_min)
                idx = np.flatnonzero(jint)
                idx = idx[(idx - phase4) % 4 == 0]
                for i, prime in zip(idx.tolist(), sieve.coprime("jint", idx, length).tolist(), strict=True):
                    yield i, length, "jint", int.from_bytes(swap32(bytes(buf[i : i + length])), "big") if prime else None
        # libtommath digits: every word's bits above the digit are zero (very selective)
        for layout, phase in (("digits28", phase4), ("digits60", phase8)):
            dbits, width = DIGITS[layout]
            ndig = -(-bits // dbits)
            start = phase % width
            usable = (size - start) // width
            if usable < ndig:
                continue
            dtype = np.dtype("<u4") if width == 4 else np.dtype("<u8")
            words = np.frombuffer(buf, dtype=dtype, count=usable, offset=start)
            bad = (words >> np.array(dbits, dtype=dtype)) != 0
            cbad = np.concatenate(([0], np.cumsum(bad, dtype=np.int64)))
            # random digits have one of their top 4 bits set 15 times in 16: arrays of small numbers fail
            wide = words >= np.array(1 << (dbits - 4), dtype=dtype)
            cwide = np.concatenate(([0], np.cumsum(wide, dtype=np.int64)))
            cnt = usable - ndig + 1
            good = (cbad[ndig : ndig + cnt] - cbad[:cnt]) == 0
            good &= (cwide[ndig : ndig + cnt] - cwide[:cnt]) >= ndig // 2
            same = same4 if width == 4 else same8
            first_byte = start + np.arange(cnt, dtype=np.int64) * width
            span = (ndig - 1) * width
            good &= (same[first_byte + span] - same[first_byte]) <= ndig // 2
            good &= (words[:cnt] & np.array(1, dtype=dtype)) == 1
            top_word = words[ndig - 1 : ndig - 1 + cnt]
            good &= top_word >= np.array(1 << ((bits - 1) % dbits), dtype=dtype)
            for j in np.flatnonzero(good).tolist():
                off = start + j * width
                value = decode_digits(buf[off : off + ndig * width], layout)
                if value is not None:
                    yield off, ndig * width, layout, value


def _windows(centres: Sequence[int], length: int, spans: list[tuple[int, int]], size: int
             ) -> list[tuple[int, int, int]]:
    """Merged windows (start, end, centre) around the ``centres`` that are not inside a first-pass
    finding (``spans``, sorted)."""
    starts = [s for s, _ in spans]
    raw = []
    for off in centres:
        i = bisect.bisect_right(starts, off) - 1
        # spans may nest: look back over the few spans that start before the copy
        inside = any(spans[j][0] <= off < spans[j][1] for j in range(i, max(-1, i - 8), -1))
        if not inside:
            raw.append((max(0, off - WINDOW), min(size, off + WINDOW + length), off))
    raw.sort()
    merged: list[tuple[int, int, int]] = []
    for s, e, c in raw:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e), merged[-1][2])
        else:
            merged.append((s, e, c))
    return merged


def _factor_check(info: KeyInfo, value: int) -> Any:
    """The key check when ``value`` is a factor of ``info.n`` that completes a valid key, else None; no
    side effect. Cheap on the hot path: one modulo."""
    n = info.n
    if not (1 < value < n and n % value == 0):
        return None
    other = n // value
    check = keys.check_rsa(n, info.e, p=max(value, other), q=min(value, other))
    return check if check.ok else None


def _factor_proof(info: KeyInfo, value: int) -> list[str] | None:
    """When ``value`` is a factor of ``info.n`` that completes a valid key: ``info.numbers`` is set and
    the proof's reasons are returned (the caller puts where it was found first); else None. The one home
    of that rule for every search below (windows, Java arrays, deep)."""
    check = _factor_check(info, value)
    if check is None:
        return None
    info.numbers = check.private_key.private_numbers()
    return ["n % p == 0", *check.reasons]


@dataclass
class _Found:
    """What a window search found: a factor or a private exponent, its layout and file offset."""

    what: str  # "factor" or "exponent"
    value: int
    layout: str
    offset: int
    check: Any = None  # the key check that proved it (kept where it was made; not sent from a worker)


def _window_search(ctx: PostScanContext, info: KeyInfo, window: tuple[int, int, int], budget: list[int]
                   ) -> _Found | None:
    """Search the window (start, end, the copy it is centred on) for a factor of ``info.n``, else for its
    private exponent, spending ``budget`` (units: see ``WINDOW_BUDGET``) and stopping when it is spent.
    No side effect on ``info``. Word alignment is that of the copy's address."""
    start, end, centre = window
    buf = ctx.view.read(start, end - start)
    n = info.n
    phases = _phase(ctx, centre, start, 4), _phase(ctx, centre, start, 8)
    for rel, _length, layout, value in _candidates(buf, *phases, _factor_shapes(n)):
        budget[0] -= 3
        if budget[0] < 0:
            return None
        check = _factor_check(info, value) if value is not None else None
        if check is not None:
            return _Found("factor", value, layout, start + rel, check)
    budget[0] -= 2 * len(buf)
    if budget[0] < 0:
        return None
    for rel, layout, value in _exponent_candidates(buf, phases[0], n, info.e):
        budget[0] -= 20000
        if budget[0] < 0:
            return None
        if 1 < value < n and pow(2, info.e * value, n) == 2:
            check = keys.check_rsa(n, info.e, d=value)
            if check.ok:
                return _Found("exponent", value, layout, start + rel, check)
    return None


def _prove(info: KeyInfo, found: _Found) -> None:
    """Set ``info.numbers`` and ``info.proof`` from what a window search found (its key check, or the
    same check again where the search ran in a worker)."""
    if found.what == "factor":
        check = found.check or _factor_check(info, found.value)
        assert check is not None
        info.numbers = check.private_key.private_numbers()
        info.proof = [f"a factor of the modulus ({found.layout}) at offset {found.offset:#x}", "n % p == 0",
                      *check.reasons]
        return
    check = found.check or keys.check_rsa(info.n, info.e, d=found.value)
    info.numbers = check.private_key.private_numbers()
    info.proof = [f"a private exponent ({found.layout}) at offset {found.offset:#x}: e*d = 1 mod lambda(n)",
                  *check.reasons]


def _factor_in(ctx: PostScanContext, info: KeyInfo, window: tuple[int, int, int], budget: list[int]) -> bool:
    """Search the window for a factor (else the private exponent) of ``info.n``; on success set
    ``info.numbers`` and ``info.proof``."""
    found = _window_search(ctx, info, window, budget)
    if found is not None:
        _prove(info, found)
    return found is not None


# -- the windows searched in parallel, replayed in order ----------------------------------------------
# The windows are searched one after the other until the budget is spent; which windows are searched,
# and so which keys are found, depends on that order. In parallel, each window is searched on its own
# with an unbounded budget (its trace: what it found and the units it took to find it, or in all), a few
# ahead of the replay; the replay takes the traces in the sequential order and applies exactly the
# sequential rule, so the windows searched and the keys found are those of the sequential search.
PARALLEL_WINDOWS = 4  # at least this many windows to search: below it, forking costs more than it gains
_UNBOUNDED = 1 << 62
_WINDOW_CONTEXT: tuple[PostScanContext, dict[int, KeyInfo]] | None = None


def _trace_task(n: int, window: tuple[int, int, int]) -> tuple[int, _Found | None, int]:
    """Entry point of a forked window searcher: (units spent, what it found, bytes read)."""
    assert _WINDOW_CONTEXT is not None
    ctx, infos = _WINDOW_CONTEXT
    budget = [_UNBOUNDED]
    found = _window_search(ctx, infos[n], window, budget)
    if found is not None:
        found.check = None  # key objects do not cross processes: the replay checks again
    return _UNBOUNDED - budget[0], found, window[1] - window[0]


def _search_windows(ctx: PostScanContext, keys_: Sequence[KeyInfo],
                    tasks: Iterator[tuple[KeyInfo, tuple[int, int, int]]], budget: list[int], workers: int
                    ) -> tuple[list[KeyInfo], int]:
    """The windows of ``tasks`` (in order; a key's later windows skipped once it is proved; every key
    among ``keys_``) until the budget is spent: (keys proved, windows searched). In forked workers when
    ``workers`` > 1 (see above: they are forked as they are needed, so they know every key from the
    start), else here."""
    newly: list[KeyInfo] = []
    searched = 0
    done: set[int] = set()
    if workers <= 1:
        for info, window in tasks:
            if info.n in done:
                continue
            if _cancelled(ctx) or budget[0] < 0:
                break
            searched += 1
            if _factor_in(ctx, info, window, budget):
                newly.append(info)
                done.add(info.n)
        return newly, searched
    global _WINDOW_CONTEXT
    infos = {info.n: info for info in keys_}
    pending: deque[tuple[KeyInfo, tuple[int, int, int], Any]] = deque()
    _WINDOW_CONTEXT = (ctx, infos)
    pool = cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    try:
        def refill() -> None:
            for info, window in tasks:
                if info.n not in done:
                    pending.append((info, window, pool.submit(_trace_task, info.n, window)))
                    if len(pending) >= 2 * workers:
                        return

        refill()
        while pending:
            info, window, fut = pending.popleft()
            if info.n in done:
                fut.cancel()  # a window of a key proved meanwhile: the sequential search never got to it
                continue
            if _cancelled(ctx) or budget[0] < 0:
                break
            cost, found, read = fut.result()
            if callable(getattr(ctx.view, "count", None)):
                ctx.view.count(read)  # the worker's read of the window, in the scan's re-read statistics
            searched += 1
            if found is not None and budget[0] - cost >= 0:
                budget[0] -= cost
                _prove(info, found)
                newly.append(info)
                done.add(info.n)
            else:
                budget[0] -= cost if found is None else budget[0] + 1  # spent (found past the budget: spent too)
            refill()
    finally:
        for _info, _window, fut in pending:
            fut.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        _WINDOW_CONTEXT = None
    return newly, searched


# Denominators g of the fraction k/g that e*d/n is close to, covered by the private-exponent prefilter.
# g divides gcd(p-1, q-1) (g = 1 for d = e^-1 mod phi(n)); gcd(p-1, q-1) exceeds 128 for about one key in
# 80 and 2^20 for about one in a million. float64 finds k/g (k < e < 2^24) among the convergents of e*d/n
# far beyond this; the bound keeps random bytes from passing (at most ~e*MAX_G*2^-49, ~1e-4 a position).
MAX_G = 1 << 20
# d < lambda(n) ~ n/g is shorter than n by a byte or more with probability ~g/256 (6% of the keys from
# OpenSSL or cryptography, 0.6% for d mod phi(n)): every length from that of n down to SHORT_D bytes less is
# searched (d shorter still: probability ~g*2^-31).
SHORT_D = 3


def _exponent_candidates(buf: bytes, phase4: int, n: int, e: int) -> Iterator[tuple[int, str, int]]:
    """(relative offset, layout, value) of the positions of ``buf`` whose bytes could be the private
    exponent d of (n, e), little-endian (limb-aligned) or big-endian, of any length from that of the
    modulus down to ``SHORT_D`` bytes less.

    Every length is tried separately and a candidate is read at its own length, with a non-zero top byte:
    d < lambda(n) = phi(n)/g is often a byte or more shorter than n (see ``SHORT_D``), and the bytes past
    its minimal representation need not be zero (a minimal big-endian copy is preceded by whatever precedes
    it, a minimal little-endian one followed by whatever follows it): read at the modulus's length, other
    bytes would be taken for its top or its bottom and the number would never be recognised.

    The prefilter is arithmetic: e*d = 1 + k*phi(n)/g with 1 <= k < e and g dividing gcd(p-1, q-1)
    (g = 1 for d mod phi(n)), so e*d/n is within ~2^-1000 of the fraction k/g. From the top 8 bytes of the
    candidate e*d/n is known to ~2^-52 in floating point, enough for k/g to be one of its continued-fraction
    convergents (``_near_fraction``: whatever g, up to ``MAX_G``; a random number passes with probability
    below ~1e-4). Then exactly: |g*e*d - k*n| = |g - k*(p+q-1)| is far below n/2^64 for any RSA key (both
    factors over 2^66), a random number that passed the floating-point test is 2^16 times further; only then
    a modular exponentiation (~20 ms for 2048 bits) is worth doing."""
    length = (n.bit_length() + 7) // 8
    shortest = max(16, length - SHORT_D)
    a = np.frombuffer(buf, dtype=np.uint8)
    if e >= 1 << 24 or length < 16 or len(a) < shortest:
        return
    random_mask = _random_masks(a)
    tops = {"le": _u64_everywhere(a, "little"), "be": _u64_everywhere(a, "big")}
    slack = n >> 64
    for size in range(length, shortest - 1, -1):
        count = len(a) - size + 1
        if count <= 0:
            continue
        scale = (e << (8 * (size - 8))) / n
        ok = random_mask(size)
        first, last = a[:count], a[size - 1 : size - 1 + count]
        for layout in ("le", "be"):
            # the top 8 bytes, the top byte (not zero: this is the number's length) and the lowest (d is odd)
            if layout == "le":
                top, high, low = tops["le"][size - 8 : size - 8 + count], last, first
            else:
                top, high, low = tops["be"][:count], first, last
            idx = np.flatnonzero(ok & (low & 1).astype(bool) & (high != 0))
            if layout == "le":
                idx = idx[(idx - phase4) % 4 == 0]
            if not len(idx):
                continue
            hit, num, den = _near_fraction(top[idx].astype(np.float64) * scale, e)
            for i, k, g in zip(idx[hit].tolist(), num[hit].astype(np.int64).tolist(),
                               den[hit].astype(np.int64).tolist(), strict=True):
                value = int.from_bytes(buf[i : i + size], "little" if layout == "le" else "big")
                if abs(g * e * value - k * n) <= g + k * slack:
                    yield i, layout, value


def _near_fraction(r: np.ndarray, e: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each r: whether it is, to floating-point precision (2^-48), a fraction k/g with 1 <= k < e and
    g <= ``MAX_G``, and that fraction (k, g; 0 where it is not).

    A fraction that close is a convergent of r's continued fraction (|r - k/g| < 1/(2 g^2) makes it one),
    so the convergents are walked for all r at once, each r until it is matched or its numerator reaches e
    or its denominator ``MAX_G`` (numerators and denominators only grow): at most ~30 steps, most r leave
    after one or two."""
    size = len(r)
    hit = np.zeros(size, dtype=bool)
    num = np.zeros(size, dtype=np.float64)
    den = np.zeros(size, dtype=np.float64)
    idx = np.flatnonzero((r < e) & (r * MAX_G >= 0.5))
    r = r[idx]
    x = r.copy()
    h0, h1 = np.ones_like(r), np.floor(r)
    k0, k1 = np.zeros_like(r), np.ones_like(r)
    while len(idx):
        near = (h1 >= 1) & (np.abs(r * k1 - h1) <= r * k1 * 2.0**-48)
        hit[idx[near]] = True
        num[idx[near]] = h1[near]
        den[idx[near]] = k1[near]
        frac = x - np.floor(x)
        keep = ~near & (frac > 0)
        x = 1.0 / np.where(keep, frac, 1.0)
        step = np.floor(x)
        h0, h1 = h1, step * h1 + h0
        k0, k1 = k1, step * k1 + k0
        keep &= (h1 < e) & (k1 <= MAX_G)
        idx, r, x, h0, h1, k0, k1 = idx[keep], r[keep], x[keep], h0[keep], h1[keep], k0[keep], k1[keep]
    return hit, num, den


def _u64_everywhere(a: np.ndarray, order: str) -> np.ndarray:
    """The 8 bytes at every offset of ``a`` (but the last 7) as one unsigned integer, in byte ``order``."""
    count = max(0, len(a) - 7)
    out = np.zeros(count, dtype=np.uint64)
    for k in range(8):
        shift = 8 * k if order == "little" else 8 * (7 - k)
        out |= a[k : k + count].astype(np.uint64) << np.uint64(shift)
    return out


def _random_masks(a: np.ndarray) -> Callable[[int], np.ndarray]:
    """A function of ``length`` giving, for each position where ``length`` bytes of ``a`` fit, whether
    those bytes look like a random number (few zero bytes, about half the bytes >= 0x80, no repeats 4 or 8
    bytes apart); the running counts are taken once for all the lengths asked."""
    size = len(a)
    zeros = np.concatenate(([0], np.cumsum(a == 0, dtype=np.int64)))
    highs = np.concatenate(([0], np.cumsum(a >= 0x80, dtype=np.int64)))
    same = {dist: np.concatenate(([0], np.cumsum(a[:-dist] == a[dist:], dtype=np.int64)))
            for dist in (4, 8) if size > dist}

    def mask(length: int) -> np.ndarray:
        count = size - length + 1
        ok = (zeros[length : length + count] - zeros[:count]) <= max(6, length // 20)
        ok &= (highs[length : length + count] - highs[:count]) >= max(0, length // 4 - 2)
        for dist, run in same.items():
            span = length - dist
            ok &= (run[span : span + count] - run[:count]) <= max(8, length // 16)
        return ok

    return mask


class _Reader:
    """Reads for the deep search: ``pread`` into one reused buffer (scanning gigabytes through the map
    would leave every page in our resident set), the view where the file cannot be opened again."""

    def __init__(self, ctx: PostScanContext) -> None:
        self.view = ctx.view
        self.total = 0
        self.buf = bytearray(DEEP_CHUNK + 4096)
        self.fd: int | None = None
        path = content_path(ctx.dump)
        if path:
            try:
                self.fd = os.open(str(path), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            except OSError:
                self.fd = None

    def __call__(self, offset: int, length: int, counted: int) -> bytes | memoryview:
        self.total += counted
        if self.fd is None or length > len(self.buf):
            return self.view.read(offset, length)
        mv = memoryview(self.buf)
        got = 0
        while got < length:
            r = os.preadv(self.fd, [mv[got:length]], offset + got)
            if r <= 0:
                break
            got += r
        return mv[:got]

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


# --- the detector -----------------------------------------------------------------------------------


def _components(nums: rsa.RSAPrivateNumbers) -> dict[str, int]:
    return {"p": nums.p, "q": nums.q, "d": nums.d, "dp": nums.dmp1, "dq": nums.dmq1, "qinv": nums.iqmp}


_WHY = {
    "p": "divides the modulus (n % p == 0)",
    "q": "divides the modulus (n % q == 0)",
    "d": "e*d = 1 mod lambda(n)",
    "dp": "dp = d mod (p-1)",
    "dq": "dq = d mod (q-1)",
    "qinv": "qinv * q = 1 mod p",
}


class BignumDetector:
    name = "bignum"
    patterns: tuple = ()

    def validate(self, view: View, hit: Hit) -> Iterable[Finding]:
        return ()

    def needles(self, ctx: PostScanContext) -> list[bytes]:
        """What step 1 locates (located by the engine's shared search)."""
        infos, _skipped = _collect_keys(ctx)
        return needles_of([rep for rep, _tag in self._first_wanted(infos)])

    def _first_wanted(self, infos: dict[int, KeyInfo]) -> list[tuple[bytes, Any]]:
        """Every representation of every modulus, and of the numbers of the keys already proved."""
        wanted: list[tuple[bytes, Any]] = []
        for info in infos.values():
            for layout in LAYOUTS:
                wanted.append((encode(info.n, layout), (info.n, "n", layout)))
        return wanted + self._component_reps([i for i in infos.values() if i.numbers is not None])

    def post_scan(self, ctx: PostScanContext) -> Iterable[Finding]:
        started = time.perf_counter()
        infos, skipped = _collect_keys(ctx)
        if skipped:
            ctx.notes.append(f"{skipped} RSA moduli over the limit of {MAX_MODULI} were not searched")
        if not infos or _cancelled(ctx):
            return []
        # 1. every copy of every modulus, and every copy of the numbers of keys already proved
        proved_first = [i for i in infos.values() if i.numbers is not None]
        located = _locate(ctx, self._first_wanted(infos))
        if _cancelled(ctx):
            return []
        results: list[tuple[int, bytes, Any]] = []
        for off, rep, tag in located:
            n, comp, layout = tag
            if comp == "n":
                infos[n].copies.append((off, layout))
            else:
                results.append((off, rep, tag))
        # 2. windows around the live copies of moduli whose key is not proved yet
        spans = sorted((f.offset, f.offset + f.length) for f in ctx.findings)
        size = int(ctx.view.size)
        budget = [WINDOW_BUDGET]

        def around(todo: list[KeyInfo], centres: Callable[[KeyInfo], list[int]]
                   ) -> Iterator[tuple[KeyInfo, tuple[int, int, int]]]:
            for info in todo:
                for window in _windows(centres(info), (info.bits + 7) // 8, spans, size):
                    yield info, window

        todo = [i for i in infos.values() if i.numbers is None]
        tasks = list(around(todo, lambda i: [off for off, _lay in i.copies]))
        newly, searched = _search_windows(ctx, todo, iter(tasks), budget, self._window_workers(ctx, len(tasks)))
        # 2b. what points at the live copies: the structure holding the number (OpenSSL's BIGNUM,
        # libtommath's mp_int) is allocated with its siblings, whose digits may be far from the copy's
        todo = [i for i in infos.values() if i.numbers is None and i.copies]
        holders = self._holders(ctx, todo) if todo and budget[0] >= 0 and not _cancelled(ctx) else {}
        if holders:
            tasks = list(around(todo, lambda i: holders.get(i.n, [])))
            more, count = _search_windows(ctx, todo, iter(tasks), budget, self._window_workers(ctx, len(tasks)))
            for info in more:
                info.proof.insert(0, "found next to the structure that points at a copy of the modulus")
            newly += more
            searched += count
        # 2c. a JVM: the int[] holding a copy of the modulus gives the header (class word, length) of
        # every int[]; the arrays of a factor's length are tested wherever they lie
        todo = [i for i in infos.values() if i.numbers is None and any(lay == "jint" for _o, lay in i.copies)]
        if todo and not _cancelled(ctx):
            for info in self._java_arrays(ctx, todo):
                newly.append(info)
        if budget[0] < 0:
            ctx.notes.append("window budget spent: some copies of moduli were not searched (--deep searches everything)")
        # 3. deep: the writable regions, exhaustively
        if ctx.deep and not _cancelled(ctx):
            newly += self._deep(ctx, [i for i in infos.values() if i.numbers is None])
        # 4. every copy of the numbers of the keys proved in 2 and 3
        if newly and not _cancelled(ctx):
            found = _locate(ctx, self._component_reps(newly, both_orders=True))
            results += self._orient(newly, found)
        ctx.notes.append(
            f"{len(infos)} RSA moduli, {sum(len(i.copies) for i in infos.values())} copies located, "
            f"{searched} windows searched, {len(proved_first) + len(newly)} keys with numbers "
            f"({time.perf_counter() - started:.2f} s)"
        )
        return self._findings(ctx, infos, results)

    @staticmethod
    def _orient(infos: Sequence[KeyInfo], found: list[tuple[int, bytes, Any]]) -> list[tuple[int, bytes, Any]]:
        """Which factor is p, for keys proved from a factor alone: the order under which qinv (q^-1 mod p)
        is in memory; p > q when it is not there either way."""
        out = []
        for info in infos:
            mine = [r for r in found if r[2][0] == info.n]
            std = sum(1 for r in mine if r[2][1] == "qinv")
            alt = sum(1 for r in mine if r[2][1] == "qinv~")
            rename: dict[str, str] = {}
            if alt > std and info.numbers is not None:
                nums = info.numbers
                info.numbers = rsa.RSAPrivateNumbers(
                    nums.q, nums.p, nums.d, nums.dmq1, nums.dmp1, pow(nums.p, -1, nums.q), nums.public_numbers
                )
                rename = {"p": "q", "q": "p", "dp": "dq", "dq": "dp", "qinv~": "qinv", "qinv": "qinv~"}
            for off, rep, (n, comp, layout) in mine:
                comp = rename.get(comp, comp)
                if comp != "qinv~":
                    out.append((off, rep, (n, comp, layout)))
        return out

    @staticmethod
    def _component_reps(infos: Sequence[KeyInfo], both_orders: bool = False) -> list[tuple[bytes, Any]]:
        out = []
        for info in infos:
            assert info.numbers is not None
            comps = _components(info.numbers)
            if both_orders:
                comps["qinv~"] = pow(info.numbers.p, -1, info.numbers.q)
            for comp, value in comps.items():
                if value <= 0 or value.bit_length() < 64:
                    continue  # a tiny number is everywhere; never the case for a real key
                for layout in LAYOUTS:
                    out.append((encode(value, layout), (info.n, comp, layout)))
        return out

    @staticmethod
    def _window_workers(ctx: PostScanContext, windows: int) -> int:
        """Forked window searchers: the processes the engine allows this step (``ctx.workers``: one in a
        pool over files, where the other cores scan other dumps), where this process may fork and there
        are enough windows to search; else none (1: here)."""
        from viewer.scan.engine import fork_is_safe

        if windows < PARALLEL_WINDOWS or ctx.workers <= 1 or not fork_is_safe():
            return 1
        return min(ctx.workers, windows)

    @staticmethod
    def _holders(ctx: PostScanContext, todo: Sequence[KeyInfo]) -> dict[int, list[int]]:
        """File offsets of the aligned pointers (8 bytes; 4 bytes too below 4 GiB) to the little-endian
        and digit copies of the moduli in ``todo``, by modulus."""
        to_va = getattr(ctx.dump, "file_to_va", None)
        if to_va is None:
            return {}
        wanted: list[tuple[bytes, Any]] = []
        for info in todo:
            for off, layout in info.copies:
                va = to_va(off) if layout != "be" else None
                if va is None or va < 0x10000 or va % 4:
                    continue
                wanted.append((struct.pack("<Q", va), (info.n, 8)))
                if va < 1 << 32:
                    wanted.append((struct.pack("<I", va), (info.n, 4)))
        out: dict[int, list[int]] = {}
        for off, _rep, (n, width) in _locate(ctx, wanted):
            va = to_va(off)
            if va is not None and va % width == 0:
                out.setdefault(n, []).append(off)
        return out

    @staticmethod
    def _java_arrays(ctx: PostScanContext, todo: Sequence[KeyInfo]) -> list[KeyInfo]:
        """Keys proved from the JVM's int[] of a factor, found by the array header the modulus's own
        int[] carries: HotSpot's 4 bytes before the length (the compressed class pointer, or the high half
        of a full one) are those of every int[], and the length (a 32-bit count of ints) says which hold
        a number of a factor's size. One pass over the file for the (class word, length) pairs; each array
        found is read as BigInteger's magnitude (``jint``) and tested: n % p == 0."""
        wanted: list[tuple[bytes, Any]] = []
        for info in todo:
            words = -(-info.bits // 32)
            classes = set()
            for off, layout in info.copies:
                head = ctx.view.read(off - 8, 8) if layout == "jint" and off >= 8 else b""
                if len(head) == 8 and struct.unpack("<I", head[4:])[0] == words and head[:4] != bytes(4):
                    classes.add(head[:4])
            for klass in sorted(classes)[:4]:
                for _bits, length in _factor_shapes(info.n):
                    if length % 4 == 0:
                        wanted.append((klass + struct.pack("<I", length // 4), (info.n, length)))
        proved: list[KeyInfo] = []
        by_n = {info.n: info for info in todo}
        for off, _rep, (n, length) in _locate(ctx, wanted):
            info = by_n[n]
            if info.numbers is not None:
                continue
            value = int.from_bytes(swap32(bytes(ctx.view.read(off + 8, length))), "big")
            proof = _factor_proof(info, value)
            if proof is not None:
                info.proof = [f"a factor of the modulus (jint) at offset {off + 8:#x}, in a Java int[] with the "
                              "header of the modulus's own int[]", *proof]
                proved.append(info)
        if wanted:
            ctx.notes.append(f"Java int[] headers of {len({t[0] for _w, t in wanted})} moduli searched: "
                             f"{len(proved)} keys proved")
        return proved

    def _deep(self, ctx: PostScanContext, todo: list[KeyInfo]) -> list[KeyInfo]:
        """Exhaustive search of the writable regions (all of the file without regions) for a factor."""
        if not todo:
            return []
        regions = [r for r in getattr(ctx.dump, "regions", ()) or ()
                   if r.size > 0 and r.vaddr is not None and (r.perms is None or "w" in r.perms)]
        ranges = [(r.file_offset, r.file_offset + r.size) for r in regions] or [(0, int(ctx.view.size))]
        ranges.sort()
        found: list[KeyInfo] = []
        started = time.perf_counter()
        shapes = sorted({s for info in todo for s in _factor_shapes(info.n)})
        overlap = max(length for _, length in shapes) + 8
        read = _Reader(ctx)
        try:
            self._deep_ranges(ctx, todo, ranges, shapes, overlap, read, found)
            scanned = read.total
        finally:
            read.close()
        seconds = time.perf_counter() - started
        rate = scanned / 1e6 / seconds if seconds > 0 else 0.0
        ctx.notes.append(f"deep factor search: {scanned} bytes of writable memory in {seconds:.2f} s ({rate:.1f} MB/s)")
        return found

    @staticmethod
    def _deep_ranges(ctx: PostScanContext, todo: list[KeyInfo], ranges: list[tuple[int, int]],
                     shapes: list[tuple[int, int]], overlap: int, read: _Reader, found: list[KeyInfo]) -> None:
        total = sum(hi - lo for lo, hi in ranges)
        before = 0
        for lo, hi in ranges:
            pos = lo
            while pos < hi and todo and not _cancelled(ctx):
                if ctx.state is not None:
                    ctx.state.step_progress(STEP, before + pos - lo, total)
                end = min(hi, pos + DEEP_CHUNK)
                buf = read(pos, min(hi, end + overlap) - pos, end - pos)
                phases = _phase(ctx, pos, pos, 4), _phase(ctx, pos, pos, 8)
                for rel, _length, layout, value in _candidates(buf, *phases, shapes):
                    if rel >= end - pos or value is None:
                        continue  # belongs to the next chunk, or a multiple of a small prime
                    for info in list(todo):
                        proof = _factor_proof(info, value)
                        if proof is not None:
                            info.proof = [f"a factor of the modulus ({layout}) at offset {pos + rel:#x} (deep search)",
                                          *proof]
                            todo.remove(info)
                            found.append(info)
                pos = end
            before += hi - lo

    @staticmethod
    def _findings(ctx: PostScanContext, infos: dict[int, KeyInfo], results: list[tuple[int, bytes, Any]]
                  ) -> list[Finding]:
        out: dict[tuple[int, int], Finding] = {}
        to_va = getattr(ctx.dump, "file_to_va", None)
        hosts = sorted((f for f in ctx.findings if f.encoding != "raw-bignum"), key=lambda f: f.offset)
        host_starts = [f.offset for f in hosts]
        for off, rep, (n, comp, layout) in sorted(results, key=lambda r: (r[0], len(r[1]))):
            info = infos[n]
            if info.numbers is None:
                continue
            value = _components(info.numbers)[comp]
            name = layout
            if layout == "le":
                va = to_va(off) if to_va is not None else None
                where = va if va is not None else off
                name = "le64" if where % 8 == 0 else "le32" if where % 4 == 0 else "le"
            public = rsa.RSAPublicNumbers(info.e, n).public_key()
            details: dict[str, Any] = keys.describe_public(public)
            details.update({"component": comp, "layout": name, "component_bits": value.bit_length()})
            i = bisect.bisect_right(host_starts, off) - 1
            for host in hosts[max(0, i - 8) : i + 1][::-1]:
                if host.offset <= off and off + len(rep) <= host.offset + host.length:
                    # a field of a structure the first pass reported: say so, so that it is not
                    # mistaken for another live copy
                    details["within"] = {"finding_id": host.id, "encoding": host.encoding}
                    break
            finding = Finding(
                kind=kinds.RSA_PRIVATE_KEY,
                encoding="raw-bignum",
                offset=off,
                length=len(rep),
                confidence=Confidence.CONFIRMED,
                reasons=[
                    f"{comp} of key {info.key_id}: {_WHY[comp]}",
                    f"modulus from {info.source}",
                    *info.proof,
                ],
                key_id=info.key_id,
                details=details,
            )
            key = (off, len(rep))
            if key not in out:
                out[key] = finding
        return list(out.values())


ORDER = 90  # where these run among the detectors (see viewer.scan.detectors)
DETECTORS = [BignumDetector()]
