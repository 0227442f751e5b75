"""`evidence-viewer [gui] [DUMP]`: the window (the default command); the only importer of viewer.gui.

Without a display (no X, no Wayland, no Qt platform set) a path is shown as `info` instead, with one
line on stderr saying why; with no path that is bad usage (exit 2).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from viewer.cli import info
from viewer.cli.common import ExitCode, error, one_line_errors


def has_display() -> bool:
    """True when Qt can show a window here (an X or Wayland display, or a platform set explicitly)."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM"))


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("gui", help="open the GUI (the default)")
    p.add_argument("dump", nargs="?")
    p.set_defaults(func=run)
    return p


@one_line_errors()
def run(args: argparse.Namespace) -> int:
    path = getattr(args, "dump", None)
    if not has_display():
        error("no display available (DISPLAY is not set); showing `info` instead")
        if path is None:
            return ExitCode.USAGE
        return info.run(argparse.Namespace(dump=path, json=False, pretty=False, no_hash=False,
                                           debug=getattr(args, "debug", False)))
    from viewer.gui.app import run_gui  # only now: Qt is slow to import and needs a display

    return int(run_gui(path))
