"""Keys in the layouts other runtimes keep them (Go, the JVM, OpenSSL-based Node.js and nginx), on
synthetic images: Ed25519 seed‖public key and bare seeds, HMAC ipad/opad pairs with the raw key, and
controls (random data, runs of the pad bytes, pad blocks without their partner). The live processes are in
test_scan_live_runtimes.py."""

from __future__ import annotations

import hashlib
import hmac
import os
import random
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.builders.scan import assert_patterns_compile
from viewer.evidence import open_dump
from viewer.scan.detectors import default_detectors, select_detectors
from viewer.scan.detectors.hmacpads import HmacPadDetector
from viewer.scan.engine import scan_dump
from viewer.scan.finding import Confidence
from viewer.scan.keys import key_id, symmetric_key_id


def heap_like(rng: random.Random, size: int) -> bytearray:
    """Bytes that look like a heap: pointers, lengths, zeros, a little text."""
    out = bytearray()
    while len(out) < size:
        r = rng.random()
        if r < 0.4:
            out += struct.pack("<Q", 0x7F0000000000 + rng.randrange(1 << 32) * 8)
        elif r < 0.7:
            out += struct.pack("<Q", rng.randrange(4096))
        elif r < 0.9:
            out += bytes(8)
        else:
            out += rng.choice([b"hostname", b"/usr/lib", b"GET / HT", b"content-"])
    return out[:size]


def seed_public(seed: bytes) -> bytes:
    pub = ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    return seed + pub


def ed_key_id(seed: bytes):
    return key_id(ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key())


def test_ed25519_seed_public_pair_and_seed_copies(tmp_path: Path):
    rng = random.Random(25519)
    img = heap_like(rng, 4 << 20)
    seed = os.urandom(32)
    img[0x10008 : 0x10048] = seed_public(seed)  # 8-byte aligned, among pointers
    img[0x200000 : 0x200020] = seed  # a bare copy
    other = os.urandom(32)
    img[0x300010 : 0x300030] = other  # a random 32 bytes that is no key's seed
    img[0x380000 : 0x380000 + (1 << 16)] = os.urandom(1 << 16)  # random data
    path = tmp_path / "ed.raw"
    path.write_bytes(bytes(img))
    res = scan_dump(open_dump(path), select_detectors(["ed25519"]))
    got = {(f.offset, f.encoding) for f in res.findings}
    assert got == {(0x10008, "ed25519-seed-public"), (0x200000, "ed25519-seed")}
    assert {f.key_id for f in res.findings} == {ed_key_id(seed)}
    assert all(f.confidence == Confidence.CONFIRMED for f in res.findings)
    assert len(res.secrets) == 1


