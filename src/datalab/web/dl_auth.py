"""The Data Lab auth service (``/auth``) as the official client and ours speak it.

Plain-text answers, exactly as the client compares them: a token alone, ``true`` or
``false`` without a newline, ``OK``. Every call is a GET with query parameters; the
password travels in the ``X-DL-Password`` header (``/login``).
"""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response

from datalab.accounts import ANONYMOUS_TOKEN, AccountStore
from datalab.errors import DataLabError
from datalab.web.context import Services, services

__all__ = ["router"]

router = APIRouter(prefix="/auth", tags=["Data Lab auth"])


def text(body: str, status: int = 200) -> Response:
    return PlainTextResponse(body, status_code=status)


def boolean(value: bool) -> Response:
    return text("true" if value else "false")


def client_of(request: Request) -> str:
    return request.client.host if request.client else ""


def _accounts(svc: Services) -> AccountStore:
    return svc.accounts


@router.get("", summary="Liveness, as the client checks it")
def alive() -> Response:
    return text("Hello World")


@router.get("/login", summary="Log in: the token, or an error")
def login(request: Request, username: str = "", svc: Services = Depends(services)) -> Response:
    password = request.headers.get("X-DL-Password", "")
    if not username or not password:
        return text("Error: give a user name and, in X-DL-Password, a password", 400)
    try:
        token = _accounts(svc).login(username, password, client=client_of(request))
    except DataLabError as exc:
        return text(f"Error: {exc.message}", exc.status_code)
    return text(token)


@router.post("/register", summary="Create an account, where the site allows it")
async def register(request: Request, svc: Services = Depends(services)) -> Response:
    """Self-registration (setting ``auth_self_registration``): form fields ``username``
    and ``password``; answers with a token for the new account. Attempts count against
    the client's login limit, so the endpoint cannot be used to probe names quickly."""
    if not svc.settings.auth_self_registration:
        return text("Error: this site does not allow self-registration; ask its operator", 403)
    form = await request.form()
    username, password = str(form.get("username") or ""), str(form.get("password") or "")
    try:
        await anyio.to_thread.run_sync(_accounts(svc).add_user, username, password)
        token = await anyio.to_thread.run_sync(
            lambda: _accounts(svc).login(username, password, client=client_of(request))
        )
    except DataLabError as exc:
        return text(f"Error: {exc.message}", exc.status_code)
    return text(token, 201)


@router.get("/logout", summary="Revoke a token")
def logout(request: Request, token: str = "", svc: Services = Depends(services)) -> Response:
    token = token or request.headers.get("X-DL-AuthToken", "")
    if token and token != ANONYMOUS_TOKEN:
        _accounts(svc).logout(token)
    return text("OK")


@router.get("/isValidToken")
def is_valid_token(token: str = "", svc: Services = Depends(services)) -> Response:
    return boolean(token == ANONYMOUS_TOKEN or _accounts(svc).is_valid_token(token))


@router.get("/isTokenLoggedIn")
def is_token_logged_in(token: str = "", svc: Services = Depends(services)) -> Response:
    return boolean(token != ANONYMOUS_TOKEN and _accounts(svc).is_valid_token(token))


@router.get("/isValidUser")
def is_valid_user(user: str = "", svc: Services = Depends(services)) -> Response:
    return boolean(bool(user) and _accounts(svc).exists(user))


@router.get("/isValidPassword")
def is_valid_password(
    request: Request, user: str = "", password: str = "", svc: Services = Depends(services)
) -> Response:
    """The client asks this after a failed login to word its message. Answered through
    a login, so that it is rate-limited like one; the token made is revoked at once."""
    try:
        token = _accounts(svc).login(user, password, client=client_of(request))
    except DataLabError:
        return boolean(False)
    _accounts(svc).logout(token)
    return boolean(True)


@router.get("/isUserLoggedIn")
def is_user_logged_in(request: Request, user: str = "", svc: Services = Depends(services)) -> Response:
    """True when the caller's own token is a valid one of ``user``."""
    token = request.headers.get("X-DL-AuthToken", "")
    return boolean(bool(user) and _accounts(svc).user_for(token) == user)


@router.get("/whoAmI")
def who_am_i(request: Request, svc: Services = Depends(services)) -> Response:
    token = request.headers.get("X-DL-AuthToken", "")
    return text(_accounts(svc).user_for(token) or "anonymous")


@router.get("/hasAccess")
def has_access(
    request: Request, user: str = "", resource: str = "", svc: Services = Depends(services)
) -> Response:
    """Whether the token (sent as ``user``, as the client does) may use ``resource``:
    a user's own ``vos://`` and ``mydb://`` space, and everything public."""
    owner = _accounts(svc).user_for(user)
    if resource.startswith(("vos://", "mydb://")):
        return boolean(owner is not None)
    return boolean(True)
