"""Errors of the ADQL compiler: every refusal names where in the query it happened."""

from __future__ import annotations

from datalab.errors import UsageError

__all__ = ["ADQLError", "ADQLSyntaxError"]


class ADQLError(UsageError):
    """A query that is well formed but cannot be run: unknown table, refused construct...

    ``line`` and ``column`` (1-based) point at the offending token when it is known.
    """

    code = "adql_error"

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        detail: dict[str, object] | None = None,
    ) -> None:
        where = f" (line {line}, column {column})" if line is not None else ""
        info: dict[str, object] = dict(detail or {})
        if line is not None:
            info.update(line=line, column=column)
        super().__init__(message + where, detail=info)
        self.reason = message
        self.line = line
        self.column = column


class ADQLSyntaxError(ADQLError):
    """The text is not valid ADQL (or Data Lab SQL)."""

    code = "adql_syntax_error"
