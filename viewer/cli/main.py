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

import orjson

from viewer import __version__
from viewer.evidence import Dump, EvidenceError, open_dump
from viewer.evidence.model import regions_json
from viewer.units import human_size

EXIT_OK, EXIT_SECRETS, EXIT_USAGE = 0, 1, 2
SUBCOMMANDS = {"info", "gui", "entropy", "scan", "case", "export", "verify", "redact"}


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
    for key, value in dump.details.items():
        out.setdefault(key, value)
    return out


JSON_BATCH = 4096


def _encode(value: Any) -> str:
    """Compact JSON text of ``value``: orjson (about ten times faster than the standard library, which
    matters for 100,000-range dumps), the standard library for what orjson refuses (integers past 64
    bits, non-string keys)."""
    try:
        return orjson.dumps(value).decode("utf-8")
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value, separators=(",", ":"))


def write_json(doc: dict[str, Any], out: TextIO, pretty: bool = False) -> None:
    """Write ``doc`` as one JSON object, streaming long top-level lists in batches.

    A dump with 100,000 memory ranges gives two lists of 100,000 objects; encoding them a batch at a time
    keeps peak memory flat. ``json.dump`` to a stream would take the slow pure-Python encoder instead.
    """
    if pretty:
        out.write(json.dumps(doc, indent=1) + "\n")
        return
    out.write("{")
    for i, (key, value) in enumerate(doc.items()):
        out.write(("," if i else "") + json.dumps(key) + ":")
        if isinstance(value, list) and len(value) > JSON_BATCH:
            out.write("[")
            for start in range(0, len(value), JSON_BATCH):
                out.write(("," if start else "") + _encode(value[start : start + JSON_BATCH])[1:-1])
            out.write("]")
        else:
            out.write(_encode(value))
    out.write("}\n")


def info_text(dump: Dump, with_hash: bool = True) -> str:
    """A page for people: what the dump is, whose process, what it holds, what was wrong with it."""
    meta = dump.meta
    lines = [
        f"file      {dump.path}",
        f"format    {dump.format}",
        f"size      {dump.size} bytes ({human_size(dump.size)})",
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
    from viewer.gui.app import run_gui

    return run_gui(path)


def cmd_entropy(args: argparse.Namespace) -> int:
    from viewer.scan.entropy import run_cli

    return run_cli(args)


def _load_public_keys(paths: list[str]) -> list[Any]:
    """The supplied public keys (viewer.scan.publickeys); a bad file is bad input (exit 2)."""
    if not paths:
        return []
    from viewer.scan.publickeys import load_public_keys

    try:
        return list(load_public_keys(paths))
    except (OSError, ValueError) as exc:
        raise EvidenceError(f"cannot use public key file: {exc}") from None


def _select_detectors(names: list[str] | None) -> list[Any]:
    from viewer.scan.detectors import default_detectors

    detectors = default_detectors()
    if not names:
        return detectors
    known = {d.name: d for d in detectors}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"unknown detector {', '.join(unknown)}; available: {', '.join(sorted(known)) or '(none)'}")
    return [known[n] for n in dict.fromkeys(names)]


class UsageError(Exception):
    """Bad usage found after parsing (an unknown detector name, an impossible option): exit 2."""


def progress_state(path: str, verb: str = "scanning") -> Any:
    """A ScanState that shows the work on ``path`` on a terminal's stderr (see :func:`_stderr_progress`)."""
    from viewer.scan.engine import ScanState

    show, step = _stderr_progress(path, verb)
    return ScanState(progress=show, step_progress=step)


def _stderr_progress(path: str, verb: str = "scanning") -> tuple[Any, Any]:
    """One-line progress on stderr when it is a terminal (nothing for pipes and logs): the byte scan's
    callback and the post-scan steps' callback, for ScanState's ``progress`` and ``step_progress``."""
    if not sys.stderr.isatty():
        return None, None
    name = os.path.basename(path)
    width = len(name) + 48

    def line(text: str) -> None:
        sys.stderr.write("\r" + text[:width].ljust(width))
        sys.stderr.flush()

    def show(done: int, total: int) -> None:
        pct = 100.0 * done / total if total else 100.0
        line(f"{verb} {name}: {pct:5.1f}%")

    def step(what: str, done: int, total: int) -> None:
        line(f"{verb} {name}: {what} " + (f"{100.0 * min(done, total) / total:5.1f}%" if total else "…"))

    return show, step


def _clear_progress(path: str) -> None:
    """Erase the progress line so that the report starts on a clean line."""
    if sys.stderr.isatty():
        sys.stderr.write("\r" + " " * (len(os.path.basename(path)) + 48) + "\r")
        sys.stderr.flush()


