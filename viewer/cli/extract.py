"""`evidence-viewer extract BUNDLE --out DIR`: verify a received case bundle, then extract it.

The same as the window's File ▸ Open bundle… without opening the case (:mod:`viewer.handover.extract`):
the bundle is verified first and nothing is written unless it verifies; every member name is checked
(no absolute path, no ``..``, no link, no repeated name); files are written into DIR only, never over an
existing file; evidence is made read-only. Before anything is written the signer is named (the
``signature`` line, as ``verify`` prints it: name, fingerprint, trusted or not); ``--trust``,
``--trusted-keys`` and ``--require-signature`` as for ``verify`` (:mod:`viewer.cli.signing`).

Exit codes: 0 extracted; 1 the bundle does not verify (its problems one line each on stdout, as
``verify`` prints them, nothing written); 2 unreadable bundle (not a ZIP, no manifest), bad usage, or the
folder cannot take the files (one exists, a link inside it leads elsewhere, not writable); 3 with
``--require-signature``: unsigned, invalid signature or signer not trusted (nothing written).
"""

from __future__ import annotations

import argparse
from typing import Any

from viewer.cli.common import CliError, ExitCode, error, one_line_errors, progress_line
from viewer.cli.signing import add_trust_options, refusal, signature_line, trusted_from_args
from viewer.cli.terminal import emit
from viewer.handover.bundle import BundleError, verify_bundle
from viewer.handover.extract import BundleNotVerified, extract_bundle


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "extract", help="verify a case bundle, then extract its case, report, findings and evidence",
        description="Verified first: nothing is written unless every member matches the manifest. "
        "Exit 0 extracted, 1 does not verify (problems on stdout), 2 unreadable or the folder cannot take it, "
        "3 with --require-signature: not signed by a trusted key.")
    p.add_argument("bundle", metavar="BUNDLE", help="the bundle (.zip)")
    p.add_argument("--out", required=True, metavar="DIR", help="the folder to extract into (created if missing)")
    add_trust_options(p)
    p.set_defaults(func=run)
    return p


@one_line_errors(BundleError)
def run(args: argparse.Namespace) -> int:
    trusted = trusted_from_args(args)
    with progress_line(args.bundle, "verifying") as state:
        res = verify_bundle(args.bundle, state, trusted)
    if res.unreadable:
        raise CliError(res.unreadable)
    emit(*res.problems)
    emit(signature_line(res.signature))  # who made it, before anything is written
    refused = refusal(args.bundle, res.signature, args)
    if refused is not None:
        error(f"{refused}; nothing extracted")
        return ExitCode.UNTRUSTED
    try:
        if res.problems:
            raise BundleNotVerified(args.bundle, res)
        with progress_line(args.bundle, "extracting") as state:
            got = extract_bundle(args.bundle, args.out, state, verified=res)
    except BundleNotVerified as exc:
        if exc.unreadable:
            raise CliError(str(exc)) from None
        n = len(exc.result.problems)
        error(f"{args.bundle}: does not verify ({n} problem{'s' if n != 1 else ''}); nothing extracted")
        return ExitCode.FOUND
    emit(f"ok        {got.verify.checked} members match the manifest")
    emit(f"folder    {got.out_dir}")
    emit(f"case      {got.case_path}")
    if got.report_path is not None:
        emit(f"report    {got.report_path}")
    for sha, path in got.evidence.items():
        emit(f"evidence  {path}  (read-only, SHA-256 {sha[:16]}…)")
    secrets = (got.verify.manifest or {}).get("secrets_included")
    emit(f"secrets   {'INCLUDED' if secrets else 'masked'}")
    return ExitCode.OK
