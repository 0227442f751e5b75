"""Decompression bombs in a received bundle (viewer.handover.bundle's caps, viewer.handover.extract): a
member that inflates a thousand times its size is refused by verify and extract before it is inflated,
quickly and with flat memory (tracemalloc), with a message naming the member and the cap — and a bundle
within its caps still verifies.

The bombs are the hostile-input builders' (tests/builders/hostile_bundle.py): 1 GiB of zeros deflated to
1 MiB, listed honestly in the manifest, with ZIP headers that lie about the size, or as evidence.
"""

from __future__ import annotations

import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from tests.builders import hostile_bundle as hb
from viewer.cli import verify as verify_cli
from viewer.handover.bundle import (
    DOC_RATIO,
    MAX_DOCUMENT,
    MAX_OTHER_TOTAL,
    RATIO_FLOOR,
    decompression_cap,
    verify_bundle,
)
from viewer.handover.extract import BundleNotVerified, extract_bundle

FLAT = 32 * 1024 * 1024  # the most Python may allocate while refusing a 1 GiB bomb
QUICK = 3.0  # seconds (shared, loaded machine; about 0.1 s here)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hb.base_bundle(tmp_path_factory.mktemp("bomb-base"))


def _measured(fn, *args, **kwargs):
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        value = fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - handed back to the test
        value = exc
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return value, seconds, peak


