"""Concurrency: 8 clients sending a mix of cones and aggregates for a fixed time.

Each client has its own keep-alive connection and a seeded list of queries: nine in
ten are cone searches (radius 1', 6' or 30', ``COUNT(*)`` or all columns, every one
at a new centre inside the footprint), one in ten the colour-cut aggregate of the
aggregates workload (a full scan). Clients send their next query as soon as the
previous answer has been read, until the time is up; queries still running then are
waited for and counted.

Engines: the Data Lab TAP endpoint and DaCHS's (sync queries, CSV, the ADQL of the
cone and aggregate workloads), and, as a reference without a TAP layer, PostgreSQL
with Q3C over 8 psycopg connections (the SQL of those workloads). Engines take turns,
one period each, ``--repeat`` times; the figures are over all periods of an engine.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from benchmarks.context import Bench, TapService, tap_csv
from benchmarks.measure import Case, Workload, percentile
from benchmarks.pgload import TABLE
from benchmarks.tap import HTTP_TIMEOUT
from benchmarks.workloads.aggregates import colour_query
from benchmarks.workloads.cones import RADII_ARCMIN, SELECTS, adql, q3c_sql

CLIENTS = 8
AGGREGATE_SHARE = 0.1
MAXREC = 10_000_000

Query = tuple[str, float, float, float, str]  # kind, ra, dec, radius (deg), select


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"cone": [], "aggregate": []})
    errors: list[str] = field(default_factory=list)
    wall: float = 0.0

    def add(self, other: Tally) -> None:
        for kind, values in other.latencies.items():
            self.latencies[kind].extend(values)
        self.errors.extend(other.errors)
        self.wall += other.wall


def _plans(bench: Bench, per_client: int, salt: int) -> list[list[Query]]:
    centres = bench.centres(CLIENTS * per_client, salt=salt)
    plans: list[list[Query]] = []
    for c in range(CLIENTS):
        rng = np.random.default_rng(bench.seed * 100 + salt * 10 + c)
        plan: list[Query] = []
        for i in range(per_client):
            ra, dec = centres[c * per_client + i]
            if rng.random() < AGGREGATE_SHARE:
                plan.append(("aggregate", 0.0, 0.0, 0.0, ""))
            else:
                radius = RADII_ARCMIN[int(rng.integers(len(RADII_ARCMIN)))] / 60
                select = list(SELECTS)[int(rng.integers(len(SELECTS)))]
                plan.append(("cone", ra, dec, radius, select))
        plans.append(plan)
    return plans


def _period(
    connect: Callable[[], Any],
    send: Callable[[Any, Query], None],
    close: Callable[[Any], None],
    plans: list[list[Query]],
    seconds: float,
) -> Tally:
    tallies = [Tally() for _ in plans]
    ready = threading.Barrier(len(plans) + 1)
    deadline = [0.0]

    def client(k: int) -> None:
        handle = connect()
        try:
            ready.wait()
            for query in plans[k]:
                if time.perf_counter() >= deadline[0]:
                    break
                began = time.perf_counter()
                try:
                    send(handle, query)
                except Exception as exc:  # counted, and the client goes on
                    tallies[k].errors.append(f"{query[0]}: {type(exc).__name__}: {exc}"[:300])
                    continue
                tallies[k].latencies[query[0]].append(time.perf_counter() - began)
        finally:
            close(handle)

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(len(plans))]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + seconds
    ready.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    total = Tally(wall=time.perf_counter() - began)
    for tally in tallies:
        total.add(tally)
    return total


def run(bench: Bench) -> Workload:
    seconds = float(bench.options.get("concurrency_seconds", 30))
    engines = ["Data Lab TAP"] + (["DaCHS"] if bench.dachs is not None else []) + ["PostgreSQL"]
    work = Workload(
        key="concurrency",
        title=f"Concurrency: {CLIENTS} clients, cones and aggregates",
        unit="queries/s",
        higher_is_better=True,
        engines=engines,
        ratios=[(e, "Data Lab TAP") for e in engines if e != "Data Lab TAP"],
        notes=[
            f"{bench.repeat} periods of {seconds:g} s per engine, engines taking turns;"
            f" {int(AGGREGATE_SHARE * 100)}% aggregates"
        ],
    )

    def tap_engine(
        service: TapService,
    ) -> tuple[Callable[[], Any], Callable[[Any, Query], None], Callable[[Any], None]]:
        def connect() -> Any:
            return httpx.Client(timeout=HTTP_TIMEOUT)

        def send(client: Any, q: Query) -> None:
            text = (
                colour_query(service.table)
                if q[0] == "aggregate"
                else adql(service.table, q[4], q[1], q[2], q[3])
            )
            tap_csv(client, service, text, MAXREC)

        return connect, send, lambda client: client.close()

    def pg_engine() -> tuple[
        Callable[[], Any], Callable[[Any, Query], None], Callable[[Any], None]
    ]:
        assert bench.pg is not None

        def send(con: Any, q: Query) -> None:
            sql = colour_query(TABLE) if q[0] == "aggregate" else q3c_sql(q[4], q[1], q[2], q[3])
            con.execute(sql).fetchall()

        return bench.pg.connect, send, lambda con: con.close()

    makers: dict[str, Callable[[], tuple[Any, Any, Any]]] = {
        "Data Lab TAP": lambda: tap_engine(bench.tap),
        "PostgreSQL": pg_engine,
    }
    if bench.dachs is not None:
        dachs = bench.dachs
        makers["DaCHS"] = lambda: tap_engine(dachs)
    # Enough queries that no client runs out within a period, even at a few ms each.
    per_client = max(200, int(seconds * 150))
    totals = {e: Tally() for e in engines}
    for r in range(bench.repeat):
        for k in range(len(engines)):
            name = engines[(r + k) % len(engines)]
            plans = _plans(bench, per_client, salt=500 + r)
            connect, send, close = makers[name]()
            tally = _period(connect, send, close, plans, seconds)
            totals[name].add(tally)
            done = sum(len(v) for v in tally.latencies.values())
            print(
                f"  concurrency period {r + 1} {name:<13} {done / tally.wall:7.1f} queries/s"
                f"  errors {len(tally.errors)}",
                flush=True,
            )

    def rate(t: Tally) -> float:
        return sum(len(v) for v in t.latencies.values()) / t.wall if t.wall else 0.0

    work.cases.append(
        Case(
            label="throughput, all queries",
            values={e: rate(totals[e]) for e in engines},
            check=", ".join(f"{e}: {len(totals[e].errors)} errors" for e in engines),
            extra={
                "errors": {e: totals[e].errors[:5] for e in engines},
                "queries": {
                    e: {k: len(v) for k, v in totals[e].latencies.items()} for e in engines
                },
            },
        )
    )
    for kind in ("cone", "aggregate"):
        have = [e for e in engines if totals[e].latencies[kind]]
        work.cases.append(
            Case(
                label=f"latency, {kind}s",
                unit="ms",
                higher_is_better=False,
                values={e: statistics.median(totals[e].latencies[kind]) * 1e3 for e in have},
                p95={e: percentile(totals[e].latencies[kind], 0.95) * 1e3 for e in have},
                check=", ".join(f"{e}: {len(totals[e].latencies[kind])}" for e in have),
            )
        )
    for case in work.cases:
        print(
            f"  concurrency {case.label:<24} "
            + "  ".join(f"{e} {v:8.1f}" for e, v in case.values.items()),
            flush=True,
        )
    return work
