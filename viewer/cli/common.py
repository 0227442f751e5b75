"""What every command shares: exit codes, the one-line error, the progress line, JSON output, supplied
public keys and detector selection.

One home each, so that two commands cannot drift apart: before this module the command line had three
sets of exit codes, four "one line, exit 2" error classes and two loaders of public-key files.

Nothing here imports the case layer or the crypto stack at module level: ``info`` and ``scan`` start
without them (~65 ms). A command that expects the case layer's errors names them in its
:func:`one_line_errors` decorator.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import IntEnum
from typing import Any, TextIO

import orjson

from viewer.cli.terminal import emit, json_safe, safe, unguarded
from viewer.evidence import EvidenceError
from viewer.tasks import TaskState

PROG = "evidence-viewer"


class ExitCode(IntEnum):
    """The exit codes of every command (DESIGN.md; the README's command-line table)."""

    OK = 0  #: done; nothing found (scan, redact), everything matches (verify), the trail is intact
    FOUND = 1  #: secrets found (scan, redact), mismatches (verify), audit-trail problems (case audit)
    USAGE = 2  #: bad usage, unreadable input, any case error; one line on stderr
    UNTRUSTED = 3  #: verify/extract --require-signature: unsigned, invalid signature or signer not trusted
    #: fleet scan: a dump could not be scanned (issue 16's number; the same value as UNTRUSTED, another
    #: command — an alias of the enum, so ``ExitCode(3).name`` reads UNTRUSTED; compare values, not names)
    SCAN_FAILED = 3
    INTERRUPTED = 130  #: Ctrl-C (128 + SIGINT, as shells report it)


class CliError(Exception):
    """Something the user can act on, found after parsing: one clear line on stderr and exit ``code``.

    ``str(exc)`` is the whole message (without the ``evidence-viewer:`` prefix); it never holds key
    bytes or passphrases.
    """

    def __init__(self, message: str, code: int = ExitCode.USAGE):
        super().__init__(message)
        self.code = int(code)


def error(message: str) -> None:
    """Print ``evidence-viewer: message`` on stderr: the one shape of every error and note. One line,
    whatever the message quotes (a path, a member name, a case's text): it goes through
    :func:`~viewer.cli.terminal.emit`."""
    emit(f"{PROG}: {message}", file=sys.stderr)


def os_error_text(exc: OSError) -> str:
    """An OSError as one line: the file and the system's reason, without Python's ``[Errno n]``."""
    return f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": ")


Run = Callable[[Any], int]


def one_line_errors(*expected: type[Exception]) -> Callable[[Run], Run]:
    """Decorate a command's ``run(args)``: its expected failures become one line on stderr and an exit
    code instead of a traceback (the traceback too with ``--debug``).

    Always expected: :class:`CliError` (its own code), :class:`~viewer.evidence.EvidenceError` and
    :class:`OSError` (exit 2). ``expected`` adds the command's domain errors (a case error, a redaction
    error), each exit 2 with ``str(exc)`` as the line. A closed pipe is not caught here: ``main`` ends
    quietly on it. The decorated function still returns an int, so tests may call ``args.func(args)``
    directly and see the code.
    """
    caught = (CliError, EvidenceError, OSError, *expected)

    def wrap(run: Run) -> Run:
        @functools.wraps(run)
        def guarded(args: Any) -> int:
            try:
                return int(run(args))
            except BrokenPipeError:
                raise
            except caught as exc:
                if isinstance(exc, OSError) and not isinstance(exc, (EvidenceError, *expected)):
                    error(os_error_text(exc))
                else:
                    error(str(exc))
                if getattr(args, "debug", False):
                    traceback.print_exc()
                return exc.code if isinstance(exc, CliError) else int(ExitCode.USAGE)

        return guarded

    return wrap


