"""The one parse context every format parser uses: bounds, budgets, field nodes and warnings.

Every count, length and offset in a dump is attacker- or corruption-controlled. This module makes the
safe path the short one:

* **clip** a range against the file, **fit** a count into the bytes really present, **count** entries
  at an offset against the rest of the file — each with a warning when the file claims more;
* a **budget** per parse bounds what the file cannot bound by its size alone, because structures may
  point at the same bytes again and again: structures decoded one at a time (``MAX_ENTRIES``), regions
  and bulk-read entries (``MAX_REGIONS``), bytes copied out for strings (a multiple of the file size),
  and the children of one tree node (``MAX_LIST_NODES``). Running out is one warning, and what was
  decoded until then is kept; so the work to open a file is O(its size) and its memory O(what is there);
* **fields** is the one field-node builder: a node per named field of a construct struct, with its own
  file offset and length, nested structs and arrays as children.

Format packages subclass :class:`ParseContext` to hold what their decoders collect.
"""

from __future__ import annotations

import copy
import functools
import itertools
import struct as _struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import construct as cs

from viewer.evidence.model import Node
from viewer.evidence.source import ByteSource
from viewer.tasks import gc_paused

#: Regions per dump, and entries of one list read in bulk (numpy) — above the 100,000 ranges of a large
#: full-memory minidump; each costs a Python object of a few hundred bytes and a tree node.
MAX_REGIONS = 1 << 17
#: Structures decoded one at a time (construct, tens of microseconds each) in one parse, tree included.
MAX_ENTRIES = 1 << 14
#: Structs whose field nodes are built when the tree is expanded (a full walk of a hostile tree).
MAX_EXPANSIONS = 1 << 13
#: Nodes the lazily built parts of one dump's structure tree may hold in all (about 40 MB).
MAX_TREE_NODES = 200_000
#: Children of one node of the structure tree: a list of 100,000 ranges is not read in a tree (the
#: Regions table and the minimap hold every range); listing 16,384 of them keeps opening a hostile
#: 16 MiB file under 2 s, where building all 131,072 cost twice that.
MAX_LIST_NODES = 1 << 14
#: Bytes copied out of the file for strings and records reached through pointers: a few times the file
#: (a string may be pointed at twice), never less than this floor.
MIN_COPY_BUDGET = 16 * 1024 * 1024
COPY_FACTOR = 2


MAX_WARNINGS = 1000


class Warnings(list[str]):
    """The warnings of one parse, in the order they were found: the first ``MAX_WARNINGS``, then one
    line counting the rest (a hostile file can make one per entry)."""

    def add(self, message: str) -> None:
        if len(self) < MAX_WARNINGS:
            self.append(message)
            return
        more = int(self[-1].split()[1]) + 1 if len(self) > MAX_WARNINGS else 1
        line = f"... {more} more warnings not listed"
        if len(self) > MAX_WARNINGS:
            self[-1] = line
        else:
            self.append(line)


@dataclass
class Budget:
    """What one parse may still spend; shared by a context and its quiet copies (lazy tree children)."""

    entries: int = MAX_ENTRIES
    expansions: int = MAX_EXPANSIONS
    tree_nodes: int = MAX_TREE_NODES
    regions: int = MAX_REGIONS
    copy_bytes: int = MIN_COPY_BUDGET
    spent: set[str] = field(default_factory=set)  # budgets that ran out (each is warned about once)


def _hex(raw: bytes) -> Any:
    return raw.hex()


