"""ELF core files (Linux, NetBSD, OpenBSD, gdb ``gcore``), declared with ``construct``.

Why a hand-written parser rather than pyelftools: evidence is hostile input. Every count and length the
file states (e_phnum, e_phentsize, namesz, descsz, the NT_FILE count) is checked against the bytes that
are really there; a lie becomes a warning and a partial result, never an exception, a hang or a large
allocation. Structures are built per word size and byte order by :func:`elf_structs`, the way pyelftools
does it, so the same declarations serve all 17 architectures of the corpus.

Layout facts this module relies on (checked against the corpus bytes, see tests):

* Notes are 4-byte aligned even in 64-bit cores (Linux and gdb do so); only a PT_NOTE with
  ``p_align == 8`` uses 8, as readelf does.
* ``elf_prstatus`` starts with the same prefix everywhere; its field offsets depend on the word size,
  and m68k aligns ``long`` on 2 bytes, so its prefix has no padding after ``pr_cursig``.
* ``elf_prpsinfo`` of 32-bit cores holds 16-bit uid/gid on i386, ARM, m68k, x32, ... (124 bytes) and
  32-bit ones on MIPS, PA-RISC, ... (128 bytes): the note size tells which. (pyelftools decides by
  e_machine and gets x32 wrong: it reports uid 65537000 and pid/ppid swapped.)
* A zero-filled gap inside PT_NOTE (left by binary editing, see the corpus MANIFEST) is skipped with a
  warning and parsing resumes at the next plausible note header, instead of reporting dozens of empty
  notes as readelf and pyelftools do.
"""

from __future__ import annotations

import functools
import posixpath
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import construct as cs

from viewer.evidence.formats.base import Warnings, bounded_count, parse_at
from viewer.evidence.model import Node, ParseResult, Region
from viewer.evidence.source import ByteSource

FORMAT = "elf-core"

ET_CORE = 4
PT_LOAD, PT_NOTE = 1, 4
PN_XNUM = 0xFFFF
MAX_PHDRS = 1 << 20  # far above any real core; keeps a lying PN_XNUM count from costing gigabytes
MAX_NOTES = 100_000
RESYNC_WINDOW = 64 * 1024  # how far to look for the next note header after a corrupt one
MAX_NAMESZ = 256
ZERO_CHUNK = 64 * 1024

PT_NAMES = {
    0: "PT_NULL", 1: "PT_LOAD", 2: "PT_DYNAMIC", 3: "PT_INTERP", 4: "PT_NOTE", 5: "PT_SHLIB",
    6: "PT_PHDR", 7: "PT_TLS", 0x6474E550: "PT_GNU_EH_FRAME", 0x6474E551: "PT_GNU_STACK",
    0x6474E552: "PT_GNU_RELRO", 0x6474E553: "PT_GNU_PROPERTY",
}
OSABI_NAMES = {
    0: "ELFOSABI_SYSV", 1: "ELFOSABI_HPUX", 2: "ELFOSABI_NETBSD", 3: "ELFOSABI_LINUX", 6: "ELFOSABI_SOLARIS",
    9: "ELFOSABI_FREEBSD", 12: "ELFOSABI_OPENBSD", 97: "ELFOSABI_ARM", 255: "ELFOSABI_STANDALONE",
}
OSABI_OS = {2: "NetBSD", 3: "Linux", 6: "Solaris", 9: "FreeBSD", 12: "OpenBSD"}

EM_386, EM_68K, EM_MIPS, EM_PARISC, EM_PPC, EM_PPC64, EM_S390 = 3, 4, 8, 15, 20, 21, 22
EM_ARM, EM_ALPHA_OLD, EM_SPARCV9, EM_X86_64, EM_AARCH64, EM_RISCV = 40, 41, 43, 62, 183, 243
EM_LOONGARCH, EM_ALPHA = 258, 0x9026
EF_MIPS_ABI2 = 0x20

# -- note types ----------------------------------------------------------------------------------
NT_PRSTATUS, NT_FPREGSET, NT_PRPSINFO, NT_AUXV = 1, 2, 3, 6
NT_SIGINFO, NT_FILE, NT_PRXFPREG, NT_X86_XSTATE = 0x53494749, 0x46494C45, 0x46E62B7F, 0x202

