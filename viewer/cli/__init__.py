"""The `evidence-viewer` command: one module per command; the only layer that imports the GUI."""

from viewer.cli.main import main

__all__ = ["main"]
