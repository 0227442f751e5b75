"""Key material as the detectors and redaction share it: how a key's numbers lie in memory, what key
objects a finding's bytes parse into, where every copy of some byte strings is in a dump, the AES key
schedules, and every form a private value can take with the search for runs of any of them (fragments).

Why one public module: the big-number detectors (``bignum`` for RSA, ``ecbignum`` for EC) and redaction
(which overwrites every copy of a key a finding revealed) need the same representations and the same
search; they used to reach into ``bignum``'s and ``aes``'s private helpers (redaction with a fake
post-scan context). Here each rule has one home and an explicit signature.

Secrets are radioactive: nothing here logs, reports or raises with evidence bytes or numbers.
"""

from __future__ import annotations

import array
import base64
import hashlib
import json
import mmap
import os
import struct
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import Any, TypeVar

import numpy as np
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from viewer.evidence.model import content_path
from viewer.scan import keys
from viewer.scan.detector import View
from viewer.tasks import TaskState

try:  # optional, like everywhere else in the scanner
    import hyperscan as _hs
except ImportError:  # pragma: no cover - depends on the installation
    _hs = None

T = TypeVar("T")

MIN_BITS = 512  # RSA moduli below this are not keys worth reporting
MAX_HITS = 4096  # copies of one needle; more is not a key held by a process
NEEDLE = 32  # bytes of each representation searched for; the rest is compared at each hit
CHUNK = 32 * 1024 * 1024  # bytes of the file per hyperscan call (progress and cancel between them)

# -- how a number lies in memory -------------------------------------------------------------------
# OpenSSL and GMP keep little-endian limbs (the bytes of the number little-endian), libtommath 28-bit
# digits in 32-bit words (MP_32BIT) or 60-bit digits in 64-bit words (MP_64BIT), DER and CNG big-endian;
# Go's big.Int (nat: little-endian 64-bit words) is "le" too. The JVM's BigInteger keeps its magnitude as an
# int[] in big-endian word order, each 32-bit word in the machine's (little-endian) order: "jint" (the
# big-endian bytes padded to whole words, each word's bytes reversed). HPROF writes the same int[]
# big-endian: that is "be" padded to whole words, found as "be".
LAYOUTS = ("be", "le", "digits28", "digits60", "jint")
DIGITS = {"digits28": (28, 4), "digits60": (60, 8)}  # layout -> (bits per digit, bytes per word)


