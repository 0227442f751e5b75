"""`evidence-viewer scan DUMP... [--public-key FILE]... [--json | --sarif]`: find key material.

Exit 1 when any dump holds a secret at or above ``--min-confidence``, 2 when one could not be read (the
others are still scanned and reported), else 0. Secret bytes are never printed as text; ``--json``
excerpts are masked unless ``--reveal``. The documents (text, JSON, SARIF) are written by one module,
imported as ``report`` below.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

from viewer.cli.common import (
    CliError,
    ExitCode,
    error,
    load_public_keys,
    one_line_errors,
    parse_confidence,
    progress_line,
    select_detectors,
    write_json,
)
from viewer.cli.terminal import emit, safe
from viewer.evidence import Dump, EvidenceError, open_dumps
from viewer.handover import documents as report


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "scan",
        help="find key material: private keys, tokens; exit 1 when secrets are found",
        description="Scan every byte of each dump. Offsets are file offsets. Secret bytes are never shown "
        "in text output; --json excerpts are masked unless --reveal is given.",
    )
    p.add_argument("dump", nargs="+")
    p.add_argument(
        "--public-key", action="append", metavar="FILE", help="a public key, certificate or JWKS whose private half to look for"
    )
    p.add_argument(
        "--deep", action="store_true", help="exhaustive (slower) searches, e.g. for factors of every known modulus"
    )
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="one JSON object for programs")
    fmt.add_argument("--sarif", action="store_true", help="SARIF 2.1.0 for code-scanning tools")
    p.add_argument("--pretty", action="store_true", help="indent the JSON")
    p.add_argument(
        "--min-confidence",
        default="medium",
        metavar="LEVEL",
        help="confirmed, high, medium (default) or low: what counts as a secret for the table and exit code",
    )
    p.add_argument(
        "--reveal", action="store_true", help="put the real bytes (hex, up to 4 KiB) in the JSON excerpts"
    )
    p.add_argument("--detector", action="append", metavar="NAME", help="run only this detector (repeatable)")
    p.add_argument("--no-hash", action="store_true", help="skip the SHA-256 of each dump")
    p.add_argument("--stats", action="store_true",
                   help="print each stage's time and share (read, hash, prefilter, each detector, post-scan steps, "
                   "opening, output) and what was read again after the first pass, on stderr")
    p.add_argument("--workers", type=int, metavar="N",
                   help="worker processes (default: one per core): over chunks of a large dump, over dumps when many")
    p.set_defaults(func=run)
    return p


# Dumps smaller than this are scanned whole, each in one worker of a pool over the files (a hundred small
# dumps pay the start-up once, and two cores scan two dumps at a time); larger ones one at a time, their
# chunks spread over forked workers.
POOL_BELOW = 256 * 1024 * 1024


@dataclass
class _Options:
    detectors: list[str] | None
    public_keys: list[str] | None
    deep: bool
    fmt: str  # "text", "json" or "sarif"
    with_hash: bool
    reveal: bool
    threshold: str
    executor: str = "auto"
    workers: int | None = None


_KEYS: dict[tuple[str, ...], list[Any]] = {}


def scan_one(path: str, opt: _Options, state: Any = None) -> dict[str, Any]:
    """Open, scan and render the dumps of one path (one per member of a ZIP of dumps), in this process or a
    pool worker: ``entries``, each the document part for the chosen format (SARIF: the open Dump and the
    result, for the caller to write and close), whether it holds a secret at or above the threshold, its
    stats — or ``error`` when the path cannot be read."""
    from viewer.scan.engine import scan_dump

    clock = time.perf_counter
    t0 = clock()
    threshold = parse_confidence(opt.threshold)
    detectors = select_detectors(opt.detectors)
    key_files = tuple(opt.public_keys or ())
    if key_files not in _KEYS:
        _KEYS[key_files] = load_public_keys(list(key_files))
    keys = _KEYS[key_files]
    try:
        dumps = open_dumps(path)
    except EvidenceError as exc:
        return {"error": str(exc)}
    entries = []
    for dump in dumps:
        keep = False
        try:
            t1 = clock()
            result = scan_dump(dump, detectors, state, keys, deep=opt.deep, hash=opt.with_hash,
                               executor=opt.executor, workers=opt.workers)
            t2 = clock()
            result.stats.add_stage("open", t1 - t0)
            out: dict[str, Any] = {"found": bool(report.secrets_at_or_above(result, threshold))}
            if opt.fmt == "json":
                out["json"] = report.result_json(dump, result, opt.with_hash, opt.reveal, threshold)
            elif opt.fmt == "sarif":
                out["sarif"] = (dump, result)
                keep = True
            else:
                out["lines"] = report.result_lines(dump, result, threshold, opt.with_hash)
            result.stats.add_stage("report", clock() - t2)
            out["stats"] = result.stats.to_json()
            out["wall"] = clock() - t0
            entries.append(out)
            t0 = clock()
        finally:
            if not keep:
                dump.close()
    return {"entries": entries}


def _scan_in_pool(path: str, opt: _Options) -> dict[str, Any]:
    """A pool worker's task: one dump, inline (the pool is the parallelism)."""
    from dataclasses import replace

    try:
        return scan_one(path, replace(opt, executor="inline", workers=1))
    except CliError as exc:
        return {"error": str(exc)}


