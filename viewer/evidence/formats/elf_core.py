"""Placeholder: being written."""

FORMAT = "elf_core"


def probe(head: bytes) -> bool:
    return False


def parse(src, warnings=None):
    raise NotImplementedError
