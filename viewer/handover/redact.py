"""Redaction: a copy of a dump with every key the scanner found overwritten, its structure intact.

What is removed (a *plan* of ranges, :func:`plan_redaction`):

* the bytes of every secret finding at or above the chosen confidence (confirmed and high by default),
  and every token finding (JWT, API tokens, cloud credentials) whatever its confidence: a bearer token
  is a credential in itself;
* every run of 16 or more units (bytes; characters of text) of any private value of each key known from
  those findings, wherever it lies: not only whole copies — a fragment of d, half an AES key or the low
  limbs of an exponent are enough to attack a key. A key is *known* when a finding's bytes parse again
  (``keymaterial.key_objects``: PEM, DER, OpenSSH, JWK, CryptoAPI/CNG blobs) into a private key whose
  public half has the finding's key_id; a symmetric key (``sym:`` key_ids: AES keys, HMAC secrets) when
  the key bytes recovered from a finding (its bytes, a prefix of a key schedule, hex or base64 text)
  give the finding's key_id back; a token is its own string. Every form the scanner knows of each value
  (``keymaterial.private_forms`` / ``symmetric_forms`` / ``token_forms``: RSA p, q, d, dp, dq, qinv and
  EC scalars big- and little-endian and in 28/60-bit digits; the PKCS#1/PKCS#8/SEC1 DER; Ed25519 seeds
  and expanded keys; symmetric keys, every round key of their AES schedules, HMAC ipad/opad blocks;
  hex, base64 and base64url text in its 3 alignments, ASCII and UTF-16LE) is searched for at once
  (``keymaterial.find_runs``: seed and extend, numpy), overlapping runs of a key are merged and each run
  is overwritten over its full matched extent. Runs must touch a private byte: the modulus of a DER key
  is public, so a certificate holding the same modulus is left alone.

How (:func:`redact_file`): the input is only ever opened read-only. The copy is written to a temporary
file in the output's folder (streamed with ``copy_file_range``/``sendfile``, never read into memory),
the planned ranges are overwritten in place with ``pwrite`` (never a length changed: same format, same
streams, same memory ranges, same size, so debuggers still open it), then the copy is verified: scanned
again and searched again for every run of every form; any secret or run still there is overwritten too
(up to ``MAX_ROUNDS`` rounds). ``clean`` means the last verification found neither a confirmed/high
secret, a token nor a run; a run left is reported as a finding of encoding ``fragment``. Then the copy
is fsynced and renamed to the output. The log (JSON) names every range removed — offset, length, kind,
key_id, which value in which form ("rsa d, little-endian (32/64-bit limbs), fragment"), region,
reason — and what the case kept and why, never the bytes.

Filler: the repeating ASCII text ``REDACTED``. It is recognisable in a hex view (an examiner sees at
once that bytes were removed, not that memory was empty, which zeros would suggest), it is not secret,
and it is plain base64 alphabet, so a redacted PEM body is still well-formed text. PEM blocks keep their
``-----BEGIN ...-----``/``-----END ...-----`` lines and their line breaks; only the body is overwritten
(in UTF-16LE text the filler is UTF-16LE too): the text around stays readable and it is evident what kind
of key was there. A bare key blob is overwritten whole (header included: the header alone says nothing).

Not covered: keys the scanner does not find (e.g. a raw AES key with neither its schedule nor a known key
object pointing at it), keys known only from findings that do not re-parse (raw big numbers of a key
never seen whole are still overwritten where found, but not searched for elsewhere), runs shorter than
16 units, forms the scanner does not know (a value XORed, compressed or encrypted).

With a case (``--case``; :mod:`viewer.handover.redact_case`): the case's findings for the evidence join
the scan's; a finding the examiner confirmed is overwritten whatever its confidence; one marked
false-positive (and the other findings of its key) is left in place, listed under ``kept`` in the log
and not counted against "clean"; the redaction becomes an audit event of the case.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x448, x25519

from viewer.case.store import fsync_dir, write_atomic
from viewer.evidence import Dump, EvidenceError, open_dump
from viewer.evidence.formats import data_spans
from viewer.evidence.source import HashCancelled
from viewer.scan import keys
from viewer.scan.finding import Confidence, Finding
from viewer.scan.keymaterial import (
    MAX_ANCHORS,
    Form,
    Runs,
    find_runs,
    key_objects,
    private_forms,
    symmetric_forms,
    token_forms,
)
from viewer.scan.kinds import kind_info
from viewer.tasks import TaskState
from viewer.tasks import ensure as ensure_state

FILLER = b"REDACTED"
MAX_ROUNDS = 3
MAX_PARSE = 1 << 20
MAX_TOKEN = 64 * 1024  # a token finding longer than this is a container, not a string to search for
COPY_CHUNK = 64 * 1024 * 1024
CLEAN_THRESHOLD = Confidence.HIGH  # what must not remain for the output to be called clean
TRUNCATED = (f"the search for fragments stopped at {MAX_ANCHORS} places where a key's values start (a file "
             "made of copies of a key): the copy may keep fragments and is not called clean")

PEM_BEGIN = b"-----BEGIN "
PEM_DASHES = b"-----"
PEM_END = b"-----END "


class RedactError(Exception):
    """Bad usage or an output that cannot be written (exit 2); never carries evidence bytes."""


class RedactCancelled(RedactError):
    """The examiner cancelled: nothing was written (the partial copy is removed)."""


# Names of the steps after the first scan, as reported through the state's ``step_progress``.
STEP_HASH_INPUT, STEP_PLAN, STEP_COPY, STEP_RESCAN, STEP_VERIFY, STEP_HASH_OUTPUT = (
    "hashing the input", "finding every copy", "copying", "re-scanning the copy",
    "searching the copy for fragments", "hashing the copy")


CANCELLED = "redaction cancelled: nothing was written"


def _hash(dump: Dump, state: TaskState, step: str) -> str:
    """The dump's SHA-256, with progress reported as ``step`` and cancel honoured."""

    def progress(done: int, total: int) -> bool:
        state.step_progress(step, done, total)
        return not state.is_cancelled

    try:
        # the evidence file's hash (a container's, when the dump came in one): what a case records
        origin = getattr(dump, "origin", None)
        return (origin.source if origin is not None else dump.source).sha256(progress)
    except HashCancelled:
        raise RedactCancelled(CANCELLED) from None


