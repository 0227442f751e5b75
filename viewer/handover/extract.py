"""Extracting a received case bundle: verified first, every member name checked, written into one folder.

Used by the window's File ▸ Open bundle… and by ``evidence-viewer extract BUNDLE --out DIR``; before this
module the extraction lived in the window, so the command line could not do it.

Order (:func:`extract_bundle`):

1. **Verify** (:func:`~viewer.handover.bundle.verify_bundle`): a bundle that does not verify — a changed,
   added or missing member, a broken audit chain, an unsafe member name — raises
   :class:`BundleNotVerified` (its ``result`` holds the problems) and nothing is written, not even the
   folder.
2. **Plan** every destination before writing anything: each member of the manifest goes to its own name
   under ``out_dir`` (``case/<name>.evcase``, ``report.html``, ``findings.*``, ``audit.jsonl``,
   ``evidence/<sha256 prefix>-<name>``), and ``manifest.json`` beside them. An evidence file goes where the
   case's relative path for it points when that lies inside ``out_dir`` (so that the case finds it
   without help), else under ``evidence/`` — :attr:`ExtractedBundle.overrides` then says where (the
   window passes it to the case as the evidence's location). Refused with :class:`UnsafeMember`: a
   member name that is absolute, has ``..`` or an empty component, a backslash or colon, is a link or
   not a regular file, repeats another (also when only its case differs), or a destination that
   resolves outside ``out_dir`` (a link already in the folder) or collides with another.
3. **Write**: nothing is ever overwritten (an existing file is an error naming it, before any write);
   each member is streamed through a temporary file in its folder and re-hashed against the manifest
   while written (a bundle changed since it was verified is refused); evidence is made read-only. On any
   failure or cancel the files already written are removed again.

Signature: :attr:`ExtractedBundle.verify` ``.signature`` says who signed the bundle and whether that key
is in ``trusted`` (:mod:`viewer.handover.signing`); with ``require_signature`` an unsigned bundle or one
whose signer is not trusted raises :class:`SignatureNotTrusted` before anything is written (an invalid
signature does not verify at all). The window verifies first (:func:`~viewer.handover.bundle.verify_bundle`),
shows the signer and asks, then passes that result as ``verified``: the members are not hashed twice, and
every byte written — the manifest and the signature too — is still checked against what was verified.

Bounded: the bytes of each member are counted as they are written and refused one past its declared size
(which verification held to its cap); the declared total must fit in the free space of the folder's disk.

``state`` (a :class:`~viewer.tasks.TaskState`): verification as the step ``verifying the bundle``, the
writing as ``extracting`` (bytes over all members), cancel (:class:`~viewer.handover.bundle.BundleCancelled`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from viewer.handover.bundle import (
    MANIFEST,
    SIGNATURE,
    BundleCancelled,
    BundleError,
    VerifyResult,
    member_name_problem,
    shown_name,
    verify_bundle,
)
from viewer.tasks import TaskState
from viewer.tasks import ensure as ensure_state

STEP_EXTRACT = "extracting"
COPY_BUF = 1024 * 1024
REPORT = "report.html"
CANCELLED = "extraction cancelled: the files written were removed"


class BundleNotVerified(BundleError):
    """The bundle does not verify: nothing was extracted. ``result``: the verification (its problems,
    one line each, or why it is unreadable)."""

    def __init__(self, bundle: str | os.PathLike[str], result: VerifyResult):
        if result.unreadable:
            text = result.unreadable
        else:
            n = len(result.problems)
            first = result.problems[0] if result.problems else "no manifest"
            text = f"{bundle}: does not verify ({n} problem{'s' if n != 1 else ''}; first: {first}); nothing extracted"
        super().__init__(text)
        self.result = result

    @property
    def unreadable(self) -> bool:
        """True when the bundle could not be read at all (not a ZIP, no manifest), not a list of problems."""
        return self.result.unreadable is not None


class SignatureNotTrusted(BundleError):
    """``require_signature`` and the bundle is unsigned or signed by a key not trusted: nothing extracted.
    ``result``: the verification (its ``signature`` says which)."""

    def __init__(self, bundle: str | os.PathLike[str], result: VerifyResult):
        super().__init__(f"{bundle}: {result.signature.describe()}; a trusted signature is required, nothing extracted")
        self.result = result


class UnsafeMember(BundleError):
    """A member could land outside the folder, replace another or is not a plain file: nothing extracted."""


@dataclass
class ExtractedBundle:
    """What :func:`extract_bundle` wrote. Paths are absolute."""

    verify: VerifyResult
    out_dir: Path
    case_path: Path
    report_path: Path | None
    evidence: dict[str, Path] = field(default_factory=dict)  # evidence SHA-256 -> extracted file
    overrides: dict[str, Path] = field(default_factory=dict)  # those not where the case's own path points
    files: list[Path] = field(default_factory=list)  # every file written, in order


def default_target(bundle: str | os.PathLike[str]) -> Path:
    """A new folder beside the bundle, named after it (``x.zip`` -> ``x``; ``x-2`` … when taken)."""
    p = Path(bundle)
    base = p.with_suffix("") if p.suffix else p.with_name(p.name + "-case")
    target, n = base, 1
    while target.exists():
        n += 1
        target = base.with_name(f"{base.name}-{n}")
    return target


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


@dataclass
class _Planned:
    member: str
    sha256: str  # what verification found (the manifest's and signature's own) or the manifest lists
    size: int
    dest: Path
    read_only: bool = False


def _check_names(zf: zipfile.ZipFile) -> None:
    """Every member name of the archive, before anything is written (verify applied the same rule)."""
    seen: set[str] = set()
    for info in zf.infolist():
        problem = member_name_problem(info)
        folded = info.filename.casefold()
        if problem is None and folded in seen:
            problem = "repeats another member's name"
        if problem is not None:
            raise UnsafeMember(f"{shown_name(info.filename)}: {problem}; nothing extracted")
        seen.add(folded)


def _plan(res: VerifyResult, infos: dict[str, zipfile.ZipInfo], out: Path) -> tuple[list[_Planned], Path,
                                                                                  dict[str, str]]:
    """The destination of every member; the case file's; evidence SHA-256 -> member. Raises UnsafeMember."""
    manifest = res.manifest or {}
    members = {str(m["name"]): str(m["sha256"]) for m in manifest.get("members", []) if isinstance(m, dict)}
    sizes = {str(m["name"]): int(m["size"]) for m in manifest.get("members", []) if isinstance(m, dict)}
    cases = [n for n in members if n.startswith("case/") and n.endswith(".evcase")]
    if len(cases) != 1:
        raise BundleError(f"{len(cases)} case files in the bundle (expected one); nothing extracted")
    case_path = out / PurePosixPath(cases[0])
    evidence: dict[str, tuple[str, str]] = {}  # member -> (sha256, the case's stored path)
    for e in manifest.get("evidence", []) or []:
        member = e.get("member") if isinstance(e, dict) else None
        if member and member in members:
            evidence[str(member)] = (str(e.get("sha256")), str(e.get("path") or ""))
    plan: list[_Planned] = []
    taken: set[str] = set()
    by_sha: dict[str, str] = {}

    def add(member: str, sha: str, dest: Path, read_only: bool = False, size: int | None = None) -> None:
        resolved = dest.resolve()  # an existing link in the folder would lead elsewhere
        if not _inside(resolved, out) or resolved == out:
            raise UnsafeMember(f"{shown_name(member)}: would be written outside {out}; nothing extracted")
        key = os.path.normcase(str(resolved)).casefold()
        if key in taken:
            raise UnsafeMember(f"{shown_name(member)}: would replace another member's file; nothing extracted")
        taken.add(key)
        plan.append(_Planned(member, sha, sizes[member] if size is None else size, resolved, read_only))

    add(cases[0], members[cases[0]], case_path)
    for member, sha in members.items():
        if member == cases[0] or member in evidence:
            continue
        add(member, sha, out / PurePosixPath(member))
    assert res.manifest_sha256 is not None
    add(MANIFEST, res.manifest_sha256, out / MANIFEST, size=infos[MANIFEST].file_size)
    if res.signature_sha256 is not None and SIGNATURE in infos:
        add(SIGNATURE, res.signature_sha256, out / SIGNATURE, size=infos[SIGNATURE].file_size)
    for member, (sha, stored) in evidence.items():
        natural = None
        if stored and not Path(stored).is_absolute():
            natural = (case_path.parent / stored).resolve()
        dest = out / PurePosixPath(member)
        if natural is not None and _inside(natural, out) and natural != out:
            key = os.path.normcase(str(natural)).casefold()
            if key not in taken:
                dest = natural
        add(member, members[member], dest, read_only=True)
        by_sha[sha] = member
    return plan, case_path.resolve(), by_sha


