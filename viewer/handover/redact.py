"""Redaction: a copy of a dump with every key the scanner found overwritten, its structure intact.

What is removed (a *plan* of ranges, :func:`plan_redaction`):

* the bytes of every secret finding at or above the chosen confidence (confirmed and high by default);
* every other copy of the private values of each key known from those findings. A key is *known* when a
  finding's bytes parse again (``bignum._key_objects``: PEM, DER, OpenSSH, JWK, CryptoAPI/CNG blobs) into
  a private key whose public half has the finding's key_id. From it: RSA p, q, d, dp, dq, qinv and EC d
  big- and little-endian and as 28/60-bit digit arrays (``bignum.encode``); the PKCS#1/PKCS#8/SEC1 DER,
  its hex (lower and upper case) and its base64 — every 64-character PEM line on its own (so that a
  PEM, a one-line base64 string, a JSON-escaped or a partial copy all match at the same places), the
  short last line and, past the first line, every 16-character piece (a truncated copy) — in ASCII and in
  UTF-16LE;
* for symmetric keys (``sym:`` key_ids: AES keys, HMAC secrets, tokens): the key bytes are recovered from
  a finding (its bytes, a prefix of a key schedule, hex or base64 text) and kept only when they give the
  finding's key_id back; then every copy of the key raw, as hex and base64 (ASCII and UTF-16LE) and, for
  16/24/32-byte keys, its AES encryption and decryption schedules (both word orders) is removed.

How (:func:`redact_file`): the input is only ever opened read-only. The copy is written to a temporary
file in the output's folder (streamed with ``copy_file_range``/``sendfile``, never read into memory),
the planned ranges are overwritten in place with ``pwrite`` (never a length changed: same format, same
streams, same memory ranges, same size, so debuggers still open it), the copy is scanned again and any
secret the new scan still finds is overwritten too (up to ``MAX_ROUNDS`` rounds), then the copy is
fsynced and renamed to the output. The log (JSON) names every range removed — offset, length, kind,
encoding, key_id, reason — and never the bytes.

Filler: the repeating ASCII text ``REDACTED``. It is recognisable in a hex view (an examiner sees at
once that bytes were removed, not that memory was empty, which zeros would suggest), it is not secret,
and it is plain base64 alphabet, so a redacted PEM body is still well-formed text. PEM blocks keep their
``-----BEGIN ...-----``/``-----END ...-----`` lines and their line breaks; only the body is overwritten
(in UTF-16LE text the filler is UTF-16LE too): the text around stays readable and it is evident what kind
of key was there. A bare key blob is overwritten whole (header included: the header alone says nothing).

Not covered: keys the scanner does not find (e.g. a raw AES key with neither its schedule nor a known key
object pointing at it), keys
known only from findings that do not re-parse (raw big numbers of a key never seen whole are still
overwritten where found, but not searched for elsewhere).

With a case (``--case``; :mod:`viewer.case.redact_case`): the case's findings for the evidence join the
scan's; a finding the examiner confirmed is overwritten whatever its confidence; one marked
false-positive (and the other findings of its key) is left in place, listed under ``kept`` in the log
and not counted against "clean"; the redaction becomes an audit event of the case.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from viewer.case.store import fsync_dir, write_atomic
from viewer.evidence import Dump, EvidenceError, open_dump
from viewer.evidence.source import HashCancelled
from viewer.scan import keys
from viewer.scan.finding import Confidence, Finding
from viewer.scan.progress import is_cancelled, report_step

FILLER = b"REDACTED"
MAX_ROUNDS = 3
MAX_PARSE = 1 << 20
MIN_NEEDLE = 12  # shorter representations (tiny numbers, short base64 tails) are everywhere
B64_LINE = 64
B64_CHUNK = 16
COPY_CHUNK = 64 * 1024 * 1024
CLEAN_THRESHOLD = Confidence.HIGH  # what must not remain for the output to be called clean

PEM_BEGIN = b"-----BEGIN "
PEM_DASHES = b"-----"
PEM_END = b"-----END "


class RedactError(Exception):
    """Bad usage or an output that cannot be written (exit 2); never carries evidence bytes."""


class RedactCancelled(RedactError):
    """The examiner cancelled: nothing was written (the partial copy is removed)."""


# Names of the steps after the first scan, as reported through the state's ``step_progress``.
STEP_HASH_INPUT, STEP_PLAN, STEP_COPY, STEP_RESCAN, STEP_HASH_OUTPUT = (
    "hashing the input", "finding every copy", "copying", "re-scanning the copy", "hashing the copy")


def _phase(state: Any, step: str) -> Any:
    """A ScanState for one step of the redaction: its byte progress, and the steps of any detector it
    runs, are reported as ``step``; cancelling the caller's state cancels it (the same event)."""
    if state is None:
        return None
    from viewer.scan.engine import ScanState

    phase = ScanState(progress=lambda done, total: report_step(state, step, done, total),
                      step_progress=lambda _name, done, total: report_step(state, step, done, total))
    if isinstance(getattr(state, "cancelled", None), threading.Event):
        phase.cancelled = state.cancelled
    return phase


