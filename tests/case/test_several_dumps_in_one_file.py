"""A file that holds several dumps (a ZIP of crash dumps, as uploads arrive): each dump is evidence of its
own in a case, the gate scans every one of them, redaction names the one it copies, and a bundle carries
the file once.

The archive is made by Info-ZIP's ``zip`` from the demo core (a live process's gcore holding an RSA key)
and a second, clean dump (the core's first 32 KiB: its headers and notes, no key), the clean one *first*:
a tool that looks at the first member only passes the key out of the network.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.builders.case import CaseFactory
from tests.builders.containers import zip_of
from viewer.case import open_case
from viewer.case.errors import CaseError
from viewer.evidence import open_dump, open_dumps
from viewer.scan.engine import scan_dump

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "resources" / "sample" / "demo-keyholder.core"

pytestmark = pytest.mark.slow  # scans, the fleet's pool, the command line in subprocesses


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def upload(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("upload")
    clean = work / "a-headers.core"
    clean.write_bytes(DEMO.read_bytes()[:32768])
    keyed = work / "b-keyholder.core"
    keyed.write_bytes(DEMO.read_bytes())
    archive = zip_of(work / "crashes.zip", clean, keyed)
    archive.chmod(0o444)
    with open_dump(keyed) as dump:
        secrets = {(f.kind, f.offset, f.key_id) for f in scan_dump(dump).findings if f.secret}
    with open_dump(clean) as dump:
        assert not [f for f in scan_dump(dump).findings if f.secret], "the first member must be clean"
    assert secrets
    return {"zip": archive, "clean": clean, "keyed": keyed, "secrets": secrets, "work": work}


def test_each_dump_has_its_own_name_and_evidence_hash(upload):
    dumps = open_dumps(upload["zip"])
    try:
        assert [d.member for d in dumps] == ["a-headers.core", "b-keyholder.core"]
        assert {d.sha256() for d in dumps} == {sha(upload["zip"])}  # the file's hash is shared
        assert [d.evidence_sha256() for d in dumps] == [sha(upload["clean"]), sha(upload["keyed"])]
    finally:
        for d in dumps:
            d.close()
    with open_dump(upload["zip"], member="b-keyholder.core") as dump:
        assert dump.member == "b-keyholder.core" and dump.content_sha256() == sha(upload["keyed"])
    with open_dump(upload["keyed"]) as bare:  # a dump alone in its file has no member: the file says it all
        assert bare.member is None and bare.evidence_sha256() == bare.sha256()


def test_a_case_holds_each_dump_with_its_findings(upload, tmp_path: Path):
    cases = CaseFactory()
    cf = cases.create(tmp_path / "op.evcase")
    with pytest.raises(CaseError, match="holds 2 dumps"):
        cf.add_evidence(upload["zip"])  # which one? the caller must say, or add them all
    refs = cf.add_all_evidence(upload["zip"])
    assert [(r.member, r.sha256, r.key) for r in refs] == [
        ("a-headers.core", sha(upload["zip"]), sha(upload["clean"])),
        ("b-keyholder.core", sha(upload["zip"]), sha(upload["keyed"]))]
    with pytest.raises(CaseError, match="all in the case already"):
        cf.add_all_evidence(upload["zip"])
    for dump in open_dumps(upload["zip"]):
        with dump:
            cf.merge_scan(dump.evidence_sha256(), [f.to_json() for f in scan_dump(dump).findings], {"source": "test"})
    cf.save()
    back = open_case(tmp_path / "op.evcase", passphrase=cases.passphrase, use_keyring=False)  # from disk
    keyed_ref = back.case.evidence_by_sha256(sha(upload["keyed"]))
    assert keyed_ref is not None and keyed_ref.member == "b-keyholder.core"
    secret = {(r.finding["kind"], r.finding["offset"], r.finding.get("key_id")) for r in back.case.findings
              if r.evidence_sha256 == keyed_ref.key and r.finding.get("secret", True)}
    assert secret == upload["secrets"]
    assert not [r for r in back.case.findings if r.evidence_sha256 == sha(upload["clean"]) and r.finding.get("secret")]
    assert [s.state for s in back.verify_evidence()] == ["ok", "ok"]


def test_bundle_carries_the_file_once_and_names_each_dump(upload, tmp_path: Path):
    from viewer.handover.bundle import export_bundle, verify_bundle

    cf = CaseFactory().create(tmp_path / "op.evcase")
    cf.add_all_evidence(upload["zip"])
    for dump in open_dumps(upload["zip"]):
        with dump:
            cf.merge_scan(dump.evidence_sha256(), [f.to_json() for f in scan_dump(dump).findings], {"source": "test"})
    cf.save()
    out = tmp_path / "op.bundle.zip"
    manifest = export_bundle(cf, out, include_evidence=True)
    assert [(e["dump_member"], e["content_sha256"]) for e in manifest["evidence"]] == [
        ("a-headers.core", sha(upload["clean"])), ("b-keyholder.core", sha(upload["keyed"]))]
    with zipfile.ZipFile(out) as zf:
        carried = [n for n in zf.namelist() if n.startswith("evidence/")]
        assert len(carried) == 1 and hashlib.sha256(zf.read(carried[0])).hexdigest() == sha(upload["zip"])
        records = json.loads(zf.read("findings.json"))["findings"]
        report = zf.read("report.html").decode()
    assert {r["evidence_sha256"] for r in records if r.get("secret", True)} == {sha(upload["keyed"])}
    assert "crashes.zip › b-keyholder.core" in report
    assert verify_bundle(out).ok


def test_case_add_on_the_command_line_adds_and_scans_each(upload, tmp_path: Path):
    pw = tmp_path / "pw"
    pw.write_text(CaseFactory.passphrase + "\n")
    case = tmp_path / "cli.evcase"

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "viewer.cli.main", "case", *map(str, args), "--no-keyring",
                               "--passphrase-file", str(pw)], capture_output=True, text=True, timeout=300,
                              cwd=REPO, stdin=subprocess.DEVNULL)

    assert run("new", case, "--name", "Uploads", "--examiner", "Ann Quill").returncode == 0
    added = run("add", case, upload["zip"], "--scan")
    assert added.returncode == 0, added.stderr
    assert "› a-headers.core" in added.stdout and "› b-keyholder.core" in added.stdout
    assert added.stdout.count("scan (") == 2
    doc = json.loads(run("show", case, "--json").stdout)
    assert [(e["member"], e["state"]) for e in doc["evidence"]] == [("a-headers.core", "ok"), ("b-keyholder.core", "ok")]
    secret = {f["evidence_sha256"] for f in doc["findings"] if f.get("secret", True)}
    assert secret == {sha(upload["keyed"])}


def test_the_gate_scans_every_dump_of_the_file(upload, tmp_path: Path):
    from viewer.fleet import LocalPool, ResultsDB, expand, make_settings, run_gate
    from viewer.fleet.export import export_to_case
    from viewer.fleet.report import dump_record

    pool = LocalPool(1)
    pool.start()
    try:
        with ResultsDB(tmp_path / "r.sqlite") as db:
            summary = run_gate(db, pool, make_settings(), expand([str(upload["zip"])]))
            assert (summary.scanned, summary.with_secrets) == (1, 1)
            d = db.dumps()[0]
            rec = dump_record(db, d["id"])
            assert rec["verdict"] != "clean"
            found = {(f["kind"], f["offset"], f.get("key_id")) for f in rec["findings"]
                     if f.get("member") == "b-keyholder.core" and f.get("secret", True)}
            assert found == upload["secrets"]
            assert not [f for f in rec["findings"] if f.get("member") != "b-keyholder.core" and f.get("secret", True)]
            cases = CaseFactory()
            cf = cases.create(tmp_path / "fleet.evcase")
            done = export_to_case(db, cf, [dict(d)])
            assert not done.skipped, done.skipped
            cf.save()
    finally:
        pool.close()
    back = open_case(tmp_path / "fleet.evcase", passphrase=cases.passphrase, use_keyring=False)
    assert [e.member for e in back.case.evidence] == ["a-headers.core", "b-keyholder.core"]
    keyed = back.case.evidence[1].key
    assert {(r.finding["kind"], r.finding["offset"], r.finding.get("key_id")) for r in back.case.findings
            if r.evidence_sha256 == keyed and r.finding.get("secret", True)} == upload["secrets"]


def test_redact_names_the_dump_it_copies(upload, tmp_path: Path):
    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "viewer.cli.main", "redact", *map(str, args)],
                              capture_output=True, text=True, timeout=300, cwd=REPO, stdin=subprocess.DEVNULL)

    refused = run(upload["zip"], "--out", tmp_path / "clean.core")
    assert refused.returncode == 2 and "--member" in refused.stderr and "'b-keyholder.core'" in refused.stderr
    assert "Traceback" not in refused.stderr and not (tmp_path / "clean.core").exists()
    done = run(upload["zip"], "--member", "b-keyholder.core", "--out", tmp_path / "clean.core")
    assert done.returncode == 0, done.stdout + done.stderr
    with open_dump(tmp_path / "clean.core") as copy, open_dump(upload["keyed"]) as original:
        assert copy.format == original.format and copy.size == original.size
        assert not [f for f in scan_dump(copy).findings if f.secret and f.confidence >= f.confidence.HIGH]
    log = json.loads((tmp_path / "clean.core.redaction.json").read_text())
    assert any("the one named b-keyholder.core" in n for n in log["notes"])
    assert sha(upload["zip"]) == log["input_sha256"]
