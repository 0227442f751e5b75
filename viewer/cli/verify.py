"""`evidence-viewer verify BUNDLE`: check a case bundle against its manifest.

Exit 0 when every member and the audit chain match the manifest; 1 for mismatches, one line each on
stdout naming the member or event; 2 when the bundle is unreadable (not a ZIP, no manifest, a manifest
that cannot be read).

The signature is named on its own line (``signature signed by NAME, key FINGERPRINT: trusted`` / ``NOT
trusted`` / ``NOT signed`` / ``INVALID signature: why``); an invalid one is also a mismatch. Trusted keys:
``--trust FINGERPRINT`` and ``--trusted-keys FILE`` (:mod:`viewer.cli.signing`). With
``--require-signature``, a bundle that is not validly signed by a trusted key exits 3 with one line on
stderr saying which (unsigned; invalid; signed by an untrusted key — re-signed by someone else?).
"""

from __future__ import annotations

import argparse
from typing import Any

from viewer.cli.common import CliError, ExitCode, error, one_line_errors
from viewer.cli.signing import add_trust_options, refusal, signature_line, trusted_from_args
from viewer.cli.terminal import emit


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "verify", help="check a case bundle: member hashes and the audit chain against its manifest",
        description="Exit 0 all good, 1 mismatches (one line each), 2 unreadable (not a ZIP, no manifest), "
        "3 with --require-signature: unsigned, invalid signature or signer not trusted.")
    p.add_argument("bundle", metavar="BUNDLE", help="the bundle (.zip)")
    add_trust_options(p)
    p.set_defaults(func=run)
    return p


@one_line_errors()
def run(args: argparse.Namespace) -> int:
    from viewer.handover.bundle import verify_bundle

    res = verify_bundle(args.bundle, trusted=trusted_from_args(args))
    if res.unreadable:
        raise CliError(res.unreadable)
    emit(*res.problems)
    emit(signature_line(res.signature))
    refused = refusal(args.bundle, res.signature, args)
    if refused is not None:
        error(refused)
        return ExitCode.UNTRUSTED
    if res.problems:
        return ExitCode.FOUND
    m = res.manifest or {}
    head = (m.get("audit") or {}).get("head") or {}  # verify_bundle has checked both are mappings
    case = m.get("case") if isinstance(m.get("case"), dict) else {}  # as received: emit escapes its text
    emit(f"ok        {res.checked} members match the manifest; audit chain intact up to event "
         f"{head.get('seq')} ({str(head.get('hash'))[:16]}…)",
         f"case      {case.get('id')}  secrets {'INCLUDED' if m.get('secrets_included') else 'masked'}")
    return ExitCode.OK
