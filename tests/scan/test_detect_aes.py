"""The AES key-schedule detector on real bytes: schedules computed here by an independent reference
implementation (checked against FIPS-197 Appendix A and against OpenSSL through ``cryptography`` by
running the cipher with them), planted in random data; the engine's chunk boundaries; a live process
that uses AES through OpenSSL, dumped with gcore; the two sample dumps against their ground truth; and
the public corpus as a control. No mocks.
"""

from __future__ import annotations

import os
import random
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tests.builders.live import dump_holder
from tests.conftest import corpus_files
from viewer.evidence import open_dump
from viewer.scan.detectors import default_detectors
from viewer.scan.detectors.aes import DEC, ENC, RAW, AesDetector
from viewer.scan.engine import scan_dump
from viewer.scan.finding import Confidence
from viewer.scan.keys import symmetric_key_id


# -- an independent reference AES (S-box by exponentiation, byte-wise state) --------------------------
def gf_mul(a: int, b: int) -> int:
    p = 0
    for _ in range(8):
        if b & 1:
            p ^= a
        hi = a & 0x80
        a = (a << 1) & 0xFF
        if hi:
            a ^= 0x1B
        b >>= 1
    return p


def _ref_sbox() -> list[int]:
    out = []
    for x in range(256):
        inv = 1
        for _ in range(254):  # x^254 = x^-1 in GF(2^8), and 0 -> 0
            inv = gf_mul(inv, x)
        b = inv if x else 0
        s = 0x63
        for i in range(8):
            bit = (b >> i ^ b >> (i + 4) % 8 ^ b >> (i + 5) % 8 ^ b >> (i + 6) % 8 ^ b >> (i + 7) % 8) & 1
            s ^= bit << i
        out.append(s)
    return out


S = _ref_sbox()
INV_S = [S.index(i) for i in range(256)]
NR = {16: 10, 24: 12, 32: 14}


def ref_expand(key: bytes) -> bytes:
    """FIPS-197 5.2 on byte lists."""
    nk, nr = len(key) // 4, NR[len(key)]
    w = [list(key[4 * i : 4 * i + 4]) for i in range(nk)]
    rcon = 1
    for i in range(nk, 4 * (nr + 1)):
        t = list(w[i - 1])
        if i % nk == 0:
            t = [S[b] for b in t[1:] + t[:1]]
            t[0] ^= rcon
            rcon = gf_mul(rcon, 2)
        elif nk > 6 and i % nk == 4:
            t = [S[b] for b in t]
        w.append([a ^ b for a, b in zip(w[i - nk], t, strict=True)])
    return bytes(b for word in w for b in word)


def mix_column(col: list[int], m: tuple[int, int, int, int]) -> list[int]:
    return [
        gf_mul(col[0], m[(0 - r) % 4])
        ^ gf_mul(col[1], m[(1 - r) % 4])
        ^ gf_mul(col[2], m[(2 - r) % 4])
        ^ gf_mul(col[3], m[(3 - r) % 4])
        for r in range(4)
    ]


MC, IMC = (2, 3, 1, 1), (14, 11, 13, 9)


def ref_decrypt_schedule(key: bytes) -> bytes:
    """The equivalent inverse cipher's schedule (FIPS-197 5.3.5), OpenSSL's AES_set_decrypt_key."""
    ek, nr = ref_expand(key), NR[len(key)]
    out = b""
    for r in range(nr + 1):
        rnd = ek[16 * (nr - r) : 16 * (nr - r) + 16]
        if 0 < r < nr:
            rnd = bytes(b for c in range(4) for b in mix_column(list(rnd[4 * c : 4 * c + 4]), IMC))
        out += rnd
    return out


