"""Reading and (re)writing ``ivoa.obscore`` in the catalog database.

The table is written the way every catalog table is (``CatalogStore``: staged aside,
swapped in one transaction with its TAP_SCHEMA rows, sorted by ``_healpix_29`` of
``s_ra``/``s_dec``), with two differences that ``CatalogStore.load`` has no options
for. The ``ivoa`` schema is reserved, so that no data center can load a catalog
over it: this module is the part of the platform that owns it. And ObsCore's
columns are flagged ``std`` and the table carries the ObsCore utype, which is how
TAP clients find the ObsCore table of a service.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import replace

import duckdb

from datalab.catalog import CatalogStore, TableInfo
from datalab.catalog import metadata as md
from datalab.images.obscore import (
    OBSCORE_COLUMNS,
    OBSCORE_SPEC,
    OBSCORE_UTYPE,
    RECORD_COLUMNS,
    record_batches,
    records_from_rows,
)
from datalab.images.records import ImageRecord

__all__ = ["obscore_exists", "read_obscore", "write_obscore"]

_STD = {c.name for c in OBSCORE_COLUMNS if c.std}
_QUALIFIED = f'"{OBSCORE_SPEC.schema}"."{OBSCORE_SPEC.name}"'


def obscore_exists(con: duckdb.DuckDBPyConnection) -> bool:
    rows = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = ?",
        [OBSCORE_SPEC.schema, OBSCORE_SPEC.name],
    ).fetchall()
    return bool(rows[0][0])


def read_obscore(con: duckdb.DuckDBPyConnection) -> list[ImageRecord]:
    """Every record of the table (none if it does not exist), in image-id order."""
    if not obscore_exists(con):
        return []
    columns = ", ".join(f'"{c}"' for c in RECORD_COLUMNS)
    rows = con.execute(f"SELECT {columns} FROM {_QUALIFIED} ORDER BY image_id").fetchall()
    return records_from_rows(rows)


def write_obscore(store: CatalogStore, records: Iterable[ImageRecord]) -> TableInfo:
    """Replace the table's rows with ``records``, documentation included, atomically."""
    store._require_writable()
    staging = f'temp.main."_load_obscore_{uuid.uuid4().hex[:12]}"'
    try:
        arrow_schema = store._stage(staging, OBSCORE_SPEC, record_batches(records))
        with store._transaction():
            info = store._replace(
                OBSCORE_SPEC.schema, OBSCORE_SPEC.name, staging, OBSCORE_SPEC, arrow_schema
            )
            info = replace(
                info,
                utype=OBSCORE_UTYPE,
                columns=tuple(replace(c, std=c.name in _STD) for c in info.columns),
            )
            md.put_table(store.con, info)
            store.con.execute(f"DROP TABLE {staging}")
        return info
    finally:
        store.con.execute(f"DROP TABLE IF EXISTS {staging}")
