"""DataLink 1.1 ``/datalink/links``, the image files it points to, and the VOTable
plumbing the image services share.

* ``/datalink/links?ID=…`` (DataLink 1.1 §2, §3): for each ID a ``#this`` row (the
  FITS file), a ``#preview`` row (a PNG) and a ``#cutout`` row whose ``service_def``
  names a SODA service descriptor RESOURCE (DataLink 1.1 §4) in the same document;
  an unknown ID gives one ``#this`` row with a ``NotFoundFault`` error_message.
* ``/images/{image_id}`` serves the FITS file (HTTP Range works) and
  ``/images/{image_id}/preview.png`` a PNG of it; an id that names no image of the
  index — a path, dots, an absolute name — is a 404 VOTable error, nothing is read.

IDs are the ``obs_publisher_did`` of SIA 2.0 results (``ivo://datalab.local/images?<id>``)
or the bare image id. The shared helpers (:class:`Column`, :func:`table_response`,
:func:`capabilities_document`, :func:`error_response`) keep the three image routers
(``sia``, ``soda`` and this one) writing the same documents in the same way.
"""

from __future__ import annotations

import re
from urllib.parse import quote
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import anyio
import pyarrow as pa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response

from datalab.errors import DataLabError, NotFoundError, UsageError
from datalab.formats import FieldMeta
from datalab.formats.results import ResultFormat, ResultInfo, encode_result, resolve_format
from datalab.formats.votable_writer import votable_error_document
from datalab.images import PUBLISHER_DID_PREFIX, ImageRecord

from datalab.images.preview import STRETCHES, preview_png
from datalab.web import vosi
from datalab.web.context import Services, services
from datalab.web.image_params import read_multi
from datalab.web.vo_xml import VOSI_CAPABILITIES, VR, VS, XSI, element, qname, serialize

__all__ = [
    "Column",
    "Urls",
    "capabilities_document",
    "error_response",
    "image_id_from",
    "publisher_did",
    "router",
    "soda_descriptor",
    "table_response",
]

router = APIRouter(tags=["DataLink"])

VOTABLE = "application/x-votable+xml"
DATALINK_MIME = "application/x-votable+xml;content=datalink"
DATALINK_ID = "ivo://ivoa.net/std/DataLink#links-1.1"
SODA_SYNC_ID = "ivo://ivoa.net/std/SODA#sync-1.0"
DID_PREFIX = PUBLISHER_DID_PREFIX
_MAX_IDS = 100
_IMAGE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,199}")


# -- identifiers and URLs -----------------------------------------------------------


def publisher_did(record: ImageRecord) -> str:
    """The image's ``obs_publisher_did``: an IVOID naming it at this site."""
    return record.obs_publisher_did


def image_id_from(value: str) -> str:
    """The image id an ID value names (a publisher DID or a bare id), or NotFoundError.

    Only the characters image ids are made of get through: anything that could be read
    as a path (slashes, ``..``, a leading dot, NUL) names no image.
    """
    text = value.strip()
    if text[: len(DID_PREFIX)].lower() == DID_PREFIX.lower():
        text = text[len(DID_PREFIX) :]
    if not _IMAGE_ID.fullmatch(text) or ".." in text:
        shown = value if len(value) <= 120 else value[:120] + "…"
        raise NotFoundError(f"no image {shown!r}")
    return text


@dataclass(frozen=True)
class Urls:
    """Absolute URLs of this server's image resources."""

    base: str  # without a trailing slash

    @classmethod
    def of(cls, request: Request, svc: Services) -> Urls:
        return cls((svc.settings.base_url or str(request.base_url)).rstrip("/"))

    def file(self, image_id: str) -> str:
        return f"{self.base}/images/{image_id}"

    def preview(self, image_id: str) -> str:
        return f"{self.base}/images/{image_id}/preview.png"

    def links(self, record: ImageRecord) -> str:
        return f"{self.base}/datalink/links?ID={quote(publisher_did(record), safe='')}"


# -- errors ----------------------------------------------------------------------------


def error_response(exc: DataLabError, prefix: str | None = None) -> Response:
    """A DALI 1.1 §4.4.2 VOTable error document with the error's 4xx/5xx status.

    ``prefix`` is the protocol's fault name (``UsageFault``, ``NotFoundFault``…); by
    default it is chosen from the error's kind, as SIA 2.0 §4.2 and DataLink §3.3 ask.
    """
    if prefix is None:
        prefix = {400: "UsageFault", 404: "NotFoundFault", 503: "TransientFault"}.get(
            exc.status_code, "FatalFault" if exc.status_code >= 500 else "UsageFault"
        )
    return Response(
        votable_error_document(f"{prefix}: {exc.message}"),
        status_code=exc.status_code,
        media_type=VOTABLE,
    )


