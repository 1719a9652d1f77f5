"""The engine operations myDB is built from: staging tables, existence, indexes, errors.

Writes follow the catalog store's rule, *load aside, swap at the end*: rows stream
into a staging table of the user's schema, committed batch by batch so memory stays
bounded; only when every row is in does one short transaction put it in place of the
table. A failure before the swap drops the staging table and leaves the old table as
it was. Staging names start with ``_`` (which no table name does) and carry a token of
this process, so that staging tables left by a process that died can be told apart
from those a running save is still filling, and removed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress

import duckdb
import pyarrow as pa

from datalab.catalog.connection import MYDB_CATALOG
from datalab.catalog.metadata import HEALPIX_COLUMN
from datalab.errors import ConflictError, DataLabError, TransientError, UsageError
from datalab.mydb.names import quote

__all__ = [
    "BATCH_VIEW",
    "PROCESS_TOKEN",
    "STAGING_PREFIX",
    "check_names",
    "conform",
    "copy_in",
    "create_index",
    "drop_indexes",
    "engine_error",
    "exists",
    "is_stale_staging",
    "list_tables",
    "new_staging_name",
    "physical",
    "stage",
    "transaction",
]

STAGING_PREFIX = "_stage_"
# This process's token in staging names: the myDB file is locked by one process, so a
# staging table with another token belongs to a process that is gone.
PROCESS_TOKEN = uuid.uuid4().hex[:8]
# The name a batch is registered under on a cursor while it is copied in.
BATCH_VIEW = "_mydb_batch"


def physical(user: str, table: str) -> str:
    """The engine's name of ``user``'s ``table``, every part quoted."""
    return f"{MYDB_CATALOG}.{quote(user)}.{quote(table)}"


def new_staging_name() -> str:
    return f"{STAGING_PREFIX}{PROCESS_TOKEN}_{uuid.uuid4().hex[:12]}"


def is_stale_staging(table: str) -> bool:
    """Whether ``table`` is a staging table left behind by another (dead) process."""
    return table.startswith(STAGING_PREFIX) and not table.startswith(
        f"{STAGING_PREFIX}{PROCESS_TOKEN}_"
    )


def list_tables(cur: duckdb.DuckDBPyConnection, user: str | None) -> list[tuple[str, str]]:
    """(schema, table) of every table in myDB, or in ``user``'s schema only."""
    sql = (
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? "
        "AND NOT temporary"
    )
    params: list[object] = [MYDB_CATALOG]
    if user is not None:
        sql += " AND schema_name = ?"
        params.append(user)
    rows = cur.execute(sql + " ORDER BY schema_name, table_name", params).fetchall()
    return [(schema, table) for schema, table in rows]


def exists(cur: duckdb.DuckDBPyConnection, user: str, table: str) -> bool:
    return bool(
        cur.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? "
            "AND schema_name = ? AND table_name = ?",
            [MYDB_CATALOG, user, table],
        ).fetchall()[0][0]
    )


def drop_indexes(cur: duckdb.DuckDBPyConnection, user: str, table: str) -> None:
    """Drop the table's column indexes: DuckDB renames no table that has any."""
    for (name,) in cur.execute(
        "SELECT index_name FROM duckdb_indexes() WHERE database_name = ? "
        "AND schema_name = ? AND table_name = ?",
        [MYDB_CATALOG, user, table],
    ).fetchall():
        cur.execute(f"DROP INDEX {MYDB_CATALOG}.{quote(user)}.{quote(name)}")


def create_index(cur: duckdb.DuckDBPyConnection, user: str, table: str, column: str) -> None:
    index = f"_ix_{uuid.uuid4().hex[:16]}"
    cur.execute(f"CREATE INDEX {quote(index)} ON {physical(user, table)} ({quote(column)})")


