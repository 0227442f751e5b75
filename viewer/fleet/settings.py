"""What a fleet scan is keyed by: the scanner's version and its settings, and how they travel to workers.

A result in the database is keyed by the dump's SHA-256, :data:`SCANNER_VERSION` and the
:attr:`FleetSettings.settings_id` of the settings that change what a scan finds (detectors, ``deep``,
the supplied public keys). What does not change the findings is not in the key: the threshold of the
verdict (``--min-confidence``: a new threshold gives a new verdict of the stored findings, no rescan), the
prefilter engine, whether a dump was split into byte ranges, where the work ran.

Supplied public keys travel to workers as their SubjectPublicKeyInfo DER (public data; the
``cryptography`` key objects do not pickle) and are rebuilt there once per process.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import serialization

from viewer import __version__

SCANNER_VERSION = __version__


@dataclass(frozen=True)
class PortableKey:
    """A supplied public key (:class:`viewer.scan.publickeys.SuppliedKey`) in a form that pickles."""

    label: str
    key_id: str
    kind: str
    source: str
    spki_der: bytes

    @classmethod
    def of(cls, key: Any) -> PortableKey:
        der = key.public_key.public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
        return cls(key.label, key.key_id, key.kind, key.source, der)

    def supplied(self) -> Any:
        from viewer.scan.publickeys import SuppliedKey

        return SuppliedKey(self.label, self.key_id, self.kind, self.source,
                           serialization.load_der_public_key(self.spki_der))


@dataclass(frozen=True)
class FleetSettings:
    """The settings of one fleet run that workers need. ``detectors``: names, in order (resolved by the
    coordinator, so that the key names them even when the defaults were used)."""

    detectors: tuple[str, ...]
    deep: bool = False
    public_keys: tuple[PortableKey, ...] = ()
    engine: str = "auto"

    def to_json(self) -> dict[str, Any]:
        """The settings as stored with each run and scan (and hashed into :attr:`settings_id`)."""
        return {
            "detectors": list(self.detectors),
            "deep": self.deep,
            "public_keys": sorted(({"label": k.label, "key_id": k.key_id} for k in self.public_keys),
                                  key=lambda k: (k["key_id"], k["label"])),
            }

    @property
    def settings_id(self) -> str:
        """16 hex digits of the SHA-256 of the canonical JSON of :meth:`to_json`."""
        text = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def make_settings(detectors: list[Any] | None = None, public_keys: list[Any] | None = None, *,
                  deep: bool = False, engine: str = "auto") -> FleetSettings:
    """Settings from detector objects (default: the default detectors) and loaded supplied keys."""
    if detectors is None:
        from viewer.scan.detectors import default_detectors

        detectors = default_detectors()
    return FleetSettings(tuple(d.name for d in detectors), bool(deep),
                         tuple(PortableKey.of(k) for k in public_keys or ()), engine)


@lru_cache(maxsize=4)
def resolved(settings: FleetSettings) -> tuple[list[Any], list[Any]]:
    """The detector objects and supplied keys of ``settings``, built once per worker process."""
    from viewer.scan.detectors import select_detectors

    return select_detectors(list(settings.detectors)), [k.supplied() for k in settings.public_keys]


__all__ = ["SCANNER_VERSION", "PortableKey", "FleetSettings", "make_settings", "resolved"]
