"""`evidence-viewer redact DUMP --out CLEAN`: the command-line side of :mod:`viewer.case.redact`.

With ``--case CASE`` the case is unlocked as by the ``case`` commands (keyring slot, else
``--passphrase-file`` / ``$EVIDENCE_VIEWER_PASSPHRASE``, else a prompt on a terminal); DUMP must be one of
its evidence items (by SHA-256). Its findings and reviews are used (:mod:`viewer.case.redact_case`) and
the redaction is recorded in its audit trail, the case saved atomically.

Exit codes (DESIGN.md): 0 the copy was written and a re-scan finds no confirmed or high secret in it;
1 the copy was written but such a secret remains (the message says how many; the log lists them);
2 bad usage or unreadable input (nothing is written). Errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from viewer.evidence import EvidenceError
from viewer.handover.redact import RedactError, default_log_path, redact_file
from viewer.scan.finding import Confidence

EXIT_OK, EXIT_SECRETS, EXIT_USAGE = 0, 1, 2


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``redact`` sub-command to an argparse subparsers object; sets ``func`` to :func:`run`."""
    p = sub.add_parser(
        "redact",
        help="write a copy of a dump with every key found overwritten (same format, size and structure)",
        description="Copy DUMP to --out with the bytes of every key finding, and every other copy of those "
        "keys' private values, overwritten with the text REDACTED; PEM blocks keep their BEGIN/END lines. "
        "The input is never modified. The copy is scanned again: exit 0 when no confirmed or high secret "
        "remains, 1 when one does, 2 for bad usage or unreadable input.",
    )
    p.add_argument("dump")
    p.add_argument("--out", required=True, metavar="CLEAN", help="the redacted copy to write")
    p.add_argument("--log", metavar="FILE", help="the redaction log (JSON; default: CLEAN.redaction.json)")
    p.add_argument("--public-key", action="append", metavar="FILE",
                   help="a public key, certificate or JWKS whose private half to look for (repeatable)")
    p.add_argument("--min-confidence", default="high", metavar="LEVEL",
                   help="confirmed, high (default), medium or low: which findings to overwrite")
    p.add_argument("--force", action="store_true", help="replace an existing output or log")
    p.add_argument("--case", metavar="CASE",
                   help="use this case's findings and reviews for DUMP (one of its evidence items) and record "
                   "the redaction in its audit trail")
    p.add_argument("--no-keyring", action="store_true", help="with --case: ignore the keyring slot")
    p.add_argument("--passphrase-file", metavar="FILE", help="with --case: the passphrase is this file's first line")
    p.add_argument("--author", metavar="NAME", help="with --case: the name in the audit trail")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from viewer.case.errors import CaseError

    cf = None
    try:
        threshold = Confidence.parse(args.min_confidence)
        public_keys = _public_keys(args.public_key or [])
        if getattr(args, "case", None):
            cf = _open_case(args)
        from viewer.cli.main import _clear_progress, progress_state

        try:
            result = redact_file(args.dump, args.out, public_keys=public_keys, threshold=threshold,
                                 log_path=args.log, force=args.force, case=cf.case if cf is not None else None,
                                 state=progress_state(args.dump, "redacting"))
        finally:
            _clear_progress(args.dump)
        if cf is not None:
            from viewer.handover.redact_case import redaction_facts

            cf.record_redaction(result.input_sha256, redaction_facts(result, threshold), args.author)
            cf.save()
    except (ValueError, RedactError, EvidenceError, CaseError) as exc:
        print(f"evidence-viewer: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"evidence-viewer: cannot write {exc.filename or args.out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    log = args.log or default_log_path(args.out)
    summary = (f"{len(result.ranges)} range(s) overwritten in {result.output} "
               f"({result.rounds} round(s), {result.seconds:.1f} s); log {log}")
    if result.kept:
        summary += f"; {len(result.kept)} finding(s) kept as the case marks them false-positive"
    if cf is not None:
        summary += f"; recorded in {cf.path}"
    if result.remaining:
        print(f"evidence-viewer: NOT clean: {len(result.remaining)} confirmed or high secret finding(s) remain "
              f"after redaction; {summary}", file=sys.stderr)
        return EXIT_SECRETS
    print(f"clean: {summary}")
    return EXIT_OK


def _open_case(args: argparse.Namespace) -> Any:
    """The case of ``--case``, unlocked as the ``case`` commands do; a CliError becomes a RedactError."""
    from viewer.cli.case import CliError, open_from_args

    try:
        return open_from_args(args, author=args.author)
    except CliError as exc:
        raise RedactError(str(exc)) from None


def _public_keys(paths: list[str]) -> list[Any]:
    if not paths:
        return []
    from viewer.scan.publickeys import load_public_keys

    try:
        return list(load_public_keys(paths))
    except (OSError, ValueError) as exc:
        raise RedactError(f"cannot use public key file: {exc}") from None
