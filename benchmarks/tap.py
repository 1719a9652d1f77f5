"""TAP end to end: sync cone searches over HTTP, 1 and 8 concurrent clients.

Starts the real server (``datalab serve --no-demo``) on a free port of loopback, on a
data directory holding the mock survey (``ls_mock.tractor``), and sends ADQL cone
searches to ``/tap/sync``:

    SELECT COUNT(*) | * FROM ls_mock.tractor
      WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', ra0, dec0, r))

with r = 1', 6' and 30', in CSV and in VOTable BINARY2, each configuration a fixed list
of requests spread over 1 and then 8 client threads, one ``httpx.Client`` (keep-alive
connection) each. Every request has its own seeded centre (no cone is repeated, so the
compiler's cache of HEALPix covers does not flatter the figures). Centres are drawn
uniformly on the sphere within the footprint read from the data: the RA/Dec bounding
box and the order-5 HEALPix cells that hold sources (the mock leaves out |b| < 5 deg).

Every response must be HTTP 200 and hold the rows the same query gives in process:
CSV bodies are parsed and counted, BINARY2 ones checked for a complete document and a
sample parsed with ``astropy.io.votable``. The same queries are timed in process
first (``translate`` + ``run_translation`` on the read-only ``Engine``, rows drained, then
encoded separately), so the ratio HTTP / in process says what the web layer adds.

``--peer-tap URL`` sends the same workload to another TAP service (e.g. DaCHS or
PostgreSQL + Q3C behind a TAP server holding the same table, named by
``--peer-table``) and prints its figures as ratios to ours.

    .venv/bin/python benchmarks/tap.py                       # 5 million rows
    .venv/bin/python benchmarks/tap.py --rows 2000000 --requests 50
    .venv/bin/python benchmarks/tap.py --peer-tap http://127.0.0.1:8080/tap
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import platform
import queue
import signal
import statistics
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from astropy.io import votable

if __package__ in (None, ""):  # run as a script: make the benchmarks package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.support import (
    DEFAULT_HOME,
    MOCK_TABLE,
    ensure_catalog,
    footprint_centres,
    free_port,
    summary,
)
from datalab.adql import TableCatalog, translate
from datalab.catalog import Engine
from datalab.config import Settings
from datalab.formats import FieldMeta, ResultInfo, encode_result, resolve_format
from datalab.query.execute import run_translation

RESULTS = Path(__file__).parent / "results"
TABLE = MOCK_TABLE
RADII_ARCMIN = (1.0, 6.0, 30.0)
SELECTS = {"count": "COUNT(*)", "all": "*"}
# Short name -> the RESPONSEFORMAT sent: DALI MIME types, which any TAP 1.1 service reads.
FORMATS = {
    "csv": "text/csv",
    "votable/b2": "application/x-votable+xml;serialization=BINARY2",
}
WORKERS = (1, 8)
WARMUP_PER_KIND = 3
HTTP_TIMEOUT = 120.0


@dataclass(frozen=True)
class Kind:
    """One query shape and output format; run with many centres."""

    radius: float  # arcmin
    select: str  # a key of SELECTS
    fmt: str  # a key of FORMATS

    @property
    def label(self) -> str:
        return f"r={self.radius:g}' {self.select:<5} {self.fmt}"

    def adql(self, table: str, ra: float, dec: float) -> str:
        circle = f"CIRCLE('ICRS', {ra!r}, {dec!r}, {self.radius / 60!r})"
        return (
            f"SELECT {SELECTS[self.select]} FROM {table}"
            f" WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), {circle})"
        )


Config = tuple[Kind, int]  # a query kind and the number of concurrent clients


@dataclass
class Outcome:
    """What one configuration's requests gave back, in the order they were sent."""

    latencies: list[float]
    bodies: list[bytes]
    wall: float
    errors: list[str] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    peak_rss_mb: float | None = None
    server_cpu: float | None = None  # seconds of CPU the server used
    client_cpu: float = 0.0  # seconds of CPU this process used (the clients)


# -- the workload -------------------------------------------------------------------------


