"""Decoders for the Microsoft-defined streams (minidumpapiset.h).

Each decoder takes the parse context and one directory entry, records what the rest of the parser
needs in the context, and returns the stream's node for the structure tree. Counts are bounded by the
stream's bytes present in the file before anything is read; long lists get lazily built children.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import accumulate
from typing import Any

import construct as cs
import numpy as np

from viewer.evidence.formats.base import MAX_REGIONS, sizeof
from viewer.evidence.formats.minidump import structs as S
from viewer.evidence.formats.minidump.state import (
    MinidumpState,
    StreamEntry,
    basename,
    decode_utf16,
    guid_text,
    plain,
    wide_cstring,
)
from viewer.evidence.model import Node

MAX_CV_RECORD = 64 * 1024


def located(ctx: MinidumpState, name: str, rva: int, size: int, what: str, value: Any = None) -> Node:
    """A node for data a descriptor points at, clipped to the file (with a warning if it was not)."""
    present = ctx.clip(rva, size, what)
    return Node(name, min(rva, ctx.size), present, value if value is not None else f"{size} bytes")


def list_start(ctx: MinidumpState, s: StreamEntry, count: int, entry_size: int) -> int:
    """Where the entries of a count-prefixed list begin.

    Some writers pad the 4-byte count to 8 so the 64-bit entries are aligned; the stream size tells.
    """
    if s.size == 8 + count * entry_size:
        return s.rva + 8
    return s.rva + 4


def parse_entries(
    ctx: MinidumpState, s: StreamEntry, struct_: cs.Struct, start: int, count: int, what: str, stride: int = 0
) -> list[tuple[int, Any]]:
    """``count`` structs from ``start``, bounded by the stream and the parse's budget: [(file offset, parsed)]."""
    stride = stride or sizeof(struct_)
    n = ctx.fit(count, s.rva + s.length - start, stride, what)
    return ctx.records(struct_, start, ctx.take(n, what), stride)


def count_node(name: str, offset: int, size: int, value: int) -> Node:
    return Node(name, offset, size, value)


# -- threads ----------------------------------------------------------------------------------------
def memory_desc(desc: Any) -> dict[str, int]:
    return {"vaddr": desc.StartOfMemoryRange, "size": desc.Memory.DataSize, "file_offset": desc.Memory.Rva}


def decode_thread_list(ctx: MinidumpState, s: StreamEntry, ex: bool = False) -> Node:
    """ThreadListStream / ThreadExListStream: MINIDUMP_THREAD(_EX) entries after a count."""
    struct_ = S.MINIDUMP_THREAD_EX if ex else S.MINIDUMP_THREAD
    count = ctx.u32(s.rva) if s.length >= 4 else None
    if count is None:
        ctx.warn(f"{s.name}: too short for its count")
        return raw_node(ctx, s)
    start = list_start(ctx, s, count, sizeof(struct_))
    kids = [count_node("NumberOfThreads", s.rva, 4, count)]
    for off, t in parse_entries(ctx, s, struct_, start, count, s.name):
        rec: dict[str, Any] = {
            "id": t.ThreadId,
            "suspend_count": t.SuspendCount,
            "priority_class": t.PriorityClass,
            "priority": t.Priority,
            "teb": t.Teb,
            "stack": memory_desc(t.Stack),
            "context_offset": t.ThreadContext.Rva,
            "context_size": t.ThreadContext.DataSize,
        }
        if ex:
            rec["backing_store"] = memory_desc(t.BackingStore)
        ctx.threads.append(rec)
        kids.append(thread_node(ctx, struct_, t, off))
    return Node(s.name, s.rva, s.length, f"{len(kids) - 1} threads", kids)


