"""Java heap dumps (HPROF, "JAVA PROFILE 1.0.1/1.0.2"): what a JVM writes on OutOfMemoryError or for
``jcmd PID GC.heap_dump`` / ``jmap -dump``.

Layout (big-endian throughout; the HotSpot source ``heapDumper.cpp`` and the JDK's ``hprof_b_spec.h``)::

    header:  "JAVA PROFILE 1.0.2\\0" | u4 identifier size (4 or 8) | u8 milliseconds since 1970
    record:  u1 tag | u4 microseconds since the header's time | u4 length of the body | body
      0x01 UTF8          id, the string's bytes (modified UTF-8)
      0x02 LOAD CLASS    u4 class serial, id class object, u4 stack trace serial, id class name (a UTF8 id)
      0x0C HEAP DUMP, 0x1C HEAP DUMP SEGMENT: sub-records, each u1 type then
        0x20 CLASS DUMP      id class, u4 stack, id super, loader, signers, protection domain, 2 reserved,
                             u4 instance size, u2 constants [u2 index, u1 type, value],
                             u2 statics [id name, u1 type, value], u2 instance fields [id name, u1 type]
        0x21 INSTANCE DUMP   id object, u4 stack, id class, u4 length, the field values (the class's
                             own fields first, then its superclass's, ...)
        0x22 OBJECT ARRAY    id array, u4 stack, u4 count, id element class, count ids
        0x23 PRIMITIVE ARRAY id array, u4 stack, u4 count, u1 element type, the elements — big-endian:
                             an int[] is *not* in the JVM's memory order
        0xFF, 0x01-0x08, 0x89-0x8E roots of fixed size
      0x2C HEAP DUMP END; other tags (frames, traces, ...) are kept as records.

Records are packed: nothing is aligned, so key material inside a primitive array lies at any offset.

What the parse gives (cheap, at open): the header (construct fields in the tree), a walk of the record
headers (counted; a length past the end of the file is clipped with a warning and ends the walk), regions
(the header, each heap dump segment as ``heap``, each run of other records as ``records``; no address
space: ``vaddr`` is None) and a structure tree whose children are built when expanded: the records by
tag, the classes (name, instance count) and the key objects found (see :func:`key_objects`).

What the scanner needs is built on demand by :func:`index` — once per source, bounded: the strings and
class names, every class's instance fields, the offset of every instance and primitive array (at most
``MAX_OBJECTS``), and the walk of every sub-record (a sub-record that cannot be sized ends its segment,
with a warning). Everything read is checked against the file; a lying count is clipped, never allocated.
"""

from __future__ import annotations

import bisect
import struct
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import construct as cs

from viewer.evidence.formats.base import ParseContext, Warnings, without_gc
from viewer.evidence.model import Node, ParseResult, Region
from viewer.evidence.source import ByteSource

FORMAT = "hprof"
MAGIC = b"JAVA PROFILE 1.0."
MAX_MAGIC = 32  # the format string with its NUL

HEADER = cs.Struct(
    "format" / cs.CString("ascii"),
    "identifier_size" / cs.Int32ub,
    "timestamp_ms" / cs.Int64ub,
)
RECORD = cs.Struct("tag" / cs.Int8ub, "time_us" / cs.Int32ub, "length" / cs.Int32ub)
RECORD_SIZE = 9
_RECORD = struct.Struct(">BII")

TAGS = {
    0x01: "UTF8", 0x02: "LOAD CLASS", 0x03: "UNLOAD CLASS", 0x04: "STACK FRAME", 0x05: "STACK TRACE",
    0x06: "ALLOC SITES", 0x07: "HEAP SUMMARY", 0x0A: "START THREAD", 0x0B: "END THREAD", 0x0C: "HEAP DUMP",
    0x0D: "CPU SAMPLES", 0x0E: "CONTROL SETTINGS", 0x1C: "HEAP DUMP SEGMENT", 0x2C: "HEAP DUMP END",
}
HEAP_TAGS = (0x0C, 0x1C)
FIXED_LENGTHS = {0x0E: 6, 0x2C: 0, 0x03: 4}  # body lengths of the fixed-size records

