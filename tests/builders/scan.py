"""Running detectors without the engine: what the engine does, with Python ``re`` over the whole file.

Detector tests use this so that they test the detector alone; the engine has its own tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from viewer.evidence import ByteSource
from viewer.scan.detector import Detector, Hit
from viewer.scan.finding import Finding


def run_detectors(path: Path, detectors: Iterable[Detector]) -> list[Finding]:
    """Every pattern with ``re.finditer`` over the whole file, every hit validated; findings deduplicated
    by id and sorted by offset. A match longer than its pattern's ``max_len`` fails the test: the engine's
    chunk overlap relies on it."""
    found: dict[str, Finding] = {}
    with ByteSource(path) as src:
        data = src.read(0, src.size)
        for det in detectors:
            for pat in det.patterns:
                for m in re.finditer(pat.regex, data, re.DOTALL):
                    assert m.end() - m.start() <= pat.max_len, pat.name
                    for f in det.validate(src, Hit(pat.name, m.start(), m.end())):
                        found.setdefault(f.id, f)
    return sorted(found.values(), key=lambda f: f.offset)


def assert_patterns_compile(detectors: Iterable[Detector]) -> None:
    """Every pattern of ``detectors`` compiles for Python ``re`` and for hyperscan (block mode, DOTALL,
    leftmost start — the engine's flags), and holds no NUL (hyperscan takes NUL-terminated strings)."""
    hyperscan = __import__("hyperscan")
    for det in detectors:
        for pat in det.patterns:
            assert b"\x00" not in pat.regex, pat.name
            re.compile(pat.regex)
            db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            db.compile(expressions=[pat.regex], ids=[0], elements=1,
                       flags=[hyperscan.HS_FLAG_DOTALL | hyperscan.HS_FLAG_SOM_LEFTMOST])
