"""`evidence-viewer info DUMP [--json] [--pretty] [--no-hash]`: what a dump is, for people or programs.

:func:`info_json` and :func:`info_lines` are presentations of a :class:`~viewer.evidence.Dump` (the
common contract plus the format's own ``details``); tests of the parsers compare against them. The lines
hold the dump's own strings (module names, paths) as they are: :func:`~viewer.cli.terminal.emit` escapes
them when they are written.
"""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

from viewer import __version__
from viewer.cli.common import ExitCode, one_line_errors, write_json
from viewer.cli.terminal import emit
from viewer.evidence import Dump, open_dumps
from viewer.evidence.model import regions_json
from viewer.units import human_size


def info_json(dump: Dump, with_hash: bool = True) -> dict[str, Any]:
    """The `info --json` object: the common contract plus the format's own parts.

    ``sha256`` is null only when the examiner asked for ``--no-hash`` (a quick look at a huge file).
    """
    out: dict[str, Any] = {
        "tool": {"name": "evidence-viewer", "version": __version__},
        "format": dump.format,
        "path": str(dump.path),
        "size": dump.size,
        "sha256": dump.sha256() if with_hash else None,
        "meta": dump.meta,
        "warnings": list(dump.warnings),
        "regions": regions_json(dump.regions),
    }
    out["chain"] = dump.chain
    if dump.origin is not None:
        # The dump came in a container: `size` and offsets are those of the decompressed content,
        # `sha256` is the evidence file's (the container's), `content_sha256` the content's.
        out["evidence_size"] = dump.evidence_size
        out["content_sha256"] = dump.content_sha256()
        out["container"] = dump.origin.to_json()
    for key, value in dump.details.items():
        out.setdefault(key, value)
    return out


def info_text(dump: Dump, with_hash: bool = True) -> str:
    """:func:`info_lines` as one text (unescaped: for tests and programs, not for a terminal)."""
    return "\n".join(info_lines(dump, with_hash))


def info_lines(dump: Dump, with_hash: bool = True) -> list[str]:
    """A page for people, one line each: what the dump is, whose process, what it holds, what was wrong
    with it."""
    meta = dump.meta
    lines = [
        f"file      {dump.path}",
        f"format    {dump.format}",
    ]
    if dump.origin is None:
        lines += [
            f"size      {dump.size} bytes ({human_size(dump.size)})",
            f"sha256    {dump.sha256() if with_hash else '(not computed: --no-hash)'}",
        ]
    else:
        lines += container_lines(dump)
    os_text = " ".join(str(meta[k]) for k in ("os", "os_version") if meta.get(k))
    if os_text:
        lines.append(f"os        {os_text}")
    if meta.get("arch"):
        lines.append(f"arch      {meta['arch']}")
    proc = meta.get("process") or {}
    if proc:
        parts = [f"{k}={v}" for k, v in proc.items() if v not in (None, "")]
        lines.append(f"process   {' '.join(parts)}")
    for key in ("time", "exception", "bugcheck", "dump_type"):
        if meta.get(key) not in (None, ""):
            lines.append(f"{key:<9} {meta[key]}")
    threads = dump.details.get("threads")
    if isinstance(threads, list):
        lines.append(f"threads   {len(threads)}")
    modules = dump.details.get("modules")
    if isinstance(modules, list):
        lines.append(f"modules   {len(modules)}")
        for mod in modules[:12]:
            base = mod.get("base")
            base_text = f"{base:#018x}" if isinstance(base, int) else "?"
            lines.append(f"  {base_text}  {mod.get('size', 0):>10}  {mod.get('name', '')}")
        if len(modules) > 12:
            lines.append(f"  ... and {len(modules) - 12} more")
    mem = [r for r in dump.regions if r.vaddr is not None]
    kinds = Counter(r.kind for r in mem)
    total = sum(r.size for r in mem)
    lines.append(
        f"memory    {len(mem)} ranges, {human_size(total)} in the file"
        + (f" ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))})" if kinds else "")
    )
    if dump.warnings:
        lines.append(f"warnings  {len(dump.warnings)}")
        lines.extend(f"  - {w}" for w in dump.warnings[:50])
        if len(dump.warnings) > 50:
            lines.append(f"  ... and {len(dump.warnings) - 50} more")
    else:
        lines.append("warnings  none")
    return lines


def container_lines(dump: Dump) -> list[str]:
    """The chain, both hashes and sizes, and each layer's own metadata (apport fields, systemd-coredump
    extended attributes, the ZIP member), for a dump that came in a container."""
    origin = dump.origin
    lines = [
        f"chain     {' > '.join(dump.chain)}",
        f"container {dump.evidence_size} bytes ({human_size(dump.evidence_size)}), sha256 {dump.sha256()}",
        f"content   {dump.size} bytes ({human_size(dump.size)}), sha256 {dump.content_sha256()}",
        f"cached    {origin.content_path}",
        "offsets   are offsets in the decompressed content",
    ]
    for i, layer in enumerate(origin.layers, 1):
        what = f"layer {i}  {layer.kind}" + (f" member {layer.member}" if layer.member else "")
        lines.append(what + ("  (from the cache, hash verified)" if layer.cached else ""))
        for group, values in layer.meta.items():
            if isinstance(values, dict):
                for key, value in list(values.items())[:40]:
                    text = str(value).replace("\n", " | ")
                    lines.append(f"  {group}.{key}: {text[:200]}{'…' if len(text) > 200 else ''}")
    return lines


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("info", help="describe a dump: format, OS, process, threads, modules, memory")
    p.add_argument("dump")
    p.add_argument("--json", action="store_true", help="one JSON object for programs")
    p.add_argument("--pretty", action="store_true", help="indent the JSON")
    p.add_argument(
        "--no-hash", action="store_true", help="skip the SHA-256 of the whole file (quick look at a huge dump)"
    )
    p.set_defaults(func=run)
    return p


@one_line_errors()
def run(args: argparse.Namespace) -> int:
    """Exit 0, or 2 when the dump cannot be read."""
    dumps = open_dumps(args.dump)
    try:
        with_hash = not args.no_hash
        if args.json:
            # one object for a dump; a list of objects for a container of several (a ZIP of dumps)
            docs = [info_json(d, with_hash) for d in dumps]
            write_json(docs[0] if len(docs) == 1 else docs, pretty=args.pretty)
        else:
            for i, dump in enumerate(dumps):
                if len(dumps) > 1:
                    emit(f"== dump {i + 1} of {len(dumps)}: member {dump.origin.member if dump.origin else ''}")
                emit(*info_lines(dump, with_hash))
    finally:
        for d in dumps:
            d.close()
    return ExitCode.OK
