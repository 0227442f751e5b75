"""The results database of the boundary gate: SQLite in WAL mode, one writer (the coordinator), any
number of readers (``fleet report``, the window) while a run goes on.

Why SQLite: one file a pipeline keeps beside its dumps, readable by any tool, transactional (a run
killed at any moment leaves every dump recorded before it whole, and nothing half-written), and WAL
lets readers see finished dumps while the gate writes more.

The schema (:data:`SCHEMA`, version :data:`SCHEMA_VERSION` in ``PRAGMA user_version``):

- ``runs``: one row per ``fleet scan``: when, state (running, done, interrupted), scanner version,
  settings (and their id), threshold, where it ran, and how many dumps were scanned, skipped as done
  and failed, how many held secrets, how many bytes were scanned.
- ``scans``: one scan of one content, **keyed by SHA-256, scanner version and settings id**: format,
  size, which worker, how long, into how many byte ranges it was split, warnings, stats, the supplied
  public keys' found/not found. A re-run finds the key and skips the dump.
- ``dumps``: a file seen at a path (with its size and mtime then, and its host): its SHA-256, the scan
  and verdict of the last run that saw it, where it was quarantined or its redacted copy written. The
  (path, size, mtime) of a finished dump lets a re-run skip it without reading it again.
- ``findings``: per scan, every finding as ``scan --json`` gives it (masked excerpt: never a secret
  byte), with its kind, confidence, key id and offset as columns.
- ``secrets``: per scan, one row per secret (findings sharing a key id), with the supplied public keys
  it is the private half of (``production`` = 1: the worst finding there is).
- ``verdicts``: per scan and threshold: ``clean``, ``secret`` or ``production-key``, and how many
  secrets at or above the threshold.
- ``errors``: per run, a dump that could not be scanned: its path, attempts, one line (no data).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from viewer.scan.finding import Confidence

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started TEXT NOT NULL,
    finished TEXT,
    state TEXT NOT NULL CHECK (state IN ('running', 'done', 'interrupted')),
    scanner_version TEXT NOT NULL,
    settings_id TEXT NOT NULL,
    settings TEXT NOT NULL,
    min_confidence TEXT NOT NULL,
    runner TEXT NOT NULL,
    scanned INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    with_secrets INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS scans (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL,
    scanner_version TEXT NOT NULL,
    settings_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    format TEXT NOT NULL,
    process TEXT,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    scanned_at TEXT NOT NULL,
    seconds REAL NOT NULL,
    worker TEXT,
    ranges INTEGER NOT NULL DEFAULT 1,
    public_keys TEXT NOT NULL,
    warnings TEXT NOT NULL,
    stats TEXT NOT NULL,
    UNIQUE (sha256, scanner_version, settings_id)
);
CREATE TABLE IF NOT EXISTS dumps (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    host TEXT,
    sha256 TEXT,
    scan_id INTEGER REFERENCES scans(id),
    verdict TEXT CHECK (verdict IN ('clean', 'secret', 'production-key', 'failed')),
    first_run INTEGER NOT NULL REFERENCES runs(id),
    last_run INTEGER NOT NULL REFERENCES runs(id),
    quarantined_to TEXT,
    redacted_to TEXT,
    UNIQUE (path, size, mtime_ns)
);
CREATE INDEX IF NOT EXISTS dumps_sha256 ON dumps (sha256);
CREATE TABLE IF NOT EXISTS findings (
    scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    finding_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    encoding TEXT NOT NULL,
    offset INTEGER NOT NULL,
    length INTEGER NOT NULL,
    confidence TEXT NOT NULL,
    secret INTEGER NOT NULL,
    key_id TEXT,
    doc TEXT NOT NULL,
    PRIMARY KEY (scan_id, finding_id)
);
CREATE INDEX IF NOT EXISTS findings_key_id ON findings (key_id);
CREATE TABLE IF NOT EXISTS secrets (
    scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    key_id TEXT,
    kind TEXT NOT NULL,
    confidence TEXT NOT NULL,
    rank INTEGER NOT NULL,
    locations INTEGER NOT NULL,
    matches TEXT NOT NULL,
    production INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS secrets_key_id ON secrets (key_id);
CREATE INDEX IF NOT EXISTS secrets_scan ON secrets (scan_id);
CREATE TABLE IF NOT EXISTS verdicts (
    scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    min_confidence TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('clean', 'secret', 'production-key')),
    secrets INTEGER NOT NULL,
    PRIMARY KEY (scan_id, min_confidence)
);
CREATE TABLE IF NOT EXISTS errors (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    dump_id INTEGER REFERENCES dumps(id),
    path TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    error TEXT NOT NULL,
    at TEXT NOT NULL
);
"""

