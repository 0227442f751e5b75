"""The detector plug-ins, discovered from this package (Volatility 3's way): adding a detector means adding
one module (or sub-package) here; neither this file nor the engine changes.

A detector module declares:

* ``DETECTORS``: its detector instances (the contract is :mod:`viewer.scan.detector`), in their order;
* ``ORDER``: where its detectors run among the others (lower first; ties by module name). The order is
  the order post-scan detectors run and announce their steps in, and the order of the prefilter's
  owners; the values are spaced so that a new module slots in between without renumbering;
* optionally ``DEFAULT = False``: discovered and selectable by name, but not in :func:`default_detectors`.

A module without ``DETECTORS`` (a helper shared inside a sub-package) is not a detector module. Shared
formats and key material live outside this package (:mod:`viewer.scan.keymaterial`,
:mod:`viewer.scan.openssh_key`), so a detector never reaches into another detector's private names.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence
from types import ModuleType

from viewer.scan.detector import Detector


class UnknownDetector(ValueError):
    """A detector name that no discovered module declares; the message lists the known ones."""


def detector_modules() -> list[ModuleType]:
    """Every detector module of this package, in running order (``ORDER``, then name)."""
    found = []
    for info in pkgutil.iter_modules(__path__, prefix=f"{__name__}."):
        module = importlib.import_module(info.name)
        if hasattr(module, "DETECTORS"):
            found.append(module)
    return sorted(found, key=lambda m: (int(getattr(m, "ORDER", 1000)), m.__name__))


def all_detectors() -> list[Detector]:
    """Every discovered detector (fresh instances are not made: each module's ``DETECTORS``)."""
    return [d for m in detector_modules() for d in m.DETECTORS]


def default_detectors() -> list[Detector]:
    """The detectors a scan runs when none are named: every module's but those with ``DEFAULT = False``."""
    return [d for m in detector_modules() if getattr(m, "DEFAULT", True) for d in m.DETECTORS]


def select_detectors(names: Sequence[str] | None) -> list[Detector]:
    """The default detectors, or only those named (in the order given, once each); an unknown name
    raises :class:`UnknownDetector`."""
    if not names:
        return default_detectors()
    known = {d.name: d for d in all_detectors()}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UnknownDetector(f"unknown detector {', '.join(unknown)}; available: {', '.join(sorted(known))}")
    return [known[n] for n in dict.fromkeys(names)]
