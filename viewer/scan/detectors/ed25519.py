"""Ed25519 private keys held raw: the 64-byte seed‖public key (Go, libsodium, NaCl), the bare seed.

An Ed25519 private key is a 32-byte seed; its public key is derived from it (SHA-512, clamp, scalar
multiplication of the base point). Go's ``crypto/ed25519.PrivateKey`` — like libsodium's and NaCl's
``sk`` — is 64 bytes: the seed followed by the public key it derives. That pair is *self-validating*: no
public key needs to be supplied; deriving the public key from the first 32 bytes and finding it in the
next 32 proves the key (a chance match: 2^-256), ``confirmed``.

How (in the first pass, a block detector run by the scan's workers over every block of the file):

0. *Screen.* Every 8th word is tested as in 1., by 16 KiB pieces; a piece goes on only when some
   sampled word looks random and at most 90% of them do (a key is an island among pointers;
   pieces of random, encrypted or compressed data, of zeros or text, are skipped at an eighth of the cost).

1. *Random-looking words.* A random byte string has a byte >= 0x80 and a non-zero top 16 bits in nearly
   every 8-byte word (a random key passes in 97 of 100 cases; the others are found only through their
   public key, below); pointers, lengths, small integers and ASCII text fail one or the other. Words
   are taken at the file's 8-byte alignment, which is the address's in every format with 8-aligned
   memory.
2. *Islands only.* A key sits among pointers and lengths, not inside a sea of random bytes: runs of
   random-looking words of 8 to ``MAX_RUN_WORDS`` words with a pointer-, length- or zero-like neighbour
   (zero top 16 bits: one random word in 65536) are kept; random, encrypted and compressed data are not
   searched. In a short run (up to ``ALL_WINDOWS_WORDS``) every window is tested, in a longer one the two
   at its ends (a key is an object of its own; the 1024-bit numbers RSA key generation leaves behind make
   most runs of 15-16 words). The price: a key inside a longer random run is found only through its
   public key (below).
3. *Byte diversity, then exact.* A window needs ``MIN_WINDOW_DISTINCT`` distinct byte values of 64
   (random: 57, sd 2.6; code and tables fewer; counted in a presence table, ``_distinct_bytes``), then
   the public key is derived from its first 32 bytes (~40 us) and compared with the next 32; at most ``MAX_TESTS`` derivations per 64 MiB block (the rest
   of such a block is not tested: a limit of the first pass, which cannot add notes).

Measured (CPU, one core): a gcore dump of a Go process (1.1 GB): 1.6 s, 8,900 derivations; of a JVM
(430 MB): 2.4 s, 13,100 derivations; the 1 GiB mixed benchmark image: 1.3 s, 124 derivations.

After the pass (post-scan):

* every copy of a proved seed anywhere in the file: the bare seed (Go keeps copies of it in
  ``NewKeyFromSeed``'s caller and in the hash state that expanded it), ``confirmed``;
* for every Ed25519 public key known (supplied, or found in the first pass: SPKI, JWK, OpenSSH), every
  raw copy of it in the file, and there: the 32 bytes just before it (seed‖public key that the
  island rule skipped) and the targets of the aligned pointers within ``POINTER_REACH`` bytes of
  it (OpenSSL's ``ECX_KEY`` keeps the public key inline and a pointer to the private key: Node.js,
  nginx); a target that derives the public key is its seed.

Findings: kind ``ed25519-private-key``, encoding ``ed25519-seed-public`` (the 64 bytes) or
``ed25519-seed`` (32 bytes), ``key_id`` the RFC 7638 thumbprint of the public key (the OKP JWK), so every
copy and every other encoding of the key (PKCS#8, OpenSSH, JWK) is one secret. No byte of a seed goes into
a reason, detail or note.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric import ed25519

from viewer.scan import keys, kinds
from viewer.scan.detector import PostScanContext
from viewer.scan.finding import Confidence, Finding
from viewer.scan.keymaterial import find_all, key_objects

KIND = kinds.ED25519_PRIVATE_KEY
PAIR = "ed25519-seed-public"
SEED = "ed25519-seed"
ALL_WINDOWS_WORDS = 12  # runs up to this long have every window tested
MAX_RUN_WORDS = 24  # random-looking runs longer than this (192 bytes) are data, not a key among pointers
SAMPLE = 8  # the screen tests every 8th word (one per cache line)
SCREEN = 2048  # words per piece of the screen (16 KiB)
DENSE = 0.9  # a piece with more random-looking sampled words than this is random data
MARGIN = 32  # words kept either side of a piece
MAX_TESTS = 20_000  # derivations per block
MAX_PUBLIC = 64  # known public keys whose copies are searched
MAX_COPIES = 64  # copies of one seed or public key
POINTER_REACH = 128  # bytes either side of a public key's copy whose aligned words are followed
MIN_DISTINCT = 12  # distinct byte values a seed needs (a random one has ~30)
MIN_WINDOW_DISTINCT = 44  # distinct byte values of the 64 bytes (random: 57 +- 2.6)

_SHIFT = np.uint64(48)
_HIGH = np.uint64(0x8080808080808080)


def derive(seed: bytes) -> bytes:
    """The public key of ``seed`` (32 bytes)."""
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()


def _random_words(w: np.ndarray) -> np.ndarray:
    """Per 64-bit word: a byte >= 0x80 (not ASCII text) and not both top bytes zero (not a user-space
    pointer, a length or a small integer). A random word passes with probability 0.996, a random
    64-byte key (8 words) with 0.97."""
    return ((w & _HIGH) != 0) & ((w >> _SHIFT) != 0)


DISTINCT_BATCH = 16384  # windows per presence table (16384 x 256 bytes: 4 MiB)


def _distinct_bytes(raw: np.ndarray, offs: np.ndarray) -> np.ndarray:
    """The number of distinct byte values of the 64 bytes at each offset: a table of which of the 256
    values each window holds, filled at once and counted (measured on a JVM core's 238,000 windows:
    0.09 s, against 0.26 s for sorting each window)."""
    out = np.empty(len(offs), dtype=np.int64)
    span = np.arange(64)
    for lo in range(0, len(offs), DISTINCT_BATCH):
        part = offs[lo : lo + DISTINCT_BATCH]
        present = np.zeros((len(part), 256), dtype=bool)
        present[np.arange(len(part))[:, None], raw[part[:, None] + span[None, :]]] = True
        out[lo : lo + len(part)] = np.count_nonzero(present, axis=1)
    return out


def _runs(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the runs of True in ``flags``."""
    edges = np.flatnonzero(np.diff(np.concatenate(([False], flags, [False])).astype(np.int8)))
    return edges[0::2], edges[1::2]


