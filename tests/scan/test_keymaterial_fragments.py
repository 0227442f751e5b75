"""Every form of a private value and the search for runs of them (viewer.scan.keymaterial: Form,
private_forms, symmetric_forms, token_forms, find_runs), on real files: runs planted at random places,
lengths and alignments are all found over their full extent; shorter ones, public-only ones and unrelated
bytes are not; the search is linear and cancellable."""

from __future__ import annotations

import base64
import hashlib
import os
import random
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from viewer.evidence import open_dump
from viewer.scan.keymaterial import (
    FRAGMENT,
    Form,
    encode,
    expand_key,
    find_runs,
    private_forms,
    symmetric_forms,
    token_forms,
)
from viewer.tasks import TaskState

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
JWT = (b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ0ZXN0IiwiaWF0IjoxNzAwMDAwMDAwfQ."
       b"c2lnbmF0dXJlLW9mLWEtdGVzdC10b2tlbi0xMjM0NTY3ODk")


def _forms() -> list[Form]:
    return [*private_forms(RSA_KEY), *private_forms(ec.generate_private_key(ec.SECP256R1())),
            *private_forms(ed25519.Ed25519PrivateKey.generate()), *symmetric_forms(os.urandom(32)),
            *token_forms(JWT, "jwt string")]


def _covered(runs: list[tuple[int, int, object, bool]]) -> set[int]:
    out: set[int] = set()
    for off, length, _tag, _whole in runs:
        out.update(range(off, off + length))
    return out


def test_forms_of_an_rsa_key() -> None:
    labels = {f.label for f in private_forms(RSA_KEY)}
    n = RSA_KEY.private_numbers()
    for comp in ("p", "q", "d", "dp", "dq", "qinv"):
        for layout in ("big-endian", "little-endian (32/64-bit limbs)", "28-bit digits in 32-bit words",
                       "60-bit digits in 64-bit words"):
            assert f"rsa {comp}, {layout}" in labels
        # base64url is its own form unless it is the same text (no '+' or '/' in it)
        assert {f"rsa {comp}, big-endian, base64 (alignment 2), UTF-16LE",
                f"rsa {comp}, big-endian, base64url (alignment 2), UTF-16LE"} & labels
        assert f"rsa {comp}, little-endian, hex (upper case)" in labels
    assert "rsa der-pkcs1, base64 (alignment 0)" in labels
    forms = {f.label: f for f in private_forms(RSA_KEY)}
    assert forms["rsa d, big-endian"].data == encode(n.d, "be")
    # the DER's private spans are its private integers: the modulus before them is public
    der = forms["rsa der-pkcs1"]
    assert der.private and der.private[0][0] > encode(n.public_numbers.n, "be").__len__()
    pem_body = b"".join(RSA_KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()).splitlines()[1:-1])
    assert forms["rsa der-pkcs8, base64 (alignment 0)"].data == pem_body[: len(forms["rsa der-pkcs8, base64 (alignment 0)"].data)]


def test_forms_of_a_symmetric_key() -> None:
    key = os.urandom(32)
    forms = {f.label: f for f in symmetric_forms(key)}
    assert forms["symmetric key"].data == key
    assert forms["aes schedule"].data == expand_key(key)
    assert forms["hmac ipad block (key XOR 0x36)"].data == bytes(b ^ 0x36 for b in key)
    assert forms["hmac opad block (key XOR 0x5c)"].data == bytes(b ^ 0x5C for b in key)
    long = os.urandom(100)  # longer than SHA-256's block: the HMAC key is its hash
    pads = {f.data for f in symmetric_forms(long) if "ipad" in f.label}
    assert bytes(b ^ 0x36 for b in hashlib.sha256(long).digest()) in pads
    assert bytes(b ^ 0x36 for b in long) in pads  # SHA-384/512 blocks are 128 bytes: the key itself
    assert {f.unit for f in token_forms(JWT, "jwt")} == {1, 2}


def test_runs_planted_anywhere_are_found_whole(tmp_path: Path) -> None:
    """400 runs of 16-60 units of random forms at random places (odd offsets, UTF-16 text at odd
    offsets, back to back, at the file's end) are each found, over their full extent."""
    rng = random.Random(12)
    forms = _forms()
    parts, planted, pos = [], [], 0
    while len(planted) < 400:
        form = rng.choice(forms)
        unit = form.unit
        spans = form.private or ((0, len(form.data)),)
        a, b = rng.choice(spans)
        if (b - a) // unit < FRAGMENT:
            continue
        length = rng.randint(FRAGMENT, min(60, (b - a) // unit))
        start = rng.randint(a // unit, b // unit - length)
        gap = os.urandom(rng.randint(0, 200)) if rng.random() < 0.8 else b"\0" * rng.randint(0, 9)
        parts.append(gap)
        pos += len(gap)
        frag = form.data[start * unit : (start + length) * unit]
        planted.append((pos, len(frag)))
        parts.append(frag)
        pos += len(frag)
    path = tmp_path / "planted.bin"
    path.write_bytes(b"".join(parts))
    with open_dump(path) as dump:
        runs = find_runs(dump, [(f, f.label) for f in forms])
    covered = _covered(runs)
    missed = [(off, n) for off, n in planted if not set(range(off, off + n)) <= covered]
    assert missed == []
    assert max(off + n for off, n, _t, _w in runs) <= pos


def test_short_public_and_unrelated_bytes_are_not_runs(tmp_path: Path) -> None:
    n = RSA_KEY.private_numbers()
    d = encode(n.d, "be")
    modulus = encode(n.public_numbers.n, "be")  # public: held by certificates, public keys
    cert_like = b"\x30\x82\x01\x0a\x02\x82\x01\x01\x00" + modulus + b"\x02\x03\x01\x00\x01"
    noise = os.urandom(1 << 20)
    path = tmp_path / "f.bin"
    path.write_bytes(noise + d[:15] + noise[:99] + cert_like + noise[:77] + d[30:46] + noise[:5])
    with open_dump(path) as dump:
        runs = find_runs(dump, [(f, f.label) for f in private_forms(RSA_KEY)])
    at = len(noise) + 15 + 99 + len(cert_like) + 77
    assert {(off, length) for off, length, _t, _w in runs} == {(at, 16)}  # the 16 bytes of d only
    assert {tag for off, _n, tag, _w in runs} >= {"rsa d, big-endian"}


def test_a_run_is_extended_over_the_whole_matching_extent(tmp_path: Path) -> None:
    """A DER copy is one run from its first byte to its last: the public modulus inside goes with the
    private integers it is glued to; the whole flag says so."""
    der = RSA_KEY.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    text = base64.b64encode(der)
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(1000) + der + os.urandom(1000) + text.decode().encode("utf-16-le") + b"\1")
    with open_dump(path) as dump:
        runs = find_runs(dump, [(f, f.label) for f in private_forms(RSA_KEY)])
    got = {(off, length, tag) for off, length, tag, whole in runs if whole}
    assert (1000, len(der), "rsa der-pkcs1") in got
    wide = [(off, length) for off, length, tag, _w in runs if tag == "rsa der-pkcs1, base64 (alignment 0), UTF-16LE"]
    assert wide and wide[0][0] == 2000 + len(der) and wide[0][1] >= 2 * (len(text) - 4)


def test_low_entropy_seeds_do_not_flood(tmp_path: Path) -> None:
    """The top digit of a number in 60-bit digits is a small word (0x02 and seven zero bytes): such
    seeds are replaced by wider windows, so a file full of small integers costs no more than noise,
    and a run through such a word is still found."""
    d60 = encode(RSA_KEY.private_numbers().d, "digits60")
    tail = d60[-24:]
    path = tmp_path / "f.bin"
    small = b"".join(i.to_bytes(8, "little") for i in range(1, 16)) * 20000
    path.write_bytes(small + tail + small[:64])
    forms = [f for f in private_forms(RSA_KEY) if f.label == "rsa d, 60-bit digits in 64-bit words"]
    with open_dump(path) as dump:
        runs = find_runs(dump, [(f, f.label) for f in forms])
    # the run reaches back into ``small`` as far as its last bytes happen to equal the key's (the key is
    # random: its digit before the tail ends in a zero byte one time in sixteen)
    back = 0
    while back < len(d60) - 24 and small[-1 - back] == d60[-25 - back]:
        back += 1
    assert [(off, length) for off, length, _t, _w in runs] == [(len(small) - back, 24 + back)]


def test_search_reports_progress_and_stops_on_cancel(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(9 << 20))
    seen: list[tuple[str, int, int]] = []
    state = TaskState(on_step=lambda step, done, total: seen.append((step, done, total)))
    with open_dump(path) as dump:
        find_runs(dump, [(f, f.label) for f in _forms()], state, step="fragments")
        assert seen and seen[-1] == ("fragments", 9 << 20, 9 << 20)
        cancelled = TaskState()
        cancelled.cancel()
        assert find_runs(dump, [(f, f.label) for f in _forms()], cancelled) == []


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17])
def test_tiny_files(tmp_path: Path, size: int) -> None:
    key = os.urandom(32)
    path = tmp_path / "tiny.bin"
    path.write_bytes(key[:size])
    with open_dump(path) as dump:
        runs = find_runs(dump, [(f, f.label) for f in symmetric_forms(key)])
    assert [(off, n) for off, n, _t, _w in runs if _t == "symmetric key"] == ([(0, size)] if size >= 16 else [])


def test_a_file_made_of_copies_stops_at_the_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hostile input: a file of nothing but copies of a key costs bounded memory and time; the search
    says it stopped (``truncated``) instead of pretending it saw everything."""
    from viewer.scan import keymaterial

    key = os.urandom(32)
    path = tmp_path / "copies.bin"
    path.write_bytes(b"".join(key + os.urandom(i % 7) for i in range(200)))
    forms = [(f, f.label) for f in symmetric_forms(key)]
    with open_dump(path) as dump:
        assert not find_runs(dump, forms).truncated
        monkeypatch.setattr(keymaterial, "MAX_ANCHORS", 50)
        runs = find_runs(dump, forms)
    assert runs.truncated and 0 < len(runs) <= 50
