"""Decoders for vendor streams: Breakpad (0x4767xxxx), Crashpad (0x43500001) and Mozilla (0x4d7axxxx).

Breakpad's Linux streams are files copied from /proc and /etc: they are shown as text, line by line
(cmdline and environ split at NULs), with each line's own file offset so the hex view can follow.
Crashpad's annotations are reached through RVAs and nested lists; every count is bounded by the
bytes its location descriptor claims, and those by the file.
"""

from __future__ import annotations

import struct
from typing import Any

from viewer.evidence.formats.base import sizeof
from viewer.evidence.formats.minidump import structs as S
from viewer.evidence.formats.minidump.state import (
    MAX_TEXT_STREAM,
    MinidumpState,
    StreamEntry,
    guid_text,
    wide_cstring,
)
from viewer.evidence.formats.minidump.streams import Decoder, raw_node
from viewer.evidence.model import Node

MAX_DSOS = 65536
MAX_ANNOTATION_BYTES = 64 * 1024
WORD64_ARCHS = {6, 9, 12, 0x8002, 0x8003, 0x8004, 0x8006}


def stream_bytes(ctx: MinidumpState, s: StreamEntry) -> bytes:
    if s.length > MAX_TEXT_STREAM:
        ctx.warn(f"{s.name}: {s.length} bytes; only the first {MAX_TEXT_STREAM} are decoded")
    return ctx.src.read(s.rva, min(s.length, MAX_TEXT_STREAM))


def split_node(s: StreamEntry, data: bytes, sep: bytes, summary: Any) -> Node:
    """A text stream whose children (built on expansion) are its lines or NUL-separated items."""

    def children() -> list[Node]:
        out, pos = [], 0
        for i, part in enumerate(data.split(sep)):
            if part:
                out.append(Node(f"[{i}]", s.rva + pos, len(part), part.decode("utf-8", errors="replace")))
            pos += len(part) + len(sep)
        return out

    return Node(s.name, s.rva, s.length, summary, children)


def items(data: bytes, sep: bytes) -> list[str]:
    return [p.decode("utf-8", errors="replace") for p in data.split(sep) if p]


def linux(ctx: MinidumpState) -> dict[str, Any]:
    return ctx.breakpad.setdefault("linux", {})


