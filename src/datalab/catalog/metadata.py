"""Table and column metadata, kept in the catalog database as TAP_SCHEMA (TAP 1.1 §4).

The catalog's own ``tap_schema`` tables are the single source of truth: ingest writes
them in the same transaction as the data, so a reader never sees a table without its
documentation. Facts TAP_SCHEMA has no column for (where the position columns are, row
counts) live in the private ``_datalab.tables`` table, which no query can name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import duckdb
import pyarrow as pa

from datalab.catalog.connection import scalar
from datalab.errors import UsageError
from datalab.formats import FieldMeta, votable_type

__all__ = [
    "HEALPIX_COLUMN",
    "PRIVATE_SCHEMA",
    "RESERVED_SCHEMAS",
    "TAP_SCHEMA",
    "ColumnInfo",
    "ForeignKey",
    "SchemaInfo",
    "TableInfo",
    "check_identifier",
    "ensure_metadata_tables",
]

HEALPIX_COLUMN = "_healpix_29"
PRIVATE_SCHEMA = "_datalab"
TAP_SCHEMA = "tap_schema"
# Schemas a data center cannot load catalogs into: system schemas of the engine, the
# metadata schemas, and names that other parts of the platform own.
RESERVED_SCHEMAS = frozenset(
    {
        TAP_SCHEMA,
        PRIVATE_SCHEMA,
        "information_schema",
        "pg_catalog",
        "main",
        "temp",
        "system",
        "mydb",
        "ivoa",
        "tap_upload",
    }
)

_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")


def check_identifier(name: str, what: str) -> str:
    """Return ``name`` lower-cased if it is a plain identifier, else raise.

    Catalog names are regular ADQL identifiers so users never need to quote them.
    """
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise UsageError(
            f"invalid {what} name {name!r}: use a letter followed by letters, digits or "
            "underscores (at most 63 characters)"
        )
    return name.lower()


# Words a column name may not be in ADQL without double quotes (ADQL 2.1 §2.1.2 and
# the grammar's <SQL_reserved_word> and <ADQL_reserved_word>).
ADQL_RESERVED_WORDS = frozenset(
    (
        "ABS", "ACOS", "AREA", "ASIN", "ATAN", "ATAN2", "BIGINT", "BOX", "CEILING", "CENTROID",
        "CIRCLE", "CONTAINS", "COORD1", "COORD2", "COORDSYS", "COS", "COT", "DEGREES",
        "DISTANCE", "EXP", "FLOOR", "ILIKE", "INTERSECTS", "IN_UNIT", "LOG", "LOG10", "MOD",
        "OFFSET", "PI", "POINT", "POLYGON", "POWER", "RADIANS", "REGION", "RAND", "ROUND",
        "SIN", "SQRT", "TOP", "TAN", "TRUNCATE", "ABSOLUTE", "ACTION", "ADD", "ALL", "ALLOCATE",
        "ALTER", "AND", "ANY", "ARE", "AS", "ASC", "ASSERTION", "AT", "AUTHORIZATION", "AVG",
        "BEGIN", "BETWEEN", "BIT", "BIT_LENGTH", "BOTH", "BY", "CASCADE", "CASCADED", "CASE",
        "CAST", "CATALOG", "CHAR", "CHARACTER", "CHAR_LENGTH", "CHARACTER_LENGTH", "CHECK",
        "CLOSE", "COALESCE", "COLLATE", "COLLATION", "COLUMN", "COMMIT", "CONNECT",
        "CONNECTION", "CONSTRAINT", "CONSTRAINTS", "CONTINUE", "CONVERT", "CORRESPONDING",
        "COUNT", "CREATE", "CROSS", "CURRENT", "CURRENT_DATE", "CURRENT_TIME",
        "CURRENT_TIMESTAMP", "CURRENT_USER", "CURSOR", "DATE", "DAY", "DEALLOCATE", "DECIMAL",
        "DECLARE", "DEFAULT", "DEFERRABLE", "DEFERRED", "DELETE", "DESC", "DESCRIBE",
        "DESCRIPTOR", "DIAGNOSTICS", "DISCONNECT", "DISTINCT", "DOMAIN", "DOUBLE", "DROP",
        "ELSE", "END", "ESCAPE", "EXCEPT", "EXCEPTION", "EXEC", "EXECUTE", "EXISTS", "EXTERNAL",
        "EXTRACT", "FALSE", "FETCH", "FIRST", "FLOAT", "FOR", "FOREIGN", "FOUND", "FROM",
        "FULL", "GET", "GLOBAL", "GO", "GOTO", "GRANT", "GROUP", "HAVING", "HOUR", "IDENTITY",
        "IMMEDIATE", "IN", "INDICATOR", "INITIALLY", "INNER", "INPUT", "INSENSITIVE", "INSERT",
        "INT", "INTEGER", "INTERSECT", "INTERVAL", "INTO", "IS", "ISOLATION", "JOIN", "KEY",
        "LANGUAGE", "LAST", "LEADING", "LEFT", "LEVEL", "LIKE", "LOCAL", "LOWER", "MATCH",
        "MAX", "MIN", "MINUTE", "MODULE", "MONTH", "NAMES", "NATIONAL", "NATURAL", "NCHAR",
        "NEXT", "NO", "NOT", "NULL", "NULLIF", "NUMERIC", "OCTET_LENGTH", "OF", "ON", "ONLY",
        "OPEN", "OPTION", "OR", "ORDER", "OUTER", "OUTPUT", "OVERLAPS", "PAD", "PARTIAL",
        "POSITION", "PRECISION", "PREPARE", "PRESERVE", "PRIMARY", "PRIOR", "PRIVILEGES",
        "PROCEDURE", "PUBLIC", "READ", "REAL", "REFERENCES", "RELATIVE", "RESTRICT", "REVOKE",
        "RIGHT", "ROLLBACK", "ROWS", "SCHEMA", "SCROLL", "SECOND", "SECTION", "SELECT",
        "SESSION", "SESSION_USER", "SET", "SIZE", "SMALLINT", "SOME", "SPACE", "SQL", "SQLCODE",
        "SQLERROR", "SQLSTATE", "SUBSTRING", "SUM", "SYSTEM_USER", "TABLE", "TEMPORARY", "THEN",
        "TIME", "TIMESTAMP", "TIMEZONE_HOUR", "TIMEZONE_MINUTE", "TO", "TRAILING",
        "TRANSACTION", "TRANSLATE", "TRANSLATION", "TRIM", "TRUE", "UNION", "UNIQUE", "UNKNOWN",
        "UPDATE", "UPPER", "USAGE", "USER", "USING", "VALUE", "VALUES", "VARCHAR", "VARYING",
        "VIEW", "WHEN", "WHENEVER", "WHERE", "WITH", "WORK", "WRITE", "YEAR", "ZONE",
    )
)

_REGULAR = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def adql_name(name: str) -> str:
    """``name`` as an ADQL query must write it: delimited when it is not a regular
    identifier or is a reserved word. TAP_SCHEMA and VOSI show names this way
    (TAP 1.1 §4.3), e.g. TAP_SCHEMA.columns' own ``"size"``."""
    if _REGULAR.match(name) and name.upper() not in ADQL_RESERVED_WORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def plain_name(written: str) -> str:
    """The name itself, from its ADQL spelling (the inverse of :func:`adql_name`)."""
    if len(written) >= 2 and written.startswith('"') and written.endswith('"'):
        return written[1:-1].replace('""', '"')
    return written


