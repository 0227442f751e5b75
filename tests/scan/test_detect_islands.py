"""Small high-entropy islands on real bytes: random keys planted in zeroed memory at known offsets are
reported exactly there, always ``low``; the same bytes inside random data, or inside a range another
finding explains, are not; the public corpus dumps give only capped ``low`` leads."""

from __future__ import annotations

import os

import pytest

from tests.conftest import corpus_files
from viewer.evidence import open_dump
from viewer.scan.detector import PostScanContext
from viewer.scan.detectors.islands import MAX_REPORTED, IslandsDetector, candidate_runs, check_island
from viewer.scan.engine import scan_dump
from viewer.scan.finding import Confidence, Finding
from viewer.tasks import TaskState

MiB = 1024 * 1024


def key(n: int = 32, fill: int = 0) -> bytes:
    """Random bytes that pass as a key: no fill byte at the edges (trimmed as fill otherwise)."""
    while True:
        k = os.urandom(n)
        if k[0] not in (0, fill) and k[-1] not in (0, fill) and k.count(0) <= 1 and len(set(k)) >= 0.85 * n:
            return k


def islands(path, findings=(), detector=None, state=None):
    det = detector or IslandsDetector()
    with open_dump(path) as dump:
        ctx = PostScanContext(dump=dump, view=dump.source, findings=tuple(findings), state=state, deep=True)
        return list(det.post_scan(ctx)), ctx.notes


def test_island_in_zeros_is_found_exactly(tmp_path):
    data = bytearray(2 * MiB)
    k = key()
    at = 0x12345 * 8 + 3  # not 8-aligned either
    data[at : at + 32] = k
    path = tmp_path / "zeros.raw"
    path.write_bytes(bytes(data))
    found, notes = islands(path)
    assert [(f.offset, f.length) for f in found] == [(at, 32)], notes
    f = found[0]
    assert f.kind == "high-entropy" and f.encoding == "raw" and f.secret
    assert f.confidence == Confidence.LOW and f.key_id is None
    assert f.details["rank"] == 1 and 4.5 < f.details["entropy"] <= 5.0


def test_islands_of_every_size_and_fill_in_one_file_ranked(tmp_path):
    data = bytearray(4 * MiB)
    data[3 * MiB :] = b"\xcd" * MiB  # debug-heap fill counts as quiet memory too
    planted = {}
    for i, n in enumerate((16, 24, 32, 48, 64)):
        at = 0x10000 * (i + 1) + 8 * i
        planted[at] = n
        data[at : at + n] = key(n)
    data[3 * MiB + 0x800 : 3 * MiB + 0x800 + 32] = key(32, fill=0xCD)
    planted[3 * MiB + 0x800] = 32
    path = tmp_path / "sizes.raw"
    path.write_bytes(bytes(data))
    found, _notes = islands(path)
    assert {(f.offset, f.length) for f in found} == set(planted.items())
    assert sorted(f.details["rank"] for f in found) == list(range(1, len(planted) + 1))
    assert all(f.confidence == Confidence.LOW for f in found)


def test_island_across_a_chunk_boundary(tmp_path):
    from viewer.scan.detectors.islands import CHUNK

    data = bytearray(CHUNK + MiB)
    at = CHUNK - 12
    data[at : at + 32] = key()
    path = tmp_path / "boundary.raw"
    path.write_bytes(bytes(data))
    found, _notes = islands(path)
    assert [(f.offset, f.length) for f in found] == [(at, 32)]


def test_island_inside_random_data_is_nothing(tmp_path):
    data = bytearray(os.urandom(2 * MiB))
    k = key()
    data[0x40000 : 0x40020] = k
    path = tmp_path / "random.raw"
    path.write_bytes(bytes(data))
    found, _notes = islands(path)
    assert found == []


def test_island_explained_by_another_finding_is_dropped(tmp_path):
    data = bytearray(MiB)
    at = 0x8000
    data[at : at + 32] = key()
    data[0x20000 : 0x20020] = key()  # a second one, unexplained
    path = tmp_path / "explained.raw"
    path.write_bytes(bytes(data))
    covering = Finding("symmetric-key", "raw", at - 16, 64, Confidence.HIGH, reasons=["a real structure"])
    found, notes = islands(path, findings=[covering])
    assert [(f.offset, f.length) for f in found] == [(0x20000, 32)]
    assert any("1 explained by other findings" in n for n in notes), notes


