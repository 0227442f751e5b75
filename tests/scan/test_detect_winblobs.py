"""Windows key blobs (CryptoAPI / CNG) built from real keys, planted in random bytes, found exactly.

The blobs are built with the detector's own construct declarations, and the declarations are checked
against independently hand-packed bytes (struct.pack, following wincrypt.h / bcrypt.h), so the test does
not merely check the declaration against itself.
"""

from __future__ import annotations

import json
import mmap
import random
import re
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from viewer.scan import keys
from viewer.scan.detector import Hit
from viewer.scan.detectors import winblobs as wb
from viewer.scan.finding import Confidence, Finding

DET = wb.WinBlobDetector()


# -- helpers -----------------------------------------------------------------------------------------


class FileView:
    def __init__(self, path: Path) -> None:
        self._f = open(path, "rb")  # noqa: SIM115 - closed in close()
        self.data = mmap.mmap(self._f.fileno(), 0, access=mmap.ACCESS_READ)
        self.size = len(self.data)

    def read(self, offset: int, length: int) -> bytes:
        if offset < 0 or length <= 0 or offset >= self.size:
            return b""
        return bytes(self.data[offset : offset + length])

    def close(self) -> None:
        self.data.close()
        self._f.close()


def scan_file(path: Path, detectors: list) -> list[Finding]:
    """What the engine does, with Python re: every pattern over the whole file, every hit validated."""
    view = FileView(path)
    try:
        found: list[Finding] = []
        for det in detectors:
            for p in det.patterns:
                for m in re.finditer(p.regex, view.data):
                    found.extend(det.validate(view, Hit(p.name, m.start(), m.end())))
        return found
    finally:
        view.close()


def plant(
    tmp_path: Path, blobs: list[bytes], seed: int = 7, gap: int = 5000, tail: int = 3000
) -> tuple[Path, list[int]]:
    rng = random.Random(seed)
    out = bytearray(rng.randbytes(gap))
    offsets = []
    for blob in blobs:
        out += rng.randbytes(rng.randrange(1, 64))
        offsets.append(len(out))
        out += blob
        out += rng.randbytes(gap)
    out += rng.randbytes(tail)
    path = tmp_path / "memory.bin"
    path.write_bytes(bytes(out))
    return path, offsets


def _le(v: int, n: int) -> bytes:
    return v.to_bytes(n, "little")


def _be(v: int, n: int) -> bytes:
    return v.to_bytes(n, "big")


@pytest.fixture(scope="module")
def rsa_keys() -> dict[int, rsa.RSAPrivateKey]:
    return {bits: rsa.generate_private_key(65537, bits) for bits in (1024, 2048)}


def capi_private(key: rsa.RSAPrivateKey, header: bool = True, alg: int = wb.CALG_RSA_KEYX) -> bytes:
    nums = key.private_numbers()
    pub = nums.public_numbers
    rsa_fields = dict(
        magic=b"RSA2",
        bitlen=key.key_size,
        pubexp=pub.e,
        modulus=pub.n,
        prime1=nums.p,
        prime2=nums.q,
        exponent1=nums.dmp1,
        exponent2=nums.dmq1,
        coefficient=nums.iqmp,
        privateExponent=nums.d,
    )
    if not header:
        return wb.CAPI_RSA_PRIVATE.build(rsa_fields)
    hdr = dict(bType=wb.PRIVATEKEYBLOB, bVersion=2, reserved=0, aiKeyAlg=alg)
    return wb.CAPI_PRIVATEKEYBLOB.build(dict(header=hdr, rsa=rsa_fields))


def bcrypt_rsa(key: rsa.RSAPrivateKey, magic: bytes) -> bytes:
    nums = key.private_numbers()
    pub = nums.public_numbers
    cb_mod, cb_p = key.key_size // 8, key.key_size // 16
    full = magic == b"RSA3"
    private = magic != b"RSA1"
    return wb.BCRYPT_RSA.build(
        dict(
            header=dict(
                Magic=magic,
                BitLength=key.key_size,
                cbPublicExp=3,
                cbModulus=cb_mod,
                cbPrime1=cb_p if private else 0,
                cbPrime2=cb_p if private else 0,
            ),
            PublicExponent=pub.e,
            Modulus=pub.n,
            Prime1=nums.p if private else None,
            Prime2=nums.q if private else None,
            Exponent1=nums.dmp1 if full else None,
            Exponent2=nums.dmq1 if full else None,
            Coefficient=nums.iqmp if full else None,
            PrivateExponent=nums.d if full else None,
        )
    )


def bcrypt_ecc(key: ec.EllipticCurvePrivateKey, magic: bytes, private: bool = True) -> bytes:
    size = (key.curve.key_size + 7) // 8
    nums = key.private_numbers()
    return wb.BCRYPT_ECCKEY_BLOB.build(
        dict(
            dwMagic=magic,
            cbKey=size,
            X=_be(nums.public_numbers.x, size),
            Y=_be(nums.public_numbers.y, size),
            d=_be(nums.private_value, size) if private else None,
        )
    )


def key_data_blob(key: bytes) -> bytes:
    return wb.BCRYPT_KEY_DATA_BLOB.build(dict(cbKeyData=len(key), key=key))


def summary(findings: list[Finding]) -> set[tuple]:
    return {(f.kind, f.encoding, f.offset, f.length, f.confidence, f.key_id, f.secret) for f in findings}


# -- the declarations match the documented layouts ---------------------------------------------------


def test_capi_declaration_matches_hand_packed_layout(rsa_keys):
    key = rsa_keys[1024]
    nums = key.private_numbers()
    n, e = nums.public_numbers.n, nums.public_numbers.e
    h = 1024 // 16
    # BLOBHEADER {bType, bVersion, reserved, aiKeyAlg} + RSAPUBKEY {magic, bitlen, pubexp} (wincrypt.h)
    hand = struct.pack("<BBHI4sII", 0x07, 0x02, 0, 0xA400, b"RSA2", 1024, e)
    hand += _le(n, 2 * h) + _le(nums.p, h) + _le(nums.q, h) + _le(nums.dmp1, h) + _le(nums.dmq1, h)
    hand += _le(nums.iqmp, h) + _le(nums.d, 2 * h)
    assert capi_private(key) == hand
    assert len(hand) == 20 + 9 * 1024 // 16
    assert capi_private(key, header=False) == hand[8:]


def test_bcrypt_declarations_match_hand_packed_layout(rsa_keys):
    key = rsa_keys[1024]
    nums = key.private_numbers()
    n = nums.public_numbers.n
    # BCRYPT_RSAKEY_BLOB {Magic, BitLength, cbPublicExp, cbModulus, cbPrime1, cbPrime2} then big-endian
    hand = struct.pack("<IIIIII", 0x33415352, 1024, 3, 128, 64, 64) + b"\x01\x00\x01" + _be(n, 128)
    hand += _be(nums.p, 64) + _be(nums.q, 64) + _be(nums.dmp1, 64) + _be(nums.dmq1, 64) + _be(nums.iqmp, 64)
    hand += _be(nums.d, 128)
    assert bcrypt_rsa(key, b"RSA3") == hand
    assert (
        bcrypt_rsa(key, b"RSA2")
        == struct.pack("<IIIIII", 0x32415352, 1024, 3, 128, 64, 64) + hand[24 : 24 + 3 + 128 + 64 + 64]
    )
    eck = ec.generate_private_key(ec.SECP256R1())
    en = eck.private_numbers()
    hand_ec = struct.pack("<II", 0x32534345, 32) + _be(en.public_numbers.x, 32) + _be(en.public_numbers.y, 32)
    hand_ec += _be(en.private_value, 32)
    assert bcrypt_ecc(eck, b"ECS2") == hand_ec
    assert key_data_blob(b"k" * 16) == struct.pack("<III", 0x4D42444B, 1, 16) + b"k" * 16


# -- found exactly -----------------------------------------------------------------------------------


