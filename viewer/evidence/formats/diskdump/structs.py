"""makedumpfile's kdump-compressed ("diskdump") layout, 64-bit little-endian (x86_64, arm64, ...), as
declared in makedumpfile's ``diskdump_mod.h``.

Blocks of ``block_size`` bytes (the page size)::

    block 0                 disk_dump_header ("KDUMP   ", utsname, status, block_size, counts)
    block 1 .. sub_hdr_size kdump_sub_header (phys_base, dump level, VMCOREINFO/notes/eraseinfo offsets,
                            64-bit start/end pfn and max_mapnr from header version 6)
    bitmap_blocks           bitmap 1 (pages that exist) then bitmap 2 (pages dumped), a bit per pfn,
                            least significant bit first
    page descriptors        one page_desc per bit set in bitmap 2, in pfn order
    page data               each page raw (size == block_size) or compressed (flags say how)
"""

from __future__ import annotations

import construct as cs

SIGNATURE = b"KDUMP   "
FLAT_SIGNATURE = b"makedumpfile\0\0\0\0"

UTSNAME = cs.Struct(
    "sysname" / cs.Bytes(65),
    "nodename" / cs.Bytes(65),
    "release" / cs.Bytes(65),
    "version" / cs.Bytes(65),
    "machine" / cs.Bytes(65),
    "domainname" / cs.Bytes(65),
)

DISK_DUMP_HEADER = cs.Struct(
    "signature" / cs.Bytes(8),
    "header_version" / cs.Int32sl,
    "utsname" / UTSNAME,
    "_pad" / cs.Padding(6),  # struct timeval is 8-aligned
    "tv_sec" / cs.Int64sl,
    "tv_usec" / cs.Int64sl,
    "status" / cs.Int32ul,
    "block_size" / cs.Int32sl,
    "sub_hdr_size" / cs.Int32sl,
    "bitmap_blocks" / cs.Int32ul,
    "max_mapnr" / cs.Int32ul,
    "total_ram_blocks" / cs.Int32ul,
    "device_blocks" / cs.Int32ul,
    "written_blocks" / cs.Int32ul,
    "current_cpu" / cs.Int32ul,
    "nr_cpus" / cs.Int32sl,
)

KDUMP_SUB_HEADER = cs.Struct(
    "phys_base" / cs.Int64ul,
    "dump_level" / cs.Int32sl,
    "split" / cs.Int32sl,
    "start_pfn" / cs.Int64ul,
    "end_pfn" / cs.Int64ul,
    "offset_vmcoreinfo" / cs.Int64sl,
    "size_vmcoreinfo" / cs.Int64ul,
    "offset_note" / cs.Int64sl,
    "size_note" / cs.Int64ul,
    "offset_eraseinfo" / cs.Int64sl,
    "size_eraseinfo" / cs.Int64ul,
    "start_pfn_64" / cs.Int64ul,
    "end_pfn_64" / cs.Int64ul,
    "max_mapnr_64" / cs.Int64ul,
)

PAGE_DESC = cs.Struct(
    "offset" / cs.Int64sl,
    "size" / cs.Int32ul,
    "flags" / cs.Int32ul,
    "page_flags" / cs.Int64ul,
)
PAGE_DESC_SIZE = 24

# page_desc.flags and disk_dump_header.status
DUMP_DH_COMPRESSED_ZLIB = 0x1
DUMP_DH_COMPRESSED_LZO = 0x2
DUMP_DH_COMPRESSED_SNAPPY = 0x4
DUMP_DH_COMPRESSED_INCOMPLETE = 0x8
DUMP_DH_EXCLUDED_VMEMMAP = 0x10
DUMP_DH_COMPRESSED_ZSTD = 0x20

COMPRESSIONS = {DUMP_DH_COMPRESSED_ZLIB: "zlib", DUMP_DH_COMPRESSED_LZO: "lzo",
                DUMP_DH_COMPRESSED_SNAPPY: "snappy", DUMP_DH_COMPRESSED_ZSTD: "zstd"}

#: The uncompressed length before a raw snappy block (snappy format_description.txt: a little-endian
#: base-128 varint).
SNAPPY_PREAMBLE = cs.VarInt
