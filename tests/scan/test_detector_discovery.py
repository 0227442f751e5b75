"""Detectors are discovered from viewer.scan.detectors (adding one = adding a module): every module of
the package is found, in its declared order, and the default set is the one the scan always ran."""

from __future__ import annotations

import pkgutil

import pytest

import viewer.scan.detectors as package
from viewer.scan.detectors import (
    UnknownDetector,
    all_detectors,
    default_detectors,
    detector_modules,
    select_detectors,
)

# What viewer/scan/detectors/__init__.py listed by hand before discovery, and the detectors it gave; since
# then the modules added (each slotted in by its ORDER): ed25519, hmacpads and hprof (issue 14).
MODULES_BEFORE = ("pem", "der", "winblobs", "openssh", "jwk_jwt", "credentials", "dpapi", "sshagent", "bignum",
                  "ecbignum", "hmac", "aes", "ed25519", "hmacpads", "winecng", "hprof", "islands")
NAMES_BEFORE = ["pem", "der", "winblobs", "openssh", "jwk", "jwt", "aws", "github", "tokens", "azure", "gcp",
                "url-password", "dpapi", "pkcs12", "sshagent", "bignum", "ecbignum", "hmac", "aes", "ed25519",
                "hmacpads", "wine-cng", "hprof", "islands"]


def test_every_module_of_the_package_is_discovered():
    present = {info.name for info in pkgutil.iter_modules(package.__path__)}
    assert {m.__name__.rsplit(".", 1)[1] for m in detector_modules()} == present


def test_discovery_gives_the_same_modules_detectors_and_order_as_before():
    assert tuple(m.__name__.rsplit(".", 1)[1] for m in detector_modules()) == MODULES_BEFORE
    assert [d.name for d in default_detectors()] == NAMES_BEFORE
    assert [d.name for d in all_detectors()] == NAMES_BEFORE  # no module opts out of the default set


def test_each_module_declares_its_place():
    orders = [m.ORDER for m in detector_modules()]
    assert all(isinstance(o, int) for o in orders) and len(set(orders)) == len(orders)


def test_selection_by_name():
    assert select_detectors(None) == default_detectors()
    picked = select_detectors(["hmac", "jwt", "hmac"])
    assert [d.name for d in picked] == ["hmac", "jwt"]  # in the order given, once each
    with pytest.raises(UnknownDetector, match="unknown detector nope; available: aes, aws"):
        select_detectors(["nope"])
