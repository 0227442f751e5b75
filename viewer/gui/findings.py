"""The findings of a scan: a flat table model, a group-by-secret tree model, a filter proxy, the panel.

* :class:`FindingsModel` — one row per :class:`~viewer.scan.finding.Finding`; ``add_findings`` appends
  a batch (provisional results while a scan runs), ``set_findings`` replaces everything (the final result).
* :class:`FindingsFilterProxy` — kinds, minimum confidence and a text filter on key id / region; sorts by
  :data:`SORT_ROLE` (numbers for offsets, fixed-width hex for addresses, rank for confidence).
* :class:`FindingsTreeModel` — "group by secret": one parent per key id (a finding without a key id is a
  group of its own) with its kind, best confidence, count and matches; the locations are its children.
* :class:`FindingsPanel` — filter bar plus table or tree; ``sig_finding_selected(Finding)`` and
  ``sig_group_selected(FindingGroup)``.

Nothing here ever holds key bytes: a Finding has none (see viewer.scan.finding).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QItemSelection,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont, QFontDatabase, QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QStackedWidget,
    QTableView,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from viewer.scan.finding import Confidence, Finding

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
FINDING_ROLE = Qt.ItemDataRole.UserRole + 2  # the Finding (or FindingGroup in the tree) of a row

COL_KIND, COL_ENCODING, COL_CONFIDENCE, COL_KEY_ID, COL_REGION, COL_OFFSET, COL_VADDR, COL_MATCHES = range(8)
HEADERS = ("Kind", "Encoding", "Confidence", "Key id", "Region", "Offset", "VAddr", "Matches")
HEADER_TIPS = (
    "What was found (rsa-private-key, certificate, …)",
    "How it is stored (pem-pkcs1, der-spki, raw-bignum, …)",
    "confirmed: the key's mathematics was checked; high: well-formed but unchecked; medium/low: heuristics",
    "Fingerprint of the public half (the same key found twice has the same key id)",
    "Region of the dump holding it",
    "File offset (hex)",
    "Virtual address (hex) where the dump has one",
    "Supplied public keys this finding matches",
)
# With a case open the flat table has two more columns: the review's status and severity.
COL_STATUS, COL_SEVERITY = len(HEADERS), len(HEADERS) + 1
REVIEW_HEADERS = ("Status", "Severity")
REVIEW_TIPS = ("The case's review status of this finding (Review panel)",
               "The severity the examiner gave this finding (Review panel)")
ReviewLookup = Callable[[Finding], "tuple[str, str] | None"]
KEY_ID_SHORT = 12
_NUMERIC = (COL_OFFSET, COL_VADDR)
_NO_PARENT = QModelIndex()
AnyIndex = QModelIndex | QPersistentModelIndex

CONFIDENCE_COLOURS = {
    Confidence.CONFIRMED: "#b9e4bc",  # green
    Confidence.HIGH: "#ffd89a",  # amber
    Confidence.MEDIUM: "#fff3b0",  # pale yellow
    Confidence.LOW: "#e6e6e6",  # grey
}
CONFIDENCE_MEANING = {
    Confidence.CONFIRMED: "the key's mathematics was checked (or a supplied public key matched)",
    Confidence.HIGH: "a well-formed structure, but its mathematics could not be checked",
    Confidence.MEDIUM: "a heuristic match: looks like key material, not verified",
    Confidence.LOW: "a weak heuristic: may well be something else",
}


def short_key_id(key_id: str | None) -> str:
    if not key_id:
        return ""
    return key_id if len(key_id) <= KEY_ID_SHORT + 1 else key_id[:KEY_ID_SHORT] + "…"


def _hex(value: int | None) -> str:
    return "—" if value is None else f"{value:#x}"


def _fixed_font() -> Any:
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)


def accepts(f: Finding, kinds: set[str] | None, min_confidence: Confidence, text: str) -> bool:
    """The filter of the panel, shared by the proxy (table) and the tree: kind in ``kinds`` (None: all),
    confidence at least ``min_confidence``, ``text`` (case-insensitive) in key id or region."""
    if kinds is not None and f.kind not in kinds:
        return False
    if f.confidence < min_confidence:
        return False
    if text:
        needle = text.lower()
        if needle not in (f.key_id or "").lower() and needle not in (f.region or "").lower():
            return False
    return True


def _cell(f: Finding, col: int) -> str:
    if col == COL_KIND:
        return f.kind
    if col == COL_ENCODING:
        return f.encoding
    if col == COL_CONFIDENCE:
        return str(f.confidence)
    if col == COL_KEY_ID:
        return short_key_id(f.key_id)
    if col == COL_REGION:
        return f.region or ""
    if col == COL_OFFSET:
        return f"{f.offset:#x}"
    if col == COL_VADDR:
        return _hex(f.vaddr)
    return ", ".join(f.matches)


def _sort_key(f: Finding, col: int) -> Any:
    if col == COL_OFFSET:
        return f.offset
    if col == COL_VADDR:
        # Fixed-width text: addresses can exceed a signed 64-bit QVariant.
        return "" if f.vaddr is None else f"{f.vaddr:016x}"
    if col == COL_CONFIDENCE:
        return int(f.confidence)
    if col == COL_KEY_ID:
        return f.key_id or ""
    return _cell(f, col).lower()


def _header(section: int, orientation: Qt.Orientation, role: int, headers: Sequence[str]) -> Any:
    if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(headers):
        return None
    if role == Qt.ItemDataRole.DisplayRole:
        return headers[section]
    if role == Qt.ItemDataRole.ToolTipRole:
        return HEADER_TIPS[section]
    return None


class _Style:
    """Fonts and brushes shared by the models (built once, in the GUI thread)."""

    def __init__(self) -> None:
        self.fixed = _fixed_font()
        self.fixed_bold = _fixed_font()
        self.fixed_bold.setBold(True)
        self.bold = QFont()
        self.bold.setBold(True)
        self.bg = {c: QBrush(QColor(v)) for c, v in CONFIDENCE_COLOURS.items()}
        self.fg = QBrush(QColor("#000000"))

    def data(self, f: Finding, col: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return _cell(f, col)
        if role == SORT_ROLE:
            return _sort_key(f, col)
        if role == FINDING_ROLE:
            return f
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_KEY_ID and f.key_id:
                return f.key_id
            if col == COL_CONFIDENCE:
                return f"{f.confidence}: {CONFIDENCE_MEANING[f.confidence]}"
            if col == COL_OFFSET:
                return f"file offset {f.offset:#x} ({f.offset}), {f.length} bytes"
            if col == COL_MATCHES and f.matches:
                return "\n".join(f.matches)
            return None
        if role == Qt.ItemDataRole.FontRole and col in (COL_KEY_ID, COL_OFFSET, COL_VADDR):
            return self.fixed
        if role == Qt.ItemDataRole.BackgroundRole and col == COL_CONFIDENCE:
            return self.bg.get(f.confidence)
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_CONFIDENCE:
            return self.fg
        if role == Qt.ItemDataRole.TextAlignmentRole and col in _NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


# -- the flat table ----------------------------------------------------------------------------------
class FindingsModel(QAbstractTableModel):
    """Read-only table of findings, one per row, in the order given.

    With a ``review`` lookup (``finding -> (status, severity)`` or None when the case does not hold the
    finding) the table has the columns :data:`COL_STATUS` and :data:`COL_SEVERITY` too; without one (no
    case open) it has none of them.
    """

    def __init__(self, findings: Sequence[Finding] = (), parent: QObject | None = None,
                 review: ReviewLookup | None = None):
        super().__init__(parent)
        self._style = _Style()
        self._findings: list[Finding] = list(findings)
        self._review: ReviewLookup | None = review

    @property
    def has_review(self) -> bool:
        return self._review is not None

    def set_review_lookup(self, review: ReviewLookup | None) -> None:
        """Show (a callable) or hide (None) the review columns."""
        self.beginResetModel()
        self._review = review
        self.endResetModel()

    def refresh_review(self) -> None:
        """The review of some finding changed: repaint the review columns."""
        if self._review is not None and self._findings:
            self.dataChanged.emit(self.index(0, COL_STATUS), self.index(len(self._findings) - 1, COL_SEVERITY))

    def review_of(self, f: Finding) -> tuple[str, str] | None:
        if self._review is None:
            return None
        try:
            return self._review(f)
        except Exception:  # noqa: BLE001 - a lookup failure shows as an empty cell, never a crash in paint
            return None

    @property
    def findings(self) -> list[Finding]:
        return list(self._findings)

    def set_findings(self, findings: Iterable[Finding]) -> None:
        self.beginResetModel()
        self._findings = list(findings)
        self.endResetModel()

    def add_findings(self, batch: Iterable[Finding]) -> None:
        batch = list(batch)
        if not batch:
            return
        first = len(self._findings)
        self.beginInsertRows(_NO_PARENT, first, first + len(batch) - 1)
        self._findings.extend(batch)
        self.endInsertRows()

    def clear(self) -> None:
        self.set_findings([])

    def finding_at(self, row: int) -> Finding:
        return self._findings[row]

    def rowCount(self, parent: AnyIndex = _NO_PARENT) -> int:
        return 0 if parent.isValid() else len(self._findings)

    def columnCount(self, parent: AnyIndex = _NO_PARENT) -> int:
        if parent.isValid():
            return 0
        return len(HEADERS) + (len(REVIEW_HEADERS) if self._review is not None else 0)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if self._review is not None and orientation == Qt.Orientation.Horizontal and section in (COL_STATUS,
                                                                                                  COL_SEVERITY):
            if role == Qt.ItemDataRole.DisplayRole:
                return REVIEW_HEADERS[section - COL_STATUS]
            if role == Qt.ItemDataRole.ToolTipRole:
                return REVIEW_TIPS[section - COL_STATUS]
            return None
        return _header(section, orientation, role, HEADERS)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._findings):
            return None
        col = index.column()
        if col >= len(HEADERS):
            if self._review is None or col > COL_SEVERITY:
                return None
            f = self._findings[index.row()]
            if role == FINDING_ROLE:
                return f
            if role in (Qt.ItemDataRole.DisplayRole, SORT_ROLE):
                review = self.review_of(f)
                return "" if review is None else review[col - COL_STATUS]
            return None
        return self._style.data(self._findings[index.row()], col, role)


class FindingsFilterProxy(QSortFilterProxyModel):
    """Filters a :class:`FindingsModel` by kinds, minimum confidence and text; sorts by :data:`SORT_ROLE`."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self._kinds: set[str] | None = None
        self._min = Confidence.LOW
        self._text = ""

    def set_kinds(self, kinds: Iterable[str] | None) -> None:
        self._change_filter("_kinds", None if kinds is None else set(kinds))

    def set_min_confidence(self, confidence: Confidence) -> None:
        self._change_filter("_min", Confidence(confidence))

    def set_text(self, text: str) -> None:
        self._change_filter("_text", text.strip())

    def _change_filter(self, attr: str, value: object) -> None:
        if getattr(self, attr) == value:
            return
        self.beginFilterChange()  # Qt >= 6.10: invalidateFilter() is deprecated
        setattr(self, attr, value)
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: AnyIndex) -> bool:
        model = self.sourceModel()
        if source_parent.isValid() or not isinstance(model, FindingsModel):
            return True
        return accepts(model.finding_at(source_row), self._kinds, self._min, self._text)

    def finding_at(self, row: int) -> Finding:
        f = self.index(row, 0).data(FINDING_ROLE)
        assert isinstance(f, Finding)
        return f


