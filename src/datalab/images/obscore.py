"""The ``ivoa.obscore`` table: its columns as ObsCore 1.1 defines them, and records in
and out of it.

Each column is documented as the standard asks (IVOA ObsCore 1.1, table 6: name,
UCD, utype, unit), so TAP clients and validators recognise the table. Columns after
``instrument_name`` are Data Lab's own: SIA 1's band and processing type as NOIRLab
returns them, and where the file is (``path``, ``hdu``: relative to the images
directory, so the catalog never reveals the server's file system).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from datalab.catalog import TableSpec
from datalab.formats import FieldMeta
from datalab.images.records import OBSCORE_TABLE, ImageRecord

__all__ = [
    "ACCESS_URL_PREFIX",
    "OBSCORE_COLUMNS",
    "OBSCORE_SPEC",
    "OBSCORE_UTYPE",
    "RECORD_COLUMNS",
    "ObsCoreColumn",
    "record_batches",
    "records_from_rows",
]

OBSCORE_UTYPE = "ivo://ivoa.net/std/obscore#core-1.1"
"""TAP_SCHEMA utype that marks a table as an ObsCore 1.1 table (ObsCore 1.1 §4)."""

ACCESS_URL_PREFIX = "/images/"
"""``access_url`` is this server-relative path followed by the image id.

