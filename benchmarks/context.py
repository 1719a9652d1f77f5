"""What every workload of the suite is given: the data, the running engines, the options.

Also the few ways of sending a query that several workloads share: Data Lab in
process (compile + run on the read-only engine, as the server does), a TAP service over
HTTP, and PostgreSQL through psycopg.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.postgres import Cluster
from benchmarks.support import footprint_centres
from benchmarks.tap import HTTP_TIMEOUT, sync_query
from datalab.adql import TableCatalog, translate
from datalab.catalog import Engine
from datalab.config import Settings
from datalab.query.execute import run_translation
from datalab.query.tap import parse_tap_parameters, prepare, start
from datalab.query.visible import Visible

__all__ = ["CSV", "Bench", "TapService", "parse_csv", "tap_csv"]

QUERY_TIMEOUT = 3600.0
PARQUET = "application/vnd.apache.parquet"
# CSV with its header line: the bare text/csv of DaCHS has none, Data Lab's has one.
CSV = "text/csv;header=present"


@dataclass(frozen=True)
class TapService:
    """A TAP service on loopback: its base URL, the table's name there, its process."""

    name: str
    base: str
    table: str
    pid: int | None

    @property
    def sync_url(self) -> str:
        return f"{self.base}/sync"


@dataclass
class Bench:
    """The run's shared state, built once by ``benchmarks.run``."""

    rows: int
    repeat: int
    seed: int
    workdir: Path
    parquet: Path
    home: Path
    engine: Engine
    tap: TapService
    pg: Cluster | None = None
    pg_setup: dict[str, Any] | None = None
    dachs: TapService | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def adql_catalog(self) -> TableCatalog:
        return TableCatalog(self.engine.tables())

    def centres(self, n: int, salt: int) -> list[tuple[float, float]]:
        """``n`` deterministic centres inside the survey's footprint (one list per salt)."""
        return footprint_centres(self.engine, n, self.seed * 1000 + salt)

    def datalab(self, adql: str) -> pa.Table:
        """Compile and run ``adql`` in process; the whole result, as the server gets it."""
        translation = translate(adql, self.adql_catalog)
        with run_translation(self.engine, translation, timeout=QUERY_TIMEOUT) as result:
            return pa.Table.from_batches(list(result), schema=result.schema)

    @cached_property
    def settings(self) -> Settings:
        return Settings()

    @cached_property
    def visible(self) -> Visible:
        return Visible(tuple(self.engine.tables()))

    def with_upload(self, adql: str, name: str, upload_dir: Path) -> pa.Table:
        """``adql`` with the Parquet file ``upload_dir/name`` as ``TAP_UPLOAD.name``:
        the TAP upload path without HTTP, every row fetched."""
        tap = parse_tap_parameters(
            {
                "query": adql,
                "upload": f"{name},param:{name}",
                "maxrec": str(self.settings.tap_hard_maxrec),
            },
            self.settings,
        )
        prepared = prepare(tap, self.visible, upload_dir)
        with start(prepared, self.engine, timeout=QUERY_TIMEOUT) as result:
            return pa.Table.from_batches(list(result), schema=result.schema)

    def tap_with_upload(
        self, client: httpx.Client, adql: str, name: str, parquet: bytes
    ) -> pa.Table:
        """The same over ``/tap/sync``, the table uploaded inline, the answer as Parquet."""
        response = sync_query(
            client,
            self.tap.sync_url,
            adql,
            PARQUET,
            self.settings.tap_hard_maxrec,
            files={name: (f"{name}.parquet", parquet, PARQUET)},
            upload=f"{name},param:{name}",
        )
        if response.status_code != 200:
            raise RuntimeError(
                f"TAP upload query: HTTP {response.status_code}: {response.text[:300]!r}"
            )
        return pq.read_table(pa.BufferReader(response.content))

    @contextmanager
    def mydb_engine(self) -> Iterator[Engine]:
        """The engine with a users' database attached as catalog ``mydb``, as the
        server opens it (``benchmarks.run`` gives the suite's engine one of its own)."""
        if self.engine.mydb is None:
            raise RuntimeError("this workload needs an engine with myDB attached")
        yield self.engine

    @contextmanager
    def pg_connection(self) -> Iterator[psycopg.Connection]:
        if self.pg is None:
            raise RuntimeError("this workload needs PostgreSQL")
        con = self.pg.connect()
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def http(self) -> Iterator[httpx.Client]:
        with httpx.Client(timeout=HTTP_TIMEOUT) as client:
            yield client


def tap_csv(client: httpx.Client, service: TapService, adql: str, maxrec: int) -> list[list[str]]:
    """Rows of a sync TAP query asked for as CSV (header dropped); errors raise."""
    response = sync_query(client, service.sync_url, adql, CSV, maxrec)
    if response.status_code != 200:
        raise RuntimeError(
            f"{service.name}: HTTP {response.status_code} for {adql[:80]!r}:"
            f" {response.text[:300]!r}"
        )
    return parse_csv(response.content)


def parse_csv(body: bytes) -> list[list[str]]:
    records = list(csv.reader(io.StringIO(body.decode())))
    return records[1:]
