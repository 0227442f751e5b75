"""What the scanner reports: a Finding (DESIGN.md contract) and its confidence scale.

A finding never holds secret bytes: only where they are (file offset, length, vaddr, region), what they
are (kind, encoding), why we believe it (reasons, confidence) and public facts about them (key_id — the
fingerprint of the public half — bits, curve, JWT claims). The bytes stay in the evidence, which is where
an examiner who asks for them with --reveal reads them from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class Confidence(IntEnum):
    """How sure we are. ``CONFIRMED`` only when the key's mathematics was checked (or a supplied public
    key matched); ``HIGH`` for a well-formed structure that could not be checked; below that, heuristics."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CONFIRMED = 4

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Confidence:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown confidence {text!r}: use confirmed, high, medium or low") from None

    @property
    def words(self) -> str:
        """How a person reads it (window, report): ``math-checked`` for CONFIRMED — "confirmed" is the
        reviewer's verdict, and one word for both read as if a person had confirmed what was computed.
        The value in JSON, CSV and SARIF stays ``confirmed`` (a format's contract)."""
        return "math-checked" if self is Confidence.CONFIRMED else str(self)


@dataclass
class Finding:
    """One thing found at one place in the dump.

    ``secret`` is False for public context (certificates, public keys): reported, never counted as a
    secret. ``vaddr`` and ``region`` are filled in by the engine from the Dump.
    """

    kind: str
    encoding: str
    offset: int
    length: int
    confidence: Confidence
    reasons: list[str] = field(default_factory=list)
    key_id: str | None = None
    matches: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    secret: bool = True
    vaddr: int | None = None
    region: str | None = None

    @property
    def id(self) -> str:
        """Stable across runs and machines: derived from kind, offset and length only."""
        return hashlib.sha256(f"{self.kind}:{self.offset}:{self.length}".encode()).hexdigest()[:16]

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Finding:
        """The inverse of :meth:`to_json` (a case file's or a findings.json's record); ``id`` is derived."""
        return cls(
            kind=str(d["kind"]),
            encoding=str(d.get("encoding", "")),
            offset=int(d["offset"]),
            length=int(d["length"]),
            confidence=Confidence.parse(str(d.get("confidence", "low"))),
            reasons=[str(r) for r in d.get("reasons") or []],
            key_id=d.get("key_id"),
            matches=[str(m) for m in d.get("matches") or []],
            details=dict(d.get("details") or {}),
            secret=bool(d.get("secret", True)),
            vaddr=d.get("vaddr"),
            region=d.get("region"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "encoding": self.encoding,
            "offset": self.offset,
            "length": self.length,
            "vaddr": self.vaddr,
            "region": self.region,
            "confidence": str(self.confidence),
            "reasons": list(self.reasons),
            "key_id": self.key_id,
            "matches": list(self.matches),
            "secret": self.secret,
            "details": self.details,
        }
