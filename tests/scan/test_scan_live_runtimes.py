"""Keys of other runtimes in live processes the tests start and dump with gcore: a Go program (standard
library only), a JVM, Node.js and nginx serving TLS after real handshakes. Each holds keys it generated
and prints their public truth; every key must be found at its bytes (read back and checked against the
truth: a seed derives the public key, a number divides the modulus or gives the public point, a raw key
equals the printed one) under the key's id. A control process of each runtime holds no private key and
must give no secret finding above ``low``."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from tests.builders import runtimes
from tests.builders.certs import self_signed
from viewer.evidence import open_dump
from viewer.scan.engine import ScanResult, scan_dump
from viewer.scan.finding import Confidence, Finding
from viewer.scan.keymaterial import swap32
from viewer.scan.keys import key_id, public_jwk, symmetric_key_id
from viewer.scan.publickeys import load_public_keys

pytestmark = pytest.mark.slow  # gcore of live processes, cores of 0.4-1.1 GB


def public_files(tmp: Path, truth: dict[str, str], names: list[str]) -> list[Path]:
    out = []
    for name in names:
        pub = serialization.load_der_public_key(bytes.fromhex(truth[name]))
        path = tmp / f"{name}.pem"
        path.write_bytes(pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        out.append(path)
    return out


def jwks_file(tmp: Path, truth: dict[str, str], names: list[str]) -> Path:
    """The same public keys as an identity provider publishes them: one JWKS, ``kid`` = ``NAME-jwks``."""
    entries = []
    for name in names:
        jwk = dict(public_jwk(serialization.load_der_public_key(bytes.fromhex(truth[name]))))
        entries.append(dict(jwk, kid=f"{name}-jwks", use="sig"))
    path = tmp / "jwks.json"
    path.write_text(json.dumps({"keys": entries}, indent=1))
    return path


def assert_matched_by_both(result: ScanResult, pem: list[Path], jwks: Path, names: list[str]) -> None:
    """Supplied as PEM and as a JWKS at once: each key's JWKS entry has the PEM key's id, both are found,
    and every secret finding of the key names both entries in ``matches``."""
    by_pem = {path.stem: key for path in pem for key in load_public_keys([path])}
    by_kid = {key.label: key for key in load_public_keys([jwks])}
    assert sorted(by_kid) == sorted(f"{n}-jwks" for n in names)
    for name in names:
        pem_key, jwks_key = by_pem[name], by_kid[f"{name}-jwks"]
        assert jwks_key.key_id == pem_key.key_id
        found = secrets_of(result, jwks_key.key_id)
        assert found, name
        assert all({pem_key.label, jwks_key.label} <= set(f.matches) for f in found), name
    status = {s["label"]: s["found"] for s in result.public_keys}
    assert all(status[f"{n}-jwks"] for n in names) and all(status[by_pem[n].label] for n in names)


def scan(core: Path, keys: list[Path]) -> ScanResult:
    with open_dump(core) as dump:
        return scan_dump(dump, public_keys=load_public_keys(keys) if keys else None)


def number_at(data: bytes, layout: str, bits: int = 256) -> int:
    """The number in ``data`` as ``layout`` stores it; ``bits``: the curve's size, for the JDK's field
    limbs (IntegerPolynomial: n signed 64-bit limbs of ceil(bits / n) bits each — 10 x 26 for P-256,
    14 x 28 for P-384, 19 x 28 for P-521)."""
    if layout in ("le", "le32", "le64"):
        return int.from_bytes(data, "little")
    if layout == "be":
        return int.from_bytes(data, "big")
    if layout == "jint":
        return int.from_bytes(swap32(data), "big")
    if layout == "jdk-limbs":
        words = struct.unpack(f"<{len(data) // 8}q", data)
        width = -(-bits // len(words))
        return sum(w << (width * i) for i, w in enumerate(words))
    raise AssertionError(f"layout {layout} not checked here")


def check_rsa(core: Path, found: list[Finding], public: rsa.RSAPublicKey) -> set[str]:
    """Every RSA finding's bytes are a number of this key; returns the layouts seen."""
    n, e = public.public_numbers().n, public.public_numbers().e
    layouts = set()
    with open(core, "rb") as fh:
        for f in found:
            fh.seek(f.offset)
            data = fh.read(f.length)
            if "layout" not in f.details:  # a DER structure; a number (raw, or a Java object's int[]) has a layout
                key = serialization.load_der_private_key(data, None)
                assert key.public_key().public_numbers().n == n
                continue
            value = number_at(data, f.details["layout"])
            comp = f.details["component"]
            if comp in ("p", "q"):
                assert n % value == 0 and 1 < value < n
            elif comp == "d":
                assert pow(pow(7, e, n), value, n) == 7
            layouts.add(f.details["layout"])
    return layouts


