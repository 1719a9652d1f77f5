"""The two errors accounts add to ``datalab.errors``: a failed login, and too many of them.

They live here rather than in ``datalab/errors.py`` because only authentication raises
them; both still derive from the shared hierarchy, so every surface renders them.
"""

from __future__ import annotations

from datetime import datetime

from datalab.errors import PermissionDeniedError, TransientError

__all__ = ["AuthenticationError", "LoginRateLimited"]


class AuthenticationError(PermissionDeniedError):
    """The credentials (password or token) did not prove who the caller is.

    401 rather than the 403 of its parent: the caller is not known, so trying again with
    other credentials may succeed; 403 means "known, and not allowed".
    """

    code = "authentication_failed"
    status_code = 401


class LoginRateLimited(TransientError):
    """Too many failed logins for one user name or one client: wait before trying again.

    ``retry_at`` is when the next attempt will be heard; ``detail["retry_after"]`` holds
    the same as whole seconds from now, for a ``Retry-After`` header.
    """

    code = "rate_limited"
    status_code = 429

    def __init__(self, what: str, retry_at: datetime, now: datetime) -> None:
        seconds = max(1, int((retry_at - now).total_seconds() + 0.999))
        super().__init__(
            f"too many failed logins for {what}: try again in {seconds} s "
            f"(after {retry_at.strftime('%Y-%m-%dT%H:%M:%SZ')})",
            detail={"retry_after": seconds},
        )
        self.retry_at = retry_at
