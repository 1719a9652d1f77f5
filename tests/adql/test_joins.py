"""Positional joins compile to a zone equi-join and return astropy's pairs exactly."""

from __future__ import annotations

import astropy.units as u
import duckdb
import numpy as np
import pyarrow as pa
import pytest
from astropy.coordinates import SkyCoord, search_around_sky
from hypothesis import given, settings
from hypothesis import strategies as st

from datalab.adql import TableCatalog, translate
from datalab.catalog.metadata import ColumnInfo, TableInfo
from datalab.sky import healpix_index
from tests.sky.support import SKY_SETTINGS, points_in_cap


def table_info(name: str, nrows: int) -> TableInfo:
    return TableInfo(
        schema="cat",
        name=name,
        description=None,
        columns=(
            ColumnInfo("id", "long"),
            ColumnInfo("ra", "double", unit="deg"),
            ColumnInfo("dec", "double", unit="deg"),
        ),
        ra_column="ra",
        dec_column="dec",
        nrows=nrows,
        healpix_indexed=True,
    )


def load(con, name: str, ra: np.ndarray, dec: np.ndarray) -> None:
    ra = np.mod(ra, 360.0)
    data = pa.table({"id": np.arange(len(ra)), "ra": ra, "dec": dec,
                     "_healpix_29": healpix_index(ra, dec)})
    con.register("incoming", data)
    con.sql("CREATE SCHEMA IF NOT EXISTS cat")
    con.sql(f"CREATE OR REPLACE TABLE cat.{name} AS SELECT * FROM incoming ORDER BY _healpix_29")
    con.unregister("incoming")


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def astropy_pairs(a, b, radius: float) -> set[tuple[int, int]]:
    ca = SkyCoord(a[0] * u.deg, a[1] * u.deg)
    cb = SkyCoord(b[0] * u.deg, b[1] * u.deg)
    ia, ib, sep, _ = search_around_sky(ca, cb, radius * u.deg)
    # Pairs at the boundary to rounding are ambiguous: leave them to either answer.
    return {(int(i), int(j)) for i, j, s in zip(ia, ib, sep.deg, strict=True)
            if s < radius * (1 - 1e-9)}


def boundary_pairs(a, b, radius: float) -> set[tuple[int, int]]:
    ca = SkyCoord(a[0] * u.deg, a[1] * u.deg)
    cb = SkyCoord(b[0] * u.deg, b[1] * u.deg)
    ia, ib, sep, _ = search_around_sky(ca, cb, radius * (1 + 1e-9) * u.deg)
    return {(int(i), int(j)) for i, j, s in zip(ia, ib, sep.deg, strict=True)
            if s >= radius * (1 - 1e-9)}


FORMS = {
    "distance-on": "SELECT a.id, b.id FROM cat.a AS a JOIN cat.b AS b"
    " ON DISTANCE(POINT('ICRS', a.ra, a.dec), POINT('ICRS', b.ra, b.dec)) < {r}",
    "distance-where": "SELECT a.id, b.id FROM cat.a AS a, cat.b AS b"
    " WHERE DISTANCE(a.ra, a.dec, b.ra, b.dec) <= {r}",
    "contains": "SELECT a.id, b.id FROM cat.a a JOIN cat.b b"
    " ON 1 = CONTAINS(POINT('ICRS', b.ra, b.dec), CIRCLE('ICRS', a.ra, a.dec, {r}))",
}


def run_pairs(con, query: str, catalog: TableCatalog, language: str = "ADQL"):
    sql = translate(query, catalog, language=language).sql  # type: ignore[arg-type]
    assert "_dl_cell" in sql, sql
    return {(int(x), int(y)) for x, y in con.sql(sql).fetchall()}


