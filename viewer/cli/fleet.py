"""`evidence-viewer fleet scan|report|export`: the boundary gate (:mod:`viewer.fleet`) on the command line.

``fleet scan SOURCE... --db RESULTS.sqlite`` scans every dump (files, folders recursively, ``-`` for a
list of paths on stdin, one a line, ``PATH<TAB>HOST`` optional) on a local process pool, or with
``--dask tcp://HOST:8786`` / ``--dask local`` on a Dask cluster, and records each in the database.

Exit codes of ``fleet scan`` (for a crash pipeline): 0 every dump clean; 1 some dump holds a secret at or
above ``--min-confidence``; 3 some dump could not be scanned (it wins over 1: an unscanned dump cannot
be let through either — :attr:`ExitCode.SCAN_FAILED`, the same number as ``verify
--require-signature``'s UNTRUSTED, another command); 2 bad usage or an unusable database; 130 Ctrl-C.
SIGTERM stops taking new dumps, lets those in flight finish and be recorded, then exits as above.

Only ``--dask`` imports Dask: on the local pool the command starts without it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from viewer.case.errors import CaseError
from viewer.cli.common import (
    CliError,
    ExitCode,
    error,
    load_public_keys,
    one_line_errors,
    parse_confidence,
    select_detectors,
    write_json,
)
from viewer.cli.passphrase import add_unlock_options, given_passphrase, unlock_from_args
from viewer.cli.terminal import emit, safe, unguarded
from viewer.fleet.db import ResultsDB, ResultsError
from viewer.fleet.sources import SourceError
from viewer.tasks import TaskState
from viewer.units import human_size

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``512M``, ``1G``, ``4096``, ``1.5GiB``: bytes (binary multiples)."""
    m = _SIZE.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 512M, 2G)")
    return int(float(m.group(1)) * 1024 ** "bkmgt".index((m.group(2) or "b").lower()))


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "fleet",
        help="the boundary gate: scan many dumps (local pool or Dask), results in SQLite",
        description="Scan every dump before it leaves production: on a local process pool or a Dask cluster, "
        "results in an SQLite database (no secret bytes), verdicts and exit codes for a pipeline.",
    )
    p.set_defaults(func=run)
    fsub = p.add_subparsers(dest="fleet_command", required=True, metavar="{scan,report,export}")

    s = fsub.add_parser("scan", help="scan dumps; exit 0 clean, 1 secrets, 3 a dump could not be scanned",
                        description="Scan each SOURCE (a dump, a folder scanned recursively, or - for a list of "
                        "paths on stdin, one a line, optionally PATH<TAB>HOST). Dumps already in the database "
                        "under this scanner version and settings are skipped. Exit 0: every dump clean; 1: a "
                        "secret at or above --min-confidence; 3: a dump could not be scanned; 2: bad usage.")
    s.add_argument("source", nargs="+", metavar="SOURCE")
    s.add_argument("--db", required=True, metavar="RESULTS", help="the results database (SQLite; created if new)")
    s.add_argument("--public-key", action="append", metavar="FILE",
                   help="a production signing key's public half (PEM, certificate, JWKS; repeatable): a dump "
                   "holding its private half gets the verdict production-key")
    s.add_argument("--min-confidence", default="medium", metavar="LEVEL",
                   help="confirmed, high, medium (default) or low: what counts as a secret for verdicts")
    s.add_argument("--json-lines", metavar="OUT", help="one JSON object per dump as it finishes (- for stdout)")
    s.add_argument("--sarif", metavar="OUT", help="a SARIF 2.1.0 log of this run's dumps, written at the end")
    s.add_argument("--quarantine", metavar="DIR", help="move dumps with secrets here")
    s.add_argument("--copy", action="store_true", help="with --quarantine: copy instead of moving")
    s.add_argument("--redact-to", metavar="DIR", help="write a redacted copy (verified clean) of each dump with "
                   "secrets here, beside its log (NAME.redaction.json)")
    s.add_argument("--watch", action="store_true",
                   help="keep running: scan files arriving in the SOURCE folders once they stop growing")
    s.add_argument("--poll", type=float, default=2.0, metavar="S", help="with --watch: seconds between looks (2)")
    s.add_argument("--settle", type=float, default=2.0, metavar="S",
                   help="with --watch: a file is taken once unchanged for this long (2)")
    s.add_argument("--stop-after", type=float, metavar="S", help="with --watch: stop after this many seconds")
    s.add_argument("--dask", metavar="ADDRESS", help="tcp://HOST:PORT of a Dask scheduler, or 'local' for a "
                   "LocalCluster (needs the 'distributed' package)")
    s.add_argument("--dask-timeout", type=float, default=10.0, metavar="S",
                   help="seconds to wait for the Dask scheduler (10)")
    s.add_argument("--workers", type=int, metavar="N", help="processes of the local pool / LocalCluster (CPUs)")
    s.add_argument("--split-over", type=parse_size, default="512M", metavar="SIZE",
                   help="split dumps larger than this into byte ranges (512M)")
    s.add_argument("--range-size", type=parse_size, default="256M", metavar="SIZE", help="size of a range (256M)")
    s.add_argument("--max-attempts", type=int, default=3, metavar="N",
                   help="tries of a task whose worker died, before the dump is failed (3)")
    s.add_argument("--host", metavar="NAME", help="the host these dumps come from (for the report)")
    s.add_argument("--detector", action="append", metavar="NAME", help="run only this detector (repeatable)")
    s.add_argument("--deep", action="store_true", help="exhaustive (slower) searches")
    s.set_defaults(func=run_scan)

    r = fsub.add_parser("report", help="verdicts, and per key id every dump that holds it")
    r.add_argument("--db", required=True, metavar="RESULTS")
    r.add_argument("--json", action="store_true", help="one JSON object: runs, dumps with findings, keys")
    r.add_argument("--pretty", action="store_true", help="indent the JSON")
    r.set_defaults(func=run_report)

    e = fsub.add_parser("export", help="chosen dumps' findings into an encrypted case for review",
                        description="Add the chosen dumps (default: every dump with secrets) to CASE as evidence "
                        "with their findings. CASE is created when missing (keyring slot, plus a passphrase slot "
                        "when a passphrase is given; --no-keyring: a passphrase only).")
    e.add_argument("--db", required=True, metavar="RESULTS")
    e.add_argument("--case", required=True, metavar="CASE", help="the case file (.evcase)")
    e.add_argument("--dump", action="append", metavar="PATH|SHA256",
                   help="a dump to export, by path or SHA-256 (or 8+ hex digits of it); repeatable")
    e.add_argument("--all", action="store_true", help="every scanned dump, clean ones too")
    e.add_argument("--name", default="fleet review", help="a new case's name")
    e.add_argument("--examiner", default="", help="a new case's examiner (default: the OS user)")
    e.add_argument("--author", metavar="NAME", help="the name in the audit trail")
    add_unlock_options(e, positional=False)
    e.set_defaults(func=run_export)
    return p


