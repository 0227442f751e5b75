"""What the big-number detectors and redaction share (viewer.scan.keymaterial): number layouts, key
objects from a finding's bytes, locating every copy of byte strings in a real file, AES schedules."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from viewer.evidence import open_dump
from viewer.scan import keys
from viewer.scan.keymaterial import (
    LAYOUTS,
    MAX_HITS,
    decode_digits,
    decrypt_schedule,
    encode,
    expand_key,
    find_all,
    key_objects,
    locate,
)
from viewer.tasks import TaskState


def test_layouts_round_trip():
    value = (1 << 1000) + 12345
    assert encode(value, "be") == value.to_bytes(126, "big")
    assert encode(value, "le") == value.to_bytes(126, "little")
    for layout in ("digits28", "digits60"):
        assert decode_digits(encode(value, layout), layout) == value
    assert decode_digits(b"\xff\xff\xff\xff", "digits28") is None  # bits above the digit
    assert set(LAYOUTS) == {"be", "le", "digits28", "digits60", "jint"}
    # the JVM's BigInteger int[]: big-endian word order, each word little-endian
    assert encode(0x0102030405, "jint") == bytes([1, 0, 0, 0, 5, 4, 3, 2])


def test_key_objects_of_pem_and_der():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = keys.key_id(key.public_key())
    enc, pf, none = serialization.Encoding, serialization.PrivateFormat, serialization.NoEncryption()
    for data, encoding in ((key.private_bytes(enc.PEM, pf.PKCS8, none), "pem-pkcs8"),
                           (key.private_bytes(enc.DER, pf.TraditionalOpenSSL, none), "der-pkcs1")):
        objs = list(key_objects(data, encoding))
        assert any(isinstance(o, rsa.RSAPrivateKey) and keys.key_id(o.public_key()) == kid for o in objs)
    assert list(key_objects(b"not a key at all", "raw")) == []


def test_locate_every_copy_in_a_file(tmp_path: Path):
    needle = bytes(range(40, 100))  # longer than NEEDLE: the tail is compared at each hit
    almost = needle[:-1] + b"\x00"
    path = tmp_path / "copies.bin"
    path.write_bytes(b"\x11" * 1000 + needle + b"\x22" * 5000 + almost + b"\x33" * 77 + needle)
    steps: list[tuple[str, int, int]] = []
    state = TaskState(on_step=lambda *a: steps.append(a))
    with open_dump(path) as dump:
        found = locate(dump, [(needle, "n"), (b"\x22" * 40, "twos")], state, "finding")
        assert [(off, tag) for off, _rep, tag in found if tag == "n"] == [(1000, "n"), (1000 + 60 + 5000 + 60 + 77, "n")]
        assert find_all(dump, [b"absent-absent-absent"]) == [[]]
        cancelled = TaskState()
        cancelled.cancel()
        assert find_all(dump, [needle], cancelled) == [[]]
    assert steps and all(name == "finding" for name, _d, _t in steps)
    assert MAX_HITS >= 1024


def test_aes_schedules_match_fips197():
    key = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
    sched = expand_key(key)
    assert len(sched) == 176 and sched[:16] == key
    assert sched[-16:] == bytes.fromhex("13111d7fe3944a17f307a78b4d2b30c5")  # FIPS-197 A.1 round 10
    # the decryption layout starts with the last round key and decrypts with a real AES
    dec = decrypt_schedule(key)
    assert dec[:16] == sched[-16:] and dec[-16:] == key
    block = Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(b"sixteen byte msg")
    assert Cipher(algorithms.AES(key), modes.ECB()).decryptor().update(block) == b"sixteen byte msg"


def test_swap32_reverses_each_word_and_drops_a_partial_one():
    """The Java int[] layout's word swap (through array.byteswap, which needs 4-byte "I" items)."""
    import array
    import os

    from viewer.scan.keymaterial import swap32

    assert array.array("I").itemsize == 4
    data = os.urandom(131)
    expected = b"".join(data[i : i + 4][::-1] for i in range(0, 128, 4))
    assert swap32(data) == expected and swap32(memoryview(data)) == expected
    assert swap32(b"") == b"" and swap32(b"abc") == b"" and swap32(b"\x01\x02\x03\x04") == b"\x04\x03\x02\x01"
