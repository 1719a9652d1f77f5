"""Full-scan aggregates: a colour cut, and source counts per HEALPix order-5 cell.

Both read every row; neither can use a positional index.

Colour cut, the same statement on every engine (ADQL and PostgreSQL agree here)::

    SELECT COUNT(*), AVG(mag_g - mag_r) FROM ls_mock.tractor
      WHERE mag_g - mag_r > 0.5 AND mag_r < 22

HEALPix order 5 (12,288 cells of 3.36 deg²), the same cells on every engine:

* Data Lab (in process and TAP), DaCHS: ``SELECT ivo_healpix_index(5, ra, dec) AS cell,
  COUNT(*) AS n FROM ls_mock.tractor GROUP BY cell``. Data Lab compiles
  ``ivo_healpix_index`` on a table's own position to a shift of the stored order-29
  index (``_healpix_29 >> 48``), so it computes no HEALPix per row;
* PostgreSQL: ``healpix_nest(5, spoint(radians(ra), radians(dec)))``, pgSphere's nested
  HEALPix index, computed per row (PostgreSQL stores no HEALPix column; Q3C's pixels
  are a different tessellation).

Magnitudes are single-precision floats on every engine (``real`` in PostgreSQL), so
the colour is computed in the same precision. Counts must be equal, averages equal to
six significant digits, and every cell's count equal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks.context import Bench, TapService, tap_csv
from benchmarks.measure import Case, Workload, interleaved
from benchmarks.pgload import SPOINT, TABLE
from benchmarks.support import MOCK_TABLE

COLOUR_WHERE = "mag_g - mag_r > 0.5 AND mag_r < 22"
MAXREC = 100_000


def colour_query(table: str) -> str:
    return f"SELECT COUNT(*) AS n, AVG(mag_g - mag_r) AS mean_gr FROM {table} WHERE {COLOUR_WHERE}"


def healpix_adql(table: str) -> str:
    return f"SELECT ivo_healpix_index(5, ra, dec) AS cell, COUNT(*) AS n FROM {table} GROUP BY cell"


HEALPIX_SQL = f"SELECT healpix_nest(5, {SPOINT}) AS cell, count(*) AS n FROM {TABLE} GROUP BY cell"

Answer = Any


def _colour(rows: list[Any]) -> tuple[int, str]:
    n, mean = rows[0]
    return int(n), f"{float(mean):.6g}"


def _cells(rows: list[Any]) -> frozenset[tuple[int, int]]:
    return frozenset((int(cell), int(n)) for cell, n in rows)


def run(bench: Bench) -> Workload:
    engines = ["Data Lab", "Data Lab TAP", "PostgreSQL"]
    ratios = [("PostgreSQL", "Data Lab"), ("PostgreSQL", "Data Lab TAP")]
    if bench.dachs is not None:
        engines.append("DaCHS")
        ratios.append(("DaCHS", "Data Lab TAP"))
    work = Workload(
        key="aggregate",
        title="Full-scan aggregates",
        unit="ms",
        engines=engines,
        ratios=ratios,
        notes=[f"{bench.repeat} repetitions after one warm-up run per engine"],
    )
    cases: list[tuple[str, Callable[[str], str], str, Callable[[list[Any]], Any]]] = [
        ("colour cut: count, avg(g-r)", colour_query, colour_query(TABLE), _colour),
        ("count per HEALPix order-5 cell", healpix_adql, HEALPIX_SQL, _cells),
    ]
    with bench.pg_connection() as con, bench.http() as client:
        for label, make_adql, pg_sql, key in cases:

            def in_process(
                _: int,
                make_adql: Callable[[str], str] = make_adql,
                key: Callable[[list[Any]], Any] = key,
            ) -> Any:
                table = bench.datalab(make_adql(MOCK_TABLE))
                return key(list(zip(*(c.to_pylist() for c in table.columns), strict=True)))

            def on_pg(_: int, pg_sql: str = pg_sql, key: Callable[[list[Any]], Any] = key) -> Any:
                return key(con.execute(pg_sql).fetchall())

            def on_tap(
                service: TapService,
                make_adql: Callable[[str], str] = make_adql,
                key: Callable[[list[Any]], Any] = key,
            ) -> Callable[[int], Any]:
                return lambda _: key(tap_csv(client, service, make_adql(service.table), MAXREC))

            runners: dict[str, Callable[[int], Any]] = {
                "Data Lab": in_process,
                "Data Lab TAP": on_tap(bench.tap),
                "PostgreSQL": on_pg,
            }
            if bench.dachs is not None:
                runners["DaCHS"] = on_tap(bench.dachs)
            measured = interleaved(list(range(bench.repeat)), runners, warmup=[0])
            bad, examples = measured.disagreements()
            answer = measured.answers["Data Lab"][0]
            shown = (
                f"n = {answer[0]:,}, mean g-r = {answer[1]}"
                if isinstance(answer, tuple)
                else f"{len(answer):,} cells"
            )
            case = Case(
                label=label,
                values={e: measured.median_ms(e) for e in runners},
                p95={e: measured.p95_ms(e) for e in runners},
                check=("same answer: " + shown) if bad == 0 else f"answers differ: {examples}",
                extra={"answer": shown, "disagreements": examples},
            )
            work.cases.append(case)
            print(
                f"  aggregate {label:<32} "
                + "  ".join(f"{e} {v:8.1f}" for e, v in case.values.items())
                + f"  ms  [{case.check}]",
                flush=True,
            )
    return work
