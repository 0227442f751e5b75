"""Symmetric keys held by Wine's CNG (bcrypt.dll) key objects: a raw AES key without a schedule.

A Windows program that calls ``BCryptGenerateSymmetricKey`` under Wine gets a handle that points at a
``struct key`` of Wine's bcrypt (dlls/bcrypt/bcrypt_internal.h, Wine 7-8)::

    struct object        { ULONG magic; };                /* MAGIC_KEY: 'K'<<24|'E'<<16|'Y'<<8|'0' */
    struct key_symmetric { enum chain_mode mode; ULONG block_size; UCHAR *vector; ULONG vector_len;
                           UCHAR *secret; ULONG secret_len; CRITICAL_SECTION cs; };
    struct key           { struct object hdr; enum alg_id alg_id; UINT64 private[2];
                           union { struct key_symmetric s; struct key_asymmetric a; } u; };

Wine hands the cipher work to GnuTLS only when the key is used, and GnuTLS's expanded schedule lives
in the Unix side (not in a Windows minidump). What the dump keeps is ``secret``: the key bytes
themselves, in a heap block of their own. Random bytes without structure cannot be recognised as a key;
the object that points at them can. The sample ``wine-keyholder-full.dmp`` (Wine 8.0, a 64-bit process)
holds one such AES-256 key: object at file offset 8876559, key at 0x10aa130 (file 8876671), and the
program's own copy of the key elsewhere in the heap.

How:

1. *Prefilter* (``validate``): the magic ``0YEK`` (MAGIC_KEY little-endian) followed by a symmetric
   ``alg_id`` (``ALG_ID_3DES`` 0, ``ALG_ID_AES`` 1, ``ALG_ID_RC4`` 2). The struct is parsed for 64- and
   32-bit processes (:func:`key_struct`, one declaration per pointer size) and kept only when every field
   fits the algorithm: a known chaining mode, the algorithm's block size, a key length the algorithm
   allows, an aligned non-null key pointer, an IV length of at most a few blocks. The object is reported
   as public context (``cng-key-object``, not a secret: it holds pointers, no key bytes).
2. *Following the pointer* (``post_scan``, which has the dump's address map): the key pointer is mapped
   to a file offset; the ``secret_len`` bytes there, when all dumped and not degenerate (fewer than
   ``MIN_DISTINCT`` distinct byte values, or a repeating pattern: zeroed or freed memory, a fill
   pattern, the filler of a redacted copy), are the key — ``high``: the structure
   is exact but a raw AES key has nothing to check it against (no schedule, no public half).
3. *Every other copy*: the key bytes are searched for in the whole file (``MAX_KEYS`` keys, ``MAX_COPIES``
   copies each); each occurrence is a ``raw`` finding of the same key, ``high`` as the key it equals.
   Progress goes to ``TaskState.step_progress`` (step ``wine-cng``); cancel is honoured between chunks.

Not covered: Windows' own CNG key objects (``MSSK`` inside ``UUUR`` handles, whose layout changes
between Windows builds and for which no dump with ground truth exists here), Wine's asymmetric keys
(held by GnuTLS on the Unix side), key objects whose key block was not dumped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from construct import Const, ConstructError, Enum, Int32ul, Int64ul, Padding, Struct

from viewer.scan import keys, kinds
from viewer.scan.detector import Hit, Pattern, PostScanContext, View
from viewer.scan.finding import Confidence, Finding
from viewer.scan.keymaterial import find_all

NAME = "wine-cng"
MAGIC = b"0YEK"  # MAGIC_KEY as the little-endian ULONG Wine writes
OBJECT_KIND = kinds.CNG_KEY_OBJECT
OBJECT_ENCODING = "wine-bcrypt-key-object"
KEY_ENCODING = "wine-bcrypt-key"
RAW = "raw"
MIN_DISTINCT = 5  # as aes.MIN_KEY_DISTINCT_BYTES: fewer distinct bytes is zeroed/freed/patterned memory
MAX_IV = 64
MAX_KEYS = 64
MAX_COPIES = 64

ALGORITHMS = {0: "3DES", 1: "AES", 2: "RC4"}  # enum alg_id: the ciphers come first
MODES = {0: "CBC", 1: "ECB", 2: "CFB", 3: "CCM", 4: "GCM"}  # enum chain_mode
BLOCK_SIZE = {"3DES": 8, "AES": 16, "RC4": 1}
KEY_LENGTHS = {"3DES": frozenset({16, 24}), "AES": frozenset({16, 24, 32}), "RC4": frozenset(range(5, 257))}


def key_struct(pointer_bits: int) -> Struct:
    """``struct key`` with its symmetric union member, for a process with ``pointer_bits``-bit pointers
    (both ABIs align the UINT64 array at 8, so only the pointers and their padding differ)."""
    pointer = Int64ul if pointer_bits == 64 else Int32ul
    align = [Padding(4)] if pointer_bits == 64 else []
    return Struct(
        "magic" / Const(MAGIC),
        "alg_id" / Enum(Int32ul, **{f"ALG_ID_{v}": k for k, v in ALGORITHMS.items()}),
        "private" / Int64ul[2],
        "mode" / Enum(Int32ul, **{f"CHAIN_MODE_{v}": k for k, v in MODES.items()}),
        "block_size" / Int32ul,
        "vector" / pointer,
        "vector_len" / Int32ul,
        *align,
        "secret" / pointer,
        "secret_len" / Int32ul,
    )


KEY_STRUCTS = {bits: key_struct(bits) for bits in (64, 32)}


@dataclass(frozen=True)
class KeyObject:
    """What a parsed key object says about its key (public facts: no key byte)."""

    offset: int
    pointer_bits: int
    algorithm: str
    mode: str
    key_vaddr: int
    key_length: int

    @property
    def size(self) -> int:
        return KEY_STRUCTS[self.pointer_bits].sizeof()


def parse_key_object(data: bytes, offset: int) -> KeyObject | None:
    """The key object at the start of ``data`` when its fields are those of a live symmetric key."""
    for bits, layout in KEY_STRUCTS.items():
        try:
            k = layout.parse(data[: layout.sizeof()])
        except (ConstructError, ValueError):
            continue
        if not (isinstance(k.alg_id, str) and isinstance(k.mode, str)):  # a value the enums do not name
            continue
        algorithm = k.alg_id.removeprefix("ALG_ID_")
        mode = k.mode.removeprefix("CHAIN_MODE_")
        if k.block_size != BLOCK_SIZE[algorithm] or k.secret_len not in KEY_LENGTHS[algorithm]:
            continue
        if k.secret == 0 or k.secret % (8 if bits == 64 else 4) or k.vector_len > MAX_IV:
            continue
        if (k.vector == 0) != (k.vector_len == 0):
            continue
        return KeyObject(offset, bits, algorithm, mode, int(k.secret), int(k.secret_len))
    return None


def degenerate(data: bytes) -> bool:
    """Bytes no live key has: fewer than ``MIN_DISTINCT`` values, or a repeating pattern (a period of at
    most half the length: fill patterns, and the ``REDACTED`` filler of a redacted copy)."""
    if len(set(data)) < MIN_DISTINCT:
        return True
    return any(data[p:] == data[:-p] for p in range(1, len(data) // 2 + 1))


class WineCngDetector:
    name = NAME
    patterns = (Pattern("wine-bcrypt-key", rb"0YEK[\x00-\x02]\x00\x00\x00", 8),)

    def validate(self, view: View, hit: Hit) -> Iterable[Finding]:
        obj = parse_key_object(view.read(hit.start, KEY_STRUCTS[64].sizeof()), hit.start)
        if obj is None:
            return
        yield Finding(
            OBJECT_KIND,
            OBJECT_ENCODING,
            obj.offset,
            obj.size,
            Confidence.MEDIUM,
            reasons=[f"Wine bcrypt key object (magic KEY0, {obj.pointer_bits}-bit): {obj.algorithm} "
                     f"{obj.mode}, {obj.key_length}-byte key at {obj.key_vaddr:#x}"],
            details={"algorithm": obj.algorithm, "mode": obj.mode, "key_bytes": obj.key_length,
                     "key_vaddr": f"{obj.key_vaddr:#x}", "pointer_bits": obj.pointer_bits},
            secret=False,
        )

    def needles(self, ctx: PostScanContext) -> list[bytes]:
        """The keys the first pass's key objects lead to (their copies are located by the engine's shared
        search)."""
        objects = [f for f in ctx.findings if f.kind == OBJECT_KIND and f.encoding == OBJECT_ENCODING]
        keys = [self._key(ctx, f) for f in objects]
        return list(dict.fromkeys(k[0] for k in keys if k is not None))[:MAX_KEYS]

    def post_scan(self, ctx: PostScanContext) -> Iterable[Finding]:
        objects = [f for f in ctx.findings if f.kind == OBJECT_KIND and f.encoding == OBJECT_ENCODING]
        if not objects:
            return []
        found: list[Finding] = []
        held: dict[bytes, Finding] = {}
        for f in objects:
            key = self._key(ctx, f)
            if key is None:
                continue
            data, finding = key
            found.append(finding)
            if data not in held:
                if len(held) >= MAX_KEYS:
                    ctx.notes.append(f"more than {MAX_KEYS} keys: copies searched for the first only")
                else:
                    held[data] = finding
        found += self._copies(ctx, held)
        return found

    @staticmethod
    def _key(ctx: PostScanContext, obj: Finding) -> tuple[bytes, Finding] | None:
        try:
            vaddr = int(obj.details["key_vaddr"], 16)
            length = int(obj.details["key_bytes"])
            algorithm = str(obj.details["algorithm"])
        except (KeyError, TypeError, ValueError):
            return None
        offset = ctx.dump.va_to_file(vaddr)
        data = ctx.dump.read_va(vaddr, length)
        if offset is None or len(data) != length:
            ctx.notes.append(f"key object at {obj.offset:#x}: its key at {vaddr:#x} is not (all) in the dump")
            return None
        if degenerate(data):
            ctx.notes.append(f"key object at {obj.offset:#x}: its key bytes are degenerate (zeroed, freed or "
                             "patterned, e.g. already redacted)")
            return None
        aes = algorithm == "AES"
        finding = Finding(
            kinds.AES_KEY if aes else kinds.SYMMETRIC_KEY,
            KEY_ENCODING,
            offset,
            length,
            Confidence.HIGH,
            reasons=[f"held by the Wine bcrypt key object at file offset {obj.offset:#x} "
                     f"({algorithm} {obj.details.get('mode', '?')}): its key pointer and length lead here",
                     "a raw key has nothing to check it against: the structure is exact, the key unverified"],
            key_id=keys.symmetric_key_id(data),
            details={"bits": 8 * length, "algorithm": algorithm, "object_offset": obj.offset},
        )
        return data, finding

    @staticmethod
    def _copies(ctx: PostScanContext, held: dict[bytes, Finding]) -> Iterator[Finding]:
        order = list(held)
        for data, offsets in zip(order, find_all(ctx.dump, order, ctx.state, NAME, ctx.view), strict=True):
            key = held[data]
            count = 0
            end = -1
            for off in offsets:
                if off < end:
                    continue  # overlapping the match before (patterned bytes): matches do not overlap
                end = off + len(data)
                if off == key.offset:
                    continue  # the key itself
                yield Finding(
                    key.kind,
                    RAW,
                    off,
                    len(data),
                    Confidence.HIGH,
                    reasons=[f"bytes equal the key held by the Wine bcrypt key object at "
                             f"{key.details['object_offset']:#x} (found at {key.offset:#x})"],
                    key_id=key.key_id,
                    details={"bits": 8 * len(data), "algorithm": key.details["algorithm"]},
                )
                count += 1
                if count >= MAX_COPIES:
                    ctx.notes.append(f"more than {MAX_COPIES} copies of one key: the first are reported")
                    break
            if ctx.state is not None and ctx.state.is_cancelled:
                break


ORDER = 130  # where these run among the detectors (see viewer.scan.detectors)
DETECTORS = [WineCngDetector()]
