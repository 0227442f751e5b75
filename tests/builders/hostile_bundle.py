"""Hostile case bundles: ZIPs an attacker hands over to make ``verify`` or ``extract`` stall, swell, write
outside its folder or mislead the examiner's terminal.

Each generator takes a real bundle (:func:`base_bundle`: a small case with one evidence file, exported by
:func:`viewer.handover.bundle.export_bundle`) and writes a crafted copy. The attacker is assumed to be
thorough: every changed member is listed in the manifest with its true size and SHA-256 (nothing here is
caught by a hash mismatch alone), unless the lie *is* the point. The archive is written by
:func:`write_zip`, a plain ZIP writer packed with :mod:`struct`: :mod:`zipfile` refuses some of what an
attacker writes (precompressed bombs, names it would normalise), and the bundle code must not be tested
against its own library's politeness.

The classes covered: compression bombs (1 GiB of zeros deflated to 1 MiB, listed honestly or with a
lying size), lying counts (a manifest listing one member 100,000 times, evidence entries x members,
a ZIP directory claiming more entries than it has), nesting (a manifest and an audit line nested 100,000
levels), an audit trail whose sequence numbers jump from 0 to 10**10, member names that escape the folder
(``..``, absolute, backslash, a symlink) or carry control characters and markup.

``GENERATORS`` names them all; ``EXPECT`` says what a correct verification says about each.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.builders.case import CaseFactory
from tests.cli.hostile_text import HOSTILE
from viewer.case.audit import GENESIS, canonical_json, event_hash
from viewer.handover.bundle import AUDIT, MANIFEST, export_bundle

GiB = 1024**3
MiB = 1024**2
#: CRC-32 and SHA-256 of 2**30 zero bytes (``zlib.crc32(bytes(2**30))``): constants, so that making the
#: bomb costs milliseconds instead of two seconds of hashing.
ZEROS_GIB_CRC = 1533330096
ZEROS_GIB_SHA256 = "49bc20df15e412a64472421e13fe86ff1c5165e18b2afccf160d4dc19fe68a14"
#: Markup and spreadsheet formulas beside the terminal controls of :data:`HOSTILE`.
MARKUP = "<script>alert(1)</script><img src=x onerror=alert(2)>=cmd|' /C calc'!A0"


# -- a plain ZIP writer -----------------------------------------------------------------------------
@dataclass
class Member:
    """One member as written: ``raw`` is the deflated (or stored) stream; ``size``/``crc`` what the
    headers claim for the content (the truth unless a generator lies)."""

    name: str
    raw: bytes
    size: int
    crc: int
    deflated: bool = True
    mode: int = stat.S_IFREG | 0o644

    @classmethod
    def of(cls, name: str, data: bytes, mode: int = stat.S_IFREG | 0o644) -> Member:
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        return cls(name, c.compress(data) + c.flush(), len(data), zlib.crc32(data), True, mode)


def zeros_gib(name: str) -> Member:
    """2**30 zero bytes deflated to about 1 MiB: one 1 MiB block, fully flushed (so every copy of it is
    the same bytes), repeated 1024 times."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(bytes(MiB)) + c.flush(zlib.Z_FULL_FLUSH)
    return Member(name, block * 1024 + c.flush(), GiB, ZEROS_GIB_CRC)


def write_zip(path: Path, members: list[Member], *, claim_entries: int | None = None) -> Path:
    """A ZIP of ``members`` in order (names as given, bytes as given); ``claim_entries``: the entry
    count the end record claims (a lie when it is not ``len(members)``)."""
    out = bytearray()
    central = bytearray()
    for m in members:
        name = m.name.encode("utf-8")
        method = 8 if m.deflated else 0
        offset = len(out)
        fields = (20, 0x0800, method, 0, 0x21, m.crc, len(m.raw), m.size, len(name), 0)
        out += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", *fields) + name + m.raw
        central += struct.pack("<4sBBHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 3, *fields, 0, 0, 0,
                               m.mode << 16, offset) + name
    n = len(members) if claim_entries is None else claim_entries
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, n & 0xFFFF, n & 0xFFFF, len(central), len(out), 0)
    path.write_bytes(bytes(out + central + end))
    return path


# -- the real bundle the generators start from ------------------------------------------------------
def base_bundle(folder: Path, *, name: str = "Hostile-input base", evidence: bytes | None = None,
                **case_fields: str) -> Path:
    """A real bundle (evidence included) exported from a small case with one evidence file: no scan, so
    it costs a fraction of a second. ``case_fields`` (``examiner``, ``number``, ``description``) and
    ``name`` go into the case as they are (hostile strings welcome)."""
    folder.mkdir(parents=True, exist_ok=True)
    dump = folder / "evidence.bin"
    dump.write_bytes(evidence if evidence is not None else b"EVIDENCE" * 512)
    examiner = case_fields.pop("examiner", "Ann Quill")
    cf = CaseFactory().create(folder / "case.evcase", name, examiner, **case_fields)
    cf.add_evidence(dump)
    cf.save()
    out = folder / "base.zip"
    export_bundle(cf, out, include_evidence=True)
    return out


