"""The boundary gate's coordinator: every candidate dump scanned once per scanner version and settings,
its verdict recorded, its secrets acted on.

:func:`run_gate` takes the candidates (:mod:`.sources`), a :class:`~viewer.fleet.runners.Runner` and the
results database, and for each dump, in order:

1. **Skip what is done.** A file whose (path, size, mtime) the database has seen with a scan under this
   run's key (SHA-256, scanner version, settings id) is not read again: its stored scan gives the
   verdict (at this run's threshold). A killed run therefore resumes where it stopped: what it recorded
   is skipped, the rest is scanned.
2. **Scan.** A dump up to ``split_over`` bytes is one task (:func:`viewer.fleet.work.scan_path`; a
   container is always one: every dump in it, decompressed); a larger one is cut into chunk-aligned byte ranges of ``range_size`` (each scanned with the overlap of
   the longest pattern, :func:`viewer.scan.engine.scan_range`), and once every range is back one more
   task joins them and runs the post-scan detectors over the whole dump
   (:func:`viewer.fleet.work.join_parts`) — the findings equal those of the dump scanned whole.
   At most ``2 × workers`` tasks are in flight, so a list of 100,000 dumps does not queue 100,000
   futures. A task whose worker died is resubmitted up to ``max_attempts`` times; a task that raises,
   or keeps losing its worker, makes the dump **failed** with one line (never dropped).
3. **Record** the scan, its findings and secrets, the verdict and the file in one transaction.
4. **Act** on a dump with a secret at or above the threshold: a redacted copy (``redact_to``: a worker
   task, verified clean, a copy that is not clean is deleted), then quarantine (``quarantine``: moved,
   or copied with ``copy``). A dump skipped as done is acted on too when the action is not recorded
   (a run killed between recording and acting).
5. **Report**: ``on_dump(dump_id)`` when a dump is finished (the command line writes its JSON line),
   ``on_update(summary)`` and the state's progress (bytes; step ``dumps``) after each.

With a :class:`~viewer.fleet.sources.Watcher` it keeps going: every ``poll`` seconds it takes the files
that stopped growing, until the state is cancelled or ``stop_after`` seconds passed.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from viewer.fleet import work
from viewer.fleet.actions import quarantine, target_in
from viewer.fleet.db import ResultsDB
from viewer.fleet.runners import Done, Failed, Lost, Outcome, Runner
from viewer.fleet.settings import SCANNER_VERSION, FleetSettings
from viewer.fleet.sources import Candidate, Watcher
from viewer.scan.engine import DEFAULT_CHUNK
from viewer.scan.finding import Confidence
from viewer.tasks import TaskState, ensure

MiB = 1024 * 1024


@dataclass
class GateOptions:
    threshold: Confidence = Confidence.MEDIUM
    quarantine: str | None = None
    copy: bool = False
    redact_to: str | None = None
    split_over: int = 512 * MiB  #: a dump larger than this is split into byte ranges
    range_size: int = 256 * MiB  #: the size of each range (rounded to whole chunks)
    max_attempts: int = 3  #: tasks per dump part whose worker died before the dump is failed
    poll: float = 2.0  #: seconds between looks at watched folders
    stop_after: float | None = None  #: with a watcher: stop after this many seconds
    max_in_flight: int | None = None  #: default 2 × the runner's workers


@dataclass
class RunSummary:
    """What a run did so far (live during the run, final at the end)."""

    run_id: int
    total: int = 0
    scanned: int = 0
    skipped: int = 0
    failed: int = 0
    with_secrets: int = 0
    production: int = 0
    bytes_total: int = 0
    bytes_done: int = 0
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0
    state: str = "running"
    dump_ids: list[int] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.scanned + self.skipped + self.failed

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run_id, "state": self.state, "dumps": self.total, "scanned": self.scanned,
                "skipped": self.skipped, "failed": self.failed, "with_secrets": self.with_secrets,
                "production_keys": self.production, "bytes": self.bytes_done, "seconds": round(self.seconds, 3)}


@dataclass
class _Job:
    cand: Candidate
    attempts: dict[Any, int] = field(default_factory=dict)
    chunk: int = 0
    ranges: list[tuple[int, int]] = field(default_factory=list)
    parts: dict[int, Any] = field(default_factory=dict)
    t0: float = 0.0
    skipped: bool = False
    dump_id: int = 0
    scan_id: int | None = None
    sha256: str | None = None
    verdict: str = ""
    findings: list[dict[str, Any]] | None = None
    reported: int = 0  # bytes counted into the progress
    join_args: tuple[Any, ...] = ()
    over: bool = False


def split_plan(size: int, split_over: int, range_size: int) -> tuple[int, list[tuple[int, int]]]:
    """The chunk size and byte ranges of a dump: one range for a dump up to ``split_over``; else ranges
    of ``range_size`` rounded to whole chunks (the engine's chunk, or the range itself when smaller)."""
    if size <= split_over:
        return work.whole_chunk(size), [(0, size)]
    chunk = min(DEFAULT_CHUNK, max(work.PAGE, range_size // work.PAGE * work.PAGE))
    step = max(chunk, range_size // chunk * chunk)
    return chunk, [(s, min(size, s + step)) for s in range(0, size, step)]


def is_container(path: str) -> bool:
    """Whether the file is a container (compressed, ZIP, apport, flattened kdump) by its magic bytes:
    such a file is scanned whole, its content being another size than the file."""
    from viewer.evidence.containers import kind_of

    try:
        with open(path, "rb") as f:
            return kind_of(f.read(64)) is not None
    except OSError:
        return False  # the scan task reports the file


class _Gate:
    def __init__(self, db: ResultsDB, runner: Runner, settings: FleetSettings, options: GateOptions,
                 state: TaskState, on_dump: Callable[[int], Any] | None,
                 on_update: Callable[[RunSummary], Any] | None):
        self.db, self.runner, self.settings, self.opt = db, runner, settings, options
        self.state, self.on_dump, self.on_update = state, on_dump, on_update
        self.sid = settings.settings_id
        self.run_id = db.begin_run(SCANNER_VERSION, self.sid, settings.to_json(), str(options.threshold),
                                   runner.description)
        self.summary = RunSummary(self.run_id)
        self.jobs: list[_Job] = []
        self.waiting: deque[int] = deque()  # jobs not started
        self.ready: deque[tuple[Any, Callable[..., Any], tuple[Any, ...]]] = deque()
        self.cap = options.max_in_flight or 2 * runner.workers

    # -- taking candidates ---------------------------------------------------------------------------
    def add(self, cands: list[Candidate]) -> None:
        for c in cands:
            job = _Job(c)
            self.jobs.append(job)
            index = len(self.jobs) - 1
            self.summary.total += 1
            seen = self.db.seen(c.path, c.size, c.mtime_ns)
            scan_id = self.db.scan_id(seen.sha256, SCANNER_VERSION, self.sid) if seen and seen.sha256 else None
            if seen is not None and scan_id is not None:
                job.skipped, job.scan_id, job.sha256 = True, scan_id, seen.sha256
                self._recorded(index, skipped=True)
            else:
                self.summary.bytes_total += c.size
                self.waiting.append(index)
        self._update()

    def _start(self, index: int) -> None:
        job = self.jobs[index]
        job.t0 = time.monotonic()
        job.chunk, job.ranges = split_plan(job.cand.size, self.opt.split_over, self.opt.range_size)
        if len(job.ranges) > 1 and is_container(job.cand.path):
            # ranges are of the file's bytes, the scan's of the decompressed content: one whole task
            job.chunk, job.ranges = work.whole_chunk(job.cand.size), [(0, job.cand.size)]
        if len(job.ranges) == 1:
            self.ready.append(((index, "whole"), work.scan_path, (job.cand.path, self.settings)))
        else:
            for k, (s, e) in enumerate(job.ranges):
                self.ready.append(((index, "part", k), work.scan_part, (job.cand.path, self.settings, s, e, job.chunk)))

    def fill(self, accept_new: bool) -> None:
        while self.runner.in_flight() < self.cap:
            if self.ready:
                token, fn, args = self.ready.popleft()
                self.runner.submit(token, fn, *args)
            elif self.waiting and accept_new:
                self._start(self.waiting.popleft())
            else:
                break

    # -- outcomes --------------------------------------------------------------------------------------
    def handle(self, token: Any, result: Outcome) -> None:
        index, what = token[0], token[1]
        job = self.jobs[index]
        if job.over:
            return  # a part of a dump already failed
        if isinstance(result, Lost):
            n = job.attempts.get(token, 1) + 1
            if not result.final and n <= self.opt.max_attempts:
                job.attempts[token] = n
                self.ready.appendleft((token, *self._task(job, token)))
                return
            tries = n - 1 if not result.final else "several"
            result = Failed(f"{result.error}; gave up after {tries} attempt(s)")
        if isinstance(result, Failed):
            if what == "redact":
                self._error(job, f"redaction failed: {result.error}")
                self._act(index)
            else:
                self._fail(index, result.error)
            return
        assert isinstance(result, Done)
        if what == "part":
            job.parts[token[2]] = result.value
            s, e = job.ranges[token[2]]
            self._progress(job, e - s)
            if len(job.parts) == len(job.ranges):
                parts = [job.parts[k] for k in range(len(job.ranges))]
                job.join_args = (job.cand.path, self.settings, parts, job.chunk, time.monotonic() - job.t0)
                self.ready.appendleft(((index, "join"), work.join_parts, job.join_args))
            return
        if what in ("whole", "join"):
            self._record_scan(index, result.value)
            return
        if what == "redact":
            value = result.value
            with self.db.transaction():
                if value["clean"]:
                    self.db.note_action(job.dump_id, redacted_to=value["output"])
                else:
                    self._error(job, f"the redacted copy is not clean ({value['remaining']} secret(s) remain); "
                                f"deleted, log {value['log']}", commit=False)
            self._act(index)

    def _task(self, job: _Job, token: Any) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        """The function and arguments of ``token`` again (a resubmission)."""
        kind = token[1]
        if kind == "whole":
            return work.scan_path, (job.cand.path, self.settings)
        if kind == "part":
            s, e = job.ranges[token[2]]
            return work.scan_part, (job.cand.path, self.settings, s, e, job.chunk)
        if kind == "join":
            return work.join_parts, job.join_args
        return work.redact_path, self._redact_args(job)

    def _record_scan(self, index: int, out: dict[str, Any]) -> None:
        job = self.jobs[index]
        c = job.cand
        with self.db.transaction():
            job.scan_id = self.db.add_scan(self.run_id, out, SCANNER_VERSION, self.sid)
            job.sha256 = out["sha256"]
            job.findings = out["findings"]
            self._recorded(index, skipped=False, commit=False)
        self._progress(job, c.size - job.reported)

    def _recorded(self, index: int, skipped: bool, commit: bool = True) -> None:
        """The dump has a scan: its verdict and file row (the caller's transaction unless ``commit``)."""
        job = self.jobs[index]
        c = job.cand
        db = self.db

        def write() -> None:
            assert job.scan_id is not None
            job.verdict, _ = db.set_verdict(job.scan_id, self.opt.threshold)
            job.dump_id = db.note_dump(self.run_id, c.path, c.size, c.mtime_ns, c.host, job.sha256,
                                       job.scan_id, job.verdict)
            db.count(self.run_id, "skipped" if skipped else "scanned", 0 if skipped else c.size,
                     job.verdict != "clean")

        if commit:
            with db.transaction():
                write()
        else:
            write()
        if skipped:
            self.summary.skipped += 1
        else:
            self.summary.scanned += 1
        if job.verdict != "clean":
            self.summary.with_secrets += 1
            self.summary.production += job.verdict == "production-key"
        if job.verdict != "clean" and self.opt.redact_to and not self._acted(job, "redacted_to"):
            self.ready.appendleft(((index, "redact"), work.redact_path, self._redact_args(job)))
            return
        self._act(index)

    def _acted(self, job: _Job, column: str) -> bool:
        row = self.db.conn.execute(f"SELECT {column} FROM dumps WHERE id = ?", (job.dump_id,)).fetchone()
        return bool(row and row[0])

    def _redact_args(self, job: _Job) -> tuple[Any, ...]:
        assert job.sha256 is not None and job.scan_id is not None and self.opt.redact_to
        findings = job.findings if job.findings is not None else self.db.scan_findings(job.scan_id)
        out = str(target_in(self.opt.redact_to, job.cand.path, job.sha256))
        return job.cand.path, out, findings, self.settings, str(self.opt.threshold)

    def _act(self, index: int) -> None:
        """Quarantine (when asked and not done), then the dump is finished."""
        job = self.jobs[index]
        if job.verdict not in ("clean", "failed") and self.opt.quarantine and not self._acted(job, "quarantined_to"):
            try:
                where = quarantine(job.cand.path, self.opt.quarantine, job.sha256 or "", copy=self.opt.copy)
            except OSError as exc:
                self._error(job, f"quarantine failed: {exc.strerror or type(exc).__name__}")
            else:
                with self.db.transaction():
                    self.db.note_action(job.dump_id, quarantined_to=where)
        self._finished(job)

    def _fail(self, index: int, error: str) -> None:
        job = self.jobs[index]
        c = job.cand
        job.over, job.verdict = True, "failed"
        with self.db.transaction():
            job.dump_id = self.db.note_dump(self.run_id, c.path, c.size, c.mtime_ns, c.host, None, None, "failed")
            self.db.add_error(self.run_id, job.dump_id, c.path, max(job.attempts.values(), default=1), error)
            self.db.count(self.run_id, "failed")
        self.summary.failed += 1
        self._progress(job, c.size - job.reported)
        self._finished(job)

    def _error(self, job: _Job, error: str, commit: bool = True) -> None:
        """An action that failed for a scanned dump: recorded, the dump keeps its verdict."""
        if commit:
            with self.db.transaction():
                self.db.add_error(self.run_id, job.dump_id, job.cand.path, 1, error)
        else:
            self.db.add_error(self.run_id, job.dump_id, job.cand.path, 1, error)

    def _finished(self, job: _Job) -> None:
        job.over = True
        job.findings, job.parts, job.join_args = None, {}, ()
        self.summary.dump_ids.append(job.dump_id)
        if self.on_dump is not None:
            self.on_dump(job.dump_id)
        self._update()

    def _progress(self, job: _Job, nbytes: int) -> None:
        if job.skipped or nbytes <= 0:
            return
        job.reported += nbytes
        self.summary.bytes_done += nbytes
        self.state.progress(self.summary.bytes_done, self.summary.bytes_total)

    def _update(self) -> None:
        s = self.summary
        s.seconds = time.monotonic() - s.started
        self.state.step_progress("dumps", s.done, s.total)
        if self.on_update is not None:
            self.on_update(s)

    # -- the loop ------------------------------------------------------------------------------------
    def busy(self) -> bool:
        return bool(self.ready or self.runner.in_flight() or self.waiting)

    def step(self, timeout: float, accept_new: bool) -> None:
        self.fill(accept_new)
        for token, result in self.runner.completed(timeout):
            self.handle(token, result)
        self.fill(accept_new)


def run_gate(db: ResultsDB, runner: Runner, settings: FleetSettings, candidates: list[Candidate],
             options: GateOptions | None = None, state: TaskState | None = None, *,
             watcher: Watcher | None = None, on_dump: Callable[[int], Any] | None = None,
             on_update: Callable[[RunSummary], Any] | None = None) -> RunSummary:
    """Scan ``candidates`` (and, with ``watcher``, what arrives) on ``runner``; see the module docstring.

    Cancel (``state.cancel()``, or SIGTERM in the command line) stops taking new dumps; the tasks in
    flight finish and are recorded, and the run is marked ``interrupted`` when dumps were left. A
    KeyboardInterrupt or a crash leaves the run ``interrupted`` too; whatever was recorded stays.
    """
    options = options or GateOptions()
    state = ensure(state)
    gate = _Gate(db, runner, settings, options, state, on_dump, on_update)
    final = "interrupted"
    try:
        gate.add(candidates)
        if watcher is not None:
            watcher.mark_taken(candidates)
        deadline = None if options.stop_after is None else time.monotonic() + options.stop_after
        next_poll = time.monotonic()
        while True:
            accept = not state.is_cancelled
            if watcher is not None and accept:
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    accept = False
                elif now >= next_poll:
                    gate.add(watcher.poll(now))
                    next_poll = now + options.poll
            if not accept and not (gate.ready or gate.runner.in_flight()):
                break
            if watcher is None and not gate.busy():
                break
            gate.step(0.2 if watcher is not None or not accept else 1.0, accept)
        final = "interrupted" if any(not j.over for j in gate.jobs) else "done"
    finally:
        db.end_run(gate.run_id, final)
        gate.summary.state = final
        gate.summary.seconds = time.monotonic() - gate.summary.started
    return gate.summary


__all__ = ["GateOptions", "RunSummary", "run_gate", "split_plan"]
