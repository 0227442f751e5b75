"""ELF core notes: the walk through PT_NOTE segments, bounded by the file, and the note decoders.

Facts the walk relies on (checked against the corpus bytes, see tests):

* Notes are 4-byte aligned even in 64-bit cores (Linux and gdb do so); only a PT_NOTE with
  ``p_align == 8`` uses 8, as readelf does.
* A zero-filled gap inside PT_NOTE (left by binary editing, see the corpus MANIFEST) is skipped with a
  warning and parsing resumes at the next plausible note header, instead of reporting dozens of empty
  notes as readelf and pyelftools do.

Bounded by the file: each note header is checked against its segment before its name or descriptor is
read; PT_NOTEs that overlap one already walked are not walked again (65,535 program headers may all
point at one segment); the search for the next header after a corrupt one is one vectorised pass over
at most ``RESYNC_WINDOW`` bytes that moves forward only; and every note counts against the parse's
budget of decoded structures.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import construct as cs
import numpy as np

from viewer.evidence.formats.base import ParseContext, Warnings, sizeof
from viewer.evidence.formats.elf.names import (
    AT_NAMES,
    EM_68K,
    EM_386,
    EM_ARM,
    EM_MIPS,
    EM_S390,
    EM_X86_64,
    FAULT_SIGNALS,
    NT_AUXV,
    NT_FILE,
    NT_FPREGSET,
    NT_PRPSINFO,
    NT_PRSTATUS,
    NT_PRXFPREG,
    NT_SIGINFO,
    NT_X86_XSTATE,
    OSABI_OS,
    PT_NOTE,
    align,
    cstr,
    note_type_name,
    owner_family,
    plausible_name,
    register_set,
    signal_name,
)
from viewer.evidence.formats.elf.structs import ElfStructs, elf_structs
from viewer.evidence.model import Node
from viewer.evidence.source import ByteSource

RESYNC_WINDOW = 64 * 1024  # how far to look for the next note header after a corrupt one
MAX_NAMESZ = 256
ZERO_CHUNK = 64 * 1024


def _elf_bytes(raw: bytes) -> Any:
    """A fixed bytes field as the tree shows it: text up to the first NUL, or hex when long."""
    return cstr(raw) if len(raw) <= 80 else raw.hex()


@dataclass
class Note:
    """One note as found in the file: where its header, name and descriptor are."""

    index: int
    offset: int
    namesz: int
    descsz: int
    type: int
    owner: str
    desc_offset: int
    type_name: str = ""
    decoded: dict[str, Any] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)

    @property
    def end(self) -> int:
        return self.desc_offset + self.descsz


class ElfContext(ParseContext):
    """Everything one ELF parse accumulates; the steps of :mod:`core` and the decoders fill it in order."""

    render_bytes = staticmethod(_elf_bytes)

    def __init__(self, src: ByteSource, warnings: Warnings, S: ElfStructs, ehdr: Any):
        super().__init__(src, warnings)
        self.S = S
        self.ehdr = ehdr
        self.machine: int = ehdr.e_machine
        self.os_name = ""
        self.phdrs: list[tuple[int, Any]] = []  # (file offset of the phdr, parsed)
        self.notes: list[Note] = []
        self.threads: list[dict[str, Any]] = []
        self.process: dict[str, Any] = {}
        self.siginfo: dict[str, Any] | None = None
        self.files: list[dict[str, Any]] = []
        self.file_page_size: int | None = None
        self.auxv: list[dict[str, Any]] = []
        self.prstatus_threads = False  # threads come from Linux NT_PRSTATUS (which carries pr_cursig)
        self.nhdr = struct.Struct("<III" if S.little else ">III")


# -- the walk ------------------------------------------------------------------------------------
def _zero_run(src: ByteSource, start: int, end: int) -> int:
    """How many zero bytes follow ``start`` (scanned in C-speed chunks, bounded by ``end``)."""
    pos = start
    while pos < end:
        chunk = src.read(pos, min(ZERO_CHUNK, end - pos))
        stripped = chunk.lstrip(b"\0")
        pos += len(chunk) - len(stripped)
        if stripped or not chunk:
            break
    return pos - start


def _resync(ctx: ElfContext, start: int, end: int, step: int) -> int | None:
    """The next plausible note header after a corrupt one, within RESYNC_WINDOW bytes.

    One read and one vectorised test of every aligned position (namesz 1..MAX_NAMESZ, the note fits
    the segment); only the candidates have their owner name read.
    """
    limit = min(end - 12, start + RESYNC_WINDOW)
    if limit < start:
        return None
    window = ctx.src.read(start, limit - start + 12)
    words = np.frombuffer(window[: len(window) // 4 * 4], dtype="<u4" if ctx.S.little else ">u4").astype(np.int64)
    positions = np.arange(0, limit - start + 1, step)
    k = positions // 4
    k = k[k + 2 < len(words)]
    namesz, descsz = words[k], words[k + 1]
    fits = (namesz >= 1) & (namesz <= MAX_NAMESZ)
    fits &= start + k * 4 + 12 + ((namesz + step - 1) // step) * step + descsz <= end
    for i in np.flatnonzero(fits).tolist():
        pos = start + int(k[i]) * 4
        if plausible_name(ctx.src.read(pos + 12, int(namesz[i]))):
            return pos
    return None


def _iter_notes(ctx: ElfContext, seg_off: int, seg_size: int, step: int) -> Iterator[Note]:
    """The notes of one PT_NOTE, skipping zero gaps and resynchronising after corrupt headers."""
    end = seg_off + seg_size
    pos = seg_off
    while pos + 12 <= end:
        namesz, descsz, n_type = ctx.nhdr.unpack(ctx.src.read(pos, 12))
        if namesz == 0 and descsz == 0 and n_type == 0:
            skip = _zero_run(ctx.src, pos, end) // step * step
            if pos + skip + 12 > end:
                ctx.warn(f"PT_NOTE at {seg_off:#x}: {end - pos} zero bytes at its end, not a note")
                return
            ctx.warn(
                f"PT_NOTE at {seg_off:#x}: zero-filled gap of {skip} bytes at {pos:#x}; "
                f"resumed at the next note header at {pos + skip:#x}"
            )
            pos += skip
            continue
        desc_off = pos + 12 + align(namesz, step)
        fits = namesz <= MAX_NAMESZ and desc_off + descsz <= end
        name_raw = ctx.src.read(pos + 12, namesz) if fits else b""
        if not fits or (namesz and not plausible_name(name_raw)):
            problem = (
                f"namesz {namesz} / descsz {descsz} exceed the segment" if not fits
                else f"owner name {name_raw[:16]!r} is not text"
            )
            found = _resync(ctx, pos + step, end, step)
            where = f"resumed at {found:#x}" if found is not None else "no further note found"
            ctx.warn(f"PT_NOTE at {seg_off:#x}: corrupt note header at {pos:#x} ({problem}); {where}")
            if found is None:
                return
            pos = found
            continue
        if not ctx.take(1, f"PT_NOTE at {seg_off:#x}: notes"):
            return
        yield Note(len(ctx.notes), pos, namesz, descsz, n_type, cstr(name_raw), desc_off)
        pos = desc_off + align(descsz, step)


def read_notes(ctx: ElfContext) -> None:
    """Walk every PT_NOTE once; one overlapping a segment already walked is listed, not walked again."""
    walked_starts: list[int] = []
    walked: list[tuple[int, int]] = []  # disjoint, sorted by start
    again: list[int] = []
    for index, (_, ph) in enumerate(ctx.phdrs):
        if ph.p_type != PT_NOTE or ph.p_filesz == 0:
            continue
        if ph.p_offset >= ctx.size:
            ctx.warn(f"PT_NOTE at {ph.p_offset:#x} lies past the end of the file")
            continue
        size = min(ph.p_filesz, ctx.size - ph.p_offset)
        start, stop = ph.p_offset, ph.p_offset + size
        i = bisect.bisect_right(walked_starts, start)
        if (i and walked[i - 1][1] > start) or (i < len(walked) and walked[i][0] < stop):
            again.append(index)
            continue
        walked_starts.insert(i, start)
        walked.insert(i, (start, stop))
        if size < ph.p_filesz:
            ctx.warn(f"PT_NOTE at {ph.p_offset:#x}: {ph.p_filesz} bytes declared, {size} in the file")
        step = 8 if ph.p_align == 8 else 4
        for note in _iter_notes(ctx, ph.p_offset, size, step):
            note.type_name = note_type_name(note.owner, note.type, ctx.machine)
            ctx.notes.append(note)
    if again:
        shown = ", ".join(str(i) for i in again[:8]) + (f" (+{len(again) - 8} more)" if len(again) > 8 else "")
        ctx.warn(f"{len(again)} PT_NOTE program headers overlap a note segment already read and were not "
                 f"read again: {shown}")


# -- note decoders -------------------------------------------------------------------------------
def _decode_struct(ctx: ElfContext, note: Note, layout: cs.Struct, what: str) -> Any | None:
    """Parse ``layout`` from the start of a note's descriptor if the descriptor is big enough."""
    if note.descsz < sizeof(layout):
        ctx.warn(f"{what} note at {note.offset:#x}: descsz {note.descsz} < {sizeof(layout)} needed")
        return None
    return ctx.parse(layout, note.desc_offset, what)


