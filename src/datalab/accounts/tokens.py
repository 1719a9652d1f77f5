"""Tokens in the shape the official Data Lab client insists on, and their stored digest.

The client checks every token against ``^[^/\\s]+\\.\\d+\\.\\d+\\.\\$1\\$\\S{22,}$`` and
silently falls back to anonymous when it does not match, so ours read
``<user>.<uid>.<uid>.$1$<secret>``. The ``$1$`` only imitates an md5-crypt string;
the secret is 256 random bits from ``secrets.token_urlsafe`` (43 characters of
``A-Za-z0-9-_``: nothing the client, a URL or a header mangles, and no ``.``, which
the client splits on).

Only a SHA-256 digest of the whole token is stored: a copy of the state database
gives no usable token. A plain hash (no salt, no slow function) is right here, unlike
for passwords, because the input already has 256 bits of entropy; and it lets the
token be found with one indexed lookup on every request.
"""

from __future__ import annotations

import hashlib
import re
import secrets

__all__ = ["ANONYMOUS_TOKEN", "TOKEN_PATTERN", "digest", "looks_like_token", "new_token"]

ANONYMOUS_TOKEN = "anonymous.0.0.anon_access"
"""The token the official client sends when nobody is logged in: valid, and no user."""

TOKEN_PATTERN = re.compile(r"^[^/\s]+\.\d+\.\d+\.\$1\$\S{22,}$")
"""The official client's test of a user token."""

# Our own tokens exactly: a user name, the uid twice, 43 URL-safe characters.
_OURS = re.compile(r"[a-z][a-z0-9_]{1,31}\.(\d{1,10})\.\1\.\$1\$[A-Za-z0-9_-]{43}")


def new_token(user: str, uid: int) -> str:
    """A fresh token for ``user`` with number ``uid`` (used as both uid and gid)."""
    return f"{user}.{uid}.{uid}.$1${secrets.token_urlsafe(32)}"


def looks_like_token(token: str) -> bool:
    """Whether ``token`` has the shape of one we issue: a cheap filter before the database."""
    return _OURS.fullmatch(token) is not None


def digest(token: str) -> str:
    """The hex SHA-256 of the token: what the database keeps instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
