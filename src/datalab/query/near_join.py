"""Crossmatches of an upload with a catalog table, run on the table's rows near the upload.

The compiler turns a positional join into an equi-join on sky cells
(:mod:`datalab.adql.joins`), and the engine computes the cell of every row of the
catalog table to find the few that match: a full scan, which for a list of a few
hundred positions costs far more than the matching. When the other side is an upload
small enough, the query runs instead on the table's rows that lie near one of its
positions: for each position, the HEALPix cells near a circle of the join's radius
(:func:`datalab.sky.small_circle_ranges`, a cover that never misses a point), the
row positions holding those cells in the table's row copy (a binary search), and
those rows, sliced out of the copy as Arrow, are what the query reads in place of
the table. The query is otherwise unchanged, exact test and all, and no row left
out can be in its answer: the compiler marks a join for this only where the table
is not on the preserved side of an outer join.

Where the restriction is not clearly cheaper (a large upload, a large radius, too
many rows near the positions) or not safe (positions outside the sphere, a copy
whose columns the engine would read as other types), the query runs as compiled.
With ``DATALAB_CHECK_ROW_COPIES=1`` (the test suite sets it) both are run and must
return the same rows.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datalab import sky
from datalab.adql.joins import NEAR_TABLE, NearJoin
from datalab.catalog import Engine
from datalab.catalog.metadata import HEALPIX_COLUMN
from datalab.catalog.rowcopy import RowCopy
from datalab.errors import UsageError
from datalab.query.cones import MAX_CANDIDATES
from datalab.query.runner import run_query

__all__ = ["near_rows", "same_answer"]

MIN_PROBE_LIMIT = 1_000
"""Positions an upload may always have for the restriction to be tried."""

ROWS_PER_PROBE = 2_000
"""Beyond MIN_PROBE_LIMIT, one position more is allowed per this many table rows: a
position's cover costs some tens of microseconds, the engine's scan some tens of
nanoseconds per row, so the restriction pays while positions are this much fewer."""

# Rough costs (seconds) on the engine, measured on 2 cores: the restricted query tests
# every pair of a position and a nearby row, slicing a nearby row out of the copy
# costs a few microseconds, and the cell join reads every row of the table. With large
# radii and many positions the pairs outweigh the scan, and the query runs as compiled.
_PAIR_COST = 1e-7
_NEAR_ROW_COST = 3e-6
_TABLE_ROW_COST = 3.5e-8

CHECK = os.environ.get("DATALAB_CHECK_ROW_COPIES", "") not in ("", "0")


@dataclass(frozen=True)
class _Layout:
    """The table's columns in the engine's order, as the restricted rows carry them."""

    schema: pa.Schema
    stored: tuple[str, ...]  # the columns the row copy holds, in that order


_LAYOUTS: weakref.WeakKeyDictionary[RowCopy, _Layout | None] = weakref.WeakKeyDictionary()


def near_rows(engine: Engine, near: NearJoin, tables: Mapping[str, pa.Table]) -> pa.Table | None:
    """The rows of ``near.table`` within reach of the upload's positions, to be read
    as ``NEAR_TABLE`` by ``near.sql``; None when the query should run as compiled."""
    copy = engine.row_copy(near.table)
    other = tables.get(near.other)
    if copy is None or other is None:
        return None
    if other.num_rows > max(MIN_PROBE_LIMIT, copy.num_rows // ROWS_PER_PROBE):
        return None
    layout = _layout(engine, copy, near.table)
    if layout is None:
        return None
    positions = _positions(other, near.ra, near.dec)
    if positions is None:
        return None
    spans = _spans(copy, positions, near.radius)
    if spans is None:
        return None
    nearby = int((spans[:, 1] - spans[:, 0]).sum())
    restricted = len(positions[0]) * nearby * _PAIR_COST + nearby * _NEAR_ROW_COST
    if restricted > copy.num_rows * _TABLE_ROW_COST:
        return None
    return _rows(copy, spans, layout)


def same_answer(
    engine: Engine,
    sql: str,
    tables: Mapping[str, pa.Table],
    near: NearJoin,
    restricted: pa.Table,
    *,
    timeout: float | None,
    max_rows: int | None,
) -> None:
    """Raise unless the query returns the same rows (in any order) on the restricted
    table as on the whole one; for tests. A query with LIMIT may legitimately differ."""
    if near.limited:
        return
    with run_query(engine, sql, timeout=timeout, max_rows=max_rows, tables=tables) as result:
        whole = pa.Table.from_batches(list(result), schema=result.schema)
    with run_query(
        engine,
        near.sql,
        timeout=timeout,
        max_rows=max_rows,
        tables={**tables, NEAR_TABLE: restricted},
    ) as result:
        part = pa.Table.from_batches(list(result), schema=result.schema)
    if not whole.schema.equals(part.schema) or sorted(map(repr, whole.to_pylist())) != sorted(
        map(repr, part.to_pylist())
    ):
        raise RuntimeError(
            f"a crossmatch run on the rows near the upload differs from the full one: "
            f"{near!r}: {part.num_rows} rows against {whole.num_rows}"
        )


def _layout(engine: Engine, copy: RowCopy, table: str) -> _Layout | None:
    """The restricted rows' schema, if the engine reads them as the types of the
    table's own columns (checked once per copy: a copy is written from the engine's
    Arrow export, and not every type comes back as itself)."""
    if copy in _LAYOUTS:
        return _LAYOUTS[copy]
    schema_name, table_name = table.split(".", 1)  # checked identifiers (catalog names)
    quoted = f'"{schema_name}"."{table_name}"'
    layout = None
    with engine.cursor() as cur:
        want = [(r[0], r[1]) for r in cur.execute(f"DESCRIBE SELECT * FROM {quoted}").fetchall()]
        names = [name for name, _ in want]
        stored = set(copy.schema.names)
        if HEALPIX_COLUMN in names and set(names) - {HEALPIX_COLUMN} == stored:
            schema = pa.schema(
                [
                    pa.field(HEALPIX_COLUMN, pa.int64())
                    if name == HEALPIX_COLUMN
                    else copy.schema.field(name)
                    for name in names
                ]
            )
            cur.register("_dl_layout_probe", schema.empty_table())
            try:
                got = cur.execute('DESCRIBE SELECT * FROM "_dl_layout_probe"').fetchall()
            finally:
                cur.unregister("_dl_layout_probe")
            if [(r[0], r[1]) for r in got] == want:
                layout = _Layout(schema, tuple(n for n in names if n != HEALPIX_COLUMN))
    _LAYOUTS[copy] = layout
    return layout


def _column(table: pa.Table, name: str) -> pa.ChunkedArray | None:
    if name in table.column_names:
        return table.column(name)
    for candidate in table.column_names:
        if candidate.lower() == name.lower():
            return table.column(candidate)
    return None


def _positions(table: pa.Table, ra: str, dec: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The upload's positions that can match (numbers, not null or NaN), in degrees;
    None if one lies off the sphere, where the engine's answer is the reference."""
    columns = [_column(table, ra), _column(table, dec)]
    if columns[0] is None or columns[1] is None:
        return None
    values = []
    for column in columns:
        if not (pa.types.is_floating(column.type) or pa.types.is_integer(column.type)):
            return None
        values.append(
            pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
        )
    ras, decs = values
    usable = ~(np.isnan(ras) | np.isnan(decs))
    ras, decs = ras[usable], decs[usable]
    if not (np.isfinite(ras).all() and np.isfinite(decs).all()):
        return None
    if decs.size and float(np.abs(decs).max()) > 90.0:
        return None
    return ras, decs


