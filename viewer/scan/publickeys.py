"""Public keys supplied by the examiner (``scan --public-key FILE``): "is the private half of this key in
the dump?".

Accepted, detected from the content (never from the file name):

* PEM: ``PUBLIC KEY`` (SubjectPublicKeyInfo), ``RSA PUBLIC KEY`` (PKCS#1), ``CERTIFICATE`` — any number of
  blocks in one file, every block is loaded; ``# kid: NAME`` comment lines just before a block, as in the
  corpus samples, label it;
* DER: SubjectPublicKeyInfo, PKCS#1 RSAPublicKey, X.509 certificate;
* OpenSSH public keys, one per line (``ssh-rsa AAAA... comment``, ``ssh-ed25519``, ``ecdsa-sha2-*``), as in
  ``authorized_keys`` or ``id_*.pub``;
* a JWKS (``{"keys": [...]}``) or a single JWK; the ``kid`` is the label. The RFC 7638 thumbprint of the
  JWK's public members is computed from the JSON and must equal ``keys.key_id`` of the loaded key.

Every key is named by ``keys.key_id`` so that it can be compared with the findings' key ids. Private keys
given by mistake are refused with a message that names the file, never the key. Anything else raises
``ValueError("<path>: not a public key, certificate, OpenSSH public key or JWKS")``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x448, x25519

from viewer.scan import keys

MAX_FILE = 16 * 1024 * 1024  # a public key file is small; refuse to read a dump given by mistake
MAX_KEYS = 4096  # keys in one JWKS or PEM bundle: an identity provider publishes a handful

_PEM_BLOCK = re.compile(
    rb"(?:^#[ \t]*kid:[ \t]*([^\r\n]*)\r?\n)?^-----BEGIN ([A-Z0-9 ]{1,40})-----\r?\n(.*?)^-----END \2-----",
    re.S | re.M,
)
_SSH_LINE = re.compile(rb"^(?:[^\s]+\s+)?((?:ssh|ecdsa-sha2|sk-)[A-Za-z0-9@.-]*)\s+([A-Za-z0-9+/]+={0,2})(?:\s+([^\r\n]*))?$")


@dataclass
class SuppliedKey:
    """One supplied public key: ``label`` is what the examiner knows it by (kid, certificate subject CN,
    OpenSSH comment, or a fingerprint), ``source`` the file and the place in it."""

    label: str
    key_id: str
    kind: str  # "rsa", "ec", "ed25519", ... (the algorithm), "certificate:rsa" for a certificate's key
    source: str
    public_key: Any


def not_a_key(path: Path | str) -> ValueError:
    return ValueError(f"{path}: not a public key, certificate, OpenSSH public key or JWKS")


def _algorithm(public_key: Any) -> str:
    for cls, name in (
        (rsa.RSAPublicKey, "rsa"),
        (ec.EllipticCurvePublicKey, "ec"),
        (ed25519.Ed25519PublicKey, "ed25519"),
        (ed448.Ed448PublicKey, "ed448"),
        (x25519.X25519PublicKey, "x25519"),
        (x448.X448PublicKey, "x448"),
    ):
        if isinstance(public_key, cls):
            return name
    return type(public_key).__name__.lower().replace("publickey", "")


def _fingerprint(public_key: Any) -> str:
    spki = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "SHA256:" + base64.b64encode(hashlib.sha256(spki).digest()).decode().rstrip("=")


def _from_certificate(cert: x509.Certificate, source: str) -> SuppliedKey:
    public = cert.public_key()
    _check_size(public, source)
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    label = str(names[0].value) if names else "SHA256:" + cert.fingerprint(hashes.SHA256()).hex()
    return SuppliedKey(label, keys.key_id(public), "certificate:" + _algorithm(public), source, public)


def _check_size(public: Any, source: str) -> None:
    """An RSA "key" beyond keys.MAX_RSA_BITS would make every comparison with a finding a big-number job."""
    if isinstance(public, rsa.RSAPublicKey) and public.key_size > keys.MAX_RSA_BITS:
        raise ValueError(f"{source}: RSA modulus of {public.key_size} bits, more than {keys.MAX_RSA_BITS}")


def _from_public(public: Any, label: str | None, source: str) -> SuppliedKey:
    _check_size(public, source)
    return SuppliedKey(label or _fingerprint(public), keys.key_id(public), _algorithm(public), source, public)


def _load_der(der: bytes, source: str, label: str | None = None) -> SuppliedKey | None:
    try:
        public = serialization.load_der_public_key(der)
    except (ValueError, TypeError, NotImplementedError, UnsupportedAlgorithm):
        public = None
    if public is not None:
        return _from_public(public, label, source)
    try:
        cert = x509.load_der_x509_certificate(der)
    except (ValueError, TypeError):
        cert = None
    if cert is not None:
        try:
            public = cert.public_key()
        except (ValueError, TypeError, NotImplementedError, UnsupportedAlgorithm):
            return None
        found = _from_certificate(cert, source)
        if label:
            found.label = label
        return found
    try:  # PKCS#1 RSAPublicKey as DER
        pem = b"-----BEGIN RSA PUBLIC KEY-----\n" + base64.encodebytes(der) + b"-----END RSA PUBLIC KEY-----\n"
        public = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, NotImplementedError, UnsupportedAlgorithm):
        return None
    return _from_public(public, label, source)


def _load_pem(data: bytes, path: Path) -> list[SuppliedKey]:
    found: list[SuppliedKey] = []
    for index, m in enumerate(_PEM_BLOCK.finditer(data), 1):
        if index > MAX_KEYS:
            raise ValueError(f"{path}: more than {MAX_KEYS} PEM blocks")
        kid, label = m.group(1), m.group(2).decode("ascii")
        source = f"{path} (PEM block {index})"
        if label.endswith("PRIVATE KEY"):
            raise ValueError(f"{path}: block {index} is a private key ({label}); give the public key only")
        body = re.sub(rb"\s+", b"", m.group(3))
        try:
            der = base64.b64decode(body, validate=True)
        except ValueError:
            raise ValueError(f"{path}: PEM block {index} ({label}) is not valid base64") from None
        # "# kid: NAME (note)" as in the corpus samples: the label is NAME, as in the matching JWKS
        name = re.sub(r"\s+\([^()]*\)$", "", kid.decode("utf-8", "replace").strip()) if kid else None
        if label in ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE", "PUBLIC KEY", "RSA PUBLIC KEY"):
            key = _load_der(der, source, name)
            if key is None:
                raise ValueError(f"{path}: PEM block {index} ({label}) does not load")
            found.append(key)
    return found


def _jwk_key(jwk: dict[str, Any], source: str) -> SuppliedKey:
    if not isinstance(jwk, dict) or "kty" not in jwk:
        raise ValueError(f"{source}: not a JWK")
    if any(member in jwk for member in ("d", "p", "q", "dp", "dq", "qi", "k")):
        raise ValueError(f"{source}: a private or symmetric JWK; give the public key only")
    try:
        kty = jwk["kty"]
        if kty == "RSA":
            public: Any = rsa.RSAPublicNumbers(
                int.from_bytes(keys.b64url_decode(jwk["e"]), "big"), int.from_bytes(keys.b64url_decode(jwk["n"]), "big")
            ).public_key()
            members = {"e": jwk["e"], "kty": kty, "n": jwk["n"]}
            _check_size(public, source)
        elif kty == "EC":
            curve = keys.EC_CURVES[jwk["crv"]]
            public = ec.EllipticCurvePublicNumbers(
                int.from_bytes(keys.b64url_decode(jwk["x"]), "big"),
                int.from_bytes(keys.b64url_decode(jwk["y"]), "big"),
                curve,
            ).public_key()
            members = {"crv": jwk["crv"], "kty": kty, "x": jwk["x"], "y": jwk["y"]}
        elif kty == "OKP":
            cls = {
                "Ed25519": ed25519.Ed25519PublicKey,
                "Ed448": ed448.Ed448PublicKey,
                "X25519": x25519.X25519PublicKey,
                "X448": x448.X448PublicKey,
            }[jwk["crv"]]
            public = cls.from_public_bytes(keys.b64url_decode(jwk["x"]))
            members = {"crv": jwk["crv"], "kty": kty, "x": jwk["x"]}
        else:
            raise ValueError(f"{source}: unsupported JWK key type {repr(kty)[:40]}")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, ValueError) and str(exc).startswith(source):  # our own message: keep it
            raise
        raise ValueError(f"{source}: JWK does not load ({type(exc).__name__})") from None
    thumbprint = keys.b64url(
        hashlib.sha256(json.dumps(members, sort_keys=True, separators=(",", ":")).encode()).digest()
    )
    key_id = keys.key_id(public)
    if thumbprint != key_id:  # a JWK with non-canonical members (leading zeros in n, short x): refuse it
        raise ValueError(f"{source}: JWK members are not in canonical form (RFC 7638 thumbprint disagrees)")
    label = jwk.get("kid") if isinstance(jwk.get("kid"), str) and jwk.get("kid") else thumbprint
    return SuppliedKey(label, key_id, _algorithm(public), source, public)


def _load_json(doc: Any, path: Path) -> list[SuppliedKey]:
    if isinstance(doc, dict) and isinstance(doc.get("keys"), list):
        if not doc["keys"]:
            raise ValueError(f"{path}: the JWKS holds no keys")
        if len(doc["keys"]) > MAX_KEYS:
            raise ValueError(f"{path}: the JWKS holds {len(doc['keys'])} keys, more than {MAX_KEYS}")
        return [_jwk_key(jwk, f"{path} (JWKS key {i})") for i, jwk in enumerate(doc["keys"], 1)]
    if isinstance(doc, dict) and "kty" in doc:
        return [_jwk_key(doc, str(path))]
    raise not_a_key(path)


def _load_ssh(data: bytes, path: Path) -> list[SuppliedKey]:
    found: list[SuppliedKey] = []
    for number, line in enumerate(data.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(b"#"):
            continue
        m = _SSH_LINE.match(line)
        if m is None:
            return []
        try:
            public = serialization.load_ssh_public_key(m.group(1) + b" " + m.group(2))
        except (ValueError, TypeError, NotImplementedError, UnsupportedAlgorithm):
            raise ValueError(f"{path}: line {number} is not a valid OpenSSH public key") from None
        comment = m.group(3).decode("utf-8", "replace").strip() if m.group(3) else ""
        found.append(_from_public(public, comment or None, f"{path} (line {number})"))
    return found


def load_public_key_file(path: Path | str) -> list[SuppliedKey]:
    """Every public key in one file. Raises ValueError (one line, naming the file) when there is none."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE:
            raise ValueError(f"{path}: too large for a public key file ({size} bytes)")
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or type(exc).__name__}") from None
    stripped = data.strip()
    if not stripped:
        raise ValueError(f"{path}: empty file")
    if b"-----BEGIN " in data:
        found = _load_pem(data, path)
        if found:
            return found
        if b"PRIVATE KEY-----" in data:
            raise ValueError(f"{path}: holds a private key; give the public key only")
        raise not_a_key(path)
    if stripped[:1] in (b"{", b"["):
        try:
            doc = json.loads(stripped.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise not_a_key(path) from None
        except RecursionError:  # a JWKS nests three levels; the json module gives up near 1,000
            raise ValueError(f"{path}: JSON nested too deeply for a JWKS") from None
        except ValueError:  # an integer of more than 4,300 digits (sys.int_max_str_digits)
            raise ValueError(f"{path}: JSON holds an integer too long to read") from None
        return _load_json(doc, path)
    if stripped.startswith(b"PuTTY-User-Key-File") or stripped.startswith(b"openssh-key-v1"):
        raise ValueError(f"{path}: holds a private key; give the public key only")
    if data[:1] == b"\x30":  # DER SEQUENCE
        key = _load_der(data, str(path))
        if key is not None:
            return [key]
        try:  # a private key in DER given by mistake?
            serialization.load_der_private_key(data, password=None)
        except (ValueError, TypeError, NotImplementedError, UnsupportedAlgorithm):
            raise not_a_key(path) from None
        raise ValueError(f"{path}: holds a private key; give the public key only")
    found = _load_ssh(data, path)
    if found:
        return found
    raise not_a_key(path)


def load_public_keys(paths: Iterable[Path | str]) -> list[SuppliedKey]:
    """Every public key in every file, in order. The first bad file raises ValueError."""
    found: list[SuppliedKey] = []
    for path in paths:
        found.extend(load_public_key_file(path))
    return found
