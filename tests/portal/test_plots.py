"""Plots of portal queries: the image route over HTTP, the plot page in a real browser,
and what another user, an anonymous caller or hostile input gets.

The queries are made as the portal makes them, but straight through TAP: an async job
of the logged-in user with RESPONSEFORMAT=parquet and RUNID=portal.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.client.conftest import PASSWORDS
from tests.portal.conftest import PortalSite, login

Sessions = Callable[..., httpx.Client]

UWS = "{http://www.ivoa.net/xml/UWS/v1.0}"
HOSTILE = "<script>alert(1)</script>"
# Hostile and without a slash, so that it stays one path segment.
HOSTILE_ID = "<img src=x onerror=alert(1)>"
# The seed's colour-colour diagram, on the synthetic survey (bright sources: fewer rows).
COLOURS = (
    "SELECT ra, dec, type, mag_g - mag_r AS g_r, mag_r - mag_z AS r_z, mag_r "
    "FROM ls_mock.tractor WHERE mag_r < 22"
)
WORDS = "SELECT TOP 5 type FROM ls_mock.tractor"
# A column whose very name is an attack on the page that lists it.
MARKUP = f'SELECT TOP 500 ra AS "{HOSTILE}", dec, mag_r FROM ls_mock.tractor'


def token_of(portal: PortalSite, user: str) -> str:
    with httpx.Client(base_url=portal.url, timeout=60) as client:
        answer = client.get("/auth/login", params={"username": user},
                            headers={"X-DL-Password": PASSWORDS[user]})
    assert answer.status_code == 200, answer.text
    return answer.text


def tap_job(portal: PortalSite, user: str, query: str, fmt: str = "parquet") -> str:
    """Run ``query`` as ``user``'s async TAP job, as the portal does; its id when done."""
    headers = {"X-DL-AuthToken": token_of(portal, user)}
    with httpx.Client(base_url=portal.url, timeout=90, headers=headers) as client:
        made = client.post("/tap/async", data={
            "LANG": "ADQL", "QUERY": query, "RESPONSEFORMAT": fmt, "RUNID": "portal",
            "MAXREC": "500000", "PHASE": "RUN",
        })
        assert made.status_code == 303, made.text
        job_id = made.headers["location"].rstrip("/").rsplit("/", 1)[1]
        phase = ""
        for _ in range(20):
            document = ET.fromstring(client.get(f"/tap/async/{job_id}", params={"WAIT": 30}).content)
            phase = document.findtext(f"{UWS}phase") or ""
            if phase in ("COMPLETED", "ERROR", "ABORTED"):
                break
        assert phase == "COMPLETED", phase
    return job_id


@pytest.fixture(scope="module")
def colours(portal: PortalSite) -> str:
    return tap_job(portal, "demo00", COLOURS)


@pytest.fixture(scope="module")
def markup(portal: PortalSite) -> str:
    return tap_job(portal, "demo00", MARKUP)


@pytest.fixture(scope="module")
def others(portal: PortalSite) -> str:
    """A job of demo01's own."""
    return tap_job(portal, "demo01", "SELECT TOP 100 ra, dec, phot_g_mean_mag FROM gaia_dr3.gaia_source")


def plot_url(job_id: str) -> str:
    return f"/portal/api/queries/{job_id}/plot"


def plots_kept(portal: PortalSite, job_id: str) -> set[str]:
    folder = portal.home / "jobs" / job_id / "plots"
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


# -- the image route --------------------------------------------------------------------


def test_hexbin_png_with_its_caption(sessions: Sessions, colours: str) -> None:
    client = sessions("demo00")
    answer = client.get(plot_url(colours), params={
        "kind": "hexbin", "x": "r_z", "y": "g_r", "gridsize": "50", "log": "1", "trim": "1"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/png"
    assert answer.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert answer.headers["content-disposition"] == f'inline; filename="plot-{colours}-hexbin.png"'
    assert answer.headers["cache-control"] == "no-store"
    assert unquote(answer.headers["x-plot-title"]) == "Density of g_r against r_z"
    caption = unquote(answer.headers["x-plot-caption"])
    assert "rows plotted" in caption and "outside the axes" in caption and "50 cells across" in caption


def test_svg_download_is_well_formed_and_confined(sessions: Sessions, colours: str) -> None:
    client = sessions("demo00")
    answer = client.get(plot_url(colours), params={
        "kind": "sky", "projection": "mollweide", "format": "svg", "download": "1"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/svg+xml"
    assert answer.headers["content-disposition"] == f'attachment; filename="plot-{colours}-sky.svg"'
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert ET.fromstring(answer.content).tag == "{http://www.w3.org/2000/svg}svg"
    assert unquote(answer.headers["x-plot-title"]) == "Sky positions (Mollweide projection)"


def test_renderings_are_kept_in_the_job_and_reused(portal: PortalSite, sessions: Sessions,
                                                   colours: str) -> None:
    client = sessions("demo00")
    params = {"kind": "histogram", "x": "mag_r", "bins": "37"}
    first = client.get(plot_url(colours), params=params)
    assert first.status_code == 200
    kept = plots_kept(portal, colours)
    assert any(name.endswith(".png") for name in kept) and any(name.endswith(".json") for name in kept)
    again = client.get(plot_url(colours), params={**params, "download": "1"})
    assert again.content == first.content
    assert plots_kept(portal, colours) == kept  # the download drew nothing new


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"kind": HOSTILE}, "kind must be one of histogram, scatter, hexbin, sky"),
        ({"x": HOSTILE}, "x: the result has no column '<script>alert(1)</script>'"),
        ({"kind": "histogram", "x": "type"}, "x: column 'type' holds text, not numbers"),
        ({"x": "a" * 5000}, "x names a column and is at most 256 characters long"),
        ({"bins": "0", "kind": "histogram"}, "bins must be from 1 to 1000, not 0"),
        ({"gridsize": "1e9"}, "gridsize must be a whole number from 5 to 300"),
        ({"xmin": "3", "xmax": "1"}, "xmin must be smaller than xmax"),
        ({"format": "pdf"}, "format must be one of png, svg"),
        ({"debug": "1"}, "unknown parameter 'debug'"),
        ({"download": "perhaps"}, "download"),
    ],
)
def test_bad_parameters_get_a_precise_json_error(sessions: Sessions, colours: str,
                                                 params: dict[str, str], message: str) -> None:
    answer = sessions("demo00").get(plot_url(colours), params=params)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/json"
    error = answer.json()["error"]
    assert error["code"] == "usage_error"
    assert message in error["message"]
    assert "Traceback" not in answer.text


