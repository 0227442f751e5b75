"""Mach-O core files (``MH_CORE``, what macOS writes to /cores and lldb's ``process save-core``).

Header (32- or 64-bit, either byte order), then ``ncmds`` load commands in ``sizeofcmds`` bytes:
``LC_SEGMENT``/``LC_SEGMENT_64`` become memory regions at their vmaddr with the protections of initprot
(maxprot kept beside them); ``LC_THREAD``/``LC_UNIXTHREAD`` are walked flavor by flavor, and the x86_64,
i386, arm64 and arm register and exception states are decoded into threads (other flavors listed);
``LC_NOTE`` payloads are listed by owner, and ``addrable bits`` and ``all image infos`` decoded (image
paths, UUIDs, load addresses). Every count and size is checked against ``sizeofcmds`` and the file: a
command whose cmdsize is too small or runs past the commands ends the walk with a warning; a segment
past the end of the file is clipped; thread states whose count overruns their command stop there.
"""

from __future__ import annotations

import struct
import uuid
from typing import Any

from viewer.evidence.formats.base import ParseContext, Warnings, clean, sizeof, unpack_flat, without_gc
from viewer.evidence.formats.macho.structs import (
    ARM_EXCEPTION_STATE64,
    ARM_THREAD_STATE,
    ARM_THREAD_STATE64,
    CPU_NAMES,
    CPU_TYPE_ARM,
    CPU_TYPE_ARM64,
    CPU_TYPE_X86,
    CPU_TYPE_X86_64,
    LC_NAMES,
    LC_NOTE,
    LC_SEGMENT,
    LC_SEGMENT_64,
    LC_THREAD,
    LC_UNIXTHREAD,
    LC_UUID,
    MH_CORE,
    MH_MAGIC,
    MH_MAGIC_64,
    MachStructs,
    mach_structs,
    x86_EXCEPTION_STATE64,
    x86_THREAD_STATE,
    x86_THREAD_STATE32,
    x86_THREAD_STATE64,
)
from viewer.evidence.model import Node, ParseResult, Region
from viewer.evidence.source import ByteSource

FORMAT = "macho-core"
MAX_FLAVORS = 64  # register sets in one thread command
MAX_IMAGES = 4096
MAX_PATH = 4096


def _order(head: bytes) -> tuple[bool, bool] | None:
    """(little-endian, 64-bit) when ``head`` starts a Mach-O header, else None."""
    if len(head) < 4:
        return None
    le, be = struct.unpack_from("<I", head)[0], struct.unpack_from(">I", head)[0]
    for magic, bits64 in ((MH_MAGIC, False), (MH_MAGIC_64, True)):
        if le == magic:
            return True, bits64
        if be == magic:
            return False, bits64
    return None


def probe(head: bytes) -> bool:
    got = _order(head)
    if got is None or len(head) < 16:
        return False
    filetype = struct.unpack_from("<I" if got[0] else ">I", head, 12)[0]
    return filetype == MH_CORE


