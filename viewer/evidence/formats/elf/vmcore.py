"""ELF vmcores: a machine's physical memory as an ELF core (QEMU's ``dump-guest-memory`` in ELF format,
the kernel's ``/proc/vmcore`` and what ``makedumpfile -E`` writes).

They are ELF cores whose PT_LOADs hold *physical* memory: ``p_paddr`` is the physical address (QEMU
without paging writes ``p_vaddr == p_paddr``; the kernel writes the direct-map virtual address beside
it). They are recognised by their notes — QEMU's ``QEMU`` CPU-state notes, the kernel's ``VMCOREINFO`` —
and shown as the format ``elf-vmcore``: every PT_LOAD a ``physical`` region at its physical address (the
virtual one, where it differs, kept as ``virtual_address``), VMCOREINFO decoded line by line into the
structure and ``info --json`` (``vmcoreinfo``).
"""

from __future__ import annotations

from typing import Any

from viewer.evidence.formats.elf.notes import ElfContext
from viewer.evidence.model import Node, ParseResult

FORMAT = "elf-vmcore"
MAX_VMCOREINFO = 64 * 1024  # bytes of VMCOREINFO text decoded (the kernel's is about 3 KB)
MAX_LINES = 1024


def kind(ctx: ElfContext) -> str | None:
    owners = {n.owner for n in ctx.notes}
    if "QEMU" in owners:
        return "qemu"
    if "VMCOREINFO" in owners:
        return "kernel"
    return None


def vmcoreinfo(ctx: ElfContext) -> tuple[dict[str, str], list[Node]]:
    """The VMCOREINFO note's ``KEY=VALUE`` lines (bounded), and a node per line."""
    note = next((n for n in ctx.notes if n.owner == "VMCOREINFO"), None)
    if note is None:
        return {}, []
    raw = ctx.read(note.desc_offset, min(note.descsz, MAX_VMCOREINFO))
    values: dict[str, str] = {}
    nodes: list[Node] = []
    pos = 0
    for line in raw.split(b"\n")[:MAX_LINES]:
        text = line.rstrip(b"\0").decode("ascii", "replace")
        if "=" in text:
            key, _, value = text.partition("=")
            values.setdefault(key, value)
            nodes.append(ctx.node(key, note.desc_offset + pos, len(line), value))
        pos += len(line) + 1
    return values, nodes


def adapt(ctx: ElfContext, result: ParseResult, which: str) -> None:
    """Turn a parsed ELF core into a vmcore: physical regions, VMCOREINFO, meta."""
    result.format = FORMAT
    phdrs = ctx.phdrs
    physical = []
    for region in result.regions:
        index = region.attrs.get("phdr_index")
        if index is None or not 0 <= index < len(phdrs):
            continue
        ph = phdrs[index][1]
        if ph.p_vaddr != ph.p_paddr:
            region.attrs["virtual_address"] = ph.p_vaddr
        region.vaddr = ph.p_paddr
        region.kind = "physical"
        region.name = f"physical {ph.p_paddr:#x}"
        physical.append({"paddr": ph.p_paddr, "size": region.size, "file_offset": region.file_offset})
    info, nodes = vmcoreinfo(ctx)
    meta: dict[str, Any] = result.meta
    meta["vmcore"] = "QEMU dump-guest-memory (ELF)" if which == "qemu" else "kernel vmcore (ELF)"
    meta["physical_bytes"] = sum(p["size"] for p in physical)
    if info.get("OSRELEASE"):
        meta["os"], meta["os_version"] = "Linux", info["OSRELEASE"]
    elif which == "qemu":
        meta["os"] = None  # the guest's OS is not in the file without VMCOREINFO
    if info.get("PAGESIZE"):
        meta["page_size"] = info["PAGESIZE"]
    meta.pop("process", None)
    result.details["physical_memory"] = physical
    if info:
        result.details["vmcoreinfo"] = info
        note = next(n for n in ctx.notes if n.owner == "VMCOREINFO")
        result.structure.add(ctx.node("VMCOREINFO", note.desc_offset, note.descsz, f"{len(info)} entries", nodes))
    result.structure.name = "ELF vmcore"
