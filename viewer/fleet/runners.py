"""Where fleet work runs: a local process pool (the default, no set-up) or a Dask distributed cluster.

Both take plain functions of :mod:`viewer.fleet.work` with small arguments (a path, the settings, a byte
range) and give back small results; the dumps themselves are read by the workers from a shared
filesystem. The coordinator (:mod:`viewer.fleet.gate`) sees one interface, :class:`Runner`:
``submit(token, fn, *args)`` and ``completed(timeout)`` → ``[(token, Done | Lost | Failed)]``.

**Dead workers.** The local pool is a :class:`concurrent.futures.ProcessPoolExecutor` whose processes
start by ``forkserver`` (the coordinator may have threads — a progress line, a watcher, Dask's own — so
fork is not safe). When a worker dies, the pool breaks and every task in flight fails with
``BrokenProcessPool``: each comes back :class:`Lost` (the pool cannot say which task killed it), the
pool is rebuilt, and the coordinator resubmits them a bounded number of times. On Dask the scheduler
itself reschedules the tasks of a dead worker, up to its ``distributed.scheduler.allowed-failures``
(default 3); past that the task fails with ``KilledWorker``, which comes back :class:`Lost` with no
attempts left.

Dask is imported only by :class:`DaskRunner`: ``fleet scan`` on the local pool starts without it.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from collections.abc import Callable, Hashable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol

Token = Hashable


@dataclass(frozen=True)
class Done:
    value: Any


@dataclass(frozen=True)
class Failed:
    """The task raised: the dump cannot be scanned (not retried); ``error`` is one line, no data."""

    error: str


@dataclass(frozen=True)
class Lost:
    """The worker died under the task. ``final``: the runner already retried it (Dask) — do not resubmit."""

    error: str
    final: bool = False


Outcome = Done | Failed | Lost


def one_line(exc: BaseException) -> str:
    """An exception as one line: its type and its first line (our errors never carry evidence bytes)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:500] if text else type(exc).__name__


class Runner(Protocol):
    """What the coordinator needs of a place where work runs."""

    description: str
    workers: int

    def submit(self, token: Token, fn: Callable[..., Any], *args: Any) -> None: ...

    def completed(self, timeout: float) -> list[tuple[Token, Outcome]]: ...

    def in_flight(self) -> int: ...

    def close(self) -> None: ...


def _warm() -> int:
    """A trivial task: a new pool process imports the scanner before real work arrives."""
    import viewer.fleet.work  # noqa: F401

    return os.getpid()


class _InFlight:
    """The tasks a runner has submitted and not yet reported, each with its caller's token."""

    def __init__(self) -> None:
        self._futures: dict[Any, Token] = {}

    def in_flight(self) -> int:
        return len(self._futures)


