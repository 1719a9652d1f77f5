"""How many bytes each user's files take, kept in memory so a write need not walk.

The first check for a user walks their folder once; later writes and deletions adjust
the count. ``refresh`` walks again (``Storage.usage`` does), which also corrects for
files changed behind the service's back. Uploads running at the same time for one user
are each checked against the count before the others finish, so together they may
pass the quota by at most their own sizes; the next write sees the true total.
"""

from __future__ import annotations

import threading

from datalab.errors import UsageError
from datalab.storage.fs import UserTree

__all__ = ["Quota"]


class Quota:
    """Per-user byte counts and the limit they are checked against (None: no limit)."""

    def __init__(self, limit: int | None) -> None:
        if limit is not None and limit < 0:
            raise ValueError("the quota must not be negative")
        self.limit = limit or None
        self._used: dict[str, int] = {}
        self._lock = threading.Lock()

    def used(self, user: str, tree: UserTree) -> int:
        with self._lock:
            known = self._used.get(user)
        return known if known is not None else self.refresh(user, tree)

    def refresh(self, user: str, tree: UserTree) -> int:
        total = tree.usage()
        with self._lock:
            self._used[user] = total
        return total

    def check(self, user: str, tree: UserTree, replaced: int, total: int) -> None:
        """UsageError if writing ``total`` bytes in place of ``replaced`` passes the limit."""
        if self.limit is None:
            return
        if self.used(user, tree) - replaced + total > self.limit:
            raise UsageError(
                f"quota of {self.limit} bytes exceeded: remove files to make room"
            )

    def adjust(self, user: str, delta: int) -> None:
        with self._lock:
            if user in self._used:
                self._used[user] = max(0, self._used[user] + delta)

    def forget(self, user: str) -> None:
        with self._lock:
            self._used.pop(user, None)