@dataclass(frozen=True)
class ColumnInfo:
    """One column as TAP_SCHEMA.columns describes it."""

    def __deepcopy__(self, memo: dict[int, object]) -> ColumnInfo:
        return self  # immutable

    name: str
    datatype: str
    arraysize: str | None = None
    xtype: str | None = None
    description: str | None = None
    unit: str | None = None
    ucd: str | None = None
    utype: str | None = None
    principal: bool = True
    indexed: bool = False
    std: bool = False

    def field_meta(self) -> FieldMeta:
        return FieldMeta(
            name=self.name,
            description=self.description,
            unit=self.unit,
            ucd=self.ucd,
            utype=self.utype,
            datatype=self.datatype,
            arraysize=self.arraysize,
            xtype=self.xtype,
        )


@dataclass(frozen=True)
class ForeignKey:
    """A foreign key from one catalog table to another (TAP_SCHEMA.keys, key_columns)."""

    from_table: str
    target_table: str
    columns: tuple[tuple[str, str], ...]
    description: str | None = None


@dataclass(frozen=True)
class SchemaInfo:
    name: str
    description: str | None = None


@dataclass(frozen=True)
class TableInfo:
    """A catalog table: its documentation, columns and position columns."""

    def __deepcopy__(self, memo: dict[int, object]) -> TableInfo:
        # Immutable; query trees that carry it are copied often.
        return self

    schema: str
    name: str
    description: str | None
    columns: tuple[ColumnInfo, ...]
    ra_column: str | None = None
    dec_column: str | None = None
    nrows: int | None = None
    table_type: str = "table"
    utype: str | None = None
    foreign_keys: tuple[ForeignKey, ...] = field(default=())
    # Whether the stored table carries the ``_healpix_29`` index of (ra, dec). The index
    # column itself is not among ``columns``: it is the engine's, not the astronomer's.
    healpix_indexed: bool = False

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    def column(self, name: str) -> ColumnInfo:
        for col in self.columns:
            if col.name.lower() == name.lower():
                return col
        raise KeyError(name)