def thread_node(ctx: MinidumpState, struct_: cs.Struct, t: Any, off: int) -> Node:
    tid = t.ThreadId
    what = f"thread {tid:#x}"
    # the pointed-at data is checked now, so that the warnings are part of the parse
    ctx.clip(t.ThreadContext.Rva, t.ThreadContext.DataSize, f"{what} context")
    ctx.clip(t.Stack.Memory.Rva, t.Stack.Memory.DataSize, f"{what} stack")
    q = ctx.quiet()

    fields = ctx.lazy_fields(struct_, t, off)

    def children() -> list[Node]:
        return fields() + [
            located(q, "context", t.ThreadContext.Rva, t.ThreadContext.DataSize, what),
            located(
                q,
                "stack memory",
                t.Stack.Memory.Rva,
                t.Stack.Memory.DataSize,
                what,
                f"{t.Stack.Memory.DataSize:#x} bytes at {t.Stack.StartOfMemoryRange:#x}",
            ),
        ]

    return Node(f"thread {tid:#x}", off, sizeof(struct_), f"teb {t.Teb:#x}", children)


def decode_thread_names(ctx: MinidumpState, s: StreamEntry) -> Node:
    """ThreadNamesStream: (ThreadId, RVA64 of a MINIDUMP_STRING) pairs."""
    count = ctx.u32(s.rva) if s.length >= 4 else None
    if count is None:
        ctx.warn(f"{s.name}: too short for its count")
        return raw_node(ctx, s)
    kids = [count_node("NumberOfThreadNames", s.rva, 4, count)]
    for off, e in parse_entries(ctx, s, S.MINIDUMP_THREAD_NAME, s.rva + 4, count, s.name):
        name_node, text = ctx.string_node("name", e.RvaOfThreadName, f"{s.name} thread {e.ThreadId:#x}")
        if text is not None:
            ctx.thread_names[e.ThreadId] = text
        fields = ctx.fields(S.MINIDUMP_THREAD_NAME, e, off)
        kids.append(Node(f"thread {e.ThreadId:#x}", off, 12, text, [*fields, name_node]))
    return Node(s.name, s.rva, s.length, f"{len(kids) - 1} names", kids)


def decode_thread_info_list(ctx: MinidumpState, s: StreamEntry) -> Node:
    """ThreadInfoListStream: a sized header, then MINIDUMP_THREAD_INFO entries of SizeOfEntry each."""
    hdr = ctx.parse(S.MINIDUMP_THREAD_INFO_LIST_HEADER, s.rva, s.name)
    if hdr is None:
        return raw_node(ctx, s)
    entry = S.MINIDUMP_THREAD_INFO
    if hdr.SizeOfEntry < sizeof(entry):
        ctx.warn(f"{s.name}: entry size {hdr.SizeOfEntry} is smaller than MINIDUMP_THREAD_INFO")
        return raw_node(ctx, s, ctx.fields(S.MINIDUMP_THREAD_INFO_LIST_HEADER, hdr, s.rva))
    start = s.rva + max(hdr.SizeOfHeader, 12)
    entries = parse_entries(ctx, s, entry, start, hdr.NumberOfEntries, s.name, hdr.SizeOfEntry)
    ctx.thread_info_count = len(entries)
    kids = ctx.fields(S.MINIDUMP_THREAD_INFO_LIST_HEADER, hdr, s.rva)
    kids += [ctx.struct_node(f"thread {e.ThreadId:#x}", entry, e, off) for off, e in entries]
    return Node(s.name, s.rva, s.length, f"{len(entries)} entries", kids)


# -- modules ----------------------------------------------------------------------------------------
def file_version(vi: Any) -> str | None:
    """VS_FIXEDFILEINFO's file version as a.b.c.d, when the block is present (signature checked)."""
    if vi.dwSignature != S.VS_FFI_SIGNATURE:
        return None
    ms, ls = vi.dwFileVersionMS, vi.dwFileVersionLS
    return f"{ms >> 16}.{ms & 0xFFFF}.{ls >> 16}.{ls & 0xFFFF}"


