"""The schema browser over HTTP, and the starter queries it hands to the query page."""

from __future__ import annotations

import html
import uuid
from collections.abc import Callable

import httpx
import pytest

from datalab.adql import TableCatalog, translate
from datalab.catalog.metadata import ColumnInfo, TableInfo
from datalab.web.portal.tables import starter_query
from tests.portal.conftest import PortalSite, csrf_of

Sessions = Callable[..., httpx.Client]
HOSTILE = '<script>alert("x")</script>'


def _table(
    names: list[str], *, principal: set[str] | None = None, position: bool = True
) -> TableInfo:
    columns = tuple(
        ColumnInfo(n, "double", principal=principal is None or n in principal) for n in names
    )
    return TableInfo(
        "cat",
        "stars",
        "test",
        columns,
        ra_column="ra" if position else None,
        dec_column="dec" if position else None,
    )


# -- starter queries ---------------------------------------------------------------------


def test_starter_query_lists_principal_columns_and_a_cone_on_the_table_position() -> None:
    table = _table(
        ["id", "ra", "dec", "mag", "flux", "size"], principal={"id", "ra", "dec", "size"}
    )
    text = starter_query(table)
    assert text.startswith('SELECT TOP 100 id, ra, dec, "size"\nFROM cat.stars\n')
    assert "-- WHERE 1 = CONTAINS(POINT(ra, dec), CIRCLE(56.75, 24.12, 0.5))" in text
    catalog = TableCatalog([table])
    assert translate(text, catalog).columns[3].name == "size"
    # Removing the comment marks turns the cone search on, and it compiles.
    cone = text.replace("-- WHERE", "WHERE")
    assert "RADIANS" in translate(cone, catalog).sql


def test_starter_query_of_a_wide_table_without_position_selects_star() -> None:
    table = _table([f"c{i}" for i in range(40)], position=False)
    assert starter_query(table) == "SELECT TOP 100 *\nFROM cat.stars\n"


# -- the pages ------------------------------------------------------------------------------


def test_anonymous_visitors_see_the_public_catalogs(portal: PortalSite) -> None:
    answer = httpx.get(f"{portal.url}/portal/tables")
    assert answer.status_code == 200
    text = answer.text
    for name in (
        "gaia_dr3.gaia_source",
        "hipparcos.hip2",
        "openngc.objects",
        "ls_mock.tractor",
        "ivoa.obscore",
        "tap_schema.columns",
    ):
        assert f'href="/portal/tables/{name}"' in text
    assert 'id="schema-mydb"' not in text
    assert "Log in</a> to see your own myDB tables" in text


def test_a_table_page_documents_every_column(portal: PortalSite) -> None:
    answer = httpx.get(f"{portal.url}/portal/tables/gaia_dr3.gaia_source")
    assert answer.status_code == 200
    text = answer.text
    row = text.split('id="column-phot_g_mean_mag"', 1)[1].split("</tr>", 1)[0]
    assert ">float<" in row and ">mag<" in row and "phot.mag;em.opt" in row
    assert "G-band mean magnitude" in row
    assert 'aria-current="page">gaia_source<' in text
    assert '<input type="hidden" name="table" value="gaia_dr3.gaia_source">' in text
    assert "Query this table" in text
    rows = text.split('id="table-facts"', 1)[1].split("</dl>", 1)[0]
    assert any(ch.isdigit() for ch in rows)
    starter = text.split('id="starter-query">', 1)[1].split("</code>", 1)[0]
    assert "FROM gaia_dr3.gaia_source" in html.unescape(starter)


@pytest.mark.parametrize(
    "name", ["nosuch.table", "gaia_dr3", "tap_schema.nothing", HOSTILE.replace("/", ""), "x" * 500]
)
def test_unknown_tables_are_an_html_404(portal: PortalSite, name: str) -> None:
    answer = httpx.get(f"{portal.url}/portal/tables/{name}")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "<script>alert" not in answer.text
    assert "Traceback" not in answer.text


def _save_table(client: httpx.Client, name: str) -> None:
    csrf = {"X-CSRF-Token": csrf_of(client)}
    job = client.post(
        "/portal/api/queries",
        json={"query": "SELECT TOP 3 hip, ra, dec FROM hipparcos.hip2"},
        headers=csrf,
    ).json()
    while not job["final"]:
        job = client.get(f"/portal/api/queries/{job['id']}", params={"wait": 10}).json()
    saved = client.post(
        f"/portal/api/queries/{job['id']}/save",
        json={"target": "mydb", "name": name, "replace": True},
        headers=csrf,
    )
    assert saved.status_code == 200, saved.text


def test_mydb_tables_are_shown_to_their_owner_only(portal: PortalSite, sessions: Sessions) -> None:
    owner = sessions("demo00")
    name = f"mine_{uuid.uuid4().hex[:8]}"
    _save_table(owner, name)
    listing = owner.get("/portal/tables").text
    assert f'href="/portal/tables/mydb.{name}"' in listing and 'id="schema-mydb"' in listing
    detail = owner.get(f"/portal/tables/mydb.{name}")
    assert detail.status_code == 200 and 'id="column-hip"' in detail.text
    starter = owner.get("/portal/query", params={"table": f"mydb.{name}"})
    assert f"FROM mydb.{name}" in starter.text

    other = sessions("demo01")
    assert f"mydb.{name}" not in other.get("/portal/tables").text
    assert other.get(f"/portal/tables/mydb.{name}").status_code == 404
    assert other.get("/portal/query", params={"table": f"mydb.{name}"}).status_code == 404
    assert httpx.get(f"{portal.url}/portal/tables/mydb.{name}").status_code == 404


def test_query_page_starts_from_the_table_or_the_text_given(sessions: Sessions) -> None:
    client = sessions()
    answer = client.get("/portal/query", params={"table": "GAIA_DR3.gaia_source"})
    assert answer.status_code == 200
    editor = answer.text.split('id="adql"', 1)[1].split("</textarea>", 1)[0]
    text = html.unescape(editor.split(">", 1)[1])
    assert text.startswith("SELECT TOP 100 source_id, ra, dec")
    assert "-- WHERE 1 = CONTAINS(POINT(ra, dec), CIRCLE(" in text
    given = client.get("/portal/query", params={"q": f"SELECT '{HOSTILE}' FROM x"})
    assert given.status_code == 200
    assert HOSTILE not in given.text
    assert html.escape(HOSTILE, quote=False) in given.text or "&lt;script&gt;" in given.text
    assert client.get("/portal/query", params={"table": "no.such"}).status_code == 404