def test_ed25519_found_from_a_supplied_public_key_through_a_pointer(tmp_path: Path):
    """OpenSSL's ECX_KEY: the public key inline, a pointer to the private key elsewhere. A raw image has
    no address map: pointers are followed in an ELF core (the live tests); here the key lies right before
    its public key in a long random run, which the first pass skips."""
    rng = random.Random(7)
    img = heap_like(rng, 1 << 20)
    seed = os.urandom(32)
    img[0x40000 : 0x40400] = os.urandom(0x400)
    img[0x40200 : 0x40240] = seed_public(seed)  # inside random bytes: not an island
    path = tmp_path / "ed2.raw"
    path.write_bytes(bytes(img))
    assert not scan_dump(open_dump(path), select_detectors(["ed25519"])).findings
    from viewer.scan.publickeys import load_public_keys

    pub_pem = tmp_path / "pub.pem"
    pub_pem.write_bytes(ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    res = scan_dump(open_dump(path), select_detectors(["ed25519"]), public_keys=load_public_keys([pub_pem]))
    assert [(f.offset, f.encoding) for f in res.findings] == [(0x40200, "ed25519-seed-public")]
    assert res.findings[0].matches and res.public_keys[0]["found"]


def pads(key: bytes, block: int) -> tuple[bytes, bytes]:
    k = key.ljust(block, b"\0")
    return bytes(b ^ 0x36 for b in k), bytes(b ^ 0x5C for b in k)


def test_hmac_pad_pairs_and_raw_key(tmp_path: Path):
    rng = random.Random(2104)
    img = heap_like(rng, 2 << 20)
    k256, k512 = os.urandom(32), os.urandom(48)
    i256, o256 = pads(k256, 64)
    img[0x8000 : 0x8040] = i256
    img[0x8050 : 0x8090] = o256  # Java: the next array, after its 16-byte header
    i512, o512 = pads(k512, 128)
    img[0x20000 : 0x20080] = o512  # opad first (Go allocates opad, then ipad)
    img[0x20080 : 0x20100] = i512
    img[0x100000 : 0x100020] = k256  # the raw key
    # controls: a run of '6' after random bytes without a partner; an opad run without an ipad
    img[0x140000 : 0x140040] = os.urandom(20) + b"6" * 44
    img[0x150000 : 0x150040] = bytes(b ^ 0x5C for b in os.urandom(20).ljust(64, b"\0"))
    path = tmp_path / "hmac.raw"
    path.write_bytes(bytes(img))
    res = scan_dump(open_dump(path), select_detectors(["hmacpads"]))
    got = {(f.offset, f.length, f.encoding, f.key_id) for f in res.findings}
    assert got == {
        (0x8000, 64, "hmac-ipad", symmetric_key_id(k256)),
        (0x8050, 64, "hmac-opad", symmetric_key_id(k256)),
        (0x100000, 32, "raw", symmetric_key_id(k256)),
        (0x20080, 128, "hmac-ipad", symmetric_key_id(k512)),
        (0x20000, 128, "hmac-opad", symmetric_key_id(k512)),
    }
    assert all(f.confidence == Confidence.CONFIRMED for f in res.findings)
    assert len(res.secrets) == 2
    # the key id is the one the JWT-driven detector gives a verified secret: one secret either way
    assert symmetric_key_id(k256) == symmetric_key_id(bytes(b ^ 0x36 for b in i256[:32]))
    assert hmac.new(k256, b"x", hashlib.sha256).digest()  # a usable key


def test_patterns_compile():
    assert_patterns_compile([HmacPadDetector()])


def test_controls_stay_clean(tmp_path: Path):
    """Random data, heap-like data, runs of both pad bytes: nothing from the new detectors."""
    rng = random.Random(1)
    img = heap_like(rng, 2 << 20) + os.urandom(2 << 20) + (b"6" * 1000 + b"\\" * 1000) * 16
    path = tmp_path / "control.raw"
    path.write_bytes(bytes(img))
    res = scan_dump(open_dump(path), select_detectors(["ed25519", "hmacpads"]))
    assert res.findings == []


def test_new_detectors_are_default():
    names = {d.name for d in default_detectors()}
    assert {"ed25519", "hmacpads"} <= names


def jint(value: int) -> bytes:
    """A Java BigInteger's int[] magnitude as the JVM keeps it: big-endian word order, little-endian words."""
    be = value.to_bytes(-(-value.bit_length() // 32) * 4, "big")
    return b"".join(be[i : i + 4][::-1] for i in range(0, len(be), 4))


def java_int_array(value: int) -> bytes:
    """The whole int[]: mark word, compressed class pointer, length, the magnitude."""
    mag = jint(value)
    return struct.pack("<QII", 1, 0x6C38, len(mag) // 4) + mag


def bignum_scan(tmp_path: Path, img: bytearray, key):
    """The big-number search over ``img`` (written as a raw file) with ``key``'s public half supplied."""
    from viewer.scan.publickeys import load_public_keys

    path = tmp_path / "jvm.raw"
    path.write_bytes(bytes(img))
    pub = tmp_path / "pub.pem"
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    return scan_dump(open_dump(path), select_detectors(["bignum"]), public_keys=load_public_keys([pub]))


def test_java_biginteger_int_arrays_around_a_supplied_modulus(tmp_path: Path):
    """Only the JVM's int[] copies of n and p are in the image: the factor is found next to the modulus
    and every int[] copy of each private number is reported under the key's id."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    nums = key.private_numbers()
    rng = random.Random(17)
    img = heap_like(rng, 2 << 20)
    at_n, at_p, at_d = 0x40010, 0x40400, 0x180008
    for at, value in ((at_n, nums.public_numbers.n), (at_p, nums.p), (at_d, nums.d)):
        arr = java_int_array(value)
        img[at - 16 : at - 16 + len(arr)] = arr
    res = bignum_scan(tmp_path, img, key)
    got = {(f.offset, f.details["component"], f.details["layout"]) for f in res.findings}
    assert got == {(at_p, "p", "jint"), (at_d, "d", "jint")}
    assert {f.key_id for f in res.findings} == {key_id(key.public_key())}
    assert res.public_keys[0]["found"]


@pytest.mark.parametrize("same_header", [True, False])
def test_a_java_factor_far_from_the_modulus_is_found_by_its_int_array_header(tmp_path: Path, same_header: bool):
    """The factor's int[] lies megabytes from every copy of the modulus (a JVM heap after a GC moved it):
    no window reaches it, but its array header (class word, length) is that of the modulus's own int[]
    with the factor's length, and the search for such headers finds it. An int[] with another class word
    is not an int[] of this JVM: it is not found."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    nums = key.private_numbers()
    rng = random.Random(23)
    img = heap_like(rng, 6 << 20)
    at_n, at_p = 0x40010, 0x500010
    img[at_n - 16 : at_n - 16 + 272] = java_int_array(nums.public_numbers.n)
    far = java_int_array(nums.p)
    if not same_header:
        far = far[:8] + struct.pack("<I", 0x7A10) + far[12:]
    img[at_p - 16 : at_p - 16 + len(far)] = far
    res = bignum_scan(tmp_path, img, key)
    got = {(f.offset, f.details["component"], f.details["layout"], f.confidence) for f in res.findings}
    if same_header:
        assert got == {(at_p, "p", "jint", Confidence.CONFIRMED)}
        assert any("in a Java int[] with the header of the modulus" in r for f in res.findings for r in f.reasons)
    else:
        assert got == set()
    assert any("Java int[] headers of 1 moduli searched" in n for n in res.stats.notes)


def test_jdk_ec_scalar_layouts_and_a_bare_sec1(tmp_path: Path):
    """The JDK's forms of an EC scalar: an IntegerPolynomial long[] of 26-bit limbs, the little-endian
    byte[] (arrayS), and its PKCS#8's inner SEC1 without public key (``medium`` alone): proved against the
    supplied public key, the SEC1 finding confirmed in place, every copy under the key's id."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from viewer.scan.detectors.ecbignum import jdk_limbs
    from viewer.scan.publickeys import load_public_keys

    key = ec.generate_private_key(ec.SECP256R1())
    d = key.private_numbers().private_value
    rng = random.Random(256)
    img = heap_like(rng, 1 << 20)
    limbs = jdk_limbs(d, "P-256")
    img[0x10000 : 0x10010 + len(limbs)] = struct.pack("<QII", 1, 0x6E30, 10) + limbs
    img[0x20000 : 0x20030] = struct.pack("<QII", 1, 0x6848, 32) + d.to_bytes(32, "little")
    sec1 = bytes.fromhex("302502010104 20".replace(" ", "")) + d.to_bytes(32, "big")
    img[0x30008 : 0x30008 + len(sec1)] = sec1
    path = tmp_path / "jdk-ec.raw"
    path.write_bytes(bytes(img))
    alone = scan_dump(open_dump(path), select_detectors(["der"]))
    assert [(f.offset, f.confidence, f.key_id) for f in alone.findings] == [(0x30008, Confidence.MEDIUM, None)]
    pub = tmp_path / "ec.pem"
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    res = scan_dump(open_dump(path), select_detectors(["der", "ecbignum"]), public_keys=load_public_keys([pub]))
    got = {(f.offset, f.encoding, f.details.get("layout")) for f in res.findings}
    lead = 32 - len(d.to_bytes(32, "big").lstrip(b"\0"))  # a copy is the number's minimal form (1 key in 256)
    assert got == {(0x10010, "raw-bignum", "jdk-limbs"), (0x20010, "raw-bignum", "le64"),
                   (0x30008, "der-sec1", None), (0x3000f + lead, "raw-bignum", "be")}
    assert {f.key_id for f in res.findings} == {key_id(key.public_key())}
    assert all(f.confidence == Confidence.CONFIRMED for f in res.findings)


def test_jdk_rotated_decryption_schedule_at_every_byte_offset(tmp_path: Path):
    """The JDK's decryption schedule (the key's round first, then the reversed rounds), as the JVM keeps
    it (int[]: little-endian words) at an aligned offset and as HPROF writes it (big-endian ints) at odd
    offsets of a packed record; OpenSSL's ordinary schedules at offsets 1-3 too."""
    from viewer.scan.detectors.aes import DEC, ENC, layout_bytes
    from viewer.scan.keymaterial import swap32

    rng = random.Random(128)
    img = heap_like(rng, 1 << 20)
    k1, k2, k3 = os.urandom(16), os.urandom(32), os.urandom(24)
    plants = [
        (0x10010, swap32(layout_bytes(k2, True, True)), k2, DEC),  # JVM int[]
        (0x20003, layout_bytes(k2, True, True), k2, DEC),  # HPROF: big-endian ints, packed
        (0x30001, layout_bytes(k1, False), k1, ENC),
        (0x40000, swap32(layout_bytes(k3, True)), k3, DEC),  # AES-192 decryption: aligned only
        (0x48002, layout_bytes(k3, False), k3, ENC),
        (0x50007, layout_bytes(k1, True, True), k1, DEC),
    ]
    for at, blob, _k, _e in plants:
        img[at : at + len(blob)] = blob
    path = tmp_path / "aes.raw"
    path.write_bytes(bytes(img))
    res = scan_dump(open_dump(path), select_detectors(["aes"]))
    got = sorted((f.offset, f.encoding, f.key_id) for f in res.findings if f.encoding != "raw")
    assert got == sorted((at, enc, symmetric_key_id(k)) for at, _b, k, enc in plants)
    rotated = {f.offset for f in res.findings if f.details.get("rotated") == "jdk"}
    assert rotated == {0x10010, 0x20003, 0x50007}


def test_controls_primes_of_no_key_and_certificates(tmp_path: Path):
    """Probable primes that belong to no key, in every number layout, beside a certificate and copies of
    its modulus (int[], limbs), and PEM header placeholders: no secret from any default detector."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    from viewer.scan.keymaterial import encode

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # its primes belong to no key here
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "control.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    rng = random.Random(99)
    img = heap_like(rng, 2 << 20)
    der = cert.public_bytes(serialization.Encoding.DER)
    img[0x1000 : 0x1000 + len(der)] = der
    n = key.public_key().public_numbers().n
    at = 0x20000
    for layout in ("le", "jint", "be"):
        blob = encode(n, layout)
        img[at : at + len(blob)] = blob
        at += 0x400
        for prime in (other.private_numbers().p, other.private_numbers().q):
            blob = encode(prime, layout)
            img[at : at + len(blob)] = blob
            at += 0x200
    pem = b"-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n"
    img[0x80000 : 0x80000 + len(pem)] = pem
    path = tmp_path / "control.raw"
    path.write_bytes(bytes(img))
    result = scan_dump(open_dump(path))
    assert [(f.kind, f.encoding) for f in result.findings if f.secret and f.confidence > Confidence.LOW] == []
    assert any(f.kind == "certificate" for f in result.findings)


def test_distinct_byte_count_of_windows_is_exact(monkeypatch) -> None:
    """The presence table counts the distinct byte values of every 64-byte window as a set would, in
    more than one batch, for random, patterned and text-like windows."""
    import numpy as np

    from viewer.scan.detectors import ed25519 as det

    rng = random.Random(7)
    data = rng.randbytes(40_000) + bytes(range(64)) * 20 + b"ab" * 3000 + bytes(5000)
    raw = np.frombuffer(data, dtype=np.uint8)
    offs = np.arange(0, len(data) - 64, 3, dtype=np.int64)
    monkeypatch.setattr(det, "DISTINCT_BATCH", 1000)  # several batches
    got = det._distinct_bytes(raw, offs)
    assert got.tolist() == [len(set(data[o : o + 64])) for o in offs.tolist()]
    assert {1, 2, 64} <= set(got.tolist())
