"""Cone searches answered from a table's row copy, without the SQL engine.

A small cone search touches a few tens of rows, yet the engine needs about half a
millisecond to start any statement and a few more to fetch the columns of a handful
of rows from its compressed row groups; PostgreSQL's GiST index answers in about
that half millisecond. A positional table's row copy (:mod:`datalab.catalog.rowcopy`)
holds the rows uncompressed, memory-mapped and sorted by ``_healpix_29``, so a cone is
answered here in four steps: the HEALPix cells near the circle (a cover that never
misses a point, :func:`datalab.sky.small_circle_ranges`), the row positions holding
those cells (a binary search), the exact test on those rows' positions, and the
matching rows sliced out, all as Arrow.

The exact test is the compiler's own (:func:`datalab.adql.sphere_sql.cone_test`),
computed with the same operations in the same order, so both paths keep the same
rows. Cones too large for the near cover, or with too many rows to examine, go to
the engine, whose parallel scan is the better tool for them.

With ``DATALAB_CHECK_ROW_COPIES=1`` (the test suite sets it) every cone answered
here is also run on the engine and the two answers must be identical.
"""

from __future__ import annotations

import functools
import math
import os

import numpy as np
import pyarrow as pa

from datalab import sky
from datalab.adql import Translation
from datalab.adql.cones import ConeSearch
from datalab.adql.sphere_sql import haversine_limit
from datalab.catalog import Engine
from datalab.catalog.rowcopy import RowCopy
from datalab.query.runner import QueryResult, rows_result, run_query

__all__ = ["MAX_CANDIDATES", "answer_cone"]

MAX_CANDIDATES = 200_000
"""Most rows a cone may have to examine here; more go to the engine."""

# Up to this many rows to examine, the exact test runs on plain floats.
_FEW = 64

_CHECK = os.environ.get("DATALAB_CHECK_ROW_COPIES", "") not in ("", "0")


def answer_cone(
    engine: Engine, translation: Translation, *, max_rows: int | None
) -> QueryResult | None:
    """The result of a recognised cone search from its table's row copy, or None
    when it has to run on the engine (no copy, a large cone, too many rows)."""
    cone = translation.cone
    if cone is None:
        return None
    copy = engine.row_copy(cone.table)
    if copy is None:
        return None
    found = _cone_rows(copy, cone)
    if found is None:
        return None
    schema, batches = found
    if _CHECK:
        _compare_with_engine(engine, translation, schema, batches)
    return rows_result(schema, batches, max_rows=max_rows)


def _cone_rows(
    copy: RowCopy, cone: ConeSearch
) -> tuple[pa.Schema, list[pa.RecordBatch]] | None:
    ranges = sky.small_circle_ranges(cone.circle)
    if ranges is None:
        return None
    spans = [(first, stop) for first, stop in copy.spans(ranges).tolist() if stop > first]
    if sum(stop - first for first, stop in spans) > MAX_CANDIDATES:
        return None
    rows = _matching_rows(copy, cone, spans)
    if rows is None:
        return None
    if cone.limit is not None:
        rows = rows[: cone.limit]
    if cone.count is not None:
        schema = _count_schema(cone.count)
        # From a buffer: building a one-element array from a Python list costs more
        # than the rest of a small cone.
        count = pa.Array.from_buffers(
            pa.int64(), 1, [None, pa.py_buffer(np.array([len(rows)], dtype=np.int64))]
        )
        return schema, [pa.record_batch([count], schema=schema)]
    schema = _output_schema(copy, cone.columns)
    stored = [column for _, column in cone.columns]
    pieces = [piece for first, stop in _runs(rows) for piece in copy.slice(first, stop, stored)]
    if not pieces:
        return schema, []
    # Few rows in many small pieces: one batch of them is cheaper for every writer.
    batch = pieces[0] if len(pieces) == 1 else pa.concat_batches(pieces)
    return schema, [pa.record_batch(batch.columns, schema=schema)]


