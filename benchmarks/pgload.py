"""The mock survey in PostgreSQL, configured as data centers configure a catalog.

From the suite's Parquet file, in this order, each step timed (together they are the
ingest peer: what it takes PostgreSQL to make a file query-ready):

1. ``COPY ... FROM STDIN (FORMAT csv, FREEZE)`` into a table created in the same
   transaction, streamed: Parquet batches are turned into CSV text by pyarrow (in a
   thread of their own) and written to the connection as they come;
2. ``CREATE EXTENSION q3c`` and a B-tree index on ``q3c_ang2ipix(ra, dec)``;
3. ``CLUSTER`` on that index (the table rewritten in Q3C order);
4. pgSphere (see :func:`load_pgsphere`) and a GiST index on the expression
   ``spoint(radians(ra), radians(dec))``;
5. ``VACUUM (ANALYZE)``: statistics, and the visibility map that index-only scans
   need after ``CLUSTER`` rewrote the table.

The result and the timings are recorded in the table ``bench_meta``; a later run with
the same row count finds them there and reuses the loaded table.
"""

from __future__ import annotations

import io
import json
import queue
import re
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from benchmarks.postgres import Cluster, PostgresMissing

__all__ = [
    "EXTENSION_DIR",
    "SCHEMA",
    "SPOINT",
    "TABLE",
    "ensure_catalog",
    "load_pgsphere",
    "load_probes",
    "load_table",
    "pgsphere_script",
]

SCHEMA = "ls_mock"
TABLE = f"{SCHEMA}.tractor"
EXTENSION_DIR = Path("/usr/share/postgresql/15/extension")
PGSPHERE_SCHEMA = "pgsphere"
SPOINT = "spoint(radians(ra), radians(dec))"
_COPY_BATCH = 100_000

_PG_TYPES = {
    pa.int64(): "bigint",
    pa.int32(): "integer",
    pa.int16(): "smallint",
    pa.float64(): "double precision",
    pa.float32(): "real",
    pa.string(): "text",
    pa.large_string(): "text",
    pa.bool_(): "boolean",
}

# The two statements of pgSphere 1.2's install script that PostgreSQL releases which
# check operator links reject ("commutator operator @> is already the commutator of
# operator <@"): compatibility operators once kept for DaCHS, ``@(bigint, smoc)`` and
# ``@(spoint, smoc)``, whose COMMUTATOR and NEGATOR are already linked to ``<@``.
# pgSphere 1.3 dropped them; nothing else in the script refers to them.
_SMOC_COMPAT_OPERATOR = re.compile(
    r"CREATE\s+OPERATOR\s+@\s*\(\s*LEFTARG\s*=\s*(?:bigint|spoint)\s*,"
    r"\s*RIGHTARG\s*=\s*smoc\b[^;]*\);",
    re.IGNORECASE,
)


def _column_sql(schema: pa.Schema) -> str:
    columns = []
    for field in schema:
        pg_type = _PG_TYPES.get(field.type)
        if pg_type is None:
            raise ValueError(f"no PostgreSQL type for column {field.name} ({field.type})")
        columns.append(f'"{field.name}" {pg_type}')
    return ", ".join(columns)


