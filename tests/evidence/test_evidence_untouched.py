"""Never modify evidence: after a whole session of reading, the file's bytes and times are unchanged.

The dumps are copied into a writable temporary directory first, so that an accidental write would
succeed (and be caught here) instead of failing on the read-only corpus.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import pytest

from tests.conftest import CORPUS
from viewer.cli.info import info_json, info_text
from viewer.evidence import open_dump

FILES = ["bp_tiny-exe-with-cet-xsave.dmp", "rz_core-linux-x86_64", "rz_triage_x64.dmp", "sy_macos-no-fp.dmp"]


def fingerprint(path) -> tuple[str, int, int, int]:
    st = os.stat(path)
    return hashlib.sha256(path.read_bytes()).hexdigest(), st.st_size, st.st_mtime_ns, st.st_mode


@pytest.mark.parametrize("name", FILES)
def test_a_full_session_leaves_the_file_unchanged(tmp_path, name):
    evidence = tmp_path / name
    shutil.copy2(CORPUS / name, evidence)
    evidence.chmod(0o644)  # writable on purpose: a write would go through and be seen
    before = fingerprint(evidence)

    with open_dump(evidence) as dump:
        assert dump.sha256() == before[0]
        for node in dump.structure.walk():
            dump.read(node.offset, min(node.length, 4096))
        for region in dump.regions:
            data = dump.read(region.file_offset, min(region.size, 4096))
            assert len(data) == min(region.size, 4096)
            if region.vaddr is not None and region.size:
                assert dump.file_to_va(region.file_offset) is not None
                assert dump.read_va(region.vaddr, 16) == data[:16]
        json.dumps(info_json(dump))
        info_text(dump)

    assert fingerprint(evidence) == before
