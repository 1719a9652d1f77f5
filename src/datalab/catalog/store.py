"""The catalog store: survey tables in DuckDB, each with its TAP_SCHEMA documentation.

Loading follows one rule: *load aside, swap at the end*. The new table is built inside
one transaction that also drops (or extends) the old one and writes its metadata; the
swap happens only at COMMIT, once every row is in, sorted by ``_healpix_29``. A failure
at any point rolls the transaction back and leaves the previous table and its
documentation exactly as they were.

A table with a position also gets a row copy (``datalab.catalog.rowcopy``), written
inside the same transaction once the table is built: the registry names the new copy
only when the table commits, the copy it replaces is deleted after the COMMIT, and a
copy written by a transaction that rolls back is deleted at once.

The rows reach DuckDB as one Arrow stream that the engine pulls while it sorts
(``CREATE TABLE ... AS SELECT ... ORDER BY``): the file is read, indexed, sorted and
written in a single pass, with no staging copy, a reading thread preparing the next
batches while the engine takes in the previous ones. The sort spills to the temp
directory when it outgrows the memory limit, so memory stays bounded whatever the
input's size.
"""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import duckdb
import pyarrow as pa

from datalab.catalog import metadata as md
from datalab.catalog import rowcopy
from datalab.catalog.connection import SCAN_FIRST_COMPRESSION, connect, scalar
from datalab.errors import ConflictError, NotFoundError, UsageError
from datalab.formats import FieldMeta
from datalab.sky import healpix_index_arrow

__all__ = ["CatalogStore", "LoadMode", "TableSpec"]

LoadMode = Literal["create", "replace", "append"]

_POSITION_DEFAULTS = {
    "ra": FieldMeta("ra", unit="deg", ucd="pos.eq.ra;meta.main", description="Right ascension"),
    "dec": FieldMeta("dec", unit="deg", ucd="pos.eq.dec;meta.main", description="Declination"),
}
_HEALPIX_META = FieldMeta(
    md.HEALPIX_COLUMN,
    ucd="pos.healpix",
    description="HEALPix nested index at order 29 of the position; the table is stored "
    "sorted by it, which is what makes positional queries fast",
)


@dataclass(frozen=True)
class TableSpec:
    """What to call a table being loaded and how to document it."""

    schema: str
    name: str
    description: str | None = None
    schema_description: str | None = None
    fields: Mapping[str, FieldMeta] = field(default_factory=dict)
    ra: str | None = None
    dec: str | None = None
    principal: Mapping[str, bool] = field(default_factory=dict)

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"


