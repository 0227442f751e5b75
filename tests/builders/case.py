"""Case files for tests: created the way the tests need them (cheap KDF, passphrase, no keyring), and
prepared once then copied for the tests that change them.

Why a factory and not one fixture per file: six test files built the same case by hand with the same
four arguments. Why copies: a case file is changed in place by every save, and its evidence paths are
relative to its folder — so a prepared case lives in a folder of its own with its evidence beside it,
and :meth:`CaseFactory.copy` copies that whole folder, giving the test a case it may change freely.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from viewer.case import TEST_KDF, CaseFile, create_case, open_case

PASSPHRASE = "correct horse battery staple"  # the passphrase the tests use


@dataclass(frozen=True)
class PreparedCase:
    """A saved case file under ``root`` with copies of its evidence under the same root, so that the
    case's relative evidence paths stay valid when the whole root is copied."""

    root: Path
    path: Path
    passphrase: str
    evidence: tuple[Path, ...]

    def open(self, **kw: Any) -> CaseFile:
        """Open it with its passphrase and no keyring (``kw`` as :func:`open_case`)."""
        kw.setdefault("use_keyring", False)
        return open_case(self.path, passphrase=self.passphrase, **kw)


class CaseFactory:
    """Make cases the tests' way: TEST_KDF, :data:`PASSPHRASE`, no keyring unless asked."""

    passphrase = PASSPHRASE

    def create(self, path: Path, name: str = "Test case", examiner: str = "Ann Quill", *,
               passphrase: str | None = PASSPHRASE, use_keyring: bool = False, kdf: dict[str, Any] | None = None,
               **kw: Any) -> CaseFile:
        """``create_case`` with the test defaults; ``kw`` (number, description, author_name) passes on."""
        return create_case(path, name, examiner, passphrase=passphrase, use_keyring=use_keyring,
                           kdf=TEST_KDF if kdf is None else kdf, **kw)

    def prepare(self, root: Path, dumps: Iterable[tuple[Path, list[dict[str, Any]]]], *,
                case_file: str = "case.evcase", evidence_dir: str = ".", name: str = "Test case",
                examiner: str = "Ann Quill", settings: dict[str, Any] | None = None,
                passphrase: str = PASSPHRASE, **kw: Any) -> PreparedCase:
        """A saved case ``root/case_file`` holding a copy (in ``root/evidence_dir``) of each dump, with that
        dump's findings (``Finding.to_json()`` dicts) merged under ``settings``."""
        path, ev_dir = root / case_file, root / evidence_dir
        path.parent.mkdir(parents=True, exist_ok=True)
        ev_dir.mkdir(parents=True, exist_ok=True)
        cf = self.create(path, name, examiner, passphrase=passphrase, **kw)
        copies = []
        for dump, findings in dumps:
            copy = Path(shutil.copy(dump, ev_dir / dump.name))
            copies.append(copy)
            ref = cf.add_evidence(copy)
            cf.merge_scan(ref.sha256, findings, settings or {"deep": False, "detectors": "default"})
        cf.save()
        return PreparedCase(root, path, passphrase, tuple(copies))

    def copy(self, prepared: PreparedCase, dest: Path) -> PreparedCase:
        """Everything under the prepared case's root copied into ``dest`` (a test's tmp_path, same layout):
        a case the test may change. The copy keeps the case's id; use one copy per test."""
        shutil.copytree(prepared.root, dest, dirs_exist_ok=True)
        moved = lambda p: dest / p.relative_to(prepared.root)  # noqa: E731 - one-line helper
        return PreparedCase(dest, moved(prepared.path), prepared.passphrase, tuple(map(moved, prepared.evidence)))
