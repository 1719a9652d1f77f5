"""Users' own tables (myDB): one schema per user in the database attached as ``mydb``.

Every method takes the user it acts for and touches that user's schema only: no
method accepts a schema, a table name cannot name one (:func:`check_table_name`), and
every identifier is quoted in the SQL generated here. Reads by queries do not come
through this class: the ADQL compiler resolves ``mydb.<table>`` with the descriptions
and engine names :meth:`MyDB.tables_for` gives it.

Changes to tables and their metadata are short transactions under the engine's myDB
lock; rows stream into staging tables outside it (see :mod:`datalab.mydb.sql`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import duckdb
import pyarrow as pa

from datalab.catalog import HEALPIX_COLUMN, Engine, TableInfo
from datalab.catalog.connection import MYDB_CATALOG
from datalab.errors import ConflictError, NotFoundError, UsageError
from datalab.formats import FieldMeta
from datalab.mydb import meta
from datalab.mydb import sql as q
from datalab.mydb.describe import MyDBTable, describe, table_info
from datalab.mydb.names import check_column_name, check_table_name, check_user, quote
from datalab.mydb.positional import add_position_index, resolve_column
from datalab.mydb.sources import open_source
from datalab.mydb.types import duckdb_type

__all__ = ["MyDB"]


class MyDB:
    """Creates, fills, lists and removes the tables in each user's myDB schema."""

    def __init__(self, engine: Engine) -> None:
        if getattr(engine, "mydb", None) is None:
            raise UsageError("this engine has no myDB: open it with Engine(..., mydb=path)")
        self._engine = engine
        with self._locked() as cur:
            meta.ensure(cur)
            for schema, table in q.list_tables(cur, None):
                if q.is_stale_staging(table):
                    cur.execute(f"DROP TABLE {q.physical(schema, table)}")

    # -- reading ---------------------------------------------------------------------

    def tables(self, user: str) -> list[MyDBTable]:
        """The user's tables, by name."""
        user = check_user(user)
        with self._engine.cursor() as cur:
            names = [t for _, t in q.list_tables(cur, user) if _is_table(t)]
            stored = meta.read_all(cur, user, names)
            return [describe(cur, user, t, stored.get(t, meta.StoredTable())) for t in names]

    def table(self, user: str, name: str) -> MyDBTable:
        """One of the user's tables; :class:`NotFoundError` if they have none so named."""
        user, name = check_user(user), check_table_name(name)
        with self._engine.cursor() as cur:
            self._require(cur, user, name)
            return describe(cur, user, name, meta.read(cur, user, name))

    def tables_for(
        self, user: str
    ) -> tuple[list[TableInfo], dict[str, tuple[str, str, str]]]:
        """What the ADQL compiler needs to let ``user`` query their tables as ``mydb.t``:
        the table descriptions and the map from ADQL name to engine name."""
        user = check_user(user)
        tables = self.tables(user)
        infos = [table_info(user, t) for t in tables]
        physical = {f"{MYDB_CATALOG}.{t.name}": (MYDB_CATALOG, user, t.name) for t in tables}
        return infos, physical

    # -- creating --------------------------------------------------------------------

    def save(
        self,
        user: str,
        name: str,
        schema: pa.Schema,
        batches: Iterable[pa.RecordBatch],
        *,
        replace: bool = False,
        fields: Sequence[FieldMeta] | None = None,
    ) -> MyDBTable:
        """Store a stream of batches (a query result, a file) as the table ``name``.

        Memory holds one batch at a time. Nothing changes unless every batch arrives:
        the rows go to a staging table that replaces the old table in one transaction.
        :class:`ConflictError` if the table exists and ``replace`` is false.
        """
        user, name = check_user(user), check_table_name(name)
        self._ensure_schema(user)
        stored = meta.StoredTable(fields={f.name.lower(): f for f in fields or ()})
        with self._engine.cursor() as cur:
            if not replace and q.exists(cur, user, name):
                raise _exists_error(name)
            staging = self._stage(cur, user, name, schema, batches)
            self._swap_in(cur, user, staging, name, stored, replace=replace)
            return describe(cur, user, name, meta.read(cur, user, name))

    def import_table(
        self,
        user: str,
        name: str,
        source: object,
        *,
        replace: bool = False,
        format: str | None = None,
    ) -> MyDBTable:
        """Create ``name`` from a file (streamed: CSV, TSV, FITS, Parquet, VOTable) or an
        in-memory table (pyarrow, astropy, pandas), keeping its column metadata."""
        user, name = check_user(user), check_table_name(name)
        with open_source(source, format=format) as src:
            return self.save(user, name, src.schema, src.batches, replace=replace,
                             fields=src.fields)

    def create(
        self,
        user: str,
        name: str,
        columns: Sequence[tuple[str, str]],
        *,
        replace: bool = False,
    ) -> MyDBTable:
        """An empty table with ``(column, type)`` pairs in the client's type names."""
        user, name = check_user(user), check_table_name(name)
        if not columns:
            raise UsageError("a table needs at least one column")
        seen: set[str] = set()
        parts = []
        for column, kind in columns:
            column = check_column_name(column)
            if column in seen:
                raise UsageError(f"the column {column!r} is listed twice")
            seen.add(column)
            parts.append(f"{quote(column)} {duckdb_type(kind)}")
        self._ensure_schema(user)
        with self._engine.cursor() as cur:
            if not replace and q.exists(cur, user, name):
                raise _exists_error(name)
            staging = q.new_staging_name()
            cur.execute(f"CREATE TABLE {q.physical(user, staging)} ({', '.join(parts)})")
            self._swap_in(cur, user, staging, name, meta.StoredTable(), replace=replace)
            return describe(cur, user, name, meta.read(cur, user, name))

    def copy(self, user: str, source: str, target: str) -> None:
        """A new table ``target`` with the rows, order, metadata and indexes of ``source``."""
        user, source, target = check_user(user), check_table_name(source), check_table_name(target)
        with self._engine.cursor() as cur:
            self._require(cur, user, source)
            if q.exists(cur, user, target):
                raise _exists_error(target)
            stored = meta.read(cur, user, source)
            staging = q.new_staging_name()
            try:
                cur.execute(
                    f"CREATE TABLE {q.physical(user, staging)} AS "
                    f"SELECT * FROM {q.physical(user, source)}"
                )
            except duckdb.Error as exc:
                cur.execute(f"DROP TABLE IF EXISTS {q.physical(user, staging)}")
                raise q.engine_error(exc, f"cannot copy {source}") from None
            fresh = dataclasses.replace(stored, created=None)
            self._swap_in(cur, user, staging, target, fresh, replace=False)

    # -- changing --------------------------------------------------------------------

    def insert(self, user: str, name: str, source: object) -> int:
        """Append the rows of a file or an in-memory table, columns matched by name
        (columns it lacks are left null); returns how many rows were added. All or
        nothing: a bad row adds none."""
        user, name = check_user(user), check_table_name(name)
        with self._engine.cursor() as cur, open_source(source) as src:
            self._require(cur, user, name)
            stored = meta.read(cur, user, name)
            known = {n.lower() for n in _arrow_names(cur, user, name)}
            extra = [
                n for n in src.schema.names if n.lower() not in known and n != HEALPIX_COLUMN
            ]
            if extra:
                raise UsageError(
                    f"cannot insert into {name}: it has no column "
                    + ", ".join(repr(n[:60]) for n in extra[:5])
                )
            target = q.physical(user, name)
            added = 0
            try:
                with q.transaction(cur):
                    for batch in src.batches:
                        batch = q.conform(batch)
                        if stored.ra and stored.dec:
                            batch = add_position_index(batch, stored.ra, stored.dec)
                        if not batch.num_rows:
                            continue
                        q.copy_in(
                            cur, f"INSERT INTO {target} BY NAME SELECT * FROM {q.BATCH_VIEW}", batch
                        )
                        added += batch.num_rows
            except duckdb.Error as exc:
                raise q.engine_error(exc, f"cannot insert into {name}") from None
            return added

    def truncate(self, user: str, name: str) -> None:
        """Remove every row, keeping the table, its columns and their metadata."""
        user, name = check_user(user), check_table_name(name)
        with self._locked() as cur:
            self._require(cur, user, name)
            cur.execute(f"DELETE FROM {q.physical(user, name)}")

    def rename(self, user: str, old: str, new: str) -> None:
        """Give table ``old`` the name ``new`` (which must be free), metadata included."""
        user, old, new = check_user(user), check_table_name(old), check_table_name(new)
        with self._locked() as cur:
            self._require(cur, user, old)
            if q.exists(cur, user, new):
                raise _exists_error(new)
            stored = meta.read(cur, user, old)
            with q.transaction(cur):
                q.drop_indexes(cur, user, old)
                cur.execute(f"ALTER TABLE {q.physical(user, old)} RENAME TO {quote(new)}")
                _create_indexes(cur, user, new, stored)
                meta.delete(cur, user, old)
                meta.write(cur, user, new, stored)

    def index(
        self,
        user: str,
        name: str,
        *,
        ra: str | None = None,
        dec: str | None = None,
        column: str | None = None,
    ) -> MyDBTable:
        """Index a table: by position (``ra`` and ``dec``: adds ``_healpix_29`` and
        rewrites the table sorted by it, as catalogs are) and/or on one ``column``."""
        user, name = check_user(user), check_table_name(name)
        if (ra is None) != (dec is None):
            raise UsageError("give both the RA and the Dec column for a positional index")
        if ra is None and column is None:
            raise UsageError("say what to index: ra and dec, or a column")
        with self._engine.cursor() as cur:
            self._require(cur, user, name)
            names = _arrow_names(cur, user, name)
            if ra is not None and dec is not None:
                self._index_position(cur, user, name, names, ra, dec)
            if column is not None:
                self._index_column(cur, user, name, resolve_column(names, column, "index"))
            return describe(cur, user, name, meta.read(cur, user, name))

    # -- removing --------------------------------------------------------------------

    def drop(self, user: str, name: str) -> None:
        """Remove the table and what is remembered about it."""
        user, name = check_user(user), check_table_name(name)
        with self._locked() as cur:
            self._require(cur, user, name)
            with q.transaction(cur):
                cur.execute(f"DROP TABLE {q.physical(user, name)}")
                meta.delete(cur, user, name)

    def drop_user(self, user: str) -> None:
        """Remove all of a user's tables and their schema (their account is gone)."""
        user = check_user(user)
        with self._locked() as cur, q.transaction(cur):
            for _, table in q.list_tables(cur, user):
                cur.execute(f"DROP TABLE {q.physical(user, table)}")
            if user != "main":  # the database's own default schema cannot be dropped
                cur.execute(f"DROP SCHEMA IF EXISTS {MYDB_CATALOG}.{quote(user)} CASCADE")
            meta.delete(cur, user)

    # -- internals -------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor, holding the myDB lock; engine errors become project errors."""
        with self._engine.mydb_lock, self._engine.cursor() as cur:
            try:
                yield cur
            except duckdb.Error as exc:
                raise q.engine_error(exc, "myDB") from None

    def _ensure_schema(self, user: str) -> None:
        with self._locked() as cur:
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {MYDB_CATALOG}.{quote(user)}")

    def _require(self, cur: duckdb.DuckDBPyConnection, user: str, name: str) -> None:
        if not q.exists(cur, user, name):
            raise NotFoundError(f"you have no myDB table named {name}")

    def _stage(
        self,
        cur: duckdb.DuckDBPyConnection,
        user: str,
        name: str,
        schema: pa.Schema,
        batches: Iterable[pa.RecordBatch],
    ) -> str:
        try:
            return q.stage(cur, user, schema, batches)
        except duckdb.Error as exc:
            raise q.engine_error(exc, f"cannot store {name}") from None

    def _swap_in(
        self,
        cur: duckdb.DuckDBPyConnection,
        user: str,
        staging: str,
        name: str,
        stored: meta.StoredTable,
        *,
        replace: bool,
    ) -> None:
        """Put the staging table in place of ``name`` in one transaction; the staging
        table is gone afterwards whatever happens."""
        try:
            with self._engine.mydb_lock:
                with q.transaction(cur):
                    if q.exists(cur, user, name):
                        if not replace:
                            raise _exists_error(name)
                        cur.execute(f"DROP TABLE {q.physical(user, name)}")
                    cur.execute(f"ALTER TABLE {q.physical(user, staging)} RENAME TO {quote(name)}")
                    _create_indexes(cur, user, name, stored)
                    meta.write(cur, user, name, stored)
        except duckdb.Error as exc:
            raise q.engine_error(exc, f"cannot store {name}") from None
        finally:
            cur.execute(f"DROP TABLE IF EXISTS {q.physical(user, staging)}")

    def _index_position(
        self,
        cur: duckdb.DuckDBPyConnection,
        user: str,
        name: str,
        names: list[str],
        ra: str,
        dec: str,
    ) -> None:
        ra, dec = resolve_column(names, ra, "RA"), resolve_column(names, dec, "Dec")
        stored = meta.read(cur, user, name)
        with self._engine.cursor() as reader_cur:
            columns = ", ".join(quote(n) for n in names if n != HEALPIX_COLUMN)
            relation = reader_cur.sql(f"SELECT {columns} FROM {q.physical(user, name)}")
            reader = relation.to_arrow_reader(65536)
            try:
                unsorted = q.stage(
                    cur, user, reader.schema, reader,
                    transform=lambda b: add_position_index(b, ra, dec),
                )
            except duckdb.Error as exc:
                raise q.engine_error(exc, f"cannot index {name}") from None
            finally:
                reader.close()
        staging = q.new_staging_name()
        try:
            cur.execute(
                f"CREATE TABLE {q.physical(user, staging)} AS SELECT * FROM "
                f"{q.physical(user, unsorted)} ORDER BY {quote(HEALPIX_COLUMN)}"
            )
        finally:
            cur.execute(f"DROP TABLE IF EXISTS {q.physical(user, unsorted)}")
        positioned = dataclasses.replace(stored, ra=ra, dec=dec)
        self._swap_in(cur, user, staging, name, positioned, replace=True)

    def _index_column(
        self, cur: duckdb.DuckDBPyConnection, user: str, name: str, column: str
    ) -> None:
        stored = meta.read(cur, user, name)
        if column.lower() in stored.indexed:
            return
        updated = dataclasses.replace(stored, indexed=stored.indexed | {column.lower()})
        try:
            with self._engine.mydb_lock, q.transaction(cur):
                q.create_index(cur, user, name, column)
                meta.write(cur, user, name, updated)
        except duckdb.Error as exc:
            raise q.engine_error(exc, f"cannot index {name}.{column}") from None


def _is_table(name: str) -> bool:
    """A user's table, as opposed to a staging table of ours (those start with ``_``)."""
    return not name.startswith("_")


def _exists_error(name: str) -> ConflictError:
    return ConflictError(f"you already have a myDB table named {name}: drop it or replace it")


def _arrow_names(cur: duckdb.DuckDBPyConnection, user: str, name: str) -> list[str]:
    return list(
        cur.sql(f"SELECT * FROM {q.physical(user, name)} LIMIT 0").to_arrow_table().schema.names
    )


def _create_indexes(
    cur: duckdb.DuckDBPyConnection, user: str, name: str, stored: meta.StoredTable
) -> None:
    """Recreate the table's column indexes (after a rename, copy or rewrite)."""
    if not stored.indexed:
        return
    for column in _arrow_names(cur, user, name):
        if column.lower() in stored.indexed:
            q.create_index(cur, user, name, column)
