"""The scan engine on real bytes: chunk boundaries, coverage, progress, cancel, both prefilter engines,
validator failures, attribution to regions, dedupe, grouping and public-key matching.

The detectors here are tiny real detectors defined for the test (the engine must not depend on which
detectors exist); the files are generated or taken from the corpus, never mocked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.builders.minidump import build_minidump
from tests.conftest import CORPUS
from viewer.evidence import open_dump
from viewer.scan.detector import Hit, Pattern, View
from viewer.scan.engine import scan_dump
from viewer.scan.finding import Confidence, Finding
from viewer.scan.prefilter import Prefilter, hyperscan_available
from viewer.tasks import TaskState

CHUNK = 4096
ENGINES = ["re"] + (["hyperscan"] if hyperscan_available() else [])


class MarkerDetector:
    """Finds b"EVTEST" + 4 digits; the digits are its 'key id', so equal markers are one secret."""

    name = "evtest"
    patterns = (Pattern("marker", rb"EVTEST[0-9]{4}", 10),)

    def validate(self, view: View, hit: Hit) -> Iterable[Finding]:
        data = view.read(hit.start, hit.end - hit.start)
        yield Finding(
            "test-marker",
            "ascii",
            hit.start,
            len(data),
            Confidence.MEDIUM,
            reasons=["matched the marker"],
            key_id="test:" + data[6:].decode(),
        )


class TwoPatternDetector(MarkerDetector):
    """Two patterns that both match every marker: the engine must report each finding once."""

    name = "evtest2"
    patterns = (Pattern("a", rb"EVTEST[0-9]{4}", 10), Pattern("b", rb"EVT[A-Z]{3}[0-9]{4}", 10))


class RaisingDetector:
    """A buggy validator whose exception message carries evidence bytes (which must not leak)."""

    name = "boom"
    patterns = (Pattern("boom", rb"BOOM[0-9]{4}", 8),)

    def validate(self, view: View, hit: Hit) -> Iterable[Finding]:
        raise ValueError(f"cannot parse {view.read(hit.start, 8)!r}")


class BlockCoverage:
    """A block detector that reports the block it was given: the findings tile the file."""

    name = "coverage"
    patterns: tuple[Pattern, ...] = ()
    block_overlap = 0

    def scan_block(self, view: View, start: int, data: bytes | memoryview) -> Iterable[Finding]:
        yield Finding("block", "raw", start, len(data), Confidence.LOW, secret=False)


@dataclass
class SuppliedKey:
    """The shape viewer.scan.publickeys.load_public_keys returns (label, key_id, kind, source)."""

    label: str
    key_id: str
    kind: str = "test"
    source: str = ""


def write_with_markers(path: Path, size: int, offsets: list[int], marker: bytes = b"EVTEST1234") -> Path:
    data = bytearray(b"." * size)
    for off in offsets:
        data[off : off + len(marker)] = marker
    path.write_bytes(bytes(data))
    return path


def boundary_offsets(size: int) -> list[int]:
    """Markers straddling (and just touching) the 4 KiB boundaries, plus the first and last bytes."""
    out = [0, size - 10, 2 * CHUNK - 10, 3 * CHUNK]  # ends exactly at a boundary; starts exactly at one
    for i, b in enumerate(range(4 * CHUNK, size - CHUNK, CHUNK)):
        out.append(b - 1 - (i % 9))  # boundary-1 ... boundary-9: every straddling position
    return sorted(out)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("executor", ["inline", "thread", "process"])
def test_markers_across_chunk_boundaries_found_exactly_once(tmp_path, engine, executor):
    size = 20 * CHUNK + 123
    offsets = boundary_offsets(size)
    with open_dump(write_with_markers(tmp_path / "m.raw", size, offsets)) as dump:
        result = scan_dump(dump, [MarkerDetector()], chunk_size=CHUNK, engine=engine, executor=executor)
    assert [f.offset for f in result.findings] == offsets
    assert all(f.length == 10 for f in result.findings)
    assert result.stats.bytes_scanned == size and not result.cancelled
    assert result.stats.detectors["evtest"].hits == len(offsets)


def test_every_byte_is_given_to_block_detectors_once(tmp_path):
    size = 7 * CHUNK + 5
    with open_dump(write_with_markers(tmp_path / "b.raw", size, [])) as dump:
        result = scan_dump(dump, [BlockCoverage()], chunk_size=CHUNK)
    blocks = sorted((f.offset, f.length) for f in result.findings)
    assert blocks[0][0] == 0
    assert all(a + n == b for (a, n), (b, _) in zip(blocks, blocks[1:], strict=False))
    assert sum(n for _, n in blocks) == size


def test_bytes_between_and_outside_regions_are_scanned_and_attributed(tmp_path):
    raw, layout = build_minidump(ranges=8, range_size=4096)
    data = bytearray(raw)
    in_range = layout.range_offset(3) + 100
    data[in_range : in_range + 10] = b"EVTEST0003"
    # inside the CSD string after the Memory64List: a stream, not memory
    in_header = layout.memory64_list + 16 + 16 * layout.ranges + 4
    data[in_header : in_header + 10] = b"EVTEST0000"
    data += b"\0" * 50 + b"EVTEST9999" + b"\0" * 20  # trailing bytes outside every region
    trailing = len(raw) + 50
    path = tmp_path / "synthetic.dmp"
    path.write_bytes(bytes(data))
    with open_dump(path) as dump:
        assert dump.format == "minidump"
        result = scan_dump(dump, [MarkerDetector()], chunk_size=CHUNK)
        found = {f.offset: f for f in result.findings}
        assert sorted(found) == [in_header, in_range, trailing]
        assert found[in_range].vaddr == layout.range_va(3) + 100
        region = dump.region_at(in_range)
        assert region is not None and found[in_range].region == (region.name or region.kind)
        assert found[in_header].vaddr is None
        assert found[trailing].vaddr is None and found[trailing].region is None


class UTF16Ntdll:
    """Matches the module name "ntdll" as UTF-16LE, which real Windows minidumps hold."""

    name = "ntdll"
    patterns = (Pattern("ntdll", rb"[nN]\x00[tT]\x00[dD]\x00[lL]\x00[lL]\x00", 10),)

    def validate(self, view: View, hit: Hit) -> Iterable[Finding]:
        yield Finding("module-name", "utf16le", hit.start, hit.end - hit.start, Confidence.LOW, secret=False)


def test_real_minidump_findings_get_vaddr_and_region_from_the_dump():
    path = CORPUS / "bp_minidump2.dmp"
    raw = path.read_bytes()
    expected = [m.start() for m in re.finditer(UTF16Ntdll.patterns[0].regex, raw)]
    assert expected, "the corpus dump names ntdll"
    with open_dump(path) as dump:
        result = scan_dump(dump, [UTF16Ntdll()], chunk_size=CHUNK)
        assert [f.offset for f in result.findings] == expected
        for f in result.findings:
            region = dump.region_at(f.offset)
            assert f.vaddr == dump.file_to_va(f.offset)
            assert f.region == ((region.name or region.kind) if region else None)


def test_progress_reaches_total_and_is_monotonic(tmp_path):
    size = 10 * CHUNK + 1
    seen: list[tuple[int, int]] = []
    with open_dump(write_with_markers(tmp_path / "p.raw", size, [5])) as dump:
        result = scan_dump(dump, [MarkerDetector()], TaskState(on_progress=lambda d, t: seen.append((d, t))), chunk_size=CHUNK)
    assert seen[0] == (0, size) and seen[-1] == (size, size)
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:], strict=False))
    assert not result.cancelled


@pytest.mark.parametrize("executor", ["inline", "thread"])
def test_cancel_from_the_progress_callback_stops_early(tmp_path, executor):
    size = 200 * CHUNK
    state = TaskState()

    def progress(done: int, total: int) -> None:
        if done > 0:
            state.cancel()

    state.on_progress = progress
    with open_dump(write_with_markers(tmp_path / "c.raw", size, [size - 20])) as dump:
        result = scan_dump(dump, [MarkerDetector()], state, chunk_size=CHUNK, executor=executor, workers=2)
    assert result.cancelled
    assert result.stats.bytes_scanned < size
    assert any("cancelled" in w for w in result.warnings)


@pytest.mark.skipif(not hyperscan_available(), reason="hyperscan is not installed")
def test_hyperscan_and_re_give_identical_findings(tmp_path):
    size = 30 * CHUNK
    offsets = boundary_offsets(size)
    data = bytearray(write_with_markers(tmp_path / "h.raw", size, offsets).read_bytes())
    data[50_000:50_100] = b"EVTEST" * 16 + b"1234"  # overlapping candidates
    data[60_000:60_020] = b"EVTESTEVTEST12345678"
    (tmp_path / "h.raw").write_bytes(bytes(data))
    results = {}
    with open_dump(tmp_path / "h.raw") as dump:
        for engine in ("hyperscan", "re"):
            r = scan_dump(dump, [MarkerDetector(), TwoPatternDetector()], chunk_size=CHUNK, engine=engine)
            assert r.stats.engine == engine
            results[engine] = [f.to_json() for f in r.findings]
    assert results["hyperscan"] == results["re"]
    assert len(results["re"]) > len(offsets)


def test_ev_no_hyperscan_forces_the_re_engine(tmp_path, monkeypatch):
    monkeypatch.setenv("EV_NO_HYPERSCAN", "1")
    with open_dump(write_with_markers(tmp_path / "e.raw", 3 * CHUNK, [CHUNK - 3])) as dump:
        result = scan_dump(dump, [MarkerDetector()], chunk_size=CHUNK)
    assert result.stats.engine == "re"
    assert [f.offset for f in result.findings] == [CHUNK - 3]


@pytest.mark.skipif(not hyperscan_available(), reason="hyperscan is not installed")
def test_patterns_hyperscan_cannot_start_are_searched_back():
    """A long bounded repeat is refused with SOM_LEFTMOST; starts must still equal re's."""
    pats = [Pattern("long", rb"[a-c]{5,300}x", 400), Pattern("marker", rb"EVTEST[0-9]{4}", 10)]
    hs = Prefilter.build(pats, [0, 0], "hyperscan")
    assert any("long" in n for n in hs.notes)
    data = b"zz" + b"abc" * 50 + b"x--EVTEST0001 aaaaax ab" + b"c" * 400 + b"x"
    assert hs.scanner().scan(data) == Prefilter.build(pats, [0, 0], "re").scanner().scan(data)


