"""Containers: what a dump arrives in — compressed streams, ZIP archives, apport reports — nested.

:func:`unwrap` takes an evidence file and gives the dumps inside it: for each, a read-only byte source
of the *decompressed content* (a file in the content-addressed cache, :mod:`.cache`) and an
:class:`Origin` that says where it came from: the evidence file (its path, size and SHA-256), the
chain of layers (``zip > apport > gzip``) with each layer's own metadata (the ZIP member, the apport
fields, systemd-coredump's ``user.coredump.*`` extended attributes) and both hashes. Detection is by
magic bytes at each level, never by name. Bounds: at most :data:`MAX_DEPTH` layers, at most
``ziparchive.MAX_MEMBERS`` members per archive and :data:`MAX_DUMPS` dumps per open, and one
decompression allowance for the whole open (``cache.limit()``). A layer that cannot be unwrapped
(corrupt, a bomb, too deep) is a warning, and the dump opens at the last layer that could be read.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from viewer.evidence.containers import apport, flattened, ziparchive
from viewer.evidence.containers.cache import Allowance, Cancelled, Content, ContentCache, TooLarge
from viewer.evidence.containers.streams import READERS, CorruptStream, Peek, Reader, SourceReader, codec_of
from viewer.evidence.errors import EvidenceError
from viewer.evidence.source import ByteSource, HashCancelled
from viewer.tasks import TaskState

MAX_DEPTH = 8
MAX_DUMPS = 256
XATTR_PREFIX = "user.coredump."
MAX_XATTRS = 64
MAX_XATTR_VALUE = 4096


def kind_of(head: bytes) -> str | None:
    """The container kind whose magic starts ``head``, or None (a dump, or unknown bytes)."""
    codec = codec_of(head)
    if codec is not None:
        return codec
    if ziparchive.probe(head):
        return "zip"
    if apport.probe(head):
        return "apport"
    if flattened.probe(head):
        return "kdump-flattened"
    return None


@dataclass
class Layer:
    """One container layer: its kind, the member or field taken from it, its metadata, and the SHA-256
    and size of its input (the outer file) and of what it gave."""

    kind: str
    member: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    input_sha256: str = ""
    input_size: int = 0
    output_sha256: str = ""
    output_size: int = 0
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.member is not None:
            out["member"] = self.member
        out.update({"input_sha256": self.input_sha256, "input_size": self.input_size,
                    "output_sha256": self.output_sha256, "output_size": self.output_size,
                    "from_cache": self.cached})
        if self.meta:
            out["meta"] = self.meta
        return out


@dataclass
class Origin:
    """Where a decompressed dump came from: the evidence file and the layers around the content."""

    source: ByteSource  # the evidence file itself (kept open: its hash is the evidence hash)
    layers: list[Layer]
    content_sha256: str
    content_path: Path
    #: How many dumps the evidence file gave (a ZIP of several dumps: one per member): with more than
    #: one, the member names which of them this is (:attr:`several`).
    dumps: int = 1

    @property
    def several(self) -> bool:
        return self.dumps > 1

    @property
    def path(self) -> Path:
        return self.source.path

    @property
    def chain(self) -> list[str]:
        return [layer.kind for layer in self.layers]

    @property
    def member(self) -> str | None:
        """The ZIP member(s) the dump came from (``outer.zip member > inner member``), or None."""
        names = [layer.member for layer in self.layers if layer.kind == "zip" and layer.member]
        return " > ".join(names) if names else None

    def to_json(self) -> dict[str, Any]:
        return {"chain": self.chain, "evidence_path": str(self.path), "evidence_size": self.source.size,
                "content_sha256": self.content_sha256, "content_path": str(self.content_path),
                "layers": [layer.to_json() for layer in self.layers],
                "offsets": "offsets are in the decompressed content"}


@dataclass
class Unwrapped:
    source: ByteSource  # what the format parser reads: the content (or the evidence, not a container)
    origin: Origin | None
    warnings: list[str]


def coredump_xattrs(path: Path) -> dict[str, str]:
    """systemd-coredump's metadata (``user.coredump.pid``, ``.comm``, ``.signal``, ...), bounded."""
    out: dict[str, str] = {}
    try:
        names = os.listxattr(path)
    except (OSError, AttributeError):
        return out
    for name in sorted(n for n in names if n.startswith(XATTR_PREFIX))[:MAX_XATTRS]:
        try:
            value = os.getxattr(path, name)[:MAX_XATTR_VALUE]
        except OSError:
            continue
        out[name.removeprefix("user.")] = value.rstrip(b"\0").decode("utf-8", "replace")
    return out