# -- the progress line ----------------------------------------------------------------------------------
@contextmanager
def progress_line(path: str | os.PathLike[str], verb: str = "scanning") -> Iterator[TaskState]:
    """A :class:`~viewer.tasks.TaskState` whose progress is one line on stderr, erased on leaving.

    Only on a terminal: for pipes and logs the state reports to nobody (a log full of carriage returns
    helps no one). The byte progress shows as a percentage, a named step (a post-scan detector, the copy
    of a redaction) as its name and its own percentage (or ``…`` when its extent is unknown). Its text is
    escaped (:func:`~viewer.cli.terminal.safe`); only its own carriage returns reach the terminal raw.
    """
    if not sys.stderr.isatty():
        yield TaskState()
        return
    name = safe(os.path.basename(os.fspath(path)))
    width = len(name) + 48
    out = unguarded(sys.stderr)

    def line(text: str) -> None:
        out.write("\r" + safe(text)[:width].ljust(width))
        out.flush()

    def show(done: int, total: int) -> None:
        line(f"{verb} {name}: {100.0 * done / total if total else 100.0:5.1f}%")

    def step(what: str, done: int, total: int) -> None:
        line(f"{verb} {name}: {what} " + (f"{100.0 * min(done, total) / total:5.1f}%" if total else "…"))

    try:
        yield TaskState(on_progress=show, on_step=step)
    finally:
        out.write("\r" + " " * width + "\r")
        out.flush()


# -- JSON ---------------------------------------------------------------------------------------------
JSON_BATCH = 4096


def _encode(value: Any) -> str:
    """Compact JSON text of ``value``: orjson (about ten times faster than the standard library, which
    matters for 100,000-range dumps), the standard library for what orjson refuses (integers past 64
    bits, non-string keys, lone surrogates). orjson escapes C0 controls but writes DEL, C1 and format
    characters (U+009B, U+202E) raw: :func:`~viewer.cli.terminal.json_safe` escapes them too."""
    try:
        return json_safe(orjson.dumps(value).decode("utf-8"))
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value, separators=(",", ":"))  # ensure_ascii: every non-ASCII character escaped


def write_json(doc: dict[str, Any], out: TextIO | None = None, pretty: bool = False) -> None:
    """Write ``doc`` as one JSON object (to stdout by default), streaming long top-level lists in batches.

    A dump with 100,000 memory ranges gives two lists of 100,000 objects; encoding them a batch at a time
    keeps peak memory flat. ``json.dump`` to a stream would take the slow pure-Python encoder instead.
    Nothing is written raw: every string is escaped by the encoder (``json.dumps`` keeps to ASCII,
    orjson's output goes through :func:`~viewer.cli.terminal.json_safe`), so no control or format
    character from the document reaches a terminal.
    """
    out = sys.stdout if out is None else out
    if pretty:
        out.write(json.dumps(doc, indent=1) + "\n")
        return
    out.write("{")
    for i, (key, value) in enumerate(doc.items()):
        out.write(("," if i else "") + json.dumps(key) + ":")
        if isinstance(value, list) and len(value) > JSON_BATCH:
            out.write("[")
            for start in range(0, len(value), JSON_BATCH):
                out.write(("," if start else "") + _encode(value[start : start + JSON_BATCH])[1:-1])
            out.write("]")
        else:
            out.write(_encode(value))
    out.write("}\n")


# -- what to look for -----------------------------------------------------------------------------------
def load_public_keys(paths: Sequence[str] | None) -> list[Any]:
    """The supplied public keys, certificates and JWKS of ``--public-key`` (:mod:`viewer.scan.publickeys`);
    a file that cannot be read or used is bad input: :class:`CliError`, exit 2."""
    if not paths:
        return []
    from viewer.scan.publickeys import load_public_keys as load

    try:
        return list(load(list(paths)))
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot use public key file: {exc}") from None


def select_detectors(names: Sequence[str] | None) -> list[Any]:
    """The default detectors, or only those named by ``--detector`` (in the order given, once each);
    an unknown name is bad usage and the message lists the known ones."""
    from viewer.scan.detectors import default_detectors

    detectors = default_detectors()
    if not names:
        return detectors
    known = {d.name: d for d in detectors}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise CliError(f"unknown detector {', '.join(unknown)}; available: {', '.join(sorted(known)) or '(none)'}")
    return [known[n] for n in dict.fromkeys(names)]


def parse_confidence(text: str) -> Any:
    """``--min-confidence``: a :class:`~viewer.scan.finding.Confidence`, or bad usage."""
    from viewer.scan.finding import Confidence

    try:
        return Confidence.parse(text)
    except ValueError as exc:
        raise CliError(str(exc)) from None


__all__ = [
    "PROG", "ExitCode", "CliError", "error", "os_error_text", "one_line_errors", "progress_line",
    "write_json", "JSON_BATCH", "load_public_keys", "select_detectors", "parse_confidence",
]