def _place(tmp: str, dest: Path) -> None:
    """Give the finished temporary file its name without ever replacing a file: a hard link fails when
    ``dest`` exists (even one that appeared since the check); where the disk has no hard links, a rename
    after a last check."""
    try:
        os.link(tmp, dest)
        return
    except FileExistsError:
        raise BundleError(f"{dest} exists: choose another folder") from None
    except OSError:
        pass  # no hard links here (FAT, some network disks)
    if dest.exists() or dest.is_symlink():
        raise BundleError(f"{dest} exists: choose another folder")
    os.replace(tmp, dest)


def _write(zf: zipfile.ZipFile, item: _Planned, tick: Any) -> None:
    """Stream one member to its destination through a temporary file, counting its bytes (never more than
    its verified size) and checking its SHA-256."""
    dest = item.dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        sha, n = hashlib.sha256(), 0
        with zf.open(item.member) as src, os.fdopen(fd, "wb") as fh:
            while chunk := src.read(min(COPY_BUF, item.size + 1 - n)):
                n += len(chunk)
                if n > item.size:
                    raise BundleError(f"{shown_name(item.member)}: inflates beyond its {item.size} verified bytes; "
                                      "refused (a crafted archive)")
                sha.update(chunk)
                fh.write(chunk)
                tick(len(chunk))
            fh.flush()
            os.fsync(fh.fileno())
        if sha.hexdigest() != item.sha256:
            raise BundleError(f"{shown_name(item.member)}: SHA-256 does not match the manifest "
                              "(changed since it was verified)")
        if item.read_only:
            os.chmod(tmp, 0o444)
        _place(tmp, dest)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _free_space(folder: Path) -> int | None:
    """Free bytes on the disk that ``folder`` (or its nearest existing parent) is on; None when unknown."""
    for d in (folder, *folder.parents):
        if d.exists():
            try:
                return shutil.disk_usage(d).free
            except OSError:
                return None
    return None


