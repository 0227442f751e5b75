"""Vmcores made by a real QEMU: Debian's qemu-system-x86 with TCG (no KVM), a 64 MiB guest paused at
reset with known bytes loaded at a physical address, dumped through QMP ``dump-guest-memory`` in every
format this build offers (``query-dump-guest-memory-capability``: elf, kdump-zlib, ...).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

QEMU = shutil.which("qemu-system-x86_64")
MARKER_ADDR = 0x200000


class Qmp:
    def __init__(self, path: Path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(120)
        self.sock.connect(str(path))
        self.f = self.sock.makefile("rwb")
        json.loads(self.f.readline())  # greeting
        self.cmd("qmp_capabilities")

    def cmd(self, name: str, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
        self.f.flush()
        while True:
            reply = json.loads(self.f.readline())
            if "error" in reply:
                raise RuntimeError(f"QMP {name}: {reply['error']}")
            if "return" in reply:
                return reply["return"]


def qemu_vmcores(work: Path, marker: bytes) -> dict[str, Path]:
    """{format: vmcore path} for every format QEMU offers, of one guest with ``marker`` at MARKER_ADDR."""
    if QEMU is None:
        pytest.fail("qemu-system-x86_64 is not installed: `make deps` installs qemu-system-x86")
    blob = work / "marker.bin"
    blob.write_bytes(marker)
    sock = work / "qmp.sock"
    proc = subprocess.Popen([QEMU, "-M", "pc", "-m", "64", "-nographic", "-nodefaults", "-S", "-display", "none",
                             "-device", f"loader,file={blob},addr={MARKER_ADDR:#x},force-raw=on",
                             "-qmp", f"unix:{sock},server=on,wait=off"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(400):
            if sock.exists():
                break
            if proc.poll() is not None:
                pytest.fail(f"QEMU did not start: {proc.stderr.read().decode()[-300:]}")
            time.sleep(0.05)
        qmp = Qmp(sock)
        formats = qmp.cmd("query-dump-guest-memory-capability")["formats"]
        out = {}
        for fmt in formats:
            if fmt == "win-dmp":  # needs a Windows guest
                continue
            path = work / f"vmcore.{fmt}"
            qmp.cmd("dump-guest-memory", paging=False, protocol=f"file:{path}", format=fmt)
            for _ in range(1200):
                if qmp.cmd("query-dump")["status"] != "active":
                    break
                time.sleep(0.05)
            os.chmod(path, 0o444)
            out[fmt] = path
        qmp.cmd("quit")
        return out
    finally:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def makedumpfile_rebuild(flat: Path, out: Path) -> Path:
    """``makedumpfile -R OUT < FLAT``: the flattened layout rewritten into the normal diskdump layout."""
    tool = shutil.which("makedumpfile")
    if tool is None:
        pytest.fail("makedumpfile is not installed: `make deps` installs it")
    with open(flat, "rb") as f:
        subprocess.run([tool, "-R", str(out)], stdin=f, check=True, capture_output=True, timeout=300)
    return out
