"""The portal's browser session: who is logged in, and proof that a form came from us.

A portal login issues an ordinary Data Lab token and keeps it in an HttpOnly,
SameSite=Lax cookie, so scripts on a page can never read it. The cookie is honoured only
by the portal's own routes: the protocol services (TAP, the REST API, VOSpace) still ask
for a token or a password, so a page on another site cannot use a visitor's session
against them.

Requests that change something (any method but GET/HEAD/OPTIONS) must also carry the
CSRF token (double submit): a random value kept in its own cookie and written into each
page, returned in the ``X-CSRF-Token`` header or a ``csrf_token`` form field. A request
whose ``Origin`` names another site is refused outright.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request, Response

from datalab.errors import PermissionDeniedError
from datalab.web.context import Services, services

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "LoginRequired",
    "PortalUser",
    "clear_session",
    "csrf_token",
    "current_user",
    "remember_csrf",
    "require_user",
    "session_token",
    "set_session",
    "verify_csrf",
]

SESSION_COOKIE = "datalab_session"
CSRF_COOKIE = "datalab_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(PermissionDeniedError):
    """A page that needs a logged-in user was asked for without one; pages answer with a
    redirect to the login form, the portal's JSON routes with 401."""

    code = "login_required"
    status_code = 401

    def __init__(self, path: str) -> None:
        super().__init__("log in to use this page")
        self.path = path


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def session_token(request: Request) -> str | None:
    value = request.cookies.get(SESSION_COOKIE, "")
    return value or None


def current_user(
    request: Request, svc: Annotated[Services, Depends(services)]
) -> str | None:
    """Dependency: the logged-in user of this browser, or None."""
    token = session_token(request)
    return svc.accounts.user_for(token) if token else None


def require_user(request: Request, user: Annotated[str | None, Depends(current_user)]) -> str:
    """Dependency: the logged-in user; LoginRequired when there is none."""
    if user is None:
        query = request.url.query
        raise LoginRequired(request.url.path + (f"?{query}" if query else ""))
    return user


PortalUser = Annotated[str, Depends(require_user)]


def set_session(request: Request, response: Response, token: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )


def clear_session(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request)
    )


def csrf_token(request: Request) -> str:
    """This browser's CSRF token, made on first use; ``pages.page`` sets its cookie."""
    existing = request.cookies.get(CSRF_COOKIE, "")
    if 20 <= len(existing) <= 128 and existing.isascii():
        return existing
    made: str | None = getattr(request.state, "new_csrf", None)
    if made is None:
        made = secrets.token_urlsafe(32)
        request.state.new_csrf = made
    return made


def remember_csrf(request: Request, response: Response) -> None:
    """Set the CSRF cookie when this request made a new token."""
    made = getattr(request.state, "new_csrf", None)
    if made:
        response.set_cookie(
            CSRF_COOKIE,
            made,
            path="/",
            httponly=True,
            samesite="strict",
            secure=_secure(request),
        )


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True
    own = f"{request.url.scheme}://{request.url.netloc}"
    return origin == own


async def verify_csrf(request: Request) -> None:
    """Dependency for state-changing portal routes: the Origin is ours and the CSRF
    token sent matches this browser's cookie."""
    if request.method in _SAFE_METHODS:
        return
    if not _same_origin(request):
        raise PermissionDeniedError("request refused: it came from another site")
    expected = request.cookies.get(CSRF_COOKIE, "")
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else ""
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        raise PermissionDeniedError(
            "request refused: the form's security token is missing or stale; reload the page"
        )