LINUX_NOTE_TYPES = {
    1: "NT_PRSTATUS", 2: "NT_FPREGSET", 3: "NT_PRPSINFO", 4: "NT_TASKSTRUCT", 6: "NT_AUXV",
    NT_SIGINFO: "NT_SIGINFO", NT_FILE: "NT_FILE", NT_PRXFPREG: "NT_PRXFPREG",
    0x100: "NT_PPC_VMX", 0x101: "NT_PPC_SPE", 0x102: "NT_PPC_VSX", 0x103: "NT_PPC_TAR", 0x104: "NT_PPC_PPR",
    0x105: "NT_PPC_DSCR", 0x106: "NT_PPC_EBB", 0x107: "NT_PPC_PMU", 0x108: "NT_PPC_TM_CGPR",
    0x109: "NT_PPC_TM_CFPR", 0x10A: "NT_PPC_TM_CVMX", 0x10B: "NT_PPC_TM_CVSX", 0x10C: "NT_PPC_TM_SPR",
    0x10D: "NT_PPC_TM_CTAR", 0x10E: "NT_PPC_TM_CPPR", 0x10F: "NT_PPC_TM_CDSCR", 0x110: "NT_PPC_PKEY",
    0x111: "NT_PPC_DEXCR", 0x112: "NT_PPC_HASHKEYR",
    0x200: "NT_386_TLS", 0x201: "NT_386_IOPERM", 0x202: "NT_X86_XSTATE", 0x204: "NT_X86_SHSTK",
    0x300: "NT_S390_HIGH_GPRS", 0x301: "NT_S390_TIMER", 0x302: "NT_S390_TODCMP", 0x303: "NT_S390_TODPREG",
    0x304: "NT_S390_CTRS", 0x305: "NT_S390_PREFIX", 0x306: "NT_S390_LAST_BREAK",
    0x307: "NT_S390_SYSTEM_CALL", 0x308: "NT_S390_TDB", 0x309: "NT_S390_VXRS_LOW",
    0x30A: "NT_S390_VXRS_HIGH", 0x30B: "NT_S390_GS_CB", 0x30C: "NT_S390_GS_BC", 0x30D: "NT_S390_RI_CB",
    0x30E: "NT_S390_PV_CPU_DATA",
    0x400: "NT_ARM_VFP", 0x401: "NT_ARM_TLS", 0x402: "NT_ARM_HW_BREAK", 0x403: "NT_ARM_HW_WATCH",
    0x404: "NT_ARM_SYSTEM_CALL", 0x405: "NT_ARM_SVE", 0x406: "NT_ARM_PAC_MASK", 0x407: "NT_ARM_PACA_KEYS",
    0x408: "NT_ARM_PACG_KEYS", 0x409: "NT_ARM_TAGGED_ADDR_CTRL", 0x40A: "NT_ARM_PAC_ENABLED_KEYS",
    0x40B: "NT_ARM_SSVE", 0x40C: "NT_ARM_ZA", 0x40D: "NT_ARM_ZT", 0x40E: "NT_ARM_FPMR", 0x40F: "NT_ARM_POE",
    0x410: "NT_ARM_GCS",
    0x600: "NT_ARC_V2", 0x700: "NT_VMCOREDD", 0x800: "NT_MIPS_DSP", 0x801: "NT_MIPS_FP_MODE",
    0x802: "NT_MIPS_MSA", 0x900: "NT_RISCV_CSR", 0x901: "NT_RISCV_VECTOR", 0x902: "NT_RISCV_TAGGED_ADDR_CTRL",
    0xA00: "NT_LOONGARCH_CPUCFG", 0xA01: "NT_LOONGARCH_CSR", 0xA02: "NT_LOONGARCH_LSX",
    0xA03: "NT_LOONGARCH_LASX", 0xA04: "NT_LOONGARCH_LBT", 0xA05: "NT_LOONGARCH_HW_BREAK",
    0xA06: "NT_LOONGARCH_HW_WATCH",
}
GDB_NOTE_TYPES = {0xFF000000: "NT_GDB_TDESC"}
NETBSD_NOTE_TYPES = {1: "NT_NETBSDCORE_PROCINFO", 2: "NT_NETBSDCORE_AUXV", 24: "NT_NETBSDCORE_LWPSTATUS"}
# Per-LWP NetBSD notes carry ptrace request numbers, which are machine-dependent (PT_FIRSTMACH = 32).
NETBSD_LWP_TYPES = {
    EM_X86_64: {33: "PT_GETREGS", 35: "PT_GETFPREGS", 37: "PT_GETXSTATE"},
    EM_386: {33: "PT_GETREGS", 35: "PT_GETFPREGS", 37: "PT_GETXMMREGS"},
    EM_AARCH64: {32: "PT_GETREGS", 34: "PT_GETFPREGS"},
}
OPENBSD_NOTE_TYPES = {
    10: "NT_OPENBSD_PROCINFO", 11: "NT_OPENBSD_AUXV", 20: "NT_OPENBSD_REGS", 21: "NT_OPENBSD_FPREGS",
    22: "NT_OPENBSD_XFPREGS", 23: "NT_OPENBSD_WCOOKIE",
}
FREEBSD_NOTE_TYPES = {
    1: "NT_PRSTATUS", 2: "NT_FPREGSET", 3: "NT_PRPSINFO", 7: "NT_THRMISC", 8: "NT_PROCSTAT_PROC",
    9: "NT_PROCSTAT_FILES", 10: "NT_PROCSTAT_VMMAP", 11: "NT_PROCSTAT_GROUPS", 12: "NT_PROCSTAT_UMASK",
    13: "NT_PROCSTAT_RLIMIT", 14: "NT_PROCSTAT_OSREL", 15: "NT_PROCSTAT_PSSTRINGS", 16: "NT_PROCSTAT_AUXV",
    17: "NT_PTLWPINFO", 0x202: "NT_X86_XSTATE",
}

AT_NAMES = {
    0: "AT_NULL", 1: "AT_IGNORE", 2: "AT_EXECFD", 3: "AT_PHDR", 4: "AT_PHENT", 5: "AT_PHNUM", 6: "AT_PAGESZ",
    7: "AT_BASE", 8: "AT_FLAGS", 9: "AT_ENTRY", 10: "AT_NOTELF", 11: "AT_UID", 12: "AT_EUID", 13: "AT_GID",
    14: "AT_EGID", 15: "AT_PLATFORM", 16: "AT_HWCAP", 17: "AT_CLKTCK", 18: "AT_FPUCW", 19: "AT_DCACHEBSIZE",
    20: "AT_ICACHEBSIZE", 21: "AT_UCACHEBSIZE", 22: "AT_IGNOREPPC", 23: "AT_SECURE", 24: "AT_BASE_PLATFORM",
    25: "AT_RANDOM", 26: "AT_HWCAP2", 27: "AT_RSEQ_FEATURE_SIZE", 28: "AT_RSEQ_ALIGN", 29: "AT_HWCAP3",
    30: "AT_HWCAP4", 31: "AT_EXECFN", 32: "AT_SYSINFO", 33: "AT_SYSINFO_EHDR", 34: "AT_L1I_CACHESHAPE",
    35: "AT_L1D_CACHESHAPE", 36: "AT_L2_CACHESHAPE", 37: "AT_L3_CACHESHAPE", 40: "AT_L1I_CACHESIZE",
    41: "AT_L1I_CACHEGEOMETRY", 42: "AT_L1D_CACHESIZE", 43: "AT_L1D_CACHEGEOMETRY", 44: "AT_L2_CACHESIZE",
    45: "AT_L2_CACHEGEOMETRY", 46: "AT_L3_CACHESIZE", 47: "AT_L3_CACHEGEOMETRY", 51: "AT_MINSIGSTKSZ",
}

