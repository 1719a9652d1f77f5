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
    spans = copy.spans(ranges)
    sizes = spans[:, 1] - spans[:, 0]
    if int(sizes.sum()) > MAX_CANDIDATES:
        return None
    spans = spans[sizes > 0]
    rows = _matching_rows(copy, cone, spans)
    if cone.limit is not None:
        rows = rows[: cone.limit]
    if cone.count is not None:
        schema = _count_schema(cone.count)
        return schema, [pa.record_batch([pa.array([len(rows)], pa.int64())], schema=schema)]
    schema = _output_schema(copy, cone.columns)
    stored = [column for _, column in cone.columns]
    pieces = [
        piece
        for first, stop in _runs(rows.tolist())
        for piece in copy.slice(first, stop, stored)
    ]
    if not pieces:
        return schema, []
    # Few rows in many small pieces: one batch of them is cheaper for every writer.
    batch = pieces[0] if len(pieces) == 1 else pa.concat_batches(pieces)
    return schema, [pa.record_batch(batch.columns, schema=schema)]


def _matching_rows(copy: RowCopy, cone: ConeSearch, spans: np.ndarray) -> np.ndarray:
    """Row positions, in order, of the rows in ``spans`` that pass the exact test."""
    ras, decs, positions = [], [], []
    for first, stop in spans.tolist():
        at = first
        for batch in copy.slice(first, stop, [cone.ra_column, cone.dec_column]):
            ras.append(batch.column(0).to_numpy(zero_copy_only=False))
            decs.append(batch.column(1).to_numpy(zero_copy_only=False))
            positions.append(np.arange(at, at + batch.num_rows))
            at += batch.num_rows
    if not positions:
        return np.empty(0, dtype=np.int64)
    ra = np.concatenate(ras) if len(ras) > 1 else ras[0]
    dec = np.concatenate(decs) if len(decs) > 1 else decs[0]
    inside = _ConeTest(cone)(ra, dec)
    return (np.concatenate(positions) if len(positions) > 1 else positions[0])[inside]


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
