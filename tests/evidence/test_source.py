"""The byte source: read-only mmap, clipping, empty and huge files, hashing, refusal of non-files."""

from __future__ import annotations

import hashlib
import os

import pytest

from tests.conftest import CORPUS
from viewer.evidence import ByteSource, EvidenceError, open_dump


def test_sha256_matches_hashlib_and_is_cached(tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 17)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    with ByteSource(path) as src:
        assert src.size == len(data)
        assert src.sha256() == hashlib.sha256(data).hexdigest()
        assert src._sha256 is not None  # cached: a second call does not re-read the file
        assert src.sha256() == hashlib.sha256(data).hexdigest()


def test_reads_are_clipped_to_the_file(tmp_path):
    path = tmp_path / "small.bin"
    path.write_bytes(b"0123456789")
    with ByteSource(path) as src:
        assert src.read(0, 4) == b"0123"
        assert src.read(8, 100) == b"89"
        assert src.read(10, 1) == b""
        assert src.read(-5, 3) == b""
        assert src.read(2**63, 8) == b""
        assert src.available(7) == 3
        assert bytes(src.view(5, 2)) == b"56"


def test_mapping_is_read_only(tmp_path):
    path = tmp_path / "ro.bin"
    path.write_bytes(b"evidence")
    with ByteSource(path) as src:
        view = src.view()
        assert view.readonly
        with pytest.raises(TypeError):
            view[0] = 0x41
        del view
    assert path.read_bytes() == b"evidence"


def test_empty_file_opens_as_raw_with_a_warning(tmp_path):
    path = tmp_path / "empty.dmp"
    path.write_bytes(b"")
    with open_dump(path) as dump:
        assert dump.size == 0
        assert dump.format == "raw"
        assert dump.sha256() == hashlib.sha256(b"").hexdigest()
        assert any("empty" in w for w in dump.warnings)
        assert dump.read(0, 16) == b""


def test_unrecognised_bytes_open_as_raw_with_a_warning(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"just some text, not a dump\n" * 10)
    with open_dump(path) as dump:
        assert dump.format == "raw"
        assert len(dump.regions) == 1 and dump.regions[0].size == path.stat().st_size
        assert any("not recognised" in w for w in dump.warnings)


def test_format_is_detected_from_magic_not_name(tmp_path):
    source = CORPUS / "bp_minidump2.dmp"
    renamed = tmp_path / "looks-like-an.elf"
    renamed.write_bytes(source.read_bytes())
    with open_dump(renamed) as dump:
        assert dump.format == "minidump"


@pytest.mark.parametrize("kind", ["missing", "directory", "fifo"])
def test_unreadable_inputs_raise_one_clear_error(tmp_path, kind):
    path = tmp_path / kind
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    with pytest.raises(EvidenceError) as err:
        ByteSource(path)
    assert str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_files_over_4_gib_are_mapped(tmp_path):
    """A sparse 5 GiB file: bytes past the 4 GiB mark are read where they were written."""
    path = tmp_path / "big.img"
    marker = b"MARKER-PAST-4GiB"
    where = 4 * 1024**3 + 12345
    with open(path, "wb") as fh:
        fh.truncate(5 * 1024**3)
        fh.seek(where)
        fh.write(marker)
    with open_dump(path) as dump:
        assert dump.size == 5 * 1024**3
        assert dump.read(where, len(marker)) == marker
        assert dump.regions[0].size == dump.size


