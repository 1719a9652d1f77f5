"""The web adapter: authenticators (see ``datalab.web.identity``) backed by the store.

Four ways to present credentials, tried in this order:

1. ``X-DL-AuthToken: <token>``, sent by the official Data Lab client on every call;
2. ``Authorization: Bearer <token>``, for pyvo, curl and scripts;
3. ``Authorization: Basic base64(user:password)``, for tools that know no tokens
   (TOPCAT); the password is checked on every request, under the login rate limits;
4. the ``datalab_token`` cookie, for the portal.

A credential that is present but wrong is an error (401), never a silent fall back to
anonymous: a user whose token expired should be told, not shown an empty myDB. The one
exception is ``anonymous.0.0.anon_access``, which the official client sends whenever
nobody is logged in: it proves nothing and the request goes on as anonymous (or as
whoever another credential proves).

``datalab.web.identity`` is imported when ``authenticators`` is called, not at import
time, so that the app factory can import this module without an import cycle.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.requests import Request

from datalab.accounts.errors import AuthenticationError
from datalab.accounts.store import AccountStore
from datalab.accounts.tokens import ANONYMOUS_TOKEN

if TYPE_CHECKING:
    from datalab.web.identity import Identity

__all__ = ["TOKEN_COOKIE", "TOKEN_HEADER", "authenticators"]

TOKEN_HEADER = "X-DL-AuthToken"
TOKEN_COOKIE = "datalab_token"

_INVALID_TOKEN = "the token is invalid or has expired: log in again"


def authenticators(store: AccountStore) -> list[Callable[[Request], Identity | None]]:
    """The authenticators for ``app.state.authenticators``, in the order they are tried."""
    from datalab.web.identity import Identity

    def by_token(token: str) -> Identity | None:
        if token == ANONYMOUS_TOKEN:
            return None
        user = store.user_for(token)
        if user is None:
            raise AuthenticationError(_INVALID_TOKEN)
        return Identity(user=user)

    def data_lab_header(request: Request) -> Identity | None:
        token = request.headers.get(TOKEN_HEADER, "").strip()
        return by_token(token) if token else None

    def authorization(request: Request) -> Identity | None:
        scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and value:
            return by_token(value)
        if scheme.lower() == "basic" and value:
            name, password = _basic_credentials(value)
            client = request.client.host if request.client else ""
            return Identity(user=store.authenticate(name, password, client=client))
        return None  # another scheme: for another authenticator, if any

    def cookie(request: Request) -> Identity | None:
        token = request.cookies.get(TOKEN_COOKIE, "").strip()
        return by_token(token) if token else None

    return [data_lab_header, authorization, cookie]


def _basic_credentials(value: str) -> tuple[str, str]:
    """(user, password) from the value of a Basic ``Authorization`` header (RFC 7617)."""
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise AuthenticationError(
            "malformed Basic credentials: not base64 of user:password"
        ) from exc
    name, colon, password = decoded.partition(":")
    if not colon:
        raise AuthenticationError("malformed Basic credentials: no ':' after the user name")
    return name, password
