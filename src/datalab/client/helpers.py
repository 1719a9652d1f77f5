"""``Querist``: log in once, then run queries and get tables back in one call.

Like the official ``dl.helpers.legacy.Querist``, a query is sent as ``sql=`` (Data
Lab SQL, which accepts ``LIMIT`` and most ADQL too); pass ``language='adql'`` to
send ``adql=`` instead. Unlike it, the password may be given (it is asked for, hidden,
only when it is not), and a failed login raises :class:`dlAuthError` with the server's
reason rather than a generic message.
"""

from __future__ import annotations

import getpass
from collections import deque
from typing import Any

from datalab.client import authClient, queryClient
from datalab.client._convert import convert
from datalab.client._http import dlAuthError, queryClientError

__all__ = ["Querist"]

# outfmt → what query() is asked for; the conversion happens on the CSV text.
_OUTFMTS = {
    "string": "csv",
    "csv": "csv",
    "table": "table",
    "pandas": "pandas",
    "array": "array",
    "structarray": "structarray",
    "votable": "votable",
}


class Querist:
    """A logged-in query runner: ``q = Querist('alice', pw); t = q(query, 'table')``."""

    def __init__(
        self, username: str = "anonymous", password: str | None = None, language: str = "sql"
    ) -> None:
        if language.lower() not in ("sql", "adql"):
            raise ValueError("language must be 'sql' or 'adql'")
        self.language = language.lower()
        if password is None and username != "anonymous":
            password = getpass.getpass(prompt="Enter password:")
        self.token = authClient.login(username, password or "", raise_errors=True)
        if not authClient.isValidToken(self.token):
            raise dlAuthError("Error: the server did not accept the new token")
        self.openjobs: deque[tuple[str, str, int]] = deque()

    def clearToken(self) -> None:  # noqa: N802 - the official name
        """Forget the token (e.g. before saving a notebook)."""
        self.token = ""

    def clearQueue(self) -> None:  # noqa: N802 - the official name
        """Forget the submitted async jobs."""
        self.openjobs.clear()

    def __call__(
        self,
        query: str | None = None,
        outfmt: str = "array",
        preview: int = 0,
        async_: bool = False,
        **kw: Any,
    ) -> Any:
        """Run ``query`` and return its rows as ``outfmt`` (``table``, ``pandas``,
        ``array``, ``structarray``, ``csv``/``string``, ``votable`` text).

        With ``async_=True`` (or ``async=True``) the job is queued and None returned;
        a later call without a query returns the oldest job's result once it is
        COMPLETED (None, keeping it queued, while it runs).
        """
        async_ = bool(kw.pop("async", async_))
        if outfmt not in _OUTFMTS:
            raise ValueError(f"outfmt must be one of {', '.join(_OUTFMTS)}")
        if query is None:
            return self._next_async_result()
        language = {self.language: query}
        if async_:
            job_id = queryClient.query(self.token, fmt="csv", async_=True, **language)
            self.openjobs.append((job_id, outfmt, preview))
            return None
        text = queryClient.query(self.token, fmt=_server_fmt(outfmt), **language)
        return self._output(text, outfmt, preview)

    def _next_async_result(self) -> Any:
        if not self.openjobs:
            return None
        job_id, outfmt, preview = self.openjobs.popleft()
        phase = queryClient.status(self.token, job_id)
        if phase in ("QUEUED", "EXECUTING", "PENDING"):
            self.openjobs.appendleft((job_id, outfmt, preview))
            return None
        if phase != "COMPLETED":
            raise queryClientError(queryClient.error(self.token, job_id) or phase)
        return self._output(queryClient.results(self.token, job_id), outfmt, preview)

    @staticmethod
    def _output(text: str, outfmt: str, preview: int) -> Any:
        if preview:
            print("\n".join(text.splitlines()[: preview + 1]))
        fmt = _OUTFMTS[outfmt]
        return text if fmt in ("csv", "votable") else convert(text, fmt)


def _server_fmt(outfmt: str) -> str:
    """Ask for text; conversions happen here so the preview can show the CSV."""
    return "votable" if outfmt == "votable" else "csv"

