"""Windows minidumps (MDMP), as written by MiniDumpWriteDump, Breakpad, Crashpad and Wine.

Layout (minidumpapiset.h): a 32-byte MINIDUMP_HEADER, a directory of MINIDUMP_DIRECTORY entries, and
streams found through their RVAs (file offsets). Parsing is stream by stream in the style of
rust-minidump: a corrupt stream is kept raw with a warning and the others still parse. Every count and
RVA is checked against the file before it is used; big lists are read in one call and expanded in the
structure tree only on demand.

A stream type that the directory lists more than once is decoded once, at its first entry; the repeats
are kept raw and listed in one warning (a 2 MiB file could otherwise list one 2 MiB stream 4,096 times).

Modules: ``structs`` (construct declarations), ``state`` (what a parse collects, on the shared parse
context of ``formats.base``, and the string readers), ``streams`` (Microsoft streams), ``vendor``
(Breakpad, Crashpad, Mozilla), ``memory`` (regions).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from viewer.evidence.formats.base import Warnings, without_gc
from viewer.evidence.formats.minidump import structs as S
from viewer.evidence.formats.minidump.memory import memory_regions
from viewer.evidence.formats.minidump.state import MinidumpState, StreamEntry, basename
from viewer.evidence.formats.minidump.streams import DECODERS, raw_node
from viewer.evidence.formats.minidump.vendor import VENDOR_DECODERS
from viewer.evidence.model import Node, ParseResult, Region
from viewer.evidence.source import ByteSource

FORMAT = "minidump"
MAX_STREAMS = 4096  # real dumps have a few dozen; more means the count is lying
TEXT_STREAMS = {0x4D7A0003, 0x4D7A0004}


def probe(head: bytes) -> bool:
    return head[:4] == S.MINIDUMP_SIGNATURE


@without_gc
def parse(src: ByteSource, warnings: Warnings | None = None) -> ParseResult:
    """Parse a minidump; whatever is corrupt becomes a warning and the rest is still returned."""
    warnings = warnings if warnings is not None else Warnings()
    ctx = MinidumpState(src, warnings)
    root = Node("minidump", 0, src.size, f"{src.size} bytes")
    hdr = ctx.parse(S.MINIDUMP_HEADER, 0, "MINIDUMP_HEADER")
    if hdr is None:
        regions = [Region(0, min(32, src.size), None, "header", "MINIDUMP_HEADER")] if src.size else []
        return ParseResult(FORMAT, {}, regions, root, warnings, {})
    ctx.header = hdr
    if hdr.Version & 0xFFFF != S.MINIDUMP_VERSION:
        ctx.warn(f"MINIDUMP_HEADER: version {hdr.Version & 0xFFFF:#x} is not {S.MINIDUMP_VERSION:#x}")
    root.add(Node("header", 0, 32, "MINIDUMP_HEADER", ctx.fields(S.MINIDUMP_HEADER, hdr, 0)))
    root.add(read_directory(ctx, hdr))
    for s in ctx.streams:
        root.add(decode_stream(ctx, s))
    for t in ctx.threads:
        if t["id"] in ctx.thread_names:
            t["name"] = ctx.thread_names[t["id"]]
    memory, rows = memory_regions(ctx)
    regions = layout_regions(ctx) + memory
    root.value = f"{len(ctx.streams)} streams, {len(memory)} memory ranges"
    return ParseResult(FORMAT, build_meta(ctx), regions, root, warnings, build_details(ctx, rows))


def read_directory(ctx: MinidumpState, hdr: Any) -> Node:
    """The stream directory; each entry becomes a StreamEntry with its location clipped to the file."""
    rva = hdr.StreamDirectoryRva
    n = ctx.count(rva, hdr.NumberOfStreams, 12, "stream directory")
    n = ctx.cap(n, MAX_STREAMS, "stream directory: number of streams")
    first: dict[int, int] = {}
    repeats: dict[int, list[int]] = {}
    entries = ctx.records(S.MINIDUMP_DIRECTORY, rva, n)
    for i, (off, d) in enumerate(entries):
        stype, loc = d.StreamType, d.Location
        name = S.stream_name(stype)
        entry = StreamEntry(i, stype, name, loc.Rva, loc.DataSize, 0, off)
        if stype != 0:  # unused entries: whatever their location says, there is nothing to read
            entry.length = ctx.clip(loc.Rva, loc.DataSize, f"stream {i} ({name})")
            if stype in first:
                entry.first = first[stype]
                repeats.setdefault(stype, []).append(i)
            else:
                first[stype] = i
        ctx.streams.append(entry)
    if repeats:
        listed = "; ".join(
            f"{S.stream_name(t)} at {first[t]}, repeated at " + ", ".join(map(str, idx[:8]))
            + (f" (+{len(idx) - 8} more)" if len(idx) > 8 else "")
            for t, idx in list(repeats.items())[:8]
        )
        more = f"; and {len(repeats) - 8} more types" if len(repeats) > 8 else ""
        ctx.warn(f"stream directory: {sum(map(len, repeats.values()))} entries repeat a stream type; only the "
                 f"first of each type is decoded, the repeats are kept raw: {listed}{more}")

    def children() -> list[Node]:
        return [
            ctx.struct_node(f"[{s.index}] {s.name}", S.MINIDUMP_DIRECTORY, d, off, f"{s.size:#x} bytes at {s.rva:#x}")
            for s, (off, d) in zip(ctx.streams, entries, strict=True)
        ]

    return Node("stream directory", rva if n else min(rva, ctx.size), n * 12, f"{n} entries", ctx.lazy(children))


def decode_stream(ctx: MinidumpState, s: StreamEntry) -> Node:
    """One stream's node; a decoder that fails leaves the stream raw and a warning, never an exception."""
    if s.type == 0:
        return Node(s.name, min(s.rva, ctx.size), 0, "unused directory entry")
    if s.first is not None:
        return raw_node(ctx, s, value=f"{s.size} bytes; a repeat of stream {s.first}'s type, not decoded")
    decoder = DECODERS.get(s.type) or VENDOR_DECODERS.get(s.type)
    if decoder is None or s.length == 0:
        return raw_node(ctx, s)
    try:
        return decoder(ctx, s)
    except Exception as exc:  # noqa: BLE001 - one corrupt stream must not lose the others
        ctx.warn(f"stream {s.index} ({s.name}) at {s.rva:#x} is corrupt ({type(exc).__name__}); kept raw")
        return raw_node(ctx, s)


