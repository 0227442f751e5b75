"""Scan results for people and programs: text, the JSON document and SARIF 2.1.0.

Shared by the ``scan`` command and (later) the case bundle, which ships findings as JSON and SARIF.
Rules that hold for every format:

* Offsets are **file offsets** into the dump; the virtual address and region are given beside them.
* Secret bytes never appear unless the examiner asked with ``reveal=True``, and then only in the JSON
  ``excerpt`` field — never in text, SARIF messages, warnings or errors.
* The **masked excerpt** (the default) is defined as:
  - for a secret finding: ``"**"`` for each of its first 16 bytes, then ``"..."`` when longer — the
    shape of the data, none of its value (the length is in the finding anyway);
  - for public context (certificates, public keys): the hex of the first 4 and last 4 bytes joined by
    ``"..."`` (the whole hex when it is 8 bytes or shorter), enough to recognise a structure's header.
  With ``reveal=True`` the excerpt is the real hex of the finding's bytes, capped at 4 KiB of data
  (``excerpt_truncated`` says when the cap cut it).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from viewer import __version__
from viewer.evidence import Dump
from viewer.scan.engine import ScanResult, Secret
from viewer.scan.finding import Confidence, Finding

TOOL_NAME = "evidence-viewer"
REVEAL_CAP = 4096
MASK_BYTES = 16
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def tool_json() -> dict[str, str]:
    return {"name": TOOL_NAME, "version": __version__}


def excerpt(dump: Dump, f: Finding, reveal: bool = False) -> dict[str, Any]:
    """The ``excerpt`` fields of a finding (see the module docstring for the masking rule)."""
    if reveal:
        data = dump.read(f.offset, min(f.length, REVEAL_CAP))
        return {"excerpt": data.hex(), "excerpt_masked": False, "excerpt_truncated": f.length > REVEAL_CAP}
    if f.secret:
        text = "**" * min(f.length, MASK_BYTES) + ("..." if f.length > MASK_BYTES else "")
    elif f.length <= 8:
        text = dump.read(f.offset, f.length).hex()
    else:
        text = dump.read(f.offset, 4).hex() + "..." + dump.read(f.offset + f.length - 4, 4).hex()
    return {"excerpt": text, "excerpt_masked": True, "excerpt_truncated": False}


def finding_json(dump: Dump, f: Finding, reveal: bool = False) -> dict[str, Any]:
    out = f.to_json()
    out.update(excerpt(dump, f, reveal))
    return out


def result_json(
    dump: Dump, result: ScanResult, with_hash: bool = True, reveal: bool = False, min_confidence: Confidence = Confidence.MEDIUM
) -> dict[str, Any]:
    """One entry of the ``results`` list of ``scan --json``: the evidence, then what was found in it.

    Every finding is listed whatever its confidence (each carries it); ``min_confidence`` is recorded so
    that a program reading the document knows which threshold set the exit code.
    """
    return {
        "evidence": {
            "path": str(dump.path),
            "size": dump.size,
            "sha256": dump.sha256() if with_hash else None,
            "format": dump.format,
        },
        "min_confidence": str(min_confidence),
        "cancelled": result.cancelled,
        "findings": [finding_json(dump, f, reveal) for f in result.findings],
        "secrets": [s.to_json() for s in result.secrets],
        "public_keys": list(result.public_keys),
        "warnings": list(dump.warnings) + list(result.warnings),
        "stats": result.stats.to_json(),
    }


def scan_document(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {"tool": tool_json(), "results": results}


def secrets_at_or_above(result: ScanResult, threshold: Confidence) -> list[Secret]:
    return [s for s in result.secrets if s.confidence >= threshold]


# -- text ------------------------------------------------------------------------------------------
def _location_text(loc: dict[str, Any]) -> str:
    vaddr = f"va {loc['vaddr']:#x}" if loc.get("vaddr") is not None else "no va"
    region = loc.get("region") or "(outside any region)"
    return (
        f"      at {loc['offset']:#012x}  len {loc['length']:>6}  {loc['encoding']:<26} "
        f"{loc['confidence']:<9} {region} ({vaddr})"
    )


def result_text(dump: Dump, result: ScanResult, threshold: Confidence, with_hash: bool = True) -> str:
    """A page for people. Shows where keys are and why we believe it; never a byte of them."""
    lines = [
        f"file      {dump.path}",
        f"format    {dump.format}, {dump.size} bytes",
        f"sha256    {dump.sha256() if with_hash else '(not computed: --no-hash)'}",
    ]
    shown = secrets_at_or_above(result, threshold)
    lines.append(f"secrets   {len(shown)} at or above {threshold}")
    if shown:
        lines.append(f"  {'KIND':<22} {'CONFIDENCE':<10} {'KEY ID':<46} LOCATIONS")
        for s in shown:
            key = s.key_id or "(no key id)"
            lines.append(f"  {s.kind:<22} {str(s.confidence):<10} {key:<46} {len(s.locations)}")
            lines.extend(_location_text(loc) for loc in s.locations)
            if s.matches:
                lines.append(f"      matches supplied public key(s): {', '.join(s.matches)}")
    below = [s for s in result.secrets if s.confidence < threshold]
    public = [f for f in result.findings if not f.secret]
    if public:
        kinds = Counter(f.kind for f in public)
        lines.append(f"context   {len(public)} public finding(s): " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
        for f in public[:20]:
            lines.append(
                f"      at {f.offset:#012x}  len {f.length:>6}  {f.kind} ({f.encoding}) {f.region or ''}"
                + (f"  key id {f.key_id}" if f.key_id else "")
            )
        if len(public) > 20:
            lines.append(f"      ... and {len(public) - 20} more (see --json)")
    if below:
        lines.append(f"below     {len(below)} possible secret(s) below {threshold} (see --min-confidence low or --json)")
    for pk in result.public_keys:
        state = "FOUND (private half in this dump)" if pk["found"] else "not found"
        lines.append(f"pubkey    {pk['label']}: {state}  [{pk['key_id']}]")
    warnings = list(dump.warnings) + list(result.warnings)
    if warnings:
        lines.append(f"warnings  {len(warnings)}")
        lines.extend(f"  - {w}" for w in warnings[:50])
    st = result.stats
    lines.append(
        f"scanned   {st.bytes_scanned} of {st.total_bytes} bytes in {st.seconds:.2f} s "
        f"({st.mb_per_s:.0f} MB/s, {st.engine}, {st.workers} {st.executor} worker(s))"
        + ("  CANCELLED" if result.cancelled else "")
    )
    return "\n".join(lines)


# -- SARIF -----------------------------------------------------------------------------------------
def _level(f: Finding) -> str:
    if not f.secret:
        return "note"
    if f.confidence >= Confidence.HIGH:
        return "error"
    return "warning" if f.confidence == Confidence.MEDIUM else "note"


def _message(f: Finding) -> str:
    what = "possible secret" if f.secret else "public context"
    text = f"{f.kind} ({f.encoding}), {what}, confidence {f.confidence}, {f.length} bytes at file offset {f.offset:#x}"
    if f.region:
        text += f" in {f.region}"
    if f.key_id:
        text += f"; key id {f.key_id}"
    if f.matches:
        text += f"; private half of supplied public key(s) {', '.join(f.matches)}" if f.secret else ""
    return text


def sarif_document(entries: list[tuple[Dump, ScanResult]], threshold: Confidence, with_hash: bool = True) -> dict[str, Any]:
    """SARIF 2.1.0: one run, one rule per finding kind, one result per finding at or above ``threshold``
    (public context included as ``note``). Messages describe the finding; they never quote its bytes."""
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    artifacts: list[dict[str, Any]] = []
    for index, (dump, result) in enumerate(entries):
        uri = Path(dump.path).resolve().as_uri()
        artifact: dict[str, Any] = {"location": {"uri": uri}, "length": dump.size}
        if with_hash:
            artifact["hashes"] = {"sha-256": dump.sha256()}
        artifacts.append(artifact)
        for f in result.findings:
            if f.confidence < threshold:
                continue
            rules.setdefault(
                f.kind,
                {
                    "id": f.kind,
                    "name": f.kind.title().replace("-", ""),
                    "shortDescription": {"text": f"{f.kind} in process memory"},
                    "defaultConfiguration": {"level": "error" if f.secret else "note"},
                },
            )
            results.append(
                {
                    "ruleId": f.kind,
                    "level": _level(f),
                    "message": {"text": _message(f)},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"uri": uri, "index": index},
                                "region": {"byteOffset": f.offset, "byteLength": f.length},
                            },
                        }
                    ],
                    "partialFingerprints": {"findingId/v1": f.id},
                    "properties": {
                        "key_id": f.key_id,
                        "confidence": str(f.confidence),
                        "encoding": f.encoding,
                        "secret": f.secret,
                        "vaddr": f.vaddr,
                        "region": f.region,
                        "matches": list(f.matches),
                        "reasons": list(f.reasons),
                    },
                }
            )
    rule_list = [rules[k] for k in sorted(rules)]
    rule_index = {r["id"]: i for i, r in enumerate(rule_list)}
    for r in results:
        r["ruleIndex"] = rule_index[r["ruleId"]]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "version": __version__,
                        "rules": rule_list,
                    }
                },
                "artifacts": artifacts,
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }
