"""An independent count of what a redacted copy still holds of a sample's private values.

Independent of the redaction's own search (viewer.scan.keymaterial.find_runs, seed and extend with
numpy): the private values are read from samples-truth.json's hit offsets in the original, every form is
written out here with the standard library only, and the copy is walked with a dict of every 8-byte
(16-byte for UTF-16LE text) substring of every form, at a stride of 8 (16) bytes — any run of 16 bytes
(32 bytes of UTF-16LE: 16 characters) holds one such aligned block of the copy — then extended byte by
byte. Its result is the exact set of maximal runs of 16 units or more.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable

FRAGMENT = 16


def _digits(value: int, bits: int, width: int) -> bytes:
    out = bytearray()
    mask = (1 << bits) - 1
    while True:
        out += (value & mask).to_bytes(width, "little")
        value >>= bits
        if not value:
            return bytes(out)


def number_encodings(value: int) -> dict[str, bytes]:
    """A number as memory and text hold it: big/little-endian, 28/60-bit digits, hex, base64."""
    be = value.to_bytes((value.bit_length() + 7) // 8, "big")
    le = be[::-1]
    out = {"be": be, "le": le, "digits28": _digits(value, 28, 4), "digits60": _digits(value, 60, 8)}
    out.update(text_encodings(be, "be"))
    out["le hex"] = le.hex().encode()
    out["le HEX"] = le.hex().upper().encode()
    return out


def text_encodings(raw: bytes, name: str) -> dict[str, bytes]:
    """hex (both cases), and base64/base64url of ``raw`` starting at each of its first three bytes
    (the last, incomplete group dropped: its characters depend on what follows)."""
    out = {f"{name} hex": raw.hex().encode(), f"{name} HEX": raw.hex().upper().encode()}
    for align in range(3):
        part = raw[align:]
        keep = len(part) // 3 * 4 + len(part) % 3
        text = base64.b64encode(part)[:keep]
        out[f"{name} base64/{align}"] = text
        out[f"{name} base64url/{align}"] = text.replace(b"+", b"-").replace(b"/", b"_")
    return out


def with_utf16(encodings: dict[str, bytes]) -> dict[str, tuple[bytes, int]]:
    """Every encoding as (bytes, unit); text ones also in UTF-16LE (unit 2)."""
    out: dict[str, tuple[bytes, int]] = {}
    for name, data in encodings.items():
        out[name] = (data, 1)
        if any(t in name for t in ("hex", "HEX", "base64")):
            out[name + " utf16"] = (data.decode("latin-1").encode("utf-16-le"), 2)
    return out


def runs_left(copy: bytes, forms: dict[str, tuple[bytes, int]]) -> list[tuple[str, int, int]]:
    """(form name, offset in the copy, length in bytes) of every maximal run of at least 16 units of any
    form in ``copy``."""
    found: dict[tuple[str, int], int] = {}
    for unit in (1, 2):
        block = 8 * unit
        index: dict[bytes, list[tuple[str, int]]] = {}
        for name, (data, u) in forms.items():
            if u != unit:
                continue
            for i in range(len(data) - block + 1):
                index.setdefault(data[i : i + block], []).append((name, i))
        if not index:
            continue
        for pos in range(0, len(copy) - block + 1, block):
            hits = index.get(copy[pos : pos + block])
            if not hits:
                continue
            for name, i in hits:
                data = forms[name][0]
                start, end = pos, pos + block
                j = i
                while start - unit >= 0 and j - unit >= 0 and copy[start - unit : start] == data[j - unit : j]:
                    start -= unit
                    j -= unit
                k = i + block
                while k + unit <= len(data) and copy[end : end + unit] == data[k : k + unit]:
                    end += unit
                    k += unit
                if end - start >= FRAGMENT * unit:
                    found[(name, start)] = max(found.get((name, start), 0), end - start)
    return sorted((name, off, length) for (name, off), length in found.items())


def private_values(truth: dict, original: bytes) -> dict[str, dict[str, tuple[bytes, int]]]:
    """secret id -> every form of every private value the truth records for it (values read from the
    original at their recorded offsets: RSA p, q, d, dp, dq, qinv and EC d; AES keys and schedules)."""
    out: dict[str, dict[str, tuple[bytes, int]]] = {}
    for secret in truth["secrets"]:
        values: dict[str, int] = {}
        for rep_name, rep in secret["representations"].items():
            if rep["role"] != "private" or not rep["hits"] or "-" not in rep_name:
                continue
            comp, layout = rep_name.split("-", 1)
            if comp not in ("p", "q", "d", "dp", "dq", "qinv") or layout not in ("be", "le"):
                continue
            hit = rep["hits"][0]
            raw = original[hit["offset"] : hit["offset"] + hit["length"]]
            values[comp] = int.from_bytes(raw, "big" if layout == "be" else "little")
        forms: dict[str, tuple[bytes, int]] = {}
        for comp, value in values.items():
            forms.update({f"{comp} {k}": v for k, v in with_utf16(number_encodings(value)).items()})
        if secret["type"] == "aes-key":
            forms.update(aes_forms(bytes.fromhex(secret["public"]["key_hex"])))
        if forms:
            out[secret["id"]] = forms
    for i, extra in enumerate(truth.get("unplanted_secrets", [])):
        if "key_hex" in extra:
            out[f"unplanted#{i}"] = aes_forms(bytes.fromhex(extra["key_hex"]))
    return out


def aes_forms(key: bytes) -> dict[str, tuple[bytes, int]]:
    forms = with_utf16({"key": key, **text_encodings(key, "key")})
    sched = aes_schedule(key)
    forms["schedule"] = (sched, 1)
    forms["schedule u32"] = (b"".join(sched[i : i + 4][::-1] for i in range(0, len(sched), 4)), 1)
    return forms


def aes_schedule(key: bytes) -> bytes:
    """FIPS-197 key expansion, written out here (independent of viewer.scan.keymaterial)."""
    sbox = _sbox()
    nk = len(key) // 4
    rounds = {4: 10, 6: 12, 8: 14}[nk]
    words = [key[4 * i : 4 * i + 4] for i in range(nk)]
    rcon = 1
    for i in range(nk, 4 * (rounds + 1)):
        t = words[i - 1]
        if i % nk == 0:
            t = bytes(sbox[b] for b in t[1:] + t[:1])
            t = bytes([t[0] ^ rcon]) + t[1:]
            rcon = ((rcon << 1) ^ (0x1B if rcon & 0x80 else 0)) & 0xFF
        elif nk > 6 and i % nk == 4:
            t = bytes(sbox[b] for b in t)
        words.append(bytes(a ^ b for a, b in zip(words[i - nk], t, strict=True)))
    return b"".join(words)


def _sbox() -> list[int]:
    def mul(a: int, b: int) -> int:
        r = 0
        while b:
            if b & 1:
                r ^= a
            a = ((a << 1) ^ (0x1B if a & 0x80 else 0)) & 0xFF
            b >>= 1
        return r

    inv = [0] + [next(b for b in range(1, 256) if mul(a, b) == 1) for a in range(1, 256)]
    out = []
    for a in range(256):
        x = inv[a]
        s = x
        for _ in range(4):
            x = ((x << 1) | (x >> 7)) & 0xFF
            s ^= x
        out.append(s ^ 0x63)
    return out


def summary(left: Iterable[tuple[str, int, int]]) -> dict[str, int]:
    """form name -> the longest run left (bytes)."""
    out: dict[str, int] = {}
    for name, _off, length in left:
        out[name] = max(out.get(name, 0), length)
    return out
