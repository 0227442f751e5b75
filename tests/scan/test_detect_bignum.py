"""Live big-number RSA keys (viewer/scan/detectors/bignum.py): p, q, d, dp, dq and qinv held the way
OpenSSL (little-endian limbs), CNG/DER (big-endian) and libtommath (28/60-bit digits) hold them.

Real data, no mocks: the two sample dumps against samples-truth.json (every big-number representation the
truth lists as present, at exactly its offset), a python process holding an OpenSSL key dumped with gcore,
and controls (a modulus with no factor near it, truncated and lying numbers at the end of the file,
cancel)."""

from __future__ import annotations

import functools
import math
import os
import random
import re
import subprocess
import sys
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.builders.live import gcore
from viewer.evidence import open_dump
from viewer.scan.detector import PostScanContext
from viewer.scan.detectors import default_detectors
from viewer.scan.detectors.bignum import BignumDetector, _exponent_candidates, encode
from viewer.scan.engine import scan_dump
from viewer.scan.finding import Confidence
from viewer.scan.keys import key_id
from viewer.scan.publickeys import load_public_keys
from viewer.tasks import TaskState

COMPONENT_REP = re.compile(r"^(p|q|d|dp|dq|qinv)-(be|le|tommath28)$")
LAYOUT_NAMES = {"be": {"be"}, "le": {"le64", "le32", "le"}, "tommath28": {"digits28"}}
SAMPLES = ["gcore-python-rsa-ec.core", "wine-keyholder-full.dmp"]


def _truth_reps(samples_truth: dict, name: str) -> list[tuple[str, str, str, int, int]]:
    """(expected key_id, component, truth layout, offset, length) of every big-number representation of
    an RSA key that the truth lists as present in the dump."""
    dump = next(d for d in samples_truth["dumps"] if d["file"] == name)
    out = []
    for secret in dump["secrets"]:
        if secret["type"] != "rsa-private":
            continue
        pub = rsa.RSAPublicNumbers(int(secret["public"]["e"]), int(secret["public"]["n_hex"], 16)).public_key()
        kid = key_id(pub)
        for rep, info in secret["representations"].items():
            m = COMPONENT_REP.match(rep)
            if m is None or not info["found"]:
                continue
            for hit in info["hits"]:
                out.append((kid, m.group(1), m.group(2), hit["offset"], hit["length"]))
    return out


def _check_against_truth(result, expected) -> None:
    got = {(f.offset, f.length): f for f in result.findings if f.encoding == "raw-bignum"}
    missing = []
    for kid, comp, layout, offset, length in expected:
        f = got.get((offset, length))
        if f is None:
            missing.append((comp, layout, offset))
            continue
        assert f.kind == "rsa-private-key" and f.secret
        assert f.confidence == Confidence.CONFIRMED, f.reasons
        assert f.key_id == kid, (comp, layout, offset)
        assert f.details["component"] == comp, (comp, f.details)
        assert f.details["layout"] in LAYOUT_NAMES[layout], (layout, f.details)
        assert f.vaddr is not None and f.region
    assert not missing, missing


@pytest.mark.slow
@pytest.mark.parametrize("name", SAMPLES)
def test_sample_big_numbers_found_at_truth_offsets(samples_dir, samples_truth, name):
    expected = _truth_reps(samples_truth, name)
    assert expected, "the truth lists big-number representations for both samples"
    supplied = load_public_keys([samples_dir / f"{name}.public.pem"])
    with open_dump(samples_dir / name) as dump:
        result = scan_dump(dump, public_keys=supplied)
    _check_against_truth(result, expected)
    # every raw-bignum finding is a real copy: its bytes are the component in its layout
    assert not any(f.encoding == "raw-bignum" and f.confidence != Confidence.CONFIRMED for f in result.findings)
    assert any("bignum:" in n for n in result.stats.notes)


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_big_numbers_found_from_the_moduli_alone(samples_dir, samples_truth, name):
    """Without the other detectors nothing is known but the supplied moduli: the factors must be found in
    the windows around the live copies of the modulus, and the rest derived and located from them."""
    expected = _truth_reps(samples_truth, name)
    supplied = load_public_keys([samples_dir / f"{name}.public.pem"])
    with open_dump(samples_dir / name) as dump:
        result = scan_dump(dump, detectors=[BignumDetector()], public_keys=supplied)
    _check_against_truth(result, expected)
    rsa_keys = {k.key_id for k in supplied if isinstance(k.public_key, rsa.RSAPublicKey)}
    found = {pk["key_id"] for pk in result.public_keys if pk["found"]}
    assert rsa_keys <= found


# --- a live process ---------------------------------------------------------------------------------

HOLDER = r"""
import ctypes, sys
ctypes.CDLL(None).prctl(0x59616D61, ctypes.c_ulong(-1), 0, 0, 0)  # Yama: let gdb attach
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
open(sys.argv[1], "wb").write(key.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
print("ready", flush=True)
sys.stdin.readline()
n = key.private_numbers()  # only after the core was taken: no Python copy of the numbers is in it
print(format(n.p, "x"), format(n.q, "x"), flush=True)
"""


@pytest.fixture(scope="module")
def live_openssl_core(tmp_path_factory):
    work = tmp_path_factory.mktemp("bignum-live")
    pub = work / "public.pem"
    core = work / "holder.core"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(pub)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline().strip() == "ready"
        gcore(proc.pid, core)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        p_hex, q_hex = proc.stdout.readline().split()
    finally:
        proc.kill()
        proc.wait()
    return core, pub, int(p_hex, 16), int(q_hex, 16)


@pytest.mark.slow
def test_openssl_bignums_of_a_live_process_are_found(live_openssl_core):
    core, pub, p, q = live_openssl_core
    supplied = load_public_keys([pub])
    expected_id = supplied[0].key_id
    data = core.read_bytes()
    with open_dump(core) as dump:
        result = scan_dump(dump, public_keys=supplied)
    big = [f for f in result.findings if f.encoding == "raw-bignum"]
    for name, value in (("p", p), ("q", q)):
        rep = encode(value, "le")
        offsets = [m.start() for m in re.finditer(re.escape(rep), data)]
        assert offsets, f"{name}: OpenSSL's limbs are not in the core"
        limbs = [f for f in big if f.details["component"] in ("p", "q") and f.details["layout"] == "le64"
                 and data[f.offset : f.offset + f.length] == rep]
        assert limbs, f"{name} not found as 64-bit limbs"
        assert {f.offset for f in limbs} == set(offsets)
        for f in limbs:
            assert f.confidence == Confidence.CONFIRMED and f.key_id == expected_id
            assert f.matches, "not matched to the supplied public key"
    # every reported number is where it is said to be: its bytes decode to a component of the key
    assert all(f.key_id == expected_id for f in big)
    assert result.public_keys[0]["found"]


# --- controls ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key_and_pub(tmp_path_factory):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pub = tmp_path_factory.mktemp("bignum-key") / "pub.pem"
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    return key, pub


def _image(path, size: int, plants: list[tuple[int, bytes]], seed: int = 7):
    rng = random.Random(seed)
    data = bytearray(rng.randbytes(size))
    for off, blob in plants:
        data[off : off + len(blob)] = blob
    path.write_bytes(bytes(data[:size]))
    return path


def _bignum_findings(path, pub, deep: bool = False, state: TaskState | None = None):
    with open_dump(path) as dump:
        result = scan_dump(dump, detectors=[BignumDetector()], public_keys=load_public_keys([pub]), deep=deep,
                           state=state)
    return result, [f for f in result.findings if f.encoding == "raw-bignum"]


@pytest.mark.slow
def test_modulus_without_factors_nearby_gives_nothing(tmp_path, key_and_pub):
    key, pub = key_and_pub
    n = key.public_key().public_numbers().n
    path = _image(tmp_path / "mod.raw", 1 << 20, [(0x1000, encode(n, "le")), (0x9003, encode(n, "be")),
                                                  (0x20000, encode(n, "digits28")), (0x30000, encode(n, "digits60"))])
    result, found = _bignum_findings(path, pub)
    assert found == []
    assert not result.warnings
    assert any("4 copies located" in note for note in result.stats.notes)


@pytest.mark.parametrize("engine", ["hyperscan", "find"])
def test_synthetic_layouts_are_found_next_to_the_modulus(tmp_path, key_and_pub, engine, monkeypatch):
    if engine == "find":
        monkeypatch.setenv("EV_NO_HYPERSCAN", "1")
    key, pub = key_and_pub
    nums = key.private_numbers()
    n = nums.public_numbers.n
    plants = [
        (0x10000, encode(n, "le")),
        (0x10000 + 0x400, encode(nums.p, "le")),  # 64-bit aligned
        (0x10000 - 0x204, encode(nums.q, "le")),  # only 32-bit aligned
        (0x40000, encode(n, "digits60")),
        (0x40000 + 0x800, encode(nums.p, "digits60")),
        (0x50000, encode(nums.d, "be")),  # far from any modulus: located once p and q are known
        (0x60001, encode(nums.dmp1, "digits28")),
    ]
    path = _image(tmp_path / "layouts.raw", 1 << 20, plants)
    result, found = _bignum_findings(path, pub)
    got = {(f.offset, f.details["component"], f.details["layout"]) for f in found}
    assert (0x10400, "p", "le64") in got
    assert (0x10000 - 0x204, "q", "le32") in got
    assert (0x40800, "p", "digits60") in got
    assert (0x50000, "d", "be") in got
    assert (0x60001, "dp", "digits28") in got
    assert all(f.confidence == Confidence.CONFIRMED and f.key_id == key_id(key.public_key()) for f in found)
    for f in found:  # never a number in what is reported
        text = " ".join(f.reasons) + repr(f.details)
        assert format(nums.p, "x")[:24] not in text and str(nums.p)[:24] not in text


@pytest.mark.slow
@pytest.mark.parametrize(("exponent", "layout"), [("lambda", "le"), ("phi", "be")])
def test_a_private_exponent_alone_next_to_the_modulus_proves_the_key(tmp_path, key_and_pub, exponent, layout):
    """No factor anywhere: d (mod lambda(n) as OpenSSL computes it, or mod phi(n) as older code does) next
    to a copy of the modulus; p, q and the CRT values are derived from it."""
    key, pub = key_and_pub
    nums = key.private_numbers()
    n = nums.public_numbers.n
    d = nums.d if exponent == "lambda" else pow(65537, -1, (nums.p - 1) * (nums.q - 1))
    at = 0x9008 if layout == "le" else 0x9003
    path = _image(tmp_path / "d.raw", 1 << 20, [(0x8000, encode(n, "le")), (at, encode(d, layout))])
    _result, found = _bignum_findings(path, pub)
    assert [(f.offset, f.details["component"]) for f in found] == [(at, "d")]
    assert found[0].confidence == Confidence.CONFIRMED and found[0].key_id == key_id(key.public_key())
    assert any("private exponent" in r for r in found[0].reasons)


# --- private exponents of every length and every gcd(p-1, q-1) ---------------------------------------
# About one key in 17 from cryptography/OpenSSL has a d a byte or more shorter than n (d < lambda(n) =
# phi(n)/gcd(p-1, q-1)), and about one in 80 a gcd(p-1, q-1) over 128: the keys below have these properties
# by construction (primes p = q = 1 mod m, found from a fixed seed), so that the test does not depend on the
# luck of a freshly generated key.

E = 65537
_SMALL_PRIMES = [p for p in range(3, 2000, 2) if all(p % f for f in range(3, int(p**0.5) + 1, 2))]


