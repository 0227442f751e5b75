"""Reading evidence: the read-only byte source, hashing, format detection and the dump model."""

from __future__ import annotations

import os

from viewer.evidence.errors import EvidenceError
from viewer.evidence.formats import HEAD_SIZE, detect, raw
from viewer.evidence.formats.base import Warnings
from viewer.evidence.model import Dump, Node, ParseResult, Region
from viewer.evidence.source import ByteSource, EvidenceChanged


def open_dump(path: str | os.PathLike[str]) -> Dump:
    """Open ``path`` read-only and parse it with the parser its magic bytes select.

    Raises :class:`EvidenceError` only when the file cannot be read at all; a corrupt or truncated dump
    still opens, with what could be parsed and warnings for the rest. A parser bug is caught here too:
    the examiner gets the raw bytes and a warning rather than nothing.
    """
    source = ByteSource(path)
    head = source.read(0, HEAD_SIZE)
    warnings = Warnings()
    try:
        module = detect(head)
    except Exception as exc:  # noqa: BLE001 - a faulty probe must not keep evidence from opening
        warnings.add(f"format detection failed ({type(exc).__name__}); opened as a raw image")
        module = None
    if module is None:
        if source.size:
            warnings.add("format not recognised from its magic bytes; opened as a raw image")
        return Dump(source, raw.parse(source, warnings))
    try:
        parsed = module.parse(source, warnings)
    except RecursionError:
        warnings.add(f"{module.FORMAT}: structure nested too deeply; opened as a raw image")
        parsed = raw.parse(source, warnings)
    except Exception as exc:  # noqa: BLE001 - evidence must always open; the failure is reported
        warnings.add(f"{module.FORMAT} parser failed ({type(exc).__name__}); opened as a raw image")
        parsed = raw.parse(source, warnings)
    return Dump(source, parsed)


__all__ = ["open_dump", "Dump", "Region", "Node", "ParseResult", "ByteSource", "EvidenceError", "EvidenceChanged"]
