"""What the New case form asks for, and when it is complete — without Qt.

One form instead of a file dialog followed by two text prompts: the case file, name, number, examiner,
description, the passphrase twice, and which open dumps become its evidence (their bookmarks with them).
Before, examiner and case number stayed empty in the audit trail and the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

CASE_SUFFIX = ".evcase"
MIN_PASSPHRASE = 8


@dataclass
class NewCaseForm:
    """The New case form's fields (``evidence``: tokens of the open dumps to add as evidence)."""

    path: str = ""
    name: str = ""
    number: str = ""
    examiner: str = ""
    description: str = ""
    passphrase: str = ""
    again: str = ""
    evidence: list[int] = field(default_factory=list)

    @property
    def case_path(self) -> Path:
        """The file, with the case suffix added when it lacks it."""
        p = self.path.strip()
        return Path(p if p.endswith(CASE_SUFFIX) else p + CASE_SUFFIX)

    def problems(self, *, keyring: bool = True) -> list[str]:
        """Why the form cannot be accepted yet (empty: it can). Without a working ``keyring`` a
        passphrase is the only way back into the case, so it is required."""
        out = []
        if not self.path.strip():
            out.append("Choose where the case file goes.")
        elif self.case_path.exists():
            out.append(f"{self.case_path.name} already exists: open it, or choose another name.")
        if not self.name.strip():
            out.append("The case needs a name.")
        if not self.examiner.strip():
            out.append("Who examines? The examiner is named in the audit trail and the report.")
        if self.passphrase != self.again:
            out.append("The two passphrases differ.")
        elif self.passphrase and len(self.passphrase) < MIN_PASSPHRASE:
            out.append(f"A passphrase needs at least {MIN_PASSPHRASE} characters.")
        elif not self.passphrase and not keyring:
            out.append("Without a working keyring the case needs a passphrase.")
        return out


__all__ = ["CASE_SUFFIX", "MIN_PASSPHRASE", "NewCaseForm"]
