"""Evidence Viewer: a forensic viewer for crash dumps and memory images."""

__version__ = "0.1.0"
