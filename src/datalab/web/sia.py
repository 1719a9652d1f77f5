"""Image discovery: SIA 2.0 at ``/sia2/query`` and SIA 1.0 at ``/sia`` (``/sia/query``).

A thin edge over :class:`datalab.images.ImageIndex` (the ObsCore records of the
images in the data directory):

* SIA 2.0 (REC-SIA-2.0 §2): POS, BAND, TIME, POL, FOV, SPATRES, EXPTIME, SPECRP,
  TIMERES, CALIB, COLLECTION, FACILITY, INSTRUMENT, DPTYPE, ID, TARGET, FORMAT, MAXREC,
  RESPONSEFORMAT. Repeated values of a parameter are OR-ed, different parameters
  AND-ed (§2.1). The answer has the ObsCore 1.1 columns (names, UCDs, utypes, units
  of ObsCore 1.1 §4), the Data Lab columns ``image_id``, ``obs_bandpass``,
  ``proctype``, ``prodtype`` and ``exptime``, a self-description (§3.1.2) and a
  DataLink service descriptor using ``obs_publisher_did``. A result cut at MAXREC
  ends with QUERY_STATUS OVERFLOW.
* SIA 1.0: POS=ra,dec, SIZE=w[,h] (a range of RA and Dec, in degrees, as pyvo and
  the Data Lab notebooks send it), INTERSECT, FORMAT (ALL, image/fits, METADATA: the
  column description), VERB 0–3 (more columns with higher VERB). The columns carry
  the SIA 1.0 UCDs (``VOX:Image_Title``, ``POS_EQ_RA_MAIN``…) and the Data Lab names
  (``proctype``, ``prodtype``, ``obs_bandpass``, ``exptime``, ``access_url``).

Errors are VOTable error documents (DALI 1.1 §4.4.2) with a 4xx status and a message
starting ``UsageFault:`` (SIA 2.0 §4.2).
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pyarrow as pa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from datalab.errors import DataLabError, UsageError
from datalab.formats import FieldMeta
from datalab.formats.results import ResultInfo, resolve_format
from datalab.images import ImageRecord
from datalab.images.cutout import pos_range
from datalab.sky import Circle, Shape
from datalab.web import vosi
from datalab.web.context import Services, services
from datalab.web.datalink import (
    DATALINK_ID,
    Capability,
    Column,
    Urls,
    capabilities_document,
    error_response,
    image_id_from,
    param_xml,
    publisher_did,
    table_response,
    xml_response,
)
from datalab.web.image_params import (
    Interval,
    parse_interval,
    parse_pos,
    parse_sia1_pos,
    parse_sia1_size,
    read_multi,
)

__all__ = ["router"]

router = APIRouter(tags=["SIA"])

SIA2_ID = "ivo://ivoa.net/std/SIA#query-2.0"
SIA1_ID = "ivo://ivoa.net/std/SIA"
_MAX_COMBINATIONS = 64
_INTERSECT = ("OVERLAPS", "COVERS", "ENCLOSED", "CENTER")
# A point search (SIA 1.0 SIZE=0) is a circle this small (degrees).
_POINT = 1e-7


def _obscore(name: str, description: str, utype: str | None, ucd: str, unit: str | None = None,
             **kw: str) -> FieldMeta:
    return FieldMeta(name, description, unit=unit, ucd=ucd,
                     utype=f"obscore:{utype}" if utype else None, **kw)  # fmt: skip


def _region(record: ImageRecord) -> list[float]:
    return [float(v) for corner in record.s_region for v in corner]


def _em_res_power(record: ImageRecord) -> float | None:
    if record.em_min is None or record.em_max is None or record.em_max <= record.em_min:
        return None
    return (record.em_min + record.em_max) / 2 / (record.em_max - record.em_min)


def _obscore_columns(urls: Urls) -> list[Column]:
    s, f, i, L = pa.string(), pa.float64(), pa.int32(), pa.int64()
    o = _obscore
    return [
        Column(o("dataproduct_type", "Data product type", "ObsDataset.dataProductType",
                 "meta.code.class"), s, lambda r: r.dataproduct_type),
        Column(o("calib_level", "Calibration level (0-4)", "ObsDataset.calibLevel",
                 "meta.code;obs.calib"), i, lambda r: r.calib_level),
        Column(o("obs_collection", "Name of the data collection", "DataID.collection",
                 "meta.id"), s, lambda r: r.obs_collection),
        Column(o("obs_id", "Observation identifier", "DataID.observationID", "meta.id"),
               s, lambda r: r.obs_id),
        Column(o("obs_publisher_did", "Publisher dataset identifier", "Curation.publisherDID",
                 "meta.ref.ivoid"), s, publisher_did, xml_id="obs_publisher_did"),
        Column(o("access_url", "URL of the FITS file", "Access.reference", "meta.ref.url"),
               s, lambda r: urls.file(r.image_id)),
        Column(o("access_format", "Format of the file at access_url", "Access.format",
                 "meta.code.mime"), s, lambda r: r.access_format),
        Column(o("access_estsize", "Estimated size of the file", "Access.size",
                 "phys.size;meta.file", "kbyte"), L, lambda r: r.access_estsize),
        Column(o("target_name", "Name of the target", "Target.name", "meta.id;src"),
               s, lambda r: r.target_name),
        Column(o("s_ra", "Right ascension of the image centre (ICRS)",
                 "Char.SpatialAxis.Coverage.Location.Coord.Position2D.Value2.C1",
                 "pos.eq.ra", "deg"), f, lambda r: r.s_ra),
        Column(o("s_dec", "Declination of the image centre (ICRS)",
                 "Char.SpatialAxis.Coverage.Location.Coord.Position2D.Value2.C2",
                 "pos.eq.dec", "deg"), f, lambda r: r.s_dec),
        Column(o("s_fov", "Diameter of the region covered",
                 "Char.SpatialAxis.Coverage.Bounds.Extent.diameter",
                 "phys.angSize;instr.fov", "deg"), f, lambda r: r.s_fov),
        Column(o("s_region", "Outline of the image (DALI polygon, ICRS)",
                 "Char.SpatialAxis.Coverage.Support.Area", "pos.outline;obs.field", "deg",
                 xtype="polygon"), pa.list_(f), _region),
        Column(o("s_resolution", "Spatial resolution (PSF FWHM)",
                 "Char.SpatialAxis.Resolution.Refval.value", "pos.angResolution", "arcsec"),
               f, lambda r: r.s_resolution),
        Column(o("s_xel1", "Pixels along the first axis", "Char.SpatialAxis.numBins1",
                 "meta.number"), L, lambda r: r.s_xel1),
        Column(o("s_xel2", "Pixels along the second axis", "Char.SpatialAxis.numBins2",
                 "meta.number"), L, lambda r: r.s_xel2),
        Column(o("t_min", "Start of the observation (MJD)",
                 "Char.TimeAxis.Coverage.Bounds.Limits.StartTime",
                 "time.start;obs.exposure", "d"), f, lambda r: r.t_min),
        Column(o("t_max", "End of the observation (MJD)",
                 "Char.TimeAxis.Coverage.Bounds.Limits.StopTime",
                 "time.end;obs.exposure", "d"), f, lambda r: r.t_max),
        Column(o("t_exptime", "Total exposure time", "Char.TimeAxis.Coverage.Support.Extent",
                 "time.duration;obs.exposure", "s"), f, lambda r: r.t_exptime),
        Column(o("t_resolution", "Temporal resolution", "Char.TimeAxis.Resolution.Refval.value",
                 "time.resolution", "s"), f, lambda r: None),
        Column(o("t_xel", "Bins along the time axis", "Char.TimeAxis.numBins", "meta.number"),
               L, lambda r: 1),
        Column(o("em_min", "Shortest wavelength covered",
                 "Char.SpectralAxis.Coverage.Bounds.Limits.LoLimit", "em.wl;stat.min", "m"),
               f, lambda r: r.em_min),
        Column(o("em_max", "Longest wavelength covered",
                 "Char.SpectralAxis.Coverage.Bounds.Limits.HiLimit", "em.wl;stat.max", "m"),
               f, lambda r: r.em_max),
        Column(o("em_res_power", "Spectral resolving power",
                 "Char.SpectralAxis.Resolution.ResolPower.refVal", "spect.resolution"),
               f, _em_res_power),
        Column(o("em_xel", "Bins along the spectral axis", "Char.SpectralAxis.numBins",
                 "meta.number"), L, lambda r: 1),
        Column(o("o_ucd", "UCD of the pixel values", "Char.ObservableAxis.ucd", "meta.ucd"),
               s, lambda r: "phot.count"),
        Column(o("pol_states", "Polarization states", "Char.PolarizationAxis.stateList",
                 "meta.code;phys.polarization"), s, lambda r: r.pol_states),
        Column(o("pol_xel", "Bins along the polarization axis", "Char.PolarizationAxis.numBins",
                 "meta.number"), L, lambda r: 1 if r.pol_states else None),
        Column(o("facility_name", "Telescope", "Provenance.ObsConfig.Facility.name",
                 "meta.id;instr.tel"), s, lambda r: r.facility_name),
        Column(o("instrument_name", "Instrument", "Provenance.ObsConfig.Instrument.name",
                 "meta.id;instr"), s, lambda r: r.instrument_name),
        # Data Lab columns, as NOIRLab's SIA services name them.
        Column(FieldMeta("image_id", "Data Lab image identifier", ucd="meta.id"),
               s, lambda r: r.image_id),
        Column(FieldMeta("obs_bandpass", "Filter name", ucd="instr.bandpass"),
               s, lambda r: r.band),
        Column(FieldMeta("proctype", "Processing type: InstCal (one exposure) or Stacked",
                         ucd="meta.code"), s, lambda r: r.proctype),
        Column(FieldMeta("prodtype", "Product type", ucd="meta.code"),
               s, lambda r: r.prodtype),
        Column(FieldMeta("exptime", "Exposure time", unit="s",
                         ucd="time.duration;obs.exposure"), f, lambda r: r.t_exptime),
    ]  # fmt: skip


# -- SIA 2.0 --------------------------------------------------------------------------------


def _strings(params: dict[str, list[str]], name: str) -> list[str]:
    return [v.strip() for v in params.get(name, []) if v.strip()]


def _intervals(params: dict[str, list[str]], name: str) -> list[Interval | None]:
    values = [parse_interval(name.upper(), v) for v in params.get(name, []) if v.strip()]
    return list(values) if values else [None]


def _maxrec(params: dict[str, list[str]], svc: Services) -> int:
    values = params.get("maxrec")
    if not values:
        return svc.settings.tap_default_maxrec
    text = values[0].strip()
    if not text.isdigit():
        raise UsageError(f"MAXREC={values[0]!r} must be a whole number >= 0")
    return min(int(text), svc.settings.tap_hard_maxrec)


@functools.lru_cache(maxsize=1)
def _sia2_params_xml() -> str:
    interval = {"datatype": "double", "arraysize": "*", "xtype": "interval"}
    text = (
        param_xml("POS", xtype="circle")
        + param_xml("POS", xtype="range")
        + param_xml("POS", xtype="polygon")
        + param_xml("BAND", unit="m", **interval)
        + param_xml("TIME", unit="d", **interval)
        + param_xml("POL")
        + param_xml("FOV", unit="deg", **interval)
        + param_xml("SPATRES", unit="arcsec", **interval)
        + param_xml("EXPTIME", unit="s", **interval)
        + param_xml("TIMERES", unit="s", **interval)
        + param_xml("SPECRP", **interval)
        + "".join(
            param_xml(n)
            for n in ("ID", "COLLECTION", "FACILITY", "INSTRUMENT", "DPTYPE", "TARGET", "FORMAT")
        )
        + param_xml("CALIB", datatype="int", arraysize=None)
        + param_xml("MAXREC", datatype="int", arraysize=None)
        + param_xml("RESPONSEFORMAT")
    )
    return text


def _self_descriptor(base: str) -> str:
    return (
        '<RESOURCE type="meta" utype="adhoc:service" name="this">\n'
        + param_xml("standardID", SIA2_ID)
        + param_xml("accessURL", f"{base}/sia2/query")
        + '<GROUP name="inputParams">\n'
        + _sia2_params_xml()
        + "</GROUP>\n</RESOURCE>\n"
    )


def _links_descriptor(base: str) -> str:
    return (
        '<RESOURCE type="meta" utype="adhoc:service" name="datalink">\n'
        + param_xml("standardID", DATALINK_ID)
        + param_xml("accessURL", f"{base}/datalink/links")
        + param_xml("contentType", "application/x-votable+xml;content=datalink")
        + '<GROUP name="inputParams">\n'
        + param_xml("ID", ref="obs_publisher_did", ucd="meta.id;meta.main")
        + "</GROUP>\n</RESOURCE>\n"
    )


def _sia2_search(svc: Services, params: dict[str, list[str]], maxrec: int) -> tuple[list, bool]:
    """The records SIA 2.0 parameters select, and whether MAXREC cut them."""
    regions: list[Shape | None] = [parse_pos(v) for v in params.get("pos", []) if v.strip()]
    if params.get("pos") and not regions:
        raise UsageError("POS is empty")
    interval_params = ("band", "time", "exptime", "fov", "spatres")
    ranges = [_intervals(params, name) for name in interval_params]
    specrp = [i for i in _intervals(params, "specrp") if i is not None]
    timeres = [i for i in _intervals(params, "timeres") if i is not None]
    calib: list[int] = []
    if _strings(params, "calib"):
        for value in _strings(params, "calib"):
            if value not in ("0", "1", "2", "3", "4"):
                raise UsageError(f"CALIB={value!r} must be one of 0, 1, 2, 3, 4")
            calib.append(int(value))
    ids: list[str] = []
    if _strings(params, "id"):
        for value in _strings(params, "id"):
            try:
                ids.append(image_id_from(value))
            except DataLabError:
                continue  # an ID of no image here matches nothing
        if not ids:
            return [], False
    targets = _strings(params, "target")
    formats = _strings(params, "format")
    combos = list(itertools.product(regions or [None], *ranges))
    if len(combos) > _MAX_COMBINATIONS:
        raise UsageError(
            f"{len(combos)} combinations of repeated POS/BAND/TIME/EXPTIME/FOV/SPATRES"
            f" values; at most {_MAX_COMBINATIONS} are searched at once"
        )
    if maxrec == 0:
        return [], False
    post_filter = bool(targets or formats or specrp or timeres)
    limit = None if post_filter or len(combos) > 1 else maxrec + 1
    found: dict[str, Any] = {}
    for region, band, time, exptime, fov, spatres in combos:
        for record in svc.images.search(
            region,
            band=band,
            time=time,
            exptime=exptime,
            fov=fov,
            spatres=spatres,
            calib=calib,
            collection=_strings(params, "collection"),
            facility=_strings(params, "facility"),
            instrument=_strings(params, "instrument"),
            dptype=_strings(params, "dptype"),
            ids=ids,
            pol=_strings(params, "pol"),
            maxrec=limit,
        ):
            found.setdefault(record.image_id, record)
    records = [
        r
        for r in found.values()
        if (not targets or r.target_name in targets)
        and (not formats or r.access_format in formats)
        and (not specrp or _within(_em_res_power(r), specrp))
        and not timeres  # no image has a temporal resolution: the constraint fails
    ]
    return records[:maxrec], len(records) > maxrec


def _within(value: float | None, intervals: Sequence[Interval]) -> bool:
    return value is not None and any(lo <= value <= hi for lo, hi in intervals)


@router.api_route(
    "/sia2/query",
    methods=["GET", "POST"],
    summary="SIA 2.0 image search (ObsCore columns)",
    description="POS=CIRCLE ra dec r | RANGE ra1 ra2 dec1 dec2 | POLYGON ra dec ...; BAND "
    "(metres), TIME (MJD), EXPTIME (s), FOV (deg), SPATRES (arcsec) intervals; CALIB, "
    "COLLECTION, FACILITY, INSTRUMENT, DPTYPE, ID, POL, TARGET, FORMAT; MAXREC; "
    "RESPONSEFORMAT. Repeated parameters are OR-ed.",
)
async def sia2_query(request: Request, svc: Services = Depends(services)) -> Response:
    try:
        params = await read_multi(request)
        fmt = resolve_format((params.get("responseformat") or [None])[0])
        maxrec = _maxrec(params, svc)
        records, overflow = await anyio.to_thread.run_sync(_sia2_search, svc, params, maxrec)
    except DataLabError as exc:
        return error_response(exc)
    urls = Urls.of(request, svc)
    return table_response(
        _obscore_columns(urls),
        records,
        fmt=fmt,
        info=ResultInfo(table_name="images", extra_infos=(("standardID", SIA2_ID),)),
        overflow=overflow,
        resources=_self_descriptor(urls.base) + _links_descriptor(urls.base),
    )


@router.get("/sia2/capabilities", summary="VOSI capabilities of the SIA 2.0 service")
def sia2_capabilities(request: Request, svc: Services = Depends(services)) -> Response:
    base = Urls.of(request, svc).base
    caps = [Capability(SIA2_ID, f"{base}/sia2/query", "2.0")]
    return xml_response(capabilities_document(f"{base}/sia2", caps))


@router.get("/sia2/availability", summary="VOSI availability of the SIA 2.0 service")
def sia2_availability(svc: Services = Depends(services)) -> Response:
    return xml_response(vosi.availability_document(True, up_since=svc.started))


@router.get("/sia2", include_in_schema=False)
def sia2_root(request: Request, svc: Services = Depends(services)) -> Response:
    return RedirectResponse(f"{Urls.of(request, svc).base}/sia2/capabilities", status_code=303)


# -- SIA 1.0 --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _wcs(path: str, mtime_ns: int, hdu: int) -> dict[str, Any]:
    """What SIA 1.0 says about an image's WCS, read from its header once per version."""
    from astropy.io import fits
    from astropy.wcs import WCS, FITSFixedWarning

    header = fits.getheader(path, hdu)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        wcs = WCS(header, naxis=2)
    matrix = wcs.pixel_scale_matrix
    scale = np.sqrt((matrix**2).sum(axis=0))
    return {
        "crpix": [float(v) for v in wcs.wcs.crpix],
        "crval": [float(v) for v in wcs.wcs.crval],
        "cd": [float(v) for v in matrix.ravel()],
        "scale": [float(v) for v in scale],
        "projection": wcs.wcs.ctype[0][5:8] or None,
        "frame": (wcs.wcs.radesys or "ICRS").strip() or "ICRS",
        "equinox": None if math.isnan(wcs.wcs.equinox) else float(wcs.wcs.equinox),
    }


