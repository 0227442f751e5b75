"""Creating, opening and saving `.evcase` files (format: :mod:`viewer.case.crypto`).

API::

    create_case(path, name, examiner, *, number="", description="", passphrase=None,
                use_keyring=True, author_name=None, kdf=None) -> CaseFile
    open_case(path, *, passphrase=None, use_keyring=True, prefer_recovery=False,
              author_name=None) -> CaseFile
    has_recovery(path) -> bool;  recovery_path(path) -> Path
    open_recovery(path, **same as open_case) -> CaseFile   # open_case(..., prefer_recovery=True)

    CaseFile: .path, .case (viewer.case.model.Case), .author, .recovered, .warnings
      .save()                 atomic save; removes the recovery file afterwards
      .autosave()             atomic save of <path>.recovery (same slots, same encryption)
      .discard_recovery()
      .slots()                public slot info: kind, created, kdf parameters
      .add_passphrase_slot(passphrase, kdf=None) -> index;  .add_keyring_slot() -> index
      .remove_slot(index)     refuses to remove the last slot; a keyring slot's entry is deleted from
                              the OS keyring by the next save()
      .add_evidence(dump_path, author=None, member=None) -> EvidenceRef;  .add_all_evidence(dump_path) -> [EvidenceRef];  .verify_evidence();  .relocate(ref, path)
      .merge_scan(evidence_sha256, findings_json, settings, scanner_version=None, author=None)
      .annotate(finding_id, status=None, comment=None, severity=None, tags=None, evidence_sha256=None,
                author=None);  .edit_comment(...)
      .add_bookmark(...), .remove_bookmark(id), .record_export(kind, target)

Every mutating method appends its audit event to ``case.audit`` (author = configured name + OS user,
:func:`viewer.case.model.make_author`); slot changes are recorded as ``key-slot-change``. Mutations stay
in memory until :meth:`CaseFile.save` (or :meth:`CaseFile.autosave`); slot changes likewise.

Unlocking: with ``passphrase`` given, the passphrase slots are tried (WrongPassphrase when none opens).
Without one, the keyring slot is used when ``use_keyring`` (KeyringUnavailable when no keyring backend
works, KeyringEntryMissing when the entry is gone); a case without a keyring slot, or ``use_keyring``
False, raises PassphraseRequired. Creating with ``use_keyring`` and no working keyring raises
KeyringUnavailable unless a passphrase is given, in which case the case gets only the passphrase slot and
``CaseFile.warnings`` says why. Nothing is ever stored unencrypted.

Saves are atomic: a temporary file (mode 0600) in the same folder, written, flushed and fsynced, then
``os.replace`` over the case and an fsync of the folder. A crash leaves either the old or the new case
(and at worst a stray ``.<name>.*.tmp`` which is itself encrypted).

A symlinked case path is resolved once, when the case is opened or created, and saves write through
to that target (the link stays a link; a link retargeted meanwhile does not redirect the save). The
recovery file and every other :func:`write_atomic` target are written through their links likewise.

Two processes with one case open: each save takes an exclusive ``flock`` on ``.<name>.lock`` beside the
case file (waiting up to :data:`LOCK_TIMEOUT`, then CaseBusy), and, under the lock, compares the file on
disk with the one this CaseFile last read or wrote (SHA-256 of its bytes). If another process saved in
between, its changes and ours are merged (:mod:`viewer.case.merge`: reviews, comments, bookmarks, scan
runs and audit events combine; our new audit events are re-chained after theirs) and the merged case
is saved and adopted in memory — the records the window shows stay the same objects. What cannot be
merged safely (both changed the same status, comment, field or the key slots) raises
CaseChangedOnDisk and writes nothing: the in-memory case is kept. The lock is held only while saving,
not while the case is open, so that a reviewer can open a case the examiner has open.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from viewer.case import crypto, model
from viewer.case.errors import (
    CaseBusy,
    CaseChangedOnDisk,
    CaseError,
    KeyringUnavailable,
    NotACaseFile,
    PassphraseRequired,
)
from viewer.case.merge import MergeConflict, merge_case, merge_slots
from viewer.tasks import gc_paused

try:
    import fcntl
except ImportError:  # not POSIX: saves are not locked (change detection still refuses to overwrite)
    fcntl = None  # type: ignore[assignment]

SUFFIX = ".evcase"
RECOVERY_SUFFIX = ".recovery"
#: Seconds a save waits for another process's save of the same case to finish.
LOCK_TIMEOUT = 30.0


def recovery_path(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    return p.with_name(p.name + RECOVERY_SUFFIX)


def has_recovery(path: str | os.PathLike[str]) -> bool:
    """True when an autosave of ``path`` newer than its last save is waiting to be recovered."""
    return recovery_path(path).is_file()


def write_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    """``data`` to ``path`` through a temporary file: written, fsynced, renamed, the folder fsynced; a
    crash leaves the old file or the new one, never a mix. ``mode``: the file's permissions (default
    mkstemp's 0600, right for a case file; a redaction log is meant to be read by others).

    A symlink at ``path`` is written through: its target is replaced and the link stays (resolved once,
    here; a link to a link is followed to its end)."""
    path = Path(os.path.realpath(path))
    folder = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        if mode is not None:
            os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(folder)


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (its entry is metadata of the folder)."""
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:  # platforms without directory fds
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


