"""The plug-in interface between the scan engine and the detectors.

The engine runs a fast multi-pattern prefilter over the whole file (hyperscan where installed, Python
``re`` otherwise), and hands every hit to the detector that owns the pattern. The detector validates
exactly, reading whatever it needs from the file through the view (so a structure longer than a chunk, or
one whose length is only known from its header, is never cut at a chunk boundary), and yields Findings.

Patterns must be valid both for hyperscan and for Python's ``re`` on bytes: plain byte classes,
alternation, bounded repetition ``{m,n}``, no back-references, no look-around. A hit reports the start
offset of the match (hyperscan runs with SOM_LEFTMOST). Keep patterns selective: every hit costs a
Python call.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from viewer.scan.finding import Finding


@dataclass(frozen=True)
class Pattern:
    """A prefilter pattern. ``name`` is unique within its detector; ``max_len`` bounds a match's length
    (the engine overlaps chunks by the largest ``max_len`` so no match is lost at a boundary)."""

    name: str
    regex: bytes
    max_len: int


@dataclass(frozen=True)
class Hit:
    pattern: str
    start: int  # absolute file offset of the first byte of the match
    end: int  # absolute file offset one past the match


class View(Protocol):
    """Read access to the evidence for validators: absolute file offsets, clipped to the file."""

    size: int

    def read(self, offset: int, length: int) -> bytes: ...


@runtime_checkable
class Detector(Protocol):
    name: str
    patterns: tuple[Pattern, ...]

    def validate(self, view: View, hit: Hit) -> Iterable[Finding]:
        """Check one prefilter hit exactly; yield zero or more findings. Must never raise on bad data:
        the engine treats an exception as a bug, logs it (without data) and goes on."""
        ...


class BlockDetector(Protocol):
    """Optional second kind: a detector that looks at whole blocks instead of prefilter hits (entropy
    islands, AES key schedules). ``block_overlap`` bytes of the next block are included in ``data``."""

    name: str
    block_overlap: int

    def scan_block(self, view: View, start: int, data: bytes | memoryview) -> Iterable[Finding]: ...


@dataclass
class PostScanContext:
    """What a post-scan detector gets once the prefilter pass is over.

    ``findings`` are the first pass's findings (public context included: certificates, public keys and
    blobs carry the moduli that the big-number search starts from); ``public_keys`` are the keys the
    examiner supplied (objects with ``label``, ``key_id`` and ``public_key``); ``deep`` is the examiner's
    request for exhaustive (slower) search; ``state`` gives progress and cancel (``state.is_cancelled``).
    """

    dump: Any
    view: View
    findings: Sequence[Finding]
    public_keys: Sequence[Any] = ()
    deep: bool = False
    state: Any = None
    notes: list[str] = field(default_factory=list)
    # processes the step may use for its own searches (forked, where the engine may fork): 1 where the
    # scan itself is one worker of a pool over files, or runs inline
    workers: int = 1


class PostDetector(Protocol):
    """Third kind: a detector that runs after the first pass, from what it found (live big-number RSA
    keys around known moduli, HMAC secrets of the JWTs found). It may also have patterns or blocks."""

    name: str

    def post_scan(self, ctx: PostScanContext) -> Iterable[Finding]: ...


class LocatingDetector(Protocol):
    """Optional, beside ``post_scan``: ``needles(ctx)``, the byte strings the step will locate in the
    whole file first (the copies of known moduli, of AES keys, of Ed25519 seeds and public keys), computed
    from the same first-pass findings. The engine locates every step's needles in one search of the file,
    shared by all of them (in parallel over ranges where it may fork), before the steps run; their own
    ``keymaterial.find_all`` calls then take the offsets from ``ctx.view.located`` instead of reading the
    file again. What a step searches for later (numbers of keys it proves itself) is searched as before."""

    name: str

    def needles(self, ctx: PostScanContext) -> Iterable[bytes]: ...


class AnnotatingDetector(Protocol):
    """Optional, beside ``post_scan``: ``annotate(ctx)`` runs once after every post-scan detector, with
    ``ctx.findings`` holding *all* the findings (first pass and post-scan), and adds context to them in
    place (``details``) — never findings, never key bytes (the HPROF detector: the Java object that holds
    each finding's bytes)."""

    name: str

    def annotate(self, ctx: PostScanContext) -> None: ...