def kinds() -> list[Kind]:
    return [Kind(r, s, f) for r in RADII_ARCMIN for s in SELECTS for f in FORMATS]


# -- in process ---------------------------------------------------------------------------


def in_process(
    engine: Engine, kind: Kind, centres: Sequence[tuple[float, float]], timeout: float
) -> tuple[list[float], list[float], list[int]]:
    """Per centre: compile + run seconds, encode seconds, and the rows (or the count)."""
    catalog = TableCatalog(engine.tables())
    fmt = resolve_format(FORMATS[kind.fmt])
    run_times, encode_times, found = [], [], []
    for ra, dec in centres:
        query = kind.adql(TABLE, ra, dec)
        started = time.perf_counter()
        translation = translate(query, catalog)
        with run_translation(engine, translation, timeout=timeout) as result:
            schema = result.schema
            batches = list(result)
        ran = time.perf_counter()
        fields = [
            FieldMeta(c.name, c.description, c.unit, c.ucd, c.utype, xtype=c.xtype)
            for c in translation.columns
        ]
        chunks = encode_result(fmt, schema, fields, batches, ResultInfo(query=query))
        size = sum(len(chunk) for chunk in chunks)
        encode_times.append(time.perf_counter() - ran)
        run_times.append(ran - started)
        assert size > 0
        rows = sum(b.num_rows for b in batches)
        found.append(batches[0].column(0)[0].as_py() if kind.select == "count" else rows)
    return run_times, encode_times, found


# -- over HTTP ----------------------------------------------------------------------------


def sync_params(query: str, response_format: str, maxrec: int) -> dict[str, str]:
    """The parameters of a sync ADQL query; standard ones only, so any TAP service takes them."""
    return {"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": query,
            "RESPONSEFORMAT": response_format, "MAXREC": str(maxrec)}


def sync_query(
    client: httpx.Client,
    sync_url: str,
    query: str,
    response_format: str,
    maxrec: int,
    files: dict[str, tuple[str, bytes, str]] | None = None,
    upload: str | None = None,
) -> httpx.Response:
    """One synchronous TAP query (TAP 1.1 §2.3), read completely.

    ``files`` and ``upload`` carry TAP UPLOAD tables inline (``name,param:part``).
    """
    params = sync_params(query, response_format, maxrec)
    if upload is not None:
        params["UPLOAD"] = upload
    return client.post(sync_url, data=params, files=files)


def http_run(sync_url: str, queries: Sequence[str], fmt: str, maxrec: int, workers: int,
             rss_of: int | None = None) -> Outcome:
    """Send ``queries`` from ``workers`` threads, each with its own client; time each."""
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(len(queries)):
        todo.put(i)
    latencies = [0.0] * len(queries)
    bodies = [b""] * len(queries)
    errors: list[str] = []
    start = threading.Barrier(workers + 1)
    stop = threading.Event()

    def work() -> None:
        with httpx.Client(timeout=HTTP_TIMEOUT) as client:
            start.wait()
            while not stop.is_set():
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                began = time.perf_counter()
                try:
                    response = sync_query(client, sync_url, queries[i], FORMATS[fmt], maxrec)
                except httpx.HTTPError as exc:
                    errors.append(f"request {i}: {type(exc).__name__}: {exc}")
                    continue
                latencies[i] = time.perf_counter() - began
                bodies[i] = response.content
                if response.status_code != 200:
                    errors.append(f"request {i}: HTTP {response.status_code}: "
                                  f"{response.text[:200]!r}")

    threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    watch = ServerWatch(rss_of) if rss_of is not None else contextlib.nullcontext()
    client_cpu = time.process_time()
    with watch:
        start.wait()
        began = time.perf_counter()
        try:
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.2)
        finally:
            stop.set()
        wall = time.perf_counter() - began
    outcome = Outcome(latencies, bodies, wall, errors)
    outcome.client_cpu = time.process_time() - client_cpu
    if isinstance(watch, ServerWatch):
        outcome.peak_rss_mb, outcome.server_cpu = watch.peak_mb, watch.cpu
    return outcome


