"""The work a fleet worker does: plain functions of a path and the settings, run in a local pool process
or on a Dask worker.

Workers read dumps by path (a shared filesystem); no dump byte goes through the pool's pipe or the
scheduler. What comes back is the outcome of one dump as JSON-ready data — the findings masked exactly
as ``scan --json`` writes them (:func:`viewer.handover.documents.finding_json`), never a secret byte —
or, for one byte range of a large dump, the range's first-pass chunks (findings and counts, no bytes),
which :func:`join_parts` turns into the dump's outcome.

Each call scans inline (one thread): the parallelism is across dumps and ranges. The compiled patterns,
detectors and supplied keys are built once per process (:func:`viewer.fleet.settings.resolved`).
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from typing import Any

from viewer.evidence import close_dumps, open_dump, open_dumps
from viewer.fleet.settings import FleetSettings, resolved
from viewer.handover import documents
from viewer.scan.engine import DEFAULT_CHUNK, ChunkResult, ScanResult, join_ranges, scan_range

PAGE = 4096


def worker_name() -> str:
    """``host:pid`` of this process: which worker scanned a dump (the database keeps it)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def whole_chunk(size: int) -> int:
    """The chunk size for a dump scanned whole in one task: the engine's default, but no bigger than
    the dump (rounded up to a page), so a 20 KB dump does not allocate a 64 MiB buffer."""
    return max(PAGE, min(DEFAULT_CHUNK, -(-size // PAGE) * PAGE))


def outcome(dump: Any, result: ScanResult, seconds: float, ranges: int = 1) -> dict[str, Any]:
    """A scanned dump as the coordinator records it: the ``scan --json`` entry's parts (masked)."""
    process = (dump.meta.get("process") or {}) if isinstance(dump.meta, dict) else {}
    return {
        "path": str(dump.path),
        "sha256": dump.sha256(),
        "size": dump.size,
        "format": dump.format,
        "process": process.get("name") if isinstance(process, dict) else None,
        "findings": [documents.finding_json(dump, f) for f in result.findings],
        "secrets": [s.to_json() for s in result.secrets],
        "public_keys": list(result.public_keys),
        "warnings": list(dump.warnings) + list(result.warnings),
        "stats": result.stats.to_json(),
        "seconds": seconds,
        "worker": worker_name(),
        "ranges": ranges,
    }


def scan_path(path: str, settings: FleetSettings) -> dict[str, Any]:
    """Scan the file at ``path`` whole: the first pass, then the post-scan work, in this process — every
    dump in it (a ZIP of several: each, in one outcome, :func:`combined`)."""
    detectors, keys = resolved(settings)
    dumps = open_dumps(path)
    try:
        outs = []
        for dump in dumps:
            started = time.perf_counter()
            chunk = whole_chunk(dump.size)
            digest = hashlib.sha256()  # in the scan's own pass: the outcome's sha256 does not read the file again
            parts = scan_range(dump, detectors, 0, dump.size, chunk, engine=settings.engine, digest=digest)
            if dump.source.changed() is None:
                dump.source.adopt_sha256(digest.hexdigest())
            result = join_ranges(dump, detectors, parts, keys, chunk, engine=settings.engine, deep=settings.deep,
                                 seconds=time.perf_counter() - started)
            outs.append(outcome(dump, result, time.perf_counter() - started))
        return outs[0] if len(outs) == 1 else combined(dumps, outs)
    finally:
        close_dumps(dumps)


def combined(dumps: list[Any], outs: list[dict[str, Any]]) -> dict[str, Any]:
    """One outcome for a file holding several dumps: the file's hash; every dump's findings, secrets and
    warnings, each marked with its ``member`` (offsets are in that dump's content); the dumps listed in
    ``members``. The gate's verdict is the file's: it leaves the network whole or not at all."""
    members, findings, secrets, warnings, keys = [], [], [], [], []
    for dump, out in zip(dumps, outs, strict=True):
        member = dump.member
        members.append({"member": member, "content_sha256": dump.content_sha256(), "format": out["format"],
                        "size": out["size"], "process": out["process"], "findings": len(out["findings"]),
                        "stats": out["stats"]})
        findings += [{**f, "member": member} for f in out["findings"]]
        secrets += [{**x, "member": member} for x in out["secrets"]]
        warnings += [f"{member}: {w}" for w in out["warnings"]]
        keys += [k for k in out["public_keys"] if k not in keys]
    formats = sorted({m["format"] for m in members})
    stats = dict(outs[0]["stats"])
    for name in ("bytes_scanned", "total_bytes"):
        stats[name] = sum(int(o["stats"].get(name, 0)) for o in outs)
    stats["members"] = [m["member"] for m in members]  # the database keeps the stats: which dumps there were
    return {**outs[0], "size": sum(m["size"] for m in members), "format": " + ".join(formats),
            "process": outs[0]["process"], "findings": findings, "secrets": secrets, "public_keys": keys,
            "warnings": warnings, "stats": stats, "seconds": sum(o["seconds"] for o in outs), "members": members}


def scan_part(path: str, settings: FleetSettings, start: int, end: int, chunk: int) -> list[ChunkResult]:
    """The first pass over ``[start, end)`` of a dump split into ranges (chunk-aligned)."""
    detectors, _ = resolved(settings)
    with open_dump(path) as dump:
        return scan_range(dump, detectors, start, end, chunk, engine=settings.engine)


def join_parts(path: str, settings: FleetSettings, parts: list[list[ChunkResult]], chunk: int,
               seconds: float) -> dict[str, Any]:
    """The outcome of a split dump from its ranges' chunks: the post-scan work once, over the whole dump."""
    detectors, keys = resolved(settings)
    started = time.perf_counter()
    with open_dump(path) as dump:
        result = join_ranges(dump, detectors, [c for part in parts for c in part], keys, chunk,
                             engine=settings.engine, deep=settings.deep, seconds=seconds)
        return outcome(dump, result, seconds + time.perf_counter() - started, ranges=len(parts))


def redact_path(path: str, out: str, findings: list[dict[str, Any]], settings: FleetSettings,
                threshold: str) -> dict[str, Any]:
    """A redacted copy of ``path`` at ``out`` (and its log beside it), from the findings the scan gave;
    verified clean by :func:`viewer.handover.redact.redact_file` (it scans the copy again). A copy that
    is not clean is deleted: what lies in the redaction folder may leave. Returns what the log says."""
    from viewer.handover.redact import redact_file
    from viewer.scan.finding import Confidence, Finding

    _, keys = resolved(settings)
    result = redact_file(path, out, public_keys=keys, threshold=Confidence.parse(threshold),
                         findings=[Finding.from_json(f) for f in findings], force=True)
    if not result.clean:
        os.unlink(out)
    return {"output": out if result.clean else None, "log": result.log, "clean": result.clean,
            "ranges": len(result.ranges), "remaining": len(result.remaining), "output_sha256": result.output_sha256}


__all__ = ["worker_name", "whole_chunk", "outcome", "scan_path", "scan_part", "join_parts", "redact_path"]
