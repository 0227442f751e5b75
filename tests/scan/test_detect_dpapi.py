"""DPAPI blobs and PKCS#12 containers (viewer.scan.detectors.dpapi), on real files, no mocks.

A DPAPI blob is built with the module's construct declaration and cross-checked, byte for byte, against
a layout packed by hand with struct; PKCS#12 files are produced by ``cryptography`` itself.
"""

from __future__ import annotations

import json
import os
import struct
import uuid
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from tests.builders.scan import assert_patterns_compile
from tests.builders.scan import run_detectors as _run_detectors
from tests.conftest import corpus_files
from viewer.scan import keys
from viewer.scan.detectors.dpapi import DETECTORS, DPAPI_BLOB, DPAPI_MAGIC
from viewer.scan.finding import Confidence, Finding

MASTERKEY = uuid.UUID("3f2504e0-4f89-11d3-9a0c-0305e82c3301")
DESCRIPTION = "Saved credential"


def run_detectors(path: Path, detectors=DETECTORS) -> list[Finding]:
    return _run_detectors(path, detectors)


def blob_fields(data_len: int = 48, description: str = DESCRIPTION) -> dict:
    desc = (description + "\0").encode("utf-16-le")
    salt, hmac_key, sign = os.urandom(32), b"", os.urandom(64)
    return dict(
        dwVersion=1,
        guidProvider=DPAPI_MAGIC[4:],
        dwMasterKeyVersion=1,
        guidMasterKey=MASTERKEY.bytes_le,
        dwFlags=0,
        dwDescriptionLen=len(desc),
        szDescription=desc,
        algCrypt=0x6610,
        dwAlgCryptLen=256,
        dwSaltLen=len(salt),
        pbSalt=salt,
        dwHmacKeyLen=len(hmac_key),
        pbHmacKey=hmac_key,
        algHash=0x800E,
        dwAlgHashLen=512,
        dwHmac2KeyLen=32,
        pbHmac2Key=os.urandom(32),
        dwDataLen=data_len,
        pbData=os.urandom(data_len),
        dwSignLen=len(sign),
        pbSign=sign,
    )


def handcrafted(f: dict) -> bytes:
    """The same blob packed by hand, field by field as in KULL_M_DPAPI_BLOB."""
    provider = uuid.UUID("df9d8cd0-1501-11d1-8c7a-00c04fc297eb").bytes_le
    out = struct.pack(
        "<I16sI16sII",
        1,
        provider,
        f["dwMasterKeyVersion"],
        MASTERKEY.bytes_le,
        f["dwFlags"],
        len(f["szDescription"]),
    )
    out += f["szDescription"]
    out += struct.pack("<III", f["algCrypt"], f["dwAlgCryptLen"], len(f["pbSalt"])) + f["pbSalt"]
    out += struct.pack("<I", len(f["pbHmacKey"])) + f["pbHmacKey"]
    out += struct.pack("<III", f["algHash"], f["dwAlgHashLen"], len(f["pbHmac2Key"])) + f["pbHmac2Key"]
    out += struct.pack("<I", len(f["pbData"])) + f["pbData"]
    out += struct.pack("<I", len(f["pbSign"])) + f["pbSign"]
    return out


def test_provider_guid_bytes():
    assert DPAPI_MAGIC == bytes.fromhex("01000000d08c9ddf0115d1118c7a00c04fc297eb")


def test_construct_declaration_matches_handcrafted_layout():
    f = blob_fields()
    built = DPAPI_BLOB.build(f)
    assert built == handcrafted(f)
    parsed = DPAPI_BLOB.parse(handcrafted(f))
    assert parsed.algCrypt == 0x6610 and parsed.dwDataLen == 48 and bytes(parsed.pbSign) == f["pbSign"]


@pytest.fixture()
def dpapi_file(tmp_path: Path):
    small, large = blob_fields(), blob_fields(data_len=200_000, description="")
    b1, b2 = DPAPI_BLOB.build(small), DPAPI_BLOB.build(large)
    prefix = os.urandom(5000)
    mid = os.urandom(777)
    path = tmp_path / "dpapi.bin"
    path.write_bytes(prefix + b1 + mid + b2 + os.urandom(100))
    return path, [(len(prefix), len(b1), small), (len(prefix) + len(b1) + len(mid), len(b2), large)]


def test_dpapi_blobs_found(dpapi_file):
    path, expected = dpapi_file
    found = run_detectors(path)
    assert [(f.offset, f.length) for f in found] == [(o, n) for o, n, _ in expected]
    for f, (_, _, fields) in zip(found, expected, strict=True):
        assert (f.kind, f.encoding, f.confidence, f.secret) == (
            "dpapi-blob",
            "dpapi",
            Confidence.MEDIUM,
            True,
        )
        assert f.details["masterkey_guid"] == str(MASTERKEY)
        assert f.details["algCrypt"] == "AES-256" and f.details["algHash"] == "SHA-512"
        assert "master key is needed" in " ".join(f.reasons)
        text = json.dumps(f.to_json())
        for secret_part in ("pbData", "pbSalt", "pbSign"):
            assert fields[secret_part][:16].hex() not in text
    assert found[0].details["description"] == DESCRIPTION
    assert found[1].details["description"] == "" and found[1].details["data_length"] == 200_000


