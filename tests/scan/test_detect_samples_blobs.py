"""The Windows blob, OpenSSH and JWK/JWT detectors on the two real sample dumps, against the truth.

samples-truth.json records, per planted secret, every representation searched and where it occurs
(``representations[name]["hits"]``). Every key blob representation it records as present must be
found at exactly that offset and length, confirmed, named by the key_id of the matching public key in
``<dump>.public.pem``; and nothing confirmed or high may be reported that the truth does not list.

Allowed extras: none for these detectors. The truth's ``unplanted_secrets`` (AES key schedules, DER
RSAPrivateKey) are not encodings these detectors look for, and the Windows DLL code's magic constants
("RSA2", "ECS2", "KDBM" as instruction immediates) must be rejected by the header checks.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.scan.test_detect_winblobs import scan_file
from viewer.scan import keys
from viewer.scan.detectors import jwk_jwt, openssh, winblobs
from viewer.scan.finding import Confidence

DETECTORS = [*winblobs.DETECTORS, *openssh.DETECTORS, *jwk_jwt.DETECTORS]
WINE = "wine-keyholder-full.dmp"
GCORE = "gcore-python-rsa-ec.core"

# truth representation name -> encoding our detectors report
BLOB_ENCODINGS = {
    "cryptoapi-privatekeyblob": "cryptoapi-privatekeyblob",
    "bcrypt-rsafullprivate": "bcrypt-rsafullprivate",
    "bcrypt-rsaprivate": "bcrypt-rsaprivate",
    "bcrypt-eccprivate": "bcrypt-eccprivate",
    "bcrypt-key-data-blob": "bcrypt-key-data-blob",
    "openssh-key-v1": "openssh",
    "jwk": "jwk",
}


def _dump(truth: dict, name: str) -> dict:
    return next(d for d in truth["dumps"] if d["file"] == name)


def _public_keys(samples_dir, name: str) -> list:
    text = (samples_dir / f"{name}.public.pem").read_text()
    blocks = text.split("-----END PUBLIC KEY-----")
    return [
        serialization.load_pem_public_key((b + "-----END PUBLIC KEY-----").encode())
        for b in blocks
        if "BEGIN" in b
    ]


def _matching_key_id(secret: dict, publics: list) -> str:
    pub = secret["public"]
    for key in publics:
        if (
            isinstance(key, rsa.RSAPublicKey)
            and "n_hex" in pub
            and key.public_numbers().n == int(pub["n_hex"], 16)
        ):
            return keys.key_id(key)
        if isinstance(key, ec.EllipticCurvePublicKey) and "x_hex" in pub:
            if key.public_numbers().x == int(pub["x_hex"], 16) and key.public_numbers().y == int(
                pub["y_hex"], 16
            ):
                return keys.key_id(key)
    raise AssertionError(f"no public key in the .public.pem for {secret['id']}")


@pytest.fixture(scope="module")
def wine_findings(samples_dir):
    return scan_file(samples_dir / WINE, DETECTORS)


def _expected_blobs(dump: dict, publics: list) -> dict[tuple[str, int, int], str]:
    expected = {}
    for secret in dump["secrets"]:
        for rep, info in secret["representations"].items():
            if rep in BLOB_ENCODINGS and info["found"]:
                for hit in info["hits"]:
                    expected[(BLOB_ENCODINGS[rep], hit["offset"], hit["length"])] = _matching_key_id(
                        secret, publics
                    )
    return expected


def test_wine_blobs_found_exactly(samples_dir, samples_truth, wine_findings):
    dump = _dump(samples_truth, WINE)
    publics = _public_keys(samples_dir, WINE)
    expected = _expected_blobs(dump, publics)
    # what the truth records: the CAPI and CNG exports of the three RSA keys and the CNG ECC export
    assert sorted(e for e, _, _ in expected) == [
        "bcrypt-eccprivate",
        "bcrypt-rsafullprivate",
        "bcrypt-rsafullprivate",
        "cryptoapi-privatekeyblob",
        "cryptoapi-privatekeyblob",
    ]
    got = {(f.encoding, f.offset, f.length): f for f in wine_findings}
    for where, key_id in expected.items():
        f = got.get(where)
        assert f is not None, f"missed {where}"
        assert f.confidence == Confidence.CONFIRMED, f.reasons
        assert f.key_id == key_id
        assert f.secret


def test_wine_key_ids_are_the_jwks_thumbprints(samples_dir, wine_findings):
    """The JWKS beside the dump, read by the JWK detector itself: same key_ids as the blobs."""
    jwks_path = samples_dir / f"{WINE}.jwks.json"
    entries = json.loads(jwks_path.read_text())["keys"]
    thumbprints = set()
    for jwk in entries:
        required = {
            k: jwk[k] for k in (("e", "kty", "n") if jwk["kty"] == "RSA" else ("crv", "kty", "x", "y"))
        }
        canonical = json.dumps(required, sort_keys=True, separators=(",", ":")).encode()  # RFC 7638
        thumbprints.add(keys.b64url(hashlib.sha256(canonical).digest()))
    confirmed = {f.key_id for f in wine_findings if f.confidence == Confidence.CONFIRMED}
    assert confirmed == thumbprints  # every public key of the sample has its private half in a blob
    public_context = scan_file(jwks_path, DETECTORS)
    assert {f.key_id for f in public_context} == thumbprints
    assert all(
        not f.secret and f.encoding == "jwk" and f.confidence == Confidence.HIGH for f in public_context
    )
    assert len(public_context) == len(entries)


def _truth_ranges(dump: dict) -> list[tuple[int, int]]:
    ranges = []
    for secret in dump["secrets"]:
        for info in secret["representations"].values():
            ranges += [(h["offset"], h["offset"] + h["length"]) for h in info["hits"]]
    for obj in dump.get("unplanted_secrets") or []:
        ranges.append((obj["offset"], obj["offset"] + obj["length"]))
    return ranges


@pytest.mark.parametrize("name", [WINE, GCORE])
def test_nothing_confident_outside_the_truth(samples_dir, samples_truth, wine_findings, name):
    dump = _dump(samples_truth, name)
    findings = wine_findings if name == WINE else scan_file(samples_dir / name, DETECTORS)
    ranges = _truth_ranges(dump)
    for f in findings:
        if f.confidence >= Confidence.HIGH and f.secret:
            assert any(s <= f.offset and f.offset + f.length <= e for s, e in ranges), (
                f"{f.kind}/{f.encoding} at {f.offset}+{f.length} is not in the truth"
            )
    if name == GCORE:
        # no Windows blobs, OpenSSH keys, JWKs or JWTs were planted in the Linux Python process
        assert [f for f in findings if f.confidence >= Confidence.HIGH] == []


def test_wine_through_the_engine(samples_dir, samples_truth, wine_findings):
    """The same findings through the real scan engine (chunks, overlap, hyperscan where installed), each
    attributed to the virtual address the truth records."""
    engine = __import__("viewer.scan.engine", fromlist=["scan_dump"])
    from viewer.evidence import open_dump

    dump = _dump(samples_truth, WINE)
    vaddrs = {}
    for secret in dump["secrets"]:
        for rep, info in secret["representations"].items():
            if rep in BLOB_ENCODINGS:
                for hit in info["hits"]:
                    vaddrs[(BLOB_ENCODINGS[rep], hit["offset"], hit["length"])] = int(hit["vaddr"], 16)
    with open_dump(samples_dir / WINE) as evidence:
        result = engine.scan_dump(evidence, detectors=DETECTORS, chunk_size=4 * 1024 * 1024)
    assert not [w for w in result.warnings if "error" in w.lower()]
    got = {(f.encoding, f.offset, f.length, f.key_id, f.confidence) for f in result.findings}
    assert got == {(f.encoding, f.offset, f.length, f.key_id, f.confidence) for f in wine_findings}
    for f in result.findings:
        if (f.encoding, f.offset, f.length) in vaddrs:
            assert f.vaddr == vaddrs[(f.encoding, f.offset, f.length)]