def test_cap_is_honoured_and_noted(tmp_path):
    data = bytearray(MiB)
    offsets = [0x1000 + i * 0x400 for i in range(20)]
    for at in offsets:
        data[at : at + 32] = key()
    path = tmp_path / "many.raw"
    path.write_bytes(bytes(data))
    found, notes = islands(path, detector=IslandsDetector(max_reported=5))
    assert len(found) == 5
    assert [f.details["rank"] for f in found] == [1, 2, 3, 4, 5]
    assert any("15 lower-ranked island(s) not reported" in n for n in notes), notes


def test_text_pointers_and_low_entropy_are_not_islands():
    zeros = b"\0" * 256
    assert check_island(b"correct horse battery staple!!!!", 0, 0) is None  # text
    assert check_island(b"\x10\x32\x54\x76\x98\x7f\x00\x00" * 4, 0, 0) is None  # pointers
    assert check_island(bytes(range(1, 33)), 0, 0) is not None  # 32 distinct values pass
    assert check_island(bytes(range(1, 9)) * 4, 0, 0) is None  # repeats
    import numpy as np

    words = np.frombuffer(zeros + key() + zeros, dtype="<u8")
    starts, ends, _b, _a = candidate_runs(words)
    assert starts.tolist() == [32] and ends.tolist() == [36]


def test_runs_only_for_a_deep_scan_unless_told(tmp_path):
    data = bytearray(MiB)
    data[0x9000 : 0x9020] = key()
    path = tmp_path / "deep.raw"
    path.write_bytes(bytes(data))
    with open_dump(path) as dump:
        assert list(IslandsDetector().post_scan(PostScanContext(dump=dump, view=dump.source, findings=()))) == []
        deep = list(IslandsDetector().post_scan(PostScanContext(dump=dump, view=dump.source, findings=(), deep=True)))
        always = IslandsDetector(deep_only=False)
        shallow = list(always.post_scan(PostScanContext(dump=dump, view=dump.source, findings=())))
    assert [(f.offset, f.length) for f in deep] == [(0x9000, 32)]
    assert [(f.offset, f.length) for f in shallow] == [(0x9000, 32)]


def test_cancel_is_honoured(tmp_path):
    path = tmp_path / "big.raw"
    path.write_bytes(bytes(32 * MiB))
    state = TaskState()
    state.cancel()
    found, notes = islands(path, state=state)
    assert found == [] and any("cancelled" in n for n in notes)


@pytest.mark.slow
def test_deep_scan_reports_an_island_and_the_default_scan_does_not(tmp_path):
    data = bytearray(MiB)
    k = key()
    data[0x9000 : 0x9020] = k
    path = tmp_path / "default.raw"
    path.write_bytes(bytes(data))
    with open_dump(path) as dump:
        default = scan_dump(dump)
        deep = scan_dump(dump, deep=True)
    assert not [f for f in default.findings if f.kind == "high-entropy"]
    hits = [f for f in deep.findings if f.kind == "high-entropy"]
    assert [(f.offset, f.length, f.confidence) for f in hits] == [(0x9000, 32, Confidence.LOW)]
    assert k.hex() not in str(deep.to_json())


FILES = corpus_files()


@pytest.mark.slow
@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_corpus_islands_are_low_and_capped(path, scan_once):
    result = scan_once(path).result  # the default scan, shared with test_scan_corpus
    with open_dump(path) as dump:
        assert not result.cancelled
        ctx = PostScanContext(dump=dump, view=dump.source, findings=tuple(result.findings), deep=True)
        found = list(IslandsDetector().post_scan(ctx))
    assert len(found) <= MAX_REPORTED
    assert all(f.kind == "high-entropy" and f.confidence == Confidence.LOW for f in found)
    assert all(16 <= f.length <= 64 and f.secret and f.key_id is None for f in found)
    assert sorted(f.details["rank"] for f in found) == list(range(1, len(found) + 1))
    for f in found:  # nothing another finding explains
        assert not any(o.offset < f.offset + f.length and f.offset < o.offset + max(1, o.length) for o in result.findings)
