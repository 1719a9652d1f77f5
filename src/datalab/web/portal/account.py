"""Logging in and out of the portal, and the account page (tokens for the command line
and notebooks)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from datalab.accounts.errors import AuthenticationError, LoginRateLimited
from datalab.web.context import Services, services
from datalab.web.portal.pages import page, safe_next
from datalab.web.portal.session import (
    PortalUser,
    clear_session,
    current_user,
    session_token,
    set_session,
    verify_csrf,
)

router = APIRouter(prefix="/portal", include_in_schema=False)

# Longer than any real name or password; longer input is refused before any work.
MAX_NAME = 64
MAX_PASSWORD = 1024

SVC = Annotated[Services, Depends(services)]
MaybeUser = Annotated[str | None, Depends(current_user)]


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, user: MaybeUser, next: str = "/") -> Response:
    return page(
        request, "login.html", user=user, section="login", title="Log in", next=safe_next(next)
    )


@router.post("/login", dependencies=[Depends(verify_csrf)])
def login(
    request: Request,
    svc: SVC,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    target = safe_next(next)

    def again(message: str, status: int) -> Response:
        return page(
            request,
            "login.html",
            user=None,
            section="login",
            title="Log in",
            next=target,
            error=message,
            username=username[:MAX_NAME],
            status_code=status,
        )

    if not username.strip() or not password:
        return again("Enter your user name and password.", 400)
    if len(username) > MAX_NAME or len(password) > MAX_PASSWORD:
        return again("User name or password too long.", 400)
    client = request.client.host if request.client else ""
    try:
        token = svc.accounts.login(username.strip(), password, client=f"portal {client}")
    except LoginRateLimited as exc:
        response = again(exc.message, 429)
        response.headers["Retry-After"] = str(exc.detail.get("retry_after", 60))
        return response
    except AuthenticationError:
        return again("Wrong user name or password.", 401)
    response = RedirectResponse(target, status_code=303)
    set_session(request, response, token, int(svc.accounts.token_lifetime.total_seconds()))
    return response


@router.post("/logout", dependencies=[Depends(verify_csrf)])
def logout(request: Request, svc: SVC) -> Response:
    token = session_token(request)
    if token:
        svc.accounts.logout(token)
    response = RedirectResponse("/", status_code=303)
    clear_session(request, response)
    return response


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, svc: SVC, user: PortalUser) -> Response:
    return page(
        request,
        "account.html",
        user=user,
        section="account",
        title="Account",
        sessions=svc.accounts.tokens(user),
        base_url=str(request.base_url).rstrip("/"),
    )


@router.post("/account/token", dependencies=[Depends(verify_csrf)])
def new_token(request: Request, svc: SVC, user: PortalUser) -> Response:
    """A fresh token for the command line or a notebook, shown once on the page."""
    token = svc.accounts.issue_token(user, client="portal: token for the command line")
    return page(
        request,
        "account.html",
        user=user,
        section="account",
        title="Account",
        sessions=svc.accounts.tokens(user),
        base_url=str(request.base_url).rstrip("/"),
        new_token=token,
    )
