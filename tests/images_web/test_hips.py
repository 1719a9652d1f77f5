"""HiPS over HTTP and in a browser: the list, properties, tiles, CORS, caching, hostile
paths, Aladin Lite served from node_modules, and Aladin Lite drawing our tiles with
every request to a host other than this machine refused.

The server runs on a data directory of a few small simulated images (the star field
of ``tests/images/test_hips.py``), so that star positions are known exactly.
"""

from __future__ import annotations

import http.client
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from playwright.sync_api import Browser, Page, Route, sync_playwright

from datalab.config import Settings
from datalab.images import ingest_images
from datalab.web.app import create_app
from tests.conftest import RunningServer, start_server, stop_server
from tests.images.test_hips import (
    FIELD,
    ORDER,
    STARS,
    new_catalog,
    tile_position,
    write_field,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
IDS = ["band-g", "band-i", "band-r", "colour-i-r-g"]


@pytest.fixture(scope="module")
def hips_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("hips-web-home")
    images = home / "images"
    report = ingest_images(write_field(images), new_catalog(home), images, hips_dir=home / "hips")
    assert report.hips is not None and sorted(report.hips.built) == IDS
    return home


@pytest.fixture(scope="module")
def server(hips_home: Path) -> Iterator[RunningServer]:
    running = start_server(hips_home, env={"DATALAB_DEMO": "false"})
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def url(server: RunningServer) -> str:
    return server.url


def star_tile(star: tuple[float, float, float] = STARS[0]) -> str:
    tile, _, _ = tile_position(star[0], star[1], ORDER)
    return f"Norder{ORDER}/Dir{tile // 10000 * 10000}/Npix{tile}.png"


def raw_get(base: str, path: str) -> tuple[int, bytes]:
    """GET ``path`` exactly as written: no client folds its dots or decodes it."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# -- HTTP ------------------------------------------------------------------------------


def test_the_list_names_every_hips_with_absolute_urls(url: str) -> None:
    r = httpx.get(f"{url}/hips/")
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
    entries = r.json()["hips"]
    assert [e["id"] for e in entries] == IDS
    g = entries[0]
    assert g["url"] == f"{url}/hips/band-g"
    assert g["properties_url"] == f"{url}/hips/band-g/properties"
    assert g["moc_url"] == f"{url}/hips/band-g/Moc.fits"
    assert g["bands"] == ["g"] and entries[3]["bands"] == ["i", "r", "g"]
    assert (g["order"], g["tile_width"], g["tile_formats"]) == (ORDER, 512, ["png"])
    assert g["frame"] == "equatorial"
    assert abs(g["initial_ra"] - FIELD[0]) < 0.1 and abs(g["initial_dec"] - FIELD[1]) < 0.1
    assert g["creator_did"] == "ivo://datalab.local/hips/band-g"
    assert httpx.get(f"{url}/hips", follow_redirects=True).json() == r.json()


def test_the_hips_list_format(url: str) -> None:
    r = httpx.get(f"{url}/hips/list")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    blocks = r.text.strip().split("\n\n")
    assert len(blocks) == 4
    for block, hips_id in zip(blocks, IDS, strict=True):
        values = dict(line.split("=", 1) for line in block.splitlines())
        values = {k.strip(): v.strip() for k, v in values.items()}
        assert values["hips_service_url"] == f"{url}/hips/{hips_id}"
        assert values["creator_did"] == f"ivo://datalab.local/hips/{hips_id}"


def test_properties_are_plain_text_cached_and_open_to_other_sites(
    url: str, hips_home: Path
) -> None:
    r = httpx.get(f"{url}/hips/band-g/properties")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["access-control-allow-origin"] == "*"
    assert "max-age" in r.headers["cache-control"]
    assert r.content == (hips_home / "hips" / "band-g" / "properties").read_bytes()
    etag, modified = r.headers["etag"], r.headers["last-modified"]
    again = httpx.get(f"{url}/hips/band-g/properties", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    since = httpx.get(f"{url}/hips/band-g/properties", headers={"If-Modified-Since": modified})
    assert since.status_code == 304
    old = formatdate(0, usegmt=True)
    assert httpx.get(f"{url}/hips/band-g/properties",
                     headers={"If-Modified-Since": old}).status_code == 200  # fmt: skip
    stale = httpx.get(f"{url}/hips/band-g/properties", headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200


def test_a_tile_and_the_moc(url: str, hips_home: Path) -> None:
    r = httpx.get(f"{url}/hips/band-g/{star_tile()}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/png"
    assert r.headers["access-control-allow-origin"] == "*"
    assert (
        r.headers["etag"] and r.headers["last-modified"] and "max-age" in r.headers["cache-control"]
    )
    assert r.content == (hips_home / "hips" / "band-g" / star_tile()).read_bytes()
    head = httpx.head(f"{url}/hips/band-g/{star_tile()}")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(r.content))
    moc = httpx.get(f"{url}/hips/band-g/Moc.fits")
    assert moc.status_code == 200 and moc.headers["content-type"] == "application/fits"
    assert moc.content.startswith(b"SIMPLE  =")


@pytest.mark.parametrize(
    "path",
    [
        "/hips/band-g/Norder9/Dir0/Npix0.png",  # empty sky: never written
        f"/hips/band-g/{star_tile().replace('.png', '.fits')}",  # a format not built
        f"/hips/band-g/{star_tile().replace('.png', '.jpg')}",
        f"/hips/band-g/{star_tile().replace('Dir', 'Dir1')}",  # the wrong folder
        "/hips/band-g/Norder30/Dir0/Npix0.png",
        "/hips/band-g/Norder0/Dir0/Npix12.png",  # no such cell at order 0
        "/hips/band-g/Norder9/Dir0/Npix-1.png",
        "/hips/band-g/Norderx/Dir0/Npix0.png",
        "/hips/band-g/Norder9/Dir0/Npix99999999999999999999999.png",
        "/hips/no-such-hips/properties",
        "/hips/BAND-G/properties",
        "/hips/band-g/Allsky.png",
        "/hips/band-g/.datalab-build.json",
        "/hips/band-g/index.html",
    ],
)
def test_missing_files_are_404_with_cors(url: str, path: str) -> None:
    r = httpx.get(url + path)
    assert r.status_code == 404, (path, r.status_code, r.text[:200])
    assert r.headers["content-type"] == "application/json"
    assert r.json()["error"]["code"] == "not_found"
    if path.startswith("/hips/band-g/Norder"):
        assert r.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(
    "path",
    [
        "/hips/../catalog.duckdb",
        "/hips/band-g/../../catalog.duckdb",
        "/hips/%2e%2e/catalog.duckdb",
        "/hips/band-g/..%2f..%2fcatalog.duckdb",
        "/hips/..%2fimages/properties",
        "/hips/band-g/Norder9/Dir0/..%2f..%2f..%2fproperties",
        "/hips/band-g/Norder9/..%2f..%2f..%2f/catalog.duckdb",
        "/hips/band-g/Norder9/Dir0/%2Fetc%2Fpasswd",
        "/hips/%2Fetc/passwd",
        "/hips//etc/passwd",
        "/hips/band-g/Norder9/Dir0/Npix0.png%00.png",
        "/static/vendor/aladin-lite/../package.json",
        "/static/vendor/aladin-lite/%2e%2e/package.json",
        "/static/vendor/aladin-lite/..%2Fpackage.json",
        "/static/vendor/aladin-lite/%2Fetc%2Fpasswd",
        "/static/vendor/aladin-lite//etc/passwd",
        "/static/vendor/aladin-lite/.hidden",
        "/static/vendor/aladin-lite/no-such.js",
    ],
)
def test_hostile_paths_serve_nothing(url: str, path: str) -> None:
    status, body = raw_get(url, path)
    assert 400 <= status < 500, (path, status)
    assert b"root:" not in body and b"DUCK" not in body[:64] and b'"name"' not in body


def test_links_planted_in_a_hips_folder_lead_nowhere(url: str, hips_home: Path) -> None:
    planted = hips_home / "hips" / "band-g" / "Norder0" / "Dir0" / "Npix11.png"
    planted.symlink_to(hips_home / "catalog.duckdb")
    outside = hips_home / "elsewhere"
    outside.mkdir()
    (outside / "properties").write_text("hips_order = 0\n")
    (hips_home / "hips" / "evil").symlink_to(outside, target_is_directory=True)
    try:
        assert httpx.get(f"{url}/hips/band-g/Norder0/Dir0/Npix11.png").status_code == 404
        assert httpx.get(f"{url}/hips/evil/properties").status_code == 404
        assert "evil" not in [e["id"] for e in httpx.get(f"{url}/hips/").json()["hips"]]
    finally:
        planted.unlink()
        (hips_home / "hips" / "evil").unlink()


def test_aladin_lite_is_served_from_node_modules(url: str) -> None:
    r = httpx.get(f"{url}/static/vendor/aladin-lite/aladin.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert "max-age" in r.headers["cache-control"] and r.headers["etag"]
    assert len(r.content) > 1_000_000 and b"export" in r.content[-2000:]


def test_missing_aladin_lite_names_the_install_command(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", demo=False, node_modules=tmp_path / "none")
    with TestClient(create_app(settings)) as client:
        r = client.get("/static/vendor/aladin-lite/aladin.js")
        assert r.status_code == 404
        message = r.json()["error"]["message"]
        assert "npm ci" in message and "scripts/serve" in message and "node_modules" in message
        assert client.get("/hips/").json() == {"hips": []}  # nothing built yet: empty list


# -- in a browser ------------------------------------------------------------------------

# What the portal's sky viewer needs: a HiPS URL (never a CDS survey id, which Aladin
# resolves through the CDS MocServer), numeric coordinates (a name goes to Sesame),
# log: false (else Aladin reports each start to alasky.unistra.fr) and our own hipsList
# (else the survey menu offers CDS surveys).
VIEWER = """<!doctype html><html><head><meta charset="utf-8"></head>
<body style="margin:0;background:#000">
<div id="aladin-lite-div" style="width:600px;height:600px"></div>
<script type="module">
import A from "__ALADIN__";
try {
  const list = (await (await fetch("__LIST__")).json()).hips;
  const shown = list.find((h) => h.id === "__SHOW__");
  await A.init;
  window.aladin = A.aladin("#aladin-lite-div", Object.assign({
    survey: shown.url,
    target: `${shown.initial_ra} ${shown.initial_dec}`,
    fov: shown.initial_fov,
    log: false,
    hipsList: list.map((h) => ({id: h.id, name: h.title, url: h.url})),
    showContextMenu: false,
  }, __EXTRA__));
  window.viewerReady = true;
} catch (error) {
  window.viewerError = String(error);
}
</script></body></html>"""


@dataclass
class Traffic:
    local: list[str] = field(default_factory=list)  # let through
    external: list[str] = field(default_factory=list)  # aborted
    seen: list[str] = field(default_factory=list)  # every request the page made

    def outside(self) -> list[str]:
        return [u for u in self.seen if urlsplit(u).hostname not in ("127.0.0.1", "localhost")]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (scripts/test installs it)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_viewer(chromium: Browser, url: str, extra: str = "{}") -> tuple[Page, Traffic]:
    """A page whose origin is http://localhost:<port> (a real page of the server), with
    Aladin Lite imported from there and the HiPS taken from http://127.0.0.1:<port>, so
    that the tiles are fetched across origins as another site's viewer would fetch them.
    Requests to any host but this machine are recorded and aborted."""
    port = urlsplit(url).port
    page = chromium.new_page(viewport={"width": 600, "height": 600})
    traffic = Traffic()

    def route(request_route: Route) -> None:
        target = request_route.request.url
        host = urlsplit(target).hostname
        if host in ("127.0.0.1", "localhost") or target.startswith(("data:", "blob:")):
            traffic.local.append(target)
            request_route.continue_()
        else:
            traffic.external.append(target)
            request_route.abort()

    page.route("**/*", route)
    page.on("request", lambda request: traffic.seen.append(request.url))
    page.goto(f"http://localhost:{port}/hips/")
    html = (VIEWER.replace("__ALADIN__", f"http://localhost:{port}/static/vendor/aladin-lite/aladin.js")
            .replace("__LIST__", f"http://127.0.0.1:{port}/hips/")
            .replace("__SHOW__", "colour-i-r-g")
            .replace("__EXTRA__", extra))  # fmt: skip
    page.set_content(html)
    page.wait_for_function("window.viewerReady || window.viewerError", timeout=60_000)
    assert page.evaluate("window.viewerError || null") is None
    return page, traffic


def brightness(page: Page, ra: float, dec: float) -> tuple[float, float]:
    """Grey level on screen at (ra, dec) (brightest of 5x5 pixels) and 25 pixels away."""
    x, y = page.evaluate(f"window.aladin.world2pix({ra}, {dec})")
    shot = np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("L"), dtype=float)
    xi, yi = round(x), round(y)
    star = shot[yi - 2 : yi + 3, xi - 2 : xi + 3].max()
    sky = float(np.median(shot[yi + 20 : yi + 31, xi + 20 : xi + 31]))
    return float(star), sky


def wait_for_stars(page: Page) -> list[tuple[float, float]]:
    """Poll until every star is drawn (tiles arrive asynchronously); give up after a minute."""
    deadline = time.monotonic() + 60
    while True:
        levels = [brightness(page, ra, dec) for ra, dec, _ in STARS]
        if all(star > 150 and sky < 80 for star, sky in levels) or time.monotonic() > deadline:
            return levels
        page.wait_for_timeout(500)


def test_aladin_lite_draws_our_tiles_without_outside_requests(chromium: Browser, url: str) -> None:
    # Zoomed in on the stars (the deepest tiles), the reticle hidden so as not to cover one.
    page, traffic = open_viewer(chromium, url, "{fov: 0.08, showReticle: false}")
    try:
        levels = wait_for_stars(page)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "hips-viewer.png"))
        for (star, sky), (ra, dec, _) in zip(levels, STARS, strict=True):
            assert star > 150 and sky < 80, (ra, dec, star, sky)
        tiles = [u for u in traffic.local if "/hips/colour-i-r-g/Norder" in u]
        assert any(f"/Norder{ORDER}/" in u for u in tiles), traffic.local
        assert all(u.startswith("http://127.0.0.1:") for u in tiles)  # across origins
        assert traffic.external == [] and traffic.outside() == []
    finally:
        page.close()


def test_aladin_lite_defaults_call_home(chromium: Browser, url: str) -> None:
    """Why the viewer sets log: false: by default Aladin Lite reports its start to CDS.
    The viewer works all the same when that request is refused."""
    page, traffic = open_viewer(chromium, url, extra="{log: true}")
    try:
        page.wait_for_timeout(1500)
        assert any("alasky.unistra.fr/cgi/AladinLiteLogger" in u for u in traffic.external)
        assert page.evaluate("window.aladin.getBaseImageLayer().url").startswith(url)
    finally:
        page.close()


def test_tiles_reach_other_origins_and_other_files_do_not(chromium: Browser, url: str) -> None:
    """CORS as a browser applies it: a page of http://localhost:<port> may read tiles of
    http://127.0.0.1:<port>, but not an answer without Access-Control-Allow-Origin."""
    port = urlsplit(url).port
    page = chromium.new_page()
    try:
        page.goto(f"http://localhost:{port}/hips/")
        fetch = """async (target) => { try { const r = await fetch(target);
                     return [r.status, (await r.arrayBuffer()).byteLength]; }
                   catch (e) { return String(e); } }"""
        status, size = page.evaluate(fetch, f"http://127.0.0.1:{port}/hips/band-g/{star_tile()}")
        assert status == 200 and size > 1000
        assert page.evaluate(fetch, f"http://127.0.0.1:{port}/health").startswith("TypeError")
        listed = page.evaluate(
            "async (t) => (await (await fetch(t)).json()).hips.length",
            f"http://127.0.0.1:{port}/hips/",
        )
        assert listed == 4
    finally:
        page.close()


def test_the_list_is_json_a_portal_can_embed(url: str) -> None:
    entries = httpx.get(f"{url}/hips/").json()["hips"]
    assert json.loads(json.dumps(entries)) == entries
    assert all(e["description"] and e["release_date"] for e in entries)
