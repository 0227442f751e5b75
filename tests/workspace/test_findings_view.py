"""The findings view without Qt: one grouping (the engine's secrets, with their public context), the
filter, cell texts and sort keys, on the findings of real scans."""

from __future__ import annotations

import os

from viewer.evidence import open_dump
from viewer.scan.engine import group_secrets, scan_dump
from viewer.scan.finding import Confidence, Finding
from viewer.workspace.findings_view import (
    COL_CONFIDENCE,
    COL_KEY_ID,
    COL_OFFSET,
    COL_VADDR,
    FindingFilter,
    cell_text,
    count_text,
    group_cell,
    group_findings,
    short_key_id,
    sort_key,
)


def all_findings(scanned_samples) -> list[list[Finding]]:
    return [s.result.findings for s in scanned_samples.values()]


def test_the_view_groups_exactly_as_the_engine_plus_public_context(scanned_samples, demo_scan) -> None:
    for findings in [*all_findings(scanned_samples), demo_scan.result.findings]:
        groups = group_findings(findings)
        secrets = group_secrets(findings)
        secret_groups = [g for g in groups if g.secret]
        # the engine's secrets, in the engine's order, with the same members and best confidence
        assert [g.key_id for g in secret_groups] == [s.key_id for s in secrets]
        for g, s in zip(secret_groups, secrets, strict=True):
            assert sorted(f.id for f in g.findings if f.secret) == sorted(s.finding_ids)
            assert max(f.confidence for f in g.findings if f.secret) == s.confidence
            assert g.matches[: len(s.matches)] == s.matches or set(s.matches) <= set(g.matches)
        # every finding in exactly one group, the secrets first, public context after
        assert sorted(id(f) for g in groups for f in g.findings) == sorted(id(f) for f in findings)
        assert [g.secret for g in groups] == sorted((g.secret for g in groups), reverse=True)
        for g in groups:
            assert len({f.key_id or f"finding:{f.id}" for f in g.findings}) == 1
            offsets = [(f.offset, f.length, f.kind) for f in g.findings]
            assert offsets == sorted(offsets)
            assert g.confidence == max(f.confidence for f in g.findings)


def test_a_public_key_joins_the_group_of_its_private_half(tmp_path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    path = tmp_path / "pair.bin"
    path.write_bytes(os.urandom(8192) + pem + os.urandom(8192) + spki + os.urandom(8192))
    with open_dump(path) as dump:
        findings = scan_dump(dump).findings
    assert any(not f.secret for f in findings) and any(f.secret for f in findings)
    groups = group_findings(findings)
    joined = [g for g in groups if g.secret and not all(f.secret for f in g.findings)]
    assert len(joined) == 1 and joined[0].best.secret and joined[0].kind == "rsa-private-key"
    assert {f.secret for f in joined[0].findings} == {True, False}
    assert [g.key_id for g in groups if g.secret] == [s.key_id for s in group_secrets(findings)]


def test_filter_and_cells(scanned_samples) -> None:
    findings = next(iter(scanned_samples.values())).result.findings
    assert findings
    kinds = {f.kind for f in findings}
    one = sorted(kinds)[0]
    assert all(f.kind == one for f in FindingFilter(frozenset({one})).apply(findings))
    confirmed = FindingFilter(min_confidence=Confidence.CONFIRMED).apply(findings)
    assert all(f.confidence == Confidence.CONFIRMED for f in confirmed)
    with_id = next(f for f in findings if f.key_id)
    assert with_id in FindingFilter(text=with_id.key_id[:8].upper()).apply(findings)
    assert FindingFilter().apply(findings) == findings
    f = with_id
    assert cell_text(f, COL_OFFSET) == f"{f.offset:#x}" and sort_key(f, COL_OFFSET) == f.offset
    assert cell_text(f, COL_KEY_ID) == short_key_id(f.key_id) and len(cell_text(f, COL_KEY_ID)) <= 13
    assert sort_key(f, COL_CONFIDENCE) == int(f.confidence)
    assert sort_key(f, COL_VADDR) == ("" if f.vaddr is None else f"{f.vaddr:016x}")
    g = group_findings(findings)[0]
    n = len(g.findings)
    assert group_cell(g, COL_OFFSET) == f"{n} location" + ("s" if n != 1 else "")
    assert count_text(10, 4) == "4 of 10 findings" and count_text(10, 4, 2) == "2 secrets, 4 of 10 findings"