def column_info(arrow_field: pa.Field, meta: FieldMeta | None, *, indexed: bool) -> ColumnInfo:
    """Column description from the data's type and whatever metadata came with it."""
    datatype, arraysize, xtype = votable_type(arrow_field.type)
    if meta is not None and meta.xtype:
        xtype = meta.xtype
    return ColumnInfo(
        name=arrow_field.name,
        datatype=datatype,
        arraysize=arraysize,
        xtype=xtype,
        description=meta.description if meta else None,
        unit=meta.unit if meta else None,
        ucd=meta.ucd if meta else None,
        utype=meta.utype if meta else None,
        principal=arrow_field.name != HEALPIX_COLUMN,
        indexed=indexed,
    )


# -- storage -------------------------------------------------------------------------

_DDL = f"""
CREATE SCHEMA IF NOT EXISTS {TAP_SCHEMA};
CREATE SCHEMA IF NOT EXISTS {PRIVATE_SCHEMA};
CREATE TABLE IF NOT EXISTS {TAP_SCHEMA}.schemas (
    schema_name VARCHAR NOT NULL PRIMARY KEY, utype VARCHAR, description VARCHAR,
    schema_index INTEGER);
CREATE TABLE IF NOT EXISTS {TAP_SCHEMA}.tables (
    schema_name VARCHAR NOT NULL, table_name VARCHAR NOT NULL PRIMARY KEY,
    table_type VARCHAR NOT NULL, utype VARCHAR, description VARCHAR, table_index INTEGER);
CREATE TABLE IF NOT EXISTS {TAP_SCHEMA}.columns (
    table_name VARCHAR NOT NULL, column_name VARCHAR NOT NULL, datatype VARCHAR NOT NULL,
    arraysize VARCHAR, xtype VARCHAR, "size" INTEGER, description VARCHAR, utype VARCHAR,
    unit VARCHAR, ucd VARCHAR, indexed INTEGER NOT NULL, principal INTEGER NOT NULL,
    std INTEGER NOT NULL, column_index INTEGER, PRIMARY KEY (table_name, column_name));
CREATE TABLE IF NOT EXISTS {TAP_SCHEMA}.keys (
    key_id VARCHAR NOT NULL PRIMARY KEY, from_table VARCHAR NOT NULL,
    target_table VARCHAR NOT NULL, description VARCHAR, utype VARCHAR);
CREATE TABLE IF NOT EXISTS {TAP_SCHEMA}.key_columns (
    key_id VARCHAR NOT NULL, from_column VARCHAR NOT NULL, target_column VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS {PRIVATE_SCHEMA}.tables (
    table_name VARCHAR NOT NULL PRIMARY KEY, ra_column VARCHAR, dec_column VARCHAR,
    nrows BIGINT, loaded_at TIMESTAMP DEFAULT current_timestamp);
"""

