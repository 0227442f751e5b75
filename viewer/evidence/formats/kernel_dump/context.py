"""The state of one kernel-dump parse, on the shared parse context."""

from __future__ import annotations

from typing import Any

from viewer.evidence.formats.base import ParseContext, Warnings
from viewer.evidence.formats.kernel_dump.structs import Layout, show_bytes
from viewer.evidence.model import Node, Region
from viewer.evidence.source import ByteSource


class KernelContext(ParseContext):
    """What one parse accumulates; passed between the small steps of core, memory and triage."""

    render_bytes = staticmethod(show_bytes)

    def __init__(self, src: ByteSource, warnings: Warnings, layout: Layout, header: Any, root: Node):
        super().__init__(src, warnings)
        self.layout = layout
        self.header = header
        self.root = root
        self.regions: list[Region] = []
        self.details: dict[str, Any] = {}
        self.memory: list[Region] = []