def _probable_prime(n: int, rng: random.Random) -> bool:
    """Miller-Rabin, 24 rounds with bases from ``rng`` (a composite passes with probability < 2^-48)."""
    if any(n % s == 0 for s in _SMALL_PRIMES):
        return n in _SMALL_PRIMES
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(24):
        x = pow(rng.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(rng: random.Random, bits: int, m: int) -> int:
    """A prime p = 1 mod m (m even) with (p-1)/m odd and its top 4 bits set: n is close to 2^(2*bits), so
    that lambda(n) ~ n/gcd(p-1, q-1) is as long as it can be and a short d is d's doing, not n's."""
    while True:
        p = ((rng.getrandbits(bits) | (0xF << (bits - 4))) // (2 * m)) * 2 * m + m + 1
        if p.bit_length() == bits and p >> (bits - 4) == 0xF and (p - 1) % E and _probable_prime(p, rng):
            return p


def _numbers(p: int, q: int) -> rsa.RSAPrivateNumbers:
    d = pow(E, -1, (p - 1) * (q - 1) // math.gcd(p - 1, q - 1))  # as OpenSSL and cryptography compute it
    return rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), rsa.RSAPublicNumbers(E, p * q))


def _nbytes(value: int) -> int:
    return (value.bit_length() + 7) // 8


def _denominator(nums: rsa.RSAPrivateNumbers) -> int:
    """g in lowest terms of the fraction k/g that e*d/n is close to (e*d = 1 + k*phi(n)/gcd(p-1, q-1))."""
    p, q = nums.p, nums.q
    gcd = math.gcd(p - 1, q - 1)
    k = (E * nums.d - 1) // ((p - 1) * (q - 1) // gcd)
    return gcd // math.gcd(k, gcd)


# shape -> (m, the property the key must have); each is searched from seed 1, over q with p fixed
EXPONENT_SHAPES = {
    # d one byte shorter than n, gcd(p-1, q-1) = 128: only the length is at stake
    "d-a-byte-short": (128, lambda nums: math.gcd(nums.p - 1, nums.q - 1) == 128
                       and _nbytes(nums.d) == _nbytes(nums.public_numbers.n) - 1),
    # d as long as n, gcd(p-1, q-1) = 134: e*d/n is a fraction with denominator 67 or 134
    "gcd-134": (134, lambda nums: math.gcd(nums.p - 1, nums.q - 1) == 134 and _denominator(nums) > 64
                and _nbytes(nums.d) == _nbytes(nums.public_numbers.n)),
    # gcd(p-1, q-1) a multiple of 2*65521 (~2^17): d at least two bytes shorter than n
    "gcd-2^17": (2 * 65521, lambda nums: _denominator(nums) > 1 << 16
                 and _nbytes(nums.d) <= _nbytes(nums.public_numbers.n) - 2),
}


@functools.cache
def _shaped_key(shape: str) -> rsa.RSAPrivateNumbers:
    m, wanted = EXPONENT_SHAPES[shape]
    rng = random.Random(1)
    p = _prime(rng, 1024, m)
    while True:
        q = _prime(rng, 1024, m)
        if q != p and wanted(nums := _numbers(p, q)):
            return nums


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["le", "be", "le-padded", "be-padded"])
@pytest.mark.parametrize("shape", list(EXPONENT_SHAPES))
def test_a_private_exponent_of_any_length_and_any_gcd_proves_the_key(tmp_path, shape, layout):
    """d alone next to the modulus, for the keys whose d is shorter than n or whose gcd(p-1, q-1) is over
    128 (they used to be missed: d was read at the modulus's length, and e*d/n compared with k/g for
    g <= 128 only). Minimal (followed, little-endian, or preceded, big-endian, by random bytes) and padded
    with zero bytes to the modulus's length (OpenSSL's top limb, a CNG blob's field)."""
    nums = _shaped_key(shape)
    n = nums.public_numbers.n
    pad = bytes(_nbytes(n) - _nbytes(nums.d))
    order = layout.split("-")[0]
    at = 0x9008 if order == "le" else 0x9003
    rep = encode(nums.d, order)
    if layout == "le-padded":
        plant = rep + pad
    elif layout == "be-padded":
        plant, at = pad + rep, at - len(pad)
    else:
        plant = rep
    public = rsa.RSAPublicNumbers(E, n).public_key()
    pub = tmp_path / "pub.pem"
    pub.write_bytes(public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    path = _image(tmp_path / "d.raw", 1 << 20, [(0x8000, encode(n, "le")), (at, plant)])
    _result, found = _bignum_findings(path, pub)
    minimal_at = at + len(pad) if layout == "be-padded" else at
    assert [(f.offset, f.length, f.details["component"]) for f in found] == [(minimal_at, len(rep), "d")]
    assert found[0].confidence == Confidence.CONFIRMED and found[0].key_id == key_id(public)
    assert any("private exponent" in r for r in found[0].reasons)


def test_the_private_exponent_prefilter_lets_random_bytes_through_rarely():
    """Every length and every denominator up to 2^20 widen the prefilter: random bytes must still almost
    never reach the modular exponentiation (none in 256 KiB: over a million positions and lengths)."""
    n = _shaped_key("gcd-134").public_numbers.n
    data = random.Random(11).randbytes(256 * 1024)
    assert list(_exponent_candidates(data, 0, n, E)) == []


def test_truncated_and_lying_numbers_at_the_end_do_not_crash(tmp_path, key_and_pub):
    key, pub = key_and_pub
    nums = key.private_numbers()
    n = nums.public_numbers.n
    size = 1 << 18
    lying = b"".join((0x0FFFFFFF).to_bytes(4, "little") for _ in range(40))  # digits all at maximum
    plants = [
        (size - 300, encode(n, "le")),  # the modulus, whole, near the end
        (size - 40, encode(nums.p, "le")[:40]),  # a factor cut by the end of the file
        (size - 600, lying),
        (size - 200, encode(n, "be")[:200]),  # a truncated modulus copy: not a copy
    ]
    path = _image(tmp_path / "trunc.raw", size, plants)
    result, found = _bignum_findings(path, pub)
    assert found == []
    assert not result.warnings
    assert result.stats.detectors["bignum"].errors == 0
    # a file shorter than any number
    tiny = tmp_path / "tiny.raw"
    tiny.write_bytes(encode(n, "le")[:16])
    result, found = _bignum_findings(tiny, pub, deep=True)
    assert found == [] and result.stats.detectors["bignum"].errors == 0


@pytest.mark.slow
def test_deep_search_finds_a_factor_without_any_modulus_copy(tmp_path, key_and_pub):
    key, pub = key_and_pub
    nums = key.private_numbers()
    path = _image(tmp_path / "deep.raw", 1 << 20, [(0x7a008, encode(nums.q, "le"))])
    _result, found = _bignum_findings(path, pub)
    assert found == []  # no modulus in the dump: nothing to start from without --deep
    result, found = _bignum_findings(path, pub, deep=True)
    assert [(f.offset, f.details["component"]) for f in found] == [(0x7a008, "q")]
    assert found[0].confidence == Confidence.CONFIRMED
    assert any("deep factor search" in note and "MB/s" in note for note in result.stats.notes)


def test_cancel_is_honoured(tmp_path, key_and_pub):
    key, pub = key_and_pub
    nums = key.private_numbers()
    n = nums.public_numbers.n
    path = _image(tmp_path / "cancel.raw", 1 << 20, [(0x1000, encode(n, "le")), (0x1400, encode(nums.p, "le"))])
    state = TaskState()
    state.cancel()
    with open_dump(path) as dump:
        ctx = PostScanContext(dump=dump, view=dump.source, findings=(), public_keys=load_public_keys([pub]),
                              deep=True, state=state)
        started = time.perf_counter()
        assert list(BignumDetector().post_scan(ctx)) == []
        assert time.perf_counter() - started < 5


def test_bignum_is_a_default_detector():
    assert any(d.name == "bignum" for d in default_detectors())


def test_no_modulus_no_work(tmp_path):
    """Default-mode work is proportional to the moduli: none known, no pass over the file."""
    path = tmp_path / "plain.raw"
    path.write_bytes(os.urandom(1 << 20))
    with open_dump(path) as dump:
        ctx = PostScanContext(dump=dump, view=dump.source, findings=(), public_keys=(), deep=True)
        assert list(BignumDetector().post_scan(ctx)) == []
        assert ctx.notes == []


def test_the_small_prime_sieve_agrees_with_python_integers() -> None:
    """The candidates' residues mod the small primes, had for every position at once from prefix sums, are
    those of the numbers the bytes spell in each layout (little-endian, big-endian, the JVM's int[] at
    every phase): a position is let through exactly when its number has no factor among the primes. And a
    real factor is never sieved out."""
    import numpy as np

    from viewer.scan.detectors.bignum import SIEVE_PRIMES, _candidates, _Sieve
    from viewer.scan.keymaterial import swap32

    rng = random.Random(13)
    buf = rng.randbytes(3000)
    a = np.frombuffer(buf, dtype=np.uint8)
    length = 128
    for layout in ("le", "be", "jint"):
        for phase in range(4) if layout == "jint" else (0,):
            idx = np.arange(phase, len(buf) - length + 1, 4 if layout == "jint" else 1)
            got = _Sieve(a, phase, length).coprime(layout, idx, length)
            for i, ok in zip(idx.tolist(), got.tolist(), strict=True):
                raw = buf[i : i + length]
                value = (int.from_bytes(raw, "little") if layout == "le" else int.from_bytes(raw, "big")
                         if layout == "be" else int.from_bytes(swap32(raw), "big"))
                assert ok == all(value % p for p in SIEVE_PRIMES), (layout, phase, i)
    key = rsa.generate_private_key(65537, 2048)
    p = key.private_numbers().p
    planted = bytearray(rng.randbytes(4096))
    planted[1000:1128] = p.to_bytes(128, "little")
    planted[2001:2129] = p.to_bytes(128, "big")
    found = {(rel, layout) for rel, _n, layout, value in _candidates(bytes(planted), 0, 0, [(1024, 128)])
             if value == p}
    assert {(1000, "le"), (2001, "be")} <= found