def extract_bundle(bundle: str | Path, out_dir: str | Path, state: TaskState | None = None, *,
                   trusted: Mapping[str, str] | None = None, require_signature: bool = False,
                   verified: VerifyResult | None = None) -> ExtractedBundle:
    """Verify ``bundle``, then extract every member into ``out_dir`` (see the module docstring).

    ``trusted``: fingerprint -> name (:func:`~viewer.handover.signing.load_trusted_keys`); with
    ``require_signature`` only a bundle validly signed by one of them is extracted
    (:class:`SignatureNotTrusted`). ``verified``: the result of an earlier ``verify_bundle(bundle)``.

    Raises :class:`BundleNotVerified` when it does not verify (``.result``), :class:`UnsafeMember` for a
    member that could escape the folder or replace another, :class:`~viewer.handover.bundle.BundleError`
    when a file exists or a member changed since the verification,
    :class:`~viewer.handover.bundle.BundleCancelled` on cancel, OSError when the folder cannot be written.
    """
    st = ensure_state(state)
    res = verified if verified is not None else verify_bundle(bundle, st, trusted)
    if not res.ok or res.manifest is None:
        raise BundleNotVerified(bundle, res)
    if require_signature and not (res.signature.valid and res.signature.trusted):
        raise SignatureNotTrusted(bundle, res)
    out = Path(out_dir).resolve()
    written: list[Path] = []
    made: list[Path] = []
    try:
        with zipfile.ZipFile(bundle) as zf:
            _check_names(zf)
            infos = {i.filename: i for i in zf.infolist()}
            plan, case_path, by_sha = _plan(res, infos, out)
            for item in plan:
                if item.dest.exists() or item.dest.is_symlink():
                    raise BundleError(f"{item.dest} exists: choose another folder")
            need, free = sum(p.size for p in plan), _free_space(out)
            if free is not None and need > free:
                raise BundleError(f"{out}: the bundle needs {need} bytes, the disk has {free} free; nothing extracted")
            if not out.exists():
                out.mkdir(parents=True)
                made.append(out)
            total, done = sum(p.size for p in plan), 0

            def tick(n: int) -> None:
                nonlocal done
                done += n
                st.step_progress(STEP_EXTRACT, done, total)
                st.check(BundleCancelled, CANCELLED)

            st.step_progress(STEP_EXTRACT, 0, total)
            for item in plan:
                st.check(BundleCancelled, CANCELLED)
                parent = item.dest.parent
                made.extend(reversed([d for d in (parent, *parent.parents) if _inside(d, out) and not d.exists()]))
                _write(zf, item, tick)
                written.append(item.dest)
    except BaseException:
        for path in reversed(written):
            with contextlib.suppress(OSError):
                path.unlink()
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty: a folder that held files before is left alone
        raise
    dest_of = {p.member: p.dest for p in plan}
    evidence = {sha: dest_of[m] for sha, m in by_sha.items()}
    natural = {e.get("sha256"): (case_path.parent / str(e.get("path") or "")).resolve()
               for e in res.manifest.get("evidence", []) or [] if isinstance(e, dict) and e.get("path")}
    overrides = {sha: p for sha, p in evidence.items() if natural.get(sha) != p}
    return ExtractedBundle(res, out, case_path, dest_of.get(REPORT), evidence, overrides, written)


__all__ = ["ExtractedBundle", "BundleNotVerified", "SignatureNotTrusted", "UnsafeMember", "extract_bundle", "default_target",
           "STEP_EXTRACT"]
