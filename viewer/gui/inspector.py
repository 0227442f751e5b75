"""The data inspector: the bytes at the cursor read as every common type.

Integers (8-64 bit, signed and unsigned, little and big endian), floats, timestamps (FILETIME and Unix
32/64, shown as ISO UTC only when plausible), a GUID, ASCII and UTF-16LE strings (up to 64 characters,
stopping at NUL), and pointers (32/64-bit LE): where a pointer lands — a region captured in the dump
(with a "follow" button that emits ``sig_follow_pointer(file_offset)``) or a module's address range that
the dump does not hold. Near the end of the file a row that needs more bytes than remain says so.
"""

from __future__ import annotations

import datetime as dt
import struct
import uuid
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QHeaderView,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from viewer.evidence import Dump
from viewer.gui.plain import PlainLabel, tip

MAX_CHARS = 64
READ = 2 * MAX_CHARS  # enough for every row (UTF-16: 64 code units)
COL_TYPE, COL_VALUE, COL_ACTION = range(3)

# name, struct format (None: special row)
INT_ROWS: list[tuple[str, str]] = []
for _bits, _code in ((8, "b"), (16, "h"), (32, "i"), (64, "q")):
    for _signed in (True, False):
        _c = _code if _signed else _code.upper()
        _name = f"{'int' if _signed else 'uint'}{_bits}"
        if _bits == 8:
            INT_ROWS.append((_name, _c))
        else:
            INT_ROWS.append((f"{_name} LE", "<" + _c))
            INT_ROWS.append((f"{_name} BE", ">" + _c))
FLOAT_ROWS = [("float32 LE", "<f"), ("float32 BE", ">f"), ("float64 LE", "<d"), ("float64 BE", ">d")]
TIME_ROWS = ["FILETIME", "Unix time 32", "Unix time 64"]
OTHER_ROWS = ["GUID", "ASCII", "UTF-16LE"]
POINTER_ROWS = [("pointer 32 LE", "<I"), ("pointer 64 LE", "<Q")]
ROW_NAMES = ([n for n, _ in INT_ROWS] + [n for n, _ in FLOAT_ROWS] + TIME_ROWS + OTHER_ROWS
             + [n for n, _ in POINTER_ROWS])

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
PLAUSIBLE_FROM = dt.datetime(1980, 1, 1, tzinfo=dt.UTC)
PLAUSIBLE_TO = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
FILETIME_EPOCH_DELTA = 11644473600  # seconds from 1601-01-01 to 1970-01-01
END_OF_FILE = "— (end of file)"
IMPLAUSIBLE = "— (not a plausible date)"


def _iso(seconds: float) -> str | None:
    try:
        when = EPOCH + dt.timedelta(seconds=seconds)
    except (OverflowError, ValueError):
        return None
    if not PLAUSIBLE_FROM <= when < PLAUSIBLE_TO:
        return None
    text = when.isoformat().replace("+00:00", "Z")
    return text


def filetime_text(value: int) -> str | None:
    """100 ns ticks since 1601-01-01 UTC as ISO 8601 UTC, or None when implausible."""
    return _iso(value / 10_000_000 - FILETIME_EPOCH_DELTA)


def unix_text(value: int) -> str | None:
    return _iso(float(value))


def ascii_text(data: bytes) -> str:
    """Up to 64 characters, stopping at NUL; non-printable bytes as ``\\xNN``."""
    out = []
    for b in data[:MAX_CHARS]:
        if b == 0:
            break
        out.append(chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}")
    return "".join(out)


def utf16_text(data: bytes) -> str:
    """Up to 64 UTF-16LE code units, stopping at a NUL unit; undecodable units as U+FFFD."""
    units = bytearray()
    for i in range(0, min(len(data), 2 * MAX_CHARS) - 1, 2):
        unit = data[i : i + 2]
        if unit == b"\0\0":
            break
        units += unit
    text = units.decode("utf-16-le", errors="replace")
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)


