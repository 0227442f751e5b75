"""The findings view without Qt: columns, cell texts, sort keys, the filter and the grouping by secret.

The window's table and tree (:mod:`viewer.gui.findings`) are thin item-model adapters over these: what a
cell says and how a column sorts is decided here, once, and tested without a display.

The grouping is the engine's (:func:`viewer.scan.engine.group_secrets`: one secret per key id, a secret
without a key id on its own, best confidence first). The view adds only what a person reviewing needs
beside it: the public context that shares a secret's key id (the certificate of a private key) joins
that secret's group, and public findings without a secret form groups of their own by key id, after
every secret.

Nothing here ever holds key bytes: a Finding has none (see :mod:`viewer.scan.finding`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from viewer.scan.engine import group_secrets, secret_groups
from viewer.scan.finding import Confidence, Finding

COL_KIND, COL_ENCODING, COL_CONFIDENCE, COL_KEY_ID, COL_REGION, COL_OFFSET, COL_VADDR, COL_MATCHES, COL_ID = range(9)
HEADERS = ("Kind", "Encoding", "Confidence", "Key id", "Region", "Offset", "VAddr", "Matches", "Id")
HEADER_TIPS = (
    "What was found (rsa-private-key, certificate, …)",
    "How it is stored (pem-pkcs1, der-spki, raw-bignum, …)",
    "The scanner's confidence — math-checked: the key's mathematics was checked; high: well-formed but "
    "unchecked; medium/low: heuristics. (A reviewer's verdict is the Status column.)",
    "Fingerprint of the public half (the same key found twice has the same key id)",
    "Region of the dump holding it",
    "File offset (hex)",
    "Virtual address (hex) where the dump has one",
    "Supplied public keys this finding matches",
    "The finding's id, as in the report, findings.json, the CSV and the SARIF",
)
NUMERIC_COLUMNS = (COL_OFFSET, COL_VADDR)
KEY_ID_SHORT = 12

CONFIDENCE_MEANING = {
    Confidence.CONFIRMED: "the key's mathematics was checked (or a supplied public key matched)",
    Confidence.HIGH: "a well-formed structure, but its mathematics could not be checked",
    Confidence.MEDIUM: "a heuristic match: looks like key material, not verified",
    Confidence.LOW: "a weak heuristic: may well be something else",
}


# The scanner's confidence in words of its own: "confirmed" is the reviewer's verdict (the case's
# review status), and one word for both read as if a person had confirmed what the mathematics checked.
CONFIDENCE_LABELS = {c: c.words for c in Confidence}  # one home: Confidence.words


def confidence_label(confidence: Confidence) -> str:
    """How the window names a confidence (``math-checked``, ``high``, …)."""
    return CONFIDENCE_LABELS.get(Confidence(confidence), str(confidence))


def short_key_id(key_id: str | None) -> str:
    if not key_id:
        return ""
    return key_id if len(key_id) <= KEY_ID_SHORT + 1 else key_id[:KEY_ID_SHORT] + "…"


def hex_or_dash(value: int | None) -> str:
    return "—" if value is None else f"{value:#x}"


def cell_text(f: Finding, col: int) -> str:
    """What column ``col`` of a finding's row says."""
    if col == COL_KIND:
        return f.kind
    if col == COL_ENCODING:
        return f.encoding
    if col == COL_CONFIDENCE:
        return confidence_label(f.confidence)
    if col == COL_KEY_ID:
        return short_key_id(f.key_id)
    if col == COL_REGION:
        return f.region or ""
    if col == COL_OFFSET:
        return f"{f.offset:#x}"
    if col == COL_VADDR:
        return hex_or_dash(f.vaddr)
    if col == COL_ID:
        return f.id
    return ", ".join(f.matches)


def sort_key(f: Finding, col: int) -> Any:
    """How column ``col`` sorts: numbers for offsets, fixed-width hex for addresses (they can exceed a
    signed 64-bit QVariant), rank for confidence, case-folded text otherwise."""
    if col == COL_OFFSET:
        return f.offset
    if col == COL_VADDR:
        return "" if f.vaddr is None else f"{f.vaddr:016x}"
    if col == COL_CONFIDENCE:
        return int(f.confidence)
    if col == COL_KEY_ID:
        return f.key_id or ""
    return cell_text(f, col).lower()


def tooltip(f: Finding, col: int) -> str | None:
    """The tooltip of a finding's cell (None: no tooltip)."""
    if col == COL_KEY_ID and f.key_id:
        return f.key_id
    if col == COL_CONFIDENCE:
        return f"{confidence_label(f.confidence)}: {CONFIDENCE_MEANING[f.confidence]}"
    if col == COL_ID:
        return f"finding {f.id}: the id the report, the JSON, the CSV and the SARIF give this finding"
    if col == COL_OFFSET:
        return f"file offset {f.offset:#x} ({f.offset}), {f.length} bytes"
    if col == COL_MATCHES and f.matches:
        return "\n".join(f.matches)
    return None


# -- the filter ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FindingFilter:
    """What the filter bar asks for: kinds (None: all), a minimum confidence, a text (case-insensitive)
    in key id or region."""

    kinds: frozenset[str] | None = None
    min_confidence: Confidence = Confidence.LOW
    text: str = ""

    def accepts(self, f: Finding) -> bool:
        return accepts(f, self.kinds, self.min_confidence, self.text)

    def apply(self, findings: Iterable[Finding]) -> list[Finding]:
        return [f for f in findings if self.accepts(f)]