def codeview(ctx: MinidumpState, rva: int, size: int, what: str) -> tuple[dict[str, Any] | None, Node | None]:
    """The CodeView record of a module: PDB 7.0 (RSDS), PDB 2.0 (NB10) or Breakpad's ELF build id."""
    if size == 0:
        return None, None
    present = ctx.clip(rva, min(size, MAX_CV_RECORD), f"{what} CodeView record")
    data = ctx.read_copy(rva, present, f"{what} CodeView record")
    if len(data) < 4:
        return None, Node("CvRecord data", min(rva, ctx.size), len(data), None)
    sig = data[:4]
    info: dict[str, Any]
    kids: list[Node]
    try:
        if sig == b"RSDS" and len(data) >= 24:
            cv = S.CV_INFO_PDB70.parse(data)
            name = data[24:].split(b"\0", 1)[0].decode("utf-8", errors="replace")
            info = {"format": "RSDS", "name": name, "guid": guid_text(cv.Signature), "age": cv.Age}
            kids = ctx.fields(S.CV_INFO_PDB70, cv, rva) + [
                Node("PdbFileName", rva + 24, len(data) - 24, name)
            ]
        elif sig == b"NB10" and len(data) >= 16:
            cv = S.CV_INFO_PDB20.parse(data)
            name = data[16:].split(b"\0", 1)[0].decode("utf-8", errors="replace")
            info = {"format": "NB10", "name": name, "signature": cv.Signature, "age": cv.Age}
            kids = ctx.fields(S.CV_INFO_PDB20, cv, rva) + [
                Node("PdbFileName", rva + 16, len(data) - 16, name)
            ]
        elif sig == b"BpEL":
            info = {"format": "BpEL", "build_id": data[4:].hex()}
            kids = [
                Node("CvSignature", rva, 4, "BpEL"),
                Node("BuildId", rva + 4, len(data) - 4, data[4:].hex()),
            ]
        else:
            info = {"format": sig.hex()}
            kids = []
    except cs.ConstructError:
        ctx.warn(f"{what}: malformed CodeView record at {rva:#x}")
        return None, Node("CvRecord data", rva, len(data), None)
    return info, Node("CvRecord data", rva, len(data), info.get("name") or info.get("build_id"), kids)


def decode_module_list(ctx: MinidumpState, s: StreamEntry) -> Node:
    """ModuleListStream: MINIDUMP_MODULE entries, each naming its path, version and PDB."""
    count = ctx.u32(s.rva) if s.length >= 4 else None
    if count is None:
        ctx.warn(f"{s.name}: too short for its count")
        return raw_node(ctx, s)
    struct_ = S.MINIDUMP_MODULE
    start = list_start(ctx, s, count, sizeof(struct_))
    kids = [count_node("NumberOfModules", s.rva, 4, count)]
    for i, (off, m) in enumerate(parse_entries(ctx, s, struct_, start, count, s.name)):
        what = f"{s.name} module {i}"
        name_node, name = ctx.string_node("ModuleName", m.ModuleNameRva, what)
        pdb, cv_node = codeview(ctx, m.CvRecord.Rva, m.CvRecord.DataSize, what)
        rec: dict[str, Any] = {
            "name": name or "",
            "base": m.BaseOfImage,
            "size": m.SizeOfImage,
            "checksum": m.CheckSum,
            "timestamp": m.TimeDateStamp,
            "version": file_version(m.VersionInfo),
            "pdb": pdb,
        }
        ctx.modules.append(rec)
        extra = [name_node] + ([cv_node] if cv_node is not None else [])
        kids.append(module_node(ctx, struct_, m, off, basename(name or f"module {i}"), extra))
    return Node(s.name, s.rva, s.length, f"{len(kids) - 1} modules", kids)


def module_node(ctx: MinidumpState, struct_: cs.Struct, m: Any, off: int, label: str, extra: list[Node]) -> Node:
    fields = ctx.lazy_fields(struct_, m, off)
    return Node(label, off, sizeof(struct_), f"{m.BaseOfImage:#x}", lambda: fields() + extra)


