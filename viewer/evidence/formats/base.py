"""Shared helpers for format parsers: bounded reads and counts checked against the file.

Every count and length in a dump is attacker- or corruption-controlled. These helpers make the safe
path the short one: ask for N entries of S bytes at an offset and get back how many really fit, with a
warning when the file says more than it holds.
"""

from __future__ import annotations

from typing import Any

import construct as cs

from viewer.evidence.source import ByteSource


class Warnings(list[str]):
    """The warnings of one parse, in the order they were found."""

    def add(self, message: str) -> None:
        self.append(message)


def bounded_count(
    src: ByteSource, offset: int, count: int, entry_size: int, what: str, warnings: Warnings
) -> int:
    """How many of ``count`` entries of ``entry_size`` bytes at ``offset`` really lie in the file."""
    if count <= 0 or entry_size <= 0:
        return max(0, count) if entry_size <= 0 else 0
    fits = src.available(offset) // entry_size
    if count > fits:
        warnings.add(
            f"{what}: count {count} at offset {offset:#x} exceeds the file; only {fits} entries present"
        )
        return fits
    return count


def parse_at(
    struct: cs.Construct, src: ByteSource, offset: int, size: int | None, what: str, warnings: Warnings
) -> Any | None:
    """Parse ``struct`` from the file at ``offset``; a short or malformed read becomes a warning."""
    length = size if size is not None else struct.sizeof()
    data = src.read(offset, length)
    if len(data) < length:
        warnings.add(f"{what}: truncated at offset {offset:#x} ({len(data)} of {length} bytes present)")
        return None
    try:
        return struct.parse(data)
    except (cs.ConstructError, ValueError, OverflowError, UnicodeDecodeError) as exc:
        warnings.add(f"{what}: malformed at offset {offset:#x}: {type(exc).__name__}")
        return None


def clean(value: Any) -> Any:
    """A construct Container turned into plain JSON-able dicts and lists, without private '_' keys."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, cs.EnumIntegerString):
        return str(value)
    return value
