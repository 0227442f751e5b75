"""Minidump structures declared with construct, field for field as in minidumpapiset.h.

Names follow the Microsoft header (and Breakpad's minidump_format.h / Crashpad's minidump_extensions.h
for the vendor streams) so that a reader can hold this file next to the spec. Every struct here is
fixed-size: variable parts (strings, lists) are read separately with their counts checked against the
file, never by a construct that would trust a count.

The hot arrays (memory descriptors, memory info) also have numpy dtypes: construct parses about 100,000
small structs per second, numpy does that in a millisecond. Their sizes are asserted equal below.
"""

from __future__ import annotations

import numpy as np
from construct import (
    Array,
    Bytes,
    Const,
    Int8ul,
    Int16ul,
    Int32sl,
    Int32ul,
    Int64ul,
    Struct,
)

MINIDUMP_SIGNATURE = b"MDMP"
MINIDUMP_VERSION = 0xA793  # the low 16 bits of Version; the high 16 are implementation-specific

# -- basic types ------------------------------------------------------------------------------------
MINIDUMP_LOCATION_DESCRIPTOR = Struct(
    "DataSize" / Int32ul,
    "Rva" / Int32ul,
)

MINIDUMP_LOCATION_DESCRIPTOR64 = Struct(
    "DataSize" / Int64ul,
    "Rva" / Int64ul,
)

MINIDUMP_MEMORY_DESCRIPTOR = Struct(
    "StartOfMemoryRange" / Int64ul,
    "Memory" / MINIDUMP_LOCATION_DESCRIPTOR,
)

MINIDUMP_MEMORY_DESCRIPTOR64 = Struct(
    "StartOfMemoryRange" / Int64ul,
    "DataSize" / Int64ul,
)

# MINIDUMP_STRING: a ULONG32 byte count, then that many bytes of UTF-16LE (plus a NUL not counted).
# Only the length is declared: the buffer is read with the length checked against the file.
MINIDUMP_STRING_HEADER = Struct(
    "Length" / Int32ul,
)

GUID = Struct(
    "Data1" / Int32ul,
    "Data2" / Int16ul,
    "Data3" / Int16ul,
    "Data4" / Bytes(8),
)

# -- header and directory ---------------------------------------------------------------------------
MINIDUMP_HEADER = Struct(
    "Signature" / Const(MINIDUMP_SIGNATURE),
    "Version" / Int32ul,
    "NumberOfStreams" / Int32ul,
    "StreamDirectoryRva" / Int32ul,
    "CheckSum" / Int32ul,
    "TimeDateStamp" / Int32ul,
    "Flags" / Int64ul,
)

MINIDUMP_DIRECTORY = Struct(
    "StreamType" / Int32ul,
    "Location" / MINIDUMP_LOCATION_DESCRIPTOR,
)

# -- threads ----------------------------------------------------------------------------------------
MINIDUMP_THREAD = Struct(
    "ThreadId" / Int32ul,
    "SuspendCount" / Int32ul,
    "PriorityClass" / Int32ul,
    "Priority" / Int32ul,
    "Teb" / Int64ul,
    "Stack" / MINIDUMP_MEMORY_DESCRIPTOR,
    "ThreadContext" / MINIDUMP_LOCATION_DESCRIPTOR,
)

MINIDUMP_THREAD_EX = MINIDUMP_THREAD + Struct(
    "BackingStore" / MINIDUMP_MEMORY_DESCRIPTOR,
)

MINIDUMP_THREAD_LIST_HEADER = Struct("NumberOfThreads" / Int32ul)

MINIDUMP_THREAD_NAME = Struct(  # #pragma pack(4): 12 bytes, the RVA64 is unaligned
    "ThreadId" / Int32ul,
    "RvaOfThreadName" / Int64ul,
)

MINIDUMP_THREAD_NAME_LIST_HEADER = Struct("NumberOfThreadNames" / Int32ul)

MINIDUMP_THREAD_INFO_LIST_HEADER = Struct(
    "SizeOfHeader" / Int32ul,
    "SizeOfEntry" / Int32ul,
    "NumberOfEntries" / Int32ul,
)