def decode_unloaded_module_list(ctx: MinidumpState, s: StreamEntry) -> Node:
    """UnloadedModuleListStream: the 'extended' sized header, then MINIDUMP_UNLOADED_MODULE entries."""
    hdr = ctx.parse(S.MINIDUMP_UNLOADED_MODULE_LIST, s.rva, s.name)
    if hdr is None:
        return raw_node(ctx, s)
    kids = ctx.fields(S.MINIDUMP_UNLOADED_MODULE_LIST, hdr, s.rva)
    entry = S.MINIDUMP_UNLOADED_MODULE
    if hdr.SizeOfEntry < sizeof(entry):
        ctx.warn(f"{s.name}: entry size {hdr.SizeOfEntry} is smaller than MINIDUMP_UNLOADED_MODULE")
        return raw_node(ctx, s, kids)
    start = s.rva + max(hdr.SizeOfHeader, 12)
    for off, m in parse_entries(ctx, s, entry, start, hdr.NumberOfEntries, s.name, hdr.SizeOfEntry):
        name_node, name = ctx.string_node("ModuleName", m.ModuleNameRva, f"{s.name} entry")
        ctx.unloaded_modules.append(
            {
                "name": name or "",
                "base": m.BaseOfImage,
                "size": m.SizeOfImage,
                "checksum": m.CheckSum,
                "timestamp": m.TimeDateStamp,
            }
        )
        kids.append(module_node(ctx, entry, m, off, basename(name or "?"), [name_node]))
    return Node(s.name, s.rva, s.length, f"{len(ctx.unloaded_modules)} unloaded modules", kids)


# -- memory -----------------------------------------------------------------------------------------
def decode_memory_list(ctx: MinidumpState, s: StreamEntry) -> Node:
    """MemoryListStream: MINIDUMP_MEMORY_DESCRIPTOR entries, each with its own RVA."""
    count = ctx.u32(s.rva) if s.length >= 4 else None
    if count is None:
        ctx.warn(f"{s.name}: too short for its count")
        return raw_node(ctx, s)
    start = list_start(ctx, s, count, 16)
    n = ctx.take_regions(ctx.fit(count, s.rva + s.length - start, 16, s.name), s.name)
    arr = np.frombuffer(ctx.src.read(start, n * 16), dtype=S.MEMORY_DESCRIPTOR_DTYPE)
    starts, sizes, rvas = arr["start"].tolist(), arr["size"].tolist(), arr["rva"].tolist()
    ctx.memory_lists.append({"stream": s.index, "starts": starts, "sizes": sizes, "offsets": rvas})

    def children() -> Iterator[Node]:
        yield count_node("NumberOfMemoryRanges", s.rva, 4, count)
        for i in range(n):
            yield descriptor_node(ctx, S.MINIDUMP_MEMORY_DESCRIPTOR, starts[i], sizes[i], start + 16 * i, rvas[i])

    return Node(s.name, s.rva, s.length, f"{n} ranges", ctx.lazy(children, 1 + n))


def decode_memory64_list(ctx: MinidumpState, s: StreamEntry) -> Node:
    """Memory64ListStream: descriptors without RVAs; the data follows BaseRva, range after range."""
    hdr = ctx.parse(S.MINIDUMP_MEMORY64_LIST_HEADER, s.rva, s.name)
    if hdr is None:
        return raw_node(ctx, s)
    start = s.rva + 16
    n = ctx.take_regions(ctx.fit(hdr.NumberOfMemoryRanges, s.rva + s.length - start, 16, s.name), s.name)
    arr = np.frombuffer(ctx.src.read(start, n * 16), dtype=S.MEMORY_DESCRIPTOR64_DTYPE)
    starts, sizes = arr["start"].tolist(), arr["size"].tolist()
    # exact (Python int) running offsets: lying sizes must not wrap around as uint64 sums would
    offsets = list(accumulate(sizes[:-1], initial=hdr.BaseRva)) if n else []
    ctx.memory_lists.append({"stream": s.index, "starts": starts, "sizes": sizes, "offsets": offsets})

    head = ctx.fields(S.MINIDUMP_MEMORY64_LIST_HEADER, hdr, s.rva)

    def children() -> Iterator[Node]:
        yield from head
        for i in range(n):
            yield descriptor_node(ctx, S.MINIDUMP_MEMORY_DESCRIPTOR64, starts[i], sizes[i], start + 16 * i, offsets[i])

    return Node(s.name, s.rva, s.length, f"{n} ranges from {hdr.BaseRva:#x}", ctx.lazy(children, len(head) + n))


