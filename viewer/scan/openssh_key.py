"""The ``openssh-key-v1`` format (PROTOCOL.key in the OpenSSH sources), declared with construct, and
the check of the key it holds: shared by the detectors that meet it — ``openssh`` (the binary form in
memory), ``pem`` (the armoured "BEGIN OPENSSH PRIVATE KEY" text, base64-decoded) and ``sshagent`` (the
private fields of a shielded key).

Why its own module: the parser used to live in the openssh detector and pem loaded it through importlib
(with a second, cryptography-based copy as a fallback), sshagent used its private helpers. A format
both read is declared once, here, outside the detectors package.

An unencrypted key is checked against the public key stored in clear in the same blob (Ed25519 seed ->
public key; RSA p*q = n and e*d = 1 mod lambda(n); ECDSA d*G = Q; DSA g^x = y mod p) -> ``confirmed``.
An encrypted key cannot be checked, but its public half is in clear, so it is named (``key_id``) and
reported ``high`` with what would be needed to open it. Every string length is checked against a cap
and what is available before it is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from construct import (
    Array,
    Bytes,
    Check,
    Const,
    ConstructError,
    ExprAdapter,
    FocusedSeq,
    GreedyBytes,
    Int32ub,
    Pass,
    Struct,
    Switch,
    Tell,
    this,
)
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

from viewer.scan import keys, kinds
from viewer.scan.finding import Confidence

MAGIC = b"openssh-key-v1\x00"
MAX_STRING = 64 * 1024  # no field of a real key comes near this (RSA-16384 private section: ~9 KiB)
MAX_KEYS = 16
MAX_BLOB = 4 * MAX_STRING  # the most a validator reads for one key file

# --- declarations -----------------------------------------------------------------------------------


def _mpint_encode(value: int, ctx: Any) -> bytes:
    if value == 0:
        return b""
    return value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True)


SSHString = FocusedSeq(
    "data",
    "length" / Int32ub,
    Check(this.length <= MAX_STRING),
    "data" / Bytes(this.length),
)
SSHName = ExprAdapter(
    SSHString,
    decoder=lambda obj, ctx: obj.decode("ascii"),
    encoder=lambda obj, ctx: obj.encode("ascii"),
)
MPInt = ExprAdapter(
    SSHString,
    decoder=lambda obj, ctx: int.from_bytes(obj, "big", signed=True),
    encoder=_mpint_encode,
)

ECDSA_CURVES = {"nistp256": "P-256", "nistp384": "P-384", "nistp521": "P-521"}
ECDSA_TYPES = {f"ecdsa-sha2-{c}": c for c in ECDSA_CURVES}

# The public key blob (RFC 4253 6.6, RFC 5656, RFC 8709).
PUBLIC_FIELDS = {
    "ssh-ed25519": Struct("pk" / SSHString),
    "ssh-rsa": Struct("e" / MPInt, "n" / MPInt),
    "ssh-dss": Struct("p" / MPInt, "q" / MPInt, "g" / MPInt, "y" / MPInt),
    **{t: Struct("curve" / SSHName, "Q" / SSHString) for t in ECDSA_TYPES},
}
PUBLIC_KEY_BLOB = Struct(
    "keytype" / SSHName,
    "key" / Switch(this.keytype, PUBLIC_FIELDS, default=Pass),
)

# The private fields, per key type (PROTOCOL.key; sshkey.c sshkey_private_serialize).
PRIVATE_FIELDS = {
    "ssh-ed25519": Struct("pk" / SSHString, "sk" / SSHString),
    "ssh-rsa": Struct("n" / MPInt, "e" / MPInt, "d" / MPInt, "iqmp" / MPInt, "p" / MPInt, "q" / MPInt),
    "ssh-dss": Struct("p" / MPInt, "q" / MPInt, "g" / MPInt, "y" / MPInt, "x" / MPInt),
    **{t: Struct("curve" / SSHName, "Q" / SSHString, "d" / MPInt) for t in ECDSA_TYPES},
}

PRIVATE_SECTION = Struct(
    "checkint1" / Int32ub,
    "checkint2" / Int32ub,
    "entries"
    / Array(
        this._params.nkeys,
        Struct(
            "keytype" / SSHName,
            "key" / Switch(this.keytype, PRIVATE_FIELDS),  # unknown types end the parse
            "comment" / SSHString,
        ),
    ),
    "padding" / GreedyBytes,
)

BCRYPT_KDF_OPTIONS = Struct("salt" / SSHString, "rounds" / Int32ub)

OPENSSH_KEY_V1 = Struct(
    "magic" / Const(MAGIC),
    "ciphername" / SSHName,
    "kdfname" / SSHName,
    "kdfoptions" / SSHString,
    "nkeys" / Int32ub,
    Check(1 <= this.nkeys <= MAX_KEYS),
    "public_keys" / Array(this.nkeys, SSHString),
    "private" / SSHString,
    "end" / Tell,
)

KINDS = {
    "ssh-ed25519": kinds.ED25519_PRIVATE_KEY,
    "ssh-rsa": kinds.RSA_PRIVATE_KEY,
    "ssh-dss": kinds.DSA_PRIVATE_KEY,
    **{t: kinds.EC_PRIVATE_KEY for t in ECDSA_TYPES},
}

# --- parsing ----------------------------------------------------------------------------------------


@dataclass
class OpenSSHKey:
    """What :func:`parse_openssh_key` found: public facts only, never key bytes."""

    kind: str
    key_id: str | None
    confidence: Confidence
    reasons: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    length: int = 0  # bytes of the blob consumed by the key file structure
    encrypted: bool = False


def public_key(keytype: str, fields: Any) -> Any:
    """A ``cryptography`` public key from parsed public fields, or None."""
    try:
        if keytype == "ssh-ed25519":
            return ed25519.Ed25519PublicKey.from_public_bytes(fields.pk)
        if keytype == "ssh-rsa":
            if fields.n.bit_length() > keys.MAX_RSA_BITS:
                return None
            return rsa.RSAPublicNumbers(fields.e, fields.n).public_key()
        if keytype in ECDSA_TYPES:
            if fields.curve != ECDSA_TYPES[keytype]:
                return None
            curve = keys.EC_CURVES[ECDSA_CURVES[fields.curve]]
            return ec.EllipticCurvePublicKey.from_encoded_point(curve, fields.Q)
        if keytype == "ssh-dss":
            if fields.p.bit_length() > keys.MAX_RSA_BITS:
                return None
            params = dsa.DSAParameterNumbers(fields.p, fields.q, fields.g)
            return dsa.DSAPublicNumbers(fields.y, params).public_key()
    except (ValueError, TypeError, OverflowError, AttributeError):
        return None
    return None


def check_private(keytype: str, k: Any) -> keys.Check:
    if keytype == "ssh-ed25519":
        if len(k.pk) != 32 or len(k.sk) != 64:
            return keys.Check(False, ["ed25519 key lengths wrong"])
        if k.sk[32:] != k.pk:
            return keys.Check(False, ["second half of the private key is not the public key"])
        return keys.check_ed25519(k.sk[:32], k.pk)
    if keytype == "ssh-rsa":
        if min(k.n, k.e, k.d, k.p, k.q, k.iqmp) <= 0:
            return keys.Check(False, ["negative or zero RSA number"])
        return keys.check_rsa(k.n, k.e, k.d, k.p, k.q, qinv=k.iqmp)
    if keytype in ECDSA_TYPES:
        if k.curve != ECDSA_TYPES[keytype] or k.d <= 0:
            return keys.Check(False, ["curve name or scalar wrong"])
        return keys.check_ec(ECDSA_CURVES[k.curve], k.d, k.Q)
    if keytype == "ssh-dss":
        p, q, g, y, x = k.p, k.q, k.g, k.y, k.x
        if not (
            1 < g < p and 0 < x < q and q > 1 and p.bit_length() <= keys.MAX_RSA_BITS and (p - 1) % q == 0
        ):
            return keys.Check(False, ["DSA numbers out of range"])
        if pow(g, x, p) != y:
            return keys.Check(False, ["g^x != y mod p"])
        return keys.Check(True, ["x in [1, q-1]", "g^x = y mod p"])
    return keys.Check(False, [f"unsupported key type {keytype}"])


def padding_ok(padding: bytes) -> bool:
    return len(padding) < 256 and padding == bytes(range(1, len(padding) + 1))


def parse_openssh_key(blob: bytes) -> OpenSSHKey | None:
    """Parse an ``openssh-key-v1`` blob (starting with the magic) and check it. None when it is not one.

    Reports the first key of the file (OpenSSH writes exactly one); ``details["nkeys"]`` says how many.
    """
    try:
        return _parse(bytes(blob[:MAX_BLOB]))
    except (ConstructError, ValueError, OverflowError, TypeError, IndexError, KeyError):
        return None


def _parse(blob: bytes) -> OpenSSHKey | None:
    if not blob.startswith(MAGIC):
        return None
    outer = OPENSSH_KEY_V1.parse(blob)
    cipher, kdf = outer.ciphername, outer.kdfname
    if not cipher or not kdf or len(cipher) > 64 or len(kdf) > 64:
        return None
    pub = PUBLIC_KEY_BLOB.parse(outer.public_keys[0])
    keytype = pub.keytype
    public = public_key(keytype, pub.key) if keytype in PUBLIC_FIELDS else None
    kind = KINDS.get(keytype, kinds.SSH_PRIVATE_KEY)
    details: dict[str, Any] = {"ssh_key_type": keytype, "cipher": cipher, "kdf": kdf}
    if outer.nkeys != 1:
        details["nkeys"] = outer.nkeys
    if public is not None:
        details.update(keys.describe_public(public))
    key_id = keys.key_id(public) if public is not None else None
    reasons = ["openssh-key-v1 structure parsed"]

    if cipher != "none":
        if kdf == "bcrypt":
            try:
                details["kdf_rounds"] = BCRYPT_KDF_OPTIONS.parse(outer.kdfoptions).rounds
            except ConstructError:
                pass
        if public is None:
            reasons.append("public key type not understood")
        else:
            reasons.append("public key in clear parsed")
        reasons.append(f"encrypted with {cipher}/{kdf}: private half not recoverable without the passphrase")
        return OpenSSHKey(
            kind=kind,
            key_id=key_id,
            confidence=Confidence.HIGH if public is not None else Confidence.MEDIUM,
            reasons=reasons,
            details={**details, "encrypted": True},
            length=outer.end,
            encrypted=True,
        )

    if kdf != "none" or public is None:
        return None
    section = PRIVATE_SECTION.parse(outer.private, nkeys=outer.nkeys)
    if section.checkint1 != section.checkint2:
        return None  # an unencrypted key always has equal check integers
    first = section.entries[0]
    if first.keytype != keytype:
        return None
    check = check_private(keytype, first.key)
    embedded = public_key(keytype, first.key)  # the private fields repeat the public ones
    same_public = embedded is not None and keys.key_id(embedded) == key_id
    confidence = Confidence.LOW
    if check.ok and same_public:
        confidence = Confidence.CONFIRMED
        reasons += check.reasons
        reasons.append("private key matches the public key stored in clear")
    elif check.ok:
        reasons += check.reasons
        reasons.append("private key does not match the public key stored in clear")
    else:
        reasons.append("key mathematics failed: " + "; ".join(check.reasons))
    if not padding_ok(section.padding):
        reasons.append("padding is not 1, 2, 3, ...")
        if confidence == Confidence.CONFIRMED:
            reasons.append("(the key itself checks out)")
    if first.comment:
        details["has_comment"] = True  # the comment is often user@host: personal data, not shown
    return OpenSSHKey(
        kind=kind,
        key_id=key_id,
        confidence=confidence,
        reasons=reasons,
        details=details,
        length=outer.end,
        encrypted=False,
    )
