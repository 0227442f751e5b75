"""Cloud and API credential detectors (viewer.scan.detectors.credentials), on real files, no mocks.

Tokens are generated here (fake, random, never real): planted into random bytes and text at known
offsets, then found by running every prefilter pattern with Python ``re`` over the file and calling the
detector's ``validate`` through a real ByteSource, exactly as the engine does. Where the scan engine
exists (viewer.scan.engine.scan_dump), the same file also goes through it.

Controls: every dump of the shared corpus gives no credential finding at medium or above.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import random
import string
from pathlib import Path
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.builders.scan import assert_patterns_compile
from tests.builders.scan import run_detectors as _run_detectors
from tests.conftest import corpus_files
from viewer.evidence import ByteSource, open_dump
from viewer.scan import keys
from viewer.scan.detector import Hit
from viewer.scan.detectors.credentials import DETECTORS, base62_crc32
from viewer.scan.finding import Confidence, Finding

RNG = random.Random(20240601)
ALNUM = string.ascii_letters + string.digits
B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase  # independent of the module's table


def rand(chars: str, n: int) -> str:
    return "".join(RNG.choice(chars) for _ in range(n))


def gh_checksum(body30: str) -> str:
    """Independent re-implementation of GitHub's checksum: CRC32 of the random part, base62, 6 chars."""
    n = binascii.crc32(body30.encode()) & 0xFFFFFFFF
    digits = []
    while n:
        n, r = divmod(n, 62)
        digits.append(B62[r])
    return "".join(reversed(digits)).rjust(6, "0")


def github_token(prefix: str = "ghp_", valid: bool = True) -> str:
    body = rand(ALNUM, 30)
    check = gh_checksum(body)
    if not valid:
        check = check[:-1] + ("A" if check[-1] != "A" else "B")
    return prefix + body + check


def aws_pair() -> tuple[str, str]:
    key_id = "AKIA" + rand(string.ascii_uppercase + "234567", 16)
    while True:
        secret = base64.b64encode(RNG.randbytes(30)).decode()
        if (
            any(c.isupper() for c in secret)
            and any(c.islower() for c in secret)
            and any(c.isdigit() for c in secret)
        ):
            return key_id, secret


# -- running the detectors -----------------------------------------------------------------------------
def run_detectors(path: Path, detectors=DETECTORS) -> list[Finding]:
    return _run_detectors(path, detectors)


def run_engine(path: Path, engine: str = "auto") -> list[Finding] | None:
    """Through the scan engine when it exists (it is being written concurrently); None otherwise."""
    try:
        from viewer.scan.engine import scan_dump  # type: ignore[attr-defined]
    except ImportError:
        return None
    params = inspect.signature(scan_dump).parameters
    with open_dump(path) as dump:
        kwargs: dict = {"detectors": list(DETECTORS)} if "detectors" in params else {}
        if "engine" in params:
            kwargs["engine"] = engine
        result = scan_dump(dump, **kwargs)
        findings = getattr(result, "findings", result)
        return [f for f in findings if isinstance(f, Finding)]


