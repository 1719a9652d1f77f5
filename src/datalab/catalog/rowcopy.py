"""Row copies: each positional table's rows once more, as a memory-mapped Arrow file.

A small cone search touches a few dozen rows, yet starting any query in the engine
costs half a millisecond. A row copy lets the query side answer it without the
engine: the table's rows, in their stored order (sorted by ``_healpix_29``), in an
uncompressed Arrow IPC file, and the index values beside them in a NumPy file. A cone
becomes a few index ranges, the ranges become row positions by binary search in the
mapped index, and the rows are slices of the mapped file: nothing is read or copied
but the pages those rows live on.

The copies live in a directory next to the catalog database (``catalog.rows/`` beside
``catalog.duckdb``), one subdirectory per copy, named ``<schema>.<table>.<token>``
with a fresh token for every write. The private table ``_datalab.row_copies`` names
the current subdirectory of each table and is changed in the same transaction as the
table itself, so a reader that follows it never sees a copy half written or one that
no longer matches its table. A subdirectory the registry does not name is debris of
an interrupted write or of a swap, and is removed.
"""

from __future__ import annotations

import io
import logging
import mmap
import os
import re
import shutil
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from datalab.catalog.metadata import HEALPIX_COLUMN, PRIVATE_SCHEMA

__all__ = [
    "BATCH_ROWS",
    "HEALPIX_FILE",
    "REGISTRY",
    "ROWS_FILE",
    "RowCopy",
    "copies_root",
    "database_root",
    "ensure_registry",
    "open_row_copies",
    "read_registry",
    "remove_row_copy",
    "set_row_copy",
    "sweep_row_copies",
    "write_row_copy",
]

log = logging.getLogger("datalab.catalog")

REGISTRY = f"{PRIVATE_SCHEMA}.row_copies"
ROWS_FILE = "rows.arrow"
HEALPIX_FILE = "healpix.npy"
# Rows per record batch in the file: every batch but the last holds exactly this many,
# so that a row's batch is found by division. Large enough that a table of a billion
# rows has few batches to index, small enough that a slice rarely spans two.
BATCH_ROWS = 65_536
_BATCH_ROWS_KEY = b"datalab.batch_rows"
# Column selections remembered per copy; a query names its columns the same way each
# time it runs, so a few dozen cover the queries of a busy server.
_SELECTIONS = 64
_DIRECTORY = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.[0-9a-f]{32}$")


def copies_root(catalog: Path) -> Path:
    """Where the row copies of the catalog database at ``catalog`` live."""
    return Path(catalog).with_suffix(".rows")


def database_root(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The row copies' directory of the database ``con`` is open on (None in memory).

    Taken from the connection itself, so that copies can never be written next to a
    database other than the one whose tables they copy.
    """
    rows = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchall()
    path = rows[0][0] if rows else None
    if not path or path == ":memory:":
        return None
    return copies_root(Path(path))


# -- the registry --------------------------------------------------------------------


def ensure_registry(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {PRIVATE_SCHEMA}")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {REGISTRY} "
        "(table_name VARCHAR PRIMARY KEY, directory VARCHAR NOT NULL)"
    )


def read_registry(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Each table's copy subdirectory; none for a catalog written before copies existed."""
    schema, name = REGISTRY.split(".")
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = ?",
        [schema, name],
    ).fetchall()[0][0]
    if not exists:
        return {}
    return dict(con.execute(f"SELECT table_name, directory FROM {REGISTRY}").fetchall())


def set_row_copy(
    con: duckdb.DuckDBPyConnection, qualified_name: str, directory: str | None
) -> str | None:
    """Name ``directory`` (None: no copy) as the table's copy; returns the one it had.

    Meant for the transaction that changes the table, so that both commit together.
    """
    old = con.execute(
        f"SELECT directory FROM {REGISTRY} WHERE table_name = ?", [qualified_name]
    ).fetchall()
    con.execute(f"DELETE FROM {REGISTRY} WHERE table_name = ?", [qualified_name])
    if directory is not None:
        con.execute(f"INSERT INTO {REGISTRY} VALUES (?, ?)", [qualified_name, directory])
    return old[0][0] if old else None


