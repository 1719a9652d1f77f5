"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from datalab import __version__

router = APIRouter()


@router.get(
    "/health",
    summary="Readiness",
    description="200 once the server can answer queries; 503 while it starts or stops.",
)
async def health(request: Request) -> JSONResponse:
    ready = getattr(request.app.state, "services", None) is not None
    body = {"status": "ok" if ready else "starting", "version": __version__}
    return JSONResponse(body, status_code=200 if ready else 503)
