"""The one worker's partial results: a job hands items from its thread, they arrive as ``sig_partial``
batches (at most ``batch`` each, throttled with progress) and all of them before the final signal."""

from __future__ import annotations

import threading

from viewer.tasks import TaskState


def _start(worker) -> None:
    from PySide6.QtCore import QThreadPool

    QThreadPool.globalInstance().start(worker)


def producer(state: TaskState, n: int, *, on_items, cancel_at: int | None = None) -> int:
    """A plain job: hands ``n`` numbers in small lists with progress, optionally cancelling itself."""
    for i in range(0, n, 7):
        on_items(list(range(i, min(i + 7, n))))
        state.progress(min(i + 7, n), n)
        if cancel_at is not None and i >= cancel_at:
            state.cancel()
        state.check()
    return n


def test_partial_batches_arrive_whole_and_before_done(qtbot) -> None:
    from viewer.gui.task_worker import TaskWorker

    worker = TaskWorker(producer, 5000, partial="on_items", batch=100, min_interval=0.0)
    order: list[str] = []
    items: list[int] = []
    sizes: list[int] = []

    def on_partial(batch: list[int]) -> None:
        assert threading.current_thread() is threading.main_thread()  # queued to the GUI thread
        order.append("partial")
        sizes.append(len(batch))
        items.extend(batch)

    worker.signals.sig_partial.connect(on_partial)
    worker.signals.sig_done.connect(lambda r: order.append(f"done {r}"))
    with qtbot.waitSignals([worker.signals.sig_done, worker.signals.sig_finished], timeout=30_000,
                           order="strict"):
        _start(worker)
    assert items == list(range(5000))
    assert all(0 < s <= 100 for s in sizes)
    assert order[-1] == "done 5000" and set(order[:-1]) == {"partial"}


def test_throttled_batches_and_partial_results_of_a_cancelled_job(qtbot) -> None:
    from viewer.gui.task_worker import TaskWorker

    worker = TaskWorker(producer, 50_000, partial="on_items", cancel_at=20_000)  # default: 10 a second
    items: list[int] = []
    worker.signals.sig_partial.connect(items.extend)
    got: list[object] = []
    worker.signals.sig_cancelled.connect(got.append)
    with qtbot.waitSignals([worker.signals.sig_cancelled, worker.signals.sig_finished], timeout=30_000,
                           order="strict"):
        _start(worker)
    assert got == [None] and worker.is_cancelled
    assert items == list(range(len(items))) and 20_000 <= len(items) < 50_000  # all handed before the cancel


def test_a_failing_job_still_delivers_what_it_handed(qtbot) -> None:
    from viewer.gui.task_worker import TaskWorker

    def failing(state: TaskState, *, sink) -> None:
        sink([1, 2, 3])
        raise OSError("the disk went away")

    worker = TaskWorker(failing, what="thing", partial="sink")
    items: list[int] = []
    failed: list[str] = []
    worker.signals.sig_partial.connect(items.extend)
    worker.signals.sig_failed.connect(failed.append)
    with qtbot.waitSignals([worker.signals.sig_failed, worker.signals.sig_finished], timeout=10_000,
                           order="strict"):
        _start(worker)
    assert items == [1, 2, 3] and failed == ["thing failed: OSError: the disk went away"]
