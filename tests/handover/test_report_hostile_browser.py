"""A hostile case's report.html in headless Chromium: no script runs, no handler fires, nothing is fetched.

The case (tests/handover/hostile_case.py) holds markup in every string field — a script, an ``onerror``
image, an attribute break-out into an ``onload`` SVG, a ``javascript:`` link, and elements that would
fetch from the test's own HTTP server on 127.0.0.1 (:class:`Trap`). Its report is rendered by the real
code (``render_case_report``) and opened from a file, as an examiner opens it. Asserted on the DOM
Chromium dumps after the page settled: no script, iframe or object element, no attribute ``on*``, no
link other than the report's own ``#f-`` anchors and the data-URL plot; no script ran (a payload that ran
would set ``document.title`` and a ``data-pwned`` attribute on ``<html>``); the trap got no request; the
console shows nothing but CSP reports.

Two control pages show that the test can fail: the same markup unescaped and without the CSP runs and
calls the trap; and the report's Content-Security-Policy alone (its meta element before raw markup, as if
escaping had failed) stops the scripts, the handlers and the fetches. Chromium is driven as in
test_report_browser.py (Debian's chromium, `make deps`; the tests fail, never skip, without it).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.handover.hostile_case import MARKUP, PWNED, hostile_case
from tests.handover.test_report_browser import SAMPLE, _page_console, _run_chromium
from viewer.handover.bundle import render_case_report

pytestmark = pytest.mark.slow  # each test starts headless Chromium

CSP_WORDS = ("Content Security Policy", "Content-Security-Policy")


class Trap:
    """An HTTP server on 127.0.0.1 (a free port) recording every request, answering each with a small
    body: what the hostile markup would fetch from."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        seen = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's hook name
                seen.append(self.path)
                body = b"/* */"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET  # noqa: N815 - a submitted form counts too

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def trap() -> Iterator[Trap]:
    t = Trap()
    yield t
    t.close()


class DomFacts(HTMLParser):
    """What a dumped DOM holds: its tags, every attribute as (tag, name, value), the title's text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []
        self.title, self._in_title = "", False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend((tag, k, v or "") for k, v in attrs)
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data

    def ran(self) -> list[tuple[str, str, str]]:
        """The marks a payload that ran leaves."""
        return [a for a in self.attrs if a[1] == "data-pwned"]


def _dump_dom(url: str) -> tuple[DomFacts, list[str]]:
    """The DOM after the page settled (virtual time lets loads and timers run) and the page's console."""
    proc = _run_chromium(url, "--dump-dom", "--virtual-time-budget=5000")
    return DomFacts(proc.stdout), _page_console(proc.stderr, url)


def _not_csp(console: list[str]) -> list[str]:
    return [ln for ln in console if not any(w in ln for w in CSP_WORDS)]


def _page(path: Path, head: str, port: int, markup: tuple[str, ...]) -> str:
    body = "".join(m.format(port=port) for m in markup)
    path.write_text(f"<!DOCTYPE html><html><head><meta charset=utf-8>{head}<title>control</title></head>"
                    f"<body>{body}</body></html>", encoding="utf-8")
    return path.as_uri()


def test_hostile_case_report_runs_nothing_and_fetches_nothing(demo_scan, tmp_path: Path, trap: Trap) -> None:
    cf, given = hostile_case(tmp_path, SAMPLE, demo_scan.findings_json, trap.port)
    html = tmp_path / "report.html"
    html.write_text(render_case_report(cf), encoding="utf-8")
    dom, console = _dump_dom(html.as_uri())
    assert not {"script", "iframe", "object", "embed", "svg", "link", "base", "form"} & set(dom.tags)
    handlers = [a for a in dom.attrs if a[1].startswith("on")]
    assert not handlers, handlers[:5]
    assert not dom.ran()  # no script ran: none marked <html>, none changed the title (the case name, as text)
    assert dom.title == "Case report: " + given.given[0] and dom.title != PWNED
    links = [v for _t, k, v in dom.attrs if k in ("href", "src", "action", "data", "poster", "srcset")]
    odd = [v for v in links if not v.startswith(("#f-", "data:image/png;base64,"))]
    assert not odd, odd[:5]
    assert trap.requests == [], trap.requests  # nothing was fetched
    assert not _not_csp(console), console
    assert dom.tags.count("img") == 1 and dom.tags.count("div") > len(cf.case.findings)  # the whole report


def test_control_unescaped_markup_runs_and_calls_the_trap(tmp_path: Path, trap: Trap) -> None:
    """Without escaping and without the CSP the same markup runs and fetches: the test above can fail.
    (The meta refresh goes on a page of its own: it navigates away, taking the DOM with it.)"""
    dom, _ = _dump_dom(_page(tmp_path / "control.html", "", trap.port, tuple(m for m in MARKUP if "refresh" not in m)))
    assert dom.ran() and dom.title == PWNED
    assert {"/img", "/css", "/imp", "/frame", "/js", "/object", "/bg"} <= set(trap.requests), trap.requests
    _dump_dom(_page(tmp_path / "refresh.html", "", trap.port, tuple(m for m in MARKUP if "refresh" in m)))
    assert "/refresh" in trap.requests, trap.requests


def test_control_the_reports_csp_alone_stops_injected_markup(demo_scan, tmp_path: Path, trap: Trap) -> None:
    """The second wall: the report's own CSP meta element, then raw markup as if escaping had failed. No
    script runs, no handler fires, nothing is fetched. (A meta refresh is a navigation, which CSP does not
    govern: only the escaping stops that one, so it is left out here.)"""
    cf, _ = hostile_case(tmp_path, SAMPLE, demo_scan.findings_json[:1], trap.port)
    report = render_case_report(cf)
    start = report.index('<meta http-equiv="Content-Security-Policy"')
    csp_meta = report[start:report.index(">", start) + 1]
    markup = tuple(m for m in MARKUP if "refresh" not in m)
    dom, console = _dump_dom(_page(tmp_path / "csp.html", csp_meta, trap.port, markup))
    assert not dom.ran() and dom.title == "control"
    assert trap.requests == [], trap.requests
    assert not _not_csp(console), console