def key_values(lines: list[str], sep: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines:
        key, found, value = line.partition(sep)
        if found:
            out.setdefault(key.strip(), value.strip().strip('"'))
    return out


# -- Breakpad ---------------------------------------------------------------------------------------
def decode_breakpad_info(ctx: MinidumpState, s: StreamEntry) -> Node:
    """MDRawBreakpadInfo: which thread wrote the dump and which asked for it (validity-gated)."""
    b = ctx.parse(S.MDRawBreakpadInfo, s.rva, s.name)
    if b is None:
        return raw_node(ctx, s)
    info = {
        "validity": b.validity,
        "dump_thread_id": b.dump_thread_id if b.validity & S.MD_BREAKPAD_INFO_VALID_DUMP_THREAD_ID else None,
        "requesting_thread_id": (
            b.requesting_thread_id if b.validity & S.MD_BREAKPAD_INFO_VALID_REQUESTING_THREAD_ID else None
        ),
    }
    ctx.breakpad["info"] = info
    return Node(
        s.name,
        s.rva,
        s.length,
        f"dump thread {b.dump_thread_id:#x}",
        ctx.fields(S.MDRawBreakpadInfo, b, s.rva),
    )


def decode_assertion_info(ctx: MinidumpState, s: StreamEntry) -> Node:
    """MDRawAssertionInfo: the failed expression, function, file and line (UTF-16 buffers)."""
    a = ctx.parse(S.MDRawAssertionInfo, s.rva, s.name)
    if a is None:
        return raw_node(ctx, s)
    info = {
        "expression": wide_cstring(a.expression),
        "function": wide_cstring(a.function),
        "file": wide_cstring(a.file),
        "line": a.line,
        "type": a.type,
        "type_name": S.MD_ASSERTION_INFO_TYPES.get(a.type, "unknown"),
    }
    ctx.breakpad["assertion"] = info
    kids = ctx.fields(S.MDRawAssertionInfo, a, s.rva)
    for k in kids:
        if k.name in ("expression", "function", "file"):
            k.value = info[k.name]
    return Node(s.name, s.rva, s.length, info["expression"], kids)


def decode_cpu_info(ctx: MinidumpState, s: StreamEntry) -> Node:
    data = stream_bytes(ctx, s)
    lines = items(data, b"\n")
    procs = sum(1 for line in lines if line.startswith("processor"))
    model = key_values([x for x in lines if x.startswith("model name")], ":").get("model name")
    linux(ctx)["cpu_info"] = {"processors": procs, "model_name": model}
    return split_node(s, data, b"\n", f"{procs} processors")


def decode_proc_status(ctx: MinidumpState, s: StreamEntry) -> Node:
    data = stream_bytes(ctx, s)
    status = key_values(items(data, b"\n"), ":")
    linux(ctx)["proc_status"] = status
    return split_node(s, data, b"\n", f"{status.get('Name', '')} pid {status.get('Pid', '?')}")


def decode_lsb_release(ctx: MinidumpState, s: StreamEntry) -> Node:
    data = stream_bytes(ctx, s)
    release = key_values(items(data, b"\n"), "=")
    linux(ctx)["lsb_release"] = release
    return split_node(s, data, b"\n", release.get("DISTRIB_DESCRIPTION") or release.get("PRETTY_NAME"))


def decode_cmdline(ctx: MinidumpState, s: StreamEntry) -> Node:
    data = stream_bytes(ctx, s)
    argv = items(data, b"\0")
    linux(ctx)["cmdline"] = argv
    return split_node(s, data, b"\0", " ".join(argv))


def decode_environ(ctx: MinidumpState, s: StreamEntry) -> Node:
    """The environment: counted in details (it is in the tree); values may be secrets themselves."""
    data = stream_bytes(ctx, s)
    n = len(items(data, b"\0"))
    linux(ctx)["environ_count"] = n
    return split_node(s, data, b"\0", f"{n} variables")


def decode_maps(ctx: MinidumpState, s: StreamEntry) -> Node:
    data = stream_bytes(ctx, s)
    n = len(items(data, b"\n"))
    linux(ctx)["maps_count"] = n
    return split_node(s, data, b"\n", f"{n} mappings")


def word_size(ctx: MinidumpState, fallback_len: int) -> int:
    """8 or 4: from the system info's architecture, else guessed from the data length."""
    if ctx.system_info is not None:
        return 8 if ctx.system_info["processor_architecture"] in WORD64_ARCHS else 4
    return 8 if fallback_len % 16 == 0 else 4


def decode_auxv(ctx: MinidumpState, s: StreamEntry) -> Node:
    """/proc/self/auxv: (a_type, a_val) word pairs."""
    data = stream_bytes(ctx, s)
    w = word_size(ctx, len(data))
    fmt = "<QQ" if w == 8 else "<II"
    pairs = [struct.unpack_from(fmt, data, i) for i in range(0, len(data) - 2 * w + 1, 2 * w)]
    linux(ctx)["auxv_count"] = len(pairs)

    def children() -> list[Node]:
        return [Node(f"AT {t}", s.rva + i * 2 * w, 2 * w, v) for i, (t, v) in enumerate(pairs)]

    return Node(s.name, s.rva, s.length, f"{len(pairs)} entries", children)


def decode_dso_debug(ctx: MinidumpState, s: StreamEntry) -> Node:
    """MDRawDebug (r_debug) then MDRawLinkMap entries naming each loaded DSO."""
    wide = word_size(ctx, s.length) == 8
    st, lm = (S.MDRawDebug64, S.MDRawLinkMap64) if wide else (S.MDRawDebug32, S.MDRawLinkMap32)
    d = ctx.parse(st, s.rva, s.name)
    if d is None:
        return raw_node(ctx, s)
    kids = ctx.fields(st, d, s.rva)
    n = min(ctx.fit(d.dso_count, ctx.src.available(d.map), sizeof(lm), f"{s.name} link maps"), MAX_DSOS)
    dsos = []
    for i, (off, m) in enumerate(ctx.records(lm, d.map, ctx.take(n, f"{s.name} link maps"))):
        name_node, name = (
            ctx.string_node("name", m.name, f"{s.name} link map {i}") if m.name else (None, None)
        )
        dsos.append({"addr": m.addr, "name": name, "ld": m.ld})
        extra = [name_node] if name_node is not None else []
        kids.append(Node(f"link map {i}", off, sizeof(lm), name, ctx.fields(lm, m, off) + extra))
    linux(ctx)["dso_debug"] = {
        "version": d.version,
        "dso_count": d.dso_count,
        "brk": d.brk,
        "ldbase": d.ldbase,
        "dynamic": d.dynamic,
        "dsos": dsos,
    }
    return Node(s.name, s.rva, s.length, f"{len(dsos)} DSOs", kids)


# -- Crashpad ---------------------------------------------------------------------------------------
def crashpad_uuid(guid: Any) -> str:
    return guid_text(guid).lower()


def utf8_at(ctx: MinidumpState, rva: int, what: str) -> tuple[Node, str | None]:
    return ctx.string_node("string", rva, what, utf8=True)


def string_dict(ctx: MinidumpState, loc: Any, name: str, what: str) -> tuple[dict[str, str], Node]:
    """A MinidumpSimpleStringDictionary: count, then (key RVA, value RVA) pairs of UTF-8 strings."""
    out: dict[str, str] = {}
    if loc.DataSize < 4:
        return out, Node(name, min(loc.Rva, ctx.size), 0, "empty")
    count = ctx.u32(loc.Rva)
    if count is None:
        ctx.warn(f"{what}: dictionary at {loc.Rva:#x} is past the end of the file")
        return out, Node(name, min(loc.Rva, ctx.size), 0, None)
    avail = min(loc.DataSize, ctx.src.available(loc.Rva)) - 4
    n = ctx.fit(count, avail, 8, what)
    kids = [Node("count", loc.Rva, 4, count)]
    for i, (off, e) in enumerate(ctx.records(S.MinidumpSimpleStringDictionaryEntry, loc.Rva + 4, ctx.take(n, what))):
        knode, key = ctx.string_node("key", e.key, what, utf8=True)
        vnode, value = ctx.string_node("value", e.value, what, utf8=True)
        if key is not None:
            out[key] = value or ""
        kids.append(Node(key or f"[{i}]", off, 8, value, [knode, vnode]))
    return out, Node(
        name, loc.Rva, min(loc.DataSize, ctx.src.available(loc.Rva)), f"{len(out)} entries", kids
    )


def rva_list(ctx: MinidumpState, loc: Any, what: str) -> tuple[list[str], Node]:
    """A MinidumpRVAList of UTF-8 strings (a module's list annotations)."""
    out: list[str] = []
    count = ctx.u32(loc.Rva) if loc.DataSize >= 4 else None
    if count is None:
        return out, Node("list_annotations", min(loc.Rva, ctx.size), 0, None)
    n = ctx.take(ctx.fit(count, min(loc.DataSize, ctx.src.available(loc.Rva)) - 4, 4, what), what)
    kids = [Node("count", loc.Rva, 4, count)]
    for i in range(n):
        rva = ctx.u32(loc.Rva + 4 + 4 * i) or 0
        node, text = ctx.string_node(f"[{i}]", rva, what, utf8=True)
        if text is not None:
            out.append(text)
        kids.append(node)
    return out, Node("list_annotations", loc.Rva, 4 + 4 * n, f"{len(out)} strings", kids)


def annotation_objects(ctx: MinidumpState, loc: Any, what: str) -> tuple[list[dict[str, Any]], Node]:
    """A MinidumpAnnotationList: (name, type, value byte array); type 1 values are strings."""
    out: list[dict[str, Any]] = []
    count = ctx.u32(loc.Rva) if loc.DataSize >= 4 else None
    if count is None:
        return out, Node("annotation_objects", min(loc.Rva, ctx.size), 0, None)
    n = ctx.fit(count, min(loc.DataSize, ctx.src.available(loc.Rva)) - 4, 12, what)
    kids = [Node("count", loc.Rva, 4, count)]
    for i, (off, a) in enumerate(ctx.records(S.MinidumpAnnotation, loc.Rva + 4, ctx.take(n, what))):
        nnode, name = ctx.string_node("name", a.name, what, utf8=True)
        length = ctx.u32(a.value)
        value: Any = None
        vnode = Node("value", min(a.value, ctx.size), 0, None)
        if length is not None:
            data = ctx.read_copy(a.value + 4, min(length, MAX_ANNOTATION_BYTES), what)
            value = data.decode("utf-8", errors="replace") if a.type == 1 else data.hex()
            vnode = Node("value", a.value, 4 + len(data), value)
        out.append({"name": name, "type": a.type, "value": value})
        kids.append(
            Node(name or f"[{i}]", off, 12, value, ctx.fields(S.MinidumpAnnotation, a, off) + [nnode, vnode])
        )
    return out, Node("annotation_objects", loc.Rva, 4 + 12 * n, f"{len(out)} objects", kids)


def decode_crashpad_info(ctx: MinidumpState, s: StreamEntry) -> Node:
    """MinidumpCrashpadInfo: report/client ids, process annotations and per-module annotations."""
    c = ctx.parse(S.MinidumpCrashpadInfo, s.rva, s.name)
    if c is None:
        return raw_node(ctx, s)
    kids = ctx.fields(S.MinidumpCrashpadInfo, c, s.rva)
    simple, simple_node = string_dict(ctx, c.simple_annotations, "simple annotations", s.name)
    kids.append(simple_node)
    info: dict[str, Any] = {
        "version": c.version,
        "report_id": crashpad_uuid(c.report_id),
        "client_id": crashpad_uuid(c.client_id),
        "simple_annotations": simple,
        "modules": [],
    }
    loc = c.module_list
    count = ctx.u32(loc.Rva) if loc.DataSize >= 4 else None
    if count is not None:
        n = ctx.fit(count, min(loc.DataSize, ctx.src.available(loc.Rva)) - 4, 12, f"{s.name} module list")
        n = ctx.take(n, f"{s.name} module list")
        mods = Node("module list", loc.Rva, 4 + 12 * n, f"{n} modules", [Node("count", loc.Rva, 4, count)])
        links = ctx.records(S.MinidumpModuleCrashpadInfoLink, loc.Rva + 4, n)
        for i, (off, link) in enumerate(links):
            rec, node = crashpad_module(ctx, link, off, f"{s.name} module {i}")
            info["modules"].append(rec)
            mods.add(node)
        kids.append(mods)
    ctx.crashpad = info
    return Node(s.name, s.rva, s.length, f"report {info['report_id']}", kids)


def crashpad_module(ctx: MinidumpState, link: Any, off: int, what: str) -> tuple[dict[str, Any], Node]:
    idx = link.minidump_module_list_index
    rec: dict[str, Any] = {"module_index": idx}
    kids = ctx.fields(S.MinidumpModuleCrashpadInfoLink, link, off)
    m = (
        ctx.parse(S.MinidumpModuleCrashpadInfo, link.location.Rva, what)
        if link.location.DataSize >= 28
        else None
    )
    if m is not None:
        rec["version"] = m.version
        rec["list_annotations"], n1 = rva_list(ctx, m.list_annotations, what)
        rec["simple_annotations"], n2 = string_dict(ctx, m.simple_annotations, "simple annotations", what)
        rec["annotation_objects"], n3 = annotation_objects(ctx, m.annotation_objects, what)
        base = link.location.Rva
        kids.append(
            Node(
                "MinidumpModuleCrashpadInfo",
                base,
                28,
                None,
                ctx.fields(S.MinidumpModuleCrashpadInfo, m, base) + [n1, n2, n3],
            )
        )
    return rec, Node(f"module index {idx}", off, 12, None, kids)


# -- Mozilla and other text streams -----------------------------------------------------------------
def decode_moz_text(ctx: MinidumpState, s: StreamEntry) -> Node:
    """MozLinuxLimits (/proc/self/limits) and MozSoftErrors (JSON text) are text."""
    data = stream_bytes(ctx, s)
    text = data.split(b"\0", 1)[0].decode("utf-8", errors="replace")
    key = "linux_limits" if s.type == 0x4D7A0003 else "soft_errors"
    ctx.mozilla[key] = text
    return split_node(s, data, b"\n", text[:120])


def decode_generic_text(ctx: MinidumpState, s: StreamEntry) -> Node:
    return split_node(s, stream_bytes(ctx, s), b"\n", f"{s.length} bytes of text")


VENDOR_DECODERS: dict[int, Decoder] = {
    0x47670001: decode_breakpad_info,
    0x47670002: decode_assertion_info,
    0x47670003: decode_cpu_info,
    0x47670004: decode_proc_status,
    0x47670005: decode_lsb_release,
    0x47670006: decode_cmdline,
    0x47670007: decode_environ,
    0x47670008: decode_auxv,
    0x47670009: decode_maps,
    0x4767000A: decode_dso_debug,
    0x43500001: decode_crashpad_info,
    0x4D7A0003: decode_moz_text,
    0x4D7A0004: decode_moz_text,
}

__all__ = ["VENDOR_DECODERS"]
