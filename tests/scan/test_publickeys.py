"""Supplied public keys (``scan --public-key FILE``): every accepted form, made here from real keys, names
the key by the same key id as the detectors; the samples' PEM and JWKS agree; bad files and private keys
are refused in one line that names the file and never shows key material."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from tests.conftest import SAMPLES
from viewer.scan import keys
from viewer.scan.publickeys import SuppliedKey, load_public_key_file, load_public_keys

E = serialization.Encoding
PUB = serialization.PublicFormat


@pytest.fixture(scope="module")
def ks():
    return {
        "rsa": rsa.generate_private_key(65537, 2048),
        "ec": ec.generate_private_key(ec.SECP256R1()),
        "p384": ec.generate_private_key(ec.SECP384R1()),
        "ed": ed25519.Ed25519PrivateKey.generate(),
    }


def kid(private) -> str:
    return keys.key_id(private.public_key())


def cert_for(private, cn: str | None) -> x509.Certificate:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "no cn")]
    name = x509.Name(attrs)
    now = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    return (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private.public_key())
        .serial_number(99).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
        .sign(private, hashes.SHA256())
    )


def write(tmp_path, name: str, data: bytes | str):
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def one(path) -> SuppliedKey:
    found = load_public_key_file(path)
    assert len(found) == 1, found
    return found[0]


def test_pem_and_der_public_keys(tmp_path, ks):
    for name, private in ks.items():
        pem = private.public_key().public_bytes(E.PEM, PUB.SubjectPublicKeyInfo)
        der = private.public_key().public_bytes(E.DER, PUB.SubjectPublicKeyInfo)
        for fmt, data in (("pem", pem), ("der", der)):
            key = one(write(tmp_path, f"{name}.{fmt}", data))
            assert key.key_id == kid(private)
            assert key.label.startswith("SHA256:")
            assert key.kind == {"rsa": "rsa", "ec": "ec", "p384": "ec", "ed": "ed25519"}[name]
    rsa_pub = ks["rsa"].public_key()
    for fmt, enc in (("pem", E.PEM), ("der", E.DER)):
        key = one(write(tmp_path, f"pkcs1.{fmt}", rsa_pub.public_bytes(enc, PUB.PKCS1)))
        assert key.key_id == kid(ks["rsa"])


def test_certificates(tmp_path, ks):
    cert = cert_for(ks["rsa"], "examiner test CA")
    for fmt, enc in (("pem", E.PEM), ("der", E.DER)):
        key = one(write(tmp_path, f"cert.{fmt}", cert.public_bytes(enc)))
        assert key.label == "examiner test CA"
        assert key.key_id == kid(ks["rsa"]) and key.kind == "certificate:rsa"
    nocn = one(write(tmp_path, "nocn.pem", cert_for(ks["ec"], None).public_bytes(E.PEM)))
    assert nocn.label.startswith("SHA256:") and nocn.key_id == kid(ks["ec"])


def test_openssh_public_keys(tmp_path, ks):
    lines = []
    for name in ("rsa", "ec", "p384", "ed"):
        line = ks[name].public_key().public_bytes(E.OpenSSH, PUB.OpenSSH).decode()
        lines.append(line + (f" user@{name}" if name != "ed" else ""))
    lines.insert(1, "# a comment line")
    lines.append('from="10.0.0.1",no-pty ' + lines[0].replace("user@rsa", "restricted"))
    found = load_public_key_file(write(tmp_path, "authorized_keys", "\n".join(lines) + "\n"))
    assert [k.key_id for k in found] == [kid(ks[n]) for n in ("rsa", "ec", "p384", "ed", "rsa")]
    assert [k.label for k in found[:3]] == ["user@rsa", "user@ec", "user@p384"]
    assert found[3].label.startswith("SHA256:")
    assert found[4].label == "restricted"
    assert [k.kind for k in found] == ["rsa", "ec", "ec", "ed25519", "rsa"]


def _jwk(private, kid_value: str | None) -> dict:
    jwk = dict(keys.public_jwk(private.public_key()))
    if kid_value:
        jwk["kid"] = kid_value
    jwk["use"] = "sig"  # extra members do not enter the thumbprint
    return jwk


def test_jwks_and_single_jwk(tmp_path, ks):
    doc = {"keys": [_jwk(ks["rsa"], "rsa-1"), _jwk(ks["ec"], "ec-1"), _jwk(ks["ed"], None)]}
    found = load_public_key_file(write(tmp_path, "jwks.json", json.dumps(doc, indent=1)))
    assert [k.label for k in found[:2]] == ["rsa-1", "ec-1"]
    assert found[2].label == kid(ks["ed"])  # no kid: the thumbprint names it
    assert [k.key_id for k in found] == [kid(ks["rsa"]), kid(ks["ec"]), kid(ks["ed"])]
    single = one(write(tmp_path, "jwk.json", json.dumps(_jwk(ks["p384"], "p384-key"))))
    assert single.label == "p384-key" and single.key_id == kid(ks["p384"])


def test_rfc7638_example(tmp_path):
    """The worked example of RFC 7638 section 3.1."""
    jwk = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    key = one(write(tmp_path, "rfc.json", json.dumps(jwk)))
    assert key.key_id == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    assert key.label == "2011-04-29"


def test_several_pem_blocks(tmp_path, ks):
    text = (
        b"some text before\n"
        + cert_for(ks["ec"], "leaf").public_bytes(E.PEM)
        + b"# kid: my-rsa (rsa-private)\n"
        + ks["rsa"].public_key().public_bytes(E.PEM, PUB.SubjectPublicKeyInfo)
        + ks["rsa"].public_key().public_bytes(E.PEM, PUB.PKCS1).replace(b"\n", b"\r\n")
        + ks["ed"].public_key().public_bytes(E.PEM, PUB.SubjectPublicKeyInfo)
    )
    found = load_public_key_file(write(tmp_path, "bundle.pem", text))
    assert [k.key_id for k in found] == [kid(ks["ec"]), kid(ks["rsa"]), kid(ks["rsa"]), kid(ks["ed"])]
    assert found[0].label == "leaf" and found[1].label == "my-rsa"
    assert all("PEM block" in k.source for k in found)
    # load_public_keys: several files, in order
    more = load_public_keys([write(tmp_path, "a.pem", text), write(tmp_path, "b.json", json.dumps({"keys": [_jwk(ks["p384"], "x")]}))])
    assert [k.key_id for k in more] == [k.key_id for k in found] + [kid(ks["p384"])]


@pytest.mark.parametrize("dump", ["gcore-python-rsa-ec.core", "wine-keyholder-full.dmp"])
def test_samples_pem_and_jwks_agree(dump, samples_truth):
    from_pem = load_public_key_file(SAMPLES / f"{dump}.public.pem")
    from_jwks = load_public_key_file(SAMPLES / f"{dump}.jwks.json")
    assert {k.label: k.key_id for k in from_pem} == {k.label: k.key_id for k in from_jwks}
    assert len(from_pem) == len(from_jwks) >= 2
    # and the public values agree with the truth file
    truth = next(d for d in samples_truth["dumps"] if d["file"] == dump)
    expected = set()
    for secret in truth["secrets"]:
        pub = secret["public"]
        if "n_hex" in pub:
            expected.add(keys.key_id(rsa.RSAPublicNumbers(int(pub.get("e", 65537)), int(pub["n_hex"], 16)).public_key()))
        elif "curve" in pub:
            point = bytes.fromhex(pub["point_hex"])
            expected.add(keys.key_id(ec.EllipticCurvePublicKey.from_encoded_point(keys.EC_CURVES[pub["curve"]], point)))
    assert {k.key_id for k in from_pem} == expected


def _refused(path, *needles: str) -> str:
    with pytest.raises(ValueError) as info:
        load_public_keys([path])
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path))
    for needle in needles:
        assert needle in message
    return message


def test_bad_files(tmp_path, ks):
    not_key = "not a public key, certificate, OpenSSH public key or JWKS"
    _refused(write(tmp_path, "random.bin", os.urandom(300)), not_key)
    _refused(write(tmp_path, "text.txt", "hello world\nthis is not a key\n"), not_key)
    _refused(write(tmp_path, "other.json", json.dumps({"hello": 1})), not_key)
    _refused(write(tmp_path, "broken.json", "{not json"), not_key)
    _refused(write(tmp_path, "der.bin", b"\x30\x82\x01\x0a" + os.urandom(100)), not_key)
    _refused(write(tmp_path, "crl.pem", "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"), not_key)
    _refused(write(tmp_path, "empty.pem", ""), "empty")
    _refused(tmp_path / "missing.pem", "cannot read")
    _refused(write(tmp_path, "badssh.pub", "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ== x\n"), "not a valid OpenSSH public key")
    jwk = keys.public_jwk(ks["rsa"].public_key())
    bad = dict(jwk, n=keys.b64url(b"\x00" + keys.b64url_decode(jwk["n"])))  # leading zero: not canonical
    _refused(write(tmp_path, "noncanon.json", json.dumps(bad)), "canonical")
    _refused(write(tmp_path, "unknown.json", json.dumps({"keys": [{"kty": "oct-ish"}]})), "unsupported JWK")


def test_private_keys_refused_without_showing_them(tmp_path, ks):
    private = ks["rsa"]
    nums = private.private_numbers()
    secrets = [format(nums.d, "x")[:40], str(nums.p)[:40]]
    forms = {
        "pkcs8.pem": private.private_bytes(E.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        "pkcs1.pem": private.private_bytes(E.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()),
        "openssh": private.private_bytes(E.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()),
        "pkcs8.der": private.private_bytes(E.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    }
    jwk = dict(keys.public_jwk(private.public_key()), d=keys.int_to_b64url(nums.d))
    forms["private.jwk"] = json.dumps({"keys": [jwk]}).encode()
    for name, data in forms.items():
        message = _refused(write(tmp_path, name, data), "private")
        body = base64.b64encode(data[40:80]).decode()
        assert not any(s in message for s in secrets) and body not in message and "MII" not in message


def test_hostile_jwks(tmp_path, ks):
    """A JWKS is attacker-reachable (fetched from an identity provider, handed over with a case): every
    malformed or oversized form is refused in one line naming the file, quickly, never with a traceback."""
    good = keys.public_jwk(ks["ec"].public_key())
    huge_n = keys.b64url(b"\xc5" * (keys.MAX_RSA_BITS // 8 + 1))
    forms = {
        "deep.json": ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        "deep-keys.json": ('{"keys": ' + "[" * 50_000 + "]" * 50_000 + "}", "nested too deeply"),
        "bigint.json": ('{"keys": [{"kty": "RSA", "n": ' + "9" * 5000 + ', "e": 3}]}', "integer too long"),
        "huge-n.json": (json.dumps({"keys": [{"kty": "RSA", "n": huge_n, "e": "AQAB"}]}), "more than 16384"),
        "too-many.json": (json.dumps({"keys": [good] * 5000}), "more than 4096"),
        "not-dicts.json": (json.dumps({"keys": [1, "x", None]}), "JWKS key 1): not a JWK"),
        "kty-list.json": (json.dumps({"keys": [{"kty": ["RSA"] * 10_000}]}), "unsupported JWK key type"),
        "crv-list.json": (json.dumps({"keys": [dict(good, crv=["P-256"])]}), "does not load"),
        "crv-unknown.json": (json.dumps({"keys": [dict(good, crv="P-999")]}), "does not load"),
        "n-int.json": (json.dumps({"keys": [{"kty": "RSA", "n": 5, "e": "AQAB"}]}), "does not load"),
        "n-bad-b64.json": (json.dumps({"keys": [{"kty": "RSA", "n": "!!!!", "e": "AQAB"}]}), "does not load"),
        "nan.json": ('{"keys": [{"kty": "RSA", "n": NaN, "e": Infinity}]}', "does not load"),
        "off-curve.json": (json.dumps({"keys": [dict(good, y=keys.b64url(b"\x02" * 32))]}), "does not load"),
        "okp-short.json": (json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}]}), "does not load"),
        "no-members.json": (json.dumps({"keys": [{"kty": "EC"}]}), "does not load"),
        "keys-not-list.json": (json.dumps({"keys": {"kty": "EC"}}), "not a public key"),
    }
    for name, (text, needle) in forms.items():
        message = _refused(write(tmp_path, name, text), needle)
        assert len(message) < 200, message
    # the same oversized modulus is refused as PEM, DER and in a certificate's place too
    big = rsa.RSAPublicNumbers(65537, int.from_bytes(keys.b64url_decode(huge_n), "big") | 1)
    try:
        der = big.public_key().public_bytes(E.DER, PUB.SubjectPublicKeyInfo)
    except ValueError:  # an OpenSSL that refuses to build it cannot be handed one either
        der = None
    if der is not None:
        _refused(write(tmp_path, "huge.der", der), "more than 16384")
        _refused(write(tmp_path, "huge.pem", big.public_key().public_bytes(E.PEM, PUB.SubjectPublicKeyInfo)),
                 "more than 16384")
