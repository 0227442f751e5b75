"""The prefilter: every detector's Patterns compiled into one multi-pattern matcher.

Why: a dump is several GB and most of it holds no key. One pass of a multi-pattern engine over the bytes
finds the few places worth a Python call; the detectors then validate exactly. Measured on this machine
kind (../shared/notes/headless-qt-keyring.md): hyperscan 1.5-2.6 GB/s, Python ``re`` 25-60 MB/s, so
hyperscan is used whenever it imports; ``re`` keeps the tool working (slowly) where it does not, and
``EV_NO_HYPERSCAN=1`` forces it (tests run both and compare).

Hit semantics (identical for both engines, so findings do not depend on the engine): for each pattern,
the hits in a buffer are what ``re.finditer`` would give — leftmost, non-overlapping, each ``end`` the
end of Python's (greedy) match from ``start``. Hyperscan reports *every* (start, end) pair; we keep the
distinct starts, sweep out those inside an earlier hit and ask ``re`` for the end of each survivor. That
costs one ``re.match`` per hit, which is nothing next to the validator call the hit leads to anyway.

Patterns that hyperscan refuses with ``HS_FLAG_SOM_LEFTMOST`` (SOM needs bounded state) are compiled
without it: hyperscan then reports only end offsets and the start is found by searching back with ``re``
over ``[end - max_len, end]``. A pattern hyperscan refuses altogether is run with ``re`` alone and noted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

try:  # hyperscan is optional: a wheel exists for the usual platforms, not for every one
    import hyperscan as _hs
except ImportError:  # pragma: no cover - depends on the installation
    _hs = None

from viewer.scan.detector import Pattern

ENV_NO_HYPERSCAN = "EV_NO_HYPERSCAN"


def hyperscan_available() -> bool:
    """True when hyperscan imports and the examiner did not switch it off with EV_NO_HYPERSCAN=1."""
    return _hs is not None and os.environ.get(ENV_NO_HYPERSCAN, "") not in ("1", "true", "yes")


@dataclass(frozen=True)
class RawHit:
    """A prefilter hit inside one buffer: the index of the pattern in the Prefilter's list, and
    buffer-relative start and end."""

    index: int
    start: int
    end: int


@dataclass
class _Compiled:
    pattern: Pattern
    rx: re.Pattern[bytes]
    tail: re.Pattern[bytes]  # the pattern anchored at the end of the search window (start recovery)
    mode: str = "som"  # "som" (hyperscan gives starts), "end" (hyperscan gives ends), "re" (re only)


@dataclass
class Prefilter:
    """All patterns of all detectors, compiled once per scan.

    ``patterns[i]`` is the i-th pattern; ``owners[i]`` is the index of the detector it belongs to.
    One Prefilter may be used from several threads at once: each thread gets its own hyperscan scratch
    through :meth:`scanner`.
    """

    patterns: list[Pattern]
    owners: list[int]
    engine: str = "re"
    notes: list[str] = field(default_factory=list)
    _compiled: list[_Compiled] = field(default_factory=list, repr=False)
    _db: object | None = field(default=None, repr=False)

    @property
    def max_len(self) -> int:
        return max((p.max_len for p in self.patterns), default=0)

    @classmethod
    def build(cls, patterns: Sequence[Pattern], owners: Sequence[int], engine: str = "auto") -> Prefilter:
        """Compile ``patterns``. ``engine`` is "auto" (hyperscan when available), "hyperscan" or "re"."""
        if engine not in ("auto", "hyperscan", "re"):
            raise ValueError(f"unknown prefilter engine {engine!r}")
        if engine == "hyperscan" and _hs is None:
            raise RuntimeError("hyperscan is not installed")
        use_hs = engine == "hyperscan" or (engine == "auto" and hyperscan_available())
        self = cls(list(patterns), list(owners), "hyperscan" if use_hs else "re")
        for p in self.patterns:
            if p.max_len <= 0:
                raise ValueError(f"pattern {p.name!r}: max_len must be positive")
            try:
                rx = re.compile(p.regex, re.DOTALL)
                tail = re.compile(b"(?:" + p.regex + b")\\Z", re.DOTALL)
            except re.error as exc:
                raise ValueError(f"pattern {p.name!r} is not a valid regular expression: {exc}") from None
            self._compiled.append(_Compiled(p, rx, tail))
        if use_hs and self.patterns:
            self._compile_hyperscan()
        return self

    def _compile_hyperscan(self) -> None:
        """One database for all patterns; fall back per pattern when SOM (or hyperscan) refuses one."""
        assert _hs is not None
        som = _hs.HS_FLAG_DOTALL | _hs.HS_FLAG_SOM_LEFTMOST
        flags = [som] * len(self._compiled)

        def compile_db(indices: list[int]) -> object:
            db = _hs.Database(mode=_hs.HS_MODE_BLOCK)
            db.compile(
                expressions=[self._compiled[i].pattern.regex for i in indices],
                ids=indices,
                elements=len(indices),
                flags=[flags[i] for i in indices],
            )
            return db

        all_indices = list(range(len(self._compiled)))
        try:
            self._db = compile_db(all_indices)
            return
        except _hs.error:
            pass
        # Find the culprits one by one: without SOM first, then not at all.
        for i, c in enumerate(self._compiled):
            try:
                compile_db([i])
                continue
            except _hs.error:
                pass
            flags[i] = _hs.HS_FLAG_DOTALL
            try:
                compile_db([i])
                c.mode = "end"
                self.notes.append(f"pattern {c.pattern.name!r}: hyperscan without start-of-match (searched back)")
            except _hs.error:
                c.mode = "re"
                self.notes.append(f"pattern {c.pattern.name!r}: not supported by hyperscan, scanned with re")
        hs_indices = [i for i, c in enumerate(self._compiled) if c.mode != "re"]
        self._db = compile_db(hs_indices) if hs_indices else None

    def scanner(self) -> Scanner:
        """A matcher for one thread (hyperscan scratch space is per thread)."""
        return Scanner(self)


class Scanner:
    """Scans buffers for one thread. Not thread-safe itself; make one per thread with Prefilter.scanner."""

    def __init__(self, prefilter: Prefilter):
        self.pf = prefilter
        self._scratch = None
        if prefilter._db is not None:
            assert _hs is not None
            self._scratch = _hs.Scratch(prefilter._db)

    def scan(self, data: bytes | bytearray | memoryview) -> list[RawHit]:
        """All hits in ``data`` (buffer-relative), with the finditer semantics of the module docstring,
        sorted by start then pattern index."""
        compiled = self.pf._compiled
        hits: list[RawHit] = []
        re_only = [i for i, c in enumerate(compiled) if self.pf._db is None or c.mode == "re"]
        for i in re_only:
            hits.extend(RawHit(i, m.start(), m.end()) for m in compiled[i].rx.finditer(data))
        if self.pf._db is not None:
            raw: list[tuple[int, int, int]] = []

            def on_match(idx: int, start: int, end: int, flags: int, ctx: object) -> None:
                raw.append((idx, start, end))

            self.pf._db.scan(data, match_event_handler=on_match, scratch=self._scratch)  # type: ignore[attr-defined]
            hits.extend(self._settle(raw, data))
        hits.sort(key=lambda h: (h.start, h.index))
        return hits

    def _settle(self, raw: list[tuple[int, int, int]], data: bytes | bytearray | memoryview) -> list[RawHit]:
        """Turn hyperscan's reports into exactly the hits ``re.finditer`` would give.

        Hyperscan reports every end offset of every match, each with its leftmost start (or no start
        for patterns compiled without SOM). ``finditer`` wants, after each hit, the leftmost start at or
        after the previous hit's end. Every match [s, e) has its end e reported, so that start is the
        minimum, over reported ends e past the previous hit, of the leftmost start >= the previous end
        of a match ending at e: known directly when the reported start is past the previous end, found
        with an anchored backward search otherwise. Starts are >= e - max_len, so only ends up to
        best + max_len can improve on a candidate ``best``.
        """
        compiled = self.pf._compiled
        by_pattern: dict[int, dict[int, int]] = {}
        for idx, start, end in raw:
            ends = by_pattern.setdefault(idx, {})
            if end not in ends or start < ends[end]:
                ends[end] = start
        out: list[RawHit] = []
        for idx, starts_by_end in by_pattern.items():
            c = compiled[idx]
            max_len = c.pattern.max_len
            som = c.mode == "som"
            ends = sorted(starts_by_end)
            n = len(ends)
            covered = 0
            i = 0
            while True:
                while i < n and ends[i] <= covered:
                    i += 1
                if i >= n:
                    break
                best: int | None = None
                j = i
                while j < n and (best is None or ends[j] - max_len <= best):
                    e = ends[j]
                    s = starts_by_end[e]
                    if som and s >= covered:
                        cand: int | None = s
                    else:
                        t = c.tail.search(data, max(covered, e - max_len), e)
                        cand = t.start() if t is not None else None
                    if cand is not None and (best is None or cand < best):
                        best = cand
                        if best == covered:
                            break
                    j += 1
                if best is None:
                    i = j
                    continue
                m = c.rx.match(data, best)
                if m is None or m.end() <= best:  # engines disagree on this pattern: step past it
                    covered = best + 1
                    continue
                out.append(RawHit(idx, best, m.end()))
                covered = m.end()
        return out
