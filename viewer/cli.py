"""The `evidence-viewer` command: the GUI by default, headless sub-commands for scripts and pipelines.

Exit codes (DESIGN.md): 0 clean, 1 secrets found, 2 bad usage or unreadable input. Errors are one line on
stderr; a traceback only with ``--debug``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections import Counter
from typing import Any, TextIO

from . import __version__
from .evidence import Dump, EvidenceError, open_dump

EXIT_OK, EXIT_SECRETS, EXIT_USAGE = 0, 1, 2
SUBCOMMANDS = {"info", "gui"}


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
        "regions": [r.to_json() for r in dump.regions],
    }
    for key, value in dump.details.items():
        out.setdefault(key, value)
    return out


JSON_BATCH = 4096


def write_json(doc: dict[str, Any], out: TextIO, pretty: bool = False) -> None:
    """Write ``doc`` as one JSON object, streaming long top-level lists in batches.

    A dump with 100,000 memory ranges gives two lists of 100,000 objects; encoding them a batch at a time
    keeps peak memory flat. ``json.dump`` to a stream would take the slow pure-Python encoder instead.
    """
    if pretty:
        out.write(json.dumps(doc, indent=1) + "\n")
        return
    compact = {"separators": (",", ":")}
    out.write("{")
    for i, (key, value) in enumerate(doc.items()):
        out.write(("," if i else "") + json.dumps(key) + ":")
        if isinstance(value, list) and len(value) > JSON_BATCH:
            out.write("[")
            for start in range(0, len(value), JSON_BATCH):
                out.write(("," if start else "") + json.dumps(value[start : start + JSON_BATCH], **compact)[1:-1])
            out.write("]")
        else:
            out.write(json.dumps(value, **compact))
    out.write("}\n")


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def info_text(dump: Dump, with_hash: bool = True) -> str:
    """A page for people: what the dump is, whose process, what it holds, what was wrong with it."""
    meta = dump.meta
    lines = [
        f"file      {dump.path}",
        f"format    {dump.format}",
        f"size      {dump.size} bytes ({_human(dump.size)})",
        f"sha256    {dump.sha256() if with_hash else '(not computed: --no-hash)'}",
    ]
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
        f"memory    {len(mem)} ranges, {_human(total)} in the file"
        + (f" ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))})" if kinds else "")
    )
    if dump.warnings:
        lines.append(f"warnings  {len(dump.warnings)}")
        lines.extend(f"  - {w}" for w in dump.warnings[:50])
        if len(dump.warnings) > 50:
            lines.append(f"  ... and {len(dump.warnings) - 50} more")
    else:
        lines.append("warnings  none")
    return "\n".join(lines)


def cmd_info(args: argparse.Namespace) -> int:
    with open_dump(args.dump) as dump:
        with_hash = not args.no_hash
        if args.json:
            write_json(info_json(dump, with_hash), sys.stdout, pretty=args.pretty)
        else:
            print(info_text(dump, with_hash))
    return EXIT_OK


def has_display() -> bool:
    """True when Qt can show a window here (an X or Wayland display, or a platform set explicitly)."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM"))


def cmd_gui(args: argparse.Namespace) -> int:
    path = getattr(args, "dump", None)
    if not has_display():
        print("evidence-viewer: no display available (DISPLAY is not set); showing `info` instead", file=sys.stderr)
        if path is None:
            return EXIT_USAGE
        return cmd_info(argparse.Namespace(dump=path, json=False, pretty=False, no_hash=False))
    from .gui.app import run_gui

    return run_gui(path)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evidence-viewer",
        description="Open crash dumps and memory images read-only; see their structure and key material.",
        epilog="With no sub-command, or with just a path, the GUI opens.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command")
    p_info = sub.add_parser("info", help="describe a dump: format, OS, process, threads, modules, memory")
    p_info.add_argument("dump")
    p_info.add_argument("--json", action="store_true", help="one JSON object for programs")
    p_info.add_argument("--pretty", action="store_true", help="indent the JSON")
    p_info.add_argument(
        "--no-hash", action="store_true", help="skip the SHA-256 of the whole file (quick look at a huge dump)"
    )
    p_info.set_defaults(func=cmd_info)
    p_gui = sub.add_parser("gui", help="open the GUI (the default)")
    p_gui.add_argument("dump", nargs="?")
    p_gui.set_defaults(func=cmd_gui)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    positional = [a for a in argv if not a.startswith("-")]
    if not positional or positional[0] not in SUBCOMMANDS:
        if not any(a in ("-h", "--help", "--version") for a in argv):
            argv = ["gui", *argv]
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) if exc.code in (0, None) else EXIT_USAGE
    try:
        return int(args.func(args))
    except EvidenceError as exc:
        print(f"evidence-viewer: {exc}", file=sys.stderr)
        if debug:
            traceback.print_exc()
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - one clear line, never a traceback unless asked
        print(f"evidence-viewer: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        if debug:
            traceback.print_exc()
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