def check(kind: Kind, outcome: Outcome, expected: Sequence[int] | None, sample: int) -> None:
    """Fill ``outcome.rows`` from the bodies and add what is wrong to ``outcome.errors``."""
    parse_every = max(1, len(outcome.bodies) // max(1, sample))
    for i, body in enumerate(outcome.bodies):
        if not body:
            outcome.rows.append(0)
            continue
        found: int | None = None
        try:
            if kind.fmt == "csv":
                records = list(csv.reader(io.StringIO(body.decode())))
                rows = len(records) - 1
                found = int(records[1][0]) if kind.select == "count" else rows
            else:
                tail = body[-200:].rstrip()
                if not tail.endswith(b"</VOTABLE>") or b'value="ERROR"' in body:
                    raise ValueError("incomplete or error VOTable")
                if i % parse_every == 0:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        table = votable.parse(io.BytesIO(body)).get_first_table().to_table()
                    rows = len(table)
                    found = int(table.columns[0][0]) if kind.select == "count" else rows
                else:
                    rows = 1 if kind.select == "count" else (expected[i] if expected else 0)
        except (ValueError, IndexError, UnicodeDecodeError) as exc:
            outcome.errors.append(f"request {i}: unreadable {kind.fmt}: {exc}")
            outcome.rows.append(0)
            continue
        outcome.rows.append(rows)
        if found is not None and expected is not None and found != expected[i]:
            outcome.errors.append(f"request {i}: {found} rows/count, in process {expected[i]}")


class ServerWatch:
    """A process's peak resident memory (sampled every 50 ms) and CPU time (Linux /proc)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_mb: float | None = None
        self.cpu: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            rss = rss_mb(self.pid)
            if rss is not None:
                self.peak_mb = max(self.peak_mb or 0.0, rss)
            if self._stop.wait(0.05):
                return

    def __enter__(self) -> ServerWatch:
        self._cpu_before = cpu_seconds(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        after = cpu_seconds(self.pid)
        if after is not None and self._cpu_before is not None:
            self.cpu = after - self._cpu_before


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process and its threads so far."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int, key: str = "VmRSS") -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# -- the server ---------------------------------------------------------------------------


@contextlib.contextmanager
def server(home: Path, log_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``datalab serve`` on a free port; yields its base URL; stopped on the way out."""
    port = free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "datalab", "serve", "--data-dir", str(home),
             "--port", str(port), "--no-demo"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us only; we stop it in order
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 120
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"the server exited ({proc.returncode}); see {log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not become ready; see {log_path}")
                time.sleep(0.2)
            yield base, proc
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


# -- the run ------------------------------------------------------------------------------