def _csv_chunks(batches: Iterator[pa.RecordBatch]) -> Iterator[bytes]:
    """CSV text without a header; nulls as empty fields, which COPY reads as NULL.

    A thread reads and encodes the next batches while the caller sends the previous
    ones (pyarrow works without the interpreter lock), so the client's encoding runs
    alongside the server's parsing instead of adding to it.
    """
    options = pacsv.WriteOptions(include_header=False)
    ready: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=4)
    stop = threading.Event()

    def put(item: bytes | BaseException | None) -> None:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def produce() -> None:
        try:
            for batch in batches:
                if stop.is_set():
                    return
                sink = io.BytesIO()
                pacsv.write_csv(batch, sink, options)
                put(sink.getvalue())
            put(None)
        except BaseException as exc:  # handed to the consumer, which raises it
            put(exc)

    worker = threading.Thread(target=produce, daemon=True)
    worker.start()
    try:
        while (item := ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def load_table(
    con: psycopg.Connection, table: str, batches: Iterator[pa.RecordBatch], schema: pa.Schema
) -> int:
    """Create ``table`` and COPY the batches into it in one transaction; rows loaded.

    Created and filled in one transaction, the table needs no WAL (``wal_level`` is
    minimal) and its rows are written frozen, as a bulk load at a data center is.
    """
    with con.transaction(), con.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.execute(f"CREATE TABLE {table} ({_column_sql(schema)})")
        with cur.copy(f"COPY {table} FROM STDIN (FORMAT csv, FREEZE)") as copy:
            for chunk in _csv_chunks(batches):
                copy.write(chunk)
        return cur.rowcount  # from the server's "COPY n"


def pgsphere_script(directory: Path = EXTENSION_DIR) -> tuple[Path, str, int]:
    """The newest full install script of pgSphere, without the operators that fail.

    Returns the script's path, its text ready to execute (psql commands removed, the
    library path filled in) and how many statements were left out.
    """
    scripts = [p for p in directory.glob("pg_sphere--*.sql") if p.name.count("--") == 1]
    if not scripts:
        raise PostgresMissing(
            f"no pgSphere install script in {directory}: install postgresql-15-pgsphere"
        )

    def version(path: Path) -> tuple[int, ...]:
        text = path.stem.split("--", 1)[1]
        return tuple(int(part) for part in re.findall(r"\d+", text))

    path = max(scripts, key=version)
    text = path.read_text()
    text = "\n".join(line for line in text.splitlines() if not line.startswith("\\"))
    text = text.replace("MODULE_PATHNAME", "$libdir/pg_sphere")
    text, dropped = _SMOC_COMPAT_OPERATOR.subn("", text)
    return path, text, dropped


def load_pgsphere(con: psycopg.Connection, from_script: bool = False) -> dict[str, Any]:
    """Make pgSphere's types, functions and operators available; say how.

    ``CREATE EXTENSION pg_sphere`` first; where that fails (see
    ``_SMOC_COMPAT_OPERATOR``) — or when ``from_script`` asks for that route — the
    extension's own install script is executed without the failing statements, in a
    schema of its own that the database's search path includes.
    """
    present = con.execute(
        "SELECT extversion FROM pg_extension WHERE extname = 'pg_sphere'"
    ).fetchone()
    if present:
        return {"route": "CREATE EXTENSION", "version": present[0]}
    loaded = con.execute(
        "SELECT 1 FROM pg_namespace WHERE nspname = %s", (PGSPHERE_SCHEMA,)
    ).fetchone()
    if loaded and not from_script:
        return {"route": f"install script in schema {PGSPHERE_SCHEMA}"}
    error = None
    if not from_script:
        try:
            with con.transaction():
                con.execute("CREATE EXTENSION pg_sphere")
            version = con.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'pg_sphere'"
            ).fetchone()
            return {"route": "CREATE EXTENSION", "version": version[0] if version else None}
        except psycopg.Error as exc:
            error = str(exc).strip()
            print(
                f"CREATE EXTENSION pg_sphere failed ({error}); loading its install script"
                " without the statements that fail",
                file=sys.stderr,
                flush=True,
            )
    path, script, dropped = pgsphere_script()
    database = con.info.dbname
    with con.transaction():
        con.execute(f"DROP SCHEMA IF EXISTS {PGSPHERE_SCHEMA} CASCADE")
        con.execute(f"CREATE SCHEMA {PGSPHERE_SCHEMA}")
        con.execute(f"SET LOCAL search_path = {PGSPHERE_SCHEMA}, public")
        con.execute(script)
        con.execute(
            f'ALTER DATABASE "{database}" SET search_path = "$user", public, {PGSPHERE_SCHEMA}'
        )
    con.execute(f'SET search_path = "$user", public, {PGSPHERE_SCHEMA}')
    return {
        "route": f"install script in schema {PGSPHERE_SCHEMA}",
        "script": path.name,
        "statements_left_out": dropped,
        "create_extension_error": error,
    }


def _timed(con: psycopg.Connection, sql: str) -> float:
    started = time.perf_counter()
    con.execute(sql)
    return time.perf_counter() - started


def _stored(con: psycopg.Connection) -> dict[str, Any] | None:
    con.execute("CREATE TABLE IF NOT EXISTS bench_meta (name text PRIMARY KEY, value jsonb)")
    row = con.execute("SELECT value FROM bench_meta WHERE name = 'catalog'").fetchone()
    return dict(row[0]) if row else None