def _rss_file_mib() -> float:
    """This process's resident file-backed pages (Linux: /proc/self/status RssFile), in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssFile:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no RssFile line")


def test_large_reads_and_searches_do_not_pile_up_resident_pages(tmp_path):
    """A scanner pass reads the whole file through the mapping; the pages it touched must not stay
    resident in this process (a 4 GiB dump would otherwise show 4 GiB used). Small reads (the hex view's)
    are left alone, and what is read is still right."""
    size = 96 * 1024 * 1024
    path = tmp_path / "big.bin"
    with open(path, "wb") as f:
        block = os.urandom(1024 * 1024)
        for i in range(size // len(block)):
            f.write(block[i:] + block[:i])
    with ByteSource(path) as src:
        base = _rss_file_mib()
        digest = hashlib.sha256()
        for off in range(0, size, 4 * 1024 * 1024):
            digest.update(src.read(off, 4 * 1024 * 1024))
        assert digest.hexdigest() == hashlib.sha256(path.read_bytes()).hexdigest()
        assert _rss_file_mib() - base < 24, "pages of large reads stayed resident"
        assert src.find(b"not in a random file, surely not!") == -1
        assert _rss_file_mib() - base < 24, "pages of a whole-file search stayed resident"
        needle = block[5000:5040]
        assert src.find(needle) == 5000
        # Small reads (the hex view's working set) cost no release either: since reads go through pread
        # (a file that shrinks cannot SIGBUS them), no read maps a page at all.
        before = _rss_file_mib()
        for off in range(8 * 1024 * 1024, 8 * 1024 * 1024 + 1024 * 1024, 4096):
            assert len(src.read(off, 16)) == 16
        assert _rss_file_mib() - before < 0.5
        # A large view is still zero-copy: it shares the mapping, whose pages it faults in.
        view = src.view(8 * 1024 * 1024, 16 * 1024 * 1024)
        assert view.obj is not None and not isinstance(view.obj, bytes)
        assert hashlib.sha256(view).hexdigest() == hashlib.sha256(
            path.read_bytes()[8 * 1024 * 1024: 24 * 1024 * 1024]).hexdigest()
        assert _rss_file_mib() - before > 8
        view.release()


# -- evidence that changes under the reader ----------------------------------------------------------
SHRINKER = '''
import hashlib, os, sys
from viewer.evidence import open_dump
from viewer.evidence.errors import EvidenceError
from viewer.scan.search import find_all

path, mode = sys.argv[1], sys.argv[2]
dump = open_dump(path)
size = dump.size
src = dump.source
head = src.read(0, 4096)
src.sha256()
print("opened", size, flush=True)
if mode == "truncate":
    os.truncate(path, 8192)
elif mode == "rewrite":
    with open(path, "r+b") as f:
        f.seek(size // 2)
        f.write(b"X" * 16)

def attempt(name, fn):
    try:
        r = fn()
        print(name, "ok", r if isinstance(r, (int, str)) else len(r), flush=True)
    except EvidenceError as exc:
        print(name, type(exc).__name__, str(exc).replace(chr(10), " "), flush=True)

attempt("read-head", lambda: src.read(0, 4096))
attempt("read-tail", lambda: src.read(size - 100, 100))
attempt("read-big", lambda: src.read(0, size))
attempt("dump-read", lambda: dump.read(size // 2, 64))
attempt("find", lambda: src.find(b"needle-not-present-anywhere"))
attempt("view", lambda: bytes(src.view(0, size)))
attempt("regex-search", lambda: find_all(src, __import__("re").compile(rb"ZZZ+Q")))
attempt("sha256", lambda: src.sha256())
attempt("changed", lambda: src.changed() or "")
attempt("rehash", lambda: src.rehash())
print("alive", flush=True)
'''


@pytest.mark.parametrize("mode", ["truncate", "rewrite"])
def test_evidence_changed_on_disk_is_a_warning_not_a_crash(tmp_path, mode):
    """A writable copy of a dump, changed while open: every read, search and hash survives (no SIGBUS),
    gives EvidenceChanged where it cannot give the opened bytes, and the hash can be re-checked."""
    import signal
    import subprocess
    import sys
    from pathlib import Path

    dump = tmp_path / "changing.raw"
    with open(dump, "wb") as f:
        f.write(os.urandom(12 * 1024 * 1024))
    proc = subprocess.run([sys.executable, "-c", SHRINKER, str(dump), mode], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode != -signal.SIGBUS, "the process died of SIGBUS"
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = {ln.split()[0]: ln for ln in proc.stdout.splitlines()}
    assert "alive" in lines
    new_hash = hashlib.sha256(dump.read_bytes()).hexdigest()
    assert lines["rehash"] == f"rehash ok {new_hash}"
    assert lines["read-head"] == "read-head ok 4096"  # what is still there, before anything noticed
    # a small read of what is gone notices; a rewrite keeps the size: the large read's fstat notices it
    changed = ["read-big", "dump-read", "find", "view", "regex-search", "sha256"]
    if mode == "truncate":
        changed.append("read-tail")
    else:
        assert lines["read-tail"] == "read-tail ok 100"
    for name in changed:
        assert f"{name} EvidenceChanged" in lines[name], lines[name]
        assert "changed on disk" in lines[name]
    assert "changed on disk" in lines["changed"]
    if mode == "truncate":
        assert "12582912 -> 8192 bytes" in lines["sha256"]
    else:
        assert "rewritten in place" in lines["sha256"]


def test_unchanged_evidence_reports_nothing(tmp_path):
    path = tmp_path / "same.bin"
    path.write_bytes(os.urandom(100_000))
    with ByteSource(path) as src:
        assert src.changed() is None
        assert src.rehash() == src.sha256() == hashlib.sha256(path.read_bytes()).hexdigest()
        assert src.changed() is None


def test_hash_is_of_the_opened_file_even_when_the_path_is_replaced(tmp_path):
    """An atomic replace of the path does not change what is open: the hash is that of the opened file."""
    path = tmp_path / "e.bin"
    data = os.urandom(50_000)
    path.write_bytes(data)
    with ByteSource(path) as src:
        tmp = tmp_path / "other.bin"
        tmp.write_bytes(b"replacement")
        os.replace(tmp, path)
        assert src.sha256() == hashlib.sha256(data).hexdigest()
        assert src.read(0, 16) == data[:16]
