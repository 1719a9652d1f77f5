"""Errors on the portal's pages are pages too: a login form for a page that needs a
user, an HTML page with the message otherwise. The portal's JSON routes (``/portal/api``)
keep the JSON envelope every other REST route uses."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from datalab.web.portal.session import LoginRequired

__all__ = ["is_portal_page", "portal_error_page"]


def is_portal_page(path: str) -> bool:
    return path == "/" or (path.startswith("/portal/") and not path.startswith("/portal/api/"))


def portal_error_page(request: Request, status: int, message: str, exc: Exception | None = None) -> Response:
    """The HTML answer to an error on a portal page."""
    if isinstance(exc, LoginRequired) and request.method in ("GET", "HEAD"):
        return RedirectResponse(f"/portal/login?next={quote(exc.path)}", status_code=303)
    from datalab.web.portal.pages import page

    titles = {400: "Bad request", 401: "Log in needed", 403: "Not allowed", 404: "Not found",
              405: "Not allowed", 413: "Too large", 429: "Too many attempts"}
    return page(
        request,
        "error.html",
        user=None,
        title=titles.get(status, "Error"),
        message=message,
        status=status,
        status_code=status,
    )
