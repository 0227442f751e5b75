"""The findings held fixed while the scan is made faster (issue 13): kind, encoding, offset, length, key id
and confidence of every finding.

* The two real samples and the demo core against ``pinned/findings.json`` — written by the engine before
  the single-pass work (main at c872fa9); a change of any detector that changes these on purpose
  regenerates the file (``python tests/scan/test_findings_pinned.py``) and says why in its commit.
* Dumps of live processes made here (keys generated per run, so they cannot be pinned to a file): the
  findings are the same whichever way the bytes flow — inline, threads, forked workers, small or large
  chunks, hash in the pass or not, one file or many through the CLI's pool — and every key the process
  holds is among them, confirmed.
* The SHA-256 the first pass computes equals hashlib's over the file.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DEMO_CORE, SAMPLE_DUMPS
from viewer.evidence import open_dump
from viewer.scan.engine import scan_dump

PINNED = Path(__file__).with_name("pinned") / "findings.json"
MiB = 1024 * 1024


def signature(result) -> list[list]:
    return sorted([f.kind, f.encoding, f.offset, f.length, f.key_id, str(f.confidence)] for f in result.findings)


def scan(path: Path, **kw):
    with open_dump(path) as dump:
        result = scan_dump(dump, **kw)
        return result, dump.sha256()


def sample_paths(samples_dir: Path) -> list[Path]:
    return [samples_dir / name for name in SAMPLE_DUMPS] + [DEMO_CORE]


def test_samples_findings_are_pinned(samples_dir):
    pinned = json.loads(PINNED.read_text())
    for path in sample_paths(samples_dir):
        result, digest = scan(path)
        assert signature(result) == pinned[path.name], path.name
        assert result.stats.sha256 == digest == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("executor,chunk", [("inline", MiB), ("thread", MiB), ("process", 4 * MiB),
                                            ("process", 64 * MiB)])
@pytest.mark.slow  # both samples scanned once per executor and chunk size: the full tier
def test_samples_same_findings_every_way_the_bytes_flow(samples_dir, executor, chunk):
    pinned = json.loads(PINNED.read_text())
    for path in sample_paths(samples_dir)[:2]:
        result, digest = scan(path, executor=executor, chunk_size=chunk, workers=2)
        assert signature(result) == pinned[path.name], (path.name, executor, chunk)
        assert result.stats.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_hash_off_and_cached_hash_are_not_recomputed(samples_dir):
    path = samples_dir / SAMPLE_DUMPS[0]
    with open_dump(path) as dump:
        off = scan_dump(dump, hash=False)
        assert off.stats.sha256 is None and "hash" not in off.stats.stages
        digest = dump.sha256()
        again = scan_dump(dump)
        assert again.stats.sha256 is None  # the source knew it already: not hashed twice
        assert dump.sha256() == digest
    assert signature(off) == signature(again)


def test_fleet_worker_hashes_in_its_scan_pass(samples_dir):
    """The fleet's whole-dump task takes the SHA-256 from the scan's own pass (scan_range's digest)."""
    from viewer.fleet.settings import FleetSettings
    from viewer.fleet.work import scan_path
    from viewer.scan.detectors import default_detectors

    path = samples_dir / SAMPLE_DUMPS[1]
    out = scan_path(str(path), FleetSettings(tuple(d.name for d in default_detectors())))
    assert out["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    pinned = json.loads(PINNED.read_text())[path.name]
    assert sorted([f["kind"], f["encoding"], f["offset"], f["length"], f["key_id"], f["confidence"]]
                  for f in out["findings"]) == pinned


HOLDER = r"""
import ctypes, sys, base64, hmac, hashlib, json
ctypes.CDLL(None).prctl(0x59616D61, ctypes.c_ulong(-1), 0, 0, 0)  # Yama: let gdb attach
from cryptography.hazmat.primitives.asymmetric import rsa, ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives import serialization
rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ec_key = ec.generate_private_key(ec.SECP256R1())
aes = Cipher(algorithms.AES(bytes.fromhex(sys.argv[1])), modes.CBC(b"\0" * 16)).encryptor()
aes.update(b"x" * 64)
def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=")
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + b"." + b64(b'{"sub":"pinned"}')
secret = sys.argv[2].encode()
token = head + b"." + b64(hmac.new(secret, head, hashlib.sha256).digest())
pem = rsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
spki = [k.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        for k in (rsa_key, ec_key)]
open(sys.argv[3], "wb").write(b"".join(spki))
print("ready", flush=True)
sys.stdin.read()
"""


@pytest.fixture(scope="module")
def live_dumps(tmp_path_factory):
    from tests.builders.live import dump_holder

    work = tmp_path_factory.mktemp("pinned-live")
    out = []
    for i in range(2):
        pub = work / f"public-{i}.pem"
        core = dump_holder(HOLDER, [hashlib.sha256(b"aes%d" % i).hexdigest()[:32], f"hmac-secret-{i}-Xq9",
                                    str(pub)], work / f"holder-{i}.core")
        out.append((core, pub))
    return out


@pytest.mark.slow
def test_live_dumps_same_findings_every_way_the_bytes_flow(live_dumps):
    from viewer.scan.publickeys import load_public_keys

    for core, pub in live_dumps:
        keys = load_public_keys([pub])
        base, digest = scan(core, executor="inline", hash=False, public_keys=keys)
        want = signature(base)
        kinds = {(f.kind, f.encoding) for f in base.findings if f.secret}
        assert ("rsa-private-key", "pem-pkcs8") in kinds and ("aes-key", "aes-key-schedule") in kinds, kinds
        assert all(k["found"] for k in base.public_keys), base.public_keys
        for kw in ({}, {"executor": "thread", "chunk_size": MiB}, {"executor": "process", "chunk_size": 2 * MiB},
                   {"executor": "process", "chunk_size": 64 * MiB}):
            result, _ = scan(core, public_keys=keys, **kw)
            assert signature(result) == want, kw
            assert result.stats.sha256 == digest == hashlib.sha256(core.read_bytes()).hexdigest()


@pytest.mark.slow
def test_cli_many_files_same_findings_as_one_by_one(live_dumps, samples_dir):
    files = [str(c) for c, _ in live_dumps] + [str(samples_dir / SAMPLE_DUMPS[0]), str(DEMO_CORE)]

    def run(paths: list[str]) -> list[dict]:
        proc = subprocess.run([sys.executable, "-m", "viewer.cli.main", "scan", "--json", "--min-confidence", "low",
                               *paths], capture_output=True, text=True)
        assert proc.returncode in (0, 1), proc.stderr
        return json.loads(proc.stdout)["results"]

    together = run(files)
    assert [r["evidence"]["path"] for r in together] == files
    for path, res in zip(files, together, strict=True):
        alone = run([path])[0]
        assert res["evidence"]["sha256"] == alone["evidence"]["sha256"] == hashlib.sha256(Path(path).read_bytes()).hexdigest()
        pin = sorted((f["kind"], f["encoding"], f["offset"], f["length"], f["key_id"]) for f in res["findings"])
        assert pin == sorted((f["kind"], f["encoding"], f["offset"], f["length"], f["key_id"])
                             for f in alone["findings"]), path


if __name__ == "__main__":  # regenerate the pins: python tests/scan/test_findings_pinned.py SAMPLES_DIR
    root = Path(sys.argv[1])
    pins = {}
    for p in [root / n for n in SAMPLE_DUMPS] + [DEMO_CORE]:
        with open_dump(p) as d:
            pins[p.name] = signature(scan_dump(d))
    PINNED.write_text(json.dumps(pins, indent=0))
