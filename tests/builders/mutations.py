"""Invariants every parse must keep, whatever the input: used by the robustness and fuzz tests.

A parse of damaged evidence must return a Dump (never raise), must not fall back to the catch-all in
open_dump (that means a parser let an exception escape), and must describe only bytes that exist.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from viewer.cli.info import info_json
from viewer.evidence import open_dump

MAX_SECONDS = 10.0  # a hang guard, not a performance test: healthy parses take milliseconds
MAX_NODES = 2_000_000


def check_parse(path: Path) -> str:
    """Open ``path``, exercise the whole model, assert the invariants; return the detected format."""
    started = time.monotonic()
    with open_dump(path) as dump:
        size = dump.size
        assert not any("parser failed" in w or "nested too deeply" in w for w in dump.warnings), dump.warnings
        for region in dump.regions:
            assert region.file_offset >= 0 and region.size >= 0, region
            assert region.file_offset + region.size <= size, f"region past EOF: {region}"
            if region.vaddr is not None and region.size:
                assert dump.va_to_file(region.vaddr) is not None
        count = 0
        for node in dump.structure.walk():
            count += 1
            assert count < MAX_NODES, "structure tree grows without bound"
            assert node.offset >= 0 and node.length >= 0, node
            assert node.offset + node.length <= max(size, 0) or node.length == 0, f"node past EOF: {node}"
        json.dumps(info_json(dump, with_hash=False))
        fmt = dump.format
    assert time.monotonic() - started < MAX_SECONDS, f"parse of {path.name} took too long"
    return fmt