VERDICTS = ("clean", "secret", "production-key", "failed")


class ResultsError(Exception):
    """The database cannot be used (not ours, a newer schema, not readable): one line, exit 2."""


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def verdict_of(secrets: list[dict[str, Any]], threshold: Confidence) -> tuple[str, int]:
    """The verdict of a scan's secrets (``Secret.to_json`` shape) at ``threshold``, and how many count."""
    counted = [s for s in secrets if Confidence.parse(s["confidence"]) >= threshold]
    if any(s.get("matches") for s in counted):
        return "production-key", len(counted)
    return ("secret" if counted else "clean"), len(counted)


@dataclass(frozen=True)
class Seen:
    """What the database knows of a file already seen at this path, size and mtime."""

    dump_id: int
    sha256: str | None
    scan_id: int | None


def finding_key(f: dict[str, Any]) -> str:
    """A finding's key in a scan: its id, prefixed by its member for one of several dumps of one file
    (two dumps of the same process hold the same key at the same offset: the same id)."""
    return f"{f['member']}/{f['id']}" if f.get("member") is not None else str(f["id"])


class ResultsDB:
    """The results database at ``path``; ``readonly`` for viewers (the file must exist)."""

    def __init__(self, path: str | os.PathLike[str], readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        try:
            if readonly:
                if not self.path.is_file():
                    raise ResultsError(f"{self.path}: no such results database")
                self.conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                            check_same_thread=False)
            else:
                self.conn = sqlite3.connect(self.path, check_same_thread=False)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA busy_timeout = 10000")
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as exc:
            raise ResultsError(f"{self.path}: not a results database ({exc})") from None
        if version > SCHEMA_VERSION:
            raise ResultsError(f"{self.path}: results database of a newer version ({version}); "
                               "update evidence-viewer")
        if readonly:
            if "runs" not in tables or "dumps" not in tables:
                raise ResultsError(f"{self.path}: not a results database (no runs or dumps table)")
            return
        if tables and "runs" not in tables:
            raise ResultsError(f"{self.path}: an SQLite database, but not a results database")
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")  # WAL: durable at checkpoints, never corrupt
        self.conn.execute("PRAGMA foreign_keys = ON")
        with self.conn:
            self.conn.executescript(SCHEMA)
            self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ResultsDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.conn:
            yield self.conn

    # -- runs --------------------------------------------------------------------------------------
    def begin_run(self, scanner_version: str, settings_id: str, settings: dict[str, Any],
                  min_confidence: str, runner: str) -> int:
        with self.transaction() as c:
            cur = c.execute(
                "INSERT INTO runs (started, state, scanner_version, settings_id, settings, min_confidence, runner)"
                " VALUES (?, 'running', ?, ?, ?, ?, ?)",
                (utc_now(), scanner_version, settings_id, json.dumps(settings, sort_keys=True), min_confidence,
                 runner))
            return int(cur.lastrowid or 0)

    def end_run(self, run_id: int, state: str) -> None:
        with self.transaction() as c:
            c.execute("UPDATE runs SET finished = ?, state = ? WHERE id = ?", (utc_now(), state, run_id))

    def count(self, run_id: int, outcome: str, nbytes: int = 0, secret: bool = False) -> None:
        """Count one dump of the run as ``scanned``, ``skipped`` or ``failed`` (in the caller's transaction)."""
        assert outcome in ("scanned", "skipped", "failed")
        self.conn.execute(f"UPDATE runs SET {outcome} = {outcome} + 1, bytes = bytes + ?,"
                          " with_secrets = with_secrets + ? WHERE id = ?", (nbytes, int(secret), run_id))

    def run(self, run_id: int) -> dict[str, Any]:
        row = self.conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return dict(row) if row is not None else {}

    # -- what is done ------------------------------------------------------------------------------
    def seen(self, path: str, size: int, mtime_ns: int) -> Seen | None:
        row = self.conn.execute("SELECT id, sha256, scan_id FROM dumps WHERE path = ? AND size = ? AND mtime_ns = ?",
                                (path, size, mtime_ns)).fetchone()
        return Seen(row["id"], row["sha256"], row["scan_id"]) if row is not None else None

    def scan_id(self, sha256: str, scanner_version: str, settings_id: str) -> int | None:
        row = self.conn.execute("SELECT id FROM scans WHERE sha256 = ? AND scanner_version = ? AND settings_id = ?",
                                (sha256, scanner_version, settings_id)).fetchone()
        return int(row["id"]) if row is not None else None

    def scan_secrets(self, scan_id: int) -> list[dict[str, Any]]:
        return [json.loads(r["doc"]) for r in
                self.conn.execute("SELECT doc FROM secrets WHERE scan_id = ? ORDER BY rowid", (scan_id,))]

    def scan_findings(self, scan_id: int) -> list[dict[str, Any]]:
        return [json.loads(r["doc"]) for r in
                self.conn.execute("SELECT doc FROM findings WHERE scan_id = ? ORDER BY offset, length, kind",
                                  (scan_id,))]

    def scan_row(self, scan_id: int) -> dict[str, Any]:
        row = self.conn.execute("SELECT * FROM scans WHERE id = ?", (scan_id,)).fetchone()
        return dict(row) if row is not None else {}

    # -- recording (each call in the caller's transaction) -----------------------------------------
    def add_scan(self, run_id: int, out: dict[str, Any], scanner_version: str, settings_id: str) -> int:
        """Store a worker's outcome (:func:`viewer.fleet.work.outcome`) as a scan; an existing scan of the
        same key (the same content seen at another path) is kept and its id returned."""
        existing = self.scan_id(out["sha256"], scanner_version, settings_id)
        if existing is not None:
            return existing
        c = self.conn
        cur = c.execute(
            "INSERT INTO scans (sha256, scanner_version, settings_id, size, format, process, run_id, scanned_at,"
            " seconds, worker, ranges, public_keys, warnings, stats) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (out["sha256"], scanner_version, settings_id, out["size"], out["format"], out.get("process"), run_id,
             utc_now(), float(out["seconds"]), out.get("worker"), int(out.get("ranges", 1)),
             json.dumps(out["public_keys"]), json.dumps(out["warnings"]), json.dumps(out["stats"])))
        scan_id = int(cur.lastrowid or 0)
        c.executemany(
            "INSERT OR IGNORE INTO findings (scan_id, finding_id, kind, encoding, offset, length, confidence,"
            " secret, key_id, doc) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [(scan_id, finding_key(f), f["kind"], f["encoding"], f["offset"], f["length"], f["confidence"],
              int(bool(f.get("secret", True))), f.get("key_id"), json.dumps(f)) for f in out["findings"]])
        c.executemany(
            "INSERT INTO secrets (scan_id, key_id, kind, confidence, rank, locations, matches, production, doc)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            [(scan_id, s.get("key_id"), s["kind"], s["confidence"], int(Confidence.parse(s["confidence"])),
              len(s["locations"]), json.dumps(s["matches"]), int(bool(s["matches"])), json.dumps(s))
             for s in out["secrets"]])
        return scan_id

    def set_verdict(self, scan_id: int, threshold: Confidence) -> tuple[str, int]:
        """The verdict of a stored scan at ``threshold`` (computed once per threshold, then kept)."""
        row = self.conn.execute("SELECT verdict, secrets FROM verdicts WHERE scan_id = ? AND min_confidence = ?",
                                (scan_id, str(threshold))).fetchone()
        if row is not None:
            return row["verdict"], int(row["secrets"])
        verdict, n = verdict_of(self.scan_secrets(scan_id), threshold)
        self.conn.execute("INSERT INTO verdicts (scan_id, min_confidence, verdict, secrets) VALUES (?,?,?,?)",
                          (scan_id, str(threshold), verdict, n))
        return verdict, n

    def note_dump(self, run_id: int, path: str, size: int, mtime_ns: int, host: str | None,
                  sha256: str | None, scan_id: int | None, verdict: str) -> int:
        """Record that this run saw the file (path, size, mtime) with this scan and verdict."""
        c = self.conn
        row = c.execute("SELECT id FROM dumps WHERE path = ? AND size = ? AND mtime_ns = ?",
                        (path, size, mtime_ns)).fetchone()
        if row is None:
            cur = c.execute(
                "INSERT INTO dumps (path, size, mtime_ns, host, sha256, scan_id, verdict, first_run, last_run)"
                " VALUES (?,?,?,?,?,?,?,?,?)", (path, size, mtime_ns, host, sha256, scan_id, verdict, run_id, run_id))
            return int(cur.lastrowid or 0)
        c.execute("UPDATE dumps SET host = COALESCE(?, host), sha256 = COALESCE(?, sha256), scan_id = ?,"
                  " verdict = ?, last_run = ? WHERE id = ?", (host, sha256, scan_id, verdict, run_id, row["id"]))
        return int(row["id"])

    def note_action(self, dump_id: int, *, quarantined_to: str | None = None, redacted_to: str | None = None) -> None:
        if quarantined_to is not None:
            self.conn.execute("UPDATE dumps SET quarantined_to = ? WHERE id = ?", (quarantined_to, dump_id))
        if redacted_to is not None:
            self.conn.execute("UPDATE dumps SET redacted_to = ? WHERE id = ?", (redacted_to, dump_id))

    def add_error(self, run_id: int, dump_id: int | None, path: str, attempts: int, error: str) -> None:
        self.conn.execute("INSERT INTO errors (run_id, dump_id, path, attempts, error, at) VALUES (?,?,?,?,?,?)",
                          (run_id, dump_id, path, attempts, error, utc_now()))

    # -- reading -------------------------------------------------------------------------------------
    def runs(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.conn.execute("SELECT * FROM runs ORDER BY id")]

    def dumps(self) -> list[dict[str, Any]]:
        """Every dump seen, newest run first, then by path; with its scan's size and format, its verdict's
        secret count at its last run's threshold, and the last error of a failed one."""
        rows = self.conn.execute(
            "SELECT d.*, s.format AS format, s.process AS process, r.min_confidence AS min_confidence,"
            " (SELECT v.secrets FROM verdicts v WHERE v.scan_id = d.scan_id AND v.min_confidence = r.min_confidence)"
            "   AS secrets,"
            " (SELECT e.error FROM errors e WHERE e.dump_id = d.id ORDER BY e.id DESC LIMIT 1) AS error"
            " FROM dumps d JOIN runs r ON r.id = d.last_run LEFT JOIN scans s ON s.id = d.scan_id"
            " ORDER BY d.last_run DESC, d.path")
        return [dict(r) for r in rows]

    def errors(self, run_id: int | None = None) -> list[dict[str, Any]]:
        q = "SELECT * FROM errors" + (" WHERE run_id = ?" if run_id is not None else "") + " ORDER BY id"
        return [dict(r) for r in self.conn.execute(q, (run_id,) if run_id is not None else ())]

    def key_holders(self) -> list[dict[str, Any]]:
        """Per key id: every dump (path, host, SHA-256) whose last scan holds it as a secret."""
        rows = self.conn.execute(
            "SELECT s.key_id, s.kind, MAX(s.rank) AS rank, MAX(s.production) AS production,"
            " d.path, d.host, d.sha256, s.matches FROM secrets s JOIN dumps d ON d.scan_id = s.scan_id"
            " WHERE s.key_id IS NOT NULL GROUP BY s.key_id, d.id ORDER BY s.key_id, d.path")
        keys: dict[str, dict[str, Any]] = {}
        for r in rows:
            k = keys.setdefault(r["key_id"], {"key_id": r["key_id"], "kind": r["kind"], "rank": 0,
                                              "production": False, "matches": [], "dumps": []})
            k["rank"] = max(k["rank"], int(r["rank"]))
            k["production"] = k["production"] or bool(r["production"])
            k["matches"] += [m for m in json.loads(r["matches"]) if m not in k["matches"]]
            k["dumps"].append({"path": r["path"], "host": r["host"], "sha256": r["sha256"]})
        out = []
        for k in keys.values():
            k["confidence"] = str(Confidence(k.pop("rank")))
            k["hosts"] = len({d["host"] for d in k["dumps"] if d["host"]})
            out.append(k)
        out.sort(key=lambda k: (not k["production"], -len(k["dumps"]), k["key_id"]))
        return out


__all__ = ["SCHEMA", "SCHEMA_VERSION", "VERDICTS", "ResultsDB", "ResultsError", "Seen", "utc_now", "verdict_of"]
