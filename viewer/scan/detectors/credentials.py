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

import binascii
import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from viewer.scan.detector import Hit, Pattern, View
from viewer.scan.finding import Confidence, Finding
from viewer.scan.keys import describe_public, key_id, symmetric_key_id

ASCII, UTF16 = "ascii", "utf16le"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _u16(ascii_regex: bytes) -> bytes:
    """The UTF-16LE form of a literal (each byte followed by an escaped NUL); classes are written by hand."""
    return b"".join(re.escape(bytes([c])) + rb"\x00" for c in ascii_regex)


# -- reading text around a hit -----------------------------------------------------------------------
def _read_text(view: View, start: int, chars: int, encoding: str) -> str:
    """``chars`` characters from file offset ``start`` as a str whose index i is the character at
    ``start + i * width``. UTF-16 code units with a non-zero high byte become U+0001 (never a token
    character), so character indices map to byte offsets one-to-one."""
    if start < 0:
        chars += start // (2 if encoding == UTF16 else 1)
        start = 0
    if chars <= 0:
        return ""
    if encoding == ASCII:
        return view.read(start, chars).decode("latin-1")
    raw = view.read(start, chars * 2)
    lo, hi = raw[0::2], raw[1::2]
    if len(lo) > len(hi):
        lo = lo[: len(hi)]
    if hi.count(0) == len(hi):
        return lo.decode("latin-1")
    return bytes(a if b == 0 else 1 for a, b in zip(lo, hi, strict=True)).decode("latin-1")


def _width(encoding: str) -> int:
    return 2 if encoding == UTF16 else 1


def _char_before(view: View, start: int, encoding: str) -> str:
    w = _width(encoding)
    return _read_text(view, start - w, 1, encoding) if start >= w else ""


def _shannon(text: str) -> float:
    if not text:
        return 0.0
    counts: dict[str, int] = {}
    for ch in text:
        counts[ch] = counts.get(ch, 0) + 1
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _looks_random(body: str, min_distinct: int = 10, min_bits: float = 3.5) -> bool:
    """False for placeholders: "xxxxxxxx", "0000...", "abcabcabc", "EXAMPLEKEY"-like low variety."""
    return len(set(body)) >= min_distinct and _shannon(body) >= min_bits


def _base62_decode(text: str) -> int:
    n = 0
    for ch in text:
        n = n * 62 + BASE62.index(ch)
    return n


def base62_crc32(body: str) -> str:
    """GitHub's (and npm's) checksum: CRC32 of the random part, base62 (0-9A-Za-z), 6 characters."""
    crc = binascii.crc32(body.encode("ascii"))
    out = ""
    while crc:
        crc, r = divmod(crc, 62)
        out = BASE62[r] + out
    return out.rjust(6, "0")


@dataclass
class _Match:
    start: int  # file offset
    end: int
    text: str
    encoding: str


def _extent(
    view: View, hit: Hit, regex: re.Pattern[str], encoding: str, chars: int, word: str
) -> _Match | None:
    """Re-match ``regex`` greedily at the hit's start (hyperscan reports every end of a bounded
    repetition; only the start is trusted) and check that no ``word`` character touches either side."""
    text = _read_text(view, hit.start, chars + 1, encoding)
    m = regex.match(text)
    if m is None:
        return None
    before = _char_before(view, hit.start, encoding)
    after = text[m.end() : m.end() + 1]
    if (before and before in word) or (after and after in word):
        return None
    w = _width(encoding)
    return _Match(hit.start, hit.start + m.end() * w, m.group(0), encoding)


ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
B64 = ALNUM + "+/"


def _finding(
    kind: str, m: _Match, confidence: Confidence, reasons: list[str], details: dict[str, Any], **kw: Any
) -> Finding:
    return Finding(
        kind=kind,
        encoding=m.encoding,
        offset=m.start,
        length=m.end - m.start,
        confidence=confidence,
        reasons=reasons,
        details=details,
        **kw,
    )


# -- AWS ----------------------------------------------------------------------------------------------
AWS_ID_RE = re.compile(r"(AKIA|ASIA)[A-Z2-7]{16}")
AWS_SECRET_RE = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
AWS_LABEL_RE = re.compile(r"(?i)secret.?access.?key|aws.?secret")
AWS_WINDOW = 1024  # characters each side of the key id searched for its secret