def _wcs_of(svc: Services, record: ImageRecord) -> dict[str, Any]:
    path: Path = svc.images.file(record.image_id)
    return _wcs(str(path), path.stat().st_mtime_ns, record.hdu)


def _sia1_columns(urls: Urls, verb: int) -> list[tuple[Column, int]]:
    """(column, the lowest VERB showing it); rows are (record, wcs) pairs."""
    s, f, i, L = pa.string(), pa.float64(), pa.int32(), pa.int64()
    two_f, two_i = pa.list_(f), pa.list_(i)

    def c(name: str, desc: str, ucd: str | None, t: pa.DataType, get: Any, level: int,
          unit: str | None = None, arraysize: str | None = None) -> tuple[Column, int]:
        meta = FieldMeta(name, desc, unit=unit, ucd=ucd, arraysize=arraysize)
        return Column(meta, t, get), level

    def title(p: Any) -> str:
        r = p[0]
        return f"{r.target_name or 'field'} {r.band} {r.proctype} {r.obs_id}"

    band_mid = lambda p: (  # noqa: E731
        None if p[0].em_min is None or p[0].em_max is None else (p[0].em_min + p[0].em_max) / 2
    )
    columns = [
        c("title", "Image title", "VOX:Image_Title", s, title, 0),
        c("ra", "RA of the image centre (ICRS)", "POS_EQ_RA_MAIN", f, lambda p: p[0].s_ra, 0,
          "deg"),
        c("dec", "Dec of the image centre (ICRS)", "POS_EQ_DEC_MAIN", f, lambda p: p[0].s_dec,
          0, "deg"),
        c("naxes", "Number of image axes", "VOX:Image_Naxes", i, lambda p: 2, 0),
        c("naxis", "Pixels along each axis", "VOX:Image_Naxis", two_i,
          lambda p: [p[0].s_xel1, p[0].s_xel2], 0, None, "2"),
        c("scale", "Pixel scale along each axis", "VOX:Image_Scale", two_f,
          lambda p: p[1]["scale"], 0, "deg/pix", "2"),
        c("format", "Format of the file at access_url", "VOX:Image_Format", s,
          lambda p: p[0].access_format, 0),
        c("access_url", "URL of the FITS file", "VOX:Image_AccessReference", s,
          lambda p: urls.file(p[0].image_id), 0),
        c("image_id", "Data Lab image identifier", "meta.id", s, lambda p: p[0].image_id, 1),
        c("obs_bandpass", "Filter name", "VOX:BandPass_ID", s, lambda p: p[0].band, 1),
        c("exptime", "Exposure time", "time.duration;obs.exposure", f,
          lambda p: p[0].t_exptime, 1, "s"),
        c("proctype", "Processing type: InstCal (one exposure) or Stacked", "meta.code", s,
          lambda p: p[0].proctype, 1),
        c("prodtype", "Product type", "meta.code", s, lambda p: p[0].prodtype, 1),
        c("date_obs", "Start of the observation (MJD)", "VOX:Image_MJDateObs", f,
          lambda p: p[0].t_min, 1, "d"),
        c("instrument", "Instrument", "INST_ID", s, lambda p: p[0].instrument_name, 1),
        c("filesize", "Size of the file", "VOX:Image_FileSize", L,
          lambda p: None if p[0].access_estsize is None else p[0].access_estsize * 1024, 1,
          "byte"),
        c("crframe", "Coordinate frame", "VOX:STC_CoordRefFrame", s, lambda p: p[1]["frame"], 2),
        c("equinox", "Equinox", "VOX:STC_CoordEquinox", f, lambda p: p[1]["equinox"], 2),
        c("projection", "Celestial projection", "VOX:WCS_CoordProjection", s,
          lambda p: p[1]["projection"], 2),
        c("crpix", "Reference pixel", "VOX:WCS_CoordRefPixel", two_f, lambda p: p[1]["crpix"],
          2, "pix", "2"),
        c("crval", "Reference position", "VOX:WCS_CoordRefValue", two_f,
          lambda p: p[1]["crval"], 2, "deg", "2"),
        c("cdmatrix", "CD matrix", "VOX:WCS_CDMatrix", two_f, lambda p: p[1]["cd"], 2,
          "deg/pix", "4"),
        c("bandpass_unit", "Unit of the bandpass values", "VOX:BandPass_Unit", s,
          lambda p: "m", 2),
        c("bandpass_refvalue", "Central wavelength", "VOX:BandPass_RefValue", f, band_mid, 2,
          "m"),
        c("bandpass_lolimit", "Shortest wavelength", "VOX:BandPass_LoLimit", f,
          lambda p: p[0].em_min, 2, "m"),
        c("bandpass_hilimit", "Longest wavelength", "VOX:BandPass_HiLimit", f,
          lambda p: p[0].em_max, 2, "m"),
        c("obs_id", "Observation identifier", "meta.id", s, lambda p: p[0].obs_id, 2),
        c("telescope", "Telescope", "instr.tel", s, lambda p: p[0].facility_name, 2),
        c("target_name", "Target", "meta.id;src", s, lambda p: p[0].target_name, 2),
        c("obs_collection", "Data collection", "meta.id", s, lambda p: p[0].obs_collection, 3),
        c("calib_level", "Calibration level", "meta.code;obs.calib", i,
          lambda p: p[0].calib_level, 3),
        c("fov", "Diameter of the region covered", "instr.fov", f, lambda p: p[0].s_fov, 3,
          "deg"),
        c("seeing", "PSF FWHM", "instr.obsty.seeing", f, lambda p: p[0].s_resolution, 3,
          "arcsec"),
        c("date_end", "End of the observation (MJD)", "time.end;obs.exposure", f,
          lambda p: p[0].t_max, 3, "d"),
        c("preview_url", "PNG preview of the image", "meta.ref.url", s,
          lambda p: urls.preview(p[0].image_id), 3),
        c("datalink_url", "DataLink links of the image", "meta.ref.url", s,
          lambda p: urls.links(p[0]), 3),
    ]  # fmt: skip
    return [(col, level) for col, level in columns if level <= verb]


