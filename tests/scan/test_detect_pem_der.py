"""PEM and DER detectors on real keys made here: every private-key format and encoding planted at odd
offsets in random and zero bytes, found at exactly their offsets and lengths, with the right kind,
encoding, confidence and key id; public context reported as not secret; malformed structures never
crash, never take long, and never claim more than they are.

The detectors are run directly over the prefilter hits (``run_detectors``: Python ``re`` over the file,
the way the engine's fallback does it) and, in one test, through the scan engine with both prefilter
engines.
"""

from __future__ import annotations

import base64
import mmap
import os
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

from tests.builders.certs import self_signed
from tests.builders.scan import assert_patterns_compile
from viewer.scan import keys
from viewer.scan.detector import Hit
from viewer.scan.detectors import der, pem
from viewer.scan.finding import Confidence, Finding

DETECTORS = [pem.DETECTORS[0], der.DETECTORS[0]]
E = serialization.Encoding
PF = serialization.PrivateFormat
NOENC = serialization.NoEncryption()


class FileView:
    """A View over a file through a read-only mmap (what the engine gives validators)."""

    def __init__(self, path: Path) -> None:
        self._f = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.size = os.fstat(self._f.fileno()).st_size
        self._m = mmap.mmap(self._f.fileno(), 0, access=mmap.ACCESS_READ) if self.size else None

    def read(self, offset: int, length: int) -> bytes:
        if self._m is None or offset >= self.size or length <= 0:
            return b""
        if offset < 0:
            length += offset
            offset = 0
        return self._m[offset : min(self.size, offset + length)]

    def close(self) -> None:
        if self._m is not None:
            self._m.close()
        self._f.close()


def run_detectors(path: Path, detectors=DETECTORS) -> list[Finding]:
    """Every finding of ``detectors`` over the file: each pattern with ``re.finditer`` over the whole
    file, each hit to ``validate`` (patterns must never need more than their ``max_len``)."""
    view = FileView(path)
    try:
        data = view.read(0, view.size)
        found: list[Finding] = []
        for det in detectors:
            for pattern in det.patterns:
                for m in re.finditer(pattern.regex, data):
                    assert m.end() - m.start() <= pattern.max_len, pattern.name
                    found.extend(det.validate(view, Hit(pattern.name, m.start(), m.end())))
        return found
    finally:
        view.close()


# --- key material -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def material():
    rsa_key = rsa.generate_private_key(65537, 2048)
    return {
        "rsa": rsa_key,
        "rsa1024": rsa.generate_private_key(65537, 1024),
        "p256": ec.generate_private_key(ec.SECP256R1()),
        "p384": ec.generate_private_key(ec.SECP384R1()),
        "p521": ec.generate_private_key(ec.SECP521R1()),
        "ed25519": ed25519.Ed25519PrivateKey.generate(),
        "dsa": dsa.generate_private_key(2048),
    }


def kid(private) -> str:
    return keys.key_id(private.public_key())


def utf16(text: bytes) -> bytes:
    return text.decode("ascii").encode("utf-16-le")


def pem_der_certificate(private) -> x509.Certificate:
    import datetime as dt

    return self_signed(private, "pem-der test", dt.datetime(2025, 1, 1, tzinfo=dt.UTC), 0x1234567, days=30)


def openssh_encrypted_container(private) -> bytes:
    """An ``openssh-key-v1`` container marked encrypted (aes256-ctr/bcrypt) around a real public key.
    The private section is random: the detector never decrypts, it only names the key."""

    def s(b: bytes) -> bytes:
        return len(b).to_bytes(4, "big") + b

    line = private.public_key().public_bytes(E.OpenSSH, serialization.PublicFormat.OpenSSH)
    pubblob = base64.b64decode(line.split()[1])
    blob = (
        b"openssh-key-v1\x00" + s(b"aes256-ctr") + s(b"bcrypt") + s(s(os.urandom(16)) + (16).to_bytes(4, "big"))
        + (1).to_bytes(4, "big") + s(pubblob) + s(os.urandom(160))
    )
    body = base64.encodebytes(blob).replace(b"\n", b"")
    lines = b"\n".join(body[i : i + 70] for i in range(0, len(body), 70))
    return b"-----BEGIN OPENSSH PRIVATE KEY-----\n" + lines + b"\n-----END OPENSSH PRIVATE KEY-----\n"