def members_of(bundle: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(bundle) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def manifest_of(bundle: Path) -> dict:
    with zipfile.ZipFile(bundle) as zf:
        return json.loads(zf.read(MANIFEST))


def entry(name: str, data: bytes) -> dict:
    return {"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def rebuild(base: Path, out: Path, *, replace: dict[str, bytes] | None = None, extra: list[Member] | None = None,
            manifest: Callable[[dict], dict | None] | None = None, manifest_bytes: bytes | None = None,
            claim_entries: int | None = None, list_extra: bool = True) -> Path:
    """``base`` rewritten as a thorough attacker would: members replaced (``replace``) and added or
    swapped (``extra``, raw members), each listed in the manifest with its true size and SHA-256 (with
    ``list_extra``: as the headers claim it, for an extra member); then ``manifest(m)`` edits the
    manifest (or ``manifest_bytes`` replaces it)."""
    have = members_of(base)
    m = json.loads(have.pop(MANIFEST))
    for name, data in (replace or {}).items():
        have[name] = data
    listed = {e["name"]: e for e in m["members"]}
    for name, data in (replace or {}).items():
        listed[name] = entry(name, data)
    for x in extra or []:
        have.pop(x.name, None)
        if list_extra:
            content = b"" if x.size == GiB else zlib.decompress(x.raw, -15) if x.deflated else x.raw
            listed[x.name] = {"name": x.name, "size": x.size,
                              "sha256": ZEROS_GIB_SHA256 if x.size == GiB else hashlib.sha256(content).hexdigest()}
    m["members"] = list(listed.values())
    if manifest is not None:
        m = manifest(m) or m
    body = manifest_bytes if manifest_bytes is not None else json.dumps(m).encode()
    members = [Member.of(n, d) for n, d in have.items()] + list(extra or []) + [Member.of(MANIFEST, body)]
    return write_zip(out, members, claim_entries=claim_entries)


# -- the generators ---------------------------------------------------------------------------------
def bomb_listed(base: Path, out: Path) -> Path:
    """findings.csv is 1 GiB of zeros (1 MiB in the archive), listed with its true size and SHA-256."""
    return rebuild(base, out, extra=[zeros_gib("findings.csv")])


def bomb_lying_size(base: Path, out: Path) -> Path:
    """The same bomb whose ZIP headers claim the size the manifest lists for findings.csv: the stream
    inflates far past what the headers say."""
    bomb = zeros_gib("findings.csv")
    data = members_of(base)["findings.csv"]
    bomb.size, bomb.crc = len(data), zlib.crc32(data)
    return rebuild(base, out, extra=[bomb], list_extra=False)


def bomb_evidence(base: Path, out: Path) -> Path:
    """The evidence member swapped for 1 GiB of zeros listed with its true size and SHA-256 among the
    members, while the manifest's evidence entry still declares the original few KiB (an evidence file
    is capped at the size its evidence entry declares: a dump of zero pages may compress a thousandfold)."""
    name = next(n for n in members_of(base) if n.startswith("evidence/"))
    return rebuild(base, out, extra=[zeros_gib(name)])


def overlapping_entries(base: Path, out: Path, n: int = 1000) -> Path:
    """``n`` directory entries of distinct names all pointing at one 1 GiB bomb's compressed bytes (the
    overlapping-entries zip bomb): 1 TiB for 1 MiB of archive."""
    bomb = zeros_gib("findings.csv")
    have = members_of(base)
    members = [Member.of(k, v) for k, v in have.items() if k != "findings.csv"] + [bomb]
    data = bytearray(write_zip(out, members).read_bytes())
    # the end record, then the directory: append n copies of the bomb's entry under other names
    end_at = data.rindex(b"PK\x05\x06")
    n_old, cd_size, cd_at = struct.unpack_from("<HII", data, end_at + 10)
    directory = bytes(data[cd_at:cd_at + cd_size])
    bomb_entry_at = directory.index(b"findings.csv") - 46
    entry_bytes = directory[bomb_entry_at:bomb_entry_at + 46 + len("findings.csv")]
    extra = b"".join(entry_bytes[:28] + struct.pack("<H", len(f"x/{i:06d}.csv")) + entry_bytes[30:46]
                     + f"x/{i:06d}.csv".encode() for i in range(n))
    directory += extra
    count = n_old + n
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, len(directory), cd_at, 0)
    out.write_bytes(bytes(data[:cd_at]) + directory + end)
    return out


