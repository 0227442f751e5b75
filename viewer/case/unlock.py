"""The one rule for unlocking a case, for every front end (the command line, the window, a script).

In this order:

1. A passphrase the user **gave** (a file, an environment variable, a field already filled in) is used
   and nothing else: the keyring is not tried. An explicit choice beats an implicit one, and a wrong
   passphrase is reported as wrong instead of being hidden behind a keyring that happened to work.
2. Otherwise the **OS keyring** slot, when ``use_keyring`` and the case has one.
3. Otherwise the user is **asked** (``ask(reason)``), with the reason the first two could not open it:
   the case has no keyring slot, the keyring is not used, not available or has no entry for this case.
   ``ask`` returning None (no way to ask: stdin is not a terminal; the user cancelled) raises that
   reason, so the caller can say how else to give a passphrase.

The case file's own errors (missing, not a case file, a newer format version) always come before a
question: step 2 reads the header even when the keyring is not used, which costs no key derivation.
An empty passphrase is never tried (no key slot can have one: :func:`~viewer.case.store.create_case`
and the front ends refuse it); it is :class:`PassphraseRequired` at once, not a wrong passphrase after
a second of Argon2id. A wrong passphrase is never asked again here: the caller decides whether to retry.

Why it is here and not in a front end: the command line had it twice (``case ...`` in the old
``case/cli.py``, ``export`` in the old ``case/bundle_cli.py``) and the copies differed:

- a keyring failure on a terminal: ``case`` named it, then asked; ``export`` asked without saying why.
  Kept: ``ask`` receives the reason (the command line prints it, the window shows it in its dialog).
- a keyring failure (unavailable, no entry) with no way to ask: ``case`` raised it without saying how
  else to give a passphrase; ``export`` said how. Kept: the reason is raised, every reason alike, and
  the front end adds how (it knows its own options).
- without the keyring, on a terminal: ``case`` asked before reading the file (a file that is not a case
  was reported after the passphrase was typed); ``export`` read the header first. Kept: header first.
- an empty answer: ``case`` refused it; ``export`` tried it (an Argon2id run, then "wrong passphrase").
  Kept: refused.

It knows no argparse, no terminal and no Qt: the caller supplies the passphrase it was given and the
way to ask.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from viewer.case.errors import CaseError, KeyringEntryMissing, KeyringUnavailable, PassphraseRequired
from viewer.case.store import CaseFile, open_case

#: Why a case could not be opened without asking: the argument given to ``ask``.
ASK_REASONS: tuple[type[CaseError], ...] = (PassphraseRequired, KeyringUnavailable, KeyringEntryMissing)

Ask = Callable[[CaseError], str | None]


def unlock_case(path: str | os.PathLike[str], *, passphrase: str | None = None, use_keyring: bool = True,
                ask: Ask | None = None, author_name: str | None = None,
                prefer_recovery: bool = False) -> CaseFile:
    """Open the case at ``path`` by the rule of the module docstring.

    ``passphrase``: the one the user gave (None: none given). ``ask(reason)``: called at most once, only
    when the keyring cannot open the case, with the :data:`ASK_REASONS` error saying why; it returns the
    passphrase, or None when it cannot ask. ``author_name`` and ``prefer_recovery`` are
    :func:`~viewer.case.store.open_case`'s.

    Raises the :class:`~viewer.case.errors.CaseError` that stopped it: the reason when no passphrase
    could be had, :class:`PassphraseRequired` for an empty one, :class:`WrongPassphrase`, a file error.
    """
    kw = {"author_name": author_name, "prefer_recovery": prefer_recovery}
    if passphrase is not None:
        return open_case(path, passphrase=_non_empty(passphrase), use_keyring=False, **kw)
    try:
        return open_case(path, use_keyring=use_keyring, **kw)
    except ASK_REASONS as exc:
        reason = exc
    answer = ask(reason) if ask is not None else None
    if answer is None:
        raise reason
    return open_case(path, passphrase=_non_empty(answer), use_keyring=False, **kw)


def _non_empty(passphrase: str) -> str:
    if not passphrase:
        raise PassphraseRequired("an empty passphrase")
    return passphrase


__all__ = ["unlock_case", "ASK_REASONS", "Ask"]