# -- signals -------------------------------------------------------------------------------------
_LINUX_SIGNALS = (
    "SIGHUP SIGINT SIGQUIT SIGILL SIGTRAP SIGABRT SIGBUS SIGFPE SIGKILL SIGUSR1 SIGSEGV SIGUSR2 SIGPIPE "
    "SIGALRM SIGTERM SIGSTKFLT SIGCHLD SIGCONT SIGSTOP SIGTSTP SIGTTIN SIGTTOU SIGURG SIGXCPU SIGXFSZ "
    "SIGVTALRM SIGPROF SIGWINCH SIGIO SIGPWR SIGSYS"
).split()
_BSD_SIGNALS = (
    "SIGHUP SIGINT SIGQUIT SIGILL SIGTRAP SIGABRT SIGEMT SIGFPE SIGKILL SIGBUS SIGSEGV SIGSYS SIGPIPE "
    "SIGALRM SIGTERM SIGURG SIGSTOP SIGTSTP SIGCONT SIGCHLD SIGTTIN SIGTTOU SIGIO SIGXCPU SIGXFSZ "
    "SIGVTALRM SIGPROF SIGWINCH SIGINFO SIGUSR1 SIGUSR2"
).split()
_MIPS_SIGNALS = _BSD_SIGNALS[:15] + (
    "SIGUSR1 SIGUSR2 SIGCHLD SIGPWR SIGWINCH SIGURG SIGIO SIGSTOP SIGTSTP SIGCONT SIGTTIN SIGTTOU "
    "SIGVTALRM SIGPROF SIGXCPU SIGXFSZ"
).split()
FAULT_SIGNALS = {"SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE"}


def signal_name(number: int, machine: int, os_name: str) -> str | None:
    """The name of signal ``number``: numbering differs on the BSDs, Alpha, SPARC, MIPS and PA-RISC."""
    if os_name in ("NetBSD", "OpenBSD", "FreeBSD") or machine in (EM_ALPHA, EM_ALPHA_OLD, EM_SPARCV9, 2, 18):
        table = _BSD_SIGNALS
    elif machine in (EM_MIPS, 10):
        table = _MIPS_SIGNALS
    elif machine == EM_PARISC:
        table = _BSD_SIGNALS[:15]  # only the low numbers are certain across PA-RISC kernel versions
    else:
        table = _LINUX_SIGNALS
    return table[number - 1] if 1 <= number <= len(table) else None


# -- registers (enough to find SP and PC; the rest stays raw) --------------------------------------
_X86_64_REGS = (
    "r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags rsp ss fs_base "
    "gs_base ds es fs gs"
).split()
_I386_REGS = "ebx ecx edx esi edi ebp eax ds es fs gs orig_eax eip cs eflags esp ss".split()
_AARCH64_REGS = [f"x{i}" for i in range(31)] + ["sp", "pc", "pstate"]
_ARM_REGS = [f"r{i}" for i in range(13)] + ["sp", "lr", "pc", "cpsr", "orig_r0"]


@dataclass(frozen=True)
class RegisterSet:
    names: tuple[str, ...]
    word: int
    sp: str
    pc: str


def register_set(machine: int, bits: int) -> RegisterSet | None:
    """Register names of ``pr_reg`` for the architectures whose SP/PC we decode."""
    if machine == EM_X86_64:  # x32 too: its pr_reg is the 64-bit user_regs_struct
        return RegisterSet(tuple(_X86_64_REGS), 8, "rsp", "rip")
    if machine == EM_386:
        return RegisterSet(tuple(_I386_REGS), 4, "esp", "eip")
    if machine == EM_AARCH64 and bits == 64:
        return RegisterSet(tuple(_AARCH64_REGS), 8, "sp", "pc")
    if machine == EM_ARM:
        return RegisterSet(tuple(_ARM_REGS), 4, "sp", "pc")
    return None


# -- structures ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ElfStructs:
    """The construct declarations for one (word size, byte order) pair."""

    bits: int
    little: bool
    word: cs.Construct
    Ehdr: cs.Struct
    Phdr: cs.Struct
    Shdr: cs.Struct
    Nhdr: cs.Struct
    Auxv: cs.Struct
    NtFileHeader: cs.Struct
    NtFileEntry: cs.Struct
    SiginfoHead: cs.Struct
    NetbsdProcinfo: cs.Struct
    OpenbsdProcinfo: cs.Struct
    FxsaveHead: cs.Struct

    def prstatus(self, pad_after_cursig: int) -> cs.Struct:
        return _prstatus(self.bits, self.little, pad_after_cursig)

    def prpsinfo(self, narrow_ids: bool) -> cs.Struct:
        return _prpsinfo(self.bits, self.little, narrow_ids)


def _ints(little: bool) -> tuple[Any, Any, Any, Any, Any, Any]:
    if little:
        return cs.Int16ul, cs.Int32ul, cs.Int64ul, cs.Int16sl, cs.Int32sl, cs.Int64sl
    return cs.Int16ub, cs.Int32ub, cs.Int64ub, cs.Int16sb, cs.Int32sb, cs.Int64sb