def der_tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        head = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        head = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + head + content


def der_int(value: int) -> bytes:
    return der_tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


@dataclass
class Planted:
    name: str
    blob: bytes
    kind: str
    encoding: str
    confidence: Confidence
    key_id: str | None
    secret: bool = True
    offset: int = 0


def plant(tmp_path: Path, items: list[Planted], seed: int = 7) -> Path:
    """Random and zero filler with every item at an odd offset; items get their offsets."""
    rng = random.Random(seed)
    out = bytearray()
    for item in items:
        gap = rng.randrange(301, 4000) | 1
        filler = rng.randbytes(gap) if rng.random() < 0.5 else bytes(gap)
        out += filler
        item.offset = len(out)
        out += item.blob
    out += rng.randbytes(5001)
    path = tmp_path / "planted.bin"
    path.write_bytes(bytes(out))
    return path


def check_planted(findings: list[Finding], items: list[Planted]) -> None:
    by_place = {(f.offset, f.length, f.encoding): f for f in findings}
    for item in items:
        f = by_place.get((item.offset, len(item.blob), item.encoding))
        assert f is not None, f"{item.name}: nothing at {item.offset}+{len(item.blob)} as {item.encoding}: " + str(
            sorted((g.offset, g.length, g.encoding) for g in findings if abs(g.offset - item.offset) < 64)
        )
        assert f.kind == item.kind, item.name
        assert f.confidence == item.confidence, (item.name, f.reasons)
        assert f.key_id == item.key_id, item.name
        assert f.secret == item.secret, item.name
        assert f.reasons, item.name
    # Nothing else claims to be a secret: the filler is random, nested structures are reported once.
    planted = {(i.offset, len(i.blob)) for i in items}
    extra = [f for f in findings if f.secret and (f.offset, f.length) not in planted]
    assert not extra, [(f.offset, f.length, f.kind, f.encoding) for f in extra]


