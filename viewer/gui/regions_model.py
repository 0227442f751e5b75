"""A Qt table model over the dump's regions (:class:`viewer.evidence.model.Region`).

One row per region, in the dump's own order (a sort proxy can reorder by :data:`SORT_ROLE`, which gives
keys that sort numerically: ints for offsets and sizes, fixed-width hex text for addresses). Kept deliberately thin: 100,000 ranges of a
full-memory minidump cost one Python list and nothing per row until a row is painted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QFontDatabase

from viewer.evidence.model import Region
from viewer.gui.item_models import AnyIndex, FlatTable
from viewer.gui.plain import tip
from viewer.units import human_size

SORT_ROLE = Qt.ItemDataRole.UserRole + 1

COL_OFFSET, COL_SIZE, COL_VADDR, COL_KIND, COL_NAME, COL_PERMS = range(6)
HEADERS = ("File offset", "Size", "Virtual address", "Kind", "Name", "Perms")
HEADER_TIPS = (
    "Where the region's bytes start in the dump file (hex)",
    "Bytes present in the dump file",
    "Address of the first byte in the process or machine (— where the format has no address space)",
    "memory, stack, module, heap, header, stream, …",
    "What the format calls it (module path, stream name, …)",
    "Protection where the format records it",
)
_NUMERIC = (COL_OFFSET, COL_SIZE, COL_VADDR)


class RegionsModel(FlatTable):
    """Read-only table of regions: file offset, size, virtual address, kind, name, perms."""

    headers = HEADERS
    tips = HEADER_TIPS

    def __init__(self, regions: Sequence[Region] = (), parent: QObject | None = None):
        super().__init__(parent)
        self._fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self._regions: list[Region] = list(regions)

    def set_regions(self, regions: Sequence[Region]) -> None:
        self.beginResetModel()
        self._regions = list(regions)
        self.endResetModel()

    def region(self, row: int) -> Region:
        return self._regions[row]

    def row_count(self) -> int:
        return len(self._regions)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        value = self._cell(index, role)
        return tip(value) if role == Qt.ItemDataRole.ToolTipRole else value  # dump text shown literally

    def _cell(self, index: AnyIndex, role: int) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._regions):
            return None
        r = self._regions[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_OFFSET:
                return f"{r.file_offset:#x}"
            if col == COL_SIZE:
                return str(r.size)
            if col == COL_VADDR:
                return "—" if r.vaddr is None else f"{r.vaddr:#x}"
            if col == COL_KIND:
                return r.kind
            if col == COL_NAME:
                return r.name
            return r.perms or ""
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_OFFSET:
                return f"file offset {r.file_offset:#x} ({r.file_offset}) to {r.end:#x}"
            if col == COL_SIZE:
                extra = ""
                if r.mem_size is not None and r.mem_size != r.size:
                    extra = f"; {r.mem_size} bytes ({r.mem_size:#x}) in the address space"
                return f"{r.size} bytes ({r.size:#x}, {human_size(r.size)}) in the file{extra}"
            if col == COL_VADDR and r.vaddr is not None:
                return f"{r.vaddr:#x} to {r.vaddr + (r.mem_size or r.size):#x}"
            if col == COL_NAME and r.name:
                return r.name
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole and col in _NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole and col in _NUMERIC:
            return self._fixed
        if role == SORT_ROLE:
            if col == COL_OFFSET:
                return r.file_offset
            if col == COL_SIZE:
                return r.size
            if col == COL_VADDR:
                # Text of fixed width: addresses can exceed a signed 64-bit QVariant (0xffffffffff600000).
                return "" if r.vaddr is None else f"{r.vaddr:016x}"
            return (r.kind, r.name, r.perms or "")[col - COL_KIND].lower()
        return None
