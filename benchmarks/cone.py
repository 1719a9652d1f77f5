"""Cone searches: the row copy, the engine's HEALPix range scan, and a full scan.

Runs ``SELECT COUNT(*)`` and ``SELECT *`` cone searches of radius 1', 6' and 30' around
random centres on the mock survey (``ls_mock.tractor``), in process, warm: as the
server runs them (``run_translation``: the table's row copy answers plain cones), the
compiled SQL on the read-only engine (HEALPix ranges + exact test), and, for a few
centres, the same query compiled without the index (``POINT(ra + 0, dec + 0)``, which
the compiler cannot map to ``_healpix_29``, a full scan). Prints medians, 95th
percentiles and ratios; all answers are checked to be equal.
PostgreSQL + Q3C/pgSphere, DaCHS and the TAP endpoint join this table in the
benchmark suite (``docs/performance.md``).

    .venv/bin/python benchmarks/cone.py                   # 5 million rows, 200 centres
    .venv/bin/python benchmarks/cone.py --rows 1000000 --centres 50
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

if __package__ in (None, ""):  # run as a script: make the benchmarks package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.support import DEFAULT_HOME, ensure_catalog, summary
from datalab.adql import TableCatalog, translate
from datalab.catalog.engine import Engine
from datalab.query.execute import run_translation

RESULTS = Path(__file__).parent / "results"
RADII_ARCMIN = (1.0, 6.0, 30.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--centres", type=int, default=200)
    parser.add_argument(
        "--scan-centres",
        type=int,
        default=10,
        help="Centres also run without the index (a full scan each).",
    )
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    catalog_path = ensure_catalog(args.home, args.rows)
    engine = Engine(catalog_path)
    catalog = TableCatalog(engine.tables())
    rng = np.random.default_rng(args.seed)
    ra = rng.uniform(0, 360, args.centres).tolist()
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, args.centres))).tolist()

    rows = []
    with engine.cursor() as cur:
        for radius in RADII_ARCMIN:
            for kind, select in (("count", "COUNT(*)"), ("all columns", "*")):
                indexed, scanned, compile_times, copied, found = [], [], [], [], 0
                for i in range(args.centres):
                    circle = f"CIRCLE('ICRS', {ra[i]!r}, {dec[i]!r}, {radius / 60!r})"
                    query = (
                        f"SELECT {select} FROM ls_mock.tractor"
                        f" WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), {circle})"
                    )
                    started = time.perf_counter()
                    served = translate(query, catalog)
                    with run_translation(engine, served, timeout=60) as answer:
                        fast = pa.Table.from_batches(list(answer), schema=answer.schema)
                    copied.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    sql = translate(query, catalog).sql
                    compiled = time.perf_counter()
                    result = cur.sql(sql).to_arrow_table()
                    done = time.perf_counter()
                    compile_times.append(compiled - started)
                    indexed.append(done - started)
                    found += result.num_rows if select == "*" else result.column(0)[0].as_py()
                    assert fast.num_rows == result.num_rows, "the row copy changed the answer"
                    if select != "*":
                        assert fast.column(0)[0] == result.column(0)[0]
                    if i < args.scan_centres:
                        slow = translate(
                            query.replace(
                                "POINT('ICRS', ra, dec)", "POINT('ICRS', ra + 0, dec + 0)"
                            ),
                            catalog,
                        ).sql
                        started = time.perf_counter()
                        check = cur.sql(slow).to_arrow_table()
                        scanned.append(time.perf_counter() - started)
                        assert check.num_rows == result.num_rows, "index changed the answer"
                        if select != "*":
                            assert check.column(0)[0] == result.column(0)[0]
                median, p95 = summary(indexed)
                copy_median, copy_p95 = summary(copied)
                scan_median, _ = summary(scanned)
                row = {
                    "radius_arcmin": radius,
                    "select": kind,
                    "centres": args.centres,
                    "mean_rows": found / args.centres,
                    "served_median_ms": copy_median,
                    "served_p95_ms": copy_p95,
                    "datalab_median_ms": median,
                    "datalab_p95_ms": p95,
                    "compile_median_ms": summary(compile_times)[0],
                    "scan_median_ms": scan_median,
                    "scan_over_datalab": scan_median / median,
                }
                rows.append(row)
                print(
                    f"r={radius:>4.0f}'  {kind:<11}  rows {row['mean_rows']:>8.1f}"
                    f"  served {copy_median:6.2f} ms  engine {median:7.1f} ms (p95 {p95:7.1f},"
                    f" compile {row['compile_median_ms']:5.1f})  scan {scan_median:8.1f} ms"
                    f"  ratio scan/datalab {row['scan_over_datalab']:6.1f}x",
                    flush=True,
                )
    engine.close()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cone.json").write_text(
        json.dumps({"rows": args.rows, "machine": platform.platform(), "results": rows}, indent=2)
        + "\n"
    )


if __name__ == "__main__":
    main()
