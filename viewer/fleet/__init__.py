"""The boundary gate: many dumps scanned on a local process pool or a Dask cluster, results in SQLite.

Layer ``fleet`` (DESIGN.md): above handover, below workspace; it imports evidence, scan, case,
handover, tasks and units. The parts, one job each:

- :mod:`.settings` — what a result is keyed by (scanner version, settings id) and how settings travel;
- :mod:`.sources` — the candidates: files, folders (recursive), a list on stdin, watched folders;
- :mod:`.work` — what a worker does (scan a dump by path, a byte range, join ranges, redact);
- :mod:`.runners` — where it runs: :class:`LocalPool` (default) or :class:`DaskRunner` (``--dask``);
- :mod:`.gate` — the coordinator: skip what is done, split, retry, record, act, report;
- :mod:`.db` — the SQLite schema and its reads and writes;
- :mod:`.report`, :mod:`.export` — the report documents, and findings into an encrypted case.

Nothing here imports Dask unless a :class:`DaskRunner` is made.
"""

from viewer.fleet.db import ResultsDB, ResultsError
from viewer.fleet.gate import GateOptions, RunSummary, run_gate
from viewer.fleet.runners import DaskRunner, LocalPool, make_runner
from viewer.fleet.settings import SCANNER_VERSION, FleetSettings, make_settings
from viewer.fleet.sources import Candidate, SourceError, Watcher, expand

__all__ = ["ResultsDB", "ResultsError", "GateOptions", "RunSummary", "run_gate", "DaskRunner", "LocalPool",
           "make_runner", "SCANNER_VERSION", "FleetSettings", "make_settings", "Candidate", "SourceError",
           "Watcher", "expand"]
