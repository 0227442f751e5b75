"""Azure storage account keys (in connection strings) and shared access signatures (SAS).

Part of :mod:`viewer.scan.detectors.credentials` (its docstring says what is checked and why).
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import unquote

from viewer.scan import kinds
from viewer.scan.detector import Hit, Pattern, View
from viewer.scan.detectors.credentials.text import ALNUM, ASCII, B64, extent, looks_random, read_text
from viewer.scan.finding import Confidence, Finding
from viewer.scan.keys import symmetric_key_id

# -- Azure -------------------------------------------------------------------------------------------
AZ_KEY_RE = re.compile(r"AccountKey=([A-Za-z0-9+/]{86}==)")
AZ_NAME_RE = re.compile(r"AccountName=([a-z0-9]{3,24})(?:;|$)")
SAS_CHARS = ALNUM + "%&=-_.:+/"
SAS_PARAM_RE = re.compile(r"^[a-z]{2,5}$")


class AzureDetector:
    """Azure storage account keys (in connection strings) and shared access signature (SAS) tokens."""

    name = "azure"
    patterns = (
        Pattern("azure-account-key", rb"AccountKey=[A-Za-z0-9+/]{86}==", 99),
        Pattern("azure-sas", rb"sv=20[0-9]{2}-[0-9]{2}-[0-9]{2}", 13),
    )

    def validate(self, view: View, hit: Hit) -> Iterable[Finding]:
        if hit.pattern == "azure-account-key":
            yield from self._account_key(view, hit)
        else:
            yield from self._sas(view, hit)

    def _account_key(self, view: View, hit: Hit) -> Iterator[Finding]:
        m = extent(view, hit, AZ_KEY_RE, ASCII, 99, B64 + "=")
        if m is None:
            return
        b64 = m.text[len("AccountKey=") :]
        try:
            raw = binascii.a2b_base64(b64)
        except binascii.Error:
            return
        if len(raw) != 64 or not looks_random(b64, 30, 5.0):
            return
        details: dict[str, Any] = {"provider": "azure", "token_type": "storage account key"}
        context = read_text(view, max(0, m.start - 512), min(512, m.start), ASCII)
        names = AZ_NAME_RE.findall(context.split("\n")[-1].split("\0")[-1])
        if names:
            details["account_name"] = names[-1]  # public: it is the storage account's host name
        key_off = m.start + len("AccountKey=")
        yield Finding(
            kind=kinds.API_TOKEN,
            encoding=ASCII,
            offset=key_off,
            length=m.end - key_off,
            confidence=Confidence.MEDIUM,
            reasons=["labelled AccountKey=", "88 base64 characters decoding to a 64-byte key"],
            details=details,
            key_id=symmetric_key_id(raw),
        )

    def _sas(self, view: View, hit: Hit) -> Iterator[Finding]:
        # The query string around "sv=": back to '?' or a non-URL character, forward likewise.
        before = read_text(view, max(0, hit.start - 1024), min(1024, hit.start), ASCII)
        i = len(before)
        while i > 0 and before[i - 1] in SAS_CHARS and before[i - 1] != "?":
            i -= 1
        start = hit.start - (len(before) - i)
        after = read_text(view, hit.start, 2048, ASCII)
        j = 0
        while j < len(after) and after[j] in SAS_CHARS:
            j += 1
        query = before[i:] + after[:j]
        params: dict[str, str] = {}
        first = len(query)
        pos = 0
        for part in query.split("&"):
            key, eq, value = part.partition("=")
            if eq and SAS_PARAM_RE.match(key):
                params.setdefault(key, value)
                first = min(first, pos)
            pos += len(part) + 1
        sig = params.get("sig")
        if sig is None or "sv" not in params:
            return
        try:
            raw = binascii.a2b_base64(unquote(sig))
        except binascii.Error:
            return
        if len(raw) != 32:
            return
        # The SAS ends after its last parameter; drop trailing separators.
        body = query[first:].rstrip("&")
        offset = start + first
        details = {
            "provider": "azure",
            "token_type": "shared access signature",
            "signed_version": params["sv"][:10],
        }
        for key, name in (
            ("sp", "permissions"),
            ("se", "expiry"),
            ("st", "start"),
            ("sr", "resource"),
            ("ss", "services"),
            ("srt", "resource_types"),
        ):
            if key in params and len(params[key]) <= 40:
                details[name] = unquote(params[key])
        yield Finding(
            kind=kinds.API_TOKEN,
            encoding=ASCII,
            offset=offset,
            length=len(body),
            confidence=Confidence.MEDIUM,
            reasons=[
                "SAS query string: signed version sv=YYYY-MM-DD",
                "sig= decodes to a 32-byte HMAC-SHA256",
            ],
            details=details,
            key_id=symmetric_key_id(raw),
        )
