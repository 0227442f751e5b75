"""The case report: one HTML file that opens offline and prints (``report.html`` of a case bundle).

Self-contained: inline CSS, no script, no image files, no external URL. The entropy plot of each dump is
an **embedded PNG** (a ``data:image/png;base64`` URL), as the issue asks: every browser shows it, it
prints, and Qt's QTextDocument (the window's Print to PDF) renders it, which it would not do for SVG.
It is drawn with Pillow at twice its display size so that it stays sharp on paper. Everything that comes from the case or the evidence —
names, paths, comments (user text), reasons, audit data — goes through :func:`html.escape`.

Content: case summary (examiner, number, description, evidence with size/format/SHA-256/state, the scan
settings of every scan run), the secrets table grouped by key id, every finding (location, region,
reasons, status, severity, tags, comments, the hex excerpt exactly as findings.json carries it: masked
unless the bundle includes secrets), an entropy plot per dump whose evidence file is reachable and
unchanged (findings marked: red secret, blue public context), and the audit trail.

Never imports Qt.
"""

from __future__ import annotations

import base64
import io
import json
from collections import defaultdict
from html import escape
from typing import Any

PLOT_W, PLOT_H = 900, 170
PLOT_SCALE = 2  # pixels per display pixel: sharp when printed
PLOT_MARGINS = (26, 30, 8, 18)  # left, right, top, bottom (display pixels): room for the axis labels
PLOT_POINTS = 900

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em;color:#111;font-size:14px}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #444;margin-top:1.8em}h3{margin:1.2em 0 .3em}
table{border-collapse:collapse;margin:.5em 0;width:100%}th,td{border:1px solid #bbb;padding:3px 6px;
text-align:left;vertical-align:top}th{background:#eee}code,.mono,pre{font-family:ui-monospace,Menlo,Consolas,
monospace;font-size:12px}.hash{word-break:break-all}.secret{color:#a00;font-weight:600}.public{color:#046}
.masked{color:#a00}.finding{border:1px solid #999;padding:.4em .8em;margin:.8em 0;page-break-inside:avoid}
.comment{background:#f6f6f0;border-left:3px solid #cc9;padding:.2em .6em;margin:.3em 0;white-space:pre-wrap}
.note{color:#555}.banner{padding:.5em;border:2px solid #a00;color:#a00;font-weight:700}
pre{background:#fafafa;border:1px solid #ddd;padding:.4em;overflow-x:auto}
img.plot{border:1px solid #ccc;background:#fff;max-width:100%;height:auto}
@media print{body{margin:0;font-size:11px}h2{page-break-after:avoid}.finding{border-color:#666}}
"""


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _hex_rows(segments: list[dict[str, Any]], masked: bool) -> str:
    """Hex dump lines (16 bytes each) of the excerpt segments; ``••`` stays as is."""
    lines = []
    for k, seg in enumerate(segments):
        if k:
            gap = seg["offset"] - (segments[k - 1]["offset"] + segments[k - 1]["length"])
            if gap > 0:
                lines.append(f"            … {gap} bytes not shown …")
        text, cells, i = seg["hex"], [], 0
        while i < len(text):
            if text.startswith("••", i):
                cells.append("••")
                i += 2
            else:
                cells.append(text[i:i + 2])
                i += 2
        for row in range(0, len(cells), 16):
            lines.append(f"{seg['offset'] + row:#010x}  {' '.join(cells[row:row + 16])}")
    body = _e("\n".join(lines))
    if masked:
        body = body.replace("••", '<span class="masked">••</span>')
    return f"<pre>{body}</pre>"


def _offset_label(value: int) -> str:
    from viewer.units import human_size

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


def entropy_img(pyramid: Any, size: int, findings: list[dict[str, Any]]) -> str:
    """The ``<img>`` element of :func:`entropy_png`, embedded as a data URL."""
    data = base64.b64encode(entropy_png(pyramid, size, findings)).decode("ascii")
    alt = f"entropy of {size:,} bytes; {len(findings)} finding(s) marked"
    return (f'<img class="plot" src="data:image/png;base64,{data}" width="{PLOT_W}" height="{PLOT_H}" '
            f'alt="{_e(alt)}">')


def _plot_section(evidence: list[Any], records: list[dict[str, Any]], progress: Any = None) -> list[str]:
    """The entropy plots. ``progress``: the export's (``progress(done, total)``, ``is_cancelled``, ``done``
    and ``check()``, which raises when the examiner cancelled)."""
    from viewer.scan.entropy import DEFAULT_BLOCK, compute_entropy

    out = ["<h2>Entropy</h2>",
           '<p class="note">Shannon entropy per block (black: mean, grey: max; 0–8 bits per byte). '
           "Red marks: secret findings; blue: public context.</p>"]
    for e in evidence:
        out.append(f"<h3>{_e(e.ref.path)}</h3>")
        if e.dump is None:
            out.append(f'<p class="note">No plot: the evidence file is {_e(e.state)}.</p>')
            continue
        pyramid = compute_entropy(e.dump, DEFAULT_BLOCK, progress)
        if progress is not None:
            progress.done += int(e.dump.size)
            progress.check()  # cancelled during the pass: the plot would be partial
        mine = [r for r in records if r["evidence_sha256"] == e.ref.sha256]
        out.append(entropy_img(pyramid, int(e.dump.size), mine))
    return out


def render_report(case: Any, evidence: list[Any], records: list[dict[str, Any]], manifest: dict[str, Any],
                  progress: Any = None) -> str:
    """The report as one HTML string.

    ``evidence``: objects with ``ref`` (EvidenceRef), ``state`` and ``dump`` (an open Dump or None);
    ``records``: the findings.json records (excerpts already masked or not); ``manifest``: for the
    program version, time, audit head and whether secrets are included.
    """
    secrets = manifest["secrets_included"]
    h: list[str] = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
                    f"<title>Case report: {_e(case.name)}</title><style>{CSS}</style></head><body>",
                    f"<h1>Case report: {_e(case.name)}</h1>"]
    if secrets:
        h.append('<p class="banner">This report INCLUDES SECRET BYTES (exported with --include-secrets). '
                 "Handle it as key material.</p>")
    else:
        h.append('<p class="note">Secret bytes are masked (••); key ids stand in for keys.</p>')
    head = manifest["audit"]["head"]
    h.append("<h2>Case</h2><table>")
    for label, value in [
        ("Case id", case.id), ("Number", case.number), ("Examiner", case.examiner),
        ("Description", case.description), ("Created", case.created), ("Modified", case.modified),
        ("Report made", f"{manifest['created']} by {manifest['created_by']}"),
        ("Program", f"{manifest['program']['name']} {manifest['program']['version']}"),
        ("Audit head", f"event {head['seq']}, {head['hash']}"),
    ]:
        h.append(f"<tr><th>{_e(label)}</th><td class=\"hash\">{_e(value)}</td></tr>")
    h.append("</table><h3>Evidence</h3><table><tr><th>Path</th><th>Format</th><th>Size</th><th>SHA-256</th>"
             "<th>State</th><th>Added</th></tr>")
    for e in evidence:
        r = e.ref
        h.append(f"<tr><td>{_e(r.path)}</td><td>{_e(r.format)}</td><td>{r.size:,}</td>"
                 f"<td class=\"hash mono\">{_e(r.sha256)}</td><td>{_e(e.state)}</td>"
                 f"<td>{_e(r.added_at)}<br>{_e(r.added_by)}</td></tr>")
    h.append("</table><h3>Scan runs</h3>")
    if case.scans:
        h.append("<table><tr><th>Time</th><th>Evidence</th><th>Scanner</th><th>Findings</th><th>Settings</th></tr>")
        for s in case.scans:
            h.append(f"<tr><td>{_e(s.time)}<br>{_e(s.author)}</td><td class=\"hash mono\">{_e(s.evidence_sha256[:16])}…</td>"
                     f"<td>{_e(s.scanner_version)}</td><td>{s.findings} ({s.new} new, {s.stale} stale)</td>"
                     f"<td><code>{_e(json.dumps(s.settings, sort_keys=True))}</code></td></tr>")
        h.append("</table>")
    else:
        h.append('<p class="note">No scan runs.</p>')

    # secrets grouped by key id
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        if r.get("secret", True):
            groups[r.get("key_id") or "(no key id)"].append(r)
    h.append(f"<h2>Secrets</h2><p>{len(groups)} key(s), {sum(map(len, groups.values()))} secret finding(s).</p>")
    if groups:
        h.append("<table><tr><th>Key id</th><th>Kind</th><th>Confidence</th><th>Locations</th><th>Statuses</th>"
                 "<th>Findings</th></tr>")
        order = {"low": 1, "medium": 2, "high": 3, "confirmed": 4}
        for key, rs in sorted(groups.items()):
            kinds = sorted({r["kind"] for r in rs})
            conf = max((r["confidence"] for r in rs), key=lambda c: order.get(c, 0))
            statuses = sorted({r["review"]["status"] for r in rs})
            ids = " ".join(f'<a href="#f-{_e(r["id"])}">{_e(r["id"])}</a>' for r in rs)
            h.append(f"<tr><td class=\"hash mono\">{_e(key)}</td><td>{_e(', '.join(kinds))}</td><td>{_e(conf)}</td>"
                     f"<td>{len(rs)}</td><td>{_e(', '.join(statuses))}</td><td class=\"mono\">{ids}</td></tr>")
        h.append("</table>")

    # every finding
    h.append(f"<h2>Findings</h2><p>{len(records)} finding(s).</p>")
    paths = {e.ref.sha256: e.ref.path for e in evidence}
    for r in records:
        rv = r["review"]
        cls = "secret" if r.get("secret", True) else "public"
        va = "—" if r.get("vaddr") is None else f"{r['vaddr']:#x}"
        h.append(f'<div class="finding" id="f-{_e(r["id"])}"><h3><span class="{cls}">{_e(r["kind"])}</span> '
                 f'<code>{_e(r["id"])}</code></h3><table>')
        rows = [
            ("Evidence", f"{paths.get(r['evidence_sha256'], '?')} ({r['evidence_sha256'][:16]}…)"),
            ("Location", f"file offset {int(r['offset']):#x} ({r['offset']}), {r['length']} bytes, va {va}"),
            ("Region", r.get("region") or "(outside any region)"),
            ("Encoding", r["encoding"]), ("Confidence", r["confidence"]),
            ("Secret", "yes" if r.get("secret", True) else "no (public context)"),
            ("Key id", r.get("key_id") or "—"), ("Matches", ", ".join(r.get("matches") or []) or "—"),
            ("Status", rv["status"] + (" (stale: the last scan no longer reports it)" if r["stale"] else "")),
            ("Severity", rv["severity"]), ("Tags", ", ".join(rv["tags"]) or "—"),
        ]
        for label, value in rows:
            h.append(f"<tr><th>{_e(label)}</th><td>{_e(value)}</td></tr>")
        reasons = "".join(f"<li>{_e(x)}</li>" for x in r.get("reasons") or [])
        h.append(f"<tr><th>Reasons</th><td><ul>{reasons}</ul></td></tr></table>")
        for c in rv["comments"]:
            edited = f" (edited {_e(c['edited_at'])})" if c.get("edited") else ""
            h.append(f'<div class="comment"><b>{_e(c["author"])}</b> {_e(c["time"])}{edited}\n{_e(c["text"])}</div>')
        ex = r.get("excerpt")
        if ex is None:
            h.append('<p class="note">No excerpt: the evidence file is not reachable or has changed.</p>')
        else:
            h.append(_hex_rows(ex["segments"], ex["masked"]))
        h.append("</div>")

    h.extend(_plot_section(evidence, records, progress))

    h.append("<h2>Audit trail</h2><table><tr><th>#</th><th>Time</th><th>Author</th><th>Type</th><th>Data</th>"
             "<th>Hash</th></tr>")
    for ev in case.audit:
        h.append(f"<tr><td>{_e(ev.get('seq'))}</td><td>{_e(ev.get('time'))}</td><td>{_e(ev.get('author'))}</td>"
                 f"<td>{_e(ev.get('type'))}</td><td><code>{_e(json.dumps(ev.get('data'), sort_keys=True, ensure_ascii=False))}"
                 f"</code></td><td class=\"hash mono\">{_e(ev.get('hash'))}</td></tr>")
    h.append("</table></body></html>\n")
    return "\n".join(h)


__all__ = ["render_report", "entropy_png", "entropy_img", "CSS"]
