"""ELF core files (Linux, NetBSD, OpenBSD, gdb ``gcore``): the parser, its regions and its tree.

Why a hand-written parser rather than pyelftools: evidence is hostile input. Every count and length the
file states (e_phnum and PN_XNUM, e_phentsize, namesz, descsz, the NT_FILE count) is checked against
the bytes that are really there; a lie becomes a warning and a partial result, never an exception, a
hang or a large allocation. Names are in :mod:`names`, the construct structures (a factory per word
size and byte order, as in pyelftools) in :mod:`structs`, the note walk and decoders in :mod:`notes`.
"""

from __future__ import annotations

import bisect
import posixpath
from collections.abc import Iterator
from typing import Any

from viewer.evidence.formats.base import MAX_REGIONS, Warnings, parse_at, without_gc
from viewer.evidence.formats.elf import vmcore
from viewer.evidence.formats.elf.names import (
    EF_MIPS_ABI2,
    EM_MIPS,
    ET_CORE,
    OSABI_NAMES,
    PN_XNUM,
    PT_LOAD,
    PT_NAMES,
    PT_NOTE,
    arch_name,
    perms,
    signal_name,
)
from viewer.evidence.formats.elf.notes import ElfContext, Note, decode_notes, detect_os, read_notes
from viewer.evidence.formats.elf.structs import elf_structs
from viewer.evidence.model import Node, ParseResult, Region
from viewer.evidence.source import ByteSource

FORMAT = "elf-core"


# -- header and program headers ------------------------------------------------------------------
def probe(head: bytes) -> bool:
    """ELF magic and e_type == ET_CORE, read in the byte order EI_DATA names."""
    if len(head) < 18 or head[:4] != b"\x7fELF" or head[5] not in (1, 2):
        return False
    order = "little" if head[5] == 1 else "big"
    return int.from_bytes(head[16:18], order) == ET_CORE


def _ident(src: ByteSource, warnings: Warnings) -> tuple[int, bool] | None:
    """Word size and byte order from e_ident; odd values are guessed with a warning."""
    ident = src.read(0, 16)
    if len(ident) < 16 or ident[:4] != b"\x7fELF":
        warnings.add(f"ELF identification truncated or wrong ({len(ident)} of 16 bytes)")
        return None
    bits = {1: 32, 2: 64}.get(ident[4])
    if bits is None:
        warnings.add(f"EI_CLASS {ident[4]} is invalid; assuming ELFCLASS64")
        bits = 64
    if ident[5] not in (1, 2):
        warnings.add(f"EI_DATA {ident[5]} is invalid; assuming little endian")
    return bits, ident[5] != 2


def _phnum(ctx: ElfContext) -> int:
    """e_phnum, or with PN_XNUM the real count from section header 0's sh_info (bounded later)."""
    e = ctx.ehdr
    if e.e_phnum != PN_XNUM:
        return e.e_phnum
    if e.e_shoff == 0 or e.e_shentsize < ctx.S.Shdr.sizeof():
        ctx.warn("e_phnum is PN_XNUM but there is no usable section header 0; no program headers")
        return 0
    sh0 = ctx.parse(ctx.S.Shdr, e.e_shoff, "section header 0 (PN_XNUM)")
    return 0 if sh0 is None else sh0.sh_info


def _read_phdrs(ctx: ElfContext, count: int) -> None:
    """Parse ``count`` program headers after checking e_phoff, e_phentsize and the count against the file."""
    e, size = ctx.ehdr, ctx.S.Phdr.sizeof()
    if count == 0:
        return
    if e.e_phentsize < size:
        ctx.warn(f"e_phentsize {e.e_phentsize} is smaller than a program header ({size}); none read")
        return
    if e.e_phentsize != size:
        ctx.warn(f"e_phentsize {e.e_phentsize} differs from the standard {size}; using it as stride")
    if e.e_phoff >= ctx.size:
        ctx.warn(f"e_phoff {e.e_phoff:#x} lies past the end of the file; no program headers")
        return
    count = ctx.count(e.e_phoff, count, e.e_phentsize, "program headers")
    count = ctx.cap(count, MAX_REGIONS, "program headers")
    ctx.phdrs = ctx.records(ctx.S.Phdr, e.e_phoff, count, e.e_phentsize)


