"""The `evidence-viewer` command: parse the arguments, run one command, turn what escapes into one line.

The GUI by default; headless sub-commands for scripts and pipelines. Each command is one module of this
package with ``add_parser(subparsers) -> ArgumentParser`` (which sets ``func``) and ``run(args) -> int``;
:data:`COMMANDS` lists them in the order ``--help`` shows them. Adding a command = adding its module and
one line there.

Only the module of the command being run is imported (and only its parser built), so ``info`` and
``scan`` start without the case layer's crypto stack; ``--help`` imports them all.

Exit codes (:class:`viewer.cli.common.ExitCode`, DESIGN.md): 0 clean, 1 secrets found or a mismatch,
2 bad usage or unreadable input. Errors are one line on stderr; a traceback only with ``--debug``.

Nothing a dump, a case or a bundle holds reaches the terminal as a control sequence: the commands write
text through :func:`viewer.cli.terminal.emit`, and :func:`main` runs every command behind
:func:`viewer.cli.terminal.guarded_streams` so that nothing else written to stdout or stderr can either.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from types import ModuleType

from viewer import __version__
from viewer.cli.common import PROG, CliError, ExitCode, error
from viewer.cli.terminal import guarded_streams

#: The commands, in ``--help`` order; each is the module ``viewer.cli.<name>``.
COMMANDS: tuple[str, ...] = (
    "info",
    "gui",
    "entropy",
    "scan",
    "case",
    "export",
    "verify",
    "extract",
    "redact",
    "fleet",
)
DEFAULT_COMMAND = "gui"


def command_module(name: str) -> ModuleType:
    """The module of command ``name`` (one of :data:`COMMANDS`)."""
    return importlib.import_module(f"viewer.cli.{name}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser with every command, or with command ``only`` alone (what running it needs)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Open crash dumps and memory images read-only; see their structure and key material.",
        epilog="With no sub-command, or with just a path, the GUI opens.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    _container_options(parser, None)
    sub = parser.add_subparsers(dest="command")
    for name in COMMANDS if only is None else (only,):
        command_module(name).add_parser(sub)
    for command_parser in sub.choices.values():  # also accepted after the command
        _container_options(command_parser, argparse.SUPPRESS)
    return parser


#: Options taking a value that may come before the command (so ``_command_of`` skips their value).
GLOBAL_VALUE_OPTIONS = ("--cache-dir", "--max-decompressed")


def _container_options(parser: argparse.ArgumentParser, default: object) -> None:
    """Where compressed evidence is decompressed to, and how much one open may decompress."""
    parser.add_argument("--cache-dir", metavar="DIR", default=default,
                        help="the decompressed-content cache (default $EVIDENCE_VIEWER_CACHE_DIR or "
                             "$XDG_CACHE_HOME/evidence-viewer)")
    parser.add_argument("--max-decompressed", metavar="SIZE", default=default,
                        help="the most one open of a container may decompress, e.g. 64G (default 64 GiB): "
                             "a decompression bomb stops there")


def _apply_container_options(args: argparse.Namespace) -> None:
    from viewer.evidence.containers import cache

    if getattr(args, "cache_dir", None):
        cache.set_cache_dir(args.cache_dir)
    if getattr(args, "max_decompressed", None):
        try:
            cache.set_limit(cache.parse_size(args.max_decompressed))
        except ValueError:
            raise CliError(f"--max-decompressed: not a size: {args.max_decompressed!r} (e.g. 512M, 64G)") from None


def _command_of(argv: list[str]) -> tuple[str | None, list[str]]:
    """The command the arguments name and the arguments to parse: the first positional when it is a
    command; else the GUI (given a path or nothing), put in front; else None for ``--help`` and
    ``--version`` (every command is then built)."""
    positional = [a for i, a in enumerate(argv) if not a.startswith("-")
                  and not (i and argv[i - 1] in GLOBAL_VALUE_OPTIONS)]
    if positional and positional[0] in COMMANDS:
        return positional[0], argv
    if any(a in ("-h", "--help", "--version") for a in argv):
        return None, argv
    return DEFAULT_COMMAND, [DEFAULT_COMMAND, *argv]


def main(argv: list[str] | None = None) -> int:
    """Run the command ``argv`` names (``sys.argv`` by default) and return its exit code; stdout and
    stderr are escaped while it runs (:func:`~viewer.cli.terminal.guarded_streams`)."""
    with guarded_streams():
        return _main(list(sys.argv[1:] if argv is None else argv))


def _main(argv: list[str]) -> int:
    debug = "--debug" in argv
    command, argv = _command_of(argv)
    try:
        args = build_parser(only=command).parse_args(argv)
    except SystemExit as exc:  # argparse has printed its usage line
        return int(exc.code or 0) if exc.code in (0, None) else int(ExitCode.USAGE)
    try:
        _apply_container_options(args)
    except CliError as exc:
        error(str(exc))
        return int(ExitCode.USAGE)
    try:
        return int(args.func(args))  # each command turns its expected errors into one line itself
    except BrokenPipeError:
        return int(ExitCode.OK)  # `evidence-viewer scan ... | head` is not an error
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:  # noqa: BLE001 - one clear line, never a traceback unless asked
        error(f"internal error: {type(exc).__name__}: {exc}")
        if debug:
            traceback.print_exc()
        return int(ExitCode.USAGE)


if __name__ == "__main__":
    sys.exit(main())