The public base URL is a setting of the server, not of the catalog (the same data
directory can be served under several names), so the table stores the path and the
web layer serves it there.
"""

_OBS = "obscore:"
_POSITION = _OBS + "Char.SpatialAxis.Coverage.Location.Coord.Position2D.Value2."
_TIME_LIMITS = _OBS + "Char.TimeAxis.Coverage.Bounds.Limits."


@dataclass(frozen=True)
class ObsCoreColumn:
    """A column of the table: its documentation and how to get its value from a record."""

    name: str
    type: pa.DataType
    value: Callable[[ImageRecord], Any]
    description: str
    ucd: str | None = None
    utype: str | None = None
    unit: str | None = None
    xtype: str | None = None
    std: bool = True
    principal: bool = True


def _res_power(r: ImageRecord) -> float | None:
    if r.em_min is None or r.em_max is None or r.em_max <= r.em_min:
        return None
    return (r.em_min + r.em_max) / 2.0 / (r.em_max - r.em_min)


def _flat(r: ImageRecord) -> list[float]:
    return [c for vertex in r.s_region for c in vertex]


_S, _F, _I, _L = pa.string(), pa.float64(), pa.int32(), pa.int64()

# One entry per column: name, Arrow type, value, description, UCD, utype, unit.
# fmt: off
OBSCORE_COLUMNS: tuple[ObsCoreColumn, ...] = (
    ObsCoreColumn("dataproduct_type", _S, lambda r: r.dataproduct_type,
                  "Data product type: image", "meta.code.class",
                  _OBS + "ObsDataset.dataProductType"),
    ObsCoreColumn("calib_level", _I, lambda r: r.calib_level,
                  "Calibration level: 2 calibrated single exposure, 3 stack",
                  "meta.code;obs.calib", _OBS + "ObsDataset.calibLevel"),
    ObsCoreColumn("obs_collection", _S, lambda r: r.obs_collection,
                  "Name of the data collection", "meta.id", _OBS + "DataID.Collection"),
    ObsCoreColumn("obs_id", _S, lambda r: r.obs_id, "Observation identifier",
                  "meta.id", _OBS + "DataID.observationID"),
    ObsCoreColumn("obs_publisher_did", _S, lambda r: r.obs_publisher_did,
                  "IVOA dataset identifier of the image", "meta.ref.ivoid",
                  _OBS + "Curation.PublisherDID"),
    ObsCoreColumn("access_url", _S, lambda r: ACCESS_URL_PREFIX + r.image_id,
                  "Where to download the image: a path relative to this server's "
                  "base URL", "meta.ref.url", _OBS + "Access.Reference"),
    ObsCoreColumn("access_format", _S, lambda r: r.access_format,
                  "MIME type of the file", "meta.code.mime", _OBS + "Access.Format"),
    ObsCoreColumn("access_estsize", _L, lambda r: r.access_estsize,
                  "Estimated size of the download", "phys.size;meta.file",
                  _OBS + "Access.Size", "kbyte"),
    ObsCoreColumn("target_name", _S, lambda r: r.target_name,
                  "Name of the target of the observation (FITS OBJECT)", "meta.id;src",
                  _OBS + "Target.Name"),
    ObsCoreColumn("s_ra", _F, lambda r: r.s_ra, "Right ascension of the image centre (ICRS)",
                  "pos.eq.ra", _POSITION + "C1",
                  "deg"),
    ObsCoreColumn("s_dec", _F, lambda r: r.s_dec, "Declination of the image centre (ICRS)",
                  "pos.eq.dec", _POSITION + "C2",
                  "deg"),
    ObsCoreColumn("s_fov", _F, lambda r: r.s_fov,
                  "Diameter of the circle around the centre that holds the whole image",
                  "phys.angSize;instr.fov",
                  _OBS + "Char.SpatialAxis.Coverage.Bounds.Extent.diameter", "deg"),
    ObsCoreColumn("s_region", pa.list_(_F), _flat,
                  "Footprint of the image: the polygon through its corners (ICRS)",
                  "pos.outline;obs.field", _OBS + "Char.SpatialAxis.Coverage.Support.Area",
                  "deg", xtype="polygon"),
    ObsCoreColumn("s_resolution", _F, lambda r: r.s_resolution,
                  "Spatial resolution: FWHM of the point spread function", "pos.angResolution",
                  _OBS + "Char.SpatialAxis.Resolution.Refval.value", "arcsec"),
    ObsCoreColumn("s_xel1", _L, lambda r: r.s_xel1, "Number of pixels along the first axis",
                  "meta.number", _OBS + "Char.SpatialAxis.numBins1"),
    ObsCoreColumn("s_xel2", _L, lambda r: r.s_xel2, "Number of pixels along the second axis",
                  "meta.number", _OBS + "Char.SpatialAxis.numBins2"),
    ObsCoreColumn("t_xel", _L, lambda r: 1, "Number of time samples (1 for an image)",
                  "meta.number", _OBS + "Char.TimeAxis.numBins"),
    ObsCoreColumn("t_min", _F, lambda r: r.t_min, "Start time of the observation (MJD, UTC)",
                  "time.start;obs.exposure", _TIME_LIMITS + "StartTime",
                  "d"),
    ObsCoreColumn("t_max", _F, lambda r: r.t_max, "End time of the observation (MJD, UTC)",
                  "time.end;obs.exposure", _TIME_LIMITS + "StopTime",
                  "d"),
    ObsCoreColumn("t_exptime", _F, lambda r: r.t_exptime, "Total exposure time",
                  "time.duration;obs.exposure", _OBS + "Char.TimeAxis.Coverage.Support.Extent",
                  "s"),
    ObsCoreColumn("t_resolution", _F, lambda r: r.t_exptime,
                  "Time resolution: the exposure time for an image", "time.resolution",
                  _OBS + "Char.TimeAxis.Resolution.Refval.value", "s"),
    ObsCoreColumn("em_xel", _L, lambda r: 1, "Number of spectral samples (1 for an image)",
                  "meta.number", _OBS + "Char.SpectralAxis.numBins"),
    ObsCoreColumn("em_min", _F, lambda r: r.em_min, "Shortest wavelength of the band",
                  "em.wl;stat.min", _OBS + "Char.SpectralAxis.Coverage.Bounds.Limits.LoLimit",
                  "m"),
    ObsCoreColumn("em_max", _F, lambda r: r.em_max, "Longest wavelength of the band",
                  "em.wl;stat.max", _OBS + "Char.SpectralAxis.Coverage.Bounds.Limits.HiLimit",
                  "m"),
    ObsCoreColumn("em_res_power", _F, _res_power,
                  "Spectral resolving power: band centre over band width", "spect.resolution",
                  _OBS + "Char.SpectralAxis.Resolution.ResolPower.refVal"),
    ObsCoreColumn("o_ucd", _S, lambda r: "phot.count",
                  "UCD of the observable: pixel values are counts", "meta.ucd",
                  _OBS + "Char.ObservableAxis.ucd"),
    ObsCoreColumn("pol_states", _S, lambda r: r.pol_states,
                  "Polarization states, e.g. /I/Q/U/; null for unpolarised images",
                  "meta.code;phys.polarization", _OBS + "Char.PolarizationAxis.stateList"),
    ObsCoreColumn("pol_xel", _L, lambda r: None if r.pol_states is None else
                  len([s for s in r.pol_states.split("/") if s]),
                  "Number of polarization samples", "meta.number",
                  _OBS + "Char.PolarizationAxis.numBins"),
    ObsCoreColumn("facility_name", _S, lambda r: r.facility_name,
                  "Telescope or facility (FITS TELESCOP)", "meta.id;instr.tel",
                  _OBS + "Provenance.ObsConfig.Facility.name"),
    ObsCoreColumn("instrument_name", _S, lambda r: r.instrument_name,
                  "Instrument (FITS INSTRUME)", "meta.id;instr",
                  _OBS + "Provenance.ObsConfig.Instrument.name"),
    ObsCoreColumn("image_id", _S, lambda r: r.image_id,
                  "Data Lab's identifier of the image, used in its access URLs",
                  "meta.id;meta.main", std=False),
    ObsCoreColumn("band", _S, lambda r: r.band,
                  "Filter name (SIA 1 obs_bandpass), e.g. g, r, i", "instr.filter", std=False),
    ObsCoreColumn("proctype", _S, lambda r: r.proctype,
                  "Processing type: InstCal (single calibrated exposure) or Stacked",
                  "meta.code", std=False),
    ObsCoreColumn("prodtype", _S, lambda r: r.prodtype, "Product type: image",
                  "meta.code", std=False),
    ObsCoreColumn("path", _S, lambda r: r.path,
                  "File holding the image, relative to the server's images directory",
                  "meta.ref", std=False, principal=False),
    ObsCoreColumn("hdu", _I, lambda r: r.hdu,
                  "Index of the FITS HDU holding the image (0 is the primary)",
                  "meta.number", std=False, principal=False),
)
# fmt: on

_SCHEMA = pa.schema([(c.name, c.type) for c in OBSCORE_COLUMNS])

OBSCORE_SPEC = TableSpec(
    schema=OBSCORE_TABLE.split(".")[0],
    name=OBSCORE_TABLE.split(".")[1],
    description="Images served by this site's SIA and SODA services, one row per image, "
    "in the IVOA ObsCore 1.1 data model.",
    schema_description="IVOA standard tables: the ObsCore table of the images served here.",
    fields={
        c.name: FieldMeta(
            c.name, c.description, unit=c.unit, ucd=c.ucd, utype=c.utype, xtype=c.xtype
        )
        for c in OBSCORE_COLUMNS
    },
    ra="s_ra",
    dec="s_dec",
    principal={c.name: c.principal for c in OBSCORE_COLUMNS},
)


def record_batches(records: Iterable[ImageRecord], rows: int = 10_000) -> Iterator[pa.RecordBatch]:
    """The records as Arrow batches of the table's columns; always at least one batch."""
    chunk: list[ImageRecord] = []
    sent = False
    for record in records:
        chunk.append(record)
        if len(chunk) >= rows:
            yield _batch(chunk)
            chunk, sent = [], True
    if chunk or not sent:
        yield _batch(chunk)


