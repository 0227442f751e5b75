"""`evidence-viewer scan DUMP... [--public-key FILE]... [--json | --sarif]`: find key material.

Exit 1 when any dump holds a secret at or above ``--min-confidence``, 2 when one could not be read (the
others are still scanned and reported), else 0. Secret bytes are never printed as text; ``--json``
excerpts are masked unless ``--reveal``. The documents (text, JSON, SARIF) are written by one module,
imported as ``report`` below.
"""

from __future__ import annotations

import argparse
from typing import Any

from viewer.cli.common import (
    ExitCode,
    error,
    load_public_keys,
    one_line_errors,
    parse_confidence,
    progress_line,
    select_detectors,
    write_json,
)
from viewer.cli.terminal import emit
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
    p.set_defaults(func=run)
    return p


@one_line_errors()
def run(args: argparse.Namespace) -> int:
    """Scan each dump; exit 1 when any holds a secret at or above --min-confidence, 2 when one could
    not be read (the others are still scanned and reported)."""
    from viewer.scan.engine import scan_dump

    threshold = parse_confidence(args.min_confidence)
    detectors = select_detectors(args.detector)
    public_keys = load_public_keys(args.public_key)
    with_hash = not args.no_hash
    unreadable = False
    secrets_found = False
    json_results: list[dict[str, Any]] = []
    sarif_entries: list[tuple[Dump, Any]] = []
    opened: list[Dump] = []
    try:
        i = -1
        for path, dump in _each_dump(args.dump):
            if dump is None:
                unreadable = True
                continue
            i += 1
            opened.append(dump)
            with progress_line(path) as state:
                result = scan_dump(dump, detectors, state, public_keys, deep=args.deep)
            if report.secrets_at_or_above(result, threshold):
                secrets_found = True
            if args.json:
                json_results.append(report.result_json(dump, result, with_hash, args.reveal, threshold))
            elif args.sarif:
                sarif_entries.append((dump, result))
            else:
                emit(*([""] if i else []), *report.result_lines(dump, result, threshold, with_hash))
        if args.json:
            write_json(report.scan_document(json_results), pretty=args.pretty)
        elif args.sarif:
            write_json(report.sarif_document(sarif_entries, threshold, with_hash), pretty=args.pretty)
    finally:
        for dump in opened:
            dump.close()
    if unreadable:
        return ExitCode.USAGE
    return ExitCode.FOUND if secrets_found else ExitCode.OK


def _each_dump(paths: list[str]) -> Any:
    """(path, dump) for every dump in every path — one per member of a ZIP of dumps — or (path, None)
    after the one-line error of a path that cannot be read."""
    for path in paths:
        try:
            dumps = open_dumps(path)
        except EvidenceError as exc:
            error(str(exc))
            yield path, None
            continue
        yield from ((path, d) for d in dumps)
