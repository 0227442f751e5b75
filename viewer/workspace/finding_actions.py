"""What a right-click on a finding copies or writes, without Qt: its location as a sentence, and a
one-finding JSON document ("export this finding") — masked like every document that leaves the window.
"""

from __future__ import annotations

from typing import Any

from viewer import __version__
from viewer.handover.documents import finding_json
from viewer.scan.finding import Finding
from viewer.workspace.findings_view import confidence_label

FORMAT = "evidence-viewer-finding/1"


def location_text(dump: Any, f: Finding) -> str:
    """``/path/dump.core: file offset 0x1a0 (416), 1191 bytes, va 0x7f…, region stack`` — one line to paste
    into notes or a ticket."""
    parts = [f"{dump.path}: file offset {f.offset:#x} ({f.offset}), {f.length} bytes"]
    if f.vaddr is not None:
        parts.append(f"va {f.vaddr:#x}")
    if f.region:
        parts.append(f"region {f.region}")
    return ", ".join(parts)


def finding_document(dump: Any, sha256: str | None, f: Finding, review: Any = None) -> dict[str, Any]:
    """One finding as a JSON document: the dump (path, size, SHA-256), the finding (its id as in the report;
    the secret bytes masked), the scanner's confidence in words, the reviewer's verdict when in a case."""
    doc: dict[str, Any] = {
        "format": FORMAT,
        "tool": {"name": "evidence-viewer", "version": __version__},
        "dump": {"path": str(dump.path), "size": int(dump.size), "sha256": sha256, "format": dump.format},
        "finding": {"id": f.id, **finding_json(dump, f, reveal=False)},
        "confidence": confidence_label(f.confidence),
        "location": location_text(dump, f),
    }
    if review is not None:
        doc["review"] = {"status": review.status, "severity": review.severity, "tags": list(review.tags),
                         "comments": [{"author": c.author, "time": c.time, "text": c.text} for c in review.comments]}
    return doc


__all__ = ["FORMAT", "finding_document", "location_text"]
