"""Ingest: from a file to a query-ready, indexed table, Data Lab against PostgreSQL.

Data Lab: ``datalab ingest FILE --table bench.tractor`` into a fresh data directory,
one process per load, for the suite's Parquet file and CSV and FITS files of the same
rows (``benchmarks/ingest.py``: read in chunks, HEALPix index computed, rows sorted by
it, TAP_SCHEMA written). The files are read once beforehand so that every load starts
from the page cache, as PostgreSQL's did.

PostgreSQL: the suite's set-up of the peer (``benchmarks/pgload.py``), from the same
Parquet file: COPY + Q3C index + CLUSTER + VACUUM ANALYZE, the steps that make the
table as query-ready as Data Lab's. It is measured once, when the table is loaded,
and kept with the table; a run that reuses the loaded table reports the figures of the
load it reuses (``--reload-postgres`` measures again). PostgreSQL is given Parquet
only, its fastest route here, and is compared with all three formats.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from benchmarks.context import Bench
from benchmarks.dataset import ensure_mock_file
from benchmarks.ingest import measure_ingest
from benchmarks.measure import Case, Workload

FORMATS = ("parquet", "csv", "fits")


def _read_through(path: Path) -> None:
    with path.open("rb") as f:
        while f.read(16 << 20):
            pass


def run(bench: Bench) -> Workload:
    setup = bench.pg_setup or {}
    pg_seconds = setup.get("query_ready_seconds")
    work = Workload(
        key="ingest",
        title="Ingest to a query-ready indexed table",
        unit="rows/s",
        higher_is_better=True,
        engines=["Data Lab", "PostgreSQL"],
        ratios=[("PostgreSQL", "Data Lab")],
        notes=[
            f"Data Lab: median of {bench.repeat} loads per format;"
            " PostgreSQL: COPY + Q3C index + CLUSTER + VACUUM ANALYZE from Parquet"
            + (" (figures of the earlier load this run reuses)" if setup.get("reused") else ""),
        ],
        info={"postgres_setup": setup},
    )
    # The same generator and row count as the suite's Parquet file: the same rows.
    requested = int(bench.options["requested_rows"])
    sources = {
        fmt: bench.parquet if fmt == "parquet" else ensure_mock_file(bench.workdir, requested, fmt)
        for fmt in FORMATS
    }
    for path in sources.values():
        _read_through(path)
    loads: dict[str, list[dict[str, float]]] = {fmt: [] for fmt in FORMATS}
    for r in range(bench.repeat):
        for k in range(len(FORMATS)):
            fmt = FORMATS[(r + k) % len(FORMATS)]
            home = bench.workdir / f"ingest-{fmt}"
            loads[fmt].append(measure_ingest(sources[fmt], home, bench.rows, fmt))
    for fmt in FORMATS:
        seconds = statistics.median(load["seconds"] for load in loads[fmt])
        values = {"Data Lab": bench.rows / seconds}
        if pg_seconds:
            values["PostgreSQL"] = bench.rows / pg_seconds
        case = Case(
            label=f"{fmt} ({loads[fmt][0]['file_mb']:,.0f} MB)",
            values=values,
            check="",
            extra={
                "seconds": {"Data Lab": seconds, "PostgreSQL": pg_seconds},
                "peak_rss_mb": statistics.median(load["peak_rss_mb"] for load in loads[fmt]),
                "file_mb": loads[fmt][0]["file_mb"],
                "loads": loads[fmt],
            },
        )
        work.cases.append(case)
        print(
            f"  ingest {fmt:<8} Data Lab {seconds:7.1f} s ({values['Data Lab']:,.0f} rows/s)"
            + (f"  PostgreSQL {pg_seconds:7.1f} s" if pg_seconds else ""),
            flush=True,
        )
    return work
