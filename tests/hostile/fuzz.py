"""Hypothesis over the entry points, run *inside* a limited child (one child per property, not per
example: starting an interpreter per example would cost more than the examples).

Each task takes the path of a sound input prepared by the test (a bundle, a case, a folder for dumps),
runs a hypothesis property on crafted variants of it and returns how many examples ran. A falsified
property raises in the child: the test fails with hypothesis's falsifying example on stderr. The child's
limits bound the whole run; hypothesis's ``deadline`` bounds each example.

``EV_FUZZ_EXAMPLES`` (``make fuzz`` sets it, as for tests/evidence/test_fuzz.py) turns on random seeds
and sets the examples per property to a twentieth of it: an example here runs a whole entry point (a
verification and an extraction, an unlock, a scan), tens of milliseconds to a second, where a parser's
example takes microseconds. Without it the suite runs a few derandomized examples.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = max(12, int(os.environ["EV_FUZZ_EXAMPLES"]) // 20) if "EV_FUZZ_EXAMPLES" in os.environ else 12
LONG_RUN = "EV_FUZZ_EXAMPLES" in os.environ
#: What a single example may take (a correct entry point needs milliseconds; a KDF at its bound ~1 s).
DEADLINE = timedelta(seconds=8)


def _settings() -> settings:
    return settings(max_examples=EXAMPLES, deadline=DEADLINE, derandomize=not LONG_RUN, database=None,
                    suppress_health_check=list(HealthCheck), print_blob=True)


#: Text an attacker puts in a string field: controls, bidi, markup, path syntax, and ordinary letters.
hostile_text = st.text(st.one_of(st.sampled_from(list("\x00\x07\x1b\x9b\u202e\u2066\r\n\x7f<>&\"'/\\.:=+-@")),
                                 st.characters(exclude_categories=("Cs",))), max_size=40)
huge = st.one_of(st.integers(-2**63, 2**64), st.sampled_from([0, -1, 2**31, 2**32 - 1, 2**63 - 1, 10**10]))
json_value = st.recursive(st.one_of(st.none(), st.booleans(), huge, hostile_text),
                          lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                  st.dictionaries(hostile_text, inner, max_size=4)),
                          max_leaves=12)


# -- bundles --------------------------------------------------------------------------------------------
@st.composite
def bundle_edits(draw: Any) -> dict[str, Any]:
    return {
        "names": draw(st.lists(st.one_of(hostile_text, st.sampled_from(
            ["../x", "/abs", "a/../../x", "evidence/", "C:\\x", "report.html", "REPORT.HTML", "manifest.json"])),
            max_size=4)),
        "sizes": draw(st.lists(huge, max_size=3)),
        "repeat": draw(st.integers(0, 3000)),
        "audit": draw(st.lists(st.one_of(json_value.map(json.dumps),
                                         st.integers(0, 5000).map(lambda d: "[" * d + "]" * d),
                                         huge.map(lambda s: json.dumps({"seq": s, "type": "comment"}))),
                               max_size=4)),
        "manifest_extra": draw(st.dictionaries(st.sampled_from(["case", "audit", "evidence", "signature",
                                                                "format_version", "secrets_included"]),
                                               json_value, max_size=3)),
    }


def _hostile_bundle(base: Path, out: Path, edits: dict[str, Any]) -> Path:
    from tests.builders import hostile_bundle as hb

    extra = [hb.Member.of(name, name.encode("utf-8", "surrogatepass")) for name in edits["names"]]
    audit = hb.members_of(base)["audit.jsonl"] + "".join(f"{a}\n" for a in edits["audit"]).encode()

    def edit(m: dict[str, Any]) -> None:
        for i, size in enumerate(edits["sizes"]):
            m["members"][i % len(m["members"])]["size"] = size
        m["members"] += m["members"][:1] * edits["repeat"]
        m.update(edits["manifest_extra"])

    return hb.rebuild(base, out, replace={"audit.jsonl": audit}, extra=extra, manifest=edit)


def bundles(path: str) -> dict[str, Any]:
    """verify_bundle never raises and extract_bundle writes only inside its folder, only what verified."""
    from viewer.handover.bundle import BundleError, verify_bundle
    from viewer.handover.extract import extract_bundle

    base = Path(path)
    ran = 0

    @_settings()
    @given(edits=bundle_edits())
    def prop(edits: dict[str, Any]) -> None:
        nonlocal ran
        ran += 1
        with tempfile.TemporaryDirectory(dir=base.parent) as tmp:
            bundle = _hostile_bundle(base, Path(tmp) / "b.zip", edits)
            res = verify_bundle(bundle)
            out = Path(tmp) / "box" / "out"
            out.parent.mkdir()
            try:
                extract_bundle(bundle, out)
                extracted = True
            except BundleError as exc:
                extracted = False
                assert "\n" not in str(exc)
            assert extracted == res.ok, (res.problems, res.unreadable)
            outside = [p for p in out.parent.rglob("*") if p != out and out not in p.parents]
            assert outside == [], outside

    prop()
    return {"examples": ran}


# -- cases ----------------------------------------------------------------------------------------------
@st.composite
def case_edits(draw: Any) -> dict[str, Any]:
    kdf_keys = st.sampled_from(["name", "memory_cost", "iterations", "lanes", "n", "r", "p", "salt", "length"])
    return {
        "kdf": draw(st.dictionaries(kdf_keys, st.one_of(huge, hostile_text, json_value), max_size=4)),
        "slot": draw(st.dictionaries(st.sampled_from(["kind", "wrapped", "service", "user", "created"]),
                                     json_value, max_size=2)),
        "slots_times": draw(st.integers(1, 40)),
        "splices": draw(st.lists(st.tuples(st.integers(0, 400), st.binary(min_size=1, max_size=8)), max_size=4)),
        "cut": draw(st.one_of(st.none(), st.integers(0, 600))),
    }


def cases(path: str) -> dict[str, Any]:
    """Opening a crafted case (header rewritten with its checksum, then bytes spliced or cut) raises a
    CaseError with one line, or opens; never anything else, never slowly."""
    from tests.builders.case import PASSPHRASE
    from viewer.case import crypto
    from viewer.case.errors import CaseError
    from viewer.case.unlock import unlock_case

    good = Path(path).read_bytes()
    header, payload = crypto.parse_header(good)
    ran = 0

    @_settings()
    @given(edits=case_edits())
    def prop(edits: dict[str, Any]) -> None:
        nonlocal ran
        ran += 1
        slots = [dict(s) for s in header.slots]
        slots[0] = {**slots[0], **edits["slot"], "kdf": {**slots[0]["kdf"], **edits["kdf"]}}
        data = bytearray(crypto.build_header(header.case_id, slots * edits["slots_times"], header.nonce) + payload)
        for at, blob in edits["splices"]:
            data[at:at + len(blob)] = blob
        if edits["cut"] is not None:
            del data[edits["cut"]:]
        with tempfile.TemporaryDirectory(dir=Path(path).parent) as tmp:
            target = Path(tmp) / "c.evcase"
            target.write_bytes(bytes(data))
            try:
                unlock_case(target, use_keyring=False, ask=lambda reason: PASSPHRASE)
            except CaseError as exc:
                assert "\n" not in str(exc) and PASSPHRASE not in str(exc), str(exc)

    prop()
    return {"examples": ran}


# -- dumps ----------------------------------------------------------------------------------------------
def dumps(path: str) -> dict[str, Any]:
    """Scanning E's hostile dumps at random sizes and repeat counts, and the terminal minidump with
    random strings: the scan ends, warns of a hostile dump, finds the planted key."""
    from tests.builders import hostile
    from tests.cli.hostile_text import hostile_minidump, rsa_pem
    from viewer.evidence import open_dump
    from viewer.scan.engine import scan_dump

    folder = Path(path)
    pem = rsa_pem()
    ran = 0
    sized = st.sampled_from(["minidump_repeated_list_streams", "minidump_repeated_memory_list",
                             "minidump_lying_strings", "minidump_nested_crashpad", "minidump_dso_debug",
                             "elf_garbage_notes", "kernel_lying_triage", "kernel_full_many_runs", "lime_huge_range"])

    @_settings()
    @given(which=st.one_of(st.tuples(sized, st.integers(1024 * 1024, 2 * 1024 * 1024)),
                           st.tuples(st.just("strings"), st.tuples(hostile_text, hostile_text, hostile_text))))
    def prop(which: tuple[str, Any]) -> None:
        nonlocal ran
        ran += 1
        name, arg = which
        target = folder / f"fuzz-{hashlib.sha256(repr(which).encode()).hexdigest()[:12]}.bin"
        if name == "strings":
            target.write_bytes(hostile_minidump(arg[0] or "m.dll", arg[1], arg[2], pem))
        else:
            fn = getattr(hostile, name)
            target.write_bytes(fn(arg) if name != "elf_garbage_notes" else fn(arg, 1000))
        try:
            with open_dump(target) as dump:
                result = scan_dump(dump)
                if name == "strings":
                    assert any(f.kind == "rsa-private-key" for f in result.findings), result.findings
                else:
                    assert dump.warnings or result.warnings, f"{name}({arg}) scanned without a warning"
        finally:
            target.unlink()

    prop()
    return {"examples": ran}
