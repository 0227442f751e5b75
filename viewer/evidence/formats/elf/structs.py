"""ELF core structures declared with construct, built by a factory per word size and byte order.

As pyelftools does it: :func:`elf_structs` returns the declarations for one (ELFCLASS, EI_DATA) pair,
so the same code serves all 17 architectures of the corpus. Layout facts (checked against the corpus):

* ``elf_prstatus`` starts with the same prefix everywhere; its field offsets depend on the word size,
  and m68k aligns ``long`` on 2 bytes, so its prefix has no padding after ``pr_cursig``.
* ``elf_prpsinfo`` of 32-bit cores holds 16-bit uid/gid on i386, ARM, m68k, x32, ... (124 bytes) and
  32-bit ones on MIPS, PA-RISC, ... (128 bytes): the note size tells which. (pyelftools decides by
  e_machine and gets x32 wrong: it reports uid 65537000 and pid/ppid swapped.)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import construct as cs


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

