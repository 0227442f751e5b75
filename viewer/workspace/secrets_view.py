"""The Secrets overview without Qt: one row per key, its copies side by side, one review for all copies.

A key found in five places and three encodings is one secret (the engine's grouping by key id,
:func:`~viewer.workspace.findings_view.group_findings`); the examiner reviews the secret, not each
copy. Each row says what the key is (kind, bits), which key it is (key id, the supplied public key it
matches), where it is (copies, regions) and where its review stands across the copies (one status, or
"mixed" with the counts). Public context (a certificate alone) is not a secret and has no row here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from viewer.scan.finding import Finding
from viewer.workspace.findings_view import confidence_label, group_findings, short_key_id

COL_KIND, COL_BITS, COL_KEY_ID, COL_COPIES, COL_REVIEW, COL_REGIONS, COL_MATCHES = range(7)
HEADERS = ("Kind", "Bits", "Key id", "Copies", "Review", "Regions", "Matches")
TIPS = (
    "What the key is",
    "Key size in bits, where the format tells",
    "Fingerprint of the public half: every copy has it",
    "Places in the dump holding this key (every encoding)",
    "The reviewer's verdict over all copies (one status, or mixed)",
    "Regions of the dump holding a copy",
    "The supplied public key, certificate or JWKS entry it is the private half of",
)
COPY_COL_ENCODING, COPY_COL_OFFSET, COPY_COL_LENGTH, COPY_COL_STATUS, COPY_COL_CONFIDENCE, COPY_COL_REGION, COPY_COL_ID = range(7)
COPY_HEADERS = ("Encoding", "Offset", "Length", "Status", "Confidence", "Region", "Id")
NO_CASE = "—"

Review = Callable[[Finding], "tuple[str, str] | None"]  # (status, severity), None when not in a case


@dataclass
class SecretRow:
    """One key and its copies (best copy first, then in file order)."""

    key: str
    key_id: str | None
    copies: list[Finding] = field(default_factory=list)

    @property
    def best(self) -> Finding:
        return self.copies[0]

    @property
    def kind(self) -> str:
        return self.best.kind

    @property
    def bits(self) -> int | None:
        for f in self.copies:
            bits = f.details.get("bits") if isinstance(f.details, dict) else None
            if isinstance(bits, int) and not isinstance(bits, bool) and bits > 0:
                return bits
        return None

    @property
    def matches(self) -> list[str]:
        return sorted({m for f in self.copies for m in f.matches})

    @property
    def regions(self) -> list[str]:
        return sorted({f.region or "—" for f in self.copies})

    @property
    def encodings(self) -> list[str]:
        return sorted({f.encoding for f in self.copies})


def secret_rows(findings: Iterable[Finding]) -> list[SecretRow]:
    """One row per secret key (the findings panel's grouping, secrets only), in the engine's order."""
    rows = []
    for g in group_findings(findings):
        copies = [f for f in g.findings if f.secret]
        if not copies:
            continue
        best = g.best if g.best.secret else copies[0]
        ordered = [best] + [f for f in copies if f is not best]
        rows.append(SecretRow(g.key, g.key_id, ordered))
    return rows


def review_state(row: SecretRow, review: Review | None) -> str:
    """``confirmed`` when every copy says so; ``mixed: 2 confirmed, 1 unreviewed``; ``—`` with no case;
    ``not in the case`` when no copy is."""
    if review is None:
        return NO_CASE
    statuses = [r[0] for r in (review(f) for f in row.copies) if r is not None]
    if not statuses:
        return "not in the case"
    counts = Counter(statuses)
    missing = len(row.copies) - len(statuses)
    if len(counts) == 1 and not missing:
        return statuses[0]
    parts = [f"{n} {s}" for s, n in counts.most_common()]
    if missing:
        parts.append(f"{missing} not in the case")
    return "mixed: " + ", ".join(parts)


def row_cell(row: SecretRow, col: int, review: Review | None = None) -> str:
    if col == COL_KIND:
        return row.kind
    if col == COL_BITS:
        return str(row.bits) if row.bits else "—"
    if col == COL_KEY_ID:
        return short_key_id(row.key_id) or "—"
    if col == COL_MATCHES:
        return ", ".join(row.matches) or "—"
    if col == COL_COPIES:
        n, enc = len(row.copies), len(row.encodings)
        return f"{n} ({enc} encodings)" if enc > 1 else str(n)
    if col == COL_REGIONS:
        return ", ".join(row.regions)
    return review_state(row, review)


def copy_cell(f: Finding, col: int, review: Review | None = None) -> str:
    if col == COPY_COL_ENCODING:
        component = f.details.get("component") if isinstance(f.details, dict) else None
        return f"{f.encoding} ({component})" if component else f.encoding
    if col == COPY_COL_OFFSET:
        return f"{f.offset:#x}"
    if col == COPY_COL_LENGTH:
        return str(f.length)
    if col == COPY_COL_REGION:
        return f.region or "—"
    if col == COPY_COL_CONFIDENCE:
        return confidence_label(f.confidence)
    if col == COPY_COL_STATUS:
        r = review(f) if review is not None else None
        return NO_CASE if review is None else (r[0] if r is not None else "not in the case")
    return f.id


__all__ = [
    "COPY_HEADERS", "HEADERS", "TIPS", "SecretRow", "copy_cell", "review_state", "row_cell", "secret_rows",
]