def check_ec(core: Path, found: list[Finding], public: ec.EllipticCurvePublicKey) -> set[str]:
    layouts = set()
    with open(core, "rb") as fh:
        for f in found:
            fh.seek(f.offset)
            data = fh.read(f.length)
            if f.encoding == "raw-bignum":
                d = number_at(data, f.details["layout"], public.curve.key_size)
                layouts.add(f.details["layout"])
            else:
                assert f.encoding == "der-sec1"
                d = int.from_bytes(data[7 : 7 + data[6]], "big")
            derived = ec.derive_private_key(d, public.curve).public_key()
            assert derived.public_numbers() == public.public_numbers()
    return layouts


def check_ed25519(core: Path, found: list[Finding], public: bytes) -> None:
    with open(core, "rb") as fh:
        for f in found:
            fh.seek(f.offset)
            data = fh.read(f.length)
            pub = ed25519.Ed25519PrivateKey.from_private_bytes(data[:32]).public_key().public_bytes_raw()
            assert pub == public
            if f.encoding == "ed25519-seed-public":
                assert data[32:] == public


def secrets_of(result: ScanResult, kid: str) -> list[Finding]:
    return [f for f in result.findings if f.secret and f.key_id == kid]


def assert_control_clean(result: ScanResult, drbg_keys: int = 0) -> None:
    """No secret above ``low`` — but ``drbg_keys`` AES keys: OpenSSL 3 seeds its CTR-DRBGs (primary,
    public, private: AES-256 each) when a process starts using it, and Node.js does so at start-up even
    without ``crypto``. Those keys are real secrets (the generator's state, from which its output can be
    predicted), found by their schedules and rightly reported; the control allows them, nothing else."""
    loud = [f for f in result.findings if f.secret and f.confidence > Confidence.LOW]
    drbg = {f.key_id for f in loud if f.kind == "aes-key"}
    if drbg_keys and len(drbg) <= drbg_keys:
        loud = [f for f in loud if f.kind != "aes-key"]
    assert [(f.kind, f.encoding, str(f.confidence)) for f in loud] == []
    assert not [w for w in result.warnings if "failed" in w or "raised" in w]


def test_go_keys(tmp_path: Path):
    core = tmp_path / "go.core"
    truth = runtimes.go_dump(tmp_path, runtimes.GO_HOLDER, core)
    rsa_pub = serialization.load_der_public_key(bytes.fromhex(truth["rsa"]))
    ec_pub = serialization.load_der_public_key(bytes.fromhex(truth["ec"]))
    ed_pub = serialization.load_der_public_key(bytes.fromhex(truth["ed25519"]))
    hkey = bytes.fromhex(truth["hmac"])
    # the Ed25519 key is self-validating: its public key is not supplied
    result = scan(core, public_files(tmp_path, truth, ["rsa", "ec"]))

    ed = secrets_of(result, key_id(ed_pub))
    assert {f.encoding for f in ed} >= {"ed25519-seed-public"}
    assert all(f.confidence == Confidence.CONFIRMED for f in ed)
    check_ed25519(core, ed, ed_pub.public_bytes_raw())

    mac = secrets_of(result, symmetric_key_id(hkey))
    assert {f.encoding for f in mac} >= {"hmac-ipad", "hmac-opad", "raw"}
    with open(core, "rb") as fh:
        for f in mac:
            fh.seek(f.offset)
            data = fh.read(f.length)
            pad = {"hmac-ipad": 0x36, "hmac-opad": 0x5C, "raw": 0}[f.encoding]
            assert bytes(b ^ pad for b in data[:32]) == hkey

    r = secrets_of(result, key_id(rsa_pub))
    assert {f.details.get("component") for f in r} >= {"p", "q"}
    assert "le64" in check_rsa(core, r, rsa_pub)  # Go's nat: little-endian 64-bit words

    e = secrets_of(result, key_id(ec_pub))
    assert e and "le64" in check_ec(core, e, ec_pub)
    assert any("Go big.Int" in " ".join(f.reasons) for f in e)
    assert all(s["found"] for s in result.public_keys)


def test_go_control(tmp_path: Path):
    core = tmp_path / "go-control.core"
    runtimes.go_dump(tmp_path, runtimes.GO_CONTROL, core)
    assert_control_clean(scan(core, []))


