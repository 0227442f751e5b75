"""makedumpfile's *flattened* format: a diskdump written to a pipe as (offset, length, bytes) records.

Layout (``makedumpfile.h``, big-endian)::

    4096-byte header: signature "makedumpfile\\0\\0\\0\\0", int64 type (1), int64 version (1), zeros
    records:          int64 offset | int64 buf_size | buf_size bytes  — each a piece of the real file
    end:              offset == -1 (END_FLAG_FLAT_HEADER)

QEMU's ``dump-guest-memory`` writes kdump formats this way when asked without paging; ``makedumpfile
-R`` rebuilds the normal layout. :func:`rebuild` does the same into the cache: every record is checked
against the input (its bytes must be there) and the output (offset and end bounded by the open's
allowance, bytes written counted against it), so a flattened file can neither claim more than it holds
nor make a sparse file larger than the limit.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable

from viewer.evidence.containers.cache import Allowance, TooLarge
from viewer.evidence.source import ByteSource

SIGNATURE = b"makedumpfile\0\0\0\0"
HEADER_SIZE = 4096
MAX_RECORD = 64 * 1024 * 1024
MAX_RECORDS = 1 << 24
_REC = struct.Struct(">qq")


def probe(head: bytes) -> bool:
    return head.startswith(SIGNATURE)


def rebuild(src: ByteSource, fd: int, allowance: Allowance, warnings: list[str],
            progress: Callable[[int], None] | None = None) -> None:
    pos = HEADER_SIZE
    records = 0
    end_seen = False
    while pos + _REC.size <= src.size and records < MAX_RECORDS:
        offset, size = _REC.unpack(src.read(pos, _REC.size))
        if offset == -1:
            end_seen = True
            break
        records += 1
        data_at = pos + _REC.size
        if offset < 0 or size < 0 or size > MAX_RECORD:
            warnings.append(f"kdump-flattened: record at {pos:#x} has offset {offset} and size {size}; "
                            "the rest is not read")
            return
        if data_at + size > src.size:
            warnings.append(f"kdump-flattened: record at {pos:#x} claims {size} bytes, only "
                            f"{src.size - data_at} are in the file; the rest is not read")
            return
        if offset + size > allowance.total or size > allowance.left:
            raise TooLarge(f"kdump-flattened: the records reach past {allowance.total} bytes (the limit of one "
                           "open, --max-decompressed); stopped")
        allowance.left -= size
        done = 0
        while done < size:
            chunk = src.read(data_at + done, min(8 * 1024 * 1024, size - done))
            os.pwrite(fd, chunk, offset + done)
            done += len(chunk)
        pos = data_at + size
        if progress is not None and records % 64 == 0:
            progress(pos)
    if not end_seen:
        warnings.append("kdump-flattened: no end marker (a truncated file?); rebuilt from the records present")