def _matching_rows(
    copy: RowCopy, cone: ConeSearch, spans: list[tuple[int, int]]
) -> list[int] | None:
    """Row positions, in order, of the rows in ``spans`` that pass the exact test;
    None when the position columns are not floating point (the engine then decides)."""
    ras, decs = [], []
    for first, stop in spans:
        ra = copy.values(cone.ra_column, first, stop)
        dec = copy.values(cone.dec_column, first, stop)
        if ra is None or dec is None:
            return None
        ras.append(ra)
        decs.append(dec)
    test = _ConeTest(cone)
    if sum(len(ra) for ra in ras) <= _FEW:
        positions = (row for first, stop in spans for row in range(first, stop))
        values = (
            pair
            for ra, dec in zip(ras, decs, strict=True)
            for pair in zip(ra.tolist(), dec.tolist(), strict=True)
        )
        return [row for row, (a, d) in zip(positions, values, strict=True) if test.one(a, d)]
    inside = test(np.concatenate(ras), np.concatenate(decs))
    rows = np.concatenate([np.arange(first, stop) for first, stop in spans])
    return rows[inside].tolist()


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    """Sorted row positions as [first, stop) runs of consecutive rows."""
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and runs[-1][1] == row:
            runs[-1] = (runs[-1][0], row + 1)
        else:
            runs.append((row, row + 1))
    return runs


@functools.lru_cache(maxsize=64)
def _count_schema(name: str) -> pa.Schema:
    return pa.schema([pa.field(name, pa.int64())])


@functools.lru_cache(maxsize=256)
def _output_schema(copy: RowCopy, columns: tuple[tuple[str, str], ...]) -> pa.Schema:
    """The result's schema: the stored columns' types under the output names (a query
    shape asks for the same one every time, and building it costs more than a cone)."""
    return pa.schema([copy.schema.field(column).with_name(name) for name, column in columns])


class _ConeTest:
    """The compiler's exact cone test (haversine against a limit) on Arrow columns.

    Mirrors ``sphere_sql.cone_test``: hav = sin²((δ − δ0)/2) + cos δ0 · cos δ ·
    sin²((α − α0)/2) ≤ limit, radians taken of each coordinate first, the centre as
    the query wrote it.
    """

    def __init__(self, cone: ConeSearch) -> None:
        self.ra0 = math.radians(cone.ra)
        self.dec0 = math.radians(cone.dec)
        self.cos_dec0 = math.cos(self.dec0)
        self.limit = haversine_limit(cone.radius)

    def one(self, ra: float, dec: float) -> bool:
        """The test of one position, in plain floats: for a handful of rows, the same
        operations without the fixed cost of a dozen array operations."""
        ra_rad, dec_rad = math.radians(ra), math.radians(dec)
        try:
            hav = math.sin((dec_rad - self.dec0) / 2) ** 2 + self.cos_dec0 * math.cos(
                dec_rad
            ) * math.sin((ra_rad - self.ra0) / 2) ** 2
        except ValueError:  # an infinite coordinate, as the engine's NaN: not inside
            return False
        return hav <= self.limit

    def __call__(self, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
        ra_rad = np.radians(ra.astype(np.float64, copy=False))
        dec_rad = np.radians(dec.astype(np.float64, copy=False))
        hav = np.sin((dec_rad - self.dec0) / 2) ** 2 + self.cos_dec0 * np.cos(
            dec_rad
        ) * np.sin((ra_rad - self.ra0) / 2) ** 2
        with np.errstate(invalid="ignore"):
            return np.asarray(hav <= self.limit)


def _compare_with_engine(
    engine: Engine,
    translation: Translation,
    schema: pa.Schema,
    batches: list[pa.RecordBatch],
) -> None:
    fast = pa.Table.from_batches(batches, schema=schema)
    with run_query(engine, translation.sql, timeout=60) as result:
        slow = pa.Table.from_batches(list(result), schema=result.schema)
    if not fast.equals(slow):
        raise RuntimeError(
            f"a cone answered from the row copy differs from the engine's answer: "
            f"{translation.cone!r}: {fast.num_rows} rows {fast.schema} against "
            f"{slow.num_rows} rows {slow.schema}"
        )
