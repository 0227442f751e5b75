"""The command line's side of signed bundles (:mod:`viewer.handover.signing`): the signing options of
``export``, the trust options of ``verify`` and ``extract``, and the one way a signature is said.

``export`` signs by default::

    --no-sign                       write an unsigned bundle (the manifest and the audit event say so)
    --signing-key FILE              the passphrase-protected key file (default: the OS keyring, else
                                    $XDG_CONFIG_HOME/evidence-viewer/signing-key.pem)
    --signing-passphrase-file FILE  its passphrase (else $EVIDENCE_VIEWER_SIGNING_PASSPHRASE, else a prompt)
    --signer NAME                   the name of a key made now (default: --author, else the case's examiner)

``--no-keyring`` (the case's unlock option) keeps the signing key out of the keyring too.

``verify`` and ``extract``::

    --trust FINGERPRINT             trust this key (repeatable)
    --trusted-keys FILE             fingerprints to trust, one a line with an optional name, # comments
                                    (default $XDG_CONFIG_HOME/evidence-viewer/trusted-keys)
    --require-signature             exit 3 unless validly signed by a trusted key
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from viewer.cli.common import CliError, error
from viewer.cli.passphrase import can_prompt, given_passphrase, prompt

ENV_SIGNING_PASSPHRASE = "EVIDENCE_VIEWER_SIGNING_PASSPHRASE"
HOW_SIGNING = (f"give --signing-passphrase-file FILE or set {ENV_SIGNING_PASSPHRASE}, "
               "or export without a signature (--no-sign)")


# -- export --------------------------------------------------------------------------------------------
def add_signing_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-sign", action="store_true",
                   help="do not sign the bundle (recorded in the manifest and the audit trail)")
    p.add_argument("--signing-key", metavar="FILE",
                   help="sign with the passphrase-protected key in FILE, made there on first use (default: the "
                        "OS keyring; without one, or with --no-keyring, $XDG_CONFIG_HOME/evidence-viewer/signing-key.pem)")
    p.add_argument("--signing-passphrase-file", metavar="FILE",
                   help=f"the signing key file's passphrase is this file's first line (else ${ENV_SIGNING_PASSPHRASE}, "
                        "else a prompt)")
    p.add_argument("--signer", metavar="NAME", help="the name of a signing key made now (default: the author)")


def signer_from_args(args: argparse.Namespace, name: str) -> Any:
    """The examiner's :class:`~viewer.handover.signing.SigningKey` (made on first use), or None with
    ``--no-sign``. Raises SigningKeyError / CliError (one line, exit 2) when it cannot be had."""
    if args.no_sign:
        return None
    from viewer.handover.signing import default_key_path, load_signing_key

    file = Path(args.signing_key) if args.signing_key else default_key_path()

    def ask(creating: bool) -> str:
        given = given_passphrase(args.signing_passphrase_file, ENV_SIGNING_PASSPHRASE)
        if given:
            return given
        if not can_prompt():
            raise CliError(f"the signing key {file} needs a passphrase and stdin is not a terminal (no prompt): "
                           f"{HOW_SIGNING}")
        what = "a new passphrase for the new signing key" if creating else "the passphrase of the signing key"
        return prompt(f"{what.capitalize()} {file}: ", HOW_SIGNING, confirm=creating)

    return load_signing_key(args.signer or name, use_keyring=not args.no_keyring, path=args.signing_key,
                            passphrase=ask)


# -- verify and extract ----------------------------------------------------------------------------------
def add_trust_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trust", action="append", default=[], metavar="FINGERPRINT",
                   help="trust bundles signed by this key (repeatable)")
    p.add_argument("--trusted-keys", metavar="FILE",
                   help="a file of trusted fingerprints, one a line with an optional name "
                        "(default $XDG_CONFIG_HOME/evidence-viewer/trusted-keys)")
    p.add_argument("--require-signature", action="store_true",
                   help="exit 3 unless the bundle is validly signed by a trusted key")


def trusted_from_args(args: argparse.Namespace) -> dict[str, str]:
    """Fingerprint -> name of ``--trusted-keys`` (or the default file) and ``--trust``; lines of the file
    that are not fingerprints are noted on stderr. A ``--trusted-keys`` file that cannot be read, or a
    ``--trust`` that is not a fingerprint, is bad usage."""
    from viewer.handover.signing import load_trusted_keys

    try:
        keys = load_trusted_keys(args.trusted_keys, required=bool(args.trusted_keys), extra=args.trust)
    except FileNotFoundError:
        raise CliError(f"{args.trusted_keys}: no such trusted-keys file") from None
    except ValueError as exc:
        raise CliError(f"--trust/--trusted-keys: {exc}") from None
    for problem in keys.problems:
        error(problem)
    return keys.names


def signature_line(check: Any) -> str:
    """The ``signature`` line of verify's and extract's output."""
    return f"signature {check.describe()}"


def refusal(bundle: str, check: Any, args: argparse.Namespace) -> str | None:
    """With ``--require-signature``: why the bundle is refused (one line), else None."""
    if not args.require_signature or (check.valid and check.trusted):
        return None
    if check.status == "unsigned":
        why = "not signed"
    elif check.status == "invalid":
        why = f"its signature is invalid ({check.reason})"
    else:
        where = args.trusted_keys or "your trusted-keys file"
        why = (f"signed by {check.signer or '(no name)'} with key {check.fingerprint}, which is not trusted "
               f"(re-signed by someone else? trust it with --trust or in {where} only if you got this fingerprint "
               "from the signer)")
    return f"{bundle}: {why}; --require-signature refuses it"


__all__ = ["ENV_SIGNING_PASSPHRASE", "add_signing_options", "signer_from_args", "add_trust_options",
           "trusted_from_args", "signature_line", "refusal"]