def _sia1_region(pos: tuple[float, float], size: tuple[float, float]) -> Shape | None:
    """The SIA 1.0 search region: SIZE is a range of RA and of Dec around POS."""
    ra, dec = pos
    width, height = size
    if width <= 0 and height <= 0:
        return Circle(ra, dec, _POINT)
    height = max(height, 2 * _POINT)
    dec_lo, dec_hi = max(dec - height / 2, -90.0), min(dec + height / 2, 90.0)
    if width >= 360.0 or dec_hi >= 90.0 or dec_lo <= -90.0:
        if dec_hi >= 90.0 and dec_lo <= -90.0:
            return None
        if dec_hi >= 90.0:
            return Circle(0.0, 90.0, 90.0 - dec_lo)
        if dec_lo <= -90.0:
            return Circle(0.0, -90.0, dec_hi + 90.0)
    width = min(max(width, 2 * _POINT), 359.999999)
    ra_lo, ra_hi = (ra - width / 2) % 360.0, (ra + width / 2) % 360.0
    return pos_range(ra_lo, ra_hi, dec_lo, dec_hi)


def _sia1_search(svc: Services, params: dict[str, list[str]], limit: int) -> tuple[list, bool]:
    first = {k: v[0] for k, v in params.items() if v}
    if "pos" not in first:
        raise UsageError("POS=ra,dec is required (degrees, ICRS)")
    pos = parse_sia1_pos(first["pos"])
    size = parse_sia1_size(first.get("size") or "0")
    intersect = (first.get("intersect") or "OVERLAPS").strip().upper()
    if intersect not in _INTERSECT:
        raise UsageError(f"INTERSECT={first['intersect']!r}: use one of {', '.join(_INTERSECT)}")
    formats = [f.strip().lower() for f in (first.get("format") or "ALL").split(",") if f.strip()]
    if not formats or not any(f in ("all", "image/fits", "application/fits") for f in formats):
        return [], False  # only FITS images here: GRAPHIC and other formats match nothing
    region = _sia1_region(pos, size)
    records = svc.images.search(region, intersect=intersect, maxrec=limit + 1)
    return [(r, _wcs_of(svc, r)) for r in records[:limit]], len(records) > limit


