"""Many cones in one query: 200 centres joined with the survey, count and all columns.

A user with a list of positions does not send a query per position: they upload the
list and join it with the catalog, one query for all of them. This workload measures
that, per batch and per cone, for radii 1', 6' and 30':

* Data Lab, in process: the TAP upload path without HTTP (the centres' Parquet file
  read as an upload, the join compiled to HEALPix buckets, run on the read-only
  engine), and Data Lab TAP: the same query to ``/tap/sync`` with the centres uploaded
  inline as Parquet:

      SELECT COUNT(*) | c.id, t.* FROM TAP_UPLOAD.centres AS c JOIN ls_mock.tractor AS t
        ON 1 = CONTAINS(POINT('ICRS', t.ra, t.dec), CIRCLE('ICRS', c.ra, c.dec, r))

* Q3C and pgSphere: the centres as a ``VALUES`` list in the statement, joined with
  ``q3c_join(c.cra, c.cdec, t.ra, t.dec, r)`` or ``spoint(...) @ scircle(...)`` (the
  planner runs one index scan per centre, as it would for single cones).

Each repetition has new centres; the first batch of each case is a warm-up. All
engines must find the same number of rows per batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.context import Bench
from benchmarks.measure import Case, Workload, interleaved
from benchmarks.pgload import SPOINT, TABLE
from benchmarks.support import MOCK_TABLE

RADII_ARCMIN = (1.0, 6.0, 30.0)
SELECTS = {"count": "COUNT(*)", "all columns": "c.id, t.*"}
NAME = "centres"


def adql(select: str, radius: float) -> str:
    return (
        f"SELECT {SELECTS[select]} FROM TAP_UPLOAD.centres AS c JOIN {MOCK_TABLE} AS t"
        f" ON 1 = CONTAINS(POINT('ICRS', t.ra, t.dec), CIRCLE('ICRS', c.ra, c.dec, {radius!r}))"
    )


def _values(centres: list[tuple[float, float]]) -> str:
    rows = ", ".join(f"({i}, {ra!r}, {dec!r})" for i, (ra, dec) in enumerate(centres))
    # Not ra/dec: the index expression names the table's columns unqualified.
    return f"WITH c(id, cra, cdec) AS (VALUES {rows})"


def q3c_sql(select: str, centres: list[tuple[float, float]], radius: float) -> str:
    return (
        f"{_values(centres)} SELECT {SELECTS[select]} FROM c JOIN {TABLE} t"
        f" ON q3c_join(c.cra, c.cdec, t.ra, t.dec, {radius!r})"
    )


def pgsphere_sql(select: str, centres: list[tuple[float, float]], radius: float) -> str:
    circle = f"scircle(spoint(radians(c.cra), radians(c.cdec)), radians({radius!r}))"
    return f"{_values(centres)} SELECT {SELECTS[select]} FROM c JOIN {TABLE} t ON {SPOINT} @ {circle}"


@dataclass
class Batch:
    """One list of centres, in every form the engines take it."""

    centres: list[tuple[float, float]]
    upload_dir: Path
    parquet: bytes


def _batch(bench: Bench, centres: list[tuple[float, float]], name: str) -> Batch:
    table = pa.table(
        {
            "id": pa.array(np.arange(len(centres)), pa.int64()),
            "ra": pa.array([c[0] for c in centres], pa.float64()),
            "dec": pa.array([c[1] for c in centres], pa.float64()),
        }
    )
    directory = bench.workdir / "cone-batches" / name
    directory.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, directory / NAME)
    return Batch(centres, directory, (directory / NAME).read_bytes())


def _rows(select: str, table: pa.Table) -> int:
    return int(table.column(0)[0].as_py()) if select == "count" else table.num_rows


def run(bench: Bench) -> Workload:
    per_batch = int(bench.options.get("centres", 200))
    engines = ["Data Lab", "Data Lab TAP", "Q3C", "pgSphere"]
    work = Workload(
        key="cone_batch",
        title="Cones batched into one query",
        unit="ms",
        engines=engines,
        ratios=[
            ("Q3C", "Data Lab"),
            ("pgSphere", "Data Lab"),
            ("pgSphere", "Data Lab TAP"),
        ],
        notes=[
            f"{per_batch} centres per query, {bench.repeat} queries per case (new centres"
            " each) after a warm-up query; figures are milliseconds per cone (the query's"
            f" time / {per_batch}), the query's own median in the JSON"
        ],
    )
    with bench.pg_connection() as con, httpx.Client(timeout=600.0) as client:

        def in_process(select: str, radius: float) -> Callable[[Batch], int]:
            def go(batch: Batch) -> int:
                return _rows(select, bench.with_upload(adql(select, radius), NAME, batch.upload_dir))

            return go

        def over_tap(select: str, radius: float) -> Callable[[Batch], int]:
            def go(batch: Batch) -> int:
                table = bench.tap_with_upload(client, adql(select, radius), NAME, batch.parquet)
                return _rows(select, table)

            return go

        def on_pg(
            make: Callable[[str, list[tuple[float, float]], float], str],
            select: str,
            radius: float,
        ) -> Callable[[Batch], int]:
            def go(batch: Batch) -> int:
                rows = con.execute(make(select, batch.centres, radius)).fetchall()
                return int(rows[0][0]) if select == "count" else len(rows)

            return go

        for salt, (radius_arcmin, select) in enumerate(
            (r, s) for r in RADII_ARCMIN for s in SELECTS
        ):
            radius = radius_arcmin / 60
            centres = bench.centres(per_batch * (bench.repeat + 1), salt=300 + salt)
            batches = [
                _batch(bench, centres[i * per_batch : (i + 1) * per_batch], f"{salt}-{i}")
                for i in range(bench.repeat + 1)
            ]
            runners: dict[str, Callable[[Batch], Any]] = {
                "Data Lab": in_process(select, radius),
                "Data Lab TAP": over_tap(select, radius),
                "Q3C": on_pg(q3c_sql, select, radius),
                "pgSphere": on_pg(pgsphere_sql, select, radius),
            }
            measured = interleaved(batches[1:], runners, warmup=batches[:1])
            bad, examples = measured.disagreements()
            found = measured.answers["Data Lab"]
            case = Case(
                label=f"{radius_arcmin:g}' {select}",
                values={e: measured.median_ms(e) / per_batch for e in runners},
                p95={e: measured.p95_ms(e) / per_batch for e in runners},
                check="same rows" if bad == 0 else f"{bad} of {len(found)} batches differ",
                extra={
                    "batch_ms": {e: measured.median_ms(e) for e in runners},
                    "mean_rows_per_batch": sum(found) / len(found),
                    "cones_per_batch": per_batch,
                    "disagreements": examples,
                },
            )
            work.cases.append(case)
            print(
                f"  cone batch {case.label:<16} rows/batch {case.extra['mean_rows_per_batch']:9.1f}  "
                + "  ".join(f"{e} {v:7.3f}" for e, v in case.values.items())
                + f"  ms/cone  [{case.check}]",
                flush=True,
            )
    return work
