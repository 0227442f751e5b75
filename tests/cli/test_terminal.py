"""Nothing from a dump, a case or a bundle reaches the examiner's terminal as control sequences.

The rule (:func:`viewer.cli.terminal.safe`) is tested on every code point; then the real
``evidence-viewer`` runs in a child process on hostile inputs — a minidump whose file name, module name,
thread name and comment streams carry :data:`~tests.cli.hostile_text.HOSTILE`, a case whose name,
examiner, number, description, comment, tags, bookmark and audit author carry it, bundles whose member
names and manifest carry it — and every byte of its stdout and stderr is checked: no ESC, BEL, C1 CSI,
bidi override or isolate, CR or DEL; their visible escapes instead; friendly names (``Müller``, CJK, a
Windows path) unchanged.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import unicodedata
import zipfile
from pathlib import Path

import orjson
import pytest

from tests.builders.case import CaseFactory
from tests.builders.terminal import stderr_on_a_terminal
from tests.cli.hostile_text import (
    FRIENDLY,
    HOSTILE,
    assert_no_raw_controls,
    hostile_minidump,
    rsa_pem,
)
from viewer.cli.common import JSON_BATCH, write_json
from viewer.cli.terminal import EscapingStream, emit, guarded_streams, json_safe, safe, unguarded

REPO = Path(__file__).resolve().parents[2]
EXE = [sys.executable, "-m", "viewer.cli.main"]
ENV_KEYS = ("EVIDENCE_VIEWER_PASSPHRASE", "EVIDENCE_VIEWER_NEW_PASSPHRASE")
# A file name may hold anything but "/" and NUL: the hostile text itself.
HOSTILE_NAME = HOSTILE.replace("/", "_")


def run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """The real command line, bytes out (stdin not a terminal, no passphrase inherited)."""
    base = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    return subprocess.run([*EXE, *map(str, args)], capture_output=True, timeout=300, stdin=subprocess.DEVNULL,
                          env={**base, **(env or {})}, cwd=REPO)


def strings(value: object) -> list[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


# -- the rule ---------------------------------------------------------------------------------------
def test_safe_escapes_every_control_and_format_character():
    unsafe = [chr(cp) for cp in range(0x110000) if unicodedata.category(chr(cp)) in ("Cc", "Cf", "Cs", "Zl", "Zp")]
    assert len(unsafe) > 2000  # C0, DEL, C1, the format characters, the surrogates
    text = "".join(unsafe)
    out = safe(text)
    assert out.isascii() and out.isprintable()
    assert len(out) >= 4 * len(unsafe)
    for ch in "\x1b\x07\x00\x7f\x9b\x85\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\u200e\ufeff":
        assert ch in unsafe and safe(ch) != ch
    assert safe("\x1b]0;pwned\x07") == "\\x1b]0;pwned\\x07"
    assert safe("\x9b") == "\\x9b" and safe("\u202e") == "\\u202e" and safe("\U000e0001") == "\\U000e0001"
    assert safe("a\nb\r\tc") == "a\\x0ab\\x0d\\x09c"
    assert safe("\ud800") == "\\ud800"  # a lone surrogate (surrogateescape): printable, and encodable


@pytest.mark.parametrize("text", [FRIENDLY, "C:\\Windows\\System32\\ntdll.dll", "libc.so.6 (deleted)", "🔑 ключ",
                                  "", " ~!@#$%^&*()_+`-={}[]|:;'<>?,./"])
def test_safe_leaves_printable_text_alone(text):
    assert safe(text) == text


def test_json_safe_is_the_same_json_value_and_shows_no_control():
    values = [HOSTILE, FRIENDLY, "\U000e0001 tag", "\x7f", {"k\u202e": [HOSTILE, 1, None]}]
    for value in values:
        encoded = json_safe(orjson.dumps(value).decode())
        assert json.loads(encoded) == value
        assert safe(encoded) == encoded  # nothing left to escape for a terminal
    assert json_safe('{"a": 1}\n') == '{"a": 1}\n'  # JSON's own whitespace kept


@pytest.mark.parametrize("pretty", [False, True])
def test_write_json_writes_nothing_raw(pretty):
    doc = {"name": HOSTILE, "big": [{"region": HOSTILE}] * (JSON_BATCH + 3), HOSTILE: FRIENDLY,
           "huge": 2**70}  # an integer past 64 bits takes the standard library's encoder
    out = io.StringIO()
    write_json(doc, out, pretty=pretty)
    text = out.getvalue()
    assert json.loads(text) == doc
    assert safe(text.replace("\n", "")) == text.replace("\n", "")


def test_emit_escapes_each_line_whole_and_ends_it():
    out = io.StringIO()
    emit(f"module    {HOSTILE}", "", FRIENDLY, file=out)
    lines = out.getvalue().split("\n")
    assert lines == [f"module    {safe(HOSTILE)}", "", FRIENDLY, ""]
    assert "\\x0awarnings  none" in lines[0]  # the forged line stays inside its own line
    out = io.StringIO()
    emit(file=out)
    assert out.getvalue() == ""


def test_guarded_streams_escape_a_stray_write_but_keep_newlines(capsys):
    with guarded_streams():
        assert isinstance(sys.stdout, EscapingStream) and isinstance(sys.stderr, EscapingStream)
        print(f"stray {HOSTILE}\nnext")
        print(HOSTILE, file=sys.stderr)
        unguarded(sys.stderr).write("\r")  # the progress line's own carriage return
        with guarded_streams():  # entered twice: not wrapped twice
            assert not isinstance(sys.stdout.unguarded, EscapingStream)
    assert not isinstance(sys.stdout, EscapingStream)
    out, err = capsys.readouterr()
    kept_newline = safe(HOSTILE).replace("\\x0a", "\n")
    assert out == f"stray {kept_newline}\nnext\n"
    assert err == f"{kept_newline}\n\r"


# -- hostile inputs ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The hostile minidump (named hostile too), and a friendly one named ``FRIENDLY``."""
    root = tmp_path_factory.mktemp("hostile")
    pem = rsa_pem()
    dump = root / f"dump {HOSTILE_NAME}.dmp"
    dump.write_bytes(hostile_minidump(f"C:\\evil\\{HOSTILE}.dll", HOSTILE, HOSTILE, bytes(256) + pem))
    friendly = root / f"{FRIENDLY.replace(chr(92), '_')}.dmp"
    friendly.write_bytes(hostile_minidump(f"C:\\Programme\\{FRIENDLY}.dll", FRIENDLY, FRIENDLY, bytes(256) + pem))
    return {"root": root, "dump": dump, "friendly": friendly}


