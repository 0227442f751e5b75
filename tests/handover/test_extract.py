"""Extracting a received bundle (viewer.handover.extract, `evidence-viewer extract`): verified first, member
names checked, files only inside the folder, nothing overwritten — on real bundles exported from a real case,
and on hostile copies of them made by rewriting the ZIP."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import stat
import zipfile
from pathlib import Path

import pytest

from viewer.cli import extract as extract_cli
from viewer.handover.bundle import MANIFEST, BundleCancelled, BundleError, export_bundle, verify_bundle
from viewer.handover.extract import BundleNotVerified, UnsafeMember, default_target, extract_bundle
from viewer.tasks import TaskState


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def bundles(case_factory, sample_case, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A bundle with the evidence and one without, exported from a copy of the sample case."""
    folder = tmp_path_factory.mktemp("extract")
    prepared = case_factory.copy(sample_case, folder)
    cf = prepared.open()
    out = {"with": folder / "with-evidence.zip", "without": folder / "without-evidence.zip"}
    export_bundle(cf, out["with"], include_evidence=True)
    export_bundle(cf, out["without"])
    return out


def _manifest(bundle: Path) -> dict:
    with zipfile.ZipFile(bundle) as zf:
        return json.loads(zf.read(MANIFEST))


def _with_member(src: Path, dst: Path, info: zipfile.ZipInfo, data: bytes, *, listed: bool = True) -> None:
    """A copy of the bundle with one more member, listed in the manifest with its true size and SHA-256
    (so that only the member's *name* or type is wrong)."""
    manifest = _manifest(src)
    if listed:
        manifest["members"].append({"name": info.filename, "size": len(data),
                                    "sha256": hashlib.sha256(data).hexdigest()})
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for old in zin.infolist():
            if old.filename != MANIFEST:
                zout.writestr(old.filename, zin.read(old))
        zout.writestr(info, data)
        zout.writestr(MANIFEST, json.dumps(manifest))


def test_a_good_bundle_is_extracted_with_every_hash_as_in_the_manifest(bundles, tmp_path: Path) -> None:
    out = tmp_path / "received"
    got = extract_bundle(bundles["with"], out)
    manifest = _manifest(bundles["with"])
    assert got.verify.ok and got.out_dir == out.resolve()
    assert got.case_path == out.resolve() / next(m["name"] for m in manifest["members"]
                                                  if m["name"].startswith("case/"))
    assert got.report_path == out.resolve() / "report.html" and got.report_path.is_file()
    for m in manifest["members"]:
        if not m["name"].startswith("evidence/"):
            assert sha256(out / m["name"]) == m["sha256"], m["name"]
    assert json.loads((out / MANIFEST).read_text()) == manifest
    (ev,) = manifest["evidence"]
    assert set(got.evidence) == {ev["sha256"]}
    placed = got.evidence[ev["sha256"]]
    assert sha256(placed) == ev["sha256"] and not placed.stat().st_mode & 0o222  # read-only
    # the case's relative path points inside the folder: the evidence is put there, no override needed
    assert placed == (got.case_path.parent / ev["path"]).resolve() and got.overrides == {}
    assert sorted(got.files) == sorted(p.resolve() for p in out.rglob("*") if p.is_file())
    # and the extracted case finds its evidence on its own
    from tests.builders.case import PASSPHRASE
    from viewer.case import open_case

    cf = open_case(got.case_path, passphrase=PASSPHRASE, use_keyring=False)
    assert [s.state for s in cf.verify_evidence()] == ["ok"]


def test_progress_is_reported_by_step_and_ends_at_the_total(bundles, tmp_path: Path) -> None:
    seen: list[tuple[str, int, int]] = []
    extract_bundle(bundles["with"], tmp_path / "x", TaskState(on_step=lambda *a: seen.append(a)))
    for step in ("verifying the bundle", "extracting"):
        ends = [(d, t) for n, d, t in seen if n == step]
        assert ends and ends[-1][0] == ends[-1][1] > 0, step


def test_a_bundle_without_evidence_gives_the_case_and_documents_only(bundles, tmp_path: Path) -> None:
    got = extract_bundle(bundles["without"], tmp_path / "r")
    assert got.evidence == {} and got.overrides == {}
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [
        "audit.jsonl", "case", "findings.csv", "findings.json", "findings.sarif", "manifest.json", "report.html"]


def test_nothing_is_overwritten(bundles, tmp_path: Path) -> None:
    out = tmp_path / "r"
    out.mkdir()
    (out / "report.html").write_text("mine")
    with pytest.raises(BundleError, match="report.html exists"):
        extract_bundle(bundles["with"], out)
    assert [p.name for p in out.iterdir()] == ["report.html"] and (out / "report.html").read_text() == "mine"


