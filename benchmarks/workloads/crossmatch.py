"""Crossmatch: perturbed positions against the survey, within 1 arcsec.

Probe lists of 100,000 and 1,000,000 positions (``xmatch.probe_table``: 90% survey
sources moved by up to 0.7", 10% unrelated positions) are matched two ways:

* every pair within 1" —
  Data Lab in process: the TAP upload path without HTTP (the probe file read as an
  upload, the ADQL join compiled to declination zones, run on the read-only engine):
  ``SELECT p.id, t.objid FROM TAP_UPLOAD.probe AS p JOIN ls_mock.tractor AS t ON
  1 = CONTAINS(POINT('ICRS', t.ra, t.dec), CIRCLE('ICRS', p.ra, p.dec, 1/3600.))``;
  Data Lab myDB: the probes stored once beforehand as a user's myDB table (imported
  as the Data Lab client's ``mydb_import`` does; timed apart, not in the match) and the
  same join written against it as users do, ``… FROM mydb://probe_N AS p JOIN …``,
  through the Data Lab query API's path in process (``mydb://`` names, the user's
  tables made visible, compiled, run on the engine with the users' database attached
  as ``mydb``);
  Data Lab TAP: the same query sent to ``/tap/sync`` with the probes uploaded inline
  as Parquet, the result fetched as Parquet;
  Q3C: ``SELECT p.id, t.objid FROM bench.probe_N p JOIN ls_mock.tractor t ON
  q3c_join(p.ra, p.dec, t.ra, t.dec, 1/3600.)`` on a probe table loaded beforehand
  (COPY, its own Q3C index, CLUSTER, ANALYZE: timed apart, not in the match);
  astropy: ``search_around_sky`` on positions already in memory (SkyCoord and k-d
  tree built in the timed call);
* the nearest counterpart within 1" —
  Data Lab: ADQL 2.1 with the pairs and their distances as a WITH query, joined to
  each probe's minimum distance (ADQL has no window functions; the engine computes
  the pairs once for both uses); Q3C: a ``LATERAL`` subquery ordered by
  ``q3c_dist`` with ``LIMIT 1`` (the form Q3C's documentation gives); astropy:
  ``match_coordinates_sky``, then the separation cut.

Each engine's answer is the set of (probe id, objid) pairs; all must be equal.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from astropy.coordinates import SkyCoord, match_coordinates_sky, search_around_sky

from benchmarks.context import Bench
from benchmarks.dataset import read_columns
from benchmarks.measure import Case, Workload, interleaved
from benchmarks.pgload import TABLE, load_probes
from benchmarks.xmatch import probe_table
from datalab.catalog import Engine
from datalab.mydb import MyDB
from datalab.query import dlquery

RADIUS_ARCSEC = 1.0
RADIUS = f"{RADIUS_ARCSEC}/3600."
WARMUP_PROBES = 10_000
MYDB_USER = "benchuser"

PAIRS_ADQL = (
    "SELECT p.id, t.objid FROM TAP_UPLOAD.probe AS p JOIN ls_mock.tractor AS t ON"
    f" 1 = CONTAINS(POINT('ICRS', t.ra, t.dec), CIRCLE('ICRS', p.ra, p.dec, {RADIUS}))"
)
NEAREST_ADQL = (
    "WITH m AS (SELECT p.id, t.objid,"
    " DISTANCE(POINT('ICRS', p.ra, p.dec), POINT('ICRS', t.ra, t.dec)) AS d"
    " FROM TAP_UPLOAD.probe AS p JOIN ls_mock.tractor AS t ON"
    f" 1 = CONTAINS(POINT('ICRS', t.ra, t.dec), CIRCLE('ICRS', p.ra, p.dec, {RADIUS})))"
    " SELECT m.id, m.objid FROM m JOIN (SELECT id, MIN(d) AS dmin FROM m GROUP BY id) AS b"
    " ON m.id = b.id AND m.d = b.dmin"
)


def pairs_sql(probes: str) -> str:
    return (
        f"SELECT p.id, t.objid FROM {probes} p JOIN {TABLE} t"
        f" ON q3c_join(p.ra, p.dec, t.ra, t.dec, {RADIUS})"
    )


def nearest_sql(probes: str) -> str:
    return (
        f"SELECT p.id, n.objid FROM {probes} p CROSS JOIN LATERAL (SELECT t.objid FROM {TABLE} t"
        f" WHERE q3c_join(p.ra, p.dec, t.ra, t.dec, {RADIUS})"
        " ORDER BY q3c_dist(p.ra, p.dec, t.ra, t.dec) LIMIT 1) AS n"
    )


PAIR = np.dtype([("probe", "<i8"), ("objid", "<i8")])


def pair_keys(ids: Any, objids: Any) -> np.ndarray:
    """Pairs as a sorted array of (probe id, objid) records, comparable across engines."""
    probe = np.asarray(ids, dtype=np.int64)
    objid = np.asarray(objids, dtype=np.int64)
    # np.unique of the records would give the same array, but sorts records by
    # comparing their bytes one pair at a time: seconds for a million pairs, which
    # every engine's time would carry. Sorting by the two columns is fast.
    order = np.lexsort((objid, probe))
    probe, objid = probe[order], objid[order]
    keep = np.ones(len(probe), dtype=bool)
    keep[1:] = (probe[1:] != probe[:-1]) | (objid[1:] != objid[:-1])
    pairs = np.empty(int(keep.sum()), dtype=PAIR)
    pairs["probe"] = probe[keep]
    pairs["objid"] = objid[keep]
    return pairs


def digest(keys: np.ndarray) -> tuple[int, str]:
    return len(keys), hashlib.sha1(keys.tobytes()).hexdigest()[:12]


def on_mydb(adql: str, name: str) -> str:
    """The upload query as written against the user's myDB table ``name``."""
    return adql.replace("TAP_UPLOAD.probe", f"mydb://{name}")


