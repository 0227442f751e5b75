"""The scanner on the public corpus: 56 real dumps that hold no planted secret.

Nothing may be reported as a secret at `high` or `confirmed` unless it is real. Real keys do occur in
process memory (test keys compiled into libraries, say); any such finding must be confirmed by its own
mathematics, and is listed here with the reason it is real.
"""

from __future__ import annotations

import pytest

from tests.conftest import corpus_files
from viewer.evidence import open_dump
from viewer.scan.engine import scan_dump
from viewer.scan.finding import Confidence

pytestmark = pytest.mark.slow  # scans every corpus dump with every detector

FILES = corpus_files()

# (file name, kind, encoding) of real secrets in the public corpus, with why they are real.
KNOWN_REAL: dict[tuple[str, str, str], str] = {}


@pytest.fixture(scope="module")
def detectors():
    from viewer.scan.detectors import default_detectors

    return default_detectors()


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_no_strong_secret_where_there_is_none(path, scan_once):
    result = scan_once(path).result  # the default detectors; shared with test_detect_islands
    assert not result.cancelled
    assert result.stats.bytes_scanned == path.stat().st_size
    errors = {name: st.errors for name, st in result.stats.detectors.items() if st.errors}
    assert not errors, f"detectors raised on real data: {errors}"
    strong = [f for f in result.findings if f.secret and f.confidence >= Confidence.HIGH]
    unexplained = [f for f in strong if (path.name, f.kind, f.encoding) not in KNOWN_REAL]
    assert not unexplained, [(f.kind, f.encoding, hex(f.offset), f.confidence.name, f.reasons) for f in unexplained]
    for f in strong:
        assert f.confidence == Confidence.CONFIRMED, f"a known real key must be confirmed: {f.kind}"


@pytest.mark.parametrize("name", ["bp_minidump2.dmp", "rz_core-linux-x86_64", "rz_triage_x64.dmp"])
def test_corrupted_dumps_scan_without_errors(tmp_path, detectors, name):
    """Bad input is normal input: flipped bytes and lying words anywhere in the file."""
    import random
    import struct

    from tests.conftest import CORPUS

    rng = random.Random(name)
    original = (CORPUS / name).read_bytes()
    for round_ in range(4):
        data = bytearray(original)
        for _ in range(200):
            pos = rng.randrange(len(data) - 4)
            if rng.random() < 0.5:
                data[pos] ^= 1 << rng.randrange(8)
            else:
                struct.pack_into("<I", data, pos, rng.choice([0xFFFFFFFF, 0x80000000, 0x30820000]))
        target = tmp_path / f"mutant-{round_}"
        target.write_bytes(bytes(data))
        with open_dump(target) as dump:
            result = scan_dump(dump, detectors=detectors)
        errors = {n: st.errors for n, st in result.stats.detectors.items() if st.errors}
        assert not errors, errors
        assert result.stats.bytes_scanned == len(data)
