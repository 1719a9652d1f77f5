"""The schema browser and the query page in a real browser: the whole story of a query,
from finding the table to saving the result and querying it again."""

from __future__ import annotations

import csv
import re
import uuid
from pathlib import Path
from urllib.parse import urlencode

from playwright.sync_api import Page, expect

from tests.client.conftest import PASSWORDS
from tests.portal.conftest import login

CONE = (
    "SELECT source_id, ra, dec, phot_g_mean_mag FROM gaia_dr3.gaia_source "
    "WHERE 1=CONTAINS(POINT(ra,dec), CIRCLE(56.75, 24.12, 1))"
)
# Pairs of rows of the synthetic survey: rows stream from the start (so an abort
# stops the engine between batches) and 20 million of them take far longer than a
# test lasts.
LONG_QUERY = (
    "SELECT a.objid AS a_id, b.objid AS b_id FROM ls_mock.tractor AS a "
    "CROSS JOIN ls_mock.tractor AS b WHERE SIN(a.ra * b.dec) > 0.9999"
)
LONG_LIMIT = 20_000_000


EN_DASH = "\N{EN DASH}"  # the page writes ranges of rows with it: "Rows 1 to 50" as 1, dash, 50
# How long a step may wait for a query to finish on a busy machine (a bound, not a
# measurement: the step goes on as soon as the page shows the outcome).
QUERY_TIMEOUT = 60_000


# Aborts the query the page shows (its id is in the address), if it is still running.
ABORT_SHOWN_JOB = """async () => {
  const id = new URLSearchParams(location.search).get("job");
  if (!id) return;
  const job = await Portal.api("GET", `/portal/api/queries/${id}`);
  if (!job.final) await Portal.api("POST", `/portal/api/queries/${id}/abort`);
}"""


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def _summary_total(page: Page) -> int:
    text = page.locator("#result-summary").inner_text()
    found = re.search(r"of ([\d,]+)", text)
    assert found, text
    return _number(found.group(1))


def _column(page: Page, index: int) -> list[str]:
    """The texts of result column ``index`` (0-based, without the selection column)."""
    return page.locator(f"#result-table tbody tr td:nth-child({index + 2})").all_inner_texts()