class CatalogStore:
    """Reads and writes the catalog database; one writer process at a time."""

    def __init__(self, con: duckdb.DuckDBPyConnection, *, writable: bool) -> None:
        self.con = con
        self.writable = writable
        # Where this database's row copies live (None for a database in memory).
        self.row_copy_root = rowcopy.database_root(con)
        # Copy directories to delete once the current transaction commits, or once it
        # rolls back.
        self._after_commit: list[str] = []
        self._after_rollback: list[str] = []
        if writable:
            md.ensure_metadata_tables(con)
            rowcopy.ensure_registry(con)
            if self.row_copy_root is not None:
                rowcopy.sweep_row_copies(con, self.row_copy_root)

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        read_only: bool = False,
        memory_limit: str | None = None,
        threads: int | None = None,
        temp_dir: Path | None = None,
    ) -> CatalogStore:
        con = connect(
            path,
            read_only=read_only,
            memory_limit=memory_limit,
            threads=threads,
            temp_dir=temp_dir,
            disabled_compression=None if read_only else SCAN_FIRST_COMPRESSION,
        )
        return cls(con, writable=not read_only)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> CatalogStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------

    def schemas(self) -> list[md.SchemaInfo]:
        return md.read_schemas(self.con)

    def tables(self) -> list[md.TableInfo]:
        return md.read_tables(self.con)

    def table(self, qualified_name: str) -> md.TableInfo:
        found = md.read_tables(self.con, [qualified_name.lower()])
        if not found:
            raise NotFoundError(f"no table {qualified_name!r} in the catalog")
        return found[0]

    def exists(self, schema: str, name: str) -> bool:
        return bool(
            scalar(
                self.con,
                "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                "AND schema_name = ? AND table_name = ?",
                [schema, name],
            )
        )

    # -- writing ---------------------------------------------------------------------

    def load(
        self,
        spec: TableSpec,
        batches: Iterable[pa.RecordBatch],
        *,
        mode: LoadMode = "create",
        row_copy: bool = True,
    ) -> md.TableInfo:
        """Load ``batches`` as ``spec`` describes; see the module docstring for the rule.

        ``row_copy=False`` keeps the table (if it has a position) without a row copy,
        for tables too large to keep twice; any copy it had is removed.
        """
        self._require_writable()
        schema = md.check_identifier(spec.schema, "schema")
        name = md.check_identifier(spec.name, "table")
        if schema in md.RESERVED_SCHEMAS:
            raise UsageError(f"the schema name {schema!r} is reserved; choose another")
        exists = self.exists(schema, name)
        if mode == "create" and exists:
            raise ConflictError(
                f"table {schema}.{name} exists: use --replace to overwrite it or --append "
                "to add rows"
            )
        if mode == "append" and not exists:
            raise NotFoundError(f"table {schema}.{name} does not exist; load it without --append")

        source = f"_load_{name}_{uuid.uuid4().hex[:12]}"
        with _Feed(spec, batches) as feed:
            self.con.register(source, feed.reader())
            try:
                with self._transaction():
                    if mode == "append":
                        return self._append(
                            schema, name, source, spec, feed.source_schema, row_copy=row_copy
                        )
                    return self._replace(
                        schema, name, source, spec, feed.source_schema, row_copy=row_copy
                    )
            except duckdb.Error:
                # The engine reports a failure of the input as text only; the original
                # names the file, row and column.
                if feed.error is not None:
                    raise feed.error from None
                raise
            finally:
                self.con.unregister(source)

    def add_foreign_key(
        self,
        from_table: str,
        target_table: str,
        columns: Iterable[tuple[str, str]],
        description: str | None = None,
    ) -> str:
        """Document a foreign key between two loaded tables (TAP 1.1 §4.4)."""
        self._require_writable()
        src, dst = self.table(from_table), self.table(target_table)
        pairs = tuple(columns)
        for table, column in [(src, a) for a, _ in pairs] + [(dst, b) for _, b in pairs]:
            try:
                table.column(column)
            except KeyError:
                raise UsageError(f"{table.qualified_name} has no column {column!r}") from None
        with self._transaction():
            return md.put_foreign_key(
                self.con,
                md.ForeignKey(src.qualified_name, dst.qualified_name, pairs, description),
            )

    def drop(self, qualified_name: str) -> None:
        self._require_writable()
        info = self.table(qualified_name)
        with self._transaction():
            self.con.execute(f'DROP TABLE "{info.schema}"."{info.name}"')
            md.delete_table(self.con, info.qualified_name, keep_keys=False)
            self._set_row_copy(info.qualified_name, None)

    def refresh_row_copy(self, qualified_name: str) -> bool:
        """Write the table's row copy anew (for a catalog loaded before copies existed);
        True if it has one now. A table without a position has none."""
        self._require_writable()
        info = self.table(qualified_name)
        with self._transaction():
            return self._update_row_copy(info, wanted=True)

    def set_schema_description(self, schema: str, description: str) -> None:
        self._require_writable()
        with self._transaction():
            md.put_schema(
                self.con, md.SchemaInfo(md.check_identifier(schema, "schema"), description)
            )

    # -- internals -------------------------------------------------------------------

    def _require_writable(self) -> None:
        if not self.writable:
            raise UsageError("the catalog is open read-only")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One transaction; the row copies it replaced (or wrote, if it fails) are
        deleted once its outcome is known."""
        self._after_commit, self._after_rollback = [], []
        self.con.execute("BEGIN TRANSACTION")
        try:
            try:
                yield
            except BaseException:
                self.con.execute("ROLLBACK")
                raise
            self.con.execute("COMMIT")
        except BaseException:
            self._remove_row_copies(self._after_rollback)
            raise
        finally:
            self._after_rollback = []
        self._remove_row_copies(self._after_commit)

    def _remove_row_copies(self, directories: list[str]) -> None:
        if self.row_copy_root is not None:
            for directory in directories:
                rowcopy.remove_row_copy(self.row_copy_root, directory)
        directories.clear()

    def _update_row_copy(self, info: md.TableInfo, *, wanted: bool) -> bool:
        """Inside a transaction, once the table is built: write its row copy (if
        ``wanted`` and it has a position) and name it in the registry, or name none.
        True if the table has a copy now."""
        directory = None
        if wanted and info.healpix_indexed and self.row_copy_root is not None:
            directory = rowcopy.write_row_copy(self.con, info.qualified_name, self.row_copy_root)
            if directory is not None:
                self._after_rollback.append(directory)
        self._set_row_copy(info.qualified_name, directory)
        return directory is not None

    def _set_row_copy(self, qualified_name: str, directory: str | None) -> None:
        old = rowcopy.set_row_copy(self.con, qualified_name, directory)
        if old is not None:
            self._after_commit.append(old)

    def _stage(self, staging: str, spec: TableSpec, batches: Iterable[pa.RecordBatch]) -> pa.Schema:
        """Copy every batch into a staging table, adding the HEALPix index.

        For callers that assemble a table's rows before swapping it in themselves (the
        image index); ``load`` streams instead and needs no staging table.
        """
        arrow_schema: pa.Schema | None = None
        created = False
        for batch in batches:
            if arrow_schema is None:
                arrow_schema = batch.schema
                _check_columns(arrow_schema, spec)
            batch = _with_index(batch, spec)
            self.con.register("_ingest_batch", batch)
            try:
                if not created:
                    self.con.execute(f"CREATE TEMP TABLE {staging} AS SELECT * FROM _ingest_batch")
                    created = True
                else:
                    self.con.execute(f"INSERT INTO {staging} BY NAME SELECT * FROM _ingest_batch")
            finally:
                self.con.unregister("_ingest_batch")
        if arrow_schema is None:
            raise UsageError("nothing to load: the input has no columns")
        if not created:
            # A header-only file: an empty table with the right columns is still a table.
            empty = arrow_schema.empty_table()
            if spec.ra and spec.dec:
                empty = empty.append_column(md.HEALPIX_COLUMN, pa.array([], pa.int64()))
            self.con.register("_ingest_batch", empty)
            try:
                self.con.execute(f"CREATE TEMP TABLE {staging} AS SELECT * FROM _ingest_batch")
            finally:
                self.con.unregister("_ingest_batch")
        return arrow_schema

    def _replace(
        self,
        schema: str,
        name: str,
        staging: str,
        spec: TableSpec,
        arrow_schema: pa.Schema,
        *,
        row_copy: bool = True,
    ) -> md.TableInfo:
        """Inside a transaction: the table becomes the rows of ``staging`` (a table or a
        registered stream), sorted by the HEALPix index, with its row copy."""
        self.con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        self.con.execute(f'DROP TABLE IF EXISTS "{schema}"."{name}"')
        order = f" ORDER BY {md.HEALPIX_COLUMN}" if spec.ra else ""
        self.con.execute(f'CREATE TABLE "{schema}"."{name}" AS SELECT * FROM {staging}{order}')
        info = self._describe(schema, name, spec, previous=None)
        md.put_schema(self.con, md.SchemaInfo(schema, spec.schema_description))
        md.put_table(self.con, info)
        self._update_row_copy(info, wanted=row_copy)
        return info

    def _append(
        self,
        schema: str,
        name: str,
        staging: str,
        spec: TableSpec,
        arrow_schema: pa.Schema,
        *,
        row_copy: bool = True,
    ) -> md.TableInfo:
        """Inside a transaction: the table becomes its rows plus those of ``staging``, all
        sorted again by the HEALPix index, with a new row copy. Checked before any row is
        read."""
        previous = self.table(f"{schema}.{name}")
        old = {c.name.lower() for c in previous.columns} - {md.HEALPIX_COLUMN}
        new = {n.lower() for n in arrow_schema.names} - {md.HEALPIX_COLUMN}
        if old != new:
            missing, extra = sorted(old - new), sorted(new - old)
            raise UsageError(
                f"cannot append to {schema}.{name}: the columns differ"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unexpected {', '.join(extra)}" if extra else "")
            )
        if (spec.ra, spec.dec) != (previous.ra_column, previous.dec_column):
            raise UsageError(
                f"cannot append to {schema}.{name}: its position columns are "
                f"{previous.ra_column}, {previous.dec_column}"
            )
        aside = f"_old_{name}_{uuid.uuid4().hex[:8]}"
        self.con.execute(f'ALTER TABLE "{schema}"."{name}" RENAME TO "{aside}"')
        order = f" ORDER BY {md.HEALPIX_COLUMN}" if spec.ra else ""
        try:
            self.con.execute(
                f'CREATE TABLE "{schema}"."{name}" AS SELECT * FROM ('
                f'SELECT * FROM "{schema}"."{aside}" UNION ALL BY NAME SELECT * FROM {staging})'
                f"{order}"
            )
        except duckdb.ConversionException as exc:
            raise UsageError(f"cannot append to {schema}.{name}: {exc}") from exc
        self.con.execute(f'DROP TABLE "{schema}"."{aside}"')
        info = self._describe(schema, name, spec, previous=previous)
        md.put_table(self.con, info)
        self._update_row_copy(info, wanted=row_copy)
        return info

    def _describe(
        self, schema: str, name: str, spec: TableSpec, previous: md.TableInfo | None
    ) -> md.TableInfo:
        """Column metadata for the loaded table: file and metadata file, over defaults."""
        arrow = self.con.sql(f'SELECT * FROM "{schema}"."{name}" LIMIT 0').to_arrow_table()
        nrows = scalar(self.con, f'SELECT count(*) FROM "{schema}"."{name}"')
        fields = {k.lower(): v for k, v in spec.fields.items()}
        columns = []
        for f in arrow.schema:
            if f.name == md.HEALPIX_COLUMN:
                continue  # the engine's own index: flagged below, not listed for users
            meta = _default_meta(f.name, spec)
            if previous is not None:
                with suppress(KeyError):
                    meta = meta.merged(previous.column(f.name).field_meta())
            if f.name.lower() in fields:
                meta = meta.merged(fields[f.name.lower()])
            positional = f.name in (spec.ra, spec.dec, md.HEALPIX_COLUMN)
            column = md.column_info(f, meta, indexed=positional and bool(spec.ra))
            if f.name in spec.principal:
                column = replace(column, principal=spec.principal[f.name])
            elif previous is not None and f.name.lower() in {
                c.name.lower() for c in previous.columns
            }:
                column = replace(column, principal=previous.column(f.name).principal)
            columns.append(column)
        description = spec.description
        if description is None and previous is not None:
            description = previous.description
        return md.TableInfo(
            schema=schema,
            name=name,
            description=description,
            columns=tuple(columns),
            ra_column=spec.ra,
            dec_column=spec.dec,
            nrows=int(nrows or 0),
            healpix_indexed=md.HEALPIX_COLUMN in arrow.schema.names,
        )


class _Aborted(Exception):
    """Raised into the engine's read of the stream when the input failed."""


