"""Progress and cancel for long work, whatever state object the caller passes (Orange3 style).

The engine's ``ScanState`` (``progress`` an optional callable, ``cancelled`` a ``threading.Event`` behind
an ``is_cancelled`` property), the entropy pass's ``EntropyState`` (``cancelled`` a bool) and the GUI
workers' states all work: long functions call these two helpers instead of knowing the type.
"""

from __future__ import annotations

from typing import Any


def is_cancelled(state: Any) -> bool:
    """True when the caller asked to stop (None: never)."""
    if state is None:
        return False
    flag = getattr(state, "is_cancelled", None)
    if isinstance(flag, bool):
        return flag
    cancelled = getattr(state, "cancelled", False)
    if hasattr(cancelled, "is_set"):
        return bool(cancelled.is_set())
    return bool(cancelled)


def report(state: Any, done: int, total: int) -> None:
    """Tell the caller how far the work is (a ``progress(done, total)`` method or callable, if any)."""
    callback = getattr(state, "progress", None)
    if callable(callback):
        callback(done, total)


def report_step(state: Any, step: str, done: int, total: int) -> None:
    """Progress of a step after the byte scan (a post-scan detector), in that step's own units, through
    the state's ``step_progress(step, done, total)`` if it has one; ``total`` 0 means "running, extent
    unknown"."""
    callback = getattr(state, "step_progress", None)
    if callable(callback):
        callback(step, done, total)
