"""A real pseudo-terminal for command-line tests: what a program shows a person, read as they see it.

One home for reading a terminal to its end (EOF, the child gone, or a deadline), so that the tests of
the progress line, of prompts and of terminal escaping do not each write the select loop again.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path


def read_terminal(fd: int, *, done: Callable[[], bool] | None = None, timeout: float = 120,
                  on_output: Callable[[bytes], None] | None = None) -> bytes:
    """Everything written to the terminal ``fd`` until it closes, ``done()`` says the writer is gone
    (checked while nothing arrives), or ``timeout`` seconds pass. ``on_output(seen)`` runs after each
    chunk (to type at a prompt)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            if done is not None and done():
                break
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the other end closed the terminal
            break
        if not chunk:
            break
        seen += chunk
        if on_output is not None:
            on_output(seen)
    return seen


def stderr_on_a_terminal(argv: Sequence[str], cwd: Path, timeout: float = 120) -> tuple[int, bytes, bytes]:
    """Run ``argv`` with stderr a pseudo-terminal (stdout a pipe, no stdin): the exit code, stdout, and
    what the terminal showed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, cwd=cwd)
    os.close(slave)
    try:
        seen = read_terminal(master, done=lambda: proc.poll() is not None, timeout=timeout)
        out, _ = proc.communicate(timeout=timeout)
    finally:
        os.close(master)
    return proc.returncode, out, seen