def _decode_prstatus(ctx: ElfContext, note: Note) -> None:
    pad = 0 if ctx.machine == EM_68K else 2
    layout = ctx.S.prstatus(pad)
    st = _decode_struct(ctx, note, layout, "NT_PRSTATUS")
    if st is None:
        return
    note.children += ctx.fields(layout, st, note.desc_offset)
    reg_off = note.desc_offset + sizeof(layout)
    reg_len = note.end - reg_off
    thread: dict[str, Any] = {"id": st.pr_pid, "signal": st.pr_cursig}
    regs_node = ctx.node("pr_reg (raw)", reg_off, reg_len, f"{reg_len} bytes")
    rs = register_set(ctx.machine, ctx.S.bits)
    if rs is not None and reg_len >= len(rs.names) * rs.word:
        fmt = ("<" if ctx.S.little else ">") + ("Q" if rs.word == 8 else "I") * len(rs.names)
        values = struct.unpack(fmt, ctx.src.read(reg_off, len(rs.names) * rs.word))
        regs = dict(zip(rs.names, values, strict=True))
        regs_node.children.extend(
            ctx.node(n, reg_off + i * rs.word, rs.word, f"{v:#x}") for i, (n, v) in enumerate(regs.items())
        )
        thread["sp"], thread["pc"] = regs[rs.sp], regs[rs.pc]
    note.children.append(regs_node)
    note.decoded = {"pid": st.pr_pid, "ppid": st.pr_ppid, "cursig": st.pr_cursig}
    ctx.threads.append(thread)
    ctx.prstatus_threads = True
    if not ctx.process:
        ctx.process.update(pid=st.pr_pid, ppid=st.pr_ppid)


