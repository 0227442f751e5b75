"""Errors of the evidence layer.

Only one kind of failure stops an examiner from seeing a dump at all: the file cannot be read. Everything
else (a corrupt stream, a lying count, a truncated range) becomes a warning on the Dump, so a partial
result is always shown.
"""


class EvidenceError(Exception):
    """The evidence file cannot be opened or read at all (missing, a directory, unreadable, ...)."""
