"""The detector plug-ins. Each module exposes ``DETECTORS``: a list of detector instances.

Adding a detector means adding a module and its name here; the engine never changes.
"""

from __future__ import annotations

import importlib

from viewer.scan.detector import Detector

MODULES = ("pem", "der", "winblobs", "openssh", "jwk_jwt", "credentials", "dpapi", "sshagent", "bignum", "ecbignum", "hmac", "aes", "winecng", "islands")


def default_detectors() -> list[Detector]:
    found: list[Detector] = []
    for name in MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        found.extend(module.DETECTORS)
    return found