def signature_bomb(base: Path, out: Path) -> Path:
    """signature.json (never listed: it signs the manifest) is 1 GiB of zeros in 1 MiB."""
    return rebuild(base, out, extra=[zeros_gib("signature.json")], list_extra=False)


def signature_nested(base: Path, out: Path, depth: int = 100_000) -> Path:
    """signature.json is one array nested ``depth`` levels."""
    return rebuild(base, out, extra=[Member.of("signature.json", b"[" * depth + b"]" * depth)], list_extra=False)


def audit_nested(base: Path, out: Path, depth: int = 100_000) -> Path:
    """audit.jsonl gains a line nested ``depth`` levels deep (a JSON array inside an event's data)."""
    line = b'{"seq":1,"data":' + b"[" * depth + b"]" * depth + b"}\n"
    return rebuild(base, out, replace={AUDIT: members_of(base)[AUDIT] + line})


def _chain(events: list[dict]) -> list[dict]:
    prev = GENESIS
    for ev in events:
        ev["prev"] = prev
        ev["hash"] = prev = event_hash(ev)
    return events


def audit_gap(base: Path, out: Path, last: int = 10**10) -> Path:
    """audit.jsonl holds its first event, then one numbered ``last``: a hash chain intact but for the gap,
    the manifest's head pointing at it."""
    first = json.loads(members_of(base)[AUDIT].splitlines()[0])
    jump = {k: v for k, v in first.items() if k not in ("hash", "prev")}
    jump.update(seq=last, type="comment", data={"text": "after the gap"})
    events = _chain([{k: v for k, v in first.items() if k not in ("hash", "prev")}, jump])
    audit = b"".join(canonical_json(e) + b"\n" for e in events)

    def head(m: dict) -> None:
        m["audit"] = {"head": {"seq": last, "hash": events[-1]["hash"]}, "events": 2}

    return rebuild(base, out, replace={AUDIT: audit}, manifest=head)


def manifest_nested(base: Path, out: Path, depth: int = 100_000) -> Path:
    """manifest.json is one array nested ``depth`` levels deep."""
    return rebuild(base, out, manifest_bytes=b"[" * depth + b"]" * depth)


