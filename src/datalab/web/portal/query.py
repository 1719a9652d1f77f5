"""The query page: an ADQL editor, the job monitor, the result's rows, downloads and
saving. The page itself is rendered here; everything it does afterwards goes through
the JSON routes of :mod:`datalab.web.portal.query_api`. This module's router also
carries those routes and the schema browser's (:mod:`datalab.web.portal.tables`),
whose tables open here: the portal joins the three as one section.

The editor starts with text the server chose: the starter query of a table
(``?table=schema.table``), a query given as text (``?q=``), or the query of one of the
user's earlier portal queries (``?job=<id>``), which the page then shows again.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from datalab.errors import UsageError
from datalab.web.context import Services, services
from datalab.web.portal import query_api, tables
from datalab.web.portal.pages import page
from datalab.web.portal.query_api import (
    DEFAULT_LIMIT,
    DOWNLOADS,
    MAX_QUERY_CHARS,
    job_json,
    query_job,
)
from datalab.web.portal.session import PortalUser

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get(
    "/portal/query",
    response_class=HTMLResponse,
    summary="Query page",
    description="Write and run ADQL queries, browse, download and save their results.",
)
def query_page(
    request: Request,
    svc: Annotated[Services, Depends(services)],
    user: PortalUser,
    table: str | None = None,
    q: str | None = None,
    job: str | None = None,
) -> Response:
    text = ""
    shown = None
    if job is not None:
        shown = job_json(query_job(svc, user, job))
        text = shown["query"]
    elif table is not None:
        text = tables.starter_query(tables.find_table(tables.visible_tables(svc, user), table))
    elif q is not None:
        if len(q) > MAX_QUERY_CHARS:
            raise UsageError(
                f"the query is {len(q):,} characters long; the limit is {MAX_QUERY_CHARS:,}"
            )
        text = q
    hard = svc.settings.tap_hard_maxrec
    return page(
        request,
        "query.html",
        user=user,
        section="query",
        title="Query",
        text=text,
        job_id=shown["id"] if shown else "",
        limit=shown["limit"] if shown and shown["limit"] else min(DEFAULT_LIMIT, hard),
        hard_limit=hard,
        formats=[(key, label) for key, (_, label) in DOWNLOADS.items()],
    )


router.include_router(tables.router)
router.include_router(query_api.router)
