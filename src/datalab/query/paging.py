"""A stored query result read a page at a time: filtered, sorted and cut on the server.

A person browsing a result of millions of rows sees fifty of them; the rest stay in
the result's Parquet file. Each call opens its own in-memory DuckDB, which is told
the one file it may read before anything else happens (``allowed_paths``), then loses
all other file access and the right to change its configuration. That connection
cannot reach the catalog, another user's result or the disk, whatever a request says.

Nothing a request sends becomes SQL text. The file's columns are renamed by position
as the file is read (``c0``, ``c1``, ...), so a column named in a request is looked up
in the file's own schema and replaced by its positional name; operators come from a
fixed table; values are bound parameters, converted to the column's type first.
Positional names also free the DuckDB virtual column ``file_row_number`` even when the
result has a column of that name: it is the stable id of a row, used to select rows
across pages and sort orders.

Why DuckDB and not pyarrow.compute: sorting and counting a filtered result of tens of
millions of rows needs an engine that streams and keeps only the top of the order for
a page (a Top-N), not a table held whole in memory.
"""

from __future__ import annotations

import bisect
import datetime as dt
import decimal
import json
import math
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from datalab.errors import UsageError
from datalab.formats.fields import FieldMeta
from datalab.formats.parquet_reader import ParquetReader

__all__ = [
    "MAX_FILTERS",
    "MAX_PAGE_ROWS",
    "MAX_SELECTED",
    "OPERATORS",
    "Filter",
    "Page",
    "PageRequest",
    "ResultColumn",
    "StoredResult",
    "json_ready",
    "parse_filters",
]

MAX_PAGE_ROWS = 500
MAX_FILTERS = 50
MAX_FILTER_VALUE = 1000
MAX_SELECTED = 100_000
# The longest filter specification read (JSON text).
MAX_FILTER_TEXT = 100_000

# Comparison operators and the SQL for each; the other operators have their own shape.
_COMPARISONS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_TEXT_MATCHES = {
    "contains": "contains(lower(CAST({c} AS VARCHAR)), lower(?))",
    "starts with": "starts_with(lower(CAST({c} AS VARCHAR)), lower(?))",
}
_NULL_TESTS = {"is null": "{c} IS NULL", "is not null": "{c} IS NOT NULL"}
OPERATORS: tuple[str, ...] = (*_COMPARISONS, *_TEXT_MATCHES, *_NULL_TESTS)

# The largest integer a browser's numbers hold exactly; larger ones travel as text.
_SAFE_INTEGER = 2**53 - 1


@dataclass(frozen=True)
class Filter:
    """One condition on one column, as a person states it: ``mag_g < 18``."""

    column: str
    op: str
    value: str | None = None


@dataclass(frozen=True)
class PageRequest:
    """Which rows to show: ``limit`` rows from ``offset`` of the filtered, sorted result."""

    offset: int = 0
    limit: int = 50
    sort: str | None = None
    descending: bool = False
    filters: tuple[Filter, ...] = ()


@dataclass(frozen=True)
class ResultColumn:
    """A column of the result: its place in the file, its Arrow type and FIELD metadata."""

    index: int
    name: str
    type: pa.DataType
    meta: FieldMeta

    @property
    def kind(self) -> str:
        """How values of the column compare and display: int, float, decimal, bool, text,
        timestamp, date, time or other (arrays, binary)."""
        t = self.type
        if pa.types.is_integer(t):
            return "int"
        if pa.types.is_floating(t):
            return "float"
        if pa.types.is_decimal(t):
            return "decimal"
        if pa.types.is_boolean(t):
            return "bool"
        if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
            return "text"
        if pa.types.is_timestamp(t):
            return "timestamp"
        if pa.types.is_date(t):
            return "date"
        if pa.types.is_time(t):
            return "time"
        return "other"

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "float", "decimal")

    @property
    def sql(self) -> str:
        """The column's positional name in the SQL of this module."""
        return f"c{self.index}"