@pytest.mark.slow
def test_info_text_and_json_show_hostile_strings_escaped(hostile):
    proc = run("info", hostile["dump"])
    assert proc.returncode == 0, proc.stderr
    text = assert_no_raw_controls(proc.stdout)
    assert f"file      {safe(str(hostile['dump']))}" in text
    assert text.splitlines().count("warnings  none") == 1  # the report's own line; the forged one is inside
    assert_no_raw_controls(proc.stderr, escaped=False)
    proc = run("info", "--json", hostile["dump"])
    assert proc.returncode == 0, proc.stderr
    assert_no_raw_controls(proc.stdout, escaped=False)
    doc = json.loads(proc.stdout)
    assert doc["modules"][0]["name"] == f"C:\\evil\\{HOSTILE}.dll"  # the exact value, for programs
    assert doc["threads"][0]["name"] == HOSTILE and HOSTILE in doc["comments"]


@pytest.mark.slow
def test_friendly_names_are_shown_as_they_are(hostile):
    proc = run("info", hostile["friendly"])
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.decode().splitlines()
    assert f"file      {hostile['friendly']}" in lines
    assert any(line.endswith(f"  C:\\Programme\\{FRIENDLY}.dll") for line in lines), lines


@pytest.mark.slow
@pytest.mark.parametrize("form", [[], ["--json"], ["--sarif"]])
def test_scan_places_the_key_in_a_hostile_region_and_prints_it_escaped(hostile, form):
    proc = run("scan", *form, hostile["dump"])
    assert proc.returncode == 1, proc.stderr  # the key is found
    assert_no_raw_controls(proc.stdout, escaped=not form)
    assert_no_raw_controls(proc.stderr, escaped=False)
    if form:  # the exact value, for programs
        assert any(f"{HOSTILE}.dll" in text for text in strings(json.loads(proc.stdout)))
    else:
        assert f"{safe(HOSTILE)}.dll" in proc.stdout.decode()  # the finding's region: the module