@pytest.mark.parametrize("kind", ["bomb-listed", "bomb-lying-size", "bomb-evidence"])
def test_a_bomb_is_refused_by_verify_and_extract_quickly_with_flat_memory(base: Path, tmp_path: Path, kind: str,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    bomb = hb.write(kind, base, tmp_path)
    assert bomb.stat().st_size < 4 * 1024 * 1024
    res, seconds, peak = _measured(verify_bundle, bomb)
    assert not res.ok and seconds < QUICK and peak < FLAT, (seconds, peak, res.problems)
    member = "findings.csv" if kind != "bomb-evidence" else next(n for n in hb.members_of(base)
                                                                   if n.startswith("evidence/"))
    named = [p for p in res.problems if p.startswith(member)]
    assert named, res.problems
    if kind == "bomb-listed":
        with zipfile.ZipFile(bomb) as zf:
            compressed = zf.getinfo(member).compress_size
        assert named == [f"{member}: declares {hb.GiB} bytes inflated, over its cap ({DOC_RATIO} times its "
                         f"{compressed} compressed bytes): refused unread as a decompression bomb"]
    if kind == "bomb-evidence":
        assert "over its cap (the evidence size its manifest entry declares" in named[0]
    out = tmp_path / "out"
    exc, seconds, peak = _measured(extract_bundle, bomb, out)
    assert isinstance(exc, BundleNotVerified) and seconds < QUICK and peak < FLAT, (exc, seconds, peak)
    assert not out.exists()
    # the command: the problem on stdout, exit 1
    p = verify_cli.add_parser(__import__("argparse").ArgumentParser().add_subparsers())
    args = p.parse_args([str(bomb)])
    assert args.func(args) == 1
    assert member in capsys.readouterr().out


def test_evidence_the_audit_trail_never_added_is_refused_unread(base: Path, tmp_path: Path) -> None:
    """An extra 1 GiB evidence member with a manifest evidence entry of that size: a size declared only in
    the manifest buys nothing, the evidence must be in the (hash-chained) audit trail."""
    name = "evidence/0000000000000000-zeros.bin"

    def edit(m: dict) -> None:
        m["evidence"].append({"path": "zeros.bin", "size": hb.GiB, "sha256": hb.ZEROS_GIB_SHA256, "format": "raw",
                              "state": "ok", "member": name})

    bomb = hb.rebuild(base, tmp_path / "extra.zip", extra=[hb.zeros_gib(name)], manifest=edit)
    res, seconds, peak = _measured(verify_bundle, bomb)
    assert res.problems == [f"{name}: evidence the audit trail never added (no evidence-added event with its "
                            "SHA-256 and size); refused unread"]
    assert seconds < QUICK and peak < FLAT
    # over the absolute cap of everything but evidence, together: refused before anything is hashed
    many = hb.rebuild(base, tmp_path / "many.zip",
                      extra=[hb.zeros_gib(f"doc{i}.txt") for i in range(5)])
    res = verify_bundle(many)
    assert 5 * hb.GiB > MAX_OTHER_TOTAL and any("together" in p for p in res.problems), res.problems


def test_the_ratio_caps_a_small_text_member(base: Path, tmp_path: Path) -> None:
    """200 MiB of zeros is under the absolute cap but 1000 times its compressed size: refused unread."""
    data = bytes(200 * 1024 * 1024)
    bomb = hb.rebuild(base, tmp_path / "ratio.zip", replace={"report.html": data})
    del data
    res, seconds, peak = _measured(verify_bundle, bomb)
    with zipfile.ZipFile(bomb) as zf:
        compressed = zf.getinfo("report.html").compress_size
    cap = decompression_cap("report.html", compressed)
    assert cap.limit == max(RATIO_FLOOR, DOC_RATIO * compressed) < 200 * 1024 * 1024
    assert res.problems == [f"report.html: declares {200 * 1024 * 1024} bytes inflated, over its cap ({DOC_RATIO} "
                            f"times its {compressed} compressed bytes): refused unread as a decompression bomb"]
    assert seconds < QUICK and peak < FLAT


def test_caps_leave_real_members_alone() -> None:
    """A real report or findings file compresses 3 to 20 times; small members may always reach the floor;
    the encrypted case file does not compress; evidence may be as large as declared, at any ratio."""
    assert decompression_cap("findings.json", 1024 * 1024).limit == 100 * 1024 * 1024
    assert decompression_cap("findings.json", 10).limit == RATIO_FLOOR
    assert decompression_cap("findings.json", 10**9).limit == MAX_DOCUMENT
    assert decompression_cap("case/x.evcase", 50 * 1024 * 1024).limit == 100 * 1024 * 1024
    assert decompression_cap("evidence/a-x.core", 1, evidence_size=8 * 1024**3).limit == 8 * 1024**3


def test_other_compression_methods_are_refused(base: Path, tmp_path: Path) -> None:
    """bzip2 and LZMA inflate far more than deflate can: a bundle never uses them."""
    members = hb.members_of(base)
    bad = tmp_path / "bz2.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data, compress_type=zipfile.ZIP_BZIP2 if name == "findings.json" else zipfile.ZIP_DEFLATED)
    problems = verify_bundle(bad).problems
    assert any(p.startswith("findings.json: compressed with a method other than deflate") for p in problems), problems


@pytest.mark.parametrize("kind", ["overlapping-entries", "signature-bomb"])
def test_overlapping_members_and_a_signature_bomb_are_refused_unread(base: Path, tmp_path: Path, kind: str) -> None:
    """1000 directory entries sharing one bomb's compressed bytes (1 TiB for 1 MiB); signature.json — never
    listed in the manifest — as 1 GiB of zeros."""
    bomb = hb.write(kind, base, tmp_path)
    res, seconds, peak = _measured(verify_bundle, bomb)
    assert seconds < QUICK and peak < FLAT, (seconds, peak)
    if kind == "overlapping-entries":
        assert res.problems == ["the archive's members overlap (their compressed sizes add up to more than the "
                                "file): a crafted ZIP (zip bomb); refused unread"]
    else:
        assert res.signature.status == "invalid" and res.problems[0].startswith("signature.json: signature.json "
                                                                                "cannot be read (over 65536 bytes")


def test_a_bundle_within_its_caps_still_verifies_and_extracts(base: Path, tmp_path: Path) -> None:
    assert verify_bundle(base).ok
    got = extract_bundle(base, tmp_path / "out")
    assert got.case_path.is_file()
