"""The question the product exists for, asked of the two sample dumps: is the private half of this
published public key (a PEM file, or an identity provider's JWKS) in the dump? Every planted key must be
found, confirmed, and name the supplied key it belongs to."""

from __future__ import annotations

import json

import pytest

from viewer.scan.finding import Confidence
from viewer.scan.publickeys import load_public_keys

DUMPS = ["gcore-python-rsa-ec.core", "wine-keyholder-full.dmp"]


@pytest.mark.parametrize("name", DUMPS)
@pytest.mark.parametrize("supplied", ["public.pem", "jwks.json"])
def test_every_supplied_public_key_is_found(samples_dir, samples_truth, scan_once, name, supplied):
    keys = load_public_keys([samples_dir / f"{name}.{supplied}"])
    truth = next(d for d in samples_truth["dumps"] if d["file"] == name)
    asymmetric = [s for s in truth["secrets"] if s["type"] in ("rsa-private", "ec-private")]
    assert len(keys) == len(asymmetric), [k.label for k in keys]
    result = scan_once(samples_dir / name, samples_dir / f"{name}.{supplied}").result  # keys of that file
    assert [pk for pk in result.public_keys if not pk["found"]] == []
    for key in keys:
        matched = [f for f in result.findings if key.label in f.matches and f.secret]
        assert matched, f"no secret finding names {key.label}"
        assert all(f.key_id == key.key_id and f.confidence == Confidence.CONFIRMED for f in matched)
    json.dumps(result.to_json())  # the whole result is serialisable (and carries no key bytes)
