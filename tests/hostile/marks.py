"""Marking a hostile input that still breaks its entry point: ``xfail(strict=True)`` with the reason.

Why strict: the day the owner's fix lands, the test passes, the xfail turns into a failure, and the mark
is removed — a known defect never stays hidden behind a mark after it was fixed.
"""

from __future__ import annotations

import pytest


def known(request: pytest.FixtureRequest, reason: str | None) -> None:
    """Mark the running test ``xfail(strict=True, reason=...)`` when ``reason`` is given."""
    if reason:
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))