# -- fleet scan -----------------------------------------------------------------------------------------
class ProgressLine:
    """``fleet: 12/40 dumps, 1.2 GiB of 3.4 GiB, 85 MB/s, ETA 0:27, 2 with secrets, 0 failed`` on stderr,
    redrawn at most 5 times a second, erased at the end; only on a terminal."""

    def __init__(self, stream: TextIO):
        self.on = stream.isatty()
        self.out = unguarded(stream)
        self.width = 0
        self.last = 0.0
        self.summary: Any = None

    def update(self, summary: Any = None, force: bool = False) -> None:
        if summary is not None:
            self.summary = summary
        now = time.monotonic()
        if not self.on or self.summary is None or (not force and now - self.last < 0.2):
            return
        self.last = now
        s = self.summary
        elapsed = max(1e-6, now - s.started)
        rate = s.bytes_done / elapsed
        left = max(0, s.bytes_total - s.bytes_done)
        eta = f"ETA {int(left / rate) // 60}:{int(left / rate) % 60:02d}" if rate > 0 and left else "ETA -"
        text = (f"fleet: {s.done}/{s.total} dumps, {human_size(s.bytes_done)} of {human_size(s.bytes_total)}, "
                f"{rate / 1e6:.1f} MB/s, {eta}, {s.with_secrets} with secrets, {s.failed} failed")
        self.width = max(self.width, len(text))
        self.out.write("\r" + safe(text).ljust(self.width))
        self.out.flush()

    def close(self) -> None:
        if self.on and self.width:
            self.out.write("\r" + " " * self.width + "\r")
            self.out.flush()


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[TextIO | None]:
    if path is None:
        yield None
    elif path == "-":
        yield sys.stdout
    else:
        with open(path, "w", encoding="utf-8") as f:
            yield f


@contextlib.contextmanager
def _sigterm_cancels(state: TaskState) -> Iterator[None]:
    """SIGTERM (a pipeline stopping the gate) cancels the run gracefully, in the main thread only."""
    try:
        old = signal.signal(signal.SIGTERM, lambda *_: state.cancel())
    except ValueError:  # not the main thread (a test calling run directly)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _check_folder(path: str | None, what: str) -> None:
    if path is not None and not Path(path).is_dir():
        raise CliError(f"{what} {path}: no such folder")


