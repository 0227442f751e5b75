"""Case bundles (viewer.handover.bundle and report; the export and verify commands of viewer.cli): export,
verify, tampering named, secrets masked.

Real files throughout: a real encrypted case (passphrase, no keyring), the real sample core scanned by the
real engine, real ZIP archives rewritten byte by byte for the tampering cases.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import shutil
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from tests.builders.case import CaseFactory
from viewer.case import open_case
from viewer.cli import export, verify
from viewer.evidence import open_dump
from viewer.handover.bundle import MANIFEST, verify_bundle

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "sample" / "demo-keyholder.core"
PASSPHRASE = "correct horse battery staple"
COMMENT = "<script>alert('x')</script> & \"quoted\" <b>not bold</b>"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="evidence-viewer")
    sub = p.add_subparsers(dest="command")
    for command in (export, verify):
        command.add_parser(sub)
    return p


def _run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    return int(args.func(args))


def _export(case: Path, out: Path, pwfile: Path, *extra: str) -> None:
    """Unsigned unless ``extra`` says otherwise: these tests rewrite manifests (tests/handover/test_signing.py
    has the signed bundles)."""
    if not any(e.startswith("--sign") for e in extra):
        extra = ("--no-sign", *extra)
    assert _run(["export", str(case), "--out", str(out), "--passphrase-file", str(pwfile), "--no-keyring",
                 *extra]) == 0


def _build_case(folder: Path, dumps: list[Path], scan_once) -> tuple[Path, Path, list]:
    """A case (the tests' KDF, passphrase, no keyring) with ``dumps`` and their default scans (each dump
    scanned once per session by ``scan_once``, the conftest fixture); one finding annotated."""
    case_path = folder / "demo.evcase"
    cf = CaseFactory().create(case_path, "Demo <case> & co", "Examiner \"E\"", number="42/<7>",
                              passphrase=PASSPHRASE)
    findings = []
    for dump_path in dumps:
        ref = cf.add_evidence(dump_path)
        result = scan_once(dump_path).result
        cf.merge_scan(ref.sha256, [f.to_json() for f in result.findings], {"deep": False, "detectors": "default"})
        findings.extend(result.findings)
    first = cf.case.findings[0]
    cf.annotate(first.id, status="confirmed", comment=COMMENT, evidence_sha256=first.evidence_sha256)
    cf.save()
    pwfile = folder / "pw.txt"
    pwfile.write_text(PASSPHRASE + "\n")
    return case_path, pwfile, findings


def _members(bundle: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(bundle) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _rewrite(src: Path, dst: Path, change: dict[str, bytes | None]) -> None:
    """Copy a bundle, replacing (bytes) or dropping (None) the named members."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename in change:
                if change[info.filename] is not None:
                    zout.writestr(info.filename, change[info.filename])
            else:
                zout.writestr(info.filename, zin.read(info))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, scan_once) -> dict:
    folder = tmp_path_factory.mktemp("bundle")
    case_path, pwfile, findings = _build_case(folder, [SAMPLE], scan_once)
    default = folder / "default.zip"
    _export(case_path, default, pwfile)
    secrets = folder / "secrets.zip"
    _export(case_path, secrets, pwfile, "--include-secrets", "--include-evidence")
    return {"folder": folder, "case": case_path, "pw": pwfile, "findings": findings, "default": default,
            "secrets": secrets}