def run_workload(
    label: str,
    sync_url: str,
    table: str,
    centres: dict[Config, list[tuple[float, float]]],
    warmup: Sequence[tuple[float, float]],
    expected: dict[Config, list[int]] | None,
    args: argparse.Namespace,
    pid: int | None,
) -> dict[Config, dict[str, Any]]:
    """Warm up, then every kind with 1 and 8 workers; prints a line per configuration."""
    for kind in kinds():
        warm = [kind.adql(table, ra, dec) for ra, dec in warmup]
        warmed = http_run(sync_url, warm, kind.fmt, args.maxrec, 1)
        if warmed.errors:
            raise RuntimeError(f"{label} warm-up failed: {warmed.errors[0]}")
    print(f"\n{label}: {sync_url}  (srv MB: server's peak resident memory; srv CPU and"
          " cli CPU: CPU ms per request used by the server and by this process's clients)",
          flush=True)
    print(f"{'configuration':<26} {'clients':>7} {'requests':>8} {'median ms':>9}"
          f" {'p95 ms':>8} {'max ms':>8} {'req/s':>7} {'rows':>7} {'MB/s':>6} {'errors':>6}"
          f" {'srv MB':>6} {'srv CPU':>7} {'cli CPU':>7}")
    out: dict[Config, dict[str, Any]] = {}
    for workers in WORKERS:
        for kind in kinds():
            queries = [kind.adql(table, ra, dec) for ra, dec in centres[(kind, workers)]]
            outcome = http_run(sync_url, queries, kind.fmt, args.maxrec, workers, pid)
            check(kind, outcome, expected[(kind, workers)] if expected else None, args.parse_sample)
            done = [t for t, b in zip(outcome.latencies, outcome.bodies, strict=True) if b]
            median, p95 = summary(done) if done else (float("nan"), float("nan"))
            size = sum(len(b) for b in outcome.bodies)
            row = {
                "radius_arcmin": kind.radius, "select": kind.select, "format": kind.fmt,
                "clients": workers, "requests": len(queries),
                "median_ms": median, "p95_ms": p95, "max_ms": max(done, default=0) * 1e3,
                "requests_per_s": len(done) / outcome.wall,
                "mean_rows": statistics.fmean(outcome.rows),
                "mb_per_s": size / 1e6 / outcome.wall, "bytes": size,
                "errors": outcome.errors, "server_peak_rss_mb": outcome.peak_rss_mb,
                "server_cpu_ms_per_request": (
                    outcome.server_cpu / len(queries) * 1e3 if outcome.server_cpu else None
                ),
                "client_cpu_ms_per_request": outcome.client_cpu / len(queries) * 1e3,
            }
            out[(kind, workers)] = row
            server = (
                f"{outcome.peak_rss_mb:6.0f} {row['server_cpu_ms_per_request']:7.1f}"
                if outcome.peak_rss_mb and outcome.server_cpu
                else f"{'-':>6} {'-':>7}"
            )
            print(f"{kind.label:<26} {workers:>7} {len(queries):>8} {median:9.1f} {p95:8.1f}"
                  f" {row['max_ms']:8.1f} {row['requests_per_s']:7.1f} {row['mean_rows']:7.1f}"
                  f" {row['mb_per_s']:6.2f} {len(outcome.errors):>6} {server}"
                  f" {row['client_cpu_ms_per_request']:7.1f}", flush=True)
            for error in outcome.errors[:3]:
                print(f"    {error}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--requests", type=int, default=150,
                        help="Requests per configuration (one centre each).")
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--maxrec", type=int, default=100_000)
    parser.add_argument("--parse-sample", type=int, default=10,
                        help="BINARY2 responses per configuration parsed with astropy.")
    parser.add_argument("--peer-tap", default=None,
                        help="Base URL of another TAP service to run the same workload on.")
    parser.add_argument("--peer-table", default=TABLE,
                        help="The mock survey's name on the peer service.")
    args = parser.parse_args()
    # A plain `kill` stops the server too: SIGTERM unwinds like Ctrl-C. SIGINT is set
    # explicitly because a shell starting us in the background makes us ignore it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)

    n = args.requests
    catalog_path = ensure_catalog(args.home, args.rows)
    engine = Engine(catalog_path)
    timeout = Settings().tap_sync_timeout
    try:
        # Every request has its own centre: the compiler remembers the HEALPix cover of
        # a shape it has seen (``adql.lower.index_ranges``), so a repeated cone would
        # measure that cache instead of the work a new cone costs.
        configs = [(kind, workers) for kind in kinds() for workers in WORKERS]
        drawn = footprint_centres(engine, len(configs) * n + WARMUP_PER_KIND, args.seed)
        centres = {c: drawn[i * n : (i + 1) * n] for i, c in enumerate(configs)}
        warmup = drawn[len(configs) * n :]
        print(f"{args.rows:,} rows, {n} requests per configuration,"
              f" {os.cpu_count()} cores; in process ({2 * n} queries each):", flush=True)
        print(f"{'query':<26} {'compile+run ms':>14} {'p95':>7} {'encode ms':>9}"
              f" {'sources':>8}")
        local: dict[Kind, dict[str, Any]] = {}
        expected: dict[Config, list[int]] = {}
        for kind in kinds():
            in_process(engine, kind, warmup, timeout)
            run_times, encode_times, found = [], [], []
            for workers in WORKERS:
                runs, encodes, rows = in_process(engine, kind, centres[(kind, workers)], timeout)
                run_times += runs
                encode_times += encodes
                found += rows
                expected[(kind, workers)] = rows
            median, p95 = summary(run_times)
            local[kind] = {"median_ms": median, "p95_ms": p95,
                           "encode_median_ms": summary(encode_times)[0],
                           "mean_sources": statistics.fmean(found)}
            print(f"{kind.label:<26} {median:14.1f} {p95:7.1f}"
                  f" {local[kind]['encode_median_ms']:9.2f} {statistics.fmean(found):8.1f}",
                  flush=True)
    finally:
        engine.close()

    log_path = RESULTS / "tap-server.log"
    with server(args.home, log_path) as (base, proc):
        rss_start = rss_mb(proc.pid)
        ours = run_workload("Data Lab", f"{base}/tap/sync", TABLE, centres, warmup,
                            expected, args, proc.pid)
        peak = rss_mb(proc.pid, "VmHWM")
        rss_end = rss_mb(proc.pid)
        peer = None
        if args.peer_tap:
            peer = run_workload("peer", args.peer_tap.rstrip("/") + "/sync", args.peer_table,
                                centres, warmup, expected, args, None)
    log_text = log_path.read_text(errors="replace")
    log_problems = [line for line in log_text.splitlines()
                    if "Traceback" in line or "ERROR" in line or "cut short" in line]

    print("\nwhere the time goes (medians, ms; ratio = HTTP 1 client / in process):")
    print(f"{'query':<26} {'in process':>10} {'+encode':>8} {'HTTP 1':>7} {'ratio':>6}"
          f" {'HTTP 8':>7} {'req/s 1':>8} {'req/s 8':>8} {'8 vs 1':>7}")
    summary_rows = []
    for kind in kinds():
        one, eight = ours[(kind, 1)], ours[(kind, 8)]
        loc = local[kind]
        ratio = one["median_ms"] / loc["median_ms"]
        scaling = eight["requests_per_s"] / one["requests_per_s"]
        summary_rows.append({"label": kind.label, "http_over_in_process": ratio,
                             "throughput_8_over_1": scaling})
        print(f"{kind.label:<26} {loc['median_ms']:10.1f} {loc['encode_median_ms']:8.2f}"
              f" {one['median_ms']:7.1f} {ratio:5.1f}x {eight['median_ms']:7.1f}"
              f" {one['requests_per_s']:8.1f} {eight['requests_per_s']:8.1f} {scaling:6.2f}x")
    if peer is not None:
        print("\npeer / Data Lab (median latency and throughput ratios):")
        for key, theirs in peer.items():
            kind, workers = key
            print(f"{kind.label:<26} {workers:>2} clients  latency"
                  f" {theirs['median_ms'] / ours[key]['median_ms']:6.2f}x  throughput"
                  f" {theirs['requests_per_s'] / ours[key]['requests_per_s']:6.2f}x"
                  f"  errors {len(theirs['errors'])}")
    print(f"\nserver memory: {rss_start:.0f} MB after start, {rss_end:.0f} MB at the end,"
          f" peak {peak:.0f} MB; server log problems: {len(log_problems)}")
    for line in log_problems[:5]:
        print(f"    {line}")

    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "tap.json").write_text(json.dumps({
        "rows": args.rows, "requests": args.requests, "cores": os.cpu_count(),
        "machine": platform.platform(),
        "in_process": [{"label": k.label, **v} for k, v in local.items()],
        "http": list(ours.values()), "summary": summary_rows,
        "peer": {"url": args.peer_tap, "http": list(peer.values())} if peer is not None else None,
        "server_rss_mb": {"start": rss_start, "end": rss_end, "peak": peak},
        "server_log_problems": log_problems,
    }, indent=2) + "\n")
    errors = sum(len(r["errors"]) for r in ours.values())
    if errors:
        sys.exit(f"{errors} failed or wrong responses")


if __name__ == "__main__":
    main()
