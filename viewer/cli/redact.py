"""`evidence-viewer redact DUMP --out CLEAN`: the command-line side of :mod:`viewer.handover.redact`.

With ``--case CASE`` the case is unlocked by the one rule, as by the ``case`` commands (keyring slot,
else ``--passphrase-file`` / ``$EVIDENCE_VIEWER_PASSPHRASE``, else a prompt on a terminal); DUMP must be
one of its evidence items (by SHA-256). Its findings and reviews are used
(:mod:`viewer.handover.redact_case`) and the redaction is recorded in its audit trail, the case saved
atomically.

Exit codes (DESIGN.md): 0 the copy was written and its verification finds no confirmed or high secret,
no token and no run of 16 bytes of a redacted key's values in it; 1 the copy was written but one
remains (the message says how many; the log lists them); 2 bad usage or unreadable input (nothing is
written). Errors are one line on stderr.
"""

from __future__ import annotations

import argparse
from typing import Any

from viewer.case.errors import CaseError
from viewer.cli.common import (
    CliError,
    ExitCode,
    error,
    load_public_keys,
    one_line_errors,
    parse_confidence,
    progress_line,
)
from viewer.cli.passphrase import add_unlock_options, unlock_from_args
from viewer.cli.terminal import emit
from viewer.handover.redact import RedactError, default_log_path, redact_file


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``redact`` sub-command to an argparse subparsers object; sets ``func`` to :func:`run`."""
    p = sub.add_parser(
        "redact",
        help="write a copy of a dump with every key found overwritten (same format, size and structure)",
        description="Copy DUMP to --out with the bytes of every key and token finding, and every run of 16 "
        "or more bytes of those keys' private values in any form (raw, limbs, DER, hex, base64, UTF-16), "
        "overwritten with the text REDACTED; PEM blocks keep their BEGIN/END lines. The input is never "
        "modified. The copy is scanned and searched again: exit 0 when no confirmed or high secret, token "
        "or run remains, 1 when one does, 2 for bad usage or unreadable input.",
    )
    p.add_argument("dump")
    p.add_argument("--out", required=True, metavar="CLEAN", help="the redacted copy to write")
    p.add_argument("--log", metavar="FILE", help="the redaction log (JSON; default: CLEAN.redaction.json)")
    p.add_argument("--public-key", action="append", metavar="FILE",
                   help="a public key, certificate or JWKS whose private half to look for (repeatable)")
    p.add_argument("--min-confidence", default="high", metavar="LEVEL",
                   help="confirmed, high (default), medium or low: which findings to overwrite")
    p.add_argument("--member", metavar="NAME",
                   help="for a file holding several dumps (a ZIP of dumps): the one to redact (the copy is that "
                   "dump, decompressed)")
    p.add_argument("--force", action="store_true", help="replace an existing output or log")
    p.add_argument("--case", metavar="CASE",
                   help="use this case's findings and reviews for DUMP (one of its evidence items) and record "
                   "the redaction in its audit trail")
    add_unlock_options(p, positional=False, prefix="with --case: ")
    p.add_argument("--author", metavar="NAME", help="with --case: the name in the audit trail")
    p.set_defaults(func=run)
    return p


@one_line_errors(RedactError, CaseError)
def run(args: argparse.Namespace) -> int:
    try:
        result, cf = _redact(args)
    except ValueError as exc:  # input the redaction cannot use: bad input, exit 2
        raise CliError(str(exc)) from exc
    except OSError as exc:
        raise CliError(f"cannot write {exc.filename or args.out}: {exc.strerror or exc}") from exc
    log = args.log or default_log_path(args.out)
    summary = (f"{len(result.ranges)} range(s) overwritten in {result.output} "
               f"({result.rounds} round(s), {result.seconds:.1f} s); log {log}")
    if result.kept:
        summary += f"; {len(result.kept)} finding(s) kept as the case marks them false-positive"
    if cf is not None:
        summary += f"; recorded in {cf.path}"
    if not result.clean:
        fragments = sum(f.encoding == "fragment" for f in result.remaining)
        error(f"NOT clean: {len(result.remaining) - fragments} confirmed or high secret or token finding(s) and "
              f"{fragments} run(s) of 16 or more bytes of a key's values remain after redaction; {summary}")
        return ExitCode.FOUND
    emit(f"clean: {summary}")
    return ExitCode.OK


def _redact(args: argparse.Namespace) -> tuple[Any, Any]:
    """Redact (and record in the case, with ``--case``): the result and the case file (or None)."""
    threshold = parse_confidence(args.min_confidence)
    public_keys = load_public_keys(args.public_key)
    cf = None
    if args.case:
        cf = unlock_from_args(args, author=args.author)
    with progress_line(args.dump, "redacting") as state:
        result = redact_file(args.dump, args.out, public_keys=public_keys, threshold=threshold,
                             log_path=args.log, force=args.force, case=cf.case if cf is not None else None,
                             state=state, member=args.member)
    if cf is not None:
        from viewer.handover.redact_case import redaction_facts

        cf.record_redaction(result.evidence_sha256, redaction_facts(result, threshold), args.author)
        cf.save()
    return result, cf