class Probes:
    """One probe list, in every form the engines take it."""

    def __init__(self, bench: Bench, name: str, table: pa.Table, mydb: MyDB) -> None:
        self.name = name
        self.table = table
        self.upload_dir = bench.workdir / "xmatch" / name
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, self.upload_dir / "probe")
        self.parquet = (self.upload_dir / "probe").read_bytes()
        self.pg_setup = load_probes(bench.pg, name, table) if bench.pg is not None else {}
        self.coords = (table.column("ra").to_numpy(), table.column("dec").to_numpy())
        started = time.perf_counter()
        mydb.import_table(MYDB_USER, name, table, replace=True)
        self.mydb_setup = {"import_s": round(time.perf_counter() - started, 3)}


def run(bench: Bench) -> Workload:
    sizes = [int(s) for s in str(bench.options.get("probes", "100000,1000000")).split(",")]
    engines = ["Data Lab", "Data Lab myDB", "Data Lab TAP", "Q3C", "astropy"]
    work = Workload(
        key="xmatch",
        title="Crossmatch within 1 arcsec",
        unit="s",
        engines=engines,
        ratios=[
            ("Q3C", "Data Lab"),
            ("Q3C", "Data Lab myDB"),
            ("astropy", "Data Lab"),
            ("Q3C", "Data Lab TAP"),
        ],
        notes=[
            f"{bench.repeat} repetitions after one warm-up run ({WARMUP_PROBES:,} probes)"
            " per engine; times in seconds"
        ],
    )
    catalog = read_columns(bench.parquet, ["objid", "ra", "dec"])
    objid = catalog.column("objid").to_numpy()
    cat_ra = catalog.column("ra").to_numpy()
    cat_dec = catalog.column("dec").to_numpy()
    del catalog
    rng = np.random.default_rng(bench.seed + 3)

    def in_process(probes: Probes, adql: str) -> np.ndarray:
        table = bench.with_upload(adql, "probe", probes.upload_dir)
        return pair_keys(table.column(0).to_numpy(), table.column(1).to_numpy())

    def in_mydb(engine: Engine, mydb: MyDB, probes: Probes, adql: str) -> np.ndarray:
        """As the query API runs ``adql=`` for a logged-in user: their tables made
        visible, ``mydb://`` names resolved, compiled, run with every row."""
        query = dlquery.parse_query_parameters({"adql": on_mydb(adql, probes.name)})
        tables, physical = mydb.tables_for(MYDB_USER)
        translation = dlquery.compile_query(query, bench.visible.plus(tables, physical))
        with dlquery.start(
            translation, engine, timeout=3600, max_rows=bench.settings.tap_hard_maxrec
        ) as result:
            table = pa.Table.from_batches(list(result), schema=result.schema)
        return pair_keys(table.column(0).to_numpy(), table.column(1).to_numpy())

    def over_tap(probes: Probes, client: Any) -> np.ndarray:
        table = bench.tap_with_upload(client, PAIRS_ADQL, "probe", probes.parquet)
        return pair_keys(table.column(0).to_numpy(), table.column(1).to_numpy())

    def on_pg(con: Any, sql: str) -> np.ndarray:
        rows = con.execute(sql).fetchall()
        if not rows:
            return pair_keys([], [])
        ids, objids = zip(*rows, strict=True)
        return pair_keys(ids, objids)

    def astropy_pairs(probes: Probes) -> np.ndarray:
        probe_coords = SkyCoord(probes.coords[0] * u.deg, probes.coords[1] * u.deg)
        cat_coords = SkyCoord(cat_ra * u.deg, cat_dec * u.deg)
        ip, ic, _, _ = search_around_sky(probe_coords, cat_coords, RADIUS_ARCSEC * u.arcsec)
        return pair_keys(ip, objid[ic])

    def astropy_nearest(probes: Probes) -> np.ndarray:
        probe_coords = SkyCoord(probes.coords[0] * u.deg, probes.coords[1] * u.deg)
        cat_coords = SkyCoord(cat_ra * u.deg, cat_dec * u.deg)
        idx, sep, _ = match_coordinates_sky(probe_coords, cat_coords)
        keep = sep <= RADIUS_ARCSEC * u.arcsec
        return pair_keys(np.flatnonzero(keep), objid[idx[keep]])

    with bench.mydb_engine() as mydb_engine, bench.pg_connection() as con, bench.http() as client:
        mydb = MyDB(mydb_engine)
        started = time.perf_counter()
        warm = Probes(bench, "probe_warm", probe_table(cat_ra, cat_dec, WARMUP_PROBES, rng), mydb)
        print(
            f"  crossmatch: warm-up probes ready ({time.perf_counter() - started:.1f} s)",
            file=sys.stderr,
            flush=True,
        )
        for n in sizes:
            probes = Probes(bench, f"probe_{n}", probe_table(cat_ra, cat_dec, n, rng), mydb)
            work.info[f"probes_{n}_postgres_setup_s"] = probes.pg_setup
            work.info[f"probes_{n}_mydb_setup_s"] = probes.mydb_setup
            for label, runners in (
                (
                    "all pairs",
                    {
                        "Data Lab": lambda p: in_process(p, PAIRS_ADQL),
                        "Data Lab myDB": lambda p: in_mydb(mydb_engine, mydb, p, PAIRS_ADQL),
                        "Data Lab TAP": lambda p: over_tap(p, client),
                        "Q3C": lambda p: on_pg(con, pairs_sql(f"bench.{p.name}")),
                        "astropy": astropy_pairs,
                    },
                ),
                (
                    "nearest",
                    {
                        "Data Lab": lambda p: in_process(p, NEAREST_ADQL),
                        "Data Lab myDB": lambda p: in_mydb(mydb_engine, mydb, p, NEAREST_ADQL),
                        "Q3C": lambda p: on_pg(con, nearest_sql(f"bench.{p.name}")),
                        "astropy": astropy_nearest,
                    },
                ),
            ):
                case = _measure(f"{n:,} probes, {label}", probes, warm, runners, bench.repeat)
                work.cases.append(case)
        _cleanup(bench, sizes, mydb)
    return work