@dataclass(frozen=True)
class Page:
    """Rows of one page with their ids (row numbers in the stored result) and counts."""

    columns: tuple[ResultColumn, ...]
    row_ids: list[int]
    rows: list[list[object]]
    total: int  # rows that pass the filters
    total_all: int  # rows in the result
    offset: int
    limit: int


def parse_filters(text: str | None) -> tuple[Filter, ...]:
    """Filters from their JSON form, ``[{"column": "ra", "op": ">", "value": "56"}]``.

    The shape is checked here; whether the columns exist and the values fit them is
    checked against a result by :meth:`StoredResult.page`.
    """
    if text is None or not text.strip():
        return ()
    if len(text) > MAX_FILTER_TEXT:
        raise UsageError(f"the filters are longer than {MAX_FILTER_TEXT:,} characters")
    try:
        data = json.loads(text)
    except ValueError:
        raise UsageError(
            'filter must be a JSON list such as [{"column": "ra", "op": ">", "value": "56"}]'
        ) from None
    if not isinstance(data, list):
        raise UsageError("filter must be a JSON list of conditions")
    if len(data) > MAX_FILTERS:
        raise UsageError(f"at most {MAX_FILTERS} filters may be given at once")
    filters = []
    for item in data:
        if not isinstance(item, dict):
            raise UsageError("each filter must be an object with column, op and value")
        column, op, value = item.get("column"), item.get("op"), item.get("value")
        if not isinstance(column, str) or not isinstance(op, str):
            raise UsageError("each filter needs a column name and an op, as text")
        if value is not None and not isinstance(value, str | int | float):
            raise UsageError(f"the value of the filter on {_shown(column)} must be text")
        filters.append(Filter(column, op, None if value is None else str(value)))
    return tuple(filters)