class _Open:
    """The state of one unwrap: the cache, the allowance, progress and cancel, the warnings."""

    def __init__(self, evidence: ByteSource, state: TaskState | None):
        self.evidence = evidence
        self.state = state
        self.cache = ContentCache()
        self.allowance = Allowance.fresh(evidence.size)
        self.results: list[Unwrapped] = []

    def check(self) -> None:
        if self.state is not None and self.state.is_cancelled:
            raise Cancelled(f"{self.evidence.path}: opening was cancelled; nothing was kept")

    def progress(self, what: str, total: int) -> Callable[[int], None]:
        def report(done: int) -> None:
            self.check()
            if self.state is not None:
                self.state.step_progress(what, done, total)
        return report

    def hash(self, src: ByteSource) -> str:
        if self.state is None:
            return src.sha256()
        state = self.state

        def progress(done: int, total: int) -> bool:
            state.step_progress("hashing", done, total)
            return not state.is_cancelled

        try:
            return src.sha256(progress)
        except HashCancelled:
            raise Cancelled(f"{self.evidence.path}: opening was cancelled; nothing was kept") from None

    def materialise(self, parent: ByteSource, parent_sha: str, step: str, make: Callable[[], Reader],
                    what: str, warnings: list[str]) -> Content:
        hit = self.cache.lookup(parent_sha, step, warnings.append, self.check)
        if hit is not None:
            return hit
        content, failure = self.cache.store(parent_sha, step, make(), self.allowance, what, self.check)
        if failure is not None:
            detail = str(failure) if isinstance(failure, CorruptStream | ValueError) else type(failure).__name__
            warnings.append(f"{what}: the stream is damaged ({detail}); the content ends after "
                            f"{content.size} bytes")
        return content


def unwrap(path: str | os.PathLike[str], state: TaskState | None = None) -> list[Unwrapped]:
    """The dumps in ``path``: one for a plain dump or a single-member container, one per member of a
    ZIP (at most MAX_DUMPS). Raises EvidenceError only when the evidence file cannot be read."""
    evidence = ByteSource(path)
    kind = kind_of(evidence.read(0, 64))
    if kind is None:
        return [Unwrapped(evidence, None, [])]
    run = _Open(evidence, state)
    sha = run.hash(evidence)
    top_meta: dict[str, Any] = {}
    xattrs = coredump_xattrs(evidence.path)
    if xattrs:
        top_meta["systemd_coredump"] = xattrs
    warnings: list[str] = []
    _walk(run, evidence, sha, [], warnings, top_meta)
    if not run.results:  # e.g. a ZIP none of whose members could be read: the container itself, as it is
        run.results.append(Unwrapped(evidence, None, [*warnings, f"the {kind} container holds no readable "
                                     "dump; shown as it is"]))
    for item in run.results:
        if item.origin is not None:
            item.origin.dumps = len(run.results)
    return run.results


def _finish(run: _Open, src: ByteSource, sha: str, layers: list[Layer], warnings: list[str]) -> None:
    if len(run.results) >= MAX_DUMPS:
        if len(run.results) == MAX_DUMPS:
            run.results[-1].warnings.append(f"more than {MAX_DUMPS} dumps in one container; the rest are not opened")
        return
    origin = Origin(run.evidence, list(layers), sha, src.path) if layers else None
    run.results.append(Unwrapped(src, origin, list(warnings)))


