"""Mach-O core files written through macholib's declarations of <mach-o/loader.h> (an independent
implementation of the format), around the memory of a real process: the PT_LOAD segments and the
NT_PRSTATUS registers of a gcore core become LC_SEGMENT_64 commands and an LC_THREAD, with LC_NOTEs
``addrable bits`` and ``all image infos`` (the process's mapped files, from NT_FILE).

Why not files from a public test suite: no Mach-O core with a licence that allows copying was found in
LLVM's, rizin's or radare2's test data (lldb's tests make theirs at run time on macOS); these are
checked against a second independent reader (LIEF) instead.
"""

from __future__ import annotations

import struct
from pathlib import Path

from macholib import mach_o as m

CPU_TYPE_X86_64, CPU_TYPE_ARM64, CPU_TYPE_POWERPC, CPU_TYPE_X86 = 0x01000007, 0x0100000C, 18, 7
X86_32_ORDER = ("eax", "ebx", "ecx", "edx", "edi", "esi", "ebp", "esp", "ss", "eflags", "eip", "cs", "ds", "es",
                "fs", "gs")
X86_64_ORDER = ("rax", "rbx", "rcx", "rdx", "rdi", "rsi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13",
                "r14", "r15", "rip", "rflags", "cs", "fs", "gs")
# struct user_regs_struct (x86_64 NT_PRSTATUS pr_reg) field order
_PR_REG = ("r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi", "rdi",
           "orig_rax", "rip", "cs", "rflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs")


def prstatus_registers(core_bytes: bytes, dump) -> dict[str, int]:
    """The first thread's registers from the ELF core's NT_PRSTATUS (x86_64: pr_reg at desc + 112)."""
    note = next(n for n in dump.details["notes"] if n["type"] == 1 and n["owner"] == "CORE")
    desc = note["offset"] + 12 + 8  # n_namesz, n_descsz, n_type, "CORE\0" padded to 8
    values = struct.unpack_from("<27Q", core_bytes, desc + 112)
    return dict(zip(_PR_REG, values, strict=True))


def macho_core(out: Path, segments: list[tuple[str, int, bytes, int]], registers: dict[str, int],
               images: list[tuple[str, int]] = (), cputype: int = CPU_TYPE_X86_64, endian: str = "<",
               addressing_bits: int = 47) -> Path:
    """A Mach-O core: ``segments`` = [(name, vmaddr, bytes, initprot)], one thread with ``registers``,
    notes ``addrable bits`` and ``all image infos`` (``images`` = [(path, load address)])."""
    e = endian
    bits32 = cputype == CPU_TYPE_X86
    seg_size, header_size = (56, 28) if bits32 else (72, 32)
    state = _thread_state(cputype, registers, e)
    cmds: list[bytes] = []
    ncmds = len(segments) + 1 + 2
    sizeofcmds = len(segments) * seg_size + (8 + len(state)) + 2 * 40
    if bits32:
        header = m.mach_header(_endian_=e, magic=m.MH_MAGIC, cputype=cputype, cpusubtype=3, filetype=m.MH_CORE,
                               ncmds=ncmds, sizeofcmds=sizeofcmds, flags=0)
    else:
        header = m.mach_header_64(_endian_=e, magic=m.MH_MAGIC_64, cputype=cputype, cpusubtype=3,
                                  filetype=m.MH_CORE, ncmds=ncmds, sizeofcmds=sizeofcmds, flags=0, reserved=0)
    data_at = (header_size + sizeofcmds + 4095) // 4096 * 4096
    # note payloads first, then segment data, page aligned
    addrable = struct.pack(e + "II", 3, addressing_bits)
    paths = b""
    entries = b""
    path_at = data_at + 4096
    for path, _base in images:
        paths += path.encode() + b"\0"
    entries_at = data_at + 24 + 24  # after the addrable bits payload (padded) and the all-image-infos header
    offset = 0
    for path, base in images:
        entries += struct.pack(e + "Q16sQQII", path_at + offset, bytes(16), base, 0, 0, 0)
        offset += len(path.encode()) + 1
    all_images = struct.pack(e + "IIQII", 1, len(images), entries_at, 48, 0) + entries
    notes_blob = (addrable.ljust(24, b"\0") + all_images).ljust(4096, b"\0") + paths
    seg_at = (data_at + len(notes_blob) + 4095) // 4096 * 4096
    body = bytearray()
    off = seg_at
    for name, vmaddr, data, prot in segments:
        kind, cmd = (m.segment_command, m.LC_SEGMENT) if bits32 else (m.segment_command_64, m.LC_SEGMENT_64)
        seg = kind(_endian_=e, segname=name.encode()[:16], vmaddr=vmaddr, vmsize=len(data),
                   fileoff=off, filesize=len(data), maxprot=7, initprot=prot, nsects=0, flags=0)
        cmds.append(m.load_command(_endian_=e, cmd=cmd, cmdsize=seg_size).to_str() + seg.to_str())
        body += data
        off += len(data)
    cmds.append(m.load_command(_endian_=e, cmd=m.LC_THREAD, cmdsize=8 + len(state)).to_str() + state)
    cmds.append(m.load_command(_endian_=e, cmd=m.LC_NOTE, cmdsize=40).to_str()
                + m.note_command(_endian_=e, data_owner=b"addrable bits", offset=data_at, size=8).to_str())
    cmds.append(m.load_command(_endian_=e, cmd=m.LC_NOTE, cmdsize=40).to_str()
                + m.note_command(_endian_=e, data_owner=b"all image infos", offset=data_at + 24,
                                 size=len(all_images)).to_str())
    blob = header.to_str() + b"".join(cmds)
    assert len(blob) == header_size + sizeofcmds
    with open(out, "wb") as f:
        f.write(blob.ljust(data_at, b"\0"))
        f.write(notes_blob.ljust(seg_at - data_at, b"\0"))
        f.write(body)
    return out


def _thread_state(cputype: int, regs: dict[str, int], e: str) -> bytes:
    if cputype == CPU_TYPE_X86_64:
        values = [regs.get(n, 0) for n in X86_64_ORDER]
        gpr = m.thread_command(_endian_=e, flavor=4, count=42).to_str() + struct.pack(e + "21Q", *values)
        exc = m.thread_command(_endian_=e, flavor=6, count=4).to_str() + struct.pack(e + "HHIQ", 14, 0, 4, 0xDEAD)
        return gpr + exc
    if cputype == CPU_TYPE_X86:
        values = [regs.get(n, 0) & 0xFFFFFFFF for n in X86_32_ORDER]
        return m.thread_command(_endian_=e, flavor=1, count=16).to_str() + struct.pack(e + "16I", *values)
    if cputype == CPU_TYPE_ARM64:
        values = [regs.get(f"x{i}", 0) for i in range(29)] + [regs.get(n, 0) for n in ("fp", "lr", "sp", "pc")]
        gpr = m.thread_command(_endian_=e, flavor=6, count=68).to_str() + struct.pack(e + "33QII", *values,
                                                                                       regs.get("cpsr", 0), 0)
        exc = m.thread_command(_endian_=e, flavor=7, count=4).to_str() + struct.pack(e + "QII", 0xBAD, 0x92000046, 1)
        return gpr + exc
    # PowerPC (big-endian era): a PPC_THREAD_STATE-sized block, kept undecoded by the parser
    return m.thread_command(_endian_=e, flavor=1, count=40).to_str() + bytes(160)
