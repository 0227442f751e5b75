"""Signed bundles (viewer.handover.signing; export, verify and extract of viewer.cli): the examiner's key in
the real OS keyring (the test session's gnome-keyring) or a passphrase-protected file, the manifest's
signature, trust by fingerprint, and bundles forged, tampered, unsigned or with hostile signature members.

Real cases exported by the real code; forgeries made as an attacker would, by rewriting the ZIP.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import stat
import zipfile
from pathlib import Path

import pytest

from viewer.cli import export, extract, verify
from viewer.cli.common import ExitCode
from viewer.handover.bundle import MANIFEST, export_bundle, verify_bundle
from viewer.handover.extract import SignatureNotTrusted, extract_bundle
from viewer.handover.signing import (
    KEYRING_SERVICE,
    KEYRING_USER,
    SIGNATURE,
    SigningKeyError,
    check_signature,
    default_key_path,
    fingerprint,
    load_signing_key,
    load_trusted_keys,
    parse_fingerprint,
    parse_trusted_keys,
)

KEY_PASS = "the signing key's passphrase"


def _run(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="evidence-viewer")
    sub = p.add_subparsers(dest="command")
    for command in (export, verify, extract):
        command.add_parser(sub)
    args = p.parse_args(argv)
    return int(args.func(args))


@pytest.fixture(scope="module")
def keyring_key():
    """The examiner's key in the test session's OS keyring, made on first use."""
    return load_signing_key("Ann Quill")


@pytest.fixture(scope="module")
def other_key(tmp_path_factory: pytest.TempPathFactory):
    """Someone else's key (the forger's), in a passphrase-protected file."""
    path = tmp_path_factory.mktemp("forger") / "key.pem"
    return load_signing_key("Ann Quill", path=path, passphrase=lambda _creating: "forger")


@pytest.fixture(scope="module")
def signed(case_factory, sample_case, tmp_path_factory: pytest.TempPathFactory, keyring_key) -> dict:
    folder = tmp_path_factory.mktemp("signed")
    prepared = case_factory.copy(sample_case, folder)
    cf = prepared.open()
    out = {"signed": folder / "signed.zip", "unsigned": folder / "unsigned.zip", "folder": folder,
           "prepared": prepared}
    export_bundle(cf, out["signed"], include_evidence=True, signer=keyring_key)
    export_bundle(cf, out["unsigned"], unsigned_reason="exported with --no-sign")
    return out


def _members(bundle: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(bundle) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _write(dst: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return dst


def _forge(src: Path, dst: Path, key, change: dict[str, bytes]) -> Path:
    """What a forger does: rewrite members, recompute every hash in the manifest, sign it with their key."""
    members = _members(src)
    members.update(change)
    manifest = json.loads(members[MANIFEST])
    for m in manifest["members"]:
        m["size"], m["sha256"] = len(members[m["name"]]), hashlib.sha256(members[m["name"]]).hexdigest()
    manifest["signature"] = key.manifest_block()
    members[MANIFEST] = json.dumps(manifest, indent=1).encode()
    members[SIGNATURE] = key.sign_manifest(members[MANIFEST])
    return _write(dst, members)


# -- the key ---------------------------------------------------------------------------------------------
def test_the_keyring_key_is_made_once_and_kept_in_the_os_keyring(keyring_key) -> None:
    import keyring

    again = load_signing_key("someone else")
    assert again.fingerprint == keyring_key.fingerprint and again.name == "Ann Quill"  # the key's own name
    assert keyring_key.store == "keyring"
    entry = json.loads(keyring.get_password(KEYRING_SERVICE, KEYRING_USER))
    assert entry["name"] == "Ann Quill" and len(base64.b64decode(entry["seed"])) == 32
    assert keyring_key.fingerprint == fingerprint(keyring_key.public_raw)
    assert len(keyring_key.fingerprint) == 79 and keyring_key.fingerprint.count(":") == 15


def test_the_passphrase_file_key(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "signing-key.pem"
    asked: list[bool] = []

    def ask(creating: bool) -> str:
        asked.append(creating)
        return KEY_PASS

    made = load_signing_key("Bo File", use_keyring=False, path=path, passphrase=ask)
    assert asked == [True] and made.store == f"file {path}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_bytes()
    assert b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in text and b"Signer: Bo File" in text
    assert made.fingerprint.encode() in text
    again = load_signing_key("ignored", use_keyring=False, path=path, passphrase=ask)
    assert asked == [True, False] and again.fingerprint == made.fingerprint and again.name == "Bo File"
    with pytest.raises(SigningKeyError, match="wrong passphrase"):
        load_signing_key("x", use_keyring=False, path=path, passphrase=lambda _c: "not it")
    with pytest.raises(SigningKeyError, match="no passphrase"):
        load_signing_key("x", use_keyring=False, path=path)


def test_cli_export_signs_with_the_file_key_and_says_so(sample_case, case_factory, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    prepared = case_factory.copy(sample_case, tmp_path / "c")
    pw = tmp_path / "pw"
    pw.write_text(prepared.passphrase + "\n")
    kp = tmp_path / "kp"
    kp.write_text(KEY_PASS + "\n")
    key = tmp_path / "keys" / "mine.pem"
    out = tmp_path / "b.zip"
    base = ["export", str(prepared.path), "--out", str(out), "--passphrase-file", str(pw), "--no-keyring"]
    # a key file needs a passphrase: none given, no terminal -> one line, exit 2, nothing written
    monkeypatch.delenv("EVIDENCE_VIEWER_SIGNING_PASSPHRASE", raising=False)
    assert _run([*base, "--signing-key", str(key)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--signing-passphrase-file" in err and "--no-sign" in err and not out.exists()
    assert _run([*base, "--signing-key", str(key), "--signing-passphrase-file", str(kp), "--signer", "Cy Signer"]) == 0
    made = load_signing_key("", path=key, passphrase=lambda _c: KEY_PASS)
    text = capsys.readouterr().out
    assert f"signed    by Cy Signer, key {made.fingerprint}" in text
    res = verify_bundle(out, trusted={made.fingerprint: "Cy"})
    assert res.ok and res.signature.valid and res.signature.trusted and res.signature.signer == "Cy Signer"
    # --no-sign: said in the output, the manifest and the audit event
    out2 = tmp_path / "u.zip"
    assert _run([*base[:3], str(out2), *base[4:], "--no-sign"]) == 0
    assert "signed    NO (--no-sign)" in capsys.readouterr().out
    members = _members(out2)
    assert SIGNATURE not in members
    manifest = json.loads(members[MANIFEST])
    assert manifest["signature"] == {"signed": False, "reason": "exported with --no-sign"}
    last = json.loads(members["audit.jsonl"].splitlines()[-1])
    assert last["data"]["signed"] is False and last["data"]["unsigned_reason"] == "exported with --no-sign"
    signed_event = json.loads(_members(out)["audit.jsonl"].splitlines()[-1])
    assert signed_event["data"]["signed"] is True and signed_event["data"]["signer"] == made.fingerprint


# -- verify ------------------------------------------------------------------------------------------------
def test_a_signed_bundle_verifies_and_names_its_signer(signed: dict, keyring_key,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    res = verify_bundle(signed["signed"])
    assert res.ok and res.signature.valid and not res.signature.trusted
    assert res.signature.signer == "Ann Quill" and res.signature.fingerprint == keyring_key.fingerprint
    manifest = json.loads(_members(signed["signed"])[MANIFEST])
    assert manifest["signature"] == keyring_key.manifest_block()
    # untrusted: exit 0 but said; with --require-signature exit 3
    assert _run(["verify", str(signed["signed"])]) == 0
    out = capsys.readouterr().out
    assert f"signature signed by Ann Quill, key {keyring_key.fingerprint}: NOT trusted" in out
    assert _run(["verify", str(signed["signed"]), "--require-signature"]) == ExitCode.UNTRUSTED == 3
    assert "not trusted" in capsys.readouterr().err
    # trusted by --trust (any spelling of the fingerprint) or by the trusted-keys file
    spelled = "SHA256:" + keyring_key.fingerprint.replace(":", "").upper()
    assert _run(["verify", str(signed["signed"]), "--trust", spelled, "--require-signature"]) == 0
    assert ": trusted" in capsys.readouterr().out
    tk = signed["folder"] / "trusted-keys"
    tk.write_text(f"# the lab\n{keyring_key.fingerprint}  Ann (lab 1)\n")
    assert _run(["verify", str(signed["signed"]), "--trusted-keys", str(tk), "--require-signature"]) == 0
    assert "trusted as Ann (lab 1)" in capsys.readouterr().out
    assert _run(["verify", str(signed["signed"]), "--trusted-keys", str(tk) + ".missing"]) == 2
    assert _run(["verify", str(signed["signed"]), "--trust", "not-a-fingerprint"]) == 2
    capsys.readouterr()


def test_a_forged_bundle_resigned_by_another_key_fails_require_signature(signed: dict, keyring_key, other_key,
                                                                          tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Report rewritten, findings cut, every hash recomputed, the manifest re-signed (even under the same
    name): every hash matches, the signature is valid — by a key that is not the examiner's."""
    forged = _forge(signed["signed"], tmp_path / "forged.zip", other_key,
                    {"report.html": b"<html>nothing to see</html>", "findings.csv": b"id\n"})
    res = verify_bundle(forged, trusted={keyring_key.fingerprint: "Ann"})
    assert res.ok, res.problems  # the hashes alone cannot tell
    assert res.signature.valid and not res.signature.trusted and res.signature.signer == "Ann Quill"
    assert res.signature.fingerprint == other_key.fingerprint != keyring_key.fingerprint
    assert _run(["verify", str(forged), "--trust", keyring_key.fingerprint, "--require-signature"]) == 3
    cap = capsys.readouterr()
    assert f"key {other_key.fingerprint}, which is not trusted" in cap.err and "re-signed" in cap.err
    assert cap.err.count("\n") == 1
    # extract refuses it too, before writing anything
    out = tmp_path / "x"
    assert _run(["extract", str(forged), "--out", str(out), "--trust", keyring_key.fingerprint,
                 "--require-signature"]) == 3
    cap = capsys.readouterr()
    assert "signature signed by Ann Quill" in cap.out and "nothing extracted" in cap.err and not out.exists()
    with pytest.raises(SignatureNotTrusted):
        extract_bundle(forged, out, trusted={keyring_key.fingerprint: "Ann"}, require_signature=True)
    assert not out.exists()