# -- group by secret ---------------------------------------------------------------------------------
@dataclass
class FindingGroup:
    """All findings sharing a key id (one key, wherever and however it was found)."""

    key: str
    key_id: str | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def best(self) -> Finding:
        secret = [f for f in self.findings if f.secret] or self.findings
        return max(secret, key=lambda f: (f.confidence, -f.offset))

    @property
    def kind(self) -> str:
        return self.best.kind

    @property
    def confidence(self) -> Confidence:
        return max(f.confidence for f in self.findings)

    @property
    def secret(self) -> bool:
        return any(f.secret for f in self.findings)

    @property
    def matches(self) -> list[str]:
        out: list[str] = []
        for f in self.findings:
            out.extend(m for m in f.matches if m not in out)
        return out


def group_findings(findings: Iterable[Finding]) -> list[FindingGroup]:
    """Groups by key id, best confidence first, then by the first location."""
    groups: dict[str, FindingGroup] = {}
    for f in findings:
        key = f.key_id or f"finding:{f.id}"
        groups.setdefault(key, FindingGroup(key, f.key_id)).findings.append(f)
    out = list(groups.values())
    for g in out:
        g.findings.sort(key=lambda f: (f.offset, f.length, f.kind))
    out.sort(key=lambda g: (not g.secret, -g.confidence, g.findings[0].offset))
    return out


