"""Result streaming: a million rows through the TAP endpoint, against astropy's writers.

Data Lab: ``SELECT TOP N * FROM ls_mock.tractor`` (N = 1,000,000, or the whole table
when smaller) as a sync TAP query with MAXREC = N, in CSV, VOTable BINARY2, Parquet and
FITS; the client reads the stream to its end and keeps nothing. The time runs from the
request to the last byte; MB/s is the body's size over that time.

Memory: each format gets a server of its own (``datalab serve`` on the same catalog
file, started fresh so that no earlier request has grown its heap). After a small warm-up
query and a query that reads every column of the same N rows but answers with one row
(``MAX`` of each column; it fills the engine's cache of table blocks, which is bounded
by the engine's memory limit and is not the result's doing), its resident memory is the
baseline; it is then sampled every 50 ms while N/4 rows and then N rows stream. Memory
independent of the result's size means the rise for N rows stays close to the rise for
N/4 (at most 1.5 times it plus 50 MB; a writer that held the result would rise about
four times as much).

astropy: the same rows (fetched in process, before the clock starts; the first
100,000 of them, ``--astropy-rows``, because its VOTable BINARY2 writer loops over rows
in Python at about a millisecond a row) as an ``astropy.table.Table`` in memory,
written with ``Table.write`` to a file in the work directory in the same four formats
(``ascii.csv``, ``votable`` with ``tabledata_format="binary2"``, ``parquet``,
``fits``). astropy does not have to query or send anything, so this is the pure cost
of encoding. The engines are compared by rate, rows per second.

Data Lab's bodies are checked outside the timing: one more download per format,
whose rows are counted (CSV lines, VOTable parsed by astropy, Parquet and FITS from
their metadata).
"""

from __future__ import annotations

import io
import statistics
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from astropy.io import fits, votable
from astropy.table import Column, MaskedColumn, Table

from benchmarks.context import Bench
from benchmarks.dataset import sibling_home
from benchmarks.measure import Case, Workload, interleaved
from benchmarks.support import MOCK_TABLE
from benchmarks.tap import FORMATS as TAP_FORMATS
from benchmarks.tap import (
    HTTP_TIMEOUT,
    ServerWatch,
    rss_mb,
    server,
    sync_params,
    sync_query,
)

DEFAULT_ROWS = 1_000_000
# astropy's VOTable BINARY2 writer goes row by row in Python (about a millisecond a
# row), so astropy writes a slice of the rows and is compared by rate.
DEFAULT_ASTROPY_ROWS = 100_000
RSS_SLACK_MB = 50.0
RSS_FACTOR = 1.5

# Short name -> (RESPONSEFORMAT, astropy Table.write keywords, file suffix)
FORMATS: dict[str, tuple[str, dict[str, Any], str]] = {
    "CSV": (TAP_FORMATS["csv"], {"format": "ascii.csv"}, "csv"),
    "VOTable BINARY2": (
        TAP_FORMATS["votable/b2"],
        {"format": "votable", "tabledata_format": "binary2"},
        "vot",
    ),
    "Parquet": ("application/vnd.apache.parquet", {"format": "parquet"}, "parquet"),
    "FITS": ("application/fits", {"format": "fits"}, "fits"),
}


def _astropy_table(table: pa.Table) -> Table:
    """An astropy Table of the Arrow rows: masked where null, strings as unicode."""
    columns: list[Column] = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            values = np.asarray(column.fill_null("").to_pylist(), dtype=str)
        elif column.null_count:
            values = column.fill_null(0).to_numpy()
        else:
            values = column.to_numpy()
        if column.null_count:
            mask = column.is_null().to_numpy(zero_copy_only=False)
            columns.append(MaskedColumn(values, name=name, mask=mask))
        else:
            columns.append(Column(values, name=name))
    return Table(columns)


def _stream(client: httpx.Client, sync_url: str, query: str, fmt: str, maxrec: int) -> int:
    """Bytes of a sync TAP result read to the end and dropped."""
    size = 0
    with client.stream("POST", sync_url, data=sync_params(query, fmt, maxrec)) as response:
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {response.read()[:300]!r}")
        for chunk in response.iter_raw(1 << 20):
            size += len(chunk)
    return size


