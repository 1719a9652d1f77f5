"""Plots of a portal query's result: the page with the plot form, and the images.

The page lists the result's numeric columns for the axes; the image route draws with
:mod:`datalab.plots` from the query's Parquet result and keeps each rendering in the
job's directory, so showing a plot and then downloading it draws it once.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from datalab.plots import (
    BINS_RANGE,
    GRIDSIZE_RANGE,
    PlotCache,
    PlotKind,
    PlotSpec,
    Projection,
    ResultColumns,
    choose_axes,
    describe_result,
    parse_spec,
)
from datalab.web.context import Services, services
from datalab.web.portal.pages import page
from datalab.web.portal.results import portal_job, result_file
from datalab.web.portal.session import PortalUser

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

SVC = Annotated[Services, Depends(services)]
# Folder of a job's directory that keeps its rendered plots.
PLOT_DIR = "plots"
# An SVG opened on its own is a document: it may show its embedded raster and use its
# own style sheet, nothing else (matplotlib's SVGs need no more).
_IMAGE_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
# The kinds as the form names them, in the order it offers them.
_KIND_NAMES = {
    PlotKind.HEXBIN: "Density (hexagonal bins)",
    PlotKind.SCATTER: "Scatter",
    PlotKind.HISTOGRAM: "Histogram",
    PlotKind.SKY: "Sky (RA, Dec)",
}


def _defaults(info: ResultColumns) -> dict[str, str]:
    """The form's first plot: a density plot of the first two non-position columns
    when there are two, else a histogram; the sky columns found by UCD or name."""
    kind = PlotKind.HEXBIN if len(info.numeric) >= 2 else PlotKind.HISTOGRAM
    x, y = choose_axes(info, PlotSpec(kind=kind))
    pair = info.sky_pair()
    return {
        "kind": kind.value,
        "x": x.name,
        "y": y.name if y is not None else "",
        "ra": pair[0].name if pair else "",
        "dec": pair[1].name if pair else "",
    }


def _first_plot(defaults: dict[str, str]) -> dict[str, str]:
    """The parameters the page's script sends for the form as first shown (the
    download links carry them before the script runs)."""
    if not defaults:
        return {}
    hexbin = defaults["kind"] == PlotKind.HEXBIN.value
    shown = {"kind": defaults["kind"], "x": defaults["x"], "trim": "1",
             "log": "1" if hexbin else "0"}
    if hexbin:
        shown.update(y=defaults["y"], gridsize=str(PlotSpec().gridsize))
    else:
        shown["bins"] = str(PlotSpec().bins)
    return shown


@router.get(
    "/portal/plot/{job_id}",
    response_class=HTMLResponse,
    summary="Plot a query result",
    description="Histograms, scatter and density plots, and sky maps of one of your "
    "portal queries' results, with PNG and SVG downloads.",
)
def plot_page(request: Request, svc: SVC, user: PortalUser, job_id: str) -> Response:
    job = portal_job(svc, user, job_id)
    info = describe_result(result_file(svc, user, job_id))
    api = f"/portal/api/queries/{job.job_id}/plot"
    defaults = _defaults(info) if info.numeric else {}
    first = _first_plot(defaults)
    return page(
        request,
        "plot.html",
        user=user,
        section="query",
        title="Plot",
        job_id=job.job_id,
        query=job.parameters.get("query", ""),
        info=info,
        defaults=defaults,
        kinds=list(_KIND_NAMES.items()),
        projections=[(p.value, p.value.capitalize()) for p in Projection],
        bins_range=BINS_RANGE,
        gridsize_range=GRIDSIZE_RANGE,
        spec=PlotSpec(),
        api=api,
        png_href=f"{api}?{urlencode({**first, 'format': 'png', 'download': '1'})}",
        svg_href=f"{api}?{urlencode({**first, 'format': 'svg', 'download': '1'})}",
    )


def _header_text(text: str) -> str:
    """Text for a response header, which must be Latin-1: percent-encoded UTF-8."""
    return quote(text, safe=" ,;:()[]'")


@router.get(
    "/portal/api/queries/{job_id}/plot",
    summary="Image of a plot of a query result",
    description="PNG or SVG of a histogram, scatter plot, hexagonal-bin density plot or "
    "Aitoff/Mollweide sky map of the columns of one of your portal queries. Parameters: "
    "kind (histogram|scatter|hexbin|sky), x, y (column names; sky: RA and Dec, found by "
    "UCD when omitted), bins, gridsize, log, trim, yflip, xmin, xmax, ymin, ymax, "
    "projection (aitoff|mollweide), format (png|svg), download (1: as an attachment). "
    "The headers X-Plot-Title and X-Plot-Caption (percent-encoded) describe the image.",
)
def plot_image(
    request: Request,
    svc: SVC,
    user: PortalUser,
    job_id: str,
    download: Annotated[bool, Query(description="send as an attachment")] = False,
) -> Response:
    path = result_file(svc, user, job_id)
    spec = parse_spec(dict(request.query_params))
    plot = PlotCache(svc.jobs.job_dir(job_id) / PLOT_DIR, path).plot(spec)
    filename = f"plot-{job_id}-{spec.kind.value}.{spec.format.value}"
    disposition = "attachment" if download else "inline"
    return Response(
        plot.content,
        media_type=plot.media_type,
        headers={
            "Content-Disposition": f'{disposition}; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": _IMAGE_POLICY,
            "X-Plot-Title": _header_text(plot.title),
            "X-Plot-Caption": _header_text(plot.caption),
        },
    )
