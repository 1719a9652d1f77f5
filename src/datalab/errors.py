"""One error hierarchy for every layer.

Errors carry a protocol-neutral ``code`` and a ``status_code`` that the web layer
maps to HTTP; domain code never imports a web framework. The message is meant for
the user: it names what was wrong and, where it helps, what to do instead.
"""

from __future__ import annotations

__all__ = [
    "ConflictError",
    "DataLabError",
    "IngestError",
    "NotFoundError",
    "PermissionDeniedError",
    "QueryError",
    "QueryTimeoutError",
    "TransientError",
    "UsageError",
]


class DataLabError(Exception):
    """Base of every error a user may see.

    ``detail`` holds optional machine-readable context (file, row, column...).
    """

    code: str = "error"
    status_code: int = 500

    def __init__(self, message: str, *, detail: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail: dict[str, object] = dict(detail or {})

    def __str__(self) -> str:
        return self.message


class UsageError(DataLabError):
    """The request was malformed or asked for something impossible."""

    code = "usage_error"
    status_code = 400


class NotFoundError(DataLabError):
    """A named table, file, job or user does not exist (for this user)."""

    code = "not_found"
    status_code = 404


class PermissionDeniedError(DataLabError):
    """The caller may not do this."""

    code = "permission_denied"
    status_code = 403


class ConflictError(DataLabError):
    """The target exists or is busy (e.g. the catalog is locked by a running server)."""

    code = "conflict"
    status_code = 409


class TransientError(DataLabError):
    """A temporary condition; trying again later may succeed."""

    code = "transient"
    status_code = 503


class IngestError(UsageError):
    """A file could not be loaded. ``detail`` names the file and, where known, row and column."""

    code = "ingest_error"

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        where = []
        if path is not None:
            where.append(str(path))
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        text = f"{', '.join(where)}: {message}" if where else message
        super().__init__(text, detail={"path": path, "row": row, "column": column})
        self.path = path
        self.row = row
        self.column = column


class QueryError(UsageError):
    """The engine refused a query because of what it asks (a bad cast, an overflow...).

    A usage error: the same query fails the same way every time, so the user has to
    change it. Conditions that may pass on a retry (memory, I/O) are TransientErrors.
    """

    code = "query_error"


class QueryTimeoutError(DataLabError):
    """A query ran longer than its time limit and was stopped.

    400 rather than 408 (which means the server gave up waiting for the *request*, and
    which clients and proxies may retry on their own) or 5xx (the server is fine): the
    query asked for too much work, so the user has to narrow it or choose a longer
    limit (an async job). Not a UsageError, so that callers catching those do not
    mistake a slow query for a malformed one.
    """

    code = "query_timeout"
    status_code = 400

    def __init__(self, timeout: float) -> None:
        super().__init__(
            f"query exceeded the time limit of {timeout:g} s: "
            "narrow it with more conditions or fewer rows",
            detail={"timeout": timeout},
        )
        self.timeout = timeout
