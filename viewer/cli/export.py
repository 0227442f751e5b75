"""`evidence-viewer export CASE --out BUNDLE.zip`: a case bundle for handing over.

::

    export CASE --out BUNDLE.zip [--include-evidence] [--include-secrets]
           [--passphrase-file F] [--no-keyring] [--author NAME]
           [--no-sign | --signing-key FILE] [--signing-passphrase-file F] [--signer NAME]

The bundle is signed by default with the examiner's Ed25519 key, made on first use
(:mod:`viewer.cli.signing`, :mod:`viewer.handover.signing`): in the OS keyring, else (or with
``--no-keyring``) in a passphrase-protected key file. ``--no-sign`` writes an unsigned bundle and says so
in the manifest and the audit event. The output names the key's fingerprint: give it to the recipients
by another channel, so that they can trust it (``verify --trust``).

The case is unlocked by the one rule (:mod:`viewer.case.unlock`, sources :mod:`viewer.cli.passphrase`):
``--passphrase-file``, else ``EVIDENCE_VIEWER_PASSPHRASE``, else the OS keyring slot (unless
``--no-keyring``), else a prompt when stdin is a terminal; otherwise a one-line error.

Exit codes: 0 written; 2 any error (case cannot be opened, evidence missing or changed with
``--include-evidence``, output not writable).
"""

from __future__ import annotations

import argparse
from typing import Any

from viewer.case.errors import CaseError
from viewer.cli.common import ExitCode, one_line_errors
from viewer.cli.passphrase import add_unlock_options, unlock_from_args
from viewer.cli.signing import add_signing_options, signer_from_args
from viewer.cli.terminal import emit


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "export", help="write a case bundle (ZIP): case file, report, findings, audit trail, manifest",
        description="Export a case as one ZIP with a manifest of hashes. Secret bytes are masked unless "
        "--include-secrets (recorded in the audit trail and the manifest). Signed with your signing key "
        "unless --no-sign. Exit 0 written, 2 error.")
    add_unlock_options(p)
    p.add_argument("--out", required=True, metavar="BUNDLE.zip", help="the bundle to write")
    p.add_argument("--include-evidence", action="store_true", help="copy the dump files into the bundle")
    p.add_argument("--include-secrets", action="store_true",
                   help="show secret bytes in the excerpts (recorded in the audit trail and manifest)")
    p.add_argument("--author", help="the name in the audit trail (default: the case examiner)")
    add_signing_options(p)
    p.set_defaults(func=run)
    return p


@one_line_errors(CaseError)
def run(args: argparse.Namespace) -> int:
    from viewer.handover.bundle import export_bundle

    cf = unlock_from_args(args, args.author)
    signer = signer_from_args(args, args.author or cf.case.examiner)  # before anything is recorded or written
    manifest = export_bundle(cf, args.out, include_evidence=args.include_evidence,
                             include_secrets=args.include_secrets, signer=signer,
                             unsigned_reason="exported with --no-sign")
    head = manifest["audit"]["head"]
    emit(f"bundle    {args.out}",
         f"members   {len(manifest['members']) + 1}",
         f"audit     head event {head['seq']} {head['hash']}",
         f"secrets   {'INCLUDED' if manifest['secrets_included'] else 'masked'}",
         f"evidence  {'included' if manifest['evidence_included'] else 'not included'}",
         f"signed    by {signer.name}, key {signer.fingerprint} ({signer.store})" if signer is not None
         else "signed    NO (--no-sign)")
    return ExitCode.OK