MINIDUMP_THREAD_INFO = Struct(
    "ThreadId" / Int32ul,
    "DumpFlags" / Int32ul,
    "DumpError" / Int32ul,
    "ExitStatus" / Int32ul,
    "CreateTime" / Int64ul,
    "ExitTime" / Int64ul,
    "KernelTime" / Int64ul,
    "UserTime" / Int64ul,
    "StartAddress" / Int64ul,
    "Affinity" / Int64ul,
)

# -- modules ----------------------------------------------------------------------------------------
VS_FIXEDFILEINFO = Struct(
    "dwSignature" / Int32ul,  # 0xFEEF04BD when present
    "dwStrucVersion" / Int32ul,
    "dwFileVersionMS" / Int32ul,
    "dwFileVersionLS" / Int32ul,
    "dwProductVersionMS" / Int32ul,
    "dwProductVersionLS" / Int32ul,
    "dwFileFlagsMask" / Int32ul,
    "dwFileFlags" / Int32ul,
    "dwFileOS" / Int32ul,
    "dwFileType" / Int32ul,
    "dwFileSubtype" / Int32ul,
    "dwFileDateMS" / Int32ul,
    "dwFileDateLS" / Int32ul,
)
VS_FFI_SIGNATURE = 0xFEEF04BD

MINIDUMP_MODULE = Struct(
    "BaseOfImage" / Int64ul,
    "SizeOfImage" / Int32ul,
    "CheckSum" / Int32ul,
    "TimeDateStamp" / Int32ul,
    "ModuleNameRva" / Int32ul,
    "VersionInfo" / VS_FIXEDFILEINFO,
    "CvRecord" / MINIDUMP_LOCATION_DESCRIPTOR,
    "MiscRecord" / MINIDUMP_LOCATION_DESCRIPTOR,
    "Reserved0" / Int64ul,
    "Reserved1" / Int64ul,
)

MINIDUMP_MODULE_LIST_HEADER = Struct("NumberOfModules" / Int32ul)

# CodeView records (the CvRecord of a module): PDB 7.0, PDB 2.0, and Breakpad's ELF build id.
CV_INFO_PDB70 = Struct(
    "CvSignature" / Const(b"RSDS"),
    "Signature" / GUID,
    "Age" / Int32ul,
    # PdbFileName: NUL-terminated UTF-8 follows, read with the record's DataSize as the bound
)
CV_INFO_PDB20 = Struct(
    "CvSignature" / Const(b"NB10"),
    "Offset" / Int32ul,
    "Signature" / Int32ul,
    "Age" / Int32ul,
    # PdbFileName: NUL-terminated follows
)
CV_INFO_ELF = Struct(
    "CvSignature" / Const(b"BpEL"),
    # build id bytes follow, up to the record's DataSize
)

MINIDUMP_UNLOADED_MODULE_LIST = Struct(
    "SizeOfHeader" / Int32ul,
    "SizeOfEntry" / Int32ul,
    "NumberOfEntries" / Int32ul,
)

MINIDUMP_UNLOADED_MODULE = Struct(
    "BaseOfImage" / Int64ul,
    "SizeOfImage" / Int32ul,
    "CheckSum" / Int32ul,
    "TimeDateStamp" / Int32ul,
    "ModuleNameRva" / Int32ul,
)

# -- memory -----------------------------------------------------------------------------------------
MINIDUMP_MEMORY_LIST_HEADER = Struct("NumberOfMemoryRanges" / Int32ul)

MINIDUMP_MEMORY64_LIST_HEADER = Struct(
    "NumberOfMemoryRanges" / Int64ul,
    "BaseRva" / Int64ul,
)

MINIDUMP_MEMORY_INFO_LIST = Struct(
    "SizeOfHeader" / Int32ul,
    "SizeOfEntry" / Int32ul,
    "NumberOfEntries" / Int64ul,
)