# -- result tables -----------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of a result table: its Arrow type, VOTable metadata and value."""

    meta: FieldMeta
    type: pa.DataType
    value: Callable[[Any], Any]
    xml_id: str | None = None  # an ID attribute, for service descriptors to ref


def _batch(columns: Sequence[Column], rows: Iterable[Any]) -> pa.RecordBatch:
    items = list(rows)
    arrays = [pa.array([c.value(row) for row in items], type=c.type) for c in columns]
    return pa.RecordBatch.from_arrays(arrays, names=[c.meta.name for c in columns])


def param_xml(
    name: str,
    value: str = "",
    *,
    datatype: str = "char",
    arraysize: str | None = "*",
    ucd: str | None = None,
    unit: str | None = None,
    xtype: str | None = None,
    ref: str | None = None,
    description: str | None = None,
    values: str = "",
) -> str:
    attrs = {
        "name": name,
        "datatype": datatype,
        "arraysize": arraysize,
        "ucd": ucd,
        "unit": unit,
        "xtype": xtype,
        "ref": ref,
        "value": value,
    }
    head = "<PARAM " + " ".join(f"{k}={quoteattr(v)}" for k, v in attrs.items() if v is not None)
    inner = f"<DESCRIPTION>{escape(description)}</DESCRIPTION>" if description else ""
    inner += values
    return f"{head}>{inner}</PARAM>\n" if inner else f"{head}/>\n"


def table_response(
    columns: Sequence[Column],
    rows: Iterable[Any],
    *,
    fmt: ResultFormat | None = None,
    info: ResultInfo | None = None,
    overflow: bool = False,
    params: str = "",
    resources: str = "",
    media_type: str | None = None,
) -> Response:
    """The rows as a result document; for VOTable, with ``params`` (PARAM elements of
    the results RESOURCE), ``resources`` (more RESOURCEs, e.g. service descriptors) and
    the ``ID`` attributes of columns that have one."""
    fmt = fmt or resolve_format(None)
    schema_batch = _batch(columns, rows)
    fields = [c.meta for c in columns]
    chunks = encode_result(
        fmt,
        schema_batch.schema,
        fields,
        [schema_batch],
        info or ResultInfo(),
        overflow=lambda: overflow,
    )
    body = b"".join(chunks)
    if fmt.name.startswith("votable"):
        text = body.decode()
        for column in columns:
            if column.xml_id:
                name = quoteattr(column.meta.name)
                text = text.replace(
                    f"<FIELD name={name}", f"<FIELD ID={quoteattr(column.xml_id)} name={name}", 1
                )
        if params:
            at = text.index("<TABLE")
            text = text[:at] + params + text[at:]
        if resources:
            at = text.rindex("</VOTABLE>")
            text = text[:at] + resources + text[at:]
        body = text.encode()
    return Response(body, media_type=media_type or fmt.mime_type)