_END = object()
_ABORT = object()


class _Feed:
    """The caller's batches, HEALPix index added, handed to DuckDB as one Arrow stream.

    A thread of its own reads and indexes the batches while the engine, in the caller's
    thread, sorts the ones before (and DuckDB handles Ctrl-C there as for any query):
    the file is read, indexed, sorted and written in one pass. That thread alone
    iterates ``batches``, from the first batch to closing it, so a source tied to the
    thread that started it (an SQLite cursor) works. At most ``depth`` batches wait in
    between, which keeps memory bounded. The first batch is awaited on entry: its
    schema is the table's, checked before the engine starts.
    """

    def __init__(self, spec: TableSpec, batches: Iterable[pa.RecordBatch], depth: int = 2) -> None:
        self._spec = spec
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self.source_schema = pa.schema([])  # the input's, set by the first batch
        self.schema = pa.schema([])  # the stream's: the input's plus the index
        self._started = False
        self._thread = threading.Thread(
            target=self._produce, args=(batches,), name="datalab-load", daemon=True
        )

    def __enter__(self) -> _Feed:
        self._thread.start()
        try:
            self._first = self._queue.get()
            if self._first is _ABORT:
                raise self.error  # type: ignore[misc]
            if self._first is _END:
                raise UsageError("nothing to load: the input has no columns")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop reading (if the engine stopped first) and wait for the reading thread."""
        self._stop.set()
        self._thread.join()

    def reader(self) -> pa.RecordBatchReader:
        """The stream the engine reads; it can be read once."""
        return pa.RecordBatchReader.from_batches(self.schema, self._drain())

    def _drain(self) -> Iterator[pa.RecordBatch]:
        item, self._first = self._first, None
        while item is not _END:
            if item is _ABORT:
                raise _Aborted("the input could not be read")
            yield item  # type: ignore[misc]
            item = self._queue.get()

    def _produce(self, batches: Iterable[pa.RecordBatch]) -> None:
        iterator = iter(batches)
        try:
            for batch in iterator:
                if not self._put(self._prepare(batch)):
                    return  # the engine stopped reading: its error says why
            self._put(_END)
        except BaseException as exc:
            self.error = exc
            self._put(_ABORT)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # here, in the thread that iterated it

    def _prepare(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The batch indexed; the first one fixes (and checks) the schema."""
        if not self._started:
            _check_columns(batch.schema, self._spec)
            self.source_schema = batch.schema
            indexed = _with_index(batch, self._spec)
            self.schema, self._started = indexed.schema, True
            return indexed
        return self._conform(_with_index(batch, self._spec))

    def _put(self, item: object) -> bool:
        """Queue ``item`` for the engine; False once it no longer reads."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _conform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """``batch`` with the first batch's column types (a stream has one schema)."""
        if batch.schema.equals(self.schema):
            return batch
        try:
            columns = [batch.column(f.name).cast(f.type) for f in self.schema]
        except KeyError as exc:
            raise UsageError(f"a batch lacks the column {exc} that the first one has") from None
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise UsageError(f"a batch's values do not fit the first one's types: {exc}") from None
        return pa.RecordBatch.from_arrays(columns, schema=self.schema)


