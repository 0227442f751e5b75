"""Bookmarks that outlive the window without a case: kept per evidence SHA-256 until a case takes them.

Before, a bookmark made with no case open lived in the tab only: a case created afterwards did not get
it and a restart lost it, without a word. Now the session keeps every bookmark that is in no case in a
small key-value store (the window's QSettings, under ``bookmarks/pending/<sha256>``) as soon as the
dump's hash is known, offers them again when a file with that hash is opened, and hands them to a case
when the dump becomes its evidence (:meth:`viewer.workspace.session.Session.add_evidence`), which
removes them from the store.

The store is anything with QSettings' three methods (``value``, ``setValue``, ``remove``), so this
module stays Qt-free and is tested with :class:`MemoryStore`. What is read back is checked (types,
counts): a settings file is plain text that anyone with the account can edit.
"""

from __future__ import annotations

import json
import re
from typing import Any, Protocol

PREFIX = "bookmarks/pending/"
MAX_PER_DUMP = 10_000  # more than any examiner makes by hand; a corrupt store cannot grow a tab without end
MAX_TEXT = 2_000
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class KeyValueStore(Protocol):
    """The part of QSettings the store needs."""

    def value(self, key: str, defaultValue: Any = None) -> Any: ...  # noqa: N803 - QSettings' name

    def setValue(self, key: str, value: Any) -> None: ...  # noqa: N802 - QSettings' name

    def remove(self, key: str) -> None: ...


class MemoryStore:
    """A dict with QSettings' methods (tests, and a session without settings)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def value(self, key: str, defaultValue: Any = None) -> Any:  # noqa: N803
        return self.data.get(key, defaultValue)

    def setValue(self, key: str, value: Any) -> None:  # noqa: N802
        self.data[key] = value

    def remove(self, key: str) -> None:
        self.data.pop(key, None)


def _text(value: Any) -> str:
    return str(value)[:MAX_TEXT] if isinstance(value, str) else ""


def _record(d: Any) -> dict[str, Any] | None:
    """One stored bookmark as checked fields, or None when it is not one."""
    if not isinstance(d, dict):
        return None
    offset, length = d.get("offset"), d.get("length")
    if not isinstance(offset, int) or not isinstance(length, int) or isinstance(offset, bool) or offset < 0 \
            or length < 1:
        return None
    return {"name": _text(d.get("name")) or "bookmark", "offset": offset, "length": length,
            "colour": _text(d.get("colour")), "note": _text(d.get("note"))}


class PendingBookmarks:
    """Bookmarks in no case, per evidence SHA-256, as plain records (``name, offset, length, colour,
    note``); the session turns them into its :class:`~viewer.workspace.session.Bookmark`."""

    def __init__(self, store: KeyValueStore | None = None):
        self.store: KeyValueStore = store if store is not None else MemoryStore()

    @staticmethod
    def _key(sha256: str) -> str:
        if not _SHA256.match(sha256):
            raise ValueError(f"not a SHA-256: {sha256!r}")
        return PREFIX + sha256

    def load(self, sha256: str) -> list[dict[str, Any]]:
        """The bookmarks kept for ``sha256`` (empty when none, or when what is stored is not readable)."""
        raw = self.store.value(self._key(sha256), None)
        if not raw:
            return []
        try:
            items = json.loads(str(raw))
        except ValueError:
            return []
        if not isinstance(items, list):
            return []
        return [r for r in (_record(d) for d in items[:MAX_PER_DUMP]) if r is not None]

    def save(self, sha256: str, records: list[dict[str, Any]]) -> None:
        """Keep exactly ``records`` for ``sha256`` (none: the entry goes)."""
        checked = [r for r in (_record(d) for d in records[:MAX_PER_DUMP]) if r is not None]
        if checked:
            self.store.setValue(self._key(sha256), json.dumps(checked))
        else:
            self.store.remove(self._key(sha256))

    def discard(self, sha256: str) -> None:
        """A case took them: forget them here."""
        self.store.remove(self._key(sha256))


__all__ = ["KeyValueStore", "MemoryStore", "PendingBookmarks"]
