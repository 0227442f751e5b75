"""The Qt-free session model the window shows: open dumps, case, selection, findings view, highlights, entropy series."""
