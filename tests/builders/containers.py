"""Containers of real dumps, made with the real tools: zstd, lz4, xz, gzip, bzip2, zip (Debian's
command-line programs, installed by `make deps`), and apport ``.crash`` reports written to the format of
apport's ``problem_report`` module (not packaged for Debian 12; see ../shared/notes): ``Key: value``
lines, multi-line values indented by one space, binary values as ``Key: base64`` followed by one line
per base64-encoded piece of a gzip stream — a gzip header naming the key, raw deflate blocks of 1 MiB of
input each, then the CRC-32 and size trailer.
"""

from __future__ import annotations

import base64
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

#: suffix -> the command line that compresses IN to OUT (systemd-coredump's and the uploads' kinds)
TOOLS = {
    "zst": ["zstd", "-q", "-f", "-T1", "{src}", "-o", "{out}"],
    "lz4": ["lz4", "-q", "-f", "{src}", "{out}"],
    "xz": ["sh", "-c", "xz -T1 -c '{src}' > '{out}'"],
    "gz": ["sh", "-c", "gzip -c '{src}' > '{out}'"],
    "bz2": ["sh", "-c", "bzip2 -c '{src}' > '{out}'"],
}


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed: `make deps` installs it")
    return path


def compress(src: Path, suffix: str, out: Path | None = None) -> Path:
    """``src`` compressed with the real tool for ``suffix`` (zst, lz4, xz, gz, bz2)."""
    out = out or src.with_name(src.name + "." + suffix)
    cmd = TOOLS[suffix]
    need(cmd[0] if cmd[0] != "sh" else cmd[2].split()[0])
    subprocess.run([c.format(src=src, out=out) for c in cmd], check=True, timeout=300)
    return out


def zip_of(out: Path, *members: Path, method: str = "-6") -> Path:
    """A ZIP of ``members`` by Info-ZIP's ``zip`` (names without folders)."""
    need("zip")
    subprocess.run(["zip", "-q", "-j", method, str(out), *map(str, members)], check=True, timeout=300)
    return out


def apport_report(out: Path, core: Path, fields: dict[str, str] | None = None) -> Path:
    """An apport crash report holding ``core`` as CoreDump, in problem_report's written format."""
    fields = {"ProblemType": "Crash", "Architecture": "amd64", "Date": "Wed Dec  2 14:00:00 2026",
              "DistroRelease": "Ubuntu 24.04", "ExecutablePath": "/usr/bin/python3.12",
              "ProcCmdline": "python3 holder.py", "ProcEnviron": "LANG=C.UTF-8\nPATH=(custom, no user)",
              "Signal": "11", **(fields or {})}
    with open(out, "wb") as f:
        keys = ["ProblemType", *sorted(k for k in [*fields, "CoreDump"] if k != "ProblemType")]
        for key in keys:
            if key == "CoreDump":
                f.write(b"CoreDump: base64")
                for chunk in _gzip_pieces(core, key):
                    f.write(b"\n " + base64.b64encode(chunk))
                f.write(b"\n")
                continue
            value = fields[key].encode()
            if b"\n" in value:
                f.write(key.encode() + b":\n " + value.replace(b"\n", b"\n ") + b"\n")
            else:
                f.write(key.encode() + b": " + value + b"\n")
    return out


def _gzip_pieces(path: Path, key: str):
    yield b"\037\213\010\010\000\000\000\000\002\377" + key.encode() + b"\000"
    comp = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS, zlib.DEF_MEM_LEVEL, 0)
    crc, size = 0, 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            size += len(block)
            crc = zlib.crc32(block, crc)
            if piece := comp.compress(block):
                yield piece
    yield comp.flush() + struct.pack("<L", crc & 0xFFFFFFFF) + struct.pack("<L", size & 0xFFFFFFFF)
