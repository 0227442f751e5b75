"""`redact`: a copy of a dump without its keys, its structure intact (viewer.handover.redact, viewer.cli.redact).

On the two real sample dumps: every private byte string samples-truth.json records is gone from the
copy, and no run of 16 bytes of any of them in any form, the copy parses the same (format, streams, memory ranges, size), a re-scan finds no confirmed or
high secret, the input is untouched and the log names every range without ever holding key bytes.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.handover.leftovers import private_values, runs_left
from viewer.cli.redact import add_parser
from viewer.evidence import open_dump
from viewer.handover.redact import FILLER, key_needles
from viewer.scan.detectors.bignum import encode
from viewer.scan.engine import scan_dump
from viewer.scan.finding import Confidence
from viewer.scan.keys import symmetric_key_id

SAMPLES = ["wine-keyholder-full.dmp", "gcore-python-rsa-ec.core"]


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="evidence-viewer")
    sub = parser.add_subparsers(dest="command")
    add_parser(sub)
    args = parser.parse_args(["redact", *argv])
    return int(args.func(args))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def truth_for(samples_truth: dict, name: str) -> dict:
    return next(d for d in samples_truth["dumps"] if d["file"] == name)


def private_strings(truth: dict, original: bytes) -> list[tuple[str, str, int, bytes]]:
    """(secret id, representation, offset, bytes) of every private hit, read from the original file."""
    out = []
    for secret in truth["secrets"]:
        for rep_name, rep in secret["representations"].items():
            if rep["role"] != "private":
                continue
            for hit in rep["hits"]:
                out.append((secret["id"], rep_name, hit["offset"],
                            original[hit["offset"] : hit["offset"] + hit["length"]]))
    return out


@pytest.fixture(scope="module")
def redacted(samples_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    out_dir = tmp_path_factory.mktemp("redacted")
    results = {}
    for name in SAMPLES:
        src = samples_dir / name
        before = sha256(src)
        out = out_dir / (name + ".clean")
        rc = run_cli(str(src), "--out", str(out), "--public-key", str(samples_dir / f"{name}.public.pem"))
        results[name] = {"src": src, "out": out, "rc": rc, "before": before,
                         "log": json.loads(Path(str(out) + ".redaction.json").read_text())}
    return results


@pytest.mark.slow
@pytest.mark.parametrize("name", SAMPLES)
def test_sample_private_bytes_gone(redacted: dict, samples_truth: dict, name: str) -> None:
    r = redacted[name]
    assert r["rc"] == 0
    original = r["src"].read_bytes()
    clean = r["out"].read_bytes()
    assert len(clean) == len(original)
    strings = private_strings(truth_for(samples_truth, name), original)
    assert len(strings) > 10
    left = [(sid, rep, off) for sid, rep, off, data in strings if data in clean]
    assert left == []


@pytest.mark.slow
@pytest.mark.parametrize("name", SAMPLES)
def test_sample_no_fragment_of_any_private_value_left(redacted: dict, samples_truth: dict, name: str) -> None:
    """Not only whole copies: no run of 16 bytes (16 characters of text) of any private value the truth
    records — RSA p, q, d, dp, dq, qinv, EC d, AES keys and their schedules — in any form (big- and
    little-endian, 28/60-bit digits, hex, base64 in its 3 alignments, UTF-16LE) is left. Whole-value
    search left 121 of the 128 bytes of the gcore sample's qinv, 99 of d and 58 of q, and in the Wine
    sample the low 640 bits of an exponent and half the AES-256 key. Counted independently
    (tests/handover/leftovers.py)."""
    r = redacted[name]
    original = r["src"].read_bytes()
    values = private_values(truth_for(samples_truth, name), original)
    forms = {f"{sid}: {k}": v for sid, fs in values.items() for k, v in fs.items()}
    assert len(values) >= 2 and runs_left(original, forms)  # the truth's values are there to be found
    assert runs_left(r["out"].read_bytes(), forms) == []
    runs = [e for e in r["log"]["removed"] if e["encoding"] in ("fragment", "copy")]
    assert runs and all(e["value"] and e["key_id"] for e in runs)
    assert r["log"]["searched"]["keys"] >= len([s for s in truth_for(samples_truth, name)["secrets"]])


@pytest.mark.slow
def test_wine_raw_aes_key_removed_everywhere(redacted: dict, samples_truth: dict) -> None:
    """The CNG AES-256 key (no schedule in the dump, found through Wine's key object): both copies are
    logged under its key id, and the 32 bytes occur nowhere in the copy."""
    r = redacted["wine-keyholder-full.dmp"]
    secret = next(s for s in truth_for(samples_truth, "wine-keyholder-full.dmp")["secrets"]
                  if s["name"] == "bcrypt-aes-256")
    key = bytes.fromhex(secret["public"]["key_hex"])
    assert r["src"].read_bytes().count(key) == 2
    assert key not in r["out"].read_bytes()
    logged = {(e["offset"], e["length"]) for e in r["log"]["removed"] if e["key_id"] == symmetric_key_id(key)}
    assert {tuple(x) for x in secret["ranges"]} <= logged


@pytest.mark.slow
@pytest.mark.parametrize("name", SAMPLES)
def test_sample_structure_kept_and_clean(redacted: dict, name: str) -> None:
    r = redacted[name]
    with open_dump(r["src"]) as a, open_dump(r["out"]) as b:
        assert b.format == a.format
        assert b.size == a.size
        assert [(x.file_offset, x.size, x.vaddr) for x in b.regions] == [
            (x.file_offset, x.size, x.vaddr) for x in a.regions
        ]
        if a.format == "minidump":
            streams = [(s["type"], s["offset"], s["size"]) for s in a.details["streams"]]
            assert streams and [(s["type"], s["offset"], s["size"]) for s in b.details["streams"]] == streams
        else:
            assert b.details.get("segments") == a.details.get("segments")
        assert b.warnings == a.warnings
        result = scan_dump(b, public_keys=None)
    assert not [f for f in result.findings if f.secret and f.confidence >= Confidence.HIGH]
    assert sha256(r["src"]) == r["before"]
    assert r["log"]["clean"] is True
    assert r["log"]["input_sha256"] == r["before"]


@pytest.mark.slow
@pytest.mark.parametrize("name", SAMPLES)
def test_sample_log_names_ranges_without_key_bytes(redacted: dict, samples_truth: dict, name: str) -> None:
    r = redacted[name]
    log = r["log"]
    removed = log["removed"]
    assert removed and all({"offset", "length", "kind", "encoding", "key_id", "reason"} <= e.keys() for e in removed)
    assert log["notes"] == []  # every key was recovered from its findings, so its copies were searched too
    original = r["src"].read_bytes()
    clean = r["out"].read_bytes()
    # every changed byte lies in a logged range
    covered = bytearray(len(original))
    for e in removed:
        assert e["key_id"]
        covered[e["offset"] : e["offset"] + e["length"]] = b"\1" * e["length"]
    step = 1 << 16
    for start in range(0, len(original), step):
        if original[start : start + step] != clean[start : start + step]:
            for i in range(start, min(len(original), start + step)):
                if original[i] != clean[i]:
                    assert covered[i], f"byte {i:#x} changed outside the logged ranges"
    text = Path(str(r["out"]) + ".redaction.json").read_text()
    for _sid, _rep, _off, data in private_strings(truth_for(samples_truth, name), original):
        for form in (data.hex(), data.hex().upper(), base64.b64encode(data).decode()):
            assert form[:40] not in text


def _make_key_file(tmp_path: Path) -> tuple[Path, rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey]:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    pem = rsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    der = rsa_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    nums = rsa_key.private_numbers()
    ec_pem = ec_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    pad = bytes(range(256)) * 16
    parts = [pad, pem, pad, der, pad, encode(nums.p, "le"), pad, encode(nums.d, "digits28"), pad,
             encode(nums.q, "be"), pad, ec_pem, pad,
             encode(ec_key.private_numbers().private_value, "le"), pad,
             pem.decode().encode("utf-16-le"), pad,
             # copies the scanner does not report itself: found from the key once it is known
             rsa_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
                                   serialization.NoEncryption()).hex().upper().encode(), pad,
             base64.b64encode(der), pad]
    path = tmp_path / "keys.bin"
    path.write_bytes(b"".join(parts))
    path.chmod(0o444)
    return path, rsa_key, ec_key


@pytest.mark.slow
def test_generated_file(tmp_path: Path) -> None:
    path, rsa_key, ec_key = _make_key_file(tmp_path)
    before = sha256(path)
    out = tmp_path / "clean.bin"
    assert run_cli(str(path), "--out", str(out)) == 0
    data = out.read_bytes()
    assert len(data) == path.stat().st_size
    assert sha256(path) == before
    for needle, label in key_needles(rsa_key) + key_needles(ec_key):
        assert needle not in data, label
    # PEM structure kept: BEGIN/END lines and line breaks, body overwritten with the filler
    assert data.count(b"-----BEGIN RSA PRIVATE KEY-----\n" + FILLER) == 1
    assert data.count(b"-----END RSA PRIVATE KEY-----") == 1
    assert b"-----BEGIN PRIVATE KEY-----\n" + FILLER in data
    assert "-----BEGIN RSA PRIVATE KEY-----\nREDACTED".encode("utf-16-le") in data
    log = json.loads(Path(str(out) + ".redaction.json").read_text())
    kinds = {e["kind"] for e in log["removed"]}
    assert {"rsa-private-key", "ec-private-key"} <= kinds
    text = json.dumps(log)
    n = rsa_key.private_numbers()
    for value in (n.p, n.q, n.d):
        assert encode(value, "be").hex()[:32] not in text
    assert log["clean"] is True


@pytest.mark.slow
def test_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, _r, _e = _make_key_file(tmp_path)
    before = sha256(path)
    assert run_cli(str(path), "--out", str(path)) == 2
    assert run_cli(str(path), "--out", str(path), "--force") == 2
    assert "input" in capsys.readouterr().err
    out = tmp_path / "exists.bin"
    out.write_bytes(b"keep me")
    assert run_cli(str(path), "--out", str(out)) == 2
    assert out.read_bytes() == b"keep me"
    assert run_cli(str(path), "--out", str(out), "--force") == 0
    assert out.stat().st_size == path.stat().st_size
    assert run_cli(str(tmp_path / "missing.dmp"), "--out", str(tmp_path / "x")) == 2
    assert not (tmp_path / "x").exists()
    assert run_cli(str(tmp_path), "--out", str(tmp_path / "y")) == 2
    assert run_cli(str(path), "--out", str(tmp_path / "z"), "--min-confidence", "bogus") == 2
    assert run_cli(str(path), "--out", str(tmp_path / "nodir" / "z")) == 2
    err = capsys.readouterr().err
    assert all(line.startswith("evidence-viewer: ") for line in err.splitlines())
    assert sha256(path) == before
    assert not list(tmp_path.glob(".*.part"))


@pytest.mark.slow
def test_generated_file_copies_found_from_known_key(tmp_path: Path) -> None:
    """Copies the scanner itself does not report are found from the key's numbers ("copy" entries): the
    hex of the PKCS#1 DER, the one-line base64 of the PKCS#8 DER, each one range named by its form."""
    path, rsa_key, _e = _make_key_file(tmp_path)
    out, log_path = tmp_path / "c.bin", tmp_path / "log.json"
    assert run_cli(str(path), "--out", str(out), "--log", str(log_path)) == 0
    log = json.loads(log_path.read_text())
    assert not Path(str(out) + ".redaction.json").exists()
    copies = [e for e in log["removed"] if e["encoding"] == "copy"]
    original = path.read_bytes()
    der1 = rsa_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
                                 serialization.NoEncryption()).hex().upper().encode()
    der8 = base64.b64encode(rsa_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    # each copy is one range over its whole extent (the last base64 group and its padding may stay)
    assert any(e["offset"] == original.find(der1) and e["length"] == len(der1)
               and "rsa der-pkcs1, hex (upper case), whole" in e["value"] for e in copies)
    assert any(e["offset"] == original.find(der8) and len(der8) - 4 <= e["length"] <= len(der8)
               and "rsa der-pkcs8, base64 (alignment 0), whole" in e["value"] for e in copies)


def test_not_clean_exit_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A secret the re-scan still finds: exit 1, and the message says the copy is not clean."""
    from viewer.cli import redact as redact_cli
    from viewer.handover.redact import RedactionResult
    from viewer.scan.finding import Finding

    left = Finding("rsa-private-key", "der-pkcs1", 0, 10, Confidence.HIGH)

    def fake(src: str, out: str, **_kw: object) -> RedactionResult:
        return RedactionResult(src, out, out + ".redaction.json", [], [left], 3, 0.1, "0" * 64)

    monkeypatch.setattr(redact_cli, "redact_file", fake)
    assert run_cli(str(tmp_path / "a"), "--out", str(tmp_path / "b")) == 1
    assert "NOT clean" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("at_step", ["copying", "re-scanning the copy", "hashing the copy"])
def test_cancel_at_any_step_writes_nothing(tmp_path: Path, at_step: str) -> None:
    """A redaction cancelled in the middle of a step (the examiner's Cancel) raises RedactCancelled and
    leaves no copy, no log and no partial file; the steps before it reported their progress."""
    from viewer.handover.redact import RedactCancelled, redact_file
    from viewer.tasks import TaskState

    src = Path(__file__).resolve().parents[2] / "resources" / "sample" / "demo-keyholder.core"
    before = sha256(src)
    seen: list[str] = []
    state = TaskState()

    def step(name: str, done: int, total: int) -> None:
        seen.append(name)
        if name == at_step:
            state.cancel()

    state.step_progress = step
    out = tmp_path / "clean.core"
    with pytest.raises(RedactCancelled):
        redact_file(src, out, state=state)
    assert at_step in seen
    assert list(tmp_path.iterdir()) == []  # nothing: no copy, no log, no .part file
    assert sha256(src) == before