@dataclass
class Range:
    """One range to overwrite. ``mode``: ``bytes``, or ``text``/``text16`` (ASCII/UTF-16LE PEM body:
    line breaks are kept)."""

    offset: int
    length: int
    kind: str
    encoding: str
    key_id: str | None
    reason: str
    mode: str = "bytes"
    finding_id: str | None = None
    value: str | None = None  # which private values in which forms ("rsa d, big-endian, fragment")
    region: str | None = None

    @property
    def end(self) -> int:
        return self.offset + self.length

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "offset": self.offset,
            "length": self.length,
            "kind": self.kind,
            "encoding": self.encoding,
            "key_id": self.key_id,
            "reason": self.reason,
        }
        if self.value:
            out["value"] = self.value
        if self.region:
            out["region"] = self.region
        if self.finding_id:
            out["finding_id"] = self.finding_id
        return out


@dataclass
class RedactionResult:
    input: str
    output: str
    log: str
    ranges: list[Range]
    remaining: list[Finding]
    rounds: int
    seconds: float
    input_sha256: str
    output_sha256: str = ""
    warnings: list[str] = field(default_factory=list)
    kept: list[tuple[Finding, str]] = field(default_factory=list)  # left in place on the case's word, why
    searched: dict[str, int] = field(default_factory=dict)  # keys and forms searched for (counts)
    #: What a case names the input by (``Dump.evidence_sha256``): ``input_sha256``, or the member's
    #: content hash for one of several dumps of one file.
    evidence_sha256: str = ""

    @property
    def clean(self) -> bool:
        return not self.remaining


# -- the private values of a known key ------------------------------------------------------------


_ECC_SIZES = {32: ec.SECP256R1, 48: ec.SECP384R1, 66: ec.SECP521R1}
_PRIVATE_TYPES = (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey,
                  x25519.X25519PrivateKey, x448.X448PrivateKey)


def _ecc_blob(data: bytes, encoding: str) -> list[Any]:
    """The private key of a CNG ``BCRYPT_ECCKEY_BLOB`` (magic, cbKey, X, Y, d), which bignum's parser of
    finding bytes does not read."""
    if not encoding.startswith("bcrypt-ecc") or len(data) < 8:
        return []
    cb = int.from_bytes(data[4:8], "little")
    curve = _ECC_SIZES.get(cb)
    if curve is None or len(data) < 8 + 3 * cb:
        return []
    try:
        return [ec.derive_private_key(int.from_bytes(data[8 + 2 * cb : 8 + 3 * cb], "big"), curve())]
    except (ValueError, TypeError):
        return []


def _private_key(f: Finding, data: bytes) -> Any:
    """The private key the bytes of finding ``f`` parse into, when its public half has f's key_id."""
    for obj in [*_ecc_blob(data, f.encoding), *key_objects(data, f.encoding)]:
        if not isinstance(obj, _PRIVATE_TYPES):
            continue
        try:
            if keys.key_id(obj.public_key()) == f.key_id:
                return obj
        except Exception:  # noqa: BLE001 - an odd key object just is not this one
            continue
    return None


