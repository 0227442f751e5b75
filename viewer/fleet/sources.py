"""What the gate scans: dumps named on the command line, folders (recursively), a list on stdin, and
folders watched for what arrives.

Every file of a folder is a dump candidate: the format is told by the magic bytes when it is opened,
never by the name, and a file no parser knows is scanned as a raw image — exactly what ``scan`` does.
Containers (archives of dumps, issue "The dumps examiners actually receive") are not opened yet: an
archive is scanned as one raw file.

A list on stdin has one path a line, optionally followed by a tab and the host it came from (crash
pipelines know it; the report counts hosts per key). Blank lines and lines starting with ``#`` are
skipped.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO


@dataclass(frozen=True)
class Candidate:
    """A file to scan: absolute path, its size and mtime when seen, and its host when known."""

    path: str
    size: int
    mtime_ns: int
    host: str | None = None


class SourceError(Exception):
    """A source that does not exist or cannot be read: bad usage (exit 2), one line."""


def _candidate(path: Path, host: str | None) -> Candidate | None:
    try:
        st = path.stat()
    except OSError:
        return None
    if not path.is_file():
        return None
    return Candidate(str(path.absolute()), st.st_size, st.st_mtime_ns, host)


def walk(folder: Path, exclude: Iterable[Path] = ()) -> Iterator[Path]:
    """Every regular file under ``folder``, in sorted order, not descending into ``exclude`` (the
    quarantine and redaction folders) or into hidden folders; symbolic links to folders are not
    followed (a loop must not stall the gate)."""
    skip = {os.path.realpath(p) for p in exclude}
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and os.path.realpath(os.path.join(root, d)) not in skip)
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(root) / name


def read_list(stream: TextIO) -> list[tuple[str, str | None]]:
    """``(path, host)`` from a list on stdin (see the module docstring)."""
    out = []
    for line in stream:
        line = line.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        path, _, host = line.partition("\t")
        out.append((path, host.strip() or None))
    return out


def expand(sources: Iterable[str], stdin: TextIO | None = None, host: str | None = None,
           exclude: Iterable[Path] = ()) -> list[Candidate]:
    """The candidates of ``sources`` (``-`` reads ``stdin``), each path once, in the order given."""
    exclude = list(exclude)
    seen: set[str] = set()
    out: list[Candidate] = []

    def add(path: Path, h: str | None) -> None:
        c = _candidate(path, h or host)
        if c is not None and c.path not in seen:
            seen.add(c.path)
            out.append(c)

    for src in sources:
        if src == "-":
            if stdin is None:
                raise SourceError("'-' given but there is no standard input")
            for path, h in read_list(stdin):
                p = Path(path)
                if not p.is_file():
                    raise SourceError(f"{path}: not a file (from the list on stdin)")
                add(p, h)
            continue
        p = Path(src)
        if p.is_dir():
            for f in walk(p, exclude):
                add(f, None)
        elif p.is_file():
            add(p, None)
        else:
            raise SourceError(f"{src}: no such file or folder")
    return out


class Watcher:
    """Polls folders; :meth:`poll` returns the files that stopped changing (the same size and mtime
    for ``settle`` seconds) and were not returned before in that state. A file still being written
    keeps changing and waits; a file rewritten later is returned again (new size or mtime)."""

    def __init__(self, folders: Iterable[str], settle: float = 2.0, host: str | None = None,
                 exclude: Iterable[Path] = ()):
        self.folders = [Path(f) for f in folders]
        self.settle = settle
        self.host = host
        self.exclude = list(exclude)
        self._changing: dict[str, tuple[int, int, float]] = {}  # path -> size, mtime, since when
        self._taken: set[tuple[str, int, int]] = set()

    def mark_taken(self, candidates: Iterable[Candidate]) -> None:
        """Candidates already handled (the first pass over the folders): not returned again."""
        self._taken.update((c.path, c.size, c.mtime_ns) for c in candidates)

    def poll(self, now: float | None = None) -> list[Candidate]:
        now = time.monotonic() if now is None else now
        ready: list[Candidate] = []
        present: set[str] = set()
        for folder in self.folders:
            for f in walk(folder, self.exclude):
                c = _candidate(f, self.host)
                if c is None:
                    continue
                present.add(c.path)
                if (c.path, c.size, c.mtime_ns) in self._taken:
                    continue
                last = self._changing.get(c.path)
                if last is None or last[:2] != (c.size, c.mtime_ns):
                    self._changing[c.path] = (c.size, c.mtime_ns, now)
                elif now - last[2] >= self.settle:
                    del self._changing[c.path]
                    self._taken.add((c.path, c.size, c.mtime_ns))
                    ready.append(c)
        for gone in set(self._changing) - present:
            del self._changing[gone]
        return ready


__all__ = ["Candidate", "SourceError", "walk", "read_list", "expand", "Watcher"]
