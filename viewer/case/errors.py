"""The case errors: one class per way opening or saving a case can fail, each with a one-line message.

All derive from :class:`CaseError`, so a caller (the CLI, the window) can catch them together and show
``str(exc)`` as it is.
"""

from __future__ import annotations


class CaseError(Exception):
    """Base of every case-file error; ``str()`` is a complete one-line message for the examiner."""


class NotACaseFile(CaseError):
    """The file does not start with the case magic bytes (or is empty)."""


class NewerFormatVersion(CaseError):
    """The header declares a format version this program does not know (written by a newer release)."""


class CaseTampered(CaseError):
    """Authentication failed: the file was modified, damaged or truncated after it was saved."""


class KdfOutOfBounds(CaseError):
    """A passphrase slot asks for key-derivation parameters outside the fixed bounds (a crafted case that
    would make the right passphrase hang or exhaust memory): refused before anything is derived."""


class CaseChangedOnDisk(CaseError):
    """The case file was saved by someone else since it was read, and the two sets of changes could not
    be merged safely: nothing was written; the in-memory case is kept (autosave it, or save it elsewhere)."""


class CaseBusy(CaseError):
    """Another process holds the case's save lock for longer than the wait allows."""


class WrongPassphrase(CaseError):
    """No passphrase slot of the case opens with the passphrase given."""


class PassphraseRequired(CaseError):
    """The case can only be opened with a passphrase and none was given."""


class KeyringUnavailable(CaseError):
    """No working OS keyring (fail backend, locked keyring, no D-Bus session): use a passphrase."""


class KeyringEntryMissing(CaseError):
    """The case has a keyring slot but the OS keyring has no (matching) entry for it."""


class EvidenceMismatch(CaseError):
    """A file offered as the new location of an evidence item does not have its SHA-256."""