def test_all_blob_kinds_found_exactly(tmp_path, rsa_keys):
    k1, k2 = rsa_keys[1024], rsa_keys[2048]
    p256 = ec.generate_private_key(ec.SECP256R1())
    p384 = ec.generate_private_key(ec.SECP384R1())
    p521 = ec.generate_private_key(ec.SECP521R1())
    k256 = ec.generate_private_key(ec.SECP256K1())
    aes = random.Random(1).randbytes(32)
    des = random.Random(2).randbytes(8)
    rsa_id = {b: keys.key_id(k.public_key()) for b, k in rsa_keys.items()}
    C, H = Confidence.CONFIRMED, Confidence.HIGH
    plan = [
        (capi_private(k2), ("rsa-private-key", "cryptoapi-privatekeyblob", C, rsa_id[2048], True)),
        (
            capi_private(k1, alg=wb.CALG_RSA_SIGN),
            ("rsa-private-key", "cryptoapi-privatekeyblob", C, rsa_id[1024], True),
        ),
        (capi_private(k1, header=False), ("rsa-private-key", "cryptoapi-rsapubkey", C, rsa_id[1024], True)),
        (
            struct.pack("<BBHI4sII", 6, 2, 0, 0xA400, b"RSA1", 2048, 65537)
            + _le(k2.public_key().public_numbers().n, 256),
            ("rsa-public-key", "cryptoapi-publickeyblob", H, rsa_id[2048], False),
        ),
        (bcrypt_rsa(k2, b"RSA3"), ("rsa-private-key", "bcrypt-rsafullprivate", C, rsa_id[2048], True)),
        (bcrypt_rsa(k1, b"RSA2"), ("rsa-private-key", "bcrypt-rsaprivate", C, rsa_id[1024], True)),
        (bcrypt_rsa(k2, b"RSA1"), ("rsa-public-key", "bcrypt-rsapublic", H, rsa_id[2048], False)),
        (
            bcrypt_ecc(p256, b"ECS2"),
            ("ec-private-key", "bcrypt-eccprivate", C, keys.key_id(p256.public_key()), True),
        ),
        (
            bcrypt_ecc(p384, b"ECK4"),
            ("ec-private-key", "bcrypt-eccprivate", C, keys.key_id(p384.public_key()), True),
        ),
        (
            bcrypt_ecc(p521, b"ECS6"),
            ("ec-private-key", "bcrypt-eccprivate", C, keys.key_id(p521.public_key()), True),
        ),
        (
            bcrypt_ecc(k256, b"ECDV"),
            ("ec-private-key", "bcrypt-eccprivate", C, keys.key_id(k256.public_key()), True),
        ),
        (
            bcrypt_ecc(p256, b"ECS1", private=False),
            ("ec-public-key", "bcrypt-eccpublic", H, keys.key_id(p256.public_key()), False),
        ),
        (key_data_blob(aes), ("aes-key", "bcrypt-key-data-blob", H, keys.symmetric_key_id(aes), True)),
        (key_data_blob(des), ("symmetric-key", "bcrypt-key-data-blob", H, keys.symmetric_key_id(des), True)),
    ]
    path, offsets = plant(tmp_path, [blob for blob, _ in plan])
    expected = {
        (kind, enc, off, len(blob), conf, kid, secret)
        for (blob, (kind, enc, conf, kid, secret)), off in zip(plan, offsets, strict=True)
    }
    found = scan_file(path, [DET])
    assert summary(found) == expected
    # the ECDSA/ECDH distinction and the curve are public facts worth reporting
    by_offset = {f.offset: f for f in found}
    assert by_offset[offsets[8]].details["bcrypt_algorithm"] == "ECDH"
    assert by_offset[offsets[9]].details["curve"] == "P-521"
    assert by_offset[offsets[10]].details["curve"] == "secp256k1"
    assert by_offset[offsets[0]].details["bits"] == 2048

    # Radioactive: no finding carries any private number, in any form.
    nums = k2.private_numbers()
    text = json.dumps([f.to_json() for f in found])
    for secret in (nums.p, nums.q, nums.d, p256.private_numbers().private_value):
        for form in (hex(secret)[2:], str(secret), keys.int_to_b64url(secret)):
            assert form not in text
    assert aes.hex() not in text and keys.b64url(aes) not in text

    engine = __import__("viewer.scan.engine", fromlist=["scan_dump"])
    from viewer.evidence import open_dump

    with open_dump(path) as dump:
        for name in ("re", "hyperscan"):
            if name == "hyperscan" and not _has_hyperscan():
                continue
            result = engine.scan_dump(dump, detectors=[DET], engine=name, executor="inline", chunk_size=8192)
            assert summary(result.findings) == expected, name


def _has_hyperscan() -> bool:
    try:
        import hyperscan  # noqa: F401
    except ImportError:
        return False
    return True


# -- malformed ---------------------------------------------------------------------------------------


