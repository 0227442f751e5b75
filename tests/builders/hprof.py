"""HPROF heap dumps written here from the format's own description (HotSpot's heapDumper, big-endian),
independently of the parser: strings, classes, class dumps, instances, object and primitive arrays. A
builder of the JDK's key objects (RSAPrivateCrtKeyImpl with its BigIntegers, SecretKeySpec with its
String, HmacCore's pads, AESCrypt's schedule, EdDSAPrivateKeyImpl and EdDSAPublicKeyImpl) gives tests a
heap whose truth they know; hostile variants lie about lengths and counts."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

OBJECT, BOOLEAN, CHAR, BYTE, INT, LONG = 2, 4, 5, 8, 10, 11
SIZES = {BOOLEAN: 1, CHAR: 2, BYTE: 1, INT: 4, LONG: 8}


@dataclass
class HprofWriter:
    id_size: int = 8
    records: list[bytes] = field(default_factory=list)
    heap: bytearray = field(default_factory=bytearray)
    next_id: int = 0x10000
    classes: dict[str, tuple[int, list[tuple[str, int]]]] = field(default_factory=dict)
    strings: dict[str, int] = field(default_factory=dict)
    supers: dict[int, int] = field(default_factory=dict)  # class id -> superclass id

    def _id(self) -> int:
        self.next_id += 0x10
        return self.next_id

    def ident(self, value: int) -> bytes:
        return value.to_bytes(self.id_size, "big")

    def record(self, tag: int, body: bytes) -> None:
        self.records.append(struct.pack(">BII", tag, 0, len(body)) + body)

    def string(self, text: str) -> int:
        if text not in self.strings:
            sid = self.strings[text] = self._id()
            self.record(0x01, self.ident(sid) + text.encode())
        return self.strings[text]

    def define(self, name: str, fields: list[tuple[str, int]], super_id: int = 0) -> int:
        """LOAD CLASS and CLASS DUMP of ``name`` with its instance ``fields`` [(name, type)]."""
        cid = self._id()
        name_id = self.string(name.replace(".", "/"))
        self.record(0x02, struct.pack(">I", len(self.classes) + 1) + self.ident(cid) + struct.pack(">I", 0)
                    + self.ident(name_id))
        body = bytearray([0x20]) + self.ident(cid) + struct.pack(">I", 0) + self.ident(super_id)
        body += self.ident(0) * 5 + struct.pack(">I", 16) + struct.pack(">H", 0) + struct.pack(">H", 0)
        body += struct.pack(">H", len(fields))
        for fname, ftype in fields:
            body += self.ident(self.string(fname)) + bytes([ftype])
        self.heap += body
        self.classes[name] = (cid, fields)
        self.supers[cid] = super_id
        return cid

    def instance(self, class_name: str, /, **values: int) -> int:
        """An INSTANCE DUMP of ``class_name``: its own fields, then each superclass's (as HotSpot writes
        them)."""
        cid, fields = self.classes[class_name]
        by_id = {c: f for c, f in self.classes.values()}
        fields, sup = list(fields), self.supers.get(cid, 0)
        while sup:
            fields += by_id[sup]
            sup = self.supers.get(sup, 0)
        data = bytearray()
        for fname, ftype in fields:
            v = values.get(fname, 0)
            data += v.to_bytes(self.id_size if ftype == OBJECT else SIZES[ftype], "big", signed=ftype != OBJECT)
        oid = self._id()
        self.heap += bytes([0x21]) + self.ident(oid) + struct.pack(">I", 0) + self.ident(cid)
        self.heap += struct.pack(">I", len(data)) + data
        return oid

    def array(self, typ: int, data: bytes) -> tuple[int, int]:
        """A primitive array of ``data`` (already big-endian elements); (its id, the file offset of its
        elements once built: relative to the heap segment's body)."""
        aid = self._id()
        count = len(data) // SIZES[typ]
        self.heap += bytes([0x23]) + self.ident(aid) + struct.pack(">II", 0, count) + bytes([typ])
        at = len(self.heap)
        self.heap += data
        return aid, at

    def object_array(self, elements: list[int], class_name: str = "[Ljava.lang.Object;") -> int:
        """An OBJECT ARRAY DUMP of ``elements`` (identifiers) of the array class ``class_name`` (defined
        here when new, as the JVM dumps array classes too); its id."""
        if class_name not in self.classes:
            self.define(class_name, [])
        aid = self._id()
        self.heap += bytes([0x22]) + self.ident(aid) + struct.pack(">II", 0, len(elements))
        self.heap += self.ident(self.classes[class_name][0]) + b"".join(self.ident(e) for e in elements)
        return aid

    def roots(self, *ids: int) -> None:
        for i in ids:
            self.heap += bytes([0x05]) + self.ident(i)

    def build(self) -> tuple[bytes, int]:
        """The file, and the file offset of the heap segment's body (add it to :meth:`array` offsets)."""
        head = b"JAVA PROFILE 1.0.2\0" + struct.pack(">IQ", self.id_size, 1_700_000_000_000)
        pre = b"".join(self.records)
        seg = struct.pack(">BII", 0x1C, 0, len(self.heap)) + bytes(self.heap)
        end = struct.pack(">BII", 0x2C, 0, 0)
        return head + pre + seg + end, len(head) + len(pre) + 9


def biginteger(w: HprofWriter, value: int) -> tuple[int, int, int]:
    """A java.math.BigInteger of ``value``: (object id, mag int[] id, mag elements' heap offset)."""
    mag = value.to_bytes(-(-value.bit_length() // 32) * 4, "big")
    aid, at = w.array(INT, mag)
    oid = w.instance("java.math.BigInteger", signum=1 if value > 0 else 0, mag=aid)
    return oid, aid, at


def jdk_heap(rsa_key, aes_key: bytes, hmac_key: bytes, aes_schedule: bytes, ed_keys: tuple = (),
             ed_publics: tuple = (), id_size: int = 8) -> tuple[bytes, dict[str, int]]:
    """A heap holding an RSA key as RSAPrivateCrtKeyImpl, an AES key as SecretKeySpec("AES") with its
    schedule in an int[] of AESCrypt, and HmacCore's ipad/opad byte[64]s. Returns the file and the file
    offsets of the interesting arrays' elements by name.

    ``ed_keys`` (Ed25519 private keys) become JDK 17's EdDSAPrivateKeyImpl — ``h`` (the seed, byte[32]) and
    ``paramSpec`` of its own, then PKCS8Key's ``algid``, ``key`` (04 20 || seed) and ``encodedKey`` (null
    until getEncoded()) — offsets ``ed{i}_h`` and ``ed{i}_key`` (the seed inside ``key``); ``ed_publics``
    (Ed25519 public keys) become EdDSAPublicKeyImpl — ``paramSpec``, ``point``, then X509Key's ``key``
    (the raw 32 bytes) and ``encodedKey``. ``id_size``: 8 (a 64-bit JVM) or 4 (a 32-bit one, whose
    object identifiers are 4 bytes)."""
    w = HprofWriter(id_size=id_size)
    w.define("java.lang.Object", [])
    w.define("java.math.BigInteger", [("signum", INT), ("mag", OBJECT)])
    w.define("java.lang.String", [("value", OBJECT), ("coder", BYTE)])
    w.define("sun.security.rsa.RSAPrivateCrtKeyImpl",
             [(n, OBJECT) for n in ("n", "e", "d", "p", "q", "pe", "qe", "coeff")])
    w.define("javax.crypto.spec.SecretKeySpec", [("key", OBJECT), ("algorithm", OBJECT)])
    w.define("com.sun.crypto.provider.AESCrypt", [("K", OBJECT), ("ROUNDS_14", BOOLEAN)])
    w.define("com.sun.crypto.provider.HmacCore", [("k_ipad", OBJECT), ("k_opad", OBJECT)])
    nums = rsa_key.private_numbers()
    at: dict[str, int] = {}
    fields = {}
    for name, value in (("n", nums.public_numbers.n), ("e", nums.public_numbers.e), ("d", nums.d), ("p", nums.p),
                        ("q", nums.q), ("pe", nums.dmp1), ("qe", nums.dmq1), ("coeff", nums.iqmp)):
        oid, _aid, off = biginteger(w, value)
        fields[name] = oid
        at[name] = off
    w.instance("sun.security.rsa.RSAPrivateCrtKeyImpl", **fields)
    w.heap += b"\x05" + w.ident(1)  # a root, so that the next array lands at an odd offset
    key_aid, at["aes_key"] = w.array(BYTE, aes_key)
    text_aid, _ = w.array(BYTE, b"AES")
    sid = w.instance("java.lang.String", value=text_aid, coder=0)
    w.instance("javax.crypto.spec.SecretKeySpec", key=key_aid, algorithm=sid)
    base = 19 + 12 + sum(len(r) for r in w.records) + 9  # where the heap segment's body will start
    while (base + len(w.heap) + 2 + 2 * w.id_size) % 4 != 3:  # the schedule 3 bytes past a word boundary
        w.heap += b"\x05" + w.ident(1)
    sched_aid, at["aes_schedule"] = w.array(INT, aes_schedule)
    w.instance("com.sun.crypto.provider.AESCrypt", K=sched_aid, ROUNDS_14=1)
    block = hmac_key.ljust(64, b"\0")
    ipad_aid, at["ipad"] = w.array(BYTE, bytes(b ^ 0x36 for b in block))
    opad_aid, at["opad"] = w.array(BYTE, bytes(b ^ 0x5C for b in block))
    w.instance("com.sun.crypto.provider.HmacCore", k_ipad=ipad_aid, k_opad=opad_aid)
    if ed_keys or ed_publics:
        _eddsa(w, at, ed_keys, ed_publics)
    data, base = w.build()
    return data, {k: base + v for k, v in at.items()}


def _eddsa(w: HprofWriter, at: dict[str, int], ed_keys: tuple, ed_publics: tuple) -> None:
    w.define("java.security.spec.NamedParameterSpec", [("name", OBJECT)])
    w.define("java.security.spec.EdECPoint", [("xOdd", BOOLEAN), ("y", OBJECT)])
    pkcs8 = w.define("sun.security.pkcs.PKCS8Key", [("algid", OBJECT), ("key", OBJECT), ("encodedKey", OBJECT)])
    x509 = w.define("sun.security.x509.X509Key", [("algid", OBJECT), ("key", OBJECT), ("unusedBits", INT),
                                                  ("bitStringKey", OBJECT), ("encodedKey", OBJECT)])
    w.define("sun.security.ec.ed.EdDSAPrivateKeyImpl", [("h", OBJECT), ("paramSpec", OBJECT)], super_id=pkcs8)
    w.define("sun.security.ec.ed.EdDSAPublicKeyImpl", [("paramSpec", OBJECT), ("point", OBJECT)], super_id=x509)
    text_aid, _ = w.array(BYTE, b"Ed25519")
    spec = w.instance("java.security.spec.NamedParameterSpec",
                      name=w.instance("java.lang.String", value=text_aid, coder=0))
    for i, private in enumerate(ed_keys):
        seed = private.private_bytes_raw()
        h_aid, at[f"ed{i}_h"] = w.array(BYTE, seed)
        w.heap += b"\x05" + w.ident(1)  # the two copies apart, not one run of bytes
        key_aid, key_at = w.array(BYTE, b"\x04\x20" + seed)
        at[f"ed{i}_key"] = key_at + 2
        w.instance("sun.security.ec.ed.EdDSAPrivateKeyImpl", h=h_aid, paramSpec=spec, key=key_aid)
    for i, public in enumerate(ed_publics):
        raw = public.public_bytes_raw()
        key_aid, at[f"edpub{i}"] = w.array(BYTE, raw)
        point = w.instance("java.security.spec.EdECPoint", xOdd=raw[31] >> 7)
        w.instance("sun.security.ec.ed.EdDSAPublicKeyImpl", paramSpec=spec, point=point, key=key_aid)


def lying_record_length() -> bytes:
    """A UTF8 record claiming 4 GiB, then nothing."""
    head = b"JAVA PROFILE 1.0.2\0" + struct.pack(">IQ", 8, 0)
    return head + struct.pack(">BII", 0x01, 0, 0xFFFFFFFF) + b"\0" * 64


def lying_array_counts(arrays: int = 20000) -> bytes:
    """A heap segment of primitive arrays each claiming 2^32-1 longs (far past the segment)."""
    w = HprofWriter()
    for _ in range(arrays):
        w.heap += bytes([0x23]) + w.ident(w._id()) + struct.pack(">II", 0, 0xFFFFFFFF) + bytes([LONG])
    return w.build()[0]


def many_tiny_records(count: int = 400_000) -> bytes:
    """Hundreds of thousands of empty records (the record budget must hold)."""
    head = b"JAVA PROFILE 1.0.2\0" + struct.pack(">IQ", 8, 0)
    return head + struct.pack(">BII", 0x0E, 0, 0) * count


def class_dump_lies(classes: int = 5000) -> bytes:
    """Class dumps whose constant-pool and field counts claim 65535 entries."""
    w = HprofWriter()
    for _ in range(classes):
        w.heap += bytes([0x20]) + w.ident(w._id()) + struct.pack(">I", 0) + w.ident(0) * 6
        w.heap += struct.pack(">I", 0) + struct.pack(">H", 0xFFFF)
    return w.build()[0]
