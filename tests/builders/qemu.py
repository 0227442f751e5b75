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


def _connect(proc: subprocess.Popen, sock: Path) -> Qmp:
    """The QMP connection of a QEMU just started (its socket waited for up to 20 s; a QEMU that exits first
    fails the test with the end of its stderr)."""
    for _ in range(400):
        if sock.exists():
            break
        if proc.poll() is not None:
            pytest.fail(f"QEMU did not start: {proc.stderr.read().decode()[-300:]}")
        time.sleep(0.05)
    return Qmp(sock)


def dump_guest(qmp: Qmp, work: Path, stem: str, formats: list[str], seconds: float) -> dict[str, Path]:
    """The stopped guest dumped through QMP ``dump-guest-memory`` once per format (``work/stem.format``,
    read-only), each dump waited for up to ``seconds``."""
    out = {}
    for fmt in formats:
        path = work / f"{stem}.{fmt}"
        qmp.cmd("dump-guest-memory", paging=False, protocol=f"file:{path}", format=fmt)
        deadline = time.monotonic() + seconds
        while qmp.cmd("query-dump")["status"] == "active" and time.monotonic() < deadline:
            time.sleep(0.05)
        os.chmod(path, 0o444)
        out[fmt] = path
    return out


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
        qmp = _connect(proc, sock)
        formats = qmp.cmd("query-dump-guest-memory-capability")["formats"]
        out = dump_guest(qmp, work, "vmcore", [f for f in formats if f != "win-dmp"], 60)  # win-dmp: Windows guests
        qmp.cmd("quit")
        return out
    finally:
        _reap(proc)


def makedumpfile_rebuild(flat: Path, out: Path) -> Path:
    """``makedumpfile -R OUT < FLAT``: the flattened layout rewritten into the normal diskdump layout."""
    tool = shutil.which("makedumpfile")
    if tool is None:
        pytest.fail("makedumpfile is not installed: `make deps` installs it")
    with open(flat, "rb") as f:
        subprocess.run([tool, "-R", str(out)], stdin=f, check=True, capture_output=True, timeout=300)
    return out


def makedumpfile_input(elf: Path, out: Path) -> Path:
    """QEMU's ELF vmcore rewritten with its program headers right after the ELF header, as the kernel's
    /proc/vmcore has them: QEMU 7.2 puts two section headers there, and makedumpfile 1.7.2 reads the
    program headers from just after the ELF header whatever ``e_phoff`` says ("Can't get the number of
    PT_LOAD"). Segments and their bytes are copied unchanged; only offsets move."""
    from viewer.evidence.formats.elf.structs import elf_structs

    S = elf_structs(64, True)
    with open(elf, "rb") as src, open(out, "wb") as dst:
        ehdr = S.Ehdr.parse(src.read(S.Ehdr.sizeof()))
        src.seek(ehdr.e_phoff)
        phdrs = [S.Phdr.parse(src.read(S.Phdr.sizeof())) for _ in range(ehdr.e_phnum)]
        at = S.Ehdr.sizeof() + len(phdrs) * S.Phdr.sizeof()
        moved = []
        for ph in phdrs:
            moved.append((ph.p_offset, ph.p_filesz))
            ph.p_offset, at = at, at + ph.p_filesz
        ehdr.update({"e_phoff": S.Ehdr.sizeof(), "e_shoff": 0, "e_shnum": 0, "e_shstrndx": 0})
        dst.write(S.Ehdr.build(ehdr) + b"".join(S.Phdr.build(ph) for ph in phdrs))
        for offset, size in moved:
            src.seek(offset)
            while size > 0:  # a segment at a time, 16 MiB per read: the vmcore is never all in memory
                chunk = src.read(min(size, 1 << 24))
                if not chunk:
                    break
                dst.write(chunk)
                size -= len(chunk)
    return out