def test_wrong_prime_is_not_confirmed(tmp_path, rsa_keys):
    key = rsa_keys[1024]
    blob = bytearray(capi_private(key))
    p_at = 20 + 128
    blob[p_at] ^= 0x02  # p's lowest byte (little-endian): p*q != n
    cng = bytearray(bcrypt_rsa(key, b"RSA3"))
    cng[-1] ^= 0x01  # d's lowest byte (big-endian): e*d != 1 mod lambda(n)
    ecb = bytearray(bcrypt_ecc(ec.generate_private_key(ec.SECP256R1()), b"ECS2"))
    ecb[-1] ^= 0x01  # d*G != (X, Y)
    path, offsets = plant(tmp_path, [bytes(blob), bytes(cng), bytes(ecb)])
    found = sorted(scan_file(path, [DET]), key=lambda f: f.offset)
    assert [f.offset for f in found] == offsets
    assert all(f.confidence == Confidence.LOW for f in found)
    assert any("p*q != n" in r for r in found[0].reasons)
    assert any("e*d != 1" in r for r in found[1].reasons)
    assert any("d*G != (X, Y)" in r for r in found[2].reasons)
    assert found[0].key_id == keys.key_id(key.public_key())  # the public half still names the key


def test_absurd_headers_and_truncation_do_not_crash(tmp_path, rsa_keys):
    key = rsa_keys[2048]
    good = capi_private(key)
    absurd = [
        struct.pack("<BBHI4sII", 7, 2, 0, 0xA400, b"RSA2", 0xFFFFFFFF, 65537) + b"\x01" * 64,
        struct.pack("<BBHI4sII", 7, 2, 0, 0xA400, b"RSA2", 2056, 65537)
        + b"\x01" * 64,  # not a multiple of 16
        struct.pack("<BBHI4sII", 7, 2, 0, 0xA400, b"RSA2", 128, 65537) + b"\x01" * 64,  # < 256 bits
        struct.pack("<IIIIII", 0x33415352, 2048, 0xFFFFFFFF, 256, 128, 128) + b"\x02" * 64,
        struct.pack("<IIIIII", 0x33415352, 2048, 3, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF) + b"\x02" * 64,
        struct.pack("<II", 0x32534345, 0xFFFFFFFF) + b"\x03" * 64,
        struct.pack("<III", 0x4D42444B, 1, 0xFFFFFFFF) + b"\x04" * 64,
        struct.pack("<III", 0x4D42444B, 1, 32) + b"\x00" * 32,  # all-zero "key": at most low
    ]
    path, _ = plant(tmp_path, absurd, gap=300, tail=0)
    data = path.read_bytes() + good[: len(good) // 2]  # a real blob cut by the end of the file
    path.write_bytes(data)
    found = scan_file(path, [DET])
    assert all(f.confidence == Confidence.LOW for f in found)
    assert [f.encoding for f in found] == ["bcrypt-key-data-blob"]
    # every truncation point of every kind of blob: nothing found, nothing raised
    p256 = ec.generate_private_key(ec.SECP256R1())
    for blob in (good, bcrypt_rsa(key, b"RSA3"), bcrypt_ecc(p256, b"ECS2"), key_data_blob(b"x" * 32)):
        for cut in (6, 10, 12, 20, 24, 30, len(blob) - 1):
            path.write_bytes(b"\x00" * 9 + blob[:cut])
            assert [f for f in scan_file(path, [DET]) if f.confidence > Confidence.LOW] == []


@pytest.mark.slow
def test_random_bytes_give_nothing(tmp_path):
    rng = random.Random(99)
    noise = bytearray(rng.randbytes(1 << 20))
    # Sprinkle headers with plausible lengths over the noise, followed by random "numbers": nothing at
    # all is reported, not even low (a failed blob is reported only when part of it fits the modulus).
    headers = [
        struct.pack("<BBHI4sII", 7, 2, 0, 0xA400, b"RSA2", 1024, 65537),
        struct.pack("<4sII", b"RSA2", 2048, 65537),
        struct.pack("<IIIIII", 0x33415352, 1024, 3, 128, 64, 64),
        struct.pack("<IIIIII", 0x32415352, 1024, 3, 128, 64, 64),
        struct.pack("<II", 0x32534345, 32),
        struct.pack("<II", 0x344B4345, 48),
    ]
    for _ in range(300):
        at = rng.randrange(8, len(noise) - 32)
        header = rng.choice(headers)
        noise[at : at + len(header)] = header
    path = tmp_path / "noise.bin"
    path.write_bytes(bytes(noise))
    assert scan_file(path, [DET]) == []