def _batch(records: Sequence[ImageRecord]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [pa.array([c.value(r) for r in records], c.type) for c in OBSCORE_COLUMNS],
        schema=_SCHEMA,
    )


RECORD_COLUMNS = (
    "image_id", "path", "hdu", "obs_id", "obs_collection", "facility_name",
    "instrument_name", "target_name", "dataproduct_type", "calib_level", "s_ra", "s_dec",
    "s_fov", "s_region", "s_resolution", "s_xel1", "s_xel2", "t_min", "t_max", "t_exptime",
    "em_min", "em_max", "band", "proctype", "prodtype", "pol_states", "access_format",
    "access_estsize",
)  # fmt: skip
"""The table's columns that make up an :class:`ImageRecord`, in its field order."""


def records_from_rows(rows: Iterable[Sequence[Any]]) -> list[ImageRecord]:
    """Records from rows selecting :data:`RECORD_COLUMNS` in that order."""
    out = []
    for row in rows:
        values = dict(zip(RECORD_COLUMNS, row, strict=True))
        flat = values["s_region"] or []
        values["s_region"] = tuple(
            (float(flat[i]), float(flat[i + 1])) for i in range(0, len(flat) - 1, 2)
        )
        for key in ("hdu", "calib_level", "s_xel1", "s_xel2", "access_estsize"):
            values[key] = int(values[key])
        out.append(ImageRecord(**values))
    return out