# basic types: (name, size in bytes; 0 = an identifier)
TYPES = {2: ("object", 0), 4: ("boolean", 1), 5: ("char", 2), 6: ("float", 4), 7: ("double", 8),
         8: ("byte", 1), 9: ("short", 2), 10: ("int", 4), 11: ("long", 8)}
# roots: sub-record type -> number of identifiers, then of u4s
ROOTS = {0xFF: (1, 0), 0x01: (2, 0), 0x02: (1, 2), 0x03: (1, 2), 0x04: (1, 1), 0x05: (1, 0), 0x06: (1, 1),
         0x07: (1, 0), 0x08: (1, 2), 0x89: (1, 0), 0x8A: (1, 0), 0x8B: (1, 0), 0x8C: (1, 0), 0x8D: (1, 0),
         0x8E: (1, 2)}
CLASS_DUMP, INSTANCE_DUMP, OBJECT_ARRAY, PRIMITIVE_ARRAY = 0x20, 0x21, 0x22, 0x23

MAX_OBJECTS = 1 << 22  # instances and arrays indexed (offsets); beyond, a warning
MAX_STRINGS = 1 << 21
MAX_CLASSES = 1 << 17
MAX_RECORD_NODES = 100_000  # records listed in the tree
OPEN_STEPS = 2_000  # heap sub-records checked per segment at open (a lie further in: at index time)

# the key classes the tree lists (and the scanner reads): class name -> what it is
KEY_CLASSES = {
    "sun.security.rsa.RSAPrivateCrtKeyImpl": "RSA private key (CRT)",
    "sun.security.rsa.RSAPrivateKeyImpl": "RSA private key",
    "sun.security.ec.ECPrivateKeyImpl": "EC private key",
    "sun.security.ec.ed.EdDSAPrivateKeyImpl": "EdDSA private key",
    "javax.crypto.spec.SecretKeySpec": "secret key",
    "com.sun.crypto.provider.HmacCore": "HMAC state",
    "com.sun.crypto.provider.AESCrypt": "AES state",
}


def probe(head: bytes) -> bool:
    return head.startswith(MAGIC)


@dataclass
class Record:
    offset: int  # of the record header
    tag: int
    length: int  # of the body, as present in the file

    @property
    def body(self) -> int:
        return self.offset + RECORD_SIZE