def _walk(run: _Open, cur: ByteSource, cur_sha: str, layers: list[Layer], warnings: list[str],
          meta: dict[str, Any]) -> None:
    """Unwrap ``cur`` (already hashed) layer by layer; branch at ZIP archives. Iterative along a chain,
    recursive only per archive level (bounded by MAX_DEPTH)."""
    while True:
        run.check()
        kind = kind_of(cur.read(0, 64))
        if kind is None:
            _finish(run, cur, cur_sha, layers, warnings)
            return
        if len(layers) >= MAX_DEPTH:
            warnings.append(f"containers nested more than {MAX_DEPTH} deep; the {kind} layer at depth "
                            f"{len(layers) + 1} is shown as it is")
            _finish(run, cur, cur_sha, layers, warnings)
            return
        layer = Layer(kind, meta=meta, input_sha256=cur_sha, input_size=cur.size)
        meta = {}
        try:
            if kind == "zip":
                _zip(run, cur, cur_sha, layers, layer, warnings)
                return
            if kind == "apport":
                got = _apport(run, cur, cur_sha, layers, layer, warnings)
            elif kind == "kdump-flattened":
                got = _flattened(run, cur, cur_sha, layers, layer, warnings)
            else:
                got = _stream(run, cur, cur_sha, layers, layer, warnings)
        except TooLarge as exc:
            warnings.append(str(exc))
            got = None
        except EvidenceError:
            raise  # cancelled, or the evidence changed on disk
        except Exception as exc:  # noqa: BLE001 - a codec's error on hostile bytes: this layer is shown as it is
            warnings.append(f"{kind} layer at depth {len(layers) + 1} cannot be read ({type(exc).__name__}: "
                            f"{str(exc)[:200]}); shown as it is")
            got = None
        if got is None:  # this layer could not be unwrapped: show it as it is
            _finish(run, cur, cur_sha, layers, warnings)
            return
        cur, cur_sha = got


def _stream(run: _Open, cur: ByteSource, cur_sha: str, layers: list[Layer], layer: Layer,
            warnings: list[str]) -> tuple[ByteSource, str] | None:
    """A compressed stream, and every stream directly inside it (``.tar``-less ``.xz.gz``), in one pass."""
    kinds = [layer.kind]
    probe = Peek(READERS[layer.kind](SourceReader(cur)))
    while (inner := codec_of(probe.head)) is not None and len(layers) + len(kinds) < MAX_DEPTH:
        kinds.append(inner)
        probe = Peek(READERS[inner](probe))

    def make() -> Reader:
        reader: Reader = SourceReader(cur, on_read=run.progress(f"decompressing {layer.kind}", cur.size))
        for k in kinds:
            reader = READERS[k](reader)
        return reader

    what = f"{' > '.join(kinds)} at layer {len(layers) + 1}"
    try:
        content = run.materialise(cur, cur_sha, "stream:" + ">".join(kinds), make, what, warnings)
    except CorruptStream as exc:
        warnings.append(f"{what}: {exc}; not decompressed")
        return None
    return _descend(cur, layers, layer, kinds, content)


def _descend(cur: ByteSource, layers: list[Layer], layer: Layer, kinds: list[str], content: Content):
    for i, k in enumerate(kinds):
        step = layer if i == 0 else Layer(k, input_sha256="", input_size=0)
        last = i == len(kinds) - 1
        if last:
            step.output_sha256, step.output_size, step.cached = content.sha256, content.size, content.reused
        layers.append(step)
    return ByteSource(content.path), content.sha256


