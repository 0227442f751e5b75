"""`evidence-viewer case ...`: the examiner's encrypted case file from the command line.

Sub-commands::

    case new CASE --name N --examiner E [--number X] [--description D]
    case add CASE DUMP [--scan] [--deep] [--public-key F]...
    case show CASE [--json] [--pretty] [--no-verify]
    case annotate CASE FINDING_ID [--status S] [--comment TEXT] [--author NAME] [--evidence SHA256]
    case audit CASE [--verify] [--json]
    case slots CASE [--add-passphrase | --add-keyring | --remove N]

Unlocking. Every command that opens a case takes ``--no-keyring`` (ignore the keyring slot) and
``--passphrase-file F`` (the file's first line, without its line ending). The passphrase is taken, in
this order, from ``--passphrase-file``, from ``EVIDENCE_VIEWER_PASSPHRASE``, from the OS keyring (unless
``--no-keyring``), and last from a prompt — only when stdin is a terminal; otherwise the command stops
with a one-line error naming the ways to give one (the rule: :mod:`viewer.case.unlock`; its sources on
the command line: :mod:`viewer.cli.passphrase`). ``case new`` puts the data key in the keyring when it
works (plus a passphrase slot when a passphrase is given) and otherwise requires a passphrase. A new
passphrase for ``slots --add-passphrase`` comes from ``--new-passphrase-file``, from
``EVIDENCE_VIEWER_NEW_PASSPHRASE`` or from a prompt (asked twice).

Exit codes: 0 done; 2 bad usage, unreadable input or any case error (wrong passphrase, tampered file,
newer format version, not a case file, keyring unavailable or missing its entry: each the one-line
message of its :class:`~viewer.case.errors.CaseError`); 1 only from ``case audit --verify`` when the
audit trail has problems (each printed on its own line).

Nothing here prints key bytes, passphrases or finding excerpts: the stored findings hold none
(:meth:`viewer.scan.finding.Finding.to_json`), and ``show`` drops any ``excerpt*`` field regardless.
A received case's text (its name, examiner, comments, tags, audit events) is printed through
:func:`~viewer.cli.terminal.emit`, one line per line, so none of it reaches the terminal as a control
sequence or starts a line of its own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from viewer.case import STATUSES, CaseFile, create_case
from viewer.case.errors import CaseError, KeyringUnavailable
from viewer.cli.common import (
    CliError,
    ExitCode,
    error,
    load_public_keys,
    one_line_errors,
    progress_line,
    write_json,
)
from viewer.cli.passphrase import (
    ENV_NEW_PASSPHRASE,
    ENV_PASSPHRASE,
    HOW,
    HOW_NEW,
    add_unlock_options,
    can_prompt,
    given_passphrase,
    prompt,
    unlock_from_args,
)
from viewer.cli.terminal import emit


# -- the sub-commands -------------------------------------------------------------------------------
def cmd_new(args: argparse.Namespace) -> int:
    use_keyring = not args.no_keyring
    pw = given_passphrase(args.passphrase_file)
    kw: dict[str, Any] = {"number": args.number, "description": args.description, "author_name": args.author}
    if pw is None and not use_keyring:
        pw = prompt(f"New passphrase for {Path(args.case).name}: ", HOW, confirm=True)
    try:
        cf = create_case(args.case, args.name, args.examiner, passphrase=pw, use_keyring=use_keyring, **kw)
    except KeyringUnavailable as exc:
        if pw is not None or not can_prompt():
            raise
        error(str(exc))
        pw = prompt(f"New passphrase for {Path(args.case).name}: ", HOW, confirm=True)
        cf = create_case(args.case, args.name, args.examiner, passphrase=pw, use_keyring=False, **kw)
    for w in cf.warnings:
        error(f"warning: {w}")
    kinds = [s["kind"] for s in cf.slots()]
    emit(f"created   {cf.path}", f"case id   {cf.case.id}", f"key slots {', '.join(kinds)}")
    if kinds == ["keyring"]:
        emit("note: only this user's OS keyring opens the case; add a passphrase as a backup with "
             f"`evidence-viewer case slots {args.case} --add-passphrase`", file=sys.stderr)
    return ExitCode.OK


def _scan_settings(args: argparse.Namespace, detectors: list[Any], keys: list[Any]) -> dict[str, Any]:
    return {
        "deep": bool(args.deep),
        "detectors": sorted(d.name for d in detectors),
        "public_keys": [{"label": k.label, "key_id": k.key_id, "source": k.source} for k in keys],
    }


def cmd_add(args: argparse.Namespace) -> int:
    """Add the dump as evidence — each dump of a file that holds several (a ZIP of dumps) — and with
    ``--scan`` scan each and merge its findings."""
    from viewer.evidence import close_dumps, open_dumps

    if args.public_key and not args.scan:
        raise CliError("--public-key is for --scan")
    keys = load_public_keys(args.public_key)
    cf = unlock_from_args(args, args.author)
    try:
        for ref in cf.add_all_evidence(args.dump):
            if ref.member is None:
                emit(f"added     {args.dump} ({ref.format}, {ref.size} bytes)", f"sha256    {ref.sha256}")
            else:  # one of several dumps in the file: named by its content's hash
                emit(f"added     {args.dump} › {ref.member} ({ref.format}, {ref.content_size} bytes)",
                     f"sha256    {ref.sha256} (the file)", f"content   {ref.key} (this dump: its findings' evidence)")
    except CaseError:
        if not args.scan:
            raise
        # Already in the case: with --scan, scan it again (the merge keeps every review).
        emit(f"evidence  {args.dump} is already in the case: scanning it again")
    if args.scan:
        from viewer.scan.detectors import default_detectors
        from viewer.scan.engine import scan_dump

        detectors = default_detectors()
        dumps = open_dumps(args.dump)
        try:
            for dump in dumps:
                sha = dump.evidence_sha256()
                if cf.case.evidence_by_sha256(sha) is None:
                    raise CliError(f"{args.dump}: not the evidence the case holds (SHA-256 {sha[:16]}…)")
                with progress_line(args.dump) as state:
                    result = scan_dump(dump, detectors, state, keys, deep=args.deep)
                if result.cancelled:
                    raise CliError("the scan was cancelled; nothing merged")
                run = cf.merge_scan(sha, [f.to_json() for f in result.findings],
                                    _scan_settings(args, detectors, keys))
                which = f" ({dump.member})" if dump.member is not None else ""
                emit(f"scan{which}  {run.findings} findings ({run.new} new, {run.stale} stale), "
                     f"scanner {run.scanner_version}")
        finally:
            close_dumps(dumps)
    cf.save()
    return ExitCode.OK


def _finding_json(rec: Any) -> dict[str, Any]:
    out = {k: v for k, v in rec.finding.items() if not k.startswith("excerpt")}
    rv = rec.review
    out.update({
        "evidence_sha256": rec.evidence_sha256,
        "scanner_version": rec.scanner_version,
        "first_seen": rec.first_seen,
        "last_seen": rec.last_seen,
        "stale": rec.stale,
        "status": rv.status,
        "severity": rv.severity,
        "tags": list(rv.tags),
        "comments": [{"author": c.author, "time": c.time, "text": c.text, "edited": c.edited,
                      "edited_at": c.edited_at} for c in rv.comments],
    })
    return out


def show_json(cf: CaseFile, verify: bool = True) -> dict[str, Any]:
    """The `case show --json` object (no key material, no finding bytes)."""
    from viewer import __version__

    case = cf.case
    states = {id(s.ref): s for s in cf.verify_evidence()} if verify else {}
    evidence = []
    for ref in case.evidence:
        st = states.get(id(ref))
        evidence.append({
            "path": ref.path, "size": ref.size, "sha256": ref.sha256, "format": ref.format, "member": ref.member,
            "added_at": ref.added_at, "added_by": ref.added_by,
            "state": st.state if st is not None else "not-verified",
            "actual_sha256": st.actual_sha256 if st is not None else None,
        })
    head = case.audit.head
    return {
        "tool": {"name": "evidence-viewer", "version": __version__},
        "case": {"id": case.id, "name": case.name, "number": case.number, "examiner": case.examiner,
                 "description": case.description, "created": case.created, "modified": case.modified,
                 "path": str(cf.path)},
        "key_slots": cf.slots(),
        "evidence": evidence,
        "findings": [_finding_json(r) for r in case.findings],
        "scans": [{"evidence_sha256": s.evidence_sha256, "time": s.time, "author": s.author,
                   "scanner_version": s.scanner_version, "settings": s.settings, "findings": s.findings,
                   "new": s.new, "stale": s.stale} for s in case.scans],
        "bookmarks": len(case.bookmarks),
        "audit": {"events": len(case.audit),
                  "head": {"seq": head[0], "hash": head[1]} if head else None},
    }


def show_lines(doc: dict[str, Any]) -> list[str]:
    """The `case show` page, one line each (the case's own text as it is: :func:`emit` escapes)."""
    c = doc["case"]
    lines = [f"case      {c['name']}" + (f" ({c['number']})" if c["number"] else ""),
             f"id        {c['id']}", f"examiner  {c['examiner']}"]
    if c["description"]:
        lines.append(f"about     {c['description']}")
    lines += [f"created   {c['created']}", f"modified  {c['modified']}",
              f"key slots {', '.join(s['kind'] for s in doc['key_slots'])}",
              f"evidence  {len(doc['evidence'])}"]
    lines += [f"  [{e['state']}] {e['sha256']}  {e['path']}" for e in doc["evidence"]]
    lines.append(f"findings  {len(doc['findings'])}")
    for f in doc["findings"]:
        stale = " (stale)" if f["stale"] else ""
        lines.append(f"  {f['id']}  {f['status']:<22} {f['confidence']:<9} {f['kind']:<24} "
                     f"at {f['offset']:#012x} len {f['length']}  {len(f['comments'])} comment(s){stale}")
    lines.append(f"bookmarks {doc['bookmarks']}")
    head = doc["audit"]["head"]
    lines.append(f"audit     {doc['audit']['events']} events"
                 + (f", head {head['seq']} {head['hash']}" if head else ""))
    return lines


def cmd_show(args: argparse.Namespace) -> int:
    doc = show_json(unlock_from_args(args), verify=not args.no_verify)
    if args.json:
        write_json(doc, pretty=args.pretty)
    else:
        emit(*show_lines(doc))
    return ExitCode.OK


def cmd_annotate(args: argparse.Namespace) -> int:
    if args.status is None and args.comment is None:
        raise CliError("nothing to do: give --status and/or --comment")
    cf = unlock_from_args(args, args.author)
    rec = cf.annotate(args.finding_id, status=args.status, comment=args.comment, evidence_sha256=args.evidence)
    cf.save()
    emit(f"finding   {rec.id}: {rec.review.status}, {len(rec.review.comments)} comment(s)")
    return ExitCode.OK


def _event_summary(ev: dict[str, Any]) -> str:
    data = ev.get("data") or {}
    parts = []
    for k, v in data.items():
        if isinstance(v, (dict, list)):
            continue
        text = str(v)
        parts.append(f"{k}={text if len(text) <= 60 else text[:57] + '...'}")
    return " ".join(parts)


def cmd_audit(args: argparse.Namespace) -> int:
    cf = unlock_from_args(args)
    trail = cf.case.audit
    if args.verify:
        problems = trail.verify()
        if args.json:
            write_json({"events": len(trail), "intact": not problems, "problems": problems})
        elif problems:
            emit(*problems)
        else:
            head = trail.head
            emit(f"audit trail intact: {len(trail)} events" + (f", head {head[0]} {head[1]}" if head else ""))
        return ExitCode.FOUND if problems else ExitCode.OK
    if args.json:
        write_json({"events": trail.to_json()})
        return ExitCode.OK
    for ev in trail:
        emit(f"{ev.get('seq')!s:>5}  {ev.get('time')}  {ev.get('type')!s:<17} {ev.get('author')}  {_event_summary(ev)}")
    return ExitCode.OK


def _slot_text(i: int, s: dict[str, Any]) -> str:
    extra = ""
    if s.get("kind") == "passphrase":
        extra = " ".join(f"{k}={v}" for k, v in (s.get("kdf") or {}).items())
    elif s.get("kind") == "keyring":
        extra = f"service={s.get('service')}"
    return f"{i:>3}  {s.get('kind'):<10}  created {s.get('created')}  {extra}".rstrip()


def cmd_slots(args: argparse.Namespace) -> int:
    new_pw = None
    if args.add_passphrase:  # before unlocking: a bad new-passphrase file is found without a KDF run
        new_pw = given_passphrase(args.new_passphrase_file, ENV_NEW_PASSPHRASE)
    elif args.new_passphrase_file:
        raise CliError("--new-passphrase-file is for --add-passphrase")
    cf = unlock_from_args(args, args.author)
    if args.add_passphrase:
        if new_pw is None:
            new_pw = prompt("New passphrase: ", HOW_NEW, confirm=True)
        index = cf.add_passphrase_slot(new_pw)
        cf.save()
        emit(f"added passphrase slot {index}")
    elif args.add_keyring:
        index = cf.add_keyring_slot()
        cf.save()
        emit(f"added keyring slot {index}")
    elif args.remove is not None:
        try:
            cf.remove_slot(args.remove)
        except IndexError as exc:
            raise CliError(str(exc)) from None
        cf.save()
        emit(f"removed key slot {args.remove}")
    emit(*(_slot_text(i, s) for i, s in enumerate(cf.slots())))
    return ExitCode.OK


# -- the parser -------------------------------------------------------------------------------------
def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the `case` sub-command (with its own sub-commands) to the top-level ``sub`` parsers."""
    p_case = sub.add_parser(
        "case", help="the examiner's encrypted case file: evidence, reviewed findings, audit trail",
        description="Create and work on an encrypted case file. The passphrase comes from --passphrase-file, "
        f"${ENV_PASSPHRASE}, the OS keyring (unless --no-keyring) or a prompt (only on a terminal). "
        "Exit codes: 0 done, 2 bad usage or any case error, 1 only from `audit --verify` (problems found).",
    )
    csub = p_case.add_subparsers(dest="case_command", metavar="COMMAND", required=True)

    p = csub.add_parser("new", help="create a case (keyring when it works, else a passphrase)")
    add_unlock_options(p)
    p.add_argument("--name", required=True)
    p.add_argument("--examiner", required=True)
    p.add_argument("--number", default="", help="the case number")
    p.add_argument("--description", default="")
    p.add_argument("--author", help="the name in the audit trail (default: the examiner)")
    p.set_defaults(case_func=cmd_new)

    p = csub.add_parser("add", help="add a dump as evidence (with its SHA-256); --scan merges its findings")
    add_unlock_options(p)
    p.add_argument("dump", metavar="DUMP")
    p.add_argument("--scan", action="store_true", help="scan the dump and merge the findings into the case")
    p.add_argument("--deep", action="store_true", help="with --scan: the exhaustive (slower) searches")
    p.add_argument("--public-key", action="append", metavar="FILE",
                   help="with --scan: a public key, certificate or JWKS whose private half to look for")
    p.add_argument("--author", help="the name in the audit trail")
    p.set_defaults(case_func=cmd_add)

    p = csub.add_parser("show", help="the case: metadata, evidence (re-hashed), findings with reviews")
    add_unlock_options(p)
    p.add_argument("--json", action="store_true", help="one JSON object for programs")
    p.add_argument("--pretty", action="store_true", help="indent the JSON")
    p.add_argument("--no-verify", action="store_true", help="do not re-hash the evidence files")
    p.set_defaults(case_func=cmd_show)

    p = csub.add_parser("annotate", help="set a finding's review status and/or add a comment")
    add_unlock_options(p)
    p.add_argument("finding_id", metavar="FINDING_ID")
    p.add_argument("--status", choices=STATUSES)
    p.add_argument("--comment", metavar="TEXT")
    p.add_argument("--author", metavar="NAME", help="the name in the audit trail")
    p.add_argument("--evidence", metavar="SHA256", help="the evidence item, when the id is in several")
    p.set_defaults(case_func=cmd_annotate)

    p = csub.add_parser("audit", help="list the audit trail; --verify checks its hash chain (exit 1: problems)")
    add_unlock_options(p)
    p.add_argument("--verify", action="store_true",
                   help="check the chain: exit 0 when intact, 1 with each problem on its own line")
    p.add_argument("--json", action="store_true", help="one JSON object for programs")
    p.set_defaults(case_func=cmd_audit)

    p = csub.add_parser("slots", help="list, add or remove the case's key slots")
    add_unlock_options(p)
    act = p.add_mutually_exclusive_group()
    act.add_argument("--add-passphrase", action="store_true",
                     help=f"add a passphrase slot (--new-passphrase-file, ${ENV_NEW_PASSPHRASE} or a prompt)")
    act.add_argument("--add-keyring", action="store_true", help="add a slot opened by this user's OS keyring")
    act.add_argument("--remove", type=int, metavar="N", help="remove key slot N (never the last one)")
    p.add_argument("--new-passphrase-file", metavar="FILE", help="the new passphrase is this file's first line")
    p.add_argument("--author", help="the name in the audit trail")
    p.set_defaults(case_func=cmd_slots)
    p_case.set_defaults(func=run)
    return p_case


@one_line_errors(CaseError)
def run(args: argparse.Namespace) -> int:
    """Run one `case` sub-command; every expected failure is one line on stderr and exit 2 (a lookup in
    the case that fails — no such finding, no such slot — included)."""
    try:
        return int(args.case_func(args))
    except (KeyError, ValueError) as exc:
        raise CliError(exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)) from exc