def cmd_scan(args: argparse.Namespace) -> int:
    """Scan each dump; exit 1 when any holds a secret at or above --min-confidence, 2 when one could
    not be read (the others are still scanned and reported)."""
    from viewer.scan import report
    from viewer.scan.engine import scan_dump
    from viewer.scan.finding import Confidence

    try:
        threshold = Confidence.parse(args.min_confidence)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    detectors = _select_detectors(args.detector)
    public_keys = _load_public_keys(args.public_key or [])
    with_hash = not args.no_hash
    unreadable = False
    secrets_found = False
    json_results: list[dict[str, Any]] = []
    sarif_entries: list[tuple[Dump, Any]] = []
    opened: list[Dump] = []
    try:
        for i, path in enumerate(args.dump):
            try:
                dump = open_dump(path)
            except EvidenceError as exc:
                print(f"evidence-viewer: {exc}", file=sys.stderr)
                unreadable = True
                continue
            opened.append(dump)
            result = scan_dump(dump, detectors, progress_state(path), public_keys, deep=args.deep)
            _clear_progress(path)
            if report.secrets_at_or_above(result, threshold):
                secrets_found = True
            if args.json:
                json_results.append(report.result_json(dump, result, with_hash, args.reveal, threshold))
            elif args.sarif:
                sarif_entries.append((dump, result))
            else:
                if i:
                    print()
                print(report.result_text(dump, result, threshold, with_hash))
        if args.json:
            write_json(report.scan_document(json_results), sys.stdout, pretty=args.pretty)
        elif args.sarif:
            doc = report.sarif_document(sarif_entries, threshold, with_hash)
            write_json(doc, sys.stdout, pretty=args.pretty)
    finally:
        for dump in opened:
            dump.close()
    if unreadable:
        return EXIT_USAGE
    return EXIT_SECRETS if secrets_found else EXIT_OK


def cmd_case(args: argparse.Namespace) -> int:
    """`case ...` (viewer.case.cli): the encrypted case file; its errors are one line and exit 2."""
    from viewer.cli.case import run_case

    return run_case(args)


CASE_COMMANDS = {"case", "export", "verify", "redact"}


def build_parser(with_case_commands: bool = True) -> argparse.ArgumentParser:
    """The parser; the case-layer commands (which import cryptography's AEAD and KDF stack) are only
    built when they may be used, so `info` and `scan` start ~65 ms sooner."""
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
    p_ent = sub.add_parser("entropy", help="Shannon entropy per block, a histogram and the high-entropy runs")
    p_ent.add_argument("dump")
    p_ent.add_argument("--block", type=int, default=4096, help="block size in bytes (power of two, 256..16 MiB)")
    p_ent.add_argument(
        "--level", type=int, default=0, help="with --json: one value per 2**LEVEL blocks (mean, plus entropy_max)"
    )
    p_ent.add_argument("--json", action="store_true", help="one JSON object for programs")
    p_ent.add_argument("--no-hash", action="store_true", help="skip the SHA-256 of the whole file")
    p_ent.set_defaults(func=cmd_entropy)
    p_scan = sub.add_parser(
        "scan",
        help="find key material: private keys, tokens; exit 1 when secrets are found",
        description="Scan every byte of each dump. Offsets are file offsets. Secret bytes are never shown "
        "in text output; --json excerpts are masked unless --reveal is given.",
    )
    p_scan.add_argument("dump", nargs="+")
    p_scan.add_argument(
        "--public-key", action="append", metavar="FILE", help="a public key, certificate or JWKS whose private half to look for"
    )
    p_scan.add_argument(
        "--deep", action="store_true", help="exhaustive (slower) searches, e.g. for factors of every known modulus"
    )
    fmt = p_scan.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="one JSON object for programs")
    fmt.add_argument("--sarif", action="store_true", help="SARIF 2.1.0 for code-scanning tools")
    p_scan.add_argument("--pretty", action="store_true", help="indent the JSON")
    p_scan.add_argument(
        "--min-confidence",
        default="medium",
        metavar="LEVEL",
        help="confirmed, high, medium (default) or low: what counts as a secret for the table and exit code",
    )
    p_scan.add_argument(
        "--reveal", action="store_true", help="put the real bytes (hex, up to 4 KiB) in the JSON excerpts"
    )
    p_scan.add_argument("--detector", action="append", metavar="NAME", help="run only this detector (repeatable)")
    p_scan.add_argument("--no-hash", action="store_true", help="skip the SHA-256 of each dump")
    p_scan.set_defaults(func=cmd_scan)
    if with_case_commands:
        from viewer.cli.bundle import add_parsers as add_bundle_parsers
        from viewer.cli.case import add_case_parser
        from viewer.cli.redact import add_parser as add_redact_parser

        add_case_parser(sub).set_defaults(func=cmd_case)
        add_bundle_parsers(sub)
        add_redact_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    positional = [a for a in argv if not a.startswith("-")]
    if not positional or positional[0] not in SUBCOMMANDS:
        if not any(a in ("-h", "--help", "--version") for a in argv):
            argv = ["gui", *argv]
    parser = build_parser(with_case_commands=not positional or positional[0] not in SUBCOMMANDS - CASE_COMMANDS)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) if exc.code in (0, None) else EXIT_USAGE
    try:
        return int(args.func(args))
    except (EvidenceError, UsageError) as exc:
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