def test_find_a_table_run_a_cone_page_filter_sort_select_download_and_save(
    page: Page, tmp_path: Path
) -> None:
    login(page)
    page.get_by_role("link", name="Tables", exact=True).click()
    expect(page.get_by_role("heading", name="Tables", exact=True)).to_be_visible()
    # Find the table by keyboard: type in the finder, arrow down to it, Enter.
    page.get_by_label("Find a table or column").fill("gaia_source")
    expect(page.locator("#filter-status")).to_have_text("1 table match.")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#table-tree a:focus")).to_have_text("gaia_source")
    page.keyboard.press("Enter")
    page.wait_for_url("**/portal/tables/gaia_dr3.gaia_source")
    row = page.locator("#column-phot_g_mean_mag")
    expect(row).to_contain_text("mag")
    expect(row).to_contain_text("phot.mag;em.opt")

    page.get_by_role("button", name="Query this table").click()
    page.wait_for_url("**/portal/query?table=gaia_dr3.gaia_source")
    editor = page.get_by_label("ADQL query")
    expect(editor).to_have_value(
        re.compile(r"^SELECT TOP 100 source_id, ra, dec.*\nFROM gaia_dr3\.gaia_source\n", re.S)
    )
    expect(page.locator("#adql-view .tok-keyword").first).to_have_text("SELECT")

    # The cone query, run from the keyboard.
    editor.fill(CONE)
    editor.press("Control+Enter")
    expect(page.locator("#job-phase")).to_have_text("COMPLETED", timeout=QUERY_TIMEOUT)
    expect(page.locator("#result-summary")).to_contain_text(f"Rows 1{EN_DASH}50 of")
    total = _summary_total(page)
    assert total > 50
    expect(page.locator("#run-message")).to_have_text(f"Completed: {total:,} rows.")
    plot = page.get_by_role("link", name="Plot the result")
    expect(plot).to_have_attribute("href", re.compile(r"^/portal/plot/[\w-]+$"))
    # Numbers are right-aligned; Gaia ids arrive whole.
    first_id = page.locator("#result-table tbody tr").first.locator("td").nth(1)
    expect(first_id).to_have_class(re.compile(r"\bnum\b"))
    assert len(first_id.inner_text()) >= 17

    # Filter a column: only the brighter stars.
    page.get_by_label("Filter operator for phot_g_mean_mag").select_option("<")
    page.get_by_label("Filter value for phot_g_mean_mag").fill("9.5")
    page.get_by_label("Filter value for phot_g_mean_mag").press("Enter")
    expect(page.locator("#result-summary")).to_contain_text(f"(filtered from {total:,})")
    bright = _summary_total(page)
    assert 25 < bright < total
    assert all(float(v) < 9.5 for v in _column(page, 3))

    # Page through it, 25 at a time.
    page.get_by_label("Rows per page").select_option("25")
    expect(page.locator("#result-summary")).to_contain_text(f"Rows 1{EN_DASH}25 of {bright:,}")
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#result-summary")).to_contain_text(
        f"Rows 26{EN_DASH}{min(50, bright)} of {bright:,}"
    )
    expect(page.locator("#page-info")).to_contain_text("Page 2 of")
    page.get_by_role("button", name="First").click()
    expect(page.locator("#page-info")).to_contain_text("Page 1 of")

    # Sort by clicking the header, twice for descending.
    header = page.locator('#result-table th[data-column="phot_g_mean_mag"]')
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    ascending = [float(v) for v in _column(page, 3)]
    assert ascending == sorted(ascending)
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(page.get_by_label("Order", exact=True)).to_have_value("desc")
    descending = [float(v) for v in _column(page, 3)]
    assert descending == sorted(descending, reverse=True) and descending[0] > ascending[0]

    # Select two rows, on two pages.
    page.locator("#result-table tbody input[type=checkbox]").nth(0).check()
    chosen = [page.locator("#result-table tbody tr").nth(0).locator("td").nth(1).inner_text()]
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#page-info")).to_contain_text("Page 2 of")
    page.locator("#result-table tbody input[type=checkbox]").nth(3).check()
    chosen.append(page.locator("#result-table tbody tr").nth(3).locator("td").nth(1).inner_text())
    expect(page.locator("#selected-count")).to_have_text("2 rows selected")

    page.locator("#download-format").select_option("csv")
    with page.expect_download() as selected_download:
        page.get_by_role("button", name="Download selected rows").click()
    saved = tmp_path / "selected.csv"
    selected_download.value.save_as(saved)
    with saved.open(newline="") as f:
        lines = list(csv.DictReader(f))
    assert sorted(r["source_id"] for r in lines) == sorted(chosen)
    assert all(float(r["phot_g_mean_mag"]) < 9.5 for r in lines)
    expect(page.locator("#download-message")).to_contain_text("Downloaded 2 selected rows")

    with page.expect_download() as all_download:
        page.get_by_role("button", name="Download all rows").click()
    assert all_download.value.suggested_filename.endswith(".csv")
    everything = tmp_path / "all.csv"
    all_download.value.save_as(everything)
    with everything.open(newline="") as f:
        assert len(list(csv.DictReader(f))) == total

    # Save to myDB, then query the saved table from the same page.
    name = f"pleiades_{uuid.uuid4().hex[:6]}"
    page.get_by_label("myDB table").fill(name)
    page.get_by_role("button", name="Save to myDB").click()
    expect(page.locator("#save-message")).to_have_text(f"Saved {total:,} rows as mydb.{name}.")
    page.get_by_role("button", name="Query the saved table").click()
    expect(editor).to_have_value(f"SELECT TOP 100 * FROM mydb.{name}")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("#run-message")).to_have_text(
        f"Completed: {min(total, 100):,} rows.", timeout=QUERY_TIMEOUT
    )
    expect(page.locator('#result-table th[data-column="phot_g_mean_mag"]')).to_be_visible()

    # Both queries are in the recent list, newest first.
    recent = page.locator("#recent-table tbody tr")
    expect(recent.first).to_contain_text(f"mydb.{name}")
    expect(recent.nth(1).locator("td.query-text")).to_have_attribute("title", CONE)