@functools.lru_cache(maxsize=8)
def elf_structs(bits: int, little: bool) -> ElfStructs:
    """Build (once) the structures for ELFCLASS32/64 in little or big endian."""
    u16, u32, u64, _s16, s32, _s64 = _ints(little)
    word = u64 if bits == 64 else u32
    ehdr = cs.Struct(
        "e_ident" / cs.Bytes(16), "e_type" / u16, "e_machine" / u16, "e_version" / u32,
        "e_entry" / word, "e_phoff" / word, "e_shoff" / word, "e_flags" / u32, "e_ehsize" / u16,
        "e_phentsize" / u16, "e_phnum" / u16, "e_shentsize" / u16, "e_shnum" / u16, "e_shstrndx" / u16,
    )
    if bits == 64:
        phdr = cs.Struct(
            "p_type" / u32, "p_flags" / u32, "p_offset" / u64, "p_vaddr" / u64, "p_paddr" / u64,
            "p_filesz" / u64, "p_memsz" / u64, "p_align" / u64,
        )
    else:
        phdr = cs.Struct(
            "p_type" / u32, "p_offset" / u32, "p_vaddr" / u32, "p_paddr" / u32, "p_filesz" / u32,
            "p_memsz" / u32, "p_flags" / u32, "p_align" / u32,
        )
    shdr = cs.Struct(
        "sh_name" / u32, "sh_type" / u32, "sh_flags" / word, "sh_addr" / word, "sh_offset" / word,
        "sh_size" / word, "sh_link" / u32, "sh_info" / u32, "sh_addralign" / word, "sh_entsize" / word,
    )
    nhdr = cs.Struct("n_namesz" / u32, "n_descsz" / u32, "n_type" / u32)
    auxv = cs.Struct("a_type" / word, "a_val" / word)
    nt_file_header = cs.Struct("count" / word, "page_size" / word)
    nt_file_entry = cs.Struct("start" / word, "end" / word, "file_ofs" / word)
    siginfo_head = cs.Struct("si_signo" / s32, "si_errno" / s32, "si_code" / s32)
    netbsd_procinfo = cs.Struct(
        "cpi_version" / s32, "cpi_cpisize" / s32, "cpi_signo" / s32, "cpi_sigcode" / s32,
        "cpi_sigpend" / cs.Bytes(16), "cpi_sigmask" / cs.Bytes(16), "cpi_sigignore" / cs.Bytes(16),
        "cpi_sigcatch" / cs.Bytes(16), "cpi_pid" / s32, "cpi_ppid" / s32, "cpi_pgrp" / s32,
        "cpi_sid" / s32, "cpi_ruid" / u32, "cpi_euid" / u32, "cpi_svuid" / u32, "cpi_rgid" / u32,
        "cpi_egid" / u32, "cpi_svgid" / u32, "cpi_nlwps" / s32, "cpi_name" / cs.Bytes(32),
        "cpi_siglwp" / s32,
    )
    openbsd_procinfo = cs.Struct(
        "cpi_version" / s32, "cpi_cpisize" / s32, "cpi_signo" / s32, "cpi_sigcode" / s32,
        "cpi_sigpend" / u32, "cpi_sigmask" / u32, "cpi_sigignore" / u32, "cpi_sigcatch" / u32,
        "cpi_pid" / s32, "cpi_ppid" / s32, "cpi_pgrp" / s32, "cpi_sid" / s32, "cpi_ruid" / u32,
        "cpi_euid" / u32, "cpi_svuid" / u32, "cpi_rgid" / u32, "cpi_egid" / u32, "cpi_svgid" / u32,
        "cpi_name" / cs.Bytes(32),
    )
    fxsave_head = cs.Struct(
        "fcw" / u16, "fsw" / u16, "ftw" / u16, "fop" / u16, "fip" / u64, "fdp" / u64, "mxcsr" / u32,
        "mxcsr_mask" / u32,
    )
    return ElfStructs(
        bits, little, word, ehdr, phdr, shdr, nhdr, auxv, nt_file_header, nt_file_entry, siginfo_head,
        netbsd_procinfo, openbsd_procinfo, fxsave_head,
    )


@functools.lru_cache(maxsize=16)
def _prstatus(bits: int, little: bool, pad_after_cursig: int) -> cs.Struct:
    """The architecture-independent prefix of ``struct elf_prstatus`` (pr_reg follows it)."""
    _u16, u32, u64, s16, s32, _s64 = _ints(little)
    word = u64 if bits == 64 else u32
    times = []
    for t in ("pr_utime", "pr_stime", "pr_cutime", "pr_cstime"):
        times += [f"{t}_sec" / word, f"{t}_usec" / word]
    return cs.Struct(
        "si_signo" / s32, "si_code" / s32, "si_errno" / s32, "pr_cursig" / s16,
        cs.Padding(pad_after_cursig), "pr_sigpend" / word, "pr_sighold" / word, "pr_pid" / s32,
        "pr_ppid" / s32, "pr_pgrp" / s32, "pr_sid" / s32, *times,
    )


@functools.lru_cache(maxsize=16)
def _prpsinfo(bits: int, little: bool, narrow_ids: bool) -> cs.Struct:
    """``struct elf_prpsinfo``; ``narrow_ids`` selects 16-bit uid/gid (i386, ARM, m68k, x32, ...)."""
    u16, u32, u64, _s16, s32, _s64 = _ints(little)
    ids = u16 if narrow_ids else u32
    flag = [cs.Padding(4), "pr_flag" / u64] if bits == 64 else ["pr_flag" / u32]
    return cs.Struct(
        "pr_state" / cs.Int8sb, "pr_sname" / cs.Bytes(1), "pr_zomb" / cs.Int8ub, "pr_nice" / cs.Int8sb,
        *flag, "pr_uid" / ids, "pr_gid" / ids, "pr_pid" / s32, "pr_ppid" / s32, "pr_pgrp" / s32,
        "pr_sid" / s32, "pr_fname" / cs.Bytes(16), "pr_psargs" / cs.Bytes(80),
    )


# -- small helpers -------------------------------------------------------------------------------
def _align(value: int, to: int) -> int:
    return (value + to - 1) & ~(to - 1)


def _cstr(raw: bytes) -> str:
    """Text up to the first NUL, never failing on bad bytes (evidence may hold anything)."""
    return raw.split(b"\0", 1)[0].decode("utf-8", errors="replace")


def _perms(flags: int) -> str:
    return ("r" if flags & 4 else "-") + ("w" if flags & 2 else "-") + ("x" if flags & 1 else "-")


_PRINTABLE = set(string.printable.encode()) - set(b"\t\n\r\x0b\x0c")


def _plausible_name(raw: bytes) -> bool:
    """A note owner as writers produce it: printable ASCII, NUL-terminated (or NUL-padded)."""
    text = raw.rstrip(b"\0")
    return bool(text) and all(b in _PRINTABLE for b in text)


def arch_name(machine: int, bits: int, flags: int) -> str:
    """A short human name for e_machine (``x32`` is ELFCLASS32 with EM_X86_64)."""
    if machine == EM_X86_64:
        return "amd64" if bits == 64 else "x32"
    if machine == EM_MIPS or machine == 10:
        return "mips64" if bits == 64 or flags & EF_MIPS_ABI2 else "mips"
    names = {
        EM_386: "x86", EM_ARM: "arm", EM_AARCH64: "arm64", EM_PPC: "ppc", EM_PPC64: "ppc64",
        EM_68K: "m68k", EM_PARISC: "parisc", EM_ALPHA: "alpha", EM_ALPHA_OLD: "alpha", EM_SPARCV9: "sparc64",
        2: "sparc", 18: "sparc", 42: "sh", 50: "ia64",
    }
    if machine in names:
        return names[machine]
    if machine == EM_S390:
        return "s390x" if bits == 64 else "s390"
    if machine == EM_RISCV:
        return f"riscv{bits}"
    if machine == EM_LOONGARCH:
        return f"loongarch{bits}"
    return f"e_machine {machine}"


# -- the parse context ---------------------------------------------------------------------------
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


