"""HiPS surveys of the server's images, and Aladin Lite served without a CDN.

* ``/hips/`` lists the HiPS in JSON (id, title, bands, URLs, initial view);
  ``/hips/list`` is the same in the HiPS 1.0 list format (§4.5) for HiPS clients.
* ``/hips/{id}/properties``, ``/hips/{id}/Moc.fits`` and
  ``/hips/{id}/Norder{k}/Dir{d}/Npix{n}.png|fits`` are the files of one HiPS.
  Only these names are served, parsed into numbers and rebuilt, so no request path
  reaches the file system as sent; a tile never written (empty sky) is a 404.
* ``/static/vendor/aladin-lite/{file}`` serves the files of the ``aladin-lite``
  npm package's ``dist/`` from the ``node_modules`` setting's folder (by default
  the ``node_modules/`` of the checkout the package runs from).

Everything is public, as the images are. HiPS answers carry
``Access-Control-Allow-Origin: *`` so that viewers on other sites can use the
tiles; tiles and properties carry an ETag and Last-Modified and answer 304 to a
matching conditional request, and may be cached for an hour (a new ingest can
rebuild them).
"""

from __future__ import annotations

import mimetypes
import re
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response

from datalab.errors import DataLabError, NotFoundError
from datalab.images import HipsInfo, hips_file, list_hips, tile_file
from datalab.notebooks.locate import source_tree
from datalab.web.context import Services, services
from datalab.web.errors import error_envelope

__all__ = ["router"]

router = APIRouter(tags=["HiPS"])

_CORS = {"Access-Control-Allow-Origin": "*"}
_HIPS_CACHE = "public, max-age=3600"
_VENDOR_CACHE = "public, max-age=86400"
_ORDER = re.compile(r"Norder([0-9]{1,2})")
_DIR = re.compile(r"Dir([0-9]{1,20})")
_NPIX = re.compile(r"Npix([0-9]{1,20})\.(png|fits)")
_VENDOR_PART = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
_MEDIA = {
    ".png": "image/png",
    ".fits": "application/fits",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".wasm": "application/wasm",
    ".css": "text/css; charset=utf-8",
    ".map": "application/json",
    ".json": "application/json",
    ".svg": "image/svg+xml",
}
_INSTALL_HINT = (
    "Aladin Lite is not installed on this server: run `npm ci` in the Data Lab checkout "
    "(./scripts/serve does it), or set node_modules (DATALAB_NODE_MODULES) to a folder "
    "holding aladin-lite/"
)

Svc = Annotated[Services, Depends(services)]


def _base(request: Request, svc: Services) -> str:
    return (svc.settings.base_url or str(request.base_url)).rstrip("/")


def _hips_dir(svc: Services) -> Path:
    return svc.settings.paths().hips


def _error(exc: DataLabError) -> JSONResponse:
    """The JSON error envelope, with CORS so that a viewer elsewhere can read it."""
    body = error_envelope(exc.code, exc.message, exc.detail)
    return JSONResponse(body, status_code=exc.status_code, headers=_CORS)


def _not_modified(request: Request, response: FileResponse) -> bool:
    """Whether a conditional GET already holds this file (RFC 9110 §13.1)."""
    tags = request.headers.get("if-none-match")
    if tags is not None:
        etag = response.headers.get("etag", "")
        wanted = {t.strip().removeprefix("W/") for t in tags.split(",")}
        return etag in wanted or "*" in wanted
    since = request.headers.get("if-modified-since")
    if since is None:
        return False
    try:
        modified = parsedate_to_datetime(response.headers["last-modified"])
        return modified <= parsedate_to_datetime(since)
    except (TypeError, ValueError, KeyError):
        return False


def _file(request: Request, path: Path, media_type: str, cache: str, cors: bool) -> Response:
    headers = {"Cache-Control": cache, **(_CORS if cors else {})}
    try:
        stat = path.stat()
    except OSError:
        return _error(NotFoundError(f"no such file: {path.name}"))
    # The stat given here (not looked up while sending) puts ETag and Last-Modified on
    # the response now, so that a conditional request can be answered before sending.
    response = FileResponse(path, media_type=media_type, headers=headers, stat_result=stat)
    if _not_modified(request, response):
        kept = {k: v for k, v in response.headers.items() if k in ("etag", "last-modified")}
        return Response(status_code=304, headers={**headers, **kept})
    return response


def _entry(info: HipsInfo, base: str) -> dict[str, object]:
    url = f"{base}/hips/{info.hips_id}"
    return {
        "id": info.hips_id,
        "title": info.title,
        "bands": list(info.bands),
        "url": url,
        "properties_url": f"{url}/properties",
        "moc_url": f"{url}/Moc.fits" if (info.directory / "Moc.fits").is_file() else None,
        "creator_did": info.properties.get("creator_did"),
        "frame": info.properties.get("hips_frame", "equatorial"),
        "order": info.order,
        "tile_width": info.tile_width,
        "tile_formats": list(info.tile_formats),
        "initial_ra": info.initial_ra,
        "initial_dec": info.initial_dec,
        "initial_fov": info.initial_fov,
        "description": info.properties.get("obs_description"),
        "release_date": info.properties.get("hips_release_date"),
    }