def test_a_raising_validator_is_a_warning_without_data(tmp_path):
    size = 4 * CHUNK
    offsets = [100, CHUNK - 4, 3 * CHUNK]
    path = write_with_markers(tmp_path / "r.raw", size, offsets, marker=b"BOOM4242")
    data = bytearray(path.read_bytes())
    data[2000:2010] = b"EVTEST7777"
    path.write_bytes(bytes(data))
    with open_dump(path) as dump:
        result = scan_dump(dump, [RaisingDetector(), MarkerDetector()], chunk_size=CHUNK)
    assert [f.offset for f in result.findings] == [2000]  # the scan went on
    assert result.stats.detectors["boom"].errors == 3
    assert len(result.warnings) == 1
    warning = result.warnings[0]
    assert "ValueError" in warning and "3 hit" in warning and f"{100:#x}" in warning
    assert "BOOM" not in warning and "4242" not in warning


def test_duplicate_findings_are_merged_and_secrets_grouped_by_key_id(tmp_path):
    path = write_with_markers(tmp_path / "d.raw", 3 * CHUNK, [10, CHUNK + 7])  # two copies of key 1234
    data = bytearray(path.read_bytes())
    data[9000:9010] = b"EVTEST5678"
    path.write_bytes(bytes(data))
    with open_dump(path) as dump:
        result = scan_dump(dump, [TwoPatternDetector()], chunk_size=CHUNK)
    assert result.stats.detectors["evtest2"].hits == 6  # both patterns hit each marker ...
    assert [f.offset for f in result.findings] == [10, CHUNK + 7, 9000]  # ... one finding each
    assert len({f.id for f in result.findings}) == 3
    by_key = {s.key_id: s for s in result.secrets}
    assert set(by_key) == {"test:1234", "test:5678"}
    assert [loc["offset"] for loc in by_key["test:1234"].locations] == [10, CHUNK + 7]


def test_supplied_public_keys_confirm_their_private_halves(tmp_path):
    path = write_with_markers(tmp_path / "k.raw", 2 * CHUNK, [10, 3000])
    supplied = [SuppliedKey("alice.pub", "test:1234"), SuppliedKey("bob.pub", "test:0000")]
    with open_dump(path) as dump:
        result = scan_dump(dump, [MarkerDetector()], public_keys=supplied, chunk_size=CHUNK)
    assert result.public_keys == [
        {"label": "alice.pub", "key_id": "test:1234", "found": True},
        {"label": "bob.pub", "key_id": "test:0000", "found": False},
    ]
    for f in result.findings:
        assert f.confidence == Confidence.CONFIRMED and f.matches == ["alice.pub"]
        assert "private half of supplied public key alice.pub" in f.reasons
    assert result.secrets[0].matches == ["alice.pub"]
    assert result.secrets[0].confidence == Confidence.CONFIRMED


def test_empty_file_scans_cleanly(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    with open_dump(tmp_path / "empty") as dump:
        result = scan_dump(dump, [MarkerDetector()], chunk_size=CHUNK)
    assert result.findings == [] and result.stats.bytes_scanned == 0 and not result.cancelled
