"""Placeholder: being written."""

FORMAT = "minidump"


def probe(head: bytes) -> bool:
    return False


def parse(src, warnings=None):
    raise NotImplementedError