TREE_HEADERS = ("Kind", "Encoding", "Confidence", "Key id", "Region", "Offset", "VAddr", "Matches")
_GROUP = 0  # internalId of a top-level (group) index; a child's internalId is its group's row + 1


class FindingsTreeModel(QAbstractItemModel):
    """Two levels: groups (one per key id) and their findings. Same columns as the table; a group row
    shows kind, best confidence, key id, "N locations" in the Offset column and the union of matches."""

    def __init__(self, findings: Iterable[Finding] = (), parent: QObject | None = None):
        super().__init__(parent)
        self._style = _Style()
        self._groups: list[FindingGroup] = group_findings(findings)

    @property
    def groups(self) -> list[FindingGroup]:
        return list(self._groups)

    def set_findings(self, findings: Iterable[Finding]) -> None:
        self.beginResetModel()
        self._groups = group_findings(findings)
        self.endResetModel()

    def group_at(self, row: int) -> FindingGroup:
        return self._groups[row]

    def item(self, index: AnyIndex) -> Finding | FindingGroup | None:
        if not index.isValid():
            return None
        gid = index.internalId()
        if gid == _GROUP:
            return self._groups[index.row()]
        return self._groups[gid - 1].findings[index.row()]

    def index(self, row: int, column: int, parent: AnyIndex = _NO_PARENT) -> QModelIndex:
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, _GROUP)
        if parent.internalId() != _GROUP:
            return QModelIndex()
        return self.createIndex(row, column, parent.row() + 1)

    def parent(self, index: AnyIndex = _NO_PARENT) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        gid = index.internalId()
        if gid == _GROUP:
            return QModelIndex()
        return self.createIndex(gid - 1, 0, _GROUP)

    def rowCount(self, parent: AnyIndex = _NO_PARENT) -> int:
        if not parent.isValid():
            return len(self._groups)
        if parent.column() != 0 or parent.internalId() != _GROUP:
            return 0
        return len(self._groups[parent.row()].findings)

    def columnCount(self, parent: AnyIndex = _NO_PARENT) -> int:
        return len(TREE_HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        return _header(section, orientation, role, TREE_HEADERS)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        item = self.item(index)
        if item is None:
            return None
        col = index.column()
        if isinstance(item, Finding):
            return self._style.data(item, col, role)
        g = item
        if role == FINDING_ROLE:
            return g
        if role in (Qt.ItemDataRole.DisplayRole, SORT_ROLE):
            n = len(g.findings)
            if col == COL_KIND:
                return g.kind
            if col == COL_ENCODING:
                encodings = sorted({f.encoding for f in g.findings})
                return encodings[0] if len(encodings) == 1 else f"{len(encodings)} encodings"
            if col == COL_CONFIDENCE:
                return int(g.confidence) if role == SORT_ROLE else str(g.confidence)
            if col == COL_KEY_ID:
                return short_key_id(g.key_id) if role == Qt.ItemDataRole.DisplayRole else (g.key_id or "")
            if col == COL_REGION:
                regions = sorted({f.region or "" for f in g.findings})
                return regions[0] if len(regions) == 1 else f"{len(regions)} regions"
            if col == COL_OFFSET:
                return n if role == SORT_ROLE else (f"{n} location" + ("s" if n != 1 else ""))
            if col == COL_VADDR:
                return ""
            return ", ".join(g.matches)
        if role == Qt.ItemDataRole.ToolTipRole and col == COL_KEY_ID and g.key_id:
            return g.key_id
        if role == Qt.ItemDataRole.FontRole:  # group rows in bold, the key id also monospace
            return self._style.fixed_bold if col == COL_KEY_ID else self._style.bold
        if role == Qt.ItemDataRole.BackgroundRole and col == COL_CONFIDENCE:
            return self._style.bg.get(g.confidence)
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_CONFIDENCE:
            return self._style.fg
        return None


# -- the panel ---------------------------------------------------------------------------------------
ALL_KINDS = "all kinds"
MIN_CONFIDENCE_CHOICES = (
    ("any confidence", Confidence.LOW),
    ("medium or better", Confidence.MEDIUM),
    ("high or better", Confidence.HIGH),
    ("confirmed only", Confidence.CONFIRMED),
)


class FindingsPanel(QWidget):
    """Filter bar over a findings table (or, with "group by secret", a tree of key-id groups)."""

    sig_finding_selected = Signal(object)  # Finding
    sig_group_selected = Signal(object)  # FindingGroup (a parent row of the tree)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = FindingsModel(parent=self)
        self.proxy = FindingsFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.tree_model = FindingsTreeModel(parent=self)

        self.kind_combo = QComboBox()
        self.kind_combo.addItem(ALL_KINDS)
        self.kind_combo.setToolTip("Show one kind of finding only")
        self.kind_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.confidence_combo = QComboBox()
        for label, conf in MIN_CONFIDENCE_CHOICES:
            self.confidence_combo.addItem(label, int(conf))
        self.confidence_combo.setToolTip("Minimum confidence")
        self.text_filter = QLineEdit()
        self.text_filter.setPlaceholderText("filter key id or region…")
        self.text_filter.setClearButtonEnabled(True)
        self.group_box = QCheckBox("group by secret")
        self.group_box.setToolTip("One row per key id; its locations below it")
        self.count_label = QLabel()

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.kind_combo)
        bar.addWidget(self.confidence_combo)
        bar.addWidget(self.text_filter, 1)
        bar.addWidget(self.group_box)
        bar.addWidget(self.count_label)

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COL_OFFSET, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 6)
        self.table.setWordWrap(False)
        self.tree = QTreeView()
        self.tree.setModel(self.tree_model)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        for view in (self.table, self.tree):
            header = view.horizontalHeader() if isinstance(view, QTableView) else view.header()
            header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
            header.setStretchLastSection(True)
        self._size_columns()

        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.tree)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(bar)
        layout.addWidget(self.stack, 1)

        self.kind_combo.currentIndexChanged.connect(self._filters_changed)
        self.confidence_combo.currentIndexChanged.connect(self._filters_changed)
        self.text_filter.textChanged.connect(self._filters_changed)
        self.group_box.toggled.connect(self._group_toggled)
        self.table.selectionModel().selectionChanged.connect(self._table_selection)
        self.tree.selectionModel().selectionChanged.connect(self._tree_selection)
        self.model.rowsInserted.connect(self._rows_changed)
        self.model.modelReset.connect(self._rows_changed)
        self._update_count()

    # -- data ----------------------------------------------------------------------------------
    def set_findings(self, findings: Iterable[Finding]) -> None:
        """Replace every finding (the final result of a scan replaces its provisional batches)."""
        self.model.set_findings(findings)

    def add_findings(self, batch: Iterable[Finding]) -> None:
        self.model.add_findings(batch)

    def clear(self) -> None:
        self.model.clear()

    def set_review_lookup(self, review: ReviewLookup | None) -> None:
        """Status and Severity columns from the open case (None: no case, no such columns)."""
        if review is None and not self.model.has_review:
            return
        self.model.set_review_lookup(review)
        self._size_columns()
        if review is not None:
            fm = self.table.fontMetrics()
            self.table.setColumnWidth(COL_STATUS, fm.horizontalAdvance("needs-more-information") + 16)
            self.table.setColumnWidth(COL_SEVERITY, fm.horizontalAdvance("critical") + 20)

    def refresh_review(self) -> None:
        self.model.refresh_review()

    @property
    def grouped(self) -> bool:
        return self.group_box.isChecked()

    def filters(self) -> tuple[set[str] | None, Confidence, str]:
        kind = self.kind_combo.currentText()
        kinds = None if self.kind_combo.currentIndex() <= 0 else {kind}
        conf = Confidence(self.confidence_combo.currentData() or Confidence.LOW)
        return kinds, conf, self.text_filter.text().strip()

    def visible_findings(self) -> list[Finding]:
        """The findings the current view shows, in its order (flattened in group mode)."""
        if self.grouped:
            return [f for g in self.tree_model.groups for f in g.findings]
        return [self.proxy.finding_at(r) for r in range(self.proxy.rowCount())]

    # -- reactions -----------------------------------------------------------------------------
    def _rows_changed(self, *args: object) -> None:
        kinds = sorted({f.kind for f in self.model.findings})
        current = self.kind_combo.currentText()
        have = [self.kind_combo.itemText(i) for i in range(1, self.kind_combo.count())]
        if kinds != have:
            self.kind_combo.blockSignals(True)
            self.kind_combo.clear()
            self.kind_combo.addItem(ALL_KINDS)
            self.kind_combo.addItems(kinds)
            i = self.kind_combo.findText(current)
            self.kind_combo.setCurrentIndex(max(0, i))
            self.kind_combo.blockSignals(False)
            if i < 0 and current != ALL_KINDS:
                self._filters_changed()
        if self.grouped:
            self._rebuild_tree()
        self._update_count()

    def _filters_changed(self, *args: object) -> None:
        kinds, conf, text = self.filters()
        self.proxy.set_kinds(kinds)
        self.proxy.set_min_confidence(conf)
        self.proxy.set_text(text)
        if self.grouped:
            self._rebuild_tree()
        self._update_count()

    def _rebuild_tree(self) -> None:
        kinds, conf, text = self.filters()
        self.tree_model.set_findings(f for f in self.model.findings if accepts(f, kinds, conf, text))
        if len(self.tree_model.groups) <= 50:
            self.tree.expandToDepth(0)

    def _group_toggled(self, on: bool) -> None:
        if on:
            self._rebuild_tree()
            self.stack.setCurrentWidget(self.tree)
        else:
            self.stack.setCurrentWidget(self.table)
        self._update_count()

    def _update_count(self) -> None:
        total = self.model.rowCount()
        if self.grouped:
            shown = sum(len(g.findings) for g in self.tree_model.groups)
            text = f"{len(self.tree_model.groups)} keys, {shown} of {total} findings"
        else:
            text = f"{self.proxy.rowCount()} of {total} findings"
        self.count_label.setText(text)

    def _size_columns(self) -> None:
        fm = self.table.fontMetrics()
        fx = QFontMetrics(_fixed_font())
        widths = {
            COL_KIND: fm.horizontalAdvance("rsa-private-key") + 16,
            COL_ENCODING: fm.horizontalAdvance("cryptoapi-privatekeyblob") + 16,
            COL_CONFIDENCE: fm.horizontalAdvance("confirmed") + 20,
            COL_KEY_ID: fx.horizontalAdvance("W" * (KEY_ID_SHORT + 1)) + 28,
            COL_REGION: fm.horizontalAdvance("stack of thread 0x0000") + 12,
            COL_OFFSET: fx.horizontalAdvance("0x000000000") + 16,
            COL_VADDR: fx.horizontalAdvance("0x7fff00000000") + 16,
        }
        for col, w in widths.items():
            self.table.setColumnWidth(col, w)
            self.tree.setColumnWidth(col, w)
        self.tree.setColumnWidth(COL_KIND, widths[COL_KIND] + 30)

    def _table_selection(self, selected: QItemSelection, deselected: QItemSelection) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            f = rows[0].data(FINDING_ROLE)
            if isinstance(f, Finding):
                self.sig_finding_selected.emit(f)

    def _tree_selection(self, selected: QItemSelection, deselected: QItemSelection) -> None:
        rows = self.tree.selectionModel().selectedRows()
        if not rows:
            return
        item = self.tree_model.item(rows[0])
        if isinstance(item, Finding):
            self.sig_finding_selected.emit(item)
        elif isinstance(item, FindingGroup):
            self.sig_group_selected.emit(item)

    def select_row(self, row: int) -> None:
        """Select the ``row``-th visible row of the table (or the ``row``-th group in group mode)."""
        if self.grouped:
            self.tree.setCurrentIndex(self.tree_model.index(row, 0))
        else:
            self.table.selectRow(row)
