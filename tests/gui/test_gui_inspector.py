"""The data inspector: every row checked against struct/uuid/datetime on known bytes in a generated
file, pointers on a real Breakpad minidump, and the end of the file."""

from __future__ import annotations

import datetime as dt
import os
import struct
import uuid
from pathlib import Path

import pytest

from tests.conftest import CORPUS
from viewer.evidence import open_dump

MINIDUMP = CORPUS / "bp_minidump2.dmp"
SIZE = 64 * 1024
KNOWN = 0x1234  # random bytes here: every int/float row is compared with struct.unpack
FILETIME_AT, UNIX32_AT, UNIX64_AT, GUID_AT, ASCII_AT, UTF16_AT = 0x2000, 0x2100, 0x2200, 0x2300, 0x2400, 0x2500
WHEN = dt.datetime(2024, 5, 17, 13, 45, 30, tzinfo=dt.UTC)
GUID = uuid.UUID("5a9832e5-2872-41c1-838e-d98914e9b7ff")




@pytest.fixture(scope="module")
def known_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = bytearray(os.urandom(SIZE))
    unix = int(WHEN.timestamp())
    filetime = (unix + 11644473600) * 10_000_000
    struct.pack_into("<Q", data, FILETIME_AT, filetime)
    struct.pack_into("<I", data, UNIX32_AT, unix)
    struct.pack_into("<q", data, UNIX64_AT, unix)
    data[GUID_AT : GUID_AT + 16] = GUID.bytes_le
    data[ASCII_AT : ASCII_AT + 12] = b"hello\tkey\0zz"
    data[UTF16_AT : UTF16_AT + 14] = "Wörld€".encode("utf-16-le") + b"\0\0"
    path = tmp_path_factory.mktemp("inspector") / "known.bin"
    path.write_bytes(bytes(data))
    return path


@pytest.fixture
def inspector(qtbot):
    from viewer.gui.inspector import Inspector

    w = Inspector()
    qtbot.addWidget(w)
    w.show()
    return w


INTS = [("int8", "b"), ("uint8", "B")] + [
    (f"{'u' if u else ''}int{bits} {e}", ("<" if e == "LE" else ">") + (c.upper() if u else c))
    for bits, c in ((16, "h"), (32, "i"), (64, "q")) for u in (False, True) for e in ("LE", "BE")
]
FLOATS = [("float32 LE", "<f"), ("float32 BE", ">f"), ("float64 LE", "<d"), ("float64 BE", ">d")]


def test_every_number_row_equals_struct_unpack(inspector, known_file: Path) -> None:
    from viewer.gui.inspector import ROW_NAMES

    assert {n for n, _ in INTS + FLOATS} <= set(ROW_NAMES) and len(INTS) == 14
    data = known_file.read_bytes()
    with open_dump(known_file) as dump:
        inspector.set_dump(dump)
        for offset in (KNOWN, 0, 7, SIZE - 8):
            inspector.show_at(offset)
            for name, fmt in INTS:
                expected = struct.unpack_from(fmt, data, offset)[0]
                assert inspector.raw(name) == expected and inspector.value(name) == str(expected), (name, offset)
            for name, fmt in FLOATS:
                expected = struct.unpack_from(fmt, data, offset)[0]
                assert inspector.value(name) == repr(expected), (name, offset)


def test_times_guid_and_strings(inspector, known_file: Path) -> None:
    iso = "2024-05-17T13:45:30Z"
    with open_dump(known_file) as dump:
        inspector.set_dump(dump)
        inspector.show_at(FILETIME_AT)
        assert inspector.value("FILETIME") == iso
        inspector.show_at(UNIX32_AT)
        assert inspector.value("Unix time 32") == iso
        inspector.show_at(UNIX64_AT)
        assert inspector.value("Unix time 64") == iso
        inspector.show_at(GUID_AT)
        assert inspector.raw("GUID") == GUID
        assert inspector.value("GUID") == "{5A9832E5-2872-41C1-838E-D98914E9B7FF}"
        assert inspector.value("FILETIME") == "— (not a plausible date)"  # the GUID's bytes are no date
        inspector.show_at(ASCII_AT)
        assert inspector.raw("ASCII") == "hello\\x09key"  # stops at NUL, escapes the tab
        inspector.show_at(UTF16_AT)
        assert inspector.raw("UTF-16LE") == "Wörld€"


def test_strings_stop_at_64_characters(inspector, tmp_path: Path) -> None:
    path = tmp_path / "long.bin"
    path.write_bytes(b"A" * 300)
    with open_dump(path) as dump:
        inspector.set_dump(dump)
        inspector.show_at(0)
        assert inspector.raw("ASCII") == "A" * 64
        assert inspector.raw("UTF-16LE") == "\u4141" * 64


