"""The `evidence-viewer` command: one module per command (see :mod:`viewer.cli.main`); the only layer
that imports the GUI."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """The console script's entry point (``viewer.cli:main``).

    Imported on call, not here: ``python -m viewer.cli.main`` would otherwise find the module already
    imported by its package and warn (runpy's RuntimeWarning, a second line on stderr).
    """
    from viewer.cli.main import main as run

    return run(argv)


__all__ = ["main"]
