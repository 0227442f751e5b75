"""A Qt item model over the dump's structure tree (:class:`viewer.evidence.model.Node`).

Why an adapter and not a copy: a parsed dump can have a Memory64List of 100,000 descriptors under one
node, and parsers give such children lazily (``Node.children`` may be a callable). The model therefore
wraps nodes only when the view asks: a node's children are evaluated when it is first expanded, and rows
are handed to the view in batches of :data:`FETCH_BATCH` through ``canFetchMore``/``fetchMore`` (the
tree view fetches the next batch when it is scrolled to the bottom). Nothing is expanded up front.

Columns: Field, Value, Offset (hex file offset), Length (bytes). The raw numbers are also available
through :data:`OFFSET_ROLE` and :data:`LENGTH_ROLE`, and :meth:`StructureModel.node` returns the node,
so the window can select the bytes of any field.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QObject, Qt
from PySide6.QtGui import QFontDatabase

from viewer.evidence.model import Node
from viewer.gui.item_models import NO_PARENT, AnyIndex, header_data
from viewer.gui.plain import tip
from viewer.units import human_size
from viewer.workspace.structure_view import decoded

FETCH_BATCH = 1000
MAX_VALUE_CHARS = 160
MAX_TOOLTIP_CHARS = 2000
BYTES_PREVIEW = 32
HEX_FROM = 0x10000  # ints at least this big are shown in hex (see format_value)

OFFSET_ROLE = Qt.ItemDataRole.UserRole + 1
LENGTH_ROLE = Qt.ItemDataRole.UserRole + 2

COL_FIELD, COL_VALUE, COL_OFFSET, COL_LENGTH = range(4)
HEADERS = ("Field", "Value", "Offset", "Length")
HEADER_TIPS = (
    "The parsed field or structure",
    "Its value as parsed (long values are shortened; the tooltip has more)",
    "File offset of its first byte in the dump (hex)",
    "Number of bytes it covers in the dump file",
)



def _one_line(text: str) -> str:
    """Control characters made visible, so one value is always one row high."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ("⏎" if ch == "\n" else "·") for ch in text)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_value(value: Any) -> tuple[str, str]:
    """``(display, tooltip)`` for a node value: readable in one short line, more in the tooltip.

    Ints below 0x10000 (counts, sizes, flags, small ids) read naturally in decimal; bigger ones in a dump
    are overwhelmingly addresses, offsets and masks, so they are shown in hex. The tooltip always has
    both. Bytes are shown as a hex preview with their length; strings and containers are shortened.
    """
    if value is None:
        return "", ""
    if isinstance(value, bool):
        return ("true" if value else "false"), ""
    if isinstance(value, int):
        both = f"{value} ({value:#x})" if value >= 0 else f"{value} (-{-value:#x})"
        return (f"{value:#x}" if abs(value) >= HEX_FROM else str(value)), both
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value[: BYTES_PREVIEW * 32])
        n = len(value)
        head = data[:BYTES_PREVIEW].hex(" ")
        display = head + (f" … ({n} bytes)" if n > BYTES_PREVIEW else "")
        return display, _clip(f"{n} bytes: {data.hex(' ')}", MAX_TOOLTIP_CHARS)
    if isinstance(value, str):
        text = value
    elif isinstance(value, list | tuple) and len(value) > 8:
        text = f"[{len(value)} items] " + ", ".join(str(v) for v in value[:8]) + ", …"
    elif isinstance(value, dict) and len(value) > 8:
        text = f"{{{len(value)} keys}} " + ", ".join(f"{k}={v}" for k, v in list(value.items())[:8]) + ", …"
    else:
        text = str(value)
    display = _clip(_one_line(text), MAX_VALUE_CHARS)
    return display, (_clip(text, MAX_TOOLTIP_CHARS) if display != text else "")


class _Item:
    """One row of the tree: a node, where it sits, and the child rows fetched so far.

    Nodes have no parent link (and ``__slots__``), so the model keeps its own light items; they also keep
    the Python objects alive that ``createIndex`` points to.
    """

    __slots__ = ("node", "parent", "row", "_all", "loaded")

    def __init__(self, node: Node | None, parent: _Item | None, row: int):
        self.node = node
        self.parent = parent
        self.row = row
        self._all: list[Node] | None = None
        self.loaded: list[_Item] = []

    def all_children(self) -> list[Node]:
        """The node's children, evaluated once; a failing lazy parser becomes one visible error row."""
        if self._all is None:
            if self.node is None:
                self._all = []
            else:
                try:
                    self._all = self.node.children
                except Exception as exc:  # noqa: BLE001 - a parser bug must not take the window down
                    self._all = [
                        Node("⚠ children not readable", self.node.offset, 0, f"{type(exc).__name__}: {exc}")
                    ]
        return self._all

    def has_children(self) -> bool:
        """Without evaluating lazy children: the expand arrow must not cost a parse."""
        if self._all is not None:
            return bool(self._all)
        return self.node is not None and self.node.has_children


