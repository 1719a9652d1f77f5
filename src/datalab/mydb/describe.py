"""How a user table is described: to its owner (:class:`MyDBTable`) and to the ADQL
compiler (a :class:`TableInfo` named ``mydb.<table>``).

Types come from the table itself, everything else from the remembered metadata, so
that a description can never disagree with the data it describes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import pyarrow as pa

from datalab.catalog.connection import MYDB_CATALOG
from datalab.catalog.metadata import HEALPIX_COLUMN, ColumnInfo, TableInfo, column_info
from datalab.mydb.meta import StoredTable
from datalab.mydb.sql import physical

__all__ = ["MyDBTable", "arrow_schema", "describe", "table_info"]


@dataclass(frozen=True)
class MyDBTable:
    """One of a user's tables as they see it (``_healpix_29`` is not a column of theirs)."""

    name: str
    rows: int
    columns: tuple[ColumnInfo, ...]
    healpix_indexed: bool
    created: datetime | None = None
    ra_column: str | None = None
    dec_column: str | None = None


def arrow_schema(cur: duckdb.DuckDBPyConnection, user: str, table: str) -> pa.Schema:
    """The table's columns as Arrow types, ``_healpix_29`` included."""
    return cur.sql(f"SELECT * FROM {physical(user, table)} LIMIT 0").to_arrow_table().schema


def describe(
    cur: duckdb.DuckDBPyConnection, user: str, table: str, stored: StoredTable
) -> MyDBTable:
    schema = arrow_schema(cur, user, table)
    rows = cur.execute(f"SELECT count(*) FROM {physical(user, table)}").fetchall()[0][0]
    names = {n.lower() for n in schema.names}
    positional = (
        HEALPIX_COLUMN in schema.names
        and stored.ra is not None
        and stored.dec is not None
        and stored.ra.lower() in names
        and stored.dec.lower() in names
    )
    position = (
        {stored.ra.lower(), stored.dec.lower()}
        if positional and stored.ra is not None and stored.dec is not None
        else set()
    )
    columns = tuple(
        column_info(
            f,
            stored.fields.get(f.name.lower()),
            indexed=f.name.lower() in stored.indexed or f.name.lower() in position,
        )
        for f in schema
        if f.name != HEALPIX_COLUMN
    )
    return MyDBTable(
        name=table,
        rows=int(rows),
        columns=columns,
        healpix_indexed=positional,
        created=stored.created,
        ra_column=stored.ra if positional else None,
        dec_column=stored.dec if positional else None,
    )


def table_info(user: str, table: MyDBTable) -> TableInfo:
    """The compiler's view of a user table: ADQL name ``mydb.<table>``."""
    return TableInfo(
        schema=MYDB_CATALOG,
        name=table.name,
        description=f"myDB table of {user}",
        columns=table.columns,
        ra_column=table.ra_column,
        dec_column=table.dec_column,
        nrows=table.rows,
        healpix_indexed=table.healpix_indexed,
    )
