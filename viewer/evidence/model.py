"""The dump model of DESIGN.md: what every format parser produces and every upper layer reads.

Offsets are always *file offsets* into the dump; virtual (or physical) addresses sit beside them.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from viewer.evidence.source import ByteSource


def regions_json(regions: Iterable[Region]) -> list[dict[str, Any]]:
    """The JSON form of many regions: one loop with no call per region (100,000 ranges are common in
    full-memory minidumps, and ``info --json`` should stay under a second)."""
    out: list[dict[str, Any]] = []
    append = out.append
    for r in regions:
        d = {"file_offset": r.file_offset, "size": r.size, "vaddr": r.vaddr, "kind": r.kind, "name": r.name,
             "perms": r.perms}
        mem_size = r.mem_size
        if mem_size is not None and mem_size != r.size:
            d["mem_size"] = mem_size
        if r.attrs:
            d.update(r.attrs)
        append(d)
    return out


@dataclass(slots=True)
class Region:
    """A run of bytes in the dump file with a meaning: memory captured at ``vaddr``, a header, a stream.

    ``size`` is the number of bytes present in the file; ``mem_size`` is the size in the address space
    where the format says more (an ELF PT_LOAD with p_memsz > p_filesz).
    """

    file_offset: int
    size: int
    vaddr: int | None
    kind: str
    name: str = ""
    perms: str | None = None
    mem_size: int | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def end(self) -> int:
        return self.file_offset + self.size

    def to_json(self) -> dict[str, Any]:
        return regions_json([self])[0]


class Node:
    """One parsed field or structure: name, file offset, length, value, children.

    Children may be given as a callable, evaluated on first access: a Memory64List of 100,000
    descriptors does not cost 100,000 node objects until someone expands it in the tree.
    """

    __slots__ = ("name", "offset", "length", "value", "_children")

    def __init__(
        self,
        name: str,
        offset: int,
        length: int,
        value: Any = None,
        children: list[Node] | Callable[[], list[Node]] | None = None,
    ):
        self.name = name
        self.offset = offset
        self.length = length
        self.value = value
        self._children = children if children is not None else []

    @property
    def children(self) -> list[Node]:
        if callable(self._children):
            self._children = self._children()
        return self._children

    @property
    def has_children(self) -> bool:
        return callable(self._children) or bool(self._children)

    def add(self, child: Node) -> Node:
        self.children.append(child)
        return child

    def walk(self) -> Iterator[Node]:
        """This node and all below it, depth first in order (iterative: a tree of 100,000 nodes in
        nested generators costs a resumption per level for every node)."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def find(self, name: str) -> Node | None:
        """First direct child called ``name``."""
        return next((c for c in self.children if c.name == name), None)

    def __repr__(self) -> str:
        return f"Node({self.name!r}, off={self.offset:#x}, len={self.length:#x}, value={self.value!r})"


@dataclass
class ParseResult:
    """What a format parser returns; :class:`Dump` wraps it with the byte source.

    ``details`` holds the format-specific parts of ``info --json`` (streams, threads, modules, memory,
    segments, notes, header, ...), already JSON-able.
    """

    format: str
    meta: dict[str, Any]
    regions: list[Region]
    structure: Node
    warnings: list[str]
    details: dict[str, Any] = field(default_factory=dict)
    #: The source the dump reads from when it is not the file's bytes as they are (a vmcore whose pages
    #: are decompressed on demand); None: the file itself.
    source: Any = None