class StructureModel(QAbstractItemModel):
    """Tree model of one dump's structure; the root node is the single top-level row."""

    def __init__(self, root: Node | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self._fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self._root = _Item(None, None, -1)
        self.set_root(root)

    # -- public API ------------------------------------------------------------------------------
    def set_root(self, root: Node | None) -> None:
        """Show another tree (or nothing); the old items are dropped at once."""
        self.beginResetModel()
        self._root = _Item(None, None, -1)
        if root is not None:
            self._root._all = [root]
            self._root.loaded = [_Item(root, self._root, 0)]
        self.endResetModel()

    def node(self, index: AnyIndex) -> Node | None:
        """The node behind ``index`` (any column), or None for the invisible root."""
        if not index.isValid():
            return None
        item: _Item = index.internalPointer()
        return item.node

    def index_for_offset(self, offset: int, max_scan: int = 20000) -> QModelIndex:
        """The deepest node whose bytes contain file ``offset`` (for cursor -> tree sync).

        Descends from the root, choosing at each level the smallest child that contains the offset, and
        fetches rows up to it so the view can show it. ``max_scan`` bounds the children looked at per
        level, so a 100,000-entry list costs at most that many comparisons."""
        item = self._root
        found = QModelIndex()
        while True:
            children = item.all_children()
            best = -1
            best_len = None
            for i, child in enumerate(children[:max_scan]):
                if child.length > 0 and child.offset <= offset < child.offset + child.length:
                    if best_len is None or child.length <= best_len:
                        best, best_len = i, child.length
            if best < 0:
                return found
            parent_index = found
            while len(item.loaded) <= best:
                self.fetchMore(parent_index)
            item = item.loaded[best]
            found = self.createIndex(best, 0, item)
            if not item.has_children():
                return found

    def index_for_path(self, path: list[int]) -> QModelIndex:
        """The index of the node reached from the root by child positions ``path`` (rows fetched up to
        it); the root's index for ``[]``; invalid when the path leaves the tree."""
        found = self.index(0, 0)
        item = self._item(found)
        for row in path:
            if not found.isValid() or row >= len(item.all_children()):
                return QModelIndex()
            while len(item.loaded) <= row:
                self.fetchMore(found)
            item = item.loaded[row]
            found = self.createIndex(row, 0, item)
        return found

    def total_children(self, index: AnyIndex) -> int:
        """How many children the node has in all, fetched or not (evaluates lazy children)."""
        return len(self._item(index).all_children())

    # -- QAbstractItemModel ----------------------------------------------------------------------
    def _item(self, index: AnyIndex) -> _Item:
        return index.internalPointer() if index.isValid() else self._root

    def index(self, row: int, column: int, parent: AnyIndex = NO_PARENT) -> QModelIndex:
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        return self.createIndex(row, column, self._item(parent).loaded[row])

    def parent(self, index: AnyIndex = NO_PARENT) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        item: _Item = index.internalPointer()
        up = item.parent
        if up is None or up is self._root:
            return QModelIndex()
        return self.createIndex(up.row, 0, up)

    def rowCount(self, parent: AnyIndex = NO_PARENT) -> int:
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self._item(parent).loaded)

    def columnCount(self, parent: AnyIndex = NO_PARENT) -> int:
        return len(HEADERS)

    def hasChildren(self, parent: AnyIndex = NO_PARENT) -> bool:
        if parent.isValid() and parent.column() != 0:
            return False
        return self._item(parent).has_children()

    def canFetchMore(self, parent: AnyIndex) -> bool:
        if parent.isValid() and parent.column() != 0:
            return False
        item = self._item(parent)
        if not item.has_children():
            return False
        return len(item.loaded) < len(item.all_children())

    def fetchMore(self, parent: AnyIndex) -> None:
        """Hand the view the next :data:`FETCH_BATCH` children (never all 100,000 at once)."""
        if parent.isValid() and parent.column() != 0:
            return
        item = self._item(parent)
        children = item.all_children()
        start = len(item.loaded)
        end = min(len(children), start + FETCH_BATCH)
        if end <= start:
            return
        self.beginInsertRows(parent, start, end - 1)
        item.loaded.extend(_Item(children[i], item, i) for i in range(start, end))
        self.endInsertRows()

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.TextAlignmentRole \
                and section in (COL_OFFSET, COL_LENGTH):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)  # over right-aligned numbers
        return header_data(section, orientation, role, HEADERS, HEADER_TIPS)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        value = self._cell(index, role)
        return tip(value) if role == Qt.ItemDataRole.ToolTipRole else value  # dump text shown literally

    def _cell(self, index: AnyIndex, role: int) -> Any:
        if not index.isValid():
            return None
        node: Node = index.internalPointer().node
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_FIELD:
                return _clip(_one_line(str(node.name)), MAX_VALUE_CHARS)
            if col == COL_VALUE:
                when = decoded(node.name, node.value)
                shown = format_value(node.value)[0]
                return f"{shown}  ({when})" if when else shown
            if col == COL_OFFSET:
                return f"{node.offset:#x}"
            return str(node.length)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_FIELD:
                return _clip(str(node.name), MAX_TOOLTIP_CHARS)
            if col == COL_VALUE:  # the whole value, however narrow the column (the display is elided)
                shown, more = format_value(node.value)
                when = decoded(node.name, node.value)
                text = more or shown
                if when:
                    text += f"\n{when}"
                return f"{node.name}: {text}" if text else None
            if col == COL_OFFSET:
                return f"file offset {node.offset:#x} ({node.offset})"
            end = node.offset + node.length
            size = f", {human_size(node.length)}" if node.length >= 1024 else ""
            return f"{node.length} bytes ({node.length:#x}{size}); ends at file offset {end:#x}"
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (COL_OFFSET, COL_LENGTH):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole and (
            col in (COL_OFFSET, COL_LENGTH) or (col == COL_VALUE and isinstance(node.value, bytes | bytearray))
        ):
            return self._fixed
        if role == OFFSET_ROLE:
            return node.offset
        if role == LENGTH_ROLE:
            return node.length
        return None
