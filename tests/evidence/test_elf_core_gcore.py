"""The ELF core parser on cores of live processes: written by gdb's gcore here and now, and the sample.

Why live processes: the corpus cores are old and small. A process we start ourselves puts a random
marker at an address it reports, so the VA <-> file mapping is checked against ground truth we control
rather than against another parser.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.builders.live import gcore
from viewer.evidence.formats import elf
from viewer.evidence.formats.base import Warnings
from viewer.evidence.model import Dump
from viewer.evidence.source import ByteSource

GCC = shutil.which("gcc") or shutil.which("cc")
PR_SET_PTRACER, PR_SET_PTRACER_ANY = 0x59616D61, -1

PY_HOLDER = f"""
import ctypes, sys
ctypes.CDLL(None).prctl({PR_SET_PTRACER}, ctypes.c_ulong({PR_SET_PTRACER_ANY}), 0, 0, 0)  # Yama: let gdb attach
buf = bytearray(bytes.fromhex(sys.argv[1]))
print(ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf)), flush=True)
sys.stdin.read()
"""

C_HOLDER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
int main(int argc, char **argv) {
    prctl(0x59616d61, (unsigned long)-1, 0, 0, 0);  /* PR_SET_PTRACER_ANY: Yama lets gdb attach */
    size_t n = strlen(argv[1]) / 2;
    unsigned char *heap = malloc(n);
    volatile unsigned char stack[64];
    for (size_t i = 0; i < n; i++) sscanf(argv[1] + 2 * i, "%2hhx", &heap[i]);
    for (size_t i = 0; i < n && i < sizeof stack; i++) stack[i] = heap[i] ^ 0xff;
    printf("%p %p\n", (void *)heap, (void *)stack);
    fflush(stdout);
    getchar();
    return stack[0] == 1;
}
"""


def parse_core(path: Path) -> Dump:
    src = ByteSource(path)
    return Dump(src, elf.parse(src, Warnings()))


@pytest.fixture
def holder() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes started by a test, always ended (by their own pid) when it finishes."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=30)


def start(holder: list[subprocess.Popen[str]], argv: list[str]) -> tuple[subprocess.Popen[str], str]:
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    holder.append(p)
    assert p.stdout is not None
    line = p.stdout.readline()
    assert line, "the holder process died before reporting its address"
    return p, line


def check_marker(dump: Dump, addr: int, marker: bytes) -> None:
    """The reported address maps to file bytes holding the marker, and back."""
    offset = dump.va_to_file(addr)
    assert offset is not None, f"{addr:#x} is not in any region"
    assert dump.read(offset, len(marker)) == marker
    assert dump.file_to_va(offset) == addr
    assert dump.read_va(addr, len(marker)) == marker
    region = dump.region_at(offset)
    assert region is not None and region.vaddr is not None
    assert region.perms is not None and region.perms.startswith("rw")


@pytest.mark.slow
def test_gcore_of_a_python_process(tmp_path: Path, holder: list[subprocess.Popen[str]]) -> None:
    marker = secrets.token_bytes(32)
    p, line = start(holder, [sys.executable, "-c", PY_HOLDER, marker.hex()])
    core = gcore(p.pid, tmp_path / "py.core")
    dump = parse_core(core)
    assert dump.format == "elf-core" and not dump.warnings, dump.warnings
    check_marker(dump, int(line), marker)
    assert dump.meta["process"]["pid"] == p.pid
    assert dump.meta["arch"] in ("amd64", "arm64", "x86", "arm", "ppc64", "s390x", "riscv64", "loongarch64")
    assert dump.meta["exception"] is None  # a live process: no thread was being killed by a signal
    assert any(t["id"] == p.pid for t in dump.details["threads"])
    assert any(os.path.realpath(sys.executable) == os.path.realpath(m["name"]) or "python" in m["name"]
               for m in dump.details["modules"])