def _decode_prpsinfo(ctx: ElfContext, note: Note) -> None:
    if ctx.S.bits == 64:
        narrow = False
    elif note.descsz in (124, 128):
        narrow = note.descsz == 124
    else:
        narrow = ctx.machine in (EM_386, EM_ARM, EM_68K, EM_X86_64, EM_S390, 2, 18, 42)
    layout = ctx.S.prpsinfo(narrow)
    ps = _decode_struct(ctx, note, layout, "NT_PRPSINFO")
    if ps is None:
        return
    note.children += ctx.fields(layout, ps, note.desc_offset)
    info = {
        "pid": ps.pr_pid, "ppid": ps.pr_ppid, "uid": ps.pr_uid, "gid": ps.pr_gid,
        "name": cstr(ps.pr_fname), "cmdline": cstr(ps.pr_psargs),
    }
    note.decoded = info
    ctx.process.clear()
    ctx.process.update(info)


def _decode_siginfo(ctx: ElfContext, note: Note) -> None:
    head = ctx.S.SiginfoHead
    si = _decode_struct(ctx, note, head, "NT_SIGINFO")
    if si is None:
        return
    signo, errno, code = si.si_signo, si.si_errno, si.si_code
    names = ("si_signo", "si_errno", "si_code")
    if ctx.machine in (EM_MIPS, 10):  # MIPS swaps si_code and si_errno in siginfo_t
        errno, code = si.si_code, si.si_errno
        names = ("si_signo", "si_code", "si_errno")
    for i, n in enumerate(names):
        note.children.append(ctx.node(n, note.desc_offset + 4 * i, 4, si[("si_signo", "si_errno", "si_code")[i]]))
    info: dict[str, Any] = {"signo": signo, "errno": errno, "code": code, "address": None}
    # The union holds a fault address only for kernel-generated faults (si_code > 0); for kill()/tkill()
    # (si_code <= 0) it holds the sender's pid and uid instead.
    if code > 0 and signal_name(signo, ctx.machine, ctx.os_name) in FAULT_SIGNALS:
        union = 16 if ctx.S.bits == 64 else 12
        wsize = ctx.S.word.sizeof()
        if note.descsz >= union + wsize:
            addr = ctx.S.word.parse(ctx.src.read(note.desc_offset + union, wsize))
            info["address"] = addr
            note.children.append(ctx.node("si_addr", note.desc_offset + union, wsize, f"{addr:#x}"))
    note.decoded = info
    if ctx.siginfo is None:
        ctx.siginfo = info


