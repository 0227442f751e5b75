"""Where a passphrase comes from on the command line, and the unlock options every case command takes.

The rule itself (a given passphrase, else the keyring, else ask) is :func:`viewer.case.unlock.unlock_case`;
this module supplies its command-line sources:

- given: ``--passphrase-file FILE`` (its first line, without the line ending), else
  ``$EVIDENCE_VIEWER_PASSPHRASE``;
- ask: a prompt (``getpass``), only when stdin is a terminal; first the reason the keyring could not
  open the case is printed when it is not simply "no passphrase yet". Without a terminal the command
  stops with one line that names the ways to give one.

New passphrases (``case new``, ``case slots --add-passphrase``) come from the same kinds of sources
(:func:`given_passphrase` with the ``NEW`` variable, :func:`prompt` with ``confirm``).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from viewer.case import CaseFile
from viewer.case.errors import CaseError, PassphraseRequired
from viewer.case.unlock import ASK_REASONS, unlock_case
from viewer.cli.common import CliError, error
from viewer.cli.terminal import safe

ENV_PASSPHRASE = "EVIDENCE_VIEWER_PASSPHRASE"
ENV_NEW_PASSPHRASE = "EVIDENCE_VIEWER_NEW_PASSPHRASE"
HOW = f"give --passphrase-file FILE or set {ENV_PASSPHRASE}"
HOW_NEW = f"give --new-passphrase-file FILE or set {ENV_NEW_PASSPHRASE}"


def read_passphrase_file(path: str) -> str:
    """The first line of ``path`` without its line ending; an unreadable file or an empty line is bad
    input (the file's content is never quoted)."""
    try:
        with open(path, encoding="utf-8") as f:
            line = f.readline()
    except OSError as exc:
        raise CliError(f"cannot read passphrase file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CliError(f"passphrase file {path}: not UTF-8 text") from None
    line = line.rstrip("\n").rstrip("\r")
    if not line:
        raise CliError(f"passphrase file {path}: its first line is empty")
    return line


def given_passphrase(file_arg: str | None, env_name: str = ENV_PASSPHRASE) -> str | None:
    """The passphrase from the file option, else from the environment variable; None when neither."""
    if file_arg:
        return read_passphrase_file(file_arg)
    return os.environ.get(env_name) or None


def can_prompt() -> bool:
    return sys.stdin.isatty()


def prompt(text: str, how: str = HOW, confirm: bool = False) -> str:
    """Ask on the terminal (twice with ``confirm``); without a terminal, a CliError naming ``how``.
    ``text`` is escaped: getpass writes it to the terminal itself, past every stream we guard."""
    if not can_prompt():
        raise CliError(f"no passphrase given and stdin is not a terminal (no prompt): {how}")
    pw = getpass.getpass(safe(text))
    if not pw:
        raise CliError("an empty passphrase")
    if confirm and getpass.getpass("Repeat it: ") != pw:
        raise CliError("the two passphrases differ")
    return pw


def unlock_from_args(args: argparse.Namespace, author: str | None = None) -> CaseFile:
    """Open ``args.case`` (with ``args.no_keyring`` and ``args.passphrase_file``) by the one unlock rule,
    asking on the terminal when there is one."""
    name = safe(Path(args.case).name)  # getpass writes its prompt to the terminal itself

    def ask(reason: CaseError) -> str | None:
        if not can_prompt():
            return None
        if not isinstance(reason, PassphraseRequired):  # say why a keyring case asks for its passphrase
            error(str(reason))
        return getpass.getpass(f"Passphrase for {name}: ")

    try:
        return unlock_case(args.case, passphrase=given_passphrase(args.passphrase_file),
                           use_keyring=not args.no_keyring, ask=ask, author_name=author)
    except ASK_REASONS as exc:
        if can_prompt():
            raise
        raise CliError(f"{exc}; stdin is not a terminal (no prompt): {HOW}") from None


def add_unlock_options(p: argparse.ArgumentParser, *, positional: bool = True, prefix: str = "") -> None:
    """``CASE`` (unless ``positional`` is False), ``--no-keyring`` and ``--passphrase-file``; ``prefix``
    starts their help (``"with --case: "`` for a command where the case is optional)."""
    if positional:
        p.add_argument("case", metavar="CASE", help="the case file (.evcase)")
    p.add_argument("--no-keyring", action="store_true", help=f"{prefix}ignore the keyring slot: use a passphrase")
    p.add_argument("--passphrase-file", metavar="FILE",
                   help=f"{prefix}the passphrase is this file's first line (else ${ENV_PASSPHRASE}, else a prompt)")


__all__ = ["ENV_PASSPHRASE", "ENV_NEW_PASSPHRASE", "HOW", "HOW_NEW", "read_passphrase_file", "given_passphrase",
           "can_prompt", "prompt", "unlock_from_args", "add_unlock_options"]
