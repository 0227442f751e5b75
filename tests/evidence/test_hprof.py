"""Java heap dumps (HPROF): the parser on heaps written by tests/builders/hprof.py (which knows the format
from its description, not from the parser), the key objects found with their object context, a redaction
that leaves a valid HPROF, and hostile heaps (lying lengths and counts) that open with warnings within
bounds. The real heap dump of a live JVM (jcmd GC.heap_dump) is in tests/scan/test_scan_live_runtimes.py."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from tests.builders import hprof as build
from viewer.evidence import open_dump
from viewer.evidence.formats import hprof
from viewer.scan.detectors.aes import layout_bytes
from viewer.scan.engine import scan_dump
from viewer.scan.finding import Confidence
from viewer.scan.keys import key_id, symmetric_key_id
from viewer.scan.publickeys import load_public_keys


@pytest.fixture(scope="module")
def heap(tmp_path_factory):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    aes_key, hmac_key = os.urandom(32), os.urandom(32)
    data, at = build.jdk_heap(key, aes_key, hmac_key, layout_bytes(aes_key, True, True))
    path = tmp_path_factory.mktemp("hprof") / "heap.hprof"
    path.write_bytes(data)
    return path, key, aes_key, hmac_key, at


def test_parse_header_regions_and_tree(heap):
    path, *_ = heap
    with open_dump(path) as dump:
        assert dump.format == "hprof" and not dump.warnings
        assert dump.meta["identifier_size"] == 8 and dump.meta["heap_dump_segments"] == 1
        assert [r.kind for r in dump.regions] == ["header", "records", "heap", "records"]
        assert all(r.vaddr is None for r in dump.regions)
        header = dump.structure.find("header")
        assert [(c.name, c.value) for c in header.children] == [
            ("format", "JAVA PROFILE 1.0.2"), ("identifier_size", 8), ("timestamp_ms", 1_700_000_000_000)]
        assert dump.read(header.children[1].offset, 4) == b"\0\0\0\x08"
        classes = {c.name: c.value for c in dump.structure.find("classes").children}
        assert classes["java.math.BigInteger"].startswith("8 instances")
        objects = {n.name.split(" @")[0]: n for n in dump.structure.find("key objects").children}
        rsa_node = objects["sun.security.rsa.RSAPrivateCrtKeyImpl"]
        assert {c.name: c.value for c in rsa_node.children}["p"].startswith("0x")
        spec = {c.name: c for c in objects["javax.crypto.spec.SecretKeySpec"].children}
        assert spec["key"].value == "byte[32]" and spec["key"].length == 32


def test_key_objects_found_with_context(heap):
    path, key, aes_key, hmac_key, at = heap
    with open_dump(path) as dump:
        result = scan_dump(dump)
    by_offset = {(f.offset, f.kind): f for f in result.findings if f.secret}
    kid = key_id(key.public_key())
    for comp, field in (("p", "p.mag"), ("q", "q.mag"), ("d", "d.mag")):
        f = by_offset[(at[comp], "rsa-private-key")]
        assert f.key_id == kid and f.confidence == Confidence.CONFIRMED
        assert f.details["hprof"]["class"] == "sun.security.rsa.RSAPrivateCrtKeyImpl"
        assert f.details["hprof"]["field"] == field
    assert (at["n"], "rsa-private-key") not in by_offset  # the modulus is public
    spec = by_offset[(at["aes_key"], "aes-key")]
    assert spec.key_id == symmetric_key_id(aes_key)
    assert spec.confidence == Confidence.CONFIRMED  # its schedule was found too
    assert spec.details["hprof"]["field"] == "key"
    sched = by_offset[(at["aes_schedule"], "aes-key")]  # big-endian ints, at an odd offset
    assert at["aes_schedule"] % 4 and sched.details["rotated"] == "jdk"
    assert sched.details["hprof"] == {"array": "int[60]", "array_id": sched.details["hprof"]["array_id"],
                                      "class": "com.sun.crypto.provider.AESCrypt",
                                      "object_id": sched.details["hprof"]["object_id"], "field": "K"}
    for pad in ("ipad", "opad"):
        f = by_offset[(at[pad], "hmac-secret")]
        assert f.key_id == symmetric_key_id(hmac_key) and f.details["hprof"]["field"] == f"k_{pad}"


def test_a_32_bit_jvms_heap_with_4_byte_identifiers(tmp_path: Path):
    """A heap of 4-byte object identifiers (a 32-bit JVM): the same key objects, at their offsets, with
    the same context, as in the 8-byte heap."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    aes_key, hmac_key = os.urandom(16), os.urandom(32)
    found = {}
    for size in (4, 8):
        data, at = build.jdk_heap(key, aes_key, hmac_key, layout_bytes(aes_key, True, True), id_size=size)
        path = tmp_path / f"heap{size}.hprof"
        path.write_bytes(data)
        with open_dump(path) as dump:
            assert dump.format == "hprof" and not dump.warnings and dump.meta["identifier_size"] == size
            result = scan_dump(dump)
        secrets = {(f.kind, f.offset): f for f in result.findings if f.secret}
        for name, kind in (("p", "rsa-private-key"), ("q", "rsa-private-key"), ("aes_key", "aes-key"),
                           ("ipad", "hmac-secret"), ("opad", "hmac-secret")):
            f = secrets[(kind, at[name])]
            assert f.confidence == Confidence.CONFIRMED, (size, name)
        found[size] = sorted((f.kind, f.details.get("hprof", {}).get("class"), f.details.get("hprof", {}).get("field"),
                              f.key_id) for f in secrets.values())
    assert found[4] == found[8]


