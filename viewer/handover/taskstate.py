"""The caller's state as a :class:`~viewer.tasks.TaskState`, whatever it passed (transitional).

Every hand-over job (export, report, redaction, extraction) works on a TaskState: ``phase(step)``,
``step_progress``, ``check(Error, message)``. Until the engine's ``ScanState`` is gone, the window and the
command line may still hand one in; it is wrapped here — its callbacks forwarded, its cancel event
shared — so that a job never has to know which of the two it got. Remove this module with ScanState.
"""

from __future__ import annotations

from typing import Any

from viewer.tasks import TaskState


def as_task_state(state: TaskState | Any | None) -> TaskState:
    """``state`` itself when it is a TaskState; a fresh one for None; else a TaskState that reports to a
    ScanState-shaped object's ``progress`` / ``step_progress`` callables and shares its ``cancelled``
    event (a cancel on either side is seen by both)."""
    if isinstance(state, TaskState):
        return state
    if state is None:
        return TaskState()
    wrapped = TaskState(on_progress=getattr(state, "progress", None), on_step=getattr(state, "step_progress", None))
    cancelled = getattr(state, "cancelled", None)
    if hasattr(cancelled, "is_set") and hasattr(cancelled, "set"):
        wrapped.cancelled = cancelled
    return wrapped


__all__ = ["as_task_state"]