MINIDUMP_MEMORY_INFO = Struct(
    "BaseAddress" / Int64ul,
    "AllocationBase" / Int64ul,
    "AllocationProtect" / Int32ul,
    "__alignment1" / Int32ul,
    "RegionSize" / Int64ul,
    "State" / Int32ul,
    "Protect" / Int32ul,
    "Type" / Int32ul,
    "__alignment2" / Int32ul,
)

# numpy twins of the hot arrays, for parsing 100,000 entries in one call
MEMORY_DESCRIPTOR_DTYPE = np.dtype([("start", "<u8"), ("size", "<u4"), ("rva", "<u4")])
MEMORY_DESCRIPTOR64_DTYPE = np.dtype([("start", "<u8"), ("size", "<u8")])
MEMORY_INFO_DTYPE = np.dtype(
    [
        ("base", "<u8"),
        ("allocation_base", "<u8"),
        ("allocation_protect", "<u4"),
        ("_align1", "<u4"),
        ("size", "<u8"),
        ("state", "<u4"),
        ("protect", "<u4"),
        ("type", "<u4"),
        ("_align2", "<u4"),
    ]
)
assert MEMORY_DESCRIPTOR_DTYPE.itemsize == MINIDUMP_MEMORY_DESCRIPTOR.sizeof() == 16
assert MEMORY_DESCRIPTOR64_DTYPE.itemsize == MINIDUMP_MEMORY_DESCRIPTOR64.sizeof() == 16
assert MEMORY_INFO_DTYPE.itemsize == MINIDUMP_MEMORY_INFO.sizeof() == 48

# -- exception --------------------------------------------------------------------------------------
EXCEPTION_MAXIMUM_PARAMETERS = 15

MINIDUMP_EXCEPTION = Struct(
    "ExceptionCode" / Int32ul,
    "ExceptionFlags" / Int32ul,
    "ExceptionRecord" / Int64ul,
    "ExceptionAddress" / Int64ul,
    "NumberParameters" / Int32ul,
    "__unusedAlignment" / Int32ul,
    "ExceptionInformation" / Array(EXCEPTION_MAXIMUM_PARAMETERS, Int64ul),
)

MINIDUMP_EXCEPTION_STREAM = Struct(
    "ThreadId" / Int32ul,
    "__alignment" / Int32ul,
    "ExceptionRecord" / MINIDUMP_EXCEPTION,
    "ThreadContext" / MINIDUMP_LOCATION_DESCRIPTOR,
)

# -- system info ------------------------------------------------------------------------------------
X86_CPU_INFO = Struct(
    "VendorId" / Bytes(12),  # three ULONG32 holding "GenuineIntel" / "AuthenticAMD"
    "VersionInformation" / Int32ul,
    "FeatureInformation" / Int32ul,
    "AMDExtendedCpuFeatures" / Int32ul,
)
OTHER_CPU_INFO = Struct(
    "ProcessorFeatures" / Array(2, Int64ul),
)

MINIDUMP_SYSTEM_INFO = Struct(
    "ProcessorArchitecture" / Int16ul,
    "ProcessorLevel" / Int16ul,
    "ProcessorRevision" / Int16ul,
    "NumberOfProcessors" / Int8ul,
    "ProductType" / Int8ul,
    "MajorVersion" / Int32ul,
    "MinorVersion" / Int32ul,
    "BuildNumber" / Int32ul,
    "PlatformId" / Int32ul,
    "CSDVersionRva" / Int32ul,
    "SuiteMask" / Int16ul,
    "Reserved2" / Int16ul,
    "Cpu" / Bytes(24),  # CPU_INFORMATION union: X86_CPU_INFO or OTHER_CPU_INFO, by architecture
)

# -- misc info, five generations, each extending the previous ---------------------------------------
SYSTEMTIME = Struct(
    "wYear" / Int16ul,
    "wMonth" / Int16ul,
    "wDayOfWeek" / Int16ul,
    "wDay" / Int16ul,
    "wHour" / Int16ul,
    "wMinute" / Int16ul,
    "wSecond" / Int16ul,
    "wMilliseconds" / Int16ul,
)

