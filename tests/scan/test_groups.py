"""The one grouping of findings by secret (viewer.scan.engine.secret_groups / group_secrets): what a view
of "group by secret" needs, and what the documents report."""

from __future__ import annotations

from viewer.scan.engine import group_key, group_secrets, secret_groups
from viewer.scan.finding import Confidence, Finding


def f(kind, offset, confidence, key_id=None, secret=True, matches=()):
    return Finding(kind, "enc", offset, 10, confidence, key_id=key_id, secret=secret, matches=list(matches))


FINDINGS = [
    f("rsa-private-key", 500, Confidence.HIGH, "k1", matches=["pub.pem#a"]),
    f("certificate", 50, Confidence.HIGH, "k1", secret=False),
    f("rsa-private-key", 100, Confidence.CONFIRMED, "k1", matches=["pub.pem#a", "jwks#b"]),
    f("api-token", 30, Confidence.MEDIUM),
    f("aes-key", 700, Confidence.CONFIRMED, "sym:x"),
    f("aes-key", 10, Confidence.CONFIRMED, "sym:x"),
]


def test_secret_groups_give_a_view_what_it_needs():
    groups = secret_groups(FINDINGS)
    assert [(g.key_id, g.kind, g.confidence) for g in groups] == [
        ("sym:x", "aes-key", Confidence.CONFIRMED),  # best confidence first, then the first location
        ("k1", "rsa-private-key", Confidence.CONFIRMED),
        (None, "api-token", Confidence.MEDIUM),
    ]
    k1 = groups[1]
    assert [x.offset for x in k1.findings] == [100, 500]  # secrets only, in file order
    assert k1.matches == ["pub.pem#a", "jwks#b"]
    assert k1.key == "k1" and groups[2].key == group_key(FINDINGS[3]) == f"finding:{FINDINGS[3].id}"


def test_group_secrets_is_the_same_grouping_for_documents():
    secrets = group_secrets(FINDINGS)
    groups = secret_groups(FINDINGS)
    assert [s.finding_ids for s in secrets] == [[x.id for x in g.findings] for g in groups]
    assert [s.to_json()["locations"][0]["offset"] for s in secrets] == [10, 100, 30]
    assert secrets[1].to_json()["confidence"] == "confirmed"
