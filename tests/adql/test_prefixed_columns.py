"""A column served with a per-request prefix: every reference reads ``prefix || column``."""

from __future__ import annotations

import duckdb
import pytest

from datalab.adql import ADQLError, TableCatalog, translate
from datalab.catalog.metadata import ColumnInfo, TableInfo

PREFIX = "https://data.example:8443"
URL = ColumnInfo("access_url", "char", "*", description="Link to the file", ucd="meta.ref.url")
OBSCORE = TableInfo(
    schema="ivoa",
    name="obscore",
    description=None,
    columns=(ColumnInfo("obs_id", "char", "*"), URL, ColumnInfo("n", "int")),
)
OTHER = TableInfo(
    schema="cat",
    name="files",
    description=None,
    columns=(ColumnInfo("access_url", "char", "*"),),
)
ROWS = [("a", "/images/a", 1), ("b", "/images/b", 2), ("c", None, 3)]


def catalog(prefix: str = PREFIX) -> TableCatalog:
    return TableCatalog([OBSCORE, OTHER], prefixes={("ivoa", "obscore", "access_url"): prefix})


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    connection.sql("CREATE SCHEMA ivoa")
    connection.sql("CREATE TABLE ivoa.obscore (obs_id VARCHAR, access_url VARCHAR, n INT)")
    connection.executemany("INSERT INTO ivoa.obscore VALUES (?, ?, ?)", ROWS)
    connection.sql("CREATE SCHEMA cat")
    connection.sql("CREATE TABLE cat.files (access_url VARCHAR)")
    connection.sql("INSERT INTO cat.files VALUES ('/images/a')")
    yield connection
    connection.close()


def run(con, query: str, cat: TableCatalog | None = None) -> list[tuple]:
    return con.sql(translate(query, cat or catalog()).sql).fetchall()


def test_select_serves_the_prefixed_value(con) -> None:
    rows = run(con, "SELECT obs_id, access_url FROM ivoa.obscore ORDER BY obs_id")
    assert rows == [("a", PREFIX + "/images/a"), ("b", PREFIX + "/images/b"), ("c", None)]


def test_result_metadata_is_the_column_s(con) -> None:
    translation = translate("SELECT access_url FROM ivoa.obscore", catalog())
    (column,) = translation.columns
    assert (column.name, column.datatype, column.arraysize, column.ucd, column.description) == (
        "access_url", "char", "*", "meta.ref.url", "Link to the file"
    )
    assert con.sql(translation.sql).columns == ["access_url"]


def test_select_star(con) -> None:
    translation = translate("SELECT * FROM ivoa.obscore AS o ORDER BY o.n", catalog())
    relation = con.sql(translation.sql)
    assert relation.columns == ["obs_id", "access_url", "n"]
    assert [c.name for c in translation.columns] == ["obs_id", "access_url", "n"]
    assert relation.fetchall()[0] == ("a", PREFIX + "/images/a", 1)


def test_where_compares_the_prefixed_value(con) -> None:
    assert run(con, f"SELECT obs_id FROM ivoa.obscore WHERE access_url LIKE '{PREFIX}/%b'") == [
        ("b",)
    ]
    assert run(con, "SELECT obs_id FROM ivoa.obscore WHERE access_url = '/images/a'") == []
    assert run(
        con, f"SELECT o.obs_id FROM ivoa.obscore AS o WHERE o.access_url = '{PREFIX}/images/a'"
    ) == [("a",)]


def test_inside_functions(con) -> None:
    rows = run(con, "SELECT LOWER(access_url), UPPER(access_url) FROM ivoa.obscore WHERE n = 1")
    assert rows == [((PREFIX + "/images/a").lower(), (PREFIX + "/images/a").upper())]
    rows = run(con, "SELECT access_url || '?x' AS u FROM ivoa.obscore WHERE n = 2")
    assert rows == [(PREFIX + "/images/b?x",)]


def test_subquery_passes_it_on_once(con) -> None:
    rows = run(
        con,
        "SELECT s.u FROM (SELECT access_url AS u, n FROM ivoa.obscore) AS s "
        "WHERE s.u LIKE '%/images/a' ORDER BY s.n",
    )
    assert rows == [(PREFIX + "/images/a",)]
    rows = run(
        con,
        "SELECT obs_id FROM ivoa.obscore WHERE access_url IN "
        "(SELECT access_url FROM ivoa.obscore WHERE n = 2)",
    )
    assert rows == [("b",)]


def test_cte(con) -> None:
    rows = run(
        con,
        "WITH c AS (SELECT obs_id, access_url FROM ivoa.obscore WHERE n < 3) "
        "SELECT access_url FROM c WHERE access_url LIKE 'https://%' ORDER BY obs_id",
    )
    assert rows == [(PREFIX + "/images/a",), (PREFIX + "/images/b",)]


def test_union(con) -> None:
    rows = run(
        con,
        "SELECT access_url FROM ivoa.obscore WHERE n = 1 "
        "UNION ALL SELECT access_url FROM cat.files",
    )
    # Only the prefixed table's column is served with the prefix.
    assert sorted(rows) == [("/images/a",), (PREFIX + "/images/a",)]


def test_group_by_and_order_by(con) -> None:
    rows = run(
        con,
        "SELECT access_url, COUNT(*) AS c FROM ivoa.obscore WHERE n < 3 "
        "GROUP BY access_url ORDER BY access_url DESC",
    )
    assert rows == [(PREFIX + "/images/b", 1), (PREFIX + "/images/a", 1)]
    rows = run(con, "SELECT DISTINCT access_url FROM ivoa.obscore WHERE n < 3 ORDER BY access_url")
    assert rows == [(PREFIX + "/images/a",), (PREFIX + "/images/b",)]


def test_correlated_subquery(con) -> None:
    rows = run(
        con,
        "SELECT a.obs_id FROM ivoa.obscore AS a WHERE EXISTS "
        "(SELECT 1 FROM ivoa.obscore AS b WHERE b.access_url = a.access_url AND b.n = 2)",
    )
    assert rows == [("b",)]


def test_prefix_is_a_quoted_literal(con) -> None:
    nasty = "http://x/'; DROP TABLE ivoa.obscore; --"
    rows = run(con, "SELECT access_url FROM ivoa.obscore WHERE n = 1", catalog(nasty))
    assert rows == [(nasty + "/images/a",)]
    assert con.sql("SELECT count(*) FROM ivoa.obscore").fetchall() == [(3,)]


def test_without_prefixes_nothing_changes(con) -> None:
    plain = TableCatalog([OBSCORE, OTHER])
    assert run(con, "SELECT access_url FROM ivoa.obscore WHERE n = 1", plain) == [("/images/a",)]


def test_names_are_still_checked() -> None:
    with pytest.raises(ADQLError, match="access_ur"):
        translate("SELECT access_ur FROM ivoa.obscore", catalog())
