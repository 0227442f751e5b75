"""The minimap's strip without Qt (issue 17): rows cover the file exactly, a click's offset and a byte's row
agree, a small high-entropy block shows in a big low-entropy row, regions and findings land on their rows —
on the bundled sample dump and its real entropy pyramid."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from tests.conftest import REPO
from viewer.evidence import open_dump
from viewer.scan.entropy import EntropyPyramid, compute_entropy
from viewer.workspace import minimap as mm

SAMPLE = REPO / "resources" / "sample" / "demo-keyholder.core"


def test_rows_cover_the_file_and_clicks_and_rows_agree():
    for size, rows in ((1, 1), (7, 3), (1000, 999), (8 << 30, 900), (100, 400)):
        starts = [mm.row_start(size, rows, r) for r in range(rows + 1)]
        assert starts[0] == 0 and starts[-1] == size and starts == sorted(starts)
        for y in (0, rows // 2, rows - 1):
            offset = mm.offset_at(size, rows, y)
            assert 0 <= offset < size
            if mm.row_start(size, rows, y) < mm.row_start(size, rows, y + 1):  # a row with bytes
                assert mm.row_of(size, rows, offset) == y
        assert mm.row_of(size, rows, size - 1) <= rows - 1 and mm.row_of(size, rows, 10 * size) <= rows - 1


def test_a_small_hot_block_shows_in_a_cold_row():
    values = np.zeros(1024, dtype=np.float32)
    values[700] = 7.9  # one 4 KiB block of key material in 4 MiB of zeros
    pyramid = EntropyPyramid(values, 4096, 1024 * 4096)
    entropy = mm.row_entropy(pyramid.size, 16, pyramid)
    hot = mm.row_of(pyramid.size, 16, 700 * 4096)
    assert entropy[hot] == np.float32(7.9) and max(e for i, e in enumerate(entropy) if i != hot) == 0.0
    incomplete = EntropyPyramid(values[:512], 4096, 512 * 4096, complete=False)
    tail = mm.row_entropy(pyramid.size, 16, incomplete)
    assert tail[-1] is None and tail[0] == 0.0
    assert mm.row_entropy(100, 4, None) == [None] * 4


def test_the_sample_strip_has_its_regions_entropy_and_findings():
    dump = open_dump(SAMPLE)
    try:
        pyramid = compute_entropy(dump)
        finding = SimpleNamespace(kind="rsa-private-key", offset=dump.size // 2, length=1191, secret=True)
        strip = mm.build_strip(dump.size, 300, dump.region_at, pyramid, [finding])
        assert len(strip.entropy) == len(strip.kinds) == 300 and all(e is not None for e in strip.entropy)
        assert {r.kind for r in dump.regions} >= {k for k in strip.kinds if k}
        first, last, f = strip.marks[0]
        assert f is finding and first == mm.row_of(dump.size, 300, finding.offset) and last >= first
        assert mm.marks_at(strip, first) == [finding] and mm.marks_at(strip, max(0, first - 10)) == []
        assert mm.build_strip(dump.size, 10 ** 6).rows == mm.MAX_ROWS
    finally:
        dump.close()