TIME_ZONE_INFORMATION = Struct(
    "Bias" / Int32sl,
    "StandardName" / Bytes(64),  # WCHAR[32]
    "StandardDate" / SYSTEMTIME,
    "StandardBias" / Int32sl,
    "DaylightName" / Bytes(64),  # WCHAR[32]
    "DaylightDate" / SYSTEMTIME,
    "DaylightBias" / Int32sl,
)

XSTATE_FEATURE = Struct(
    "Offset" / Int32ul,
    "Size" / Int32ul,
)

XSTATE_CONFIG_FEATURE_MSC_INFO = Struct(
    "SizeOfInfo" / Int32ul,
    "ContextSize" / Int32ul,
    "EnabledFeatures" / Int64ul,
    "Features" / Array(64, XSTATE_FEATURE),
)

MINIDUMP_MISC_INFO = Struct(
    "SizeOfInfo" / Int32ul,
    "Flags1" / Int32ul,
    "ProcessId" / Int32ul,
    "ProcessCreateTime" / Int32ul,
    "ProcessUserTime" / Int32ul,
    "ProcessKernelTime" / Int32ul,
)
MINIDUMP_MISC_INFO_2 = MINIDUMP_MISC_INFO + Struct(
    "ProcessorMaxMhz" / Int32ul,
    "ProcessorCurrentMhz" / Int32ul,
    "ProcessorMhzLimit" / Int32ul,
    "ProcessorMaxIdleState" / Int32ul,
    "ProcessorCurrentIdleState" / Int32ul,
)
MINIDUMP_MISC_INFO_3 = MINIDUMP_MISC_INFO_2 + Struct(
    "ProcessIntegrityLevel" / Int32ul,
    "ProcessExecuteFlags" / Int32ul,
    "ProtectedProcess" / Int32ul,
    "TimeZoneId" / Int32ul,
    "TimeZone" / TIME_ZONE_INFORMATION,
)
MINIDUMP_MISC_INFO_4 = MINIDUMP_MISC_INFO_3 + Struct(
    "BuildString" / Bytes(520),  # WCHAR[MAX_PATH]
    "DbgBldStr" / Bytes(80),  # WCHAR[40]
)
MINIDUMP_MISC_INFO_5 = MINIDUMP_MISC_INFO_4 + Struct(
    "XStateData" / XSTATE_CONFIG_FEATURE_MSC_INFO,
    "ProcessCookie" / Int32ul,
)
MISC_INFO_VERSIONS = [  # largest first: decode the newest generation the stream's size allows
    (MINIDUMP_MISC_INFO_5, "MINIDUMP_MISC_INFO_5"),
    (MINIDUMP_MISC_INFO_4, "MINIDUMP_MISC_INFO_4"),
    (MINIDUMP_MISC_INFO_3, "MINIDUMP_MISC_INFO_3"),
    (MINIDUMP_MISC_INFO_2, "MINIDUMP_MISC_INFO_2"),
    (MINIDUMP_MISC_INFO, "MINIDUMP_MISC_INFO"),
]
assert [s.sizeof() for s, _ in MISC_INFO_VERSIONS] == [1364, 832, 232, 44, 24]

MINIDUMP_MISC1_PROCESS_ID = 0x1
MINIDUMP_MISC1_PROCESS_TIMES = 0x2
MINIDUMP_MISC1_PROCESSOR_POWER_INFO = 0x4
MINIDUMP_MISC3_PROCESS_INTEGRITY = 0x10
MINIDUMP_MISC3_PROCESS_EXECUTE_FLAGS = 0x20
MINIDUMP_MISC3_TIMEZONE = 0x40
MINIDUMP_MISC3_PROTECTED_PROCESS = 0x80
MINIDUMP_MISC4_BUILDSTRING = 0x100
MINIDUMP_MISC5_PROCESS_COOKIE = 0x200

