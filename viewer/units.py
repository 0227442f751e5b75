"""Small presentation helpers shared by the command line and the core's text reports."""

from __future__ import annotations


def human_size(n: int) -> str:
    """``n`` bytes for people: 11.1 KiB, 8.0 GiB (binary units, one decimal)."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