class Dump:
    """An opened dump: the read-only bytes plus the parsed model."""

    def __init__(self, source: ByteSource, parsed: ParseResult, origin: Any = None):
        source = parsed.source if parsed.source is not None else source
        self.source = source
        #: Where the content came from when the evidence is a container (``containers.Origin``): the
        #: evidence file, the chain of layers and both hashes; None for a dump opened as it is.
        self.origin = origin
        self.path = origin.path if origin is not None else source.path
        self.size = source.size
        self.format = parsed.format
        self.meta = parsed.meta
        self.regions = parsed.regions
        self.structure = parsed.structure
        self.warnings = parsed.warnings
        self.details = parsed.details
        self._by_offset: list[Region] | None = None
        self._by_vaddr: list[Region] | None = None

    def sha256(self) -> str:
        """SHA-256 of the evidence file (the container when the dump came in one): what a case records
        and later verifies on disk."""
        return self.origin.source.sha256() if self.origin is not None else self.source.sha256()

    def content_sha256(self) -> str:
        """SHA-256 of the bytes the offsets refer to: the decompressed content (the evidence itself when
        it is not a container)."""
        return self.origin.content_sha256 if self.origin is not None else self.source.sha256()

    @property
    def member(self) -> str | None:
        """The ZIP member this dump is when its evidence file holds several dumps; None otherwise (a
        plain dump, a compressed one, a ZIP of one dump: the file alone says which dump it is)."""
        origin = self.origin
        return origin.member if origin is not None and getattr(origin, "several", False) else None

    def evidence_sha256(self) -> str:
        """The SHA-256 that names this dump as evidence (in a case, its findings, bookmarks and bundles):
        the file's, or for one of several dumps in one file, which share the file's hash, its content's."""
        return self.content_sha256() if self.member is not None else self.sha256()

    @property
    def evidence_size(self) -> int:
        """Size of the evidence file (the container's); ``size`` is the content's."""
        return self.origin.source.size if self.origin is not None else self.source.size

    @property
    def content_path(self) -> Any:
        """The file a reader may ``pread`` for the content (the cache file of a container); None when
        the content exists only through ``source`` (pages decompressed on demand)."""
        return getattr(self.source, "plain_path", self.source.path)

    @property
    def chain(self) -> list[str]:
        """``["zip", "apport", "gzip", "elf-core"]``: the layers around the dump, then its format."""
        return [*(self.origin.chain if self.origin is not None else []), self.format]

    def read(self, offset: int, length: int) -> bytes:
        return self.source.read(offset, length)

    # -- address conversion ----------------------------------------------------------------------
    def _offset_index(self) -> list[Region]:
        if self._by_offset is None:
            self._by_offset = sorted((r for r in self.regions if r.size > 0), key=lambda r: r.file_offset)
            self._offset_keys = [r.file_offset for r in self._by_offset]
        return self._by_offset

    def _vaddr_index(self) -> list[Region]:
        if self._by_vaddr is None:
            self._by_vaddr = sorted(
                (r for r in self.regions if r.vaddr is not None and r.size > 0), key=lambda r: r.vaddr
            )
            self._vaddr_keys = [r.vaddr for r in self._by_vaddr]
        return self._by_vaddr

    def region_at(self, offset: int) -> Region | None:
        """The memory region whose file bytes hold ``offset`` (memory regions win over headers)."""
        regions = self._offset_index()
        i = bisect.bisect_right(self._offset_keys, offset) - 1
        best = None
        # Regions may overlap (a stack inside a module range, corrupt input): look back a little.
        for j in range(i, max(-1, i - 8), -1):
            r = regions[j]
            if r.file_offset <= offset < r.end:
                if r.vaddr is not None:
                    return r
                best = best or r
        return best

    def file_to_va(self, offset: int) -> int | None:
        """Virtual (or physical) address of the byte at file ``offset``; None outside memory."""
        r = self.region_at(offset)
        if r is None or r.vaddr is None:
            return None
        return r.vaddr + (offset - r.file_offset)

    def va_to_file(self, addr: int) -> int | None:
        """File offset of the byte at address ``addr``; None when that memory is not in the dump."""
        regions = self._vaddr_index()
        i = bisect.bisect_right(self._vaddr_keys, addr) - 1
        for j in range(i, max(-1, i - 8), -1):
            r = regions[j]
            assert r.vaddr is not None
            if r.vaddr <= addr < r.vaddr + r.size:
                return r.file_offset + (addr - r.vaddr)
        return None

    def read_va(self, addr: int, length: int) -> bytes:
        """Bytes at a virtual address, from the one region that holds ``addr`` (clipped to it)."""
        off = self.va_to_file(addr)
        if off is None:
            return b""
        r = self.region_at(off)
        limit = r.end - off if r is not None else length
        return self.source.read(off, min(length, limit))

    def close(self) -> None:
        self.source.close()
        if self.origin is not None:
            self.origin.source.close()

    def __enter__(self) -> Dump:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def content_path(dump: Any) -> Any:
    """The file to re-open for the bytes ``dump``'s offsets refer to (the dump, or a container's
    decompressed content in the cache); None when they exist only through ``dump.source`` (vmcore pages
    decompressed on demand) — then read through the source. Accepts any object with a ``path``."""
    if hasattr(dump, "content_path"):
        return dump.content_path
    return getattr(dump, "path", None)
