"""The one registry of finding kinds: what each ``Finding.kind`` string means, in one place.

Why: a kind used to be a free string that every consumer interpreted on its own — the GUI matched
substrings ("ends with private-key") and coloured from a hard-coded table, documents guessed labels.
Here each kind is declared once with its label (for people), whether it is a secret or public context,
its algorithm where one applies, and its colour role (the GUI maps a role to a colour; the core knows no
colours). Detectors take their kind names from the constants below instead of writing the strings.

A kind read from an old case file or a newer tool may be unknown: :func:`kind_info` then gives a
conservative fallback (a secret, coloured as a private key) rather than failing or hiding it.
"""

from __future__ import annotations

from dataclasses import dataclass

COLOUR_ROLES = ("private-key", "symmetric-key", "token", "password", "context", "entropy")


@dataclass(frozen=True)
class Kind:
    """One kind of finding. ``secret`` is the kind's nature (a single finding may still say
    ``secret=False``, e.g. a PKCS#12 container without a private key); ``colour_role`` is one of
    :data:`COLOUR_ROLES`."""

    name: str
    label: str
    secret: bool
    algorithm: str | None
    colour_role: str


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    """Add ``kind`` to :data:`KINDS` (a detector outside this module registers its own kinds at import).

    Registering the same declaration twice is harmless; a different declaration under a taken name, or
    an unknown colour role, is a programming error."""
    if kind.colour_role not in COLOUR_ROLES:
        raise ValueError(f"kind {kind.name!r}: colour role {kind.colour_role!r} is not one of {COLOUR_ROLES}")
    old = KINDS.get(kind.name)
    if old is not None and old != kind:
        raise ValueError(f"kind {kind.name!r} is already registered differently")
    KINDS[kind.name] = kind
    return kind


def kind_info(name: str) -> Kind:
    """The declaration of ``name``; for an unknown kind a conservative one: a secret, coloured as a
    private key, labelled from the name."""
    known = KINDS.get(name)
    if known is not None:
        return known
    label = name.replace("-", " ").replace("_", " ").strip().capitalize() or "Unknown finding"
    return Kind(name, label, True, None, "private-key")


def _declare(name: str, label: str, secret: bool, algorithm: str | None, colour_role: str) -> str:
    register(Kind(name, label, secret, algorithm, colour_role))
    return name


# -- private halves of asymmetric keys ---------------------------------------------------------------
RSA_PRIVATE_KEY = _declare("rsa-private-key", "RSA private key", True, "RSA", "private-key")
EC_PRIVATE_KEY = _declare("ec-private-key", "EC private key", True, "EC", "private-key")
DSA_PRIVATE_KEY = _declare("dsa-private-key", "DSA private key", True, "DSA", "private-key")
ED25519_PRIVATE_KEY = _declare("ed25519-private-key", "Ed25519 private key", True, "Ed25519", "private-key")
ED448_PRIVATE_KEY = _declare("ed448-private-key", "Ed448 private key", True, "Ed448", "private-key")
X25519_PRIVATE_KEY = _declare("x25519-private-key", "X25519 private key", True, "X25519", "private-key")
X448_PRIVATE_KEY = _declare("x448-private-key", "X448 private key", True, "X448", "private-key")
PRIVATE_KEY = _declare("private-key", "Private key (algorithm not known)", True, None, "private-key")
SSH_PRIVATE_KEY = _declare("ssh-private-key", "SSH private key (key type not known)", True, None, "private-key")

# -- symmetric keys and secrets ----------------------------------------------------------------------
AES_KEY = _declare("aes-key", "AES key", True, "AES", "symmetric-key")
SYMMETRIC_KEY = _declare("symmetric-key", "Symmetric key", True, None, "symmetric-key")
HMAC_SECRET = _declare("hmac-secret", "HMAC secret", True, "HMAC", "symmetric-key")
SSH_AGENT_PREKEY = _declare("ssh-agent-prekey", "ssh-agent shielding prekey", True, None, "symmetric-key")

# -- credentials and containers ----------------------------------------------------------------------
JWT = _declare("jwt", "JSON Web Token", True, None, "token")
API_TOKEN = _declare("api-token", "API token", True, None, "token")
AWS_CREDENTIALS = _declare("aws-credentials", "AWS access key and secret", True, None, "token")
GCP_SERVICE_ACCOUNT = _declare("gcp-service-account", "GCP service-account file (key not loadable)", True,
                               None, "token")
GCP_SERVICE_ACCOUNT_KEY = _declare("gcp-service-account-key", "GCP service-account key", True, None, "token")
DPAPI_BLOB = _declare("dpapi-blob", "DPAPI blob", True, None, "token")
PKCS12 = _declare("pkcs12", "PKCS#12 container", True, None, "token")
PASSWORD_IN_URL = _declare("password-in-url", "Password in a URL", True, None, "password")

# -- public context (reported, never counted as secrets) ---------------------------------------------
CERTIFICATE = _declare("certificate", "X.509 certificate", False, None, "context")
PUBLIC_KEY = _declare("public-key", "Public key", False, None, "context")
RSA_PUBLIC_KEY = _declare("rsa-public-key", "RSA public key", False, "RSA", "context")
EC_PUBLIC_KEY = _declare("ec-public-key", "EC public key", False, "EC", "context")
ED25519_PUBLIC_KEY = _declare("ed25519-public-key", "Ed25519 public key", False, "Ed25519", "context")
ED448_PUBLIC_KEY = _declare("ed448-public-key", "Ed448 public key", False, "Ed448", "context")
X25519_PUBLIC_KEY = _declare("x25519-public-key", "X25519 public key", False, "X25519", "context")
X448_PUBLIC_KEY = _declare("x448-public-key", "X448 public key", False, "X448", "context")
AWS_ACCESS_KEY_ID = _declare("aws-access-key-id", "AWS access key id", False, None, "context")
CNG_KEY_OBJECT = _declare("cng-key-object", "Wine CNG key object", False, None, "context")

# -- leads -------------------------------------------------------------------------------------------
HIGH_ENTROPY = _declare("high-entropy", "High-entropy island", True, None, "entropy")


def private_key_kind(algorithm: str) -> str:
    """The private-key kind of an algorithm name as :class:`Kind` declares it ("RSA", "Ed25519", ...)."""
    return _BY_ALGORITHM[(algorithm, True)]


def public_key_kind(algorithm: str) -> str:
    """The public-key kind of an algorithm name ("RSA", "EC", "Ed25519", ...)."""
    return _BY_ALGORITHM[(algorithm, False)]


_BY_ALGORITHM = {
    (k.algorithm, k.secret): k.name
    for k in KINDS.values()
    if k.algorithm is not None and k.name.endswith(("-private-key", "-public-key"))
}
