"""Containers by magic: systemd-coredump's .zst/.lz4/.xz, gzip and bzip2 uploads, ZIP archives, apport
.crash reports, nested — each made here with the real tools around gcore cores of live processes holding
keys; the scan finds the same secrets at the same (content) offsets as on the bare core; the cache is
content-addressed, read-only and re-verified; both hashes and the chain are in `info`."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.builders.containers import apport_report, compress, zip_of
from tests.builders.live import dump_holder
from viewer.evidence import open_dump, open_dumps
from viewer.evidence.containers import cache
from viewer.scan.engine import scan_dump

HOLDER = r"""
import ctypes, sys
ctypes.CDLL(None).prctl(0x59616D61, ctypes.c_ulong(-1), 0, 0, 0)  # Yama: let gdb attach
blobs = [open(p, "rb").read() for p in sys.argv[1:]]
print("ready", flush=True)
sys.stdin.read()
"""

NOENC = serialization.NoEncryption()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A gcore core of a live process holding an RSA key (PEM) and an EC key (DER), and the core wrapped
    every way examiners receive it."""
    work = tmp_path_factory.mktemp("containers")
    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, NOENC)
    ec_der = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, NOENC)
    files = []
    for name, blob in (("rsa.pem", rsa_pem), ("ec.der", ec_der)):
        (work / name).write_bytes(blob)
        files.append(str(work / name))
    core = dump_holder(HOLDER, files, work / "core.python3.0.8f3c.4242.1764684000000000")
    wrapped = {s: compress(core, s) for s in ("zst", "lz4", "xz", "gz", "bz2")}
    wrapped["zip"] = zip_of(work / "upload.zip", core)
    wrapped["crash"] = apport_report(work / "_usr_bin_python3.0.crash", core)
    wrapped["zip-crash"] = zip_of(work / "crash-upload.zip", wrapped["crash"])
    wrapped["xz-gz"] = compress(wrapped["xz"], "gz")
    return {"core": core, "wrapped": wrapped, "blobs": (rsa_pem, ec_der), "work": work}


def _secrets(dump) -> set[tuple[str, int, int, str | None]]:
    res = scan_dump(dump)
    return {(f.kind, f.offset, f.length, f.key_id) for f in res.findings if f.kind.endswith("private-key")}


@pytest.mark.slow
def test_every_container_gives_the_same_secrets_at_the_same_content_offsets(live):
    core = live["core"]
    with open_dump(core) as bare:
        expected = _secrets(bare)
        bare_regions = [(r.file_offset, r.size, r.vaddr) for r in bare.regions]
    data = core.read_bytes()
    for blob in live["blobs"]:
        at = data.find(blob)
        assert at >= 0 and any(off == at for _k, off, _n, _i in expected), "the key is found on the bare core"
    chains = {"zst": ["zstd"], "lz4": ["lz4"], "xz": ["xz"], "gz": ["gzip"], "bz2": ["bzip2"], "zip": ["zip"],
              "crash": ["apport", "gzip"], "zip-crash": ["zip", "apport", "gzip"], "xz-gz": ["gzip", "xz"]}
    for name, path in live["wrapped"].items():
        with open_dump(path) as dump:
            assert dump.format == "elf-core", (name, dump.warnings)
            assert dump.chain == [*chains[name], "elf-core"], name
            assert dump.sha256() == sha(path), name  # the evidence hash is the container's
            assert dump.content_sha256() == sha(core), name  # the content's is the bare core's
            assert dump.size == core.stat().st_size and dump.evidence_size == path.stat().st_size
            assert [(r.file_offset, r.size, r.vaddr) for r in dump.regions] == bare_regions, name
            assert _secrets(dump) == expected, name
            assert not [w for w in dump.warnings if "damaged" in w], dump.warnings


