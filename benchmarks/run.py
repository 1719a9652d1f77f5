"""The benchmark suite: Data Lab and its peers on the same data, in the same run.

    scripts/bench [--rows N] [--workloads LIST] [--repeat N] [--with-dachs]
                  [--workdir DIR] [--out DIR]

Generates the mock survey once as Parquet (kept in the work directory and reused by
later runs with the same row count), builds Data Lab's data directory from it, loads
it into a private PostgreSQL 15 cluster with Q3C and pgSphere, starts ``datalab
serve`` (and DaCHS with ``--with-dachs``), runs the workloads (cone, aggregate,
xmatch, stream, concurrency, ingest) with every engine interleaved, and writes
``suite-<rows>.json`` and ``suite-<rows>.md`` to the output directory. Every server
it started is stopped when it ends, also on errors, Ctrl-C and ``kill``.
docs/performance.md describes each workload.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import psutil

if __package__ in (None, ""):  # run as a script: make the benchmarks package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import datalab
from benchmarks import dachs as dachs_peer
from benchmarks import pgload, postgres, report
from benchmarks.context import Bench, TapService
from benchmarks.dataset import ensure_datalab_home, ensure_mock_file, file_rows
from benchmarks.measure import Workload
from benchmarks.support import MOCK_TABLE
from benchmarks.tap import server
from benchmarks.workloads import (
    aggregates,
    concurrency,
    cone_batches,
    cones,
    crossmatch,
    ingest,
    streaming,
)
from datalab.catalog import Engine

RESULTS = Path(__file__).parent / "results"
WORKLOADS: dict[str, Callable[[Bench], Workload]] = {
    "cone": cones.run,
    "cone_batch": cone_batches.run,
    "aggregate": aggregates.run,
    "xmatch": crossmatch.run,
    "stream": streaming.run,
    "concurrency": concurrency.run,
    "ingest": ingest.run,
}
NEEDS_POSTGRES = {"cone", "cone_batch", "aggregate", "xmatch", "concurrency", "ingest"}


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description=(__doc__ or "").split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--rows",
        type=int,
        default=20_000_000,
        help="Rows of the mock survey every engine is given.",
    )
    parser.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help="Comma-separated workloads to run, in this order.",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="Repetitions (cones: sets of new centres) after the warm-up.",
    )
    parser.add_argument(
        "--with-dachs",
        action="store_true",
        help="Also serve the table with DaCHS (Debian python3-gavo) over TAP.",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("/tmp/datalab-bench"),
        help="Data files, data directories and the PostgreSQL cluster.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS,
        help="Where suite-<rows>.json and suite-<rows>.md are written.",
    )
    parser.add_argument(
        "--centres", type=int, default=200, help="Cone centres per case and repetition."
    )
    parser.add_argument("--probes", default="100000,1000000", help="Crossmatch probe list sizes.")
    parser.add_argument(
        "--stream-rows",
        type=int,
        default=1_000_000,
        help="Rows streamed per result in the streaming workload.",
    )
    parser.add_argument(
        "--astropy-rows",
        type=int,
        default=100_000,
        help="Rows astropy writes in the streaming workload (it is compared by rate).",
    )
    parser.add_argument(
        "--concurrency-seconds",
        type=float,
        default=30.0,
        help="Length of one concurrency period per engine.",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--reload-postgres",
        action="store_true",
        help="Load and index the PostgreSQL table again even if it matches.",
    )
    parser.add_argument(
        "--pgsphere-from-script",
        action="store_true",
        help="Load pgSphere from its install script without the statements"
        " that newer PostgreSQL releases reject, even where CREATE EXTENSION"
        " works.",
    )
    parser.add_argument(
        "--label", default="", help="A note printed with the results (e.g. the machine's state)."
    )
    args = parser.parse_args(argv)
    args.workload_list = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in args.workload_list if w not in WORKLOADS]
    if unknown:
        parser.error(
            f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}"
        )
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def _stop_on_signals() -> None:
    """``kill`` and a closed terminal unwind like Ctrl-C, so every server is stopped."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _prewarm(bench: Bench) -> None:
    """Tables and indexes read into memory first: every workload measures warm engines."""
    started = time.perf_counter()
    # The catalog and the row copies, which the engine maps and reads by page.
    files = [bench.home / "catalog.duckdb"]
    files += sorted(p for p in (bench.home / "catalog.rows").rglob("*") if p.is_file())
    for path in files:
        with path.open("rb") as f:
            while f.read(16 << 20):
                pass
    if bench.pg is not None:
        with bench.pg_connection() as con:
            con.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
            for relation in ("ls_mock.tractor", "ls_mock.tractor_q3c", "ls_mock.tractor_spoint"):
                con.execute("SELECT pg_prewarm(%s)", (relation,))
    print(f"caches warmed ({time.perf_counter() - started:.1f} s)", file=sys.stderr, flush=True)


