"""The case report: one HTML file that opens offline and prints (``report.html`` of a case bundle).

A received case is someone else's text: its names, comments, tags, audit data and scan-run counters, and
the dump's region and module names, may all hold markup. The report is therefore rendered from a
**Jinja2 template with autoescaping on** (``resources/templates/report.html.j2``) and no value is marked
safe, so that no field can reach the page as markup — before, the page was concatenated with one
``escape()`` call per value, and a missed call (the scan-run counters) was a stored XSS. This module builds
plain values (strings, numbers, lists); the template alone writes HTML. :data:`CSP`, a
``<meta http-equiv="Content-Security-Policy">`` at the top of the head, is the second wall: no script, no
fetch of any kind, no base URL, no form target — even a markup injection could neither run nor call home.

Self-contained: inline CSS (``report.css``, included by the template), no script, no image files, no
external URL. The entropy plot of each dump is an **embedded PNG** (a ``data:image/png;base64`` URL): every
browser shows it, it prints, and Qt's QTextDocument (the window's Print to PDF) renders it, which it would
not do for SVG. It is drawn with Pillow at twice its display size so that it stays sharp on paper. The
data URL goes through the escaping like every value: base64 has no character that escaping changes, so it
needs no exemption.

Content: case summary (examiner, number, description, evidence with size/format/SHA-256/state, the scan
settings of every scan run), the secrets table grouped by key id, every finding (location, region,
reasons, status, severity, tags, comments, the hex excerpt exactly as findings.json carries it: masked
unless the bundle includes secrets), an entropy plot per dump whose evidence file is reachable and
unchanged (findings marked: red secret, blue public context), and the audit trail.

Where the templates are: ``resources/templates/`` of the source tree (a checkout or an editable install
reads them in place), else where a wheel installed them — pyproject's ``data-files`` puts them under
``<prefix>/share/evidence-viewer/templates``, found through the distribution's own file list, so a venv,
``--user`` or system install all work. See :func:`template_dirs`.

Never imports Qt.
"""

from __future__ import annotations

import base64
import functools
import importlib.metadata
import io
import json
from collections import defaultdict
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2

from viewer.handover.documents import MASK, TOOL_NAME
from viewer.scan.entropy import DEFAULT_BLOCK, compute_entropy
from viewer.scan.finding import Confidence
from viewer.tasks import TaskState
from viewer.units import human_size

STEP_ENTROPY = "entropy"  # the step the plots' progress is reported as

PLOT_W, PLOT_H = 900, 170
PLOT_SCALE = 2  # pixels per display pixel: sharp when printed
PLOT_MARGINS = (26, 30, 8, 18)  # left, right, top, bottom (display pixels): room for the axis labels
PLOT_POINTS = 900

REPORT_TEMPLATE = "report.html.j2"
INSTALLED_TEMPLATES = PurePosixPath("share") / TOOL_NAME / "templates"  # pyproject's data-files target
SOURCE_TEMPLATES = Path(__file__).resolve().parents[2] / "resources" / "templates"

# Nothing may load, run or be sent: images only as data: URLs (the plot), the inline <style> only.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


# -- the templates -----------------------------------------------------------------------------------
def template_dirs() -> list[Path]:
    """Folders holding the report templates, the first that has them wins: the source tree's
    ``resources/templates`` (checkout, editable install), then the copy a wheel installed (found in the
    installed distribution's file list, wherever the installer put its data files)."""
    dirs = [SOURCE_TEMPLATES]
    try:
        files = importlib.metadata.distribution(TOOL_NAME).files or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for f in files:
        if f.name == REPORT_TEMPLATE and f.parent.as_posix().endswith(INSTALLED_TEMPLATES.as_posix()):
            dirs.append(Path(str(f.locate())).resolve().parent)
    return [d for d in dirs if (d / REPORT_TEMPLATE).is_file()]


def _thousands(value: Any) -> Any:
    """``1,234,567`` for a number; anything else (a received case may say anything) as it is."""
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else value