def _aws_secret_ok(s: str) -> bool:
    has_upper = any(c.isupper() for c in s)
    has_lower = any(c.islower() for c in s)
    has_other = any(c.isdigit() or c in "+/" for c in s)
    return has_upper and has_lower and has_other and "EXAMPLE" not in s and _looks_random(s, 16, 4.0)


class AwsDetector:
    """AWS access key id (AKIA long-term, ASIA temporary), paired with a secret access key nearby."""

    name = "aws"
    patterns = (
        Pattern("aws-key-id", rb"(?:AKIA|ASIA)[A-Z2-7]{16}", 20),
        Pattern(
            "aws-key-id-utf16",
            _u16(b"A") + rb"(?:" + _u16(b"KIA") + rb"|" + _u16(b"SIA") + rb")(?:[A-Z2-7]\x00){16}",
            40,
        ),
    )

    def validate(self, view: View, hit: Hit) -> Iterable[Finding]:
        enc = UTF16 if hit.pattern.endswith("utf16") else ASCII
        m = _extent(view, hit, AWS_ID_RE, enc, 20, ALNUM)
        if m is None or "EXAMPLE" in m.text or not _looks_random(m.text[4:], 6, 2.5):
            return  # AKIAIOSFODNN7EXAMPLE and friends: AWS's documented examples, shipped in every SDK
        w = _width(enc)
        temporary = m.text.startswith("ASIA")
        details: dict[str, Any] = {
            "provider": "aws",
            "token_type": "temporary (STS) access key" if temporary else "long-term access key",
            "prefix": m.text[:4] + "…",
        }
        win_start = max(0, m.start - AWS_WINDOW * w)
        window = _read_text(view, win_start, (m.end - win_start) // w + AWS_WINDOW, enc)
        id_lo, id_hi = (m.start - win_start) // w, (m.end - win_start) // w
        best: tuple[int, re.Match[str]] | None = None
        for cand in AWS_SECRET_RE.finditer(window):
            if (cand.start() < id_hi and cand.end() > id_lo) or not _aws_secret_ok(cand.group(0)):
                continue
            dist = cand.start() - id_hi if cand.start() >= id_hi else id_lo - cand.end()
            if best is None or dist < best[0]:
                best = (dist, cand)
        if best is None:
            yield _finding(
                "aws-access-key-id",
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
            kind="aws-credentials",
            encoding=enc,
            offset=start,
            length=end - start,
            confidence=Confidence.MEDIUM,
            reasons=reasons,
            details=details,
            key_id=symmetric_key_id(cand.group(0).encode("ascii")),
        )


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


def _checksum_token(m: _Match, body: str, provider: str, token_type: str, prefix: str) -> Finding | None:
    random_part, checksum = body[:30], body[30:]
    if not _looks_random(random_part, 10, 3.0):
        return None  # ghp_xxxxxxxx...: a placeholder, not a token
    details = {"provider": provider, "token_type": token_type, "prefix": prefix + "…"}
    kid = symmetric_key_id(m.text.encode("ascii"))
    if base62_crc32(random_part) == checksum:
        return _finding(
            "api-token",
            m,
            Confidence.HIGH,
            [f"{provider} token shape ({prefix} + 36 base62)", "checksum valid (CRC32, base62)"],
            details,
            key_id=kid,
        )
    return _finding(
        "api-token",
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
        Pattern("github-token-utf16", _u16(b"gh") + rb"[pousr]\x00_\x00(?:[A-Za-z0-9]\x00){36}", 80),
        Pattern(
            "github-pat-utf16",
            _u16(b"github_pat_") + rb"(?:[A-Za-z0-9]\x00){22}_\x00(?:[A-Za-z0-9]\x00){59}",
            186,
        ),
    )

    def validate(self, view: View, hit: Hit) -> Iterable[Finding]:
        enc = UTF16 if hit.pattern.endswith("utf16") else ASCII
        if hit.pattern.startswith("github-token"):
            m = _extent(view, hit, GH_RE, enc, 40, TOKEN_WORD)
            if m is not None:
                kind = m.text[2]
                f = _checksum_token(m, m.text[4:], "github", GH_TYPES[kind], m.text[:4])
                if f is not None:
                    yield f
        elif hit.pattern == "npm-token":
            m = _extent(view, hit, NPM_RE, enc, 40, TOKEN_WORD)
            if m is not None:
                f = _checksum_token(m, m.text[4:], "npm", "access token", "npm_")
                if f is not None:
                    yield f
        else:
            m = _extent(view, hit, GH_PAT_RE, enc, 93, TOKEN_WORD)
            if m is None:
                return
            mm = GH_PAT_RE.match(m.text)
            assert mm is not None
            if not _looks_random(mm.group(2), 16, 4.0):
                return
            yield _finding(
                "api-token",
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
            m = _extent(view, hit, GITLAB_RE, ASCII, 70, ALNUM + "_-")
            if m is None or not _looks_random(m.text[6:], 12, 3.5):
                return
            yield _finding(
                "api-token",
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
            m = _extent(view, hit, SLACK_RE, ASCII, 270, ALNUM + "-")
            if m is None:
                return
            mm = SLACK_RE.match(m.text)
            assert mm is not None
            if not _looks_random(mm.group(3), 10, 3.3):
                return
            yield _finding(
                "api-token",
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
            m = _extent(view, hit, STRIPE_RE, ASCII, 260, ALNUM + "_")
            if m is None:
                return
            mm = STRIPE_RE.match(m.text)
            assert mm is not None
            live = mm.group(2) == "live"
            if not _looks_random(m.text[8:], 12, 3.5):
                return
            kind = "secret key" if mm.group(1) == "s" else "restricted key"
            yield _finding(
                "api-token",
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
        m = _extent(view, hit, AZ_KEY_RE, ASCII, 99, B64 + "=")
        if m is None:
            return
        b64 = m.text[len("AccountKey=") :]
        try:
            raw = binascii.a2b_base64(b64)
        except binascii.Error:
            return
        if len(raw) != 64 or not _looks_random(b64, 30, 5.0):
            return
        details: dict[str, Any] = {"provider": "azure", "token_type": "storage account key"}
        context = _read_text(view, max(0, m.start - 512), min(512, m.start), ASCII)
        names = AZ_NAME_RE.findall(context.split("\n")[-1].split("\0")[-1])
        if names:
            details["account_name"] = names[-1]  # public: it is the storage account's host name
        key_off = m.start + len("AccountKey=")
        yield Finding(
            kind="api-token",
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
        before = _read_text(view, max(0, hit.start - 1024), min(1024, hit.start), ASCII)
        i = len(before)
        while i > 0 and before[i - 1] in SAS_CHARS and before[i - 1] != "?":
            i -= 1
        start = hit.start - (len(before) - i)
        after = _read_text(view, hit.start, 2048, ASCII)
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
            kind="api-token",
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


# -- GCP service account ------------------------------------------------------------------------------
GCP_WINDOW = 16 * 1024
GCP_KEY_RE = re.compile(r'"private_key"\s*:\s*"((?:[^"\\]|\\.){100,8000})"')


class GcpDetector:
    """GCP service-account key files (JSON with "type": "service_account" and a PEM private_key)."""

    name = "gcp"
    patterns = (Pattern("gcp-service-account", rb'"type"[ \t\r\n]{0,8}:[ \t\r\n]{0,8}"service_account"', 40),)

    def validate(self, view: View, hit: Hit) -> Iterable[Finding]:
        head = _read_text(view, max(0, hit.start - 256), min(256, hit.start), ASCII)
        brace = head.rfind("{")
        if brace < 0:
            return
        start = hit.start - (len(head) - brace)
        text = _read_text(view, start, GCP_WINDOW, ASCII)
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
        kind, confidence, kid = "gcp-service-account", Confidence.MEDIUM, None
        try:
            from cryptography.hazmat.primitives.serialization import load_pem_private_key

            private = load_pem_private_key(pem.encode("ascii"), password=None)
            public = private.public_key()
            kid = key_id(public)
            details.update(describe_public(public))
            kind, confidence = "gcp-service-account-key", Confidence.HIGH
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


# -- passwords in URLs --------------------------------------------------------------------------------
URL_USER = r"[A-Za-z0-9._~%!$&'()*+,;=\-]{1,64}"
URL_RE = re.compile(
    r"([A-Za-z][A-Za-z0-9+.\-]{1,15})://(" + URL_USER + r"):([A-Za-z0-9._~%!$&'()*+,;=\-]{1,128})@"
    r"([A-Za-z0-9.\-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])"
)
SERVICE_SCHEMES = {
    "postgres",
    "postgresql",
    "mysql",
    "mariadb",
    "mongodb",
    "mongodb+srv",
    "redis",
    "rediss",
    "amqp",
    "amqps",
    "ftp",
    "ftps",
    "sftp",
    "smtp",
    "smtps",
    "imap",
    "imaps",
    "pop3",
    "ldap",
    "ldaps",
    "mssql",
    "sqlserver",
    "oracle",
    "jdbc",
    "nats",
    "kafka",
    "memcached",
    "couchdb",
    "neo4j",
    "clickhouse",
    "ssh",
}
KNOWN_SCHEMES = SERVICE_SCHEMES | {"http", "https", "ws", "wss", "git", "svn", "rtsp", "socks5", "socks4"}
PLACEHOLDERS = {
    "password",
    "passwd",
    "pass",
    "pwd",
    "secret",
    "changeme",
    "example",
    "test",
    "user",
    "username",
    "xxx",
    "pw",
    "p",
    "your_password",
    "yourpassword",
    "mypassword",
    "<password>",
    "password123",
    "foo",
    "bar",
    "admin",
    "root",
    "guest",
    "anonymous",
    "token",
    "secretpassword",
    "pa55word",
    "none",
    "null",
}
PLACEHOLDER_RE = re.compile(r"^(?:x+|\*+|\.+|-+|_+|#+|0+|1234\d*|\$.*|%.*|\{.*|<.*|\[.*|.*\}|.*>)$", re.I)


class UrlPasswordDetector:
    """``scheme://user:password@host``: low for web URLs, medium for services that log in with it."""

    name = "url-password"
    patterns = (
        Pattern(
            "url-password",
            rb"://[A-Za-z0-9._~%!$&'()*+,;=\-]{1,64}:[A-Za-z0-9._~%!$&'()*+,;=\-]{3,128}@[A-Za-z0-9\[]",
            200,
        ),
    )

    def validate(self, view: View, hit: Hit) -> Iterable[Finding]:
        # The prefilter anchors on "://" (a leading scheme class made the pattern too large for
        # hyperscan with SOM): the scheme is the run of scheme characters just before it.
        back = min(16, hit.start)
        text = _read_text(view, hit.start - back, back + 520, ASCII)
        if len(text) < back + 3 or text[back : back + 3] != "://":
            return
        k = back
        while k > 0 and (text[k - 1].isascii() and (text[k - 1].isalnum() or text[k - 1] in "+.-")):
            k -= 1
        while k < back and not text[k].isalpha():
            k += 1
        m = URL_RE.match(text, k)
        if m is None or m.start(1) != k or m.end(1) != back:
            return
        scheme = m.group(1).lower()
        shift = 0
        if scheme not in KNOWN_SCHEMES:
            # The prefilter's leftmost start may include letters glued before the scheme ("xhttps://"):
            # keep the longest known scheme that ends it.
            known = max((k for k in KNOWN_SCHEMES if scheme.endswith(k)), key=len, default=None)
            if known is not None:
                shift = len(scheme) - len(known)
                scheme = known
        user, password, host = m.group(2), m.group(3), m.group(4)
        plain = unquote(password)
        if (
            len(plain) < 3
            or plain.lower() in PLACEHOLDERS
            or PLACEHOLDER_RE.match(plain)
            or plain.lower() == unquote(user).lower()
            or not _looks_random(plain, 3, 1.5)
        ):
            return
        start = hit.start - back + k + shift
        service = scheme in SERVICE_SCHEMES
        confidence = Confidence.MEDIUM if service and len(plain) >= 6 else Confidence.LOW
        reasons = [f"{scheme}:// URL with user:password@host", "password is not a placeholder"]
        if service:
            reasons.append("the scheme is a service that logs in with this password")
        yield Finding(
            kind="password-in-url",
            encoding=ASCII,
            offset=start,
            length=m.end() - k - shift,
            confidence=confidence,
            reasons=reasons,
            details={
                "provider": scheme,
                "token_type": "password in URL",
                "user": unquote(user)[:64],
                "host": host[:253],
            },
        )


DETECTORS = [
    AwsDetector(),
    GitHubDetector(),
    TokenDetector(),
    AzureDetector(),
    GcpDetector(),
    UrlPasswordDetector(),
]