# -- handles ----------------------------------------------------------------------------------------
MINIDUMP_HANDLE_DATA_STREAM = Struct(
    "SizeOfHeader" / Int32ul,
    "SizeOfDescriptor" / Int32ul,
    "NumberOfDescriptors" / Int32ul,
    "Reserved" / Int32ul,
)
MINIDUMP_HANDLE_DESCRIPTOR = Struct(
    "Handle" / Int64ul,
    "TypeNameRva" / Int32ul,
    "ObjectNameRva" / Int32ul,
    "Attributes" / Int32ul,
    "GrantedAccess" / Int32ul,
    "HandleCount" / Int32ul,
    "PointerCount" / Int32ul,
)
MINIDUMP_HANDLE_DESCRIPTOR_2 = MINIDUMP_HANDLE_DESCRIPTOR + Struct(
    "ObjectInfoRva" / Int32ul,
    "Reserved0" / Int32ul,
)

# -- token, function table --------------------------------------------------------------------------
MINIDUMP_TOKEN_INFO_LIST = Struct(
    "TokenListSize" / Int32ul,
    "TokenListEntries" / Int32ul,
    "ListHeaderSize" / Int32ul,
    "ElementHeaderSize" / Int32ul,
)
MINIDUMP_TOKEN_INFO_HEADER = Struct(
    "TokenSize" / Int32ul,  # of this element: header plus token data
    "TokenId" / Int32ul,
    "TokenHandle" / Int64ul,
)

MINIDUMP_FUNCTION_TABLE_STREAM = Struct(
    "SizeOfHeader" / Int32ul,
    "SizeOfDescriptor" / Int32ul,
    "SizeOfNativeDescriptor" / Int32ul,
    "SizeOfFunctionEntry" / Int32ul,
    "NumberOfDescriptors" / Int32ul,
    "SizeOfAlignPad" / Int32ul,
)

# -- Breakpad (0x4767xxxx, "Gg") --------------------------------------------------------------------
MDRawBreakpadInfo = Struct(
    "validity" / Int32ul,
    "dump_thread_id" / Int32ul,
    "requesting_thread_id" / Int32ul,
)
MD_BREAKPAD_INFO_VALID_DUMP_THREAD_ID = 0x1
MD_BREAKPAD_INFO_VALID_REQUESTING_THREAD_ID = 0x2

MDRawAssertionInfo = Struct(
    "expression" / Bytes(256),  # UTF-16LE, NUL-terminated, 128 units
    "function" / Bytes(256),
    "file" / Bytes(256),
    "line" / Int32ul,
    "type" / Int32ul,
)
MD_ASSERTION_INFO_TYPES = {0: "unknown", 1: "invalid parameter", 2: "pure virtual call"}

MDRawDebug32 = Struct(
    "version" / Int32ul,
    "map" / Int32ul,  # RVA of MDRawLinkMap32[dso_count]
    "dso_count" / Int32ul,
    "brk" / Int32ul,
    "ldbase" / Int32ul,
    "dynamic" / Int32ul,
)
MDRawDebug64 = Struct(  # natural alignment, unlike the Microsoft structs: 4 bytes of padding
    "version" / Int32ul,
    "map" / Int32ul,
    "dso_count" / Int32ul,
    "__padding" / Int32ul,
    "brk" / Int64ul,
    "ldbase" / Int64ul,
    "dynamic" / Int64ul,
)
MDRawLinkMap32 = Struct("addr" / Int32ul, "name" / Int32ul, "ld" / Int32ul)
MDRawLinkMap64 = Struct("addr" / Int64ul, "name" / Int32ul, "__padding" / Int32ul, "ld" / Int64ul)