@dataclass
class Context:
    """Everything one parse accumulates; the small functions below fill it in order."""

    src: ByteSource
    warnings: Warnings
    S: ElfStructs
    ehdr: Any
    machine: int
    os_name: str = ""
    phdrs: list[tuple[int, Any]] = field(default_factory=list)  # (file offset of the phdr, parsed)
    notes: list[Note] = field(default_factory=list)
    threads: list[dict[str, Any]] = field(default_factory=list)
    process: dict[str, Any] = field(default_factory=dict)
    siginfo: dict[str, Any] | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    file_page_size: int | None = None
    auxv: list[dict[str, Any]] = field(default_factory=list)
    prstatus_threads: bool = False  # threads come from Linux NT_PRSTATUS (which carries pr_cursig)

    def node(self, name: str, offset: int, length: int, value: Any = None,
             children: list[Node] | Callable[[], list[Node]] | None = None) -> Node:
        """A node clipped to the file, so the tree never points at bytes that do not exist."""
        offset = min(max(0, offset), self.src.size)
        length = max(0, min(length, self.src.size - offset))
        return Node(name, offset, length, value, children)

    def fields(self, struct: cs.Struct, parsed: Any, base: int, fmt: Callable[[str, Any], Any] | None = None
               ) -> list[Node]:
        """One node per named field of a fixed-size struct, at its real file offset."""
        out: list[Node] = []
        offset = base
        for sub in struct.subcons:
            size = sub.sizeof()
            if sub.name:
                value = parsed[sub.name]
                if fmt is not None:
                    value = fmt(sub.name, value)
                elif isinstance(value, bytes):
                    value = _cstr(value) if len(value) <= 80 else value.hex()
                out.append(self.node(sub.name, offset, size, value))
            offset += size
        return out


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


def _phnum(ctx: Context) -> int:
    """e_phnum, or with PN_XNUM the real count from section header 0's sh_info."""
    e = ctx.ehdr
    if e.e_phnum != PN_XNUM:
        return e.e_phnum
    if e.e_shoff == 0 or e.e_shentsize < ctx.S.Shdr.sizeof():
        ctx.warnings.add("e_phnum is PN_XNUM but there is no usable section header 0; no program headers")
        return 0
    sh0 = parse_at(ctx.S.Shdr, ctx.src, e.e_shoff, None, "section header 0 (PN_XNUM)", ctx.warnings)
    if sh0 is None:
        return 0
    if sh0.sh_info > MAX_PHDRS:
        ctx.warnings.add(f"PN_XNUM program header count {sh0.sh_info} is implausible; reading {MAX_PHDRS}")
        return MAX_PHDRS
    return sh0.sh_info


def _read_phdrs(ctx: Context, count: int) -> None:
    """Parse ``count`` program headers after checking e_phoff and e_phentsize against the file."""
    e, size = ctx.ehdr, ctx.S.Phdr.sizeof()
    if count == 0:
        return
    if e.e_phentsize < size:
        ctx.warnings.add(f"e_phentsize {e.e_phentsize} is smaller than a program header ({size}); none read")
        return
    if e.e_phentsize != size:
        ctx.warnings.add(f"e_phentsize {e.e_phentsize} differs from the standard {size}; using it as stride")
    if e.e_phoff >= ctx.src.size:
        ctx.warnings.add(f"e_phoff {e.e_phoff:#x} lies past the end of the file; no program headers")
        return
    count = bounded_count(ctx.src, e.e_phoff, count, e.e_phentsize, "program headers", ctx.warnings)
    data = ctx.src.read(e.e_phoff, count * e.e_phentsize)
    for i in range(count):
        off = i * e.e_phentsize
        ctx.phdrs.append((e.e_phoff + off, ctx.S.Phdr.parse(data[off : off + size])))


# -- notes ---------------------------------------------------------------------------------------
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


def _plausible_header(ctx: Context, pos: int, end: int, align: int) -> tuple[int, int, int] | None:
    """The (namesz, descsz, type) at ``pos`` if it looks like a real note that fits the segment."""
    raw = ctx.src.read(pos, 12)
    if len(raw) < 12:
        return None
    hdr = ctx.S.Nhdr.parse(raw)
    if not 1 <= hdr.n_namesz <= MAX_NAMESZ:
        return None
    if pos + 12 + _align(hdr.n_namesz, align) + hdr.n_descsz > end:
        return None
    if not _plausible_name(ctx.src.read(pos + 12, hdr.n_namesz)):
        return None
    return hdr.n_namesz, hdr.n_descsz, hdr.n_type


def _resync(ctx: Context, start: int, end: int, align: int) -> int | None:
    """The next plausible note header after a corrupt one, within RESYNC_WINDOW bytes."""
    limit = min(end - 12, start + RESYNC_WINDOW)
    pos = start
    while pos <= limit:
        if _plausible_header(ctx, pos, end, align) is not None:
            return pos
        pos += align
    return None


def _iter_notes(ctx: Context, seg_off: int, seg_size: int, align: int) -> Iterator[Note]:
    """The notes of one PT_NOTE, skipping zero gaps and resynchronising after corrupt headers."""
    end = seg_off + seg_size
    pos = seg_off
    while pos + 12 <= end:
        if len(ctx.notes) >= MAX_NOTES:
            ctx.warnings.add(f"more than {MAX_NOTES} notes; the rest are not decoded")
            return
        hdr = ctx.S.Nhdr.parse(ctx.src.read(pos, 12))
        if hdr.n_namesz == 0 and hdr.n_descsz == 0 and hdr.n_type == 0:
            skip = _zero_run(ctx.src, pos, end) // align * align
            if pos + skip + 12 > end:
                ctx.warnings.add(f"PT_NOTE at {seg_off:#x}: {end - pos} zero bytes at its end, not a note")
                return
            ctx.warnings.add(
                f"PT_NOTE at {seg_off:#x}: zero-filled gap of {skip} bytes at {pos:#x}; "
                f"resumed at the next note header at {pos + skip:#x}"
            )
            pos += skip
            continue
        desc_off = pos + 12 + _align(hdr.n_namesz, align)
        fits = hdr.n_namesz <= MAX_NAMESZ and desc_off + hdr.n_descsz <= end
        name_raw = ctx.src.read(pos + 12, hdr.n_namesz) if fits else b""
        if not fits or (hdr.n_namesz and not _plausible_name(name_raw)):
            problem = (
                f"namesz {hdr.n_namesz} / descsz {hdr.n_descsz} exceed the segment" if not fits
                else f"owner name {name_raw[:16]!r} is not text"
            )
            found = _resync(ctx, pos + align, end, align)
            where = f"resumed at {found:#x}" if found is not None else "no further note found"
            ctx.warnings.add(f"PT_NOTE at {seg_off:#x}: corrupt note header at {pos:#x} ({problem}); {where}")
            if found is None:
                return
            pos = found
            continue
        yield Note(len(ctx.notes), pos, hdr.n_namesz, hdr.n_descsz, hdr.n_type, _cstr(name_raw), desc_off)
        pos = desc_off + _align(hdr.n_descsz, align)