# -- regions -------------------------------------------------------------------------------------
class _Mapped:
    """NT_FILE mappings and thread stack pointers, sorted for bisection (a core may have 100,000 PT_LOADs
    and as many mappings; a linear search per segment would be quadratic)."""

    LOOK_BACK = 8  # mappings may overlap in corrupt input: look at a few before the bisection point

    def __init__(self, files: list[dict[str, Any]], threads: list[dict[str, Any]]):
        self.files = sorted(files, key=lambda f: f["start"])
        self.starts = [f["start"] for f in self.files]
        stacks = sorted((t["sp"], order, t["id"]) for order, t in enumerate(threads) if t.get("sp") is not None)
        self.sps = [s[0] for s in stacks]
        self.stacks = stacks

    def file_at(self, vaddr: int, span: int) -> dict[str, Any] | None:
        """The mapping holding ``vaddr`` or, failing that, the first one overlapping the segment."""
        i = bisect.bisect_right(self.starts, vaddr)
        for j in range(i - 1, max(-1, i - 1 - self.LOOK_BACK), -1):
            if vaddr < self.files[j]["end"]:
                return self.files[j]
        if i < len(self.files) and self.starts[i] < vaddr + max(span, 1):
            return self.files[i]
        return None

    def stack_at(self, vaddr: int, span: int) -> int | None:
        """The id of the first thread (in note order) whose stack pointer lies in the segment."""
        i = bisect.bisect_left(self.sps, vaddr)
        inside = [s for s in self.stacks[i : i + self.LOOK_BACK] if s[0] < vaddr + span]
        return min(inside, key=lambda s: s[1])[2] if inside else None


def _load_regions(ctx: ElfContext) -> list[Region]:
    out: list[Region] = []
    mapped = _Mapped(ctx.files, ctx.threads)
    loads = [(index, ph) for index, (_, ph) in enumerate(ctx.phdrs) if ph.p_type == PT_LOAD]
    loads = loads[: ctx.take_regions(len(loads), "PT_LOAD segments")]
    past_end: list[int] = []
    clipped: list[str] = []
    fsize = ctx.size
    for index, ph in loads:
        size, offset, vaddr = ph.p_filesz, ph.p_offset, ph.p_vaddr
        if offset >= fsize:
            if size:
                past_end.append(index)
            size = 0
        elif offset + size > fsize:
            size = fsize - offset
            clipped.append(f"PT_LOAD {index}: {ph.p_filesz} bytes declared, only {size} in the file")
        span = max(ph.p_memsz, ph.p_filesz)
        region = Region(min(offset, fsize), size, vaddr, "memory", "anonymous", perms(ph.p_flags), ph.p_memsz,
                        {"phdr_index": index})
        stack_tid = mapped.stack_at(vaddr, span)
        if stack_tid is not None:
            region.kind, region.name = "stack", f"stack of thread {stack_tid}"
        else:
            mapping = mapped.file_at(vaddr, span)
            if mapping is not None:
                region.kind, region.name = "module", posixpath.basename(mapping["path"]) or mapping["path"]
                region.attrs["path"] = mapping["path"]
        out.append(region)
    for line in clipped[:8]:
        ctx.warn(line)
    if len(clipped) > 8:
        ctx.warn(f"{len(clipped) - 8} more PT_LOADs run past the end of the file and were clipped")
    if past_end:
        shown = ", ".join(f"{i} at {ctx.phdrs[i][1].p_offset:#x}" for i in past_end[:8])
        more = f" (+{len(past_end) - 8} more)" if len(past_end) > 8 else ""
        ctx.warn(f"PT_LOAD {shown}{more} lie{'s' if len(past_end) == 1 else ''} past the end of the file")
    return out


def _header_regions(ctx: ElfContext) -> list[Region]:
    e = ctx.ehdr
    out = [Region(0, min(ctx.S.Ehdr.sizeof(), ctx.size), None, "header", "ELF header")]
    if ctx.phdrs:
        start = ctx.phdrs[0][0]
        out.append(Region(start, len(ctx.phdrs) * e.e_phentsize, None, "header", "program headers"))
    segments = {(ph.p_offset, min(ph.p_filesz, ctx.size - ph.p_offset)) for _, ph in ctx.phdrs
                if ph.p_type == PT_NOTE and ph.p_offset < ctx.size and ph.p_filesz}
    for offset, size in sorted(segments)[: ctx.take_regions(len(segments), "PT_NOTE segments")]:
        out.append(Region(offset, size, None, "notes", "PT_NOTE"))
    return out


# -- structure tree ------------------------------------------------------------------------------
def _header_node(ctx: ElfContext, phnum: int) -> Node:
    e, S = ctx.ehdr, ctx.S

    def fmt(name: str, value: Any) -> Any:
        if name == "e_ident":
            return value.hex(" ")
        return value

    children = ctx.fields(S.Ehdr, e, 0, fmt)
    if phnum != e.e_phnum:
        children.append(ctx.node("program header count (PN_XNUM, from section 0)", e.e_shoff, 0, phnum))
    label = f"{arch_name(ctx.machine, S.bits, e.e_flags)}, ELF{S.bits}, {'LE' if S.little else 'BE'}"
    return ctx.node("ELF header", 0, S.Ehdr.sizeof(), label, children)


