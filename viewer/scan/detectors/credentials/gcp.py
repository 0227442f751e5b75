"""GCP service-account key files: JSON with "type": "service_account" and a PEM private_key.

Part of :mod:`viewer.scan.detectors.credentials` (its docstring says what is checked and why).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from viewer.scan import kinds
from viewer.scan.detector import Hit, Pattern, View
from viewer.scan.detectors.credentials.text import ASCII, read_text
from viewer.scan.finding import Confidence, Finding
from viewer.scan.keys import describe_public, key_id

# -- GCP service account ------------------------------------------------------------------------------
GCP_WINDOW = 16 * 1024
GCP_KEY_RE = re.compile(r'"private_key"\s*:\s*"((?:[^"\\]|\\.){100,8000})"')


class GcpDetector:
    """GCP service-account key files (JSON with "type": "service_account" and a PEM private_key)."""

    name = "gcp"
    patterns = (Pattern("gcp-service-account", rb'"type"[ \t\r\n]{0,8}:[ \t\r\n]{0,8}"service_account"', 40),)

    def validate(self, view: View, hit: Hit) -> Iterable[Finding]:
        head = read_text(view, max(0, hit.start - 256), min(256, hit.start), ASCII)
        brace = head.rfind("{")
        if brace < 0:
            return
        start = hit.start - (len(head) - brace)
        text = read_text(view, start, GCP_WINDOW, ASCII)
        doc: dict[str, Any] | None = None
        end = None
        try:
            obj, end = json.JSONDecoder().raw_decode(text)
            if isinstance(obj, dict):
                doc = obj
        except (ValueError, RecursionError):
            doc = None
        reasons = ['JSON with "type": "service_account"']
        if doc is None:  # truncated or damaged in memory: find the key field by hand
            km = GCP_KEY_RE.search(text)
            if km is None:
                return
            try:
                pem = json.loads('"' + km.group(1) + '"')
            except ValueError:
                return
            end = km.end()
            doc = {}
            reasons.append("JSON incomplete: private_key field read on its own")
        else:
            pem = doc.get("private_key")
        if not isinstance(pem, str) or "-----BEGIN" not in pem:
            return
        details: dict[str, Any] = {"provider": "gcp", "token_type": "service account key"}
        for key in ("project_id", "client_email", "private_key_id", "client_id"):
            value = doc.get(key)
            if isinstance(value, str) and len(value) <= 200:
                details[key] = value  # public identifiers: the key's id is published with its certificate
        assert end is not None
        kind, confidence, kid = kinds.GCP_SERVICE_ACCOUNT, Confidence.MEDIUM, None
        try:
            from cryptography.hazmat.primitives.serialization import load_pem_private_key

            private = load_pem_private_key(pem.encode("ascii"), password=None)
            public = private.public_key()
            kid = key_id(public)
            details.update(describe_public(public))
            kind, confidence = kinds.GCP_SERVICE_ACCOUNT_KEY, Confidence.HIGH
            reasons.append("embedded PEM private key loads (OpenSSL)")
        except Exception:  # noqa: BLE001 - any failure to load is "not loadable": never echo the data
            reasons.append("embedded private key does not load: damaged or truncated")
        yield Finding(
            kind=kind,
            encoding="json",
            offset=start,
            length=end,
            confidence=confidence,
            reasons=reasons,
            details=details,
            key_id=kid,
        )
