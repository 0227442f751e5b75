"""Placeholder: being written."""

FORMAT = "lime"


def probe(head: bytes) -> bool:
    return False


def parse(src, warnings=None):
    raise NotImplementedError
