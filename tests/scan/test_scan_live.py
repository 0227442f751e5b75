"""The scanner on dumps of live processes: keys the test generates, held in memory as PEM, DER and
OpenSSH, dumped with gdb's gcore, found at the exact offsets where the process's bytes landed, with
the right key_id, confirmed, and matched to the public keys supplied for them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from tests.builders.live import dump_holder
from viewer.evidence import open_dump
from viewer.scan.engine import scan_dump
from viewer.scan.finding import Confidence
from viewer.scan.keys import key_id
from viewer.scan.publickeys import load_public_keys

pytestmark = pytest.mark.slow  # gcore of live processes

HOLDER = r"""
import ctypes, sys
ctypes.CDLL(None).prctl(0x59616D61, ctypes.c_ulong(-1), 0, 0, 0)  # Yama: let gdb attach
blobs = [open(p, "rb").read() for p in sys.argv[1:]]
print("ready", flush=True)
sys.stdin.read()
"""

PEM, DER = serialization.Encoding.PEM, serialization.Encoding.DER
PKCS8, TRAD, OPENSSH = (
    serialization.PrivateFormat.PKCS8,
    serialization.PrivateFormat.TraditionalOpenSSL,
    serialization.PrivateFormat.OpenSSH,
)
NOENC = serialization.NoEncryption()


def representations() -> list[tuple[str, object, bytes, str]]:
    """(name, private key, bytes held by the process, expected encoding)."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    return [
        ("rsa-pem-pkcs8", rsa_key, rsa_key.private_bytes(PEM, PKCS8, NOENC), "pem-pkcs8"),
        ("rsa-der-pkcs1", rsa_key, rsa_key.private_bytes(DER, TRAD, NOENC), "der-pkcs1"),
        ("ec-pem-sec1", ec_key, ec_key.private_bytes(PEM, TRAD, NOENC), "pem-sec1"),
        ("ec-der-pkcs8", ec_key, ec_key.private_bytes(DER, PKCS8, NOENC), "der-pkcs8"),
        ("ed25519-openssh", ed_key, ed_key.private_bytes(PEM, OPENSSH, NOENC), "pem-openssh"),
    ]


@pytest.fixture(scope="module")
def live_core(tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("live")
    reps = representations()
    files = []
    for name, _key, blob, _enc in reps:
        path = work / name
        path.write_bytes(blob)
        files.append(str(path))
    core = dump_holder(HOLDER, files, work / "holder.core")
    pub = work / "public.pem"
    pub.write_bytes(
        b"".join(
            k.public_key().public_bytes(PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            for k in {id(r[1]): r[1] for r in reps}.values()
        )
    )
    return core, reps, pub


def test_every_key_held_by_a_live_process_is_found(live_core):
    core, reps, pub = live_core
    supplied = load_public_keys([pub])
    with open_dump(core) as dump:
        assert dump.format == "elf-core"
        result = scan_dump(dump, public_keys=supplied)
        data = core.read_bytes()
    for name, key, blob, encoding in reps:
        expected_id = key_id(key.public_key())
        offsets = []
        start = data.find(blob)
        while start != -1:
            offsets.append(start)
            start = data.find(blob, start + 1)
        assert offsets, f"{name}: the process's bytes are not in the core"
        for off in offsets:
            hits = [f for f in result.findings if f.offset == off and f.length == len(blob)]
            assert hits, f"{name} at {off:#x} not found"
            f = hits[0]
            assert f.encoding == encoding, (name, f.encoding)
            assert f.key_id == expected_id, name
            assert f.confidence == Confidence.CONFIRMED, (name, f.reasons)
            assert f.vaddr is not None and f.region, name
            assert f.matches, f"{name}: not matched to the supplied public key"
    assert all(pk["found"] for pk in result.public_keys), result.public_keys


def test_scan_output_never_contains_key_bytes(live_core, tmp_path):
    core, reps, pub = live_core
    proc = subprocess.run(
        [sys.executable, "-m", "viewer.cli.main", "scan", "--json", "--public-key", str(pub), str(core)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 1, proc.stderr
    text = proc.stdout + proc.stderr
    for _name, key, _blob, _enc in reps:
        if isinstance(key, rsa.RSAPrivateKey):
            nums = key.private_numbers()
            for secret in (nums.d, nums.p, nums.q):
                assert format(secret, "x")[:32] not in text.lower()
        elif isinstance(key, ec.EllipticCurvePrivateKey):
            assert format(key.private_numbers().private_value, "064x")[:32] not in text.lower()
    pem_body = reps[0][2].split(b"\n")[1].decode()
    assert pem_body not in text
    Path(tmp_path / "out.json").write_text(proc.stdout)
