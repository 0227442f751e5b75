"""Property-based fuzzing of the container layers and the new formats (hypothesis), as test_fuzz.py does
for the others: seeds are a corpus core gzip'd, xz'd and zipped by the real tools and written into an
apport report, a diskdump made from that core's memory by the hostile builder's header, and a Mach-O core
written by macholib from the same memory; bytes overwritten, huge integers spliced, files truncated.
Each must open with warnings — no traceback, regions and nodes inside the content, JSON-able info."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import fuzzing
from tests.builders.containers import apport_report, compress, zip_of
from tests.builders.macho import macho_core
from tests.builders.mutations import check_parse
from tests.conftest import CORPUS

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("EV_FUZZ_EXAMPLES", "120"))
LONG_RUN = "EV_FUZZ_EXAMPLES" in os.environ
CORE = CORPUS / "pyelf_core_linux64.elf"


def _seeds(folder: Path) -> list[bytes]:
    from viewer.evidence import open_dump

    core = folder / "core"
    core.write_bytes(CORE.read_bytes())
    out = [compress(core, "gz").read_bytes(), compress(core, "xz").read_bytes(),
           zip_of(folder / "c.zip", core).read_bytes(), apport_report(folder / "c.crash", core).read_bytes()]
    with open_dump(core) as dump:
        data = core.read_bytes()
        segs = [(r.name[:16], r.vaddr, data[r.file_offset:r.end], 3) for r in dump.regions if r.vaddr and r.size]
    out.append(macho_core(folder / "c.macho", segs[:6], {"rip": 0x401000, "rsp": 0x7FFF0000}, [("/bin/x", 0x400000)])
               .read_bytes())
    out.append(_small_kdump(b"".join(s[2] for s in segs)[: 16 * 4096]))
    return out


def _small_kdump(memory: bytes) -> bytes:
    """A diskdump of ``memory`` (zlib pages), in the header layout of the hostile builder."""
    import zlib

    from tests.builders.hostile_containers import _kdump

    bs, pages = 4096, len(memory) // 4096
    out = _kdump(bitmap_blocks=2, max_mapnr=pages)
    bitmap = (b"\xff" * (pages // 8)).ljust(bs, b"\0")
    out += bitmap + bitmap
    at = len(out) + pages * 24
    descs, body = bytearray(), bytearray()
    for i in range(pages):
        packed = zlib.compress(memory[i * bs:(i + 1) * bs])
        descs += struct.pack("<qIIQ", at + len(body), len(packed), 1, 0)
        body += packed
    return bytes(out + descs + body)


SEEDS: list[bytes] = []

edits = fuzzing.edits(16383)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Fills SEEDS once (a module global, so hypothesis does not print half a megabyte of seeds)."""
    if not SEEDS:
        SEEDS.extend(_seeds(tmp_path_factory.mktemp("seeds")))


def test_seeds_open_as_their_formats(seeds, tmp_path) -> None:
    names = ["gzip", "xz", "zip", "apport", "macho-core", "kdump-compressed"]
    for name, data in zip(names, SEEDS, strict=True):
        path = tmp_path / name
        path.write_bytes(data)
        fmt = check_parse(path)
        assert fmt == {"macho-core": "macho-core", "kdump-compressed": "kdump-compressed"}.get(name, "elf-core"), name


@settings(max_examples=EXAMPLES, deadline=None, derandomize=not LONG_RUN,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=5), changes=edits, cut=st.one_of(st.none(), st.floats(0, 1)))
def test_mutated_containers_never_crash(seeds, tmp_path: Path, seed: int, changes, cut) -> None:
    target = tmp_path / "fuzz.bin"
    target.write_bytes(fuzzing.apply_edits(SEEDS[seed], changes, cut))
    check_parse(target)
