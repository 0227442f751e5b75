"""`evidence-viewer entropy DUMP [--block N] [--level K] [--json] [--no-hash]`: Shannon entropy per
block, a histogram and the high-entropy runs (:mod:`viewer.scan.entropy` computes; this presents).

``--json`` lists one value per block by default: 8 GiB at 4 KiB is 2 M values, ~12 MB of JSON, written in
batches by :func:`viewer.cli.common.write_json`; acceptable for a program that asked for it. ``--level K``
downsamples to one mean (``entropy``) and one max (``entropy_max``) per ``2**K`` blocks for plots and
smaller output. Block sizes must be powers of two from 256 bytes to 16 MiB; anything else exits 2.
Exit 0 otherwise (entropy finds no secrets), 2 for an unreadable file.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

import numpy as np

from viewer.cli.common import CliError, ExitCode, one_line_errors, write_json
from viewer.cli.terminal import emit
from viewer.evidence import EvidenceError, open_dump
from viewer.scan.entropy import (
    DEFAULT_BLOCK,
    HIGH_ENTROPY,
    EntropyPyramid,
    EntropyRun,
    check_block,
    compute_entropy,
    high_entropy_regions,
)
from viewer.units import human_size

HISTOGRAM_EDGES = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, HIGH_ENTROPY, 7.6, 7.9, 8.0001)
TEXT_RUNS = 50
MAX_LEVEL = 40


def histogram(values: np.ndarray) -> list[tuple[float, float, int]]:
    """(low, high, number of blocks) for the text summary's ranges; the last range includes 8.0."""
    counts, _ = np.histogram(values, bins=np.array(HISTOGRAM_EDGES))
    return [
        (HISTOGRAM_EDGES[i], min(8.0, HISTOGRAM_EDGES[i + 1]), int(c)) for i, c in enumerate(counts.tolist())
    ]


def _region_name(dump: Any, offset: int) -> str:
    region = dump.region_at(offset)
    if region is None:
        return "-"
    where = region.name or region.kind
    if region.vaddr is not None:
        where += f" @ {region.vaddr + (offset - region.file_offset):#x}"
    return where


def entropy_lines(dump: Any, pyramid: EntropyPyramid, runs: Iterable[EntropyRun], sha256: str | None) -> list[str]:
    """The text summary, one line each (region names as the dump has them: :func:`emit` escapes)."""
    runs = list(runs)
    lines = [
        f"file      {dump.path}",
        f"format    {dump.format}",
        f"size      {dump.size} bytes ({human_size(dump.size)})",
        f"sha256    {sha256 or '(not computed: --no-hash)'}",
        f"block     {pyramid.block} bytes",
        f"blocks    {pyramid.blocks}",
        f"mean      {pyramid.mean:.3f} bits/byte",
        "histogram (bits/byte: blocks)",
    ]
    total = max(1, pyramid.blocks)
    for low, high, count in histogram(pyramid.values):
        bar = "#" * round(40 * count / total)
        lines.append(f"  {low:4.1f}-{high:<4.1f} {count:>10}  {100 * count / total:5.1f}%  {bar}")
    lines.append(f"high-entropy runs (>= {HIGH_ENTROPY} bits/byte): {len(runs)}")
    for run in runs[:TEXT_RUNS]:
        lines.append(
            f"  {run.offset:#014x}  {run.length:>12}  mean {run.mean:.3f}  max {run.max:.3f}  "
            f"{_region_name(dump, run.offset)}"
        )
    if len(runs) > TEXT_RUNS:
        lines.append(f"  ... and {len(runs) - TEXT_RUNS} more (--json lists them all)")
    return lines


def entropy_json(
    dump: Any, pyramid: EntropyPyramid, runs: Iterable[EntropyRun], sha256: str | None, level: int = 0
) -> dict[str, Any]:
    """The ``entropy --json`` object. ``entropy`` is one value per block at level 0 (rounded to 3
    decimals; 8 GiB at 4 KiB is 2 M values, ~12 MB of JSON, written in batches); with ``level`` k > 0 it
    is the mean per ``2**k`` blocks and ``entropy_max`` the max, each point spanning ``span`` bytes."""
    series = pyramid.level(min(level, max(0, pyramid.levels - 1))) if pyramid.levels else None
    out: dict[str, Any] = {
        "evidence": {"path": str(dump.path), "size": dump.size, "sha256": sha256, "format": dump.format},
        "block": pyramid.block,
        "blocks": pyramid.blocks,
        "mean": round(pyramid.mean, 3),
        "level": level,
        "span": pyramid.block << level,
        "entropy": [] if series is None else np.round(series.mean.astype(np.float64), 3).tolist(),
    }
    if level > 0:
        out["entropy_max"] = [] if series is None else np.round(series.max.astype(np.float64), 3).tolist()
    out["histogram"] = [{"low": lo, "high": hi, "blocks": n} for lo, hi, n in histogram(pyramid.values)]
    out["high_entropy_runs"] = [
        {**r.to_json(), "region": (reg.name or reg.kind) if (reg := dump.region_at(r.offset)) else None}
        for r in runs
    ]
    return out


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("entropy", help="Shannon entropy per block, a histogram and the high-entropy runs")
    p.add_argument("dump")
    p.add_argument("--block", type=int, default=DEFAULT_BLOCK, help="block size in bytes (power of two, 256..16 MiB)")
    p.add_argument(
        "--level", type=int, default=0, help="with --json: one value per 2**LEVEL blocks (mean, plus entropy_max)"
    )
    p.add_argument("--json", action="store_true", help="one JSON object for programs")
    p.add_argument("--no-hash", action="store_true", help="skip the SHA-256 of the whole file")
    p.set_defaults(func=run)
    return p


@one_line_errors()
def run(args: argparse.Namespace) -> int:
    """Exit 0 (entropy finds no secrets), 2 for a bad block size or level, or an unreadable file."""
    block = DEFAULT_BLOCK if getattr(args, "block", None) is None else args.block
    level = getattr(args, "level", 0) or 0
    try:
        check_block(block)
    except ValueError as exc:
        raise CliError(f"entropy: {exc}") from None
    if level < 0 or level > MAX_LEVEL:
        raise CliError(f"entropy: level must be between 0 and {MAX_LEVEL}, not {level}")
    with open_dump(args.dump) as dump:
        try:
            sha256 = None if getattr(args, "no_hash", False) else dump.sha256()
            pyramid = compute_entropy(dump.source, block)
        except (EvidenceError, OSError) as exc:
            raise CliError(f"cannot read {dump.path}: {exc}") from None
        runs = high_entropy_regions(pyramid)
        if getattr(args, "json", False):
            write_json(entropy_json(dump, pyramid, runs, sha256, min(level, max(0, pyramid.levels - 1))))
        else:
            emit(*entropy_lines(dump, pyramid, runs, sha256))
    return ExitCode.OK
