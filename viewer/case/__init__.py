"""Cases: the examiner's encrypted case file (model, audit trail, format, store). Never imports Qt.

See :mod:`viewer.case.store` for the API, :mod:`viewer.case.crypto` for the file format,
:mod:`viewer.case.model` for the data and :mod:`viewer.case.audit` for the audit trail.
"""

from __future__ import annotations

from viewer.case.audit import AuditTrail
from viewer.case.crypto import DEFAULT_KDF, FORMAT_VERSION, TEST_KDF
from viewer.case.errors import (
    CaseBusy,
    CaseChangedOnDisk,
    CaseError,
    CaseTampered,
    EvidenceMismatch,
    KdfOutOfBounds,
    KeyringEntryMissing,
    KeyringUnavailable,
    NewerFormatVersion,
    NotACaseFile,
    PassphraseRequired,
    WrongPassphrase,
)
from viewer.case.model import STATUSES, Case, make_author
from viewer.case.store import CaseFile, create_case, has_recovery, open_case, open_recovery, recovery_path

__all__ = [
    "AuditTrail", "Case", "CaseFile", "STATUSES", "DEFAULT_KDF", "FORMAT_VERSION", "TEST_KDF",
    "create_case", "open_case", "open_recovery", "has_recovery", "recovery_path", "make_author",
    "CaseError", "CaseTampered", "EvidenceMismatch", "KeyringEntryMissing", "KeyringUnavailable",
    "NewerFormatVersion", "NotACaseFile", "PassphraseRequired", "WrongPassphrase", "KdfOutOfBounds",
    "CaseChangedOnDisk", "CaseBusy",
]