class StoredResult:
    """A query result kept as a Parquet file (VO-Parquet from a TAP job, or any other).

    The schema and column metadata are read once when it is opened; every page is a
    fresh, confined DuckDB connection (see the module's documentation).
    """

    def __init__(self, path: Path, *, memory_limit: str = "1GB", threads: int = 2) -> None:
        self.path = Path(path)
        reader = ParquetReader(self.path)
        try:
            self.schema: pa.Schema = reader.schema
            self.fields: list[FieldMeta] = list(reader.fields)
            self.description = reader.description
        finally:
            reader.close()
        self.num_rows: int = pq.read_metadata(self.path).num_rows
        self.columns = tuple(
            ResultColumn(i, f.name, f.type, meta)
            for i, (f, meta) in enumerate(zip(self.schema, self.fields, strict=True))
        )
        self._memory_limit = memory_limit
        self._threads = threads

    # -- columns -------------------------------------------------------------------

    def column(self, name: str) -> ResultColumn:
        """The column called ``name`` (exact name first, then ignoring case)."""
        if not isinstance(name, str):
            raise UsageError("a column name must be text")
        for column in self.columns:
            if column.name == name:
                return column
        for column in self.columns:
            if column.name.lower() == name.lower():
                return column
        raise UsageError(f"the result has no column {_shown(name)}")

    # -- pages ---------------------------------------------------------------------

    def page(self, request: PageRequest) -> Page:
        """One page of the result with ``request``'s filters and order applied."""
        _check_window(request.offset, request.limit)
        where, params = self._conditions(request.filters)
        order = "_row"
        if request.sort:
            column = self.column(request.sort)
            direction = "DESC" if request.descending else "ASC"
            order = f"{column.sql} {direction} NULLS LAST, _row"
        names = ", ".join(c.sql for c in self.columns)
        with self._connect() as con:
            total = _fetch_one(con, f"SELECT count(*) FROM result{where}", params)
            rows = _fetch_all(
                con,
                f"SELECT _row, {names} FROM result{where} ORDER BY {order} LIMIT ? OFFSET ?",
                [*params, request.limit, request.offset],
            )
        return Page(
            columns=self.columns,
            row_ids=[int(r[0]) for r in rows],
            rows=[list(r[1:]) for r in rows],
            total=int(total),
            total_all=self.num_rows,
            offset=request.offset,
            limit=request.limit,
        )

    def _conditions(self, filters: Sequence[Filter]) -> tuple[str, list[object]]:
        """The WHERE clause (or nothing) and its parameters for ``filters``."""
        if len(filters) > MAX_FILTERS:
            raise UsageError(f"at most {MAX_FILTERS} filters may be given at once")
        parts: list[str] = []
        params: list[object] = []
        for f in filters:
            column = self.column(f.column)
            op = f.op.strip().lower() if isinstance(f.op, str) else ""
            if op in _NULL_TESTS:
                parts.append(_NULL_TESTS[op].format(c=column.sql))
                continue
            if op not in _COMPARISONS and op not in _TEXT_MATCHES:
                known = ", ".join(OPERATORS)
                raise UsageError(f"unknown filter operator {_shown(str(f.op))}; use one of {known}")
            if f.value is None or f.value == "":
                raise UsageError(f"the filter {column.name} {op} needs a value")
            if len(f.value) > MAX_FILTER_VALUE:
                raise UsageError(
                    f"the filter value for {column.name} is longer than {MAX_FILTER_VALUE} "
                    "characters"
                )
            if op in _TEXT_MATCHES:
                parts.append(_TEXT_MATCHES[op].format(c=column.sql))
                params.append(f.value)
                continue
            placeholder, value = _typed_value(column, f.value)
            parts.append(f"{column.sql} {_COMPARISONS[op]} {placeholder}")
            params.append(value)
        return (" WHERE " + " AND ".join(parts) if parts else ""), params

    # -- rows for downloads ---------------------------------------------------------

    def batches(self, chunk_rows: int = 65_536) -> Iterator[pa.RecordBatch]:
        """Every row, in stored order, with :attr:`schema`."""
        reader = ParquetReader(self.path)
        try:
            yield from reader.batches(chunk_rows)
        finally:
            reader.close()

    def selected(
        self, row_ids: Iterable[int], chunk_rows: int = 65_536
    ) -> Iterator[pa.RecordBatch]:
        """The rows with these ids (row numbers, as :meth:`page` gives them), in stored
        order, streamed: only one batch of the file is held at a time."""
        ids = self.check_row_ids(row_ids)
        reader = ParquetReader(self.path)
        try:
            start = 0
            taken = 0
            for batch in reader.batches(chunk_rows):
                end = start + batch.num_rows
                upto = bisect.bisect_left(ids, end, taken)
                if upto > taken:
                    local = pa.array([i - start for i in ids[taken:upto]], pa.int64())
                    yield batch.take(local)
                taken, start = upto, end
                if taken == len(ids):
                    break
        finally:
            reader.close()

    def check_row_ids(self, row_ids: Iterable[int]) -> list[int]:
        """The ids sorted and without repeats; UsageError for one that is not a row."""
        ids = sorted(set(row_ids))
        if not ids:
            raise UsageError("no rows are selected")
        if len(ids) > MAX_SELECTED:
            raise UsageError(f"at most {MAX_SELECTED:,} rows can be selected at once")
        if ids[0] < 0 or ids[-1] >= self.num_rows:
            bad = ids[0] if ids[0] < 0 else ids[-1]
            raise UsageError(f"row {bad} is not in the result (it has {self.num_rows} rows)")
        return ids

    # -- the confined connection ------------------------------------------------------

    def _connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(
            ":memory:",
            config={
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
                "memory_limit": self._memory_limit,
                "threads": self._threads,
            },
        )
        try:
            path = _string_literal(str(self.path.resolve()))
            con.execute(f"SET allowed_paths = [{path}]")
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
            aliases = ", ".join(c.sql for c in self.columns)
            con.execute(
                "CREATE VIEW result AS SELECT t.file_row_number AS _row, t.* "
                f"FROM read_parquet({path}) AS t({aliases})"
            )
        except BaseException:
            con.close()
            raise
        return con


