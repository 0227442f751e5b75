"""AWS access key ids (AKIA long-term, ASIA temporary) and the secret access key beside them.

Part of :mod:`viewer.scan.detectors.credentials` (its docstring says what is checked and why).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from viewer.scan import kinds
from viewer.scan.detector import Hit, Pattern, View
from viewer.scan.detectors.credentials.text import (
    ALNUM,
    ASCII,
    UTF16,
    char_width,
    extent,
    looks_random,
    read_text,
    text_finding,
    u16,
)
from viewer.scan.finding import Confidence, Finding
from viewer.scan.keys import symmetric_key_id

# -- AWS ----------------------------------------------------------------------------------------------
AWS_ID_RE = re.compile(r"(AKIA|ASIA)[A-Z2-7]{16}")
AWS_SECRET_RE = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
AWS_LABEL_RE = re.compile(r"(?i)secret.?access.?key|aws.?secret")
AWS_WINDOW = 1024  # characters each side of the key id searched for its secret


def _aws_secret_ok(s: str) -> bool:
    has_upper = any(c.isupper() for c in s)
    has_lower = any(c.islower() for c in s)
    has_other = any(c.isdigit() or c in "+/" for c in s)
    return has_upper and has_lower and has_other and "EXAMPLE" not in s and looks_random(s, 16, 4.0)


class AwsDetector:
    """AWS access key id (AKIA long-term, ASIA temporary), paired with a secret access key nearby."""

    name = "aws"
    patterns = (
        Pattern("aws-key-id", rb"(?:AKIA|ASIA)[A-Z2-7]{16}", 20),
        Pattern(
            "aws-key-id-utf16",
            u16(b"A") + rb"(?:" + u16(b"KIA") + rb"|" + u16(b"SIA") + rb")(?:[A-Z2-7]\x00){16}",
            40,
        ),
    )

    def validate(self, view: View, hit: Hit) -> Iterable[Finding]:
        enc = UTF16 if hit.pattern.endswith("utf16") else ASCII
        m = extent(view, hit, AWS_ID_RE, enc, 20, ALNUM)
        if m is None or "EXAMPLE" in m.text or not looks_random(m.text[4:], 6, 2.5):
            return  # AKIAIOSFODNN7EXAMPLE and friends: AWS's documented examples, shipped in every SDK
        w = char_width(enc)
        temporary = m.text.startswith("ASIA")
        details: dict[str, Any] = {
            "provider": "aws",
            "token_type": "temporary (STS) access key" if temporary else "long-term access key",
            "prefix": m.text[:4] + "…",
        }
        win_start = max(0, m.start - AWS_WINDOW * w)
        window = read_text(view, win_start, (m.end - win_start) // w + AWS_WINDOW, enc)
        id_lo, id_hi = (m.start - win_start) // w, (m.end - win_start) // w
        best: tuple[int, re.Match[str]] | None = None
        for cand in AWS_SECRET_RE.finditer(window):
            if (cand.start() < id_hi and cand.end() > id_lo) or not _aws_secret_ok(cand.group(0)):
                continue
            dist = cand.start() - id_hi if cand.start() >= id_hi else id_lo - cand.end()
            if best is None or dist < best[0]:
                best = (dist, cand)
        if best is None:
            yield text_finding(
                kinds.AWS_ACCESS_KEY_ID,
                m,
                Confidence.LOW,
                [
                    "AWS access key id shape (AKIA/ASIA + 16 base32)",
                    "no secret access key within 1 KiB",
                    "an identifier, not a secret: reported as context",
                ],
                details,
                secret=False,
            )
            return
        cand = best[1]
        s_off = win_start + cand.start() * w
        s_end = win_start + cand.end() * w
        reasons = [
            "AWS access key id shape (AKIA/ASIA + 16 base32)",
            f"40-character secret access key {best[0]} characters away",
        ]
        before = window[max(0, cand.start() - 64) : cand.start()]
        if AWS_LABEL_RE.search(before):
            reasons.append("secret labelled as a secret access key")
        details.update({"secret_offset": s_off, "secret_length": s_end - s_off})
        start, end = min(m.start, s_off), max(m.end, s_end)
        yield Finding(
            kind=kinds.AWS_CREDENTIALS,
            encoding=enc,
            offset=start,
            length=end - start,
            confidence=Confidence.MEDIUM,
            reasons=reasons,
            details=details,
            key_id=symmetric_key_id(cand.group(0).encode("ascii")),
        )