_TAP_SCHEMA_DOC = {
    "schemas": "Schemas served by this TAP service (TAP 1.1 §4.1).",
    "tables": "Tables served by this TAP service (TAP 1.1 §4.2).",
    "columns": "Columns of the tables served (TAP 1.1 §4.3).",
    "keys": "Foreign keys between tables (TAP 1.1 §4.4).",
    "key_columns": "Columns making up each foreign key (TAP 1.1 §4.5).",
}


def ensure_metadata_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the metadata tables, and describe TAP_SCHEMA in itself, if not done yet."""
    con.execute(_DDL)
    if scalar(
        con, f"SELECT count(*) FROM {TAP_SCHEMA}.schemas WHERE schema_name = ?", [TAP_SCHEMA]
    ):
        return
    put_schema(con, SchemaInfo(TAP_SCHEMA, "Metadata of this service's tables (TAP 1.1 §4)."))
    for name, doc in _TAP_SCHEMA_DOC.items():
        arrow = con.sql(f"SELECT * FROM {TAP_SCHEMA}.{name} LIMIT 0").to_arrow_table()
        cols = tuple(
            replace(
                column_info(
                    f, FieldMeta(f.name, _TAP_SCHEMA_COLUMN_DOC.get(f.name)), indexed=False
                ),
                std=True,
            )
            for f in arrow.schema
        )
        put_table(con, TableInfo(TAP_SCHEMA, name, doc, cols))
    for source, target, column, target_column in _TAP_SCHEMA_KEYS:
        put_foreign_key(
            con,
            ForeignKey(
                f"{TAP_SCHEMA}.{source}",
                f"{TAP_SCHEMA}.{target}",
                ((column, target_column),),
                "Required by TAP 1.1 §4",
            ),
        )


# The links between the TAP_SCHEMA tables themselves (TAP 1.1 §4.4, §4.5).
_TAP_SCHEMA_KEYS = (
    ("tables", "schemas", "schema_name", "schema_name"),
    ("columns", "tables", "table_name", "table_name"),
    ("keys", "tables", "from_table", "table_name"),
    ("keys", "tables", "target_table", "table_name"),
    ("key_columns", "keys", "key_id", "key_id"),
)


_TAP_SCHEMA_COLUMN_DOC = {
    "schema_name": "Schema name, as used in queries",
    "table_name": "Fully qualified table name, as used in queries",
    "column_name": "Column name, as used in queries",
    "table_type": "One of: table, view",
    "utype": "Data model type of this item",
    "description": "Description of this item",
    "schema_index": "Recommended display order of schemas",
    "table_index": "Recommended display order of tables",
    "column_index": "Recommended display order of columns",
    "datatype": "VOTable datatype of the column",
    "arraysize": "VOTable arraysize of the column",
    "xtype": "VOTable/DALI extended type of the column",
    "size": "Deprecated length of the column (TAP 1.0)",
    "unit": "Unit of the column's values (VOUnits)",
    "ucd": "UCD1+ of the column",
    "indexed": "1 when the column is indexed, else 0",
    "principal": "1 when the column is of primary interest, else 0",
    "std": "1 when the column is defined by a standard, else 0",
    "key_id": "Identifier of the foreign key",
    "from_table": "Table holding the foreign key",
    "target_table": "Table the foreign key refers to",
    "from_column": "Column in from_table",
    "target_column": "Column in target_table",
}


def put_schema(con: duckdb.DuckDBPyConnection, schema: SchemaInfo) -> None:
    """Insert or update a schema's row; a new description replaces the old one only if set."""
    known = scalar(
        con, f"SELECT count(*) FROM {TAP_SCHEMA}.schemas WHERE schema_name = ?", [schema.name]
    )
    if not known:
        index = scalar(con, f"SELECT coalesce(max(schema_index), -1) + 1 FROM {TAP_SCHEMA}.schemas")
        con.execute(
            f"INSERT INTO {TAP_SCHEMA}.schemas VALUES (?, NULL, ?, ?)",
            [schema.name, schema.description, index],
        )
    elif schema.description is not None:
        con.execute(
            f"UPDATE {TAP_SCHEMA}.schemas SET description = ? WHERE schema_name = ?",
            [schema.description, schema.name],
        )


