"""What the account store hands out: users and the sessions their tokens open.

Neither carries a secret: a password hash or a token never leaves the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["Token", "User"]


@dataclass(frozen=True)
class User:
    """An account. ``name`` is also the user's myDB schema and storage folder name."""

    name: str
    uid: int
    created: datetime
    disabled: bool = False


@dataclass(frozen=True)
class Token:
    """One live login session of ``user`` (the token itself is known only to its holder).

    ``client`` is what the login named as its origin (an IP address, usually).
    """

    user: str
    uid: int
    created: datetime
    expires: datetime
    client: str = ""
