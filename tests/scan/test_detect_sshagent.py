"""ssh-agent's shielded keys: a real agent holding real keys, dumped with gdb's gcore, and unshielded.

What worked here (Debian 12, OpenSSH 9.2p1, gdb, running as root): ``ssh-agent -D -a SOCK`` in the
foreground, ``ssh-add`` with ``SSH_AUTH_SOCK=SOCK``, then ``gdb -batch -nx -p PID -ex "gcore FILE"``.
ssh-agent sets PR_SET_DUMPABLE 0, which keeps other users' debuggers out, but root with
CAP_SYS_PTRACE attaches anyway. Where attaching is refused (not root, Yama ptrace_scope), the real-agent
tests fail with the reason: `make test` runs as root, and a skipped proof is no proof.

Synthetic dumps (raw images: the detector needs no address map) check the bad cases: a fake chunk
header, a pre-key cut off by the end of the file, lying lengths and pointers, and many look-alike structs.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.builders.live import gcore
from viewer.evidence import open_dump
from viewer.scan import keys
from viewer.scan.detectors import default_detectors, sshagent
from viewer.scan.engine import scan_dump
from viewer.scan.finding import Confidence
from viewer.scan.prefilter import hyperscan_available
from viewer.scan.publickeys import load_public_keys

ENGINES = ["re"] + (["hyperscan"] if hyperscan_available() else [])
KEY_KINDS = {"ed25519": "ed25519-private-key", "rsa": "rsa-private-key", "ecdsa": "ec-private-key"}


# -- a real agent --------------------------------------------------------------------------------------


def _keygen(tmp: Path, name: str, *args: str) -> Path:
    path = tmp / name
    subprocess.run(
        ["ssh-keygen", "-q", "-N", "", "-C", f"{name}@example", "-f", str(path), *args],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path


@pytest.fixture(scope="module")
def agent_core(tmp_path_factory) -> dict:
    for tool in ("ssh-agent", "ssh-add", "ssh-keygen", "gdb"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} not installed: `make deps` installs it")
    tmp = tmp_path_factory.mktemp("agent")
    paths = {
        "ed25519": _keygen(tmp, "id_ed25519", "-t", "ed25519"),
        "rsa": _keygen(tmp, "id_rsa", "-t", "rsa", "-b", "2048"),
        "ecdsa": _keygen(tmp, "id_ecdsa", "-t", "ecdsa", "-b", "256"),
    }
    sock = tmp / "agent.sock"
    env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
    agent = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(sock)],
        cwd=tmp,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    core = tmp / "ssh-agent.core"
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():
            if time.monotonic() > deadline or agent.poll() is not None:
                pytest.fail("ssh-agent did not start")
            time.sleep(0.05)
        subprocess.run(
            ["ssh-add", *(str(p) for p in paths.values())],
            env=env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        gcore(agent.pid, core, timeout=120)
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            agent.wait(timeout=10)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait(timeout=10)
    publics = {
        name: serialization.load_ssh_public_key(Path(f"{p}.pub").read_bytes()) for name, p in paths.items()
    }
    privates = {
        name: serialization.load_ssh_private_key(p.read_bytes(), password=None) for name, p in paths.items()
    }
    return {"core": core, "paths": paths, "publics": publics, "privates": privates}


def _secret_texts(private) -> list[str]:
    """Renderings of a private key's secret numbers that must never appear in a report."""
    if isinstance(private, ed25519.Ed25519PrivateKey):
        raw = private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return [raw.hex(), keys.b64url(raw)]
    nums = private.private_numbers()
    secret = nums.d if hasattr(nums, "d") else nums.private_value
    return [format(secret, "x")[:32], str(secret)[:32]]


