"""What the gate does with a dump that holds a secret: quarantine it (moved, or copied) and name where
its redacted copy goes. The redaction itself is :func:`viewer.fleet.work.redact_path` (a worker task:
it reads and writes the whole dump)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def target_in(folder: str | os.PathLike[str], path: str, sha256: str, suffix: str = "") -> Path:
    """A free name for a dump in ``folder``: its own name, else ``<first 16 hex of SHA-256>-<name>``
    (dumps of many hosts share names like ``core``), else that with ``.1``, ``.2``, ... Nothing there
    is ever replaced."""
    name = Path(path).name + suffix
    target = Path(folder) / name
    n = 0
    while target.exists():
        target = Path(folder) / (f"{sha256[:16]}-{name}" + (f".{n}" if n else ""))
        n += 1
    return target


def quarantine(path: str, folder: str | os.PathLike[str], sha256: str, copy: bool = False) -> str:
    """Move (``copy``: copy, keeping times) the dump at ``path`` into ``folder``; the path it has there."""
    target = target_in(folder, path, sha256)
    if copy:
        shutil.copy2(path, target)
    else:
        shutil.move(path, target)
    return str(target)


__all__ = ["target_in", "quarantine"]