@without_gc
def parse(src: ByteSource, warnings: Warnings | None = None) -> ParseResult:
    ctx = ParseContext(src, warnings)
    head = src.read(0, MAX_MAGIC + 12)
    nul = head.find(b"\0")
    if nul < 0 or len(head) < nul + 13:
        ctx.warn("HPROF header truncated")
        root = Node("HPROF heap dump", 0, src.size, "header truncated")
        return ParseResult(FORMAT, {"os": "unknown", "arch": "unknown"}, [Region(0, src.size, None, "header", "header")],
                           root, ctx.warnings, {})
    header = HEADER.parse(head)
    header_size = nul + 13
    id_size = header.identifier_size
    if id_size not in (4, 8):
        ctx.warn(f"identifier size {id_size} is not 4 or 8; records read with 8")
        id_size = 8
    walk = walk_records(ctx, header_size, HEAP_TAGS)
    regions = [Region(0, header_size, None, "header", "HPROF header")]
    pieces = [(r.offset, RECORD_SIZE + r.length, "heap") for r in walk.kept]
    pieces += [(a, b - a, "records") for a, b in walk.runs]
    pieces.sort()
    pieces = pieces[: ctx.take_regions(len(pieces), "HPROF records")]
    heap = 0
    for at, length, kind in pieces:
        if kind == "heap":
            regions.append(Region(at, length, None, "heap", f"heap dump segment {heap}"))
            heap += 1
        else:
            regions.append(Region(at, length, None, "records", f"records {len(regions)}"))
    # the first sub-records of each heap segment are walked at open (bounded), so that a segment that
    # lies about its contents says so now; the full index is built when the scanner or the tree asks
    probe_index = Index(id_size, {}, {}, {}, [])
    for r in walk.kept[:64]:
        _walk_heap(src, probe_index, r, {}, [], [0], max_steps=OPEN_STEPS)
    for w in probe_index.warnings[:16]:
        ctx.warn(w)
    counts = {TAGS.get(tag, f"tag {tag:#04x}"): n for tag, n in walk.counts.items()}
    meta = {"os": "unknown", "arch": "java", "format_version": header.format, "identifier_size": id_size,
            "timestamp_ms": header.timestamp_ms, "records": walk.total, "heap_dump_segments": heap}
    header_node = Node("header", 0, header_size, header.format, [
        ctx.node("format", 0, nul + 1, header.format),
        ctx.node("identifier_size", nul + 1, 4, header.identifier_size),
        ctx.node("timestamp_ms", nul + 5, 8, header.timestamp_ms),
    ])
    root = Node("HPROF heap dump", 0, src.size, f"{header.format}, {walk.total} records", [
        header_node,
        Node("records", header_size, src.size - header_size, ", ".join(f"{v} {k}" for k, v in sorted(counts.items())),
             ctx.lazy(lambda: _record_nodes(ctx, header_size))),
        Node("classes", header_size, 0, "classes with their instance counts (built when expanded)",
             ctx.lazy(lambda: _class_nodes(ctx, src))),
        Node("key objects", header_size, 0, "instances of key classes with their fields (built when expanded)",
             ctx.lazy(lambda: _key_object_nodes(src))),
    ])
    details = {"header": {"format": header.format, "identifier_size": id_size, "timestamp_ms": header.timestamp_ms},
               "records": counts}
    return ParseResult(FORMAT, meta, regions, root, ctx.warnings, details)


@dataclass
class Walk:
    """What one walk of the record headers saw: the records kept, the count of every tag, the runs of
    records that are not heap dump segments (start, end), and how many records there were."""

    kept: list[Record]
    counts: dict[int, int]
    runs: list[tuple[int, int]]
    total: int


def walk_records(ctx: ParseContext, start: int, keep: frozenset[int] | None = None, limit: int | None = None
                 ) -> Walk:
    """Every record header from ``start`` (a tight loop: a heap dump holds millions of UTF8 records); the
    records whose tag is in ``keep`` (all when None; at most ``limit``) are kept. A body past the end of
    the file is clipped and ends the walk, with a warning."""
    walk = Walk([], {}, [], 0)
    view = ctx.src.view()
    size = ctx.size
    offset = start
    unpack = _RECORD.unpack_from
    counts = [0] * 256
    kept = walk.kept
    keeping = [keep is None or tag in keep for tag in range(256)]
    room = limit if limit is not None else 1 << 62
    heapish = [tag in HEAP_TAGS for tag in range(256)]
    fixed = [FIXED_LENGTHS.get(tag, -1) for tag in range(256)]
    run_start = offset
    odd = 0
    end = size - RECORD_SIZE
    try:
        # the hot loop (a 16 MiB file can hold 1.8 million empty records): list lookups, no calls but one
        while offset <= end:
            tag, _time, length = unpack(view, offset)
            counts[tag] += 1
            if keeping[tag] and room:
                kept.append(Record(offset, tag, min(length, size - offset - RECORD_SIZE)))
                room -= 1
            if heapish[tag]:
                if run_start < offset:
                    walk.runs.append((run_start, offset))
                run_start = offset + RECORD_SIZE + length
            elif fixed[tag] >= 0 and fixed[tag] != length:
                odd += 1
            offset += RECORD_SIZE + length
        if offset > size:
            last = max((r for r in kept), key=lambda r: r.offset, default=None)
            ctx.warn(f"the last record (ending at {offset:#x}) runs past the end of the file ({size:#x}); "
                     "clipped" + ("" if last is None else f" (the record at {last.offset:#x} is kept, clipped)"))
        elif offset < size:
            ctx.warn(f"record at {offset:#x}: header truncated ({size - offset} of {RECORD_SIZE} bytes)")
        if run_start < min(offset, size):
            walk.runs.append((run_start, min(offset, size)))
        if odd:
            ctx.warn(f"{odd} records of a fixed-size kind (CONTROL SETTINGS, HEAP DUMP END, UNLOAD CLASS) "
                     "have another length: the file is not what a JVM writes")
    finally:
        view.release()
    walk.counts = {tag: n for tag, n in enumerate(counts) if n}
    walk.total = sum(counts)
    return walk