def test_dpapi_damaged_blobs_rejected(tmp_path: Path):
    f = blob_fields()
    good = DPAPI_BLOB.build(f)
    bad_alg = DPAPI_BLOB.build(dict(f, algCrypt=0x1234))
    truncated = good[:-10]
    huge_len = bytearray(good)
    huge_len[44:48] = struct.pack("<I", 0x7FFFFFFF)  # dwDescriptionLen
    odd_desc = DPAPI_BLOB.build(dict(f, dwDescriptionLen=3, szDescription=b"abc"))
    path = tmp_path / "bad.bin"
    path.write_bytes(
        b"\0" * 64 + bad_alg + b"\0" * 64 + bytes(huge_len) + b"\0" * 64 + odd_desc + b"\0" * 64 + truncated
    )
    assert run_detectors(path) == []


def _cert(key, name: str) -> x509.Certificate:
    import datetime

    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )


def test_pkcs12_encrypted_is_medium_context(tmp_path: Path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pfx = pkcs12.serialize_key_and_certificates(
        b"evidence", key, _cert(key, "evidence"), None, serialization.BestAvailableEncryption(b"s3cret-pass")
    )
    path = tmp_path / "pfx.bin"
    path.write_bytes(os.urandom(3000) + pfx + os.urandom(300))
    (f,) = run_detectors(path)
    assert (f.offset, f.length) == (3000, len(pfx))
    assert (f.kind, f.encoding, f.confidence, f.secret) == ("pkcs12", "der-pkcs12", Confidence.MEDIUM, True)
    assert f.details["password"] == "needed" and f.key_id is None


def test_pkcs12_unprotected_is_high_with_key_id(tmp_path: Path):
    key = ec.generate_private_key(ec.SECP256R1())
    pfx = pkcs12.serialize_key_and_certificates(
        b"open", key, _cert(key, "open"), None, serialization.NoEncryption()
    )
    path = tmp_path / "pfx-open.bin"
    path.write_bytes(b"\xff" * 100 + pfx)
    (f,) = run_detectors(path)
    assert (f.offset, f.length, f.confidence) == (100, len(pfx), Confidence.HIGH)
    assert f.key_id == keys.key_id(key.public_key()) and f.details["curve"] == "P-256"
    assert f.details["password"] in ("none", "empty") and f.details["certificates"] == 1


def test_pkcs12_truncated_rejected(tmp_path: Path):
    key = ec.generate_private_key(ec.SECP256R1())
    pfx = pkcs12.serialize_key_and_certificates(
        b"x", key, None, None, serialization.BestAvailableEncryption(b"pw")
    )
    path = tmp_path / "pfx-cut.bin"
    path.write_bytes(b"\0" * 10 + pfx[: len(pfx) // 2])
    assert run_detectors(path) == []


def test_patterns_compile_for_hyperscan_and_re():
    assert_patterns_compile(DETECTORS)


@pytest.mark.slow
@pytest.mark.parametrize("dump", corpus_files(), ids=lambda p: p.name)
def test_corpus_has_no_containers(dump: Path):
    """Controls: the corpus dumps (test programs' crashes) hold no DPAPI blob or PKCS#12 file."""
    assert [(f.kind, f.offset) for f in run_detectors(dump)] == []


@pytest.mark.parametrize("engine", ["re", "hyperscan"])
def test_through_engine(dpapi_file, tmp_path: Path, engine: str):
    """The scan engine finds the same blobs and PFX as the direct run."""
    if engine == "hyperscan":
        __import__("hyperscan")
    scan = __import__("viewer.scan.engine", fromlist=["scan_dump"])
    from viewer.evidence import open_dump

    path, _ = dpapi_file
    key = ec.generate_private_key(ec.SECP384R1())
    pfx = pkcs12.serialize_key_and_certificates(
        b"e", key, None, None, serialization.BestAvailableEncryption(b"pw")
    )
    both = tmp_path / "both.bin"
    both.write_bytes(path.read_bytes() + b"\0" * 1000 + pfx)
    direct = {(f.kind, f.offset, f.length) for f in run_detectors(both)}
    with open_dump(both) as dump:
        result = scan.scan_dump(dump, list(DETECTORS), engine=engine)
    assert {(f.kind, f.offset, f.length) for f in result.findings} == direct
    assert {k for k, _, _ in direct} == {"dpapi-blob", "pkcs12"}
