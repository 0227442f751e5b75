"""What the About box says, without Qt: the tool's version and licence, and each component's, read from
the installed distributions' own metadata (so the box never goes stale)."""

from __future__ import annotations

import importlib.metadata as metadata
import platform
from dataclasses import dataclass

from viewer import __version__

COMPONENTS = ("PySide6-Essentials", "shiboken6", "pyqtgraph", "numpy", "cryptography", "construct", "keyring",
              "Jinja2", "orjson", "pillow", "hyperscan", "distributed")


@dataclass(frozen=True)
class Component:
    name: str
    version: str
    licence: str


def licence_of(meta: metadata.PackageMetadata) -> str:
    """The SPDX expression when the distribution declares one, else its licence field or classifiers."""
    text = (meta.get("License-Expression") or "").strip()
    if not text:
        field = (meta.get("License") or "").strip()
        text = field if field and len(field) <= 80 and "\n" not in field else ""
    if not text:
        kinds = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
        text = " / ".join(kinds)
    return text or "see the distribution"


def components(names: tuple[str, ...] = COMPONENTS) -> list[Component]:
    """Python itself, then each installed component (missing ones are left out)."""
    out = [Component("Python", platform.python_version(), "PSF-2.0")]
    for name in names:
        try:
            meta = metadata.metadata(name)
        except metadata.PackageNotFoundError:
            continue
        out.append(Component(name, meta["Version"], licence_of(meta)))
    return out


def tool_line() -> str:
    return f"Evidence Viewer {__version__} — MIT licence"


__all__ = ["COMPONENTS", "Component", "components", "licence_of", "tool_line"]
