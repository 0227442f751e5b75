"""Cloud and API credentials with known shapes: AWS, Azure, GCP, GitHub, npm, GitLab, Slack, Stripe, and
passwords written into URLs.

Nothing is ever checked over the network: the evidence, and the secrets in it, stay on the examiner's
machine. What can be checked offline is: the exact shape, the boundaries (a token glued to more token
characters is a fragment of something else), the checksum where the format has one (GitHub and npm
tokens end in a base62 CRC32 of their random part), the structure (a GCP service-account JSON whose
embedded private key loads), the pairing (an AWS key id with a 40-character secret next to it), and
placeholders ("xxxx", "password", "${PASSWORD}") which are skipped.

Confidence, deliberately:

* ``high``: the token carries proof of its own form: a valid GitHub/npm checksum (a random string of
  that shape passes with probability 2^-32), or a GCP service-account key whose PEM loads and has a key.
* ``medium``: a distinctive, documented shape with the right boundaries and enough randomness:
  AWS key id + secret pair, Azure storage account key (``AccountKey=`` + 64 bytes of base64), Azure SAS
  token (signed version + 32-byte signature), GitHub fine-grained PAT, GitLab PAT, Slack, Stripe live
  keys, a GCP service-account JSON whose key does not load, a non-placeholder password in a URL whose
  scheme is a service that takes one (databases, queues, mail, FTP, LDAP).
* ``low``: an AWS access key id on its own (``secret=False``: AWS documents the key id as an identifier,
  like a user name; it tells the examiner whose key to look for, but it opens nothing), a GitHub/npm
  token whose checksum fails (an example, a placeholder or a damaged copy), Stripe test-mode keys,
  a password in an ``http(s)``/other URL.

Secrets are radioactive. Findings carry the provider, the token type, at most a short non-secret
prefix ("ghp_…", "AKIA…"), public context (Azure account name, GCP project and client e-mail, a SAS
token's permissions and expiry) and a ``key_id``: ``keys.symmetric_key_id`` of the token so that one
token found in ASCII and UTF-16 is one secret. URL passwords get no key_id: an unsalted hash of a
low-entropy password could be brute-forced by whoever holds the report.

UTF-16LE variants (Windows process memory) exist for the most important shapes: AWS key ids and
GitHub tokens. Offsets and lengths are always in bytes of the file.
"""

from __future__ import annotations

from viewer.scan.detectors.credentials.aws import AwsDetector
from viewer.scan.detectors.credentials.azure import AzureDetector
from viewer.scan.detectors.credentials.gcp import GcpDetector
from viewer.scan.detectors.credentials.github import GitHubDetector
from viewer.scan.detectors.credentials.text import base62_crc32
from viewer.scan.detectors.credentials.tokens import TokenDetector
from viewer.scan.detectors.credentials.urls import UrlPasswordDetector

__all__ = ["DETECTORS", "ORDER", "base62_crc32"]

ORDER = 60  # where these run among the detectors (see viewer.scan.detectors)
DETECTORS = [
    AwsDetector(),
    GitHubDetector(),
    TokenDetector(),
    AzureDetector(),
    GcpDetector(),
    UrlPasswordDetector(),
]