def descriptor_node(
    ctx: MinidumpState, struct_: cs.Struct, start: int, size: int, off: int, data_offset: int
) -> Node:
    """One memory descriptor; its fields are parsed with the construct declaration on expansion."""
    label = f"{start:#x}..{start + size:#x}"
    fields = ctx.lazy_fields(struct_, None, off)
    return Node(label, off, 16, f"{size:#x} bytes at file {data_offset:#x}", fields)


def decode_memory_info_list(ctx: MinidumpState, s: StreamEntry) -> Node:
    """MemoryInfoListStream: one MINIDUMP_MEMORY_INFO per region of the address space."""
    hdr = ctx.parse(S.MINIDUMP_MEMORY_INFO_LIST, s.rva, s.name)
    if hdr is None:
        return raw_node(ctx, s)
    head = ctx.fields(S.MINIDUMP_MEMORY_INFO_LIST, hdr, s.rva)
    es = hdr.SizeOfEntry
    if es < S.MEMORY_INFO_DTYPE.itemsize:
        ctx.warn(f"{s.name}: entry size {es} is smaller than MINIDUMP_MEMORY_INFO")
        return raw_node(ctx, s, head)
    start = s.rva + max(hdr.SizeOfHeader, 16)
    n = ctx.cap(ctx.fit(hdr.NumberOfEntries, s.rva + s.length - start, es, s.name), MAX_REGIONS, s.name)
    dtype = S.MEMORY_INFO_DTYPE
    if es != dtype.itemsize:  # a newer, longer entry: read the known prefix of each
        dtype = np.dtype(
            {
                "names": dtype.names,
                "formats": [dtype.fields[k][0] for k in dtype.names],
                "offsets": [dtype.fields[k][1] for k in dtype.names],
                "itemsize": es,
            }
        )
    arr = np.frombuffer(ctx.src.read(start, n * es), dtype=dtype)
    ctx.memory_info = arr
    entry = S.MINIDUMP_MEMORY_INFO

    def children() -> Iterator[Node]:
        yield from head
        for i in range(n):
            off = start + i * es
            row = arr[i]
            label = f"{int(row['base']):#x} +{int(row['size']):#x}"
            summary = (
                f"{S.MEM_STATES.get(int(row['state']), hex(int(row['state'])))} {int(row['protect']):#x}"
            )
            yield Node(label, off, sizeof(entry), summary, ctx.lazy_fields(entry, None, off))

    return Node(s.name, s.rva, s.length, f"{n} regions", ctx.lazy(children, len(head) + n))


# -- exception, system info, misc info --------------------------------------------------------------
def decode_exception(ctx: MinidumpState, s: StreamEntry) -> Node:
    """ExceptionStream: the faulting thread, its MINIDUMP_EXCEPTION record and context."""
    st = S.MINIDUMP_EXCEPTION_STREAM
    e = ctx.parse(st, s.rva, s.name)
    if e is None:
        return raw_node(ctx, s)
    r = e.ExceptionRecord
    nparams = r.NumberParameters
    if nparams > S.EXCEPTION_MAXIMUM_PARAMETERS:
        ctx.warn(f"{s.name}: NumberParameters {nparams} exceeds {S.EXCEPTION_MAXIMUM_PARAMETERS}")
        nparams = S.EXCEPTION_MAXIMUM_PARAMETERS
    ctx.exceptions.append(
        {
            "thread_id": e.ThreadId,
            "code": r.ExceptionCode,
            "name": S.EXCEPTION_NAMES.get(r.ExceptionCode),
            "flags": r.ExceptionFlags,
            "record": r.ExceptionRecord,
            "address": r.ExceptionAddress,
            "parameters": list(r.ExceptionInformation[:nparams]),
            "context_offset": e.ThreadContext.Rva,
            "context_size": e.ThreadContext.DataSize,
        }
    )
    ctx.clip(e.ThreadContext.Rva, e.ThreadContext.DataSize, f"{s.name} context")
    q = ctx.quiet()
    kids = ctx.fields(st, e, s.rva) + [
        located(q, "context", e.ThreadContext.Rva, e.ThreadContext.DataSize, s.name)
    ]
    return Node(s.name, s.rva, s.length, f"code {r.ExceptionCode:#x} at {r.ExceptionAddress:#x}", kids)


