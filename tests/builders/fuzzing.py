"""What the fuzz tests share: the edits hypothesis applies to a real seed file (small overwrites, with the
integers that most often break a parser: all ones, the sign bit, long runs of 0xff and of zeros)."""

from __future__ import annotations

from hypothesis import strategies as st

BOUNDARY_VALUES = [b"\xff\xff\xff\xff", b"\x00\x00\x00\x80", b"\xff" * 8, b"\x00" * 8]


def edits(max_offset: int, max_size: int = 24) -> st.SearchStrategy[list[tuple[int, bytes]]]:
    """Up to ``max_size`` (offset, bytes) overwrites within the first ``max_offset + 1`` bytes."""
    return st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=max_offset),
            st.one_of(st.binary(min_size=1, max_size=4), st.sampled_from(BOUNDARY_VALUES)),
        ),
        max_size=max_size,
    )


def apply_edits(data: bytes, changes: list[tuple[int, bytes]], cut: float | None) -> bytes:
    """``data`` with ``changes`` written over it, then cut to the fraction ``cut`` of its length (if given)."""
    out = bytearray(data)
    for offset, value in changes:
        offset %= max(1, len(out))  # an offset past a short seed wraps onto it
        out[offset : offset + len(value)] = value
    return bytes(out[: int(len(out) * cut)] if cut is not None else out)