def json_ready(value: object, column: ResultColumn | None = None) -> object:
    """A value as a browser can take it in JSON, displayed as the column holds it.

    Single-precision floats are shortened to the digits they hold; integers beyond what
    JavaScript numbers represent exactly, and NaN and infinities (not JSON), are text;
    times are ISO 8601; bytes are hexadecimal.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if -_SAFE_INTEGER <= value <= _SAFE_INTEGER else str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if column is not None and pa.types.is_float32(column.type):
            return float(f"{value:.7g}")
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        inner = _element(column) if column is not None else None
        return [json_ready(v, inner) for v in value]
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    return str(value)


# -- helpers --------------------------------------------------------------------------


def _element(column: ResultColumn) -> ResultColumn | None:
    """The column's element type, for values of an array column."""
    value_type = getattr(column.type, "value_type", None)
    if value_type is None:
        return None
    return ResultColumn(column.index, column.name, value_type, column.meta)


def _typed_value(column: ResultColumn, raw: str) -> tuple[str, object]:
    """The placeholder and bound value comparing ``column`` with the text ``raw``."""
    text = raw.strip()
    kind = column.kind
    if kind in ("int", "float", "decimal"):
        try:
            number: float | int = int(text) if kind == "int" else float(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                raise UsageError(
                    f"{_shown(raw)} is not a number, and column {column.name} holds numbers"
                ) from None
        if isinstance(number, int) and abs(number) >= 2**63:
            number = float(number)
        return "?", number
    if kind == "bool":
        truth = {
            "true": True,
            "t": True,
            "1": True,
            "yes": True,
            "false": False,
            "f": False,
            "0": False,
            "no": False,
        }.get(text.lower())
        if truth is None:
            raise UsageError(f"column {column.name} holds true or false, not {_shown(raw)}")
        return "?", truth
    if kind == "text":
        return "?", raw
    if kind in ("timestamp", "date", "time"):
        sql_type = {"timestamp": "TIMESTAMP", "date": "DATE", "time": "TIME"}[kind]
        if kind == "timestamp" and getattr(column.type, "tz", None):
            sql_type = "TIMESTAMPTZ"
        _check_time(text, kind, column.name)
        return f"CAST(? AS {sql_type})", text
    raise UsageError(
        f"column {column.name} holds {column.type}, which cannot be compared with "
        f"{_shown(raw)}; use contains, starts with, is null or is not null"
    )


def _check_time(text: str, kind: str, name: str) -> None:
    """Refuse a value the engine could not read as a time, with a message saying so."""
    try:
        if kind == "timestamp":
            dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        elif kind == "date":
            dt.date.fromisoformat(text)
        else:
            dt.time.fromisoformat(text)
    except ValueError:
        example = {"timestamp": "2024-05-01T12:00:00", "date": "2024-05-01", "time": "12:00:00"}
        raise UsageError(
            f"{_shown(text)} is not a {kind} for column {name}; write it like {example[kind]}"
        ) from None


def _check_window(offset: int, limit: int) -> None:
    if not isinstance(offset, int) or offset < 0 or offset > 2**53:
        raise UsageError("offset must be a whole number, 0 or more")
    if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_ROWS:
        raise UsageError(f"limit must be a whole number from 1 to {MAX_PAGE_ROWS}")


def _fetch_one(con: duckdb.DuckDBPyConnection, sql: str, params: list[object]) -> Any:
    return _fetch_all(con, sql, params)[0][0]


def _fetch_all(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[object]
) -> list[tuple[Any, ...]]:
    try:
        return con.execute(sql, params).fetchall()
    except (
        duckdb.ConversionException,
        duckdb.InvalidInputException,
        duckdb.OutOfRangeException,
    ) as exc:
        message = str(exc).split("\n", 1)[0]
        raise UsageError(f"a filter value does not fit its column: {message[:200]}") from None
    except duckdb.OutOfMemoryException:
        raise UsageError(
            "this view of the result needs more memory than a page may use; add filters "
            "or sort on another column"
        ) from None


def _string_literal(text: str) -> str:
    """``text`` as a SQL string literal (only paths this module chose are written so)."""
    return "'" + text.replace("'", "''") + "'"


def _shown(value: str) -> str:
    """A value quoted for a message, shortened so a huge one cannot flood it."""
    return repr(value if len(value) <= 40 else value[:37] + "...")
