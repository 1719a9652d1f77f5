"""The myDB page in a real browser: a table saved from a query appears with its rows and
column metadata, is renamed, opens its starter query, is dropped; files are imported
with upload progress."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from astropy.table import Table
from playwright.sync_api import Page, expect

from tests.client.conftest import PASSWORDS
from tests.portal.conftest import PortalSite, login


def rest_token(portal: PortalSite, user: str) -> str:
    answer = httpx.get(f"{portal.url}/auth/login", params={"username": user},
                       headers={"X-DL-Password": PASSWORDS[user]}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.text.strip()


def save_table(portal: PortalSite, token: str, name: str, rows: int) -> None:
    """A myDB table made as users make them: a query result saved with out=mydb://."""
    answer = httpx.get(
        f"{portal.url}/query/query",
        params={"adql": f"SELECT TOP {rows} source_id, ra, dec, phot_g_mean_mag "
                        "FROM gaia_dr3.gaia_source ORDER BY source_id",
                "out": f"mydb://{name}"},
        headers={"X-DL-AuthToken": token},
        timeout=120,
    )
    assert answer.status_code == 200, answer.text


def rest_tables(portal: PortalSite, token: str) -> list[str]:
    answer = httpx.get(f"{portal.url}/query/list", headers={"X-DL-AuthToken": token}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.text.split()


def fresh(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def test_saved_table_is_listed_renamed_queried_and_dropped(page: Page, portal: PortalSite) -> None:
    token = rest_token(portal, "demo00")
    first, other, renamed = fresh("pw_a"), fresh("pw_b"), fresh("pw_c")
    save_table(portal, token, first, 25)
    save_table(portal, token, other, 3)
    login(page)
    page.goto("/portal/mydb")

    card = page.locator(f"#table-{first}")
    expect(card.get_by_role("heading")).to_have_text(f"mydb.{first}")
    expect(card.locator(".rows")).to_have_text("25 rows")
    card.get_by_text("Columns (4)").click()
    magnitude = card.locator("table.columns tr", has_text="phot_g_mean_mag")
    expect(magnitude).to_contain_text("mag")
    expect(magnitude).to_contain_text("G-band mean magnitude")
    expect(card.get_by_role("row", name=re.compile(r"^source_id "))).to_contain_text("long")

    # A clash is refused with a clear message, then a free name is taken.
    card.get_by_role("button", name=f"Rename {first}").click()
    field = page.get_by_label(f"New name for {first}")
    expect(field).to_be_focused()
    field.fill(other)
    card.get_by_role("button", name="Save name").click()
    expect(card.locator(".status")).to_contain_text(f"you already have a myDB table named {other}")
    field.fill("bad name!")
    card.get_by_role("button", name="Save name").click()
    expect(card.locator(".status")).to_contain_text("Use a letter")
    field.fill(renamed)
    card.get_by_role("button", name="Save name").click()
    expect(page.locator("#mydb-status")).to_have_text(f"Renamed {first} to {renamed}.")
    expect(page.locator(f"#table-{first}")).to_have_count(0)
    card = page.locator(f"#table-{renamed}")
    expect(card.locator(".rows")).to_have_text("25 rows")
    assert renamed in rest_tables(portal, token) and first not in rest_tables(portal, token)

    # The starter query names the table as ADQL does, and it runs.
    link = card.get_by_role("link", name=f"Query {renamed}")
    href = link.get_attribute("href") or ""
    assert urlsplit(href).path == "/portal/query"
    starter = parse_qs(urlsplit(href).query)["q"][0]
    assert starter == f"SELECT TOP 100 * FROM mydb.{renamed}"
    ran = httpx.get(f"{portal.url}/query/query", params={"adql": starter, "ofmt": "csv"},
                    headers={"X-DL-AuthToken": token}, timeout=60)
    assert ran.status_code == 200, ran.text
    assert len(ran.text.strip().splitlines()) == 1 + 25
    link.click()
    page.wait_for_url("**/portal/query?q=*")
    assert parse_qs(urlsplit(page.url).query)["q"] == [starter]
    page.goto("/portal/mydb")

    # Dropping asks first; keeping it changes nothing.
    card = page.locator(f"#table-{renamed}")
    card.get_by_role("button", name=f"Drop {renamed}").click()
    confirm = card.get_by_role("group", name=f"Confirm dropping {renamed}")
    expect(confirm).to_contain_text(f"Drop mydb.{renamed} and its 25 rows?")
    keep = confirm.get_by_role("button", name="Keep it")
    expect(keep).to_be_focused()
    keep.click()
    expect(confirm).to_have_count(0)
    assert renamed in rest_tables(portal, token)
    card.get_by_role("button", name=f"Drop {renamed}").click()
    card.get_by_role("button", name=f"Drop {renamed} now").click()
    expect(page.locator("#mydb-status")).to_have_text(f"Dropped {renamed}.")
    expect(page.locator(f"#table-{renamed}")).to_have_count(0)
    assert renamed not in rest_tables(portal, token)
    expect(page.locator(f"#table-{other}")).to_be_visible()
    httpx.get(f"{portal.url}/query/delete", params={"table": other},
              headers={"X-DL-AuthToken": token}, timeout=30)


def test_import_a_csv_with_progress_and_a_votable_with_units(
    page: Page, portal: PortalSite, tmp_path: Path
) -> None:
    stem = fresh("stars")
    csv = tmp_path / f"{stem}.csv"
    lines = ["ra,dec,mag,name"] + [
        f"{56 + i / 1000:.4f},{24 + i / 2000:.4f},{8 + (i % 70) / 10:.1f},star {i}" for i in range(20_000)
    ]
    csv.write_text("\n".join(lines) + "\n")
    login(page)
    page.goto("/portal/mydb")
    page.get_by_label("File (CSV, TSV, Parquet, FITS or VOTable)").set_input_files(str(csv))
    expect(page.get_by_label("Table name")).to_have_value(stem)
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#import-status")).to_have_text(f"Imported 20,000 rows into mydb.{stem}.")
    expect(page.locator("#import-progress")).to_have_js_property("value", 1)
    expect(page.locator(f"#table-{stem} .rows")).to_have_text("20,000 rows")

    # The same name again is refused before the file is sent, unless replacing.
    page.get_by_label("File (CSV, TSV, Parquet, FITS or VOTable)").set_input_files(str(csv))
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#import-status")).to_contain_text(f"already have a myDB table named {stem}")

    vot = tmp_path / "with_units.vot"
    table = Table({"ra": [56.75, 56.8], "vmag": [2.87, 3.7]})
    table["ra"].unit = "deg"
    table["vmag"].unit = "mag"
    table["vmag"].description = "Visual magnitude </script><b>of the star</b>"
    table.write(vot, format="votable")
    votable_name = fresh("vot")
    page.get_by_label("File (CSV, TSV, Parquet, FITS or VOTable)").set_input_files(str(vot))
    page.get_by_label("Table name").fill(votable_name)
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#import-status")).to_have_text(f"Imported 2 rows into mydb.{votable_name}.")
    card = page.locator(f"#table-{votable_name}")
    card.get_by_text("Columns (2)").click()
    vmag = card.locator("table.columns tr", has_text="vmag")
    expect(vmag).to_contain_text("mag")
    expect(vmag).to_contain_text("Visual magnitude </script><b>of the star</b>")
    # Drawn again from the data the page itself carries: still text, nothing broken out.
    page.reload()
    card = page.locator(f"#table-{votable_name}")
    card.get_by_text("Columns (2)").click()
    expect(card.locator("table.columns tr", has_text="vmag")).to_contain_text(
        "Visual magnitude </script><b>of the star</b>")
    expect(page.locator("#mydb-list b")).to_have_count(0)

    # A file that is not what its name says: the message names the file, not a server path.
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"PAR1 this is not parquet at all")
    page.get_by_label("File (CSV, TSV, Parquet, FITS or VOTable)").set_input_files(str(bad))
    page.get_by_role("button", name="Import").click()
    status = page.locator("#import-status")
    expect(status).to_contain_text("broken.parquet: not a readable Parquet file")
    assert "/tmp" not in status.inner_text() and str(portal.home) not in status.inner_text()
    expect(page.locator("#table-broken")).to_have_count(0)

    token = rest_token(portal, "demo00")
    for name in (stem, votable_name):
        httpx.get(f"{portal.url}/query/delete", params={"table": name},
                  headers={"X-DL-AuthToken": token}, timeout=30)