@contextmanager
def transaction(cur: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One explicit transaction on ``cur``: committed at the end, rolled back on error."""
    cur.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        cur.execute("ROLLBACK")
        raise
    cur.execute("COMMIT")


def conform(batch: pa.RecordBatch) -> pa.RecordBatch:
    """A batch as myDB stores it: without a ``_healpix_29`` of its own (the index is
    computed here or not at all) and with dictionary columns decoded (the engine would
    make each batch's dictionary an ENUM of its own)."""
    if HEALPIX_COLUMN in batch.schema.names:
        batch = batch.drop_columns([HEALPIX_COLUMN])
    for i, f in enumerate(batch.schema):
        if pa.types.is_dictionary(f.type):
            batch = batch.set_column(i, f.name, batch.column(i).cast(f.type.value_type))
    return batch


def check_names(schema: pa.Schema) -> None:
    """Refuse what no table can hold: no columns, empty or repeated names."""
    names = [n for n in schema.names if n != HEALPIX_COLUMN]
    if not names:
        raise UsageError("nothing to store: the data has no columns")
    seen: set[str] = set()
    for name in names:
        if not name or not name.strip():
            raise UsageError("a column has an empty name")
        if name.lower() in seen:
            raise UsageError(f"two columns are named {name[:60]!r} (names ignore case)")
        seen.add(name.lower())


def stage(
    cur: duckdb.DuckDBPyConnection,
    user: str,
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    *,
    transform: Callable[[pa.RecordBatch], pa.RecordBatch] | None = None,
) -> str:
    """Copy ``batches`` into a new staging table of ``user``'s schema; return its name.

    One batch is registered at a time, so memory holds a batch, never the whole input.
    On any failure (also one raised by the iterator itself) the staging table is
    dropped and the error passes on.
    """
    check_names(schema)
    staging = new_staging_name()
    target = physical(user, staging)
    empty = conform(
        pa.record_batch([pa.array([], type=f.type) for f in schema], schema=schema)
    )
    if transform is not None:
        empty = transform(empty)
    try:
        copy_in(cur, f"CREATE TABLE {target} AS SELECT * FROM {BATCH_VIEW}", empty)
        for batch in batches:
            batch = conform(batch)
            if transform is not None:
                batch = transform(batch)
            if batch.num_rows:
                copy_in(cur, f"INSERT INTO {target} BY NAME SELECT * FROM {BATCH_VIEW}", batch)
    except BaseException:
        cur.execute(f"DROP TABLE IF EXISTS {target}")
        raise
    return staging


def copy_in(cur: duckdb.DuckDBPyConnection, sql: str, data: pa.RecordBatch) -> None:
    """Run ``sql`` reading ``data`` registered as :data:`BATCH_VIEW`, then unregister it.

    When ``sql`` fails inside an explicit transaction the engine refuses everything but
    a rollback, which discards the registration anyway: that refusal is not an error.
    """
    cur.register(BATCH_VIEW, data)
    try:
        cur.execute(sql)
    finally:
        with suppress(duckdb.TransactionException):
            cur.unregister(BATCH_VIEW)


def engine_error(exc: duckdb.Error, what: str) -> DataLabError:
    """The project error for an engine failure while doing ``what`` to a user's table."""
    text = str(exc).split("\n", 1)[0]
    _, sep, rest = text.partition(" Error: ")
    text = (rest if sep else text).strip()[:300]
    if isinstance(exc, duckdb.TransactionException):
        return ConflictError(
            f"{what}: the table was changed by another request at the same time; try again"
        )
    if isinstance(exc, duckdb.OutOfMemoryException | duckdb.IOException):
        return TransientError(f"{what}: the database is short of memory or disk; try again later")
    if isinstance(
        exc,
        duckdb.ConversionException
        | duckdb.InvalidInputException
        | duckdb.BinderException
        | duckdb.ConstraintException
        | duckdb.NotImplementedException
        | duckdb.CatalogException
        | duckdb.TypeMismatchException
        | duckdb.OutOfRangeException,
    ):
        return UsageError(f"{what}: {text}")
    return DataLabError(f"{what}: the database engine failed ({text})")
