"""Wine CNG key objects (viewer.scan.detectors.winecng): the raw AES-256 key of the Wine sample, which has
no key schedule in the dump, found through the bcrypt key object that points at it.

Against the real sample: exactly the truth's two offsets, the right key id, nothing else at high or
above, no object or key in any corpus dump. With built minidumps: the 32-bit and 64-bit declarations,
pointers that lead outside the dump, degenerate keys, lying fields, progress and cancel.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builders.minidump import build_minidump
from tests.conftest import corpus_files
from viewer.evidence import open_dump
from viewer.scan.detector import PostScanContext
from viewer.scan.detectors import default_detectors
from viewer.scan.detectors.winecng import (
    KEY_ENCODING,
    KEY_STRUCTS,
    OBJECT_KIND,
    WineCngDetector,
    degenerate,
    key_struct,
    parse_key_object,
)
from viewer.scan.engine import scan_dump
from viewer.scan.finding import Confidence
from viewer.scan.keys import symmetric_key_id
from viewer.tasks import TaskState

WINE = "wine-keyholder-full.dmp"
OBJECT_OFFSET = 8876559  # where the sample's one key object sits (read from the dump, see the module doc)


def truth_secret(samples_truth: dict) -> dict:
    dump = next(d for d in samples_truth["dumps"] if d["file"] == WINE)
    return next(s for s in dump["secrets"] if s["name"] == "bcrypt-aes-256")


@pytest.fixture(scope="module")
def wine_findings(samples_dir: Path) -> list:
    with open_dump(samples_dir / WINE) as dump:
        return scan_dump(dump, detectors=[WineCngDetector()]).findings


def test_wine_sample_key_found_at_every_truth_offset(wine_findings: list, samples_truth: dict) -> None:
    secret = truth_secret(samples_truth)
    key = bytes.fromhex(secret["public"]["key_hex"])
    keys = [f for f in wine_findings if f.secret]
    assert sorted((f.offset, f.length) for f in keys) == sorted(tuple(r) for r in secret["ranges"])
    assert {f.key_id for f in keys} == {symmetric_key_id(key)}
    assert all(f.kind == "aes-key" and f.confidence == Confidence.HIGH for f in keys)
    held = [f for f in keys if f.encoding == KEY_ENCODING]
    assert len(held) == 1 and held[0].details["object_offset"] == OBJECT_OFFSET
    truth_vaddrs = {h["offset"]: int(h["vaddr"], 16) for h in secret["representations"]["raw"]["hits"]}
    assert {f.offset: f.vaddr for f in keys} == truth_vaddrs
    copies = [f for f in keys if f.encoding == "raw"]
    assert len(copies) == 1 and f"{OBJECT_OFFSET:#x}" in copies[0].reasons[0]


def test_wine_sample_has_exactly_one_key_object(wine_findings: list, samples_dir: Path) -> None:
    """The magic occurs 30-odd times in the dump (code, tables); only the live object parses."""
    data = (samples_dir / WINE).read_bytes()
    assert data.count(b"0YEK") > 20
    objects = [f for f in wine_findings if f.kind == OBJECT_KIND]
    assert [(f.offset, f.secret) for f in objects] == [(OBJECT_OFFSET, False)]
    d = objects[0].details
    assert (d["algorithm"], d["mode"], d["key_bytes"], d["pointer_bits"]) == ("AES", "CBC", 32, 64)
    assert int(d["key_vaddr"], 16) == 0x10AA130
    assert not any(b in str(objects[0].to_json()).encode() for b in (data[8876671:8876687].hex().encode(),))


def test_full_scan_reports_the_key_once_per_place(scanned_samples: dict, samples_truth: dict) -> None:
    """With every default detector the key is found, and no other detector disagrees about it."""
    secret = truth_secret(samples_truth)
    findings = scanned_samples[WINE].result.findings
    for off, length in secret["ranges"]:
        here = [f for f in findings if f.secret and f.offset == off and f.length == length]
        assert len(here) == 1 and here[0].key_id == symmetric_key_id(bytes.fromhex(secret["public"]["key_hex"]))


def test_registered_in_default_detectors() -> None:
    assert any(isinstance(d, WineCngDetector) for d in default_detectors())


@pytest.mark.slow
@pytest.mark.parametrize("path", [*corpus_files()], ids=lambda p: p.name)
def test_corpus_has_no_key_object(path: Path) -> None:
    with open_dump(path) as dump:
        result = scan_dump(dump, detectors=[WineCngDetector()], executor="inline")
    assert result.findings == [] and not result.warnings


def test_gcore_sample_has_no_key_object(samples_dir: Path) -> None:
    with open_dump(samples_dir / "gcore-python-rsa-ec.core") as dump:
        assert scan_dump(dump, detectors=[WineCngDetector()]).findings == []


# -- built dumps -----------------------------------------------------------------------------------
KEY = bytes(range(0x41, 0x41 + 32))


def object_bytes(bits: int, key_va: int, *, alg: int = 1, mode: int = 4, block: int = 16, iv_va: int = 0x7000,
                 iv_len: int = 12, key_len: int = 32) -> bytes:
    return key_struct(bits).build({
        "alg_id": alg, "private": [0x1234, 0], "mode": mode, "block_size": block,
        "vector": iv_va, "vector_len": iv_len, "secret": key_va, "secret_len": key_len,
    })


def built_dump(tmp_path: Path, bits: int, *, key: bytes = KEY, key_in_dump: bool = True, copy: bool = True,
               **fields: int) -> tuple[Path, dict[str, int]]:
    """A minidump whose range 2 holds a key object, range 5 (+16) its key and range 7 a copy of it."""
    data, layout = build_minidump(ranges=8, range_size=256)
    buf = bytearray(data)
    key_va = layout.range_va(5) + 16 if key_in_dump else 0x7FFF0000
    obj = object_bytes(bits, key_va, key_len=len(key), **fields)
    at = {"object": layout.range_offset(2) + 8, "key": layout.range_offset(5) + 16, "copy": layout.range_offset(7) + 40}
    buf[at["object"] : at["object"] + len(obj)] = obj
    buf[at["key"] : at["key"] + len(key)] = key
    if copy:
        buf[at["copy"] : at["copy"] + len(key)] = key
    path = tmp_path / f"built-{bits}.dmp"
    path.write_bytes(bytes(buf))
    return path, at


@pytest.mark.parametrize("bits", [64, 32])
def test_built_object_each_pointer_size(tmp_path: Path, bits: int) -> None:
    path, at = built_dump(tmp_path, bits)
    with open_dump(path) as dump:
        result = scan_dump(dump, detectors=[WineCngDetector()], executor="inline")
    by_encoding = {f.encoding: f for f in result.findings}
    assert by_encoding["wine-bcrypt-key-object"].offset == at["object"]
    assert by_encoding["wine-bcrypt-key-object"].details["pointer_bits"] == bits
    assert by_encoding["wine-bcrypt-key-object"].details["mode"] == "GCM"
    assert (by_encoding[KEY_ENCODING].offset, by_encoding[KEY_ENCODING].length) == (at["key"], 32)
    assert (by_encoding["raw"].offset, by_encoding["raw"].length) == (at["copy"], 32)
    assert by_encoding["raw"].key_id == by_encoding[KEY_ENCODING].key_id == symmetric_key_id(KEY)
    assert len(result.findings) == 3


def test_built_3des_key_is_a_symmetric_key(tmp_path: Path) -> None:
    key = KEY[:24]
    path, at = built_dump(tmp_path, 64, key=key, alg=0, mode=0, block=8, iv_len=8, copy=False)
    with open_dump(path) as dump:
        found = [f for f in scan_dump(dump, detectors=[WineCngDetector()], executor="inline").findings if f.secret]
    assert [(f.kind, f.offset, f.length, f.details["algorithm"]) for f in found] == [
        ("symmetric-key", at["key"], 24, "3DES")]


def test_key_outside_the_dump_is_a_note(tmp_path: Path) -> None:
    path, _ = built_dump(tmp_path, 64, key_in_dump=False)
    with open_dump(path) as dump:
        result = scan_dump(dump, detectors=[WineCngDetector()], executor="inline")
    assert [f.kind for f in result.findings] == [OBJECT_KIND]
    assert any("not (all) in the dump" in n for n in result.stats.notes)


@pytest.mark.parametrize("key", [bytes(32), b"REDACTED" * 4, bytes(range(8)) * 4, (bytes(range(5)) * 7)[:32]],
                         ids=["zeros", "redaction-filler", "period-8", "period-5"])
def test_degenerate_key_is_not_reported(tmp_path: Path, key: bytes) -> None:
    assert degenerate(key) and not degenerate(KEY)
    path, _ = built_dump(tmp_path, 64, key=key)
    with open_dump(path) as dump:
        result = scan_dump(dump, detectors=[WineCngDetector()], executor="inline")
    assert [f.kind for f in result.findings] == [OBJECT_KIND]
    assert any("degenerate" in n for n in result.stats.notes)


@pytest.mark.parametrize("field,value", [
    ("alg", 3),  # a hash, not a cipher
    ("mode", 9),  # no such chaining mode
    ("block", 8),  # AES with a 3DES block size
    ("key_len", 20),  # AES has no 20-byte key
    ("iv_len", 0),  # an IV pointer without a length
])
def test_inconsistent_fields_are_rejected(field: str, value: int) -> None:
    good = object_bytes(64, 0x10000010)
    assert parse_key_object(good, 0) is not None
    assert parse_key_object(object_bytes(64, 0x10000010, **{field: value}), 0) is None


def test_unaligned_or_null_key_pointer_rejected() -> None:
    assert parse_key_object(object_bytes(64, 0x10000013), 0) is None
    assert parse_key_object(object_bytes(64, 0), 0) is None


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=80))
def test_parse_never_raises(data: bytes) -> None:
    parse_key_object(b"0YEK" + data, 0)
    parse_key_object(data, 0)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**64 - 1), st.integers(0, 2**32 - 1))
def test_lying_pointer_and_length_never_read_far(pointer: int, length: int) -> None:
    """Any pointer and length the object may hold: parsing bounds the length, so no huge read follows."""
    raw = bytearray(object_bytes(64, 0x10000010))
    raw[48:56] = pointer.to_bytes(8, "little")
    raw[56:60] = length.to_bytes(4, "little")
    obj = parse_key_object(bytes(raw), 0)
    assert obj is None or obj.key_length <= 32


def test_struct_sizes_follow_the_abi() -> None:
    assert KEY_STRUCTS[64].sizeof() == 60 and KEY_STRUCTS[32].sizeof() == 48


def test_copy_search_reports_step_progress_and_cancels(tmp_path: Path) -> None:
    path, _ = built_dump(tmp_path, 64)
    det = WineCngDetector()
    steps: list[tuple[str, int, int]] = []
    with open_dump(path) as dump:
        first = scan_dump(dump, detectors=[det], executor="inline").findings
        objects = [f for f in first if f.kind == OBJECT_KIND]
        state = TaskState(on_step=lambda name, done, total: steps.append((name, done, total)))
        ctx = PostScanContext(dump=dump, view=dump.source, findings=objects, state=state)
        found = list(det.post_scan(ctx))
        assert len(found) == 2
        assert steps and steps[-1] == ("wine-cng", os.path.getsize(path), os.path.getsize(path))
        state.cancel()
        ctx = PostScanContext(dump=dump, view=dump.source, findings=objects, state=state)
        assert [f.encoding for f in det.post_scan(ctx)] == [KEY_ENCODING]  # the copies are not searched


def test_raw_image_without_addresses_is_a_note(tmp_path: Path) -> None:
    """A raw image has no address map: the object is reported, its pointer cannot be followed."""
    path = tmp_path / "memory.raw"
    path.write_bytes(os.urandom(4096) + object_bytes(64, 0x10000010) + os.urandom(4096))
    with open_dump(path) as dump:
        assert dump.format == "raw"
        result = scan_dump(dump, detectors=[WineCngDetector()], executor="inline")
    assert [(f.kind, f.offset) for f in result.findings] == [(OBJECT_KIND, 4096)]
    assert any("not (all) in the dump" in n for n in result.stats.notes)


@pytest.mark.parametrize("cut", [OBJECT_OFFSET + 30, OBJECT_OFFSET + 121], ids=["inside-the-object", "inside-the-key"])
def test_truncated_sample_gives_notes_not_errors(samples_dir: Path, tmp_path: Path, cut: int) -> None:
    """The Wine sample cut inside the key object (nothing to report) or inside the key (the object is
    reported, the key is not: 9 of its 32 bytes are no key), never an exception."""
    path = tmp_path / "cut.dmp"
    with open(samples_dir / WINE, "rb") as f:
        path.write_bytes(f.read(cut))
    with open_dump(path) as dump:
        result = scan_dump(dump, detectors=[WineCngDetector()])
    assert not any("failed" in w for w in result.warnings)
    assert not [f for f in result.findings if f.secret]
    objects = [f.offset for f in result.findings if f.kind == OBJECT_KIND]
    if cut > OBJECT_OFFSET + KEY_STRUCTS[64].sizeof():
        assert objects == [OBJECT_OFFSET]
        assert any("not (all) in the dump" in n for n in result.stats.notes)
    else:
        assert objects == []