def manifest_repeated_member(base: Path, out: Path, times: int = 100_000) -> Path:
    """The manifest lists its largest member (the evidence, made 4 MiB) ``times`` times: hashed once
    per entry, that is 400 GB of work for 8 MB of manifest."""
    name = next(n for n in members_of(base) if n.startswith("evidence/"))
    data = bytes(range(256)) * (4 * MiB // 256)

    def edit(m: dict) -> None:
        for e in m["evidence"]:
            e["size"], e["sha256"] = len(data), hashlib.sha256(data).hexdigest()
        m["members"] += [entry(name, data)] * times

    return rebuild(base, out, replace={name: data}, manifest=edit)


def manifest_evidence_by_members(base: Path, out: Path, n: int = 60_000) -> Path:
    """``n`` evidence entries naming members and ``n`` member entries: checked pairwise, n**2 work."""
    def edit(m: dict) -> None:
        m["members"] += [{"name": f"missing-{i}", "size": 1, "sha256": "0" * 64} for i in range(n)]
        m["evidence"] += [{"path": f"e{i}", "size": 1, "sha256": "1" * 64, "member": f"missing-{i}"}
                          for i in range(n)]

    return rebuild(base, out, manifest=edit)


def many_members(base: Path, out: Path, n: int = 100_000) -> Path:
    """``n`` empty members, none listed in the manifest."""
    empty = Member.of("x", b"")
    extra = [Member(f"m/{i}", empty.raw, 0, 0) for i in range(n)]
    have = members_of(base)
    members = [Member.of(k, v) for k, v in have.items()] + extra
    return write_zip(out, members)


def lying_entry_count(base: Path, out: Path) -> Path:
    """The end record claims 65,535 entries; the directory holds eight."""
    return rebuild(base, out, claim_entries=0xFFFF)


def repeated_name(base: Path, out: Path, times: int = 10_000) -> Path:
    """report.html present ``times`` times, each a different text (which one is "the" report?)."""
    have = members_of(base)
    members = [Member.of(k, v) for k, v in have.items() if k != MANIFEST]
    members += [Member.of("report.html", f"<p>copy {i}</p>".encode()) for i in range(times)]
    return write_zip(out, members + [Member.of(MANIFEST, have[MANIFEST])])


#: Member names that may not become files under a folder (and one that may, full of markup), each
#: listed honestly in the manifest.
UNSAFE_NAMES = {
    "dotdot": "../escaped.txt",
    "dotdot-deep": "evidence/../../escaped.txt",
    "absolute": "/tmp/hostile-absolute-escaped.txt",
    "backslash": "..\\escaped.txt",
    "drive": "C:/escaped.txt",
    "controls": f"findings-{HOSTILE}.txt",
    "markup": f"{MARKUP}.html",  # safe as a path; its markup is for whoever shows it
    "empty-component": "evidence//escaped.txt",
}


def unsafe_name(key: str) -> Callable[[Path, Path], Path]:
    def make(base: Path, out: Path) -> Path:
        return rebuild(base, out, extra=[Member.of(UNSAFE_NAMES[key], b"written where it may not be\n")])

    make.__doc__ = f"A member named {UNSAFE_NAMES[key]!r}, listed in the manifest with its true hash."
    return make


def symlink_member(base: Path, out: Path) -> Path:
    """A member that is a symbolic link to /etc/passwd (its content is the link's target)."""
    return rebuild(base, out, extra=[Member.of("evidence/link", b"/etc/passwd", stat.S_IFLNK | 0o777)])


def hostile_case_fields(base: Path, out: Path) -> Path:
    """The manifest's case name, number, examiner and id carry terminal controls and markup."""
    def edit(m: dict) -> None:
        m["case"] = {"id": HOSTILE, "name": HOSTILE + MARKUP, "number": MARKUP, "examiner": HOSTILE}
        m["created_by"] = HOSTILE

    return rebuild(base, out, manifest=edit)


def not_a_zip(base: Path, out: Path) -> Path:
    """The bundle's first 100 bytes and then zeros: no end record anywhere."""
    out.write_bytes(base.read_bytes()[:100] + bytes(4096))
    return out


def truncated(base: Path, out: Path) -> Path:
    """The bundle cut in the middle of its central directory."""
    data = base.read_bytes()
    out.write_bytes(data[: len(data) - 60])
    return out


GENERATORS: dict[str, Callable[[Path, Path], Path]] = {
    "bomb-listed": bomb_listed,
    "bomb-lying-size": bomb_lying_size,
    "bomb-evidence": bomb_evidence,
    "overlapping-entries": overlapping_entries,
    "signature-bomb": signature_bomb,
    "signature-nested": signature_nested,
    "audit-nested": audit_nested,
    "audit-gap": audit_gap,
    "manifest-nested": manifest_nested,
    "manifest-repeated-member": manifest_repeated_member,
    "manifest-evidence-by-members": manifest_evidence_by_members,
    "many-members": many_members,
    "lying-entry-count": lying_entry_count,
    "repeated-name": repeated_name,
    **{f"name-{k}": unsafe_name(k) for k in UNSAFE_NAMES},
    "symlink-member": symlink_member,
    "hostile-case-fields": hostile_case_fields,
    "not-a-zip": not_a_zip,
    "truncated": truncated,
}

#: What a correct ``verify`` says of each: ``unreadable`` (with a reason), ``problems`` (one or more
#: lines, each matching the pattern, case-insensitive), or ``ok`` (the bundle is sound; only its text is
#: hostile).
EXPECT: dict[str, tuple[str, str]] = {
    "bomb-listed": ("problems", r"findings\.csv.*(ratio|compress|inflat|bomb|large|cap|limit|exceed)"),
    "bomb-lying-size": ("problems", r"findings\.csv"),
    "bomb-evidence": ("problems", r"evidence/"),
    "overlapping-entries": ("problems", r"overlap|bomb|share"),
    "signature-bomb": ("problems", r"signature"),
    "signature-nested": ("problems", r"signature"),
    "audit-nested": ("problems", r"audit\.jsonl.*nested"),
    "audit-gap": ("problems", r"audit\.jsonl.*(missing|gap|deleted)"),
    "manifest-nested": ("unreadable", r"manifest"),
    "manifest-repeated-member": ("problems", r"evidence/"),
    "manifest-evidence-by-members": ("problems", r"missing"),
    "many-members": ("problems", r"not in the manifest"),
    "lying-entry-count": ("any", r""),
    "repeated-name": ("problems", r"more than once"),
    **{f"name-{k}": ("problems", r"") for k in UNSAFE_NAMES if k != "markup"},
    "name-markup": ("ok", r""),  # a name of two components (it has a '/'): markup, not a path escape
    "symlink-member": ("problems", r"link"),
    "hostile-case-fields": ("ok", r""),
    "not-a-zip": ("unreadable", r"zip"),
    "truncated": ("unreadable", r"zip"),
}


def write(name: str, base: Path, folder: Path) -> Path:
    """The hostile bundle ``name`` (a key of GENERATORS) made from ``base`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    return GENERATORS[name](base, folder / f"{name}.zip")


def copy_base(base: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(base, folder / "base.zip"))
