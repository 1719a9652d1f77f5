"""Who is asking: the identity a request carries, found by pluggable authenticators.

Each authenticator looks at a request and returns the user it proves (a Bearer token,
HTTP Basic, a session cookie…) or None; the first to answer wins, and a request none
of them recognises is anonymous. Anonymous users read the public catalogs and reach
their async jobs only by the job's id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

__all__ = ["ANONYMOUS", "Authenticator", "Identity", "identity"]


@dataclass(frozen=True)
class Identity:
    user: str | None = None

    @property
    def anonymous(self) -> bool:
        return self.user is None


ANONYMOUS = Identity()

Authenticator = Callable[[Request], Identity | None]


def identity(request: Request) -> Identity:
    """Dependency: the identity of this request (anonymous unless proven otherwise)."""
    authenticators: list[Authenticator] = getattr(request.app.state, "authenticators", [])
    for authenticate in authenticators:
        found = authenticate(request)
        if found is not None:
            return found
    return ANONYMOUS