def put_table(con: duckdb.DuckDBPyConnection, table: TableInfo) -> None:
    """Replace a table's TAP_SCHEMA rows (not its foreign keys) with ``table``."""
    qualified = table.qualified_name
    delete_table(con, qualified, keep_keys=True)
    index = scalar(con, f"SELECT coalesce(max(table_index), -1) + 1 FROM {TAP_SCHEMA}.tables")
    con.execute(
        f"INSERT INTO {TAP_SCHEMA}.tables VALUES (?, ?, ?, ?, ?, ?)",
        [
            table.schema,
            qualified,
            table.table_type,
            table.utype,
            table.description,
            index,
        ],
    )
    rows = [
        (
            qualified,
            adql_name(c.name),
            c.datatype,
            c.arraysize,
            c.xtype,
            int(c.arraysize) if c.arraysize and c.arraysize.isdigit() else None,
            c.description,
            c.utype,
            c.unit,
            c.ucd,
            int(c.indexed),
            int(c.principal),
            int(c.std),
            i,
        )
        for i, c in enumerate(c for c in table.columns if c.name != HEALPIX_COLUMN)
    ]
    if rows:
        # One statement for all columns: the engine runs executemany row by row, at
        # about a hundredth of a second each.
        one = "(" + ",".join("?" * len(rows[0])) + ")"
        con.execute(
            f"INSERT INTO {TAP_SCHEMA}.columns VALUES " + ",".join([one] * len(rows)),
            [value for row in rows for value in row],
        )
    con.execute(
        f"INSERT INTO {PRIVATE_SCHEMA}.tables (table_name, ra_column, dec_column, nrows) "
        "VALUES (?, ?, ?, ?)",
        [qualified, table.ra_column, table.dec_column, table.nrows],
    )


def delete_table(con: duckdb.DuckDBPyConnection, qualified: str, *, keep_keys: bool) -> None:
    con.execute(f"DELETE FROM {TAP_SCHEMA}.columns WHERE table_name = ?", [qualified])
    con.execute(f"DELETE FROM {TAP_SCHEMA}.tables WHERE table_name = ?", [qualified])
    con.execute(f"DELETE FROM {PRIVATE_SCHEMA}.tables WHERE table_name = ?", [qualified])
    if not keep_keys:
        keys = [
            r[0]
            for r in con.execute(
                f"SELECT key_id FROM {TAP_SCHEMA}.keys WHERE from_table = ? OR target_table = ?",
                [qualified, qualified],
            ).fetchall()
        ]
        for key in keys:
            con.execute(f"DELETE FROM {TAP_SCHEMA}.key_columns WHERE key_id = ?", [key])
            con.execute(f"DELETE FROM {TAP_SCHEMA}.keys WHERE key_id = ?", [key])


