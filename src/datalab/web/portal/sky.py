"""The sky viewer page: Aladin Lite over the server's own HiPS, with catalog overlays
and image discovery, all served from this machine (an air-gapped site works).

The page is public. Its script draws TAP results (``/tap/sync``) and, for a logged-in
user, their own portal query results (the query page's VOTable download) over the
sky. Two JSON routes serve it: ``/portal/api/sky/resolve`` turns a name or coordinates
into a position from the server's catalogs (never an outside name service), and
``/portal/api/sky/images`` lists the images at a position, from the image index that
SIA uses, with the addresses of their previews, files and cutouts.

A view is bookmarkable: ``/portal/sky?ra=&dec=&fov=&hips=`` (or ``?target=M45``), plus
``job=<id>`` to draw one of the user's query results.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from datalab.catalog.names import MAX_TEXT, resolve
from datalab.errors import NotFoundError, UsageError
from datalab.images import HipsInfo, ImageRecord, list_hips
from datalab.sky import Circle
from datalab.web.context import Services, services
from datalab.web.portal.pages import page
from datalab.web.portal.session import current_user

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

SVC = Annotated[Services, Depends(services)]
MaybeUser = Annotated[str | None, Depends(current_user)]

# The most images one search lists: a position is covered by a handful in practice.
MAX_IMAGES = 100
# The largest search radius (degrees): image discovery is about one place.
MAX_RADIUS = 10.0
# A search at a point (radius 0) is a circle this small (degrees).
_POINT = 1e-7
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _angle(name: str, text: str | None, low: float, high: float) -> float | None:
    """A number from the query string within [low, high]; UsageError naming it else."""
    if text is None or text.strip() == "":
        return None
    if len(text) > 40:
        raise UsageError(f"{name} is too long to be a number of degrees")
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{name} must be a number of degrees, not {text[:40]!r}") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise UsageError(f"{name} must be from {low:g} to {high:g} degrees, not {text[:40]}")
    return value


def _hips_json(info: HipsInfo) -> dict[str, Any]:
    return {
        "id": info.hips_id,
        "title": info.title,
        "bands": list(info.bands),
        "initial_ra": info.initial_ra,
        "initial_dec": info.initial_dec,
        "initial_fov": info.initial_fov,
    }


@router.get(
    "/portal/sky",
    response_class=HTMLResponse,
    summary="Sky viewer",
    description="The server's images as HiPS in Aladin Lite, with catalog overlays and "
    "image discovery. ra, dec, fov (degrees) and hips set the view; target names an "
    "object to go to; job draws one of the user's query results.",
)
def sky_page(
    request: Request,
    svc: SVC,
    user: MaybeUser,
    ra: str | None = None,
    dec: str | None = None,
    fov: str | None = None,
    hips: str | None = None,
    target: str | None = None,
    job: str | None = None,
) -> Response:
    view_ra = _angle("ra", ra, 0.0, 360.0)
    view_dec = _angle("dec", dec, -90.0, 90.0)
    view_fov = _angle("fov", fov, 1e-4, 180.0)
    if (view_ra is None) != (view_dec is None):
        raise UsageError("give both ra and dec, or neither")
    if target is not None and len(target) > MAX_TEXT:
        raise UsageError(f"target is {len(target):,} characters long; the limit is {MAX_TEXT}")
    if job is not None and not _JOB_ID.fullmatch(job):
        raise NotFoundError("no such query")
    surveys = list_hips(svc.settings.paths().hips)
    if hips is not None and hips not in {s.hips_id for s in surveys}:
        shown = hips if len(hips) <= 40 else hips[:37] + "..."
        raise NotFoundError(f"there is no HiPS survey {shown!r} on this server")
    config = {
        "hips": [_hips_json(s) for s in surveys],
        "view": {
            "ra": view_ra,
            "dec": view_dec,
            "fov": view_fov,
            "hips": hips,
            "target": target,
        },
        "job": job,
        "user": user,
    }
    return page(request, "sky.html", user=user, section="sky", title="Sky", config=config,
                surveys=surveys)  # fmt: skip


@router.get("/portal/api/sky/resolve", summary="Where a name or coordinates point")
def resolve_name(svc: SVC, name: str = "") -> dict[str, Any]:
    """A name from the server's own catalogs (M45, NGC 1976, HIP 17702, Pleiades) or
    coordinates in degrees or sexagesimal: the position, what it was found as, and a
    field of view that shows the object. 404 for an unknown name."""
    place = resolve(svc.engine, name)
    return {"ra": place.ra, "dec": place.dec, "name": place.name, "source": place.source,
            "fov": place.fov}  # fmt: skip


def _image_json(record: ImageRecord) -> dict[str, Any]:
    image_id = record.image_id
    return {
        "id": image_id,
        "obs_id": record.obs_id,
        "target": record.target_name,
        "collection": record.obs_collection,
        "band": record.band,
        "exptime": record.t_exptime,
        "proctype": record.proctype,
        "prodtype": record.prodtype,
        "dataproduct_type": record.dataproduct_type,
        "ra": record.s_ra,
        "dec": record.s_dec,
        "fov": record.s_fov,
        "pixels": [record.s_xel1, record.s_xel2],
        "file_url": f"/images/{image_id}",
        "preview_url": f"/images/{image_id}/preview.png",
        "size_kb": record.access_estsize,
    }


@router.get("/portal/api/sky/images", summary="The images at a position")
async def images_at(
    svc: SVC, ra: str | None = None, dec: str | None = None, radius: str | None = None
) -> dict[str, Any]:
    """The images covering (ra, dec), or reaching within ``radius`` degrees of it: the
    same search as SIA 2.0's POS=CIRCLE, from the image index directly."""
    centre_ra = _angle("ra", ra, 0.0, 360.0)
    centre_dec = _angle("dec", dec, -90.0, 90.0)
    if centre_ra is None or centre_dec is None:
        raise UsageError("give ra and dec in degrees")
    reach = _angle("radius", radius, 0.0, MAX_RADIUS) or 0.0
    region = Circle(centre_ra, centre_dec, max(reach, _POINT))

    def search() -> list[ImageRecord]:
        return svc.images.search(region, maxrec=MAX_IMAGES + 1)

    found = await anyio.to_thread.run_sync(search)
    found.sort(key=lambda r: (r.proctype != "Stacked", r.em_min or math.inf, -(r.t_exptime or 0.0)))
    return {
        "ra": centre_ra,
        "dec": centre_dec,
        "radius": reach,
        "images": [_image_json(r) for r in found[:MAX_IMAGES]],
        "overflow": len(found) > MAX_IMAGES,
    }
