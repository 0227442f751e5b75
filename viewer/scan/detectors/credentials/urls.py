"""Passwords written into URLs (``scheme://user:password@host``).

Part of :mod:`viewer.scan.detectors.credentials` (its docstring says what is checked and why).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote

from viewer.scan import kinds
from viewer.scan.detector import Hit, Pattern, View
from viewer.scan.detectors.credentials.text import ASCII, looks_random, read_text
from viewer.scan.finding import Confidence, Finding

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
        text = read_text(view, hit.start - back, back + 520, ASCII)
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
            or not looks_random(plain, 3, 1.5)
        ):
            return
        start = hit.start - back + k + shift
        service = scheme in SERVICE_SCHEMES
        confidence = Confidence.MEDIUM if service and len(plain) >= 6 else Confidence.LOW
        reasons = [f"{scheme}:// URL with user:password@host", "password is not a placeholder"]
        if service:
            reasons.append("the scheme is a service that logs in with this password")
        yield Finding(
            kind=kinds.PASSWORD_IN_URL,
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