def _with_index(batch: pa.RecordBatch, spec: TableSpec) -> pa.RecordBatch:
    """``batch`` with its ``_healpix_29`` (re)computed when the table has a position."""
    if md.HEALPIX_COLUMN in batch.schema.names:
        batch = batch.drop_columns([md.HEALPIX_COLUMN])
    if spec.ra and spec.dec:
        index = healpix_index_arrow(batch.column(spec.ra), batch.column(spec.dec))
        batch = batch.append_column(md.HEALPIX_COLUMN, index)
    return batch


def _default_meta(column: str, spec: TableSpec) -> FieldMeta:
    if column == md.HEALPIX_COLUMN:
        return _HEALPIX_META
    if column == spec.ra:
        return FieldMeta(column).merged(_POSITION_DEFAULTS["ra"])
    if column == spec.dec:
        return FieldMeta(column).merged(_POSITION_DEFAULTS["dec"])
    return FieldMeta(column)


def _check_columns(schema: pa.Schema, spec: TableSpec) -> None:
    seen: set[str] = set()
    for name in schema.names:
        if not name or not name.strip():
            raise UsageError("a column has an empty name")
        if name.lower() in seen:
            raise UsageError(f"two columns are named {name!r} (names ignore case)")
        seen.add(name.lower())
    for role, col in (("RA", spec.ra), ("Dec", spec.dec)):
        if col is None:
            continue
        if col not in schema.names:
            raise UsageError(f"the {role} column {col!r} is not in the data")
        t = schema.field(col).type
        if not (pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_decimal(t)):
            raise UsageError(f"the {role} column {col!r} must be numeric (it is {t})")
    if (spec.ra is None) != (spec.dec is None):
        raise UsageError("give both the RA and the Dec column, or neither")