def makedumpfile(args: list[str], vmcore: Path, out: Path) -> Path:
    """``makedumpfile ARGS VMCORE OUT`` (the real tool), read-only output; fails the test with its log."""
    tool = shutil.which("makedumpfile")
    if tool is None:
        pytest.fail("makedumpfile is not installed: `make runtime-deps` installs it")
    run = subprocess.run([tool, *args, str(vmcore), str(out)], capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        pytest.fail(f"makedumpfile {' '.join(args)} failed: {(run.stdout + run.stderr)[-600:]}")
    os.chmod(out, 0o444)
    return out


def linux_vmcores(work: Path, files: dict[str, bytes], marker: str) -> dict[str, Path]:
    """Vmcores of a real Linux kernel (Debian's cloud kernel, TCG) that booted an initramfs holding
    ``files``, loaded qemu_fw_cfg (so the kernel hands QEMU its VMCOREINFO), read the files into the page
    cache, logged ``marker`` and crashed through sysrq: QMP dump-guest-memory as elf and kdump-zlib.

    The kernel boots with ``nokaslr``: under TCG the randomised kernel lands below its link address and
    VMCOREINFO's ``phys_base`` is negative, which makedumpfile 1.7.2 cannot translate.
    """
    import glob
    import gzip

    if QEMU is None:
        pytest.fail("qemu-system-x86_64 is not installed: `make deps` installs qemu-system-x86")
    kernels = sorted(glob.glob("/boot/vmlinuz-*"))
    modules = sorted(glob.glob("/lib/modules/*/kernel/drivers/firmware/qemu_fw_cfg.ko*"))
    busybox = shutil.which("busybox")
    if not kernels or not modules or busybox is None:
        pytest.fail("a Linux kernel and busybox are needed: `make deps` installs linux-image-cloud-amd64 and "
                    "busybox-static")
    module = Path(modules[0])
    if module.suffix == ".xz":
        import lzma

        module_bytes = lzma.decompress(module.read_bytes())
    else:
        module_bytes = module.read_bytes()
    reads = " ".join(f"/{name}" for name in files)
    init = (f"#!/bin/busybox sh\n/bin/busybox mount -t proc proc /proc\n/bin/busybox mount -t devtmpfs dev /dev\n"
            f"/bin/busybox insmod /qemu_fw_cfg.ko\n/bin/busybox cat {reads} > /dev/null\n"
            f"echo '{marker}' > /dev/kmsg\n/bin/busybox sleep 1\necho c > /proc/sysrq-trigger\n").encode()
    entries = [("bin", None, 0o40755), ("proc", None, 0o40755), ("dev", None, 0o40755),
               ("bin/busybox", Path(busybox).read_bytes(), 0o100755), ("init", init, 0o100755),
               ("qemu_fw_cfg.ko", module_bytes, 0o100644),
               *((name, data, 0o100644) for name, data in files.items())]
    initrd = work / "initrd.gz"
    initrd.write_bytes(gzip.compress(_cpio(entries)))
    serial = work / "serial.log"
    sock = work / "qmp-linux.sock"
    proc = subprocess.Popen([QEMU, "-M", "pc", "-m", "192", "-nographic", "-nodefaults", "-display", "none",
                             "-kernel", kernels[-1], "-initrd", str(initrd), "-append", "console=ttyS0 panic=0 nokaslr",
                             "-serial", f"file:{serial}", "-device", "vmcoreinfo",
                             "-qmp", f"unix:{sock},server=on,wait=off"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        qmp = _connect(proc, sock)
        deadline = time.monotonic() + 240
        while b"end Kernel panic" not in (serial.read_bytes() if serial.exists() else b""):
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail(f"the Linux guest did not reach its panic: {serial.read_bytes()[-500:]!r}")
            time.sleep(0.5)
        qmp.cmd("stop")
        out: dict[str, Path] = dump_guest(qmp, work, "linux", ["elf", "kdump-zlib"], 120)
        out["serial"] = serial
        out["release"] = Path(kernels[-1]).name.removeprefix("vmlinuz-")
        qmp.cmd("quit")
        return out
    finally:
        _reap(proc)


def _cpio(entries: list[tuple[str, bytes | None, int]]) -> bytes:
    """An initramfs archive in the kernel's "newc" cpio format (Documentation/driver-api/early-userspace)."""
    out = bytearray()
    for ino, (name, data, mode) in enumerate([*entries, ("TRAILER!!!", b"", 0)], 1):
        body = data or b""
        raw = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(body), 0, 0, 0, 0, len(raw), 0]
        out += b"070701" + b"".join(b"%08X" % f for f in fields) + raw
        out += bytes(-len(out) % 4)  # the name is padded to 4 bytes, and so is the data
        out += body
        out += bytes(-len(out) % 4)
    return bytes(out)


def _reap(proc: subprocess.Popen) -> None:
    """QEMU waited for after ``quit`` (killed when it does not end within 10 s), so no guest outlives a test."""
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