def test_a_tampered_manifest_fails_the_signature(signed: dict, keyring_key, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    members = _members(signed["signed"])
    manifest = json.loads(members[MANIFEST])
    manifest["case"]["name"] = "Another case"
    members[MANIFEST] = json.dumps(manifest, indent=1, ensure_ascii=False).encode()
    bad = _write(tmp_path / "bad.zip", members)
    res = verify_bundle(bad, trusted={keyring_key.fingerprint: ""})
    assert res.problems == [f"{SIGNATURE}: the signature does not match the manifest (changed after it was signed)"]
    assert res.signature.status == "invalid" and not res.signature.trusted
    assert _run(["verify", str(bad)]) == 1
    assert _run(["verify", str(bad), "--trust", keyring_key.fingerprint, "--require-signature"]) == 3
    assert "its signature is invalid" in capsys.readouterr().err
    # the signature removed while the manifest still names its signer
    del members[SIGNATURE]
    members[MANIFEST] = _members(signed["signed"])[MANIFEST]
    stripped = _write(tmp_path / "stripped.zip", members)
    assert verify_bundle(stripped).signature.status == "invalid"
    assert "no signature.json" in verify_bundle(stripped).problems[0]


def test_unsigned_fails_require_signature(signed: dict, capsys: pytest.CaptureFixture[str]) -> None:
    res = verify_bundle(signed["unsigned"])
    assert res.ok and res.signature.status == "unsigned" and res.signature.reason == "exported with --no-sign"
    assert _run(["verify", str(signed["unsigned"])]) == 0
    assert "signature NOT signed (exported with --no-sign)" in capsys.readouterr().out
    assert _run(["verify", str(signed["unsigned"]), "--require-signature"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not signed; --require-signature refuses it" in err


def test_extract_names_the_signer_and_writes_the_signature(signed: dict, keyring_key, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r"
    assert _run(["extract", str(signed["signed"]), "--out", str(out), "--trust", keyring_key.fingerprint,
                 "--require-signature"]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0] == f"signature signed by Ann Quill, key {keyring_key.fingerprint}: trusted"
    assert (out / SIGNATURE).read_bytes() == _members(signed["signed"])[SIGNATURE]
    got = extract_bundle(signed["signed"], tmp_path / "r2", trusted={keyring_key.fingerprint: "Ann"},
                         require_signature=True)
    assert got.verify.signature.trusted and (tmp_path / "r2" / SIGNATURE).is_file()


def test_a_pre_verified_extraction_still_checks_the_manifest(signed: dict, tmp_path: Path) -> None:
    """The window verifies, asks, then extracts with that result: a bundle swapped meanwhile is refused."""
    res = verify_bundle(signed["unsigned"])
    members = _members(signed["unsigned"])
    manifest = json.loads(members[MANIFEST])
    manifest["case"]["name"] = "swapped"
    members[MANIFEST] = json.dumps(manifest).encode()
    swapped = _write(tmp_path / "swapped.zip", members)
    from viewer.handover.bundle import BundleError

    with pytest.raises(BundleError, match="manifest.json: SHA-256 does not match"):
        extract_bundle(swapped, tmp_path / "out", verified=res)
    assert not (tmp_path / "out").exists()


# -- hostile signature members ---------------------------------------------------------------------------
def _sig(**over) -> bytes:
    doc = {"format": "evidence-viewer-bundle-signature", "version": 1, "algorithm": "ed25519",
           "public_key": base64.b64encode(b"\1" * 32).decode(), "signature": base64.b64encode(b"\2" * 64).decode()}
    doc.update(over)
    return json.dumps(doc).encode()


HOSTILE = {
    "not-json": b"\xff\xfe not json",
    "a-list": b"[1, 2, 3]",
    "deep": b"[" * 100_000 + b"]" * 100_000,
    "huge": b" " * (70 * 1024) + _sig(),
    "bad-base64": _sig(public_key="!!!not base64!!!"),
    "short-key": _sig(public_key=base64.b64encode(b"\1" * 31).decode()),
    "key-is-int": _sig(public_key=12345),
    "signature-is-list": _sig(signature=["a"]),
    "rsa": _sig(algorithm="rsa-pss-sha256"),
    "algorithm-is-dict": _sig(algorithm={"name": "ed25519"}),
    "other-format": _sig(format="something-else"),
    "version-2": _sig(version=2),
    "unicode-key": _sig(public_key="é" * 44),
    "wrong-signature": _sig(),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_a_hostile_signature_member_is_an_invalid_signature(signed: dict, tmp_path: Path, kind: str,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    members = _members(signed["signed"])
    members[SIGNATURE] = HOSTILE[kind]
    bad = _write(tmp_path / f"{kind}.zip", members)
    res = verify_bundle(bad)
    assert res.signature.status == "invalid" and res.signature.reason
    assert res.problems and res.problems[0].startswith(f"{SIGNATURE}: ")
    assert _run(["verify", str(bad), "--require-signature"]) == 3
    assert capsys.readouterr().err.count("\n") == 1


def test_check_signature_never_raises_on_hostile_manifests() -> None:
    for manifest in ({}, {"signature": None}, {"signature": "yes"}, {"signature": {"signed": "true"}},
                     {"signature": {"signed": True, "signer": ["\x1b[31m"], "fingerprint": 7}}):
        for member, present in ((None, False), (None, True), (_sig(), True), (b"{}", True)):
            check = check_signature(manifest, b"{}", member, present=present)
            assert check.status in ("unsigned", "invalid")
            assert "\x1b" not in check.describe()


# -- trusted keys -------------------------------------------------------------------------------------------
def test_trusted_keys_file_parsing(tmp_path: Path) -> None:
    fp1 = "ab" * 32
    fp2 = ":".join(("cd" * 32)[i:i + 4] for i in range(0, 64, 4))
    text = (f"# trusted examiners\n\n{fp1.upper()} Ann Quill (lab 1)  # since 2024\n"
            f"  {fp2}\n"
            f"SHA256:{'ef' * 32}\tBo\tFile\n"
            "not-a-fingerprint Mallory\n"
            f"{'ab' * 31} too short\n")
    keys = parse_trusted_keys(text, "tk")
    assert keys.names == {parse_fingerprint(fp1): "Ann Quill (lab 1)", fp2: "", parse_fingerprint("ef" * 32): "Bo File"}
    assert keys.problems == ["tk line 6: not a fingerprint (64 hex digits); ignored",
                             "tk line 7: not a fingerprint (64 hex digits); ignored"]
    assert parse_fingerprint(fp1) == ":".join(fp1[i:i + 4] for i in range(0, 64, 4))
    assert parse_fingerprint("xyz") is None and parse_fingerprint("ab" * 33) is None
    path = tmp_path / "trusted-keys"
    path.write_text(text)
    loaded = load_trusted_keys(path, required=True, extra=["12" * 32])
    assert len(loaded.names) == 4
    assert load_trusted_keys(tmp_path / "none").names == {}  # a missing default file: no one trusted
    with pytest.raises(FileNotFoundError):
        load_trusted_keys(tmp_path / "none", required=True)
    with pytest.raises(ValueError):
        load_trusted_keys(path, extra=["nope"])
    assert str(default_key_path()).startswith(os.environ["XDG_CONFIG_HOME"])  # the tests' own (conftest)
