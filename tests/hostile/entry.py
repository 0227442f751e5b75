"""The entry points as child tasks, and the real command line, each under hard limits.

A task is a function of one path returning a JSON-able dict, run by
:func:`tests.builders.limited.run_limited` in a child process with ``RLIMIT_AS``, ``RLIMIT_CPU`` and a
wall timeout (so that a regression fails its test instead of the machine). Each task catches only the
errors its entry point documents and reports them as ``{"outcome": <class name>, "message": ...}``; any
other exception escapes, the child ends with a traceback, and the test fails showing it.

:func:`run_cli` runs the installed ``evidence-viewer`` command the same way; :func:`check_finished` and
:func:`check_cli` are the assertions every hostile test makes first: finished within the limits, no
signal, no traceback; for the command line an exit code of 0, 1 or 2 and, on failure, one clear line.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.builders.case import PASSPHRASE
from tests.builders.limited import ADDRESS_SPACE, CPU_SECONDS, REPO, WALL_SECONDS, Outcome, apply_limits

#: Words that say the evidence changed under the reader (the guard of viewer/evidence/source.py).
CHANGED = re.compile(r"chang|shr[iu]nk|truncat|shorter|modified", re.I)
TRUNCATE_TO = 4096
SMALL_CHUNK = 64 * 1024  # a scan reports progress (and so truncates) after its first chunk


def _error(exc: BaseException) -> dict[str, Any]:
    return {"outcome": type(exc).__name__, "message": str(exc)}


# -- scan ---------------------------------------------------------------------------------------------
def scan(path: str) -> dict[str, Any]:
    """open_dump + scan_dump with the default detectors: what the scan found and warned of."""
    from viewer.evidence import EvidenceError, open_dump
    from viewer.scan.engine import scan_dump

    try:
        with open_dump(path) as dump:
            result = scan_dump(dump)
            warnings = list(dict.fromkeys([*dump.warnings, *result.warnings]))
    except EvidenceError as exc:
        return _error(exc)
    return {"outcome": "scanned", "findings": len(result.findings), "kinds": sorted({f.kind for f in result.findings}),
            "warnings": warnings[:50], "n_warnings": len(warnings), "cancelled": result.cancelled}


def _truncating(path: str, after: int = 0) -> Any:
    """A TaskState whose first byte progress past ``after`` bytes truncates ``path`` to
    :data:`TRUNCATE_TO` bytes: the file shrinks while the work runs, in this very process (deterministic:
    no race with a second process)."""
    from viewer.tasks import TaskState

    done = threading.Event()

    def shrink(progress: int) -> None:
        if not done.is_set() and progress > after:
            done.set()
            os.truncate(path, TRUNCATE_TO)

    return TaskState(on_progress=lambda d, t: shrink(d if after else 1)), done


def scan_truncated(path: str) -> dict[str, Any]:
    """scan_dump of ``path`` while it is truncated after the first chunk: must end with a warning that the
    evidence changed, not with SIGBUS."""
    from viewer.evidence import EvidenceError, open_dump
    from viewer.scan.engine import scan_dump

    state, done = _truncating(path)
    try:
        with open_dump(path) as dump:
            result = scan_dump(dump, state=state, chunk_size=SMALL_CHUNK, executor="inline")
            warnings = list(dict.fromkeys([*dump.warnings, *result.warnings]))
    except EvidenceError as exc:
        return {**_error(exc), "truncated": done.is_set()}
    return {"outcome": "scanned", "truncated": done.is_set(), "findings": len(result.findings),
            "warnings": warnings[:50], "cancelled": result.cancelled}


def scan_truncated_forked(path: str) -> dict[str, Any]:
    """As :func:`scan_truncated`, with the command line's forked workers, which scan views of a map of
    the file (and a forked child hashes it so): the file shrinks once the first chunk is back, after the
    workers mapped it, so their next reads are past its end (SIGBUS in a worker). Must end with a warning
    that the scan is incomplete and the evidence changed, not with a crash or a hang."""
    from viewer.evidence import EvidenceError, open_dump
    from viewer.scan.engine import scan_dump

    state, done = _truncating(path, after=SMALL_CHUNK // 2)
    try:
        with open_dump(path) as dump:
            result = scan_dump(dump, state=state, chunk_size=SMALL_CHUNK, executor="process", workers=2)
            warnings = list(dict.fromkeys([*dump.warnings, *result.warnings]))
            sha = result.stats.sha256
    except EvidenceError as exc:
        return {**_error(exc), "truncated": done.is_set()}
    return {"outcome": "scanned", "truncated": done.is_set(), "findings": len(result.findings),
            "warnings": warnings[:50], "cancelled": result.cancelled, "executor": result.stats.executor,
            "sha256": sha}


# -- cases ----------------------------------------------------------------------------------------------
def open_case(path: str) -> dict[str, Any]:
    """The unlock rule (:func:`viewer.case.unlock.unlock_case`) without the keyring, the passphrase given
    when asked: the header is read first, then the passphrase slot, then the payload; the audit trail of
    an opened case is verified."""
    from viewer.case.errors import CaseError
    from viewer.case.unlock import unlock_case

    asked: list[str] = []

    def ask(reason: Exception) -> str:
        asked.append(type(reason).__name__)
        return PASSPHRASE

    try:
        cf = unlock_case(path, use_keyring=False, ask=ask)
    except CaseError as exc:
        return {**_error(exc), "asked": asked}
    problems = cf.case.audit.verify()
    return {"outcome": "audit-problems" if problems else "opened", "message": "; ".join(problems[:5]),
            "n_problems": len(problems), "name": cf.case.name, "asked": asked, "warnings": list(cf.warnings)}


# -- bundles --------------------------------------------------------------------------------------------
def verify(path: str) -> dict[str, Any]:
    """verify_bundle: never raises; its problems, or why the bundle is unreadable."""
    from viewer.handover.bundle import verify_bundle

    res = verify_bundle(path)
    signature = getattr(res, "signature", None)
    return {"outcome": "unreadable" if res.unreadable else "problems" if res.problems else "ok",
            "message": res.unreadable or "; ".join(res.problems[:5]), "n_problems": len(res.problems),
            "checked": res.checked, "signature": getattr(signature, "status", None)}


def extract_target(path: str | Path) -> Path:
    """Where :func:`extract` extracts ``path`` to: a new folder ``out`` under a folder of its own beside it
    (so that a member escaping by ``..`` lands in that folder, where the test looks for it)."""
    return Path(f"{path}.extract") / "out"


def extract(path: str) -> dict[str, Any]:
    """extract_bundle into :func:`extract_target`: what was written, or the refusal."""
    from viewer.handover.bundle import BundleError
    from viewer.handover.extract import extract_bundle

    out = extract_target(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        got = extract_bundle(path, out)
    except BundleError as exc:
        return _error(exc)
    return {"outcome": "extracted", "files": [str(p) for p in got.files]}


# -- redaction ------------------------------------------------------------------------------------------
def redact_target(path: str | Path) -> Path:
    return Path(f"{path}.redacted")


def _redaction(result: Any) -> dict[str, Any]:
    return {"outcome": "clean" if result.clean else "not-clean", "ranges": len(result.ranges),
            "remaining": len(result.remaining), "rounds": result.rounds, "warnings": list(result.warnings)[:50]}


def redact(path: str) -> dict[str, Any]:
    """redact_file to :func:`redact_target` (a fresh scan decides what to overwrite)."""
    from viewer.evidence import EvidenceError
    from viewer.handover.redact import RedactError, redact_file

    try:
        return _redaction(redact_file(path, redact_target(path), force=True))
    except (EvidenceError, RedactError) as exc:
        return _error(exc)


def redact_truncated(path: str) -> dict[str, Any]:
    """redact_file while the input is truncated once the first scan has begun."""
    from viewer.evidence import EvidenceError
    from viewer.handover.redact import RedactError, redact_file

    state, done = _truncating(path)
    try:
        got = _redaction(redact_file(path, redact_target(path), force=True, state=state))
    except (EvidenceError, RedactError) as exc:
        got = _error(exc)
    return {**got, "truncated": done.is_set()}


# -- the command line -----------------------------------------------------------------------------------
@dataclass
class CliOutcome:
    argv: list[str]
    returncode: int | None
    timed_out: bool
    stdout: bytes
    stderr: bytes


def program() -> list[str]:
    """The installed ``evidence-viewer`` beside this interpreter (``python -m viewer.cli`` without it)."""
    exe = Path(sys.executable).with_name("evidence-viewer")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "viewer.cli"]


def run_cli(*args: str | os.PathLike[str], address_space: int = ADDRESS_SPACE, cpu_seconds: int = CPU_SECONDS,
            wall_seconds: float = WALL_SECONDS, env: dict[str, str] | None = None) -> CliOutcome:
    """``evidence-viewer ARGS`` with the limits of :mod:`tests.builders.limited`; never raises."""
    argv = [*program(), *map(str, args)]
    full_env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONPATH=str(REPO),
                    **(env or {}))
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=wall_seconds, env=full_env, cwd=REPO,
                              stdin=subprocess.DEVNULL, preexec_fn=lambda: apply_limits(address_space, cpu_seconds))
    except subprocess.TimeoutExpired as exc:
        return CliOutcome(argv, None, True, exc.stdout or b"", exc.stderr or b"")
    return CliOutcome(argv, proc.returncode, False, proc.stdout, proc.stderr)


def _signal_name(code: int | None) -> str:
    if code is None or code >= 0:
        return ""
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def check_finished(outcome: Outcome, what: str) -> dict[str, Any]:
    """The child finished within its limits, by returning (no signal, no traceback); its report."""
    assert not outcome.timed_out, f"{what}: over its wall-clock limit\n{outcome.stderr[-2000:]}"
    assert outcome.returncode is not None and outcome.returncode >= 0, (
        f"{what}: killed by {_signal_name(outcome.returncode)} (SIGXCPU: over the CPU limit)\n{outcome.stderr[-2000:]}")
    assert outcome.ok, f"{what}: the child failed (exit {outcome.returncode})\n{outcome.stderr[-3000:]}"
    return outcome.result


def check_cli(out: CliOutcome, what: str) -> tuple[str, str]:
    """The command finished within its limits with exit 0, 1 or 2, no traceback, and on exit 2 one clear
    line on stderr; returns (stdout, stderr) as text."""
    stderr = out.stderr.decode("utf-8", "replace")
    assert not out.timed_out, f"{what}: over the wall-clock limit\n{stderr[-2000:]}"
    assert out.returncode is not None and out.returncode >= 0, (
        f"{what}: killed by {_signal_name(out.returncode)}\n{stderr[-2000:]}")
    assert out.returncode in (0, 1, 2), f"{what}: exit {out.returncode}\n{stderr[-2000:]}"
    assert "Traceback" not in stderr and "internal error" not in stderr, f"{what}: {stderr[-3000:]}"
    if out.returncode == 2:
        lines = [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith("\r")]
        assert len(lines) == 1, f"{what}: exit 2 wants one clear line on stderr, got {lines[:5]}"
    return out.stdout.decode("utf-8", "replace"), stderr
