"""A hostile case: one whose every string field carries markup and a spreadsheet formula.

A case may come from someone else, and a dump's region and module names from the attacker's process, so
report.html and findings.csv must show all of it as text. This builds a real case (real store, the demo
core scanned by the real engine, real annotations) and then overwrites every string it holds — case name,
number, examiner, description, times, evidence names, every finding's id/kind/encoding/region/reasons/key
id/matches/confidence, statuses, severities, tags, comments, scan runs (their counters and settings too:
the stored XSS that was found) and every audit field — the way a crafted case file would hold them.
Every string handed out is still in the case and shown by the report (``Hostile.given``); a record's own
copy of the scan settings and times, which neither the report nor the CSV shows, stay ordinary.

Each value is :func:`hostile` ``(n)``: a formula start (``=``, ``+``, ``-``, ``@``, tab, CR; for the CSV)
then one of :data:`MARKUP` (for the browser): a script, an ``onerror`` image, an attribute break-out
into an ``onload`` SVG, a ``javascript:`` link, and elements that would fetch from ``127.0.0.1:PORT`` (the
test's own HTTP server). A script that ran would leave :data:`PWNED` in ``document.title`` or a
``data-pwned`` attribute on ``<html>``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tests.builders.case import CaseFactory
from viewer.case import CaseFile

PWNED = "PWNED"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
RAN = "document.documentElement.setAttribute('data-pwned','{how}');document.title='" + PWNED + "'"
MARKUP = (
    "<script>" + RAN.format(how="script") + "</script>",
    "<img src=x onerror=\"" + RAN.format(how="onerror") + "\">",
    "\"><svg onload=\"" + RAN.format(how="svg") + "\"></svg>",
    "'><a href=\"javascript:" + RAN.format(how="href") + "\">click</a>",
    "<img src=\"http://127.0.0.1:{port}/img\">",
    "<link rel=\"stylesheet\" href=\"http://127.0.0.1:{port}/css\"><style>@import url(http://127.0.0.1:{port}/imp);</style>",
    "<iframe src=\"http://127.0.0.1:{port}/frame\"></iframe>",
    "<meta http-equiv=\"refresh\" content=\"0;url=http://127.0.0.1:{port}/refresh\">",
    "<base href=\"http://127.0.0.1:{port}/base/\"><form action=\"http://127.0.0.1:{port}/form\"><button>go</button></form>",
    "<object data=\"http://127.0.0.1:{port}/object\"></object><video poster=\"http://127.0.0.1:{port}/poster\"></video>",
    "<div style=\"background:url(http://127.0.0.1:{port}/bg)\">x</div><script src=\"http://127.0.0.1:{port}/js\"></script>",
)
EVIDENCE_NAME = "<img src=x onerror=\"document.title='PWNED'\">\"><svg onload=alert(1)>.core"  # no '/': a file name


class Hostile:
    """Numbered hostile strings for one test's server port; ``given`` keeps every one handed out."""

    def __init__(self, port: int):
        self.port, self.given = port, []

    def __call__(self, shown: int | None = None) -> str:
        """The next string; ``shown``: the report shows only its first so many characters."""
        n = len(self.given)
        value = FORMULA_STARTS[n % len(FORMULA_STARTS)] + MARKUP[n % len(MARKUP)].format(port=self.port) + f" #{n}"
        self.given.append(value[:shown])
        return value


def hostile_case(folder: Path, sample: Path, findings_json: list[dict[str, Any]], port: int) -> tuple[CaseFile, Hostile]:
    """The hostile case in ``folder`` (open, in memory: the report and the CSV are made from it), with its
    evidence — a copy of ``sample`` under a markup file name — reachable, so that the report has its
    excerpts and its entropy plot. Returns the case and the strings it holds."""
    h = Hostile(port)
    evidence = Path(shutil.copy(sample, folder / EVIDENCE_NAME))
    cf = CaseFactory().create(folder / "hostile.evcase", h(), h(), number=h(), description=h())
    ref = cf.add_evidence(evidence)
    cf.merge_scan(ref.sha256, findings_json, {"deep": False, "detectors": "default"})
    for rec in cf.case.findings[:4]:
        cf.annotate(rec.id, status="confirmed", comment=h(), tags=["t"], evidence_sha256=rec.evidence_sha256)
        cf.annotate(rec.id, comment=h(), evidence_sha256=rec.evidence_sha256)
    case = cf.case
    case.created, case.modified = h(), h()
    ref.format, ref.added_at, ref.added_by = h(), h(), h()
    for rec in case.findings:
        f = rec.finding
        for key in ("id", "kind", "encoding", "region", "key_id", "confidence"):
            f[key] = h()
        f["reasons"], f["matches"] = [h(), h()], [h()]
        rv = rec.review
        rv.status, rv.severity, rv.tags = h(), h(), [h(), h()]
        for c in rv.comments:
            c.author, c.time, c.edited, c.edited_at = h(), h(), True, h()
    for s in case.scans:
        s.time, s.author, s.scanner_version, s.evidence_sha256 = h(), h(), h(), h(shown=16)
        s.findings, s.new, s.stale = h(), h(), h()  # counters: a received case may hold anything there
        s.settings = {h(): h(), "nested": {h(): [h()]}}
    for ev in case.audit.events:
        for key in ("seq", "time", "author", "type", "hash"):  # "prev" is not shown
            ev[key] = h()
        ev["data"] = {h(): [h(), {h(): h()}]}
    return cf, h