def ref_encrypt_block(sched: bytes, block: bytes) -> bytes:
    nr = len(sched) // 16 - 1
    s = [a ^ b for a, b in zip(block, sched[:16], strict=True)]
    for r in range(1, nr + 1):
        s = [S[b] for b in s]
        s = [s[(i % 4) + 4 * ((i // 4 + i % 4) % 4)] for i in range(16)]
        if r < nr:
            s = [b for c in range(4) for b in mix_column(s[4 * c : 4 * c + 4], MC)]
        s = [a ^ b for a, b in zip(s, sched[16 * r : 16 * r + 16], strict=True)]
    return bytes(s)


def ref_decrypt_block(dsched: bytes, block: bytes) -> bytes:
    """The equivalent inverse cipher: it works only with the decryption layout."""
    nr = len(dsched) // 16 - 1
    s = [a ^ b for a, b in zip(block, dsched[:16], strict=True)]
    for r in range(1, nr + 1):
        s = [INV_S[b] for b in s]
        s = [s[(i % 4) + 4 * ((i // 4 - i % 4) % 4)] for i in range(16)]
        if r < nr:
            s = [b for c in range(4) for b in mix_column(s[4 * c : 4 * c + 4], IMC)]
        s = [a ^ b for a, b in zip(s, dsched[16 * r : 16 * r + 16], strict=True)]
    return bytes(s)


def u32_layout(sched: bytes) -> bytes:
    """OpenSSL's portable C layout on little-endian: each big-endian word stored as a native u32."""
    n = len(sched) // 4
    return struct.pack(f"<{n}I", *struct.unpack(f">{n}I", sched))


def test_reference_matches_fips197_and_openssl():
    # FIPS-197 Appendix A: the last word of each expansion
    a1 = ref_expand(bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c"))
    assert len(a1) == 176 and a1[-4:].hex() == "b6630ca6"
    a2 = ref_expand(bytes.fromhex("8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b"))
    assert len(a2) == 208 and a2[-4:].hex() == "01002202"
    a3 = ref_expand(bytes.fromhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"))
    assert len(a3) == 240 and a3[-4:].hex() == "706c631e"
    rng = random.Random(7)
    for size in (16, 24, 32):
        key, block = rng.randbytes(size), rng.randbytes(16)
        ecb = Cipher(algorithms.AES(key), modes.ECB())
        ct = ecb.encryptor().update(block)
        assert ref_encrypt_block(ref_expand(key), block) == ct
        assert ref_decrypt_block(ref_decrypt_schedule(key), ct) == block


# -- planted in random data ------------------------------------------------------------------------
class Bytes:
    """A View over bytes (the detector's own block interface)."""

    def __init__(self, data: bytes):
        self.data, self.size = data, len(data)

    def read(self, offset: int, length: int) -> bytes:
        return self.data[offset : offset + length] if offset >= 0 else b""


def plant(buf: bytearray, off: int, blob: bytes) -> None:
    buf[off : off + len(blob)] = blob


def planted_image(
    rng: random.Random, size: int, aligned: bool
) -> tuple[bytes, list[tuple[int, bytes, str, str]]]:
    buf = bytearray(rng.randbytes(size))
    plants = []
    off = 4096
    for size_ in (16, 24, 32):
        for encoding in (ENC, DEC):
            for layout in ("bytes", "u32"):
                key = rng.randbytes(size_)
                sched = ref_expand(key) if encoding == ENC else ref_decrypt_schedule(key)
                if layout == "u32":
                    sched = u32_layout(sched)
                # AES-192 decryption schedules are recognised 4-byte aligned only (aes.py says why)
                misaligned = not aligned and not (size_ == 24 and encoding == DEC)
                at = off + (rng.choice((1, 2, 3)) if misaligned else 0)
                plant(buf, at, sched)
                plants.append((at, key, encoding, layout))
                off += 4096 + 4 * rng.randrange(64)
    return bytes(buf), plants


def schedules(findings):
    return sorted((f for f in findings if f.encoding in (ENC, DEC)), key=lambda f: f.offset)


@pytest.mark.parametrize("aligned", [True, False])
def test_planted_schedules_found_exactly(aligned):
    rng = random.Random(1 if aligned else 2)
    data, plants = planted_image(rng, 1 << 20, aligned)
    det = AesDetector(every_byte_offset=not aligned)
    found = schedules(det.scan_block(Bytes(data), 0, data))
    assert [(f.offset, f.encoding) for f in found] == [(at, enc) for at, _k, enc, _l in plants]
    for f, (_at, key, _enc, layout) in zip(found, plants, strict=True):
        assert f.kind == "aes-key" and f.key_id == symmetric_key_id(key)
        assert f.length == {16: 176, 24: 208, 32: 240}[len(key)]
        assert f.details == {"bits": 8 * len(key), "layout": layout}
        assert f.confidence == Confidence.CONFIRMED
        text = repr(f.to_json())
        assert key.hex() not in text and key.hex().upper() not in text
    if not aligned:
        # every byte offset is the default (packed formats such as HPROF put schedules anywhere); the
        # aligned-only mode is still there and misses them
        aligned_only = schedules(AesDetector(every_byte_offset=False).scan_block(Bytes(data), 0, data))
        assert [f.offset for f in aligned_only] == [at for at, *_ in plants if at % 4 == 0]


def test_random_and_zero_data_give_nothing():
    rng = random.Random(3)
    data = rng.randbytes(4 << 20) + bytes(1 << 20) + b"\xff" * 65536 + bytes(range(256)) * 1024
    assert list(AesDetector().scan_block(Bytes(data), 0, data)) == []
    assert list(AesDetector(every_byte_offset=True).scan_block(Bytes(data), 0, data)) == []
    assert list(AesDetector(max_bit_errors=2).scan_block(Bytes(data), 0, data)) == []


def test_tolerance_is_bounded():
    with pytest.raises(ValueError):
        AesDetector(max_bit_errors=7)


def test_degenerate_keys_are_skipped():
    """An all-zero key (or one repeated byte) has a valid schedule, but is a placeholder, not evidence."""
    rng = random.Random(4)
    buf = bytearray(rng.randbytes(65536))
    plant(buf, 1024, ref_expand(bytes(16)))
    plant(buf, 4096, ref_expand(b"\x41" * 32))
    plant(buf, 8192, ref_decrypt_schedule(bytes(24)))
    data = bytes(buf)
    assert list(AesDetector().scan_block(Bytes(data), 0, data)) == []


def test_flipped_bits_are_tolerated_only_when_asked():
    rng = random.Random(5)
    buf = bytearray(rng.randbytes(1 << 18))
    plants = []
    for i, (size, enc, flips) in enumerate(
        [(16, ENC, 1), (32, ENC, 2), (16, DEC, 2), (24, ENC, 1), (32, DEC, 1)]
    ):
        key = rng.randbytes(size)
        sched = bytearray(ref_expand(key) if enc == ENC else ref_decrypt_schedule(key))
        # one flip inside the first Nk words (the key itself, for an encryption schedule), the others anywhere
        positions = [rng.randrange(8 * size)] + [rng.randrange(8 * len(sched)) for _ in range(flips - 1)]
        for bit in positions:
            sched[bit // 8] ^= 1 << (bit % 8)
        at = 8192 * (i + 1)
        plant(buf, at, bytes(sched))
        plants.append((at, key, enc))
    data = bytes(buf)
    assert schedules(AesDetector().scan_block(Bytes(data), 0, data)) == []
    found = schedules(AesDetector(max_bit_errors=2).scan_block(Bytes(data), 0, data))
    assert [(f.offset, f.encoding, f.key_id) for f in found] == [
        (a, e, symmetric_key_id(k)) for a, k, e in plants
    ]
    assert all(f.confidence == Confidence.HIGH and 1 <= f.details["bit_errors"] <= 2 for f in found)


# -- through the engine: chunk boundaries, raw copies, end of file -----------------------------------
def test_chunk_boundaries_raw_copies_and_eof(tmp_path):
    rng = random.Random(6)
    chunk = 65536
    buf = bytearray(rng.randbytes(4 * chunk + 1000))
    k256, k128, k192 = rng.randbytes(32), rng.randbytes(16), rng.randbytes(24)
    plant(buf, chunk - 100, ref_expand(k256))  # straddles the first boundary
    plant(buf, 2 * chunk - 4, ref_decrypt_schedule(k128))  # starts 4 bytes before the second
    plant(buf, 3 * chunk, u32_layout(ref_expand(k192)))  # starts exactly on the third
    raw_at = [5000, 4 * chunk - 10]  # raw copies of the AES-256 key, one straddling a boundary
    for at in raw_at:
        plant(buf, at, k256)
    plant(buf, 70000, k128)
    k_tail = rng.randbytes(16)
    tail = ref_expand(k_tail)
    data = bytes(buf) + tail  # a schedule that ends exactly at the end of the file
    path = tmp_path / "image.bin"
    path.write_bytes(data)
    with open_dump(path) as dump:
        result = scan_dump(dump, detectors=[AesDetector()], chunk_size=chunk)
    assert not result.warnings
    got = [(f.offset, f.encoding, f.key_id) for f in result.findings]
    want = sorted(
        [
            (chunk - 100, ENC, symmetric_key_id(k256)),
            (2 * chunk - 4, DEC, symmetric_key_id(k128)),
            (3 * chunk, ENC, symmetric_key_id(k192)),
            (len(data) - 176, ENC, symmetric_key_id(k_tail)),
            (raw_at[0], RAW, symmetric_key_id(k256)),
            (raw_at[1], RAW, symmetric_key_id(k256)),
            (70000, RAW, symmetric_key_id(k128)),
        ]
    )
    assert sorted(got) == want
    # each produced once (the engine would dedupe a double by finding id; its count would show it)
    assert result.stats.detectors["aes"].findings == len(result.findings)
    for f in result.findings:
        if f.encoding == RAW:
            assert f.confidence == Confidence.CONFIRMED and f.reasons[0].startswith("bytes equal the key of")

    # the same file cut inside the last schedule: no finding there, no error
    cut = tmp_path / "cut.bin"
    cut.write_bytes(data[:-10])
    with open_dump(cut) as dump:
        result = scan_dump(dump, detectors=[AesDetector()], chunk_size=chunk)
    assert not result.warnings
    assert all(st.errors == 0 for st in result.stats.detectors.values())
    assert len(data) - 176 not in {f.offset for f in result.findings}
    assert len(schedules(result.findings)) == 3


# -- a live process ---------------------------------------------------------------------------------
HOLDER = r"""
import ctypes, os, sys
ctypes.CDLL(None).prctl(0x59616D61, ctypes.c_ulong(-1), 0, 0, 0)  # Yama: let gdb attach
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
k256, k128 = bytes.fromhex(sys.argv[1]), bytes.fromhex(sys.argv[2])
gcm = AESGCM(k256)
enc = Cipher(algorithms.AES(k256), modes.CBC(b"\1" * 16)).encryptor()
dec = Cipher(algorithms.AES(k128), modes.CBC(b"\2" * 16)).decryptor()
for i in range(100):
    gcm.encrypt(i.to_bytes(12, "big"), b"secret data" * 10, None)
    enc.update(b"x" * 64)
    dec.update(os.urandom(64))
del k256, k128
print("ready", flush=True)
sys.stdin.read()
"""


@pytest.fixture(scope="module")
def live_core(tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("aes-live")
    k256, k128 = os.urandom(32), os.urandom(16)
    core = dump_holder(HOLDER, [k256.hex(), k128.hex()], work / "aes.core")
    return core, k256, k128


def occurrences(data: bytes, needle: bytes) -> list[int]:
    out, at = [], data.find(needle)
    while at != -1:
        out.append(at)
        at = data.find(needle, at + 1)
    return out


def rederives(stored: bytes, encoding: str, layout: str) -> bytes | None:
    """The key, when the stored bytes are exactly a schedule per the reference implementation."""
    sched = u32_layout(stored) if layout == "u32" else stored
    nk = {176: 4, 208: 6, 240: 8}[len(stored)]
    if encoding == ENC:
        key = sched[: 4 * nk]
        return key if ref_expand(key) == sched else None
    nr = NR[4 * nk]
    last = sched[16 * nr :]  # round 0 of the encryption schedule
    before = sched[16 * (nr - 1) : 16 * nr]  # InvMixColumns of its round 1
    round1 = bytes(b for c in range(4) for b in mix_column(list(before[4 * c : 4 * c + 4]), MC))
    key = (last + round1)[: 4 * nk]
    return key if ref_decrypt_schedule(key) == sched else None


@pytest.mark.slow
def test_live_process_keys_found(live_core):
    """OpenSSL (through cryptography, AES-NI here) keeps the AES-256 encryption schedule for GCM/CBC
    encryption and the AES-128 decryption schedule for CBC decryption, both in FIPS byte order."""
    core, k256, k128 = live_core
    data = core.read_bytes()
    with open_dump(core) as dump:
        result = scan_dump(dump)
    assert not [w for w in result.warnings if "aes" in w]
    aes = [f for f in result.findings if f.kind == "aes-key"]
    expected = {}
    for key in (k256, k128):
        for layout, enc_sched, dec_sched in (
            ("bytes", ref_expand(key), ref_decrypt_schedule(key)),
            ("u32", u32_layout(ref_expand(key)), u32_layout(ref_decrypt_schedule(key))),
        ):
            for at in occurrences(data, enc_sched):
                expected[at] = (ENC, key, layout)
            for at in occurrences(data, dec_sched):
                expected[at] = (DEC, key, layout)
    assert any(e == ENC and k == k256 for e, k, _ in expected.values()), "no AES-256 schedule in the core"
    assert any(e == DEC and k == k128 for e, k, _ in expected.values()), "no AES-128 decryption schedule"
    by_offset = {f.offset: f for f in schedules(aes)}
    for at, (enc, key, layout) in expected.items():
        f = by_offset.get(at)
        assert f is not None, f"{enc} of a {8 * len(key)}-bit key at {at:#x} not found"
        assert (f.encoding, f.key_id, f.details["layout"]) == (enc, symmetric_key_id(key), layout)
        assert f.confidence == Confidence.CONFIRMED and f.vaddr is not None and f.region
    # anything else found is a real key of the process (OpenSSL's DRBG runs AES-256-CTR): it re-derives
    for f in schedules(aes):
        stored = data[f.offset : f.offset + f.length]
        key = rederives(stored, f.encoding, f.details["layout"])
        assert key is not None and symmetric_key_id(key) == f.key_id
    for f in aes:
        if f.encoding == RAW:
            assert symmetric_key_id(data[f.offset : f.offset + f.length]) == f.key_id


# -- the samples and the corpus --------------------------------------------------------------------
def _truth(samples_truth: dict, name: str) -> dict:
    return next(d for d in samples_truth["dumps"] if d["file"] == name)


def test_gcore_sample_unplanted_schedules(samples_dir: Path, samples_truth: dict):
    truth = _truth(samples_truth, "gcore-python-rsa-ec.core")
    path = samples_dir / truth["file"]
    data = path.read_bytes()
    with open_dump(path) as dump:
        result = scan_dump(dump, detectors=[AesDetector()])
    want = {
        (u["offset"], symmetric_key_id(bytes.fromhex(u["key_hex"])))
        for u in truth["unplanted_secrets"]
        if u["kind"].startswith("aes-") and u["kind"].endswith("-key-schedule")
    }
    assert len(want) == 6
    found = schedules(result.findings)
    assert {(f.offset, f.key_id) for f in found} == want
    assert all(f.encoding == ENC and f.length == 240 and f.confidence == Confidence.CONFIRMED for f in found)
    raws = [f for f in result.findings if f.encoding == RAW]
    assert raws, "the raw keys behind the schedules are in the dump too"
    for f in raws:
        assert symmetric_key_id(data[f.offset : f.offset + f.length]) == f.key_id
        assert f.key_id in {k for _o, k in want}


@pytest.mark.slow
def test_wine_sample_aes_key(samples_dir: Path, samples_truth: dict):
    """The CNG AES-256 key of the wine sample: the truth records its raw bytes (twice) and no schedule
    in any layout (wine's bcrypt expands the key only when it is first used, and it never was); aeskeyfind
    finds none either. A raw key without its schedule is not recognisable from its bytes, so the schedule
    detector rightly reports nothing here."""
    truth = _truth(samples_truth, "wine-keyholder-full.dmp")
    secret = next(s for s in truth["secrets"] if s["name"] == "bcrypt-aes-256")
    reps = secret["representations"]
    assert not any(r["found"] for name, r in reps.items() if name.startswith("schedule-"))
    path = samples_dir / truth["file"]
    key = bytes.fromhex(secret["public"]["key_hex"])
    data = path.read_bytes()
    assert occurrences(data, key) == [h["offset"] for h in reps["raw"]["hits"]]
    assert data.find(ref_expand(key)) == data.find(ref_decrypt_schedule(key)) == -1
    with open_dump(path) as dump:
        result = scan_dump(dump, detectors=[AesDetector()])
    assert [f for f in result.findings if f.kind == "aes-key"] == []


@pytest.mark.slow
@pytest.mark.parametrize("path", corpus_files(), ids=[p.name for p in corpus_files()])
def test_corpus_has_no_aes_schedule(path):
    """The public corpus holds no AES schedule, at any byte offset."""
    with open_dump(path) as dump:
        result = scan_dump(dump, detectors=[AesDetector(every_byte_offset=True)], executor="inline")
    assert result.findings == [] and not result.warnings


def test_registered_in_default_detectors():
    assert any(isinstance(d, AesDetector) for d in default_detectors())


@pytest.mark.parametrize("rotated", [False, True])
def test_misaligned_aes192_decryption_schedules_are_found_by_the_deep_scan(tmp_path: Path, rotated: bool):
    """AES-192 decryption schedules 1-3 bytes past a word boundary (a packed format's, OpenSSL's layout or
    the JDK's rotated one): not in the first pass (aes.py says why), found by ``deep=True`` in a pass of
    their own, confirmed, with the key's id, and the scan says it read the file again for them."""
    from viewer.scan.detectors.aes import DEEP_NOTE, layout_bytes

    rng = random.Random(11 if rotated else 12)
    buf = bytearray(rng.randbytes(40 << 20))  # more than one of the deep pass's 32 MiB pieces
    plants = {}
    for i, at in enumerate((4096 * 3 + 1, (32 << 20) - 97, (36 << 20) + 3)):  # the second across a piece edge
        key = rng.randbytes(24)
        plant(buf, at, layout_bytes(key, True, rotated))
        plants[at] = key
        assert at % 4, i
    path = tmp_path / "packed.bin"
    path.write_bytes(bytes(buf))
    with open_dump(path) as dump:
        quick = scan_dump(dump)
        deep = scan_dump(dump, deep=True)
    assert not [f for f in quick.findings if f.kind == "aes-key"]
    got = {f.offset: f for f in deep.findings if f.kind == "aes-key" and f.encoding == DEC}
    assert sorted(got) == sorted(plants)
    for at, key in plants.items():
        f = got[at]
        assert f.key_id == symmetric_key_id(key) and f.confidence == Confidence.CONFIRMED
        assert f.details["bits"] == 192 and (f.details.get("rotated") == "jdk") == rotated
    assert any(n.endswith(DEEP_NOTE) for n in deep.stats.notes)
    assert not any(n.endswith(DEEP_NOTE) for n in quick.stats.notes)