@router.get(
    "/hips/",
    summary="The HiPS surveys of this server's images (JSON)",
    description="One HiPS per band of the indexed images, and a colour one when three "
    "bands are known: id, title, bands, URL (give it to a HiPS viewer such as Aladin "
    "Lite), initial position and field. Built by `datalab images ingest`.",
)
def hips_index(request: Request, svc: Svc) -> JSONResponse:
    base = _base(request, svc)
    entries = [_entry(info, base) for info in list_hips(_hips_dir(svc))]
    return JSONResponse({"hips": entries}, headers=_CORS)


@router.get(
    "/hips/list",
    summary="The HiPS surveys in the HiPS 1.0 list format",
    description="Each HiPS's properties plus hips_service_url, separated by blank lines "
    "(IVOA HiPS 1.0 §4.5), for clients that read HiPS lists.",
    response_class=PlainTextResponse,
)
def hips_list(request: Request, svc: Svc) -> PlainTextResponse:
    base = _base(request, svc)
    blocks = []
    for info in list_hips(_hips_dir(svc)):
        lines = [f"{key:<22}= {value}" for key, value in info.properties.items()]
        lines.append(f"{'hips_service_url':<22}= {base}/hips/{info.hips_id}")
        blocks.append("\n".join(lines))
    return PlainTextResponse("\n\n".join(blocks) + "\n", headers=_CORS)


@router.api_route(
    "/hips/{hips_id}/properties",
    methods=["GET", "HEAD"],
    summary="The properties file of a HiPS",
    response_class=PlainTextResponse,
)
def properties(request: Request, hips_id: str, svc: Svc) -> Response:
    try:
        path = hips_file(_hips_dir(svc), hips_id, "properties")
    except DataLabError as exc:
        return _error(exc)
    return _file(request, path, "text/plain; charset=utf-8", _HIPS_CACHE, cors=True)


@router.api_route(
    "/hips/{hips_id}/Moc.fits",
    methods=["GET", "HEAD"],
    summary="The sky coverage of a HiPS (MOC 2.0, FITS)",
)
def moc(request: Request, hips_id: str, svc: Svc) -> Response:
    try:
        path = hips_file(_hips_dir(svc), hips_id, "Moc.fits")
    except DataLabError as exc:
        return _error(exc)
    return _file(request, path, "application/fits", _HIPS_CACHE, cors=True)


@router.api_route(
    "/hips/{hips_id}/{norder}/{folder}/{name}",
    methods=["GET", "HEAD"],
    summary="A HiPS tile: Norder{k}/Dir{d}/Npix{n}.png or .fits",
    description="404 for a tile that holds no image (those are not written).",
)
def tile(request: Request, hips_id: str, norder: str, folder: str, name: str, svc: Svc) -> Response:
    try:
        order_match, dir_match = _ORDER.fullmatch(norder), _DIR.fullmatch(folder)
        npix_match = _NPIX.fullmatch(name)
        if order_match is None or dir_match is None or npix_match is None:
            raise NotFoundError(f"no such HiPS file: {norder}/{folder}/{name}")
        order, npix = int(order_match.group(1)), int(npix_match.group(1))
        if int(dir_match.group(1)) != npix // 10000 * 10000:
            raise NotFoundError(f"tile Npix{npix} is in Dir{npix // 10000 * 10000}")
        ext = npix_match.group(2)
        path = tile_file(_hips_dir(svc), hips_id, order, npix, ext)
    except DataLabError as exc:
        return _error(exc)
    return _file(request, path, _MEDIA["." + ext], _HIPS_CACHE, cors=True)


def _node_modules(svc: Services) -> Path | None:
    """The ``node_modules`` setting, else that of the checkout this package runs
    from (``<checkout>/src/datalab``, as ``pip install -e`` leaves it)."""
    if svc.settings.node_modules is not None:
        return svc.settings.node_modules.expanduser().absolute()
    checkout = source_tree()
    return None if checkout is None else checkout / "node_modules"


@router.api_route(
    "/static/vendor/aladin-lite/{name:path}",
    methods=["GET", "HEAD"],
    summary="Aladin Lite (the aladin-lite npm package's dist/ files), served locally",
    description="aladin.js is an ES module holding its WebAssembly core; no CDN needed. "
    "404 naming the install command when the package is not installed.",
)
def aladin_lite(request: Request, name: str, svc: Svc) -> Response:
    try:
        modules = _node_modules(svc)
        dist = modules / "aladin-lite" / "dist" if modules is not None else None
        if dist is None or not (dist / "aladin.js").is_file():
            raise NotFoundError(_INSTALL_HINT)
        parts = name.split("/")
        if not all(_VENDOR_PART.fullmatch(p) and ".." not in p for p in parts):
            raise NotFoundError(f"aladin-lite has no file {name!r}")
        root = dist.resolve()
        path = root.joinpath(*parts).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            raise NotFoundError(f"aladin-lite has no file {name!r}")
    except DataLabError as exc:
        return _error(exc)
    media = (
        _MEDIA.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    )
    return _file(request, path, media, _VENDOR_CACHE, cors=False)
