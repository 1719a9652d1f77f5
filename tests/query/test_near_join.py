"""Crossmatches of an upload run on the catalog rows near it (datalab.query.near_join).

The reference is the engine running the fully compiled query (sky cells over the
whole table): the restricted run must return the same rows, whatever the positions
(poles, RA 0/360, nulls), radius, join form and the rest of the query. Queries the
restriction would change (the table on the preserved side of an outer join) must not
get one, and uploads it cannot help (too many rows, positions off the sphere, a
large radius) must run as compiled.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datalab.catalog import Engine
from datalab.config import Settings
from datalab.query import run_query
from datalab.query.execute import run_translation
from datalab.query.near_join import near_rows
from datalab.query.tap import PreparedQuery, parse_tap_parameters, prepare
from datalab.query.visible import Visible

TABLE = "ls_mock.tractor"


@pytest.fixture(scope="module")
def survey(engine: Engine) -> pa.Table:
    with engine.cursor() as cur:
        sample = (
            f"SELECT objid, ra, dec FROM {TABLE}"
            " USING SAMPLE reservoir(2000 ROWS) REPEATABLE (7)"
        )
        return cur.sql(sample).to_arrow_table()


def compiled(engine: Engine, query: str, probes: pa.Table, tmp_path: Path) -> PreparedQuery:
    """``query`` as the TAP service compiles it, with ``probes`` uploaded as
    TAP_UPLOAD.p (a Parquet file)."""
    directory = tmp_path / "uploads"
    directory.mkdir(exist_ok=True)
    pq.write_table(probes, directory / "p")
    tap = parse_tap_parameters(
        {"query": query, "upload": "p,param:p", "maxrec": "1000000"}, Settings()
    )
    return prepare(tap, Visible(tuple(engine.tables())), directory)


def uploads(prepared: PreparedQuery) -> dict[str, pa.Table]:
    return {u.engine_name: u.table for u in prepared.uploads}


def rows(result_table: pa.Table) -> list[str]:
    return sorted(map(repr, result_table.to_pylist()))


def assert_restricted_answer_is_whole(
    engine: Engine, prepared: PreparedQuery
) -> tuple[pa.Table, pa.Table]:
    """The query runs on the rows near the upload and finds what the whole table gives;
    returns both answers (as ``run_both``)."""
    assert near_rows(engine, prepared.translation.near, uploads(prepared)) is not None
    served, whole = run_both(engine, prepared)
    assert whole.num_rows > 0
    assert rows(served) == rows(whole)
    return served, whole


def run_both(engine: Engine, prepared: PreparedQuery) -> tuple[pa.Table, pa.Table]:
    """(the answer as served, the answer of the compiled query on the whole table)."""
    tables = uploads(prepared)
    with run_translation(engine, prepared.translation, timeout=60, tables=tables) as result:
        served = pa.Table.from_batches(list(result), schema=result.schema)
    with run_query(engine, prepared.translation.sql, timeout=60, tables=tables) as result:
        whole = pa.Table.from_batches(list(result), schema=result.schema)
    return served, whole


def probes_near(survey: pa.Table, n: int, seed: int, jitter_deg: float) -> pa.Table:
    """``n`` positions next to survey rows (so that there are matches), a few random."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(survey.num_rows, n, replace=False)
    ra = np.asarray(survey.column("ra"))[pick] + rng.normal(0, jitter_deg, n)
    dec = np.clip(np.asarray(survey.column("dec"))[pick] + rng.normal(0, jitter_deg, n), -90, 90)
    ra[: n // 5] = rng.uniform(0, 360, n // 5)
    dec[: n // 5] = np.degrees(np.arcsin(rng.uniform(-1, 1, n // 5)))
    return pa.table({"id": np.arange(n), "ra": ra % 360.0, "dec": dec})


CROSSMATCH = (
    "SELECT p.id, t.objid, t.ra, t.dec, t.mag_r FROM TAP_UPLOAD.p AS p JOIN {table} AS t"
    " ON 1 = CONTAINS(POINT('ICRS', t.ra, t.dec), CIRCLE('ICRS', p.ra, p.dec, {r}))"
)


@pytest.mark.parametrize("radius", [1 / 3600, 1 / 60, 0.2])
def test_crossmatches_match_the_whole_table(
    engine: Engine, survey: pa.Table, tmp_path: Path, radius: float
) -> None:
    n = 20 if radius > 0.1 else 200  # many wide cones: the whole table is cheaper
    probes = probes_near(survey, n, seed=int(radius * 1e6), jitter_deg=radius / 2)
    prepared = compiled(engine, CROSSMATCH.format(table=TABLE, r=radius), probes, tmp_path)
    near = prepared.translation.near
    assert near is not None and near.table == TABLE and not near.limited
    served, whole = assert_restricted_answer_is_whole(engine, prepared)
    assert served.schema.equals(whole.schema)


@pytest.mark.parametrize(
    "query",
    [
        # Other conditions, an aggregate, both DISTANCE forms, a comma join.
        "SELECT COUNT(*), AVG(t.mag_r) FROM TAP_UPLOAD.p AS p JOIN {table} AS t"
        " ON 1 = CONTAINS(POINT('ICRS', t.ra, t.dec), CIRCLE('ICRS', p.ra, p.dec, 0.01))"
        " WHERE t.mag_r < 23",
        "SELECT p.id, t.objid, DISTANCE(POINT(p.ra, p.dec), POINT(t.ra, t.dec)) AS d"
        " FROM TAP_UPLOAD.p AS p, {table} AS t"
        " WHERE DISTANCE(POINT(p.ra, p.dec), POINT(t.ra, t.dec)) < 1/360. ORDER BY d",
        "SELECT p.id, t.objid FROM {table} AS t JOIN TAP_UPLOAD.p AS p"
        " ON DISTANCE(p.ra, p.dec, t.ra, t.dec) <= 0.005",
        # The upload preserved by an outer join: probes without a partner stay.
        "SELECT p.id, t.objid FROM TAP_UPLOAD.p AS p LEFT JOIN {table} AS t"
        " ON 1 = CONTAINS(POINT('ICRS', t.ra, t.dec), CIRCLE('ICRS', p.ra, p.dec, 0.003))",
        # The table named again elsewhere in the query: only the join's reference is
        # restricted.
        "SELECT p.id, t.objid FROM TAP_UPLOAD.p AS p JOIN {table} AS t"
        " ON 1 = CONTAINS(POINT('ICRS', t.ra, t.dec), CIRCLE('ICRS', p.ra, p.dec, 0.01))"
        " WHERE t.mag_r < (SELECT AVG(mag_r) FROM {table})",
    ],
)
def test_query_forms_match_the_whole_table(
    engine: Engine, survey: pa.Table, tmp_path: Path, query: str
) -> None:
    probes = probes_near(survey, 150, seed=3, jitter_deg=0.002)
    prepared = compiled(engine, query.format(table=TABLE), probes, tmp_path)
    assert prepared.translation.near is not None
    assert_restricted_answer_is_whole(engine, prepared)


def test_awkward_positions_match_the_whole_table(
    engine: Engine, survey: pa.Table, tmp_path: Path
) -> None:
    """Poles, RA 0/360 from either side, RA beyond 360, null and NaN positions."""
    ra = [0.0, 359.9999, 360.0, 400.0, -20.0, 10.0, 45.0, 0.0, 1.0, None, float("nan"), 12.0]
    dec = [0.0, 0.0, 0.0, 10.0, -30.0, 90.0, -90.0, 89.99, -89.9, 5.0, 5.0, None]
    nearby = probes_near(survey, 40, seed=5, jitter_deg=0.01)
    probes = pa.table(
        {
            "id": list(range(len(ra))) + [100 + i for i in range(nearby.num_rows)],
            "ra": ra + nearby.column("ra").to_pylist(),
            "dec": dec + nearby.column("dec").to_pylist(),
        },
        schema=pa.schema([("id", pa.int64()), ("ra", pa.float64()), ("dec", pa.float64())]),
    )
    prepared = compiled(engine, CROSSMATCH.format(table=TABLE, r=0.05), probes, tmp_path)
    assert_restricted_answer_is_whole(engine, prepared)


def test_the_table_preserved_by_an_outer_join_is_not_restricted(
    engine: Engine, survey: pa.Table, tmp_path: Path
) -> None:
    query = (
        "SELECT COUNT(*) FROM {table} AS t LEFT JOIN TAP_UPLOAD.p AS p"
        " ON 1 = CONTAINS(POINT('ICRS', t.ra, t.dec), CIRCLE('ICRS', p.ra, p.dec, 0.01))"
    )
    probes = probes_near(survey, 20, seed=9, jitter_deg=0.001)
    prepared = compiled(engine, query.format(table=TABLE), probes, tmp_path)
    assert prepared.translation.near is None
    served, whole = run_both(engine, prepared)
    assert served.column(0)[0].as_py() == whole.column(0)[0].as_py() >= survey.num_rows


def test_a_limit_is_marked(engine: Engine, survey: pa.Table, tmp_path: Path) -> None:
    prepared = compiled(
        engine,
        CROSSMATCH.format(table=TABLE, r=0.01).replace("SELECT", "SELECT TOP 5", 1),
        probes_near(survey, 20, seed=11, jitter_deg=0.001),
        tmp_path,
    )
    assert prepared.translation.near is not None and prepared.translation.near.limited
    served, _ = run_both(engine, prepared)
    assert served.num_rows == 5


@pytest.mark.parametrize(
    "case",
    ["off the sphere", "large radius", "too many probes", "too many pairs", "text positions"],
)
def test_uploads_it_cannot_help_run_as_compiled(
    engine: Engine, survey: pa.Table, tmp_path: Path, case: str
) -> None:
    probes = probes_near(survey, 50, seed=13, jitter_deg=0.001)
    radius = 0.01
    if case == "off the sphere":
        dec = probes.column("dec").to_pylist()
        dec[3] = 95.0
        probes = probes.set_column(2, "dec", pa.array(dec))
    elif case == "large radius":
        radius = 2.0
    elif case == "too many probes":
        probes = probes_near(survey, 1_500, seed=13, jitter_deg=0.001)
    elif case == "too many pairs":
        probes, radius = probes_near(survey, 500, seed=13, jitter_deg=0.001), 0.5
    else:
        text = pa.array([str(v) for v in probes.column("ra").to_pylist()])
        probes = probes.set_column(1, "ra", text)
    query = CROSSMATCH.format(table=TABLE, r=radius)
    if case == "text positions":
        query = query.replace("p.ra,", "CAST(p.ra AS DOUBLE),", 1)
    prepared = compiled(engine, query, probes, tmp_path)
    near = prepared.translation.near
    if near is not None:
        assert near_rows(engine, near, uploads(prepared)) is None
    served, whole = run_both(engine, prepared)
    assert rows(served) == rows(whole)