class Planter:
    """Builds a file of random bytes and text with things planted at recorded offsets."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.where: dict[str, int] = {}

    def noise(self, n: int = 3000) -> None:
        self.buf += RNG.randbytes(n)
        self.buf += b"\n" + b"lorem ipsum dolor sit amet, consectetur adipiscing elit\n" * 8

    def plant(self, name: str, data: bytes, at: int = 0) -> None:
        """Append ``data``; record the offset of byte ``at`` inside it under ``name``."""
        self.where[name] = len(self.buf) + at
        self.buf += data

    def write(self, path: Path) -> Path:
        path.write_bytes(bytes(self.buf))
        path.chmod(0o444)
        return path


def only(findings: list[Finding], **attrs) -> Finding:
    hits = [f for f in findings if all(getattr(f, k) == v for k, v in attrs.items())]
    assert len(hits) == 1, f"expected one finding with {attrs}, got {[(f.kind, f.offset) for f in findings]}"
    return hits[0]


def assert_no_secret(finding: Finding, *secrets: str) -> None:
    text = json.dumps(finding.to_json())
    for s in secrets:
        assert s not in text, f"secret material leaked into {finding.kind} finding"
        assert s.encode("utf-16-le").decode("latin-1") not in text


# -- the planted file --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory):
    p = Planter()
    secrets: dict[str, str] = {}

    p.noise()
    aws_id, aws_secret = aws_pair()
    secrets["aws_id"], secrets["aws_secret"] = aws_id, aws_secret
    cfg = f"[default]\naws_access_key_id = {aws_id}\naws_secret_access_key = {aws_secret}\n".encode()
    p.plant("aws_pair", cfg, cfg.index(aws_id.encode()))
    secrets["aws_pair_end"] = str(cfg.index(aws_secret.encode()) + 40 - cfg.index(aws_id.encode()))

    p.noise()
    lone = "ASIA" + rand(string.ascii_uppercase + "234567", 16)
    secrets["aws_lone"] = lone
    p.plant("aws_lone", f"x-amz-key: {lone};\n".encode(), len("x-amz-key: "))

    p.noise()
    u_id, u_secret = aws_pair()
    secrets["aws_u16_id"], secrets["aws_u16_secret"] = u_id, u_secret
    u16 = f"AccessKeyId={u_id}\0SecretAccessKey={u_secret}\0".encode("utf-16-le")
    p.plant("aws_u16", u16, u16.index(u_id.encode("utf-16-le")))
    secrets["aws_u16_end"] = str(
        u16.index(u_secret.encode("utf-16-le")) + 80 - u16.index(u_id.encode("utf-16-le"))
    )

    p.noise()
    ghp = github_token("ghp_")
    secrets["ghp"] = ghp
    p.plant("ghp", f'token = "{ghp}"\n'.encode(), len('token = "'))

    p.noise()
    ghs_bad = github_token("ghs_", valid=False)
    secrets["ghs_bad"] = ghs_bad
    p.plant("ghs_bad", f" {ghs_bad} ".encode(), 1)

    p.noise()
    gho16 = github_token("gho_")
    secrets["gho16"] = gho16
    p.plant("gho16", b"\0\0" + gho16.encode("utf-16-le") + b"\0\0", 2)

    p.noise()
    pat = "github_pat_" + rand(ALNUM, 22) + "_" + rand(ALNUM, 59)
    secrets["pat"] = pat
    p.plant("pat", f"GH_TOKEN={pat}\n".encode(), len("GH_TOKEN="))

    p.noise()
    npm = github_token("npm_")
    secrets["npm"] = npm
    p.plant(
        "npm", f"//registry.npmjs.org/:_authToken={npm}\n".encode(), len("//registry.npmjs.org/:_authToken=")
    )

    p.noise()
    glpat = "glpat-" + rand(ALNUM + "_-", 20)
    secrets["glpat"] = glpat
    p.plant("glpat", f"PRIVATE-TOKEN: {glpat}\r\n".encode(), len("PRIVATE-TOKEN: "))

    p.noise()
    slack = f"xoxb-{rand(string.digits, 12)}-{rand(string.digits, 13)}-{rand(ALNUM, 24)}"
    secrets["slack"] = slack
    p.plant("slack", f"Authorization: Bearer {slack}\r\n".encode(), len("Authorization: Bearer "))

    p.noise()
    stripe = "sk_live_" + rand(ALNUM, 99)
    secrets["stripe"] = stripe
    p.plant("stripe", f"STRIPE_KEY='{stripe}'\n".encode(), len("STRIPE_KEY='"))
    stripe_test = "rk_test_" + rand(ALNUM, 24)
    secrets["stripe_test"] = stripe_test
    p.plant("stripe_test", f"STRIPE_TEST='{stripe_test}'\n".encode(), len("STRIPE_TEST='"))

    p.noise()
    az_key = base64.b64encode(RNG.randbytes(64)).decode()
    secrets["az_key"] = az_key
    conn = (
        "DefaultEndpointsProtocol=https;AccountName=evidencestore01;"
        f"AccountKey={az_key};EndpointSuffix=core.windows.net\0"
    ).encode()
    p.plant("az_key", conn, conn.index(az_key.encode()))

    p.noise()
    sig = base64.b64encode(RNG.randbytes(32)).decode()
    secrets["sas_sig"] = sig
    sas = f"sp=r&st=2024-01-01T00:00:00Z&se=2024-12-31T00:00:00Z&spr=https&sv=2022-11-02&sr=b&sig={quote(sig, safe='')}"
    url = f'"https://evidencestore01.blob.core.windows.net/c/blob.bin?{sas}"'.encode()
    p.plant("sas", url, url.index(b"sp=r"))
    secrets["sas_len"] = str(len(sas))

    p.noise()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    sa = {
        "type": "service_account",
        "project_id": "evidence-test-123",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": pem,
        "client_email": "scanner@evidence-test-123.iam.gserviceaccount.com",
        "client_id": "123456789012345678901",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
    }
    doc = json.dumps(sa, indent=2).encode()
    p.plant("gcp", doc)
    secrets["gcp_len"] = str(len(doc))
    secrets["gcp_pem_body"] = pem.splitlines()[5]
    secrets["gcp_key_id"] = keys.key_id(rsa_key.public_key())

    p.noise()
    broken = dict(sa, project_id="evidence-broken")
    lines = pem.splitlines()
    lines[3] = lines[3][:10] + ("A" if lines[3][10] != "A" else "B") + lines[3][11:]  # damage the key
    broken["private_key"] = "\n".join(lines) + "\n"
    bdoc = json.dumps(broken).encode()
    p.plant("gcp_broken", bdoc)
    secrets["gcp_broken_len"] = str(len(bdoc))

    p.noise()
    pg = "postgres://app_user:Xk29-pQ7mZ@db.internal:5432/evidence"
    p.plant("pg", f"DATABASE_URL={pg}\n".encode(), len("DATABASE_URL="))
    secrets["pg_password"] = "Xk29-pQ7mZ"
    web = "https://alice:tr0ub4dor3@intranet.example.org/path"
    p.plant("web", f"see {web} for details\n".encode(), len("see "))
    secrets["web_password"] = "tr0ub4dor3"
    for placeholder in (
        "postgres://user:password@localhost/db",
        "mysql://root:${DB_PASSWORD}@db/x",
        "redis://user:xxxxxxxx@cache:6379",
        "amqp://guest:guest@rabbit/",
    ):
        p.plant("placeholder", f" {placeholder} ".encode())

    p.noise()
    # AWS's documented example pair, shipped in every SDK: never reported.
    p.plant("example", b"AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n")
    p.noise()

    path = p.write(tmp_path_factory.mktemp("creds") / "planted.bin")
    return path, p.where, secrets, run_detectors(path)


def test_aws_pair(planted):
    _, where, s, found = planted
    f = only(found, kind="aws-credentials", encoding="ascii")
    assert f.offset == where["aws_pair"] and f.length == int(s["aws_pair_end"])
    assert f.confidence == Confidence.MEDIUM and f.secret
    assert f.details["provider"] == "aws" and f.details["prefix"] == "AKIA…"
    assert f.details["secret_length"] == 40
    assert any("labelled" in r for r in f.reasons)
    assert f.key_id == keys.symmetric_key_id(s["aws_secret"].encode())
    assert_no_secret(f, s["aws_id"], s["aws_secret"])


def test_aws_lone_key_id_is_low_context(planted):
    _, where, s, found = planted
    f = only(found, kind="aws-access-key-id")
    assert f.offset == where["aws_lone"] and f.length == 20
    assert f.confidence == Confidence.LOW and f.secret is False
    assert f.details["prefix"] == "ASIA…" and "temporary" in f.details["token_type"]
    assert_no_secret(f, s["aws_lone"])


def test_aws_utf16(planted):
    _, where, s, found = planted
    f = only(found, kind="aws-credentials", encoding="utf16le")
    assert f.offset == where["aws_u16"] and f.length == int(s["aws_u16_end"])
    assert f.confidence == Confidence.MEDIUM
    assert f.key_id == keys.symmetric_key_id(s["aws_u16_secret"].encode())
    assert_no_secret(f, s["aws_u16_id"], s["aws_u16_secret"])


def test_aws_documented_example_is_ignored(planted):
    _, where, _, found = planted
    assert not [f for f in found if f.offset == where["example"]]


def test_github_checksum_valid_is_high(planted):
    _, where, s, found = planted
    f = only(found, offset=where["ghp"])
    assert (f.kind, f.encoding, f.length) == ("api-token", "ascii", 40)
    assert f.confidence == Confidence.HIGH and "checksum valid (CRC32, base62)" in f.reasons
    assert f.details["provider"] == "github" and f.details["token_type"].startswith("personal access token")
    assert f.details["prefix"] == "ghp_…"
    assert f.key_id == keys.symmetric_key_id(s["ghp"].encode())
    assert_no_secret(f, s["ghp"][4:])


def test_github_checksum_invalid_is_low(planted):
    _, where, s, found = planted
    f = only(found, offset=where["ghs_bad"])
    assert f.confidence == Confidence.LOW and f.details["token_type"] == "server-to-server token"
    assert_no_secret(f, s["ghs_bad"][4:])


def test_github_utf16(planted):
    _, where, s, found = planted
    f = only(found, offset=where["gho16"])
    assert (f.encoding, f.length, f.confidence) == ("utf16le", 80, Confidence.HIGH)
    assert f.details["token_type"] == "OAuth access token"
    # Same token in another encoding: same identity.
    assert f.key_id == keys.symmetric_key_id(s["gho16"].encode())
    assert_no_secret(f, s["gho16"][4:])


def test_github_fine_grained_and_npm(planted):
    _, where, s, found = planted
    f = only(found, offset=where["pat"])
    assert (f.kind, f.length, f.confidence) == ("api-token", 93, Confidence.MEDIUM)
    assert f.details["token_type"] == "fine-grained personal access token"
    assert_no_secret(f, s["pat"][11:])
    n = only(found, offset=where["npm"])
    assert (n.length, n.confidence, n.details["provider"]) == (40, Confidence.HIGH, "npm")
    assert_no_secret(n, s["npm"][4:])


def test_gitlab_slack_stripe(planted):
    _, where, s, found = planted
    g = only(found, offset=where["glpat"])
    assert (g.length, g.confidence, g.details["provider"]) == (26, Confidence.MEDIUM, "gitlab")
    sl = only(found, offset=where["slack"])
    assert (sl.length, sl.confidence, sl.details["token_type"]) == (
        len(s["slack"]),
        Confidence.MEDIUM,
        "bot token",
    )
    st = only(found, offset=where["stripe"])
    assert (st.length, st.confidence, st.details["token_type"]) == (
        107,
        Confidence.MEDIUM,
        "secret key (live)",
    )
    tt = only(found, offset=where["stripe_test"])
    assert (tt.length, tt.confidence, tt.details["token_type"]) == (
        32,
        Confidence.LOW,
        "restricted key (test)",
    )
    for f, secret in (
        (g, s["glpat"][6:]),
        (sl, s["slack"].rsplit("-", 1)[1]),
        (st, s["stripe"][8:]),
        (tt, s["stripe_test"][8:]),
    ):
        assert f.kind == "api-token" and f.secret
        assert_no_secret(f, secret)


def test_azure_account_key(planted):
    _, where, s, found = planted
    f = only(found, offset=where["az_key"])
    assert (f.kind, f.length, f.confidence) == ("api-token", 88, Confidence.MEDIUM)
    assert f.details == {
        "provider": "azure",
        "token_type": "storage account key",
        "account_name": "evidencestore01",
    }
    assert f.key_id == keys.symmetric_key_id(base64.b64decode(s["az_key"]))
    assert_no_secret(f, s["az_key"], s["az_key"][:20])


def test_azure_sas(planted):
    _, where, s, found = planted
    f = only(found, offset=where["sas"])
    assert (f.kind, f.length, f.confidence) == ("api-token", int(s["sas_len"]), Confidence.MEDIUM)
    assert f.details["token_type"] == "shared access signature"
    assert f.details["permissions"] == "r" and f.details["expiry"] == "2024-12-31T00:00:00Z"
    assert f.details["signed_version"] == "2022-11-02"
    assert_no_secret(f, s["sas_sig"], quote(s["sas_sig"], safe=""), s["sas_sig"][:16])


def test_gcp_service_account_key_loads(planted):
    _, where, s, found = planted
    f = only(found, offset=where["gcp"])
    assert (f.kind, f.encoding, f.length) == ("gcp-service-account-key", "json", int(s["gcp_len"]))
    assert f.confidence == Confidence.HIGH and f.key_id == s["gcp_key_id"]
    assert f.details["client_email"] == "scanner@evidence-test-123.iam.gserviceaccount.com"
    assert f.details["algorithm"] == "RSA" and f.details["bits"] == 2048
    assert_no_secret(f, s["gcp_pem_body"])


def test_gcp_service_account_damaged_key_is_medium(planted):
    _, where, s, found = planted
    f = only(found, offset=where["gcp_broken"])
    assert (f.kind, f.length, f.confidence, f.key_id) == (
        "gcp-service-account",
        int(s["gcp_broken_len"]),
        Confidence.MEDIUM,
        None,
    )
    assert f.details["project_id"] == "evidence-broken"


def test_passwords_in_urls(planted):
    _, where, s, found = planted
    pg = only(found, offset=where["pg"])
    assert (pg.kind, pg.confidence, pg.details["provider"]) == (
        "password-in-url",
        Confidence.MEDIUM,
        "postgres",
    )
    assert pg.length == len("postgres://app_user:Xk29-pQ7mZ@db.internal")
    assert pg.details["host"] == "db.internal" and pg.key_id is None
    web = only(found, offset=where["web"])
    assert (web.confidence, web.details["provider"]) == (Confidence.LOW, "https")
    assert_no_secret(pg, s["pg_password"])
    assert_no_secret(web, s["web_password"])
    assert not [f for f in found if f.kind == "password-in-url" and f not in (pg, web)], (
        "placeholders reported"
    )


def test_nothing_unexpected(planted):
    """Every finding in the planted file is one that was planted."""
    _, where, _, found = planted
    planted_offsets = set(where.values())
    assert {f.offset for f in found} <= planted_offsets


def test_findings_never_hold_secrets_anywhere(planted):
    _, _, s, found = planted
    values = [v for k, v in s.items() if not k.endswith(("_len", "_end", "key_id"))]
    for f in found:
        text = json.dumps(f.to_json())
        for v in values:
            assert v not in text


def test_boundaries_reject_fragments(tmp_path):
    """A token shape glued to more token characters is a fragment of something else."""
    tok = github_token("ghp_")
    aws_id, _ = aws_pair()
    path = tmp_path / "glued.bin"
    path.write_bytes(b"x" + tok.encode() + b" " + aws_id.encode() + b"Q " + b"\0" + tok.encode() + b"7\n")
    assert run_detectors(path) == []


def test_placeholder_tokens_skipped(tmp_path):
    path = tmp_path / "placeholders.bin"
    path.write_bytes(b" ghp_" + b"x" * 36 + b" glpat-" + b"x" * 20 + b" sk_live_" + b"0" * 30 + b" \n")
    assert run_detectors(path) == []


def test_checksum_helper_matches_independent_implementation():
    for _ in range(200):
        body = rand(ALNUM, 30)
        assert base62_crc32(body) == gh_checksum(body)


def test_patterns_compile_for_hyperscan_and_re():
    assert_patterns_compile(DETECTORS)


def test_detectors_never_raise_on_garbage(tmp_path):
    """Hits at the very start and end of a file, truncated structures: no exception, no nonsense."""
    path = tmp_path / "edges.bin"
    path.write_bytes(
        b"AKIA" + b"A" * 16 + b'{"type":"service_account","private_key":"-----BEGIN PRIVATE KEY-----\\nAAAA'
    )
    found = run_detectors(path)
    assert all(f.confidence <= Confidence.LOW or f.kind.startswith("gcp") for f in found)
    with ByteSource(path) as src:
        for det in DETECTORS:
            for pat in det.patterns:
                for start in (0, src.size - 1, src.size, src.size + 10):
                    list(det.validate(src, Hit(pat.name, start, start + 1)))


def test_ec_key_in_service_account(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    path = tmp_path / "sa.json"
    path.write_bytes(b"\0" * 100 + json.dumps({"type": "service_account", "private_key": pem}).encode())
    (f,) = run_detectors(path)
    assert (f.offset, f.kind, f.key_id) == (100, "gcp-service-account-key", keys.key_id(key.public_key()))
    assert f.details["curve"] == "P-256"


@pytest.mark.parametrize("engine", ["re", "hyperscan"])
def test_through_engine_when_present(planted, engine: str):
    """The scan engine (hyperscan prefilter and its Python re fallback) finds exactly the same things."""
    if engine == "hyperscan":
        __import__("hyperscan")
    path, _, _, found = planted
    via_engine = run_engine(path, engine)
    assert via_engine is not None
    mine = {(f.kind, f.encoding, f.offset, f.length, f.confidence) for f in found}
    theirs = {(f.kind, f.encoding, f.offset, f.length, f.confidence) for f in via_engine}
    assert mine == theirs


@pytest.mark.slow
@pytest.mark.parametrize("dump", corpus_files(), ids=lambda p: p.name)
def test_corpus_has_no_credentials(dump: Path):
    """Controls: real crash dumps of test programs hold no credentials at medium or above."""
    found = run_detectors(dump)
    assert [(f.kind, f.offset, str(f.confidence)) for f in found if f.confidence >= Confidence.MEDIUM] == []
