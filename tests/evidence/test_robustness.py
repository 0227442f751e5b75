"""Bad input is normal input: every corpus dump, truncated, bit-flipped and given lying counts.

Each mutant must open (exit 0 with warnings) without a traceback, a hang or a runaway allocation.
"""

from __future__ import annotations

import random
import struct
import tracemalloc

import pytest

from tests.builders.mutations import check_parse
from tests.conftest import corpus_files

pytestmark = pytest.mark.slow  # damages every corpus dump

FILES = corpus_files()
MUTANTS_PER_KIND = 8


def truncation_points(size: int) -> list[int]:
    fixed = [0, 1, 3, 4, 7, 8, 16, 31, 32, 63, 64, 100, 128, 255, 256, 512, 1024, 4096, 8191, 8192]
    fractions = [size // 8, size // 4, size // 2, 3 * size // 4, size - 1]
    return sorted({p for p in fixed + fractions if 0 <= p < size})


def flipped(data: bytes, rng: random.Random) -> bytes:
    """Flip a few bits, mostly in the first 64 KiB where headers and directories live."""
    buf = bytearray(data)
    window = min(len(buf), 64 * 1024)
    for _ in range(rng.randint(1, 16)):
        pos = rng.randrange(window) if rng.random() < 0.9 else rng.randrange(len(buf))
        buf[pos] ^= 1 << rng.randrange(8)
    return bytes(buf)


def lying(data: bytes, rng: random.Random) -> bytes:
    """Overwrite aligned words with huge values: counts, sizes and offsets that lie."""
    buf = bytearray(data)
    window = min(len(buf), 16 * 1024) - 8
    for _ in range(rng.randint(1, 6)):
        pos = rng.randrange(max(1, window)) & ~3
        value = rng.choice([0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 0x10000000, len(buf) + 1])
        struct.pack_into("<I", buf, pos, value)
    return bytes(buf)


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_damaged_corpus_dump_opens_with_warnings(path, tmp_path):
    original = path.read_bytes()
    base_format = check_parse(path)
    rng = random.Random(path.name)
    target = tmp_path / "mutant"

    for cut in truncation_points(len(original)):
        target.write_bytes(original[:cut])
        check_parse(target)

    for _ in range(MUTANTS_PER_KIND):
        target.write_bytes(flipped(original, rng))
        check_parse(target)

    tracemalloc.start()
    try:
        for _ in range(MUTANTS_PER_KIND):
            target.write_bytes(lying(original, rng))
            tracemalloc.reset_peak()
            check_parse(target)
            peak = tracemalloc.get_traced_memory()[1]
            assert peak < 64 * 1024 * 1024 + 8 * len(original), f"a lying field cost {peak} bytes"
    finally:
        tracemalloc.stop()
    assert base_format != "raw", f"{path.name} was not recognised"
