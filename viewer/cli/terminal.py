"""Text for the examiner's terminal: nothing from a dump, a case or a bundle arrives as a control sequence.

Every string we print may come from an attacker: a process names its own modules and threads, writes its
own annotations and comment streams; a received case brings its name, examiner, comments and audit
events; a bundle its member names. Printed raw, ``ESC ] 0 ; … BEL`` retitles the window, ``ESC [ 2 J``
clears it, C1 ``CSI`` (U+009B) does the same on terminals that honour it, a newline forges a report line
(``warnings  none``) and a bidi override (U+202E) shows ``exe.txt`` as ``txt.exe``.

One rule, :func:`safe`: every character whose Unicode category is Cc (C0, DEL, C1), Cf (bidi
embeddings, overrides and isolates, zero-width and other format characters), Cs (lone surrogates,
which a UTF-8 stream cannot even encode) or Zl/Zp (line and paragraph separators) becomes a visible
escape — ``\\x1b``, ``\\u202e``, ``\\U000e0001``. Everything else, ``Müller`` and ``C:\\Windows`` included,
is unchanged. (A backslash is not doubled, so a name that *contains* the text ``\\x1b`` reads like one
that contained ESC; ``--json`` is the exact form.)

Where it is applied, so that a forgotten call cannot leak:

- :func:`emit` is the one writer of human-readable text: each argument is one line of a report, its
  content escaped whole (a newline inside a value cannot start a line of its own) and ended by the one
  newline the report puts there. Every command prints through it, errors too
  (:func:`viewer.cli.common.error`).
- :func:`guarded_streams` (entered by :func:`viewer.cli.main.main` around every command) replaces
  ``sys.stdout`` and ``sys.stderr`` with writers that escape the same characters except the newline, so
  a stray ``print``, argparse quoting a hostile argument or a ``--debug`` traceback cannot write them
  either. The progress line writes its carriage returns to the stream underneath (:func:`unguarded`).
- :func:`json_safe` escapes them in JSON text as ``\\uXXXX`` (orjson escapes C0 itself, not DEL, C1 or
  format characters), so ``--json`` output is safe on a terminal and still the same JSON value.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

#: The Unicode categories that can move the cursor, run a terminal command, hide or reorder text.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})

_SUSPECT = re.compile(r"[^\x20-\x7e]")  # printable ASCII is always safe: only the rest is looked up


def is_unsafe(ch: str) -> bool:
    """True when the character ``ch`` must not reach a terminal as itself."""
    return unicodedata.category(ch) in UNSAFE_CATEGORIES


def _visible(ch: str) -> str:
    cp = ord(ch)
    if cp <= 0xFF:
        return f"\\x{cp:02x}"
    return f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"


def _json_escape(ch: str) -> str:
    cp = ord(ch)
    if cp <= 0xFFFF:
        return f"\\u{cp:04x}"
    cp -= 0x10000  # JSON has no \U: a character past the BMP is written as its UTF-16 surrogate pair
    return f"\\u{0xD800 + (cp >> 10):04x}\\u{0xDC00 + (cp & 0x3FF):04x}"


def _escaper(form: Callable[[str], str], keep: str = "") -> Callable[[re.Match[str]], str]:
    """A ``re.sub`` callback: an unsafe character (not in ``keep``) in ``form``, any other as itself."""

    def one(m: re.Match[str]) -> str:
        ch = m.group()
        return form(ch) if ch not in keep and is_unsafe(ch) else ch

    return one


_TEXT = _escaper(_visible)
_TEXT_KEEPING_NEWLINES = _escaper(_visible, keep="\n")
_JSON = _escaper(_json_escape, keep="\t\n\r")


def safe(text: str) -> str:
    """``text`` with every control, format, surrogate and separator character as a visible escape
    (``\\x1b``, ``\\u202e``); all else unchanged. The one rule of this module."""
    return _SUSPECT.sub(_TEXT, text)


def json_safe(json_text: str) -> str:
    """Encoded JSON with the same characters as ``\\uXXXX`` escapes: the same JSON value, safe to show.
    JSON's own whitespace (raw in a valid document only between tokens) is kept."""
    return _SUSPECT.sub(_JSON, json_text)


def emit(*lines: str, file: TextIO | None = None) -> None:
    """Write each of ``lines`` as one line (to stdout by default): its content through :func:`safe`, then
    the newline. ``emit("")`` is an empty line; ``emit()`` writes nothing."""
    out = sys.stdout if file is None else file
    if lines:
        out.write("".join(safe(line) + "\n" for line in lines))


class EscapingStream:
    """A text stream in front of another: what is written has :func:`safe`'s characters escaped, except
    the newline. Everything else (``isatty``, ``fileno``, ``encoding``, ``flush``) is the stream's own."""

    def __init__(self, stream: TextIO):
        self.unguarded = stream

    def write(self, text: str) -> int:
        self.unguarded.write(_SUSPECT.sub(_TEXT_KEEPING_NEWLINES, text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.unguarded, name)


def unguarded(stream: Any) -> Any:
    """The stream under an :class:`EscapingStream` (``stream`` itself otherwise): only for bytes we write
    ourselves and know, such as the progress line's carriage returns."""
    return stream.unguarded if isinstance(stream, EscapingStream) else stream


@contextmanager
def guarded_streams() -> Iterator[None]:
    """``sys.stdout`` and ``sys.stderr`` behind :class:`EscapingStream` while inside; restored after."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = (s if isinstance(s, EscapingStream) else EscapingStream(s) for s in saved)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


__all__ = ["UNSAFE_CATEGORIES", "is_unsafe", "safe", "json_safe", "emit", "EscapingStream", "unguarded",
           "guarded_streams"]
