"""Synthetic Windows kernel dumps built with the parser's own construct declarations.

Why build rather than ship files: the corpus has only triage dumps; full (run-based), bitmap and 32-bit
dumps are made here page by page, so each test knows exactly where it put every page.
"""

from __future__ import annotations

from typing import Any

import construct as cs

from viewer.evidence.formats import kernel_dump as kd

PAGE = kd.PAGE_SIZE


def page(tag: int) -> bytes:
    """A page whose every byte says which page it is (the tag modulo 256)."""
    return bytes([tag & 0xFF]) * PAGE


def header_fields(layout: kd.Layout, **overrides: Any) -> dict[str, Any]:
    """Every field of the layout's header, PAGE-filled where a writer leaves it unused."""
    fill = lambda n: (kd.FILL * (n // 4 + 1))[:n]  # noqa: E731 - one-line helper
    exception: dict[str, Any] = {
        "ExceptionCode": 0x80000003, "ExceptionFlags": 1, "ExceptionRecord": 0,
        "ExceptionAddress": 0x1234, "NumberParameters": 0, "ExceptionInformation": [0] * 15,
    }
    fields: dict[str, Any] = {
        "Signature": b"PAGE", "ValidDump": b"DU64" if layout.bits == 64 else b"DUMP",
        "MajorVersion": 0xF, "MinorVersion": 19041,
        "DirectoryTableBase": 0x1AD000, "PfnDataBase": 0x1000, "PsLoadedModuleList": 0x2000,
        "PsActiveProcessHead": 0x3000, "MachineImageType": 0x8664 if layout.bits == 64 else 0x14C,
        "NumberProcessors": 4, "BugCheckCode": 0xE2, "BugCheckCodeParameter": [1, 2, 3, 4],
        "VersionUser": fill(32), "KdDebuggerDataBlock": 0x5000,
        "PhysicalMemoryBlockBuffer": {"NumberOfRuns": 0, "NumberOfPages": 0},
        "ContextRecord": bytes(3000 if layout.bits == 64 else 1200),
        "Exception": exception, "DumpType": 1, "RequiredDumpSpace": 0,
        "SystemTime": 132583451029877657, "Comment": b"synthetic".ljust(128, b"\0"),
        "SystemUpTime": 1000, "MiniDumpFields": 0, "SecondaryDataState": 0, "ProductType": 1,
        "SuiteMask": 0x110, "WriterStatus": 0,
    }
    if layout.bits == 64:
        exception["__unusedAlignment"] = 0
        fields.update(Unused1=0, KdSecondaryVersion=0, Unused=b"\0\0", Attributes=0, BootId=0,
                      _reserved0=fill(0x2000 - 0x1058))
    else:
        fields.update(PaeEnabled=0, KdSecondaryVersion=0, VersionUser2=b"\0\0",
                      _reserved0=fill(0xF88 - 0x8A0), _reserved2=bytes(16), _reserved3=bytes(56))
    fields.update(overrides)
    return fields


def build_header(layout: kd.Layout, runs: list[tuple[int, int]] | None = None,
                 number_of_runs: int | None = None, **overrides: Any) -> bytearray:
    """The header bytes; ``runs`` (BasePage, PageCount) are written into PhysicalMemoryBlockBuffer."""
    runs = runs or []
    pages = sum(count for _, count in runs)
    desc = {"NumberOfRuns": len(runs) if number_of_runs is None else number_of_runs, "NumberOfPages": pages}
    overrides.setdefault("PhysicalMemoryBlockBuffer", desc)
    raw = bytearray(layout.header.build(header_fields(layout, **overrides)))
    at = layout.descriptor_offset + layout.descriptor_head
    raw[at : at + len(runs) * layout.run.sizeof()] = cs.Array(len(runs), layout.run).build(
        [{"BasePage": b, "PageCount": c} for b, c in runs]
    )
    return raw


def full_dump(layout: kd.Layout, runs: list[tuple[int, int]], **overrides: Any) -> tuple[bytes, list[int]]:
    """A full dump; page k of the body (counting across runs) is filled with byte k+1.

    Returns the file and the file offset of the first page of each run.
    """
    header = build_header(layout, runs, DumpType=1, **overrides)
    body = bytearray()
    starts = []
    k = 0
    for _, count in runs:
        starts.append(len(header) + len(body))
        for _ in range(count):
            body += page(k + 1)
            k += 1
    return bytes(header + body), starts


def bitmap_dump(set_bits: list[int], nbits: int, dump_type: int = 5, signature: bytes = b"FDMP",
                total_present: int | None = None, pages_present: int | None = None) -> tuple[bytes, int]:
    """A 64-bit bitmap dump: page for bit i (in bit order) is filled with byte (index + 1).

    ``pages_present`` stores fewer pages than the bitmap claims (a truncated body). Returns the file and
    FirstPage.
    """
    bitmap = bytearray((nbits + 7) // 8)
    for bit in set_bits:
        bitmap[bit // 8] |= 1 << (bit % 8)
    bmp_at = kd.LAYOUT64.header_size
    bitmap_at = bmp_at + kd.BMP_DUMP_HEADER.sizeof()
    first_page = -(-(bitmap_at + len(bitmap)) // PAGE) * PAGE
    bmp = kd.BMP_DUMP_HEADER.build({
        "Signature": signature, "ValidDump": b"DUMP", "_reserved": bytes(0x18), "FirstPage": first_page,
        "TotalPresentPages": len(set_bits) if total_present is None else total_present, "Pages": nbits,
    })
    out = bytearray(build_header(kd.LAYOUT64, [(0, nbits)], DumpType=dump_type))
    out += bmp + bitmap
    out += bytes(first_page - len(out))
    stored = len(set_bits) if pages_present is None else pages_present
    for i in range(stored):
        out += page(i + 1)
    return bytes(out), first_page
