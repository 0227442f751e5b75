"""The one search after the first pass (issue 13): the post-scan steps declare what they will locate
(``needles``, ``shapes``), the engine locates all of it in one pass over the file, split into ranges over
forked workers, and the steps take their offsets from it instead of reading the file again.

Checked on the two real samples: what the shared search locates equals what each step's own search
(``keymaterial.find_all``, the header pass of ``ecbignum``) finds for the same needles and shapes, when the
ranges are cut small (many ranges, matches across their edges) and in forked workers or in the caller;
a scan's statistics show one shared read and no whole-file search by the steps themselves.
"""

from __future__ import annotations

import pytest

from tests.conftest import SAMPLE_DUMPS
from viewer.evidence import open_dump
from viewer.scan import engine
from viewer.scan.detector import PostScanContext
from viewer.scan.detectors import default_detectors
from viewer.scan.detectors.ecbignum import _header_hits
from viewer.scan.engine import ScanStats, scan_dump
from viewer.scan.keymaterial import find_all
from viewer.tasks import TaskState

MiB = 1024 * 1024


def _first_pass(dump):
    """The first pass's findings (no post-scan steps: only those that have neither patterns nor blocks
    are left out of it, and they find nothing in the first pass)."""
    return scan_dump(dump, [d for d in default_detectors() if not hasattr(d, "post_scan") or
                            getattr(d, "patterns", ()) or hasattr(d, "scan_block")], executor="inline").findings


@pytest.mark.parametrize("workers", [1, 2], ids=["in-the-caller", "forked"])
@pytest.mark.parametrize("name", SAMPLE_DUMPS)
def test_shared_search_locates_what_each_step_would(samples_dir, name: str, workers: int, monkeypatch) -> None:
    monkeypatch.setattr(engine, "SHARED_RANGE", 32 * MiB)  # several ranges even for the small sample
    with open_dump(samples_dir / name) as dump:
        first = tuple(_first_pass(dump))
        posts = [d for d in default_detectors() if hasattr(d, "post_scan")]
        stats = ScanStats(total_bytes=dump.size, engine="", executor="", workers=1, chunk_size=0)
        located = engine._shared_search(dump, posts, first, [], False, TaskState(), stats, workers)
        assert located is not None and located.needles, "the steps asked for nothing"
        assert stats.reread == {"search": dump.size}
        order = list(located.needles)
        assert find_all(dump, order) == [located.needles[n] for n in order]
        assert any(located.needles[n] for n in order)  # some needle is really there
        if located.shapes:  # the EC header shapes (the Python sample holds an EC key)
            ctx = PostScanContext(dump=dump, view=dump.source, findings=first)
            forms = list(located.shapes)
            assert _header_hits(ctx, forms) == [located.shapes[f] for f in forms]
            # the same through the source, chunk by chunk (a dump whose content has no file to map)
            unmapped = PostScanContext(dump=_NoFile(), view=dump.source, findings=first)
            assert _header_hits(unmapped, forms) == [located.shapes[f] for f in forms]


class _NoFile:
    """A dump whose content exists only through its source (a vmcore's pages): nothing to map."""

    content_path = None


def test_a_scan_reads_the_file_once_for_every_step(samples_dir) -> None:
    """A whole scan of the Python sample: the shared search is the only whole-file read after the first
    pass but the one a step does for the numbers of a key it proved itself (ecbignum: the EC scalar)."""
    with open_dump(samples_dir / "gcore-python-rsa-ec.core") as dump:
        result = scan_dump(dump)
        size = dump.size
    reread = result.stats.reread
    assert reread["search"] == size
    assert reread.get("aes", 0) < size and reread.get("bignum", 0) < size and reread.get("ed25519", 0) < size
    # the proved scalar's copies: one pass, and the few bytes read at its header candidates
    assert size <= reread.get("ecbignum", 0) < size + MiB
    assert any("one shared search" in n for n in result.stats.notes)
    assert any(f.encoding == "raw-bignum" and f.kind == "ec-private-key" for f in result.findings)
