"""Inputs whose strings are written to attack the examiner's terminal, and the checks on what came out.

``HOSTILE`` holds what an attacker would put in any string field: an OSC that retitles the window (ESC
``]0;`` … BEL), a CSI that clears the screen (ESC ``[2J``), the one-byte C1 CSI (U+009B), a bidi override
(U+202E), an isolate (U+2066), a newline that forges a report line, a carriage return and a DEL.
:func:`assert_no_raw_controls` checks that none of them reached a stream raw and that their visible
escapes did; :func:`hostile_minidump` is a minidump whose module name, thread name and comment streams
are hostile, with a real RSA private key in the module's memory (so ``scan`` has a finding to place in a
region named after the module).
"""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from viewer.evidence.formats.minidump import structs as S

HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202eexe.txt\u2066\nwarnings  none\r\x7f"
#: Raw forms that must never reach a stream: ESC, BEL, C1 CSI, RLO, LRI, CR, DEL (as text).
RAW = ("\x1b", "\x07", "\x9b", "\u202e", "\u2066", "\r", "\x7f")
#: Their escapes as :func:`viewer.cli.terminal.safe` writes them.
ESCAPED = ("\\x1b]0;pwned\\x07", "\\x1b[2J", "\\x9b31m", "\\u202e", "\\u2066", "\\x0awarnings  none", "\\x0d", "\\x7f")
#: A name that is not hostile and must be shown as it is (non-ASCII, a Windows path's backslash).
FRIENDLY = "Müller-Łódź 調査 C:\\Users\\x64"


def assert_no_raw_controls(stream: bytes, *, escaped: bool = True, allow_cr: bool = False) -> str:
    """``stream`` (a child's stdout or stderr) holds none of :data:`RAW` (checked on the bytes too: UTF-8
    C1 CSI is ``c2 9b``), and with ``escaped`` the escapes of :data:`HOSTILE`; returns it as text."""
    for raw in (b"\x1b", b"\x07", b"\xc2\x9b", b"\x9b", "\u202e".encode(), "\u2066".encode(), b"\x7f"):
        assert raw not in stream, (raw, stream[:2000])
    if not allow_cr:
        assert b"\r" not in stream, stream[:2000]
    text = stream.decode("utf-8")
    for raw in RAW if not allow_cr else RAW[:-2] + RAW[-1:]:
        assert raw not in text
    if escaped:
        for esc in ESCAPED:
            assert esc in text, (esc, text[:3000])
    return text


def rsa_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _string(text: str) -> bytes:
    raw = text.encode("utf-16-le", "surrogatepass")
    return S.MINIDUMP_STRING_HEADER.build({"Length": len(raw)}) + raw + b"\0\0"


def hostile_minidump(module_path: str, thread_name: str, comment: str, payload: bytes,
                     thread_id: int = 0x1234) -> bytes:
    """A minidump: one thread (named ``thread_name``), one module (``module_path``) whose memory holds
    ``payload``, a CommentStreamA and a CommentStreamW of ``comment``; laid out in order with
    :mod:`construct` declarations of the parser itself."""
    stack_va, module_va, stack_size = 0x10000000, 0x20000000, 64
    module_size = -(-len(payload) // 0x1000) * 0x1000
    comment_a = comment.encode("latin-1", "replace") + b"\0"
    comment_w = comment.encode("utf-16-le") + b"\0\0"
    sizes = {
        3: 4 + S.MINIDUMP_THREAD.sizeof(),
        4: 4 + S.MINIDUMP_MODULE.sizeof(),
        24: 4 + S.MINIDUMP_THREAD_NAME.sizeof(),
        10: len(comment_a),
        11: len(comment_w),
        9: 16 + 2 * 16,
    }
    rva = 32 + 12 * len(sizes)
    at: dict[int, int] = {}
    for stype, size in sizes.items():
        at[stype] = rva
        rva += size
    module_name = _string(module_path)
    name_rva, thread_name_rva = rva, rva + len(module_name)
    data = thread_name_rva + len(_string(thread_name))
    version = {k.name: 0 for k in S.VS_FIXEDFILEINFO.subcons}
    version["dwSignature"] = S.VS_FFI_SIGNATURE
    loc = lambda size, rva: {"DataSize": size, "Rva": rva}  # noqa: E731 - one-line helper
    thread = {"ThreadId": thread_id, "SuspendCount": 0, "PriorityClass": 0x20, "Priority": 0, "Teb": 0x7FF000,
              "Stack": {"StartOfMemoryRange": stack_va, "Memory": loc(stack_size, data)},
              "ThreadContext": loc(0, 0)}
    module = {"BaseOfImage": module_va, "SizeOfImage": module_size, "CheckSum": 0, "TimeDateStamp": 0,
              "ModuleNameRva": name_rva, "VersionInfo": version, "CvRecord": loc(0, 0), "MiscRecord": loc(0, 0),
              "Reserved0": 0, "Reserved1": 0}
    streams = {
        3: S.MINIDUMP_THREAD_LIST_HEADER.build({"NumberOfThreads": 1}) + S.MINIDUMP_THREAD.build(thread),
        4: S.MINIDUMP_MODULE_LIST_HEADER.build({"NumberOfModules": 1}) + S.MINIDUMP_MODULE.build(module),
        24: S.MINIDUMP_THREAD_NAME_LIST_HEADER.build({"NumberOfThreadNames": 1})
        + S.MINIDUMP_THREAD_NAME.build({"ThreadId": thread_id, "RvaOfThreadName": thread_name_rva}),
        10: comment_a,
        11: comment_w,
        9: S.MINIDUMP_MEMORY64_LIST_HEADER.build({"NumberOfMemoryRanges": 2, "BaseRva": data})
        + S.MINIDUMP_MEMORY_DESCRIPTOR64.build({"StartOfMemoryRange": stack_va, "DataSize": stack_size})
        + S.MINIDUMP_MEMORY_DESCRIPTOR64.build({"StartOfMemoryRange": module_va, "DataSize": module_size}),
    }
    header = S.MINIDUMP_HEADER.build({"Version": S.MINIDUMP_VERSION, "NumberOfStreams": len(streams),
                                      "StreamDirectoryRva": 32, "CheckSum": 0, "TimeDateStamp": 0, "Flags": 2})
    directory = b"".join(S.MINIDUMP_DIRECTORY.build({"StreamType": t, "Location": loc(len(streams[t]), at[t])})
                         for t in sizes)
    body = b"".join(streams[t] for t in sizes)
    assert all(len(streams[t]) == sizes[t] for t in sizes)
    memory = bytes(stack_size) + payload.ljust(module_size, b"\0")
    out = header + directory + body + module_name + _string(thread_name) + memory
    assert len(out) == data + stack_size + module_size
    return out