def _record_nodes(ctx: ParseContext, start: int) -> list[Node]:
    records = walk_records(ctx.quiet(), start, None, MAX_RECORD_NODES).kept
    return [ctx.node(f"{TAGS.get(r.tag, f'tag {r.tag:#04x}')}", r.offset, RECORD_SIZE + r.length,
                     f"{r.length} bytes", ctx.lazy_fields(RECORD, None, r.offset))
            for r in records]


# -- the index: classes, instances and arrays ----------------------------------------------------------
@dataclass
class ClassInfo:
    id: int
    name: str
    super_id: int
    fields: list[tuple[str, int]]  # (name, basic type) of the class's own instance fields
    instances: list[int] = field(default_factory=list)  # file offsets of INSTANCE DUMP sub-records
    dump_offset: int | None = None
    by_id: dict[int, int] | None = None  # object id -> instance offset, built on first use


@dataclass
class PrimitiveArray:
    offset: int  # of the elements
    type: int
    count: int
    id: int = 0

    @property
    def length(self) -> int:
        return self.count * TYPES[self.type][1]


@dataclass
class ObjectArray:
    offset: int  # of the elements (identifiers)
    count: int
    id: int
    class_id: int


@dataclass
class Referrer:
    """Who holds an object: an instance's field, or an object array's element."""

    holder: str  # the holder's class ("com.example.Vault", "java.lang.Object[]")
    object_id: int
    where: str  # ".field" or "[index]"

    @property
    def text(self) -> str:
        return f"{self.holder} @{self.object_id:#x}{self.where}"


@dataclass
class Index:
    """What the heap holds, by identifier. ``warnings`` say what could not be indexed."""

    id_size: int
    strings: dict[int, str]
    classes: dict[int, ClassInfo]
    primitive_arrays: dict[int, PrimitiveArray]
    warnings: list[str]
    object_arrays: list[ObjectArray] = field(default_factory=list)  # in file order
    object_array_offsets: list[int] = field(default_factory=list)  # their element offsets, for bisect
    instance_starts: list[tuple[int, int]] | None = None  # (offset, class id) of every instance, sorted; on use

    def class_named(self, name: str) -> list[ClassInfo]:
        return [c for c in self.classes.values() if c.name == name]

    def all_fields(self, class_id: int) -> list[tuple[str, int, str]]:
        """(name, type, declaring class) of every instance field, in the order INSTANCE DUMP holds them."""
        out: list[tuple[str, int, str]] = []
        seen = 0
        cid = class_id
        while cid and cid in self.classes and seen < 64:
            c = self.classes[cid]
            out.extend((n, t, c.name) for n, t in c.fields)
            cid = c.super_id
            seen += 1
        return out

    def instance(self, src: ByteSource, offset: int) -> tuple[int, int, dict[str, tuple[int, Any, int]]] | None:
        """(object id, class id, {field: (file offset of its value, value, size)}) of the INSTANCE DUMP at
        ``offset``; object fields hold identifiers. A name repeated in a superclass keeps the first."""
        ids = self.id_size
        head = src.read(offset, 1 + 2 * ids + 8)
        if len(head) < 1 + 2 * ids + 8 or head[0] != INSTANCE_DUMP:
            return None
        obj = int.from_bytes(head[1 : 1 + ids], "big")
        cls = int.from_bytes(head[5 + ids : 5 + 2 * ids], "big")
        length = int.from_bytes(head[5 + 2 * ids : 9 + 2 * ids], "big")
        start = offset + 9 + 2 * ids
        body = src.read(start, min(length, 1 << 16))
        values: dict[str, tuple[int, Any, int]] = {}
        pos = 0
        for name, typ, _owner in self.all_fields(cls):
            size = TYPES.get(typ, ("?", 0))[1] or ids
            if pos + size > len(body):
                break
            raw = body[pos : pos + size]
            if name not in values:
                values[name] = (start + pos, int.from_bytes(raw, "big", signed=typ not in (2, 4, 5)), size)
            pos += size
        return obj, cls, values


