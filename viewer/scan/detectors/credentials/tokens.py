"""GitLab personal access tokens, Slack tokens, Stripe secret and restricted keys.

Part of :mod:`viewer.scan.detectors.credentials` (its docstring says what is checked and why).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from viewer.scan import kinds
from viewer.scan.detector import Hit, Pattern, View
from viewer.scan.detectors.credentials.text import ALNUM, ASCII, extent, looks_random, text_finding
from viewer.scan.finding import Confidence, Finding
from viewer.scan.keys import symmetric_key_id

# -- GitLab, Slack, Stripe ------------------------------------------------------------------------------
GITLAB_RE = re.compile(r"glpat-[A-Za-z0-9_\-]{20,64}")
SLACK_RE = re.compile(r"xox([baprs])-((?:[0-9A-Za-z]{1,20}-){1,4})([0-9A-Za-z]{16,200})")
STRIPE_RE = re.compile(r"([rs])k_(live|test)_[0-9A-Za-z]{24,247}")
SLACK_TYPES = {
    "b": "bot token",
    "p": "user token",
    "a": "workspace app token",
    "r": "refresh token",
    "s": "session token",
}


class TokenDetector:
    """GitLab personal access tokens, Slack tokens, Stripe secret and restricted keys."""

    name = "tokens"
    patterns = (
        Pattern("gitlab-pat", rb"glpat-[A-Za-z0-9_\-]{20}", 70),
        # Minimal shapes for the prefilter (hyperscan rejects long bounded repeats with SOM); the
        # validator re-matches greedily from the hit's start and reads what it needs through the view.
        Pattern("slack-token", rb"xox[baprs]-[0-9A-Za-z]{1,20}-[0-9A-Za-z\-]{16}", 270),
        Pattern("stripe-key", rb"[rs]k_(?:live|test)_[0-9A-Za-z]{24}", 260),
    )

    def validate(self, view: View, hit: Hit) -> Iterable[Finding]:
        if hit.pattern == "gitlab-pat":
            m = extent(view, hit, GITLAB_RE, ASCII, 70, ALNUM + "_-")
            if m is None or not looks_random(m.text[6:], 12, 3.5):
                return
            yield text_finding(
                kinds.API_TOKEN,
                m,
                Confidence.MEDIUM,
                [
                    "GitLab personal access token shape (glpat- + 20+ characters)",
                    "random part has the variety of a generated token",
                ],
                {"provider": "gitlab", "token_type": "personal access token", "prefix": "glpat-…"},
                key_id=symmetric_key_id(m.text.encode("ascii")),
            )
        elif hit.pattern == "slack-token":
            m = extent(view, hit, SLACK_RE, ASCII, 270, ALNUM + "-")
            if m is None:
                return
            mm = SLACK_RE.match(m.text)
            assert mm is not None
            if not looks_random(mm.group(3), 10, 3.3):
                return
            yield text_finding(
                kinds.API_TOKEN,
                m,
                Confidence.MEDIUM,
                [
                    f"Slack token shape (xox{mm.group(1)}- + numeric ids + random part)",
                    "random part has the variety of a generated token",
                ],
                {"provider": "slack", "token_type": SLACK_TYPES[mm.group(1)], "prefix": m.text[:5] + "…"},
                key_id=symmetric_key_id(m.text.encode("ascii")),
            )
        else:
            m = extent(view, hit, STRIPE_RE, ASCII, 260, ALNUM + "_")
            if m is None:
                return
            mm = STRIPE_RE.match(m.text)
            assert mm is not None
            live = mm.group(2) == "live"
            if not looks_random(m.text[8:], 12, 3.5):
                return
            kind = "secret key" if mm.group(1) == "s" else "restricted key"
            yield text_finding(
                kinds.API_TOKEN,
                m,
                Confidence.MEDIUM if live else Confidence.LOW,
                [
                    f"Stripe {kind} shape ({m.text[:8]} + 24+ base62)",
                    "live mode" if live else "test mode: no access to real money",
                ],
                {
                    "provider": "stripe",
                    "token_type": f"{kind} ({'live' if live else 'test'})",
                    "prefix": m.text[:8] + "…",
                },
                key_id=symmetric_key_id(m.text.encode("ascii")),
            )