def private_forms(m) -> list[Planted]:
    rsa_key, p256, p384, p521, edk, dsak = m["rsa"], m["p256"], m["p384"], m["p521"], m["ed25519"], m["dsa"]
    C, H = Confidence.CONFIRMED, Confidence.HIGH
    items = [
        Planted("rsa pkcs1 pem", rsa_key.private_bytes(E.PEM, PF.TraditionalOpenSSL, NOENC), "rsa-private-key", "pem-pkcs1", C, kid(rsa_key)),
        Planted("rsa pkcs8 pem", rsa_key.private_bytes(E.PEM, PF.PKCS8, NOENC), "rsa-private-key", "pem-pkcs8", C, kid(rsa_key)),
        Planted("rsa1024 pkcs1 pem crlf", m["rsa1024"].private_bytes(E.PEM, PF.TraditionalOpenSSL, NOENC).replace(b"\n", b"\r\n"),
                "rsa-private-key", "pem-pkcs1", C, kid(m["rsa1024"])),
        Planted("p256 sec1 pem", p256.private_bytes(E.PEM, PF.TraditionalOpenSSL, NOENC), "ec-private-key", "pem-sec1", C, kid(p256)),
        Planted("p384 pkcs8 pem", p384.private_bytes(E.PEM, PF.PKCS8, NOENC), "ec-private-key", "pem-pkcs8", C, kid(p384)),
        Planted("p521 sec1 pem", p521.private_bytes(E.PEM, PF.TraditionalOpenSSL, NOENC), "ec-private-key", "pem-sec1", C, kid(p521)),
        # Ed25519 PKCS#8 v1 stores only the seed: nothing to check against -> high, still named
        Planted("ed25519 pkcs8 pem", edk.private_bytes(E.PEM, PF.PKCS8, NOENC), "ed25519-private-key", "pem-pkcs8", H, kid(edk)),
        Planted("dsa traditional pem", dsak.private_bytes(E.PEM, PF.TraditionalOpenSSL, NOENC), "dsa-private-key", "pem-dsa", C, kid(dsak)),
        # PKCS#8 DSA stores x but not y: parameters checked, nothing to check x against -> high
        Planted("dsa pkcs8 pem", dsak.private_bytes(E.PEM, PF.PKCS8, NOENC), "dsa-private-key", "pem-pkcs8", H, kid(dsak)),
        Planted("rsa openssh", rsa_key.private_bytes(E.PEM, PF.OpenSSH, NOENC), "rsa-private-key", "pem-openssh", C, kid(rsa_key)),
        Planted("ed25519 openssh", edk.private_bytes(E.PEM, PF.OpenSSH, NOENC), "ed25519-private-key", "pem-openssh", C, kid(edk)),
        Planted("p256 openssh", p256.private_bytes(E.PEM, PF.OpenSSH, NOENC), "ec-private-key", "pem-openssh", C, kid(p256)),
        Planted("ed25519 openssh encrypted", openssh_encrypted_container(edk), "ed25519-private-key", "pem-openssh", H, kid(edk)),
        Planted("rsa pkcs8 encrypted", rsa_key.private_bytes(E.PEM, PF.PKCS8, serialization.BestAvailableEncryption(b"pw")),
                "private-key", "pem-pkcs8-encrypted", H, None),
        Planted("rsa legacy encrypted", rsa_key.private_bytes(E.PEM, PF.TraditionalOpenSSL, serialization.BestAvailableEncryption(b"pw")),
                "rsa-private-key", "pem-pkcs1-encrypted", H, None),
        Planted("rsa pkcs1 utf16", utf16(rsa_key.private_bytes(E.PEM, PF.TraditionalOpenSSL, NOENC)), "rsa-private-key", "pem-pkcs1-utf16le", C, kid(rsa_key)),
        Planted("p256 pkcs8 utf16", utf16(p256.private_bytes(E.PEM, PF.PKCS8, NOENC)), "ec-private-key", "pem-pkcs8-utf16le", C, kid(p256)),
        Planted("rsa pkcs1 json", rsa_key.private_bytes(E.PEM, PF.TraditionalOpenSSL, NOENC).replace(b"\n", b"\\n"),
                "rsa-private-key", "pem-pkcs1-json-escaped", C, kid(rsa_key)),
        Planted("rsa pkcs1 der", rsa_key.private_bytes(E.DER, PF.TraditionalOpenSSL, NOENC), "rsa-private-key", "der-pkcs1", C, kid(rsa_key)),
        Planted("rsa1024 pkcs1 der", m["rsa1024"].private_bytes(E.DER, PF.TraditionalOpenSSL, NOENC), "rsa-private-key", "der-pkcs1", C, kid(m["rsa1024"])),
        Planted("rsa pkcs8 der", rsa_key.private_bytes(E.DER, PF.PKCS8, NOENC), "rsa-private-key", "der-pkcs8", C, kid(rsa_key)),
        Planted("p256 sec1 der", p256.private_bytes(E.DER, PF.TraditionalOpenSSL, NOENC), "ec-private-key", "der-sec1", C, kid(p256)),
        Planted("p384 pkcs8 der", p384.private_bytes(E.DER, PF.PKCS8, NOENC), "ec-private-key", "der-pkcs8", C, kid(p384)),
        Planted("p521 sec1 der", p521.private_bytes(E.DER, PF.TraditionalOpenSSL, NOENC), "ec-private-key", "der-sec1", C, kid(p521)),
        Planted("ed25519 pkcs8 der", edk.private_bytes(E.DER, PF.PKCS8, NOENC), "ed25519-private-key", "der-pkcs8", H, kid(edk)),
        Planted("dsa pkcs8 der", dsak.private_bytes(E.DER, PF.PKCS8, NOENC), "dsa-private-key", "der-pkcs8", H, kid(dsak)),
        Planted("dsa traditional der", dsak.private_bytes(E.DER, PF.TraditionalOpenSSL, NOENC), "dsa-private-key", "der-dsa", C, kid(dsak)),
    ]
    # SEC1 without the public point (only [0] parameters): nothing to check d against -> high
    d = p256.private_numbers().private_value
    bare = der_tlv(0x30, der_int(1) + der_tlv(0x04, d.to_bytes(32, "big")) + der_tlv(0xA0, der_tlv(0x06, bytes.fromhex("2a8648ce3d030107"))))
    items.append(Planted("p256 sec1 without point", bare, "ec-private-key", "der-sec1", H, kid(p256)))
    # PKCS#8 v2 (OneAsymmetricKey) Ed25519 with the public key: the seed derives it -> confirmed
    seed = edk.private_bytes(E.Raw, PF.Raw, NOENC)
    pub = edk.public_key().public_bytes(E.Raw, serialization.PublicFormat.Raw)
    v2 = der_tlv(0x30, der_int(1) + der_tlv(0x30, der_tlv(0x06, bytes.fromhex("2b6570"))) + der_tlv(0x04, der_tlv(0x04, seed)) + der_tlv(0x81, b"\x00" + pub))
    items.append(Planted("ed25519 pkcs8 v2 der", v2, "ed25519-private-key", "der-pkcs8", C, kid(edk)))
    return items