def remove_row_copy(root: Path, directory: str) -> None:
    """Delete a copy's subdirectory; a failure is logged, and the next sweep retries."""
    try:
        shutil.rmtree(root / directory)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("could not remove the row copy %s: %s", root / directory, exc)


def sweep_row_copies(con: duckdb.DuckDBPyConnection, root: Path) -> None:
    """Remove what interrupted writes and swaps left behind, in the registry and on disk.

    Subdirectories the registry does not name go; so do registry entries whose
    subdirectory is gone (a catalog file copied without its copies), which could only
    ever be skipped. Only names of the copies' own form are touched.
    """
    registry = read_registry(con)
    for table, directory in registry.items():
        if not (root / directory / ROWS_FILE).is_file():
            log.warning("the row copy of %s is missing from %s; forgetting it", table, root)
            con.execute(f"DELETE FROM {REGISTRY} WHERE table_name = ?", [table])
    if not root.is_dir():
        return
    kept = set(registry.values())
    for entry in root.iterdir():
        if _DIRECTORY.match(entry.name) and entry.name not in kept:
            log.info("removing the unused row copy %s", entry)
            remove_row_copy(root, entry.name)


# -- writing -------------------------------------------------------------------------


class _NotCopyable(Exception):
    """The rows, as the engine returns them, are not in index order (or not all there)."""


