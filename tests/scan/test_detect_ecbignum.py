"""Live EC private keys held as OpenSSL BIGNUMs: the gcore sample's P-256 scalar at the offsets the
ground truth records, a live process the test dumps, and controls."""

from __future__ import annotations

import struct
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.builders.live import gcore
from viewer.evidence import open_dump
from viewer.scan.detectors import default_detectors
from viewer.scan.engine import scan_dump
from viewer.scan.finding import Confidence
from viewer.scan.keys import key_id
from viewer.scan.publickeys import load_public_keys

HOLDER = r"""
import ctypes, sys
from cryptography.hazmat.primitives.asymmetric import ec
ctypes.CDLL(None).prctl(0x59616D61, ctypes.c_ulong(-1), 0, 0, 0)  # Yama: let gdb attach
key = ec.generate_private_key(ec.SECP384R1())
sig = key.sign(b"message", ec.ECDSA(__import__("cryptography.hazmat.primitives.hashes", fromlist=["SHA384"]).SHA384()))
from cryptography.hazmat.primitives import serialization as s
print(key.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo).decode().replace("\n", "|"), flush=True)
sys.stdin.read()
print(key.private_numbers().private_value)
"""


def only(*names):
    return [d for d in default_detectors() if d.name in names]


def test_sample_scalar_found_at_the_recorded_offsets(samples_dir, samples_truth):
    truth = next(d for d in samples_truth["dumps"] if d["file"] == "gcore-python-rsa-ec.core")
    secret = next(s for s in truth["secrets"] if s["name"] == "ec-p256")
    expected = {(h["offset"], h["length"]) for rep in ("d-le", "d-be") for h in secret["representations"][rep]["hits"]}
    supplied = load_public_keys([samples_dir / "gcore-python-rsa-ec.core.public.pem"])
    with open_dump(samples_dir / "gcore-python-rsa-ec.core") as dump:
        result = scan_dump(dump, detectors=only("pem", "der", "ecbignum"), public_keys=supplied)
    live = [f for f in result.findings if f.encoding == "raw-bignum" and f.kind == "ec-private-key"]
    assert {(f.offset, f.length) for f in live} == expected
    ec_key = next(k for k in supplied if isinstance(k.public_key, ec.EllipticCurvePublicKey))
    assert all(f.confidence == Confidence.CONFIRMED and f.key_id == ec_key.key_id for f in live)
    assert all(ec_key.label in f.matches for f in live)


@pytest.mark.slow
def test_live_process_p384_scalar_is_found(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        public_pem = proc.stdout.readline().strip().replace("|", "\n").encode()
        core = tmp_path / "ec.core"
        gcore(proc.pid, core)
        d = int(proc.communicate("\n", timeout=30)[0].strip())  # the scalar, told only after the dump
    finally:
        proc.kill()
    public = serialization.load_pem_public_key(public_pem)
    pub_file = tmp_path / "pub.pem"
    pub_file.write_bytes(public_pem)
    with open_dump(core) as dump:
        result = scan_dump(dump, public_keys=load_public_keys([pub_file]))
    live = [f for f in result.findings if f.encoding == "raw-bignum" and f.kind == "ec-private-key"]
    assert live, [n for n in result.stats.notes if "ecbignum" in n]
    data = core.read_bytes()
    for f in live:
        blob = data[f.offset : f.offset + f.length]
        value = int.from_bytes(blob, "little" if f.details["layout"] == "le64" else "big")
        assert value == d
        assert f.key_id == key_id(public) and f.confidence == Confidence.CONFIRMED
    assert any(f.details["layout"] == "le64" for f in live)


def test_lying_headers_and_unknown_keys_give_nothing(tmp_path):
    """BIGNUM-shaped headers pointing anywhere (raw image: no address map) and a scalar of another key."""
    other = ec.generate_private_key(ec.SECP256R1())
    blob = bytearray(1 << 16)
    for i in range(0, 4096, 24):
        struct.pack_into("<QiiII", blob, i, 0x7F0000000000 + i, 4, 4, 0, 1)
    blob[8192 : 8192 + 32] = other.private_numbers().private_value.to_bytes(32, "little")
    path = tmp_path / "lies.img"
    path.write_bytes(bytes(blob))
    pub = tmp_path / "pub.pem"
    pub.write_bytes(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    with open_dump(path) as dump:
        result = scan_dump(dump, detectors=only("ecbignum"), public_keys=load_public_keys([pub]))
    assert result.findings == []
    assert not any(st.errors for st in result.stats.detectors.values())