def decode_system_info(ctx: MinidumpState, s: StreamEntry) -> Node:
    """SystemInfoStream: CPU and OS; the CSD version (service pack, or a kernel string) by RVA."""
    st = S.MINIDUMP_SYSTEM_INFO
    si = ctx.parse(st, s.rva, s.name)
    if si is None:
        return raw_node(ctx, s)
    kids = ctx.fields(st, si, s.rva)
    csd = ""
    if si.CSDVersionRva:
        node, text = ctx.string_node("CSDVersion", si.CSDVersionRva, f"{s.name} CSD version")
        kids.append(node)
        csd = text or ""
    arch = si.ProcessorArchitecture
    cpu: dict[str, Any]
    cpu_off = s.rva + sizeof(st) - 24
    if arch in (0, 9, 10):  # x86 and amd64 carry CPUID data
        x = S.X86_CPU_INFO.parse(si.Cpu)
        cpu = {
            "vendor": x.VendorId.rstrip(b"\0").decode("latin-1"),
            "version_information": x.VersionInformation,
            "feature_information": x.FeatureInformation,
            "amd_extended_features": x.AMDExtendedCpuFeatures,
        }
        kids.append(
            Node("Cpu (X86_CPU_INFO)", cpu_off, 24, cpu["vendor"], ctx.fields(S.X86_CPU_INFO, x, cpu_off))
        )
    else:
        o = S.OTHER_CPU_INFO.parse(si.Cpu)
        cpu = {"processor_features": list(o.ProcessorFeatures)}
        kids.append(
            Node("Cpu (OTHER_CPU_INFO)", cpu_off, 24, None, ctx.fields(S.OTHER_CPU_INFO, o, cpu_off))
        )
    ctx.system_info = {
        "processor_architecture": arch,
        "architecture": S.ARCHITECTURE_NAMES.get(arch, f"unknown({arch})"),
        "processor_level": si.ProcessorLevel,
        "processor_revision": si.ProcessorRevision,
        "number_of_processors": si.NumberOfProcessors,
        "product_type": si.ProductType,
        "major_version": si.MajorVersion,
        "minor_version": si.MinorVersion,
        "build_number": si.BuildNumber,
        "platform_id": si.PlatformId,
        "csd_version": csd,
        "suite_mask": si.SuiteMask,
        "cpu": cpu,
    }
    label = S.PLATFORMS.get(si.PlatformId, f"platform {si.PlatformId:#x}")
    return Node(
        s.name, s.rva, s.length, f"{label} {si.MajorVersion}.{si.MinorVersion}.{si.BuildNumber}", kids
    )


def decode_misc_info(ctx: MinidumpState, s: StreamEntry) -> Node:
    """MiscInfoStream: MINIDUMP_MISC_INFO .. _5; the newest generation the stream's size holds."""
    size = s.length
    declared = ctx.u32(s.rva) if s.length >= 4 else None
    if declared is not None and 24 <= declared < size:
        size = declared
    chosen = next(((st, name) for st, name in S.MISC_INFO_VERSIONS if sizeof(st) <= size), None)
    if chosen is None:
        ctx.warn(f"{s.name}: {s.length} bytes is too short for MINIDUMP_MISC_INFO")
        return raw_node(ctx, s)
    st, version = chosen
    mi = ctx.parse(st, s.rva, s.name)
    if mi is None:
        return raw_node(ctx, s)
    ctx.misc_info = misc_info_details(st, mi, version)
    pid = ctx.misc_info.get("process_id")
    return Node(
        s.name,
        s.rva,
        s.length,
        f"{version}" + (f", pid {pid}" if pid is not None else ""),
        ctx.fields(st, mi, s.rva),
    )