def test_other_users_jobs_and_bad_ids_are_not_found(portal: PortalSite, sessions: Sessions,
                                                    colours: str, others: str) -> None:
    before = plots_kept(portal, colours)
    intruder = sessions("demo01")
    for job_id in (colours, "nosuchjob", "x" * 500, HOSTILE_ID, "%2E%2E"):
        answer = intruder.get(plot_url(job_id), params={"kind": "hexbin"})
        assert answer.status_code == 404, (job_id, answer.text)
        assert answer.json() == {"error": {"code": "not_found", "message": "no such query", "detail": {}}}
    escape = intruder.get("/portal/api/queries/..%2F..%2Fstate.sqlite/plot")
    assert escape.status_code == 404 and escape.json()["error"]["code"] == "not_found"
    assert plots_kept(portal, colours) == before  # nothing drawn for the intruder
    page = intruder.get(f"/portal/plot/{colours}")
    assert page.status_code == 404 and "no such query" in page.text
    assert sessions("demo00").get(plot_url(others)).status_code == 404
    assert intruder.get(plot_url(others), params={"kind": "sky"}).status_code == 200


def test_anonymous_callers_must_log_in(sessions: Sessions, colours: str) -> None:
    anonymous = sessions(None)
    answer = anonymous.get(plot_url(colours))
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "login_required"
    page = anonymous.get(f"/portal/plot/{colours}")
    assert page.status_code == 303
    assert page.headers["location"] == f"/portal/login?next=/portal/plot/{colours}"


def test_hostile_page_addresses_get_an_escaped_error_page(sessions: Sessions) -> None:
    client = sessions("demo00")
    for address in ("/portal/plot/" + HOSTILE_ID, "/portal/plot/" + "x" * 5000):
        answer = client.get(address)
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("text/html")
        assert "no such query" in answer.text
        assert "<img src=x" not in answer.text and "Traceback" not in answer.text


def test_results_not_kept_as_parquet_or_without_numbers(portal: PortalSite, sessions: Sessions) -> None:
    client = sessions("demo00")
    votable = tap_job(portal, "demo00", "SELECT TOP 3 ra, dec FROM hipparcos.hip2", fmt="votable")
    answer = client.get(plot_url(votable))
    assert answer.status_code == 404
    assert "not kept as Parquet" in answer.json()["error"]["message"]
    words = tap_job(portal, "demo00", WORDS)
    page = client.get(f"/portal/plot/{words}")
    assert page.status_code == 200
    assert "This result has no numeric columns, so there is nothing to plot." in page.text
    assert 'id="plot-form"' not in page.text
    answer = client.get(plot_url(words))
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == "the result has no numeric columns to plot"


def test_page_lists_numeric_columns_with_units(sessions: Sessions, colours: str) -> None:
    page = sessions("demo00").get(f"/portal/plot/{colours}")
    assert page.status_code == 200
    text = page.text
    assert '<option value="g_r">g_r [mag]</option>' in text
    assert '<option value="ra" selected>ra [deg]</option>' in text  # the sky default, by UCD
    assert '<option value="type"' not in text  # text columns are no axis
    assert f'href="/portal/api/queries/{colours}/plot?kind=hexbin&amp;x=g_r' in text
    assert "mag_g - mag_r AS g_r" in text  # the query, for reference
    assert f'href="/portal/query?job={colours}"' in text