def _owner_family(owner: str) -> str:
    if owner in ("CORE", "LINUX"):
        return "linux"
    if owner.startswith("NetBSD-CORE"):
        return "netbsd"
    if owner.startswith("OpenBSD"):
        return "openbsd"
    if owner == "FreeBSD":
        return "freebsd"
    return owner.lower()


def note_type_name(owner: str, n_type: int, machine: int) -> str:
    """The symbolic name of a note type, which depends on its owner (and for NetBSD LWPs the machine)."""
    family = _owner_family(owner)
    if family == "linux":
        table = LINUX_NOTE_TYPES
    elif family == "netbsd":
        table = NETBSD_LWP_TYPES.get(machine, {}) if "@" in owner else NETBSD_NOTE_TYPES
    elif family == "openbsd":
        table = OPENBSD_NOTE_TYPES
    elif family == "freebsd":
        table = FREEBSD_NOTE_TYPES
    elif owner == "GDB":
        table = GDB_NOTE_TYPES
    else:
        table = {}
    return table.get(n_type, f"{n_type:#x}")


def _read_notes(ctx: Context) -> None:
    for _, ph in ctx.phdrs:
        if ph.p_type != PT_NOTE or ph.p_filesz == 0:
            continue
        if ph.p_offset >= ctx.src.size:
            ctx.warnings.add(f"PT_NOTE at {ph.p_offset:#x} lies past the end of the file")
            continue
        size = min(ph.p_filesz, ctx.src.size - ph.p_offset)
        if size < ph.p_filesz:
            ctx.warnings.add(f"PT_NOTE at {ph.p_offset:#x}: {ph.p_filesz} bytes declared, {size} in the file")
        align = 8 if ph.p_align == 8 else 4
        for note in _iter_notes(ctx, ph.p_offset, size, align):
            note.type_name = note_type_name(note.owner, note.type, ctx.machine)
            ctx.notes.append(note)


# -- note decoders -------------------------------------------------------------------------------
def _decode_struct(ctx: Context, note: Note, struct: cs.Struct, what: str) -> Any | None:
    """Parse ``struct`` from the start of a note's descriptor if the descriptor is big enough."""
    if note.descsz < struct.sizeof():
        ctx.warnings.add(f"{what} note at {note.offset:#x}: descsz {note.descsz} < {struct.sizeof()} needed")
        return None
    return parse_at(struct, ctx.src, note.desc_offset, None, what, ctx.warnings)


def _decode_prstatus(ctx: Context, note: Note) -> None:
    pad = 0 if ctx.machine == EM_68K else 2
    struct = ctx.S.prstatus(pad)
    st = _decode_struct(ctx, note, struct, "NT_PRSTATUS")
    if st is None:
        return
    note.children += ctx.fields(struct, st, note.desc_offset)
    reg_off = note.desc_offset + struct.sizeof()
    reg_len = note.end - reg_off
    thread: dict[str, Any] = {"id": st.pr_pid, "signal": st.pr_cursig}
    regs_node = ctx.node("pr_reg (raw)", reg_off, reg_len, f"{reg_len} bytes")
    rs = register_set(ctx.machine, ctx.S.bits)
    if rs is not None and reg_len >= len(rs.names) * rs.word:
        word = cs.Int64ul if rs.word == 8 else cs.Int32ul
        if not ctx.S.little:
            word = cs.Int64ub if rs.word == 8 else cs.Int32ub
        values = cs.Array(len(rs.names), word).parse(ctx.src.read(reg_off, len(rs.names) * rs.word))
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


def _decode_prpsinfo(ctx: Context, note: Note) -> None:
    if ctx.S.bits == 64:
        narrow = False
    elif note.descsz in (124, 128):
        narrow = note.descsz == 124
    else:
        narrow = ctx.machine in (EM_386, EM_ARM, EM_68K, EM_X86_64, EM_S390, 2, 18, 42)
    struct = ctx.S.prpsinfo(narrow)
    ps = _decode_struct(ctx, note, struct, "NT_PRPSINFO")
    if ps is None:
        return
    note.children += ctx.fields(struct, ps, note.desc_offset)
    info = {
        "pid": ps.pr_pid, "ppid": ps.pr_ppid, "uid": ps.pr_uid, "gid": ps.pr_gid,
        "name": _cstr(ps.pr_fname), "cmdline": _cstr(ps.pr_psargs),
    }
    note.decoded = info
    ctx.process.clear()
    ctx.process.update(info)


def _decode_siginfo(ctx: Context, note: Note) -> None:
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


def _decode_auxv(ctx: Context, note: Note) -> None:
    entry = ctx.S.Auxv
    count = note.descsz // entry.sizeof()
    data = ctx.src.read(note.desc_offset, count * entry.sizeof())
    values = []
    for i in range(count):
        a = entry.parse(data[i * entry.sizeof() : (i + 1) * entry.sizeof()])
        values.append({"key": a.a_type, "name": AT_NAMES.get(a.a_type, f"AT_{a.a_type}"), "value": a.a_val})
        if a.a_type == 0:
            break
    note.decoded = {"entries": len(values)}
    if not ctx.auxv:
        ctx.auxv = values

    def children() -> list[Node]:
        return [
            ctx.node(v["name"], note.desc_offset + i * entry.sizeof(), entry.sizeof(), f"{v['value']:#x}")
            for i, v in enumerate(values)
        ]

    note.children.append(ctx.node("entries", note.desc_offset, len(values) * entry.sizeof(),
                                  len(values), children))