def soda_descriptor(base: str, *, ref: str | None, record: ImageRecord | None = None) -> str:
    """A DataLink service descriptor RESOURCE for the SODA cutout service.

    With ``ref`` the ID comes from the column of that XML ID; the spatial parameters
    carry the image's bounds as VALUES/MAX (SODA 1.0 §4.2) when ``record`` is given.
    """
    circle_max = polygon_max = ""
    if record is not None:
        circle_max = (
            f'<VALUES><MAX value="{record.s_ra!r} {record.s_dec!r} {record.s_fov / 2!r}"/></VALUES>'
        )
        corners = " ".join(f"{ra!r} {dec!r}" for ra, dec in record.s_region)
        polygon_max = f'<VALUES><MAX value="{corners}"/></VALUES>'
    id_param = (
        param_xml("ID", ref=ref, ucd="meta.id;meta.main")
        if ref
        else param_xml("ID", publisher_did(record) if record else "", ucd="meta.id;meta.main")
    )
    return (
        '<RESOURCE type="meta" utype="adhoc:service" ID="soda" name="cutout">\n'
        "<DESCRIPTION>Cut a sky region out of the image (SODA 1.0 sync); the result is a"
        " FITS image with its WCS. RESPONSEFORMAT=image/png gives a preview of the"
        " cutout.</DESCRIPTION>\n"
        + param_xml("standardID", SODA_SYNC_ID)
        + param_xml("accessURL", f"{base}/soda/sync")
        + param_xml("contentType", "application/fits")
        + '<GROUP name="inputParams">\n'
        + id_param
        + param_xml(
            "CIRCLE",
            datatype="double",
            arraysize="3",
            xtype="circle",
            unit="deg",
            ucd="pos.outline;obs",
            description="A circle (ra dec radius, degrees) the cutout must contain",
            values=circle_max,
        )
        + param_xml(
            "POLYGON",
            datatype="double",
            arraysize="*",
            xtype="polygon",
            unit="deg",
            ucd="pos.outline;obs",
            description="A polygon (ra dec ..., degrees) the cutout must contain",
            values=polygon_max,
        )
        + param_xml(
            "POS",
            ucd="pos.outline;obs",
            description="CIRCLE ra dec r, RANGE ra1 ra2 dec1 dec2 or POLYGON ra dec ...",
        )
        + param_xml(
            "BAND",
            datatype="double",
            arraysize="2",
            xtype="interval",
            unit="m",
            ucd="em.wl;stat.interval",
            description="Wavelength interval (metres) the cutout must overlap",
        )
        + param_xml(
            "RESPONSEFORMAT",
            "application/fits",
            description="application/fits (the cutout) or image/png (a preview of it)",
            values='<VALUES><OPTION value="application/fits"/><OPTION value="image/png"/></VALUES>',
        )
        + "</GROUP>\n</RESOURCE>\n"
    )


# -- VOSI -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Capability:
    standard_id: str
    url: str
    version: str
    use: str = "full"
    extra: dict[str, str] = field(default_factory=dict)


def capabilities_document(service: str, caps: Sequence[Capability]) -> bytes:
    """A VOSI 1.1 capabilities document: the service's capabilities, then its VOSI ones.

    The capability elements are plain ``vr:Capability``s with ``vs:ParamHTTP``
    interfaces (SIA 2.0 §2.4 shows this minimal form), so the document validates
    against VOResource and VODataService alone.
    """
    root = element(None, qname(VOSI_CAPABILITIES, "capabilities"))
    all_caps = [
        *caps,
        Capability(vosi.VOSI_CAPABILITIES_ID, f"{service}/capabilities", "1.0"),
        Capability(vosi.VOSI_AVAILABILITY_ID, f"{service}/availability", "1.0"),
    ]
    for cap in all_caps:
        node = element(root, "capability", attrib={"standardID": cap.standard_id})
        interface = element(
            node,
            "interface",
            attrib={qname(XSI, "type"): "vs:ParamHTTP", "role": "std", "version": cap.version},
        )
        element(interface, "accessURL", cap.url, {"use": cap.use})
        if "result" in cap.extra:
            element(interface, "resultType", cap.extra["result"])
    return serialize(root, {"vosi": VOSI_CAPABILITIES, "vr": VR, "vs": VS, "xsi": XSI})


def xml_response(body: bytes) -> Response:
    return Response(body, media_type="text/xml")


# -- the links -----------------------------------------------------------------------------


_LINK_COLUMNS = (
    Column(FieldMeta("ID", "Input identifier", ucd="meta.id;meta.main"), pa.string(),
           lambda r: r[0], xml_id="ID"),
    Column(FieldMeta("access_url", "Link to data or service", ucd="meta.ref.url"),
           pa.string(), lambda r: r[1]),
    Column(FieldMeta("service_def", "Reference to a service descriptor", ucd="meta.ref"),
           pa.string(), lambda r: r[2]),
    Column(FieldMeta("error_message", "Why no link could be made", ucd="meta.code.error"),
           pa.string(), lambda r: r[3]),
    Column(FieldMeta("description", "What the link gives", ucd="meta.note"),
           pa.string(), lambda r: r[4]),
    Column(FieldMeta("semantics", "What the link is to the dataset", ucd="meta.code"),
           pa.string(), lambda r: r[5]),
    Column(FieldMeta("content_type", "Media type of the link's content", ucd="meta.code.mime"),
           pa.string(), lambda r: r[6]),
    Column(FieldMeta("content_length", "Size of the download", unit="byte",
                     ucd="phys.size;meta.file"), pa.int64(), lambda r: r[7]),
)  # fmt: skip

