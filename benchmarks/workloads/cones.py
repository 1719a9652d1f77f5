"""Cone searches on every engine: ``COUNT(*)`` and all columns, radii 1', 6' and 30'.

What each engine runs for a centre (ra0, dec0) and radius r (degrees):

* Data Lab, in process: the ADQL below compiled (HEALPix ranges of ``_healpix_29``,
  then the exact test) and run on the read-only engine, every row fetched as Arrow;
* Data Lab TAP and DaCHS: the same ADQL as a sync TAP query, CSV read completely;
* Q3C: ``... WHERE q3c_radial_query(ra, dec, ra0, dec0, r)`` (B-tree on
  ``q3c_ang2ipix(ra, dec)``, table clustered on it);
* pgSphere: ``... WHERE spoint(radians(ra), radians(dec)) @ scircle(spoint(radians(ra0),
  radians(dec0)), radians(r))`` (GiST index on that expression).

    SELECT COUNT(*) | * FROM ls_mock.tractor
      WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', ra0, dec0, r))

PostgreSQL rows are fetched with psycopg as Python tuples, as a user's script would.
Every case has its own centres, and each repetition new ones: Data Lab's compiler
remembers the HEALPix cover of a circle it has seen, so a repeated cone would measure
that memory instead of a new query. All engines must find the same number of rows.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.context import Bench, TapService, tap_csv
from benchmarks.measure import Case, Workload, interleaved
from benchmarks.pgload import SPOINT, TABLE
from benchmarks.support import MOCK_TABLE

RADII_ARCMIN = (1.0, 6.0, 30.0)
SELECTS = {"count": "COUNT(*)", "all columns": "*"}
WARMUP = 10
MAXREC = 10_000_000


def adql(table: str, select: str, ra: float, dec: float, radius: float) -> str:
    return (
        f"SELECT {SELECTS[select]} FROM {table} WHERE 1 = CONTAINS(POINT('ICRS', ra, dec),"
        f" CIRCLE('ICRS', {ra!r}, {dec!r}, {radius!r}))"
    )


def q3c_sql(select: str, ra: float, dec: float, radius: float) -> str:
    return (
        f"SELECT {SELECTS[select]} FROM {TABLE}"
        f" WHERE q3c_radial_query(ra, dec, {ra!r}, {dec!r}, {radius!r})"
    )


def pgsphere_sql(select: str, ra: float, dec: float, radius: float) -> str:
    return (
        f"SELECT {SELECTS[select]} FROM {TABLE} WHERE {SPOINT} @"
        f" scircle(spoint(radians({ra!r}), radians({dec!r})), radians({radius!r}))"
    )


Centre = tuple[float, float]


def run(bench: Bench) -> Workload:
    n = int(bench.options.get("centres", 200)) * bench.repeat
    engines = ["Data Lab", "Data Lab TAP", "Q3C", "pgSphere"]
    ratios = [
        ("Q3C", "Data Lab"),
        ("pgSphere", "Data Lab"),
        ("Q3C", "Data Lab TAP"),
        ("pgSphere", "Data Lab TAP"),
    ]
    if bench.dachs is not None:
        engines.append("DaCHS")
        ratios.append(("DaCHS", "Data Lab TAP"))
    work = Workload(
        key="cone",
        title="Cone search",
        unit="ms",
        engines=engines,
        ratios=ratios,
        notes=[
            f"{n} centres per case ({bench.options.get('centres', 200)} x {bench.repeat}"
            " repetitions, each repetition new centres), warm: "
            f"{WARMUP} warm-up centres per case first",
        ],
    )
    with bench.pg_connection() as con, bench.http() as client:

        def on_pg(
            make: Callable[[str, float, float, float], str], select: str, radius: float
        ) -> Callable[[Centre], int]:
            def go(c: Centre) -> int:
                rows = con.execute(make(select, c[0], c[1], radius)).fetchall()
                return int(rows[0][0]) if select == "count" else len(rows)

            return go

        def on_tap(service: TapService, select: str, radius: float) -> Callable[[Centre], int]:
            def go(c: Centre) -> int:
                rows = tap_csv(
                    client, service, adql(service.table, select, c[0], c[1], radius), MAXREC
                )
                return int(rows[0][0]) if select == "count" else len(rows)

            return go

        def in_process(select: str, radius: float) -> Callable[[Centre], int]:
            def go(c: Centre) -> int:
                table = bench.datalab(adql(MOCK_TABLE, select, c[0], c[1], radius))
                return int(table.column(0)[0].as_py()) if select == "count" else table.num_rows

            return go

        for salt, (radius_arcmin, select) in enumerate(
            (r, s) for r in RADII_ARCMIN for s in SELECTS
        ):
            radius = radius_arcmin / 60
            centres = bench.centres(n + WARMUP, salt=100 + salt)
            runners: dict[str, Callable[[Centre], int]] = {
                "Data Lab": in_process(select, radius),
                "Data Lab TAP": on_tap(bench.tap, select, radius),
                "Q3C": on_pg(q3c_sql, select, radius),
                "pgSphere": on_pg(pgsphere_sql, select, radius),
            }
            if bench.dachs is not None:
                runners["DaCHS"] = on_tap(bench.dachs, select, radius)
            measured = interleaved(centres[WARMUP:], runners, warmup=centres[:WARMUP])
            bad, examples = measured.disagreements()
            found = measured.answers["Data Lab"]
            case = Case(
                label=f"{radius_arcmin:g}' {select}",
                values={e: measured.median_ms(e) for e in runners},
                p95={e: measured.p95_ms(e) for e in runners},
                check="same rows" if bad == 0 else f"{bad} of {len(found)} centres differ",
                extra={
                    "mean_rows": sum(found) / len(found),
                    "centres": len(found),
                    "disagreements": examples,
                },
            )
            work.cases.append(case)
            print(
                f"  cone {case.label:<16} rows {case.extra['mean_rows']:9.1f}  "
                + "  ".join(f"{e} {v:7.1f}" for e, v in case.values.items())
                + f"  ms  [{case.check}]",
                flush=True,
            )
    return work