def test_a_syntax_error_marks_its_position_and_runs_nothing(page: Page) -> None:
    login(page)
    page.goto("/portal/query")
    editor = page.get_by_label("ADQL query")
    editor.fill("SELECT TOP 5 ra,\n  dec FRM gaia_dr3.gaia_source")
    page.get_by_role("button", name="Check").click()
    message = page.locator("#check-message")
    expect(message).to_contain_text("(line 2, column 11)")
    expect(message).to_have_class(re.compile(r"\berror\b"))
    mark = page.locator("#adql-view mark.adql-error")
    expect(mark).to_have_text("gaia_dr3")
    # Run checks first: nothing starts.
    editor.press("Control+Enter")
    expect(message).to_contain_text("(line 2, column 11)")
    expect(page.locator("#job-phase")).to_have_text("none")
    # Editing clears the mark; a fixed query checks clean.
    editor.fill("SELECT TOP 5 ra,\n  dec FROM gaia_dr3.gaia_source")
    expect(mark).to_have_count(0)
    page.get_by_role("button", name="Check").click()
    expect(message).to_have_text("The query is valid ADQL; its result has 2 columns: ra, dec.")
    # A query that compiles but fails in the engine ends in ERROR with the reason.
    editor.fill("SELECT TOP 3 CAST(name AS INTEGER) AS n FROM openngc.objects")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("#job-phase")).to_have_text("ERROR", timeout=QUERY_TIMEOUT)
    expect(page.locator("#run-message")).to_have_text(
        re.compile(r"^Error: the query failed: Could not convert string '.+' to INT32")
    )
    expect(page.locator("#result-summary")).to_have_text("No result: the query failed.")


def test_a_long_query_shows_the_job_monitor_and_can_be_aborted(page: Page) -> None:
    login(page)
    page.goto("/portal/query")
    page.get_by_label("ADQL query").fill(LONG_QUERY)
    page.get_by_label("Row limit").fill(str(LONG_LIMIT))
    page.get_by_role("button", name="Run", exact=True).click()
    try:
        phase = page.locator("#job-phase")
        expect(phase).to_have_text(re.compile("QUEUED|EXECUTING"))
        abort = page.get_by_role("button", name="Abort")
        expect(abort).to_be_enabled()
        expect(phase).to_have_text("EXECUTING", timeout=QUERY_TIMEOUT)
        # The elapsed time ticks while the job runs.
        elapsed = page.locator("#job-elapsed")
        expect(elapsed).to_have_text(re.compile(r"\d+\.\d s"))
        before = elapsed.inner_text()
        expect(elapsed).not_to_have_text(before)
        abort.click()
        expect(phase).to_have_text("ABORTED")
        expect(page.locator("#run-message")).to_contain_text("Aborted")
        expect(abort).to_be_disabled()
        expect(page.locator("#recent-table tbody tr").first).to_contain_text("ABORTED")
    finally:
        # Never leave a long query running for the tests after this one.
        page.evaluate(ABORT_SHOWN_JOB)


