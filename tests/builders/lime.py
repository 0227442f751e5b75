"""Synthetic LiME images, built with the parser's own construct declaration of the range header.

Why build: no public LiME sample exists. A LiME file is a run of (32-byte header, range bytes); each
range here is filled with a pattern that names it, so a test knows which range a byte came from.
"""

from __future__ import annotations

from collections.abc import Callable

from viewer.evidence.formats import lime


def header(s_addr: int, e_addr: int, magic: int = lime.LIME_MAGIC, version: int = 1) -> bytes:
    """One range header; ``e_addr`` is inclusive, as LiME writes it."""
    return lime.LIME_MEM_RANGE_HEADER.build(
        {"magic": magic, "version": version, "s_addr": s_addr, "e_addr": e_addr, "reserved": bytes(8)}
    )


def pattern(index: int, length: int) -> bytes:
    """``length`` bytes of ``<range index>`` repeated: the default content of range ``index``."""
    unit = f"<range {index}>".encode()
    return (unit * (length // len(unit) + 1))[:length]


def image(ranges: list[tuple[int, int]], fill: Callable[[int, int], bytes] = pattern) -> tuple[bytes, list[int]]:
    """A LiME file: for each (s_addr, length) a header then ``fill(index, length)`` bytes.

    Returns the file and the file offset of each range's data.
    """
    out = bytearray()
    offsets = []
    for i, (start, length) in enumerate(ranges):
        out += header(start, start + length - 1)
        offsets.append(len(out))
        out += fill(i, length)
    return bytes(out), offsets