def _apport(run: _Open, cur: ByteSource, cur_sha: str, layers: list[Layer], layer: Layer,
            warnings: list[str]) -> tuple[ByteSource, str] | None:
    rep = apport.parse(cur, on_read=run.progress("reading the apport report", cur.size))
    warnings.extend(rep.warnings[:50])
    fields = {}
    for f in rep.fields:
        if f.binary:
            fields[f.key] = f"(binary, {f.end - f.offset} bytes at offset {f.offset:#x})"
        else:
            fields[f.key] = f.value + (" …(truncated)" if f.truncated else "")
    layer.meta = {**layer.meta, "apport": fields}
    core = rep.binary("CoreDump")
    if core is None:
        warnings.append("apport: the report has no CoreDump field; shown as the report itself")
        return None
    layer.member = "CoreDump"
    try:
        head = Peek(apport.Base64Lines(cur, core), 16).head
    except ValueError as exc:
        warnings.append(f"{exc}; the CoreDump is not decoded")
        return None
    kinds = ["gzip"] if codec_of(head) == "gzip" else []
    if not kinds:
        warnings.append("apport: the CoreDump is not gzip-compressed (apport writes gzip); its decoded bytes "
                        "are shown as they are")

    def make() -> Reader:
        reader: Reader = apport.Base64Lines(cur, core, run.progress("decoding the apport CoreDump", cur.size))
        return READERS["gzip"](reader) if kinds else reader

    what = "apport CoreDump"
    content = run.materialise(cur, cur_sha, "apport:CoreDump", make, what, warnings)
    out = _descend(cur, layers, layer, ["apport", *kinds], content)
    return out


def _zip(run: _Open, cur: ByteSource, cur_sha: str, layers: list[Layer], layer: Layer,
         warnings: list[str]) -> None:
    got = ziparchive.members(cur, warnings)
    if got is None:
        _finish(run, cur, cur_sha, layers, warnings)
        return
    zf, members = got
    if not members:
        warnings.append("zip: the archive holds no file; shown as the archive itself")
        _finish(run, cur, cur_sha, layers, warnings)
        return
    for m in members:
        if len(run.results) >= MAX_DUMPS:
            break
        mlayer = Layer("zip", m.name, dict(layer.meta), cur_sha, cur.size)
        mwarn = list(warnings)

        def make(m: ziparchive.Member = m) -> Reader:
            return zf.open(m.info)

        try:
            content = run.materialise(cur, cur_sha, "zip:" + m.name, make, f"zip member {m.name!r}", mwarn)
        except TooLarge as exc:  # the open's allowance is spent: the archive is shown as it is
            mwarn.append(str(exc))
            _finish(run, cur, cur_sha, layers, mwarn)
            return
        except EvidenceError:
            raise
        except Exception as exc:  # noqa: BLE001 - encrypted, unknown method, a lying local header: skip it
            warnings.append(f"zip member {m.name!r} cannot be read ({type(exc).__name__}: {str(exc)[:120]}); "
                            "skipped")
            continue
        mlayer.output_sha256, mlayer.output_size, mlayer.cached = content.sha256, content.size, content.reused
        src = ByteSource(content.path)
        _walk(run, src, content.sha256, [*layers, mlayer], mwarn, {})


def _flattened(run: _Open, cur: ByteSource, cur_sha: str, layers: list[Layer], layer: Layer,
               warnings: list[str]) -> tuple[ByteSource, str] | None:
    """makedumpfile's flattened layout, rebuilt into the normal diskdump layout (``makedumpfile -R``)."""
    hit = run.cache.lookup(cur_sha, "kdump-flattened", warnings.append, run.check)
    if hit is None:
        notes: list[str] = []

        def build(fd: int) -> None:
            flattened.rebuild(cur, fd, run.allowance, notes, run.progress("rebuilding the flattened kdump",
                                                                           cur.size))

        hit = run.cache.store_built(cur_sha, "kdump-flattened", build, "kdump-flattened", run.check)
        warnings.extend(notes)
    return _descend(cur, layers, layer, ["kdump-flattened"], hit)
