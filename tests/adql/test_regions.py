"""CONTAINS and INTERSECTS between regions in compiled queries, run on DuckDB.

A table of random circles (centre and radius columns) is tested against a constant
CIRCLE, BOX or POLYGON (poles and the RA wrap included). Each row's answer must be
the exact one of :mod:`datalab.sky`'s predicates, which tests/sky/test_regions.py checks
against a brute-force reference; rows whose answer changes when the radius moves by a
millionth are skipped. With a constant radius the index path (``_healpix_29`` ranges)
must return exactly the rows of the same query with the index defeated.
"""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datalab.adql import ADQLError, TableCatalog, translate
from datalab.catalog.metadata import ColumnInfo, TableInfo
from datalab.sky import Circle, Region, contains, healpix_index, intersects
from tests.sky.support import SKY_SETTINGS, decs, points_in_cap, ras, seeds
from tests.sky.test_regions import regions

CIRCLES = TableInfo(
    schema="cat",
    name="circles",
    description="random circles",
    columns=(
        ColumnInfo("id", "long"),
        ColumnInfo("ra", "double", unit="deg", ucd="pos.eq.ra;meta.main"),
        ColumnInfo("dec", "double", unit="deg", ucd="pos.eq.dec;meta.main"),
        ColumnInfo("r", "double", unit="deg"),
    ),
    ra_column="ra",
    dec_column="dec",
    healpix_indexed=True,
)
CATALOG = TableCatalog([CIRCLES])
REGION_SETTINGS = settings(SKY_SETTINGS, max_examples=20)
ROWS = 100

# (ADQL call with {circle} and {region}, Python predicate of (circle, region))
FORMS = {
    "intersects": ("INTERSECTS({circle}, {region})", lambda c, s: intersects(c, s)),
    "circle-in-region": ("CONTAINS({circle}, {region})", lambda c, s: contains(s, c)),
    "region-in-circle": ("CONTAINS({region}, {circle})", lambda c, s: contains(c, s)),
}


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def load_circles(con, ra: np.ndarray, dec: np.ndarray, r: np.ndarray) -> None:
    ra = np.mod(ra, 360.0)
    table = pa.table(
        {
            "id": np.arange(len(ra), dtype=np.int64),
            "ra": ra,
            "dec": dec,
            "r": r,
            "_healpix_29": healpix_index(ra, dec),
        }
    )
    con.register("incoming", table)
    con.sql("CREATE SCHEMA IF NOT EXISTS cat")
    con.sql("CREATE OR REPLACE TABLE cat.circles AS SELECT * FROM incoming ORDER BY _healpix_29")
    con.unregister("incoming")


def ids(con, call: str, *, index: bool) -> set[int]:
    sql = translate(f"SELECT id FROM cat.circles WHERE 1 = {call}", CATALOG).sql
    assert ("_healpix_29" in sql) == index, sql
    return {row[0] for row in con.sql(sql).fetchall()}


def expected_rows(predicate, region: Region, ra, dec, r) -> tuple[set[int], set[int]]:
    """(rows where the predicate holds, rows too close to call), from datalab.sky."""
    holds, unclear = set(), set()
    for i, (a, d, radius) in enumerate(zip(np.mod(ra, 360.0), dec, r, strict=True)):
        small = predicate(Circle(a, d, max(radius * (1 - 1e-6) - 1e-10, 0.0)), region)
        large = predicate(Circle(a, d, min(radius * (1 + 1e-6) + 1e-10, 180.0)), region)
        if small != large:
            unclear.add(i)
        elif small:
            holds.add(i)
    return holds, unclear


def random_circles(region, size: float, seed: int):
    rng = np.random.default_rng(seed)
    r = np.minimum(size * 10.0 ** rng.uniform(-1.5, 0.7, ROWS), 179.0)
    reach = min(math.degrees(region.size) * 1.5 + size * 3.0, 180.0)
    ra, dec = points_in_cap(*region.centre, reach, ROWS, rng)
    return ra, dec, r


sizes = st.floats(math.log10(0.01 / 3600.0), math.log10(40.0)).map(lambda x: 10.0**x)


@REGION_SETTINGS
@given(data=st.data(), ra0=ras, dec0=decs, size=sizes, seed=seeds)
def test_circle_columns_against_constant_regions(con, data, ra0, dec0, size, seed):
    region = data.draw(regions(ra0 % 360.0, dec0, size))
    ra, dec, r = random_circles(region, size, seed)
    load_circles(con, ra, dec, r)
    for call, predicate in FORMS.values():
        query = call.format(circle="CIRCLE('ICRS', ra, dec, r)", region=region.adql)
        found = ids(con, query, index=False)
        holds, unclear = expected_rows(predicate, region.shape, ra, dec, r)
        assert found - unclear == holds - unclear, (query, sorted((found ^ holds) - unclear))


