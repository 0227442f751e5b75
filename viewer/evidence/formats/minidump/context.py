"""The state of one minidump parse and the bounded readers every stream decoder uses.

Why a context object: streams refer to each other (thread names name threads, regions are classified
by thread stacks and module ranges, perms come from MemoryInfoList), and the directory may list them in
any order. Decoders therefore record what they found here; regions and meta are built once all streams
have been read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import construct as cs
import numpy as np

from viewer.evidence.formats.base import Warnings, parse_at
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


@dataclass
class Context:
    """Everything one parse reads and collects; decoders fill the lists, the builder reads them."""

    src: ByteSource
    warnings: Warnings
    header: Any = None
    streams: list[StreamEntry] = field(default_factory=list)
    # collected by the stream decoders (details-ready dicts unless noted)
    threads: list[dict[str, Any]] = field(default_factory=list)
    thread_names: dict[int, str] = field(default_factory=dict)
    modules: list[dict[str, Any]] = field(default_factory=list)
    unloaded_modules: list[dict[str, Any]] = field(default_factory=list)
    exceptions: list[dict[str, Any]] = field(default_factory=list)
    system_info: dict[str, Any] | None = None
    misc_info: dict[str, Any] | None = None
    memory_lists: list[dict[str, Any]] = field(default_factory=list)  # one per Memory(64)List stream
    memory_info: np.ndarray | None = None  # MEMORY_INFO_DTYPE entries
    handle_count: int | None = None
    thread_info_count: int | None = None
    breakpad: dict[str, Any] = field(default_factory=dict)
    crashpad: dict[str, Any] | None = None
    mozilla: dict[str, Any] = field(default_factory=dict)
    comments: list[str] = field(default_factory=list)
    token_count: int | None = None

    @property
    def size(self) -> int:
        return self.src.size

    def warn(self, message: str) -> None:
        self.warnings.add(message)

    # -- bounded reads ---------------------------------------------------------------------------
    def parse(self, struct_: cs.Construct, offset: int, what: str) -> Any | None:
        """A fixed-size struct at ``offset``; None (and a warning) when it is not all in the file."""
        return parse_at(struct_, self.src, offset, None, what, self.warnings)

    def u32(self, offset: int) -> int | None:
        data = self.src.read(offset, 4)
        return struct.unpack("<I", data)[0] if len(data) == 4 else None

    def fit(self, count: int, available: int, entry_size: int, what: str) -> int:
        """How many of ``count`` entries of ``entry_size`` fit in ``available`` bytes (warn if fewer)."""
        if count <= 0 or entry_size <= 0:
            return 0
        fits = max(0, available) // entry_size
        if count > fits:
            self.warn(f"{what}: count {count} exceeds the space present; only {fits} entries read")
            return fits
        return count

    def clip(self, offset: int, size: int, what: str) -> int:
        """Bytes of [offset, offset+size) present in the file; warn when the file is shorter."""
        if size <= 0:
            return 0
        if offset >= self.size:
            self.warn(f"{what}: offset {offset:#x} is past the end of the file ({self.size:#x})")
            return 0
        present = min(size, self.size - offset)
        if present < size:
            self.warn(f"{what}: {size:#x} bytes at {offset:#x} run past the end of the file; clipped")
        return present

    def utf16_string(self, rva: int, what: str) -> tuple[str, int] | None:
        """A MINIDUMP_STRING at ``rva``: (text, bytes it occupies); None when absent or unreadable."""
        length = self.u32(rva)
        if length is None:
            self.warn(f"{what}: string at {rva:#x} is past the end of the file")
            return None
        if length > MAX_UTF16_STRING:
            self.warn(f"{what}: string at {rva:#x} claims {length} bytes; read the first {MAX_UTF16_STRING}")
            length = MAX_UTF16_STRING
        data = self.src.read(rva + 4, length)
        if len(data) < length:
            self.warn(f"{what}: string at {rva:#x} is truncated by the end of the file")
        return decode_utf16(data), 4 + len(data)

    def utf8_string(self, rva: int, what: str) -> tuple[str, int] | None:
        """A Crashpad MinidumpUTF8String (u32 length, bytes, NUL): (text, bytes it occupies)."""
        length = self.u32(rva)
        if length is None:
            self.warn(f"{what}: string at {rva:#x} is past the end of the file")
            return None
        if length > MAX_UTF8_STRING:
            self.warn(f"{what}: string at {rva:#x} claims {length} bytes; read the first {MAX_UTF8_STRING}")
            length = MAX_UTF8_STRING
        data = self.src.read(rva + 4, length)
        if len(data) < length:
            self.warn(f"{what}: string at {rva:#x} is truncated by the end of the file")
        return data.decode("utf-8", errors="replace"), 4 + len(data)

    def string_node(self, name: str, rva: int, what: str, utf8: bool = False) -> tuple[Node, str | None]:
        """A node for a length-prefixed string and its text (None when unreadable)."""
        got = self.utf8_string(rva, what) if utf8 else self.utf16_string(rva, what)
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


def field_nodes(struct_: cs.Struct, value: Any, offset: int) -> list[Node]:
    """One node per field of a parsed fixed-size struct, each with its own offset and length.

    Fields named with a leading underscore (alignment padding in the spec) take space but no node.
    """
    out: list[Node] = []
    pos = offset
    for sub in struct_.subcons:
        size = sub.sizeof()
        name = sub.name
        if name and not name.startswith("_"):
            inner = sub.subcon if isinstance(sub, cs.Renamed) else sub
            item = value[name]
            if isinstance(inner, cs.Struct):
                out.append(Node(name, pos, size, None, field_nodes(inner, item, pos)))
            elif isinstance(inner, cs.Array) and isinstance(inner.subcon, cs.Struct):
                step = inner.subcon.sizeof()
                kids = [
                    Node(f"[{i}]", pos + i * step, step, None, field_nodes(inner.subcon, v, pos + i * step))
                    for i, v in enumerate(item)
                ]
                out.append(Node(name, pos, size, f"{len(kids)} entries", kids))
            else:
                out.append(Node(name, pos, size, display(item)))
        pos += size
    return out


def struct_node(name: str, struct_: cs.Struct, value: Any, offset: int, summary: Any = None) -> Node:
    """A node for a whole struct whose field children are built only when expanded."""
    return Node(name, offset, struct_.sizeof(), summary, lambda: field_nodes(struct_, value, offset))


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