def public_forms(m) -> list[Planted]:
    rsa_key, p256 = m["rsa"], m["p256"]
    cert = pem_der_certificate(rsa_key)
    ec_cert = pem_der_certificate(p256)
    H = Confidence.HIGH
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    pkcs1 = serialization.PublicFormat.PKCS1
    return [
        Planted("cert pem", cert.public_bytes(E.PEM), "certificate", "pem-x509", H, kid(rsa_key), False),
        Planted("ec cert der", ec_cert.public_bytes(E.DER), "certificate", "der-x509", H, kid(p256), False),
        Planted("spki pem", rsa_key.public_key().public_bytes(E.PEM, spki), "public-key", "pem-spki", H, kid(rsa_key), False),
        Planted("pkcs1 public pem", rsa_key.public_key().public_bytes(E.PEM, pkcs1), "public-key", "pem-pkcs1-public", H, kid(rsa_key), False),
        Planted("ec spki der", p256.public_key().public_bytes(E.DER, spki), "public-key", "der-spki", H, kid(p256), False),
        Planted("rsa spki der", m["rsa1024"].public_key().public_bytes(E.DER, spki), "public-key", "der-spki", H, kid(m["rsa1024"]), False),
        Planted("pkcs1 public der", rsa_key.public_key().public_bytes(E.DER, pkcs1), "public-key", "der-pkcs1-public", H, kid(rsa_key), False),
        Planted("spki pem utf16", utf16(p256.public_key().public_bytes(E.PEM, spki)), "public-key", "pem-spki-utf16le", H, kid(p256), False),
    ]


# --- tests ------------------------------------------------------------------------------------------


def test_every_private_form_found_exactly(tmp_path, material):
    items = private_forms(material)
    path = plant(tmp_path, items)
    check_planted(run_detectors(path), items)


def test_public_context_is_not_secret(tmp_path, material):
    items = public_forms(material)
    path = plant(tmp_path, items, seed=11)
    findings = run_detectors(path)
    check_planted(findings, items)
    assert all(not f.secret for f in findings)
    cert = next(f for f in findings if f.encoding == "pem-x509")
    assert cert.details["subject"] == "CN=pem-der test" and cert.details["issuer"] == "CN=pem-der test"
    # the SPKI inside a DER certificate is reported too (public context), the RSAPublicKey inside an SPKI's
    # BIT STRING is not
    assert not [f for f in findings if f.encoding == "der-pkcs1-public" and f.offset != items[6].offset]


