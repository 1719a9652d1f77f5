"""Who is asking: the identity a request carries, found by pluggable authenticators.

Each authenticator looks at a request and returns the user it proves (a Bearer token,
HTTP Basic, a session cookie…) or None; the first to answer wins, and a request none
of them recognises is anonymous. Authenticators read credentials only from the
``Authorization`` and ``X-DL-AuthToken`` headers and from cookies. Anonymous users read the public catalogs and reach
their async jobs only by the job's id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import anyio
from fastapi import Request

__all__ = ["ANONYMOUS", "Authenticator", "Identity", "identify", "identity"]


@dataclass(frozen=True)
class Identity:
    user: str | None = None

    @property
    def anonymous(self) -> bool:
        return self.user is None


ANONYMOUS = Identity()

Authenticator = Callable[[Request], Identity | None]


def identify(request: Request) -> Identity:
    """The identity of this request (anonymous unless proven otherwise); may block
    (a token looked up in the state database, a password hash checked)."""
    authenticators: list[Authenticator] = getattr(request.app.state, "authenticators", [])
    for authenticate in authenticators:
        found = authenticate(request)
        if found is not None:
            return found
    return ANONYMOUS


# Where authenticators find credentials. A request with none of these is anonymous,
# which is then known without a thread: most catalog queries come that way, and a
# hand-over to a worker thread costs more than a small query.
_CREDENTIAL_HEADERS = ("authorization", "x-dl-authtoken", "cookie")


async def identity(request: Request) -> Identity:
    """Dependency: the identity of this request (see :func:`identify`)."""
    headers = request.headers
    if not any(name in headers for name in _CREDENTIAL_HEADERS):
        return ANONYMOUS
    return await anyio.to_thread.run_sync(identify, request)
