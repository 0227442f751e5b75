"""Mach-O core structures (``<mach-o/loader.h>``, ``<mach/*/thread_status.h>``), declared with construct
by a factory per byte order (macOS cores are little-endian; PowerPC-era ones big-endian) — as pyelftools
does for ELF. Word size comes from the structure chosen (``mach_header`` or ``mach_header_64``,
``LC_SEGMENT`` or ``LC_SEGMENT_64``)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import construct as cs

MH_MAGIC, MH_MAGIC_64 = 0xFEEDFACE, 0xFEEDFACF
MH_CORE = 4

LC_SEGMENT, LC_THREAD, LC_UNIXTHREAD, LC_IDENT, LC_SEGMENT_64, LC_UUID, LC_NOTE = 0x1, 0x4, 0x5, 0x8, 0x19, 0x1B, 0x31
LC_NAMES = {LC_SEGMENT: "LC_SEGMENT", LC_THREAD: "LC_THREAD", LC_UNIXTHREAD: "LC_UNIXTHREAD", LC_IDENT: "LC_IDENT",
            LC_SEGMENT_64: "LC_SEGMENT_64", LC_UUID: "LC_UUID", LC_NOTE: "LC_NOTE"}

CPU_ARCH_ABI64 = 0x01000000
CPU_TYPE_X86, CPU_TYPE_ARM, CPU_TYPE_POWERPC = 7, 12, 18
CPU_TYPE_X86_64, CPU_TYPE_ARM64, CPU_TYPE_POWERPC64 = 7 | CPU_ARCH_ABI64, 12 | CPU_ARCH_ABI64, 18 | CPU_ARCH_ABI64
CPU_NAMES = {CPU_TYPE_X86: "i386", CPU_TYPE_X86_64: "x86_64", CPU_TYPE_ARM: "arm", CPU_TYPE_ARM64: "arm64",
             CPU_TYPE_POWERPC: "ppc", CPU_TYPE_POWERPC64: "ppc64", 12 | 0x02000000: "arm64_32"}

# thread state flavors
x86_THREAD_STATE32, x86_FLOAT_STATE32, x86_EXCEPTION_STATE32 = 1, 2, 3
x86_THREAD_STATE64, x86_FLOAT_STATE64, x86_EXCEPTION_STATE64 = 4, 5, 6
x86_THREAD_STATE = 7
ARM_THREAD_STATE, ARM_EXCEPTION_STATE, ARM_THREAD_STATE64, ARM_EXCEPTION_STATE64 = 1, 3, 6, 7

X86_64_REGS = ("rax", "rbx", "rcx", "rdx", "rdi", "rsi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13",
               "r14", "r15", "rip", "rflags", "cs", "fs", "gs")
X86_32_REGS = ("eax", "ebx", "ecx", "edx", "edi", "esi", "ebp", "esp", "ss", "eflags", "eip", "cs", "ds", "es",
               "fs", "gs")
ARM64_REGS = tuple(f"x{i}" for i in range(29)) + ("fp", "lr", "sp", "pc")
ARM32_REGS = tuple(f"r{i}" for i in range(13)) + ("sp", "lr", "pc", "cpsr")


@dataclass(frozen=True)
class MachStructs:
    little: bool
    Header32: cs.Struct
    Header64: cs.Struct
    LoadCommand: cs.Struct
    Segment32: cs.Struct
    Segment64: cs.Struct
    Note: cs.Struct
    StateHeader: cs.Struct
    X86State64: cs.Struct
    X86State32: cs.Struct
    X86Exception64: cs.Struct
    Arm64State: cs.Struct
    Arm64Exception: cs.Struct
    Arm32State: cs.Struct
    AddrableBits: cs.Struct
    AllImageInfos: cs.Struct
    ImageEntry: cs.Struct


@functools.cache
def mach_structs(little: bool) -> MachStructs:
    u32, i32, u64, u16 = ((cs.Int32ul, cs.Int32sl, cs.Int64ul, cs.Int16ul) if little
                          else (cs.Int32ub, cs.Int32sb, cs.Int64ub, cs.Int16ub))
    header32 = cs.Struct("magic" / u32, "cputype" / i32, "cpusubtype" / i32, "filetype" / u32, "ncmds" / u32,
                         "sizeofcmds" / u32, "flags" / u32)
    header64 = cs.Struct(*header32.subcons, "reserved" / u32)
    load_command = cs.Struct("cmd" / u32, "cmdsize" / u32)
    seg32 = cs.Struct("cmd" / u32, "cmdsize" / u32, "segname" / cs.Bytes(16), "vmaddr" / u32, "vmsize" / u32,
                      "fileoff" / u32, "filesize" / u32, "maxprot" / i32, "initprot" / i32, "nsects" / u32,
                      "flags" / u32)
    seg64 = cs.Struct("cmd" / u32, "cmdsize" / u32, "segname" / cs.Bytes(16), "vmaddr" / u64, "vmsize" / u64,
                      "fileoff" / u64, "filesize" / u64, "maxprot" / i32, "initprot" / i32, "nsects" / u32,
                      "flags" / u32)
    note = cs.Struct("cmd" / u32, "cmdsize" / u32, "data_owner" / cs.Bytes(16), "offset" / u64, "size" / u64)
    state_header = cs.Struct("flavor" / u32, "count" / u32)
    x86_64 = cs.Struct(*[name / u64 for name in X86_64_REGS])
    x86_32 = cs.Struct(*[name / u32 for name in X86_32_REGS])
    x86_exc64 = cs.Struct("trapno" / u16, "cpu" / u16, "err" / u32, "faultvaddr" / u64)
    arm64 = cs.Struct(*[name / u64 for name in ARM64_REGS], "cpsr" / u32, "_pad" / cs.Padding(4))
    arm64_exc = cs.Struct("far" / u64, "esr" / u32, "exception" / u32)
    arm32 = cs.Struct(*[name / u32 for name in ARM32_REGS])
    addrable = cs.Struct("version" / u32, "addressing_bits" / u32)
    all_images = cs.Struct("version" / u32, "imgcount" / u32, "entries_fileoff" / u64, "entry_size" / u32,
                           "reserved" / u32)
    image = cs.Struct("filepath_offset" / u64, "uuid" / cs.Bytes(16), "load_address" / u64,
                      "seg_addrs_offset" / u64, "segment_count" / u32, "unused" / u32)
    return MachStructs(little, header32, header64, load_command, seg32, seg64, note, state_header, x86_64, x86_32,
                       x86_exc64, arm64, arm64_exc, arm32, addrable, all_images, image)