@pytest.mark.slow
def test_real_agent_keys_unshielded(agent_core):
    with open_dump(agent_core["core"]) as dump:
        assert dump.format == "elf-core"
        result = scan_dump(dump, detectors=default_detectors())
    assert not result.cancelled
    assert not [w for w in result.warnings if "sshagent" in w], result.warnings
    assert result.stats.detectors["sshagent"].errors == 0
    shielded = [f for f in result.findings if f.encoding == sshagent.ENCODING]
    for name, public in agent_core["publics"].items():
        kid = keys.key_id(public)
        found = [f for f in shielded if f.key_id == kid]
        assert len(found) == 1, (name, [(f.kind, f.key_id) for f in shielded])
        f = found[0]
        assert f.kind == KEY_KINDS[name]
        assert f.confidence == Confidence.CONFIRMED
        assert f.secret
        assert f.region is not None and f.vaddr is not None  # attributed to the heap
        assert f.reasons[0].startswith("unshielded with the 16 KiB pre-key at file offset 0x")
        assert "private half matches its public key" in f.reasons
        assert "comment" not in f.details
        prekeys = [
            p
            for p in result.findings
            if p.kind == sshagent.PREKEY_KIND and p.offset == f.details["prekey_offset"]
        ]
        assert len(prekeys) == 1
        assert prekeys[0].confidence == Confidence.CONFIRMED and prekeys[0].secret
        assert prekeys[0].length == sshagent.PREKEY_LEN
        assert prekeys[0].details["unshields_key_id"] == kid
    assert len(shielded) == len(agent_core["publics"])
    report = json.dumps(result.to_json())
    for private in agent_core["privates"].values():
        for text in _secret_texts(private):
            assert text not in report
    for path in agent_core["paths"].values():
        assert f"{path.name}@example" not in report  # the comments stay out


@pytest.mark.slow
def test_real_agent_supplied_public_keys(agent_core):
    supplied = load_public_keys([f"{p}.pub" for p in agent_core["paths"].values()])
    with open_dump(agent_core["core"]) as dump:
        result = scan_dump(dump, detectors=[*sshagent.DETECTORS], public_keys=supplied)
    assert [k["found"] for k in result.public_keys] == [True] * len(supplied)
    for key in supplied:
        hits = [f for f in result.findings if key.label in f.matches]
        assert [f.encoding for f in hits] == [sshagent.ENCODING]
        assert hits[0].confidence == Confidence.CONFIRMED


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["inline", "thread", "process"])
def test_real_agent_every_executor(agent_core, executor):
    with open_dump(agent_core["core"]) as dump:
        result = scan_dump(dump, detectors=sshagent.DETECTORS, executor=executor, workers=2, chunk_size=65536)
    assert sum(f.encoding == sshagent.ENCODING for f in result.findings) == len(agent_core["publics"])


# -- synthetic images ----------------------------------------------------------------------------------

HEAP_VA = 0x5555_5555_0000  # where the synthetic "heap" (the whole raw image) is mapped


