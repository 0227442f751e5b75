"""Scanner part 2 on live processes the tests start and dump with gcore: `openssl s_server` holding its
key, and a control process that holds no key but lots of random and compressed data, certificates and
public keys — which must give no secret finding above `low`."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.builders.certs import self_signed
from tests.builders.live import gcore
from tests.conftest import REPO
from viewer.evidence import open_dump
from viewer.scan.engine import scan_dump
from viewer.scan.finding import Confidence
from viewer.scan.keys import key_id
from viewer.scan.publickeys import load_public_keys

pytestmark = pytest.mark.slow  # gcore of live processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_openssl_s_server_key_is_found_and_matched(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = self_signed(key, "s-server.test")
    key_pem, cert_pem = tmp_path / "key.pem", tmp_path / "cert.pem"
    key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    port = free_port()
    server = subprocess.Popen(
        ["openssl", "s_server", "-quiet", "-key", str(key_pem), "-cert", str(cert_pem),
         "-accept", f"127.0.0.1:{port}", "-www"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:  # wait until it listens: then the key is loaded
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "s_server did not start"
                time.sleep(0.1)
        core = gcore(server.pid, tmp_path / "s_server.core")
    finally:
        server.kill()
        server.wait()
    supplied = load_public_keys([cert_pem])
    with open_dump(core) as dump:
        result = scan_dump(dump, public_keys=supplied)
    expected = key_id(key.public_key())
    mine = [f for f in result.findings if f.key_id == expected and f.secret]
    assert mine, "the server's private key was not found"
    assert all(f.confidence == Confidence.CONFIRMED for f in mine)
    assert any(f.encoding == "raw-bignum" for f in mine), {f.encoding for f in mine}
    assert all(supplied[0].label in f.matches for f in mine)
    assert result.public_keys[0]["found"]
    # the big-number windows searched in forked workers and replayed in order: the windows searched and
    # the keys found are those of the search one window after the other (in a child: no Qt, one thread)
    out = subprocess.run([sys.executable, "-c", WINDOWS_BOTH_WAYS, str(core), str(cert_pem)], capture_output=True,
                         text=True, check=True, timeout=300, cwd=REPO)
    runs = json.loads(out.stdout)
    assert runs["1"] == runs["2"], runs
    searched = int(re.search(r"(\d+) windows searched", runs["1"]["note"]).group(1))
    assert searched >= 4 and runs["parallel"], runs  # enough windows for the parallel search to have run


WINDOWS_BOTH_WAYS = r"""
import json, re, sys
from viewer.evidence import open_dump
from viewer.scan import engine
from viewer.scan.detector import PostScanContext
from viewer.scan.detectors import default_detectors
from viewer.scan.detectors import bignum
from viewer.scan.publickeys import load_public_keys

supplied = load_public_keys([sys.argv[2]])
with open_dump(sys.argv[1]) as dump:
    first = engine.scan_dump(dump, [d for d in default_detectors() if not hasattr(d, "post_scan") or
                                    getattr(d, "patterns", ()) or hasattr(d, "scan_block")], executor="inline").findings
    runs = {"parallel": engine.fork_is_safe()}
    for workers in (1, 2):
        ctx = PostScanContext(dump=dump, view=dump.source, findings=tuple(first), public_keys=supplied, workers=workers)
        found = bignum.BignumDetector().post_scan(ctx)
        note = next(n for n in ctx.notes if "windows searched" in n)
        runs[str(workers)] = {"findings": sorted([f.offset, f.length, f.key_id, f.details.get("component")] for f in found),
                              "note": re.sub(r"\(\d+\.\d+ s\)", "", note), "spent": any("budget spent" in n for n in ctx.notes)}
print(json.dumps(runs))
"""


CONTROL = r"""
import ctypes, os, sys, zlib
ctypes.CDLL(None).prctl(0x59616D61, ctypes.c_ulong(-1), 0, 0, 0)  # Yama: let gdb attach
noise = os.urandom(8 * 1024 * 1024)
text = (b"The quick brown fox jumps over the lazy dog. " * 200000)
packed = zlib.compress(text + noise[:1 << 20], 9)
publics = [open(p, "rb").read() for p in sys.argv[1:]]
print("ready", flush=True)
sys.stdin.read()
"""


def test_control_process_without_keys_gives_nothing_above_low(tmp_path):
    files = []
    for i, key in enumerate([rsa.generate_private_key(public_exponent=65537, key_size=2048),
                             ec.generate_private_key(ec.SECP256R1())]):
        cert = tmp_path / f"cert{i}.pem"
        cert.write_bytes(self_signed(key, f"control-{i}").public_bytes(serialization.Encoding.PEM))
        pub = tmp_path / f"pub{i}.der"
        pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.DER,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
        files += [str(cert), str(pub)]
        del key  # the private halves never reach the control process
    proc = subprocess.Popen([sys.executable, "-c", CONTROL, *files], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        core = gcore(proc.pid, tmp_path / "control.core")
    finally:
        proc.kill()
        proc.wait()
    with open_dump(core) as dump:
        result = scan_dump(dump, public_keys=load_public_keys(files))
    loud = [(f.kind, f.encoding, hex(f.offset), str(f.confidence), f.reasons[:2])
            for f in result.findings if f.secret and f.confidence > Confidence.LOW]
    assert not loud, loud
    context = [f for f in result.findings if not f.secret]
    assert context, "the certificates and public keys should be reported as public context"
    assert not any(pk["found"] for pk in result.public_keys)
