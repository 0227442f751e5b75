"""Find in a dump: parse_query, find_all over real mapped files (chunk seams, limit, cancel, > 4 GiB),
and the FindBar end to end with pytest-qt (no mocks)."""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import pytest

from viewer.evidence import ByteSource, open_dump
from viewer.scan.search import find_all, iter_matches, max_width, parse_hex, parse_query
from viewer.tasks import TaskState

GiB = 1024**3




def layout() -> tuple[bytes, dict[str, int]]:
    """Bytes with things at known offsets."""
    rng = random.Random(7)
    parts: list[bytes] = []
    at: dict[str, int] = {}

    def put(name: str, data: bytes) -> None:
        at[name] = sum(map(len, parts))
        parts.append(data)

    put("zeros", bytes(1000))
    put("deadbeef", bytes.fromhex("deadbeef"))
    put("pad1", bytes(37))
    put("de11beef", bytes.fromhex("de11beef"))
    put("pad2", bytes(rng.randrange(256) & 0x7E for _ in range(500)))  # no 0xde, no 0xef
    put("ascii", b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5")
    put("pad3", bytes(300))
    put("utf16", "Password1!".encode("utf-16-le"))
    put("pad4", bytes(11))
    put("ascii2", b"ssh-rsa AAAAB3NzaC1yc2E")
    put("tail", bytes(200))
    return b"".join(parts), at


@pytest.fixture
def sample(tmp_path: Path):
    data, at = layout()
    path = tmp_path / "sample.bin"
    path.write_bytes(data)
    path.chmod(0o444)
    with ByteSource(path) as src:
        yield src, data, at


def test_parse_query_modes() -> None:
    assert parse_query("de ad be ef", "hex") == bytes.fromhex("deadbeef")
    assert parse_query("DEADBEEF", "hex") == bytes.fromhex("deadbeef")
    assert parse_query("0xde,0xad", "hex") == b"\xde\xad"
    assert parse_query("\\xde\\xad", "hex") == b"\xde\xad"
    wild = parse_query("de ?? be ef", "hex")
    assert isinstance(wild, re.Pattern)
    assert wild.fullmatch(b"\xde\x00\xbe\xef") and wild.fullmatch(b"\xde\n\xbe\xef")  # DOTALL: any byte
    nib = parse_hex("4? ?f")
    assert isinstance(nib, re.Pattern)
    assert nib.fullmatch(b"\x41\x3f") and nib.fullmatch(b"\x4f\xff") and not nib.fullmatch(b"\x51\x3f")
    assert parse_query("abc", "ascii") == b"abc"
    assert parse_query("ab", "utf16") == b"a\x00b\x00"
    rx = parse_query(r"ssh-(rsa|ed25519) [A-Za-z0-9+/]{4}", "regex")
    assert isinstance(rx, re.Pattern) and rx.flags & re.DOTALL
    assert max_width(rx) == len("ssh-ed25519 AAAA")
    for text, mode in [
        ("", "hex"),
        ("dea", "hex"),
        ("xy", "hex"),
        ("?? ??", "hex"),
        ("a(", "regex"),
        ("a*", "regex"),
        ("x", "nope"),
    ]:
        with pytest.raises(ValueError):
            parse_query(text, mode)


def test_find_exact_offsets_every_mode(sample) -> None:
    src, data, at = sample
    assert find_all(src, parse_query("deadbeef", "hex")) == [(at["deadbeef"], 4)]
    assert find_all(src, parse_query("de ?? be ef", "hex")) == [(at["deadbeef"], 4), (at["de11beef"], 4)]
    assert find_all(src, parse_query("ssh-", "ascii")) == [(at["ascii"], 4), (at["ascii2"], 4)]
    assert find_all(src, parse_query("Password1!", "utf16")) == [(at["utf16"], 20)]
    assert find_all(src, parse_query("Password1!", "ascii")) == []
    assert find_all(src, parse_query(r"ssh-(rsa|ed25519) AAAA[A-Za-z0-9]+", "regex")) == [
        (at["ascii"], len(b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5")),
        (at["ascii2"], len(b"ssh-rsa AAAAB3NzaC1yc2E")),
    ]
    # start / end bound the search (a match must lie wholly inside)
    assert find_all(src, b"ssh-", start=at["ascii"] + 1) == [(at["ascii2"], 4)]
    assert find_all(src, b"ssh-", end=at["ascii"] + 3) == []
    assert find_all(src, b"ssh-", end=at["ascii"] + 4) == [(at["ascii"], 4)]


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 16, 64, 4096])
def test_matches_straddling_chunk_seams(tmp_path: Path, chunk: int) -> None:
    """Every match is found exactly once whatever the chunk size, same as a one-shot search."""
    rng = random.Random(chunk)
    data = bytearray(rng.randrange(0, 4) for _ in range(3000))  # small alphabet: many near-misses
    for i in range(0, 2900, 97):
        data[i : i + 6] = b"\xde\xad\x07\xbe\xef\x09"
    path = tmp_path / "seams.bin"
    path.write_bytes(bytes(data))
    with ByteSource(path) as src:
        for pattern in (
            b"\xde\xad\x07\xbe\xef\x09",
            b"\x01\x02\x03",
            parse_query("de ?? 07 be", "hex"),
            re.compile(rb"\x03{2,5}", re.DOTALL),
        ):
            if isinstance(pattern, bytes):
                expected = [(m.start(), len(pattern)) for m in re.finditer(re.escape(pattern), bytes(data))]
            else:
                expected = [(m.start(), m.end() - m.start()) for m in pattern.finditer(bytes(data))]
            assert expected, pattern
            got = find_all(src, pattern, chunk_size=chunk, limit=10**9)
            assert got == expected, (pattern, chunk)


def test_regex_match_bounded_by_max_match(tmp_path: Path) -> None:
    path = tmp_path / "run.bin"
    path.write_bytes(bytes(10) + b"A" * 100 + bytes(10))
    with ByteSource(path) as src:
        whole = find_all(src, re.compile(b"A+"), chunk_size=1 << 20)
        assert whole == [(10, 100)]
        # a match cut by the bound is reported from its start; the rest follows as further matches
        cut = find_all(src, re.compile(b"A+"), chunk_size=16, max_match=8)
        assert cut[0][0] == 10 and sum(n for _, n in cut) == 100


def test_limit_honoured(tmp_path: Path) -> None:
    path = tmp_path / "many.bin"
    path.write_bytes(b"xy" * 5000)
    with ByteSource(path) as src:
        assert len(find_all(src, b"xy", limit=10**6)) == 5000
        got = find_all(src, b"xy", limit=123, chunk_size=64)
        assert got == [(2 * i, 2) for i in range(123)]
        assert find_all(src, re.compile(b"y"), limit=7) == [(2 * i + 1, 1) for i in range(7)]
        assert find_all(src, b"xy", limit=0) == []


def test_cancel_and_progress_honoured(tmp_path: Path) -> None:
    path = tmp_path / "cancel.bin"
    path.write_bytes(b"ab" * 50_000)  # 100,000 bytes
    seen: list[tuple[int, int]] = []
    state = TaskState()

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        if done >= 10_000:
            state.cancel()

    state.on_progress = progress
    with ByteSource(path) as src:
        got = find_all(src, b"ab", state=state, chunk_size=1000, limit=10**6)
        assert 0 < len(got) <= 10_000 // 2 and got[-1][0] < 10_000  # stopped after the chunk that cancelled
        assert seen[0] == (0, 100_000) and seen[-1] == (10_000, 100_000)
        # regex path too
        state2 = TaskState()
        state2.cancel()
        assert find_all(src, re.compile(b"ab"), state=state2) == []


@pytest.mark.slow
def test_marker_past_4_gib_in_a_sparse_file(tmp_path: Path) -> None:
    path = tmp_path / "sparse.img"
    marker_at = 4 * GiB + 123_457
    with open(path, "wb") as fh:
        fh.truncate(4 * GiB + 1024 * 1024)
        fh.seek(marker_at)
        fh.write(b"\x13\x37MARKER\xc0\xde")
    path.chmod(0o444)
    with ByteSource(path) as src:
        t = time.monotonic()
        assert find_all(src, parse_query("13 37 4d 41 52 4b 45 52", "hex")) == [(marker_at, 8)]
        elapsed = time.monotonic() - t
        # regex and wildcards beyond 4 GiB (start near the marker: a regex pass over 4 GiB of zeros is slow)
        near = 4 * GiB - 1024 * 1024
        assert find_all(src, parse_query("13 37 ?? 41", "hex"), start=near) == [(marker_at, 4)]
        assert find_all(src, parse_query(r"MARKER\xc0.", "regex"), start=near) == [(marker_at + 2, 8)]
        assert find_all(src, parse_query("MARKER", "utf16"), start=near) == []
    assert elapsed < 120, elapsed
    assert next(iter_matches(src, b"x", start=0, end=0), None) is None


# -- FindBar ---------------------------------------------------------------------------------------
@pytest.fixture
def bar(qtbot, tmp_path: Path):
    from viewer.gui.search import FindBar

    data, at = layout()
    path = tmp_path / "bar.bin"
    path.write_bytes(data)
    dump = open_dump(path)
    widget = FindBar()
    qtbot.addWidget(widget)
    widget.set_dump(dump)
    widget.show()
    yield widget, at
    widget.set_dump(None)
    widget.wait_idle()
    dump.close()


def test_findbar_end_to_end(bar, qtbot) -> None:
    from PySide6.QtCore import Qt

    widget, at = bar
    widget.set_mode("ascii")
    qtbot.keyClicks(widget.edit, "ssh-")
    with qtbot.waitSignal(widget.sig_search_done, timeout=10000) as done:
        qtbot.mouseClick(widget.find_button, Qt.MouseButton.LeftButton)
    assert done.args == [2]
    assert widget.results() == [(at["ascii"], 4), (at["ascii2"], 4)]
    assert widget.results_list.count() == 2
    first = widget.results_list.item(0).text()
    assert first.startswith(f"{at['ascii']:#012x}") and "ssh-ed25519" in first and "raw image" in first
    assert widget.status.text().startswith("2 results")

    with qtbot.waitSignal(widget.sig_result_activated) as hit:
        assert widget.next_result() == (at["ascii"], 4)
    assert hit.args == [at["ascii"], 4]
    with qtbot.waitSignal(widget.sig_result_activated) as hit:
        widget.next_result()
    assert hit.args == [at["ascii2"], 4]
    with qtbot.waitSignal(widget.sig_result_activated) as hit:
        widget.next_result()  # wraps
    assert hit.args == [at["ascii"], 4]
    with qtbot.waitSignal(widget.sig_result_activated) as hit:
        widget.previous_result()  # wraps back
    assert hit.args == [at["ascii2"], 4]

    # activating a row (Enter on the list) emits too
    widget.results_list.setCurrentRow(0)
    widget.results_list.setFocus()
    with qtbot.waitSignal(widget.sig_result_activated) as hit:
        qtbot.keyClick(widget.results_list, Qt.Key.Key_Return)
    assert hit.args == [at["ascii"], 4]

    # showing the bar again for the same dump (Ctrl+F) keeps the results
    widget.set_dump(widget.dump)
    assert widget.results_list.count() == 2

    # hex with wildcards through the combo and Enter in the line edit
    widget.set_mode("hex")
    widget.edit.clear()
    qtbot.keyClicks(widget.edit, "de ?? be ef")
    with qtbot.waitSignal(widget.sig_search_done, timeout=10000):
        qtbot.keyClick(widget.edit, Qt.Key.Key_Return)
    assert widget.results() == [(at["deadbeef"], 4), (at["de11beef"], 4)]


def test_findbar_bad_query_and_limit(bar, qtbot) -> None:
    widget, at = bar
    widget.set_mode("hex")
    widget.edit.setText("zz")
    with qtbot.waitSignal(widget.sig_failed) as failed:
        assert widget.find() is False
    assert "hex digit" in failed.args[0] and widget.results_list.count() == 0
    widget.limit = 3
    widget.set_mode("regex")
    widget.edit.setText(r"\x00")
    with qtbot.waitSignal(widget.sig_search_done, timeout=10000):
        assert widget.find()
    assert widget.results() == [(0, 1), (1, 1), (2, 1)]
    assert "limit of 3" in widget.status.text()
    widget.set_dump(None)
    assert widget.results_list.count() == 0 and widget.find() is False


SHRINKING_SEARCH = r"""
import os, re, sys
from viewer.evidence import ByteSource
from viewer.evidence.source import EvidenceChanged
from viewer.scan.search import iter_matches

path, mode = sys.argv[1], sys.argv[2]
pattern = re.compile(rb"MARK[0-9]{4}", re.S) if mode == "regex" else b"MARK"
src = ByteSource(path)
found = 0
try:
    for _off, _len in iter_matches(src, pattern, chunk_size=1 << 20):
        found += 1
        if found == 1:
            os.truncate(path, 4096)  # the evidence shrinks under the search
except EvidenceChanged as exc:
    print("changed", found, str(exc).splitlines()[0][:80])
else:
    print("finished", found)
"""


@pytest.mark.parametrize("mode", ["regex", "literal"])
def test_a_search_of_a_file_that_shrinks_says_so_instead_of_dying(tmp_path, mode):
    """Regex searches used to hold a view of the whole mapping: truncating the file under them was SIGBUS."""
    import subprocess
    import sys

    path = tmp_path / "shrinking.bin"
    with open(path, "wb") as f:
        for i in range(64):
            f.write(b"\0" * 100_000 + f"MARK{i:04d}".encode() + b"\0" * (1 << 20))
    proc = subprocess.run([sys.executable, "-c", SHRINKING_SEARCH, str(path), mode], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-500:])
    assert proc.stdout.startswith("changed 1 "), proc.stdout
