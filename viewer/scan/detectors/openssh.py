"""OpenSSH private keys in the ``openssh-key-v1`` format, found in binary form in memory (ssh-agent, ssh, a
program that base64-decoded the file) on the format's magic.

The format and the check of its key are :mod:`viewer.scan.openssh_key`, shared with the PEM detector
(which meets the same container armoured as "-----BEGIN OPENSSH PRIVATE KEY-----") and sshagent.
"""

from __future__ import annotations

from collections.abc import Iterable

from viewer.scan.detector import Hit, Pattern, View
from viewer.scan.finding import Finding
from viewer.scan.openssh_key import MAX_BLOB, parse_openssh_key

# --- the detector -----------------------------------------------------------------------------------


class OpenSSHDetector:
    name = "openssh"
    # magic, then the cipher name's length (4 for "none", at most a few dozen)
    patterns = (Pattern("openssh-key-v1", rb"openssh-key-v1\x00\x00\x00\x00[\x01-\x40]", 20),)

    def validate(self, view: View, hit: Hit) -> Iterable[Finding]:
        blob = view.read(hit.start, min(MAX_BLOB, max(0, view.size - hit.start)))
        found = parse_openssh_key(blob)
        if found is None:
            return
        yield Finding(
            kind=found.kind,
            encoding="openssh",
            offset=hit.start,
            length=found.length,
            confidence=found.confidence,
            reasons=list(found.reasons),
            key_id=found.key_id,
            details=dict(found.details),
        )


ORDER = 40  # where these run among the detectors (see viewer.scan.detectors)
DETECTORS = [OpenSSHDetector()]
