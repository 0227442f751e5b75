"""Placeholder: being written."""

FORMAT = "kernel_dump"


def probe(head: bytes) -> bool:
    return False


def parse(src, warnings=None):
    raise NotImplementedError
