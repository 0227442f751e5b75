"""ELF core names: constants, note types, signals, registers and the small text helpers.

What a number means (e_machine, p_type, n_type per owner, a_type, a signal per OS) and nothing else; the
structures are in :mod:`structs`, the note walk and decoders in :mod:`notes`, the parser in :mod:`core`.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

ET_CORE = 4
PT_LOAD, PT_NOTE = 1, 4
PN_XNUM = 0xFFFF
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


# -- small helpers -------------------------------------------------------------------------------
def align(value: int, to: int) -> int:
    return (value + to - 1) & ~(to - 1)


def cstr(raw: bytes) -> str:
    """Text up to the first NUL, never failing on bad bytes (evidence may hold anything)."""
    return raw.split(b"\0", 1)[0].decode("utf-8", errors="replace")


def perms(flags: int) -> str:
    return ("r" if flags & 4 else "-") + ("w" if flags & 2 else "-") + ("x" if flags & 1 else "-")


_PRINTABLE = set(string.printable.encode()) - set(b"\t\n\r\x0b\x0c")


def plausible_name(raw: bytes) -> bool:
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


def owner_family(owner: str) -> str:
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
    family = owner_family(owner)
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