@pytest.fixture(scope="module")
def private_strings(built: dict) -> list[bytes]:
    """d, p, q, dmp1, dmq1, iqmp of the sample's key (big- and little-endian) and its PEM body lines,
    taken from the PEM PKCS#8 finding's bytes in the evidence."""
    pem_finding = next(f for f in built["findings"] if f.encoding == "pem-pkcs8")
    with open_dump(SAMPLE) as dump:
        pem = dump.read(pem_finding.offset, pem_finding.length)
    key = load_pem_private_key(pem, password=None)
    nums = key.private_numbers()
    out: list[bytes] = []
    for v in (nums.d, nums.p, nums.q, nums.dmp1, nums.dmq1, nums.iqmp):
        be = v.to_bytes((v.bit_length() + 7) // 8, "big")
        out += [be, be[::-1]]
    body = [ln for ln in pem.splitlines() if ln and not ln.startswith(b"-----")]
    assert len(body) > 10
    out += body
    return out


def _forms(secret: bytes) -> list[bytes]:
    """The ways a byte string could show up in a member: raw, hex (both cases), base64 (standard and
    URL-safe, no padding), and any 8-byte piece of it as hex, plain or spaced as the report's rows are."""
    if all(32 < c < 127 for c in secret):  # a PEM body line is already text
        return [secret]
    forms = [secret, secret.hex().encode(), secret.hex().upper().encode(),
             base64.b64encode(secret).rstrip(b"="), base64.urlsafe_b64encode(secret).rstrip(b"=")]
    for i in range(0, len(secret) - 7, 4):  # any 8 consecutive bytes shown as hex is a leak
        piece = secret[i:i + 8]
        forms += [piece.hex().encode(), " ".join(f"{b:02x}" for b in piece).encode()]
    return forms


def _leaks(members: dict[str, bytes], strings: list[bytes]) -> list[str]:
    hits = []
    for name, data in members.items():
        for s in strings:
            for form in _forms(s):
                if form in data:
                    hits.append(f"{name}: {form[:24]!r}")
    return hits


# -- export and verify -------------------------------------------------------------------------------
def test_default_bundle_members_and_manifest(built: dict) -> None:
    members = _members(built["default"])
    assert set(members) == {MANIFEST, "case/demo.evcase", "report.html", "findings.json", "findings.csv",
                            "findings.sarif", "audit.jsonl"}
    manifest = json.loads(members[MANIFEST])
    cf = open_case(built["case"], passphrase=PASSPHRASE, use_keyring=False)
    assert manifest["case"]["id"] == cf.case.id
    assert manifest["secrets_included"] is False and manifest["evidence_included"] is False
    assert [m["name"] for m in manifest["members"]] == [n for n in members if n != MANIFEST]
    ev = manifest["evidence"][0]
    assert ev["sha256"] == cf.case.evidence[0].sha256 and ev["size"] == SAMPLE.stat().st_size
    # The case file in the bundle holds the export event, and its head is the manifest's head.
    in_bundle = built["folder"] / "from-bundle.evcase"
    in_bundle.write_bytes(members["case/demo.evcase"])
    inner = open_case(in_bundle, passphrase=PASSPHRASE, use_keyring=False).case
    head = manifest["audit"]["head"]
    assert inner.audit.head == (head["seq"], head["hash"])
    last = inner.audit.events[-1]
    assert last["type"] == "export" and last["data"]["kind"] == "bundle"
    assert last["data"]["include_secrets"] is False
    lines = members["audit.jsonl"].decode().splitlines()
    assert json.loads(lines[-1])["hash"] == head["hash"] and len(lines) == len(inner.audit)
    # findings.json / csv / sarif carry every finding and its review
    ids = {f.id for f in built["findings"]}
    doc = json.loads(members["findings.json"])
    assert {r["id"] for r in doc["findings"]} == ids
    commented = [r for r in doc["findings"] if r["review"]["comments"]]
    assert commented[0]["review"]["comments"][0]["text"] == COMMENT
    assert commented[0]["review"]["status"] == "confirmed"
    assert all(r["excerpt"]["masked"] for r in doc["findings"])
    csv_text = members["findings.csv"].decode()
    assert all(i in csv_text for i in ids)
    sarif = json.loads(members["findings.sarif"])
    assert {r["partialFingerprints"]["findingId/v1"] for r in sarif["runs"][0]["results"]} == ids


def test_verify_passes(built: dict, capsys: pytest.CaptureFixture[str]) -> None:
    for bundle in (built["default"], built["secrets"]):
        res = verify_bundle(bundle)
        assert res.ok, res.problems
        assert _run(["verify", str(bundle)]) == 0
    assert "ok" in capsys.readouterr().out


def test_included_evidence_is_the_dump(built: dict) -> None:
    members = _members(built["secrets"])
    ev = [n for n in members if n.startswith("evidence/")]
    assert len(ev) == 1 and members[ev[0]] == SAMPLE.read_bytes()
    manifest = json.loads(members[MANIFEST])
    assert manifest["evidence"][0]["member"] == ev[0]


@pytest.mark.parametrize("member", ["case/demo.evcase", "report.html", "findings.json", "findings.csv",
                                    "findings.sarif", "audit.jsonl"])
def test_one_changed_byte_names_the_member(built: dict, tmp_path: Path, member: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    data = bytearray(_members(built["default"])[member])
    data[len(data) // 2] ^= 0x01
    bad = tmp_path / "bad.zip"
    _rewrite(built["default"], bad, {member: bytes(data)})
    res = verify_bundle(bad)
    assert any(p.startswith(f"{member}: SHA-256 does not match") for p in res.problems), res.problems
    assert _run(["verify", str(bad)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert any(line.startswith(member) for line in out)


def test_changed_evidence_member_named(built: dict, tmp_path: Path) -> None:
    members = _members(built["secrets"])
    name = next(n for n in members if n.startswith("evidence/"))
    data = bytearray(members[name])
    data[1000] ^= 0xFF
    bad = tmp_path / "bad.zip"
    _rewrite(built["secrets"], bad, {name: bytes(data)})
    assert [p for p in verify_bundle(bad).problems if p.startswith(name)]


def test_removed_member_named(built: dict, tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    _rewrite(built["default"], bad, {"findings.csv": None})
    res = verify_bundle(bad)
    assert res.problems == ["findings.csv: missing from the archive"]
    assert _run(["verify", str(bad)]) == 1


def test_added_member_named(built: dict, tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    shutil.copy(built["default"], bad)
    with zipfile.ZipFile(bad, "a") as zf:
        zf.writestr("extra.txt", b"hello")
    assert verify_bundle(bad).problems == ["extra.txt: in the archive but not in the manifest (added)"]


def test_edited_audit_event_named(built: dict, tmp_path: Path) -> None:
    lines = _members(built["default"])["audit.jsonl"].decode().splitlines()
    idx = next(i for i, ln in enumerate(lines) if json.loads(ln)["type"] == "comment")
    ev = json.loads(lines[idx])
    ev["data"]["text"] = "a different comment"
    lines[idx] = json.dumps(ev, sort_keys=True, separators=(",", ":"))
    bad = tmp_path / "bad.zip"
    _rewrite(built["default"], bad, {"audit.jsonl": ("\n".join(lines) + "\n").encode()})
    problems = verify_bundle(bad).problems
    assert any(p.startswith("audit.jsonl: size") for p in problems), problems
    assert f"audit.jsonl: event {ev['seq']} (comment): content does not match its hash (edited)" in problems


def test_truncated_audit_trail_named(built: dict, tmp_path: Path) -> None:
    """The last event dropped (a valid shorter chain): only the manifest's head shows it."""
    lines = _members(built["default"])["audit.jsonl"].decode().splitlines()
    bad = tmp_path / "bad.zip"
    _rewrite(built["default"], bad, {"audit.jsonl": ("\n".join(lines[:-1]) + "\n").encode()})
    problems = verify_bundle(bad).problems
    seq = json.loads(lines[-1])["seq"]
    assert f"audit.jsonl: event {seq} (the recorded head) is missing (deleted)" in problems


def test_manifest_hash_changed_names_the_member(built: dict, tmp_path: Path) -> None:
    manifest = json.loads(_members(built["default"])[MANIFEST])
    entry = next(m for m in manifest["members"] if m["name"] == "report.html")
    entry["sha256"] = "0" * 64
    bad = tmp_path / "bad.zip"
    _rewrite(built["default"], bad, {MANIFEST: json.dumps(manifest).encode()})
    assert verify_bundle(bad).problems == ["report.html: SHA-256 does not match the manifest (changed)"]


def test_unreadable_bundles_exit_2(built: dict, tmp_path: Path) -> None:
    not_zip = tmp_path / "not.zip"
    not_zip.write_bytes(b"this is not a zip archive\n" * 10)
    assert verify_bundle(not_zip).unreadable
    assert _run(["verify", str(not_zip)]) == 2
    no_manifest = tmp_path / "nomanifest.zip"
    _rewrite(built["default"], no_manifest, {MANIFEST: None})
    assert "no manifest.json" in (verify_bundle(no_manifest).unreadable or "")
    assert _run(["verify", str(no_manifest)]) == 2
    assert _run(["verify", str(tmp_path / "absent.zip")]) == 2


def test_export_needs_the_passphrase(built: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("EVIDENCE_VIEWER_PASSPHRASE", raising=False)
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not it\n")
    out = tmp_path / "x.zip"
    assert _run(["export", str(built["case"]), "--out", str(out), "--passphrase-file", str(wrong),
                 "--no-keyring"]) == 2
    assert not out.exists()
    monkeypatch.setenv("EVIDENCE_VIEWER_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("EVIDENCE_VIEWER_SIGNING_PASSPHRASE", "the signing key's own passphrase")
    assert _run(["export", str(built["case"]), "--out", str(out), "--no-keyring"]) == 0
    assert verify_bundle(out).ok and verify_bundle(out).signature.valid
    capsys.readouterr()


# -- secrets ---------------------------------------------------------------------------------------
def test_default_bundle_holds_no_private_key_bytes(built: dict, private_strings: list[bytes]) -> None:
    members = _members(built["default"])
    members["(the archive file itself)"] = built["default"].read_bytes()
    assert _leaks(members, private_strings) == []
    # ... and the excerpts do show structure: masked bytes and some context
    doc = json.loads(members["findings.json"])
    hexes = "".join(s["hex"] for r in doc["findings"] for s in r["excerpt"]["segments"])
    assert "••" in hexes and any(c in "0123456789abcdef" for c in hexes.replace("••", ""))


def test_include_secrets_shows_them_and_says_so(built: dict, private_strings: list[bytes]) -> None:
    members = _members(built["secrets"])
    manifest = json.loads(members[MANIFEST])
    assert manifest["secrets_included"] is True
    assert _leaks(members, private_strings)  # the check that finds nothing in a default bundle works
    d_hex = private_strings[0].hex().encode()
    assert d_hex in members["findings.json"]
    assert b"INCLUDES SECRET BYTES" in members["report.html"]
    events = [json.loads(ln) for ln in members["audit.jsonl"].decode().splitlines()]
    assert events[-1]["type"] == "export" and events[-1]["data"]["include_secrets"] is True
    assert events[-1]["data"]["include_evidence"] is True


# -- the report ------------------------------------------------------------------------------------
class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_report_is_self_contained_escaped_and_complete(built: dict) -> None:
    html = _members(built["default"])["report.html"].decode("utf-8")
    p = _Collect()
    p.feed(html)
    p.close()
    assert "script" not in p.tags and "link" not in p.tags and "iframe" not in p.tags
    # the only external-looking attribute: the entropy plot, a PNG embedded as a data URL
    sources = [v or "" for k, v in p.attrs if k in ("src", "srcset", "href") and not (v or "").startswith("#")]
    assert p.tags.count("img") == len(sources) == 1
    assert sources[0].startswith("data:image/png;base64,")
    png = base64.b64decode(sources[0].split(",", 1)[1], validate=True)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    low = html.lower()
    for bad in ("<script", "http://", "https://", "url(", "@import"):
        assert bad not in low, bad
    assert COMMENT in "".join(p.text)  # the comment text, shown as text...
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html  # ...because it was escaped (MarkupSafe's entities)
    for f in built["findings"]:
        assert f.id in html
    assert "RzhJsm9Hw0qgKTJdyTCnOkCydQWRHLVXLd58mum6Xe4" in html  # the secrets table by key id
    assert 'alt="entropy of ' in html  # the entropy plot
    cf = open_case(built["case"], passphrase=PASSPHRASE, use_keyring=False)
    assert cf.case.evidence[0].sha256 in html
    assert "Examiner &#34;E&#34;" in html and "Demo &lt;case&gt; &amp; co" in html
    trail = _members(built["default"])["audit.jsonl"].decode().splitlines()
    for line in trail:  # the whole trail as exported, up to and including this export
        assert json.loads(line)["hash"] in html


def test_entropy_plot_marks_findings_where_they_are(samples_dir: Path) -> None:
    """The PNG itself: its size, the plot's frame, a red band at a secret finding's offset and a blue one
    at a public one, none where nothing was found."""
    from PIL import Image

    from viewer.handover.report import PLOT_H, PLOT_MARGINS, PLOT_SCALE, PLOT_W, entropy_png
    from viewer.scan.entropy import DEFAULT_BLOCK, compute_entropy

    with open_dump(samples_dir / "wine-keyholder-full.dmp") as dump:
        size = dump.size
        pyramid = compute_entropy(dump, DEFAULT_BLOCK)
    secret = {"id": "s", "kind": "k", "offset": size // 5, "length": 1, "secret": True}
    public = {"id": "p", "kind": "k", "offset": size * 3 // 5, "length": 1, "secret": False}
    img = Image.open(io.BytesIO(entropy_png(pyramid, size, [secret, public]))).convert("RGB")
    assert img.size == (PLOT_W * PLOT_SCALE, PLOT_H * PLOT_SCALE)
    left, right, top, bottom = (m * PLOT_SCALE for m in PLOT_MARGINS)
    plot_w = img.size[0] - left - right
    y = top + 3  # near the top of the plot area, above almost every entropy value

    def column(offset: int) -> tuple[int, int, int]:
        return img.getpixel((int(left + offset / size * plot_w) + 1, y))

    r, g, b = column(secret["offset"])
    assert r > 200 and g < 200 and b < 200  # red
    r, g, b = column(public["offset"])
    assert b > 200 and r < 200  # blue
    assert column(size * 2 // 5) == (255, 255, 255)  # nothing found there: white
    # the mean line is drawn: every column of the plot area has a dark pixel somewhere
    dark = sum(1 for x in range(left + 2, left + plot_w - 2, 50)
               if any(sum(img.getpixel((x, yy))) < 200 for yy in range(top, img.size[1] - bottom)))
    assert dark == len(range(left + 2, left + plot_w - 2, 50))


def test_report_without_reachable_evidence(built: dict, tmp_path: Path, scan_once) -> None:
    """Evidence moved away: the bundle is still made and verifies; no excerpts, no plot, said so."""
    folder = tmp_path / "moved"
    folder.mkdir()
    dump = folder / SAMPLE.name
    shutil.copy(SAMPLE, dump)
    case_path, pwfile, _ = _build_case(folder, [dump], scan_once)
    dump.unlink()
    out = tmp_path / "b.zip"
    _export(case_path, out, pwfile)
    assert verify_bundle(out).ok
    members = _members(out)
    html = members["report.html"].decode()
    assert "No plot: the evidence file is missing" in html and "<img" not in html
    assert all(r["excerpt"] is None for r in json.loads(members["findings.json"])["findings"])
    assert json.loads(members[MANIFEST])["evidence"][0]["state"] == "missing"
    # --include-evidence refuses
    assert _run(["export", str(case_path), "--out", str(tmp_path / "c.zip"), "--passphrase-file", str(pwfile),
                 "--no-keyring", "--include-evidence"]) == 2
    assert not (tmp_path / "c.zip").exists()


# -- the two corpus samples in one case ---------------------------------------------------------------
@pytest.mark.slow
def test_samples_case_bundle_holds_no_private_bytes(samples_dir: Path, samples_truth: dict, scan_once,
                                                    tmp_path: Path) -> None:
    dumps = [samples_dir / d["file"] for d in samples_truth["dumps"]]
    case_path, pwfile, _ = _build_case(tmp_path, dumps, scan_once)
    out = tmp_path / "samples.zip"
    _export(case_path, out, pwfile)
    assert verify_bundle(out).ok
    by_secret: dict[str, set[bytes]] = {}
    for d in samples_truth["dumps"]:
        with open_dump(samples_dir / d["file"]) as dump:
            for secret in d.get("secrets", []):
                for rep in secret.get("representations", {}).values():
                    if rep.get("role") != "private":
                        continue
                    for hit in rep.get("hits", []):
                        by_secret.setdefault(secret["id"], set()).add(dump.read(hit["offset"], hit["length"]))
    strings = [s for group in by_secret.values() for s in group if len(s) >= 16]
    assert len(strings) > 10
    members = _members(out)
    members["(the archive file itself)"] = out.read_bytes()
    assert _leaks(members, strings) == []
    # With --include-secrets they are there: every secret of both samples shows at least one of its
    # private byte strings (the findings' excerpts carry the bytes unmasked).
    revealed = tmp_path / "samples-secrets.zip"
    _export(case_path, revealed, pwfile, "--include-secrets")
    assert verify_bundle(revealed).ok
    shown = _members(revealed)
    missing = [sid for sid, group in by_secret.items()
               if not _leaks(shown, [s for s in group if len(s) >= 16])]
    assert len(by_secret) == 7 and missing == []  # 2 keys in the gcore sample, 5 in the Wine one


def test_oversized_member_refused_unread(built: dict, tmp_path: Path) -> None:
    """A member whose archive size is not the manifest's (a zip bomb, say) is named and never hashed."""
    bad = tmp_path / "bomb.zip"
    _rewrite(built["default"], bad, {"findings.csv": b"\0" * (64 * 1024 * 1024)})
    assert bad.stat().st_size < 1024 * 1024
    problems = verify_bundle(bad).problems
    assert len(problems) == 1 and problems[0].startswith("findings.csv: size 67108864 in the archive")


@pytest.mark.parametrize("at_step", ["verifying the evidence", "entropy", "writing the archive"])
def test_export_cancelled_at_any_step_writes_no_bundle(tmp_path: Path, at_step: str, scan_once) -> None:
    """The examiner cancels during a step: ExportCancelled, no bundle and no partial archive; once the
    export event was saved (after verifying), the trail also says the export was cancelled."""
    from viewer.handover.bundle import ExportCancelled, export_bundle
    from viewer.tasks import TaskState

    dump = Path(shutil.copy(SAMPLE, tmp_path / SAMPLE.name))
    case_path, _pwfile, _ = _build_case(tmp_path, [dump], scan_once)
    cf = open_case(case_path, passphrase=PASSPHRASE, use_keyring=False)
    events_before = len(cf.case.audit)
    seen: list[tuple[str, int, int]] = []
    state = TaskState()

    def step(name: str, done: int, total: int) -> None:
        seen.append((name, done, total))
        if name == at_step:
            state.cancel()

    state.step_progress = step
    out = tmp_path / "out" / "bundle.zip"
    out.parent.mkdir()
    with pytest.raises(ExportCancelled):
        export_bundle(cf, out, include_evidence=True, state=state)
    assert list(out.parent.iterdir()) == []
    assert any(name == at_step and total > 0 for name, _d, total in seen)
    on_disk = open_case(case_path, passphrase=PASSPHRASE, use_keyring=False).case.audit.events[events_before:]
    if at_step == "verifying the evidence":
        assert on_disk == []  # cancelled before the export was recorded
    else:
        assert [(e["type"], e["data"].get("cancelled", False)) for e in on_disk] == [("export", False),
                                                                                    ("export", True)]
    # and without a cancel the same state reports every step to its end
    seen.clear()
    export_bundle(cf, out, include_evidence=True, state=TaskState(on_step=lambda *a: seen.append(a)))
    assert verify_bundle(out).ok
    for name in ("verifying the evidence", "entropy", "writing the archive"):
        ends = [(d, t) for n, d, t in seen if n == name]
        assert ends and ends[-1][0] == ends[-1][1] > 0, (name, ends[-3:])