@functools.cache
def environment() -> jinja2.Environment:
    """The report's Jinja2 environment: autoescaping for every value, StrictUndefined (a misspelt name
    fails the export instead of printing nothing), ``None`` shown as an empty string."""
    dirs = template_dirs()
    if not dirs:
        raise RuntimeError(f"the report templates ({REPORT_TEMPLATE}) are not installed: looked in "
                           f"{SOURCE_TEMPLATES} and the {TOOL_NAME} distribution's {INSTALLED_TEMPLATES}")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(dirs), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True, finalize=lambda v: "" if v is None else v)
    env.filters["thousands"] = _thousands
    return env


# -- the entropy plot ----------------------------------------------------------------------------------
def _offset_label(value: int) -> str:
    return "0" if value == 0 else human_size(value)


def entropy_png(pyramid: Any, size: int, findings: list[dict[str, Any]]) -> bytes:
    """The entropy plot as PNG bytes: mean (black) and max (grey) entropy per point, 0-8 bits/byte, over
    the whole file; secret findings marked red, public context blue; offsets along the bottom."""
    from PIL import Image, ImageDraw, ImageFont

    k = PLOT_SCALE
    width, height = PLOT_W * k, PLOT_H * k
    left, right, top, bottom = (m * k for m in PLOT_MARGINS)
    pw, ph = width - left - right, height - top - bottom
    font = ImageFont.load_default(size=10 * k)
    span = max(size, 1)

    def x_at(offset: float) -> float:
        return left + float(offset) / span * pw

    def y_at(bits: float) -> float:
        return top + ph - min(max(float(bits), 0.0), 8.0) / 8.0 * ph

    img = Image.new("RGBA", (width, height), (255, 255, 255, 255))
    draw = ImageDraw.Draw(img)
    for level in (0, 2, 4, 6, 8):
        y = y_at(level)
        draw.line([(left, y), (left + pw, y)], fill=(230, 230, 230, 255), width=k)
        draw.text((left - 4 * k, y), str(level), fill=(110, 110, 110, 255), font=font, anchor="rm")
    for i in range(5):
        off = span * i // 4
        x = x_at(off)
        draw.line([(x, top + ph), (x, top + ph + 3 * k)], fill=(110, 110, 110, 255), width=k)
        draw.text((x, top + ph + 4 * k), _offset_label(off), fill=(110, 110, 110, 255), font=font, anchor="ma")
    marks = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    mdraw = ImageDraw.Draw(marks)
    for f in findings:
        x0 = x_at(int(f["offset"]))
        x1 = max(x0 + k, x_at(int(f["offset"]) + int(f["length"])))
        colour = (204, 0, 0, 110) if f.get("secret", True) else (0, 102, 204, 110)
        mdraw.rectangle([x0, top, x1, top + ph], fill=colour)
    img = Image.alpha_composite(img, marks)
    draw = ImageDraw.Draw(img)
    draw.rectangle([left, top, left + pw, top + ph], outline=(150, 150, 150, 255), width=k)
    series = pyramid.range(0, span, PLOT_POINTS)
    for values, colour, w in ((series.max, (170, 170, 170, 255), k), (series.mean, (20, 20, 20, 255), k + 1)):
        points = []
        for x, v in zip(series.x, values, strict=True):
            y = y_at(v)
            points += [(x_at(float(x)), y), (x_at(min(span, float(x) + series.span)), y)]
        if len(points) > 1:
            draw.line(points, fill=colour, width=w)
    out = io.BytesIO()
    img.convert("RGB").save(out, "PNG", optimize=True)
    return out.getvalue()


