"""HMAC keys held as their two pad blocks (ipad = key XOR 0x36, opad = key XOR 0x5c), and the raw key.

HMAC (RFC 2104) pads the key with zero bytes to the hash's block (64 bytes for SHA-1/SHA-256, 128 for
SHA-384/512; a longer key is hashed first) and XORs it with 0x36 for the inner and 0x5c for the outer
hash. Many implementations keep both blocks for the life of the MAC object: Go's ``crypto/hmac``
(``hmac.ipad``/``hmac.opad``, two ``make([]byte, blocksize)`` slices side by side), the JDK's
``HmacCore`` (``k_ipad``/``k_opad`` byte arrays, allocated one after the other) — so a process that signs
or checks with HMAC holds its key twice more, in a form no JWT is needed to confirm:

* the inner block ends with a run of 0x36 bytes (the key's zero padding); the prefilter finds the start
  of such a run (12 bytes 0x36 not preceded by another);
* the block is where the run ends: 64 or 128 bytes back from it; the outer block is then *known*
  (ipad XOR 0x6a in every byte: 0x36 ^ 0x5c) and must be in memory within ``PAIR_WINDOW`` bytes of the
  inner one, byte for byte — 512-1024 bits of which the padding alone is 96 bits or more: the two blocks
  validate each other, ``confirmed``;
* the key is the inner block's bytes before the run, XOR 0x36 (a key whose last bytes are zero loses
  them: the run starts earlier); with ``MIN_KEY`` bytes or more it is located raw in the whole file after
  the first pass (:meth:`HmacPadDetector.post_scan`), each copy ``confirmed`` (its bytes are a key whose
  pad blocks were found).

All three are kind ``hmac-secret`` with ``key_id`` = :func:`keys.symmetric_key_id` of the key — the same
id the JWT-driven ``hmac`` detector gives a verified signing secret, so a key found both ways is one
secret. Not recognised: keys exactly as long as the block (no padding run) or within 12 bytes of it; pad
blocks more than ``PAIR_WINDOW`` bytes apart; implementations that keep only the hash states after
absorbing the pads (OpenSSL 3's ``EVP_MAC``: the midstates are not the key).
"""

from __future__ import annotations

from collections.abc import Iterable

from viewer.scan import kinds
from viewer.scan.detector import Hit, Pattern, PostScanContext, View
from viewer.scan.finding import Confidence, Finding
from viewer.scan.keymaterial import find_all
from viewer.scan.keys import symmetric_key_id

KIND = kinds.HMAC_SECRET
IPAD, OPAD = 0x36, 0x5C
BLOCKS = (64, 128)  # SHA-1/SHA-224/SHA-256 (and MD5), SHA-384/SHA-512
MIN_RUN = 12  # padding bytes the prefilter asks for
PAIR_WINDOW = 4096  # bytes either side of the inner block searched for the outer one
MIN_KEY = 8  # shorter keys are not reported (a few bytes before a run of '6' are not a key)
MIN_KEY_DISTINCT = 5
MIN_RAW_KEY = 16  # keys searched raw in the whole file (shorter ones match by chance)
MAX_KEYS = 256
MAX_RAW_HITS = 64


def _opad_of(block: bytes) -> bytes:
    return bytes(b ^ (IPAD ^ OPAD) for b in block)


class HmacPadDetector:
    """HMAC ipad/opad block pairs; see the module docstring."""

    name = "hmacpads"
    # a literal run (hyperscan finds literals fastest); a long run gives a hit every 12 bytes, and only
    # the one at its start goes on
    patterns = (Pattern("ipad-run", rb"\x36{12}", MIN_RUN),)

    def validate(self, view: View, hit: Hit) -> Iterable[Finding]:
        run_start = hit.start
        if run_start == 0 or view.read(run_start - 1, 1) == b"\x36":
            return []
        # the run's end: up to the larger block past its start
        tail = view.read(run_start, max(BLOCKS))
        run = next((i for i, b in enumerate(tail) if b != IPAD), len(tail))
        run_end = run_start + run
        out: list[Finding] = []
        for block in BLOCKS:
            start = run_end - block
            key_len = run_start - start
            if key_len < MIN_KEY or run < MIN_RUN or start < 0:
                continue
            inner = view.read(start, block)
            if len(inner) < block:
                continue
            key = bytes(b ^ IPAD for b in inner[:key_len])
            if len(set(key)) < MIN_KEY_DISTINCT:
                continue
            outer = _opad_of(inner)
            lo = max(0, start - PAIR_WINDOW)
            around = view.read(lo, 2 * PAIR_WINDOW + block)
            at = around.find(outer)
            if at < 0:
                continue
            kid = symmetric_key_id(key)
            why = (f"HMAC pad blocks of a {8 * key_len}-bit key ({block}-byte hash block): the outer block "
                   f"equals the inner one XOR 0x6a in all {block} bytes")
            details = {"block": block, "key_bits": 8 * key_len}
            out.append(Finding(KIND, "hmac-ipad", start, block, Confidence.CONFIRMED,
                               reasons=[why, f"outer block (opad) at file offset {lo + at:#x}"],
                               key_id=kid, details=dict(details, pad="ipad")))
            out.append(Finding(KIND, "hmac-opad", lo + at, block, Confidence.CONFIRMED,
                               reasons=[why, f"inner block (ipad) at file offset {start:#x}"],
                               key_id=kid, details=dict(details, pad="opad")))
            break
        return out

    # -- after the pass: the raw key ----------------------------------------------------------------
    def post_scan(self, ctx: PostScanContext) -> Iterable[Finding]:
        pads = [f for f in ctx.findings if f.kind == KIND and f.encoding == "hmac-ipad"]
        keys: dict[bytes, Finding] = {}
        for f in pads:
            if len(keys) >= MAX_KEYS:
                ctx.notes.append(f"more than {MAX_KEYS} HMAC keys: raw copies searched for the first only")
                break
            block = ctx.view.read(f.offset, f.length)
            key_len = int(f.details.get("key_bits", 0)) // 8
            if len(block) != f.length or not MIN_RAW_KEY <= key_len <= len(block):
                continue
            key = bytes(b ^ IPAD for b in block[:key_len])
            if symmetric_key_id(key) == f.key_id:
                keys.setdefault(key, f)
        if not keys:
            return []
        order = list(keys)
        covered = [(f.offset, f.offset + f.length) for f in ctx.findings if f.kind == KIND]
        out: list[Finding] = []
        for key, offsets in zip(order, find_all(ctx.dump, order, ctx.state, self.name, ctx.view), strict=True):
            source = keys[key]
            for off in offsets[:MAX_RAW_HITS]:
                if any(a <= off and off + len(key) <= b for a, b in covered):
                    continue
                out.append(Finding(KIND, "raw", off, len(key), Confidence.CONFIRMED,
                                   reasons=[f"bytes equal the key of the HMAC pad blocks at {source.offset:#x}"],
                                   key_id=source.key_id, details={"key_bits": 8 * len(key)}))
        return out


ORDER = 125  # after the AES schedules (see viewer.scan.detectors)
DETECTORS = [HmacPadDetector()]