@pytest.mark.slow
def test_entropy_and_unreadable_paths_are_escaped(hostile, tmp_path):
    proc = run("entropy", hostile["dump"])
    assert proc.returncode == 0, proc.stderr
    assert_no_raw_controls(proc.stdout)
    proc = run("info", tmp_path / f"missing {HOSTILE_NAME}.dmp")
    assert proc.returncode == 2 and proc.stdout == b""
    err = assert_no_raw_controls(proc.stderr)
    assert err.count("\n") == 1 and err.startswith("evidence-viewer: ")


@pytest.mark.slow
def test_argparse_quoting_a_hostile_argument_is_escaped(hostile):
    proc = run("scan", "--min-confidence", HOSTILE, hostile["dump"])
    assert proc.returncode == 2
    assert_no_raw_controls(proc.stderr, escaped=False)
    assert b"\\x1b" in proc.stderr
    proc = run("info", "--no-such-flag", HOSTILE)  # argparse's own usage error (the stream guard)
    assert proc.returncode == 2
    assert_no_raw_controls(proc.stderr, escaped=False)


@pytest.mark.slow
def test_the_progress_line_on_a_terminal_shows_the_name_escaped(hostile):
    """stderr a real pseudo-terminal: the progress line is drawn; only its own carriage returns are raw."""
    returncode, _out, seen = stderr_on_a_terminal([*EXE, "scan", "--json", str(hostile["dump"])], REPO)
    assert returncode == 1
    text = assert_no_raw_controls(seen, allow_cr=True)
    assert "scanning dump \\x1b]0;pwned\\x07" in text


# -- a hostile case ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hostile_case(hostile, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | str]:
    """A case whose every text field is hostile, its finding annotated and commented with it."""
    from viewer.evidence import open_dump
    from viewer.scan.engine import scan_dump

    root = tmp_path_factory.mktemp("case")
    factory = CaseFactory()
    path = root / f"case {HOSTILE_NAME}.evcase"
    cf = factory.create(path, name=HOSTILE, examiner=HOSTILE, number=HOSTILE, description=HOSTILE,
                        author_name=HOSTILE)
    ref = cf.add_evidence(hostile["dump"])
    with open_dump(hostile["dump"]) as dump:
        result = scan_dump(dump)
    assert result.findings
    cf.merge_scan(ref.sha256, [f.to_json() for f in result.findings], {"deep": False, HOSTILE: HOSTILE})
    fid = result.findings[0].id
    cf.annotate(fid, status="confirmed", comment=HOSTILE, tags=[HOSTILE], author=HOSTILE)
    cf.add_bookmark(ref.sha256, 0, 16, HOSTILE, note=HOSTILE, author=HOSTILE)
    cf.save()
    return {"case": path, "fid": fid, "pw": factory.passphrase}


def case_run(case: dict[str, Path | str], *args: str | Path) -> subprocess.CompletedProcess[bytes]:
    return run("case", *args, "--no-keyring", env={"EVIDENCE_VIEWER_PASSPHRASE": str(case["pw"])})


@pytest.mark.slow
def test_case_show_and_audit_print_a_hostile_case_escaped(hostile_case):
    c = hostile_case["case"]
    proc = case_run(hostile_case, "show", c)
    assert proc.returncode == 0, proc.stderr
    text = assert_no_raw_controls(proc.stdout)
    assert f"case      {safe(HOSTILE)} ({safe(HOSTILE)})" in text and f"examiner  {safe(HOSTILE)}" in text
    for args in (["show", c, "--json"], ["show", c, "--json", "--pretty"], ["audit", c, "--json"],
                 ["audit", c, "--verify", "--json"]):
        proc = case_run(hostile_case, *args)
        assert proc.returncode == 0, proc.stderr
        assert_no_raw_controls(proc.stdout, escaped=False)
        json.loads(proc.stdout)
    doc = json.loads(case_run(hostile_case, "show", c, "--json").stdout)
    assert doc["case"]["name"] == HOSTILE
    assert [(x["text"], x["author"].split(" (")[0]) for f in doc["findings"] for x in f["comments"]] == [
        (HOSTILE, HOSTILE)]
    proc = case_run(hostile_case, "audit", c)
    assert proc.returncode == 0, proc.stderr
    listing = assert_no_raw_controls(proc.stdout, escaped=False)
    assert "\\x1b]0;pwned\\x07" in listing and "\\u202e" in listing
    assert len(listing.splitlines()) == len(json.loads(case_run(hostile_case, "audit", c, "--json").stdout)["events"])
    proc = case_run(hostile_case, "audit", c, "--verify")
    assert proc.returncode == 0 and b"intact" in proc.stdout
    proc = case_run(hostile_case, "annotate", c, hostile_case["fid"], "--comment", HOSTILE)
    assert proc.returncode == 0, proc.stderr
    assert_no_raw_controls(proc.stdout + proc.stderr, escaped=False)
    proc = case_run(hostile_case, "annotate", c, f"no-such-{HOSTILE}", "--status", "confirmed")
    assert proc.returncode == 2
    assert_no_raw_controls(proc.stderr, escaped=False)
    assert proc.stderr.count(b"\n") == 1
    proc = case_run(hostile_case, "slots", c)
    assert proc.returncode == 0
    assert_no_raw_controls(proc.stdout + proc.stderr, escaped=False)