def png_data_url(png: bytes) -> str:
    """``data:image/png;base64,...`` of PNG bytes we drew."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _plots(evidence: list[Any], records: list[dict[str, Any]], state: TaskState | None) -> list[dict[str, Any]]:
    """The entropy plots. ``state``: the export's; the passes' bytes are reported as the step ``entropy``
    over all the plotted evidence; a cancel stops at the next file (the caller then discards the report)."""
    out: list[dict[str, Any]] = []
    total = sum(int(e.dump.size) for e in evidence if e.dump is not None)
    base = 0
    for e in evidence:
        if e.dump is None:
            out.append({"path": shown_path(e.ref), "state": e.state, "src": None, "alt": ""})
            continue
        part = None
        if state is not None:
            if state.is_cancelled:
                break
            part = TaskState(on_progress=lambda done, _t, b=base: state.step_progress(STEP_ENTROPY, b + done, total),
                             cancelled=state.cancelled)
        pyramid = compute_entropy(e.dump, DEFAULT_BLOCK, part)
        size = int(e.dump.size)
        base += size
        mine = [r for r in records if r["evidence_sha256"] == e.ref.key]
        out.append({"path": shown_path(e.ref), "state": e.state, "src": png_data_url(entropy_png(pyramid, size, mine)),
                    "alt": f"entropy of {size:,} bytes; {len(mine)} finding(s) marked"})
    return out


def shown_path(ref: Any) -> str:
    """The evidence's path as the report names it: with the member when it is one of several dumps of
    one file (``crashes.zip › b.dmp``)."""
    return f"{ref.path} › {ref.member}" if ref.member is not None else ref.path


# -- the values the template shows ------------------------------------------------------------------------
def hex_pieces(segments: list[dict[str, Any]], masked: bool) -> list[tuple[str, bool]]:
    """The excerpt as hex dump lines (16 bytes each), split into ``(text, is_mask)`` pieces so that the
    template can colour each ``••`` without any markup leaving Python."""
    lines = []
    for k, seg in enumerate(segments):
        if k:
            gap = seg["offset"] - (segments[k - 1]["offset"] + segments[k - 1]["length"])
            if gap > 0:
                lines.append(f"            … {gap} bytes not shown …")
        text, cells, i = seg["hex"], [], 0
        while i < len(text):
            if text.startswith(MASK, i):
                cells.append(MASK)
                i += len(MASK)
            else:
                cells.append(text[i:i + 2])
                i += 2
        for row in range(0, len(cells), 16):
            lines.append(f"{seg['offset'] + row:#010x}  {' '.join(cells[row:row + 16])}")
    body = "\n".join(lines)
    if not masked:
        return [(body, False)]
    pieces: list[tuple[str, bool]] = []
    for n, part in enumerate(body.split(MASK)):
        if n:
            pieces.append((MASK, True))
        if part:
            pieces.append((part, False))
    return pieces


def _hex_or_text(value: Any) -> str:
    return f"{value:#x}" if isinstance(value, int) else str(value)


def _finding(r: dict[str, Any], paths: dict[str, str]) -> dict[str, Any]:
    rv = r["review"]
    secret = bool(r.get("secret", True))
    va = "—" if r.get("vaddr") is None else _hex_or_text(r["vaddr"])
    sha = str(r["evidence_sha256"])
    ex = r.get("excerpt")
    return {
        "id": r["id"], "kind": r["kind"], "secret": secret,
        "rows": [
            ("Evidence", f"{paths.get(sha, '?')} ({sha[:16]}…)"),
            ("Location", f"file offset {_hex_or_text(r['offset'])} ({r['offset']}), {r['length']} bytes, va {va}"),
            ("Region", r.get("region") or "(outside any region)"),
            ("Encoding", r["encoding"]), ("Confidence", confidence_words(r["confidence"])),
            ("Secret", "yes" if secret else "no (public context)"),
            ("Key id", r.get("key_id") or "—"), ("Matches", ", ".join(map(str, r.get("matches") or [])) or "—"),
            ("Status", f"{rv['status']}" + (" (stale: the last scan no longer reports it)" if r["stale"] else "")),
            ("Severity", rv["severity"]), ("Tags", ", ".join(map(str, rv["tags"])) or "—"),
        ],
        "reasons": list(r.get("reasons") or []),
        "comments": [{"author": c["author"], "time": c["time"], "text": c["text"], "edited": c.get("edited"),
                      "edited_at": c.get("edited_at")} for c in rv["comments"]],
        "hex": None if ex is None else hex_pieces(ex["segments"], ex["masked"]),
    }


def confidence_words(value: Any) -> str:
    """A record's confidence as the window says it (``math-checked``, not the verdict's word)."""
    try:
        return Confidence.parse(str(value)).words
    except ValueError:
        return str(value)


def _groups(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The secret findings grouped by key id (one key found in five places is one secret)."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:  # a secret without a key id is a secret of its own (the engine's and the window's count)
        if r.get("secret", True):
            groups[str(r.get("key_id") or f"(no key id) {r.get('id')}")].append(r)
    order = {"low": 1, "medium": 2, "high": 3, "confirmed": 4}
    return [{
        "key": key,
        "kinds": ", ".join(sorted({str(r["kind"]) for r in rs})),
        "confidence": confidence_words(max((r["confidence"] for r in rs), key=lambda c: order.get(c, 0))),
        "statuses": ", ".join(sorted({str(r["review"]["status"]) for r in rs})),
        "ids": [r["id"] for r in rs],
    } for key, rs in sorted(groups.items())]


def report_context(case: Any, evidence: list[Any], records: list[dict[str, Any]], manifest: dict[str, Any],
                   state: TaskState | None = None) -> dict[str, Any]:
    """Everything the template shows, as plain values (no markup): see :func:`render_report`."""
    head = manifest["audit"]["head"]
    return {
        "csp": CSP, "mask": MASK, "plot_w": PLOT_W, "plot_h": PLOT_H,
        "case": {"name": case.name},
        "secrets_included": bool(manifest["secrets_included"]),
        "case_rows": [
            ("Case id", case.id), ("Number", case.number), ("Examiner", case.examiner),
            ("Description", case.description), ("Created", case.created), ("Modified", case.modified),
            ("Report made", f"{manifest['created']} by {manifest['created_by']}"),
            ("Program", f"{manifest['program']['name']} {manifest['program']['version']}"),
            ("Audit head", f"event {head['seq']}, {head['hash']}"),
        ],
        "evidence": [{"path": shown_path(e.ref), "format": e.ref.format, "size": e.ref.size, "sha256": e.ref.sha256,
                      "state": e.state, "added_at": e.ref.added_at, "added_by": e.ref.added_by,
                      "content_sha256": getattr(e.ref, "content_sha256", None),
                      "chain": " > ".join(getattr(e.ref, "chain", None) or [])} for e in evidence],
        "scans": [{"time": s.time, "author": s.author, "evidence": str(s.evidence_sha256)[:16],
                   "scanner_version": s.scanner_version, "findings": s.findings, "new": s.new, "stale": s.stale,
                   "settings": json.dumps(s.settings, sort_keys=True)} for s in case.scans],
        "groups": _groups(records),
        "secret_count": sum(1 for r in records if r.get("secret", True)),
        "findings": [_finding(r, {e.ref.key: shown_path(e.ref) for e in evidence}) for r in records],
        "plots": _plots(evidence, records, state),
        "audit": [{"seq": ev.get("seq"), "time": ev.get("time"), "author": ev.get("author"), "type": ev.get("type"),
                   "data": json.dumps(ev.get("data"), sort_keys=True, ensure_ascii=False), "hash": ev.get("hash")}
                  for ev in case.audit],
    }


def render_report(case: Any, evidence: list[Any], records: list[dict[str, Any]], manifest: dict[str, Any],
                  state: TaskState | None = None) -> str:
    """The report as one HTML string.

    ``evidence``: objects with ``ref`` (EvidenceRef), ``state`` and ``dump`` (an open Dump or None);
    ``records``: the findings.json records (excerpts already masked or not); ``manifest``: for the
    program version, time, audit head and whether secrets are included; ``state``: progress of the
    entropy passes (step ``entropy``) and cancel (the report is then incomplete: check the state).
    """
    context = report_context(case, evidence, records, manifest, state)
    return environment().get_template(REPORT_TEMPLATE).render(context)


__all__ = ["render_report", "report_context", "environment", "template_dirs", "entropy_png", "png_data_url",
           "hex_pieces", "CSP", "STEP_ENTROPY", "REPORT_TEMPLATE"]