_CACHE: weakref.WeakKeyDictionary[ByteSource, Index] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def index(src: ByteSource) -> Index:
    """The heap's index (built once per source; a few seconds per GB)."""
    with _LOCK:
        got = _CACHE.get(src)
        if got is None:
            got = _CACHE[src] = _build_index(src)
        return got


def _build_index(src: ByteSource) -> Index:
    ctx = ParseContext(src, Warnings())
    head = src.read(0, MAX_MAGIC + 12)
    nul = head.find(b"\0")
    id_size = int.from_bytes(head[nul + 1 : nul + 5], "big") if nul >= 0 and len(head) >= nul + 13 else 8
    if id_size not in (4, 8):
        id_size = 8
    strings: dict[int, str] = {}
    class_names: dict[int, int] = {}
    idx = Index(id_size, strings, {}, {}, ctx.warnings)
    records = walk_records(ctx, nul + 13 if nul >= 0 else len(head), frozenset({0x01, 0x02, *HEAP_TAGS})).kept
    for r in records:
        if r.tag == 0x01 and len(strings) < MAX_STRINGS and r.length >= id_size:
            body = src.read(r.body, min(r.length, 4096))
            strings[int.from_bytes(body[:id_size], "big")] = body[id_size:].decode("utf-8", "replace")
        elif r.tag == 0x02 and r.length >= 8 + 2 * id_size and len(class_names) < MAX_CLASSES:
            body = src.read(r.body, 8 + 2 * id_size)
            cid = int.from_bytes(body[4 : 4 + id_size], "big")
            class_names[cid] = int.from_bytes(body[8 + id_size : 8 + 2 * id_size], "big")
    pending: list[tuple[int, int]] = []  # (class id, instance offset) before the class dump was seen
    budget = [MAX_OBJECTS]
    for r in records:
        if r.tag in HEAP_TAGS:
            _walk_heap(src, idx, r, class_names, pending, budget)
    for cid, off in pending:
        if cid in idx.classes:
            idx.classes[cid].instances.append(off)
    if budget[0] <= 0:
        idx.warnings.append(f"more than {MAX_OBJECTS} objects: the rest of the heap is not indexed")
    return idx


