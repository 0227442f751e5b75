"""PEM and DER detectors against the ground truth of the two sample dumps (real processes holding real
keys, written by gdb's gcore and by Wine's MiniDumpWriteDump).

For every secret in samples-truth.json and every representation of it that these detectors cover
(PEM PKCS#1/PKCS#8/SEC1 in ASCII, UTF-16LE and JSON-escaped, DER PKCS#1/PKCS#8/SEC1, OpenSSH PEM), every
recorded hit must be a ``confirmed`` finding at exactly that file offset and length, with the key id of
the matching key in the sample's ``.public.pem``. Copies the truth records as partial (the beginning of a
PEM without its END, role "mixed") must be found as truncated PEM: same place, below ``high``, no key id.

And the other way round: every ``high`` or ``confirmed`` secret finding of these detectors must be one of
the truth's hits (of a covered representation) or one of its ``unplanted_secrets`` — real key material
the process held without the generator planting it, verified by the truth's author and therefore
allowed. The truth's ``public_objects`` are not secrets (the Wine dump holds a decoy PEM whose body is
"<redacted: ...>"): nothing may be reported there at ``high`` or above. Certificates and public keys
(``secret=False``, e.g. the Windows root certificates in the Wine dump) are public context and not
counted.
"""

from __future__ import annotations

import re

import pytest

from tests.scan.test_detect_pem_der import DETECTORS, run_detectors
from viewer.scan.finding import Confidence
from viewer.scan.publickeys import load_public_key_file

COVERED = re.compile(r"^(?:(?:pem|der)-(?:pkcs1|pkcs8|sec1)(?:-utf16le|-json-escaped)?|openssh-key-v1-pem)$")
DUMPS = ["gcore-python-rsa-ec.core", "wine-keyholder-full.dmp"]


def encoding_of(rep: str) -> str:
    return "pem-openssh" if rep == "openssh-key-v1-pem" else rep


def truth_for(samples_truth: dict, dump: str) -> dict:
    return next(d for d in samples_truth["dumps"] if d["file"] == dump)


def expected_key_ids(samples_dir, dump: str) -> dict[str, str]:
    """Secret name (the part after '#' of the kid) -> key id, from the sample's public PEM."""
    return {k.label.split("#", 1)[1]: k.key_id for k in load_public_key_file(samples_dir / f"{dump}.public.pem")}


@pytest.fixture(scope="module")
def findings(samples_dir):
    return {dump: run_detectors(samples_dir / dump) for dump in DUMPS}


@pytest.mark.parametrize("dump", DUMPS)
def test_every_covered_representation_found(dump, findings, samples_dir, samples_truth):
    truth = truth_for(samples_truth, dump)
    key_ids = expected_key_ids(samples_dir, dump)
    at = {(f.offset, f.length): f for f in findings[dump]}
    checked = 0
    for secret in truth["secrets"]:
        for rep, record in secret["representations"].items():
            if not COVERED.match(rep):
                continue
            for hit in record["hits"]:
                f = at.get((hit["offset"], hit["length"]))
                assert f is not None, f"{secret['id']} {rep}: nothing at {hit['offset']}+{hit['length']}"
                assert f.encoding == encoding_of(rep), (secret["id"], rep, f.encoding)
                assert f.confidence == Confidence.CONFIRMED, (secret["id"], rep, f.reasons)
                assert f.key_id == key_ids[secret["name"]], (secret["id"], rep)
                assert f.kind == {"rsa-private": "rsa-private-key", "ec-private": "ec-private-key"}[secret["type"]]
                checked += 1
        # planted representations the truth says were found are among those checked
        for rep, found in secret["planted_found"].items():
            if COVERED.match(rep):
                assert found and secret["representations"][rep]["hits"], (secret["id"], rep)
    # gcore: RSA PEM PKCS#8 + DER PKCS#1, EC PEM PKCS#8 + DER SEC1; Wine: RSA PEM, UTF-16LE PEM, DER PKCS#1
    assert checked == {"gcore-python-rsa-ec.core": 4, "wine-keyholder-full.dmp": 3}[dump]


@pytest.mark.parametrize("dump", DUMPS)
def test_partial_pem_copies_are_truncated_findings(dump, findings, samples_truth):
    truth = truth_for(samples_truth, dump)
    at = {(f.offset, f.length): f for f in findings[dump]}
    for secret in truth["secrets"]:
        for rep, record in secret["representations"].items():
            if not (rep.startswith("pem-") and rep.endswith("-partial")):
                continue
            for hit in record["hits"]:
                f = at.get((hit["offset"], hit["length"]))
                assert f is not None, (secret["id"], rep, hit)
                assert f.confidence < Confidence.HIGH and f.key_id is None
                assert "truncated PEM private key" in f.reasons[0]


@pytest.mark.parametrize("dump", DUMPS)
def test_nothing_high_outside_the_truth(dump, findings, samples_truth):
    truth = truth_for(samples_truth, dump)
    allowed = {(u["offset"], u["length"]) for u in truth["unplanted_secrets"]}
    for secret in truth["secrets"]:
        for rep, record in secret["representations"].items():
            if COVERED.match(rep):
                allowed.update((h["offset"], h["length"]) for h in record["hits"])
    strong = [f for f in findings[dump] if f.secret and f.confidence >= Confidence.HIGH]
    extra = [(f.offset, f.length, f.kind, f.encoding) for f in strong if (f.offset, f.length) not in allowed]
    assert not extra
    for obj in truth["public_objects"]:
        for hit in obj["hits"]:
            near = [f for f in findings[dump] if f.secret and hit["offset"] <= f.offset < hit["offset"] + hit["length"]]
            assert all(f.confidence < Confidence.HIGH for f in near), obj["id"]


@pytest.mark.parametrize("dump", DUMPS)
def test_engine_agrees(dump, findings, samples_dir):
    """Through the scan engine (hyperscan when installed, chunked, threaded): the same findings."""
    from viewer.evidence import open_dump
    from viewer.scan.engine import scan_dump

    with open_dump(samples_dir / dump) as d:
        result = scan_dump(d, detectors=DETECTORS, chunk_size=4 * 1024 * 1024)

    def key(f):
        return (f.offset, f.length, f.kind, f.encoding, f.confidence, f.key_id)

    assert sorted(map(key, result.findings)) == sorted(map(key, findings[dump]))