def _count_rows(body: bytes, suffix: str) -> int:
    if suffix == "csv":
        return body.count(b"\n") - 1
    if suffix == "parquet":
        return int(pq.ParquetFile(io.BytesIO(body)).metadata.num_rows)
    if suffix == "fits":
        with fits.open(io.BytesIO(body)) as hdus:
            return int(hdus[1].header["NAXIS2"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return len(votable.parse(io.BytesIO(body)).get_first_table().array)


def run(bench: Bench) -> Workload:
    n = min(int(bench.options.get("stream_rows", DEFAULT_ROWS)), bench.rows)
    m = min(int(bench.options.get("astropy_rows", DEFAULT_ASTROPY_ROWS)), n)
    quarter = max(1, n // 4)
    query = f"SELECT TOP {n} * FROM {MOCK_TABLE}"
    work = Workload(
        key="stream",
        title=f"Result streaming, {n:,} rows",
        unit="rows/s",
        higher_is_better=True,
        engines=["Data Lab TAP", "astropy"],
        ratios=[("astropy", "Data Lab TAP")],
        notes=[
            f"Data Lab: {n:,} rows, {bench.repeat} repetitions after the memory runs"
            f" (a 1,000-row warm-up, then {quarter:,} and {n:,} rows from a fresh server);"
            f" astropy: the first {m:,} of those rows, {bench.repeat} writes per format"
        ],
    )
    rows = bench.datalab(query)
    # Reads every column of the same N rows with a one-row answer: the engine's cache
    # of table blocks is full before the baseline, so the rise is the result's own.
    touch_all = (
        "SELECT "
        + ", ".join(f"MAX({name}) AS m{i}" for i, name in enumerate(rows.column_names))
        + f" FROM (SELECT TOP {n} * FROM {MOCK_TABLE}) AS s"
    )
    table = _astropy_table(rows.slice(0, m))
    del rows
    scratch = bench.workdir / "stream"
    scratch.mkdir(parents=True, exist_ok=True)
    home = sibling_home(bench.home, "datalab-stream")
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        for label, (mime, write_options, suffix) in FORMATS.items():
            target: Path = scratch / f"astropy.{suffix}"
            log = bench.workdir / "logs" / f"stream-{suffix}.log"
            with server(home, log) as (base, proc):
                sync_url = f"{base}/tap/sync"
                _stream(client, sync_url, f"SELECT TOP 1000 * FROM {MOCK_TABLE}", mime, 1000)
                _stream(client, sync_url, touch_all, "text/csv", 10)
                baseline = rss_mb(proc.pid) or 0.0
                peaks = []
                for size in (quarter, n):
                    with ServerWatch(proc.pid) as watch:
                        _stream(
                            client, sync_url, f"SELECT TOP {size} * FROM {MOCK_TABLE}", mime, size
                        )
                    peaks.append(watch.peak_mb or baseline)
                sizes: dict[str, list[int]] = {"Data Lab TAP": [], "astropy": []}

                def datalab(
                    _: int,
                    sync_url: str = sync_url,
                    mime: str = mime,
                    sizes: dict[str, list[int]] = sizes,
                ) -> int:
                    got = _stream(client, sync_url, query, mime, n)
                    sizes["Data Lab TAP"].append(got)
                    return got

                def by_astropy(
                    _: int,
                    target: Path = target,
                    options: dict[str, Any] = write_options,
                    sizes: dict[str, list[int]] = sizes,
                ) -> int:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        table.write(target, overwrite=True, **options)
                    got = target.stat().st_size
                    sizes["astropy"].append(got)
                    return got

                runners: dict[str, Callable[[int], int]] = {
                    "Data Lab TAP": datalab,
                    "astropy": by_astropy,
                }
                measured = interleaved(list(range(bench.repeat)), runners)
                response = sync_query(client, sync_url, query, mime, n)
                counted = _count_rows(response.content, suffix)
                del response
            target.unlink(missing_ok=True)
            written = {"Data Lab TAP": n, "astropy": m}
            seconds = {e: statistics.median(measured.seconds[e]) for e in runners}
            mb_s = {e: statistics.median(sizes[e]) / 1e6 / seconds[e] for e in runners}
            rise_quarter, rise_full = peaks[0] - baseline, peaks[1] - baseline
            independent = rise_full <= RSS_FACTOR * max(rise_quarter, 0.0) + RSS_SLACK_MB
            case = Case(
                label=label,
                values={e: written[e] / seconds[e] for e in runners},
                check=f"{counted:,} rows" if counted == n else f"{counted:,} rows, not {n:,}",
                extra={
                    "rows": n,
                    "rows_written": written,
                    "seconds": seconds,
                    "seconds_p95": {e: measured.p95_ms(e) / 1e3 for e in runners},
                    "mb_per_s": mb_s,
                    "body_mb": {e: statistics.median(sizes[e]) / 1e6 for e in runners},
                    "server_rss_mb": {
                        "baseline": baseline,
                        "peak_quarter": peaks[0],
                        "peak_full": peaks[1],
                        "rise_quarter": rise_quarter,
                        "rise_full": rise_full,
                    },
                    "memory_independent_of_size": independent,
                },
            )
            work.cases.append(case)
            print(
                f"  stream {label:<16} Data Lab {seconds['Data Lab TAP']:6.2f} s for {n:,}"
                f" rows ({mb_s['Data Lab TAP']:6.1f} MB/s)  astropy {seconds['astropy']:6.2f} s"
                f" for {m:,} ({mb_s['astropy']:6.1f} MB/s)  server RSS +{rise_quarter:.0f} MB"
                f" ({quarter:,} rows) / +{rise_full:.0f} MB ({n:,} rows)  [{case.check}]",
                flush=True,
            )
    return work
