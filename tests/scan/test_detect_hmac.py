"""HMAC secrets of HS* JWTs: tokens signed in the test with hmac + base64url, their secrets planted in
every supported form at known offsets (and a live process holding a token and its key, dumped with
gcore), found at the exact offsets, confirmed by the signature, named by the symmetric key id. Wrong
secrets are not reported; a dump full of tokens without secrets stays within the HMAC budget; cancel is
honoured."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.builders.live import gcore
from viewer.evidence import open_dump
from viewer.scan.detector import PostScanContext
from viewer.scan.detectors.hmac import DEFAULT_BUDGET, HmacSecretDetector
from viewer.scan.detectors.jwk_jwt import JwtDetector
from viewer.scan.engine import scan_dump
from viewer.scan.finding import Confidence
from viewer.scan.keys import symmetric_key_id
from viewer.tasks import TaskState

MiB = 1024 * 1024
HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def b64u(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def make_jwt(secret: bytes, alg: str = "HS256", kid: str | None = None, iss: str = "test-issuer") -> bytes:
    header = {"alg": alg, "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    claims = {"iss": iss, "sub": "someone", "iat": 1700000000}
    signing_input = b64u(json.dumps(header).encode()) + b"." + b64u(json.dumps(claims).encode())
    return signing_input + b"." + b64u(hmac.new(secret, signing_input, HASHES[alg]).digest())


def random_key(n: int, need_plus_slash: bool = False) -> bytes:
    """Random bytes without zero bytes at the edges; with ``need_plus_slash`` its base64 differs from
    its base64url (so both forms can be told apart)."""
    while True:
        k = os.urandom(n)
        if k[0] and k[-1] and k.count(0) <= 1 and (not need_plus_slash or base64.b64encode(k) != base64.urlsafe_b64encode(k)):
            return k


class Layout:
    def __init__(self) -> None:
        self.data = bytearray(12 * MiB)
        self.data[0x10000:0x50000] = os.urandom(0x40000)  # random noise: plenty of key-like windows

    def put(self, offset: int, blob: bytes) -> int:
        self.data[offset : offset + len(blob)] = blob
        return offset


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory):
    lay = Layout()
    ascii_secret = b"s3cr3t-Example_Key!2024"
    key_b = random_key(32, need_plus_slash=True)
    key_c = random_key(64)
    key_d = random_key(32)
    wrong = random_key(32)
    config_secret = b"Zq8_config-file-secret.v1"
    jwt_a = make_jwt(ascii_secret, kid="ascii-key")
    jwt_b = make_jwt(key_b, kid="binary-key")
    jwt_c = make_jwt(key_c, alg="HS512")
    jwt_d = make_jwt(key_d, iss="far-issuer")
    jwt_e = make_jwt(config_secret, iss="config-issuer")
    where = {
        "jwt_a": lay.put(0x1000, jwt_a),
        "jwt_b": lay.put(0x2000, jwt_b),
        "jwt_b2": lay.put(0x2800, jwt_b),  # a second copy of the same token
        "jwt_c": lay.put(0x3000, jwt_c),
        "jwt_d": lay.put(0x4000, jwt_d),
        "jwt_e": lay.put(0x5000, jwt_e),
        "raw_c": lay.put(0x60008, key_c),  # raw, 8-aligned, within 1 MiB of the tokens
        "wrong": lay.put(0x60100, wrong),
        "raw_b": lay.put(0x70000, key_b),
        "ascii_a": lay.put(0x300001, ascii_secret),
        "config_e": lay.put(0x310000, b"APP_JWT_SECRET=" + config_secret + b"\n") + 15,  # a config line
        "b64_b": lay.put(0x380008, base64.b64encode(key_b)) ,
        "b64url_b": lay.put(0x3A0010, b64u(key_b)),
        "hex_b": lay.put(0x3C0020, key_b.hex().encode()),
        "raw_d": lay.put(0xB00000, key_d),  # raw, > 8 MiB from every token: found only with deep
    }
    lay.put(0x380000, b'{"key":"')
    lay.put(0x380008 + 44, b'"}')
    path = tmp_path_factory.mktemp("hmac") / "planted.raw"
    path.write_bytes(bytes(lay.data))
    secrets = {"a": ascii_secret, "b": key_b, "c": key_c, "d": key_d, "e": config_secret, "wrong": wrong}
    return path, where, secrets


def hmac_findings(result):
    return [f for f in result.findings if f.kind == "hmac-secret"]


def scan(path: Path, deep: bool = False):
    with open_dump(path) as dump:
        return scan_dump(dump, detectors=[JwtDetector(), HmacSecretDetector()], deep=deep)


@pytest.mark.slow
def test_every_form_of_the_secret_is_found_and_confirmed(planted):
    path, where, secrets = planted
    result = scan(path)
    found = {(f.offset, f.length, f.encoding): f for f in hmac_findings(result)}
    expected = {
        (where["ascii_a"], len(secrets["a"]), "raw"): ("a", "HS256", where["jwt_a"], "ascii-key"),
        (where["raw_b"], 32, "raw"): ("b", "HS256", where["jwt_b"], "binary-key"),
        (where["b64_b"], 44, "base64"): ("b", "HS256", where["jwt_b"], "binary-key"),
        (where["b64url_b"], 43, "base64url"): ("b", "HS256", where["jwt_b"], "binary-key"),
        (where["hex_b"], 64, "hex"): ("b", "HS256", where["jwt_b"], "binary-key"),
        (where["raw_c"], 64, "raw"): ("c", "HS512", where["jwt_c"], None),
        (where["config_e"], len(secrets["e"]), "raw"): ("e", "HS256", where["jwt_e"], None),
    }
    assert set(found) == set(expected), sorted(found)
    for place, (name, alg, jwt_offset, kid) in expected.items():
        f = found[place]
        assert f.confidence == Confidence.CONFIRMED
        assert f.key_id == symmetric_key_id(secrets[name])
        assert f.details["alg"] == alg and f.details["jwt_offset"] == jwt_offset
        assert f.details.get("kid") == kid
        assert f.reasons[0] == f"verifies the {alg} signature of the JWT at file offset {jwt_offset:#x}"
        assert f.secret
    # the two copies of token b are both accounted for
    assert found[(where["raw_b"], 32, "raw")].details["jwts_verified"] == 2
    # the JWT findings stay as the first pass made them
    jwts = [f for f in result.findings if f.kind == "jwt"]
    assert len(jwts) == 6 and all(f.confidence == Confidence.MEDIUM for f in jwts)
    # one secret per key, however many places
    groups = {s.key_id: s for s in result.secrets}
    assert len(groups[symmetric_key_id(secrets["b"])].locations) == 4


@pytest.mark.slow
def test_wrong_and_far_secrets(planted):
    path, where, secrets = planted
    result = scan(path)
    ids = {f.key_id for f in hmac_findings(result)}
    assert symmetric_key_id(secrets["wrong"]) not in ids
    assert not [f for f in result.findings if f.offset == where["wrong"]]
    # a raw binary secret 11 MiB from its token is out of the default window ...
    assert symmetric_key_id(secrets["d"]) not in ids
    # ... and found when the examiner asks for the deep search
    deep = scan(path, deep=True)
    hits = [f for f in hmac_findings(deep) if f.key_id == symmetric_key_id(secrets["d"])]
    assert [(f.offset, f.length, f.encoding) for f in hits] == [(where["raw_d"], 32, "raw")]
    assert hits[0].confidence == Confidence.CONFIRMED


@pytest.mark.slow
def test_no_secret_bytes_in_output(planted):
    path, _where, secrets = planted
    result = scan(path)
    text = json.dumps(result.to_json())
    for secret in secrets.values():
        for form in (secret, base64.b64encode(secret), b64u(secret), secret.hex().encode()):
            assert form.decode("latin-1") not in text


def many_tokens_file(tmp_path: Path, count: int = 10_000) -> Path:
    parts = []
    for i in range(count):
        parts.append(make_jwt(os.urandom(32), iss=f"issuer-{i:05d}"))  # secrets thrown away
    path = tmp_path / "tokens.raw"
    path.write_bytes(b"\0" * 4096 + b"\0\0".join(parts) + b"\0" * 4096)
    return path


@pytest.mark.slow
def test_many_tokens_without_secret_stay_within_budget(tmp_path):
    path = many_tokens_file(tmp_path)
    with open_dump(path) as dump:
        result = scan_dump(dump, detectors=[JwtDetector(), HmacSecretDetector()])
    assert sum(f.kind == "jwt" for f in result.findings) == 10_000
    assert not hmac_findings(result)
    notes = [n for n in result.stats.notes if n.startswith("hmac:")]
    assert any("HMAC budget exhausted" in n and "signer group(s) not tried" in n for n in notes), notes
    used = [n for n in notes if "HMAC computations of a budget" in n]
    assert used and int(used[0].split()[1]) <= DEFAULT_BUDGET + 10_000, used


@pytest.mark.slow
def test_step_progress_is_reported(tmp_path):
    """The HMAC search reports its own progress (candidates tried of all), ending at the total."""

    path = many_tokens_file(tmp_path)
    steps: list[tuple[str, int, int]] = []
    state = TaskState(on_step=lambda name, done, total: steps.append((name, done, total)))
    with open_dump(path) as dump:
        scan_dump(dump, detectors=[JwtDetector(), HmacSecretDetector()], state=state)
    hmac_steps = [s for s in steps if s[0] == "hmac"]
    assert len(hmac_steps) > 2
    assert all(0 <= done <= total for _, done, total in hmac_steps)
    assert [d for _, d, _ in hmac_steps] == sorted(d for _, d, _ in hmac_steps) or len({t for *_, t in hmac_steps}) > 1
    assert hmac_steps[-1][1] == hmac_steps[-1][2]


@pytest.mark.slow
def test_cancel_is_honoured(tmp_path):
    path = many_tokens_file(tmp_path, 2000)
    detector = HmacSecretDetector(budget=10**12)  # unbounded: hours of work unless cancelled
    with open_dump(path) as dump:
        first = scan_dump(dump, detectors=[JwtDetector()])
        state = TaskState()
        ctx = PostScanContext(dump=dump, view=dump.source, findings=first.findings, state=state)
        timer = threading.Timer(1.0, state.cancel)
        timer.start()
        try:
            found = list(detector.post_scan(ctx))
        finally:
            timer.cancel()
    assert not found
    assert any("cancelled" in n for n in ctx.notes), ctx.notes


HOLDER = r"""
import ctypes, sys
ctypes.CDLL(None).prctl(0x59616D61, ctypes.c_ulong(-1), 0, 0, 0)  # Yama: let gdb attach
token = open(sys.argv[1]).read()
secret = open(sys.argv[2], "rb").read()
print("ready", flush=True)
sys.stdin.read()
"""


@pytest.mark.slow
def test_live_process_secret_is_found(tmp_path):
    secret = random_key(32)
    token = make_jwt(secret, kid="live")
    (tmp_path / "token").write_bytes(token)
    (tmp_path / "secret").write_bytes(secret)
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "token"), str(tmp_path / "secret")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    core = tmp_path / "holder.core"
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        gcore(proc.pid, core)
    finally:
        proc.kill()
        proc.wait()
    data = core.read_bytes()
    assert data.find(secret) != -1 and data.find(token) != -1
    with open_dump(core) as dump:
        assert dump.format == "elf-core"
        result = scan_dump(dump)
    hits = [f for f in hmac_findings(result) if f.key_id == symmetric_key_id(secret)]
    assert hits, [n for n in result.stats.notes if n.startswith("hmac")]
    assert all(f.confidence == Confidence.CONFIRMED and f.encoding == "raw" for f in hits)
    offsets = {f.offset for f in hits}
    assert data.find(secret) in offsets
    assert all(data[f.offset : f.offset + f.length] == secret for f in hits)
    assert all(f.vaddr is not None and f.region for f in hits)


def test_locations_are_capped_and_noted(tmp_path):
    from viewer.scan.detectors.hmac import MAX_LOCATIONS

    secret = b"repeated-Secret-42"
    token = make_jwt(secret)
    body = b"\0" * 64 + token + b"\0" * 64 + (b"\0" + secret + b"\0") * (MAX_LOCATIONS + 50)
    path = tmp_path / "repeats.raw"
    path.write_bytes(body)
    result = scan(path)
    hits = hmac_findings(result)
    assert len(hits) == MAX_LOCATIONS
    assert all(f.confidence == Confidence.CONFIRMED and f.key_id == symmetric_key_id(secret) for f in hits)
    assert any("occurs more than" in n for n in result.stats.notes)


@pytest.mark.slow
def test_utf16_token_verified_by_its_secret(tmp_path: Path) -> None:
    """A UTF-16LE token (a Windows or .NET process) and its secret beside it: the secret is found and
    confirmed by the wide token's signature."""
    secret = random_key(32)
    token = make_jwt(secret, kid="wide").decode().encode("utf-16-le")
    lay = Layout()
    at_token = lay.put(0x2000, token)
    at_secret = lay.put(0x2000 + len(token) + 64, secret)
    path = tmp_path / "wide.raw"
    path.write_bytes(bytes(lay.data))
    with open_dump(path) as dump:
        result = scan_dump(dump, detectors=[JwtDetector(), HmacSecretDetector()], executor="inline")
    jwts = [f for f in result.findings if f.kind == "jwt"]
    assert [(f.offset, f.encoding) for f in jwts] == [(at_token, "jws-compact-utf16le")]
    secrets = [f for f in result.findings if f.kind != "jwt" and f.offset == at_secret]
    assert len(secrets) == 1 and secrets[0].confidence == Confidence.CONFIRMED
    assert secrets[0].key_id == symmetric_key_id(secret)
    assert secrets[0].details["jwt_offset"] == at_token