def _check_cancel(state: Any) -> None:
    if is_cancelled(state):
        raise RedactCancelled("redaction cancelled: nothing was written")


def _hash(dump: Dump, state: Any, step: str) -> str:
    """The dump's SHA-256, with progress reported as ``step`` and cancel honoured."""

    def progress(done: int, total: int) -> bool:
        report_step(state, step, done, total)
        return not is_cancelled(state)

    try:
        return dump.source.sha256(progress if state is not None else None)
    except HashCancelled:
        raise RedactCancelled("redaction cancelled: nothing was written") from None


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

    @property
    def clean(self) -> bool:
        return not self.remaining


# -- the private values of a known key ------------------------------------------------------------


_ECC_SIZES = {32: ec.SECP256R1, 48: ec.SECP384R1, 66: ec.SECP521R1}


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
    from viewer.scan.detectors.bignum import _key_objects

    for obj in [*_ecc_blob(data, f.encoding), *_key_objects(data, f.encoding)]:
        if not isinstance(obj, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
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


def _text_needles(blob: bytes) -> list[tuple[bytes, str]]:
    """hex (lower, upper) and base64 (64-character lines, and the short last line) of ``blob``."""
    out = [(blob.hex().encode(), "hex"), (blob.hex().upper().encode(), "hex")]
    b64 = base64.b64encode(blob)
    if len(b64) <= B64_LINE:
        out.append((b64.rstrip(b"="), "base64"))
        out.append((base64.urlsafe_b64encode(blob).rstrip(b"="), "base64url"))
    else:
        for i in range(0, len(b64), B64_LINE):
            out.append((b64[i : i + B64_LINE], "base64"))
        # 16-character pieces of every line but the first (whose start is the same in every key of a
        # type): a cut or partial copy of the text (a truncated JSON string, a log line) is found too
        for i in range(B64_LINE, len(b64) - B64_CHUNK + 1, B64_CHUNK):
            out.append((b64[i : i + B64_CHUNK], "base64 piece"))
    return out


def _with_utf16(needles: Iterable[tuple[bytes, str]]) -> list[tuple[bytes, str]]:
    out = []
    for n, label in needles:
        out.append((n, label))
        out.append((n.decode("latin-1").encode("utf-16-le"), label + "-utf16le"))
    return out


def key_needles(private: Any) -> list[tuple[bytes, str]]:
    """(bytes, label) of every representation of a private key's secret values searched for."""
    from viewer.scan.detectors.bignum import LAYOUTS, encode

    out: list[tuple[bytes, str]] = []
    numbers: dict[str, int] = {}
    ders: list[tuple[bytes, str]] = []
    if isinstance(private, rsa.RSAPrivateKey):
        n = private.private_numbers()
        numbers = {"p": n.p, "q": n.q, "d": n.d, "dp": n.dmp1, "dq": n.dmq1, "qinv": n.iqmp}
        ders.append((private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()), "der-pkcs1"))
    elif isinstance(private, ec.EllipticCurvePrivateKey):
        numbers = {"d": private.private_numbers().private_value}
        ders.append((private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()), "der-sec1"))
    ders.append((private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()), "der-pkcs8"))
    for comp, value in numbers.items():
        if value <= 0 or value.bit_length() < 64:
            continue
        for layout in LAYOUTS:
            out.append((encode(value, layout), f"{comp} {layout}"))
        out += [(n, f"{comp} {label}") for n, label in _with_utf16(_text_needles(encode(value, "be"))[:2])]
    for der, name in ders:
        out.append((der, name))
        out += [(n, f"{name} {label}") for n, label in _with_utf16(_text_needles(der))]
    return [(n, label) for n, label in out if len(n) >= MIN_NEEDLE]


