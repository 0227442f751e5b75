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
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QItemSelection,
    QModelIndex,
    QObject,
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
    QLineEdit,
    QMenu,
    QStackedWidget,
    QTableView,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from viewer.gui import context_menus
from viewer.gui.item_models import NO_PARENT, AnyIndex, header_data
from viewer.gui.palette import VERDICT_MEANING, confidence_colours, role_color, verdict_colour
from viewer.gui.plain import PlainLabel, tip
from viewer.scan.finding import Confidence, Finding
from viewer.workspace.findings_view import (
    COL_CONFIDENCE,
    COL_ENCODING,
    COL_ID,
    COL_KEY_ID,
    COL_KIND,
    COL_MATCHES,
    COL_OFFSET,
    COL_REGION,
    COL_VADDR,
    CONFIDENCE_MEANING,
    HEADER_TIPS,
    HEADERS,
    KEY_ID_SHORT,
    NUMERIC_COLUMNS,
    FindingFilter,
    FindingGroup,
    accepts,
    cell_text,
    count_text,
    group_cell,
    group_findings,
    group_sort_key,
    secret_count,
    short_key_id,
    sort_key,
    tooltip,
)
from viewer.workspace.highlights import finding_role

__all__ = [
    "COL_CONFIDENCE", "COL_ENCODING", "COL_KEY_ID", "COL_KIND", "COL_MATCHES", "COL_OFFSET", "COL_REGION",
    "COL_SEVERITY", "COL_STATUS", "COL_VADDR", "CONFIDENCE_MEANING", "FINDING_ROLE", "HEADERS", "SORT_ROLE",
    "FindingFilter", "FindingGroup", "FindingsFilterProxy", "FindingsModel", "FindingsPanel",
    "FindingsTreeModel", "accepts", "group_findings", "short_key_id",
]

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
FINDING_ROLE = Qt.ItemDataRole.UserRole + 2  # the Finding (or FindingGroup in the tree) of a row

# With a case open the flat table has two more columns: the review's status and severity.
COL_STATUS, COL_SEVERITY = len(HEADERS), len(HEADERS) + 1
REVIEW_HEADERS = ("Status", "Severity")
REVIEW_TIPS = ("The case's review status of this finding (Review panel)",
               "The severity the examiner gave this finding (Review panel)")
ReviewLookup = Callable[[Finding], "tuple[str, str] | None"]


def _fixed_font() -> Any:
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)


def _header(section: int, orientation: Qt.Orientation, role: int, headers: Sequence[str]) -> Any:
    return header_data(section, orientation, role, headers, HEADER_TIPS)


