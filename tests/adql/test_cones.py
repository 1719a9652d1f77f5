"""Cone searches the compiler recognises, for the row-copy path (datalab.adql.cones).

A recognised query carries a ConeSearch with its numbers; anything that is not a
plain cone search of a catalog table's own position carries none, so that it runs on
the engine. A reused compilation binds its new numbers, and refuses to when they
change what the query means.
"""

from __future__ import annotations

import pytest

from datalab.adql import ADQLError, TableCatalog, translate
from datalab.adql.cones import ConeSearch
from tests.adql.test_templates import table


PTS = table("cat", "pts")
CATALOG = TableCatalog([PTS, table("cat", "plain", indexed=False)])
CONE = "1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 10.5, -20, 0.25))"


def cone_of(
    text: str, language: str = "ADQL", catalog: TableCatalog = CATALOG
) -> ConeSearch | None:
    return translate(text, catalog, language=language).cone  # type: ignore[arg-type]


def test_columns_top_and_numbers() -> None:
    cone = cone_of(f"SELECT TOP 7 id, mag AS m FROM cat.pts WHERE {CONE}")
    assert cone == ConeSearch(
        table="cat.pts",
        ra_column="ra",
        dec_column="dec",
        columns=(("id", "id"), ("m", "mag")),
        count=None,
        limit=7,
        ra=10.5,
        dec=-20.0,
        radius=0.25,
    )


def test_star_and_count() -> None:
    star = cone_of(f"SELECT * FROM cat.pts WHERE {CONE}")
    assert star is not None and [c for _, c in star.columns] == ["id", "ra", "dec", "mag"]
    count = cone_of(f"SELECT COUNT(*) AS n FROM cat.pts WHERE {CONE}")
    assert count is not None and count.count == "n" and count.columns == ()


@pytest.mark.parametrize(
    "where",
    [
        "CONTAINS(POINT(ra, dec), CIRCLE(10.5, -20, 0.25)) = 1",
        "1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE(POINT('ICRS', 10.5, -20), 0.25))",
    ],
)
def test_other_spellings(where: str) -> None:
    cone = cone_of(f"SELECT id FROM cat.pts WHERE {where}")
    assert cone is not None and (cone.ra, cone.dec, cone.radius) == (10.5, -20.0, 0.25)


def test_q3c_radial_query() -> None:
    cone = cone_of(
        "SELECT id FROM cat.pts WHERE q3c_radial_query(ra, dec, 10.5, -20, 0.25)", "SQL"
    )
    assert cone is not None and (cone.ra, cone.dec, cone.radius) == (10.5, -20.0, 0.25)


@pytest.mark.parametrize(
    "text",
    [
        f"SELECT id FROM cat.pts WHERE {CONE} AND mag < 20",
        f"SELECT id FROM cat.pts WHERE {CONE} ORDER BY mag",
        f"SELECT DISTINCT id FROM cat.pts WHERE {CONE}",
        f"SELECT id + 1 AS x FROM cat.pts WHERE {CONE}",
        f"SELECT COUNT(DISTINCT id) FROM cat.pts WHERE {CONE}",
        f"SELECT id, COUNT(*) FROM cat.pts WHERE {CONE} GROUP BY id",
        f"SELECT id FROM cat.pts WHERE {CONE} OFFSET 3",
        f"SELECT id FROM cat.plain WHERE {CONE}",
        "SELECT id FROM cat.pts WHERE 0 = CONTAINS(POINT(ra, dec), CIRCLE(10.5, -20, 0.25))",
        "SELECT id FROM cat.pts WHERE 1 = CONTAINS(POINT(dec, ra), CIRCLE(10.5, -20, 0.25))",
        "SELECT id FROM cat.pts WHERE 1 = CONTAINS(POINT(ra, dec), CIRCLE(10.5, -20, 1/4))",
        "SELECT id FROM cat.pts WHERE 1 = INTERSECTS(POINT(ra, dec), CIRCLE(10.5, -20, 0.25))",
        "SELECT id FROM cat.pts WHERE 1 = CONTAINS(POINT(ra, dec), BOX(10.5, -20, 1, 1))",
        "SELECT a.id FROM cat.pts AS a JOIN cat.pts AS b ON a.id = b.id"
        " WHERE 1 = CONTAINS(POINT(a.ra, a.dec), CIRCLE(10.5, -20, 0.25))",
        f"SELECT id FROM (SELECT * FROM cat.pts) AS s WHERE {CONE}",
    ],
)
def test_not_plain_cone_searches(text: str) -> None:
    assert cone_of(text) is None


def test_a_users_table_under_another_engine_name_has_none() -> None:
    catalog = TableCatalog([PTS], physical={"cat.pts": ("mydb", "u1", "pts")})
    assert cone_of(f"SELECT id FROM cat.pts WHERE {CONE}", catalog=catalog) is None


def test_reuse_binds_new_numbers_and_makes_sql_on_demand() -> None:
    first = translate(f"SELECT id FROM cat.pts WHERE {CONE}", CATALOG)
    text = (
        "SELECT id FROM cat.pts WHERE 1 = CONTAINS(POINT('ICRS', ra, dec),"
        " CIRCLE('ICRS', 359.9, 89.5, 0.01))"
    )
    second = translate(text, CATALOG)
    assert first.cone is not None and second.cone is not None
    assert (second.cone.ra, second.cone.dec, second.cone.radius) == (359.9, 89.5, 0.01)
    assert "359.9" in second.sql and "89.5" in second.sql


def test_reuse_with_a_changed_comparison_is_not_a_cone() -> None:
    translate(f"SELECT id FROM cat.pts WHERE {CONE}", CATALOG)
    flipped = translate("SELECT id FROM cat.pts WHERE " + CONE.replace("1 =", "0 ="), CATALOG)
    assert flipped.cone is None
    assert "NOT" in flipped.sql


def test_refused_numbers_still_raise_on_reuse() -> None:
    translate(f"SELECT id FROM cat.pts WHERE {CONE}", CATALOG)
    with pytest.raises(ADQLError, match="dec"):
        translate("SELECT id FROM cat.pts WHERE " + CONE.replace("-20", "-95"), CATALOG)
    with pytest.raises(ADQLError, match="radius"):
        translate("SELECT id FROM cat.pts WHERE " + CONE.replace("0.25", "-1"), CATALOG)