def accepts(f: Finding, kinds: set[str] | frozenset[str] | None, min_confidence: Confidence, text: str) -> bool:
    """The filter of the panel, shared by the table's proxy and the tree: kind in ``kinds`` (None: all),
    confidence at least ``min_confidence``, ``text`` (case-insensitive) in key id or region."""
    if kinds is not None and f.kind not in kinds:
        return False
    if f.confidence < min_confidence:
        return False
    if text:
        needle = text.lower()
        if needle not in (f.key_id or "").lower() and needle not in (f.region or "").lower():
            return False
    return True


# -- group by secret -------------------------------------------------------------------------------
@dataclass
class FindingGroup:
    """All findings sharing a key id (one key, wherever and however it was found), or one finding
    without a key id. ``secret`` groups are the engine's secrets; the others are public context only."""

    key: str
    key_id: str | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def best(self) -> Finding:
        secret = [f for f in self.findings if f.secret] or self.findings
        return max(secret, key=lambda f: (f.confidence, -f.offset))

    @property
    def kind(self) -> str:
        return self.best.kind

    @property
    def confidence(self) -> Confidence:
        return max(f.confidence for f in self.findings)

    @property
    def secret(self) -> bool:
        return any(f.secret for f in self.findings)

    @property
    def matches(self) -> list[str]:
        out: list[str] = []
        for f in self.findings:
            out.extend(m for m in f.matches if m not in out)
        return out

    @property
    def encodings(self) -> list[str]:
        return sorted({f.encoding for f in self.findings})

    @property
    def regions(self) -> list[str]:
        return sorted({f.region or "" for f in self.findings})


def group_key(f: Finding) -> str:
    """The key a finding is grouped under: its key id, or its own id when it has none (the engine's)."""
    return f.key_id or f"finding:{f.id}"


def group_findings(findings: Iterable[Finding]) -> list[FindingGroup]:
    """The engine's secrets in the engine's order, each with the public findings of its key id; then
    the public findings of no secret, grouped by key id, in file order. Locations in file order."""
    findings = list(findings)
    by_id: dict[str, list[Finding]] = {}
    for f in findings:
        if f.secret:
            by_id.setdefault(f.id, []).append(f)
    groups: dict[str, FindingGroup] = {}
    for s in group_secrets(findings):
        members = [by_id[i].pop(0) for i in s.finding_ids]
        key = group_key(members[0])
        groups[key] = FindingGroup(key, s.key_id, members)
    public: dict[str, FindingGroup] = {}
    for f in findings:
        if f.secret:
            continue
        key = group_key(f)
        target = groups.get(key)
        if target is None:
            target = public.setdefault(key, FindingGroup(key, f.key_id))
        target.findings.append(f)
    out = list(groups.values())
    out += sorted(public.values(), key=lambda g: min(f.offset for f in g.findings))
    for g in out:
        g.findings.sort(key=lambda f: (f.offset, f.length, f.kind))
    return out


def group_cell(g: FindingGroup, col: int) -> str:
    """What column ``col`` of a group's row says: kind, best confidence, key id, "N locations"."""
    n = len(g.findings)
    if col == COL_KIND:
        return g.kind
    if col == COL_ENCODING:
        return g.encodings[0] if len(g.encodings) == 1 else f"{len(g.encodings)} encodings"
    if col == COL_CONFIDENCE:
        return confidence_label(g.confidence)
    if col == COL_KEY_ID:
        return short_key_id(g.key_id)
    if col == COL_ID:
        return g.findings[0].id if n == 1 else ""
    if col == COL_REGION:
        return g.regions[0] if len(g.regions) == 1 else f"{len(g.regions)} regions"
    if col == COL_OFFSET:
        return f"{n} location" + ("s" if n != 1 else "")
    if col == COL_VADDR:
        return ""
    return ", ".join(g.matches)


def group_sort_key(g: FindingGroup, col: int) -> Any:
    if col == COL_CONFIDENCE:
        return int(g.confidence)
    if col == COL_KEY_ID:
        return g.key_id or ""
    if col == COL_OFFSET:
        return len(g.findings)
    return group_cell(g, col)


# -- counts: one wording everywhere ------------------------------------------------------------------
def secret_count(findings: Iterable[Finding]) -> int:
    """How many secrets: distinct keys among the secret findings (one key found in five places and three
    encodings is one secret) — the engine's grouping, the number the report and the CLI give."""
    return len(secret_groups(list(findings)))  # the groups alone: their locations are not needed to count


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def summary_text(findings: Iterable[Finding]) -> str:
    """``"6 secrets in 12 findings"``: what a dump holds, in the words used everywhere in the window."""
    findings = list(findings)
    return f"{plural(secret_count(findings), 'secret')} in {plural(len(findings), 'finding')}"


def count_text(total: int, shown: int, secrets: int | None = None) -> str:
    """The count beside the filter bar: "N of M findings", with "K secrets, " before it when known."""
    text = f"{shown} of {plural(total, 'finding')}"
    return text if secrets is None else f"{plural(secrets, 'secret')}, {text}"
