"""Reading evidence: the read-only byte source, hashing, format detection and the dump model."""

from __future__ import annotations

import os

from viewer.evidence.containers import unwrap
from viewer.evidence.errors import EvidenceError
from viewer.evidence.formats import HEAD_SIZE, detect, raw
from viewer.evidence.formats.base import Warnings
from viewer.evidence.model import Dump, Node, ParseResult, Region
from viewer.evidence.source import ByteSource, EvidenceChanged
from viewer.tasks import TaskState


def open_dump(path: str | os.PathLike[str], state: TaskState | None = None, member: str | None = None) -> Dump:
    """Open ``path`` read-only and parse it with the parser its magic bytes select.

    A container (zstd, lz4, xz, gzip, bzip2, ZIP, apport ``.crash``, nested) is unwrapped first into the
    content-addressed cache (:mod:`viewer.evidence.containers`); the dump's offsets are then offsets in
    the decompressed content, and ``dump.origin`` says where it came from. A ZIP of several dumps gives
    its first here, with a warning, or the one named ``member`` (:attr:`Dump.member`: one of several
    dumps in one file is evidence by that name); :func:`open_dumps` gives them all.

    Raises :class:`EvidenceError` only when the file cannot be read at all (or the open was cancelled);
    a corrupt or truncated dump still opens, with what could be parsed and warnings for the rest. A
    parser bug is caught here too: the examiner gets the raw bytes and a warning rather than nothing.
    """
    dumps = open_dumps(path, state)
    chosen = pick(dumps, member)
    if chosen is None:
        raise EvidenceError(f"{path}: no dump {member!r} in it (it holds {len(dumps)})")
    if member is not None:
        return chosen
    if len(dumps) > 1:
        dumps[0].warnings.insert(0, f"the container holds {len(dumps)} dumps; this is the first "
                                 f"({dumps[0].origin.member if dumps[0].origin else ''}): "
                                 "`info` and `scan` report each, the window opens each in a tab")
    return dumps[0]


def open_dumps(path: str | os.PathLike[str], state: TaskState | None = None) -> list[Dump]:
    """Every dump in ``path``: one for a dump or a single-member container, one per member of a ZIP."""
    out = []
    for item in unwrap(path, state):
        dump = parse_source(item.source, item.warnings, item.origin)
        out.append(dump)
    return out


def pick(dumps: list[Dump], member: str | None) -> Dump | None:
    """Of dumps opened together (:func:`open_dumps`), the one named ``member`` (the first when None);
    the others are closed — their contents only, since the dumps of one file share its source, which
    stays open with the one picked. None, and everything closed, when no dump has that name."""
    chosen = dumps[0] if member is None else next((d for d in dumps if d.member == member), None)
    for other in dumps:
        if other is not chosen:
            other.source.close()
    if chosen is None:
        close_dumps(dumps[:1])
    return chosen


def close_dumps(dumps: list[Dump]) -> None:
    """Close dumps opened together: each one's content, and each evidence file once (the dumps of one
    file share it). Closing an already closed source is harmless."""
    files: dict[int, ByteSource] = {}
    for d in dumps:
        d.source.close()
        if d.origin is not None:
            files[id(d.origin.source)] = d.origin.source
    for source in files.values():
        source.close()


def parse_source(source: ByteSource, early: list[str] | None = None, origin: object = None) -> Dump:
    """Parse an opened byte source with the parser its magic bytes select (see :func:`open_dump`)."""
    head = source.read(0, HEAD_SIZE)
    warnings = Warnings()
    for line in early or ():
        warnings.add(line)
    try:
        module = detect(head)
    except Exception as exc:  # noqa: BLE001 - a faulty probe must not keep evidence from opening
        warnings.add(f"format detection failed ({type(exc).__name__}); opened as a raw image")
        module = None
    if module is None:
        if source.size:
            warnings.add("format not recognised from its magic bytes; opened as a raw image")
        return Dump(source, raw.parse(source, warnings), origin)
    try:
        parsed = module.parse(source, warnings)
    except RecursionError:
        warnings.add(f"{module.FORMAT}: structure nested too deeply; opened as a raw image")
        parsed = raw.parse(source, warnings)
    except Exception as exc:  # noqa: BLE001 - evidence must always open; the failure is reported
        warnings.add(f"{module.FORMAT} parser failed ({type(exc).__name__}); opened as a raw image")
        parsed = raw.parse(source, warnings)
    return Dump(source, parsed, origin)


__all__ = ["open_dump", "open_dumps", "pick", "close_dumps", "parse_source", "Dump", "Region", "Node", "ParseResult", "ByteSource", "EvidenceError", "EvidenceChanged"]