def _decode_nt_file(ctx: Context, note: Note) -> None:
    head, entry = ctx.S.NtFileHeader, ctx.S.NtFileEntry
    h = _decode_struct(ctx, note, head, "NT_FILE")
    if h is None:
        return
    note.children += ctx.fields(head, h, note.desc_offset)
    table_off = note.desc_offset + head.sizeof()
    fits = (note.descsz - head.sizeof()) // entry.sizeof()
    count = h.count
    if count > fits:
        ctx.warnings.add(f"NT_FILE at {note.offset:#x}: count {count} exceeds its descriptor; reading {fits}")
        count = fits
    table = ctx.src.read(table_off, count * entry.sizeof())
    names_off = table_off + count * entry.sizeof()
    names = ctx.src.read(names_off, note.end - names_off).split(b"\0")
    if len(names) - 1 < count:
        ctx.warnings.add(f"NT_FILE at {note.offset:#x}: {count} mappings but only {len(names) - 1} file names")
    files = []
    for i in range(count):
        e = entry.parse(table[i * entry.sizeof() : (i + 1) * entry.sizeof()])
        path = names[i].decode("utf-8", errors="replace") if i < len(names) else ""
        files.append({"start": e.start, "end": e.end, "page_offset": e.file_ofs, "path": path})
    note.decoded = {"count": h.count, "page_size": h.page_size, "entries": len(files)}
    if not ctx.files:
        ctx.files, ctx.file_page_size = files, h.page_size

    def children() -> list[Node]:
        out = []
        for i, f in enumerate(files):
            off = table_off + i * entry.sizeof()
            out.append(ctx.node(f"[{i}] {f['path']}", off, entry.sizeof(), f"{f['start']:#x}-{f['end']:#x}"))
        out.append(ctx.node("file names", names_off, note.end - names_off, f"{len(files)} names"))
        return out

    note.children.append(ctx.node("mappings", table_off, note.end - table_off, len(files), children))


def _decode_fxsave(ctx: Context, note: Note) -> None:
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


def _decode_netbsd_procinfo(ctx: Context, note: Note) -> None:
    struct = ctx.S.NetbsdProcinfo
    pi = _decode_struct(ctx, note, struct, "NT_NETBSDCORE_PROCINFO")
    if pi is None:
        return
    note.children += ctx.fields(struct, pi, note.desc_offset)
    ctx.process.update(pid=pi.cpi_pid, ppid=pi.cpi_ppid, uid=pi.cpi_ruid, gid=pi.cpi_rgid,
                       name=_cstr(pi.cpi_name))
    note.decoded = {"pid": pi.cpi_pid, "signo": pi.cpi_signo, "code": pi.cpi_sigcode, "siglwp": pi.cpi_siglwp,
                    "nlwps": pi.cpi_nlwps}
    if ctx.siginfo is None:
        ctx.siginfo = {"signo": pi.cpi_signo, "errno": 0, "code": pi.cpi_sigcode, "address": None,
                       "thread": pi.cpi_siglwp}


def _decode_openbsd_procinfo(ctx: Context, note: Note) -> None:
    struct = ctx.S.OpenbsdProcinfo
    pi = _decode_struct(ctx, note, struct, "NT_OPENBSD_PROCINFO")
    if pi is None:
        return
    note.children += ctx.fields(struct, pi, note.desc_offset)
    ctx.process.update(pid=pi.cpi_pid, ppid=pi.cpi_ppid, uid=pi.cpi_ruid, gid=pi.cpi_rgid,
                       name=_cstr(pi.cpi_name))
    note.decoded = {"pid": pi.cpi_pid, "signo": pi.cpi_signo, "code": pi.cpi_sigcode}
    if ctx.siginfo is None:
        ctx.siginfo = {"signo": pi.cpi_signo, "errno": 0, "code": pi.cpi_sigcode, "address": None}


LINUX_DECODERS: dict[int, Callable[[Context, Note], None]] = {
    NT_PRSTATUS: _decode_prstatus, NT_PRPSINFO: _decode_prpsinfo, NT_SIGINFO: _decode_siginfo,
    NT_AUXV: _decode_auxv, NT_FILE: _decode_nt_file, NT_FPREGSET: _decode_fxsave,
    NT_PRXFPREG: _decode_fxsave, NT_X86_XSTATE: _decode_fxsave,
}


def _decode_notes(ctx: Context) -> None:
    """Decode the notes whose layout we know; everything else stays raw with name, type and size."""
    for note in ctx.notes:
        family = _owner_family(note.owner)
        decoder: Callable[[Context, Note], None] | None = None
        if family == "linux":
            decoder = LINUX_DECODERS.get(note.type)
        elif family == "netbsd" and note.owner == "NetBSD-CORE" and note.type == 1:
            decoder = _decode_netbsd_procinfo
        elif family == "openbsd" and note.owner == "OpenBSD" and note.type == 10:
            decoder = _decode_openbsd_procinfo
        if decoder is not None:
            decoder(ctx, note)
    if not any(n for n in ctx.notes if _owner_family(n.owner) == "linux" and n.type == NT_PRSTATUS):
        _bsd_threads(ctx)


def _bsd_threads(ctx: Context) -> None:
    """NetBSD and OpenBSD name each LWP in the note owner ('NetBSD-CORE@2', 'OpenBSD@229157')."""
    seen: list[int] = []
    for note in ctx.notes:
        if _owner_family(note.owner) in ("netbsd", "openbsd") and "@" in note.owner:
            tail = note.owner.rsplit("@", 1)[1]
            if tail.isdigit() and int(tail) not in seen:
                seen.append(int(tail))
    siglwp = (ctx.siginfo or {}).get("thread")
    signo = (ctx.siginfo or {}).get("signo", 0)
    ctx.threads = [{"id": lwp, "signal": signo if siglwp in (None, 0, lwp) else 0} for lwp in seen]


def _detect_os(ctx: Context) -> str:
    owners = {_owner_family(n.owner) for n in ctx.notes}
    for family, name in (("netbsd", "NetBSD"), ("openbsd", "OpenBSD"), ("freebsd", "FreeBSD")):
        if family in owners:
            return name
    if "linux" in owners:
        return "Linux"
    return OSABI_OS.get(ctx.ehdr.e_ident[7], "")


# -- regions -------------------------------------------------------------------------------------
def _file_at(files: list[dict[str, Any]], vaddr: int, memsz: int) -> dict[str, Any] | None:
    """The NT_FILE mapping holding ``vaddr`` (or, failing that, any one overlapping the segment)."""
    overlap = None
    for f in files:
        if f["start"] <= vaddr < f["end"]:
            return f
        if overlap is None and f["start"] < vaddr + max(memsz, 1) and vaddr < f["end"]:
            overlap = f
    return overlap


