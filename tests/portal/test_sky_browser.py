"""The sky viewer in a real browser: our HiPS drawn by Aladin Lite, a Gaia overlay from
TAP, a user's own query result drawn (and another user's refused), image discovery
with previews, a FITS image shown in the viewer, and a SODA cutout downloaded."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
from astropy.io import fits
from astropy.io.votable import parse_single_table
from astropy.wcs import WCS
from PIL import Image
from playwright.sync_api import Page, Request, expect

from tests.portal.conftest import PortalSite, csrf_of, login

Sessions = Callable[..., httpx.Client]

PLEIADES = (56.75, 24.1167)
HOSTILE = "<script>alert(1)</script>"
LONG = 60_000  # ms: the viewer's WebAssembly and a first query may take a while on a busy machine


def open_viewer(page: Page, url: str) -> list[str]:
    """Open the page at ``url`` and wait until the viewer runs; the HiPS URLs the
    browser asked for are collected in the list returned."""
    asked: list[str] = []

    def note(request: Request) -> None:
        if "/hips/" in request.url:
            asked.append(request.url)

    page.on("request", note)
    page.goto(url)
    expect(page.locator("body")).to_have_attribute("data-sky-ready", "true", timeout=LONG)
    expect(page.locator("#view-status")).to_contain_text("Centre", timeout=LONG)
    return asked


def sky_pixels(page: Page) -> tuple[float, int]:
    """The middle of the viewer (clear of its buttons) as seen on screen: the fraction
    of near-black pixels (a drawn tile's sky; Aladin's empty background is grey) and
    the number of bright ones (stars)."""
    png = page.locator("#aladin-lite-div").screenshot()
    grey = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.uint8)
    rows, cols = grey.shape
    middle = grey[int(rows * 0.2) : int(rows * 0.8), int(cols * 0.2) : int(cols * 0.8)]
    return float((middle < 25).mean()), int((middle > 150).sum())


def wait_for_sky(page: Page, dark: float, bright: int) -> None:
    """Screenshots until the tiles show; each screenshot waits for a new frame."""
    seen = (0.0, 0)
    for _ in range(40):
        seen = sky_pixels(page)
        if seen[0] >= dark and seen[1] >= bright:
            return
    raise AssertionError(f"the viewer shows no sky: {seen[0]:.0%} dark, {seen[1]} bright pixels")


def tap_rows(portal: PortalSite, query: str) -> int:
    with httpx.Client(base_url=portal.url, timeout=60) as client:
        answer = client.post("/tap/sync", data={"REQUEST": "doQuery", "LANG": "ADQL",
                                                "QUERY": query, "RESPONSEFORMAT": "votable"})
    assert answer.status_code == 200, answer.text
    return len(parse_single_table(io.BytesIO(answer.content)).array)


def overlay_count(page: Page) -> int:
    message = page.locator("#overlay-message")
    expect(message).to_have_attribute("data-count", re.compile(r"^\d+$"), timeout=LONG)
    return int(message.get_attribute("data-count") or "-1")


def portal_query(client: httpx.Client, query: str) -> dict[str, Any]:
    """Run ``query`` as the client's user through the query page's API, to the end."""
    answer = client.post("/portal/api/queries", json={"query": query, "limit": 1000},
                         headers={"X-CSRF-Token": csrf_of(client)})  # fmt: skip
    assert answer.status_code == 201, answer.text
    job = answer.json()
    while not job["final"]:
        job = client.get(f"/portal/api/queries/{job['id']}", params={"wait": 10}).json()
    assert job["phase"] == "COMPLETED", job
    return job


def test_the_pleiades_drawn_from_our_hips_with_a_gaia_overlay(page: Page, portal: PortalSite) -> None:
    asked = open_viewer(page, "/portal/sky?target=M45")
    expect(page.locator("#goto-message")).to_contain_text("Mel022 (Pleiades)", timeout=LONG)
    # The tiles came from this server's colour HiPS (anything else is refused by the
    # page fixture), and the viewer drew them.
    page.wait_for_function(
        "() => performance.getEntriesByType('resource').some(e => /\\/hips\\/colour-[^/]+\\/Norder\\d+\\/Dir\\d+\\/Npix\\d+\\.png/.test(e.name))",
        timeout=LONG,
    )
    assert any("/hips/colour-" in url and "/properties" in url for url in asked), asked
    wait_for_sky(page, dark=0.2, bright=0)
    assert "ra=" in page.url and "hips=colour-" in page.url

    # The overlay query is prefilled for the view; its count matches TAP's own.
    query = page.locator("#overlay-adql").input_value()
    assert "gaia_dr3.gaia_source" in query and "CIRCLE(56.8" in query
    page.get_by_role("button", name="Draw sources").click()
    shown = overlay_count(page)
    assert shown > 0
    assert shown == tap_rows(portal, query)
    expect(page.locator("#overlay-message")).to_contain_text(f"{shown:,} sources drawn")


def test_bad_adql_in_the_overlay_shows_the_services_message(page: Page) -> None:
    open_viewer(page, f"/portal/sky?ra={PLEIADES[0]}&dec={PLEIADES[1]}&fov=1")
    page.get_by_label(re.compile("^ADQL query")).fill("SELECT nothing FROM nowhere.at_all")
    page.get_by_role("button", name="Draw sources").click()
    message = page.locator("#overlay-message")
    expect(message).to_have_class(re.compile("error"), timeout=LONG)
    expect(message).to_contain_text("nowhere")
    assert message.get_attribute("data-count") is None


def test_images_found_by_keyboard_shown_and_cut_out(page: Page) -> None:
    open_viewer(page, f"/portal/sky?ra={PLEIADES[0]}&dec={PLEIADES[1]}&fov=0.5")
    page.locator("#images-centre").focus()
    page.keyboard.press("Enter")
    thumbs = page.locator("#image-list .sky-thumb")
    expect(thumbs.first).to_be_visible(timeout=LONG)
    bands = {t.strip() for t in page.locator("#image-list .sky-band").all_inner_texts()}
    assert {"g", "r", "i"} <= bands, bands
    page.wait_for_function(
        "() => [...document.querySelectorAll('#image-list img')].every(i => i.complete && i.naturalWidth > 0)",
        timeout=LONG,
    )
    expect(page.locator("#images-message")).to_contain_text("at the view centre")

    # Open one in the viewer, by keyboard: the FITS file is drawn over the survey.
    first = thumbs.first
    image_id = first.get_attribute("data-image")
    first.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#image-message")).to_have_attribute("data-shown", image_id or "", timeout=LONG)
    expect(first).to_have_attribute("aria-pressed", "true")
    assert page.locator("#full-link").get_attribute("href") == f"/images/{image_id}"

    page.get_by_label("Cutout radius (arcmin)").fill("2")
    with page.expect_download() as download_info:
        page.get_by_role("link", name=re.compile("Cutout around the clicked position")).click()
    data = download_info.value.path().read_bytes()
    with fits.open(io.BytesIO(data)) as hdus:
        image = next(h for h in hdus if h.data is not None)
        wcs = WCS(image.header)
        assert image.data.ndim == 2 and 10 < image.data.shape[0] < 400
        centre = wcs.pixel_to_world(image.data.shape[1] / 2, image.data.shape[0] / 2)
        assert abs(centre.ra.deg - PLEIADES[0]) < 0.05 and abs(centre.dec.deg - PLEIADES[1]) < 0.05

    page.get_by_role("button", name="Remove image from view").click()
    expect(page.locator("#image-message")).to_contain_text("removed")


def test_clicking_the_sky_finds_images_there(page: Page) -> None:
    open_viewer(page, f"/portal/sky?ra={PLEIADES[0]}&dec={PLEIADES[1]}&fov=0.5")
    box = page.locator("#aladin-lite-div").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2 + 20, box["y"] + box["height"] / 2)
    expect(page.locator("#images-message")).to_contain_text("at the clicked position", timeout=LONG)
    expect(page.locator("#image-list .sky-thumb").first).to_be_visible()


def test_a_users_query_result_is_drawn_and_its_sources_show_their_values(
    page: Page, sessions: Sessions
) -> None:
    job = portal_query(
        sessions("demo00"),
        "SELECT TOP 40 source_id, ra, dec, phot_g_mean_mag FROM gaia_dr3.gaia_source "
        "WHERE 1=CONTAINS(POINT(ra, dec), CIRCLE(56.75, 24.12, 1)) ORDER BY phot_g_mean_mag",
    )
    first = sessions("demo00").get(f"/portal/api/queries/{job['id']}/rows", params={"limit": 1}).json()
    names = [c["name"] for c in first["columns"]]
    star = dict(zip(names, first["rows"][0], strict=True))

    login(page, "demo00")
    open_viewer(page, f"/portal/sky?ra={star['ra']}&dec={star['dec']}&fov=0.3&job={job['id']}")
    assert overlay_count(page) == job["rows"]
    expect(page.locator("#job-select")).to_have_value(job["id"])
    # The brightest star is at the centre of the view: a click there shows its row.
    box = page.locator("#aladin-lite-div").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    values = page.locator("#source-values")
    expect(values).to_contain_text(str(star["source_id"]), timeout=LONG)
    expect(values).to_contain_text("phot_g_mean_mag")

    # Drawn again from the list, by keyboard.
    page.get_by_role("button", name="Clear overlays").click()
    page.locator("#job-select").focus()
    page.locator("#job-run").focus()
    page.keyboard.press("Enter")
    assert overlay_count(page) == job["rows"]


def test_another_users_query_result_is_never_drawn(page: Page, sessions: Sessions) -> None:
    job = portal_query(sessions("demo00"), "SELECT TOP 5 ra, dec FROM hipparcos.hip2")
    login(page, "demo01")
    open_viewer(page, f"/portal/sky?ra={PLEIADES[0]}&dec={PLEIADES[1]}&job={job['id']}")
    message = page.locator("#overlay-message")
    expect(message).to_contain_text("no such query", timeout=LONG)
    expect(message).to_have_class(re.compile("error"))
    assert message.get_attribute("data-count") is None
    assert page.locator("#job-select option", has_text="SELECT TOP 5 ra, dec FROM hipparcos").count() == 0


def test_go_to_takes_names_and_coordinates_and_refuses_hostile_text(page: Page) -> None:
    open_viewer(page, "/portal/sky")
    text = page.get_by_label("Name or coordinates")
    message = page.locator("#goto-message")

    text.fill("HIP 17702")
    text.press("Enter")
    expect(message).to_contain_text("HIP 17702 (hipparcos.hip2)", timeout=LONG)
    text.fill("05:35:17.3 -05:23:28")
    page.get_by_role("button", name="Go", exact=True).click()
    expect(message).to_contain_text("Centred on 83.82208 -5.39111")
    expect(page.locator("#view-status")).to_contain_text("83.822")

    for hostile, said in (
        (HOSTILE, "no object named '<script>alert(1)</script>'"),
        ("x' OR '1'='1", "no object named \"x' OR '1'='1\""),
        ("A" * 150, "the limit is 100"),
        ("95 95", "declination 95 is outside"),
    ):
        text.fill(hostile)
        text.press("Enter")
        expect(message).to_contain_text(said, timeout=LONG)
        expect(message).to_have_class(re.compile("error"))
        assert message.evaluate("m => m.children.length") == 0
    assert page.locator("script:not([src]):not([type='application/json'])").count() == 0
    # The view stayed where the last good answer put it.
    expect(page.locator("#view-status")).to_contain_text("83.822")


def test_a_bookmarked_view_and_survey_choice_by_keyboard(page: Page) -> None:
    open_viewer(page, "/portal/sky?ra=56.75&dec=24.1167&fov=0.8&hips=band-r")
    select = page.get_by_label("HiPS survey")
    expect(select).to_have_value("band-r")
    wait_for_sky(page, dark=0.5, bright=50)  # the Pleiades' stars, up close
    expect(page.locator("#view-status")).to_contain_text("56.75000 +24.11670")
    select.focus()
    page.keyboard.press("ArrowDown")  # the next survey in the list
    chosen = select.input_value()
    assert chosen != "band-r"
    page.wait_for_function(
        f"() => performance.getEntriesByType('resource').some(e => e.name.includes('/hips/{chosen}/'))",
        timeout=LONG,
    )
    expect(page.locator("#view-link")).to_have_attribute("href", re.compile(f"hips={chosen}"))