# -- Crashpad (0x43500001, "CP") --------------------------------------------------------------------
MinidumpCrashpadInfo = Struct(
    "version" / Int32ul,
    "report_id" / GUID,
    "client_id" / GUID,
    "simple_annotations" / MINIDUMP_LOCATION_DESCRIPTOR,  # -> MinidumpSimpleStringDictionary
    "module_list" / MINIDUMP_LOCATION_DESCRIPTOR,  # -> MinidumpModuleCrashpadInfoList
)
MinidumpSimpleStringDictionaryEntry = Struct(
    "key" / Int32ul,  # RVA of a MinidumpUTF8String
    "value" / Int32ul,
)
MinidumpModuleCrashpadInfoLink = Struct(
    "minidump_module_list_index" / Int32ul,
    "location" / MINIDUMP_LOCATION_DESCRIPTOR,  # -> MinidumpModuleCrashpadInfo
)
MinidumpModuleCrashpadInfo = Struct(
    "version" / Int32ul,
    "list_annotations" / MINIDUMP_LOCATION_DESCRIPTOR,  # -> MinidumpRVAList of UTF-8 strings
    "simple_annotations" / MINIDUMP_LOCATION_DESCRIPTOR,  # -> MinidumpSimpleStringDictionary
    "annotation_objects" / MINIDUMP_LOCATION_DESCRIPTOR,  # -> MinidumpAnnotationList
)
MinidumpAnnotation = Struct(
    "name" / Int32ul,  # RVA of a MinidumpUTF8String
    "type" / Int16ul,  # 1 = string
    "reserved" / Int16ul,
    "value" / Int32ul,  # RVA of a MinidumpByteArray (u32 length + bytes)
)
COUNT32 = Struct("count" / Int32ul)  # the head of every Crashpad list and of MinidumpUTF8String

# -- names ------------------------------------------------------------------------------------------
STREAM_TYPES: dict[int, str] = {
    0: "UnusedStream",
    1: "ReservedStream0",
    2: "ReservedStream1",
    3: "ThreadListStream",
    4: "ModuleListStream",
    5: "MemoryListStream",
    6: "ExceptionStream",
    7: "SystemInfoStream",
    8: "ThreadExListStream",
    9: "Memory64ListStream",
    10: "CommentStreamA",
    11: "CommentStreamW",
    12: "HandleDataStream",
    13: "FunctionTableStream",
    14: "UnloadedModuleListStream",
    15: "MiscInfoStream",
    16: "MemoryInfoListStream",
    17: "ThreadInfoListStream",
    18: "HandleOperationListStream",
    19: "TokenStream",
    20: "JavaScriptDataStream",
    21: "SystemMemoryInfoStream",
    22: "ProcessVmCountersStream",
    23: "IptTraceStream",
    24: "ThreadNamesStream",
    0x8000: "ceStreamNull",
    0x8001: "ceStreamSystemInfo",
    0x8002: "ceStreamException",
    0x8003: "ceStreamModuleList",
    0x8004: "ceStreamProcessList",
    0x8005: "ceStreamThreadList",
    0x8006: "ceStreamThreadContextList",
    0x8007: "ceStreamThreadCallStackList",
    0x8008: "ceStreamMemoryVirtualList",
    0x8009: "ceStreamMemoryPhysicalList",
    0x800A: "ceStreamBucketParameters",
    0x800B: "ceStreamProcessModuleMap",
    0x800C: "ceStreamDiagnosisList",
    0xFFFF: "LastReservedStream",
    0x47670001: "BreakpadInfoStream",
    0x47670002: "AssertionInfoStream",
    0x47670003: "LinuxCpuInfo",
    0x47670004: "LinuxProcStatus",
    0x47670005: "LinuxLsbRelease",
    0x47670006: "LinuxCmdLine",
    0x47670007: "LinuxEnviron",
    0x47670008: "LinuxAuxv",
    0x47670009: "LinuxMaps",
    0x4767000A: "LinuxDsoDebug",
    0x43500001: "CrashpadInfoStream",
    0x4B6B0002: "StabilityReportStream",
    0x4D7A0001: "MozMacosCrashInfoStream",
    0x4D7A0002: "MozMacosBootargsStream",
    0x4D7A0003: "MozLinuxLimits",
    0x4D7A0004: "MozSoftErrors",
}


