"""`evidence-viewer export` and `evidence-viewer verify`: case bundles from the command line.

::

    export CASE --out BUNDLE.zip [--include-evidence] [--include-secrets]
           [--passphrase-file F] [--no-keyring] [--author NAME]
    verify BUNDLE

:func:`add_parsers` adds both sub-commands to a top-level ``add_subparsers()`` object and sets
``func`` to :func:`run_export` / :func:`run_verify` (each takes the parsed args, returns the exit code).

Unlocking the case for ``export``: the passphrase comes from ``--passphrase-file`` (its first line), else
``EVIDENCE_VIEWER_PASSPHRASE``, else the OS keyring slot (unless ``--no-keyring``), else a prompt when
stdin is a terminal; otherwise a one-line error.

Exit codes. export: 0 written; 2 any error (case cannot be opened, evidence missing or changed with
``--include-evidence``, output not writable). verify: 0 every member and the audit chain match the
manifest; 1 mismatches, one line each on stdout naming the member or event; 2 unreadable (not a ZIP, no
manifest, manifest not readable).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_MISMATCH, EXIT_USAGE = 0, 1, 2
ENV_PASSPHRASE = "EVIDENCE_VIEWER_PASSPHRASE"


class _Usage(Exception):
    pass


def _passphrase(args: argparse.Namespace) -> str | None:
    if args.passphrase_file:
        try:
            with open(args.passphrase_file, encoding="utf-8") as f:
                line = f.readline().rstrip("\n").rstrip("\r")
        except (OSError, UnicodeDecodeError) as exc:
            raise _Usage(f"cannot read passphrase file {args.passphrase_file}: {exc}") from None
        if not line:
            raise _Usage(f"passphrase file {args.passphrase_file}: its first line is empty")
        return line
    return os.environ.get(ENV_PASSPHRASE) or None


def open_case_from_args(args: argparse.Namespace) -> Any:
    from viewer.case import open_case
    from viewer.case.errors import KeyringEntryMissing, KeyringUnavailable, PassphraseRequired

    use_keyring = not args.no_keyring
    pw = _passphrase(args)
    if pw is not None:
        return open_case(args.case, passphrase=pw, use_keyring=use_keyring, author_name=args.author)
    try:
        return open_case(args.case, use_keyring=use_keyring, author_name=args.author)
    except (PassphraseRequired, KeyringUnavailable, KeyringEntryMissing) as exc:
        if not sys.stdin.isatty():
            raise _Usage(f"{exc} (no prompt: stdin is not a terminal); give --passphrase-file FILE or set "
                         f"{ENV_PASSPHRASE}") from None
    pw = getpass.getpass(f"Passphrase for {Path(args.case).name}: ")
    return open_case(args.case, passphrase=pw, use_keyring=use_keyring, author_name=args.author)


def run_export(args: argparse.Namespace) -> int:
    from viewer.case.errors import CaseError
    from viewer.evidence import EvidenceError
    from viewer.handover.bundle import export_bundle

    try:
        cf = open_case_from_args(args)
        manifest = export_bundle(cf, args.out, include_evidence=args.include_evidence,
                                 include_secrets=args.include_secrets)
    except (_Usage, CaseError, EvidenceError, OSError) as exc:
        msg = str(exc)
        if isinstance(exc, OSError) and not isinstance(exc, CaseError):
            msg = f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": ")
        print(f"evidence-viewer: {msg}", file=sys.stderr)
        return EXIT_USAGE
    head = manifest["audit"]["head"]
    print(f"bundle    {args.out}")
    print(f"members   {len(manifest['members']) + 1}")
    print(f"audit     head event {head['seq']} {head['hash']}")
    print(f"secrets   {'INCLUDED' if manifest['secrets_included'] else 'masked'}")
    print(f"evidence  {'included' if manifest['evidence_included'] else 'not included'}")
    return EXIT_OK


def run_verify(args: argparse.Namespace) -> int:
    from viewer.handover.bundle import verify_bundle

    res = verify_bundle(args.bundle)
    if res.unreadable:
        print(f"evidence-viewer: {res.unreadable}", file=sys.stderr)
        return EXIT_USAGE
    for p in res.problems:
        print(p)
    if res.problems:
        return EXIT_MISMATCH
    m = res.manifest or {}
    head = m.get("audit", {}).get("head", {})
    print(f"ok        {res.checked} members match the manifest; audit chain intact up to event "
          f"{head.get('seq')} ({str(head.get('hash'))[:16]}…)")
    print(f"case      {m.get('case', {}).get('id')}  secrets {'INCLUDED' if m.get('secrets_included') else 'masked'}")
    return EXIT_OK


def add_parsers(sub: Any) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """Add `export` and `verify` to the top-level sub-parsers; returns both parsers."""
    p_exp = sub.add_parser(
        "export", help="write a case bundle (ZIP): case file, report, findings, audit trail, manifest",
        description="Export a case as one ZIP with a manifest of hashes. Secret bytes are masked unless "
        "--include-secrets (recorded in the audit trail and the manifest). Exit 0 written, 2 error.")
    p_exp.add_argument("case", metavar="CASE", help="the case file (.evcase)")
    p_exp.add_argument("--out", required=True, metavar="BUNDLE.zip", help="the bundle to write")
    p_exp.add_argument("--include-evidence", action="store_true", help="copy the dump files into the bundle")
    p_exp.add_argument("--include-secrets", action="store_true",
                       help="show secret bytes in the excerpts (recorded in the audit trail and manifest)")
    p_exp.add_argument("--no-keyring", action="store_true", help="ignore the keyring slot: use a passphrase")
    p_exp.add_argument("--passphrase-file", metavar="FILE",
                       help=f"the passphrase is this file's first line (else ${ENV_PASSPHRASE}, else a prompt)")
    p_exp.add_argument("--author", help="the name in the audit trail (default: the case examiner)")
    p_exp.set_defaults(func=run_export)

    p_ver = sub.add_parser(
        "verify", help="check a case bundle: member hashes and the audit chain against its manifest",
        description="Exit 0 all good, 1 mismatches (one line each), 2 unreadable (not a ZIP, no manifest).")
    p_ver.add_argument("bundle", metavar="BUNDLE", help="the bundle (.zip)")
    p_ver.set_defaults(func=run_verify)
    return p_exp, p_ver


__all__ = ["add_parsers", "run_export", "run_verify", "open_case_from_args"]
