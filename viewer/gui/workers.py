"""The window's long jobs as :class:`~viewer.gui.task_worker.TaskWorker` s, and a job's status-bar widgets.

There is one worker (:mod:`viewer.gui.task_worker`); this module only says how the scan is started from
the window (:func:`scan_task`): the scan job of :mod:`viewer.workspace.jobs` (4 MiB chunks, threads,
copies of the provisional findings), its provisional findings as ``sig_partial`` batches of at most
:data:`BATCH`, throttled with its progress to at most ``MAX_EMITS_PER_S`` a second so the GUI's event
loop is never flooded. ``sig_done`` carries the final :class:`~viewer.scan.engine.ScanResult`, which
*replaces* the provisional findings (deduplicated, attributed, confirmed against supplied keys).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from viewer.evidence import Dump
from viewer.gui.plain import PlainLabel
from viewer.gui.task_worker import BATCH, MAX_EMITS_PER_S, TaskWorker, one_line
from viewer.workspace.jobs import GUI_CHUNK, scan_job

__all__ = ["BATCH", "GUI_CHUNK", "one_line", "scan_task", "status_job_widgets"]


def scan_task(dump: Dump, detectors: Sequence[Any] | None = None, public_keys: Sequence[Any] | None = None,
              *, chunk_size: int = GUI_CHUNK, executor: str = "auto", workers: int | None = None,
              deep: bool = False, min_interval: float = 1.0 / MAX_EMITS_PER_S) -> TaskWorker:
    """The window's scan of ``dump``: the one TaskWorker running :func:`viewer.workspace.jobs.scan_job`.
    ``sig_partial``: provisional findings (copies, raw: before merging, attribution and key matching);
    ``sig_done``: the final ScanResult, which replaces them; ``sig_cancelled``: the result of the part
    scanned before a cancel (``cancelled`` set); ``sig_failed``: one line starting "scan failed:"."""
    return TaskWorker(scan_job, dump, detectors, public_keys, what="scan", partial="on_findings", batch=BATCH,
                      is_cancelled_result=lambda result: bool(result.cancelled), min_interval=min_interval,
                      chunk_size=chunk_size, executor=executor, workers=workers, deep=deep)


def status_job_widgets(bar: Any, name: str, cancel_text: str, on_cancel: Any) -> tuple[Any, Any, Any]:
    """A long job's widgets at the right of a status bar, hidden until it runs: a label (what it does), a
    progress bar (busy until its first report) and a Cancel button calling ``on_cancel``."""
    from PySide6.QtWidgets import QProgressBar, QPushButton

    label = PlainLabel()
    label.setObjectName(f"{name}-label")
    progress = QProgressBar()
    progress.setObjectName(f"{name}-busy")
    progress.setRange(0, 0)
    progress.setMaximumWidth(120)
    cancel = QPushButton(cancel_text)
    cancel.setObjectName(f"{name}-cancel")
    cancel.clicked.connect(on_cancel)
    for w in (label, progress, cancel):
        w.hide()
        bar.addPermanentWidget(w)
    return label, progress, cancel
