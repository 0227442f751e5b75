"""ssh-agent's shielded private keys (OpenSSH 8.2+), unshielded from a memory dump of the agent.

Since OpenSSH 8.2 a key held in memory for long (ssh-agent's identities) is "shielded": sshkey.c
``sshkey_shield_private`` draws a 16 KiB random pre-key (``SSHKEY_SHIELD_PREKEY_LEN``), hashes it with
SHA-512 (``SSHKEY_SHIELD_PREKEY_HASH``), and encrypts the private key, serialised by
``sshkey_private_serialize_opt`` (``string keytype`` then the key's fields: Ed25519 ``string pk, string
sk``; RSA ``mpint n, e, d, iqmp, p, q``; ECDSA ``string curve, string Q, mpint d``) and padded 1, 2, 3,
... to the AES block size, with ``aes256-ctr`` (``SSHKEY_SHIELD_CIPHER``) under key = hash[0:32],
IV = hash[32:48]. Pre-key and ciphertext both stay in the process, and ``struct sshkey`` ends with the
four fields that point at them, in this order in every release since 8.2 (sshkey.h)::

    u_char *shielded_private;  size_t shielded_len;  u_char *shield_prekey;  size_t shield_prekey_len;

How the keys are found (64-bit little-endian processes, glibc malloc):

1. **Prefilter**: the pre-key is ``malloc(16384)``; glibc puts the chunk's size field, 0x4011 (0x4010
   plus PREV_INUSE; 0x4010 when the chunk before is free), in the 8 bytes before it. The validator keeps a hit only when the
   16 KiB after it look random (every byte value present, none overrepresented): arc4random output.
2. **The owning struct, near by**: the struct sshkey that holds the pre-key lives in the same heap, in
   practice within kilobytes. The validator reads a window of +-``WINDOW`` bytes around the pre-key (in
   the same 8-byte phase: within one memory region, file offset and address agree modulo 8) and picks
   every aligned ``(pointer, length, pointer, 16384)`` quadruple with plausible values. It does not need
   the dump's address map: assuming the third field points at this pre-key gives the region's
   address-to-offset delta, hence the ciphertext's file offset. The likeliest structs are tried first
   (pre-key pointer congruent to the pre-key's file offset modulo the page size, then the nearest).
3. **Proof**: the ciphertext is decrypted with SHA-512 of the pre-key and parsed; the private half is
   checked against the public half serialised with it (Ed25519 seed -> public key, RSA p*q = n and
   e*d = 1 mod lambda(n), ECDSA d*G = Q). A wrong guess cannot produce a well-formed, mathematically
   consistent key, so every finding is ``confirmed``: the key at the ciphertext's offset
   (encoding ``ssh-agent-shielded``), and the pre-key itself (``ssh-agent-prekey``, a secret too: with it
   anyone unshields the key).

Why this prefilter: a pattern on the struct fields themselves (pointer, length, pointer, 16384) would not
depend on the allocator, but its literal (16384 as a little-endian u64: one 0x40 among zeros) made the
hyperscan pass 2.4 times slower on zero-rich memory (measured: 45 -> 110 ms on a 164 MB core with the
default detectors), while the glibc size field costs nothing measurable. Work after a hit is bounded:
one 16 KiB read, one window read, at most ``MAX_STRUCTS`` decryptions of at most 64 KiB.

Not found: pre-keys that are not glibc heap chunks (musl, jemalloc, Windows' heap; OpenSSH 9.4+ puts
the pre-key in its own ``mmap`` marked ``MADV_DONTDUMP``, so a core lacks it anyway, though a full-memory
acquisition keeps it), 32-bit and big-endian processes, a struct farther than ``WINDOW`` from its
pre-key or in another memory region than the ciphertext. Certificates and FIDO (``-sk``) keys unshield
but their fields are not parsed: reported ``high`` without ``key_id``. Every length comes from the
evidence and is bounded before use; nothing here raises on bad data, and no key byte goes into reasons
or details (the comment, often user@host, is not in the shielded blob and never reported).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from construct import ConstructError, Pass, Struct, Switch, Tell, this
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from viewer.scan import keys, kinds, openssh_key
from viewer.scan.detector import Hit, Pattern, View
from viewer.scan.finding import Confidence, Finding

PREKEY_LEN = 16 * 1024  # SSHKEY_SHIELD_PREKEY_LEN
MIN_SHIELDED = 64  # the smallest real serialisation (Ed25519) pads to 128 bytes
MAX_SHIELDED = 64 * 1024  # RSA-16384 serialises to ~9 KiB; anything larger is not a shielded key
MIN_POINTER = 0x10000  # the lowest page a process maps (vm.mmap_min_addr)
MAX_POINTER = 1 << 48  # user-space addresses of x86-64 and AArch64 (4-level paging)
WINDOW = 2 * 1024 * 1024  # how far from its pre-key the struct sshkey is looked for, each side
MAX_STRUCTS = 64  # candidate structs decrypted per pre-key (the likeliest first)
MAX_QUADRUPLES = 4096  # plausible quadruples collected from one window before ranking
PAGE = 4096
AES_BLOCK = 16
CHUNK_HEADER = 8  # glibc: the size field sits in the 8 bytes before the user data

ENCODING = "ssh-agent-shielded"
PREKEY_KIND = kinds.SSH_AGENT_PREKEY

# glibc chunk size field of malloc(16384) on 64-bit: 0x4010 | PREV_INUSE (usual), or 0x4010 when the chunk
# before is free. Two literals, not one class: Python's re (the fallback engine) searches a literal prefix
# ~15 times faster than a leading class. ssh-agent is single-threaded, so NON_MAIN_ARENA (4) is left out.
PREKEY_HEADERS = (
    ("glibc-chunk-16k", rb"\x11\x40\x00\x00\x00\x00\x00\x00"),
    ("glibc-chunk-16k-prev-free", rb"\x10\x40\x00\x00\x00\x00\x00\x00"),
)

# What sshkey_private_serialize_opt writes: the key type, its fields (openssh_key.PRIVATE_FIELDS, the same
# per-type layout as in an openssh-key-v1 private section), then the padding.
SHIELDED_PLAINTEXT = Struct(
    "keytype" / openssh_key.SSHName,
    "key" / Switch(this.keytype, openssh_key.PRIVATE_FIELDS, default=Pass),
    "end" / Tell,
)
_KEYTYPE_NAME = re.compile(rb"[a-z][a-z0-9@.\-]{2,63}\Z")
_KEYTYPE_PREFIXES = ("ssh-", "ecdsa-", "sk-", "webauthn-")


def looks_random(prekey: bytes) -> bool:
    """16 KiB of arc4random output: every byte value present, none far above its mean of 64 (a count of
    128 is eight standard deviations out)."""
    if len(prekey) != PREKEY_LEN:
        return False
    counts = np.bincount(np.frombuffer(prekey, dtype=np.uint8), minlength=256)
    return bool(counts.min() > 0 and counts.max() < 128)


def unshield(prekey: bytes, shielded: bytes) -> bytes:
    """Decrypt a shielded blob with its pre-key, as sshkey_unshield_private does."""
    digest = hashlib.sha512(prekey).digest()
    dec = Cipher(algorithms.AES(digest[:32]), modes.CTR(digest[32:48])).decryptor()
    return dec.update(shielded) + dec.finalize()


def struct_candidates(window: bytes, phase: int) -> list[tuple[int, int, int, int]]:
    """``(offset in window, shielded_private, shielded_len, shield_prekey)`` of every quadruple
    ``pointer, length, pointer, 16384`` at 8-byte steps from ``phase`` whose values can be a shielded
    key's (16-aligned user-space pointers, a length that is a multiple of 16 in range)."""
    usable = (len(window) - phase) // 8 * 8
    if phase < 0 or usable < 32:
        return []
    words = np.frombuffer(window, dtype="<u8", count=usable // 8, offset=phase)
    idx = np.flatnonzero(words[3:] == PREKEY_LEN)  # index of the shield_prekey_len field, minus 3
    if idx.size == 0:
        return []
    s, length, p = words[idx], words[idx + 1], words[idx + 2]
    ok = (
        (p % 16 == 0)
        & (p >= MIN_POINTER)
        & (p < MAX_POINTER)
        & (s % 16 == 0)
        & (s >= MIN_POINTER)
        & (s < MAX_POINTER)
        & (length % AES_BLOCK == 0)
        & (length >= MIN_SHIELDED)
        & (length <= MAX_SHIELDED)
    )
    out = []
    for i in idx[ok][:MAX_QUADRUPLES]:
        out.append((phase + 8 * int(i), int(words[i]), int(words[i + 1]), int(words[i + 2])))
    return out


def _plausible_keytype(plain: bytes) -> str | None:
    """The key type name at the start of a decrypted blob, when it looks like one."""
    if len(plain) < 4:
        return None
    n = int.from_bytes(plain[:4], "big")
    name = plain[4 : 4 + n]
    if not 3 <= n <= 64 or len(name) != n or not _KEYTYPE_NAME.match(name):
        return None
    text = name.decode("ascii")
    return text if text.startswith(_KEYTYPE_PREFIXES) else None


def _padding_ok(padding: bytes) -> bool:
    return len(padding) < AES_BLOCK and padding == bytes(range(1, len(padding) + 1))


@dataclass
class Unshielded:
    """What a decrypted blob held: public facts and the verdict, never key bytes."""

    keytype: str
    kind: str
    confidence: Confidence
    reasons: list[str]
    key_id: str | None
    details: dict[str, Any]


def examine(plain: bytes) -> Unshielded | None:
    """Parse and check a decrypted blob. None when the decryption produced no key (wrong candidate)."""
    keytype = _plausible_keytype(plain)
    if keytype is None:
        return None
    if keytype not in openssh_key.PRIVATE_FIELDS:
        # a certificate, a FIDO key, XMSS: well-formed (a type name does not come out of a wrong
        # decryption), but its fields are not parsed here
        base = keytype.split("-cert-v01@")[0]
        return Unshielded(
            keytype,
            openssh_key.KINDS.get(base, kinds.SSH_PRIVATE_KEY),
            Confidence.HIGH,
            [f"key type {keytype}: its private fields are not checked"],
            None,
            {"keytype": keytype},
        )
    try:
        parsed = SHIELDED_PLAINTEXT.parse(plain)
        if not _padding_ok(plain[parsed.end :]):
            return None
        check = openssh_key.check_private(keytype, parsed.key)
        if not check.ok:
            return None
        public = openssh_key.public_key(keytype, parsed.key)
    except (ConstructError, ValueError, OverflowError, TypeError, IndexError, KeyError, AttributeError):
        return None
    if public is None:
        return None
    details: dict[str, Any] = {"keytype": keytype}
    details.update(keys.describe_public(public))
    return Unshielded(
        keytype,
        openssh_key.KINDS[keytype],
        Confidence.CONFIRMED,
        ["private half matches its public key", *check.reasons],
        keys.key_id(public),
        details,
    )


class SSHAgentDetector:
    name = "sshagent"
    patterns = tuple(Pattern(name, regex, CHUNK_HEADER) for name, regex in PREKEY_HEADERS)

    def validate(self, view: View, hit: Hit) -> Iterable[Finding]:
        prekey_offset = hit.start + CHUNK_HEADER
        if prekey_offset + PREKEY_LEN > view.size:
            return  # a pre-key cut off by the end of the file cannot unshield anything
        if len(set(view.read(prekey_offset, 256))) < 128:  # random: ~162 distinct values, sigma ~4
            return  # most size fields 0x4011 head ordinary buffers: rejected for the cost of 256 bytes
        prekey = view.read(prekey_offset, PREKEY_LEN)
        if not looks_random(prekey):
            return
        lo = max(0, prekey_offset - WINDOW)
        lo += (prekey_offset - lo) % 8  # same 8-byte phase as the pre-key (16-aligned in memory)
        window = view.read(lo, min(view.size, prekey_offset + PREKEY_LEN + WINDOW) - lo)
        digest = hashlib.sha512(prekey).digest()
        candidates = [
            (lo + rel, shielded_va, length, prekey_va)
            for rel, shielded_va, length, prekey_va in struct_candidates(window, 0)
            if not prekey_offset <= lo + rel < prekey_offset + PREKEY_LEN  # not in the random bytes
        ]
        # Likeliest first: a struct whose pre-key pointer agrees with the pre-key's file offset modulo the
        # page size (memory is page-aligned in an ELF core's file), then the nearest.
        candidates.sort(key=lambda c: ((c[3] - prekey_offset) % PAGE != 0, abs(c[0] - prekey_offset)))
        for struct_offset, shielded_va, length, prekey_va in candidates[:MAX_STRUCTS]:
            # assume this struct points at our pre-key: that fixes the region's address-to-offset delta
            delta = prekey_va - prekey_offset
            blob_offset = shielded_va - delta
            if blob_offset < 0 or blob_offset + length > view.size:
                continue
            if blob_offset < prekey_offset + PREKEY_LEN and prekey_offset < blob_offset + length:
                continue
            blob = view.read(blob_offset, length)
            if len(blob) != length:
                continue
            dec = Cipher(algorithms.AES(digest[:32]), modes.CTR(digest[32:48])).decryptor()
            found = examine(dec.update(blob) + dec.finalize())
            if found is None:
                continue
            yield from self._findings(found, prekey, prekey_offset, blob_offset, length, struct_offset)
            return  # one pre-key shields one key

    @staticmethod
    def _findings(
        found: Unshielded,
        prekey: bytes,
        prekey_offset: int,
        blob_offset: int,
        length: int,
        struct_offset: int,
    ) -> list[Finding]:
        key = Finding(
            kind=found.kind,
            encoding=ENCODING,
            offset=blob_offset,
            length=length,
            confidence=found.confidence,
            reasons=[f"unshielded with the 16 KiB pre-key at file offset {prekey_offset:#x}", *found.reasons],
            key_id=found.key_id,
            details={**found.details, "prekey_offset": prekey_offset, "struct_offset": struct_offset},
        )
        pre = Finding(
            kind=PREKEY_KIND,
            encoding="raw",
            offset=prekey_offset,
            length=PREKEY_LEN,
            confidence=Confidence.CONFIRMED,
            reasons=[
                "ssh-agent shielding pre-key (16 KiB): its SHA-512 is the AES-256-CTR key and IV that "
                f"unshielded the {found.keytype} key at file offset {blob_offset:#x}"
            ],
            key_id=keys.symmetric_key_id(prekey),
            details={
                "keytype": found.keytype,
                "shielded_offset": blob_offset,
                "struct_offset": struct_offset,
                "unshields_key_id": found.key_id,
            },
        )
        return [key, pre]


ORDER = 80  # where these run among the detectors (see viewer.scan.detectors)
DETECTORS = [SSHAgentDetector()]