class Ed25519Detector:
    """Ed25519 seeds followed by their public key, and every copy of a proved seed; module docstring."""

    name = "ed25519"
    patterns = ()
    block_overlap = 64

    def scan_block(self, view: Any, start: int, data: bytes | memoryview) -> Iterable[Finding]:
        """The first pass: seed-public key pairs starting in this block (run in the scan's workers)."""
        buf = memoryview(data).cast("B") if not isinstance(data, bytes) else memoryview(data)  # no copies
        own = len(buf) if start + len(buf) >= view.size else max(0, len(buf) - self.block_overlap)
        out: list[Finding] = []
        for lo, hi in self._worth(buf, start):
            out += [f for f in self.pairs_in(buf[lo:hi], start + lo, hi - lo) if f.offset - start < own]
        return out

    @staticmethod
    def _worth(buf: bytes | memoryview, start: int) -> list[tuple[int, int]]:
        """Byte ranges of ``buf`` worth the full search: an eighth of the words (every 8th; a 64-byte key
        covers one of them) tested first, by pieces of ``SCREEN`` words; a piece is skipped when no
        sampled word looks random (zeros, text, pointers) or when nearly all do (random,
        encrypted or compressed data: a key is an island among pointers, so its piece is not). The ranges
        keep a margin of ``MARGIN`` words either side, so a run across a piece boundary is whole."""
        a0 = (-start) % 8
        n = (len(buf) - a0) // 8
        if n < 8:
            return []
        w = np.frombuffer(buf, dtype="<u8", count=n, offset=a0)
        sampled = _random_words(np.ascontiguousarray(w[::SAMPLE]))
        per = SCREEN // SAMPLE
        pieces = -(-len(sampled) // per)
        padded = np.zeros(pieces * per, dtype=bool)
        padded[: len(sampled)] = sampled
        grid = padded.reshape(pieces, per)
        seen = grid.any(axis=1)  # a 64-byte window holds exactly one sampled word
        dense = grid.sum(axis=1) > DENSE * per
        keep = np.flatnonzero(seen & ~dense)
        ranges: list[tuple[int, int]] = []
        for piece in keep.tolist():
            lo = max(0, a0 + 8 * (piece * SCREEN - MARGIN))
            hi = min(len(buf), a0 + 8 * ((piece + 1) * SCREEN + MARGIN))
            if ranges and lo <= ranges[-1][1]:
                ranges[-1] = (ranges[-1][0], hi)
            else:
                ranges.append((lo, hi))
        return ranges

    def pairs_in(self, buf: bytes | memoryview, start: int, own: int) -> list[Finding]:
        """The seed-public key pairs starting in ``buf[:own]`` (``buf`` read from file offset ``start``)."""
        size = len(buf)
        a0 = (-start) % 8
        n = (size - a0) // 8
        if n < 8:
            return []
        w = np.frombuffer(buf, dtype="<u8", count=n, offset=a0)
        # 1. random-looking words, and their runs of 8 to MAX_RUN_WORDS words
        flags = _random_words(w)
        starts, ends = _runs(flags)
        length = ends - starts
        keep = (length >= 8) & (length <= MAX_RUN_WORDS)
        starts, ends = starts[keep], ends[keep]
        if not len(starts):
            return []
        # 2. an island among pointers, lengths or zeros: one neighbour has a zero top 16 bits (in random
        # data that is one word in 65536; a word without a byte >= 0x80 is one in 256)
        top = w >> _SHIFT
        before = np.where(starts > 0, top[np.maximum(starts - 1, 0)], 1) == 0
        after = np.where(ends < n, top[np.minimum(ends, n - 1)], 1) == 0
        keep = before | after
        # a longer run inside an array whose header (the word before it; the JVM's length is its high
        # half) holds a length that covers the run: a Java int[] of a BigInteger's magnitude, a byte[] —
        # one number, not a key among other objects (the JVM's heap is full of them after RSA key
        # generation: 1024-bit candidates in int[32])
        length = (w[np.maximum(starts - 1, 0)] >> np.uint64(32)).astype(np.int64)
        size = (ends - starts) * 8
        inside = np.zeros(len(starts), dtype=bool)
        for unit in (1, 4, 8):
            inside |= (length * unit >= size - 8) & (length * unit <= 4 * size)
        keep &= ~(inside & (starts > 0) & (size > 64))
        starts, ends = starts[keep], ends[keep]
        # 3. windows: every one in a short run; at both ends of a longer one (a key is an object of its
        # own, next to others: its bytes begin or end the run; random runs of 15-16 words are mostly the
        # 1024-bit numbers RSA key generation leaves behind)
        candidates: list[int] = []
        for r0, r1 in zip(starts.tolist(), ends.tolist(), strict=True):
            candidates.extend(range(r0, r1 - 7) if r1 - r0 <= ALL_WINDOWS_WORDS else (r0, r1 - 8))
        if not candidates:
            return []
        # 4. byte diversity: 64 random bytes have ~57 distinct values (sd 2.6); code and tables far fewer
        idx = np.asarray(candidates, dtype=np.int64)
        offs = a0 + 8 * idx
        offs = offs[offs < own]
        raw = np.frombuffer(buf, dtype=np.uint8)
        offs = offs[_distinct_bytes(raw, offs) >= MIN_WINDOW_DISTINCT]
        out: list[Finding] = []
        for tests, off in enumerate(offs.tolist()):
            if tests >= MAX_TESTS:
                break
            seed = bytes(buf[off : off + 32])
            if derive(seed) == bytes(buf[off + 32 : off + 64]):
                out.append(_finding(start + off, PAIR, seed, "seed followed by the public key it derives"))
        return out

    # -- after the pass ---------------------------------------------------------------------------
    def needles(self, ctx: PostScanContext) -> list[bytes]:
        """The seeds the first pass proved and the public keys it knows (located by the engine's shared
        search)."""
        proved = self._proved_pairs(ctx)
        return [*proved, *self._known_publics(ctx, proved)]

    @staticmethod
    def _proved_pairs(ctx: PostScanContext) -> dict[bytes, str]:
        """seed -> how it was proved, for the seed-public key pairs of the first pass."""
        proved: dict[bytes, str] = {}
        for f in ctx.findings:
            if f.kind == KIND and f.encoding == PAIR:
                raw = ctx.view.read(f.offset, 64)
                if len(raw) == 64 and derive(raw[:32]) == raw[32:]:
                    proved.setdefault(raw[:32], f"the seed of the seed-public key pair at {f.offset:#x}")
        return proved

    def post_scan(self, ctx: PostScanContext) -> Iterable[Finding]:
        proved = self._proved_pairs(ctx)  # seed -> how it was proved
        out: list[Finding] = []
        publics = self._known_publics(ctx, proved)
        if publics:
            out += self._from_publics(ctx, publics, proved)
        if not proved:
            return out
        order = list(proved)
        covered = [(f.offset, f.offset + f.length) for f in [*ctx.findings, *out] if f.kind == KIND]
        for seed, offsets in zip(order, find_all(ctx.dump, order, ctx.state, self.name, ctx.view), strict=True):
            for off in offsets[:MAX_COPIES]:
                if any(a <= off and off + 32 <= b for a, b in covered):
                    continue
                out.append(_finding(off, SEED, seed, f"bytes equal {proved[seed]}"))
        return out

    @staticmethod
    def _known_publics(ctx: PostScanContext, proved: dict[bytes, str]) -> dict[bytes, str]:
        """Raw Ed25519 public keys known from the supplied keys and the first pass, but not yet proved."""
        done = {derive(s) for s in proved}
        found: dict[bytes, str] = {}

        def add(obj: Any, source: str) -> None:
            if isinstance(obj, ed25519.Ed25519PrivateKey):
                obj = obj.public_key()
            if isinstance(obj, ed25519.Ed25519PublicKey) and len(found) < MAX_PUBLIC:
                raw = obj.public_bytes_raw()
                if raw not in done:
                    found.setdefault(raw, source)

        for supplied in ctx.public_keys or ():
            add(getattr(supplied, "public_key", None), f"supplied public key {getattr(supplied, 'label', '?')}")
        for f in ctx.findings:
            if f.kind in (kinds.ED25519_PUBLIC_KEY, KIND, kinds.PUBLIC_KEY, kinds.SSH_PRIVATE_KEY) and f.length <= 65536:
                if f.encoding in (PAIR, SEED):
                    continue
                for obj in key_objects(ctx.view.read(f.offset, f.length), f.encoding):
                    add(obj, f"{f.kind} ({f.encoding}) at offset {f.offset:#x}")
        return found

    @staticmethod
    def _from_publics(ctx: PostScanContext, publics: dict[bytes, str], proved: dict[bytes, str]) -> list[Finding]:
        out: list[Finding] = []
        order = list(publics)
        dump = ctx.dump
        va_to_file = getattr(dump, "va_to_file", None)
        for pub, offsets in zip(order, find_all(dump, order, ctx.state, "ed25519", ctx.view), strict=True):
            for off in offsets[:MAX_COPIES]:
                before = ctx.view.read(off - 32, 32) if off >= 32 else b""
                if len(before) == 32 and derive(before) == pub:
                    proved.setdefault(before, f"a seed of the public key from {publics[pub]}")
                    out.append(_finding(off - 32, PAIR, before, "seed followed by the public key it derives"))
                    break
                if va_to_file is None:
                    continue
                lo = max(0, off - POINTER_REACH)
                around = ctx.view.read(lo, 2 * POINTER_REACH + 32)
                hit = None
                for rel in range((-lo) % 8, len(around) - 7, 8):
                    (ptr,) = struct.unpack_from("<Q", around, rel)
                    if ptr < 0x10000 or ptr >> 48:
                        continue
                    target = va_to_file(ptr)
                    if target is None:
                        continue
                    seed = ctx.view.read(target, 32)
                    if len(seed) == 32 and len(set(seed)) >= MIN_DISTINCT and derive(seed) == pub:
                        hit = target
                        break
                if hit is not None:
                    seed = ctx.view.read(hit, 32)
                    proved.setdefault(seed, f"the seed pointed at next to the public key's copy at {off:#x} "
                                            f"(public key from {publics[pub]})")
                    break
        return out


def _finding(offset: int, encoding: str, seed: bytes, why: str) -> Finding:
    public = ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key()
    length = 64 if encoding == PAIR else 32
    return Finding(KIND, encoding, offset, length, Confidence.CONFIRMED,
                   reasons=[f"Ed25519 {why}: derived and compared (SHA-512, clamp, scalar times the base point)"],
                   key_id=keys.key_id(public), details={"algorithm": "Ed25519", "layout": encoding})


ORDER = 122  # beside the AES schedules (see viewer.scan.detectors)
DETECTORS = [Ed25519Detector()]