def layout_regions(ctx: MinidumpState) -> list[Region]:
    """Non-memory regions for the hex view: the header, the directory and each stream's bytes."""
    out = [Region(0, 32, None, "header", "MINIDUMP_HEADER")]
    hdr = ctx.header
    dir_len = 12 * len(ctx.streams)
    if dir_len:
        out.append(Region(hdr.StreamDirectoryRva, dir_len, None, "header", "stream directory"))
    for s in ctx.streams:
        if s.type != 0 and s.length > 0:
            out.append(Region(s.rva, s.length, None, "stream", s.name, attrs={"stream_type": s.type}))
    return out


# -- meta -------------------------------------------------------------------------------------------
def os_version(si: dict[str, Any]) -> str:
    """The OS version text: "10.0.22000 282", "5.1.2600 Service Pack 2", or a Linux kernel release.

    Breakpad's Linux writer leaves the version numbers zero and puts ``uname`` ("Linux 4.9.60-...")
    in the CSD; Crashpad splits the release ("5.10.28" + "-1rodete2-amd64 ...").
    """
    nums = f"{si['major_version']}.{si['minor_version']}.{si['build_number']}"
    csd = (si.get("csd_version") or "").strip()
    if (si["major_version"], si["minor_version"], si["build_number"]) == (0, 0, 0) and csd:
        return csd.removeprefix("Linux ")
    if csd.startswith("-"):
        return nums + csd
    return f"{nums} {csd}" if csd else nums


def build_meta(ctx: MinidumpState) -> dict[str, Any]:
    hdr = ctx.header
    meta: dict[str, Any] = {"flags": f"{hdr.Flags:#x}"}
    if hdr.TimeDateStamp:
        meta["time"] = datetime.fromtimestamp(hdr.TimeDateStamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    si = ctx.system_info
    if si is not None:
        meta["os"] = S.PLATFORMS.get(si["platform_id"], f"unknown({si['platform_id']:#x})")
        meta["os_version"] = os_version(si)
        arch = si["processor_architecture"]
        meta["arch"] = S.ARCHITECTURES.get(arch, f"unknown({arch})")
        meta["cpu_count"] = si["number_of_processors"]
    process = process_meta(ctx)
    if process:
        meta["process"] = process
    if ctx.exceptions:
        e = ctx.exceptions[0]
        meta["exception"] = f"code {e['code']:#x} at {e['address']:#x} thread {e['thread_id']:#x}"
    return meta


def process_meta(ctx: MinidumpState) -> dict[str, Any]:
    """pid from MiscInfo (or Breakpad's /proc status); name = the main (first) module's basename."""
    out: dict[str, Any] = {}
    pid = (ctx.misc_info or {}).get("process_id")
    if pid is None:
        status = ctx.breakpad.get("linux", {}).get("proc_status", {})
        if status.get("Pid", "").isdigit():
            pid = int(status["Pid"])
    if pid is not None:
        out["pid"] = pid
    main = main_module(ctx.modules)
    if main:
        out["name"] = main
    return out


LOADERS = {"dyld", "dyld_sim"}


def main_module(modules: list[dict[str, Any]]) -> str | None:
    """The executable's basename: the first module, passing over Apple's loader (an iOS simulator
    dump lists dyld_sim before the app)."""
    names = [basename(m["name"]) for m in modules if m["name"]]
    return next((n for n in names if n not in LOADERS), names[0] if names else None)


# -- details ----------------------------------------------------------------------------------------
def build_details(ctx: MinidumpState, memory_rows: list[dict[str, int]]) -> dict[str, Any]:
    hdr = ctx.header
    details: dict[str, Any] = {
        "header": {
            "version": hdr.Version & 0xFFFF,
            "implementation_version": hdr.Version >> 16,
            "number_of_streams": hdr.NumberOfStreams,
            "stream_directory_rva": hdr.StreamDirectoryRva,
            "checksum": hdr.CheckSum,
            "time_date_stamp": hdr.TimeDateStamp,
            "flags": hdr.Flags,
        },
        "streams": [
            {"index": s.index, "type": s.type, "name": s.name, "offset": s.rva, "size": s.size}
            for s in ctx.streams
        ],
        "threads": ctx.threads,
        "modules": ctx.modules,
        "memory": memory_rows,
        "system_info": ctx.system_info,
        "exception": ctx.exceptions,
        "misc_info": ctx.misc_info,
        "unloaded_modules": ctx.unloaded_modules,
        "memory_info": None if ctx.memory_info is None else len(ctx.memory_info),
        "handles": ctx.handle_count,
    }
    optional = {
        "thread_info": ctx.thread_info_count,
        "tokens": ctx.token_count,
        "comments": ctx.comments or None,
        "breakpad": ctx.breakpad or None,
        "crashpad": ctx.crashpad,
        "mozilla": ctx.mozilla or None,
    }
    details.update({k: v for k, v in optional.items() if v is not None})
    return details


__all__ = ["FORMAT", "probe", "parse"]
