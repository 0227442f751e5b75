"""The registry of finding kinds (viewer.scan.kinds): every kind a detector emits is declared there once,
with a colour role the GUI knows; detectors take kind names from it instead of writing strings."""

from __future__ import annotations

import ast
import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.conftest import REPO
from tests.scan.test_detect_credentials import aws_pair, github_token
from tests.scan.test_detect_dpapi import blob_fields, handcrafted
from tests.scan.test_detect_hmac import make_jwt
from viewer.evidence import open_dump
from viewer.scan import kinds
from viewer.scan.detectors import all_detectors
from viewer.scan.engine import scan_dump
from viewer.scan.kinds import COLOUR_ROLES, KINDS, Kind, kind_info, register
from viewer.scan.publickeys import load_public_keys

DETECTORS_DIR = REPO / "viewer" / "scan" / "detectors"
SAMPLES = ["gcore-python-rsa-ec.core", "wine-keyholder-full.dmp"]


def test_every_kind_has_a_known_colour_role_and_a_label():
    assert KINDS, "the registry is empty"
    for name, kind in KINDS.items():
        assert kind.name == name
        assert kind.colour_role in COLOUR_ROLES, name
        assert kind.label and kind.label != name
        assert isinstance(kind.secret, bool)


def test_public_context_is_not_secret_and_secret_roles_are_secret():
    for kind in KINDS.values():
        assert (kind.colour_role == "context") == (not kind.secret), kind.name


def test_unknown_kind_gets_a_conservative_fallback():
    info = kind_info("quantum-private-key")
    assert info == Kind("quantum-private-key", "Quantum private key", True, None, "private-key")
    assert "quantum-private-key" not in KINDS  # asking does not register


def test_register_refuses_a_conflict_and_a_bad_role():
    assert register(KINDS["jwt"]) is KINDS["jwt"]  # the same declaration again: harmless
    with pytest.raises(ValueError, match="already registered"):
        register(Kind("jwt", "Something else", True, None, "token"))
    with pytest.raises(ValueError, match="colour role"):
        register(Kind("new-kind-for-test", "New", True, None, "purple"))
    assert "new-kind-for-test" not in KINDS


def test_algorithm_lookups():
    assert kinds.private_key_kind("Ed25519") == "ed25519-private-key"
    assert kinds.public_key_kind("EC") == "ec-public-key"
    with pytest.raises(KeyError):
        kinds.private_key_kind("ROT13")


def test_detectors_take_kind_names_from_the_registry():
    """No ``Finding(kind="...")`` (or a string as its first argument) in a detector: kinds come from
    viewer.scan.kinds, so a new kind cannot be emitted without being declared."""
    literal = []
    for path in sorted(DETECTORS_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Finding"):
                continue
            args = [kw.value for kw in node.keywords if kw.arg == "kind"] + node.args[:1]
            literal += [f"{path.name}:{node.lineno}" for a in args if isinstance(a, ast.Constant)]
    assert not literal, literal


def _everything_file(tmp_path: Path) -> Path:
    """One file holding a little of everything the detectors know: PEM and DER keys, a certificate-free
    public key, a JWK, a JWT and its HMAC secret, cloud tokens, a URL password, a DPAPI blob."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    enc, pf, none = serialization.Encoding, serialization.PrivateFormat, serialization.NoEncryption()
    secret = b"Zq8_kinds-test-secret.v1"  # a config line's secret: what the HMAC search tries
    key_id, aws_secret = aws_pair()
    numbers = ec_key.private_numbers()
    jwk = {"kty": "EC", "crv": "P-256",
           "x": base64.urlsafe_b64encode(numbers.public_numbers.x.to_bytes(32, "big")).rstrip(b"=").decode(),
           "y": base64.urlsafe_b64encode(numbers.public_numbers.y.to_bytes(32, "big")).rstrip(b"=").decode(),
           "d": base64.urlsafe_b64encode(numbers.private_value.to_bytes(32, "big")).rstrip(b"=").decode()}
    pieces = [
        rsa_key.private_bytes(enc.PEM, pf.TraditionalOpenSSL, none),
        ec_key.private_bytes(enc.DER, pf.PKCS8, none),
        rsa_key.public_key().public_bytes(enc.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        rsa_key.private_bytes(enc.PEM, pf.OpenSSH, none),
        json.dumps(jwk).encode(),
        make_jwt(secret), b"APP_JWT_SECRET=" + secret + b"\n",
        github_token().encode(), f"aws_access_key_id={key_id}\naws_secret_access_key={aws_secret}".encode(),
        b"postgres://app:Xk9-qWv2Lm7pZr@db.internal:5432/app",
        handcrafted(blob_fields()),
    ]
    path = tmp_path / "everything.bin"
    path.write_bytes(b"".join(bytes(64) + p for p in pieces) + bytes(64))
    return path


def _emitted(path: Path, public_keys=()) -> set[str]:
    with open_dump(path) as dump:
        result = scan_dump(dump, all_detectors(), public_keys=list(public_keys), deep=True)
    assert not any(st.errors for st in result.stats.detectors.values()), result.warnings
    return {f.kind for f in result.findings}


@pytest.mark.slow  # every detector, deep, over both samples: about 20 s
def test_every_emitted_kind_is_registered(tmp_path, samples_dir):
    """Every detector over the samples (with their public keys, deep) and over a synthetic file of a
    little of everything: each kind found is in the registry."""
    seen = _emitted(_everything_file(tmp_path))
    seen |= _emitted(REPO / "resources" / "sample" / "demo-keyholder.core")
    for name in SAMPLES:
        seen |= _emitted(samples_dir / name, load_public_keys([samples_dir / f"{name}.public.pem"]))
    assert not seen - KINDS.keys(), sorted(seen - KINDS.keys())
    # the test exercises something: keys of both kinds, tokens, passwords, public context
    assert {"rsa-private-key", "ec-private-key", "jwt", "hmac-secret", "api-token", "aws-credentials",
            "password-in-url", "dpapi-blob", "public-key"} <= seen, sorted(seen)
