"""Rendering errors for the REST and HTML surfaces: one JSON envelope, never a trace.

The envelope is ``{"error": {"code": ..., "message": ..., "detail": {...}}}`` with the
HTTP status of the error class. Protocol routers (TAP, SIA, ...) render their own
documents from the same exceptions.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from datalab.errors import DataLabError
from datalab.web.portal.errors import is_portal_page, portal_error_page

__all__ = ["error_envelope", "install_error_handlers"]

# The Data Lab REST services answer in plain text, errors included ("Error: …").
_PLAIN_TEXT_PREFIXES = ("/auth", "/query", "/storage")

log = logging.getLogger("datalab.web")


def error_envelope(code: str, message: str, detail: dict[str, object] | None = None) -> dict:
    return {"error": {"code": code, "message": message, "detail": detail or {}}}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DataLabError)
    async def _domain(request: Request, exc: DataLabError) -> Response:
        # Errors raised before a protocol's own handler runs (an invalid token, found by
        # the identity dependency) are still answered in that protocol's form.
        path = request.url.path
        if is_portal_page(path):
            return portal_error_page(request, exc.status_code, exc.message, exc)
        if path.startswith(_PLAIN_TEXT_PREFIXES):
            return PlainTextResponse(f"Error: {exc.message}", status_code=exc.status_code)
        if path.startswith("/tap"):
            from datalab.formats.results import votable_error_document

            return Response(
                votable_error_document(exc.message),
                status_code=exc.status_code,
                media_type="application/x-votable+xml",
            )
        return JSONResponse(
            error_envelope(exc.code, exc.message, exc.detail), status_code=exc.status_code
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
            for e in exc.errors()
        ]
        if is_portal_page(request.url.path):
            return portal_error_page(request, 400, "; ".join(problems) or "invalid request")
        return JSONResponse(
            error_envelope("usage_error", "; ".join(problems) or "invalid request"),
            status_code=400,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if is_portal_page(request.url.path):
            return portal_error_page(request, exc.status_code, str(exc.detail))
        code = "not_found" if exc.status_code == 404 else "http_error"
        return JSONResponse(
            error_envelope(code, str(exc.detail)), status_code=exc.status_code
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error serving %s %s", request.method, request.url.path)
        return JSONResponse(
            error_envelope("internal_error", "internal error; the server log has the details"),
            status_code=500,
        )