@pytest.mark.slow
def test_gcore_of_a_c_process(tmp_path: Path, holder: list[subprocess.Popen[str]]) -> None:
    exe = tmp_path / "marker-holder"
    (tmp_path / "holder.c").write_text(C_HOLDER)
    subprocess.run([GCC, "-O0", "-o", str(exe), str(tmp_path / "holder.c")], check=True, timeout=120)
    marker = secrets.token_bytes(48)
    p, line = start(holder, [str(exe), marker.hex()])
    heap_addr, stack_addr = (int(x, 16) for x in line.split())
    dump = parse_core(gcore(p.pid, tmp_path / "c.core"))
    assert not dump.warnings, dump.warnings
    check_marker(dump, heap_addr, marker)
    check_marker(dump, stack_addr, bytes(b ^ 0xFF for b in marker))
    stack_region = dump.region_at(dump.va_to_file(stack_addr))
    if dump.meta["arch"] in ("amd64", "arm64", "x86", "arm"):  # where we decode SP from NT_PRSTATUS
        assert stack_region.kind == "stack"
    proc = dump.meta["process"]
    assert proc["pid"] == p.pid and proc["name"] == exe.name[:15]
    exe_regions = [r for r in dump.regions if r.kind == "module" and r.attrs.get("path") == str(exe)]
    assert exe_regions and all(r.name == exe.name for r in exe_regions)
    assert any(m["name"] == str(exe) for m in dump.details["modules"])


# -- the sample gcore with planted keys ---------------------------------------------------------
@pytest.fixture(scope="module")
def sample(samples_dir: Path, samples_truth: dict) -> Iterator[tuple[Dump, dict]]:
    truth = next(d for d in samples_truth["dumps"] if d["file"] == "gcore-python-rsa-ec.core")
    dump = parse_core(samples_dir / truth["file"])
    yield dump, truth
    dump.close()


def test_sample_gcore_summary(sample: tuple[Dump, dict]) -> None:
    dump, truth = sample
    assert dump.size == truth["size"]
    assert not dump.warnings
    assert dump.meta["process"]["pid"] == int(truth["process"]["pid"]) == 18826
    assert dump.meta["os"] == "Linux" and dump.meta["arch"] == "amd64"
    assert dump.details["header"]["e_machine"] == truth["format_info"]["e_machine"]
    memory = dump.details["memory"]
    assert len(memory) == truth["format_info"]["pt_load_with_data"] == 44
    assert sum(m["size"] for m in memory) == truth["format_info"]["dumped_memory_bytes"]
    notes = [s for s in dump.details["segments"] if s["type_name"] == "PT_NOTE"]
    assert len(notes) == truth["format_info"]["pt_note"]
    assert len([r for r in dump.regions if r.vaddr is not None and r.size]) == truth["format_info"]["memory_ranges"]
    # gdb 13 put only argv[0] into pr_psargs; it is the start of the recorded command line.
    assert dump.meta["process"]["cmdline"] == "/tmp/holdoutvenv/bin/python"
    assert truth["process"]["cmdline"].startswith(dump.meta["process"]["cmdline"])


def _truth_hits(truth: dict) -> list[tuple[int, int, int]]:
    """Every (file offset, length, vaddr) the ground truth records for the planted secrets."""
    hits = []
    for secret in truth["secrets"]:
        for rep in secret.get("representations", {}).values():
            for hit in rep.get("hits", []):
                if hit.get("vaddr") is not None:
                    hits.append((hit["offset"], hit["length"], int(hit["vaddr"], 16)))
    return hits


def test_sample_gcore_va_file_mapping_matches_the_truth(sample: tuple[Dump, dict]) -> None:
    dump, truth = sample
    hits = _truth_hits(truth)
    assert len(hits) >= 10
    for offset, length, vaddr in hits:
        assert dump.va_to_file(vaddr) == offset, f"{vaddr:#x}"
        assert dump.file_to_va(offset) == vaddr
        assert dump.read_va(vaddr, length) == dump.read(offset, length)
