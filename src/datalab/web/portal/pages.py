"""Rendering a portal page: the shared layout's context (who is logged in, the CSRF
token, the navigation) added to each page's own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from datalab import __version__
from datalab.notebooks import notebooks_url
from datalab.portal import render
from datalab.web.portal.session import csrf_token, remember_csrf

__all__ = ["NAV", "NavItem", "page", "safe_next"]


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    href: str


# The portal's sections, in menu order.
NAV: tuple[NavItem, ...] = (
    NavItem("home", "Catalogs", "/"),
    NavItem("tables", "Tables", "/portal/tables"),
    NavItem("query", "Query", "/portal/query"),
    NavItem("sky", "Sky", "/portal/sky"),
    NavItem("mydb", "myDB", "/portal/mydb"),
    NavItem("files", "Files", "/portal/files"),
)


def page(
    request: Request,
    template: str,
    *,
    user: str | None,
    section: str = "",
    title: str = "",
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """The page ``template`` in the portal layout; sets the CSRF cookie if new."""
    html = render(
        template,
        notebooks_url=_notebooks_url(request),
        user=user,
        section=section,
        title=title,
        nav=NAV,
        csrf=csrf_token(request),
        version=__version__,
        path=request.url.path,
        **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    remember_csrf(request, response)
    return response


def _notebooks_url(request: Request) -> str | None:
    """The notebook hub's address as this visitor reaches the server, if it runs."""
    svc = getattr(request.app.state, "services", None)
    if svc is None:
        return None
    return notebooks_url(svc.settings, host=request.url.hostname)


def safe_next(value: str | None, default: str = "/") -> str:
    """A redirect target after login that stays on this site: a local absolute path,
    never ``//host`` or a backslash trick that a browser would read as another site."""
    if not value or len(value) > 2000:
        return default
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if any(ord(ch) < 0x20 for ch in value):
        return default
    return value