def test_end_of_file(inspector, known_file: Path) -> None:
    from viewer.gui.inspector import END_OF_FILE, ROW_NAMES

    data = known_file.read_bytes()
    with open_dump(known_file) as dump:
        inspector.set_dump(dump)
        inspector.show_at(SIZE - 3)  # three bytes left
        assert inspector.raw("int8") == struct.unpack_from("b", data, SIZE - 3)[0]
        assert inspector.raw("uint16 BE") == struct.unpack_from(">H", data, SIZE - 3)[0]
        for name in ("int32 LE", "uint64 BE", "float32 LE", "float64 BE", "FILETIME", "Unix time 32",
                     "GUID", "pointer 32 LE", "pointer 64 LE"):
            assert inspector.value(name) == END_OF_FILE, name
            assert inspector.raw(name) is None
        assert "3 bytes to the end" in inspector.title.text()
        inspector.show_at(SIZE - 1)
        assert inspector.value("UTF-16LE") == END_OF_FILE and inspector.raw("uint8") == data[-1]
        for offset in (SIZE, SIZE + 100, -1):
            inspector.show_at(offset)
            assert all(inspector.value(n) == END_OF_FILE for n in ROW_NAMES)
    inspector.set_dump(None)
    inspector.show_at(0)  # no dump: nothing, no error
    assert inspector.value("int8") == ""


def _stack_words(dump):
    for region in dump.regions:
        if region.kind != "stack":
            continue
        data = dump.read(region.file_offset, region.size)
        for i in range(0, len(data) - 3, 4):
            yield region.file_offset + i, struct.unpack_from("<I", data, i)[0]


def test_a_stack_word_pointing_into_a_module_names_it(inspector) -> None:
    with open_dump(MINIDUMP) as dump:
        modules = dump.details["modules"]

        def module_of(addr: int) -> str | None:
            return next((m["name"] for m in modules if m["base"] <= addr < m["base"] + m["size"]), None)

        hits = [(off, v, module_of(v)) for off, v in _stack_words(dump) if module_of(v)]
        assert len({name for _, _, name in hits}) >= 2  # return addresses into the exe and ntdll at least
        inspector.set_dump(dump)
        for off, value, name in hits[:40]:
            inspector.show_at(off)
            text = inspector.value("pointer 32 LE")
            assert text.startswith(f"{value:#x}") and name in text, (hex(off), text)
            assert inspector.raw("pointer 32 LE") == value
            if dump.va_to_file(value) is None:
                assert "not captured" in text and inspector.pointer_target("pointer 32 LE") is None
                assert not inspector.follow("pointer 32 LE")


def test_a_pointer_into_captured_memory_can_be_followed(inspector, qtbot) -> None:
    with open_dump(MINIDUMP) as dump:
        off, value = next((o, v) for o, v in _stack_words(dump) if v and dump.va_to_file(v) is not None)
        target = dump.va_to_file(value)
        region = dump.region_at(target)
        inspector.set_dump(dump)
        inspector.show_at(off)
        text = inspector.value("pointer 32 LE")
        assert region.name in text and f"{value:#x}" in text
        assert inspector.pointer_target("pointer 32 LE") == target
        button = inspector._buttons["pointer 32 LE"]
        assert button.isEnabled()
        with qtbot.waitSignal(inspector.sig_follow_pointer) as blocker:
            button.click()
        assert blocker.args == [target]


def test_a_pointer_into_a_captured_module_region_names_and_follows_it(inspector, qtbot, tmp_path: Path) -> None:
    """The minidump holds 256 bytes of ntdll.dll; no stack word points there, so plant one (in a copy)."""
    data = bytearray(MINIDUMP.read_bytes())
    with open_dump(MINIDUMP) as dump:
        ntdll = next(r for r in dump.regions if r.kind == "module")
        stack_word = next(off for off, _ in _stack_words(dump))
    struct.pack_into("<I", data, stack_word, ntdll.vaddr + 8)
    copy = tmp_path / "planted.dmp"
    copy.write_bytes(bytes(data))
    with open_dump(copy) as dump:
        inspector.set_dump(dump)
        inspector.show_at(stack_word)
        text = inspector.value("pointer 32 LE")
        assert "ntdll.dll" in text and "(module)" in text and "+0x8" in text
        with qtbot.waitSignal(inspector.sig_follow_pointer) as blocker:
            assert inspector.follow("pointer 32 LE")
        assert blocker.args == [ntdll.file_offset + 8]