MISC_FLAG_FIELDS: list[tuple[int, tuple[str, ...]]] = [
    (S.MINIDUMP_MISC1_PROCESS_ID, ("process_id",)),
    (S.MINIDUMP_MISC1_PROCESS_TIMES, ("process_create_time", "process_user_time", "process_kernel_time")),
    (
        S.MINIDUMP_MISC1_PROCESSOR_POWER_INFO,
        (
            "processor_max_mhz",
            "processor_current_mhz",
            "processor_mhz_limit",
            "processor_max_idle_state",
            "processor_current_idle_state",
        ),
    ),
    (S.MINIDUMP_MISC3_PROCESS_INTEGRITY, ("process_integrity_level",)),
    (S.MINIDUMP_MISC3_PROCESS_EXECUTE_FLAGS, ("process_execute_flags",)),
    (S.MINIDUMP_MISC3_PROTECTED_PROCESS, ("protected_process",)),
    (S.MINIDUMP_MISC3_TIMEZONE, ("time_zone_id", "time_zone")),
    (S.MINIDUMP_MISC4_BUILDSTRING, ("build_string", "dbg_bld_str")),
    (S.MINIDUMP_MISC5_PROCESS_COOKIE, ("process_cookie",)),
]


def misc_info_details(st: cs.Struct, mi: Any, version: str) -> dict[str, Any]:
    """The fields Flags1 declares valid, as plain JSON (strings decoded, XSTATE features listed)."""
    raw = plain(st, mi)
    out: dict[str, Any] = {"version": version, "size_of_info": mi.SizeOfInfo, "flags1": mi.Flags1}
    for flag, keys in MISC_FLAG_FIELDS:
        if mi.Flags1 & flag:
            out.update({k: raw[k] for k in keys if k in raw})
    if isinstance(out.get("time_zone"), dict):
        tz = out["time_zone"]
        tz["standard_name"] = wide_cstring(mi.TimeZone.StandardName)
        tz["daylight_name"] = wide_cstring(mi.TimeZone.DaylightName)
    for key, field in (("build_string", "BuildString"), ("dbg_bld_str", "DbgBldStr")):
        if key in out:
            out[key] = wide_cstring(mi[field])
    if "x_state_data" in raw:
        xs = mi.XStateData
        out["xstate"] = {
            "size_of_info": xs.SizeOfInfo,
            "context_size": xs.ContextSize,
            "enabled_features": xs.EnabledFeatures,
            "features": [
                {"index": i, "offset": f.Offset, "size": f.Size}
                for i, f in enumerate(xs.Features)
                if xs.EnabledFeatures >> i & 1
            ],
        }
    return out


# -- handles, token, comments, function table -------------------------------------------------------
def decode_handle_data(ctx: MinidumpState, s: StreamEntry) -> Node:
    """HandleDataStream: MINIDUMP_HANDLE_DESCRIPTOR(_2) entries; names are read when expanded."""
    hdr = ctx.parse(S.MINIDUMP_HANDLE_DATA_STREAM, s.rva, s.name)
    if hdr is None:
        return raw_node(ctx, s)
    head = ctx.fields(S.MINIDUMP_HANDLE_DATA_STREAM, hdr, s.rva)
    es = hdr.SizeOfDescriptor
    entry = S.MINIDUMP_HANDLE_DESCRIPTOR_2 if es >= 40 else S.MINIDUMP_HANDLE_DESCRIPTOR
    if es < 32:
        ctx.warn(f"{s.name}: descriptor size {es} is smaller than MINIDUMP_HANDLE_DESCRIPTOR")
        return raw_node(ctx, s, head)
    start = s.rva + max(hdr.SizeOfHeader, 16)
    n = ctx.fit(hdr.NumberOfDescriptors, s.rva + s.length - start, es, s.name)
    ctx.handle_count = n
    q = ctx.quiet()

    def handle(off: int) -> Node:
        h = entry.parse(ctx.src.read(off, sizeof(entry)))
        fields = q.lazy_fields(entry, h, off)

        def kids() -> list[Node]:
            out = fields()
            for label, rva in (("TypeName", h.TypeNameRva), ("ObjectName", h.ObjectNameRva)):
                if rva:
                    out.append(q.string_node(label, rva, s.name)[0])
            return out

        return Node(f"handle {h.Handle:#x}", off, sizeof(entry), None, kids)

    def handles() -> list[Node]:
        return head + [handle(start + i * es) for i in range(q.take(n, s.name))]

    return Node(s.name, s.rva, s.length, f"{n} handles", ctx.lazy(handles))