def _meta(args: argparse.Namespace, bench: Bench, dachs_state: str) -> dict[str, Any]:
    setup = bench.pg_setup or {}
    pg_text = "no PostgreSQL"
    if bench.pg is not None:
        with bench.pg_connection() as con:
            q3c = con.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'q3c'"
            ).fetchone()
        pg_text = (
            f"PostgreSQL {setup.get('server_version', '?').split(' ')[0]}, Q3C"
            f" {q3c[0] if q3c else '?'}"
        )
    return {
        "rows": args.rows,
        "table_rows": bench.rows,
        "started": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "label": args.label,
        "repeat": args.repeat,
        "workloads": args.workload_list,
        "options": {k: v for k, v in bench.options.items()},
        "machine": {
            "cores": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average": os.getloadavg(),
        },
        "versions": {"datalab": datalab.__version__, "duckdb": duckdb.__version__},
        "postgres": pg_text,
        "postgres_setup": setup,
        "pgsphere_route": (setup.get("pgsphere") or {}).get("route", "-"),
        "dachs": dachs_state,
    }


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    _stop_on_signals()
    if args.with_dachs:
        if not NEEDS_POSTGRES & set(args.workload_list):
            raise SystemExit("--with-dachs needs a workload that uses PostgreSQL")
        try:
            dachs_peer.ensure_installed()  # before hours of set-up, not after
        except dachs_peer.DachsUnavailable as exc:
            raise SystemExit(f"--with-dachs: {exc}") from None
    workdir: Path = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    parquet = ensure_mock_file(workdir, args.rows, "parquet")
    rows = file_rows(parquet)
    home = ensure_datalab_home(workdir, rows, parquet)
    options = {
        "requested_rows": args.rows,
        "centres": args.centres,
        "probes": args.probes,
        "stream_rows": args.stream_rows,
        "astropy_rows": args.astropy_rows,
        "concurrency_seconds": args.concurrency_seconds,
    }
    results: dict[str, Workload] = {}
    failed: list[str] = []
    with contextlib.ExitStack() as stack:
        cluster = setup = None
        if NEEDS_POSTGRES & set(args.workload_list):
            cluster = stack.enter_context(postgres.running(workdir / "postgres"))
            setup = pgload.ensure_catalog(
                cluster,
                parquet,
                rows,
                reload=args.reload_postgres,
                pgsphere_from_script=args.pgsphere_from_script,
            )
            print(
                f"PostgreSQL table {'reused' if setup['reused'] else 'loaded'}: {setup['seconds']}",
                file=sys.stderr,
                flush=True,
            )
        base, proc = stack.enter_context(server(home, workdir / "logs" / "datalab-serve.log"))
        tap = TapService("Data Lab TAP", f"{base}/tap", MOCK_TABLE, proc.pid)
        dachs = None
        dachs_state = "not run (--with-dachs not given)"
        if args.with_dachs and cluster is not None:
            try:
                dachs = stack.enter_context(dachs_peer.running(workdir / "dachs", cluster, parquet))
            except dachs_peer.DachsUnavailable as exc:
                raise SystemExit(f"--with-dachs: {exc}") from None
            dachs_state = "python3-gavo " + dachs_peer.version()
        # With a users' database of its own attached, as the server has one: the
        # crossmatch workload joins probes kept in myDB.
        engine = Engine(home / "catalog.duckdb", mydb=workdir / "bench-mydb.duckdb")
        stack.callback(engine.close)
        bench = Bench(
            rows=rows,
            repeat=args.repeat,
            seed=args.seed,
            workdir=workdir,
            parquet=parquet,
            home=home,
            engine=engine,
            tap=tap,
            pg=cluster,
            pg_setup=setup,
            dachs=dachs,
            options=options,
        )
        _prewarm(bench)
        for name in args.workload_list:
            print(f"\n== {name} ==", flush=True)
            started = time.perf_counter()
            try:
                results[name] = WORKLOADS[name](bench)
            except Exception:
                traceback.print_exc()
                failed.append(name)
            print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)
        meta = _meta(args, bench, dachs_state)
    meta["failed_workloads"] = failed
    aims = report.targets(results)
    json_path, md_path, text = report.write(args.out, meta, results, aims)
    print("\n" + text)
    print(f"written: {json_path} and {md_path}")
    if failed:
        print(f"workloads that failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        # The servers were stopped while the interruption unwound main().
        print("\ninterrupted; every server the suite started has been stopped", file=sys.stderr)
        sys.exit(130)