def _load_regions(ctx: Context) -> list[Region]:
    out: list[Region] = []
    stacks = {t["sp"]: t["id"] for t in ctx.threads if t.get("sp") is not None}
    for index, (_, ph) in enumerate(ctx.phdrs):
        if ph.p_type != PT_LOAD:
            continue
        size = ph.p_filesz
        if ph.p_offset >= ctx.src.size:
            if size:
                ctx.warnings.add(f"PT_LOAD {index} at {ph.p_offset:#x} lies past the end of the file")
            size = 0
        elif ph.p_offset + size > ctx.src.size:
            size = ctx.src.size - ph.p_offset
            ctx.warnings.add(f"PT_LOAD {index}: {ph.p_filesz} bytes declared, only {size} in the file")
        offset = min(ph.p_offset, ctx.src.size)
        span = max(ph.p_memsz, ph.p_filesz)
        region = Region(file_offset=offset, size=size, vaddr=ph.p_vaddr, kind="memory", name="anonymous",
                        perms=_perms(ph.p_flags), mem_size=ph.p_memsz, attrs={"phdr_index": index})
        mapped = _file_at(ctx.files, ph.p_vaddr, span)
        stack_tid = next((tid for sp, tid in stacks.items() if ph.p_vaddr <= sp < ph.p_vaddr + span), None)
        if stack_tid is not None:
            region.kind, region.name = "stack", f"stack of thread {stack_tid}"
        elif mapped is not None:
            region.kind, region.name = "module", posixpath.basename(mapped["path"]) or mapped["path"]
            region.attrs["path"] = mapped["path"]
        out.append(region)
    return out


def _header_regions(ctx: Context) -> list[Region]:
    e = ctx.ehdr
    out = [Region(0, min(ctx.S.Ehdr.sizeof(), ctx.src.size), None, "header", "ELF header")]
    if ctx.phdrs:
        start = ctx.phdrs[0][0]
        out.append(Region(start, len(ctx.phdrs) * e.e_phentsize, None, "header", "program headers"))
    for _, ph in ctx.phdrs:
        if ph.p_type == PT_NOTE and ph.p_offset < ctx.src.size and ph.p_filesz:
            size = min(ph.p_filesz, ctx.src.size - ph.p_offset)
            out.append(Region(ph.p_offset, size, None, "notes", "PT_NOTE"))
    return out


# -- structure tree ------------------------------------------------------------------------------
def _header_node(ctx: Context, phnum: int) -> Node:
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


def _phdrs_node(ctx: Context) -> Node:
    S = ctx.S

    def fmt(name: str, value: Any) -> Any:
        if name == "p_type":
            return PT_NAMES.get(value, f"{value:#x}")
        if name == "p_flags":
            return _perms(value)
        return f"{value:#x}" if name in ("p_vaddr", "p_paddr", "p_offset") else value

    def children() -> list[Node]:
        return [
            ctx.node(f"[{i}] {PT_NAMES.get(ph.p_type, hex(ph.p_type))}", off, S.Phdr.sizeof(),
                     f"{ph.p_vaddr:#x}", ctx.fields(S.Phdr, ph, off, fmt))
            for i, (off, ph) in enumerate(ctx.phdrs)
        ]

    start = ctx.phdrs[0][0] if ctx.phdrs else ctx.ehdr.e_phoff
    return ctx.node("program headers", start, len(ctx.phdrs) * ctx.ehdr.e_phentsize, len(ctx.phdrs), children)


def _note_node(ctx: Context, note: Note) -> Node:
    header = [
        ctx.node("n_namesz", note.offset, 4, note.namesz),
        ctx.node("n_descsz", note.offset + 4, 4, note.descsz),
        ctx.node("n_type", note.offset + 8, 4, f"{note.type:#x} ({note.type_name})"),
        ctx.node("name", note.offset + 12, note.namesz, note.owner),
    ]
    desc = ctx.node("desc", note.desc_offset, note.descsz, f"{note.descsz} bytes", note.children)
    return ctx.node(f"[{note.index}] {note.owner} {note.type_name}", note.offset, note.end - note.offset,
                    f"{note.descsz} bytes", header + [desc])


def _structure(ctx: Context, phnum: int) -> Node:
    root = ctx.node("ELF core", 0, ctx.src.size, arch_name(ctx.machine, ctx.S.bits, ctx.ehdr.e_flags))
    root.add(_header_node(ctx, phnum))
    root.add(_phdrs_node(ctx))
    notes = list(ctx.notes)
    if notes:
        start = min(n.offset for n in notes)
        end = max(n.end for n in notes)
        root.add(ctx.node("notes", start, end - start, len(notes), lambda: [_note_node(ctx, n) for n in notes]))
    else:
        root.add(ctx.node("notes", 0, 0, 0))
    return root


# -- meta and details ----------------------------------------------------------------------------
def _signal(ctx: Context) -> dict[str, Any] | None:
    """The signal that ended the process: siginfo if present, else the first thread's pr_cursig."""
    if ctx.siginfo is not None and ctx.siginfo.get("signo"):
        sig = dict(ctx.siginfo)
    elif ctx.threads and ctx.threads[0].get("signal"):
        sig = {"signo": ctx.threads[0]["signal"], "code": None, "address": None}
    else:
        return None
    sig["name"] = signal_name(sig["signo"], ctx.machine, ctx.os_name)
    return {"number": sig["signo"], "name": sig["name"], "code": sig.get("code"), "address": sig.get("address")}


def _exception_text(ctx: Context, sig: dict[str, Any] | None) -> str | None:
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


def _details(ctx: Context, phnum: int) -> dict[str, Any]:
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


def _meta(ctx: Context) -> dict[str, Any]:
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
    ctx = Context(src, warnings, S, ehdr, ehdr.e_machine)
    if ehdr.e_type != ET_CORE:
        warnings.add(f"e_type is {ehdr.e_type}, not ET_CORE (4); parsed as a core anyway")
    phnum = _phnum(ctx)
    _read_phdrs(ctx, phnum)
    _read_notes(ctx)
    ctx.os_name = _detect_os(ctx)
    _decode_notes(ctx)
    regions = _header_regions(ctx) + _load_regions(ctx)
    return ParseResult(FORMAT, _meta(ctx), regions, _structure(ctx, phnum), warnings, _details(ctx, phnum))