def put_foreign_key(con: duckdb.DuckDBPyConnection, key: ForeignKey) -> str:
    """Record a foreign key; its id is derived from the tables and columns it links."""
    key_id = f"{key.from_table}-{key.target_table}-" + "-".join(c for c, _ in key.columns)
    con.execute(f"DELETE FROM {TAP_SCHEMA}.key_columns WHERE key_id = ?", [key_id])
    con.execute(f"DELETE FROM {TAP_SCHEMA}.keys WHERE key_id = ?", [key_id])
    con.execute(
        f"INSERT INTO {TAP_SCHEMA}.keys VALUES (?, ?, ?, ?, NULL)",
        [key_id, key.from_table, key.target_table, key.description],
    )
    con.executemany(
        f"INSERT INTO {TAP_SCHEMA}.key_columns VALUES (?, ?, ?)",
        [(key_id, a, b) for a, b in key.columns],
    )
    return key_id


# -- reading -------------------------------------------------------------------------


def read_schemas(con: duckdb.DuckDBPyConnection) -> list[SchemaInfo]:
    rows = con.execute(
        f"SELECT schema_name, description FROM {TAP_SCHEMA}.schemas "
        "ORDER BY schema_index, schema_name"
    ).fetchall()
    return [SchemaInfo(name, desc) for name, desc in rows]


def read_tables(
    con: duckdb.DuckDBPyConnection, names: Sequence[str] | None = None
) -> list[TableInfo]:
    """Every table's metadata (or those named), in the order TAP_SCHEMA recommends."""
    where, params = "", []
    if names is not None:
        if not names:
            return []
        where = "WHERE t.table_name IN (" + ",".join("?" * len(names)) + ")"
        params = list(names)
    tables = con.execute(
        "SELECT t.schema_name, t.table_name, t.table_type, t.utype, t.description, "
        "p.ra_column, p.dec_column, p.nrows "
        f"FROM {TAP_SCHEMA}.tables t LEFT JOIN {PRIVATE_SCHEMA}.tables p USING (table_name) "
        f"{where} ORDER BY t.table_index, t.table_name",
        params,
    ).fetchall()
    columns: dict[str, list[ColumnInfo]] = {}
    for row in con.execute(
        "SELECT table_name, column_name, datatype, arraysize, xtype, description, unit, ucd, "
        f"utype, principal, indexed, std FROM {TAP_SCHEMA}.columns "
        "ORDER BY table_name, column_index"
    ).fetchall():
        if row[1] == HEALPIX_COLUMN:  # listed by catalogs written before it was hidden
            continue
        columns.setdefault(row[0], []).append(
            ColumnInfo(
                name=plain_name(row[1]),
                datatype=row[2],
                arraysize=row[3],
                xtype=row[4],
                description=row[5],
                unit=row[6],
                ucd=row[7],
                utype=row[8],
                principal=bool(row[9]),
                indexed=bool(row[10]),
                std=bool(row[11]),
            )
        )
    keys: dict[str, list[ForeignKey]] = {}
    key_cols: dict[str, list[tuple[str, str]]] = {}
    for key_id, a, b in con.execute(
        f"SELECT key_id, from_column, target_column FROM {TAP_SCHEMA}.key_columns"
    ).fetchall():
        key_cols.setdefault(key_id, []).append((a, b))
    for key_id, src, dst, desc in con.execute(
        f"SELECT key_id, from_table, target_table, description FROM {TAP_SCHEMA}.keys"
    ).fetchall():
        keys.setdefault(src, []).append(ForeignKey(src, dst, tuple(key_cols.get(key_id, [])), desc))
    result = []
    for schema, qualified, ttype, utype, desc, ra, dec, nrows in tables:
        result.append(
            TableInfo(
                schema=schema,
                name=qualified.split(".", 1)[1],
                description=desc,
                columns=tuple(columns.get(qualified, [])),
                ra_column=ra,
                dec_column=dec,
                nrows=nrows,
                table_type=ttype,
                utype=utype,
                foreign_keys=tuple(keys.get(qualified, [])),
                healpix_indexed=ra is not None and dec is not None,
            )
        )
    return result