def test_an_array_no_key_object_holds_says_who_holds_it(tmp_path: Path):
    """A PEM key read into a byte[] of an application's own class, and a DER key in a byte[] kept in an
    Object[] of another object: each finding names its holder — the field, or the array's element and,
    through the object array, the object that holds the array (as a reference graph would)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec as ec_keys

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    der = ec_keys.generate_private_key(ec_keys.SECP256R1()).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    w = build.HprofWriter()
    w.define("java.lang.Object", [])
    w.define("com.example.Vault", [("label", build.INT), ("secret", build.OBJECT)])
    w.define("com.example.Box", [("items", build.OBJECT)])
    pem_id, pem_at = w.array(build.BYTE, pem)
    vault = w.instance("com.example.Vault", label=7, secret=pem_id)
    noise_id, _ = w.array(build.BYTE, os.urandom(64))
    der_id, der_at = w.array(build.BYTE, der)
    items = w.object_array([noise_id, der_id])
    box = w.instance("com.example.Box", items=items)
    w.roots(vault, box)
    data, base = w.build()
    path = tmp_path / "app.hprof"
    path.write_bytes(data)
    with open_dump(path) as dump:
        assert not dump.warnings
        result = scan_dump(dump)
    by_offset = {f.offset: f for f in result.findings if f.secret}
    pem_f = by_offset[base + pem_at]
    assert pem_f.details["hprof"]["held_by"] == [f"com.example.Vault @{vault:#x}.secret"]
    der_f = by_offset[base + der_at]
    assert der_f.details["hprof"]["held_by"] == [f"java.lang.Object[] @{items:#x}[1] ← com.example.Box @{box:#x}.items"]
    assert "class" not in der_f.details["hprof"]
    assert any("holders of 2 array(s)" in n for n in result.stats.notes)


def test_redaction_keeps_a_valid_hprof(heap, tmp_path: Path):
    from viewer.handover.redact import redact_file

    path, key, aes_key, hmac_key, at = heap
    out = tmp_path / "clean.hprof"
    result = redact_file(path, out)
    assert result.clean
    with open_dump(path) as before, open_dump(out) as after:
        assert after.format == "hprof" and not after.warnings and after.size == before.size
        assert after.meta == before.meta
        assert [(r.file_offset, r.size, r.kind) for r in after.regions] == [
            (r.file_offset, r.size, r.kind) for r in before.regions]
        assert len(hprof.resolved(after.source).primitive_arrays) == len(hprof.resolved(before.source).primitive_arrays)
        data = after.read(0, after.size)
        for secret in (aes_key, hmac_key, key.private_numbers().p.to_bytes(128, "big")):
            assert secret not in data
        assert not [f for f in scan_dump(after).findings if f.secret and f.confidence >= Confidence.MEDIUM]


def test_redaction_never_overwrites_an_arrays_header(heap, tmp_path: Path):
    """A range that reaches back over the AES key's byte[] header (its element type and count, as a run
    of key bytes found by searching can when the bytes before the elements happen to match) is cut to
    the elements: the header stays, every array still parses, the key is gone, the log says what was
    left. (A real JVM heap redacted once broke this way: its type byte became the filler's "R".)"""
    from dataclasses import replace

    from viewer.handover.redact import redact_file

    path, _key, aes_key, _hmac_key, at = heap
    with open_dump(path) as dump:
        findings = scan_dump(dump).findings
        header = dump.read(at["aes_key"] - 5, 5)  # count (4, big-endian) and element type (8: byte)
    assert header[-1] == 8
    widened = [replace(f, offset=f.offset - 5, length=f.length + 5) if f.offset == at["aes_key"] else f
               for f in findings]
    assert widened != findings
    out = tmp_path / "clean.hprof"
    result = redact_file(path, out, findings=widened)
    assert result.clean
    with open_dump(path) as before, open_dump(out) as after:
        assert not after.warnings
        assert after.read(at["aes_key"] - 5, 5) == header
        assert len(hprof.resolved(after.source).primitive_arrays) == len(hprof.resolved(before.source).primitive_arrays)
        assert aes_key not in after.read(0, after.size)
    assert any("5 bytes of the ranges found lie outside the values" in n for n in result.warnings), result.warnings


ED_CLASS = "sun.security.ec.ed.EdDSAPrivateKeyImpl"


@pytest.fixture(scope="module")
def ed_heap(tmp_path_factory):
    """Three Ed25519 keys as JDK 17 holds them: the first with its EdDSAPublicKeyImpl in the heap, the
    second alone, the third beside the public key object of a *fourth* key (a seed that derives nothing
    known)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    aes_key, hmac_key = os.urandom(32), os.urandom(32)
    eds = [ed25519.Ed25519PrivateKey.generate() for _ in range(4)]
    data, at = build.jdk_heap(key, aes_key, hmac_key, layout_bytes(aes_key, True, True),
                              ed_keys=tuple(eds[:3]), ed_publics=(eds[0].public_key(), eds[3].public_key()))
    path = tmp_path_factory.mktemp("hprof-ed") / "ed.hprof"
    path.write_bytes(data)
    return path, eds, at


def _seed(private) -> bytes:
    return private.private_bytes_raw()


def test_ed25519_key_objects_proved_by_the_heaps_public_key(ed_heap):
    path, eds, at = ed_heap
    with open_dump(path) as dump:
        assert not dump.warnings
        objects = [n for n in dump.structure.find("key objects").children if n.name.startswith(ED_CLASS + " @")]
        assert len(objects) == 3
        fields = {c.name: c for c in objects[0].children}
        assert fields["h"].value == "byte[32]" and dump.read(fields["h"].offset, 32) == _seed(eds[0])
        result = scan_dump(dump)
        found = [f for f in result.findings if f.kind == "ed25519-private-key" and f.secret]
        data = dump.read(0, dump.size)
    first = [f for f in found if f.key_id == key_id(eds[0].public_key())]
    assert sorted((f.offset, f.details["hprof"]["field"]) for f in first) == sorted(
        [(at["ed0_h"], "h"), (at["ed0_key"], "key")])
    for f in first:
        assert f.confidence == Confidence.CONFIRMED and f.length == 32 and f.encoding == "hprof-object"
        assert data[f.offset : f.offset + 32] == _seed(eds[0])
        assert f.details["hprof"]["class"] == ED_CLASS
        assert any("sun.security.ec.ed.EdDSAPublicKeyImpl @" in r for r in f.reasons)
        assert _seed(eds[0]).hex() not in " ".join(f.reasons) + str(f.details)
    # the lone key and the one beside another key's public object: shape alone proves nothing
    lone = {key_id(eds[i].public_key()) for i in (1, 2)}
    assert not [f for f in result.findings if f.key_id in lone]
    assert not [f for f in found if f.offset in (at["ed1_h"], at["ed2_h"], at["ed1_key"], at["ed2_key"])]
    assert any(f"2 {ED_CLASS} object(s) not reported" in n for n in result.stats.notes)


def test_ed25519_key_object_proved_by_a_supplied_public_key(ed_heap, tmp_path: Path):
    path, eds, at = ed_heap
    pem = tmp_path / "ed1.pem"
    pem.write_bytes(eds[1].public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    supplied = load_public_keys([pem])
    with open_dump(path) as dump:
        result = scan_dump(dump, public_keys=supplied)
    mine = [f for f in result.findings if f.key_id == key_id(eds[1].public_key())]
    assert sorted(f.offset for f in mine if f.encoding == "hprof-object") == sorted([at["ed1_h"], at["ed1_key"]])
    assert all(f.confidence == Confidence.CONFIRMED and supplied[0].label in f.matches for f in mine)
    assert any("supplied public key" in r for f in mine for r in f.reasons)
    assert [s["found"] for s in result.public_keys] == [True]
    assert not [f for f in result.findings if f.key_id == key_id(eds[2].public_key())]


def test_object_context_survives_the_clis_forked_workers(ed_heap):
    """The CLI (no Qt loaded, one thread) runs the post-scan detectors in forked workers: the object
    context is worked out where it is added, so every key-object finding still names its class and field
    (it once came back with the array alone)."""
    import json
    import subprocess
    import sys

    path, eds, at = ed_heap
    proc = subprocess.run([sys.executable, "-m", "viewer.cli.main", "scan", "--json", str(path)], capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL, cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 1, proc.stderr  # secrets found
    findings = json.loads(proc.stdout)["results"][0]["findings"]
    context = {(f["offset"], f["kind"]): f["details"].get("hprof", {}) for f in findings}
    assert context[(at["ed0_h"], "ed25519-private-key")].get("field") == "h"
    assert context[(at["ed0_key"], "ed25519-private-key")].get("class") == ED_CLASS
    assert context[(at["p"], "rsa-private-key")].get("field") == "p.mag"
    assert context[(at["aes_key"], "aes-key")].get("class") == "javax.crypto.spec.SecretKeySpec"
    assert context[(at["ipad"], "hmac-secret")].get("field") == "k_ipad"


def test_ed25519_seeds_redacted_into_a_valid_hprof(ed_heap, tmp_path: Path):
    from viewer.handover.redact import redact_file

    path, eds, _at = ed_heap
    out = tmp_path / "clean.hprof"
    assert redact_file(path, out).clean
    with open_dump(out) as after:
        assert after.format == "hprof" and not after.warnings
        data = after.read(0, after.size)
    assert _seed(eds[0]) not in data
    assert _seed(eds[1]) in data  # not proved, not reported: a redaction removes what the scan found


HOSTILE = {
    "lying-record-length": build.lying_record_length,
    "lying-array-counts": build.lying_array_counts,
    "many-tiny-records": build.many_tiny_records,
    "class-dump-lies": build.class_dump_lies,
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_heaps_open_with_warnings_within_bounds(name: str, tmp_path: Path):
    path = tmp_path / f"{name}.hprof"
    path.write_bytes(HOSTILE[name]())
    assert path.stat().st_size <= 16 * 1024 * 1024
    started = time.process_time()
    with open_dump(path) as dump:
        assert dump.format == "hprof"
        idx = hprof.resolved(dump.source)
        nodes = sum(1 for _ in dump.structure.walk())
        result = scan_dump(dump, executor="inline")
        warnings = [*dump.warnings, *idx.warnings, *result.warnings]
    # memory and the open's own time limits: tests/evidence/test_hostile.py (the shared hostile registry)
    assert time.process_time() - started < 30
    assert nodes >= 1
    assert warnings, f"{name}: a hostile heap opened without a word about it"
    assert not [w for w in warnings if "failed" in w or "raised" in w]


def test_an_object_array_that_lies_about_its_count_holds_only_what_is_there(tmp_path: Path):
    """An Object[] claiming 2^31 elements at the end of the heap: indexed with the elements really in the
    segment, so nothing after it is taken for one of its elements."""
    w = build.HprofWriter()
    w.define("java.lang.Object", [])
    aid, _ = w.array(build.BYTE, b"x" * 16)
    items = w.object_array([aid, aid])
    w.heap[-(2 * 8 + 8 + 4) : -(2 * 8 + 8)] = (1 << 31).to_bytes(4, "big")  # the count, before class id and elements
    data, _base = w.build()
    path = tmp_path / "lying.hprof"
    path.write_bytes(data)
    with open_dump(path) as dump:
        idx = hprof.resolved(dump.source)
    arrays = [a for a in idx.object_arrays if a.id == items]
    assert len(arrays) == 1 and arrays[0].count == 2