def test_column_names_are_escaped_on_the_page_and_drawn_literally(sessions: Sessions,
                                                                  markup: str) -> None:
    client = sessions("demo00")
    page = client.get(f"/portal/plot/{markup}")
    assert page.status_code == 200
    assert HOSTILE not in page.text
    assert '<option value="&lt;script&gt;alert(1)&lt;/script&gt;">' in page.text
    answer = client.get(plot_url(markup), params={"kind": "histogram", "x": HOSTILE, "format": "svg"})
    assert answer.status_code == 200, answer.text
    assert unquote(answer.headers["x-plot-title"]) == f"Histogram of {HOSTILE}"
    assert b"<script" not in answer.content
    ET.fromstring(answer.content)


# -- in the browser ---------------------------------------------------------------------


@pytest.fixture
def plot_page(page: Page, colours: str) -> Iterator[Page]:
    login(page)
    page.goto(f"/portal/plot/{colours}")
    yield page


def image_loaded(page: Page) -> None:
    image = page.locator("#plot-image")
    expect(image).to_be_visible()
    expect(page.locator("#plot-status")).to_have_text("")
    assert page.evaluate("document.getElementById('plot-image').naturalWidth") == 1200


def place(page: Page, selector: str) -> list[float]:
    """Where an element sits on the page (not in the viewport, which scrolls)."""
    return page.evaluate(
        "(s) => { const r = document.querySelector(s).getBoundingClientRect();"
        " return [r.left + scrollX, r.top + scrollY, r.width, r.height]; }", selector)


def test_colour_colour_hexbin_in_the_browser(plot_page: Page, colours: str, tmp_path: Path) -> None:
    page = plot_page
    image_loaded(page)  # the first plot is drawn on arrival
    box = place(page, ".plot-box")
    page.get_by_label("Plot kind").select_option("hexbin")
    page.get_by_label("X axis", exact=True).select_option("r_z")
    page.get_by_label("Y axis", exact=True).select_option("g_r")
    page.get_by_label("Hexagons across").fill("70")
    page.get_by_role("button", name="Draw").click()
    expect(page.locator("#plot-caption")).to_contain_text("Density of g_r against r_z:")
    expect(page.locator("#plot-caption")).to_contain_text("70 cells across")
    image_loaded(page)
    assert place(page, ".plot-box") == box  # the picture's room was kept
    assert box[2:] == [800, 600]
    alt = page.locator("#plot-image").get_attribute("alt") or ""
    assert alt.startswith("Density of g_r against r_z. ") and "rows plotted" in alt
    assert "kind=hexbin&x=r_z&y=g_r&gridsize=70" in page.url
    with page.expect_download() as waiting:
        page.get_by_role("link", name="Download SVG").click()
    download = waiting.value
    assert download.suggested_filename == f"plot-{colours}-hexbin.svg"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert ET.parse(saved).getroot().tag == "{http://www.w3.org/2000/svg}svg"


def test_sky_map_in_mollweide_by_keyboard(plot_page: Page) -> None:
    page = plot_page
    image_loaded(page)
    page.get_by_label("Plot kind").select_option("sky")
    expect(page.get_by_label("RA column")).to_have_value("ra")
    expect(page.get_by_label("Dec column")).to_have_value("dec")
    expect(page.get_by_label("Y axis", exact=True)).to_be_hidden()
    page.get_by_label("Projection").select_option("mollweide")
    page.get_by_label("Projection").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Draw")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#plot-caption")).to_contain_text("Sky positions (Mollweide projection):")
    image_loaded(page)
    # A reload keeps the plot.
    page.reload()
    expect(page.locator("#plot-caption")).to_contain_text("Mollweide projection")
    expect(page.get_by_label("Plot kind")).to_have_value("sky")


def test_refusals_are_shown_not_drawn(plot_page: Page) -> None:
    page = plot_page
    image_loaded(page)
    page.get_by_label("Plot kind").select_option("histogram")
    page.get_by_label("X axis", exact=True).select_option("mag_r")
    page.get_by_label("Bins").fill("0")
    page.get_by_role("button", name="Draw").click()
    expect(page.locator("#plot-status")).to_have_text("bins must be from 1 to 1000, not 0")
    expect(page.locator("#plot-status")).to_have_class("status error")
    page.get_by_label("Bins").fill("40")
    page.get_by_label("Logarithmic counts").check()
    page.get_by_role("button", name="Draw").click()
    expect(page.locator("#plot-caption")).to_contain_text("Histogram of mag_r:")
    image_loaded(page)


def test_another_user_sees_not_found(page: Page, colours: str) -> None:
    login(page, "demo01")
    answer = page.goto(f"/portal/plot/{colours}")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("alert")).to_have_text("no such query")
    expect(page.locator("#plot-form")).to_have_count(0)


def test_a_hostile_column_name_stays_text_in_the_browser(page: Page, markup: str) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    login(page)
    page.goto(f"/portal/plot/{markup}?kind=scatter&x=mag_r&y={HOSTILE}")
    expect(page.get_by_label("Y axis", exact=True)).to_have_value(HOSTILE)
    expect(page.locator("#plot-caption")).to_contain_text(f"{HOSTILE} against mag_r: ")
    image_loaded(page)
    assert dialogs == []
    assert page.locator("script:not([src])").count() == 0