@contextlib.contextmanager
def case_lock(target: Path, timeout: float | None = None) -> Iterator[None]:
    """Exclusive ``flock`` on ``.<name>.lock`` beside the (resolved) case file, for one save.

    A lock file rather than the case itself: the case is replaced by a rename on every save, so a lock
    on its inode would guard a file that is no longer there. The lock file is left in place (removing it
    would race with a process waiting on it); flock locks vanish with their process, so a crash never
    leaves the case locked."""
    if fcntl is None:
        yield
        return
    lock = target.with_name(f".{target.name}.lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        deadline = time.monotonic() + (LOCK_TIMEOUT if timeout is None else timeout)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise CaseBusy(f"{target.name}: another process has been saving this case for "
                                   f"{LOCK_TIMEOUT:g} s; try again") from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)  # releases the lock


def _digest(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


#: The largest case or recovery file read (a case of 100,000 findings is tens of MB).
MAX_CASE_BYTES = 1 << 30


def _read_regular(path: Path) -> bytes:
    """The bytes of the regular file at ``path``, at most :data:`MAX_CASE_BYTES`.

    A received path may be a link to a FIFO (a read that never returns), to ``/dev/zero`` (one that never
    ends) or to a device: it is opened without blocking, must be a regular file, and is read to the size
    it had when opened — never more."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(path)
        if not stat.S_ISREG(st.st_mode):
            raise NotACaseFile(f"{path}: not a regular file (a FIFO, device or socket): refused")
        if st.st_size > MAX_CASE_BYTES:
            raise NotACaseFile(f"{path}: {st.st_size} bytes, larger than any case file ({MAX_CASE_BYTES}): refused")
        chunks, left = [], st.st_size
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 24))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _read_if_any(path: Path) -> bytes | None:
    try:
        return _read_regular(path)
    except FileNotFoundError:
        return None


def _read(path: Path) -> bytes:
    try:
        return _read_regular(path)
    except IsADirectoryError:
        raise NotACaseFile(f"{path}: is a folder, not a case file") from None
    except FileNotFoundError:
        raise CaseError(f"{path}: no such case file") from None
    except OSError as exc:
        raise CaseError(f"{path}: cannot read the case file ({exc.strerror})") from None


class CaseFile:
    """An open case: the decrypted :class:`~viewer.case.model.Case` plus what is needed to save it."""

    def __init__(self, path: Path, case: model.Case, data_key: bytes, slots: list[dict[str, Any]],
                 author: str, *, disk: bytes | None = None, packed: bytes | None = None):
        self.case = case
        self._data_key = data_key
        self._slots = slots
        self.author = author
        self.recovered = False
        self.warnings: list[str] = []
        self._keyring_deletes: list[dict[str, Any]] = []  # removed keyring slots, forgotten on save
        self._bind(path, disk, packed, slots)

    def _bind(self, path: str | os.PathLike[str], disk: bytes | None, packed: bytes | None,
              slots: list[dict[str, Any]]) -> None:
        """Where this case saves (resolved once) and what is there as far as this CaseFile knows: the
        SHA-256 of the file's bytes, and the packed payload and slots it held (the base of a merge)."""
        self._path = Path(path)
        self._target = Path(os.path.realpath(self._path))
        self._disk_digest = _digest(disk)
        self._base: tuple[bytes, list[dict[str, Any]]] | None = (
            None if packed is None else (packed, [dict(s) for s in slots]))

    @property
    def path(self) -> Path:
        return self._path

    @path.setter
    def path(self, value: str | os.PathLike[str]) -> None:
        """"Save as": the next save goes to ``value`` (resolved now) and replaces what is there now; a file
        someone writes there in between is not overwritten (CaseChangedOnDisk). Setting the path the case
        already saves to changes nothing."""
        if Path(os.path.realpath(value)) == self._target:
            self._path = Path(value)
            return
        self._bind(value, _read_if_any(Path(os.path.realpath(value))), None, self._slots)

    @property
    def case_dir(self) -> Path:
        return self.path.resolve().parent

    def _who(self, author: str | None) -> str:
        return author or self.author

    # -- saving ----------------------------------------------------------------------------------
    def _packed(self) -> bytes:
        with gc_paused():
            return crypto.pack(self.case.to_json())

    def _bytes(self) -> bytes:
        return crypto.seal_packed(self._packed(), self.case.id, self._slots, self._data_key)

    def save(self) -> None:
        """Atomically write the case; the recovery file, now older, is removed.

        Under the case's save lock; when another process saved since this one read the file, the two are
        merged first (CaseChangedOnDisk when they cannot be, with nothing written)."""
        with case_lock(self._target):
            on_disk = _read_if_any(self._target)
            if on_disk is not None and _digest(on_disk) != self._disk_digest:
                self._merge_from(on_disk)
            packed = self._packed()
            data = crypto.seal_packed(packed, self.case.id, self._slots, self._data_key)
            write_atomic(self._target, data)
            self._disk_digest = _digest(data)
            self._base = (packed, [dict(s) for s in self._slots])
        self.discard_recovery()
        self.recovered = False
        # Only now that no saved file needs it any more: the KEK of a removed keyring slot (if ours).
        while self._keyring_deletes:
            kept = crypto.delete_keyring_entry(self._keyring_deletes.pop(), self.case.id, self._data_key,
                                               self._target)
            if kept:
                self.warnings.append(kept)

    def _merge_from(self, on_disk: bytes) -> None:
        """Merge what another process saved into this case (in place), or raise CaseChangedOnDisk."""
        name = self.path.name
        if self._base is None:
            raise CaseChangedOnDisk(f"{name}: the file on disk is not the one this case was read from: "
                                    "not overwritten; save it under another name")
        try:
            header, payload = crypto.parse_header(on_disk)
            theirs = crypto.unpack(crypto.open_packed(header, payload, self._data_key), header.case_id)
            base = crypto.unpack(self._base[0], self.case.id)
            with gc_paused():
                merged = merge_case(base, self.case.to_json(), theirs)
                slots = merge_slots(self._base[1], self._slots, header.slots)
                adopted = model.Case.from_json(merged)
        except MergeConflict as exc:
            raise CaseChangedOnDisk(
                f"{name}: saved by another process since it was opened, and both changed {exc}: nothing was "
                "written (your changes are still open here; save them under another name)") from None
        except CaseError as exc:
            raise CaseChangedOnDisk(f"{name}: replaced on disk by a file this case cannot merge ({exc}): "
                                    "not overwritten; save it under another name") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise CaseChangedOnDisk(f"{name}: the file on disk could not be merged ({type(exc).__name__}): "
                                    "not overwritten; save it under another name") from None
        _adopt(self.case, adopted)
        self._slots[:] = slots
        self.warnings.append(f"{name} had been saved by another process meanwhile: its changes were merged "
                             "with these")

    def autosave(self) -> Path:
        """Atomically write the current state to ``<case>.recovery`` (encrypted like the case)."""
        target = recovery_path(self.path)
        with case_lock(self._target):
            write_atomic(target, self._bytes())
        return target

    def discard_recovery(self) -> None:
        target = Path(os.path.realpath(recovery_path(self.path)))  # a symlinked recovery: its target
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
            fsync_dir(target.parent)

    # -- key slots -------------------------------------------------------------------------------
    def slots(self) -> list[dict[str, Any]]:
        return [crypto.public_slot_info(s) for s in self._slots]

    def add_passphrase_slot(self, passphrase: str, *, kdf: dict[str, Any] | None = None,
                            author: str | None = None) -> int:
        """Add a passphrase slot (``kdf`` only for tests: :data:`crypto.TEST_KDF`); returns its index."""
        self._slots.append(crypto.passphrase_slot(self._data_key, passphrase, kdf))
        index = len(self._slots) - 1
        self.case.audit.append("key-slot-change", self._who(author),
                               {"action": "added", "kind": "passphrase", "index": index})
        self.case.touch()
        return index

    def add_keyring_slot(self, *, author: str | None = None) -> int:
        if any(s.get("kind") == "keyring" for s in self._slots):
            raise CaseError("the case already has a keyring slot")
        self._slots.append(crypto.keyring_slot(self._data_key, self._target))
        index = len(self._slots) - 1
        self.case.audit.append("key-slot-change", self._who(author),
                               {"action": "added", "kind": "keyring", "index": index})
        self.case.touch()
        return index

    def remove_slot(self, index: int, *, author: str | None = None) -> None:
        """Remove key slot ``index`` (takes effect on disk with the next save)."""
        if not 0 <= index < len(self._slots):
            raise IndexError(f"no key slot {index}: the case has {len(self._slots)}")
        if len(self._slots) == 1:
            raise CaseError("cannot remove the last key slot: the case could never be opened again")
        slot = self._slots.pop(index)
        if slot.get("kind") == "keyring":
            self._keyring_deletes.append(slot)
        self.case.audit.append("key-slot-change", self._who(author),
                               {"action": "removed", "kind": slot.get("kind"), "index": index})
        self.case.touch()

    def change_passphrase(self, index: int, new_passphrase: str, *, kdf: dict[str, Any] | None = None,
                          author: str | None = None) -> int:
        """Replace passphrase slot ``index`` by a new one; the data key (and so the case) stays."""
        if self._slots[index].get("kind") != "passphrase":
            raise CaseError(f"key slot {index} is not a passphrase slot")
        new = self.add_passphrase_slot(new_passphrase, kdf=kdf, author=author)
        self.remove_slot(index, author=author)
        return new - 1

    # -- the case --------------------------------------------------------------------------------
    def add_evidence(self, dump_path: str | os.PathLike[str], author: str | None = None,
                     member: str | None = None) -> model.EvidenceRef:
        return model.add_evidence(self.case, dump_path, self._who(author), self.case_dir, member)

    def add_all_evidence(self, dump_path: str | os.PathLike[str], author: str | None = None) -> list[model.EvidenceRef]:
        return model.add_all_evidence(self.case, dump_path, self._who(author), self.case_dir)

    def verify_evidence(self, paths: dict[str, Path] | None = None,
                        progress: Callable[[int], None] | None = None) -> list[model.EvidenceStatus]:
        return model.verify_evidence(self.case, self.case_dir, paths, progress)

    def relocate(self, ref: model.EvidenceRef, new_path: str | os.PathLike[str],
                 author: str | None = None, *, actual_sha256: str | None = None) -> None:
        model.relocate(self.case, ref, new_path, self._who(author), self.case_dir, actual_sha256=actual_sha256)

    def merge_scan(self, evidence_sha256: str, findings_json: list[dict[str, Any]], settings: dict[str, Any],
                   *, scanner_version: str | None = None, author: str | None = None) -> model.ScanRun:
        return model.merge_scan(self.case, evidence_sha256, findings_json, settings, self._who(author),
                                scanner_version)

    def annotate(self, finding_id: str, status: str | None = None, comment: str | None = None, *,
                 severity: str | None = None, tags: list[str] | None = None,
                 evidence_sha256: str | None = None, author: str | None = None) -> model.FindingRecord:
        return model.annotate(self.case, finding_id, self._who(author), evidence_sha256=evidence_sha256,
                              status=status, severity=severity, tags=tags, comment=comment)

    def edit_comment(self, finding_id: str, index: int, text: str, *, evidence_sha256: str | None = None,
                     author: str | None = None) -> model.Comment:
        return model.edit_comment(self.case, finding_id, index, text, self._who(author),
                                  evidence_sha256=evidence_sha256)

    def add_bookmark(self, evidence_sha256: str, offset: int, length: int, name: str, *, colour: str = "",
                     note: str = "", author: str | None = None) -> model.Bookmark:
        return model.add_bookmark(self.case, evidence_sha256, offset, length, name, self._who(author),
                                  colour=colour, note=note)

    def remove_bookmark(self, bookmark_id: str, author: str | None = None) -> None:
        model.remove_bookmark(self.case, bookmark_id, self._who(author))

    def record_export(self, kind: str, target: str, author: str | None = None) -> None:
        model.record_export(self.case, kind, target, self._who(author))

    def record_redaction(self, evidence_sha256: str, facts: dict[str, Any], author: str | None = None) -> None:
        model.record_redaction(self.case, evidence_sha256, facts, self._who(author))


def create_case(path: str | os.PathLike[str], name: str, examiner: str, *, number: str = "",
                description: str = "", passphrase: str | None = None, use_keyring: bool = True,
                author_name: str | None = None, kdf: dict[str, Any] | None = None) -> CaseFile:
    """Create and save a new case. ``author_name`` defaults to ``examiner``; ``kdf`` is for tests only."""
    path = Path(path)
    if path.exists():
        raise CaseError(f"{path}: already exists; open it or choose another name")
    if not use_keyring and not passphrase:
        raise PassphraseRequired("a case without the keyring needs a passphrase")
    author = model.make_author(author_name if author_name is not None else examiner)
    case = model.Case.new(name, examiner, number=number, description=description, author=author)
    data_key = os.urandom(32)
    cf = CaseFile(path, case, data_key, [], author)
    if use_keyring:
        try:
            cf.add_keyring_slot()
        except KeyringUnavailable as exc:
            if not passphrase:
                raise
            cf.warnings.append(f"{exc}; the case is protected by its passphrase only")
    if passphrase:
        cf.add_passphrase_slot(passphrase, kdf=kdf)
    cf.save()
    return cf


def _load(path: Path, passphrase: str | None, use_keyring: bool, author_name: str | None) -> CaseFile:
    data = _read(path)
    header, payload = crypto.parse_header(data)
    if passphrase is not None:
        data_key = crypto.unlock_with_passphrase(header.slots, passphrase)
    elif use_keyring and any(s.get("kind") == "keyring" for s in header.slots):
        data_key = crypto.unlock_with_keyring(header.slots, header.case_id)
    elif use_keyring:
        raise PassphraseRequired(f"{path.name}: this case has no keyring slot; give its passphrase")
    else:
        raise PassphraseRequired(f"{path.name}: give the case passphrase (keyring not used)")
    packed = crypto.open_packed(header, payload, data_key)
    try:
        with gc_paused():
            case = model.Case.from_json(crypto.unpack(packed, header.case_id))
    except CaseError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise CaseError(f"{path.name}: the case content is not in the expected form ({exc})") from None
    author = model.make_author(author_name if author_name is not None else case.examiner)
    return CaseFile(path, case, data_key, header.slots, author, disk=data, packed=packed)


def open_case(path: str | os.PathLike[str], *, passphrase: str | None = None, use_keyring: bool = True,
              prefer_recovery: bool = False, author_name: str | None = None) -> CaseFile:
    """Open a case; with ``prefer_recovery`` and a recovery file present, its (autosaved) state instead.

    A recovered CaseFile has ``recovered`` True and still saves to ``path``.
    """
    path = Path(path)
    if prefer_recovery and has_recovery(path):
        cf = _load(recovery_path(path), passphrase, use_keyring, author_name)
        disk, packed, slots = None, None, cf._slots
        if path.exists():
            disk = _read(path)
            main, payload = crypto.parse_header(disk)
            if main.case_id != cf.case.id:
                raise CaseError(f"{recovery_path(path).name}: belongs to another case than {path.name}")
            # The recovered state replaces the case as it is now; what others save from here on is merged.
            with contextlib.suppress(CaseError):
                packed, slots = crypto.open_packed(main, payload, cf._data_key), main.slots
        cf._bind(path, disk, packed, slots)
        cf.recovered = True
        return cf
    return _load(path, passphrase, use_keyring, author_name)


def _adopt(case: model.Case, merged: model.Case) -> None:
    """Make ``case`` the ``merged`` case in place, keeping the objects of records both hold (a window's
    models refer to them)."""
    for field in ("name", "number", "examiner", "description", "created", "modified"):
        setattr(case, field, getattr(merged, field))

    def keep(mine: list[Any], new: list[Any], key: Callable[[Any], Any]) -> None:
        old = {key(x): x for x in mine}
        out = []
        for x in new:
            same = old.get(key(x))
            if same is not None:
                same.__dict__.update(x.__dict__)
                x = same
            out.append(x)
        mine[:] = out

    keep(case.evidence, merged.evidence, lambda e: (e.sha256, e.member))
    keep(case.bookmarks, merged.bookmarks, lambda b: b.id)
    keep(case.findings, merged.findings, lambda r: (r.evidence_sha256, r.id))
    case.scans[:] = merged.scans
    case.audit.events[:] = merged.audit.events
    case.__dict__.pop("_finding_index", None)  # Case._by_id rebuilds it


def open_recovery(path: str | os.PathLike[str], **kwargs: Any) -> CaseFile:
    """Open the autosaved state of ``path`` (CaseError when there is none)."""
    if not has_recovery(path):
        raise CaseError(f"{path}: no recovery file")
    return open_case(path, prefer_recovery=True, **kwargs)


__all__ = ["CaseFile", "create_case", "open_case", "open_recovery", "has_recovery", "recovery_path",
           "write_atomic", "fsync_dir", "case_lock", "SUFFIX", "LOCK_TIMEOUT"]