def _walk_heap(src: ByteSource, idx: Index, rec: Record, class_names: dict[int, int],
               pending: list[tuple[int, int]], budget: list[int], max_steps: int | None = None) -> None:
    ids = idx.id_size
    end = rec.body + rec.length
    view = src.view(rec.body, rec.length)
    pos = 0
    length = len(view)
    steps = 0

    def uint(at: int, n: int) -> int:
        return int.from_bytes(view[at : at + n], "big")

    try:
        while pos < length:
            steps += 1
            if max_steps is not None and steps > max_steps:
                return
            kind = view[pos]
            if kind in ROOTS:
                n_ids, n_u4 = ROOTS[kind]
                pos += 1 + n_ids * ids + 4 * n_u4
            elif kind == INSTANCE_DUMP:
                if pos + 9 + 2 * ids > length:
                    break
                cid = uint(pos + 5 + ids, ids)
                size = uint(pos + 5 + 2 * ids, 4)
                if budget[0] > 0:
                    budget[0] -= 1
                    cls = idx.classes.get(cid)
                    if cls is not None:
                        cls.instances.append(rec.body + pos)
                    else:
                        pending.append((cid, rec.body + pos))
                pos += 9 + 2 * ids + size
            elif kind == PRIMITIVE_ARRAY:
                if pos + 10 + ids > length:
                    break
                aid = uint(pos + 1, ids)
                count = uint(pos + 5 + ids, 4)
                typ = view[pos + 9 + ids]
                width = TYPES.get(typ, ("?", 0))[1]
                if width == 0:
                    idx.warnings.append(f"primitive array of unknown type {typ} at {rec.body + pos:#x}: "
                                        "the rest of the segment is not indexed")
                    return
                if budget[0] > 0:
                    budget[0] -= 1
                    idx.primitive_arrays[aid] = PrimitiveArray(rec.body + pos + 10 + ids, typ, count, aid)
                pos += 10 + ids + count * width
            elif kind == OBJECT_ARRAY:
                if pos + 9 + 2 * ids > length:
                    break
                count = uint(pos + 5 + ids, 4)
                if budget[0] > 0:
                    budget[0] -= 1
                    present = min(count, max(0, length - (pos + 9 + 2 * ids)) // ids)  # a lying count: what is there
                    idx.object_arrays.append(ObjectArray(rec.body + pos + 9 + 2 * ids, present, uint(pos + 1, ids),
                                                         uint(pos + 9 + ids, ids)))
                    idx.object_array_offsets.append(rec.body + pos + 9 + 2 * ids)
                pos += 9 + 2 * ids + count * ids
            elif kind == CLASS_DUMP:
                got = _class_dump(view, pos, ids, length)
                if got is None:
                    idx.warnings.append(f"class dump at {rec.body + pos:#x} truncated")
                    return
                cid, super_id, fields, nxt = got
                if len(idx.classes) < MAX_CLASSES:
                    name = idx.strings.get(class_names.get(cid, -1), f"class@{cid:#x}").replace("/", ".")
                    idx.classes[cid] = ClassInfo(cid, name, super_id, fields, dump_offset=rec.body + pos)
                pos = nxt
            else:
                idx.warnings.append(f"unknown heap sub-record {kind:#04x} at {rec.body + pos:#x}: the rest of "
                                    "the segment is not indexed")
                return
        if pos > length:
            idx.warnings.append(f"heap dump segment at {rec.offset:#x}: the last sub-record runs past its end "
                                f"({end:#x})")
    finally:
        view.release()


def _class_dump(view: memoryview, pos: int, ids: int, length: int) -> tuple[int, int, list[tuple[str, int]], int] | None:
    """(class id, super id, [(field name id as text later, type)], next position) of a CLASS DUMP."""
    p = pos + 1
    need = 7 * ids + 8 + 4
    if p + need > length:
        return None
    cid = int.from_bytes(view[p : p + ids], "big")
    super_id = int.from_bytes(view[p + 4 + ids : p + 4 + 2 * ids], "big")
    p += 7 * ids + 4 + 4  # id, stack serial, super, loader, signers, domain, 2 reserved, instance size
    if p + 2 > length:
        return None
    n_const = int.from_bytes(view[p : p + 2], "big")
    p += 2
    for _ in range(n_const):
        if p + 3 > length:
            return None
        typ = view[p + 2]
        p += 3 + (TYPES.get(typ, ("?", 8))[1] or ids)
    if p + 2 > length:
        return None
    n_static = int.from_bytes(view[p : p + 2], "big")
    p += 2
    for _ in range(n_static):
        if p + ids + 1 > length:
            return None
        typ = view[p + ids]
        p += ids + 1 + (TYPES.get(typ, ("?", 8))[1] or ids)
    if p + 2 > length:
        return None
    n_fields = int.from_bytes(view[p : p + 2], "big")
    p += 2
    fields: list[tuple[str, int]] = []
    for _ in range(n_fields):
        if p + ids + 1 > length:
            return None
        fields.append((str(int.from_bytes(view[p : p + ids], "big")), view[p + ids]))
        p += ids + 1
    return cid, super_id, fields, p


def _resolve_field_names(idx: Index) -> None:
    for c in idx.classes.values():
        if c.fields and c.fields[0][0].isdigit():
            c.fields = [(idx.strings.get(int(n), n), t) for n, t in c.fields]


def data_spans(src: ByteSource) -> list[tuple[int, int]]:
    """``[start, end)`` of every primitive array's elements, sorted: the bytes of an HPROF that hold values.

    Why: redaction overwrites only these. A run of a key's bytes found by searching may reach a byte
    into an array's header (the element type sits just before the elements, the count before it), and
    overwriting it leaves a file whose heap no longer parses. Keys live in arrays (BigInteger's int[],
    a SecretKeySpec's byte[], a String's byte[] value), so nothing a key is made of lies outside them.
    """
    return sorted((a.offset, a.offset + a.length) for a in index(src).primitive_arrays.values())


def resolved(src: ByteSource) -> Index:
    """:func:`index` with field names resolved to their strings."""
    idx = index(src)
    with _LOCK:
        _resolve_field_names(idx)
    return idx


# -- key objects -----------------------------------------------------------------------------------------
@dataclass
class KeyObject:
    """An instance of a key class: its class, id, offset, and each field's value (for object fields, the
    primitive array it points at when it is one: its elements' offset, type and count)."""

    class_name: str
    object_id: int
    offset: int
    fields: dict[str, tuple[int, Any, int]]


def key_objects(src: ByteSource, names: Iterator[str] | None = None) -> list[KeyObject]:
    idx = resolved(src)
    wanted = set(names) if names is not None else set(KEY_CLASSES)
    out: list[KeyObject] = []
    for c in idx.classes.values():
        if c.name not in wanted:
            continue
        for off in c.instances[:4096]:
            got = idx.instance(src, off)
            if got is not None:
                out.append(KeyObject(c.name, got[0], off, got[2]))
    return out


def bigintegers(src: ByteSource, idx: Index, limit: int = 1 << 16) -> dict[int, tuple[int, PrimitiveArray]]:
    """Every ``java.math.BigInteger`` (at most ``limit``): object id -> (value, its magnitude's int[]).
    The int[] is written big-endian by HPROF, so its bytes are the number's big-endian bytes."""
    out: dict[int, tuple[int, PrimitiveArray]] = {}
    for c in idx.class_named("java.math.BigInteger"):
        for off in c.instances[:limit]:
            got = idx.instance(src, off)
            if got is None:
                continue
            obj, _cls, fields = got
            mag = idx.primitive_arrays.get(fields.get("mag", (0, 0, 0))[1])
            if mag is None or mag.type != 10 or not 0 < mag.count <= 4096:
                continue
            value = int.from_bytes(src.read(mag.offset, mag.length), "big")
            if fields.get("signum", (0, 1, 4))[1] < 0:
                value = -value
            out[obj] = (value, mag)
    return out


def _class_nodes(ctx: ParseContext, src: ByteSource) -> list[Node]:
    idx = resolved(src)
    out = []
    for c in sorted(idx.classes.values(), key=lambda c: (-len(c.instances), c.name)):
        at = c.dump_offset if c.dump_offset is not None else 0
        out.append(ctx.node(c.name, at, 0, f"{len(c.instances)} instances, {len(c.fields)} fields"))
    return out


def _key_object_nodes(src: ByteSource) -> list[Node]:
    idx = resolved(src)
    out = []
    for obj in key_objects(src):
        kids = []
        for name, (at, value, size) in obj.fields.items():
            arr = idx.primitive_arrays.get(value) if isinstance(value, int) else None
            if arr is not None:
                kids.append(Node(name, arr.offset, arr.length, f"{TYPES[arr.type][0]}[{arr.count}]"))
            else:
                kids.append(Node(name, at, size, f"{value:#x}" if isinstance(value, int) else value))
        out.append(Node(f"{obj.class_name} @{obj.object_id:#x}", obj.offset, 0,
                        KEY_CLASSES.get(obj.class_name, ""), kids))
    return out


def referrer_at(src: ByteSource, idx: Index, pos: int, target: int) -> Referrer | None:
    """The holder of ``target`` when the identifier at file offset ``pos`` is a reference to it: an
    element of an indexed object array, or an object field of an indexed instance; else None (the bytes
    are something else that happens to equal the identifier)."""
    ids = idx.id_size
    if int.from_bytes(src.read(pos, ids), "big") != target:
        return None
    i = bisect.bisect_right(idx.object_array_offsets, pos) - 1
    if i >= 0:
        arr = idx.object_arrays[i]
        rel = pos - arr.offset
        if 0 <= rel < arr.count * ids and rel % ids == 0:
            return Referrer(_array_class_name(idx, arr.class_id), arr.id, f"[{rel // ids}]")
    starts = _instance_starts(idx)
    j = bisect.bisect_right(starts, (pos, 1 << 64)) - 1
    if j < 0:
        return None
    got = idx.instance(src, starts[j][0])
    if got is None:
        return None
    obj, cid, fields = got
    for name, (at, value, size) in fields.items():
        if at == pos and size == ids and value == target:
            cls = idx.classes.get(cid)
            return Referrer(cls.name if cls is not None else f"class@{cid:#x}", obj, f".{name}")
    return None


def _instance_starts(idx: Index) -> list[tuple[int, int]]:
    if idx.instance_starts is None:
        idx.instance_starts = sorted((off, c.id) for c in idx.classes.values() for off in c.instances)
    return idx.instance_starts


def _array_class_name(idx: Index, class_id: int) -> str:
    """``java.lang.Object[]`` for the JVM's ``[Ljava.lang.Object;`` (or an unknown array class)."""
    cls = idx.classes.get(class_id)
    name = cls.name if cls is not None else "[Ljava.lang.Object;"
    depth = len(name) - len(name.lstrip("["))
    base = name[depth:]
    if base.startswith("L") and base.endswith(";"):
        base = base[1:-1]
    return base + "[]" * max(1, depth)


def string_value(src: ByteSource, idx: Index, object_id: int) -> str | None:
    """The text of a ``java.lang.String`` (JDK 9+: ``value`` byte[] and ``coder``, 0 Latin-1, 1 UTF-16)."""
    for c in idx.class_named("java.lang.String"):
        offsets = _by_id(src, idx, c)
        off = offsets.get(object_id)
        got = idx.instance(src, off) if off is not None else None
        if got is None:
            return None
        fields = got[2]
        arr = idx.primitive_arrays.get(fields.get("value", (0, 0, 0))[1])
        if arr is None or arr.length > 4096:
            return None
        raw = src.read(arr.offset, arr.length)
        coder = fields.get("coder", (0, 0, 1))[1]
        return raw.decode("utf-16-be" if coder == 1 or arr.type == 5 else "latin-1", "replace")
    return None


def _by_id(src: ByteSource, idx: Index, cls: ClassInfo) -> dict[int, int]:
    """Object id -> INSTANCE DUMP offset for one class (built once; the id is the record's first field)."""
    if cls.by_id is None:
        ids = idx.id_size
        cls.by_id = {int.from_bytes(src.read(off + 1, ids), "big"): off for off in cls.instances}
    return cls.by_id


def object_at(src: ByteSource, idx: Index, class_name: str, object_id: int) -> dict[str, tuple[int, Any, int]] | None:
    """The fields of the instance ``object_id`` of ``class_name``, or None."""
    for c in idx.class_named(class_name):
        off = _by_id(src, idx, c).get(object_id)
        if off is not None:
            got = idx.instance(src, off)
            return got[2] if got is not None else None
    return None