def _verb(params: dict[str, list[str]]) -> int:
    value = (params.get("verb") or ["1"])[0].strip()
    if value not in ("0", "1", "2", "3"):
        raise UsageError(f"VERB={value!r} must be 0, 1, 2 or 3")
    return int(value)


def _sia1_input_params() -> str:
    return (
        param_xml("INPUT:POS", "", description="Centre of the search region: ra,dec (deg, ICRS)",
                  unit="deg")
        + param_xml("INPUT:SIZE", "0", unit="deg",
                    description="Width[,height] of the search region in RA and Dec (deg)")
        + param_xml("INPUT:FORMAT", "ALL", description="ALL, image/fits or METADATA")
        + param_xml("INPUT:INTERSECT", "OVERLAPS",
                    description="OVERLAPS, COVERS, ENCLOSED or CENTER")
        + param_xml("INPUT:VERB", "1", datatype="int", arraysize=None,
                    description="0 to 3: more columns with a higher value")
    )  # fmt: skip


@router.api_route(
    "/sia",
    methods=["GET", "POST"],
    summary="SIA 1.0 image search",
    description="POS=ra,dec; SIZE=w[,h] (degrees of RA and Dec); INTERSECT=OVERLAPS|COVERS|"
    "ENCLOSED|CENTER; FORMAT=ALL|image/fits|METADATA; VERB=0..3.",
)
async def sia1_query(request: Request, svc: Services = Depends(services)) -> Response:
    urls = Urls.of(request, svc)
    try:
        params = await read_multi(request)
        verb = _verb(params)
        metadata = (params.get("format") or [""])[0].strip().upper() == "METADATA"
        if metadata:
            rows, overflow, verb = [], False, 3
        else:
            rows, overflow = await anyio.to_thread.run_sync(
                _sia1_search, svc, params, svc.settings.tap_default_maxrec
            )
    except DataLabError as exc:
        return error_response(exc)
    columns = [col for col, _ in _sia1_columns(urls, verb)]
    return table_response(
        columns,
        rows,
        fmt=resolve_format(None),
        info=ResultInfo(
            table_name="images",
            description="Images of the Data Lab image store (SIA 1.0)",
            extra_infos=(("standardID", SIA1_ID),),
        ),
        overflow=overflow,
        params=_sia1_input_params() if metadata else "",
    )


router.add_api_route(
    "/sia/query", sia1_query, methods=["GET", "POST"], summary="SIA 1.0 image search (alias)"
)


@router.get("/sia/capabilities", summary="VOSI capabilities of the SIA 1.0 service")
def sia1_capabilities(request: Request, svc: Services = Depends(services)) -> Response:
    base = Urls.of(request, svc).base
    caps = [Capability(SIA1_ID, f"{base}/sia", "1.0", "base")]
    return xml_response(capabilities_document(f"{base}/sia", caps))


@router.get("/sia/availability", summary="VOSI availability of the SIA 1.0 service")
def sia1_availability(svc: Services = Depends(services)) -> Response:
    return xml_response(vosi.availability_document(True, up_since=svc.started))