def _phdrs_node(ctx: ElfContext) -> Node:
    S = ctx.S

    def fmt(name: str, value: Any) -> Any:
        if name == "p_type":
            return PT_NAMES.get(value, f"{value:#x}")
        if name == "p_flags":
            return perms(value)
        return f"{value:#x}" if name in ("p_vaddr", "p_paddr", "p_offset") else value

    size = S.Phdr.sizeof()

    def phdr(i: int, off: int, ph: Any) -> Node:
        return ctx.node(f"[{i}] {PT_NAMES.get(ph.p_type, hex(ph.p_type))}", off, size,
                        f"{ph.p_vaddr:#x}", ctx.lazy_fields(S.Phdr, ph, off, fmt))

    def children() -> Iterator[Node]:
        return (phdr(i, off, ph) for i, (off, ph) in enumerate(ctx.phdrs))

    start = ctx.phdrs[0][0] if ctx.phdrs else ctx.ehdr.e_phoff
    return ctx.node("program headers", start, len(ctx.phdrs) * ctx.ehdr.e_phentsize, len(ctx.phdrs),
                    ctx.lazy(children, len(ctx.phdrs)))


def _note_node(ctx: ElfContext, note: Note) -> Node:
    header = [
        ctx.node("n_namesz", note.offset, 4, note.namesz),
        ctx.node("n_descsz", note.offset + 4, 4, note.descsz),
        ctx.node("n_type", note.offset + 8, 4, f"{note.type:#x} ({note.type_name})"),
        ctx.node("name", note.offset + 12, note.namesz, note.owner),
    ]
    desc = ctx.node("desc", note.desc_offset, note.descsz, f"{note.descsz} bytes", note.children)
    return ctx.node(f"[{note.index}] {note.owner} {note.type_name}", note.offset, note.end - note.offset,
                    f"{note.descsz} bytes", header + [desc])


def _structure(ctx: ElfContext, phnum: int) -> Node:
    root = ctx.node("ELF core", 0, ctx.size, arch_name(ctx.machine, ctx.S.bits, ctx.ehdr.e_flags))
    root.add(_header_node(ctx, phnum))
    root.add(_phdrs_node(ctx))
    notes = list(ctx.notes)
    if notes:
        start = min(n.offset for n in notes)
        end = max(n.end for n in notes)
        root.add(ctx.node("notes", start, end - start, len(notes), ctx.lazy(lambda: [_note_node(ctx, n) for n in notes])))
    else:
        root.add(ctx.node("notes", 0, 0, 0))
    return root


# -- meta and details ----------------------------------------------------------------------------
def _signal(ctx: ElfContext) -> dict[str, Any] | None:
    """The signal that ended the process: siginfo if present, else the first thread's pr_cursig."""
    if ctx.siginfo is not None and ctx.siginfo.get("signo"):
        sig = dict(ctx.siginfo)
    elif ctx.threads and ctx.threads[0].get("signal"):
        sig = {"signo": ctx.threads[0]["signal"], "code": None, "address": None}
    else:
        return None
    sig["name"] = signal_name(sig["signo"], ctx.machine, ctx.os_name)
    return {"number": sig["signo"], "name": sig["name"], "code": sig.get("code"), "address": sig.get("address")}


def _exception_text(ctx: ElfContext, sig: dict[str, Any] | None) -> str | None:
    """Short text for the crash; None for a live-process dump (gcore: no thread has a current signal)."""
    if sig is None:
        return None
    if ctx.prstatus_threads and not any(t.get("signal") for t in ctx.threads):
        return None
    text = f"signal {sig['number']}" + (f" ({sig['name']})" if sig["name"] else "")
    if sig.get("address") is not None:
        text += f" at {sig['address']:#x}"
    return text