def _pool_results(paths: list[str], opt: _Options, workers: int) -> dict[int, dict[str, Any]]:
    """Scan ``paths`` (by index) over a pool of worker processes; each comes back as scan_one's dict."""
    from viewer.fleet.runners import Done, LocalPool
    from viewer.scan.engine import prepare

    fork = _fork_is_safe()
    if fork:  # compiled and imported once, here, and inherited by every worker
        prepare(select_detectors(opt.detectors))
        from viewer.evidence.formats import detect

        detect(b"")  # imports every parser module (they load on first use)
    pool = LocalPool(workers, start_method="fork" if fork else None)
    out: dict[int, dict[str, Any]] = {}
    try:
        with progress_line(f"{len(paths)} dumps") as state:
            for i, path in enumerate(paths):
                pool.submit(i, _scan_in_pool, path, opt)
            while pool.in_flight():
                for token, outcome in pool.completed(timeout=0.5):
                    out[int(token)] = outcome.value if isinstance(outcome, Done) else {
                        "error": f"{paths[int(token)]}: the scan failed ({getattr(outcome, 'error', '?')})"}
                    state.progress(len(out), len(paths))
    finally:
        pool.close()
    return out


def _fork_is_safe() -> bool:
    from viewer.scan.engine import fork_is_safe

    return fork_is_safe()


def _print_stats(path: str, stats: dict[str, Any], wall: float) -> None:
    """The stage table of ``--stats`` on stderr: seconds and share of the stage total."""
    stages = stats.get("stages", {})
    total = sum(stages.values()) or 1.0
    err = sys.stderr
    err.write(f"stats     {safe(path)}: {stats['total_bytes'] / 1e6:.1f} MB, wall {wall:.3f} s "
              f"({stats['total_bytes'] / 1e6 / wall if wall > 0 else 0:.0f} MB/s), first pass {stats['seconds']:.3f} s, "
              f"{stats['workers']} {stats['executor']} worker(s)\n")
    for name, t in sorted(stages.items(), key=lambda kv: -kv[1]):
        err.write(f"  {name:<24} {t:8.3f} s  {100 * t / total:5.1f}%\n")
    reread = stats.get("reread", {})
    if reread:
        err.write("  read again after the first pass: " + ", ".join(
            f"{name} {n / 1e6:.1f} MB" for name, n in reread.items()) + "\n")
    else:
        err.write("  every byte read once\n")


@one_line_errors()
def run(args: argparse.Namespace) -> int:
    """Scan each dump; exit 1 when any holds a secret at or above --min-confidence, 2 when one could
    not be read (the others are still scanned and reported)."""
    parse_confidence(args.min_confidence)
    select_detectors(args.detector)
    load_public_keys(args.public_key)  # bad input is reported here, once, before any work
    opt = _Options(args.detector, args.public_key, args.deep,
                   "json" if args.json else "sarif" if args.sarif else "text", not args.no_hash, args.reveal,
                   args.min_confidence, workers=args.workers)
    threshold = parse_confidence(args.min_confidence)
    paths = list(args.dump)
    small = [i for i, p in enumerate(paths) if _size(p) < POOL_BELOW]
    workers = max(1, args.workers or os.cpu_count() or 1)
    done: dict[int, dict[str, Any]] = {}
    if len(small) >= 2 and workers >= 2 and opt.fmt != "sarif":  # SARIF needs the open dumps here
        small.sort(key=lambda i: -_size(paths[i]))  # largest first: the pool ends with the short ones
        pooled = _pool_results([paths[i] for i in small], opt, min(workers, len(small)))
        done.update({small[j]: r for j, r in pooled.items()})
    unreadable = False
    secrets_found = False
    json_results: list[dict[str, Any]] = []
    sarif_entries: list[tuple[Dump, Any]] = []
    opened: list[Dump] = []
    shown = 0
    try:
        for i, path in enumerate(paths):
            res = done.pop(i, None)
            if res is None:
                with progress_line(path) as state:
                    res = scan_one(path, opt, state)
            if "error" in res:
                error(res["error"])
                unreadable = True
                continue
            for entry in res["entries"]:
                secrets_found = secrets_found or entry["found"]
                if args.stats:
                    _print_stats(path, entry["stats"], entry["wall"])
                if args.json:
                    json_results.append(entry["json"])
                elif args.sarif:
                    opened.append(entry["sarif"][0])
                    sarif_entries.append(entry["sarif"])
                else:
                    emit(*([""] if shown else []), *entry["lines"])
                shown += 1
        if args.json:
            write_json(report.scan_document(json_results), pretty=args.pretty)
        elif args.sarif:
            write_json(report.sarif_document(sarif_entries, threshold, not args.no_hash), pretty=args.pretty)
    finally:
        for dump in opened:
            dump.close()
    if unreadable:
        return ExitCode.USAGE
    return ExitCode.FOUND if secrets_found else ExitCode.OK


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0  # scanned (and reported unreadable) like the others
