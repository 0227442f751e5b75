"""What one minidump parse collects, on the shared parse context, and the minidump string readers.

Why a state object: streams refer to each other (thread names name threads, regions are classified
by thread stacks and module ranges, perms come from MemoryInfoList), and the directory may list them in
any order. Decoders therefore record what they found here; regions and meta are built once all streams
have been read. Strings are read once per RVA (a thousand modules may name one string) and charged to
the parse's copy budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import construct as cs
import numpy as np

from viewer.evidence.formats.base import ParseContext, Warnings
from viewer.evidence.model import Node
from viewer.evidence.source import ByteSource

MAX_UTF16_STRING = 64 * 1024  # MINIDUMP_STRING: paths are at most 32767 UTF-16 units
MAX_UTF8_STRING = 1024 * 1024  # Crashpad annotations may hold a backtrace, not more
MAX_TEXT_STREAM = 16 * 1024 * 1024  # /proc files copied into Breakpad streams


@dataclass(slots=True)
class StreamEntry:
    """One MINIDUMP_DIRECTORY entry, with its location clipped to the file."""

    index: int
    type: int
    name: str
    rva: int
    size: int  # DataSize as the directory says
    length: int  # bytes really present from rva (clipped to the file)
    dir_offset: int  # where the directory entry itself lies
    first: int | None = None  # for a repeated stream type: the index of the entry that was decoded


class MinidumpState(ParseContext):
    """Everything one parse reads and collects; decoders fill the lists, the builder reads them."""

    def __init__(self, src: ByteSource, warnings: Warnings):
        super().__init__(src, warnings)
        self.header: Any = None
        self.streams: list[StreamEntry] = []
        # collected by the stream decoders (details-ready dicts unless noted)
        self.threads: list[dict[str, Any]] = []
        self.thread_names: dict[int, str] = {}
        self.modules: list[dict[str, Any]] = []
        self.unloaded_modules: list[dict[str, Any]] = []
        self.exceptions: list[dict[str, Any]] = []
        self.system_info: dict[str, Any] | None = None
        self.misc_info: dict[str, Any] | None = None
        self.memory_lists: list[dict[str, Any]] = []  # one per Memory(64)List stream
        self.memory_info: np.ndarray | None = None  # MEMORY_INFO_DTYPE entries
        self.handle_count: int | None = None
        self.thread_info_count: int | None = None
        self.breakpad: dict[str, Any] = {}
        self.crashpad: dict[str, Any] | None = None
        self.mozilla: dict[str, Any] = {}
        self.comments: list[str] = []
        self.token_count: int | None = None
        self._strings: dict[tuple[int, bool], tuple[str, int] | None] = {}

    # -- strings ---------------------------------------------------------------------------------
    def _string(self, rva: int, what: str, utf8: bool) -> tuple[str, int] | None:
        """A length-prefixed string at ``rva`` (read once per RVA): (text, bytes it occupies)."""
        key = (rva, utf8)
        if key in self._strings:
            return self._strings[key]
        cap = MAX_UTF8_STRING if utf8 else MAX_UTF16_STRING
        length = self.u32(rva)
        got: tuple[str, int] | None = None
        if length is None:
            self.warn(f"{what}: string at {rva:#x} is past the end of the file")
        else:
            if length > cap:
                self.warn(f"{what}: string at {rva:#x} claims {length} bytes; read the first {cap}")
                length = cap
            data = self.read_copy(rva + 4, length, what)
            if len(data) < length:
                self.warn(f"{what}: string at {rva:#x} is truncated by the end of the file")
            text = data.decode("utf-8", errors="replace") if utf8 else decode_utf16(data)
            got = (text, 4 + len(data))
        self._strings[key] = got
        return got

    def utf16_string(self, rva: int, what: str) -> tuple[str, int] | None:
        """A MINIDUMP_STRING at ``rva``: (text, bytes it occupies); None when absent or unreadable."""
        return self._string(rva, what, utf8=False)

    def utf8_string(self, rva: int, what: str) -> tuple[str, int] | None:
        """A Crashpad MinidumpUTF8String (u32 length, bytes, NUL): (text, bytes it occupies)."""
        return self._string(rva, what, utf8=True)

    def string_node(self, name: str, rva: int, what: str, utf8: bool = False) -> tuple[Node, str | None]:
        """A node for a length-prefixed string and its text (None when unreadable)."""
        got = self._string(rva, what, utf8)
        if got is None:
            return Node(name, min(rva, self.size), 0, None), None
        text, length = got
        return Node(name, rva, length, text), text


def decode_utf16(data: bytes) -> str:
    """UTF-16LE without trusting it: odd lengths and lone surrogates become U+FFFD, not errors."""
    if len(data) % 2:
        data = data[:-1]
    return data.decode("utf-16-le", errors="replace")


def wide_cstring(data: bytes) -> str:
    """A fixed WCHAR[] buffer up to its first NUL unit."""
    text = decode_utf16(data)
    return text.split("\0", 1)[0]


def display(value: Any) -> Any:
    """A parsed value as the structure tree shows it: bytes as hex, lists kept, the rest as is."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        return [display(v) for v in value]
    return value


def guid_text(guid: Any) -> str:
    """A GUID as Windows prints it (upper-case, dashed, no braces)."""
    d4 = guid.Data4
    return f"{guid.Data1:08X}-{guid.Data2:04X}-{guid.Data3:04X}-{d4[:2].hex().upper()}-{d4[2:].hex().upper()}"


def basename(path: str) -> str:
    """The last component of a Windows or POSIX path (minidumps carry both)."""
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or path


def snake(name: str) -> str:
    """A spec field name (``ProcessCreateTime``) as a JSON key (``process_create_time``)."""
    out = []
    for i, ch in enumerate(name):
        if (
            ch.isupper()
            and i
            and (not name[i - 1].isupper() or (i + 1 < len(name) and name[i + 1].islower()))
        ):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def plain(struct_: cs.Struct, value: Any) -> dict[str, Any]:
    """A parsed struct as a JSON-able dict with snake_case keys (padding fields left out)."""
    out: dict[str, Any] = {}
    for sub in struct_.subcons:
        name = sub.name
        if not name or name.startswith("_"):
            continue
        inner = sub.subcon if isinstance(sub, cs.Renamed) else sub
        item = value[name]
        if isinstance(inner, cs.Struct):
            out[snake(name)] = plain(inner, item)
        elif isinstance(inner, cs.Array) and isinstance(inner.subcon, cs.Struct):
            out[snake(name)] = [plain(inner.subcon, v) for v in item]
        else:
            out[snake(name)] = display(item)
    return out
