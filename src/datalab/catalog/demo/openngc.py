"""OpenNGC (Mattia Verga et al., CC BY-SA 4.0): the NGC and IC objects, from the SQLite
database that the ``pyongc`` package ships.

Three tables: the objects, the object types they refer to, and the cross-identifiers,
with foreign keys between them. The database stores positions in radians; we serve
degrees, and turn its empty strings into nulls.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa

from datalab.catalog.store import TableSpec
from datalab.formats import FieldMeta

__all__ = ["OPENNGC_TABLES", "openngc_foreign_keys"]

_SCHEMA_DOC = (
    "OpenNGC: a revised catalogue of the NGC and IC objects (M. Verga et al., "
    "CC BY-SA 4.0), as shipped in the pyongc package."
)

# column, SQL type affinity -> Arrow type, unit, UCD, description
_OBJECT_COLUMNS: list[tuple[str, pa.DataType, str | None, str | None, str]] = [
    ("name", pa.string(), None, "meta.id;meta.main", "Object name (e.g. NGC0224, IC0434)"),
    ("type", pa.string(), None, "src.class", "Object type code; see openngc.object_types"),
    ("ra", pa.float64(), "deg", "pos.eq.ra;meta.main", "Right ascension (ICRS, J2000)"),
    ("dec", pa.float64(), "deg", "pos.eq.dec;meta.main", "Declination (ICRS, J2000)"),
    ("const", pa.string(), None, "meta.id;obs.field", "Constellation (IAU abbreviation)"),
    ("majax", pa.float64(), "arcmin", "phys.angSize.smajAxis", "Major axis"),
    ("minax", pa.float64(), "arcmin", "phys.angSize.sminAxis", "Minor axis"),
    ("pa", pa.int32(), "deg", "pos.posAng", "Position angle of the major axis (north to east)"),
    ("bmag", pa.float64(), "mag", "phot.mag;em.opt.B", "Apparent B magnitude"),
    ("vmag", pa.float64(), "mag", "phot.mag;em.opt.V", "Apparent V magnitude"),
    ("jmag", pa.float64(), "mag", "phot.mag;em.IR.J", "Apparent J magnitude (2MASS)"),
    ("hmag", pa.float64(), "mag", "phot.mag;em.IR.H", "Apparent H magnitude (2MASS)"),
    ("kmag", pa.float64(), "mag", "phot.mag;em.IR.K", "Apparent K magnitude (2MASS)"),
    ("sbrightn", pa.float64(), "mag/arcsec2", "phot.mag.sb",
     "Mean surface brightness within the 25 mag/arcsec2 isophote (B band)"),
    ("hubble", pa.string(), None, "src.morph.type", "Hubble morphological type (galaxies)"),
    ("parallax", pa.float64(), "mas", "pos.parallax", "Parallax"),
    ("pmra", pa.float64(), "mas/yr", "pos.pm;pos.eq.ra", "Proper motion in right ascension"),
    ("pmdec", pa.float64(), "mas/yr", "pos.pm;pos.eq.dec", "Proper motion in declination"),
    ("radvel", pa.int32(), "km/s", "spect.dopplerVeloc", "Radial velocity"),
    ("redshift", pa.float64(), None, "src.redshift", "Redshift"),
    ("cstarumag", pa.float64(), "mag", "phot.mag;em.opt.U",
     "U magnitude of the central star (planetary nebulae)"),
    ("cstarbmag", pa.float64(), "mag", "phot.mag;em.opt.B",
     "B magnitude of the central star (planetary nebulae)"),
    ("cstarvmag", pa.float64(), "mag", "phot.mag;em.opt.V",
     "V magnitude of the central star (planetary nebulae)"),
    ("messier", pa.string(), None, "meta.id.cross", "Messier number"),
    ("ngc", pa.string(), None, "meta.id.cross",
     "NGC number(s) of the same object, for IC entries"),
    ("ic", pa.string(), None, "meta.id.cross", "IC number(s) of the same object"),
    ("cstarnames", pa.string(), None, "meta.id.cross", "Names of the central star(s)"),
    ("identifiers", pa.string(), None, "meta.id.cross",
     "Identifiers in other catalogues, comma-separated"),
    ("commonnames", pa.string(), None, "meta.id", "Common names, comma-separated"),
    ("nednotes", pa.string(), None, "meta.note", "Notes from NED"),
    ("ongcnotes", pa.string(), None, "meta.note", "Notes by the OpenNGC authors"),
    ("notngc", pa.bool_(), None, "meta.code",
     "True for objects not in the NGC/IC but added by OpenNGC (e.g. Messier objects)"),
]

OPENNGC_OBJECTS = TableSpec(
    schema="openngc",
    name="objects",
    schema_description=_SCHEMA_DOC,
    description="NGC and IC galaxies, star clusters and nebulae with positions, sizes, "
    "magnitudes, types and cross-identifications (OpenNGC).",
    fields={c[0]: FieldMeta(c[0], unit=c[2], ucd=c[3], description=c[4]) for c in _OBJECT_COLUMNS},
    ra="ra",
    dec="dec",
)
OPENNGC_TYPES = TableSpec(
    schema="openngc",
    name="object_types",
    description="The object type codes used in openngc.objects.type.",
    fields={
        "type": FieldMeta("type", ucd="meta.code;meta.main", description="Type code"),
        "description": FieldMeta("description", ucd="meta.note", description="Meaning"),
    },
)
OPENNGC_IDENTIFIERS = TableSpec(
    schema="openngc",
    name="identifiers",
    description="Every identifier known for each OpenNGC object, one per row, for "
    "look-ups by any name.",
    fields={
        "name": FieldMeta("name", ucd="meta.id", description="OpenNGC name (openngc.objects)"),
        "identifier": FieldMeta(
            "identifier", ucd="meta.id.cross", description="Identifier in another catalogue"
        ),
    },
)


def _db_path() -> Path:
    import pyongc

    return Path(pyongc.__file__).parent / "ongc.db"


def _blank_to_none(value: object) -> object:
    return None if value == "" else value


def _objects(con: sqlite3.Connection) -> Iterator[pa.RecordBatch]:
    names = [c[0] for c in _OBJECT_COLUMNS]
    rows = con.execute(f"SELECT {', '.join(names)} FROM objects ORDER BY id").fetchall()
    columns: dict[str, list[object]] = {n: [] for n in names}
    for row in rows:
        for n, v in zip(names, row, strict=True):
            columns[n].append(_blank_to_none(v))
    for n in ("ra", "dec"):
        columns[n] = [None if v is None else math.degrees(v) for v in columns[n]]  # type: ignore[arg-type]
    columns["notngc"] = [bool(v) if v is not None else None for v in columns["notngc"]]
    schema = pa.schema([(c[0], c[1]) for c in _OBJECT_COLUMNS])
    yield pa.RecordBatch.from_pydict(columns, schema=schema)


def _types(con: sqlite3.Connection) -> Iterator[pa.RecordBatch]:
    rows = con.execute("SELECT type, typedesc FROM objTypes ORDER BY type").fetchall()
    yield pa.RecordBatch.from_pydict(
        {"type": [r[0] for r in rows], "description": [r[1] for r in rows]}
    )


def _identifiers(con: sqlite3.Connection) -> Iterator[pa.RecordBatch]:
    rows = con.execute("SELECT name, identifier FROM objIdentifiers ORDER BY id").fetchall()
    yield pa.RecordBatch.from_pydict(
        {"name": [r[0] for r in rows], "identifier": [r[1] for r in rows]}
    )


_Reader = Callable[[sqlite3.Connection], Iterator[pa.RecordBatch]]


def _read(reader: _Reader) -> Callable[[], Iterator[pa.RecordBatch]]:
    """Batches of one table, from a read-only connection to the package's database."""

    def batches(path: Path | None = None) -> Iterator[pa.RecordBatch]:
        con = sqlite3.connect(f"file:{path or _db_path()}?mode=ro", uri=True)
        try:
            yield from reader(con)
        finally:
            con.close()

    return batches


OPENNGC_TABLES = [
    (OPENNGC_TYPES, _read(_types)),
    (OPENNGC_OBJECTS, _read(_objects)),
    (OPENNGC_IDENTIFIERS, _read(_identifiers)),
]


def openngc_foreign_keys() -> list[tuple[str, str, list[tuple[str, str]], str]]:
    """(from table, target table, column pairs, description) for the three tables."""
    return [
        (
            "openngc.objects",
            "openngc.object_types",
            [("type", "type")],
            "The meaning of each object's type code",
        ),
        (
            "openngc.identifiers",
            "openngc.objects",
            [("name", "name")],
            "The object each identifier belongs to",
        ),
    ]