def _measure(
    label: str,
    probes: Probes,
    warm: Probes,
    runners: dict[str, Callable[[Probes], np.ndarray]],
    repeat: int,
) -> Case:
    for run in runners.values():
        run(warm)
    measured = interleaved([probes] * repeat, runners)
    bad, _ = measured.disagreements(digest)
    first = {e: answers[0] for e, answers in measured.answers.items()}
    reference = first["Data Lab"]
    differences = {
        e: len(np.setxor1d(reference, keys, assume_unique=True))
        for e, keys in first.items()
        if e != "Data Lab"
    }
    case = Case(
        label=label,
        values={e: measured.median_ms(e) / 1e3 for e in runners},
        p95={e: measured.p95_ms(e) / 1e3 for e in runners},
        check=(
            f"same {len(reference):,} pairs"
            if bad == 0 and not any(differences.values())
            else "pairs differ from Data Lab's: "
            + ", ".join(f"{e} {d:,}" for e, d in differences.items() if d)
        ),
        extra={"pairs": len(reference), "pairs_not_shared_with_datalab": differences},
    )
    print(
        f"  crossmatch {label:<28} "
        + "  ".join(f"{e} {v:7.2f}" for e, v in case.values.items())
        + f"  s  [{case.check}]",
        flush=True,
    )
    return case


def _cleanup(bench: Bench, sizes: list[int], mydb: MyDB) -> None:
    """Probe files and tables are rewritten by every run; keep the work directory small
    meanwhile."""
    for n in [*sizes, "warm"]:
        path: Path = bench.workdir / "xmatch" / f"probe_{n}" / "probe"
        path.unlink(missing_ok=True)
        mydb.drop(MYDB_USER, f"probe_{n}")