class _Style:
    """Fonts and brushes shared by the models (built once, in the GUI thread)."""

    def __init__(self) -> None:
        self.fixed = _fixed_font()
        self.fixed_bold = _fixed_font()
        self.fixed_bold.setBold(True)
        self.bold = QFont()
        self.bold.setBold(True)
        self.bg = {c: QBrush(QColor(v)) for c, v in confidence_colours().items()}
        self.fg = QBrush(QColor("#000000"))
        self._swatches: dict[str, QColor] = {}

    def verdict(self, status: str, role: int) -> Any:
        """The Status cell: the reviewer's verdict in coloured bold text (the confidence is a filled cell:
        the two never look alike)."""
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"the reviewer's verdict: {status} ({VERDICT_MEANING.get(status, status)})"
        colour = verdict_colour(status)
        if colour is None:
            return None
        if role == Qt.ItemDataRole.FontRole:
            return self.bold
        return QBrush(colour)

    def swatch(self, finding: Any) -> QColor:
        """The kind column's decoration: the colour the hex view marks this finding with."""
        role = finding_role(finding)
        colour = self._swatches.get(role)
        if colour is None:
            colour = self._swatches[role] = role_color(role, opaque=True)
        return colour

    def data(self, f: Finding, col: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return cell_text(f, col)
        if role == SORT_ROLE:
            return sort_key(f, col)
        if role == FINDING_ROLE:
            return f
        if role == Qt.ItemDataRole.ToolTipRole:
            return tooltip(f, col)
        if role == Qt.ItemDataRole.DecorationRole and col == COL_KIND:
            return self.swatch(f)
        if role == Qt.ItemDataRole.FontRole and col in (COL_KEY_ID, COL_OFFSET, COL_VADDR, COL_ID):
            return self.fixed
        if role == Qt.ItemDataRole.BackgroundRole and col == COL_CONFIDENCE:
            return self.bg.get(f.confidence)
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_CONFIDENCE:
            return self.fg
        if role == Qt.ItemDataRole.TextAlignmentRole and col in NUMERIC_COLUMNS:
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
        self._sort_by: tuple[int, Qt.SortOrder] | None = None  # (column, order) once sorted

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
        self._findings = self._sorted(list(findings))
        self.endResetModel()

    def add_findings(self, batch: Iterable[Finding]) -> None:
        batch = list(batch)
        if not batch:
            return
        first = len(self._findings)
        self.beginInsertRows(NO_PARENT, first, first + len(batch) - 1)
        self._findings.extend(batch)
        self.endInsertRows()
        if self._sort_by is not None:
            self.sort(*self._sort_by)

    # -- sorting: here, in Python, one key per finding (see FindingsFilterProxy.sort) ----------------
    def sort_value(self, f: Finding, col: int) -> Any:
        """What column ``col`` sorts ``f`` by (the :data:`SORT_ROLE` of its cell)."""
        if col >= len(HEADERS):
            review = self.review_of(f) if col <= COL_SEVERITY else None
            return "" if review is None else review[col - COL_STATUS]
        return sort_key(f, col)

    def _sorted(self, findings: list[Finding]) -> list[Finding]:
        if self._sort_by is None or not 0 <= self._sort_by[0] < self.columnCount():
            return findings
        col, order = self._sort_by
        return sorted(findings, key=lambda f: self.sort_value(f, col),
                      reverse=order == Qt.SortOrder.DescendingOrder)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort the rows by ``column`` (stable; -1: keep the order). Selections and other persistent
        indexes follow their findings."""
        self._sort_by = None if column < 0 else (column, order)
        if self._sort_by is None or not self._findings:
            return
        self.layoutAboutToBeChanged.emit()
        rows = sorted(range(len(self._findings)), key=lambda r: self.sort_value(self._findings[r], column),
                      reverse=order == Qt.SortOrder.DescendingOrder)
        where = {old: new for new, old in enumerate(rows)}
        self._findings = [self._findings[r] for r in rows]
        before = self.persistentIndexList()
        self.changePersistentIndexList(before, [self.index(where[i.row()], i.column()) for i in before])
        self.layoutChanged.emit()

    def clear(self) -> None:
        self.set_findings([])

    def finding_at(self, row: int) -> Finding:
        return self._findings[row]

    def rowCount(self, parent: AnyIndex = NO_PARENT) -> int:
        return 0 if parent.isValid() else len(self._findings)

    def columnCount(self, parent: AnyIndex = NO_PARENT) -> int:
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
        value = self._cell(index, role)
        return tip(value) if role == Qt.ItemDataRole.ToolTipRole else value  # dump text shown literally

    def _cell(self, index: AnyIndex, role: int) -> Any:
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
            if col == COL_STATUS and role in (Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.FontRole,
                                              Qt.ItemDataRole.ToolTipRole):
                review = self.review_of(f)
                return None if review is None else self._style.verdict(review[0], role)
            return None
        return self._style.data(self._findings[index.row()], col, role)


class FindingsFilterProxy(QSortFilterProxyModel):
    """Filters a :class:`FindingsModel` by kinds, minimum confidence and text. Sorting is the source
    model's: Qt's own sort would ask the Python model for a cell twice per comparison (5,000 findings: 0.6 s
    with the window frozen at the end of a scan), the model sorts its list with one key per finding."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self._kinds: set[str] | None = None
        self._min = Confidence.LOW
        self._text = ""
        self._order = Qt.SortOrder.AscendingOrder

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        model = self.sourceModel()
        if not isinstance(model, FindingsModel):
            super().sort(column, order)
            return
        self._order = order
        model.sort(column, order)

    def sortOrder(self) -> Qt.SortOrder:  # noqa: N802 - Qt's name
        return self._order

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
        return accepts(model.finding_at(source_row), self._kinds, self._min, self._text)  # see FindingFilter

    def finding_at(self, row: int) -> Finding:
        f = self.index(row, 0).data(FINDING_ROLE)
        assert isinstance(f, Finding)
        return f


# -- group by secret (the grouping itself: viewer.workspace.findings_view) ----------------------------
TREE_HEADERS = HEADERS
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

    def index(self, row: int, column: int, parent: AnyIndex = NO_PARENT) -> QModelIndex:
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, _GROUP)
        if parent.internalId() != _GROUP:
            return QModelIndex()
        return self.createIndex(row, column, parent.row() + 1)

    def parent(self, index: AnyIndex = NO_PARENT) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        gid = index.internalId()
        if gid == _GROUP:
            return QModelIndex()
        return self.createIndex(gid - 1, 0, _GROUP)

    def rowCount(self, parent: AnyIndex = NO_PARENT) -> int:
        if not parent.isValid():
            return len(self._groups)
        if parent.column() != 0 or parent.internalId() != _GROUP:
            return 0
        return len(self._groups[parent.row()].findings)

    def columnCount(self, parent: AnyIndex = NO_PARENT) -> int:
        return len(TREE_HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        return _header(section, orientation, role, TREE_HEADERS)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        value = self._cell(index, role)
        return tip(value) if role == Qt.ItemDataRole.ToolTipRole else value  # dump text shown literally

    def _cell(self, index: AnyIndex, role: int) -> Any:
        item = self.item(index)
        if item is None:
            return None
        col = index.column()
        if isinstance(item, Finding):
            return self._style.data(item, col, role)
        g = item
        if role == FINDING_ROLE:
            return g
        if role == Qt.ItemDataRole.DisplayRole:
            return group_cell(g, col)
        if role == SORT_ROLE:
            return group_sort_key(g, col)
        if role == Qt.ItemDataRole.ToolTipRole and col == COL_KEY_ID and g.key_id:
            return g.key_id
        if role == Qt.ItemDataRole.DecorationRole and col == COL_KIND:
            return self._style.swatch(g.best)
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
    ("math-checked only", Confidence.CONFIRMED),
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
        self.count_label = PlainLabel()

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
            header.setStretchLastSection(False)
        self._size_columns()

        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.tree)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(bar)
        layout.addWidget(self.stack, 1)

        # right-click on a finding: the window's actions on it (copy location, key id, export this finding)
        self.finding_actions: list[Callable[[Finding, QMenu], None]] = []
        context_menus.install(self.table, self._table_menu)
        context_menus.install(self.tree, self._tree_menu)

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

    def current_filter(self) -> FindingFilter:
        kinds, conf, text = self.filters()
        return FindingFilter(None if kinds is None else frozenset(kinds), conf, text)

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
        self.tree_model.set_findings(self.current_filter().apply(self.model.findings))
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
            text = count_text(total, shown, sum(1 for g in self.tree_model.groups if g.secret))
        else:
            text = count_text(total, self.proxy.rowCount(), secret_count(self.model.findings))
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
            COL_ID: fx.horizontalAdvance("0" * 16) + 16,
        }
        for col, w in widths.items():
            self.table.setColumnWidth(col, w)
            self.tree.setColumnWidth(col, w)
        for view in (self.table, self.tree):  # Matches takes the spare width, not the last column
            header = view.horizontalHeader() if isinstance(view, QTableView) else view.header()
            header.setSectionResizeMode(COL_MATCHES, QHeaderView.ResizeMode.Stretch)
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

    def show_finding(self, finding: Finding) -> bool:
        """Select ``finding``'s row (clearing a filter that hides it); False when it is not listed."""
        if finding not in self.model.findings:
            return False
        if self.grouped:
            for g_row, g in enumerate(self.tree_model.groups):
                if finding in g.findings:
                    index = self.tree_model.index(g.findings.index(finding), 0, self.tree_model.index(g_row, 0))
                    selection = self.tree.selectionModel()
                    selection.blockSignals(True)
                    self.tree.setCurrentIndex(index)
                    selection.blockSignals(False)
                    self.tree.scrollTo(index)
                    return True
        source = self.model.index(self.model.findings.index(finding), 0)
        if not self.proxy.mapFromSource(source).isValid():
            self.kind_combo.setCurrentIndex(0)
            self.confidence_combo.setCurrentIndex(0)
            self.text_filter.clear()
        row = self.proxy.mapFromSource(source)
        model = self.table.selectionModel()
        model.blockSignals(True)  # the caller selects the bytes: no second round through the signal
        self.table.selectRow(row.row())
        model.blockSignals(False)
        self.table.viewport().update()
        self.table.scrollTo(row)
        return True

    def _finding_menu(self, finding: Finding, menu: QMenu) -> None:
        for add in self.finding_actions:
            add(finding, menu)

    def _table_menu(self, index: QModelIndex, menu: QMenu) -> None:
        f = index.data(FINDING_ROLE)
        if isinstance(f, Finding):
            self._finding_menu(f, menu)

    def _tree_menu(self, index: QModelIndex, menu: QMenu) -> None:
        item = self.tree_model.item(index)
        if isinstance(item, FindingGroup):
            item = item.best  # a group's row: the actions on its best copy
        if isinstance(item, Finding):
            self._finding_menu(item, menu)

    def select_row(self, row: int) -> None:
        """Select the ``row``-th visible row of the table (or the ``row``-th group in group mode)."""
        if self.grouped:
            self.tree.setCurrentIndex(self.tree_model.index(row, 0))
        else:
            self.table.selectRow(row)
