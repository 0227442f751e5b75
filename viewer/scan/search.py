"""Find bytes in a dump: hex (with ``??`` wildcards), ASCII, UTF-16LE text or a bytes regex. No Qt here.

:func:`parse_query` turns what the examiner typed into ``bytes`` (an exact needle) or a compiled bytes
regex; :func:`find_all` (or the lazy :func:`iter_matches`) walks the read-only mapping in chunks and returns
``(file offset, length)`` pairs, in file order, never overlapping (like ``re.finditer``: after a match the
search resumes at its end).

How it scans
    Exact needles go through ``ByteSource.find`` (``mmap.find``: memchr-fast, zero-copy) one chunk at a
    time, the window of each chunk extended by ``len(needle) - 1`` bytes so that a match straddling two
    chunks is seen exactly once. Regexes run ``Pattern.finditer(mapping, pos, endpos)`` on a zero-copy view
    of the whole file, a chunk at a time with ``endpos`` extended by ``max_match`` bytes: anchors and
    look-behinds see the real bytes before a chunk, and a match that *starts* in a chunk is reported with
    that chunk. The bound matters for unbounded patterns (``a+``, ``.*``): a match is cut at ``max_match``
    bytes past its chunk's end, so keep ``max_match`` well above what you expect (default: the
    pattern's own maximum width when it has one, else :data:`DEFAULT_MAX_MATCH`).

Progress and cancel
    As in the rest of the scanner: an optional :class:`viewer.tasks.TaskState` (``progress(done, total)``
    in bytes of the searched range, ``is_cancelled``). Cancel is checked before every chunk; what was
    found until then is returned.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from viewer.tasks import TaskState

DEFAULT_CHUNK = 8 * 1024 * 1024  # bytes between cancel checks and progress reports
DEFAULT_MAX_MATCH = 4096  # bound on a regex match without a finite maximum width
DEFAULT_LIMIT = 10000
MODES = ("hex", "ascii", "utf16", "regex")

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


# -- queries ---------------------------------------------------------------------------------------
def _nibble_class(hi: str, lo: str) -> bytes:
    """Regex for one byte written as two hex digits, either of which may be ``?``."""
    if hi == "?" and lo == "?":
        return b"."
    if hi != "?" and lo != "?":
        return re.escape(bytes([int(hi + lo, 16)]))
    if lo == "?":  # 4? -> 0x40..0x4f
        base = int(hi, 16) << 4
        return b"[" + re.escape(bytes([base])) + b"-" + re.escape(bytes([base + 15])) + b"]"
    low = int(lo, 16)  # ?4 -> 0x04, 0x14, ... 0xf4
    return b"[" + b"".join(re.escape(bytes([(h << 4) | low])) for h in range(16)) + b"]"


def parse_hex(text: str) -> bytes | re.Pattern[bytes]:
    """``"de ad be ef"``, ``"deadbeef"``, ``"0xde,0xad"`` or ``"\\xde\\xad"``; ``??`` (or ``?``
    for one nibble) is a wildcard. Exact bytes without wildcards, else a bytes regex of fixed width."""
    cleaned = text.replace("0x", " ").replace("0X", " ").replace("\\x", " ")
    for sep in ",;:-":
        cleaned = cleaned.replace(sep, " ")
    digits: list[str] = []
    for token in cleaned.split():
        for ch in token:
            if ch not in _HEX_DIGITS and ch != "?":
                raise ValueError(f"not a hex digit: {ch!r}")
        if len(token) % 2:
            raise ValueError(f"odd number of hex digits in {token!r}")
        digits.extend(token[i : i + 2] for i in range(0, len(token), 2))
    if not digits:
        raise ValueError("empty hex pattern")
    if not any("?" in d for d in digits):
        return bytes(int(d, 16) for d in digits)
    if all(d == "??" for d in digits):
        raise ValueError("a hex pattern of wildcards only matches everywhere")
    return re.compile(b"".join(_nibble_class(d[0], d[1]) for d in digits), re.DOTALL)


def parse_query(text: str, mode: str) -> bytes | re.Pattern[bytes]:
    """What the examiner typed, as an exact needle or a bytes regex. ValueError (one line) when it
    cannot be searched for.

    ``hex``: see :func:`parse_hex`. ``ascii``: the text as typed (UTF-8 for characters beyond ASCII).
    ``utf16``: the text encoded UTF-16LE, as Windows keeps strings in memory. ``regex``: a bytes regex
    (the text encoded UTF-8, so ``\\x00`` and ``[\\x80-\\xff]`` escapes work), with DOTALL.
    """
    if not text:
        raise ValueError("nothing to search for")
    if mode == "hex":
        return parse_hex(text)
    if mode == "ascii":
        return text.encode("utf-8")
    if mode == "utf16":
        return text.encode("utf-16-le")
    if mode == "regex":
        try:
            pattern = re.compile(text.encode("utf-8"), re.DOTALL)
        except re.error as exc:
            raise ValueError(f"bad regex: {exc}") from None
        if pattern.match(b"") is not None:
            raise ValueError("this regex matches the empty string (everywhere)")
        return pattern
    raise ValueError(f"unknown search mode {mode!r}: use one of {', '.join(MODES)}")


def max_width(pattern: re.Pattern[bytes], default: int = DEFAULT_MAX_MATCH) -> int:
    """The longest match ``pattern`` can make, when the regex parser knows it and it is at most
    ``default``; ``default`` otherwise (unbounded repeats)."""
    try:
        from re import _parser  # CPython >= 3.11

        _lo, hi = _parser.parse(pattern.pattern, pattern.flags).getwidth()
    except Exception:  # noqa: BLE001 - private API: any surprise just means "unknown"
        return default
    return max(1, min(int(hi), default))


# -- scanning --------------------------------------------------------------------------------------
def iter_matches(
    source: Any,
    pattern: bytes | re.Pattern[bytes],
    start: int = 0,
    end: int | None = None,
    state: TaskState | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    max_match: int | None = None,
) -> Iterator[tuple[int, int]]:
    """Lazily yield ``(offset, length)`` of every non-overlapping match in file bytes [start, end).

    ``source`` is a ByteSource, a Dump (its ``source`` is used) or anything with ``size`` and
    ``view(offset, length)``. Stops quietly when ``state`` says cancelled.
    """
    src = getattr(source, "source", source)
    size = int(src.size)
    lo = max(0, int(start))
    hi = size if end is None else max(lo, min(size, int(end)))
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    total = hi - lo
    if state is not None:
        state.progress(0, total)
    if hi <= lo:
        return
    if isinstance(pattern, bytes | bytearray | memoryview):
        yield from _iter_exact(src, bytes(pattern), lo, hi, state, chunk_size)
    else:
        bound = max_width(pattern) if max_match is None else max(1, int(max_match))
        yield from _iter_regex(src, pattern, lo, hi, state, chunk_size, bound)


def _iter_exact(
    src: Any, needle: bytes, lo: int, hi: int, state: TaskState | None, chunk: int
) -> Iterator[tuple[int, int]]:
    n = len(needle)
    if n == 0:
        raise ValueError("empty needle")
    finder = getattr(src, "find", None)
    pos = lo  # no match may start before pos (non-overlapping)
    for chunk_start in range(lo, hi, chunk):
        if state is not None and state.is_cancelled:
            return
        chunk_end = min(hi, chunk_start + chunk)
        window_end = min(hi, chunk_end + n - 1)  # a match starting in this chunk may end past it
        p = max(pos, chunk_start)
        if callable(finder):
            while p < chunk_end:
                i = finder(needle, p, window_end)
                if i < 0 or i >= chunk_end:
                    break
                yield i, n
                p = pos = i + n
        else:  # a source without find(): copy the window (test doubles, small sources)
            data = bytes(src.view(chunk_start, window_end - chunk_start))
            while p < chunk_end:
                i = data.find(needle, p - chunk_start)
                if i < 0 or chunk_start + i >= chunk_end:
                    break
                yield chunk_start + i, n
                p = pos = chunk_start + i + n
        if state is not None:
            state.progress(chunk_end - lo, hi - lo)


#: Bytes before each window that a regex may look behind at (``(?<=...)``, ``\b``).
REGEX_LEAD = 256


def _iter_regex(
    src: Any, pattern: re.Pattern[bytes], lo: int, hi: int, state: TaskState | None, chunk: int, bound: int
) -> Iterator[tuple[int, int]]:
    """Matches starting in ``[lo, hi)``, each at most ``bound`` long, read window by window.

    Each window is read (a copy, through ``src.read``), never the mapping: a file that shrinks under the
    search raises the source's EvidenceChanged instead of killing the process with SIGBUS. A window holds
    its chunk, ``bound`` bytes after it (a match may run past the chunk) and :data:`REGEX_LEAD` before it
    (look-behind sees the bytes it would see in the whole file)."""
    pos = lo
    for chunk_start in range(lo, hi, chunk):
        if state is not None and state.is_cancelled:
            return
        chunk_end = min(hi, chunk_start + chunk)
        window_end = min(hi, chunk_end + bound)
        base = max(0, chunk_start - REGEX_LEAD)
        data = src.read(base, window_end - base)
        limit = base + len(data)
        p = max(pos, chunk_start)
        while p < min(chunk_end, limit):
            m = pattern.search(data, p - base, limit - base)
            if m is None or base + m.start() >= chunk_end:
                break
            s, e = base + m.start(), base + m.end()
            if e == s:  # an empty match: step over it, report nothing
                p = s + 1
                continue
            yield s, e - s
            p = pos = e
        if state is not None:
            state.progress(chunk_end - lo, hi - lo)


def find_all(
    source: Any,
    pattern: bytes | re.Pattern[bytes],
    start: int = 0,
    end: int | None = None,
    state: TaskState | None = None,
    limit: int = DEFAULT_LIMIT,
    chunk_size: int = DEFAULT_CHUNK,
    max_match: int | None = None,
) -> list[tuple[int, int]]:
    """Every non-overlapping match of ``pattern`` in file bytes [start, end), as ``(offset, length)``,
    at most ``limit`` of them (the first ones in file order). See :func:`iter_matches`."""
    out: list[tuple[int, int]] = []
    if limit <= 0:
        return out
    for hit in iter_matches(source, pattern, start, end, state, chunk_size, max_match):
        out.append(hit)
        if len(out) >= limit:
            break
    return out