def _decode_auxv(ctx: ElfContext, note: Note) -> None:
    entry = ctx.S.Auxv
    step = sizeof(entry)
    count = ctx.take(note.descsz // step, "NT_AUXV entries")
    values = []
    for _, a in ctx.records(entry, note.desc_offset, count):
        values.append({"key": a.a_type, "name": AT_NAMES.get(a.a_type, f"AT_{a.a_type}"), "value": a.a_val})
        if a.a_type == 0:
            break
    note.decoded = {"entries": len(values)}
    if not ctx.auxv:
        ctx.auxv = values

    def children() -> list[Node]:
        return [
            ctx.node(v["name"], note.desc_offset + i * step, step, f"{v['value']:#x}") for i, v in enumerate(values)
        ]

    note.children.append(ctx.node("entries", note.desc_offset, len(values) * step, len(values),
                                  ctx.lazy(children)))


def _decode_nt_file(ctx: ElfContext, note: Note) -> None:
    head, entry = ctx.S.NtFileHeader, ctx.S.NtFileEntry
    h = _decode_struct(ctx, note, head, "NT_FILE")
    if h is None:
        return
    note.children += ctx.fields(head, h, note.desc_offset)
    step = sizeof(entry)
    table_off = note.desc_offset + sizeof(head)
    count = ctx.fit(h.count, note.descsz - sizeof(head), step, f"NT_FILE at {note.offset:#x}")
    count = ctx.take(count, "NT_FILE mappings")
    names_off = table_off + count * step
    names = ctx.src.read(names_off, note.end - names_off).split(b"\0", count)
    if len(names) - 1 < count:
        ctx.warn(f"NT_FILE at {note.offset:#x}: {count} mappings but only {len(names) - 1} file names")
    files = []
    for i, (_, e) in enumerate(ctx.records(entry, table_off, count)):
        path = names[i].decode("utf-8", errors="replace") if i < len(names) else ""
        files.append({"start": e.start, "end": e.end, "page_offset": e.file_ofs, "path": path})
    note.decoded = {"count": h.count, "page_size": h.page_size, "entries": len(files)}
    if not ctx.files:
        ctx.files, ctx.file_page_size = files, h.page_size

    def children() -> list[Node]:
        out = [ctx.node(f"[{i}] {f['path']}", table_off + i * step, step, f"{f['start']:#x}-{f['end']:#x}")
               for i, f in enumerate(files)]
        out.append(ctx.node("file names", names_off, note.end - names_off, f"{len(files)} names"))
        return out

    note.children.append(ctx.node("mappings", table_off, note.end - table_off, len(files), ctx.lazy(children)))


def _decode_fxsave(ctx: ElfContext, note: Note) -> None:
    """x86 FXSAVE-format state (NT_FPREGSET on amd64, NT_PRXFPREG, NT_X86_XSTATE): a few named fields."""
    if ctx.machine not in (EM_X86_64, EM_386) or (note.type == NT_FPREGSET and ctx.machine == EM_386):
        return  # i386 NT_FPREGSET is the older FSAVE layout
    head = ctx.S.FxsaveHead if ctx.S.little else elf_structs(ctx.S.bits, True).FxsaveHead
    fx = _decode_struct(ctx, note, head, note.type_name)
    if fx is None:
        return
    note.children += ctx.fields(head, fx, note.desc_offset, lambda _n, v: f"{v:#x}")
    if note.type == NT_X86_XSTATE and note.descsz >= 520:
        xcr0 = cs.Int64ul.parse(ctx.src.read(note.desc_offset + 464, 8))
        bv = cs.Int64ul.parse(ctx.src.read(note.desc_offset + 512, 8))
        note.children.append(ctx.node("xcr0 (sw_reserved)", note.desc_offset + 464, 8, f"{xcr0:#x}"))
        note.children.append(ctx.node("xstate_bv", note.desc_offset + 512, 8, f"{bv:#x}"))


def _decode_bsd_procinfo(ctx: ElfContext, note: Note) -> None:
    """NetBSD's and OpenBSD's procinfo notes: the same fields, NetBSD's with the LWP that got the signal."""
    netbsd = note.owner.startswith("NetBSD")
    layout = ctx.S.NetbsdProcinfo if netbsd else ctx.S.OpenbsdProcinfo
    pi = _decode_struct(ctx, note, layout, "NT_NETBSDCORE_PROCINFO" if netbsd else "NT_OPENBSD_PROCINFO")
    if pi is None:
        return
    note.children += ctx.fields(layout, pi, note.desc_offset)
    ctx.process.update(pid=pi.cpi_pid, ppid=pi.cpi_ppid, uid=pi.cpi_ruid, gid=pi.cpi_rgid,
                       name=cstr(pi.cpi_name))
    note.decoded = {"pid": pi.cpi_pid, "signo": pi.cpi_signo, "code": pi.cpi_sigcode}
    signal = {"signo": pi.cpi_signo, "errno": 0, "code": pi.cpi_sigcode, "address": None}
    if netbsd:
        note.decoded.update(siglwp=pi.cpi_siglwp, nlwps=pi.cpi_nlwps)
        signal["thread"] = pi.cpi_siglwp
    if ctx.siginfo is None:
        ctx.siginfo = signal


LINUX_DECODERS: dict[int, Callable[[ElfContext, Note], None]] = {
    NT_PRSTATUS: _decode_prstatus, NT_PRPSINFO: _decode_prpsinfo, NT_SIGINFO: _decode_siginfo,
    NT_AUXV: _decode_auxv, NT_FILE: _decode_nt_file, NT_FPREGSET: _decode_fxsave,
    NT_PRXFPREG: _decode_fxsave, NT_X86_XSTATE: _decode_fxsave,
}


def decode_notes(ctx: ElfContext) -> None:
    """Decode the notes whose layout we know; everything else stays raw with name, type and size."""
    for note in ctx.notes:
        family = owner_family(note.owner)
        decoder: Callable[[ElfContext, Note], None] | None = None
        if family == "linux":
            decoder = LINUX_DECODERS.get(note.type)
        elif family == "netbsd" and note.owner == "NetBSD-CORE" and note.type == 1:
            decoder = _decode_bsd_procinfo
        elif family == "openbsd" and note.owner == "OpenBSD" and note.type == 10:
            decoder = _decode_bsd_procinfo
        if decoder is not None:
            decoder(ctx, note)
    if not any(owner_family(n.owner) == "linux" and n.type == NT_PRSTATUS for n in ctx.notes):
        _bsd_threads(ctx)


def _bsd_threads(ctx: ElfContext) -> None:
    """NetBSD and OpenBSD name each LWP in the note owner ('NetBSD-CORE@2', 'OpenBSD@229157')."""
    seen: dict[int, None] = {}  # LWP ids in note order, each once
    for note in ctx.notes:
        if owner_family(note.owner) in ("netbsd", "openbsd") and "@" in note.owner:
            tail = note.owner.rsplit("@", 1)[1]
            if tail.isdigit():
                seen.setdefault(int(tail))
    siglwp = (ctx.siginfo or {}).get("thread")
    signo = (ctx.siginfo or {}).get("signo", 0)
    ctx.threads = [{"id": lwp, "signal": signo if siglwp in (None, 0, lwp) else 0} for lwp in seen]


def detect_os(ctx: ElfContext) -> str:
    owners = {owner_family(n.owner) for n in ctx.notes}
    for family, name in (("netbsd", "NetBSD"), ("openbsd", "OpenBSD"), ("freebsd", "FreeBSD")):
        if family in owners:
            return name
    if "linux" in owners:
        return "Linux"
    return OSABI_OS.get(ctx.ehdr.e_ident[7], "")