def _name(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def _perms(prot: int) -> str:
    return ("r" if prot & 1 else "-") + ("w" if prot & 2 else "-") + ("x" if prot & 4 else "-")


class MachContext(ParseContext):
    render_bytes = staticmethod(_name)

    def __init__(self, src: ByteSource, warnings: Warnings, S: MachStructs, bits64: bool):
        super().__init__(src, warnings)
        self.S, self.bits64 = S, bits64
        self.cputype = 0
        self.threads: list[dict[str, Any]] = []
        self.segments: list[dict[str, Any]] = []
        self.notes: list[dict[str, Any]] = []
        self.commands: list[dict[str, Any]] = []
        self.blob, self.blob_at = b"", 0


@without_gc
def parse(src: ByteSource, warnings: Warnings | None = None) -> ParseResult:
    warnings = warnings if warnings is not None else Warnings()
    order = _order(src.read(0, 4))
    little, bits64 = order if order is not None else (True, True)
    S = mach_structs(little)
    ctx = MachContext(src, warnings, S, bits64)
    H = S.Header64 if bits64 else S.Header32
    hdr = ctx.parse(H, 0, "mach_header")
    root = Node("Mach-O core", 0, src.size, "")
    if hdr is None:
        return ParseResult(FORMAT, {}, [], root, warnings)
    ctx.cputype = hdr.cputype
    arch = CPU_NAMES.get(hdr.cputype, f"cputype {hdr.cputype:#x}")
    root.value = arch
    root.add(ctx.node("mach_header" + ("_64" if bits64 else ""), 0, sizeof(H), None, ctx.fields(H, hdr, 0)))
    regions: list[Region] = [Region(0, sizeof(H), None, "header", "mach_header")]
    start = sizeof(H)
    cmds_size = ctx.clip(start, hdr.sizeofcmds, "load commands")
    end = start + cmds_size
    regions.append(Region(start, cmds_size, None, "header", "load commands"))
    ncmds = ctx.take(ctx.fit(hdr.ncmds, cmds_size, 8, "ncmds"), "load commands")
    cmd_nodes: list[Node] = []
    at = start
    ctx.blob, ctx.blob_at = ctx.read(start, cmds_size), start  # the commands, read once (bounded by the file)
    lc_fmt = struct.Struct("<II" if little else ">II")
    for i in range(ncmds):
        if at + 8 > end:
            ctx.warn(f"load command {i} at {at:#x}: outside sizeofcmds; {ncmds - i} commands not read")
            break
        cmd, cmdsize = lc_fmt.unpack_from(ctx.blob, at - start)
        if cmdsize < 8 or at + cmdsize > end:
            ctx.warn(f"load command {i} at {at:#x}: cmdsize {cmdsize} is below 8 or runs past the commands; "
                     "the walk stops")
            break
        cmd_nodes.append(_command(ctx, i, at, cmd, cmdsize, regions))
        at += cmdsize
    root.add(ctx.node("load commands", start, cmds_size, len(cmd_nodes), cmd_nodes))
    meta: dict[str, Any] = {"os": "macOS" if hdr.cputype in CPU_NAMES else None, "arch": arch,
                            "endianness": "little" if little else "big", "bits": 64 if bits64 else 32,
                            "threads": len(ctx.threads)}
    if ctx.threads and ctx.threads[0].get("pc") is not None:
        meta["pc"] = ctx.threads[0]["pc"]
    details = {"header": clean(hdr), "load_commands": ctx.commands, "segments": ctx.segments,
               "threads": ctx.threads, "notes": ctx.notes,
               "memory": [{"vaddr": s["vmaddr"], "size": s["present"], "file_offset": s["fileoff"]}
                          for s in ctx.segments if s["present"]]}
    for note in ctx.notes:
        if "images" in note:
            details["modules"] = [{"name": im.get("path", ""), "base": im["load_address"], "size": 0,
                                   "uuid": im["uuid"]} for im in note["images"]]
    return ParseResult(FORMAT, meta, regions, root, warnings, details)


def _command(ctx: MachContext, i: int, at: int, cmd: int, size: int, regions: list[Region]) -> Node:
    S = ctx.S
    name = LC_NAMES.get(cmd, f"cmd {cmd:#x}")
    ctx.commands.append({"index": i, "cmd": cmd, "name": name, "offset": at, "size": size})
    node = ctx.node(f"[{i}] {name}", at, size, f"{size} bytes")
    if cmd in (LC_SEGMENT, LC_SEGMENT_64):
        Seg = S.Segment64 if cmd == LC_SEGMENT_64 else S.Segment32
        seg = unpack_flat(Seg, ctx.blob, at - ctx.blob_at) if size >= sizeof(Seg) else None
        if seg is None:
            ctx.warn(f"{name} {i} at {at:#x}: cmdsize {size} is too small")
            return node
        node._children = ctx.lazy_fields(Seg, seg, at)  # built on expansion (a hostile core has 10^5 of them)
        segname = _name(seg.segname)
        node.value = f"{segname or '(unnamed)'} {seg.vmaddr:#x}+{seg.vmsize:#x}"
        present = ctx.clip(seg.fileoff, seg.filesize, f"{name} {i} ({segname})") if seg.filesize else 0
        ctx.segments.append({"index": i, "segname": segname, "vmaddr": seg.vmaddr, "vmsize": seg.vmsize,
                             "fileoff": seg.fileoff, "filesize": seg.filesize, "present": present,
                             "maxprot": _perms(seg.maxprot), "initprot": _perms(seg.initprot)})
        if present and ctx.take_regions(1, "segments"):
            regions.append(Region(seg.fileoff, present, seg.vmaddr, "memory", segname or f"segment {i}",
                                  _perms(seg.initprot), seg.vmsize, {"maxprot": _perms(seg.maxprot)}))
    elif cmd in (LC_THREAD, LC_UNIXTHREAD):
        node.children.extend(_thread(ctx, i, at, size))
    elif cmd == LC_NOTE:
        note = ctx.parse(S.Note, at, f"LC_NOTE {i}") if size >= sizeof(S.Note) else None
        if note is not None:
            node.children.extend(ctx.fields(S.Note, note, at))
            owner = _name(note.data_owner)
            node.value = owner
            present = ctx.clip(note.offset, note.size, f"LC_NOTE {i} ({owner})") if note.size else 0
            entry: dict[str, Any] = {"index": i, "owner": owner, "offset": note.offset, "size": note.size}
            if present:
                regions.append(Region(note.offset, present, None, "header", f"note {owner}"))
                node.add(ctx.node("payload", note.offset, present, f"{present} bytes", _note(ctx, entry, present)))
            ctx.notes.append(entry)
    elif cmd == LC_UUID and size >= 24:
        raw = ctx.read(at + 8, 16)
        node.value = str(uuid.UUID(bytes=raw)) if len(raw) == 16 else None
    return node


def _thread(ctx: MachContext, i: int, at: int, size: int) -> list[Node]:
    """The register sets of one LC_THREAD: (flavor, count, state[count]) until the command ends."""
    S = ctx.S
    end = at + size
    pos = at + 8
    thread: dict[str, Any] = {"index": len(ctx.threads), "command": i, "flavors": []}
    kids: list[Node] = []
    for n in range(MAX_FLAVORS + 1):
        if pos + 8 > end:
            break
        if n == MAX_FLAVORS:
            ctx.warn(f"LC_THREAD {i}: more than {MAX_FLAVORS} register sets; the rest are not read")
            break
        sh = ctx.parse(S.StateHeader, pos, f"LC_THREAD {i} flavor")
        if sh is None:
            break
        state_at, nbytes = pos + 8, sh.count * 4
        if state_at + nbytes > end:
            ctx.warn(f"LC_THREAD {i}: flavor {sh.flavor} at {pos:#x} claims {nbytes} bytes, past the command's "
                     "end; the rest of this thread is not read")
            break
        thread["flavors"].append({"flavor": sh.flavor, "count": sh.count, "offset": state_at})
        decoded = _state(ctx, sh.flavor, state_at, nbytes)
        label = f"flavor {sh.flavor}"
        if decoded is not None:
            label, struct_, value = decoded
            kids.append(ctx.node(label, pos, 8 + nbytes, None, ctx.fields(struct_, value, state_at)))
            thread.setdefault("registers", {}).update(
                {k: v for k, v in value.items() if not k.startswith("_")} if "exception" not in label else {})
            if "exception" in label:
                thread["exception"] = {k: v for k, v in value.items() if not k.startswith("_")}
        else:
            kids.append(ctx.node(label, pos, 8 + nbytes, f"{nbytes} bytes (not decoded)"))
        pos = state_at + nbytes
    regs = thread.get("registers", {})
    for pc, sp in (("rip", "rsp"), ("pc", "sp"), ("eip", "esp")):
        if pc in regs:
            thread["pc"], thread["sp"] = regs[pc], regs.get(sp)
            break
    ctx.threads.append(thread)
    return kids


def _state(ctx: MachContext, flavor: int, at: int, nbytes: int):
    S, cpu = ctx.S, ctx.cputype
    if cpu == CPU_TYPE_X86_64 and flavor == x86_THREAD_STATE and nbytes >= 8 + S.X86State64.sizeof():
        inner = ctx.parse(S.StateHeader, at, "x86_THREAD_STATE header")
        if inner is not None and inner.flavor == x86_THREAD_STATE64:
            at, flavor, nbytes = at + 8, x86_THREAD_STATE64, nbytes - 8
    table = {
        (CPU_TYPE_X86_64, x86_THREAD_STATE64): ("x86_THREAD_STATE64", S.X86State64),
        (CPU_TYPE_X86_64, x86_EXCEPTION_STATE64): ("x86_EXCEPTION_STATE64 (exception)", S.X86Exception64),
        (CPU_TYPE_X86, x86_THREAD_STATE32): ("x86_THREAD_STATE32", S.X86State32),
        (CPU_TYPE_ARM64, ARM_THREAD_STATE64): ("ARM_THREAD_STATE64", S.Arm64State),
        (CPU_TYPE_ARM64, ARM_EXCEPTION_STATE64): ("ARM_EXCEPTION_STATE64 (exception)", S.Arm64Exception),
        (CPU_TYPE_ARM, ARM_THREAD_STATE): ("ARM_THREAD_STATE", S.Arm32State),
    }
    got = table.get((cpu, flavor))
    if got is None or nbytes < got[1].sizeof():
        return None
    value = ctx.parse(got[1], at, got[0])
    return None if value is None else (got[0], got[1], value)


def _note(ctx: MachContext, entry: dict[str, Any], present: int) -> list[Node]:
    S = ctx.S
    owner, at = entry["owner"], entry["offset"]
    if owner == "addrable bits" and present >= sizeof(S.AddrableBits):
        v = ctx.parse(S.AddrableBits, at, "addrable bits")
        if v is not None:
            entry["addressing_bits"] = v.addressing_bits
            return ctx.fields(S.AddrableBits, v, at)
    if owner == "all image infos" and present >= sizeof(S.AllImageInfos):
        v = ctx.parse(S.AllImageInfos, at, "all image infos")
        if v is None:
            return []
        kids = ctx.fields(S.AllImageInfos, v, at)
        step = max(v.entry_size, sizeof(S.ImageEntry))
        n = ctx.take(min(ctx.count(v.entries_fileoff, v.imgcount, step, "all image infos entries"), MAX_IMAGES),
                     "all image infos entries")
        images = []
        for j in range(n):
            e_at = v.entries_fileoff + j * step
            e = ctx.parse(S.ImageEntry, e_at, f"image {j}")
            if e is None:
                break
            path = ""
            if e.filepath_offset:
                path = ctx.read_copy(e.filepath_offset, MAX_PATH, f"image {j} path").split(b"\0", 1)[0].decode(
                    "utf-8", "replace")
            images.append({"path": path, "uuid": str(uuid.UUID(bytes=e.uuid)), "load_address": e.load_address})
            kids.append(ctx.node(f"image {j}", e_at, sizeof(S.ImageEntry), path, ctx.fields(S.ImageEntry, e, e_at)))
        entry["images"] = images
        return kids
    return []