class LocalPool(_InFlight):
    """A process pool on this machine (``workers`` processes, forkserver-started).

    ``start_method="fork"``: for a caller that knows fork is safe (a single-threaded process without Qt,
    such as ``scan DUMP...``): the workers start in milliseconds with everything the caller imported and
    compiled (detectors, the prefilter), instead of importing it again."""

    def __init__(self, workers: int | None = None, start_method: str | None = None):
        super().__init__()
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.description = f"local pool, {self.workers} process(es)"
        self._pool: cf.ProcessPoolExecutor | None = None
        self._method = start_method

    def _executor(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            method = self._method or ("forkserver" if "forkserver" in multiprocessing.get_all_start_methods()
                                      else "spawn")
            ctx = multiprocessing.get_context(method)
            if method == "forkserver":
                ctx.set_forkserver_preload(["viewer.fleet.work"])
            self._pool = cf.ProcessPoolExecutor(self.workers, mp_context=ctx)
        return self._pool

    def start(self) -> None:
        """Start every process now (so that the first dumps do not pay for the imports one by one)."""
        pool = self._executor()
        for f in [pool.submit(_warm) for _ in range(self.workers)]:
            f.result()

    def pids(self) -> list[int]:
        """The pool's process ids (for tests that kill one)."""
        pool = self._pool
        return list(getattr(pool, "_processes", {}) or {}) if pool is not None else []

    def submit(self, token: Token, fn: Callable[..., Any], *args: Any) -> None:
        try:
            fut = self._executor().submit(fn, *args)
        except BrokenProcessPool:
            self._reset()
            fut = self._executor().submit(fn, *args)
        self._futures[fut] = token

    def completed(self, timeout: float) -> list[tuple[Token, Outcome]]:
        if not self._futures:
            return []
        done, _ = cf.wait(list(self._futures), timeout=timeout, return_when=cf.FIRST_COMPLETED)
        out: list[tuple[Token, Outcome]] = []
        broken = False
        for fut in done:
            token = self._futures.pop(fut)
            exc = fut.exception()
            if exc is None:
                out.append((token, Done(fut.result())))
            elif isinstance(exc, BrokenProcessPool):
                broken = True
                out.append((token, Lost("a worker process died")))
            else:
                out.append((token, Failed(one_line(exc))))
        if broken:
            self._reset()
        return out

    def _reset(self) -> None:
        """Drop a broken pool: the tasks still in it come back Lost; the next submit starts a new one."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        self._futures.clear()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


class DaskRunner(_InFlight):
    """Tasks on a Dask distributed cluster: ``address`` ``tcp://HOST:PORT`` of a running scheduler, or
    ``local`` for a LocalCluster of ``workers`` single-threaded processes on 127.0.0.1."""

    def __init__(self, address: str, workers: int | None = None, connect_timeout: float = 30.0):
        super().__init__()
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError:
            raise RuntimeError("--dask needs the 'distributed' package: pip install distributed") from None
        self._cluster = None
        if address == "local":
            n = max(1, workers or os.cpu_count() or 1)
            with dask.config.set({"distributed.scheduler.allowed-failures": 3}):
                self._cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                             host="127.0.0.1", dashboard_address=None)
            self.client = Client(self._cluster, timeout=connect_timeout)
            self.description = f"dask LocalCluster, {n} worker(s)"
        else:
            self.client = Client(address, timeout=connect_timeout)
            self.description = f"dask {address}"
        self.workers = max(1, sum(int(w.get("nthreads", 1)) for w in
                                  self.client.scheduler_info().get("workers", {}).values()))
        self._seq = 0

    def submit(self, token: Token, fn: Callable[..., Any], *args: Any) -> None:
        self._seq += 1
        fut = self.client.submit(fn, *args, pure=False, key=f"fleet-{fn.__name__}-{self._seq}-{os.getpid()}")
        self._futures[fut] = token

    def completed(self, timeout: float) -> list[tuple[Token, Outcome]]:
        from distributed import wait

        if not self._futures:
            return []
        try:
            done, _ = wait(list(self._futures), timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return []
        from distributed.scheduler import KilledWorker

        out: list[tuple[Token, Outcome]] = []
        for fut in done:
            token = self._futures.pop(fut)
            if fut.status == "finished":
                out.append((token, Done(fut.result())))
                continue
            try:
                exc = fut.exception()
            except Exception as e:  # noqa: BLE001 - a cancelled or lost future
                exc = e
            if isinstance(exc, KilledWorker):
                out.append((token, Lost("the workers scanning it died too often (KilledWorker)", final=True)))
            else:
                out.append((token, Failed(one_line(exc) if exc is not None else f"task {fut.status}")))
            fut.release()
        return out

    def close(self) -> None:
        for fut in list(self._futures):
            fut.cancel()
        self._futures.clear()
        try:
            self.client.close()
        finally:
            if self._cluster is not None:
                self._cluster.close()


def make_runner(dask: str | None, workers: int | None, connect_timeout: float = 10.0) -> Runner:
    """The local pool, or a Dask runner for ``--dask ADDRESS|local``."""
    if dask:
        return DaskRunner(dask, workers, connect_timeout)
    return LocalPool(workers)


__all__ = ["Runner", "LocalPool", "DaskRunner", "Done", "Failed", "Lost", "Outcome", "make_runner", "one_line"]