def symmetric_needles(key: bytes) -> list[tuple[bytes, str]]:
    out: list[tuple[bytes, str]] = [(key, "raw")]
    out += _with_utf16(_text_needles(key))
    if len(key) in (16, 24, 32):
        from viewer.scan.detectors.aes import decrypt_schedule, expand_key

        for sched, name in ((expand_key(key), "aes-schedule"), (decrypt_schedule(key), "aes-decrypt-schedule")):
            out.append((sched, name))
            out.append((b"".join(sched[i : i + 4][::-1] for i in range(0, len(sched), 4)), name + " u32"))
    return [(n, label) for n, label in out if len(n) >= min(MIN_NEEDLE, len(key))]


# -- the plan --------------------------------------------------------------------------------------


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
                  "PEM body of the finding (BEGIN/END lines kept)", "text16" if wide else "text", f.id)]


def _finding_ranges(f: Finding, data: bytes) -> list[Range]:
    if f.encoding.startswith("pem") or f.encoding == "openssh-key-v1-pem" or data.lstrip()[:11] == PEM_BEGIN:
        wide = "utf16" in f.encoding
        pem = _pem_ranges(f, data, wide)
        if pem is not None:
            return pem
    return [Range(f.offset, f.length, f.kind, f.encoding, f.key_id,
                  f"{f.confidence} finding", "bytes", f.id)]


def select(findings: Iterable[Finding], threshold: Confidence) -> list[Finding]:
    return [f for f in findings if f.secret and f.confidence >= threshold]


def plan_redaction(dump: Dump, findings: Sequence[Finding], threshold: Confidence = Confidence.HIGH,
                   state: Any = None) -> tuple[list[Range], list[str]]:
    """The ranges to overwrite in ``dump`` for ``findings`` (and every copy of their keys), and notes."""
    from viewer.scan.detectors.bignum import _locate

    chosen = select(findings, threshold)
    ranges: list[Range] = []
    notes: list[str] = []
    known: dict[str, tuple[str, list[tuple[bytes, str]]]] = {}  # key_id -> (kind, needles)
    for f in chosen:
        data = dump.read(f.offset, min(f.length, MAX_PARSE))
        ranges += _finding_ranges(f, data)
        if f.key_id is None or f.key_id in known or f.length > MAX_PARSE:
            continue
        if f.key_id.startswith("sym:"):
            key = _symmetric_key(f, data)
            if key is not None:
                known[f.key_id] = (f.kind, symmetric_needles(key))
        elif f.confidence >= Confidence.HIGH and f.encoding != "raw-bignum":
            private = _private_key(f, data)
            if private is not None:
                known[f.key_id] = (f.kind, key_needles(private))
    unknown = {f.key_id for f in chosen if f.key_id} - set(known)
    if unknown:
        notes.append(f"{len(unknown)} key(s) not recovered from their findings: only the findings' own bytes "
                     "are overwritten for them")
    wanted: list[tuple[bytes, Any]] = []
    for kid, (kind, needles) in known.items():
        for needle, label in needles:
            wanted.append((needle, (kid, kind, label)))
    if wanted:
        ctx = SimpleNamespace(dump=dump, view=dump.source, state=state)
        for off, rep, (kid, kind, label) in _locate(ctx, wanted):  # type: ignore[arg-type]
            ranges.append(Range(off, len(rep), kind, "copy", kid, f"copy of the key's {label}"))
    return _dedupe(ranges), notes