def stream_name(stream_type: int) -> str:
    """The spec name of a stream type; unknown types keep their number (Wine writes 0xFFF0)."""
    name = STREAM_TYPES.get(stream_type)
    if name is not None:
        return name
    if stream_type & 0xFFFF0000 == 0x47670000:
        return f"BreakpadStream{stream_type:#010x}"
    return f"Stream{stream_type:#x}"


# PROCESSOR_ARCHITECTURE_* (winnt.h) and Breakpad's MD_CPU_ARCHITECTURE_* additions, mapped to the
# short names shared by every format's meta["arch"].
ARCHITECTURES: dict[int, str] = {
    0: "x86",  # INTEL
    1: "mips",
    2: "unknown(2)",  # ALPHA
    3: "ppc",
    4: "unknown(4)",  # SHX
    5: "arm",
    6: "ia64",
    7: "unknown(7)",  # ALPHA64
    8: "unknown(8)",  # MSIL
    9: "amd64",
    10: "x86",  # IA32_ON_WIN64
    12: "arm64",
    13: "arm",  # ARM32_ON_WIN64
    14: "x86",  # IA32_ON_ARM64
    0x8001: "sparc",
    0x8002: "ppc",  # PPC64
    0x8003: "arm64",  # Breakpad's old ARM64 number
    0x8004: "mips",  # MIPS64
}
ARCHITECTURE_NAMES: dict[int, str] = {
    0: "INTEL",
    1: "MIPS",
    2: "ALPHA",
    3: "PPC",
    4: "SHX",
    5: "ARM",
    6: "IA64",
    7: "ALPHA64",
    8: "MSIL",
    9: "AMD64",
    10: "IA32_ON_WIN64",
    11: "NEUTRAL",
    12: "ARM64",
    13: "ARM32_ON_WIN64",
    14: "IA32_ON_ARM64",
    0x8001: "SPARC",
    0x8002: "PPC64",
    0x8003: "ARM64_OLD",
    0x8004: "MIPS64",
    0x8005: "RISCV",
    0x8006: "RISCV64",
    0xFFFF: "UNKNOWN",
}

PLATFORMS: dict[int, str] = {
    0: "Windows 3.x (Win32s)",
    1: "Windows 9x",
    2: "Windows NT",
    3: "Windows CE",
    0x8000: "Unix",
    0x8101: "macOS",
    0x8102: "iOS",
    0x8201: "Linux",
    0x8202: "Solaris",
    0x8203: "Android",
    0x8204: "PS3",
    0x8205: "NaCl",
    0x8206: "Fuchsia",
}

PRODUCT_TYPES = {1: "workstation", 2: "domain controller", 3: "server"}

MEM_STATES = {0x1000: "commit", 0x2000: "reserve", 0x10000: "free"}
MEM_TYPES = {0x20000: "private", 0x40000: "mapped", 0x1000000: "image"}
# PAGE_* base protection (low byte) -> rwx; PAGE_GUARD etc. stay visible in the raw "protect" value
PAGE_PERMS = {
    0x01: "---",  # NOACCESS
    0x02: "r--",  # READONLY
    0x04: "rw-",  # READWRITE
    0x08: "rw-",  # WRITECOPY
    0x10: "--x",  # EXECUTE
    0x20: "r-x",  # EXECUTE_READ
    0x40: "rwx",  # EXECUTE_READWRITE
    0x80: "rwx",  # EXECUTE_WRITECOPY
}

EXCEPTION_NAMES = {
    0x80000003: "EXCEPTION_BREAKPOINT",
    0x80000004: "EXCEPTION_SINGLE_STEP",
    0xC0000005: "EXCEPTION_ACCESS_VIOLATION",
    0xC000000D: "STATUS_INVALID_PARAMETER",
    0xC000001D: "EXCEPTION_ILLEGAL_INSTRUCTION",
    0xC0000094: "EXCEPTION_INT_DIVIDE_BY_ZERO",
    0xC00000FD: "EXCEPTION_STACK_OVERFLOW",
    0xC0000374: "STATUS_HEAP_CORRUPTION",
    0xC0000409: "STATUS_STACK_BUFFER_OVERRUN",
    0xE06D7363: "C++ exception",
}