def _modules(files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One module per mapped file: base is its lowest mapping, size the span to its highest end."""
    spans: dict[str, list[int]] = {}
    for f in files:
        span = spans.setdefault(f["path"], [f["start"], f["end"]])
        span[0], span[1] = min(span[0], f["start"]), max(span[1], f["end"])
    return [{"name": path, "base": lo, "size": hi - lo} for path, (lo, hi) in spans.items()]


def _details(ctx: ElfContext, phnum: int) -> dict[str, Any]:
    e = ctx.ehdr
    segments = [
        {"type": ph.p_type, "type_name": PT_NAMES.get(ph.p_type, f"{ph.p_type:#x}"), "offset": ph.p_offset,
         "vaddr": ph.p_vaddr, "paddr": ph.p_paddr, "filesz": ph.p_filesz, "memsz": ph.p_memsz,
         "flags": ph.p_flags, "align": ph.p_align}
        for _, ph in ctx.phdrs
    ]
    notes = [{"owner": n.owner, "type": n.type, "type_name": n.type_name, "offset": n.offset,
              "size": n.descsz, **({"decoded": n.decoded} if n.decoded else {})} for n in ctx.notes]
    memory = [{"vaddr": ph.p_vaddr, "size": ph.p_filesz, "file_offset": ph.p_offset}
              for _, ph in ctx.phdrs if ph.p_type == PT_LOAD and ph.p_filesz > 0]
    header = {
        "class": f"ELFCLASS{ctx.S.bits}", "data": "ELFDATA2LSB" if ctx.S.little else "ELFDATA2MSB",
        "osabi": e.e_ident[7], "osabi_name": OSABI_NAMES.get(e.e_ident[7], str(e.e_ident[7])),
        "e_type": e.e_type, "e_machine": e.e_machine, "e_version": e.e_version, "e_entry": e.e_entry,
        "e_phoff": e.e_phoff, "e_shoff": e.e_shoff, "e_flags": e.e_flags, "e_ehsize": e.e_ehsize,
        "e_phentsize": e.e_phentsize, "e_phnum": e.e_phnum, "phnum": phnum, "e_shentsize": e.e_shentsize,
        "e_shnum": e.e_shnum, "e_shstrndx": e.e_shstrndx,
    }
    out: dict[str, Any] = {"header": header, "segments": segments, "notes": notes, "memory": memory,
                           "threads": ctx.threads, "modules": _modules(ctx.files)}
    if ctx.auxv:
        out["auxv"] = ctx.auxv
    if ctx.files:
        out["files"] = ctx.files
        out["file_page_size"] = ctx.file_page_size
    return out


def _meta(ctx: ElfContext) -> dict[str, Any]:
    sig = _signal(ctx)
    meta: dict[str, Any] = {
        "os": ctx.os_name or None,
        "arch": arch_name(ctx.machine, ctx.S.bits, ctx.ehdr.e_flags),
        "endianness": "little" if ctx.S.little else "big",
        "bits": ctx.S.bits,
        "process": {k: ctx.process.get(k) for k in ("pid", "ppid", "uid", "name", "cmdline")
                    if ctx.process.get(k) is not None},
        "signal": sig,
        "exception": _exception_text(ctx, sig),
        "threads": len(ctx.threads),
    }
    if ctx.machine == EM_MIPS and ctx.S.bits == 32 and ctx.ehdr.e_flags & EF_MIPS_ABI2:
        meta["abi"] = "n32"
    return meta


# -- entry point ---------------------------------------------------------------------------------
def _minimal(src: ByteSource, warnings: Warnings) -> ParseResult:
    """What can be said about a file whose ELF header cannot be read."""
    size = min(src.size, 64)
    regions = [Region(0, size, None, "header", "ELF header (truncated)")] if size else []
    return ParseResult(FORMAT, {}, regions, Node("ELF core", 0, src.size, "unreadable header"), warnings, {})


@without_gc
def parse(src: ByteSource, warnings: Warnings | None = None) -> ParseResult:
    """Parse an ELF core; damaged input gives warnings and whatever could be read, never an exception."""
    warnings = warnings if warnings is not None else Warnings()
    ident = _ident(src, warnings)
    if ident is None:
        return _minimal(src, warnings)
    S = elf_structs(*ident)
    ehdr = parse_at(S.Ehdr, src, 0, None, "ELF header", warnings)
    if ehdr is None:
        return _minimal(src, warnings)
    ctx = ElfContext(src, warnings, S, ehdr)
    if ehdr.e_type != ET_CORE:
        ctx.warn(f"e_type is {ehdr.e_type}, not ET_CORE (4); parsed as a core anyway")
    phnum = _phnum(ctx)
    _read_phdrs(ctx, phnum)
    read_notes(ctx)
    ctx.os_name = detect_os(ctx)
    decode_notes(ctx)
    regions = _header_regions(ctx) + _load_regions(ctx)
    result = ParseResult(FORMAT, _meta(ctx), regions, _structure(ctx, phnum), warnings, _details(ctx, phnum))
    vmcore_kind = vmcore.kind(ctx)
    if vmcore_kind is not None:
        vmcore.adapt(ctx, result, vmcore_kind)
    return result
