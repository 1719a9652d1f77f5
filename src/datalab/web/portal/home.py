"""The portal's front page: what this server holds, schema by schema."""

from __future__ import annotations

from itertools import groupby
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from datalab.web.context import Services, services
from datalab.web.portal.pages import page
from datalab.web.portal.session import current_user

router = APIRouter()


@router.get(
    "/",
    response_class=HTMLResponse,
    summary="Landing page",
    description="The schemas and tables this server holds, with their documentation.",
)
def home(
    request: Request,
    svc: Annotated[Services, Depends(services)],
    user: Annotated[str | None, Depends(current_user)],
) -> Response:
    schemas = {s.name: s for s in svc.engine.schemas()}
    tables = [t for t in svc.engine.tables() if t.schema != "tap_schema"]
    groups = [
        (schemas.get(name), name, list(items))
        for name, items in groupby(sorted(tables, key=lambda t: t.schema), key=lambda t: t.schema)
    ]
    return page(request, "home.html", user=user, section="home", groups=groups,
                base=str(request.base_url))