def _sshstr(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


def _ed25519_plaintext(seed: bytes) -> tuple[bytes, str]:
    """What sshkey_private_serialize_opt writes for an Ed25519 key, padded; and the key's key_id."""
    private = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    pk = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    body = _sshstr(b"ssh-ed25519") + _sshstr(pk) + _sshstr(seed + pk)
    pad = (-len(body)) % 16
    return body + bytes(range(1, pad + 1)), keys.key_id(private.public_key())


def _fields(shielded_va: int, length: int, prekey_va: int, prekey_len: int = sshagent.PREKEY_LEN) -> bytes:
    return struct.pack("<QQQQ", shielded_va, length, prekey_va, prekey_len)


def _image(size: int = 256 * 1024, seed: int = 7) -> bytearray:
    """Low-entropy filler (small integers), like most of a heap."""
    rng = np.random.default_rng(seed)
    return bytearray(rng.integers(0, 4, size, dtype=np.uint8).tobytes())


def _plant_agent_key(
    buf: bytearray, header_at: int, struct_at: int, blob_at: int, seed: bytes, size_field: int = 0x4011
) -> str:
    """A glibc chunk header + pre-key at ``header_at``, the shielded blob at ``blob_at`` and the struct
    fields at ``struct_at``; returns the key_id."""
    prekey = os.urandom(sshagent.PREKEY_LEN)
    plain, kid = _ed25519_plaintext(seed)
    blob = sshagent.unshield(prekey, plain)  # CTR: encrypting is decrypting
    pre_at = header_at + 8
    buf[header_at:pre_at] = struct.pack("<Q", size_field)
    buf[pre_at : pre_at + len(prekey)] = prekey
    buf[blob_at : blob_at + len(blob)] = blob
    buf[struct_at : struct_at + 32] = _fields(HEAP_VA + blob_at, len(blob), HEAP_VA + pre_at)
    return kid


def _scan(tmp_path: Path, data: bytes | bytearray, engine: str = "auto", name: str = "heap.raw"):
    path = tmp_path / name
    path.write_bytes(bytes(data))
    with open_dump(path) as dump:
        result = scan_dump(dump, detectors=sshagent.DETECTORS, engine=engine, executor="inline")
    assert result.stats.detectors["sshagent"].errors == 0
    assert not [w for w in result.warnings if "sshagent" in w]
    return result


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("size_field", [0x4011, 0x4010])
def test_synthetic_shielded_key(tmp_path, engine, size_field):
    buf = _image()
    seed = os.urandom(32)
    kid = _plant_agent_key(buf, 0x10008, 0x8000, 0x20000, seed, size_field)
    result = _scan(tmp_path, buf, engine)
    keys_found = [f for f in result.findings if f.encoding == sshagent.ENCODING]
    assert [(f.kind, f.offset, f.length, f.key_id, f.confidence) for f in keys_found] == [
        ("ed25519-private-key", 0x20000, 128, kid, Confidence.CONFIRMED)
    ]
    assert keys_found[0].details["prekey_offset"] == 0x10010
    assert keys_found[0].details["struct_offset"] == 0x8000
    prekeys = [f for f in result.findings if f.kind == sshagent.PREKEY_KIND]
    assert [(f.offset, f.length) for f in prekeys] == [(0x10010, sshagent.PREKEY_LEN)]
    assert seed.hex() not in json.dumps(result.to_json())


def test_fake_header_and_truncated_prekey(tmp_path):
    buf = _image()
    # a size field followed by low-entropy bytes: not a pre-key
    buf[0x1000:0x1008] = struct.pack("<Q", 0x4011)
    # a real-looking pre-key with a struct, cut off by the end of the file
    tail = bytearray(os.urandom(1000))
    buf += struct.pack("<Q", 0x4011) + tail
    end_pre = len(buf) - len(tail)
    buf[0x2000:0x2020] = _fields(HEAP_VA + 0x3000, 128, HEAP_VA + end_pre)
    # a header at the very start and one as the last 8 bytes
    buf[0:8] = struct.pack("<Q", 0x4011)
    buf += struct.pack("<Q", 0x4010)
    assert not _scan(tmp_path, buf).findings


TRUTHFUL = (0x20000, 128, 0x10010)  # the planted key's true fields: the control case


@pytest.mark.parametrize(
    "fields",
    [
        TRUTHFUL,
        (0x20000, 0xFFFFFFFF, 0x10010),  # shielded_len 0xffffffff
        (0x20000, 0xFFFFFFFFFFFFFFF0, 0x10010),  # a length that would wrap
        (0x20000, 0xFFF0, 0x10010),  # plausible length running past the end of the file
        (0x20000, 127, 0x10010),  # not a multiple of the block size
        (0x10020, 128, 0x10010),  # ciphertext inside the pre-key
        (-0x10000, 128, 0x10010),  # ciphertext before the start of the file
        (0x20000, 128, 0x10008),  # pre-key pointer off by 8: wrong delta, garbage decryption
        (0x20008, 128, 0x10010),  # misaligned ciphertext pointer
    ],
)
def test_lying_struct_fields(tmp_path, fields):
    buf = _image()
    _plant_agent_key(buf, 0x10008, 0x40000, 0x20000, os.urandom(32))
    buf[0x40000:0x40020] = bytes(32)  # remove the true struct
    shielded, length, prekey = fields
    buf[0x8000:0x8020] = struct.pack(
        "<QQQQ", (HEAP_VA + shielded) % 2**64, length, HEAP_VA + prekey, sshagent.PREKEY_LEN
    )
    result = _scan(tmp_path, buf)
    found = [f for f in result.findings if f.encoding == sshagent.ENCODING]
    assert len(found) == (fields == TRUTHFUL)


def test_many_lookalike_structs_stay_bounded(tmp_path):
    """Windows packed with plausible (pointer, length, pointer, 16384) quadruples around eight pre-keys:
    at most MAX_STRUCTS decryptions per pre-key, nothing found, no error."""
    buf = _image(4 * 1024 * 1024)
    pre_at = 0x200008
    for k in range(8):
        header = pre_at - 8 + k * 0x10000
        buf[header : header + 8] = struct.pack("<Q", 0x4011)
        buf[header + 8 : header + 8 + sshagent.PREKEY_LEN] = os.urandom(sshagent.PREKEY_LEN)
    fake = _fields(HEAP_VA + 0x1000, 4096, HEAP_VA + 0x100000)  # each one costs a real decryption
    buf[0x100000:0x180000] = fake * (0x80000 // 32)
    started = time.perf_counter()
    result = _scan(tmp_path, buf)
    assert time.perf_counter() - started < 30
    assert not result.findings


def test_true_struct_among_many_decoys(tmp_path):
    """More plausible structs than MAX_STRUCTS, all nearer to the pre-key than the true one: the true
    one still comes first (its pre-key pointer is congruent to the pre-key's offset modulo the page)."""
    buf = _image(1024 * 1024)
    kid = _plant_agent_key(buf, 0x80008, 0xC0000, 0x20000, os.urandom(32))  # after the decoys, farther
    decoy = _fields(HEAP_VA + 0x30000, 128, HEAP_VA + 0x80020)  # off by 16: aligned, not congruent
    buf[0x60000:0x70000] = decoy * (0x10000 // 32)
    result = _scan(tmp_path, buf)
    assert [f.key_id for f in result.findings if f.encoding == sshagent.ENCODING] == [kid]


def test_struct_candidates_is_bounded_and_exact():
    window = bytes(8) + _fields(0x5555_0000_1000, 128, 0x5555_0000_2000) + bytes(8)
    assert sshagent.struct_candidates(window, 0) == [(8, 0x5555_0000_1000, 128, 0x5555_0000_2000)]
    assert sshagent.struct_candidates(window, 3) == []  # another phase sees other words
    assert sshagent.struct_candidates(b"", 0) == [] and sshagent.struct_candidates(b"x" * 31, 0) == []
    many = _fields(0x5555_0000_1000, 128, 0x5555_0000_2000) * 1000
    assert len(sshagent.struct_candidates(many, 0)) == 1000
    assert len(sshagent.struct_candidates(many * 5, 0)) == sshagent.MAX_QUADRUPLES
    assert sshagent.struct_candidates(many, -1) == []


def test_examine_rejects_garbage_and_accepts_the_real_thing():
    plain, kid = _ed25519_plaintext(os.urandom(32))
    found = sshagent.examine(plain)
    assert found is not None and found.key_id == kid and found.confidence == Confidence.CONFIRMED
    assert sshagent.examine(plain[:-1] + b"\x99") is None  # padding wrong
    assert sshagent.examine(os.urandom(len(plain))) is None
    assert sshagent.examine(b"") is None
    assert sshagent.examine(_sshstr(b"ssh-ed25519") + struct.pack(">I", 0xFFFFFFFF)) is None
    # a well-formed blob of a type whose fields are not parsed: high, no key_id
    cert = sshagent.examine(_sshstr(b"ssh-ed25519-cert-v01@openssh.com") + os.urandom(60))
    assert cert is not None and cert.confidence == Confidence.HIGH and cert.key_id is None
    assert cert.kind == "ed25519-private-key"