@one_line_errors(ResultsError, SourceError)
def run_scan(args: argparse.Namespace) -> int:
    from viewer.fleet.gate import GateOptions, run_gate
    from viewer.fleet.report import dump_record, sarif_for
    from viewer.fleet.runners import make_runner
    from viewer.fleet.settings import make_settings
    from viewer.fleet.sources import Watcher, expand

    threshold = parse_confidence(args.min_confidence)
    if args.copy and not args.quarantine:
        raise CliError("--copy is for --quarantine")
    if not args.watch and (args.stop_after is not None):
        raise CliError("--stop-after is for --watch")
    if args.watch and not all(Path(s).is_dir() for s in args.source):
        raise CliError("--watch needs folders as sources")
    if args.max_attempts < 1 or args.range_size < 4096 or (args.workers is not None and args.workers < 1):
        raise CliError("--max-attempts and --workers must be at least 1, --range-size at least 4096 bytes")
    _check_folder(args.quarantine, "--quarantine")
    _check_folder(args.redact_to, "--redact-to")
    settings = make_settings(select_detectors(args.detector), load_public_keys(args.public_key), deep=args.deep)
    exclude = [Path(p) for p in (args.quarantine, args.redact_to) if p]
    # with --watch every file, those already there too, is taken by the watcher once it stopped changing
    candidates = [] if args.watch else expand(args.source, sys.stdin, args.host, exclude)
    options = GateOptions(threshold=threshold, quarantine=args.quarantine, copy=args.copy, redact_to=args.redact_to,
                          split_over=args.split_over, range_size=args.range_size, max_attempts=args.max_attempts,
                          poll=args.poll, stop_after=args.stop_after)
    watcher = Watcher(args.source, args.settle, args.host, exclude) if args.watch else None
    try:
        runner = make_runner(args.dask, args.workers, args.dask_timeout)
    except RuntimeError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot reach the Dask scheduler {args.dask}: {exc}") from None
    line = ProgressLine(sys.stderr)
    state = TaskState(on_progress=lambda *_: line.update())
    db = ResultsDB(args.db)
    try:
        with _output(args.json_lines) as jl, _sigterm_cancels(state):

            def on_dump(dump_id: int) -> None:
                if jl is not None:
                    write_json(dump_record(db, dump_id), out=jl)
                    jl.flush()

            summary = run_gate(db, runner, settings, candidates, options, state, watcher=watcher,
                               on_dump=on_dump, on_update=line.update)
        line.close()
        if args.sarif:
            with _output(args.sarif) as out:
                write_json(sarif_for(db, summary.dump_ids, threshold), out=out)
    finally:
        line.close()
        runner.close()
        db.close()
    rate = summary.bytes_done / summary.seconds / 1e6 if summary.seconds > 0 else 0.0
    prod = f" ({summary.production} holding a supplied production key)" if summary.production else ""
    emit(f"fleet: {summary.total} dump(s): {summary.scanned} scanned, {summary.skipped} skipped as done, "
         f"{summary.failed} failed; {summary.with_secrets} with secrets at or above {threshold}{prod}; "
         f"{human_size(summary.bytes_done)} in {summary.seconds:.1f} s ({rate:.0f} MB/s); run {summary.run_id} "
         f"{summary.state} in {args.db}", file=sys.stderr)
    if summary.failed:
        return ExitCode.SCAN_FAILED
    return ExitCode.FOUND if summary.with_secrets else ExitCode.OK


# -- fleet report -----------------------------------------------------------------------------------------
@one_line_errors(ResultsError)
def run_report(args: argparse.Namespace) -> int:
    from viewer.fleet.report import report_document, report_lines

    with ResultsDB(args.db, readonly=True) as db:
        if args.json:
            write_json(report_document(db), pretty=args.pretty)
        else:
            emit(*report_lines(db))
    return ExitCode.OK


# -- fleet export -----------------------------------------------------------------------------------------
@one_line_errors(ResultsError, CaseError)
def run_export(args: argparse.Namespace) -> int:
    from viewer.case.store import create_case
    from viewer.fleet.export import choose, export_to_case

    with ResultsDB(args.db, readonly=True) as db:
        verdicts = ("production-key", "secret", "clean") if args.all else ("production-key", "secret")
        dumps = choose(db, args.dump, verdicts)
        if not dumps:
            raise CliError("no dump in the database matches" + (" --dump" if args.dump else " (no dump with secrets)"))
        if os.path.exists(args.case):
            cf = unlock_from_args(args, args.author)
        else:
            cf = create_case(args.case, args.name, args.examiner or os.environ.get("USER", "examiner"),
                             passphrase=given_passphrase(args.passphrase_file), use_keyring=not args.no_keyring,
                             author_name=args.author)
            for w in cf.warnings:
                error(f"warning: {w}")
        summary = export_to_case(db, cf, dumps, args.author)
        cf.save()
    for why in summary.skipped:
        error(f"not exported: {why}")
    emit(f"exported  {len(summary.added)} dump(s), {summary.findings} finding(s) into {cf.path}")
    return ExitCode.FOUND if summary.skipped else ExitCode.OK


def run(args: argparse.Namespace) -> int:
    return int(args.func(args))


__all__ = ["add_parser", "run", "run_scan", "run_report", "run_export", "parse_size", "ProgressLine"]
