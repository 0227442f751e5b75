"""Self-signed X.509 certificates for tests: the public half of a key as a server or a PEM file holds it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID


def self_signed(key: Any, name: str = "test", now: dt.datetime | None = None, serial: int | None = None,
                days: int = 1) -> x509.Certificate:
    """A certificate of ``key``'s public half signed by ``key`` (``now``/``serial`` fixed for reproducible bytes)."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = now or dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(start).not_valid_after(start + dt.timedelta(days=days)).sign(key, hashes.SHA256())
    )