def write_row_copy(con: duckdb.DuckDBPyConnection, qualified_name: str, root: Path) -> str | None:
    """Write a new copy of the table's rows under ``root``; returns its subdirectory.

    The rows are streamed in the order the engine returns them for ``SELECT *``, which
    is the order the store wrote them in, sorted by the index. That order is checked,
    not imposed: sorting here would cost as much as the load. Should it not hold (or
    should the rows not fit the file format), nothing is written and None is returned,
    and the table is served by the engine alone.
    """
    schema, name = qualified_name.split(".")
    table = f'"{schema}"."{name}"'
    if HEALPIX_COLUMN not in con.sql(f"SELECT * FROM {table} LIMIT 0").columns:
        log.warning("no row copy of %s: it has no %s column", qualified_name, HEALPIX_COLUMN)
        return None
    total, indexed = con.execute(
        f"SELECT count(*), count({HEALPIX_COLUMN}) FROM {table}"
    ).fetchall()[0]
    directory = f"{qualified_name}.{uuid.uuid4().hex}"
    root.mkdir(parents=True, exist_ok=True)
    path = root / directory
    path.mkdir()
    try:
        _write_files(con, table, path, total=int(total), indexed=int(indexed))
        _fsync(path)
        _fsync(root)
    except (_NotCopyable, pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        remove_row_copy(root, directory)
        log.warning("no row copy of %s: %s", qualified_name, exc)
        return None
    except BaseException:
        remove_row_copy(root, directory)
        raise
    return directory


def _write_files(
    con: duckdb.DuckDBPyConnection, table: str, path: Path, *, total: int, indexed: int
) -> None:
    reader = con.sql(f"SELECT * FROM {table}").to_arrow_reader(BATCH_ROWS)
    try:
        schema = reader.schema.remove(reader.schema.get_field_index(HEALPIX_COLUMN))
        order = _OrderCheck()
        with (
            pa.OSFile(str(path / ROWS_FILE), "wb") as rows_file,
            pa.ipc.new_file(
                rows_file,
                schema,
                options=pa.ipc.IpcWriteOptions(compression=None),
                metadata={_BATCH_ROWS_KEY: str(BATCH_ROWS).encode()},
            ) as rows,
            open(path / HEALPIX_FILE, "wb") as index,
        ):
            np.lib.format.write_array_header_1_0(
                index, {"descr": "<i8", "fortran_order": False, "shape": (indexed,)}
            )

            def without_index() -> Iterator[pa.RecordBatch]:
                for batch in reader:
                    index.write(order.values(batch.column(HEALPIX_COLUMN)).data)
                    yield batch.drop_columns([HEALPIX_COLUMN])

            written = 0
            for batch in _fixed_batches(without_index(), BATCH_ROWS):
                rows.write_batch(batch)
                written += batch.num_rows
            index.flush()
            os.fsync(index.fileno())
    finally:
        reader.close()
    if (written, order.count) != (total, indexed):
        raise _NotCopyable(
            f"read {written} rows ({order.count} with a position) of {total} ({indexed})"
        )
    _fsync(path / ROWS_FILE)


class _OrderCheck:
    """Checks, batch after batch, that the index never decreases and that rows without
    a position (a null index) come only after all the others."""

    def __init__(self) -> None:
        self.last = np.iinfo(np.int64).min
        self.nulls_seen = False
        self.count = 0

    def values(self, column: pa.Array) -> NDArray[np.int64]:
        """The batch's non-null index values, checked, as little-endian int64."""
        valid = len(column) - column.null_count
        if column.slice(0, valid).null_count or (valid and self.nulls_seen):
            raise _NotCopyable("a row without a position comes before one with a position")
        self.nulls_seen = self.nulls_seen or column.null_count > 0
        values = column.slice(0, valid).cast(pa.int64()).to_numpy(zero_copy_only=False)
        values = values.astype("<i8", copy=False)
        if valid and (values[0] < self.last or bool(np.any(values[1:] < values[:-1]))):
            raise _NotCopyable(f"the rows are not sorted by {HEALPIX_COLUMN}")
        if valid:
            self.last = int(values[-1])
        self.count += valid
        return np.ascontiguousarray(values)


def _fixed_batches(batches: Iterable[pa.RecordBatch], size: int) -> Iterator[pa.RecordBatch]:
    """``batches`` regrouped into batches of exactly ``size`` rows (the last: up to)."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        held += batch.num_rows
        if held < size:
            continue
        merged = pending[0] if len(pending) == 1 else pa.concat_batches(pending)
        start = 0
        while held - start >= size:
            yield merged.slice(start, size)
            start += size
        pending = [merged.slice(start)] if start < held else []
        held -= start
    if held:
        yield pending[0] if len(pending) == 1 else pa.concat_batches(pending)


def _fsync(path: Path) -> None:
    """Make ``path`` (a file, or a directory's entries) durable before the commit."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- reading -------------------------------------------------------------------------


class RowCopy:
    """One table's row copy, memory-mapped; safe to use from many threads at once.

    Opening reads only the file's footer and the last batch's header: the rows and the
    index stay on disk until a query touches their pages.
    """

    def __init__(
        self,
        name: str,
        reader: pa.ipc.RecordBatchFileReader,
        healpix: NDArray[np.int64],
        batch_rows: int,
        num_rows: int,
    ) -> None:
        self.name = name
        self.num_rows = num_rows
        self.schema: pa.Schema = reader.schema
        self._columns = frozenset(self.schema.names)
        self._reader = reader
        self._healpix = healpix
        self._batch_rows = batch_rows
        # Batches are read from the file on first use; the reader is not meant to be
        # used by two threads at once, the batches once read are.
        self._batches: list[pa.RecordBatch | None] = [None] * reader.num_record_batches
        self._lock = threading.Lock()
        # Each batch with only some columns, by the columns' names: selecting costs
        # more than slicing, and the same few selections come back query after query.
        self._selections: dict[tuple[str, ...], list[pa.RecordBatch | None]] = {}
        # Each batch's floating-point columns as NumPy arrays, by column name.
        self._arrays: dict[str, list[NDArray[np.floating] | None]] = {}

    @classmethod
    def open(cls, directory: Path, qualified_name: str) -> RowCopy:
        """Map the copy in ``directory``; raises OSError or ValueError if it is unusable.

        The mappings' page tables are filled in the background (see
        :func:`_populate`): the first query to touch a page then finds it mapped."""
        rows = _map(directory / ROWS_FILE)
        reader = pa.ipc.open_file(pa.py_buffer(rows))
        try:
            batch_rows = int((reader.metadata or {})[_BATCH_ROWS_KEY])
        except (KeyError, ValueError):
            raise ValueError(f"{directory / ROWS_FILE} is not a row copy") from None
        count = reader.num_record_batches
        last = reader.get_batch(count - 1) if count else None
        num_rows = (count - 1) * batch_rows + last.num_rows if last is not None else 0
        index = _map(directory / HEALPIX_FILE)
        healpix = _npy_array(index)
        if healpix.dtype != np.dtype("<i8") or healpix.ndim != 1 or len(healpix) > num_rows:
            raise ValueError(f"{directory / HEALPIX_FILE} does not match {ROWS_FILE}")
        copy = cls(qualified_name, reader, healpix, batch_rows, num_rows)
        if last is not None:
            copy._batches[-1] = last
        _populate(copy, [index, rows])
        return copy

    def spans(self, ranges: NDArray[np.int64]) -> NDArray[np.int64]:
        """Row positions ``[first, stop)`` of the rows whose index lies in each of the
        half-open ``[start, end)`` index ranges (an (n, 2) array, sorted, disjoint)."""
        bounds = np.asarray(ranges, dtype=np.int64).reshape(-1, 2)
        return np.searchsorted(self._healpix, bounds, side="left").astype(np.int64)

    def index_values(self, first: int, stop: int) -> NDArray[np.int64]:
        """The ``_healpix_29`` values of rows ``[first, stop)``, which must all have a
        position (as every row a span found has)."""
        if first < 0 or stop > len(self._healpix):
            raise IndexError(f"rows [{first}, {stop}) are not all indexed in {self.name}")
        return self._healpix[first:stop]

    def slice(self, first: int, stop: int, columns: Sequence[str]) -> list[pa.RecordBatch]:
        """Rows ``[first, stop)`` with ``columns`` in that order, without copying: one
        batch per stored batch the span touches."""
        if stop <= first:
            return []
        if first < 0 or stop > self.num_rows:
            raise IndexError(f"rows [{first}, {stop}) are outside {self.name}'s {self.num_rows}")
        names = tuple(columns)
        result = []
        for i in range(first // self._batch_rows, (stop - 1) // self._batch_rows + 1):
            offset = i * self._batch_rows
            lo, hi = max(first - offset, 0), min(stop - offset, self._batch_rows)
            result.append(self._selected(i, names).slice(lo, hi - lo))
        return result

    def values(self, column: str, first: int, stop: int) -> NDArray[np.floating] | None:
        """A floating-point column's values in rows ``[first, stop)`` as a NumPy array
        (nulls read as NaN), or None when the column is not float32 or float64.

        A cone's exact test reads a few positions: with no Arrow slices or batches to
        build for them, that costs a fraction of :meth:`slice`. The array is a view of
        the mapped file unless the span crosses a stored batch or the batch has nulls.
        """
        if stop <= first:
            return np.empty(0)
        if first < 0 or stop > self.num_rows:
            raise IndexError(f"rows [{first}, {stop}) are outside {self.name}'s {self.num_rows}")
        arrays = self._arrays.get(column)
        if arrays is None:
            if column not in self._columns:
                raise KeyError(f"{self.name} has no column {column!r}")
            if self.schema.field(column).type not in (pa.float32(), pa.float64()):
                return None
            arrays = self._arrays.setdefault(column, [None] * len(self._batches))
        size = self._batch_rows
        i, last = first // size, (stop - 1) // size
        if i == last:
            return self._array(arrays, column, i)[first - i * size : stop - i * size]
        return np.concatenate(
            [
                self._array(arrays, column, b)[max(first - b * size, 0) : stop - b * size]
                for b in range(i, last + 1)
            ]
        )

    def _array(
        self, arrays: list[NDArray[np.floating] | None], column: str, i: int
    ) -> NDArray[np.floating]:
        array = arrays[i]
        if array is None:
            values = self._batch(i).column(column)
            array = arrays[i] = values.to_numpy(zero_copy_only=values.null_count == 0)
        return array

    def _selected(self, i: int, names: tuple[str, ...]) -> pa.RecordBatch:
        """Batch ``i`` with the columns ``names``; raises KeyError for an unknown one.

        Threads racing here at worst select the same columns twice, with the same
        result: every step is a single dictionary or list operation.
        """
        batches = self._selections.get(names)
        if batches is None:
            unknown = [name for name in names if name not in self._columns]
            if unknown:
                raise KeyError(f"{self.name} has no column {unknown[0]!r}")
            if len(self._selections) >= _SELECTIONS:
                self._selections.clear()
            batches = self._selections.setdefault(names, [None] * len(self._batches))
        batch = batches[i]
        if batch is None:
            batch = batches[i] = self._batch(i).select(list(names))
        return batch

    def _batch(self, i: int) -> pa.RecordBatch:
        batch = self._batches[i]
        if batch is None:
            with self._lock:
                batch = self._batches[i]
                if batch is None:
                    batch = self._batches[i] = self._reader.get_batch(i)
        return batch


# Linux's MADV_POPULATE_READ (5.14 and later; Python 3.11's mmap does not name it).
_MADV_POPULATE_READ = 22

# The largest share of the machine's memory a row copy may have its page tables filled
# for; a larger copy's pages are mapped as queries first touch them.
_POPULATE_SHARE = 0.25


def _map(path: Path) -> mmap.mmap:
    with open(path, "rb") as f:
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


def _npy_array(mapped: mmap.mmap) -> NDArray[np.int64]:
    """The array of a mapped ``.npy`` file, without copying it."""
    stream = io.BytesIO(mapped[:4096])
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    if fortran or len(shape) != 1:
        raise ValueError("not a one-dimensional array")
    return np.frombuffer(mapped, dtype=dtype, count=shape[0], offset=stream.tell())


def _populate(copy: RowCopy, maps: list[mmap.mmap]) -> None:
    """Fill the page tables of ``maps`` in a background thread, and read the copy's
    batch headers, unless the copy is too large.

    A cone search touches a few pages of each column it returns, at random places in
    the copy; each first touch of a page costs a fault of several microseconds even
    when the page is in the page cache, which on a copy of some GB is most of a small
    cone's time. Filling the tables once costs far less, and reads into the page
    cache whatever is not there yet, which is what the copy is for. Copies too large
    for a share of the machine's memory are left to fault in as they are used.
    """
    size = sum(len(m) for m in maps)
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        memory = 0
    if size > memory * _POPULATE_SHARE:
        log.info("the row copy of %s is mapped as queries touch it (%d MB)", copy.name, size >> 20)
        return

    def fill() -> None:
        for mapped in maps:
            try:
                mapped.madvise(_MADV_POPULATE_READ)
            except (OSError, ValueError):  # an older kernel, or a closed map
                break
        try:
            for i in range(len(copy._batches)):
                copy._batch(i)
        except (pa.ArrowException, OSError, ValueError) as exc:  # queries will say so too
            log.warning("the row copy of %s could not be read ahead: %s", copy.name, exc)

    threading.Thread(target=fill, name=f"datalab-map-{copy.name}", daemon=True).start()


def open_row_copies(con: duckdb.DuckDBPyConnection, root: Path) -> dict[str, RowCopy]:
    """Every usable copy the registry names, by qualified table name.

    A copy that is missing, unreadable or does not match its table's row count is
    logged and left out: its table is still served, by the engine.
    """
    registry = read_registry(con)
    if not registry:
        return {}
    counts = dict(
        con.execute(
            f"SELECT table_name, nrows FROM {PRIVATE_SCHEMA}.tables WHERE table_name IN ("
            + ",".join("?" * len(registry))
            + ")",
            list(registry),
        ).fetchall()
    )
    copies = {}
    for table, directory in registry.items():
        try:
            copy = RowCopy.open(root / directory, table)
        except (OSError, ValueError, pa.ArrowException) as exc:
            log.warning("the row copy of %s is not used: %s", table, exc)
            continue
        if copy.num_rows != counts.get(table):
            log.warning(
                "the row copy of %s is not used: it has %d rows, the table %s",
                table,
                copy.num_rows,
                counts.get(table),
            )
            continue
        copies[table] = copy
    return copies
