"""Hostile case files: what a received case may hold to make opening it hang, swell or mislead.

Each generator writes one file (or link) into a folder and returns the path to open with
:data:`~tests.builders.case.PASSPHRASE`. The attacker is assumed to know that passphrase (a reviewer is
given it) wherever the attack needs the data key: the payload is then re-sealed with the key the slot
unwraps (:func:`reseal`), so the file authenticates and only its content is hostile. Where the attack is on
the header alone (key-derivation parameters, slot lists, lengths) the header is rewritten with its
checksum recomputed and the payload left as it was — as someone without the key would.

The classes covered: key-derivation parameters far beyond any bound (2**31 iterations, 2 TiB of memory,
scrypt N of 2**31), lying lengths and counts (a slot list claiming 4 GiB, 10,000 slots), nesting (slot
JSON and an audit event nested 100,000 levels, one nested just under the parser's limit), an audit trail
whose sequence numbers jump from 0 to 10**10, a payload that inflates a thousandfold, control characters
and markup in every string field, and paths that are not plain files (a symlink loop, a link to a FIFO,
to /dev/zero, to a folder; a dump or a ZIP given as a case).

``GENERATORS`` names them all; ``EXPECT`` says what a correct open says of each.
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from tests.builders.case import PASSPHRASE, CaseFactory
from tests.builders.hostile_bundle import MARKUP
from tests.cli.hostile_text import HOSTILE
from viewer.case import crypto
from viewer.case.audit import event_hash
from viewer.scan.finding import Confidence, Finding

#: The text every string field of :func:`hostile_strings` holds: terminal controls, then markup.
TEXT = HOSTILE + MARKUP


def small(folder: Path, name: str = "Small case", **kw: Any) -> Path:
    """A saved case (TEST_KDF, the tests' passphrase, no keyring) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    cf = CaseFactory().create(folder / "case.evcase", name, "Ann Quill", **kw)
    cf.save()
    return cf.path


def rewrite_slots(path: Path, mutate: Callable[[list[dict[str, Any]]], list[dict[str, Any]] | None]) -> Path:
    """The header's slot list changed by ``mutate`` (checksum recomputed, payload as it was)."""
    header, payload = crypto.parse_header(path.read_bytes())
    slots = [dict(s) for s in header.slots]
    slots = mutate(slots) or slots
    path.write_bytes(crypto.build_header(header.case_id, slots, header.nonce) + payload)
    return path


def reseal(path: Path, edit: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None,
           packed: Callable[[bytes], bytes] | None = None) -> Path:
    """The payload opened with the tests' passphrase, its case JSON changed by ``edit`` (or its packed
    bytes replaced by ``packed(json_bytes)``), sealed again with the same key: an authentic hostile file."""
    header, payload = crypto.parse_header(path.read_bytes())
    key = crypto.unlock_with_passphrase(header.slots, PASSPHRASE)
    case_json = crypto.unseal(header, payload, key)
    if packed is not None:
        body = packed(orjson.dumps(case_json))
    else:
        case_json = edit(case_json) or case_json if edit is not None else case_json
        body = crypto.pack(case_json)
    path.write_bytes(crypto.seal_packed(body, header.case_id, header.slots, key))
    return path


# -- the header -------------------------------------------------------------------------------------
def kdf(change: dict[str, Any]) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        def mutate(slots: list[dict[str, Any]]) -> None:
            slots[0]["kdf"] = {**slots[0]["kdf"], **change}

        return rewrite_slots(small(folder), mutate)

    make.__doc__ = f"The passphrase slot's key-derivation parameters changed to {change}."
    return make


def many_slots(folder: Path, n: int = 10_000) -> Path:
    """The one passphrase slot repeated ``n`` times."""
    return rewrite_slots(small(folder), lambda slots: slots * n)


def slots_nested(folder: Path, depth: int = 100_000) -> Path:
    """The slot list is one JSON array nested ``depth`` levels (the checksum still matches)."""
    path = small(folder)
    header, payload = crypto.parse_header(path.read_bytes())
    raw = b"[" * depth + b"]" * depth
    body = header.raw[: crypto.PRELUDE_SIZE] + header.raw[crypto.PRELUDE_SIZE:crypto.PRELUDE_SIZE + 16]
    body += struct.pack(">I", len(raw)) + raw + header.nonce
    path.write_bytes(body + _sha(body) + payload)
    return path


def _sha(data: bytes) -> bytes:
    import hashlib

    return hashlib.sha256(data).digest()


def lying_slot_length(folder: Path) -> Path:
    """The slot list's length field claims 4 GiB - 1 in a file of a few hundred bytes."""
    path = small(folder)
    data = bytearray(path.read_bytes())
    struct.pack_into(">I", data, crypto.PRELUDE_SIZE + 16, 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    return path


def newer_version(folder: Path) -> Path:
    """A format version from the future."""
    path = small(folder)
    data = bytearray(path.read_bytes())
    struct.pack_into(">H", data, len(crypto.MAGIC), 0x7FFF)
    path.write_bytes(bytes(data))
    return path


def truncated_header(folder: Path) -> Path:
    """The file ends inside its slot list."""
    path = small(folder)
    path.write_bytes(path.read_bytes()[: crypto.PRELUDE_SIZE + 40])
    return path


def truncated_payload(folder: Path) -> Path:
    """The file ends inside its encrypted payload."""
    path = small(folder)
    path.write_bytes(path.read_bytes()[:-40])
    return path


# -- the payload (authentic: sealed with the data key) ----------------------------------------------
def audit_gap(folder: Path, last: int = 10**10) -> Path:
    """The audit trail's second event is numbered ``last``, chained correctly to the first."""
    def edit(case_json: dict[str, Any]) -> None:
        events = case_json["audit"]
        ev = {**events[-1], "seq": last, "prev": events[-1]["hash"], "type": "comment",
              "data": {"text": "after the gap"}}
        ev.pop("hash", None)
        ev["hash"] = event_hash(ev)
        events.append(ev)

    return reseal(small(folder), edit)


def _nested_audit(depth: int) -> Callable[[bytes], bytes]:
    def packed(body: bytes) -> bytes:
        line = b'{"seq":1,"time":"2026-01-01T00:00:00.000Z","author":"x","type":"comment","prev":"","hash":"",'
        line += b'"data":' + b"[" * depth + b"]" * depth + b"}"
        at = body.index(b'"audit":[') + len(b'"audit":[')
        return zlib.compress(body[:at] + line + b"," + body[at:], 1)

    return packed


def audit_nested(folder: Path, depth: int = 100_000) -> Path:
    """An audit event whose data is nested ``depth`` levels deep."""
    return reseal(small(folder), packed=_nested_audit(depth))


def audit_nested_near_limit(folder: Path, depth: int = 1000) -> Path:
    """The same nested just under orjson's 1,024 levels: it parses, and must still not recurse later."""
    return reseal(small(folder), packed=_nested_audit(depth))


def payload_bomb(folder: Path) -> Path:
    """An authentic payload that inflates to 256 MiB from 256 KiB."""
    def packed(body: bytes) -> bytes:
        head = body[:-1] + b',"pad":"'
        c = zlib.compressobj(9)
        return c.compress(head) + c.compress(b"A" * (256 * 1024 * 1024)) + c.compress(b'"}') + c.flush()

    return reseal(small(folder), packed=packed)


def hostile_strings(folder: Path) -> Path:
    """Every string field the examiner sees holds :data:`TEXT`: case name, number, description, examiner,
    the finding's region and reasons, a review comment, a bookmark name, the author of every event."""
    folder.mkdir(parents=True, exist_ok=True)
    dump = folder / "evidence.bin"
    dump.write_bytes(b"EVIDENCE" * 512)
    cf = CaseFactory().create(folder / "case.evcase", TEXT, TEXT, number=TEXT, description=TEXT, author_name=TEXT)
    ref = cf.add_evidence(dump, author=TEXT)
    finding = Finding("rsa-private-key", "pem-pkcs8", 0, 64, Confidence.HIGH, reasons=[TEXT], region=TEXT)
    cf.merge_scan(ref.sha256, [finding.to_json()], {"deep": False, "detectors": TEXT})
    cf.annotate(finding.id, status="confirmed", comment=TEXT, author=TEXT)
    cf.add_bookmark(ref.sha256, 0, 16, TEXT, note=TEXT, author=TEXT)
    cf.save()
    return cf.path


# -- what is at the path ----------------------------------------------------------------------------
def symlink_loop(folder: Path) -> Path:
    """case.evcase is a link to itself."""
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "case.evcase"
    link.symlink_to(link)
    return link


def symlink_to_fifo(folder: Path) -> Path:
    """case.evcase is a link to a FIFO nobody writes to: a plain read blocks for ever."""
    folder.mkdir(parents=True, exist_ok=True)
    fifo = folder / "fifo"
    os.mkfifo(fifo)
    link = folder / "case.evcase"
    link.symlink_to(fifo)
    return link


def symlink_to_zero(folder: Path) -> Path:
    """case.evcase is a link to /dev/zero: a plain read never ends."""
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "case.evcase"
    link.symlink_to("/dev/zero")
    return link


def symlink_to_folder(folder: Path) -> Path:
    """case.evcase is a link to a folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dir").mkdir()
    link = folder / "case.evcase"
    link.symlink_to(folder / "dir")
    return link


def symlink_to_case(folder: Path) -> Path:
    """case.evcase is a link to a good case elsewhere: it opens (and a save writes through: H's tests)."""
    target = small(folder / "real")
    link = folder / "case.evcase"
    link.symlink_to(target)
    return link


def a_dump(folder: Path) -> Path:
    """A minidump given as a case."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "case.evcase"
    path.write_bytes(b"MDMP\x93\xa7\0\0" + bytes(4096))
    return path


def a_zip(folder: Path) -> Path:
    """A ZIP (a bundle, say) given as a case."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "case.evcase"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", "{}")
    return path


def magic_only(folder: Path) -> Path:
    """The case magic and nothing else."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "case.evcase"
    path.write_bytes(crypto.MAGIC)
    return path


GENERATORS: dict[str, Callable[[Path], Path]] = {
    "kdf-iterations-2^31": kdf({"iterations": 2**31}),
    "kdf-memory-2^31": kdf({"memory_cost": 2**31}),
    "kdf-lanes-2^20": kdf({"lanes": 2**20}),
    "kdf-scrypt-n-2^31": kdf({"name": "scrypt", "n": 2**31, "r": 8, "p": 1}),
    "kdf-not-numbers": kdf({"iterations": "2", "memory_cost": [8]}),
    "kdf-name-a-list": kdf({"name": []}),  # found by tests/hostile/fuzz.py: unhashable
    "many-slots": many_slots,
    "slots-nested": slots_nested,
    "lying-slot-length": lying_slot_length,
    "newer-version": newer_version,
    "truncated-header": truncated_header,
    "truncated-payload": truncated_payload,
    "audit-gap": audit_gap,
    "audit-nested": audit_nested,
    "audit-nested-near-limit": audit_nested_near_limit,
    "payload-bomb": payload_bomb,
    "hostile-strings": hostile_strings,
    "symlink-loop": symlink_loop,
    "symlink-to-fifo": symlink_to_fifo,
    "symlink-to-zero": symlink_to_zero,
    "symlink-to-folder": symlink_to_folder,
    "symlink-to-case": symlink_to_case,
    "a-dump": a_dump,
    "a-zip": a_zip,
    "magic-only": magic_only,
}

#: What a correct open says: the error class names accepted (one clear error of the case layer), or
#: ``opened`` (the file is sound; its content is hostile) with, for ``audit-problems``, a verification of
#: the audit trail that names the problem (a regular expression, case-insensitive).
EXPECT: dict[str, tuple[tuple[str, ...], str]] = {
    "kdf-iterations-2^31": (("KdfOutOfBounds",), r"key-derivation"),
    "kdf-memory-2^31": (("KdfOutOfBounds",), r"key-derivation"),
    "kdf-lanes-2^20": (("KdfOutOfBounds",), r"key-derivation"),
    "kdf-scrypt-n-2^31": (("KdfOutOfBounds",), r"key-derivation"),
    "kdf-not-numbers": (("KdfOutOfBounds",), r"key-derivation"),
    "kdf-name-a-list": (("KdfOutOfBounds",), r"key-derivation"),
    "many-slots": (("CaseTampered",), r"slots"),
    "slots-nested": (("CaseTampered",), r"slots"),
    "lying-slot-length": (("CaseTampered",), r"truncated|damaged"),
    "newer-version": (("NewerFormatVersion",), r"version"),
    "truncated-header": (("CaseTampered",), r"truncated|damaged"),
    "truncated-payload": (("CaseTampered",), r"modified|damaged|truncated"),
    "audit-gap": (("audit-problems",), r"missing|gap|deleted"),
    "audit-nested": (("CaseTampered", "CaseError", "audit-problems"), r"unreadable|nested|form"),
    "audit-nested-near-limit": (("CaseTampered", "CaseError", "audit-problems"), r"unreadable|nested|form"),
    "payload-bomb": (("CaseTampered",), r"inflates|bomb"),
    "hostile-strings": (("opened",), r""),
    "symlink-loop": (("CaseError",), r"symbolic|link|loop|cannot read"),
    "symlink-to-fifo": (("CaseError", "NotACaseFile"), r"not a (regular|case) file|fifo|regular"),
    "symlink-to-zero": (("CaseError", "NotACaseFile"), r"not a (regular|case) file|device|regular"),
    "symlink-to-folder": (("NotACaseFile",), r"folder"),
    "symlink-to-case": (("opened",), r""),
    "a-dump": (("NotACaseFile",), r"not an evidence viewer case"),
    "a-zip": (("NotACaseFile",), r"not an evidence viewer case"),
    "magic-only": (("CaseTampered",), r"truncated"),
}


def write(name: str, folder: Path) -> Path:
    """The hostile case ``name`` (a key of GENERATORS) made in ``folder``; returns the path to open."""
    return GENERATORS[name](folder)