def _symmetric_key(f: Finding, data: bytes) -> bytes | None:
    """The key bytes behind a ``sym:`` finding, checked against its key_id."""
    cands: list[bytes] = [data]
    pad = {"hmac-ipad": 0x36, "hmac-opad": 0x5C}.get(f.encoding)
    if pad is not None:  # an HMAC pad block: the key XOR the pad byte, then the padding
        bits = int(f.details.get("key_bits", 0))
        cands.append(bytes(b ^ pad for b in data[: bits // 8]))
    for n in (16, 24, 32, 48, 64):
        if len(data) > n:
            cands += [data[:n], data[-n:]]
    swapped = []
    for c in cands:
        if len(c) % 4 == 0 and len(c) <= 64:
            swapped.append(b"".join(c[i : i + 4][::-1] for i in range(0, len(c), 4)))
    cands += swapped
    text = data.strip()
    for decode in (binascii.unhexlify, base64.b64decode, keys.b64url_decode):
        try:
            cands.append(decode(text))
        except Exception:  # noqa: BLE001 - not that encoding
            pass
    try:
        cands.append(data.decode("utf-16-le").encode("ascii"))
    except (UnicodeDecodeError, UnicodeEncodeError):
        pass
    for c in cands:
        if c and keys.symmetric_key_id(c) == f.key_id:
            return c
    return None


def is_token(f: Finding) -> bool:
    """A bearer credential (JWT, API token, cloud credentials): redacted whatever its confidence."""
    return kind_info(f.kind).colour_role == "token"


def _token_text(f: Finding, data: bytes) -> bytes:
    """The token string of a token finding (its bytes; UTF-16LE text decoded)."""
    if "utf16" in f.encoding or (len(data) > 1 and data[1:2] == b"\0"):
        try:
            return data.decode("utf-16-le").encode("ascii")
        except (UnicodeDecodeError, UnicodeEncodeError):
            return data
    return data


def key_needles(private: Any) -> list[tuple[bytes, str]]:
    """(bytes, label) of every whole form of a private key's secret values (:func:`private_forms`)."""
    return [(f.data, f.label) for f in private_forms(private)]


def symmetric_needles(key: bytes) -> list[tuple[bytes, str]]:
    """(bytes, label) of every whole form of a symmetric key (:func:`symmetric_forms`)."""
    return [(f.data, f.label) for f in symmetric_forms(key)]


# -- the plan --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    """What a form belongs to: the key (its id and the kind of finding that revealed it)."""

    key_id: str
    kind: str


@dataclass
class Plan:
    """What :func:`plan_redaction` found: the ranges to overwrite, notes, and every form searched for
    (the verification searches the copy for the same forms)."""

    ranges: list[Range]
    notes: list[str]
    wanted: list[tuple[Form, Value]] = field(default_factory=list)


def _pem_ranges(f: Finding, data: bytes, wide: bool) -> list[Range] | None:
    """The body of a PEM finding (between its BEGIN and END lines), or None when they are not found."""
    text = data.decode("utf-16-le", "replace").encode("latin-1", "replace") if wide else data
    begin = text.find(PEM_BEGIN)
    if begin < 0:
        return None
    head_end = text.find(PEM_DASHES, begin + len(PEM_BEGIN))
    end = text.find(PEM_END, head_end + 5 if head_end >= 0 else begin)
    if head_end < 0 or end < 0:
        return None
    body_start = head_end + len(PEM_DASHES)
    unit = 2 if wide else 1
    if body_start >= end:
        return None
    return [Range(f.offset + body_start * unit, (end - body_start) * unit, f.kind, f.encoding, f.key_id,
                  "PEM body of the finding (BEGIN/END lines kept)", "text16" if wide else "text", f.id,
                  region=f.region)]


def _finding_ranges(f: Finding, data: bytes) -> list[Range]:
    if f.encoding.startswith("pem") or f.encoding == "openssh-key-v1-pem" or data.lstrip()[:11] == PEM_BEGIN:
        wide = "utf16" in f.encoding
        pem = _pem_ranges(f, data, wide)
        if pem is not None:
            return pem
    kid = f.key_id
    if kid is None and is_token(f) and f.length <= MAX_TOKEN:
        kid = keys.symmetric_key_id(_token_text(f, data))  # a JWT has no key id: its string is the secret
    return [Range(f.offset, f.length, f.kind, f.encoding, kid, f"{f.confidence} finding", "bytes", f.id,
                  region=f.region)]


def select(findings: Iterable[Finding], threshold: Confidence) -> list[Finding]:
    """The secret findings to overwrite: at or above ``threshold``, and every token."""
    return [f for f in findings if f.secret and (f.confidence >= threshold or is_token(f))]


def _forms_of(f: Finding, data: bytes) -> tuple[str | None, list[Form]]:
    """(key id, forms) of the secret finding ``f`` reveals, or (None, []) when its key is not recovered."""
    if is_token(f):
        token = _token_text(f, data)
        return (f.key_id or keys.symmetric_key_id(token)), token_forms(token, f"{f.kind} string")
    if f.key_id is None:
        return None, []
    if f.key_id.startswith("sym:"):
        key = _symmetric_key(f, data)
        return (f.key_id, symmetric_forms(key)) if key is not None else (None, [])
    if f.confidence >= Confidence.HIGH and f.encoding != "raw-bignum":
        private = _private_key(f, data)
        if private is not None:
            return f.key_id, private_forms(private)
    return None, []


def known_forms(dump: Dump, findings: Sequence[Finding]) -> tuple[list[tuple[Form, Value]], list[str]]:
    """Every form of every key the ``findings`` reveal, tagged with its key; and notes (keys whose
    findings do not give the key back)."""
    wanted: list[tuple[Form, Value]] = []
    known: set[str] = set()
    ids: set[str] = set()
    for f in findings:
        if f.key_id:
            ids.add(f.key_id)
        if f.length > MAX_PARSE or (is_token(f) and f.length > MAX_TOKEN) or (f.key_id and f.key_id in known):
            continue
        kid, forms = _forms_of(f, dump.read(f.offset, f.length))
        if kid is None or kid in known:
            continue
        known.add(kid)
        wanted += [(form, Value(kid, f.kind)) for form in forms]
    notes = []
    unknown = ids - known
    if unknown:
        notes.append(f"{len(unknown)} key(s) not recovered from their findings: only the findings' own bytes "
                     "are overwritten for them")
    return wanted, notes


def run_ranges(dump: Dump, runs: Iterable[tuple[int, int, tuple[Form, Value], bool]], why: str) -> list[Range]:
    """The runs of :func:`find_runs` as ranges, the overlapping (or touching) runs of one key merged into
    one, named by the values and forms it holds."""
    by_key: dict[str, list[tuple[int, int, str, str]]] = {}
    for off, length, (form, value), whole in runs:
        by_key.setdefault(value.key_id, []).append(
            (off, off + length, value.kind, f"{form.label}, {'whole' if whole else 'fragment'}"))
    out: list[Range] = []
    for kid, items in by_key.items():
        items.sort()
        merged: list[list[Any]] = []
        for start, end, kind, label in items:
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
                if label not in merged[-1][3]:
                    merged[-1][3].append(label)
            else:
                merged.append([start, end, kind, [label]])
        for start, end, kind, labels in merged:
            labels.sort(key=lambda label: not label.endswith(", whole"))  # whole copies named first
            whole = labels[0].endswith(", whole")
            region = dump.region_at(start)
            shown = "; ".join(labels[:4]) + (f"; and {len(labels) - 4} more form(s)" if len(labels) > 4 else "")
            out.append(Range(start, end - start, kind, "copy" if whole else "fragment", kid,
                             f"{'copy' if whole else 'fragment'} of the key's values ({why})", value=shown,
                             region=region.name if region is not None else None))
    return out


def plan_redaction(dump: Dump, findings: Sequence[Finding], threshold: Confidence = Confidence.HIGH,
                   state: Any = None, wanted: Sequence[tuple[Form, Value]] = ()) -> Plan:
    """The ranges to overwrite in ``dump`` for ``findings`` (and every run of their keys' values, and of
    the forms in ``wanted``), notes, and every form searched for."""
    chosen = select(findings, threshold)
    ranges: list[Range] = []
    for f in chosen:
        ranges += _finding_ranges(f, dump.read(f.offset, min(f.length, MAX_PARSE)))
    forms, notes = known_forms(dump, chosen)
    have = {value.key_id for _form, value in wanted}
    all_wanted = [*wanted, *(w for w in forms if w[1].key_id not in have)]
    if all_wanted:
        runs = _runs(dump, all_wanted, state, STEP_PLAN)
        ranges += run_ranges(dump, runs, "found from the key's values")
        if runs.truncated:
            notes.append(TRUNCATED)
    return Plan(within_data(dump, _dedupe(ranges), notes), notes, all_wanted)


def within_data(dump: Dump, ranges: list[Range], notes: list[str] | None = None) -> list[Range]:
    """``ranges`` cut to the spans of ``dump`` that hold values, where its format says which do
    (:func:`viewer.evidence.formats.data_spans`: an HPROF's array elements), so that overwriting never
    breaks the structure; what is cut off is left as it was and, in ``notes``, counted. The
    verification then says whether any of the key is still there."""
    spans = data_spans(dump.format, dump.source)
    if spans is None or not ranges:
        return ranges
    starts = [start for start, _end in spans]
    out: list[Range] = []
    cut = 0
    for r in ranges:
        kept = 0
        i = max(0, bisect.bisect_right(starts, r.offset) - 1)
        while i < len(spans) and spans[i][0] < r.end:
            lo, hi = max(spans[i][0], r.offset), min(spans[i][1], r.end)
            if lo < hi:
                out.append(replace(r, offset=lo, length=hi - lo))
                kept += hi - lo
            i += 1
        cut += r.length - kept
    if cut and notes is not None:
        notes.append(f"{cut} bytes of the ranges found lie outside the values of this {dump.format} file "
                     "(in its structure) and were left as they are")
    return out


def _dedupe(ranges: list[Range]) -> list[Range]:
    """One entry per range; a range inside a bigger one of the same key (a base64 run inside a PEM body
    already overwritten, a number inside a blob) is dropped: the bigger one covers it in the log too."""
    seen: dict[tuple[int, int, str], Range] = {}
    for r in ranges:
        seen.setdefault((r.offset, r.length, r.mode), r)
    order = sorted(seen.values(), key=lambda r: (r.offset, -r.length))
    out: list[Range] = []
    cover: dict[str | None, int] = {}  # key_id -> end of the furthest-reaching range kept so far
    for r in order:
        if cover.get(r.key_id, -1) >= r.end and r.mode == "bytes":
            continue
        out.append(r)
        cover[r.key_id] = max(cover.get(r.key_id, -1), r.end)
    return out


def _runs(dump: Dump, wanted: Sequence[tuple[Form, Value]], state: Any, step: str) -> Runs:
    return find_runs(dump, [(form, (form, value)) for form, value in wanted], state, step)


def fragments_left(dump: Dump, wanted: Sequence[tuple[Form, Value]], state: Any = None) -> list[Range]:
    """The verification's search: every run of every form still in ``dump`` (the copy), as ranges; a
    search that stopped at its bound gives a range of length 0 at offset 0 (never clean)."""
    if not wanted:
        return []
    runs = _runs(dump, wanted, state, STEP_VERIFY)
    out = run_ranges(dump, runs, "left after overwriting")
    if runs.truncated:
        out.append(Range(0, 0, wanted[0][1].kind, "fragment", None, TRUNCATED, value="the search was bounded"))
    return out


def _as_finding(r: Range) -> Finding:
    """A run left in the copy, reported like a finding (what ``remaining`` holds): no bytes, its place."""
    return Finding(r.kind, "fragment", r.offset, r.length, Confidence.CONFIRMED,
                   reasons=[f"a run of the key's {r.value} is still in the copy"], key_id=r.key_id,
                   region=r.region)


# -- writing ---------------------------------------------------------------------------------------


def _fill(r: Range, original: bytes) -> bytes:
    if r.mode in ("text", "text16"):
        # line breaks stay; the filler starts again on each line, so every line reads REDACTEDREDA...
        unit = 2 if r.mode == "text16" else 1
        breaks = (b"\r\0", b"\n\0") if unit == 2 else (b"\r", b"\n")
        out = bytearray()
        col = 0
        for i in range(0, len(original) - unit + 1, unit):
            ch = original[i : i + unit]
            if ch in breaks:
                out += ch
                col = 0
            else:
                out += bytes((FILLER[col % len(FILLER)],)) + b"\0" * (unit - 1)
                col += 1
        return bytes(out) + original[len(out) :]
    return (FILLER * (r.length // len(FILLER) + 1))[: r.length]


def apply_ranges(fd: int, ranges: Sequence[Range], size: int) -> None:
    """Overwrite ``ranges`` in the open copy ``fd`` (binary first, text last so line breaks stay)."""
    order = sorted(ranges, key=lambda r: (r.mode != "bytes", r.offset))
    for r in order:
        length = min(r.length, size - r.offset)
        if r.offset < 0 or length <= 0:
            continue
        original = os.pread(fd, length, r.offset)
        new = _fill(Range(r.offset, length, r.kind, r.encoding, r.key_id, r.reason, r.mode), original)
        done = 0
        while done < len(new):
            done += os.pwrite(fd, new[done:], r.offset + done)


def _copy(src: str, dst_fd: int, size: int, state: TaskState) -> None:
    """Stream the file: copy_file_range (in-kernel, reflinks where possible), sendfile, or a buffer.
    Progress per chunk as the step ``copying``; a cancel raises RedactCancelled."""
    with open(src, "rb", buffering=0) as fin:
        done = 0
        copier = getattr(os, "copy_file_range", None)
        try:
            while done < size:
                state.check(RedactCancelled, CANCELLED)
                if copier is not None:
                    n = copier(fin.fileno(), dst_fd, min(COPY_CHUNK, size - done), done, done)
                else:
                    raise OSError("no copy_file_range")
                if n <= 0:
                    break
                done += n
                state.step_progress(STEP_COPY, done, size)
        except OSError:
            done = 0
        if done != size:
            os.lseek(dst_fd, 0, os.SEEK_SET)
            fin.seek(0)
            with os.fdopen(os.dup(dst_fd), "wb", buffering=0) as fout:
                shutil.copyfileobj(fin, fout, 8 * 1024 * 1024)
                fout.truncate(size)


def default_log_path(out: str | os.PathLike[str]) -> Path:
    return Path(str(out) + ".redaction.json")


def check_paths(src: Path, out: Path, log: Path, force: bool) -> None:
    """Refuse an output (or log) that is the input, and existing files without ``force``."""
    for target, what in ((out, "output"), (log, "log")):
        try:
            same = target.exists() and os.path.samefile(target, src)
        except OSError:
            same = False
        if same or target.resolve() == src.resolve():
            raise RedactError(f"the {what} {target} is the input: refusing to overwrite evidence")
        if target.exists() and not force:
            raise RedactError(f"{target} exists: use --force to replace it")
    if out.resolve() == log.resolve():
        raise RedactError("the log and the output are the same file")
    if not out.parent.is_dir():
        raise RedactError(f"cannot write {out}: folder {out.parent} does not exist")


def _scan(path: str, public_keys: Sequence[Any], state: TaskState) -> tuple[Dump, list[Finding]]:
    from viewer.scan.engine import scan_dump

    dump = open_dump(path)
    result = scan_dump(dump, public_keys=list(public_keys), state=state.phase(STEP_RESCAN))
    if result.cancelled:
        dump.close()
        state.check(RedactCancelled, CANCELLED)
    return dump, result.findings


def _verify(tmp_name: str, fd: int, size: int, public_keys: Sequence[Any], threshold: Confidence,
            selection: Any, wanted: list[tuple[Form, Value]], ranges: list[Range], notes: list[str],
            state: TaskState) -> tuple[int, list[Finding]]:
    """Scan the copy again and search it for every run of every form; overwrite what is still there and
    go again, up to MAX_ROUNDS rounds. ``ranges``, ``notes`` and ``wanted`` grow in place. Returns the
    rounds and what remains (confirmed/high secrets, tokens, and runs as ``fragment`` findings)."""
    rounds = 1
    while True:
        tmp_dump, new_findings = _scan(tmp_name, public_keys, state)
        try:
            found = [f for f in select(new_findings, min(threshold, CLEAN_THRESHOLD))
                     if selection is None or selection.keeps(f) is None]
            left = fragments_left(tmp_dump, wanted, state.phase(STEP_VERIFY))
            state.check(RedactCancelled, CANCELLED)
            if (not found and not left) or rounds >= MAX_ROUNDS:
                break
            more = plan_redaction(tmp_dump, found, min(threshold, CLEAN_THRESHOLD), state.phase(STEP_PLAN), wanted)
            for r in more.ranges + left:
                r.reason += f" (found by the verification, round {rounds + 1})"
            overwrite = within_data(tmp_dump, [r for r in left if r.length], more.notes)
            state.check(RedactCancelled, CANCELLED)
        finally:
            tmp_dump.close()
        notes += more.notes
        wanted[:] = more.wanted
        ranges[:] = _dedupe(ranges + more.ranges + overwrite)
        apply_ranges(fd, more.ranges + overwrite, size)
        os.fsync(fd)
        rounds += 1
    return rounds, [*select(found, CLEAN_THRESHOLD), *(_as_finding(r) for r in left)]


def redact_file(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    public_keys: Sequence[Any] = (),
    threshold: Confidence = Confidence.HIGH,
    log_path: str | os.PathLike[str] | None = None,
    force: bool = False,
    findings: Sequence[Finding] | None = None,
    case: Any = None,
    selection: Any = None,
    state: TaskState | Any = None,
    member: str | None = None,
) -> RedactionResult:
    """Write a redacted copy of ``src`` to ``out`` and its log; see the module docstring.

    ``member``: which dump of a file holding several (a ZIP of dumps) — required for such a file; the
    copy is then that dump, decompressed and redacted.

    ``findings``: what to redact (default: a fresh scan). ``case`` (a :class:`~viewer.case.model.Case`
    holding ``src`` as evidence) or ``selection`` (its :class:`~viewer.handover.redact_case.CaseSelection`
    for ``src``, made by the caller): the case's findings and reviews are added
    (:mod:`viewer.handover.redact_case`). ``state`` (a :class:`~viewer.tasks.TaskState`): the first
    scan's progress in bytes, every later step through ``step_progress`` (``STEP_*``), and cancel — which
    raises :class:`RedactCancelled` with nothing written. Raises :class:`EvidenceError` when the input
    cannot be read, :class:`RedactError` for bad paths or evidence the case does not hold.
    """
    started = time.perf_counter()
    src_p, out_p = Path(src), Path(out)
    log_p = Path(log_path) if log_path is not None else default_log_path(out_p)
    check_paths(src_p, out_p, log_p, force)
    state = ensure_state(state)
    dump = _open_input(src_p, member)
    tmp_name = ""
    try:
        if dump.content_path is None:
            raise RedactError(f"{src_p.name}: a {dump.format} file holds its pages compressed one by one; a "
                              "redacted copy of it is not written (redact cannot keep its page structure) — "
                              "convert it to an ELF vmcore first (makedumpfile -E)")
        container = _container_plan(dump)
        input_sha = _hash(dump, state, STEP_HASH_INPUT)
        evidence_sha = dump.evidence_sha256()  # the file's, or the member's content's (one of several)
        if case is not None and selection is None:
            from viewer.handover.redact_case import case_selection

            selection = case_selection(case, evidence_sha)
            if selection is None:
                raise RedactError(f"{src_p.name} is not evidence in the case (SHA-256 {evidence_sha[:16]}…)")
        if selection is not None and selection.evidence_sha256 != evidence_sha:
            raise RedactError(f"{src_p.name} is not the case's evidence it was opened as "
                              f"(SHA-256 {evidence_sha[:16]}…, expected {selection.evidence_sha256[:16]}…)")
        if findings is None:
            from viewer.scan.engine import scan_dump

            first = scan_dump(dump, public_keys=list(public_keys), state=state)
            if first.cancelled:
                state.check(RedactCancelled, CANCELLED)
            findings = first.findings
        kept: list[tuple[Finding, str]] = []
        if selection is not None:
            from viewer.handover.redact_case import merge

            findings, kept = merge(findings, selection)
        plan = plan_redaction(dump, findings, threshold, state.phase(STEP_PLAN))
        state.check(RedactCancelled, CANCELLED)
        # A file that changed under the scan was scanned in part: its copy would be called clean wrongly.
        dump.source.check()  # raises EvidenceChanged (an EvidenceError): nothing is written
        ranges, notes, wanted = plan.ranges, plan.notes, plan.wanted
        if selection is not None:
            notes = [*selection.notes, *notes]
        size = dump.size
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out_p.name}.", suffix=".part", dir=out_p.parent)
        try:
            _copy(str(dump.content_path), fd, size, state)  # the decompressed content of a container
            dump.source.check()  # the bytes copied are the bytes scanned, or nothing is written
            apply_ranges(fd, ranges, size)
            os.fsync(fd)
            rounds, remaining = _verify(tmp_name, fd, size, public_keys, threshold, selection, wanted, ranges,
                                        notes, state)
        finally:
            os.close(fd)
        with open_dump(tmp_name) as clean_dump:  # before the rename: a cancel here still writes nothing
            out_sha = _hash(clean_dump, state, STEP_HASH_OUTPUT)
        if container is not None:
            codecs, note = container
            if codecs:  # the same kind of container: the verified copy recompressed, layer by layer
                tmp_name = _recompress(tmp_name, codecs, out_p)
                with open(tmp_name, "rb") as f:
                    out_sha = hashlib.file_digest(f, "sha256").hexdigest()
            notes = [note, *notes]
        os.chmod(tmp_name, 0o666 & ~_umask())  # mkstemp's 0600 would surprise whoever receives the copy
        os.replace(tmp_name, out_p)
        tmp_name = ""
        fsync_dir(out_p.parent)
        result = RedactionResult(str(src_p), str(out_p), str(log_p), ranges, remaining, rounds,
                                 time.perf_counter() - started, input_sha, out_sha, notes, kept,
                                 {"keys": len({v.key_id for _f, v in wanted}), "forms": len(wanted)},
                                 evidence_sha)
        _write_log(log_p, result, threshold)
        return result
    finally:
        dump.close()
        if tmp_name:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass


#: Container layers redact writes back as they came (the redacted content recompressed); any other
#: container (ZIP, apport, kdump-flattened) gives the decompressed dump, and the log says so.
RECOMPRESS = ("gzip", "xz", "bzip2", "zstd", "lz4")


def _container_plan(dump: Dump) -> tuple[list[str], str] | None:
    """None for a bare dump; else (codecs to recompress with, outermost first — empty when the copy is
    written decompressed) and the sentence for the log."""
    origin = getattr(dump, "origin", None)
    if origin is None:
        return None
    chain = origin.chain
    if all(k in RECOMPRESS for k in chain):
        return list(chain), (f"the input is a {' > '.join(chain)} container: the copy was redacted "
                             f"decompressed, verified, then recompressed the same way ({' > '.join(chain)})")
    only = (f"; the archive holds {origin.dumps} dumps and the copy is the one named {dump.member}"
            if dump.member is not None else "")
    return [], (f"the input is a {' > '.join(chain)} container: the copy is the decompressed {dump.format} "
                f"dump (redacted), not the container{only}")


def _open_input(src: Path, member: str | None) -> Dump:
    """The dump to redact: ``member`` of a file holding several dumps, which must then be named."""
    from viewer.evidence import close_dumps, open_dumps, pick

    dumps = open_dumps(src)
    several = [d.member for d in dumps if d.member is not None]
    chosen = pick(dumps, member)
    if chosen is None or (member is None and several):
        if chosen is not None:
            close_dumps([chosen])
        names = ", ".join(repr(n) for n in several[:8]) + (f" and {len(several) - 8} more" if len(several) > 8 else "")
        wanted = f"no dump {member!r} in it" if member is not None else f"it holds {len(dumps)} dumps"
        raise RedactError(f"{src.name}: {wanted}; name the one to redact with --member ({names}): the copy "
                          "is that dump, decompressed")
    return chosen


def _recompress(plain: str, codecs: list[str], out: Path) -> str:
    """``plain`` compressed with ``codecs`` (outermost first) into a new temporary file beside ``out``;
    ``plain`` is removed. Streamed, in 4 MiB pieces."""
    import bz2
    import gzip
    import lzma

    def writer(kind: str, fh: Any) -> Any:
        if kind == "gzip":
            return gzip.GzipFile(fileobj=fh, mode="wb", mtime=0)
        if kind == "xz":
            return lzma.LZMAFile(fh, "wb", format=lzma.FORMAT_XZ)
        if kind == "bzip2":
            return bz2.BZ2File(fh, "wb")
        if kind == "zstd":
            import zstandard

            return zstandard.ZstdCompressor().stream_writer(fh, closefd=False)
        import lz4.frame

        return lz4.frame.LZ4FrameFile(fh, "wb")

    current = plain
    for kind in reversed(codecs):  # innermost first
        fd, nxt = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
        with os.fdopen(fd, "wb") as raw, open(current, "rb") as src:
            w = writer(kind, raw)
            while chunk := src.read(4 * 1024 * 1024):
                w.write(chunk)
            w.close()
            raw.flush()
            os.fsync(raw.fileno())
        os.unlink(current)
        current = nxt
    return current


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def log_document(result: RedactionResult, threshold: Confidence) -> dict[str, Any]:
    return {
        "tool": "evidence-viewer redact",
        "input": result.input,
        "input_sha256": result.input_sha256,
        "output": result.output,
        "output_sha256": result.output_sha256,
        "min_confidence": str(threshold),
        "filler": FILLER.decode("ascii"),
        "clean": result.clean,
        "rounds": result.rounds,
        "seconds": round(result.seconds, 3),
        "searched": dict(result.searched),
        "removed": [r.to_json() for r in result.ranges],
        "remaining": [
            {"finding_id": f.id, "offset": f.offset, "length": f.length, "kind": f.kind, "encoding": f.encoding,
             "key_id": f.key_id, "confidence": str(f.confidence)}
            for f in result.remaining
        ],
        "kept": [
            {"finding_id": f.id, "offset": f.offset, "length": f.length, "kind": f.kind, "encoding": f.encoding,
             "key_id": f.key_id, "confidence": str(f.confidence), "reason": why}
            for f, why in result.kept
        ],
        "notes": list(result.warnings),
    }


def _write_log(path: Path, result: RedactionResult, threshold: Confidence) -> None:
    data = (json.dumps(log_document(result, threshold), indent=1) + "\n").encode("utf-8")
    write_atomic(path, data, mode=0o666 & ~_umask())



__all__ = ["FILLER", "Plan", "Range", "RedactError", "RedactCancelled", "RedactionResult", "EvidenceError", "Value",
           "plan_redaction", "fragments_left", "is_token", "known_forms", "select",
           "redact_file", "key_needles", "symmetric_needles", "apply_ranges"]
