"""SODA 1.0 synchronous cutouts at ``/soda/sync``, with VOSI capabilities/availability.

A thin edge over :func:`datalab.images.cutout.cutout_fits`:

* ``ID``: the image's ``obs_publisher_did`` (from SIA 2.0 or DataLink) or its image id;
* the region: ``CIRCLE=ra dec r``, ``POLYGON=ra dec ...`` or ``POS=CIRCLE|RANGE|POLYGON
  ...`` (SODA 1.0 §3.3), exactly one of them; ``BAND=lo hi`` (metres) optionally;
* ``RESPONSEFORMAT``: ``application/fits`` (default: the cutout, a FITS image with its
  WCS) or ``image/png`` (a preview of the cutout, ``stretch=asinh|zscale``).

One value per parameter: a repeated one is refused with ``MultiValuedParamNotSupported``
(SODA 1.0 §3.2). A region or band that includes no pixel of the image answers 204 No
Content (SODA 1.0 §5.1); every other failure is a VOTable error document (DALI 1.1
§4.4.2) with a 4xx status, its message starting with a SODA 1.0 §5.2 error name.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from datalab.errors import DataLabError, UsageError
from datalab.images import ImageRecord
from datalab.images.cutout import CutoutRequest, cutout_fits
from datalab.images.preview import STRETCHES, preview_png
from datalab.sky import Polygon, Shape, intersects
from datalab.web import vosi
from datalab.web.context import Services, services
from datalab.web.datalink import (
    SODA_SYNC_ID,
    Capability,
    Urls,
    capabilities_document,
    error_response,
    image_id_from,
    xml_response,
)
from datalab.web.image_params import (
    parse_circle,
    parse_interval,
    parse_polygon,
    parse_pos,
    read_multi,
)

__all__ = ["router"]

router = APIRouter(prefix="/soda", tags=["SODA"])

_FITS = "application/fits"
_PNG = "image/png"
_FORMATS = {"application/fits": _FITS, "image/fits": _FITS, "fits": _FITS, "image/png": _PNG,
            "png": _PNG}  # fmt: skip
_KNOWN = ("id", "circle", "polygon", "pos", "band", "responseformat", "stretch")


class _MultiValued(UsageError):
    code = "multi_valued"


def _error(exc: DataLabError) -> Response:
    if isinstance(exc, _MultiValued):
        return error_response(exc, "MultiValuedParamNotSupported")
    prefix = {400: "UsageError", 403: "AuthorizationError", 404: "UsageError",
              503: "ServiceUnavailable"}.get(exc.status_code, "Error")  # fmt: skip
    return error_response(exc, prefix)


def _single(params: dict[str, list[str]]) -> dict[str, str]:
    out = {}
    for name in _KNOWN:
        values = params.get(name, [])
        if len(values) > 1:
            raise _MultiValued(f"{name.upper()} was given {len(values)} times; give it once")
        if values:
            out[name] = values[0]
    return out


def _region(values: dict[str, str]) -> Shape:
    given = [name for name in ("circle", "polygon", "pos") if values.get(name, "").strip()]
    if not given:
        raise UsageError("give the region to cut out: CIRCLE, POLYGON or POS")
    if len(given) > 1:
        raise UsageError(f"give one region, not {' and '.join(n.upper() for n in given)}")
    name = given[0]
    if name == "circle":
        return parse_circle(values[name])
    if name == "polygon":
        return parse_polygon(values[name])
    shape = parse_pos(values[name])
    if shape is None:
        raise UsageError("POS covers the whole sky: give a region the cutout can hold")
    return shape


def _overlaps(record: ImageRecord, region: Shape, band: tuple[float, float] | None) -> bool:
    """Whether the request can include any pixel of the image (else 204, SODA §5.1)."""
    if band is not None and record.em_min is not None and record.em_max is not None:
        if band[1] < record.em_min or band[0] > record.em_max:
            return False
    try:
        footprint = Polygon([(float(ra), float(dec)) for ra, dec in record.s_region])
        return intersects(region, footprint)  # type: ignore[arg-type]
    except (UsageError, ValueError, TypeError):
        return True  # an outline we cannot use: let the cutout decide


def _cut(svc: Services, values: dict[str, str]) -> tuple[bytes | None, str]:
    if not values.get("id", "").strip():
        raise UsageError("ID is required: an image's obs_publisher_did or image id")
    fmt_value = (values.get("responseformat") or _FITS).split(";")[0].strip().lower()
    media = _FORMATS.get(fmt_value)
    if media is None:
        raise UsageError(f"RESPONSEFORMAT={values['responseformat']!r}: use application/fits"
                         " or image/png")  # fmt: skip
    stretch = (values.get("stretch") or "asinh").strip().lower()
    if stretch not in STRETCHES:
        raise UsageError(f"stretch={stretch!r}: use one of {', '.join(STRETCHES)}")
    region = _region(values)
    band = parse_interval("BAND", values["band"]) if values.get("band", "").strip() else None
    image_id = image_id_from(values["id"])
    record = svc.images.get(image_id)
    path = svc.images.file(image_id)
    if not _overlaps(record, region, band):
        return None, media
    data = cutout_fits(
        path,
        CutoutRequest(region, band),
        hdus=[record.hdu],
        band_of=lambda header: (
            None if record.em_min is None or record.em_max is None
            else (record.em_min, record.em_max)
        ),
    )
    if media == _FITS:
        return data, media
    with tempfile.TemporaryDirectory(dir=svc.settings.paths().tmp) as tmp:
        cut = Path(tmp) / "cutout.fits"
        cut.write_bytes(data)
        return preview_png(cut, stretch=stretch), media


@router.api_route(
    "/sync",
    methods=["GET", "POST"],
    summary="SODA 1.0 cutout of an image (FITS, or PNG with RESPONSEFORMAT=image/png)",
    description="ID (obs_publisher_did or image id) and one of CIRCLE=ra dec r, "
    "POLYGON=ra dec ..., POS=CIRCLE|RANGE|POLYGON ...; BAND=lo hi (metres) optional.",
)
async def sync(request: Request, svc: Services = Depends(services)) -> Response:
    try:
        values = _single(await read_multi(request))
        data, media = await anyio.to_thread.run_sync(_cut, svc, values)
    except DataLabError as exc:
        return _error(exc)
    if data is None:
        return Response(status_code=204)
    name = "cutout.fits" if media == _FITS else "cutout.png"
    return Response(
        data, media_type=media, headers={"Content-Disposition": f'inline; filename="{name}"'}
    )


@router.get("/capabilities", summary="VOSI capabilities of the SODA service")
def capabilities(request: Request, svc: Services = Depends(services)) -> Response:
    base = Urls.of(request, svc).base
    caps = [Capability(SODA_SYNC_ID, f"{base}/soda/sync", "1.0")]
    return xml_response(capabilities_document(f"{base}/soda", caps))


@router.get("/availability", summary="VOSI availability of the SODA service")
def availability(svc: Services = Depends(services)) -> Response:
    return xml_response(vosi.availability_document(True, up_since=svc.started))