class Inspector(QWidget):
    """Rows of interpretations of the bytes at one file offset. ``value(name)`` is a row's text and
    ``raw(name)`` its Python value (None where the bytes ran out)."""

    sig_follow_pointer = Signal(object)  # file offset (a Python int: dumps exceed 4 GiB)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.dump: Dump | None = None
        self.offset: int | None = None
        self._raw: dict[str, Any] = {}
        self._targets: dict[str, int] = {}  # pointer row -> file offset it points to
        self.title = PlainLabel("no dump")
        self.tree = QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Type", "Value", ""])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.itemDoubleClicked.connect(self._double_clicked)
        fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self._items: dict[str, QTreeWidgetItem] = {}
        self._buttons: dict[str, QToolButton] = {}
        for name in ROW_NAMES:
            item = QTreeWidgetItem([name, ""])
            item.setFont(COL_VALUE, fixed)
            self.tree.addTopLevelItem(item)
            self._items[name] = item
        for name, _ in POINTER_ROWS:
            button = QToolButton()
            button.setText("follow")
            button.setToolTip("Go to the bytes this pointer points to")
            button.setEnabled(False)
            button.clicked.connect(lambda _=False, n=name: self.follow(n))
            self.tree.setItemWidget(self._items[name], COL_ACTION, button)
            self._buttons[name] = button
        header = self.tree.header()
        header.setSectionResizeMode(COL_TYPE, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_VALUE, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_ACTION, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.tree, 1)
        self._clear_values()

    # -- API -----------------------------------------------------------------------------------
    def set_dump(self, dump: Dump | None) -> None:
        self.dump = dump
        self.offset = None
        self.title.setText("no dump" if dump is None else "select a byte")
        self._clear_values()

    def value(self, name: str) -> str:
        return self._items[name].text(COL_VALUE)

    def raw(self, name: str) -> Any:
        return self._raw.get(name)

    def pointer_target(self, name: str) -> int | None:
        """The file offset a pointer row points to, when the dump holds that memory."""
        return self._targets.get(name)

    def follow(self, name: str) -> bool:
        target = self._targets.get(name)
        if target is None:
            return False
        self.sig_follow_pointer.emit(target)
        return True

    def show_at(self, offset: int) -> None:
        self._clear_values()
        dump = self.dump
        if dump is None:
            return
        self.offset = offset
        if not 0 <= offset < dump.size:
            self.title.setText(f"offset {offset:#x} is outside the file ({dump.size} bytes)")
            for name in ROW_NAMES:
                self._set(name, END_OF_FILE, None)
            return
        data = dump.read(offset, READ)
        va = dump.file_to_va(offset)
        where = f"file offset {offset:#x}" + ("" if va is None else f", address {va:#x}")
        if len(data) < READ:
            where += f" ({len(data)} bytes to the end of the file)"
        self.title.setText(where)
        for name, fmt in INT_ROWS + FLOAT_ROWS:
            n = struct.calcsize(fmt)
            if len(data) < n:
                self._set(name, END_OF_FILE, None)
                continue
            v = struct.unpack_from(fmt, data)[0]
            self._set(name, repr(v) if isinstance(v, float) else str(v), v)
        self._times(data)
        self._others(data)
        self._pointers(data)

    # -- rows ----------------------------------------------------------------------------------
    def _times(self, data: bytes) -> None:
        for name, fmt, conv in (("FILETIME", "<Q", filetime_text), ("Unix time 32", "<I", unix_text),
                                ("Unix time 64", "<q", unix_text)):
            n = struct.calcsize(fmt)
            if len(data) < n:
                self._set(name, END_OF_FILE, None)
                continue
            v = struct.unpack_from(fmt, data)[0]
            text = conv(v)
            self._set(name, text if text is not None else IMPLAUSIBLE, text)

    def _others(self, data: bytes) -> None:
        if len(data) >= 16:
            g = uuid.UUID(bytes_le=bytes(data[:16]))
            self._set("GUID", "{" + str(g).upper() + "}", g)
        else:
            self._set("GUID", END_OF_FILE, None)
        if data:
            text = ascii_text(data)
            self._set("ASCII", f'"{text}"', text)
        else:
            self._set("ASCII", END_OF_FILE, None)
        if len(data) >= 2:
            text = utf16_text(data)
            self._set("UTF-16LE", f'"{text}"', text)
        else:
            self._set("UTF-16LE", END_OF_FILE, None)

    def _pointers(self, data: bytes) -> None:
        dump = self.dump
        assert dump is not None
        for name, fmt in POINTER_ROWS:
            n = struct.calcsize(fmt)
            if len(data) < n:
                self._set(name, END_OF_FILE, None)
                continue
            addr = struct.unpack_from(fmt, data)[0]
            self._raw[name] = addr
            target = dump.va_to_file(addr) if addr else None
            if target is not None:
                region = dump.region_at(target)
                label = (region.name or region.kind) if region is not None else "?"
                kind = f" ({region.kind})" if region is not None and region.name else ""
                text = f"{addr:#x} → {label}{kind} +{addr - (region.vaddr or 0):#x}" if region is not None \
                    else f"{addr:#x} → file offset {target:#x}"
                self._targets[name] = target
                self._buttons[name].setEnabled(True)
                self._buttons[name].setToolTip(f"Go to file offset {target:#x}")
            else:
                module = self._module_at(addr) if addr else None
                if module is not None:
                    text = f"{addr:#x} → module {module} (not captured in the dump)"
                else:
                    text = f"{addr:#x} (not in the dump)"
            self._items[name].setText(COL_VALUE, text)
            self._items[name].setToolTip(COL_VALUE, tip(text))

    def _module_at(self, addr: int) -> str | None:
        modules = (self.dump.details or {}).get("modules") if self.dump is not None else None
        for m in modules or ():
            try:
                base, size = int(m["base"]), int(m["size"])
            except (KeyError, TypeError, ValueError):
                continue
            if base <= addr < base + size:
                return str(m.get("name") or f"at {base:#x}")
        return None

    def _set(self, name: str, text: str, raw: Any) -> None:
        self._items[name].setText(COL_VALUE, text)
        self._items[name].setToolTip(COL_VALUE, tip(text))
        self._raw[name] = raw

    def _clear_values(self) -> None:
        self._raw.clear()
        self._targets.clear()
        for item in self._items.values():
            item.setText(COL_VALUE, "")
            item.setToolTip(COL_VALUE, "")
        for button in self._buttons.values():
            button.setEnabled(False)
            button.setToolTip("Go to the bytes this pointer points to")

    def _double_clicked(self, item: QTreeWidgetItem, column: int) -> None:
        name = item.text(COL_TYPE)
        if name in self._targets:
            self.follow(name)


__all__ = ["Inspector", "ROW_NAMES", "filetime_text", "unix_text", "ascii_text", "utf16_text"]