def test_a_query_reopens_from_its_address_and_the_recent_list(page: Page) -> None:
    login(page)
    page.goto("/portal/query")
    page.get_by_label("ADQL query").fill(
        "SELECT TOP 7 hip, ra, dec FROM hipparcos.hip2 ORDER BY hip"
    )
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("#result-summary")).to_have_text(
        f"Rows 1{EN_DASH}7 of 7.", timeout=QUERY_TIMEOUT
    )
    page.wait_for_url(re.compile(r"/portal/query\?job=[\w-]+$"))
    page.reload()
    expect(page.get_by_label("ADQL query")).to_have_value(
        "SELECT TOP 7 hip, ra, dec FROM hipparcos.hip2 ORDER BY hip"
    )
    expect(page.locator("#result-summary")).to_have_text(f"Rows 1{EN_DASH}7 of 7.")
    page.goto("/portal/query")
    page.locator("#recent-table tbody tr").first.get_by_role("button", name="Open").click()
    expect(page.locator("#result-summary")).to_have_text(f"Rows 1{EN_DASH}7 of 7.")
    expect(page.locator("#job-phase")).to_have_text("COMPLETED")


def test_hostile_text_stays_text(page: Page) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, "demo01")
    hostile = "<img src=x onerror=alert(1)>"
    query = f"SELECT TOP 2 '{hostile}' AS h, name FROM openngc.objects"
    page.goto("/portal/query?" + urlencode({"q": query}))
    editor = page.get_by_label("ADQL query")
    expect(editor).to_have_value(query)
    expect(page.locator("#adql-view img")).to_have_count(0)
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator("#result-summary")).to_have_text(
        f"Rows 1{EN_DASH}2 of 2.", timeout=QUERY_TIMEOUT
    )
    expect(page.locator("#result-table tbody tr").first.locator("td").nth(1)).to_have_text(hostile)
    expect(page.locator("#result-table img")).to_have_count(0)
    assert dialogs == []


def test_anonymous_query_this_table_goes_through_login(page: Page) -> None:
    page.goto("/portal/tables/hipparcos.hip2")
    page.get_by_role("button", name="Query this table").click()
    page.wait_for_url(re.compile(r"/portal/login\?next=/portal/query%3Ftable%3Dhipparcos\.hip2$"))
    page.get_by_label("User name").fill("demo01")
    page.get_by_label("Password").fill(PASSWORDS["demo01"])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/portal/query?table=hipparcos.hip2")
    expect(page.get_by_label("ADQL query")).to_have_value(re.compile(r"FROM hipparcos\.hip2\n"))


def test_the_highlighted_copy_follows_the_editor(page: Page) -> None:
    login(page)
    page.goto("/portal/query")
    editor = page.get_by_label("ADQL query")
    lines = [f"-- note {i}" for i in range(30)]
    editor.fill(
        "\n".join(
            [
                *lines,
                "SELECT TOP 3 'x''y' AS s, 2.5e1 AS n, ROUND(ra, 2) AS r",
                "FROM hipparcos.hip2 WHERE nosuch > 1",
            ]
        )
    )
    view = page.locator("#adql-view")
    expect(view.locator(".tok-comment")).to_have_count(30)
    expect(view.locator(".tok-string")).to_have_text(["'x''y'"])
    expect(view.locator(".tok-number").first).to_have_text("3")
    expect(view.locator(".tok-function")).to_have_text(["ROUND"])
    expect(view.locator(".tok-keyword").first).to_have_text("SELECT")
    # The copy holds exactly the text, so the colours sit under the right characters.
    assert view.inner_text().rstrip("\n") == editor.input_value()
    # An error far down is marked and scrolled into view, in both layers alike.
    page.get_by_role("button", name="Check").click()
    expect(view.locator("mark.adql-error")).to_have_text("nosuch")
    page.wait_for_function(
        """() => {
          const box = document.getElementById("adql");
          const copy = document.querySelector(".editor-view");
          return box.scrollTop > 0 && copy.scrollTop === box.scrollTop;
        }"""
    )
    editor.press("Control+Home")
    page.wait_for_function(
        """() => {
          const box = document.getElementById("adql");
          const copy = document.querySelector(".editor-view");
          return box.scrollTop < 42 && copy.scrollTop === box.scrollTop;
        }"""
    )