def test_a_tampered_bundle_is_refused_and_nothing_is_written(bundles, tmp_path: Path) -> None:
    bad = tmp_path / "tampered.zip"
    with zipfile.ZipFile(bundles["with"]) as zin, zipfile.ZipFile(bad, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "findings.csv":
                data = data[:40] + bytes([data[40] ^ 0x01]) + data[41:]
            zout.writestr(info.filename, data)
    out = tmp_path / "r"
    with pytest.raises(BundleNotVerified) as caught:
        extract_bundle(bad, out)
    assert caught.value.result.problems == ["findings.csv: SHA-256 does not match the manifest (changed)"]
    assert not caught.value.unreadable and "does not verify" in str(caught.value)
    assert not out.exists()
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    with pytest.raises(BundleNotVerified) as caught:
        extract_bundle(junk, out)
    assert caught.value.unreadable and "not a readable ZIP" in str(caught.value)


def _link(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize("info, why", [
    (zipfile.ZipInfo("../escaped.txt"), "'..' path component"),
    (zipfile.ZipInfo("case/../../escaped.txt"), "'..' path component"),
    (zipfile.ZipInfo("/tmp/escaped.txt"), "an absolute path"),
    (zipfile.ZipInfo("evidence\\..\\..\\escaped.txt"), "a backslash"),
    (zipfile.ZipInfo("C:escaped.txt"), "colon"),
    (zipfile.ZipInfo("evidence//escaped.txt"), "empty"),
    (zipfile.ZipInfo("Report.html"), "but for case"),
    (zipfile.ZipInfo("escaped\x1b[2J.txt"), "control characters"),
    (_link("evidence/link"), "a symbolic link"),
], ids=["dotdot", "inner-dotdot", "absolute", "backslash", "drive", "empty-part", "case-twin", "escape",
        "symlink"])
def test_hostile_member_names_are_refused_before_anything_is_written(bundles, tmp_path: Path,
                                                                     info: zipfile.ZipInfo, why: str) -> None:
    bad = tmp_path / "hostile.zip"
    _with_member(bundles["without"], bad, info, b"/etc/passwd" if why == "a symbolic link" else b"gotcha")
    problems = verify_bundle(bad).problems
    assert any(why in p for p in problems), problems
    assert all(p.isprintable() for p in problems)  # a crafted name never reaches a terminal raw
    out = tmp_path / "deep" / "r"
    with pytest.raises(BundleNotVerified):
        extract_bundle(bad, out)
    assert not (tmp_path / "deep").exists()
    assert not list(tmp_path.rglob("escaped*")) and not Path("/tmp/escaped.txt").exists()


def test_a_repeated_member_is_refused(bundles, tmp_path: Path) -> None:
    bad = tmp_path / "twice.zip"
    with pytest.warns(UserWarning, match="Duplicate name"):
        _with_member(bundles["without"], bad, zipfile.ZipInfo("report.html"), b"<p>the other report</p>",
                     listed=False)
    assert any("more than once" in p for p in verify_bundle(bad).problems)
    with pytest.raises(BundleNotVerified):
        extract_bundle(bad, tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_a_link_in_the_folder_does_not_lead_the_files_elsewhere(bundles, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "r"
    out.mkdir()
    (out / "case").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(UnsafeMember, match="outside"):
        extract_bundle(bundles["with"], out)
    assert list(elsewhere.iterdir()) == [] and [p.name for p in out.iterdir()] == ["case"]


def test_a_cancel_removes_what_was_written(bundles, tmp_path: Path) -> None:
    state = TaskState()
    state.on_step = lambda step, done, total: state.cancel() if step == "extracting" and done else None
    out = tmp_path / "r"
    with pytest.raises(BundleCancelled):
        extract_bundle(bundles["with"], out, state)
    assert not out.exists()


def test_default_target_is_a_new_folder_beside_the_bundle(tmp_path: Path) -> None:
    bundle = tmp_path / "op.zip"
    assert default_target(bundle) == tmp_path / "op"
    (tmp_path / "op").mkdir()
    assert default_target(bundle) == tmp_path / "op-2"


# -- the command --------------------------------------------------------------------------------------
def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="evidence-viewer")
    extract_cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["extract", *argv])
    return int(args.func(args))


def test_cli_extract_exit_codes(bundles, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r"
    assert _cli(str(bundles["with"]), "--out", str(out)) == 0
    text = capsys.readouterr().out
    assert f"case      {out.resolve() / 'case'}" in text and "read-only" in text
    assert (out / "report.html").is_file()
    # the same folder again: a file exists, one line, exit 2
    assert _cli(str(bundles["with"]), "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists" in err
    # tampered: the problems on stdout, one line on stderr, exit 1, nothing written
    bad = tmp_path / "bad.zip"
    _with_member(bundles["without"], bad, zipfile.ZipInfo("../escaped.txt"), b"x")
    assert _cli(str(bad), "--out", str(tmp_path / "bad")) == 1
    cap = capsys.readouterr()
    assert "../escaped.txt: an empty, '.' or '..' path component" in cap.out
    assert cap.err.count("\n") == 1 and "does not verify" in cap.err and not (tmp_path / "bad").exists()
    # unreadable: exit 2
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK")
    assert _cli(str(junk), "--out", str(tmp_path / "j")) == 2
    assert "not a readable ZIP" in capsys.readouterr().err


def test_cli_extract_is_a_command_of_the_program(bundles, tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "viewer.cli.main", "extract", str(bundles["without"]),
                           "--out", str(tmp_path / "r")], capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "r" / "manifest.json").is_file()
    usage = subprocess.run([sys.executable, "-m", "viewer.cli.main", "extract", str(bundles["without"])],
                           capture_output=True, text=True, check=False)
    assert usage.returncode == 2 and "--out" in usage.stderr
