"""Memory regions of a minidump: every MemoryList and Memory64List range, classified and clipped.

Why classification here and not in the GUI: a range is a thread's stack, part of a module image, or
other memory, and only the minidump knows (thread Stack descriptors, module [base, base+size)).
Permissions come from MemoryInfoList when the dump has one. A Memory64List may hold 100,000 ranges, so
lookups are bisections over sorted tables and per-range work is a few comparisons.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from viewer.evidence.formats.minidump import structs as S
from viewer.evidence.formats.minidump.state import MinidumpState, basename
from viewer.evidence.model import Region
from viewer.tasks import gc_paused

MAX_EXAMPLES = 3


U64_MAX = np.uint64(2**64 - 1)


def saturating_end(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """start + size without wrapping past 2**64 (a lying size must not turn into a small end)."""
    return starts + np.minimum(sizes, U64_MAX - starts)


class Classifier:
    """Answers "what is the memory at [start, end)?" from thread stacks and module ranges.

    Vectorised: one searchsorted per table for a whole memory list, as a Memory64List may have
    100,000 ranges.
    """

    def __init__(self, ctx: MinidumpState):
        stacks = sorted(
            (t["stack"]["vaddr"], t["stack"]["vaddr"] + t["stack"]["size"], t["id"])
            for t in ctx.threads
            if t["stack"]["size"] > 0
        )
        self.stack_starts = np.array([s[0] for s in stacks], dtype=np.uint64)
        self.stack_ends = np.array([min(s[1], 2**64 - 1) for s in stacks], dtype=np.uint64)
        self.stack_tids = [s[2] for s in stacks]
        mods = sorted((m["base"], m["base"] + m["size"], m["name"]) for m in ctx.modules if m["size"] > 0)
        self.mod_starts = np.array([m[0] for m in mods], dtype=np.uint64)
        self.mod_ends = np.array([min(m[1], 2**64 - 1) for m in mods], dtype=np.uint64)
        self.mod_paths = [m[2] for m in mods]

    def classify(self, starts: np.ndarray, ends: np.ndarray) -> tuple[list[int], list[int]]:
        """Per range: index of the overlapping thread stack (or -1), of the containing module (or -1)."""
        stack = self._find(self.stack_starts, self.stack_ends, ends, starts, "left")
        module = self._find(self.mod_starts, self.mod_ends, starts, starts, "right")
        return stack, module

    @staticmethod
    def _find(
        t_starts: np.ndarray, t_ends: np.ndarray, keys: np.ndarray, starts: np.ndarray, side: str
    ) -> list[int]:
        if len(t_starts) == 0 or len(keys) == 0:
            return [-1] * len(keys)
        idx = np.searchsorted(t_starts, keys, side=side) - 1  # type: ignore[call-overload]
        safe = np.maximum(idx, 0)
        hit = (idx >= 0) & (t_ends[safe] > starts)
        return np.where(hit, idx, -1).tolist()

    def describe(self, stack: int, module: int) -> tuple[str, str, dict[str, Any]]:
        if stack >= 0:
            tid = self.stack_tids[stack]
            return "stack", f"stack of thread {tid:#x}", {"thread_id": tid}
        if module >= 0:
            path = self.mod_paths[module]
            return "module", basename(path), {"path": path}
        return "memory", "", {}


class MemoryInfo:
    """MemoryInfoList lookups: for each range, the perms and attrs of the entry holding its start.

    Entries repeat a handful of (protect, state, type) combinations; each combination is described
    once and ranges refer to it by code, which keeps the per-range cost to a list lookup.
    """

    NONE: tuple[str | None, dict[str, Any]] = (None, {})

    def __init__(self, arr: np.ndarray | None):
        self.bases: np.ndarray | None = None
        if arr is None or len(arr) == 0:
            return
        order = np.argsort(arr["base"], kind="stable")
        arr = arr[order]
        self.bases = np.ascontiguousarray(arr["base"])
        self.ends = saturating_end(self.bases, arr["size"])
        seen: dict[tuple[int, int, int], int] = {}
        keys = zip(arr["protect"].tolist(), arr["state"].tolist(), arr["type"].tolist(), strict=True)
        self.codes = np.array([seen.setdefault(k, len(seen)) for k in keys], dtype=np.int64)
        self.descs = [self.describe(*k) for k in seen] + [self.NONE]  # code -1 -> NONE

    @staticmethod
    def describe(protect: int, state: int, type_: int) -> tuple[str | None, dict[str, Any]]:
        attrs = {
            "protect": f"{protect:#x}",
            "state": S.MEM_STATES.get(state, f"{state:#x}"),
            "type": S.MEM_TYPES.get(type_, f"{type_:#x}"),
        }
        return S.PAGE_PERMS.get(protect & 0xFF), attrs

    def lookup(self, starts: np.ndarray) -> list[tuple[str | None, dict[str, Any]]]:
        """(perms, attrs) for each start; (None, {}) where no entry holds it."""
        if self.bases is None or len(starts) == 0:
            return [self.NONE] * len(starts)
        idx = np.searchsorted(self.bases, starts, side="right") - 1
        safe = np.maximum(idx, 0)
        hit = (idx >= 0) & (starts < self.ends[safe])
        codes = np.where(hit, self.codes[safe], -1).tolist()
        descs = self.descs
        return [descs[c] for c in codes]


def memory_regions(ctx: MinidumpState) -> tuple[list[Region], list[dict[str, int]]]:
    """Regions for every range of every memory list, and the ``details["memory"]`` rows."""
    classifier = Classifier(ctx)
    info = MemoryInfo(ctx.memory_info)
    regions: list[Region] = []
    rows: list[dict[str, int]] = []
    clipped: list[tuple[int, int]] = []
    spans: list[tuple[np.ndarray, np.ndarray]] = []
    with gc_paused():
        for ml in ctx.memory_lists:
            build_list(ctx, ml, classifier, info, regions, rows, clipped, spans)
    if clipped:
        examples = ", ".join(f"{va:#x} (file {off:#x})" for va, off in clipped[:MAX_EXAMPLES])
        ctx.warn(
            f"{len(clipped)} memory ranges lie partly or wholly past the end of the file and were "
            f"clipped: {examples}"
        )
    check_overlaps(ctx, spans)
    return regions, rows


def build_list(
    ctx: MinidumpState,
    ml: dict[str, Any],
    classifier: Classifier,
    info: MemoryInfo,
    regions: list[Region],
    rows: list[dict[str, int]],
    clipped: list[tuple[int, int]],
    spans: list[tuple[np.ndarray, np.ndarray]],
) -> None:
    """Regions and detail rows for one MemoryList or Memory64List."""
    fsize = ctx.size
    starts, sizes, offsets = ml["starts"], ml["sizes"], ml["offsets"]
    np_starts = np.asarray(starts, dtype=np.uint64)
    np_sizes = np.asarray(sizes, dtype=np.uint64)
    np_ends = saturating_end(np_starts, np_sizes)
    stack_idx, module_idx = classifier.classify(np_starts, np_ends)
    infos = info.lookup(np_starts)
    # The bytes of each range present in the file, computed for all at once (a lying size or offset
    # clips the range; one wholly past the end has none).
    # Offsets are running sums of lying sizes and may exceed 64 bits: clamp them to the file first.
    np_offsets = np.fromiter((o if o < fsize else fsize for o in offsets), dtype=np.uint64, count=len(offsets))
    present_all = np.minimum(np_sizes, np.uint64(fsize) - np_offsets)
    kept = present_all > 0
    spans.append((np_starts[kept], present_all[kept]))
    rows.extend({"vaddr": start, "size": size, "file_offset": off} for start, size, off in zip(
        starts, sizes, offsets, strict=True))
    append = regions.append
    plain = (np.asarray(stack_idx) < 0) & (np.asarray(module_idx) < 0)
    for start, size, off, present, is_plain, st, mo, (perms, info_attrs) in zip(
        starts, sizes, offsets, present_all.tolist(), plain.tolist(), stack_idx, module_idx, infos, strict=True
    ):
        if present < size:
            clipped.append((start, off))
            if present <= 0:
                continue
        if is_plain:
            append(Region(off, present, start, "memory", "", perms, None, info_attrs.copy()))
        else:
            kind, name, attrs = classifier.describe(st, mo)
            append(Region(off, present, start, kind, name, perms, None, {**attrs, **info_attrs}))


def check_overlaps(ctx: MinidumpState, spans: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """Warn when ranges overlap in the address space: one address, two different bytes."""
    if not spans:
        return
    starts = np.concatenate([s for s, _ in spans])
    if len(starts) < 2:
        return
    ends = saturating_end(starts, np.concatenate([z for _, z in spans]))
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    reach = np.maximum.accumulate(ends)[:-1]  # the furthest end of all earlier ranges
    bad = starts[1:][starts[1:] < reach]
    if len(bad):
        examples = ", ".join(f"{int(va):#x}" for va in bad[:MAX_EXAMPLES])
        ctx.warn(f"{len(bad)} memory ranges overlap an earlier range in the address space: {examples}")