def test_through_the_engine(tmp_path, material):
    """The same file through scan_dump, with hyperscan and with re: the same findings."""
    from viewer.evidence import open_dump
    from viewer.scan.engine import scan_dump
    from viewer.scan.prefilter import hyperscan_available

    items = private_forms(material) + public_forms(material)
    path = plant(tmp_path, items, seed=3)
    engines = ["re"] + (["hyperscan"] if hyperscan_available() else [])
    results = {}
    for engine in engines:
        with open_dump(path) as dump:
            result = scan_dump(dump, detectors=DETECTORS, engine=engine, executor="inline", chunk_size=64 * 1024)
        check_planted(result.findings, items)
        results[engine] = sorted((f.offset, f.length, f.encoding, f.confidence) for f in result.findings)
    assert len({tuple(v) for v in results.values()}) == 1


def test_patterns_compile_in_hyperscan():
    assert_patterns_compile(DETECTORS)


def test_nested_pkcs8_reported_once(tmp_path, material):
    blob = material["rsa"].private_bytes(E.DER, PF.PKCS8, NOENC)
    path = tmp_path / "one.bin"
    path.write_bytes(bytes(33) + blob + bytes(33))
    findings = run_detectors(path)
    assert [(f.offset, f.length, f.encoding) for f in findings] == [(33, len(blob), "der-pkcs8")]


# --- malformed input --------------------------------------------------------------------------------


def _wrong_p_pkcs1(key) -> bytes:
    n = key.private_numbers()
    p = n.p + 2
    values = [0, n.public_numbers.n, n.public_numbers.e, n.d, p, n.q, n.dmp1, n.dmq1, n.iqmp]
    return der_tlv(0x30, b"".join(der_int(v) for v in values))


def test_wrong_p_is_low_without_key_id(tmp_path, material):
    bad = _wrong_p_pkcs1(material["rsa"])
    pem_text = b"-----BEGIN RSA PRIVATE KEY-----\n" + base64.encodebytes(bad) + b"-----END RSA PRIVATE KEY-----\n"
    path = tmp_path / "bad.bin"
    path.write_bytes(bytes(17) + bad + bytes(17) + pem_text + bytes(9))
    findings = sorted(run_detectors(path), key=lambda f: f.offset)
    assert [(f.offset, f.encoding, f.confidence, f.key_id) for f in findings] == [
        (17, "der-pkcs1", Confidence.LOW, None),
        (17 + len(bad) + 17, "pem-pkcs1", Confidence.LOW, None),
    ]
    for f in findings:
        assert "p*q != n" in f.reasons