@REGION_SETTINGS
@given(data=st.data(), ra0=ras, dec0=decs, size=sizes, seed=seeds)
def test_index_path_equals_brute_force(con, data, ra0, dec0, size, seed):
    region = data.draw(regions(ra0 % 360.0, dec0, size))
    ra, dec, _ = random_circles(region, size, seed)
    radius = size * 10.0 ** data.draw(st.floats(-1.5, 0.7))
    radius = min(radius, 179.0)
    load_circles(con, ra, dec, np.full(len(ra), radius))
    indexed = not isinstance(region.shape, Circle)  # two circles: a plain distance test
    for call, predicate in FORMS.values():
        fast = call.format(circle=f"CIRCLE(ra, dec, {radius!r})", region=region.adql)
        slow = call.format(circle=f"CIRCLE(ra + 0, dec + 0, {radius!r})", region=region.adql)
        found = ids(con, fast, index=indexed)
        assert found == ids(con, slow, index=False), fast
        holds, unclear = expected_rows(predicate, region.shape, ra, dec, np.full(len(ra), radius))
        assert found - unclear == holds - unclear, (fast, sorted((found ^ holds) - unclear))


STANDARD = "POLYGON(20.0, -15.0, 20.0, -5.0, 10.0, -5.0, 10.0, -15.0)"


@pytest.mark.parametrize(
    ("call", "value"),
    [
        # ADQL 2.1 section 4.2.14's example: about 5 degrees apart.
        (f"INTERSECTS(CIRCLE('ICRS', 25.4, -20.0, 1), {STANDARD})", 0),
        (f"INTERSECTS(CIRCLE(25.4, -20.0, 7.3), {STANDARD})", 1),
        (f"INTERSECTS({STANDARD}, BOX(25.0, -10.0, 10.2, 2.0))", 1),
        (f"INTERSECTS(BOX(0, 0, 4, 4), POLYGON(350, -5, 10, -5, 10, 5, 350, 5))", 1),
        (f"CONTAINS(CIRCLE(15.0, -10.0, 4.9), {STANDARD})", 1),
        (f"CONTAINS(CIRCLE(15.0, -10.0, 5.1), {STANDARD})", 0),
        (f"CONTAINS({STANDARD}, CIRCLE(15.0, -10.0, 7.1))", 1),
        (f"CONTAINS({STANDARD}, BOX(15.0, -10.0, 10.0, 10.0))", 0),
        (f"CONTAINS({STANDARD}, BOX(15.0, -10.0, 10.2, 10.2))", 1),
        # Caps wider than a hemisphere: the antipode (15, -20) is 4.9 degrees away.
        (f"CONTAINS({STANDARD}, CIRCLE(195.0, 20.0, 176.0))", 1),
        (f"CONTAINS({STANDARD}, CIRCLE(195.0, 20.0, 174.0))", 0),
        ("CONTAINS(CIRCLE(0, 90, 1), BOX(123, 90, 3, 3))", 1),
        ("INTERSECTS(CIRCLE(0, 0, 1), CIRCLE(2, 0, 1))", 1),
    ],
)
def test_constant_regions_are_decided_while_compiling(con, call, value) -> None:
    load_circles(con, np.array([1.0]), np.array([2.0]), np.array([0.5]))
    sql = translate(f"SELECT {call} AS v FROM cat.circles", CATALOG).sql
    assert f"SELECT {value} AS" in sql, sql
    assert con.sql(sql).fetchall() == [(value,)]
    where = translate(f"SELECT id FROM cat.circles WHERE {call} = 1", CATALOG).sql
    assert len(con.sql(where).fetchall()) == value


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        ("INTERSECTS(CIRCLE(1, 2, 3), POLYGON(ra, dec, 10, 10, 20, 10))", "not supported"),
        ("CONTAINS(BOX(ra, dec, 1, 1), CIRCLE(1, 2, 3))", "BOX or POLYGON must be constant"),
        ("INTERSECTS(BOX(ra, dec, 1, 1), POLYGON(1, 2, 3, 4, 5, 7))", "not supported"),
        ("CONTAINS(CIRCLE(1, 2, 3), POINT(1, 2))", "POINT holds no region"),
        ("CONTAINS(BOX(0, 0, 180, 180), BOX(0, 0, 180, 180))", "half the sky"),
    ],
)
def test_unsupported_combinations_are_refused(call, fragment) -> None:
    with pytest.raises(ADQLError) as caught:
        translate(f"SELECT {call} FROM cat.circles", CATALOG)
    assert fragment in caught.value.message
    assert caught.value.line is not None