def encode(value: int, layout: str) -> bytes:
    """The minimal representation of ``value`` (> 0) in ``layout``."""
    if layout == "be":
        return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    if layout == "le":
        return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "little")
    if layout == "jint":
        return swap32(value.to_bytes(max(4, -(-value.bit_length() // 32) * 4), "big"))
    bits, width = DIGITS[layout]
    mask = (1 << bits) - 1
    count = max(1, -(-value.bit_length() // bits))
    return b"".join(((value >> (bits * i)) & mask).to_bytes(width, "little") for i in range(count))


def decode_digits(data: bytes, layout: str) -> int | None:
    """The value of ``data`` as libtommath digits, or None when a word has bits above the digit."""
    bits, width = DIGITS[layout]
    value = 0
    for i in range(len(data) // width - 1, -1, -1):
        word = int.from_bytes(data[i * width : (i + 1) * width], "little")
        if word >> bits:
            return None
        value = (value << bits) | word
    return value


# -- key objects from a finding's bytes ------------------------------------------------------------
def rsa_from_blob(data: bytes, encoding: str) -> tuple[int, int, int | None, int | None] | None:
    """(n, e, p, q) of a CryptoAPI or CNG RSA blob (p, q None for public blobs)."""
    if encoding.startswith("cryptoapi-"):
        pos = 8 if encoding in ("cryptoapi-privatekeyblob", "cryptoapi-publickeyblob") else 0
        if len(data) < pos + 12:
            return None
        bitlen = int.from_bytes(data[pos + 4 : pos + 8], "little")
        e = int.from_bytes(data[pos + 8 : pos + 12], "little")
        if not MIN_BITS // 2 <= bitlen <= keys.MAX_RSA_BITS or bitlen % 16:
            return None
        pos += 12
        nb, hb = bitlen // 8, bitlen // 16
        if len(data) < pos + nb:
            return None
        n = int.from_bytes(data[pos : pos + nb], "little")
        p = q = None
        if data[:12].find(b"RSA2") >= 0 and len(data) >= pos + nb + 2 * hb:
            p = int.from_bytes(data[pos + nb : pos + nb + hb], "little")
            q = int.from_bytes(data[pos + nb + hb : pos + nb + 2 * hb], "little")
        return n, e, p, q
    if encoding.startswith("bcrypt-rsa") and len(data) >= 24:
        cb = [int.from_bytes(data[i : i + 4], "little") for i in range(8, 24, 4)]
        cb_e, cb_n, cb_p, cb_q = cb
        if not 1 <= cb_e <= 8 or not 0 < cb_n <= keys.MAX_RSA_BITS // 8 or len(data) < 24 + cb_e + cb_n:
            return None
        pos = 24
        e = int.from_bytes(data[pos : pos + cb_e], "big")
        pos += cb_e
        n = int.from_bytes(data[pos : pos + cb_n], "big")
        pos += cb_n
        p = q = None
        if encoding != "bcrypt-rsapublic" and cb_p and cb_q and len(data) >= pos + cb_p + cb_q:
            p = int.from_bytes(data[pos : pos + cb_p], "big")
            q = int.from_bytes(data[pos + cb_p : pos + cb_p + cb_q], "big")
        return n, e, p, q
    return None


def key_objects(data: bytes, encoding: str) -> Iterator[Any]:
    """Every key object (``cryptography``, public or private) the bytes of a finding can be read as:
    RSA key blobs, X.509, PEM/DER private and public keys, OpenSSH, JWK, raw Ed25519 seeds (the
    ``ed25519-seed`` and ``ed25519-seed-public`` layouts). Cheap failures, never raises."""
    if encoding in ("ed25519-seed", "ed25519-seed-public") and len(data) >= 32:
        from cryptography.hazmat.primitives.asymmetric import ed25519

        yield ed25519.Ed25519PrivateKey.from_private_bytes(data[:32])
        return
    blob = rsa_from_blob(data, encoding)
    if blob is not None:
        n, e, p, q = blob
        if p is not None and q is not None:
            check = keys.check_rsa(n, e, p=p, q=q)
            if check.ok:
                yield check.private_key
        try:
            yield rsa.RSAPublicNumbers(e, n).public_key()
        except (ValueError, TypeError, OverflowError):
            pass
        return
    texts = [data]
    if "utf16" in encoding:
        try:
            texts.append(data.decode("utf-16-le").encode("ascii", "ignore"))
        except UnicodeDecodeError:
            pass
    if "json" in encoding or b"\\n" in data[:200]:
        texts += [t.replace(b"\\r", b"").replace(b"\\n", b"\n").replace(b"\\/", b"/") for t in list(texts)]
    loaders = (
        lambda b: x509.load_der_x509_certificate(b).public_key(),
        lambda b: x509.load_pem_x509_certificate(b).public_key(),
        # the first pass confirmed the numbers already: OpenSSL's own check (~40 ms a key) adds nothing
        lambda b: serialization.load_der_private_key(b, None, unsafe_skip_rsa_key_validation=True),
        lambda b: serialization.load_pem_private_key(b, None, unsafe_skip_rsa_key_validation=True),
        serialization.load_der_public_key,
        serialization.load_pem_public_key,
        lambda b: serialization.load_ssh_private_key(b, None),
        serialization.load_ssh_public_key,
    )
    for text in texts:
        for load in loaders:
            try:
                yield load(text)
            except Exception:  # noqa: BLE001 - any parse failure just means "not this form"
                continue
    if encoding == "jwk":
        yield from _jwk_rsa(data)


def _jwk_rsa(data: bytes) -> Iterator[Any]:
    try:
        obj = json.loads(data.decode("utf-8", "replace"))
        num = {k: int.from_bytes(keys.b64url_decode(obj[k]), "big") for k in ("n", "e", "d", "p", "q") if k in obj}
        if {"p", "q"} <= num.keys():
            check = keys.check_rsa(num["n"], num["e"], d=num.get("d"), p=num["p"], q=num["q"])
            if check.ok:
                yield check.private_key
        yield rsa.RSAPublicNumbers(num["e"], num["n"]).public_key()
    except Exception:  # noqa: BLE001
        return


# -- every copy of some byte strings in a dump -----------------------------------------------------
def _cancelled(state: TaskState | None) -> bool:
    return state is not None and state.is_cancelled


def _step(state: TaskState | None, step: str, done: int, total: int) -> None:
    if state is not None:
        state.step_progress(step, done, total)


def _escape(needle: bytes) -> bytes:
    return b"".join(b"\\x%02x" % c for c in needle)


def count_searched(view: Any, n: int) -> None:
    """Tell a counting view (the scan engine's, for its re-read statistics) how much was searched."""
    count = getattr(view, "count", None)
    if callable(count):
        count(n)


def hyperscan_enabled() -> bool:
    """Whether the whole-file searches use hyperscan (installed, and EV_NO_HYPERSCAN unset)."""
    return _hs is not None and os.environ.get("EV_NO_HYPERSCAN", "") not in ("1", "true", "yes")


def find_all(dump: Any, needles: Sequence[bytes], state: TaskState | None = None, step: str = "locating",
             view: View | None = None) -> list[list[int]]:
    """Every file offset of every needle in ``dump`` (at most ``MAX_HITS`` each, sorted).

    Needles already located for this scan (``view.located``: the engine's one search, after the first
    pass, of what every post-scan step said it would look for) are taken from there; the others are
    searched: one hyperscan pass over the file where hyperscan is installed (and EV_NO_HYPERSCAN unset),
    else one ``find`` walk per needle through the dump's read-only source. Progress is reported as
    ``step`` of ``state``; cancel stops the search (what was found until then is returned)."""
    if not needles:
        return []
    view = view if view is not None else dump.source
    known: dict[bytes, list[int]] = getattr(view, "located", None) or {}
    missing = [n for n in dict.fromkeys(needles) if n not in known]
    found = dict(zip(missing, _search(dump, missing, state, step, view), strict=True)) if missing else {}
    return [list(known[n]) if n in known else list(found[n]) for n in needles]


def _search(dump: Any, needles: Sequence[bytes], state: TaskState | None, step: str, view: View
            ) -> list[list[int]]:
    """:func:`find_all`'s search of the file, for needles not located before."""
    out: list[list[int]] = [[] for _ in needles]
    size = int(view.size)
    path = content_path(dump)
    if hyperscan_enabled() and path and size > 0:
        try:
            got = search_range(str(path), size, needles, 0, size, state, step)
        except (OSError, ValueError):  # the file cannot be mapped again: search through the source
            got = None
        if got is not None:
            count_searched(view, size)
            return got
    source = getattr(dump, "source", None)
    count_searched(view, size * len(needles))
    for i, needle in enumerate(needles):
        _step(state, step, i, len(needles))
        pos = 0
        while len(out[i]) < MAX_HITS and not _cancelled(state):
            if source is None:  # pragma: no cover - every Dump has a source
                break
            hit = source.find(needle, pos)
            if hit < 0:
                break
            out[i].append(hit)
            pos = hit + 1
    if not _cancelled(state):
        _step(state, step, len(needles), len(needles))
    return out


def mapped_pieces(path: str, size: int, chunk: int, overlap: int, state: TaskState | None = None,
                  step: str = "locating", first: int = 0, end: int | None = None
                  ) -> Iterator[tuple[int, memoryview]]:
    """``(start, piece)`` for every ``chunk`` of the file from ``first`` (page-aligned) to ``end`` (each
    piece ``overlap`` bytes longer, where the file goes on), through a private read-only map: no copy of the bytes (a ``pread`` copy costs as much as
    the search itself). Each piece's pages are dropped from the map once the caller is done with it, so
    memory stays flat (the page cache keeps them). The caller must not keep a piece past the next step.
    Raises OSError or ValueError when the file cannot be mapped (the caller searches through its source).
    Progress is reported as ``step`` of ``state``; cancel ends the iteration."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        mapped = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    finally:
        os.close(fd)
    size = min(size, len(mapped))
    stop = size if end is None else min(size, end)
    view = memoryview(mapped)
    try:
        for start in range(first, stop, chunk):
            if _cancelled(state):
                break
            _step(state, step, start, size)
            piece = view[start : min(size, start + chunk + overlap)]
            try:
                yield start, piece
            finally:
                piece.release()
            if hasattr(mapped, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
                mapped.madvise(mmap.MADV_DONTNEED, start, min(stop, start + chunk) - start)
        if not _cancelled(state):
            _step(state, step, stop, size)
    finally:
        view.release()
        mapped.close()


@dataclass(frozen=True)
class Shape:
    """A fixed-length pattern (a hyperscan regex over bytes, ``.`` matching any byte) whose matches
    starting at a multiple of ``align`` a post-scan step locates in the whole file (the first ``cap``):
    ecbignum's structure headers. Declared so that the engine's shared search finds them in the same
    read of the file as every step's needles."""

    regex: bytes
    length: int
    align: int = 1
    cap: int = MAX_HITS


class Search:
    """Needles and shapes compiled once (:meth:`compile`) and searched for in ranges of a file
    (:meth:`run`): the shared search compiles in the parent and its forked workers inherit the databases;
    every range in the caller reuses them too."""

    def __init__(self, dbs: list[Any], lengths: list[int], aligns: list[int], caps: list[int]):
        self.dbs, self.lengths, self.aligns, self.caps = dbs, lengths, aligns, caps

    @classmethod
    def compile(cls, needles: Sequence[bytes], shapes: Sequence[Shape] = ()) -> Search | None:
        """One hyperscan database for the needles, one per shape (together in one database the shapes scan
        3-4 times slower); None when hyperscan cannot compile them."""
        dbs: list[Any] = []
        try:
            if needles:
                db = _hs.Database(mode=_hs.HS_MODE_BLOCK)
                db.compile(expressions=[_escape(n) for n in needles], ids=list(range(len(needles))),
                           elements=len(needles), flags=0)
                dbs.append(db)
            for k, shape in enumerate(shapes):
                db = _hs.Database(mode=_hs.HS_MODE_BLOCK)
                db.compile(expressions=[shape.regex], ids=[len(needles) + k], elements=1,
                           flags=[_hs.HS_FLAG_DOTALL])
                dbs.append(db)
        except _hs.error:
            return None
        return cls(dbs, [len(n) for n in needles] + [sh.length for sh in shapes],
                   [1] * len(needles) + [max(1, sh.align) for sh in shapes],
                   [MAX_HITS] * len(needles) + [sh.cap for sh in shapes])

    def run(self, path: str, size: int, first: int = 0, end: int | None = None, state: TaskState | None = None,
            step: str = "locating") -> list[list[int]]:
        """Every start in ``[first, end)`` (``first`` a multiple of ``CHUNK``) of every needle (at most
        ``MAX_HITS`` each), then of every shape (aligned, at most its cap), each list sorted: one pass over
        that range (:func:`mapped_pieces`), every database run on each piece. Several ranges, searched
        apart (in parallel), give together what one search of the whole file gives (the caps applied again
        to the joined lists). Raises OSError or ValueError when the file cannot be mapped."""
        out: list[list[int]] = [[] for _ in self.lengths]
        if not out:
            return out
        scratches = self.scratches()
        stop = size if end is None else min(size, end)
        for start, piece in mapped_pieces(path, size, CHUNK, max(self.lengths), state, step, first, stop):
            self.scan(piece, start, min(CHUNK, stop - start), out, scratches)
        for lst in out:
            lst.sort()
        return out

    @property
    def overlap(self) -> int:
        """How far a piece must reach past its own bytes for a match starting in them to be whole."""
        return max(self.lengths, default=0)

    def scratches(self) -> list[tuple[Any, Any]]:
        """Each database with a scratch of its own: one set per process and pass (never shared)."""
        return [(db, _hs.Scratch(db)) for db in self.dbs]

    def scan(self, piece: bytes | memoryview, base: int, own: int, out: list[list[int]],
             scratches: list[tuple[Any, Any]]) -> None:
        """Add to ``out`` the matches starting in the first ``own`` bytes of ``piece`` (read from file
        offset ``base``), aligned, while their lists are under their caps."""
        lengths, aligns, caps = self.lengths, self.aligns, self.caps

        def on_match(idx: int, _from: int, to: int, flags: int, context: object) -> None:
            s = to - lengths[idx]  # fixed lengths: the start is known from the end (no SOM needed)
            if 0 <= s < own and (base + s) % aligns[idx] == 0 and len(out[idx]) < caps[idx]:
                out[idx].append(base + s)

        for db, scratch in scratches:
            db.scan(piece, match_event_handler=on_match, scratch=scratch)


def search_range(path: str, size: int, needles: Sequence[bytes], first: int = 0, end: int | None = None,
                 state: TaskState | None = None, step: str = "locating", shapes: Sequence[Shape] = ()
                 ) -> list[list[int]] | None:
    """:meth:`Search.run` of the needles and shapes compiled for this one call; None when hyperscan cannot
    compile them."""
    search = Search.compile(needles, shapes)
    return None if search is None else search.run(path, size, first, end, state, step)


def needles_of(reps: Sequence[bytes]) -> list[bytes]:
    """The byte strings :func:`locate` searches for ``reps`` (each one's first ``NEEDLE`` bytes): what a
    post-scan step gives the engine to locate in the shared search."""
    return list(dict.fromkeys(rep[:NEEDLE] for rep in reps))


def locate(dump: Any, wanted: Sequence[tuple[bytes, T]], state: TaskState | None = None,
           step: str = "locating", view: View | None = None) -> list[tuple[int, bytes, T]]:
    """(offset, representation, tag) of every complete copy of every representation in ``wanted``
    (``(bytes, tag)`` pairs): the first ``NEEDLE`` bytes are searched (:func:`find_all`), the rest
    compared at each hit."""
    view = view if view is not None else dump.source
    needles: dict[bytes, list[int]] = {}
    for i, (rep, _tag) in enumerate(wanted):
        needles.setdefault(rep[:NEEDLE], []).append(i)
    order = list(needles)
    hits = find_all(dump, order, state, step, view)
    out = []
    for needle, offsets in zip(order, hits, strict=True):
        for off in offsets:
            for i in needles[needle]:
                rep, tag = wanted[i]
                if len(rep) <= NEEDLE or view.read(off, len(rep)) == rep:
                    out.append((off, rep, tag))
    return out


# -- AES key schedules (FIPS-197) ------------------------------------------------------------------
def _xtime(b: int) -> int:
    return ((b << 1) ^ (0x1B if b & 0x80 else 0)) & 0xFF


def _gmul(a: int, b: int) -> int:
    out = 0
    while b:
        if b & 1:
            out ^= a
        a = _xtime(a)
        b >>= 1
    return out


def _make_sbox() -> list[int]:
    # inverses through log/antilog tables of the generator 3 (a^-1 = 3^(255 - log a)): 255 steps, not
    # the 32,000 trial multiplications of a search, which cost every process ~0.2 s at start-up
    exp, log = [0] * 255, [0] * 256
    x = 1
    for i in range(255):
        exp[i], log[x] = x, i
        x ^= _xtime(x)
    inv = [0] * 256
    for a in range(1, 256):
        inv[a] = exp[(255 - log[a]) % 255]
    sbox = []
    for a in range(256):
        x = inv[a]
        y = x
        for _ in range(4):
            x = ((x << 1) | (x >> 7)) & 0xFF
            y ^= x
        sbox.append(y ^ 0x63)
    return sbox


SBOX = _make_sbox()
RCON = [0, 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1B, 0x36, 0x6C, 0xD8, 0xAB, 0x4D, 0x9A]
_MUL = {k: [_gmul(i, k) for i in range(256)] for k in (2, 3, 9, 11, 13, 14)}
ROUNDS = {4: 10, 6: 12, 8: 14}  # Nk (key words) -> Nr (rounds)


def _sub_word(x: int) -> int:
    return SBOX[x >> 24] << 24 | SBOX[(x >> 16) & 0xFF] << 16 | SBOX[(x >> 8) & 0xFF] << 8 | SBOX[x & 0xFF]


def _g(i: int, nk: int, prev: int) -> int:
    """What w[i-1] contributes to w[i] (``w[i] = w[i-Nk] ^ _g(i, Nk, w[i-1])``); words big-endian ints."""
    if i % nk == 0:
        return _sub_word(((prev << 8) & 0xFFFFFFFF) | (prev >> 24)) ^ (RCON[i // nk] << 24)
    if nk > 6 and i % nk == 4:
        return _sub_word(prev)
    return prev


def expand_words(key_words: list[int], nk: int, start: int = 0) -> list[int]:
    """The whole encryption schedule (4*(Nr+1) words) from the Nk words found at word ``start``."""
    total = 4 * (ROUNDS[nk] + 1)
    w: list[int | None] = [None] * total
    w[start : start + nk] = key_words
    for i in range(start + nk, total):
        w[i] = w[i - nk] ^ _g(i, nk, w[i - 1])  # type: ignore[operator]
    for i in range(start - 1, -1, -1):
        w[i] = w[i + nk] ^ _g(i + nk, nk, w[i + nk - 1])  # type: ignore[operator]
    return w  # type: ignore[return-value]


def expand_key(key: bytes) -> bytes:
    """FIPS-197 key expansion: the encryption schedule of a 16/24/32-byte key, in FIPS byte order."""
    nk = len(key) // 4
    if nk not in ROUNDS or len(key) % 4:
        raise ValueError("AES keys are 16, 24 or 32 bytes")
    words = expand_words(list(struct.unpack(f">{nk}I", key)), nk)
    return struct.pack(f">{len(words)}I", *words)


def _mix(word: int, inverse: bool) -> int:
    a0, a1, a2, a3 = word >> 24, (word >> 16) & 0xFF, (word >> 8) & 0xFF, word & 0xFF
    if inverse:
        m14, m11, m13, m9 = _MUL[14], _MUL[11], _MUL[13], _MUL[9]
        r = (
            m14[a0] ^ m11[a1] ^ m13[a2] ^ m9[a3],
            m9[a0] ^ m14[a1] ^ m11[a2] ^ m13[a3],
            m13[a0] ^ m9[a1] ^ m14[a2] ^ m11[a3],
            m11[a0] ^ m13[a1] ^ m9[a2] ^ m14[a3],
        )
    else:
        m2, m3 = _MUL[2], _MUL[3]
        r = (
            m2[a0] ^ m3[a1] ^ a2 ^ a3,
            a0 ^ m2[a1] ^ m3[a2] ^ a3,
            a0 ^ a1 ^ m2[a2] ^ m3[a3],
            m3[a0] ^ a1 ^ a2 ^ m2[a3],
        )
    return r[0] << 24 | r[1] << 16 | r[2] << 8 | r[3]


def invert_layout(words: list[int], nk: int, to_decrypt: bool) -> list[int]:
    """Encryption schedule <-> OpenSSL decryption schedule: reverse the rounds, (Inv)MixColumns on the
    middle ones (InvMixColumns going to the decryption layout, MixColumns coming back)."""
    nr = ROUNDS[nk]
    out: list[int] = []
    for r in range(nr + 1):
        rnd = words[4 * (nr - r) : 4 * (nr - r) + 4]
        out.extend(_mix(x, to_decrypt) for x in rnd) if 0 < r < nr else out.extend(rnd)
    return out


def decrypt_schedule(key: bytes) -> bytes:
    """The decryption schedule OpenSSL's AES_set_decrypt_key builds, in FIPS byte order."""
    nk = len(key) // 4
    words = invert_layout(expand_words(list(struct.unpack(f">{nk}I", key)), nk), nk, True)
    return struct.pack(f">{len(words)}I", *words)


# -- fragments: every run of a private value's bytes, in every form it can take --------------------
# A redacted copy must not keep 16 consecutive bytes of any private value (a fragment of d is enough to
# attack RSA; half an AES key halves its strength), so a key once known is written out in every form the
# scanner knows and every run of FRAGMENT units of any of them is searched for (:func:`find_runs`).
FRAGMENT = 16  # units of a private value that make a fragment: bytes, or characters of text
LAYOUT_LABELS = {
    "be": "big-endian",
    "le": "little-endian (32/64-bit limbs)",
    "digits28": "28-bit digits in 32-bit words",
    "digits60": "60-bit digits in 64-bit words",
    "jint": "Java int[] (big-endian word order, little-endian words)",
}
HMAC_BLOCKS = {"sha256": 64, "sha384": 128, "sha512": 128}  # the blocks an HMAC key is padded to
SEED = 8  # units of a form searched for; every run of FRAGMENT units holds one at a multiple of SEED
WIDE = 16  # bytes of the seeds of UTF-16LE forms, and of the windows that stand in for a plain seed
MIN_DISTINCT = 5  # distinct bytes a plain seed needs (random 8 bytes have ~7.6, a number's top digit 2)
RUN_CHUNK = 4 * 1024 * 1024  # file bytes per numpy pass (memory ~ 6x this per worker)
RUN_WORKERS = 4  # threads of the search (at most the CPUs)
MAX_ANCHORS = 1 << 20  # places a form may start at, all forms together (bounds memory and the compares)
_K0, _K1 = 0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F  # odd multipliers (golden ratio, xxhash's prime 2)


@dataclass(frozen=True)
class Form:
    """One form a private value can lie in memory as: ``data``, its ``unit`` (1: bytes or ASCII text,
    2: UTF-16LE text, whose runs count in characters), a ``label`` for people ("rsa d, big-endian, hex
    (lower case)"), and ``private``: the spans of ``data`` made of private bytes (None: all of it). A DER
    key's modulus is public: a run must touch a private span, so the certificate that holds the same
    modulus is left alone, while a run that does is extended over the whole matching extent."""

    data: bytes
    unit: int
    label: str
    private: tuple[tuple[int, int], ...] | None = None


def _text_spans(private: tuple[tuple[int, int], ...] | None, start: int, scale_num: int, scale_den: int,
                length: int) -> tuple[tuple[int, int], ...] | None:
    """Byte spans of a raw value mapped onto its text (``start``: the first raw byte encoded; characters
    per byte ``scale_num/scale_den``), clipped to ``length`` characters."""
    if private is None:
        return None
    out = []
    for a, b in private:
        lo = max(0, (a - start) * scale_num // scale_den)
        hi = min(length, -(-(b - start) * scale_num // scale_den))
        if hi > lo:
            out.append((lo, hi))
    return tuple(out)


def _utf16(form: Form) -> Form:
    spans = None if form.private is None else tuple((2 * a, 2 * b) for a, b in form.private)
    return Form(form.data.decode("latin-1").encode("utf-16-le"), 2, form.label + ", UTF-16LE", spans)


def text_forms(raw: bytes, label: str, private: tuple[tuple[int, int], ...] | None = None) -> list[Form]:
    """``raw`` as text: hex in both cases, base64 and base64url in each of the 3 alignments a value can
    have inside a longer encoded string (PEM of a DER key, a JSON field); each in ASCII and UTF-16LE.
    Only characters fixed by ``raw`` alone are kept (not the last one of a cut group, nor padding)."""
    out: list[Form] = []
    hx = raw.hex().encode()
    out.append(Form(hx, 1, f"{label}, hex (lower case)", _text_spans(private, 0, 2, 1, len(hx))))
    out.append(Form(hx.upper(), 1, f"{label}, hex (upper case)", _text_spans(private, 0, 2, 1, len(hx))))
    seen: set[bytes] = set()
    for align in range(3):
        part = raw[align:]
        whole, rest = divmod(len(part), 3)
        fixed = 4 * whole + rest  # a cut group fixes one character per byte; the next mixes with what follows
        std = base64.b64encode(part)[:fixed]
        for text, name in ((std, "base64"), (std.replace(b"+", b"-").replace(b"/", b"_"), "base64url")):
            if len(text) < FRAGMENT or text in seen:
                continue
            seen.add(text)
            out.append(Form(text, 1, f"{label}, {name} (alignment {align})",
                            _text_spans(private, align, 4, 3, len(text))))
    return out + [_utf16(f) for f in out]


def number_forms(value: int, label: str) -> list[Form]:
    """A private number in every layout the big-number detectors know (DER INTEGERs, CNG blobs and JWK
    members hold the big-endian bytes), the text of the big-endian bytes (hex, base64: PEM, JWK) and the
    hex of the little-endian bytes (a debugger's or a log's dump of the limbs)."""
    out = [Form(encode(value, layout), 1, f"{label}, {LAYOUT_LABELS[layout]}") for layout in LAYOUTS]
    out += text_forms(encode(value, "be"), f"{label}, big-endian")
    out += [f for f in text_forms(encode(value, "le"), f"{label}, little-endian") if ", hex " in f.label]
    return out


def bytes_forms(raw: bytes, label: str, private: tuple[tuple[int, int], ...] | None = None) -> list[Form]:
    """A private byte string raw and as text."""
    return [Form(raw, 1, label, private), *text_forms(raw, label, private)]


def _der_forms(der: bytes, label: str, values: Sequence[int]) -> list[Form]:
    """A DER key and its text, the private spans being its private INTEGERs' contents."""
    spans = []
    for v in values:
        be = encode(v, "be")
        at = der.find(be)
        if at >= 0:
            spans.append((at, at + len(be)))
    return bytes_forms(der, label, tuple(sorted(spans)))


def _der(private: Any, fmt: Any) -> bytes:
    return private.private_bytes(serialization.Encoding.DER, fmt, serialization.NoEncryption())


def private_forms(private: Any) -> list[Form]:
    """Every form of every private value of a key object: RSA p, q, d, dp, dq, qinv and EC scalars as
    numbers (:func:`number_forms`), the key's PKCS#1/SEC1/PKCS#8 DER and their text (private spans: the
    private INTEGERs), Ed25519 seeds and expanded keys (the clamped scalar as a number, the prefix) and
    X25519/Ed448/X448 private bytes. A key type not known here gives no forms."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, x448, x25519

    trad, pkcs8 = serialization.PrivateFormat.TraditionalOpenSSL, serialization.PrivateFormat.PKCS8
    out: list[Form] = []
    if isinstance(private, rsa.RSAPrivateKey):
        n = private.private_numbers()
        numbers = {"p": n.p, "q": n.q, "d": n.d, "dp": n.dmp1, "dq": n.dmq1, "qinv": n.iqmp}
        for comp, value in numbers.items():
            out += number_forms(value, f"rsa {comp}")
        for name, fmt in (("der-pkcs1", trad), ("der-pkcs8", pkcs8)):
            out += _der_forms(_der(private, fmt), f"rsa {name}", list(numbers.values()))
    elif isinstance(private, ec.EllipticCurvePrivateKey):
        d = private.private_numbers().private_value
        out += number_forms(d, "ec d")
        for name, fmt in (("der-sec1", trad), ("der-pkcs8", pkcs8)):
            out += _der_forms(_der(private, fmt), f"ec {name}", [d])
    elif isinstance(private, ed25519.Ed25519PrivateKey):
        seed = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                     serialization.NoEncryption())
        h = bytearray(hashlib.sha512(seed).digest())
        out += bytes_forms(seed, "ed25519 seed")
        out += bytes_forms(bytes(h), "ed25519 expanded key (unclamped)")
        h[0] &= 248
        h[31] = (h[31] & 127) | 64
        out += bytes_forms(bytes(h), "ed25519 expanded key")
        out += number_forms(int.from_bytes(h[:32], "little"), "ed25519 scalar")
        out += bytes_forms(bytes(h[32:]), "ed25519 prefix")
    elif isinstance(private, (x25519.X25519PrivateKey, ed448.Ed448PrivateKey, x448.X448PrivateKey)):
        raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                    serialization.NoEncryption())
        out += bytes_forms(raw, f"{type(private).__name__.removesuffix('PrivateKey').lower()} private key")
    return [f for f in out if len(f.data) >= FRAGMENT * f.unit]


def swap32(data: bytes) -> bytes:
    """Each 4-byte word of ``data`` with its bytes reversed (a trailing partial word is dropped).

    Through the standard library's ``array.byteswap`` (C) rather than a join over 4-byte slices: the
    big-number search calls it for every Java int[] candidate (tens of thousands per dump)."""
    words = array.array("I")  # 4-byte items on every platform CPython builds for (checked in the tests)
    words.frombytes(bytes(data[: len(data) - len(data) % 4]))
    words.byteswap()
    return words.tobytes()


def symmetric_forms(key: bytes) -> list[Form]:
    """Every form of a symmetric key: raw and as text; for 16/24/32-byte keys the AES encryption and
    decryption schedules (every round key: FIPS byte order and 32-bit little-endian words); the HMAC
    ipad/opad blocks (the key XOR 0x36/0x5c; a key longer than the block is hashed first, for SHA-256,
    -384 and -512; the padding after the key is public, only the key's part is a form)."""
    out = bytes_forms(key, "symmetric key")
    if len(key) in (16, 24, 32):
        dec = decrypt_schedule(key)
        for sched, name in ((expand_key(key), "aes schedule"), (dec, "aes decryption schedule"),
                            (dec[-16:] + dec[:-16], "aes decryption schedule (JDK)")):
            out += [Form(sched, 1, name), Form(swap32(sched), 1, f"{name}, 32-bit little-endian words")]
    hmac_keys = {key} if len(key) <= max(HMAC_BLOCKS.values()) else set()
    for name, block in HMAC_BLOCKS.items():
        if len(key) > block:
            hmac_keys.add(hashlib.new(name, key).digest())
    for k in sorted(hmac_keys):
        for pad, name in ((0x36, "ipad"), (0x5C, "opad")):
            out.append(Form(bytes(b ^ pad for b in k), 1, f"hmac {name} block (key XOR {pad:#x})"))
    return [f for f in out if len(f.data) >= FRAGMENT * f.unit]


def token_forms(token: bytes, label: str) -> list[Form]:
    """A bearer token (JWT, API token): the whole string, ASCII and UTF-16LE; every run of it is the
    token's."""
    out = [Form(token, 1, label), _utf16(Form(token, 1, label))]
    return [f for f in out if len(f.data) >= FRAGMENT * f.unit]


def _words(buf: np.ndarray, offset: int, count: int) -> np.ndarray:
    """The little-endian 64-bit word at each of ``count`` byte positions of ``buf`` from ``offset``."""
    return np.ndarray(shape=(count,), dtype="<u8", buffer=buf, offset=offset, strides=(1,))


def _hash64(first: np.ndarray, second: np.ndarray | None = None) -> np.ndarray:
    with np.errstate(over="ignore"):
        h = first * np.uint64(_K0)
        return h if second is None else h ^ (second * np.uint64(_K1))


class _Seeds:
    """The seeds of some forms: SEED units at every multiple of SEED units that touch a private span.
    Byte and ASCII forms: the 8 bytes themselves (a sorted table of words), except seeds of fewer than
    MIN_DISTINCT distinct bytes, replaced by the 9 windows of WIDE bytes that hold them (every run of 16
    bytes through such a seed holds one of them); UTF-16LE forms: 16 bytes (8 characters). Windows of
    WIDE bytes are tabled by a 64-bit hash. Two bitmaps of the hashed first words, small enough to stay
    in the CPU's cache, rule out almost every file position with a multiply, a shift and a lookup."""

    def __init__(self, forms: Sequence[Form]):
        keys: list[list[np.ndarray]] = [[], []]
        owners: list[list[np.ndarray]] = [[], []]
        starts: list[list[np.ndarray]] = [[], []]
        firsts: list[np.ndarray] = []
        for i, f in enumerate(forms):
            step = SEED * f.unit
            pos = np.arange(0, len(f.data) - step + 1, step, dtype=np.int64)
            if f.private is not None:
                keep = np.zeros(len(pos), dtype=bool)
                for a, b in f.private:  # a seed touches [a, b) when it starts before b and ends after a
                    keep |= (pos < b) & (pos + step > a)
                pos = pos[keep]
            buf = np.frombuffer(f.data + bytes(8), dtype=np.uint8)
            wide = np.zeros(0, np.int64)
            if f.unit == 2:
                pos, wide = wide, pos
            else:
                # a seed of few distinct bytes (the top digit of a number: 0x02 and seven zeros) is
                # everywhere; the 16-byte windows holding it take its place
                rows = np.sort(buf[pos[:, None] + np.arange(SEED)], axis=1)
                low = (np.diff(rows, axis=1) != 0).sum(axis=1) + 1 < MIN_DISTINCT
                if low.any() and len(f.data) >= WIDE:
                    around = (pos[low][:, None] + np.arange(-SEED, 1)).ravel()
                    wide = np.unique(around[(around >= 0) & (around <= len(f.data) - WIDE)])
                pos = pos[~low]
            for kind, at in ((0, pos), (1, wide)):
                if not len(at):
                    continue
                first = _words(buf, 0, len(f.data))[at]
                firsts.append(first)
                keys[kind].append(_hash64(first, _words(buf, 8, len(f.data) - 8)[at]) if kind else first)
                owners[kind].append(np.full(len(at), i, dtype=np.int64))
                starts[kind].append(at)
        self.tables: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for k, o, s in zip(keys, owners, starts, strict=True):
            if not k:
                self.tables.append((np.zeros(0, np.uint64), np.zeros(0, np.int64), np.zeros(0, np.int64)))
                continue
            key = np.concatenate(k)
            order = np.argsort(key, kind="stable")
            self.tables.append((key[order], np.concatenate(o)[order], np.concatenate(s)[order]))
        self.count = sum(len(t[0]) for t in self.tables)
        # ~2 % of file positions pass the bitmap (5 % made the second looks cost more than the first, 1 %
        # a bitmap that no longer stays in the cache: measured); 64 KiB - 4 MiB
        self.bits = int(min(22, max(16, np.ceil(np.log2(max(1, self.count) * 50)))))
        self.bitmap = np.zeros(1 << self.bits, dtype=bool)
        self.bitmap2 = np.zeros(1 << self.bits, dtype=bool)  # a second, independent hash of the word
        if firsts:
            words = np.concatenate(firsts)
            self.bitmap[_hash64(words) >> np.uint64(64 - self.bits)] = True
            self.bitmap2[_hash64(words, words) >> np.uint64(64 - self.bits)] = True
        self.dup = max((_longest_equal(t[0]) for t in self.tables), default=1)

    def anchors(self, data: bytes, base: int, count: int, out: set[tuple[int, int]]) -> None:
        """Add (form index, file offset where the form would start) of every seed at the first ``count``
        positions of ``data`` (file offset ``base``; at least 16 bytes readable past the last one).

        The words at the positions of each residue modulo 8 are one contiguous (unaligned) uint64 view
        of the bytes: no copy, one multiply, a shift and a table lookup per position (~150 MB/s here;
        a strided view of every position, or a copy per residue, measured 2-5 times slower)."""
        shift = np.uint64(64 - self.bits)
        for r in range(SEED):
            words = np.frombuffer(data, dtype="<u8", count=(len(data) - r) // 8, offset=r)
            h0 = _hash64(words)
            np.right_shift(h0, shift, out=h0)
            j = np.flatnonzero(np.take(self.bitmap, h0.view(np.int64)[: (count - r + 7) // 8]))
            if len(j):
                j = j[np.take(self.bitmap2, (_hash64(words[j], words[j]) >> shift).view(np.int64))]
            if not len(j):
                continue
            first, second = words[j], words[j + 1]
            positions = base + 8 * j + r
            for wide, (table, owner, start) in enumerate(self.tables):
                if not len(table):
                    continue
                key = _hash64(first, second) if wide else first
                k = np.searchsorted(table, key)
                for extra in range(self.dup):
                    kk = k + extra
                    ok = kk < len(table)
                    ok[ok] &= table[kk[ok]] == key[ok]
                    if not ok.any():
                        break
                    at = positions[ok] - start[kk[ok]]
                    out.update(zip(owner[kk[ok]].tolist(), at.tolist(), strict=True))


def _longest_equal(sorted_keys: np.ndarray) -> int:
    """The most times one key occurs in a sorted table (one seed shared by several forms)."""
    if len(sorted_keys) < 2:
        return 1
    _values, counts = np.unique(sorted_keys, return_counts=True)
    return int(counts.max())


class Runs(list):  # type: ignore[type-arg]
    """What :func:`find_runs` found: (offset, length, tag, whole) tuples; ``truncated`` when the search
    stopped at MAX_ANCHORS places (a file made of copies of a key: what was found is returned, and a
    redaction must not call its copy clean)."""

    truncated = False


def find_runs(dump: Any, wanted: Sequence[tuple[Form, T]], state: TaskState | None = None,
              step: str = "locating fragments", view: View | None = None,
              min_units: int = FRAGMENT) -> Runs:
    """(offset, length, tag, whole) of every maximal run of at least ``min_units`` units of any form in
    ``wanted`` (``(Form, tag)`` pairs) in the dump, each touching a private span of its form; ``whole``
    when the run is the entire form.

    How (seed and extend): a run of 16 units holds SEED units of its form starting at a multiple of
    SEED, so those seeds (:class:`_Seeds`) are what is looked for at every file position, with numpy,
    chunk by chunk; a seed found says where its form would start in the file (its anchor). At each
    anchor the file is compared with the whole form and every run of equal units is kept: the run's full
    matched extent, not the seed. Why numpy and not hyperscan (which the scanner's prefilter uses): the
    forms of a few keys give tens of thousands of seeds, hyperscan took 0.8 s to compile 20,000 literals
    and 7 s for 60,000 here; this needs no compile step (tables built in milliseconds) and, in threads
    (numpy lets go of the GIL), searches ~250 MB/s on the 2-core VM: ~4 s per GiB for the 326 forms of
    the benchmark image's keys, against ~5 s for its whole scan. Bounded: at most MAX_ANCHORS places
    (``Runs.truncated`` says so). Progress is reported as ``step``; cancel stops the search
    (what was found until then is returned)."""
    view = view if view is not None else dump.source
    size = int(view.size)
    seeds = _Seeds([f for f, _tag in wanted])
    if not seeds.count:
        return Runs()
    anchors: set[tuple[int, int]] = set()
    truncated = False

    def one(chunk: int) -> set[tuple[int, int]]:
        found: set[tuple[int, int]] = set()
        data = view.read(chunk, RUN_CHUNK + 4 * SEED)  # the widest seed is 16 bytes, two words a position
        count = min(RUN_CHUNK, len(data) - SEED + 1)
        if count > 0:
            seeds.anchors(data + bytes(2 * SEED), chunk, count, found)  # the last positions: a word to read
        return found

    # numpy lets go of the GIL: threads share the cores like the scan's workers (memory ~ workers x 6 chunks)
    workers = max(1, min(os.cpu_count() or 1, RUN_WORKERS))
    chunks = iter(range(0, size, RUN_CHUNK))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="find-runs") as pool:
        pending = [pool.submit(one, c) for c in islice(chunks, 2 * workers)]
        done = 0
        while pending:
            anchors |= pending.pop(0).result()
            done = min(size, done + RUN_CHUNK)
            _step(state, step, done, size)
            truncated = len(anchors) > MAX_ANCHORS
            if truncated or _cancelled(state):
                for f in pending:
                    f.cancel()
                break
            pending += [pool.submit(one, c) for c in islice(chunks, 1)]
    _step(state, step, size, size)
    runs = Runs(_runs_at(view, size, wanted, set(islice(anchors, MAX_ANCHORS)), min_units))
    runs.truncated = truncated
    return runs


def _runs_at(view: View, size: int, wanted: Sequence[tuple[Form, T]], anchors: set[tuple[int, int]],
             min_units: int) -> list[tuple[int, int, T, bool]]:
    """The runs of each form at each anchor: the file compared with the whole form there."""
    found: dict[tuple[int, int, int], None] = {}
    for i, anchor in sorted(anchors):
        form = wanted[i][0]
        unit = form.unit
        lo = max(0, anchor)
        if (lo - anchor) % unit:
            lo += 1
        hi = min(size, anchor + len(form.data))
        if hi - lo < min_units * unit:
            continue
        got = np.frombuffer(view.read(lo, hi - lo), dtype=np.uint8)
        ref = np.frombuffer(form.data, dtype=np.uint8)[lo - anchor : lo - anchor + len(got)]
        eq = got == ref[: len(got)]
        if unit == 2:
            eq = eq[: len(eq) // 2 * 2].reshape(-1, 2).all(axis=1)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], eq.view(np.int8), [0]])))
        for s, e in zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True):
            if e - s < min_units:
                continue
            a, b = lo - anchor + s * unit, lo - anchor + e * unit  # in the form's bytes
            if form.private is not None and not any(x < b and a < y for x, y in form.private):
                continue
            found[(i, anchor + a, anchor + b)] = None
    out = []
    for i, a, b in found:
        form, tag = wanted[i]
        out.append((a, b - a, tag, b - a == len(form.data)))
    out.sort(key=lambda r: (r[0], -r[1]))
    return out
