"""report.html without a browser: a hostile case's report shows every one of its strings as text.

The case (tests/handover/hostile_case.py) holds markup in every string field; its report is rendered by
the real code and read back with the standard library's HTML parser: only the report's own tags and
attributes are there, every hostile string is in the page's text (escaped, so the parser gives it back
whole), the Content-Security-Policy heads the document. Also checked: the scan-run counters (the stored XSS
that was found) are escaped, the template marks nothing safe and fails on an undefined name, and the
templates are found in the source tree.
"""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser
from pathlib import Path

import jinja2
import markupsafe
import pytest

from tests.handover.hostile_case import hostile_case
from viewer.handover import report
from viewer.handover.bundle import render_case_report

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "resources" / "sample" / "demo-keyholder.core"
# Written out here, not imported: the test says what the policy must be.
POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
REPORT_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "table", "tr", "th", "td",
               "br", "code", "ul", "li", "a", "div", "span", "b", "pre", "img"}
REPORT_ATTRS = {"lang", "charset", "http-equiv", "name", "content", "class", "id", "href", "src", "width", "height",
                "alt"}


class Page(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, demo_scan):
    folder = tmp_path_factory.mktemp("hostile-report")
    cf, given = hostile_case(folder, SAMPLE, demo_scan.findings_json, port=9)
    html = render_case_report(cf)
    return html, Page(html), given, cf


def test_only_the_reports_own_tags_and_attributes(hostile) -> None:
    _html, page, _given, cf = hostile
    tags = {t for t, _ in page.tags}
    assert tags <= REPORT_TAGS, tags - REPORT_TAGS
    names = {k for _, attrs in page.tags for k in attrs}
    assert names <= REPORT_ATTRS, names - REPORT_ATTRS
    links = [a.get("href", a.get("src")) for t, a in page.tags if t in ("a", "img")]
    assert links and all(v.startswith(("#f-", "data:image/png;base64,")) for v in links)
    assert sum(t == "img" for t, _ in page.tags) == 1  # the plot: the evidence is reachable
    assert sum(t == "div" and a.get("class") == "finding" for t, a in page.tags) == len(cf.case.findings)


def test_every_hostile_string_is_shown_as_text(hostile) -> None:
    html, page, given, _cf = hostile
    text = "".join(page.text)
    missing = [v for v in given.given
               if v not in text and json.dumps(v)[1:-1] not in text and json.dumps(v, ensure_ascii=False)[1:-1] not in text]
    assert not missing, missing[:5]
    for v in given.given:  # and never as markup: the raw string is nowhere in the source
        assert v[1:] not in html, v
    low = html.lower()
    for raw in ("<script", "<svg", "<iframe", "<link", "<base", "<form", "<object", "<video", "<a href=\"j"):
        assert raw not in low, raw  # (javascript: and http:// are there, as text)
    assert low.count("<meta ") == 3 and low.count("<img ") == 1


def test_csp_heads_the_document(hostile) -> None:
    _html, page, _given, _cf = hostile
    heads = [t for t, _ in page.tags[:6]]
    assert heads[:5] == ["html", "head", "meta", "meta", "meta"]
    charset, csp, referrer = (a for _, a in page.tags[2:5])
    assert charset == {"charset": "utf-8"}
    assert csp == {"http-equiv": "Content-Security-Policy", "content": POLICY}
    assert referrer == {"name": "referrer", "content": "no-referrer"}


def test_scan_run_counters_are_escaped(hostile) -> None:
    """The stored XSS that was found: a scan run's counters written unescaped."""
    html, _page, _given, cf = hostile
    for s in cf.case.scans:
        for value in (s.findings, s.new, s.stale):
            assert isinstance(value, str) and "<" in value
            assert str(markupsafe.escape(value)) in html


def test_the_plot_is_our_png_and_escaping_leaves_it_whole(hostile) -> None:
    _html, page, _given, _cf = hostile
    src = next(a["src"] for t, a in page.tags if t == "img")
    data = src.removeprefix("data:image/png;base64,")
    assert base64.b64decode(data, validate=True).startswith(b"\x89PNG\r\n\x1a\n")
    assert str(markupsafe.escape(src)) == src  # base64 has nothing escaping changes: no exemption needed


def test_templates_mark_nothing_safe_and_fail_on_a_missing_name() -> None:
    env = report.environment()
    assert env.autoescape is True and env.undefined is jinja2.StrictUndefined
    sources = [p.read_text(encoding="utf-8") for p in (REPO / "resources" / "templates").iterdir()]
    sources.append((REPO / "viewer" / "handover" / "report.py").read_text(encoding="utf-8"))
    for src in sources:
        squeezed = src.replace(" ", "")
        for bad in ("|safe", "Markup(", "autoescapefalse", "{%autoescape"):
            assert bad not in squeezed, bad
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ nothing_by_that_name }}").render()
    assert env.from_string("{{ v }}").render(v="<b>") == "&lt;b&gt;" and env.from_string("{{ v }}").render(v=None) == ""


def test_templates_are_read_from_the_source_tree() -> None:
    assert report.template_dirs()[0] == REPO / "resources" / "templates"
    assert Path(report.environment().get_template(report.REPORT_TEMPLATE).filename) == \
        REPO / "resources" / "templates" / "report.html.j2"


def test_a_size_that_is_not_a_number_is_shown_not_formatted() -> None:
    assert report.environment().from_string("{{ v|thousands }}").render(v=1234567) == "1,234,567"
    assert report.environment().from_string("{{ v|thousands }}").render(v="<i>9</i>") == "&lt;i&gt;9&lt;/i&gt;"
