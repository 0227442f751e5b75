"""Ubuntu apport crash reports (``.crash``): the format of apport's ``problem_report`` module.

The file is a list of ``Key: value`` lines (RFC 822 style). A value continues on the following lines
that start with one space. A binary value is ``Key: base64`` followed by continuation lines, each the
base64 of one piece of a gzip-format stream (a gzip header, raw deflate blocks, the CRC-32 and size
trailer); the core dump is the field ``CoreDump``. Read in one streaming pass (a report holding a core
can be gigabytes): text values are kept up to :data:`MAX_VALUE` bytes each and :data:`MAX_TEXT` in all,
lines up to :data:`MAX_LINE` bytes, fields up to :data:`MAX_FIELDS`; binary values are only located, and
decoded later line by line (:class:`Base64Lines`) straight into the gzip reader.

Detection: a report starts with ``ProblemType: `` (apport writes that field first).
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from viewer.evidence.source import ByteSource

MAGIC = b"ProblemType: "
MAX_LINE = 16 * 1024 * 1024
MAX_VALUE = 4096
MAX_TEXT = 1024 * 1024
MAX_FIELDS = 4096
READ = 1 << 20
_KEY = re.compile(rb"^([A-Za-z0-9_.\-]+):(?: (.*))?$", re.DOTALL)


def probe(head: bytes) -> bool:
    return head.startswith(MAGIC)


@dataclass
class Field:
    key: str
    offset: int  # the key line's file offset
    end: int = 0  # end of the value (last continuation line included)
    binary: bool = False
    value: str = ""  # text values, up to MAX_VALUE characters
    truncated: bool = False
    lines_at: int = 0  # binary: offset of the first continuation line


@dataclass
class Report:
    fields: list[Field] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def binary(self, key: str) -> Field | None:
        return next((f for f in self.fields if f.binary and f.key == key), None)

    def text(self) -> dict[str, str]:
        return {f.key: f.value for f in self.fields if not f.binary}


def lines(src: ByteSource, start: int = 0, end: int | None = None,
          on_read: Callable[[int], None] | None = None):
    """(offset, line without its newline, complete) for [start, end); a line longer than MAX_LINE is
    given in MAX_LINE pieces, marked incomplete. One pass, each byte copied a bounded number of times."""
    stop = src.size if end is None else min(end, src.size)
    pos = start  # next file offset to read
    buf = b""
    buf_at = start  # file offset of buf[0]
    i = 0  # start of the current line in buf
    while True:
        nl = buf.find(b"\n", i)
        if nl >= 0:
            yield buf_at + i, buf[i:nl], True
            i = nl + 1
            continue
        if len(buf) - i >= MAX_LINE:
            yield buf_at + i, buf[i:i + MAX_LINE], False
            i += MAX_LINE
            continue
        more = src.read(pos, min(READ, stop - pos)) if pos < stop else b""
        if not more:
            if i < len(buf):
                yield buf_at + i, buf[i:], True
            return
        pos += len(more)
        if on_read is not None:
            on_read(pos)
        buf_at += i
        buf = buf[i:] + more
        i = 0


def parse(src: ByteSource, on_read: Callable[[int], None] | None = None) -> Report:
    """Every field of the report: text values (bounded) and where binary values lie."""
    rep = Report()
    text_left = MAX_TEXT
    cur: Field | None = None
    for at, line, complete in lines(src, on_read=on_read):
        if not complete and (cur is None or not cur.binary):
            rep.warnings.append(f"apport: a line at offset {at:#x} is longer than {MAX_LINE} bytes; "
                                "it is not read")
            cur = None
            continue
        if line.startswith(b" "):
            if cur is None:
                rep.warnings.append(f"apport: a continuation line at offset {at:#x} belongs to no field")
                continue
            cur.end = at + len(line) + 1
            if cur.binary:
                if not cur.lines_at:
                    cur.lines_at = at
                continue
            piece = line[1:].decode("utf-8", "replace")
            room = min(MAX_VALUE - len(cur.value), text_left)
            if room > 0:
                add = ("\n" if cur.value else "") + piece
                cur.value += add[:room]
                text_left -= min(room, len(add))
            if len(piece) >= room:
                cur.truncated = True
            continue
        m = _KEY.match(line)
        if not m:
            if line.strip():
                rep.warnings.append(f"apport: line at offset {at:#x} is not `Key: value`; skipped")
            cur = None
            continue
        if len(rep.fields) >= MAX_FIELDS:
            rep.warnings.append(f"apport: more than {MAX_FIELDS} fields; the rest are not read")
            break
        key = m.group(1).decode("ascii")
        value = m.group(2) or b""
        cur = Field(key, at, at + len(line) + 1)
        if value == b"base64":
            cur.binary = True
        else:
            text = value.decode("utf-8", "replace")
            room = min(MAX_VALUE, text_left)
            cur.value = text[:room]
            text_left -= len(cur.value)
            cur.truncated = len(text) > room
        rep.fields.append(cur)
    return rep


class Base64Lines:
    """The bytes of a binary value: each continuation line base64-decoded on its own, as written."""

    def __init__(self, src: ByteSource, fld: Field, on_read: Callable[[int], None] | None = None):
        self.iter = lines(src, fld.lines_at, fld.end, on_read) if fld.lines_at else iter(())
        self.key = fld.key
        self.buf = b""

    def read(self, n: int) -> bytes:
        while len(self.buf) < n:
            try:
                at, line, complete = next(self.iter)
            except StopIteration:
                break
            if not complete:
                raise ValueError(f"apport {self.key}: a base64 line at offset {at:#x} is too long")
            try:
                self.buf += binascii.a2b_base64(line.strip(), strict_mode=True)
            except binascii.Error:
                raise ValueError(f"apport {self.key}: the base64 line at offset {at:#x} is malformed") from None
        out, self.buf = self.buf[:n], self.buf[n:]
        return out
