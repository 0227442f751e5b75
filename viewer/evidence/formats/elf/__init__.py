"""ELF core files, in pyelftools' layout: ``names`` (constants), ``structs`` (construct structures built
by a factory per word size and byte order), ``notes`` (the note walk and decoders), ``core`` (the parser,
its regions and its structure tree)."""

from __future__ import annotations

from viewer.evidence.formats.elf.core import FORMAT, parse, probe
from viewer.evidence.formats.elf.names import arch_name, note_type_name, signal_name
from viewer.evidence.formats.elf.structs import ElfStructs, elf_structs

__all__ = ["FORMAT", "probe", "parse", "ElfStructs", "elf_structs", "arch_name", "note_type_name", "signal_name"]
