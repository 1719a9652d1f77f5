"""The landing page: what this server holds, table by table."""

from __future__ import annotations

from itertools import groupby
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from datalab import __version__
from datalab.portal import render
from datalab.web.context import Services, services

router = APIRouter()


@router.get(
    "/",
    response_class=HTMLResponse,
    summary="Landing page",
    description="The schemas and tables this server holds, with their documentation.",
)
def landing(request: Request, svc: Annotated[Services, Depends(services)]) -> HTMLResponse:
    schemas = {s.name: s for s in svc.engine.schemas()}
    tables = [t for t in svc.engine.tables() if t.schema != "tap_schema"]
    groups = [
        (schemas.get(name), name, list(items))
        for name, items in groupby(sorted(tables, key=lambda t: t.schema), key=lambda t: t.schema)
    ]
    html = render("index.html", groups=groups, version=__version__, base=str(request.base_url))
    return HTMLResponse(html)
