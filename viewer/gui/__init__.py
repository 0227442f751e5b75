"""The PySide6 GUI: main window, structure tree, regions table, and the workers that keep the UI live.

This is the only layer that imports Qt. It reads a :class:`viewer.evidence.Dump` and never changes it;
everything slow (hashing, later scanning) runs in workers that report back through ``sig_*`` signals.
Nothing here is imported by the CLI until a display is known to exist, so headless use never loads Qt.
"""
