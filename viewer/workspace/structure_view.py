"""What the structure tree says about a field, without Qt: decoded times, and which node describes the
bytes of a memory range.

* :func:`decoded_time` — a field named like a time (``TimeDateStamp``, ``ProcessCreateTime``,
  ``pr_utime`` …) holding a plausible Unix time or Windows FILETIME, as a UTC date; the tree shows it
  beside the number, so a reader does not have to convert 1171480435 in their head.
* :func:`describing_path` — the node of a memory range's *descriptor* (a minidump's memory range entry,
  an ELF program header …) for a cursor inside the range's *bytes*. The parsed structure covers the
  descriptors; the captured memory itself lies outside every node but the root, so the tree used to
  select the root. A descriptor is recognised by the numbers it holds: the range's file offset and, where
  it has one, its virtual address, as fields within two levels below it. The search visits a bounded
  number of nodes; the window remembers the answer per range.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from typing import Any

from viewer.evidence.model import Node

TIME_WORDS = ("time", "date", "stamp")
UNIX_RANGE = (315_532_800, 4_102_444_800)  # 1980 .. 2100
FILETIME_EPOCH_DELTA = 11_644_473_600  # seconds from 1601-01-01 to 1970-01-01
FILETIME_RANGE = ((UNIX_RANGE[0] + FILETIME_EPOCH_DELTA) * 10_000_000, (UNIX_RANGE[1] + FILETIME_EPOCH_DELTA) * 10_000_000)
SEARCH_BUDGET = 50_000


def _utc(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def decoded_time(name: str, value: Any) -> str | None:
    """``value`` as a UTC date when ``name`` says it is a time and the number is a plausible one."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return None
    lowered = str(name).lower()
    if not any(w in lowered for w in TIME_WORDS):
        return None
    if UNIX_RANGE[0] <= value < UNIX_RANGE[1]:
        return _utc(value)
    if FILETIME_RANGE[0] <= value < FILETIME_RANGE[1]:
        return _utc(value / 10_000_000 - FILETIME_EPOCH_DELTA) + " (FILETIME)"
    return None


ELF_PT = {0: "PT_NULL", 1: "PT_LOAD", 2: "PT_DYNAMIC", 3: "PT_INTERP", 4: "PT_NOTE", 5: "PT_SHLIB", 6: "PT_PHDR",
          7: "PT_TLS", 0x6474E550: "PT_GNU_EH_FRAME", 0x6474E551: "PT_GNU_STACK", 0x6474E552: "PT_GNU_RELRO",
          0x6474E553: "PT_GNU_PROPERTY"}
ELF_ET = {0: "ET_NONE", 1: "ET_REL", 2: "ET_EXEC", 3: "ET_DYN", 4: "ET_CORE"}
# name -> (bit, word) tables of flag fields; a set bit shows its word, unknown bits stay as a hex rest
FLAG_TABLES: dict[str, tuple[tuple[int, str], ...]] = {
    "dwfileflags": ((0x1, "DEBUG"), (0x2, "PRERELEASE"), (0x4, "PATCHED"), (0x8, "PRIVATEBUILD"),
                    (0x10, "INFOINFERRED"), (0x20, "SPECIALBUILD")),
    "state": ((0x1000, "MEM_COMMIT"), (0x2000, "MEM_RESERVE"), (0x10000, "MEM_FREE")),
    "type": ((0x20000, "MEM_PRIVATE"), (0x40000, "MEM_MAPPED"), (0x1000000, "MEM_IMAGE")),
}
GENERIC_NAMES = ("state", "type")  # decoded only when every set bit is one of theirs
PAGE_PROTECT = {0x01: "PAGE_NOACCESS", 0x02: "PAGE_READONLY", 0x04: "PAGE_READWRITE", 0x08: "PAGE_WRITECOPY",
                0x10: "PAGE_EXECUTE", 0x20: "PAGE_EXECUTE_READ", 0x40: "PAGE_EXECUTE_READWRITE",
                0x80: "PAGE_EXECUTE_WRITECOPY"}
PAGE_MODIFIERS = ((0x100, "PAGE_GUARD"), (0x200, "PAGE_NOCACHE"), (0x400, "PAGE_WRITECOMBINE"))


def _bits(value: int, table: tuple[tuple[int, str], ...]) -> str:
    words = [w for bit, w in table if value & bit]
    rest = value & ~sum(bit for bit, _ in table)
    if rest:
        words.append(f"{rest:#x}")
    return " | ".join(words) if words else "none"


def decoded_flags(name: str, value: Any) -> str | None:
    """``value`` in words when ``name`` is a known enumeration or flag field: ELF ``p_type``, ``e_type``,
    ``p_flags`` (R/W/X), a minidump memory range's ``Protect``/``AllocationProtect``, ``State``, ``Type``
    and a version resource's ``dwFileFlags``. None otherwise (the number alone is shown)."""
    number = _number(value)
    if number is None or number < 0:
        return None
    key = str(name).lower()
    if key == "p_type":
        return ELF_PT.get(number)
    if key == "e_type":
        return ELF_ET.get(number)
    if key == "p_flags":
        return "".join(c if number & bit else "-" for bit, c in ((4, "R"), (2, "W"), (1, "X")))
    if key in ("protect", "allocationprotect"):
        base = PAGE_PROTECT.get(number & 0xFF)
        if base is None:
            return None
        return " | ".join([base, *(w for bit, w in PAGE_MODIFIERS if number & bit)])
    table = FLAG_TABLES.get(key)
    if table is None or not number:
        return None
    if key in GENERIC_NAMES and number & ~sum(bit for bit, _ in table):
        return None  # a "State" or "Type" of another structure: not these flags
    return _bits(number, table)


def decoded(name: str, value: Any) -> str | None:
    """What a field's number means, in words: a time (:func:`decoded_time`) or flags (:func:`decoded_flags`)."""
    return decoded_time(name, value) or decoded_flags(name, value)


def _number(value: Any) -> int | None:
    """A field's number: an int, or the hex text some parsers show (``'0x238'``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.startswith("0x") and len(value) <= 18:
        try:
            return int(value, 16)
        except ValueError:
            return None
    return None


def _ints_below(node: Node, depth: int = 2) -> set[int]:
    out: set[int] = set()
    todo = [(node, 0)]
    while todo:
        n, d = todo.pop()
        number = _number(n.value) if d > 0 else None
        if number is not None:
            out.add(number)
        if d < depth and n.has_children:
            todo.extend((c, d + 1) for c in n.children[:64])
    return out


def describing_path(root: Node, file_offset: int, vaddr: int | None, budget: int = SEARCH_BUDGET) -> list[int] | None:
    """Child indices from ``root`` down to the smallest node whose fields hold ``file_offset`` (and
    ``vaddr`` when given); None when no node within ``budget`` visits does."""
    wanted = {file_offset} if vaddr is None else {file_offset, vaddr}
    best: tuple[int, list[int]] | None = None
    queue: deque[tuple[Node, list[int]]] = deque([(root, [])])
    seen = 0
    while queue and seen < budget:
        node, path = queue.popleft()
        seen += 1
        if path and 0 < node.length and node.has_children and wanted <= _ints_below(node):
            if best is None or node.length <= best[0]:
                best = (node.length, path)
        if node.has_children:
            for i, child in enumerate(node.children):
                if child.has_children:
                    queue.append((child, [*path, i]))
    return best[1] if best is not None else None


__all__ = ["decoded", "decoded_flags", "decoded_time", "describing_path"]
