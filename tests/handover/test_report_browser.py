"""The bundle's report.html in a real browser: headless Chromium renders it without console errors.

A real case (passphrase, no keyring; the sample core scanned by the real engine, one finding annotated with
a hostile comment) is exported as a bundle; its report.html is opened in Debian's chromium (installed by
`make deps`: it is in the Makefile's DEB_PACKAGES). The test fails, never skips, without chromium.

Chromium prints each console message of the page as ``...:INFO:CONSOLE:<line>] "<text>", source: <url>``
(console.log, console.error and uncaught exceptions alike, all at INFO) when run with
``--enable-logging=stderr --log-level=0``; the report has no script, so any such line about it is an error.
Set EV_SCREENSHOTS to a folder to keep the screenshot.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pytest

from viewer.handover.bundle import export_bundle

pytestmark = pytest.mark.slow  # each test starts headless Chromium

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "sample" / "demo-keyholder.core"
PASSPHRASE = "correct horse battery staple"
COMMENT = "<script>console.error('injected')</script> & \"quoted\" <b>not bold</b>"
# Required on this machine (root, no GPU, no network); each run gets its own fresh profile.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--enable-logging=stderr", "--v=0", "--log-level=0"]
CONSOLE = re.compile(r":CONSOLE(?::\d+)?\]|CONSOLE\(\d+\)|Uncaught")


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, "chromium is missing: run `make deps` as root (it is in the Makefile's DEB_PACKAGES)"
    return exe


def _run_chromium(url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="ev-chromium-") as profile:
        proc = subprocess.run([_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url],
                              capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"chromium failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc


def _page_console(stderr: str, url: str) -> list[str]:
    """Console messages of the page (Chromium's own dbus/gpu/network noise does not match)."""
    return [ln for ln in stderr.splitlines()
            if CONSOLE.search(ln) and ("source: " + url in ln or "source: file:" in ln or "Uncaught" in ln)]


@pytest.fixture(scope="module")
def report(tmp_path_factory, case_factory, demo_scan) -> tuple[Path, list[str]]:
    folder = tmp_path_factory.mktemp("report-browser")
    cf = case_factory.create(folder / "demo.evcase", "Demo <case> & co", "Examiner \"E\"", number="42/<7>",
                             passphrase=PASSPHRASE)
    ref = cf.add_evidence(SAMPLE)
    result = demo_scan.result  # the demo core's default scan, done once per session
    cf.merge_scan(ref.sha256, [f.to_json() for f in result.findings], {"deep": False, "detectors": "default"})
    first = cf.case.findings[0]
    cf.annotate(first.id, status="confirmed", comment=COMMENT, evidence_sha256=first.evidence_sha256)
    cf.save()
    ids = [f.id for f in cf.case.findings]
    assert ids
    bundle = folder / "demo-bundle.zip"
    export_bundle(cf, bundle)
    out = folder / "report.html"
    with zipfile.ZipFile(bundle) as zf:
        out.write_bytes(zf.read("report.html"))
    return out, ids


def test_report_renders_every_finding_without_console_errors(report):
    html, ids = report
    url = html.as_uri()
    proc = _run_chromium(url, "--dump-dom")
    dom = proc.stdout
    assert "<html" in dom and "</html>" in dom
    missing = [i for i in ids if f'id="f-{i}"' not in dom]
    assert not missing, f"{len(missing)} of {len(ids)} findings not in the rendered DOM: {missing[:5]}"
    assert "console.error('injected')" in dom.replace("&#x27;", "'").replace("&#39;", "'")  # shown as text
    assert "<script" not in dom  # the comment's markup stayed text
    assert not _page_console(proc.stderr, url), _page_console(proc.stderr, url)


def test_report_screenshot(report, tmp_path):
    html, _ = report
    url = html.as_uri()
    png = tmp_path / "report.png"
    proc = _run_chromium(url, f"--screenshot={png}", "--window-size=1200,3000")
    assert png.is_file(), proc.stderr[-3000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1200, 3000)
    assert len(data) > 20_000, f"a {len(data)}-byte screenshot: blank page?"
    assert not _page_console(proc.stderr, url), _page_console(proc.stderr, url)
    if os.environ.get("EV_SCREENSHOTS"):
        keep = Path(os.environ["EV_SCREENSHOTS"])
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, keep / "report-browser.png")


def test_embedded_entropy_plot_is_drawn_by_the_browser(report, tmp_path):
    """The plot's data-URL PNG, exactly as report.html carries it, decoded and painted by Chromium: the
    screenshot shows the red band of the demo key's findings and the black entropy line."""
    from PIL import Image

    html, _ = report
    text = html.read_text(encoding="utf-8")
    start = text.index("<img ")
    img_tag = text[start : text.index(">", start) + 1]
    assert 'src="data:image/png;base64,' in img_tag
    page = tmp_path / "plot.html"
    page.write_text(f'<!DOCTYPE html><html><body style="margin:0;background:#fff">{img_tag}</body></html>',
                    encoding="utf-8")
    png = tmp_path / "plot.png"
    proc = _run_chromium(page.as_uri(), f"--screenshot={png}", "--window-size=1000,240")
    assert png.is_file(), proc.stderr[-3000:]
    shot = Image.open(png).convert("RGB")
    pixels = [shot.getpixel((x, y)) for x in range(0, 900, 2) for y in range(0, 170, 2)]
    reds = [p for p in pixels if p[0] > 180 and p[1] < 170 and p[2] < 170]
    darks = [p for p in pixels if sum(p) < 150]
    assert reds and darks, "the embedded plot was not painted"
    assert all(p == (255, 255, 255) for p in (shot.getpixel((x, 220)) for x in range(0, 1000, 10)))  # below it
    if os.environ.get("EV_SCREENSHOTS"):
        keep = Path(os.environ["EV_SCREENSHOTS"])
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, keep / "report-plot-browser.png")