def decode_token(ctx: MinidumpState, s: StreamEntry) -> Node:
    """TokenStream: MINIDUMP_TOKEN_INFO_LIST, then entries each sized by their own TokenSize."""
    hdr = ctx.parse(S.MINIDUMP_TOKEN_INFO_LIST, s.rva, s.name)
    if hdr is None:
        return raw_node(ctx, s)
    kids = ctx.fields(S.MINIDUMP_TOKEN_INFO_LIST, hdr, s.rva)
    end = s.rva + s.length
    pos = s.rva + max(hdr.ListHeaderSize, 16)
    count = 0
    for i in range(ctx.take(hdr.TokenListEntries, s.name)):
        e = ctx.parse(S.MINIDUMP_TOKEN_INFO_HEADER, pos, f"{s.name} entry {i}") if pos + 16 <= end else None
        if e is None or e.TokenSize < 16 or pos + e.TokenSize > end:
            ctx.warn(f"{s.name}: entry {i} at {pos:#x} does not fit the stream; {count} entries read")
            break
        node = Node(
            f"token {e.TokenId:#x}",
            pos,
            e.TokenSize,
            f"handle {e.TokenHandle:#x}",
            ctx.fields(S.MINIDUMP_TOKEN_INFO_HEADER, e, pos)
            + [Node("token data", pos + 16, e.TokenSize - 16, f"{e.TokenSize - 16} bytes")],
        )
        kids.append(node)
        pos += e.TokenSize
        count += 1
    ctx.token_count = count
    return Node(s.name, s.rva, s.length, f"{count} tokens", kids)


def decode_comment(ctx: MinidumpState, s: StreamEntry, wide: bool) -> Node:
    """CommentStreamA/W: free text the dump writer was given, NUL-terminated."""
    data = ctx.src.read(s.rva, s.length)
    text = decode_utf16(data) if wide else data.decode("latin-1")
    text = text.split("\0", 1)[0]
    ctx.comments.append(text)
    return Node(s.name, s.rva, s.length, text)


def decode_function_table(ctx: MinidumpState, s: StreamEntry) -> Node:
    """FunctionTableStream: the header is decoded; descriptors and native tables stay raw."""
    hdr = ctx.parse(S.MINIDUMP_FUNCTION_TABLE_STREAM, s.rva, s.name)
    if hdr is None:
        return raw_node(ctx, s)
    return raw_node(
        ctx,
        s,
        ctx.fields(S.MINIDUMP_FUNCTION_TABLE_STREAM, hdr, s.rva),
        f"{hdr.NumberOfDescriptors} descriptors (raw)",
    )


def raw_node(ctx: MinidumpState, s: StreamEntry, kids: list[Node] | None = None, value: Any = None) -> Node:
    """A stream kept as bytes: unknown types, streams left raw on purpose, and corrupt ones."""
    return Node(s.name, min(s.rva, ctx.size), s.length, value or f"{s.size} bytes (raw)", kids or [])


Decoder = Callable[[MinidumpState, StreamEntry], Node]

DECODERS: dict[int, Decoder] = {
    3: decode_thread_list,
    4: decode_module_list,
    5: decode_memory_list,
    6: decode_exception,
    7: decode_system_info,
    8: lambda c, s: decode_thread_list(c, s, ex=True),
    9: decode_memory64_list,
    10: lambda c, s: decode_comment(c, s, wide=False),
    11: lambda c, s: decode_comment(c, s, wide=True),
    12: decode_handle_data,
    13: decode_function_table,
    14: decode_unloaded_module_list,
    15: decode_misc_info,
    16: decode_memory_info_list,
    17: decode_thread_info_list,
    19: decode_token,
    24: decode_thread_names,
}