def _dedupe(ranges: list[Range]) -> list[Range]:
    """One entry per range; a range inside a bigger one of the same key (a base64 line inside a PEM body
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


def _copy(src: str, dst_fd: int, size: int, state: Any = None) -> None:
    """Stream the file: copy_file_range (in-kernel, reflinks where possible), sendfile, or a buffer.
    Progress per chunk as the step ``copying``; a cancel raises RedactCancelled."""
    with open(src, "rb", buffering=0) as fin:
        done = 0
        copier = getattr(os, "copy_file_range", None)
        try:
            while done < size:
                _check_cancel(state)
                if copier is not None:
                    n = copier(fin.fileno(), dst_fd, min(COPY_CHUNK, size - done), done, done)
                else:
                    raise OSError("no copy_file_range")
                if n <= 0:
                    break
                done += n
                report_step(state, STEP_COPY, done, size)
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


def _scan(path: str, public_keys: Sequence[Any], state: Any = None) -> tuple[Dump, list[Finding]]:
    from viewer.scan.engine import scan_dump

    dump = open_dump(path)
    result = scan_dump(dump, public_keys=list(public_keys), state=_phase(state, STEP_RESCAN))
    if result.cancelled:
        dump.close()
        _check_cancel(state)
    return dump, result.findings


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
    state: Any = None,
) -> RedactionResult:
    """Write a redacted copy of ``src`` to ``out`` and its log; see the module docstring.

    ``findings``: what to redact (default: a fresh scan). ``case`` (a :class:`~viewer.case.model.Case`
    holding ``src`` as evidence) or ``selection`` (its :class:`~viewer.case.redact_case.CaseSelection`
    for ``src``, made by the caller): the case's findings and reviews are added
    (:mod:`viewer.case.redact_case`). ``state`` (a :class:`~viewer.scan.engine.ScanState`): the first
    scan's progress in bytes, every later step through ``step_progress`` (``STEP_*``), and cancel — which
    raises :class:`RedactCancelled` with nothing written. Raises :class:`EvidenceError` when the input
    cannot be read, :class:`RedactError` for bad paths or evidence the case does not hold.
    """
    started = time.perf_counter()
    src_p, out_p = Path(src), Path(out)
    log_p = Path(log_path) if log_path is not None else default_log_path(out_p)
    check_paths(src_p, out_p, log_p, force)
    dump = open_dump(src_p)
    tmp_name = ""
    try:
        input_sha = _hash(dump, state, STEP_HASH_INPUT)
        if case is not None and selection is None:
            from viewer.handover.redact_case import case_selection

            selection = case_selection(case, input_sha)
            if selection is None:
                raise RedactError(f"{src_p.name} is not evidence in the case (SHA-256 {input_sha[:16]}…)")
        if selection is not None and selection.evidence_sha256 != input_sha:
            raise RedactError(f"{src_p.name} is not the case's evidence it was opened as "
                              f"(SHA-256 {input_sha[:16]}…, expected {selection.evidence_sha256[:16]}…)")
        if findings is None:
            from viewer.scan.engine import scan_dump

            first = scan_dump(dump, public_keys=list(public_keys), state=state)
            if first.cancelled:
                _check_cancel(state)
            findings = first.findings
        kept: list[tuple[Finding, str]] = []
        if selection is not None:
            from viewer.handover.redact_case import merge

            findings, kept = merge(findings, selection)
        ranges, notes = plan_redaction(dump, findings, threshold, _phase(state, STEP_PLAN))
        _check_cancel(state)
        if selection is not None:
            notes = [*selection.notes, *notes]
        size = dump.size
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out_p.name}.", suffix=".part", dir=out_p.parent)
        try:
            _copy(str(src_p), fd, size, state)
            apply_ranges(fd, ranges, size)
            os.fsync(fd)
            rounds = 1
            remaining: list[Finding] = []
            while True:
                tmp_dump, new_findings = _scan(tmp_name, public_keys, state)
                try:
                    remaining = [f for f in select(new_findings, min(threshold, CLEAN_THRESHOLD))
                                 if selection is None or selection.keeps(f) is None]
                    if not remaining or rounds >= MAX_ROUNDS:
                        break
                    more, more_notes = plan_redaction(tmp_dump, remaining, min(threshold, CLEAN_THRESHOLD),
                                                      _phase(state, STEP_PLAN))
                    _check_cancel(state)
                finally:
                    tmp_dump.close()
                notes += more_notes
                for r in more:
                    r.reason += f" (found by the re-scan, round {rounds + 1})"
                ranges = _dedupe(ranges + more)
                apply_ranges(fd, more, size)
                os.fsync(fd)
                rounds += 1
            remaining = select(remaining, CLEAN_THRESHOLD)
        finally:
            os.close(fd)
        with open_dump(tmp_name) as clean_dump:  # before the rename: a cancel here still writes nothing
            out_sha = _hash(clean_dump, state, STEP_HASH_OUTPUT)
        os.chmod(tmp_name, 0o666 & ~_umask())  # mkstemp's 0600 would surprise whoever receives the copy
        os.replace(tmp_name, out_p)
        tmp_name = ""
        fsync_dir(out_p.parent)
        result = RedactionResult(str(src_p), str(out_p), str(log_p), ranges, remaining, rounds,
                                 time.perf_counter() - started, input_sha, out_sha, notes, kept)
        _write_log(log_p, result, threshold)
        return result
    finally:
        dump.close()
        if tmp_name:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass


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



__all__ = ["FILLER", "Range", "RedactError", "RedactCancelled", "RedactionResult", "EvidenceError", "plan_redaction",
           "redact_file", "key_needles", "symmetric_needles", "apply_ranges"]
