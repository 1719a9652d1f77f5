"""The web portal: pages for people, on the same domain code as the protocols.

Each section is its own router module; this package joins them. Pages live under
``/portal/`` (the front page at ``/``), the JSON the pages' scripts call under
``/portal/api/``, and the static assets under ``/static/``.
"""

from __future__ import annotations

from fastapi import APIRouter

from datalab.web.portal import account, home
from datalab.web.portal import query
from datalab.web.portal import files, mydb
from datalab.web.portal import plots
from datalab.web.portal import sky

__all__ = ["router"]

router = APIRouter()
router.include_router(home.router)
router.include_router(account.router)
router.include_router(mydb.router)
router.include_router(files.router)
router.include_router(query.router)
router.include_router(plots.router)
router.include_router(sky.router)