@settings(SKY_SETTINGS, max_examples=15)
@given(
    ra0=st.sampled_from([0.0, 359.99, 120.0, 45.0]),
    dec0=st.sampled_from([0.0, 89.9, -89.95, 60.0, -30.0]),
    radius_arcsec=st.sampled_from([0.5, 1.0, 5.0, 60.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_join_pairs_equal_search_around_sky(con, ra0, dec0, radius_arcsec, seed):
    rng = np.random.default_rng(seed)
    ra_b, dec_b = points_in_cap(ra0, dec0, 0.5, 3000, rng)
    # Perturbed copies of some b sources (within ~2 radii), plus unrelated points.
    picks = rng.choice(len(ra_b), 800, replace=False)
    offsets = SkyCoord(ra_b[picks] * u.deg, dec_b[picks] * u.deg).directional_offset_by(
        rng.uniform(0, 360, 800) * u.deg, rng.uniform(0, 2 * radius_arcsec, 800) * u.arcsec
    )
    extra_ra, extra_dec = points_in_cap(ra0, dec0, 0.5, 400, rng)
    ra_a = np.concatenate([offsets.ra.deg, extra_ra])
    dec_a = np.concatenate([offsets.dec.deg, extra_dec])
    load(con, "a", ra_a, dec_a)
    load(con, "b", ra_b, dec_b)
    catalog = TableCatalog([table_info("a", len(ra_a)), table_info("b", len(ra_b))])
    a = (np.mod(ra_a, 360), dec_a)
    b = (np.mod(ra_b, 360), dec_b)
    radius = radius_arcsec / 3600.0
    expected = astropy_pairs(a, b, radius)
    unsure = boundary_pairs(a, b, radius)
    assert expected, "the draw should produce matches"
    for form in FORMS.values():
        found = run_pairs(con, form.format(r=repr(radius)), catalog)
        assert expected <= found
        assert found - expected <= unsure
    sql_form = ("SELECT a.id, b.id FROM cat.a a, cat.b b"
                f" WHERE q3c_join(a.ra, a.dec, b.ra, b.dec, {radius!r})")
    found = run_pairs(con, sql_form, catalog, "SQL")
    assert expected <= found and found - expected <= unsure


def test_left_join_keeps_unmatched_rows_once(con):
    rng = np.random.default_rng(7)
    ra_b, dec_b = points_in_cap(10.0, 0.0, 0.2, 2000, rng)
    ra_a, dec_a = points_in_cap(10.0, 0.0, 0.2, 500, rng)
    load(con, "a", ra_a, dec_a)
    load(con, "b", ra_b, dec_b)
    # b is declared smaller than a, so the rewrite would like to repeat it; in a LEFT
    # JOIN b is the side that may be repeated, a is preserved.
    catalog = TableCatalog([table_info("a", 10), table_info("b", 5)])
    radius = 20 / 3600
    query = ("SELECT a.id, b.id FROM cat.a AS a LEFT JOIN cat.b AS b"
             f" ON DISTANCE(POINT(a.ra, a.dec), POINT(b.ra, b.dec)) < {radius!r}")
    sql = translate(query, catalog).sql
    rows = con.sql(sql).fetchall()
    naive = con.sql(
        "SELECT a.id, b.id FROM cat.a a LEFT JOIN cat.b b ON"
        " degrees(acos(least(1, sin(radians(a.dec))*sin(radians(b.dec)) +"
        " cos(radians(a.dec))*cos(radians(b.dec))*cos(radians(a.ra - b.ra))))) < "
        f"{radius!r}"
    ).fetchall()
    assert sorted(rows, key=str) == sorted(naive, key=str)
    assert len({r[0] for r in rows}) == 500


def test_join_on_non_constant_radius_is_not_rewritten(con):
    catalog = TableCatalog([table_info("a", 10), table_info("b", 5)])
    sql = translate(
        "SELECT a.id FROM cat.a a JOIN cat.b b"
        " ON DISTANCE(POINT(a.ra, a.dec), POINT(b.ra, b.dec)) < a.dec",
        catalog,
    ).sql
    assert "_dl_cell" not in sql