@pytest.fixture(scope="module")
def jvm(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("jvm")
    core, hprof = tmp / "java.core", tmp / "java.hprof"
    truth = runtimes.java_dump(tmp, runtimes.JAVA_HOLDER, core, hprof)
    return tmp, core, hprof, truth


def test_jvm_keys(jvm):
    tmp, core, _hprof, truth = jvm
    rsa_pub = serialization.load_der_public_key(bytes.fromhex(truth["rsa"]))
    ec_pub = serialization.load_der_public_key(bytes.fromhex(truth["ec"]))
    hkey, akey = bytes.fromhex(truth["hmac"]), bytes.fromhex(truth["aes"])
    result = scan(core, public_files(tmp, truth, ["rsa", "ec"]))

    r = secrets_of(result, key_id(rsa_pub))
    assert "jint" in check_rsa(core, r, rsa_pub)  # BigInteger's int[] magnitudes
    assert {f.details.get("component") for f in r if f.details.get("layout") == "jint"} >= {"p", "q"}

    e = secrets_of(result, key_id(ec_pub))
    layouts = check_ec(core, e, ec_pub)
    assert {"jdk-limbs", "le64"} <= layouts or {"jdk-limbs", "le"} <= layouts

    mac = secrets_of(result, symmetric_key_id(hkey))
    assert {f.encoding for f in mac} >= {"hmac-ipad", "hmac-opad"}

    aes = secrets_of(result, symmetric_key_id(akey))
    schedules = [f for f in aes if f.encoding != "raw"]
    assert any(f.details.get("rotated") == "jdk" for f in schedules)  # the JDK's decryption schedule
    assert any(f.encoding == "aes-key-schedule" for f in schedules)
    assert all(f.confidence == Confidence.CONFIRMED for f in r + e + mac + aes)
    assert all(s["found"] for s in result.public_keys)


def test_jvm_p384_and_p521_keys(tmp_path: Path):
    """A JVM holding P-384 and P-521 keys it generated and signed with: each private scalar found,
    confirmed, in the JDK's own field-limb layout of its curve (and whatever copies it keeps), every one
    deriving the public key the process printed."""
    core = tmp_path / "java-curves.core"
    truth = runtimes.java_dump(tmp_path, runtimes.JAVA_EC_CURVES, core)
    result = scan(core, public_files(tmp_path, truth, ["p384", "p521"]))
    for name in ("p384", "p521"):
        public = serialization.load_der_public_key(bytes.fromhex(truth[name]))
        found = secrets_of(result, key_id(public))
        assert found, name
        layouts = check_ec(core, found, public)
        assert "jdk-limbs" in layouts, (name, layouts)
        assert all(f.confidence == Confidence.CONFIRMED for f in found), name
    assert all(s["found"] for s in result.public_keys)


def test_jvm_heap_dump(jvm, tmp_path: Path):
    """The same JVM's heap written by ``jcmd PID GC.heap_dump``: parsed, every key found by its objects
    with the object context, and redacted into a valid HPROF that re-scans clean."""
    from viewer.evidence.formats import hprof
    from viewer.handover.redact import redact_file

    tmp, _core, heap, truth = jvm
    rsa_pub = serialization.load_der_public_key(bytes.fromhex(truth["rsa"]))
    ec_pub = serialization.load_der_public_key(bytes.fromhex(truth["ec"]))
    hkey, akey = bytes.fromhex(truth["hmac"]), bytes.fromhex(truth["aes"])
    with open_dump(heap) as dump:
        assert dump.format == "hprof" and not dump.warnings
        objects = [n.name for n in dump.structure.find("key objects").children]
        assert any(n.startswith("sun.security.rsa.RSAPrivateCrtKeyImpl @") for n in objects)
    keys = public_files(tmp, truth, ["rsa", "ec"])
    jwks = jwks_file(tmp_path, truth, ["rsa", "ec"])
    result = scan(heap, [*keys, jwks])
    assert_matched_by_both(result, keys, jwks, ["rsa", "ec"])
    r = secrets_of(result, key_id(rsa_pub))
    check_rsa(heap, [f for f in r if f.encoding != "der-pkcs1"], rsa_pub)
    fields = {f.details.get("hprof", {}).get("field") for f in r}
    assert {"p.mag", "q.mag", "d.mag"} <= fields
    assert all(f.details["hprof"]["class"] == "sun.security.rsa.RSAPrivateCrtKeyImpl" for f in r
               if f.details.get("hprof", {}).get("field") in ("p.mag", "q.mag"))
    e = secrets_of(result, key_id(ec_pub))
    assert any(f.details.get("hprof", {}).get("field") == "arrayS" for f in e)
    aes = secrets_of(result, symmetric_key_id(akey))
    assert any(f.details.get("rotated") == "jdk" for f in aes)  # big-endian ints, packed records
    assert any(f.details.get("hprof", {}).get("class") == "javax.crypto.spec.SecretKeySpec" for f in aes)
    assert {f.encoding for f in secrets_of(result, symmetric_key_id(hkey))} >= {"hmac-ipad", "hmac-opad"}
    assert all(f.confidence == Confidence.CONFIRMED for f in r + e)
    # JDK 17's EdDSAPrivateKeyImpl: the seed (h) and PKCS8Key.key's copy of it, proved by the heap's own
    # EdDSAPublicKeyImpl (its public key is not supplied as a file, only in the JWKS test above)
    ed_pub = serialization.load_der_public_key(bytes.fromhex(truth["ed25519"]))
    ed = [f for f in secrets_of(result, key_id(ed_pub)) if f.encoding == "hprof-object"]
    assert {f.details["hprof"]["field"] for f in ed} == {"h", "key"}
    assert all(f.details["hprof"]["class"] == "sun.security.ec.ed.EdDSAPrivateKeyImpl" for f in ed)
    assert all(f.confidence == Confidence.CONFIRMED for f in ed)
    check_ed25519(heap, ed, ed_pub.public_bytes_raw())

    out = tmp_path / "clean.hprof"
    done = redact_file(heap, out, public_keys=load_public_keys(keys))
    assert done.clean
    with open_dump(heap) as before, open_dump(out) as after:
        assert after.format == "hprof" and not after.warnings and after.meta == before.meta
        assert len(hprof.resolved(after.source).primitive_arrays) == len(hprof.resolved(before.source).primitive_arrays)
        data = after.read(0, after.size)
    assert akey not in data and hkey not in data
    seed = heap.read_bytes()[ed[0].offset : ed[0].offset + 32]
    assert all(data[f.offset : f.offset + 32] != seed for f in ed)  # both copies overwritten
    again = scan(out, keys)
    assert not [f for f in again.findings if f.secret and f.confidence > Confidence.LOW]


def test_jvm_control(tmp_path: Path):
    core = tmp_path / "java-control.core"
    runtimes.java_dump(tmp_path, runtimes.JAVA_CONTROL, core)
    assert_control_clean(scan(core, []))


def test_node_keys(tmp_path: Path):
    core = tmp_path / "node.core"
    truth = runtimes.node_dump(runtimes.NODE_HOLDER, core)
    rsa_pub = serialization.load_der_public_key(bytes.fromhex(truth["rsa"]))
    ec_pub = serialization.load_der_public_key(bytes.fromhex(truth["ec"]))
    ed_pub = serialization.load_der_public_key(bytes.fromhex(truth["ed25519"]))
    akey = bytes.fromhex(truth["aes"])
    pem = public_files(tmp_path, truth, ["rsa", "ec", "ed25519"])
    jwks = jwks_file(tmp_path, truth, ["rsa", "ec", "ed25519"])
    result = scan(core, [*pem, jwks])
    assert_matched_by_both(result, pem, jwks, ["rsa", "ec", "ed25519"])  # RSA, EC P-256, OKP Ed25519
    r = secrets_of(result, key_id(rsa_pub))
    assert {f.details.get("component") for f in r} >= {"p", "q"}
    check_rsa(core, r, rsa_pub)
    e = secrets_of(result, key_id(ec_pub))
    assert e and check_ec(core, e, ec_pub)
    ed = secrets_of(result, key_id(ed_pub))
    assert ed  # OpenSSL's ECX_KEY: through the pointer beside the public key
    check_ed25519(core, ed, ed_pub.public_bytes_raw())
    assert secrets_of(result, symmetric_key_id(akey))
    assert all(s["found"] for s in result.public_keys)


def test_node_control(tmp_path: Path):
    core = tmp_path / "node-control.core"
    runtimes.node_dump(runtimes.NODE_CONTROL, core)
    assert_control_clean(scan(core, []), drbg_keys=3)


def test_nginx_tls_keys(tmp_path: Path):
    """nginx with an RSA and an ECDSA certificate, after real TLS handshakes with curl: both keys are
    found from the certificates' public keys alone (nothing supplied)."""
    pairs, keys = [], {}
    for name, key in (("rsa", rsa.generate_private_key(65537, 2048)), ("ec", ec.generate_private_key(ec.SECP256R1()))):
        cert, pem = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
        cert.write_bytes(self_signed(key, f"{name}.nginx.test").public_bytes(serialization.Encoding.PEM))
        pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
        pairs.append((cert, pem))
        keys[name] = key
    core = tmp_path / "nginx.core"
    runtimes.nginx_dump(tmp_path, core, pairs)
    result = scan(core, [])
    r = secrets_of(result, key_id(keys["rsa"].public_key()))
    assert {f.details.get("component") for f in r} >= {"p", "q", "d"}
    check_rsa(core, r, keys["rsa"].public_key())
    e = secrets_of(result, key_id(keys["ec"].public_key()))
    assert e
    check_ec(core, e, keys["ec"].public_key())


def test_nginx_control(tmp_path: Path):
    core = tmp_path / "nginx-control.core"
    runtimes.nginx_dump(tmp_path, core, [])
    assert_control_clean(scan(core, []))
