"""GitHub tokens (classic with their CRC32 checksum, fine-grained PATs) and npm tokens.

Part of :mod:`viewer.scan.detectors.credentials` (its docstring says what is checked and why).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from viewer.scan import kinds
from viewer.scan.detector import Hit, Pattern, View
from viewer.scan.detectors.credentials.text import (
    ALNUM,
    ASCII,
    UTF16,
    TextMatch,
    base62_crc32,
    extent,
    looks_random,
    text_finding,
    u16,
)
from viewer.scan.finding import Confidence, Finding
from viewer.scan.keys import symmetric_key_id

# -- GitHub and npm -----------------------------------------------------------------------------------
GH_TYPES = {
    "p": "personal access token (classic)",
    "o": "OAuth access token",
    "u": "user-to-server token",
    "s": "server-to-server token",
    "r": "refresh token",
}
GH_RE = re.compile(r"gh([pousr])_([A-Za-z0-9]{36})")
GH_PAT_RE = re.compile(r"github_pat_([A-Za-z0-9]{22})_([A-Za-z0-9]{59})")
NPM_RE = re.compile(r"npm_([A-Za-z0-9]{36})")
TOKEN_WORD = ALNUM + "_"


def _checksum_token(m: TextMatch, body: str, provider: str, token_type: str, prefix: str) -> Finding | None:
    random_part, checksum = body[:30], body[30:]
    if not looks_random(random_part, 10, 3.0):
        return None  # ghp_xxxxxxxx...: a placeholder, not a token
    details = {"provider": provider, "token_type": token_type, "prefix": prefix + "…"}
    kid = symmetric_key_id(m.text.encode("ascii"))
    if base62_crc32(random_part) == checksum:
        return text_finding(
            kinds.API_TOKEN,
            m,
            Confidence.HIGH,
            [f"{provider} token shape ({prefix} + 36 base62)", "checksum valid (CRC32, base62)"],
            details,
            key_id=kid,
        )
    return text_finding(
        kinds.API_TOKEN,
        m,
        Confidence.LOW,
        [
            f"{provider} token shape ({prefix} + 36 base62)",
            "checksum does not match: an example, a placeholder or a damaged copy",
        ],
        details,
        key_id=kid,
    )


class GitHubDetector:
    """GitHub tokens (ghp_/gho_/ghu_/ghs_/ghr_ with checksum, github_pat_ fine-grained) and npm tokens."""

    name = "github"
    patterns = (
        Pattern("github-token", rb"gh[pousr]_[A-Za-z0-9]{36}", 40),
        Pattern("github-pat", rb"github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}", 93),
        Pattern("npm-token", rb"npm_[A-Za-z0-9]{36}", 40),
        Pattern("github-token-utf16", u16(b"gh") + rb"[pousr]\x00_\x00(?:[A-Za-z0-9]\x00){36}", 80),
        Pattern(
            "github-pat-utf16",
            u16(b"github_pat_") + rb"(?:[A-Za-z0-9]\x00){22}_\x00(?:[A-Za-z0-9]\x00){59}",
            186,
        ),
    )

    def validate(self, view: View, hit: Hit) -> Iterable[Finding]:
        enc = UTF16 if hit.pattern.endswith("utf16") else ASCII
        if hit.pattern.startswith("github-token"):
            m = extent(view, hit, GH_RE, enc, 40, TOKEN_WORD)
            if m is not None:
                kind = m.text[2]
                f = _checksum_token(m, m.text[4:], "github", GH_TYPES[kind], m.text[:4])
                if f is not None:
                    yield f
        elif hit.pattern == "npm-token":
            m = extent(view, hit, NPM_RE, enc, 40, TOKEN_WORD)
            if m is not None:
                f = _checksum_token(m, m.text[4:], "npm", "access token", "npm_")
                if f is not None:
                    yield f
        else:
            m = extent(view, hit, GH_PAT_RE, enc, 93, TOKEN_WORD)
            if m is None:
                return
            mm = GH_PAT_RE.match(m.text)
            assert mm is not None
            if not looks_random(mm.group(2), 16, 4.0):
                return
            yield text_finding(
                kinds.API_TOKEN,
                m,
                Confidence.MEDIUM,
                [
                    "GitHub fine-grained PAT shape (github_pat_ + 22 + _ + 59 base62)",
                    "random part has the variety of a generated token",
                ],
                {
                    "provider": "github",
                    "token_type": "fine-grained personal access token",
                    "prefix": "github_pat_…",
                },
                key_id=symmetric_key_id(m.text.encode("ascii")),
            )
