"""Reading text around a prefilter hit, for every credential detector: ASCII or UTF-16LE characters
mapped one-to-one to file offsets, the boundaries of a token, placeholders told from random strings, and
the finding built from a match. One home for these rules, so each provider's module holds only its shapes.
"""

from __future__ import annotations

import binascii
import math
import re
from dataclasses import dataclass
from typing import Any

from viewer.scan.detector import Hit, View
from viewer.scan.finding import Confidence, Finding

ASCII, UTF16 = "ascii", "utf16le"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def u16(ascii_regex: bytes) -> bytes:
    """The UTF-16LE form of a literal (each byte followed by an escaped NUL); classes are written by hand."""
    return b"".join(re.escape(bytes([c])) + rb"\x00" for c in ascii_regex)


# -- reading text around a hit -----------------------------------------------------------------------
def read_text(view: View, start: int, chars: int, encoding: str) -> str:
    """``chars`` characters from file offset ``start`` as a str whose index i is the character at
    ``start + i * width``. UTF-16 code units with a non-zero high byte become U+0001 (never a token
    character), so character indices map to byte offsets one-to-one."""
    if start < 0:
        chars += start // (2 if encoding == UTF16 else 1)
        start = 0
    if chars <= 0:
        return ""
    if encoding == ASCII:
        return view.read(start, chars).decode("latin-1")
    raw = view.read(start, chars * 2)
    lo, hi = raw[0::2], raw[1::2]
    if len(lo) > len(hi):
        lo = lo[: len(hi)]
    if hi.count(0) == len(hi):
        return lo.decode("latin-1")
    return bytes(a if b == 0 else 1 for a, b in zip(lo, hi, strict=True)).decode("latin-1")


def char_width(encoding: str) -> int:
    return 2 if encoding == UTF16 else 1


def char_before(view: View, start: int, encoding: str) -> str:
    w = char_width(encoding)
    return read_text(view, start - w, 1, encoding) if start >= w else ""


def shannon(text: str) -> float:
    if not text:
        return 0.0
    counts: dict[str, int] = {}
    for ch in text:
        counts[ch] = counts.get(ch, 0) + 1
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def looks_random(body: str, min_distinct: int = 10, min_bits: float = 3.5) -> bool:
    """False for placeholders: "xxxxxxxx", "0000...", "abcabcabc", "EXAMPLEKEY"-like low variety."""
    return len(set(body)) >= min_distinct and shannon(body) >= min_bits


def base62_decode(text: str) -> int:
    n = 0
    for ch in text:
        n = n * 62 + BASE62.index(ch)
    return n


def base62_crc32(body: str) -> str:
    """GitHub's (and npm's) checksum: CRC32 of the random part, base62 (0-9A-Za-z), 6 characters."""
    crc = binascii.crc32(body.encode("ascii"))
    out = ""
    while crc:
        crc, r = divmod(crc, 62)
        out = BASE62[r] + out
    return out.rjust(6, "0")


@dataclass
class TextMatch:
    start: int  # file offset
    end: int
    text: str
    encoding: str


def extent(
    view: View, hit: Hit, regex: re.Pattern[str], encoding: str, chars: int, word: str
) -> TextMatch | None:
    """Re-match ``regex`` greedily at the hit's start (hyperscan reports every end of a bounded
    repetition; only the start is trusted) and check that no ``word`` character touches either side."""
    text = read_text(view, hit.start, chars + 1, encoding)
    m = regex.match(text)
    if m is None:
        return None
    before = char_before(view, hit.start, encoding)
    after = text[m.end() : m.end() + 1]
    if (before and before in word) or (after and after in word):
        return None
    w = char_width(encoding)
    return TextMatch(hit.start, hit.start + m.end() * w, m.group(0), encoding)


ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
B64 = ALNUM + "+/"


def text_finding(
    kind: str, m: TextMatch, confidence: Confidence, reasons: list[str], details: dict[str, Any], **kw: Any
) -> Finding:
    return Finding(
        kind=kind,
        encoding=m.encoding,
        offset=m.start,
        length=m.end - m.start,
        confidence=confidence,
        reasons=reasons,
        details=details,
        **kw,
    )