def _spans(
    copy: RowCopy, positions: tuple[np.ndarray, np.ndarray], radius: float
) -> np.ndarray | None:
    """Disjoint, sorted row spans ``[first, stop)`` of the copy holding every row
    within ``radius`` of a position, or None when a cover is not small or the rows
    are too many."""
    covers = []
    for ra, dec in zip(positions[0].tolist(), positions[1].tolist(), strict=True):
        try:
            ranges = sky.small_circle_ranges(sky.Circle(ra, dec, radius))
        except UsageError:
            return None
        if ranges is None:
            return None
        covers.append(ranges)
    if not covers:
        return np.empty((0, 2), dtype=np.int64)
    spans = copy.spans(np.concatenate(covers))
    spans = spans[spans[:, 1] > spans[:, 0]]
    if not len(spans):
        return spans
    spans = spans[np.argsort(spans[:, 0], kind="stable")]
    # Merge overlapping spans: a span starts a new group when it begins after every
    # earlier one has ended.
    reach = np.maximum.accumulate(spans[:, 1])
    starts = np.ones(len(spans), dtype=bool)
    starts[1:] = spans[1:, 0] > reach[:-1]
    first = np.flatnonzero(starts)
    merged = np.column_stack([spans[first, 0], np.maximum.reduceat(spans[:, 1], first)])
    if int((merged[:, 1] - merged[:, 0]).sum()) > MAX_CANDIDATES:
        return None
    return merged


def _rows(copy: RowCopy, spans: np.ndarray, layout: _Layout) -> pa.Table:
    """The rows of ``spans``, all columns in the engine's order, index included."""
    batches = []
    at_index = layout.schema.get_field_index(HEALPIX_COLUMN)
    for first, stop in spans.tolist():
        index = copy.index_values(first, stop)
        offset = 0
        for piece in copy.slice(first, stop, layout.stored):
            columns = list(piece.columns)
            columns.insert(
                at_index, pa.array(index[offset : offset + piece.num_rows], pa.int64())
            )
            offset += piece.num_rows
            batches.append(pa.record_batch(columns, schema=layout.schema))
    # One chunk: the engine takes a table's chunks one at a time, each with a cost.
    return pa.Table.from_batches(batches, schema=layout.schema).combine_chunks()