class ParseContext:
    """The state of one parse: the bytes, the warnings, the budget and the field-node builder.

    ``render_bytes`` turns a fixed-size bytes field into the value the tree shows (hex by default; a
    format overrides it, e.g. as text up to the first NUL).
    """

    render_bytes: Callable[[bytes], Any] = staticmethod(_hex)

    def __init__(self, src: ByteSource, warnings: Warnings | None = None, budget: Budget | None = None):
        self.src = src
        self.warnings = warnings if warnings is not None else Warnings()
        self.budget = budget or Budget(copy_bytes=max(MIN_COPY_BUDGET, COPY_FACTOR * src.size))

    @property
    def size(self) -> int:
        return self.src.size

    # -- warnings --------------------------------------------------------------------------------
    def warn(self, message: str) -> None:
        self.warnings.add(message)

    def quiet(self) -> ParseContext:
        """A copy whose warnings go nowhere, for tree children built on expansion after the parse.

        It shares the budget: what the tree builds later still counts against the file.
        """
        twin = copy.copy(self)
        twin.warnings = Warnings()
        return twin

    def _exhausted(self, which: str, message: str) -> None:
        if which not in self.budget.spent:
            self.budget.spent.add(which)
            self.warn(message)

    # -- bounds ----------------------------------------------------------------------------------
    def clip(self, offset: int, size: int, what: str) -> int:
        """Bytes of [offset, offset+size) present in the file; a warning when the file is shorter."""
        if size <= 0:
            return 0
        if offset >= self.size:
            self.warn(f"{what}: offset {offset:#x} is past the end of the file ({self.size:#x})")
            return 0
        present = min(size, self.size - max(0, offset))
        if present < size:
            self.warn(f"{what}: {size:#x} bytes at {offset:#x} run past the end of the file; clipped")
        return present

    def fit(self, count: int, available: int, entry_size: int, what: str) -> int:
        """How many of ``count`` entries of ``entry_size`` fit in ``available`` bytes (warn if fewer)."""
        if count <= 0 or entry_size <= 0:
            return 0
        fits = max(0, available) // entry_size
        if count > fits:
            self.warn(f"{what}: count {count} exceeds the space present; only {fits} entries read")
            return fits
        return count

    def count(self, offset: int, count: int, entry_size: int, what: str) -> int:
        """How many of ``count`` entries of ``entry_size`` bytes at ``offset`` really lie in the file."""
        if count <= 0 or entry_size <= 0:
            return 0
        fits = self.src.available(offset) // entry_size
        if count > fits:
            self.warn(f"{what}: count {count} at offset {offset:#x} exceeds the file; only {fits} entries present")
            return fits
        return count

    def cap(self, count: int, limit: int, what: str) -> int:
        """``count`` bounded by a fixed plausibility ``limit`` (a warning when it is more)."""
        if count > limit:
            self.warn(f"{what}: {count} is implausible; only the first {limit} are read")
            return limit
        return max(0, count)

    # -- budget ----------------------------------------------------------------------------------
    def take(self, count: int, what: str) -> int:
        """How many of ``count`` structures may still be decoded one at a time in this parse."""
        return self._spend("entries", count, f"{what}: the file asks for more structures than one parse "
                           f"decodes ({MAX_ENTRIES}); the rest of this and later lists is not decoded")

    def take_regions(self, count: int, what: str) -> int:
        """How many of ``count`` regions (or bulk-read entries) may still be made in this parse."""
        return self._spend("regions", count, f"{what}: more than {MAX_REGIONS} memory ranges in all; only the "
                           f"first {MAX_REGIONS} are mapped")

    def _spend(self, which: str, count: int, message: str) -> int:
        left = getattr(self.budget, which)
        granted = max(0, min(count, left))
        setattr(self.budget, which, left - granted)
        if granted < count:
            self._exhausted(which, message)
        return granted

    def read_copy(self, offset: int, length: int, what: str) -> bytes:
        """Bytes reached through a pointer (a string, a record), charged to the copy budget."""
        length = max(0, min(length, self.src.available(offset)))
        if length > self.budget.copy_bytes:
            self._exhausted(
                "copy",
                f"{what}: the file's pointers reach more bytes than {COPY_FACTOR} times its size; "
                "the rest of the strings and records they point at are not read",
            )
            length = self.budget.copy_bytes
        self.budget.copy_bytes -= length
        return self.src.read(offset, length)

    # -- reads -----------------------------------------------------------------------------------
    def read(self, offset: int, length: int) -> bytes:
        return self.src.read(offset, length)

    def u32(self, offset: int) -> int | None:
        data = self.src.read(offset, 4)
        return _struct.unpack("<I", data)[0] if len(data) == 4 else None

    def parse(self, struct_: cs.Construct, offset: int, what: str, size: int | None = None) -> Any | None:
        """``struct_`` at ``offset``; None (and a warning) when it is not all in the file or malformed."""
        return parse_at(struct_, self.src, offset, size, what, self.warnings)

    def records(self, struct_: cs.Struct, offset: int, count: int, stride: int = 0) -> list[tuple[int, Any]]:
        """``count`` fixed-size structs from ``offset`` every ``stride`` bytes: [(file offset, parsed)].

        Callers bound ``count`` first (fit/count/take). Flat structs of integers are unpacked with
        :mod:`struct` into construct Containers (about ten times faster than construct's parser).
        """
        size = sizeof(struct_)
        stride = stride or size
        if count <= 0:
            return []
        data = self.src.read(offset, (count - 1) * stride + size)
        count = min(count, (len(data) - size) // stride + 1) if len(data) >= size else 0
        return [(offset + i * stride, unpack_flat(struct_, data, i * stride)) for i in range(count)]

    # -- nodes -----------------------------------------------------------------------------------
    def node(self, name: str, offset: int, length: int, value: Any = None, children: Any = None) -> Node:
        """A node clipped to the file, so the tree never points at bytes that do not exist."""
        offset = min(max(0, offset), self.size)
        length = max(0, min(length, self.size - offset))
        return Node(name, offset, length, value, children)

    def lazy(self, build: Callable[[], Iterable[Node]], total: int | None = None) -> Callable[[], list[Node]]:
        """Children built on first expansion, within the tree's node budget (``MAX_TREE_NODES`` in all,
        ``MAX_LIST_NODES`` under one node).

        ``build`` may return a generator: only the nodes that will be listed are made, so a table of
        100,000 entries costs ``MAX_LIST_NODES`` nodes, not 100,000 (``total`` then says how many the
        table has, for the "... more" line). Built without cyclic GC, as a parse is: a list of 100,000
        nodes would otherwise trigger collections over everything alive.
        """

        def children() -> list[Node]:
            budget = self.budget
            if budget.tree_nodes <= 0:
                return [Node("not listed", self.size, 0, f"the tree of this dump lists at most {MAX_TREE_NODES} nodes")]
            room = min(MAX_LIST_NODES, budget.tree_nodes)
            with gc_paused():
                made = build()
                if isinstance(made, list):
                    kids, count = made, len(made)
                else:
                    kids = list(itertools.islice(made, room + 1))
                    count = len(kids) if total is None or len(kids) <= room else max(total, len(kids))
            if count > room:
                last = kids[room - 1]
                kids = kids[: room - 1]
                known = total is not None or isinstance(made, list)
                label = f"... {count - room + 1} more" if known else "... more"
                kids.append(Node(label, last.offset, 0, "not listed in the tree"))
            budget.tree_nodes -= len(kids)
            return kids

        return children

    def fields(
        self,
        struct_: cs.Struct,
        value: Any,
        offset: int,
        fmt: Callable[[str, Any], Any] | None = None,
        limit: int | None = None,
    ) -> list[Node]:
        """One node per named field of a parsed struct, each at its own file offset and length.

        Why from the declaration: the GUI selects the exact bytes of any field, and the offsets come from
        the construct struct itself rather than a second, hand-kept table. Fields named with a leading
        underscore (padding in the spec) take space but no node; fields ending past ``limit`` (a
        truncated file) are left out; nested structs and arrays get children. ``fmt(name, value)``
        renders a leaf's value where the format wants more than the default.
        """
        out: list[Node] = []
        pos = offset
        for name, inner, fixed in _field_table(struct_):
            item = value.get(name) if name else None
            size = fixed if fixed is not None else _field_size(inner, item)
            if name and not name.startswith("_") and (limit is None or pos + size <= limit):
                out.append(self._field(name, inner, item, pos, size, fmt, limit))
            pos += size
        return out

    def _field(
        self, name: str, sub: cs.Construct, item: Any, pos: int, size: int,
        fmt: Callable[[str, Any], Any] | None, limit: int | None,
    ) -> Node:
        if isinstance(sub, cs.Struct):
            return self.node(name, pos, size, None, self.fields(sub, item, pos, fmt, limit))
        if isinstance(sub, cs.Array):
            elem = _unwrap(sub.subcon)
            step = sizeof(elem)
            if isinstance(elem, cs.Struct):
                kids = [self.node(f"[{i}]", pos + i * step, step, None, self.fields(elem, v, pos + i * step, fmt, limit))
                        for i, v in enumerate(item)]
                return self.node(name, pos, size, f"{len(kids)} entries", kids)
            kids = [self.node(f"[{i}]", pos + i * step, step, self._leaf(name, v, fmt)) for i, v in enumerate(item)]
            return self.node(name, pos, size, [self._leaf(name, v, fmt) for v in item], kids)
        return self.node(name, pos, size, self._leaf(name, item, fmt))

    def _leaf(self, name: str, item: Any, fmt: Callable[[str, Any], Any] | None) -> Any:
        if fmt is not None:
            return fmt(name, item)
        if isinstance(item, bytes):
            return self.render_bytes(item)
        return item

    def struct_node(self, name: str, struct_: cs.Struct, value: Any, offset: int, summary: Any = None) -> Node:
        """A node for a whole struct whose field children are built only when it is expanded.

        Expansions are counted (``MAX_EXPANSIONS``): walking a tree of a million entries stops there
        instead of building ten million field nodes.
        """
        return self.node(name, offset, sizeof(struct_), summary, self.lazy_fields(struct_, value, offset))

    def lazy_fields(
        self, struct_: cs.Struct, value: Any, offset: int, fmt: Callable[[str, Any], Any] | None = None
    ) -> Callable[[], list[Node]]:
        """The field children of a struct, built on expansion while the budget lasts.

        ``value`` is the parsed struct, a callable giving it, or None to unpack it from the file then.
        """

        def children() -> list[Node]:
            if self.budget.expansions <= 0 or self.budget.tree_nodes <= 0:
                return []  # past the budget (MAX_EXPANSIONS, MAX_TREE_NODES) the struct shows no fields
            self.budget.expansions -= 1
            self.budget.tree_nodes -= len(getattr(struct_, "subcons", ()))
            if value is None:  # parse it now, from the file
                parsed = unpack_flat(struct_, self.read(offset, sizeof(struct_))) if isinstance(struct_, cs.Struct) else None
                if parsed is None or len(self.read(offset, sizeof(struct_))) < sizeof(struct_):
                    return []
            else:
                parsed = value() if callable(value) else value
            return self.fields(struct_, parsed, offset, fmt)  # a handful of nodes: no GC pause needed

        return children


_FIELD_TABLES: dict[int, list[tuple[str | None, cs.Construct, int | None]]] = {}


def _field_table(struct_: cs.Struct) -> list[tuple[str | None, cs.Construct, int | None]]:
    """(name, construct behind the name, size or None when it depends on the value) per field, computed
    once per struct: construct's sizeof walks the declaration every time it is asked."""
    table = _FIELD_TABLES.get(id(struct_))
    if table is None:
        table = []
        for sub in struct_.subcons:
            try:
                size: int | None = int(sub.sizeof())
            except cs.SizeofError:
                size = None
            table.append((sub.name, _unwrap(sub), size))
        _FIELD_TABLES[id(struct_)] = table
    return table


def _unwrap(sub: cs.Construct) -> cs.Construct:
    """The construct behind a name and padding (``"x" / Padded(n, S)`` is the struct S)."""
    while isinstance(sub, cs.Renamed | cs.Padded):
        sub = sub.subcon
    return sub


_SIZES: dict[int, int] = {}


def sizeof(sub: cs.Construct) -> int:
    """``sub.sizeof()``, computed once per construct (construct walks the declaration each time)."""
    size = _SIZES.get(id(sub))
    if size is None:
        size = _SIZES[id(sub)] = int(sub.sizeof())
    return size


def _field_size(sub: cs.Construct, value: Any) -> int:
    try:
        return int(sub.sizeof())
    except cs.SizeofError:
        inner = _unwrap(sub)
        if isinstance(inner, cs.Array) and isinstance(value, list):
            return len(value) * int(inner.subcon.sizeof())
        raise


_Shape = list[tuple[str | None, Any]]  # (field name, None for a leaf | an int for an array | a nested shape)
_FLAT_CACHE: dict[int, tuple[_struct.Struct, _Shape] | None] = {}


class _NotFlat(Exception):
    pass


def _flatten(struct_: cs.Struct, parts: list[str], orders: set[str]) -> _Shape:
    shape: _Shape = []
    for sub in struct_.subcons:
        name = sub.name
        inner = sub.subcon if isinstance(sub, cs.Renamed) else sub
        if isinstance(inner, cs.FormatField) and name:
            orders.add(inner.fmtstr[0])
            parts.append(inner.fmtstr[1:])
            shape.append((name, None))
        elif isinstance(inner, cs.Padded) and inner.subcon is cs.Pass and not name:
            parts.append(f"{inner.sizeof()}x")
        elif isinstance(inner, cs.Bytes) and isinstance(inner.length, int) and name:
            parts.append(f"{inner.length}s")
            shape.append((name, None))
        elif isinstance(inner, cs.Array) and isinstance(inner.count, int) and isinstance(inner.subcon, cs.FormatField) and name:
            orders.add(inner.subcon.fmtstr[0])
            parts.append(f"{inner.count}{inner.subcon.fmtstr[1:]}")
            shape.append((name, inner.count))
        elif isinstance(inner, cs.Struct) and name:
            shape.append((name, _flatten(inner, parts, orders)))
        else:
            raise _NotFlat
    return shape


def flat_layout(struct_: cs.Struct) -> tuple[_struct.Struct, _Shape] | None:
    """A :mod:`struct` format and the field shape of a struct made only of integers, integer arrays,
    padding, bytes and nested such structs; None for anything else (construct then parses it)."""
    key = id(struct_)
    if key not in _FLAT_CACHE:
        parts: list[str] = []
        orders: set[str] = set()
        result = None
        try:
            shape = _flatten(struct_, parts, orders)
            if len(orders) <= 1:
                fmt = _struct.Struct((orders.pop() if orders else "<") + "".join(parts))
                if fmt.size == struct_.sizeof():
                    result = (fmt, shape)
        except (_NotFlat, cs.SizeofError):
            result = None
        _FLAT_CACHE[key] = result
    return _FLAT_CACHE[key]


class Record(dict[str, Any]):
    """A parsed struct as :func:`unpack_flat` returns it: a dict whose keys are also attributes (as
    construct's Container, at a fraction of its cost)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.__dict__ = self  # attribute access at the speed of a plain object (a __getattr__ costs 1.5 µs)


def _container(shape: _Shape, values: tuple[Any, ...], i: int) -> tuple[Record, int]:
    out = Record()
    for name, sub in shape:
        if sub is None:
            out[name] = values[i]
            i += 1
        elif isinstance(sub, int):
            out[name] = list(values[i : i + sub])
            i += sub
        else:
            out[name], i = _container(sub, values, i)
    return out, i


def unpack_flat(struct_: cs.Struct, data: bytes | memoryview, at: int = 0) -> Any:
    """``struct_`` parsed from ``data`` at ``at``: by :mod:`struct` when it is flat, else by construct."""
    flat = flat_layout(struct_)
    if flat is None:
        return struct_.parse(bytes(data[at : at + sizeof(struct_)]))
    fmt, shape = flat
    return _container(shape, fmt.unpack_from(data, at), 0)[0]




def without_gc(parse: Callable[..., Any]) -> Callable[..., Any]:
    """A format's ``parse`` run under :func:`gc_paused`."""

    @functools.wraps(parse)
    def run(*args: Any, **kwargs: Any) -> Any:
        with gc_paused():
            return parse(*args, **kwargs)

    return run


def parse_at(
    struct_: cs.Construct, src: ByteSource, offset: int, size: int | None, what: str, warnings: Warnings
) -> Any | None:
    """Parse ``struct_`` from the file at ``offset``; a short or malformed read becomes a warning."""
    length = size if size is not None else sizeof(struct_)
    data = src.read(offset, length)
    if len(data) < length:
        warnings.add(f"{what}: truncated at offset {offset:#x} ({len(data)} of {length} bytes present)")
        return None
    try:
        return unpack_flat(struct_, data) if isinstance(struct_, cs.Struct) else struct_.parse(data)
    except (cs.ConstructError, ValueError, OverflowError, UnicodeDecodeError) as exc:
        warnings.add(f"{what}: malformed at offset {offset:#x}: {type(exc).__name__}")
        return None


def clean(value: Any) -> Any:
    """A construct Container turned into plain JSON-able dicts and lists, without private '_' keys."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, cs.EnumIntegerString):
        return str(value)
    return value
