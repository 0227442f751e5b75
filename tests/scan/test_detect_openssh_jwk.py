"""OpenSSH private keys (from ssh-keygen), JWK/JWKS and JWTs planted in memory and found exactly."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from tests.scan.test_detect_winblobs import plant, scan_file
from viewer.scan import keys, openssh_key
from viewer.scan.detectors import jwk_jwt, openssh
from viewer.scan.finding import Confidence

SSH = openssh.DETECTORS
JWK = [jwk_jwt.JwkDetector()]
JWT = [jwk_jwt.JwtDetector()]


# -- OpenSSH -----------------------------------------------------------------------------------------


def _ssh_keygen(tmp: Path, name: str, *args: str, passphrase: str = "") -> tuple[bytes, str]:
    """Generate a key with ssh-keygen; return the binary openssh-key-v1 blob and the key_id of its
    public half (from the .pub file, read by cryptography)."""
    path = tmp / name
    subprocess.run(
        ["ssh-keygen", "-q", "-N", passphrase, "-C", "user@host", "-f", str(path), *args],
        check=True,
        capture_output=True,
    )
    lines = path.read_text().strip().splitlines()
    assert lines[0] == "-----BEGIN OPENSSH PRIVATE KEY-----"
    blob = base64.b64decode("".join(lines[1:-1]))
    public = serialization.load_ssh_public_key((tmp / f"{name}.pub").read_bytes())
    return blob, keys.key_id(public)


@pytest.fixture(scope="module")
def ssh_keys(tmp_path_factory) -> dict[str, tuple[bytes, str]]:
    if shutil.which("ssh-keygen") is None:
        pytest.fail("ssh-keygen not installed: `make deps` installs it")
    tmp = tmp_path_factory.mktemp("ssh")
    return {
        "ed25519": _ssh_keygen(tmp, "ed", "-t", "ed25519"),
        "rsa": _ssh_keygen(tmp, "rsa", "-t", "rsa", "-b", "2048"),
        "p256": _ssh_keygen(tmp, "p256", "-t", "ecdsa", "-b", "256"),
        "p384": _ssh_keygen(tmp, "p384", "-t", "ecdsa", "-b", "384"),
        "p521": _ssh_keygen(tmp, "p521", "-t", "ecdsa", "-b", "521"),
        "encrypted": _ssh_keygen(tmp, "enc", "-t", "ed25519", "-a", "4", passphrase="correct horse"),
        "encrypted-rsa": _ssh_keygen(
            tmp, "encrsa", "-t", "rsa", "-b", "1024", "-a", "4", passphrase="pw pw pw"
        ),
    }


def test_openssh_keys_in_memory(tmp_path, ssh_keys):
    names = list(ssh_keys)
    path, offsets = plant(tmp_path, [ssh_keys[n][0] for n in names])
    found = {f.offset: f for f in scan_file(path, SSH)}
    assert sorted(found) == offsets
    kinds = {
        "ed25519": "ed25519-private-key",
        "rsa": "rsa-private-key",
        "p256": "ec-private-key",
        "p384": "ec-private-key",
        "p521": "ec-private-key",
        "encrypted": "ed25519-private-key",
        "encrypted-rsa": "rsa-private-key",
    }
    for name, off in zip(names, offsets, strict=True):
        blob, kid = ssh_keys[name]
        f = found[off]
        assert (f.kind, f.encoding, f.length, f.key_id, f.secret) == (
            kinds[name],
            "openssh",
            len(blob),
            kid,
            True,
        )
        if name.startswith("encrypted"):
            assert f.confidence == Confidence.HIGH
            assert f.details["encrypted"] is True and f.details["kdf"] == "bcrypt"
            assert f.details["kdf_rounds"] == 4
            assert any(
                r.startswith(f"encrypted with {f.details['cipher']}/bcrypt: private half not recoverable")
                for r in f.reasons
            )
        else:
            assert f.confidence == Confidence.CONFIRMED, f.reasons
            assert "user@host" not in json.dumps(f.to_json())  # the comment is personal data
    assert found[offsets[names.index("p384")]].details["curve"] == "P-384"


def test_parse_openssh_key_for_the_pem_detector(ssh_keys):
    blob, kid = ssh_keys["rsa"]
    got = openssh_key.parse_openssh_key(blob + b"trailing text")
    assert got is not None
    assert (got.kind, got.key_id, got.confidence, got.length, got.encrypted) == (
        "rsa-private-key",
        kid,
        Confidence.CONFIRMED,
        len(blob),
        False,
    )
    assert got.details["bits"] == 2048
    enc = openssh_key.parse_openssh_key(ssh_keys["encrypted"][0])
    assert enc is not None and enc.encrypted and enc.key_id == ssh_keys["encrypted"][1]
    assert openssh_key.parse_openssh_key(b"") is None
    assert openssh_key.parse_openssh_key(b"not a key at all") is None


def _string_at(blob: bytes, index: int) -> int:
    """Offset of the length field of the index-th SSH string after the magic."""
    pos = len(openssh_key.MAGIC)
    for _ in range(index):
        (n,) = struct.unpack_from(">I", blob, pos)
        pos += 4 + n
    return pos


def test_openssh_malformed(tmp_path, ssh_keys):
    blob, _ = ssh_keys["ed25519"]
    broken = []
    # lying string lengths: ciphername, then kdfoptions, each claiming far more than there is
    for index in (0, 2):
        b = bytearray(blob)
        struct.pack_into(">I", b, _string_at(blob, index), 0xFFFFFFF0)
        broken.append(bytes(b))
        b = bytearray(blob)
        struct.pack_into(">I", b, _string_at(blob, index), 70000)  # over the 64 KiB cap
        broken.append(bytes(b))
    b = bytearray(blob)
    struct.pack_into(">I", b, _string_at(blob, 3), 0x7FFFFFFF)  # nkeys absurd
    broken.append(bytes(b))
    for bad in broken:
        assert openssh_key.parse_openssh_key(bad) is None
    # check integers differ: not an unencrypted key
    priv_at = len(blob) - len(blob.split(b"ssh-ed25519")[-1])  # just past the last key type name
    b = bytearray(blob)
    pos = blob.index(b"\x00\x00\x00\x0bssh-ed25519", blob.index(b"ssh-ed25519") + 11) - 8
    b[pos] ^= 0xFF
    assert openssh_key.parse_openssh_key(bytes(b)) is None
    # a tampered seed: parsed, but not confirmed
    b = bytearray(blob)
    seed_at = priv_at + 4 + 32 + 4
    b[seed_at] ^= 0x01
    tampered = openssh_key.parse_openssh_key(bytes(b))
    assert tampered is not None and tampered.confidence == Confidence.LOW
    # every truncation: None, never an exception
    for cut in range(0, len(blob), 7):
        assert openssh_key.parse_openssh_key(blob[:cut]) is None
    # planted at the end of the file, truncated: no finding, no crash
    path, _ = plant(tmp_path, broken, tail=0)
    path.write_bytes(path.read_bytes() + blob[: len(blob) - 10])
    assert scan_file(path, SSH) == []


# -- JWK / JWKS --------------------------------------------------------------------------------------


def _b64(v: int | bytes, size: int | None = None) -> str:
    if isinstance(v, int):
        v = v.to_bytes(size or max(1, (v.bit_length() + 7) // 8), "big")
    return base64.urlsafe_b64encode(v).rstrip(b"=").decode()


def _thumbprint(required: dict[str, str]) -> str:
    """RFC 7638, written out independently of viewer.scan.keys."""
    canonical = "{" + ",".join(f'"{k}":"{required[k]}"' for k in sorted(required)) + "}"
    return _b64(hashlib.sha256(canonical.encode()).digest())


@pytest.fixture(scope="module")
def jwk_material() -> dict:
    r = rsa.generate_private_key(65537, 2048)
    n = r.private_numbers()
    e = ec.generate_private_key(ec.SECP256R1())
    en = e.private_numbers()
    o = ed25519.Ed25519PrivateKey.generate()
    seed = o.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    opub = o.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    rsa_pub = {"kty": "RSA", "n": _b64(n.public_numbers.n), "e": _b64(n.public_numbers.e)}
    ec_pub = {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64(en.public_numbers.x, 32),
        "y": _b64(en.public_numbers.y, 32),
    }
    okp_pub = {"kty": "OKP", "crv": "Ed25519", "x": _b64(opub)}
    rsa_priv = {
        **rsa_pub,
        "kid": "rsa-1",
        "alg": "RS256",
        "use": "sig",
        "d": _b64(n.d),
        "p": _b64(n.p),
        "q": _b64(n.q),
        "dp": _b64(n.dmp1),
        "dq": _b64(n.dmq1),
        "qi": _b64(n.iqmp),
    }
    return {
        "rsa": r,
        "rsa_pub": rsa_pub,
        "rsa_priv": rsa_priv,
        "ec_pub": ec_pub,
        "ec_priv": {
            "crv": "P-256",
            "kty": "EC",
            "d": _b64(en.private_value, 32),
            "x": ec_pub["x"],
            "y": ec_pub["y"],
        },
        "okp_pub": okp_pub,
        "okp_priv": {**okp_pub, "d": _b64(seed)},
        "oct": {"kty": "oct", "k": _b64(b"0123456789abcdef0123456789abcdef"), "alg": "HS256"},
        "thumb": {
            "rsa": _thumbprint({"e": rsa_pub["e"], "kty": "RSA", "n": rsa_pub["n"]}),
            "ec": _thumbprint({"crv": "P-256", "kty": "EC", "x": ec_pub["x"], "y": ec_pub["y"]}),
            "okp": _thumbprint({"crv": "Ed25519", "kty": "OKP", "x": okp_pub["x"]}),
        },
    }


def test_jwk_private_and_public(tmp_path, jwk_material):
    m = jwk_material
    t = m["thumb"]
    jwks = {"keys": [{**m["rsa_pub"], "kid": "pub-rsa"}, {**m["ec_pub"], "kid": "pub-ec"}]}
    jwks_text = json.dumps(jwks, indent=2).encode()
    texts = [
        json.dumps(m["rsa_priv"]).encode(),
        json.dumps(m["ec_priv"], separators=(",", ":")).encode(),
        json.dumps(m["okp_priv"], indent=1).encode(),
        json.dumps(m["oct"]).encode(),
        jwks_text,
        b'{"nested": {"a": {"b": 1}}, "kty" : "EC", '
        + json.dumps(m["ec_priv"])[1:].replace('"kty": "EC", ', "").encode(),
    ]
    path, offsets = plant(tmp_path, texts)
    found = {(f.offset, f.kind): f for f in scan_file(path, JWK)}
    inner = [offsets[4] + jwks_text.index(b"{", 1), offsets[4] + jwks_text.rindex(b"{")]
    inner_len = [
        jwks_text.index(b"}", 1) + 1 - jwks_text.index(b"{", 1),
        jwks_text.rindex(b"}", 0, -3) + 1 - jwks_text.rindex(b"{"),
    ]
    expected = {
        (offsets[0], "rsa-private-key"): (len(texts[0]), Confidence.CONFIRMED, t["rsa"], True),
        (offsets[1], "ec-private-key"): (len(texts[1]), Confidence.CONFIRMED, t["ec"], True),
        (offsets[2], "ed25519-private-key"): (len(texts[2]), Confidence.CONFIRMED, t["okp"], True),
        (offsets[3], "symmetric-key"): (
            len(texts[3]),
            Confidence.HIGH,
            keys.symmetric_key_id(b"0123456789abcdef0123456789abcdef"),
            True,
        ),
        (inner[0], "rsa-public-key"): (inner_len[0], Confidence.HIGH, t["rsa"], False),
        (inner[1], "ec-public-key"): (inner_len[1], Confidence.HIGH, t["ec"], False),
        (offsets[5], "ec-private-key"): (len(texts[5]), Confidence.CONFIRMED, t["ec"], True),
    }
    assert {k: (f.length, f.confidence, f.key_id, f.secret) for k, f in found.items()} == expected
    rsa_f = found[(offsets[0], "rsa-private-key")]
    assert rsa_f.encoding == "jwk"
    assert {k: rsa_f.details[k] for k in ("kid", "alg", "use")} == {
        "kid": "rsa-1",
        "alg": "RS256",
        "use": "sig",
    }
    assert found[(inner[0], "rsa-public-key")].details["kid"] == "pub-rsa"
    everything = json.dumps([f.to_json() for f in found.values()])
    for secret in (
        m["rsa_priv"]["d"],
        m["rsa_priv"]["p"],
        m["ec_priv"]["d"],
        m["okp_priv"]["d"],
        m["oct"]["k"],
    ):
        assert secret not in everything
    # the key_id is the project's identity too
    assert t["rsa"] == keys.key_id(m["rsa"].public_key())


def test_jwk_malformed(tmp_path, jwk_material):
    m = jwk_material
    wrong = dict(m["rsa_priv"], d=_b64(int.from_bytes(keys.b64url_decode(m["rsa_priv"]["d"]), "big") + 2))
    texts = [
        json.dumps(m["rsa_priv"]).encode()[:-40],  # cut: no closing brace
        b'{"kty": "RSA", "n": "!!!", "e": "AQAB", "d": "AQAB"}',  # not base64url
        b'{"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA", "d": "AQ"}',  # not a point
        b'{"kty": "oct"}',
        b'{"kty": "RSA", "n": "' + b"A" * 10 + b'", "e": {"x": "}"}, "d": ["{"]}',
        b'{"a": "{", "kty": "OKP", "crv": "Ed25519", "x": "AAAA"',
        json.dumps(wrong).encode(),
    ]
    path, offsets = plant(tmp_path, texts, gap=100, tail=0)
    found = scan_file(path, JWK)
    assert [(f.offset, f.confidence) for f in found] == [(offsets[-1], Confidence.LOW)]
    assert any("e*d != 1" in r or "p*q" in r or "dp/dq" in r for r in found[0].reasons)


# -- JWT ---------------------------------------------------------------------------------------------


def _jwt(header: dict, claims: dict, sign) -> bytes:
    h = _b64(json.dumps(header, separators=(",", ":")).encode())
    c = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{h}.{c}".encode()
    return signing_input + b"." + _b64(sign(signing_input)).encode()


def test_jwts(tmp_path, jwk_material):
    secret = b"hs256 test secret that is long enough"
    claims = {
        "iss": "https://issuer.example",
        "aud": "api",
        "sub": "alice",
        "email": "alice@example.com",
        "exp": 1900000000,
        "iat": 1700000000,
    }
    hs = _jwt({"alg": "HS256", "typ": "JWT"}, claims, lambda m: hmac.new(secret, m, hashlib.sha256).digest())
    rs_key = jwk_material["rsa"]
    rs = _jwt(
        {"alg": "RS256", "kid": "rsa-1"},
        {**claims, "aud": ["api", "web"]},
        lambda m: rs_key.sign(m, padding.PKCS1v15(), hashes.SHA256()),
    )
    none = _jwt({"alg": "none"}, {"iss": "x"}, lambda m: b"")
    truncated = hs[:-10]
    jwe_like = _jwt({"alg": "dir", "enc": "A256GCM"}, {"iss": "x"}, lambda m: b"0" * 16)
    bad_json = b"eyJub3QganNvbiAgICAg." + _b64(b'{"iss":"x"}').encode() + b".abc"
    rs_alt = b"Authorization: Bearer " + rs
    path, offsets = plant(tmp_path, [hs, b" " + rs, none, truncated, jwe_like, bad_json, rs_alt])
    found = {f.offset: f for f in scan_file(path, JWT)}
    rs_alt_at = offsets[6] + len(b"Authorization: Bearer ")
    assert sorted(found) == sorted([offsets[0], offsets[1] + 1, offsets[2], offsets[3], rs_alt_at])
    f = found[offsets[0]]
    assert (f.kind, f.encoding, f.length, f.confidence, f.secret) == (
        "jwt",
        "jws-compact",
        len(hs),
        Confidence.MEDIUM,
        True,
    )
    assert f.details == {
        "alg": "HS256",
        "typ": "JWT",
        "iss": "https://issuer.example",
        "aud": "api",
        "exp": 1900000000,
        "iat": 1700000000,
    }
    r = found[offsets[1] + 1]
    assert (r.length, r.confidence, r.details["kid"], r.details["aud"]) == (
        len(rs),
        Confidence.MEDIUM,
        "rsa-1",
        ["api", "web"],
    )
    assert found[offsets[2]].confidence == Confidence.LOW  # alg none
    assert found[offsets[3]].confidence == Confidence.LOW  # signature cut short
    assert found[rs_alt_at].length == len(rs)
    text = json.dumps([x.to_json() for x in found.values()])
    assert "alice" not in text  # sub and email are personal data
    assert hs.split(b".")[2].decode() not in text


def test_jwts_in_utf16(tmp_path, jwk_material):
    """Tokens as Windows, .NET and Java keep strings: UTF-16LE. Found at the first wide character, the
    length counted in bytes, the same claims as the ASCII token; a payload segment alone is not a token."""
    secret = b"hs256 test secret that is long enough"
    claims = {"iss": "https://issuer.example", "aud": "api", "sub": "alice", "exp": 1900000000}
    hs = _jwt({"alg": "HS256", "typ": "JWT"}, claims, lambda m: hmac.new(secret, m, hashlib.sha256).digest())
    rs_key = jwk_material["rsa"]
    rs = _jwt({"alg": "RS256", "kid": "rsa-1"}, claims, lambda m: rs_key.sign(m, padding.PKCS1v15(), hashes.SHA256()))
    wide_hs = hs.decode().encode("utf-16-le")
    wide_rs = ("Bearer " + rs.decode()).encode("utf-16-le")
    payload_only = ("." + rs.decode().split(".", 1)[1]).encode("utf-16-le")
    path, offsets = plant(tmp_path, [wide_hs, wide_rs, payload_only, hs])
    found = {f.offset: f for f in scan_file(path, JWT)}
    rs_at = offsets[1] + len("Bearer ".encode("utf-16-le"))
    assert sorted(found) == sorted([offsets[0], rs_at, offsets[3]])
    w = found[offsets[0]]
    a = found[offsets[3]]
    assert (w.encoding, w.length, w.confidence) == ("jws-compact-utf16le", 2 * len(hs), Confidence.MEDIUM)
    assert (a.encoding, a.length) == ("jws-compact", len(hs))
    assert w.details == a.details
    assert (found[rs_at].length, found[rs_at].details["kid"]) == (2 * len(rs), "rsa-1")
    data = path.read_bytes()
    assert data[w.offset : w.offset + w.length] == wide_hs