@pytest.mark.slow
def test_info_shows_the_chain_both_hashes_and_apport_fields(live, tmp_path):
    path = live["wrapped"]["zip-crash"]
    out = subprocess.run([sys.executable, "-m", "viewer.cli.main", "info", "--json", str(path)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["chain"] == ["zip", "apport", "gzip", "elf-core"]
    assert doc["sha256"] == sha(path) and doc["content_sha256"] == sha(live["core"])
    assert doc["container"]["offsets"] == "offsets are in the decompressed content"
    layers = doc["container"]["layers"]
    assert layers[0]["member"] == "_usr_bin_python3.0.crash"
    fields = layers[1]["meta"]["apport"]
    assert fields["ProblemType"] == "Crash" and fields["ExecutablePath"] == "/usr/bin/python3.12"
    assert fields["ProcEnviron"] == "LANG=C.UTF-8\nPATH=(custom, no user)"
    assert fields["CoreDump"].startswith("(binary")
    text = subprocess.run([sys.executable, "-m", "viewer.cli.main", "info", str(path)],
                          capture_output=True, text=True, timeout=300).stdout
    assert "chain     zip > apport > gzip > elf-core" in text
    assert "offsets   are offsets in the decompressed content" in text
    assert "apport.ExecutablePath: /usr/bin/python3.12" in text


@pytest.mark.slow
def test_systemd_coredump_xattrs_are_shown(live, tmp_path):
    path = tmp_path / "core.python3.0.8f3c.4242.1764684000000000.zst"
    path.write_bytes(live["wrapped"]["zst"].read_bytes())
    try:
        os.setxattr(path, "user.coredump.pid", b"4242")
        os.setxattr(path, "user.coredump.comm", b"python3")
        os.setxattr(path, "user.coredump.signal", b"11")
    except OSError as exc:
        pytest.skip(f"this filesystem keeps no user extended attributes ({exc.strerror})")
    with open_dump(path) as dump:
        meta = dump.origin.layers[0].meta["systemd_coredump"]
    assert meta == {"coredump.comm": "python3", "coredump.pid": "4242", "coredump.signal": "11"}


@pytest.mark.slow
def test_a_zip_of_several_dumps_is_one_dump_per_member(live, tmp_path):
    second = tmp_path / "second.core"
    second.write_bytes(live["core"].read_bytes()[:65536])
    archive = zip_of(tmp_path / "two.zip", live["core"], second)
    dumps = open_dumps(archive)
    try:
        assert [d.origin.layers[-1].member for d in dumps] == [live["core"].name, "second.core"]
        assert dumps[1].content_sha256() == sha(second)
    finally:
        for d in dumps:
            d.close()
    with open_dump(archive) as first:
        assert "holds 2 dumps" in first.warnings[0]
    out = subprocess.run([sys.executable, "-m", "viewer.cli.main", "scan", "--json", str(archive)],
                         capture_output=True, text=True, timeout=300)
    results = json.loads(out.stdout)["results"]
    assert [r["evidence"]["member"] for r in results] == [live["core"].name, "second.core"]
    assert all(r["evidence"]["sha256"] == sha(archive) for r in results)


@pytest.mark.slow
def test_the_cache_is_content_addressed_read_only_and_verified(live, tmp_path, monkeypatch):
    monkeypatch.setenv("EVIDENCE_VIEWER_CACHE_DIR", str(tmp_path / "cache"))
    path = live["wrapped"]["zst"]
    with open_dump(path) as dump:
        content = Path(dump.content_path)
        assert not dump.origin.layers[0].cached
    assert content == tmp_path / "cache" / "content" / sha(live["core"])
    assert content.stat().st_mode & 0o777 == 0o444
    with open_dump(path) as again:
        assert again.origin.layers[0].cached  # reused, after re-hashing it
    # A cache file changed behind our back is not trusted: decompressed again, with a warning.
    content.chmod(0o644)
    with open(content, "r+b") as f:
        f.seek(100)
        f.write(b"tampered")
    with open_dump(path) as third:
        assert not third.origin.layers[0].cached
        assert any("does not match its SHA-256" in w for w in third.warnings)
        assert third.content_sha256() == sha(live["core"])
    assert sha(content) == sha(live["core"])
    # --cache-dir moves it
    out = subprocess.run([sys.executable, "-m", "viewer.cli.main", "info", "--no-hash", "--cache-dir",
                          str(tmp_path / "moved"), str(path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "moved" / "content" / sha(live["core"])).exists()


def test_the_evidence_is_never_written(tmp_path):
    src = tmp_path / "data.bin"
    src.write_bytes(os.urandom(4096) * 64)
    gz = compress(src, "gz")
    before = (gz.read_bytes(), gz.stat().st_mtime_ns)
    with open_dump(gz) as dump:
        assert dump.chain == ["gzip", "raw"]
        assert dump.read(0, 4096) == src.read_bytes()[:4096]
    assert (gz.read_bytes(), gz.stat().st_mtime_ns) == before


def test_a_bomb_stops_at_the_limit_with_a_clear_warning(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "_limit", 8 * 1024 * 1024)
    zeros = tmp_path / "zeros"
    with open(zeros, "wb") as f:
        f.truncate(64 * 1024 * 1024)
    bomb = compress(zeros, "zst")
    zeros.unlink()
    with open_dump(bomb) as dump:
        assert dump.format == "raw" and dump.size == bomb.stat().st_size  # shown as it is
        assert any("decompresses to more than 8388608 bytes" in w and "bomb" in w for w in dump.warnings)
    assert not list((Path(os.environ["EVIDENCE_VIEWER_CACHE_DIR"]) / "content").glob(".part-*"))


def test_max_decompressed_option(tmp_path):
    data = tmp_path / "d"
    data.write_bytes(b"\0" * (4 * 1024 * 1024))
    gz = compress(data, "gz")
    out = subprocess.run([sys.executable, "-m", "viewer.cli.main", "info", "--json", "--max-decompressed",
                          "1M", str(gz)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert any("decompresses to more than 1048576 bytes" in w for w in json.loads(out.stdout)["warnings"])
    bad = subprocess.run([sys.executable, "-m", "viewer.cli.main", "info", "--max-decompressed", "lots", str(gz)],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "not a size" in bad.stderr


@pytest.mark.slow
def test_redact_of_a_container(live, tmp_path):
    """A .zst is redacted into a .zst (the verified copy recompressed); an apport report gives the
    decompressed core, and the log says so. Neither keeps the keys; the inputs are untouched."""
    from viewer.handover.redact import redact_file

    zst = live["wrapped"]["zst"]
    before = sha(zst)
    res = redact_file(zst, tmp_path / "clean.zst")
    assert res.clean and sha(zst) == before
    out = (tmp_path / "clean.zst").read_bytes()
    assert out[:4] == b"\x28\xb5\x2f\xfd"
    assert any("recompressed the same way (zstd)" in n for n in res.warnings)
    assert res.output_sha256 == sha(tmp_path / "clean.zst")
    with open_dump(tmp_path / "clean.zst") as dump:
        assert dump.chain == ["zstd", "elf-core"] and dump.size == live["core"].stat().st_size
        content = Path(dump.content_path).read_bytes()
    for blob in live["blobs"]:
        assert blob not in content
    res2 = redact_file(live["wrapped"]["crash"], tmp_path / "clean.core")
    assert res2.clean
    assert any("the copy is the decompressed elf-core dump" in n for n in res2.warnings)
    data = (tmp_path / "clean.core").read_bytes()
    assert data[:4] == b"\x7fELF" and all(b not in data for b in live["blobs"])
    log = json.loads(Path(res2.log).read_text())
    assert any("apport > gzip container" in n for n in log["notes"])


def test_a_container_that_shrinks_while_it_is_decompressed(tmp_path):
    """The evidence changes on disk mid-stream: one clear EvidenceChanged, nothing left in the cache."""
    from viewer.evidence import EvidenceError
    from viewer.tasks import TaskState

    src = tmp_path / "data.bin"
    src.write_bytes(os.urandom(8 * 1024 * 1024))
    gz = compress(src, "gz")
    done = []

    def shrink(step: str, _done: int, _total: int) -> None:
        if step.startswith("decompressing") and not done:
            done.append(True)
            os.truncate(gz, 1000)

    with pytest.raises(EvidenceError, match="changed on disk"):
        open_dumps(gz, TaskState(on_step=shrink))
    content = Path(os.environ["EVIDENCE_VIEWER_CACHE_DIR"]) / "content"
    assert not list(content.glob(".part-*"))


def test_a_zip_whose_members_cannot_be_read_opens_as_itself_with_warnings(tmp_path):
    """Found by the container fuzzing: a ZIP whose one member's header was overwritten gave no dump at
    all (an IndexError in open_dump). It opens as the container itself, saying why."""
    member = tmp_path / "core"
    member.write_bytes(b"\x7fELF" + os.urandom(4096))
    data = bytearray(zip_of(tmp_path / "a.zip", member).read_bytes())
    data[19:27] = b"\xff" * 8  # the local header's sizes: the member cannot be read
    broken = tmp_path / "broken.zip"
    broken.write_bytes(bytes(data))
    with open_dump(broken) as dump:
        assert dump.size == len(data)
        assert any("no readable dump" in w for w in dump.warnings), dump.warnings
    assert len(open_dumps(broken)) == 1