def ensure_catalog(
    cluster: Cluster,
    parquet: Path,
    rows: int,
    *,
    reload: bool = False,
    pgsphere_from_script: bool = False,
) -> dict[str, Any]:
    """``ls_mock.tractor`` loaded from ``parquet`` and indexed; the set-up's record.

    The record holds the seconds of each step, the pgSphere route and the sizes. A
    table loaded earlier with the same rows is kept (``reused`` says so) unless
    ``reload`` asks for a fresh load.
    """
    with cluster.connect() as con:
        stored = _stored(con)
        if (
            stored is not None
            and not reload
            and stored.get("rows") == rows
            and stored.get("source") == parquet.name
            and (not pgsphere_from_script or stored["pgsphere"]["route"] != "CREATE EXTENSION")
        ):
            return {**stored, "reused": True}
        con.execute("DELETE FROM bench_meta WHERE name = 'catalog'")
        if pgsphere_from_script:
            con.execute("DROP EXTENSION IF EXISTS pg_sphere CASCADE")
        print(f"loading {parquet.name} into PostgreSQL ({TABLE}) ...", file=sys.stderr, flush=True)
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        seconds: dict[str, float] = {}
        started = time.perf_counter()
        source = pq.ParquetFile(parquet)
        loaded = load_table(
            con, TABLE, source.iter_batches(batch_size=_COPY_BATCH), source.schema_arrow
        )
        seconds["copy"] = time.perf_counter() - started
        if loaded != rows:
            raise RuntimeError(f"COPY loaded {loaded:,} rows, expected {rows:,}")
        con.execute("CREATE EXTENSION IF NOT EXISTS q3c")
        seconds["q3c_index"] = _timed(
            con, f"CREATE INDEX tractor_q3c ON {TABLE} (q3c_ang2ipix(ra, dec))"
        )
        seconds["cluster"] = _timed(con, f"CLUSTER {TABLE} USING tractor_q3c")
        started = time.perf_counter()
        pgsphere = load_pgsphere(con, from_script=pgsphere_from_script)
        seconds["pgsphere_load"] = time.perf_counter() - started
        seconds["pgsphere_index"] = _timed(
            con, f"CREATE INDEX tractor_spoint ON {TABLE} USING gist ({SPOINT})"
        )
        seconds["vacuum_analyze"] = _timed(con, f"VACUUM (ANALYZE) {TABLE}")
        sizes = con.execute(
            "SELECT pg_relation_size(%s), pg_relation_size('ls_mock.tractor_q3c'),"
            " pg_relation_size('ls_mock.tractor_spoint')",
            (TABLE,),
        ).fetchone()
        assert sizes is not None
        record = {
            "rows": rows,
            "source": parquet.name,
            "seconds": {k: round(v, 3) for k, v in seconds.items()},
            # The ingest peer: from the file to a Q3C-indexed, clustered, analysed table.
            "query_ready_seconds": round(
                seconds["copy"]
                + seconds["q3c_index"]
                + seconds["cluster"]
                + seconds["vacuum_analyze"],
                3,
            ),
            "pgsphere": pgsphere,
            "sizes_mb": {
                "table": round(sizes[0] / 1e6, 1),
                "q3c_index": round(sizes[1] / 1e6, 1),
                "spoint_index": round(sizes[2] / 1e6, 1),
            },
            "server_version": con.execute("SHOW server_version").fetchone()[0],  # type: ignore[index]
        }
        con.execute("INSERT INTO bench_meta VALUES ('catalog', %s)", (json.dumps(record),))
        return {**record, "reused": False}


def load_probes(cluster: Cluster, name: str, probes: pa.Table) -> dict[str, float]:
    """A probe table for ``q3c_join`` with its own Q3C index, clustered and analysed."""
    seconds: dict[str, float] = {}
    table = f"bench.{name}"
    with cluster.connect() as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS bench")
        started = time.perf_counter()
        load_table(con, table, iter(probes.to_batches(_COPY_BATCH)), probes.schema)
        seconds["copy"] = time.perf_counter() - started
        seconds["q3c_index"] = _timed(
            con, f"CREATE INDEX {name}_q3c ON {table} (q3c_ang2ipix(ra, dec))"
        )
        seconds["cluster"] = _timed(con, f"CLUSTER {table} USING {name}_q3c")
        seconds["vacuum_analyze"] = _timed(con, f"VACUUM (ANALYZE) {table}")
    return seconds
