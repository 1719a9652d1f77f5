"""What myDB remembers about each user table besides its rows, in ``mydb._datalab``.

The engine knows a table's columns and types; it does not know their units, UCDs and
descriptions (which TAP results from a myDB table should carry like any other), which
columns are the position that ``_healpix_29`` indexes, which have a column index, nor
when the table was made. Those live in two small tables of the private schema
``_datalab``: a name no user has (user names start with a letter), so it can never be
a user's schema. They are changed in the same transaction as the table they describe.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb

from datalab.catalog.connection import MYDB_CATALOG
from datalab.formats import FieldMeta

__all__ = ["META_SCHEMA", "StoredTable", "delete", "ensure", "read", "read_all", "write"]

META_SCHEMA = "_datalab"
_TABLES = f'{MYDB_CATALOG}."{META_SCHEMA}"."tables"'
_COLUMNS = f'{MYDB_CATALOG}."{META_SCHEMA}"."columns"'

_DDL = f"""
CREATE SCHEMA IF NOT EXISTS {MYDB_CATALOG}."{META_SCHEMA}";
CREATE TABLE IF NOT EXISTS {_TABLES} (
    owner VARCHAR NOT NULL, table_name VARCHAR NOT NULL,
    ra_column VARCHAR, dec_column VARCHAR, created TIMESTAMP);
CREATE TABLE IF NOT EXISTS {_COLUMNS} (
    owner VARCHAR NOT NULL, table_name VARCHAR NOT NULL, column_name VARCHAR NOT NULL,
    description VARCHAR, unit VARCHAR, ucd VARCHAR, utype VARCHAR, xtype VARCHAR,
    indexed BOOLEAN NOT NULL);
"""


@dataclass(frozen=True)
class StoredTable:
    """One table's remembered facts. ``fields`` and ``indexed`` use lower-case names."""

    ra: str | None = None
    dec: str | None = None
    created: datetime | None = None
    fields: dict[str, FieldMeta] = field(default_factory=dict)
    indexed: frozenset[str] = frozenset()


def ensure(cur: duckdb.DuckDBPyConnection) -> None:
    """Create the metadata tables if this myDB file does not have them yet."""
    cur.execute(_DDL)


def write(cur: duckdb.DuckDBPyConnection, owner: str, table: str, stored: StoredTable) -> None:
    """Replace what is remembered about ``owner``'s ``table`` with ``stored``."""
    delete(cur, owner, table)
    created = stored.created or datetime.now(UTC)
    cur.execute(
        f"INSERT INTO {_TABLES} VALUES (?, ?, ?, ?, ?)",
        [owner, table, stored.ra, stored.dec, created.astimezone(UTC).replace(tzinfo=None)],
    )
    names = set(stored.fields) | set(stored.indexed)
    rows = []
    for name in sorted(names):
        meta = stored.fields.get(name, FieldMeta(name))
        rows.append(
            [owner, table, name, meta.description, meta.unit, meta.ucd, meta.utype,
             meta.xtype, name in stored.indexed]
        )
    if rows:
        cur.executemany(f"INSERT INTO {_COLUMNS} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def delete(cur: duckdb.DuckDBPyConnection, owner: str, table: str | None = None) -> None:
    """Forget ``owner``'s ``table``, or every table of ``owner`` when ``table`` is None."""
    where, params = "owner = ?", [owner]
    if table is not None:
        where, params = "owner = ? AND table_name = ?", [owner, table]
    cur.execute(f"DELETE FROM {_COLUMNS} WHERE {where}", params)
    cur.execute(f"DELETE FROM {_TABLES} WHERE {where}", params)


def read(cur: duckdb.DuckDBPyConnection, owner: str, table: str) -> StoredTable:
    """What is remembered about one table (an empty record if nothing is)."""
    return read_all(cur, owner, [table]).get(table, StoredTable())


def read_all(
    cur: duckdb.DuckDBPyConnection, owner: str, tables: Iterable[str] | None = None
) -> dict[str, StoredTable]:
    """Remembered facts of ``owner``'s tables (or of those named), by table name."""
    where, params = "owner = ?", [owner]
    if tables is not None:
        names = list(tables)
        if not names:
            return {}
        where += " AND table_name IN (" + ",".join("?" * len(names)) + ")"
        params = [owner, *names]
    fields: dict[str, dict[str, FieldMeta]] = {}
    indexed: dict[str, set[str]] = {}
    for name, column, desc, unit, ucd, utype, xtype, is_indexed in cur.execute(
        "SELECT table_name, column_name, description, unit, ucd, utype, xtype, indexed "
        f"FROM {_COLUMNS} WHERE {where}",
        params,
    ).fetchall():
        fields.setdefault(name, {})[column] = FieldMeta(
            column, description=desc, unit=unit, ucd=ucd, utype=utype, xtype=xtype
        )
        if is_indexed:
            indexed.setdefault(name, set()).add(column)
    result = {}
    for name, ra, dec, created in cur.execute(
        f"SELECT table_name, ra_column, dec_column, created FROM {_TABLES} WHERE {where}",
        params,
    ).fetchall():
        result[name] = StoredTable(
            ra=ra,
            dec=dec,
            created=created.replace(tzinfo=UTC) if created is not None else None,
            fields=fields.get(name, {}),
            indexed=frozenset(indexed.get(name, ())),
        )
    return result