def test_malformed_never_crash_and_stay_quiet(tmp_path, material):
    rsa_key = material["rsa"]
    good = rsa_key.private_bytes(E.DER, PF.TraditionalOpenSSL, NOENC)
    pem_text = rsa_key.private_bytes(E.PEM, PF.TraditionalOpenSSL, NOENC)
    huge = 2500 * 8  # bits: over keys.MAX_RSA_BITS
    absurd = der_tlv(0x30, der_int(0) + b"".join(der_int((1 << huge) - 1 - i) for i in range(3)) + der_int(3) * 5)
    pieces = [
        b"\x30\x82\xff\xff\x02\x01\x00\x02\x82\x01\x01\x00" + os.urandom(300),  # lying length (> 64 KiB)
        b"\x30\x82\x04\xa4\x02\x01\x00\x02\x82\xff\xff\x00" + os.urandom(300),  # inner length past the outer
        good[: len(good) // 2],  # truncated DER, zeros follow
        absurd,  # 20000-bit "integers"
        b"\x30\x81\x87\x02\x01\x00\x30\x13\x06\x07\x2a\x86\x48\xce\x3d\x02\x01" + os.urandom(120),
        b"\x30\x77\x02\x01\x01\x04\x20" + os.urandom(112),
        b"-----BEGIN OPENSSH PRIVATE KEY-----(.*?)-----END OPENSSH PRIVATE KEY-----",  # a regex in a library
        b"-----BEGIN PRIVATE KEY-----\r\n<redacted: provisioned at deploy time>\r\n-----END PRIVATE KEY-----\r\n",
        b"-----BEGIN CERTIFICATE-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END CERTIFICATE-----\n",
    ]
    path = tmp_path / "junk.bin"
    path.write_bytes(b"".join(bytes(101) + p for p in pieces) + bytes(64))
    t0 = time.perf_counter()
    findings = run_detectors(path)
    assert time.perf_counter() - t0 < 5
    assert findings == [], [(f.offset, f.encoding, f.reasons) for f in findings]
    assert pem_text  # (the PEM variants are in the next test)


def test_truncated_and_broken_pem(tmp_path, material):
    text = material["rsa"].private_bytes(E.PEM, PF.TraditionalOpenSSL, NOENC)
    no_end = text[: text.index(b"-----END")]  # base64 runs out, then zeros
    cut = text[:700]
    bad_b64 = text.replace(b"MII", b"M=I", 1)
    wrong_end = text.replace(b"END RSA PRIVATE", b"END EC PRIVATE")
    garbage_der = b"-----BEGIN PRIVATE KEY-----\n" + base64.encodebytes(os.urandom(600)) + b"-----END PRIVATE KEY-----\n"
    pieces = [no_end, cut, bad_b64, wrong_end, garbage_der]
    data = bytearray()
    offsets = []
    for p in pieces:
        data += bytes(50)
        offsets.append(len(data))
        data += p
    data += bytes(50)
    path = tmp_path / "broken.bin"
    path.write_bytes(bytes(data))
    found = {f.offset: f for f in run_detectors(path)}
    assert sorted(found) == offsets
    for off in offsets[:2]:  # no END line: truncated, starts like PKCS#1 -> medium, never a key id
        f = found[off]
        assert f.confidence == Confidence.MEDIUM and f.key_id is None and f.kind == "rsa-private-key"
        assert "truncated PEM private key" in f.reasons[0]
    assert found[offsets[0]].length == len(no_end.rstrip())
    assert found[offsets[1]].length == len(cut.rstrip())
    for off in offsets[2:]:
        f = found[off]
        assert f.confidence == Confidence.LOW and f.key_id is None
        assert f.reasons[0].startswith("malformed")


@pytest.mark.slow
def test_many_header_hits_are_cheap(tmp_path):
    """Random memory is full of near-misses: 40 000 DER and PEM prefilter hits validate in seconds."""
    rng = random.Random(5)
    chunk = []
    for _ in range(10_000):
        chunk.append(b"\x30\x82\x04\xa4\x02\x01\x00\x02\x82\x01\x01\x00" + rng.randbytes(40))
        chunk.append(b"\x30\x81\x87\x02\x01\x00\x30\x13\x06\x07\x2a\x86\x48\xce\x3d\x02\x01" + rng.randbytes(30))
        chunk.append(b"\x30\x77\x02\x01\x01\x04\x20" + rng.randbytes(30))
        chunk.append(b"-----BEGIN RSA PRIVATE KEY-----\n" + rng.randbytes(20))
    path = tmp_path / "hits.bin"
    path.write_bytes(b"".join(chunk))
    t0 = time.perf_counter()
    findings = run_detectors(path)
    assert time.perf_counter() - t0 < 20
    assert all(f.confidence <= Confidence.MEDIUM for f in findings)


def test_no_secret_bytes_in_findings(tmp_path, material):
    items = private_forms(material)
    path = plant(tmp_path, items, seed=19)
    findings = run_detectors(path)
    n = material["rsa"].private_numbers()
    secrets = [format(v, "x") for v in (n.p, n.q, n.d)] + [str(n.p), str(n.d)]
    for f in findings:
        text = repr(f.to_json())
        assert not any(s in text for s in secrets)
        assert "MII" not in text


def test_truncated_pkcs8_names_its_algorithm(tmp_path, material):
    pieces = {
        "ec-private-key": material["p384"].private_bytes(E.PEM, PF.PKCS8, NOENC),
        "rsa-private-key": material["rsa"].private_bytes(E.PEM, PF.PKCS8, NOENC),
    }
    data = bytearray()
    offsets = {}
    for kind, text in pieces.items():
        data += bytes(31)
        offsets[len(data)] = kind
        data += text[:150]
    path = tmp_path / "cut.bin"
    path.write_bytes(bytes(data) + bytes(31))
    found = {f.offset: f for f in run_detectors(path)}
    assert {off: f.kind for off, f in found.items()} == offsets
    assert all(f.key_id is None and f.confidence == Confidence.MEDIUM for f in found.values())


def test_openssh_in_pem_agrees_with_cryptography(material):
    """The armoured OpenSSH key goes through the one shared parser (viewer.scan.openssh_key; pem's own
    cryptography-based copy is gone): kind, key id and confidence agree with what ``cryptography`` loads
    from the same text, for RSA, P-256 and Ed25519, encrypted or not; a non-container is no key."""
    for name, kind in (("rsa", "rsa-private-key"), ("p256", "ec-private-key"), ("ed25519", "ed25519-private-key")):
        private = material[name]
        text = private.private_bytes(E.PEM, PF.OpenSSH, NOENC)
        loaded = serialization.load_ssh_private_key(text, password=None)
        blob = base64.b64decode(b"".join(text.splitlines()[1:-1]))
        shared = pem.openssh_key_result(blob)
        assert shared.confidence == Confidence.CONFIRMED, shared.reasons
        assert shared.key_id == kid(private) == kid(loaded)
        assert shared.kind == kind
    enc = openssh_encrypted_container(material["ed25519"])
    blob = base64.b64decode(b"".join(enc.splitlines()[1:-1]))
    shared = pem.openssh_key_result(blob)
    assert (shared.kind, shared.confidence, shared.key_id) == ("ed25519-private-key", Confidence.HIGH, kid(material["ed25519"]))
    assert pem.openssh_key_result(b"not a container").confidence is None


class BytesView:
    def __init__(self, data: bytes) -> None:
        self.data, self.size = data, len(data)

    def read(self, offset: int, length: int) -> bytes:
        offset = max(0, offset)
        return self.data[offset : offset + max(0, length)]


@pytest.mark.slow
def test_mutated_keys_never_raise(material):
    """Flipped, cut and inserted bytes in every form: validators never raise (a mutated curve OID once
    made cryptography raise UnsupportedAlgorithm, which is not a ValueError), and a mutated private key
    is never confirmed with a key id other than the original's."""
    rng = random.Random(23)
    forms = private_forms(material) + public_forms(material)
    originals = {p.key_id for p in forms}
    for _ in range(1500):
        item = rng.choice(forms)
        blob = bytearray(item.blob)
        for _ in range(rng.randrange(1, 4)):
            op, pos = rng.randrange(3), rng.randrange(len(blob))
            if op == 0:
                blob[pos] ^= 1 << rng.randrange(8)
            elif op == 1:
                del blob[pos : pos + rng.randrange(1, 40)]
            else:
                blob[pos:pos] = rng.randbytes(rng.randrange(1, 8))
        view = BytesView(bytes(9) + bytes(blob) + bytes(9))
        for det in DETECTORS:
            for pattern in det.patterns:
                for m in re.finditer(pattern.regex, view.data):
                    for f in det.validate(view, Hit(pattern.name, m.start(), m.end())):
                        assert f.offset + f.length <= view.size
                        if f.confidence == Confidence.CONFIRMED and f.secret:
                            assert f.key_id in originals
