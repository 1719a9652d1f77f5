"""Crossmatch: Data Lab's compiled positional join against astropy's search_around_sky.

Draws N sources of the mock survey (``ls_mock.tractor``), moves each by up to 0.7
arcsec in a random direction, adds 10% unrelated positions, and finds every catalog
source within 1 arcsec of each probe. Data Lab runs the ADQL

    SELECT p.id, t.objid FROM bench.probe AS p JOIN ls_mock.tractor AS t
      ON 1 = CONTAINS(POINT('ICRS', t.ra, t.dec), CIRCLE('ICRS', p.ra, p.dec, 1/3600.))

compiled to a declination-zone equi-join, on the read-only catalog attached to a
scratch database that holds the probes (as an upload would be). astropy is given the
positions already in memory (its k-d tree build is included in its time). Both must
find the same pairs. PostgreSQL + Q3C (``q3c_join``) joins in the benchmark suite.

    .venv/bin/python benchmarks/xmatch.py                       # 100,000 and 1,000,000
    .venv/bin/python benchmarks/xmatch.py --probes 100000 --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import astropy.units as u
import duckdb
import numpy as np
import pyarrow as pa
from astropy.coordinates import SkyCoord, search_around_sky

if __package__ in (None, ""):  # run as a script: make the benchmarks package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.support import DEFAULT_HOME, ensure_catalog
from datalab.adql import TableCatalog, translate
from datalab.catalog import metadata as md

RESULTS = Path(__file__).parent / "results"
RADIUS_ARCSEC = 1.0


def probe_table(ra: np.ndarray, dec: np.ndarray, n: int, rng: np.random.Generator) -> pa.Table:
    """``n`` probes: 90% catalog sources moved by up to 0.7", 10% unrelated positions.

    Sources are drawn without replacement while the catalog has enough of them, so
    that every source is the counterpart of at most one probe; a catalog smaller than
    the probe list (a quick development run) has some sources drawn twice.
    """
    wanted = int(n * 0.9)
    picks = rng.choice(len(ra), wanted, replace=wanted > len(ra))
    moved = SkyCoord(ra[picks] * u.deg, dec[picks] * u.deg).directional_offset_by(
        rng.uniform(0, 360, len(picks)) * u.deg, rng.uniform(0, 0.7, len(picks)) * u.arcsec
    )
    extra = n - len(picks)
    pra = np.concatenate([moved.ra.deg, rng.uniform(0, 360, extra)])
    pdec = np.concatenate([moved.dec.deg, np.degrees(np.arcsin(rng.uniform(-1, 1, extra)))])
    return pa.table({"id": np.arange(n, dtype=np.int64), "ra": pra, "dec": pdec})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--probes", default="100000,1000000")
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()

    catalog_path = ensure_catalog(args.home, args.rows)
    con = duckdb.connect()
    con.sql(f"ATTACH '{catalog_path}' AS cat (READ_ONLY)")
    con.sql("USE cat")
    tables = md.read_tables(con)
    con.sql("USE memory")
    tractor = next(t for t in tables if f"{t.schema}.{t.name}" == "ls_mock.tractor")
    ra, dec = (
        np.asarray(c)
        for c in con.sql("SELECT ra, dec FROM cat.ls_mock.tractor").fetchnumpy().values()
    )
    objid = con.sql("SELECT objid FROM cat.ls_mock.tractor").fetchnumpy()["objid"]
    rng = np.random.default_rng(args.seed)
    results = []
    for n in (int(p) for p in args.probes.split(",")):
        probes = probe_table(ra, dec, n, rng)
        con.sql("CREATE SCHEMA IF NOT EXISTS bench")
        con.register("incoming", probes)
        con.sql("CREATE OR REPLACE TABLE bench.probe AS SELECT * FROM incoming")
        con.unregister("incoming")
        probe_info = md.TableInfo(
            schema="bench",
            name="probe",
            description=None,
            nrows=n,
            columns=(
                md.ColumnInfo("id", "long"),
                md.ColumnInfo("ra", "double", unit="deg"),
                md.ColumnInfo("dec", "double", unit="deg"),
            ),
        )
        catalog = TableCatalog(
            [tractor, probe_info],
            physical={
                "ls_mock.tractor": ("cat", "ls_mock", "tractor"),
                "bench.probe": ("memory", "bench", "probe"),
            },
        )
        query = (
            "SELECT p.id, t.objid FROM bench.probe AS p JOIN ls_mock.tractor AS t ON"
            " 1 = CONTAINS(POINT('ICRS', t.ra, t.dec),"
            f" CIRCLE('ICRS', p.ra, p.dec, {RADIUS_ARCSEC}/3600.))"
        )
        ours, theirs = [], []
        pairs_ours = pairs_theirs = None
        for _ in range(args.repeat):
            started = time.perf_counter()
            sql = translate(query, catalog).sql
            got = con.sql(sql).to_arrow_table()
            ours.append(time.perf_counter() - started)
            pairs_ours = set(zip(got.column(0).to_pylist(), got.column(1).to_pylist(), strict=True))
            started = time.perf_counter()
            probe_coords = SkyCoord(
                probes.column("ra").to_numpy() * u.deg, probes.column("dec").to_numpy() * u.deg
            )
            cat_coords = SkyCoord(ra * u.deg, dec * u.deg)
            ip, ic, _, _ = search_around_sky(probe_coords, cat_coords, RADIUS_ARCSEC * u.arcsec)
            theirs.append(time.perf_counter() - started)
            pairs_theirs = set(zip(ip.tolist(), objid[ic].tolist(), strict=True))
        same = pairs_ours == pairs_theirs
        row = {
            "probes": n,
            "catalog_rows": len(ra),
            "pairs": len(pairs_ours or ()),
            "same_pairs": same,
            "datalab_s": min(ours),
            "astropy_s": min(theirs),
            "astropy_over_datalab": min(theirs) / min(ours),
        }
        results.append(row)
        print(
            f"{n:>9,} probes x {len(ra):,} rows: {row['pairs']:,} pairs"
            f" (same as astropy: {same})  datalab {row['datalab_s']:.2f} s"
            f"  astropy {row['astropy_s']:.2f} s  ratio {row['astropy_over_datalab']:.1f}x",
            flush=True,
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "xmatch.json").write_text(
        json.dumps(
            {"rows": args.rows, "machine": platform.platform(), "results": results}, indent=2
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