# -- hostile bundles --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bundle(hostile_case, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hostile case exported (its evidence included) to a bundle that verifies."""
    from viewer.case import open_case
    from viewer.handover.bundle import export_bundle

    out = tmp_path_factory.mktemp("bundle") / "hostile.zip"
    cf = open_case(hostile_case["case"], passphrase=str(hostile_case["pw"]), use_keyring=False)
    export_bundle(cf, out, include_evidence=True)
    return out


def rewritten(src: Path, dest: Path, *, manifest: dict | None = None, extra: dict[str, bytes] | None = None) -> Path:
    """A copy of bundle ``src`` with its manifest replaced and members added (names taken as given)."""
    from viewer.handover.bundle import MANIFEST

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == MANIFEST and manifest is not None:
                data = json.dumps(manifest).encode()
            zout.writestr(info, data)
        for name, data in (extra or {}).items():
            zout.writestr(name, data)
    return dest


def manifest_of(path: Path) -> dict:
    from viewer.handover.bundle import MANIFEST

    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read(MANIFEST))


@pytest.mark.slow
def test_verify_and_extract_of_a_bundle_with_a_hostile_member_name(bundle, tmp_path):
    bad = rewritten(bundle, tmp_path / f"bad {HOSTILE_NAME}.zip", extra={f"report/{HOSTILE_NAME}.html": b"x"})
    proc = run("verify", bad)
    assert proc.returncode == 1, proc.stderr
    assert_no_raw_controls(proc.stdout, escaped=False)
    assert b"\\x1b" in proc.stdout
    proc = run("extract", bad, "--out", tmp_path / "out")
    assert proc.returncode == 1
    assert_no_raw_controls(proc.stdout, escaped=False)
    assert_no_raw_controls(proc.stderr)  # the bundle's own (hostile) path, in the one-line error
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.slow
def test_a_manifest_that_carries_hostile_text_is_shown_escaped(bundle, tmp_path):
    m = manifest_of(bundle)
    m["case"]["id"] = HOSTILE  # not covered by any hash: the manifest is the root of the hashes
    m["members"].append({"name": HOSTILE})  # malformed: quoted in the problem
    proc = run("verify", rewritten(bundle, tmp_path / "malformed.zip", manifest=m))
    assert proc.returncode == 1
    assert_no_raw_controls(proc.stdout, escaped=False)
    assert b"\\x1b]0;pwned\\x07" in proc.stdout
    m["members"].pop()
    forged = rewritten(bundle, tmp_path / "forged.zip", manifest=m)
    proc = run("verify", forged)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = assert_no_raw_controls(proc.stdout)
    assert f"case      {safe(HOSTILE)}" in text
    proc = run("extract", forged, "--out", tmp_path / "extracted")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_no_raw_controls(proc.stdout + proc.stderr, escaped=False)
    proc = run("verify", tmp_path / f"missing {HOSTILE_NAME}.zip")
    assert proc.returncode == 2
    assert_no_raw_controls(proc.stderr)


@pytest.mark.slow
def test_redact_prints_hostile_paths_escaped(hostile, tmp_path):
    out = tmp_path / f"clean {HOSTILE_NAME}.dmp"
    proc = run("redact", hostile["dump"], "--out", out)
    assert proc.returncode in (0, 1), proc.stderr
    assert out.exists()
    assert_no_raw_controls(proc.stdout + proc.stderr)
