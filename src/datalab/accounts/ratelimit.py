"""Counting failed logins, per user name and per client, inside the login's transaction.

An attempt first writes its own failure rows and then counts, in one transaction: the
write lock orders concurrent attempts, so twenty parallel guesses cannot all slip in
under the limit while the slow password check runs. An attempt over the limit rolls
back its rows, so being refused does not extend the lockout; a successful attempt
deletes its rows (and the user name's earlier failures) afterwards.

The window slides: a key is locked while it has ``max_failures`` failures younger than
``lockout``, and it unlocks when the oldest of those turns ``lockout`` old.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from datalab.accounts.errors import LoginRateLimited
from datalab.accounts.schema import failures_table

__all__ = ["LoginLimiter"]

_KEY_LENGTH = 255

f = failures_table


class LoginLimiter:
    """Allows ``max_failures`` failed logins per key within any ``lockout`` period."""

    def __init__(self, max_failures: int, lockout: timedelta) -> None:
        if max_failures < 1 or lockout <= timedelta(0):
            raise ValueError("max_failures must be 1 or more and lockout positive")
        self.max_failures = max_failures
        self.lockout = lockout

    def begin_attempt(
        self, conn: Connection, keys: dict[str, str], now: datetime
    ) -> list[int]:
        """Record a pending failure for each ``{kind: key}`` and return the rows' ids.

        Raises LoginRateLimited, naming the first locked key, when any key already has
        ``max_failures`` recent failures; the caller's transaction must then roll back.
        """
        seqs: list[int] = []
        for kind, key in keys.items():
            key = key[:_KEY_LENGTH]
            result = conn.execute(f.insert().values(kind=kind, key=key, at=now))
            seq = int(result.inserted_primary_key[0])  # type: ignore[index]
            seqs.append(seq)
            recent = conn.execute(
                sa.select(f.c.at)
                .where(f.c.kind == kind, f.c.key == key, f.c.at > now - self.lockout)
                .where(f.c.seq != seq)
                .order_by(f.c.at.desc())
                .limit(self.max_failures)
            ).scalars().all()
            if len(recent) >= self.max_failures:
                what = f"the user name {key!r}" if kind == "user" else f"client {key}"
                raise LoginRateLimited(what, recent[-1] + self.lockout, now)
        return seqs

    def succeeded(self, conn: Connection, seqs: list[int], user_key: str) -> None:
        """Forget this attempt and the earlier failures of the user name it proved."""
        conn.execute(f.delete().where(f.c.seq.in_(seqs)))
        conn.execute(f.delete().where(f.c.kind == "user", f.c.key == user_key[:_KEY_LENGTH]))

    def prune(self, conn: Connection, now: datetime) -> None:
        """Drop failures too old to count any more."""
        conn.execute(f.delete().where(f.c.at <= now - self.lockout))