LinkRow = tuple[str, str | None, str | None, str | None, str | None, str, str | None, int | None]


def _links_for(svc: Services, urls: Urls, value: str) -> list[LinkRow]:
    try:
        image_id = image_id_from(value)
        record = svc.images.get(image_id)
        size = svc.images.file(image_id).stat().st_size
    except DataLabError as exc:
        fault = "NotFoundFault" if exc.status_code == 404 else "UsageFault"
        return [(value, None, None, f"{fault}: {exc.message}", None, "#this", None, None)]
    title = f"{record.target_name or record.image_id} {record.band} ({record.proctype})"
    return [
        (value, urls.file(image_id), None, None, f"FITS image: {title}", "#this",
         record.access_format, size),
        (value, urls.preview(image_id), None, None, "PNG preview (asinh stretch)",
         "#preview", "image/png", None),
        (value, None, "soda", None, "Cutout of a sky region (SODA sync)", "#cutout",
         "application/fits", None),
    ]  # fmt: skip


@router.api_route(
    "/datalink/links",
    methods=["GET", "POST"],
    summary="DataLink 1.1 links of images: the file, a preview, a cutout service",
    description="ID (repeatable) is an image's obs_publisher_did or image id.",
)
async def links(request: Request, svc: Services = Depends(services)) -> Response:
    try:
        params = await read_multi(request)
        fmt_value = (params.get("responseformat") or [None])[0]
        fmt = _links_format(fmt_value)
        ids = params.get("id", [])
        overflow = len(ids) > _MAX_IDS
        urls = Urls.of(request, svc)
        rows: list[LinkRow] = []
        for value in ids[:_MAX_IDS]:
            rows.extend(await anyio.to_thread.run_sync(_links_for, svc, urls, value))
    except DataLabError as exc:
        return error_response(exc)
    return table_response(
        _LINK_COLUMNS,
        rows,
        fmt=fmt,
        info=ResultInfo(table_name="links", extra_infos=(("standardID", DATALINK_ID),)),
        overflow=overflow,
        resources=soda_descriptor(urls.base, ref="ID"),
        media_type=DATALINK_MIME if fmt.name == "votable" and not fmt_value else None,
    )


def _links_format(value: str | None) -> ResultFormat:
    if value is not None and value.split(";")[0].strip().lower() == VOTABLE:
        parameters = [p.strip().lower() for p in value.split(";")[1:]]
        if all(p.startswith("content=") for p in parameters):
            return resolve_format(None)
    return resolve_format(value)


@router.get("/datalink/capabilities", summary="VOSI capabilities of the DataLink service")
def links_capabilities(request: Request, svc: Services = Depends(services)) -> Response:
    base = Urls.of(request, svc).base
    caps = [
        Capability(
            DATALINK_ID, f"{base}/datalink/links", "1.1", "base", {"result": DATALINK_MIME}
        )
    ]
    return xml_response(capabilities_document(f"{base}/datalink", caps))


@router.get("/datalink/availability", summary="VOSI availability of the DataLink service")
def links_availability(svc: Services = Depends(services)) -> Response:
    return xml_response(vosi.availability_document(True, up_since=svc.started))


# -- files ----------------------------------------------------------------------------------


@router.get(
    "/images/{name:path}",
    summary="An image's FITS file (Range requests work), or /preview.png for a PNG",
    description="preview.png takes stretch=asinh|zscale (default asinh).",
)
async def image_file(
    name: str, request: Request, svc: Services = Depends(services)
) -> Response:
    try:
        if name.endswith("/preview.png"):
            image_id = image_id_from(name[: -len("/preview.png")])
            stretch = (request.query_params.get("stretch") or "asinh").strip().lower()
            if stretch not in STRETCHES:
                raise UsageError(f"stretch={stretch!r}: use one of {', '.join(STRETCHES)}")
            record = svc.images.get(image_id)
            path = svc.images.file(image_id)
            png = await anyio.to_thread.run_sync(
                lambda: preview_png(path, hdu=record.hdu, stretch=stretch)
            )
            return Response(png, media_type="image/png")
        image_id = image_id_from(name)
        record = svc.images.get(image_id)
        path = svc.images.file(image_id)
    except DataLabError as exc:
        return error_response(exc)
    return FileResponse(
        path,
        media_type=record.access_format or "application/fits",
        filename=path.name,
        content_disposition_type="inline",
    )
