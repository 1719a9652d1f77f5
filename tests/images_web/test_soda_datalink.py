"""SODA cutouts, DataLink links and the image files, against a real server."""

from __future__ import annotations

import io
import warnings

import httpx
import numpy as np
import pytest
from astropy.io import fits, votable
from astropy.wcs import WCS
from pyvo.dal.adhoc import DatalinkResults

from tests.images_web.helpers import PLEIADES, assert_votable_error, votable_table

pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture(scope="module")
def stack(base: str) -> dict:
    """The Pleiades g stack's SIA 2.0 row (as a dict)."""
    r = httpx.get(
        f"{base}/sia2/query",
        params={"POS": f"CIRCLE {PLEIADES[0]} {PLEIADES[1]} 0.01", "BAND": "480e-9"},
    )
    table = votable_table(r.content)
    rows = [row for row in table if row["proctype"] == "Stacked"]
    assert rows, "no g stack of the Pleiades in the demo images"
    row = rows[0]
    return {name: row[name] for name in table.colnames}


def _cutout(base: str, **params: str) -> fits.HDUList:
    r = httpx.get(f"{base}/soda/sync", params=params, timeout=60)
    assert r.status_code == 200, r.text[:500]
    assert r.headers["content-type"] == "application/fits"
    return fits.open(io.BytesIO(r.content))


def _image_hdu(hdul: fits.HDUList) -> fits.ImageHDU:
    return next(h for h in hdul if h.data is not None and h.data.ndim == 2)


def test_cutout_is_centred_on_the_request(base: str, stack: dict) -> None:
    ra, dec = stack["s_ra"] + 0.01, stack["s_dec"] - 0.01
    with _cutout(base, ID=stack["obs_publisher_did"], CIRCLE=f"{ra} {dec} 0.01") as hdul:
        hdu = _image_hdu(hdul)
        ny, nx = hdu.data.shape
        x, y = WCS(hdu.header).all_world2pix(ra, dec, 0)
        assert abs(x - (nx - 1) / 2) <= 1.0 and abs(y - (ny - 1) / 2) <= 1.0
        assert nx < stack["s_xel1"] and ny < stack["s_xel2"]
    with _cutout(base, ID=stack["image_id"], POS=f"CIRCLE {ra} {dec} 0.01") as same:
        assert _image_hdu(same).data.shape == (ny, nx)


def test_cutout_pixels_are_the_image_pixels(base: str, stack: dict) -> None:
    whole = fits.open(io.BytesIO(httpx.get(stack["access_url"], timeout=60).content))
    full = _image_hdu(whole)
    wcs_full = WCS(full.header)
    ra, dec = stack["s_ra"], stack["s_dec"]
    with _cutout(base, ID=stack["image_id"], POLYGON=f"{ra-0.01} {dec-0.01} {ra+0.01} {dec-0.01} {ra} {dec+0.01}") as hdul:
        cut = _image_hdu(hdul)
        # The cut's pixel (0, 0) is at the same sky position as some pixel of the image
        # whose value is the same.
        sky = WCS(cut.header).all_pix2world(0, 0, 0)
        fx, fy = (int(round(float(v))) for v in wcs_full.all_world2pix(sky[0], sky[1], 0))
        assert cut.data[0, 0] == full.data[fy, fx]
    whole.close()


def test_cutouts_crossing_an_edge_work(base: str, stack: dict) -> None:
    corner = stack["s_region"][:2]  # the first vertex of the outline
    ra, dec = float(corner[0]), float(corner[1])
    with _cutout(base, ID=stack["image_id"], CIRCLE=f"{ra} {dec} 0.02") as hdul:
        hdu = _image_hdu(hdul)
        ny, nx = hdu.data.shape
        assert 0 < nx < stack["s_xel1"] and 0 < ny < stack["s_xel2"]
        x, y = WCS(hdu.header).all_world2pix(ra, dec, 0)
        # The corner is on the cut's edge (the part outside the image is not there).
        assert min(abs(x + 0.5), abs(x - nx + 0.5)) < 1.5
        assert min(abs(y + 0.5), abs(y - ny + 0.5)) < 1.5


def test_cutout_as_png_and_no_overlap(base: str, stack: dict) -> None:
    r = httpx.get(
        f"{base}/soda/sync",
        params={"ID": stack["image_id"], "CIRCLE": f"{stack['s_ra']} {stack['s_dec']} 0.01",
                "RESPONSEFORMAT": "image/png"},
    )  # fmt: skip
    assert r.status_code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n"
    miss = httpx.get(
        f"{base}/soda/sync", params={"ID": stack["image_id"], "CIRCLE": "150 -60 0.01"}
    )
    assert miss.status_code == 204 and miss.content == b""
    band_miss = httpx.get(
        f"{base}/soda/sync",
        params={"ID": stack["image_id"], "CIRCLE": f"{stack['s_ra']} {stack['s_dec']} 0.01",
                "BAND": "2e-6 3e-6"},
    )  # fmt: skip
    assert band_miss.status_code == 204


def test_soda_errors(base: str, stack: dict) -> None:
    url = f"{base}/soda/sync"
    circle = f"{stack['s_ra']} {stack['s_dec']} 0.01"
    assert "ID" in assert_votable_error(httpx.get(url, params={"CIRCLE": circle}), 400)
    message = assert_votable_error(httpx.get(url, params={"ID": stack["image_id"]}), 400)
    assert message.startswith("UsageError:")
    twice = httpx.get(url, params=[("ID", stack["image_id"]), ("CIRCLE", circle), ("CIRCLE", circle)])
    assert assert_votable_error(twice, 400).startswith("MultiValuedParamNotSupported:")
    both = httpx.get(url, params={"ID": stack["image_id"], "CIRCLE": circle, "POLYGON": "1 2 3 4 5 6"})
    assert_votable_error(both, 400)
    assert_votable_error(
        httpx.get(url, params={"ID": stack["image_id"], "CIRCLE": circle, "RESPONSEFORMAT": "x"}),
        400,
    )


def test_datalink_lists_this_cutout_and_preview(base: str, stack: dict) -> None:
    r = httpx.get(f"{base}/datalink/links", params={"ID": stack["obs_publisher_did"]})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/x-votable+xml;content=datalink"
    links = DatalinkResults.from_result_url(str(r.url))
    by = {row.semantics: row for row in links}
    assert set(by) == {"#this", "#cutout", "#preview"}
    this = by["#this"]
    assert this.access_url == stack["access_url"]
    assert this.content_type == stack["access_format"]
    data = httpx.get(this.access_url, timeout=60)
    assert data.status_code == 200 and len(data.content) == this.content_length
    preview = httpx.get(by["#preview"].access_url, timeout=60)
    assert preview.status_code == 200 and preview.headers["content-type"] == "image/png"
    assert preview.content[:8] == b"\x89PNG\r\n\x1a\n"
    zscale = httpx.get(by["#preview"].access_url, params={"stretch": "zscale"}, timeout=60)
    assert zscale.status_code == 200 and zscale.content != preview.content
    # pyvo calls the SODA service the descriptor describes.
    cut = by["#cutout"]
    assert cut.service_def == "soda"
    stream = cut.process(circle=[stack['s_ra'], stack['s_dec'], 0.01])
    with fits.open(io.BytesIO(stream.read())) as hdul:
        assert _image_hdu(hdul).data.shape[0] < stack["s_xel2"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        doc = votable.parse(io.BytesIO(r.content))
    infos = {i.name: i.value for i in doc.resources[0].infos}
    assert infos["standardID"] == "ivo://ivoa.net/std/DataLink#links-1.1"


def test_datalink_unknown_and_several_ids(base: str, stack: dict) -> None:
    r = httpx.get(
        f"{base}/datalink/links",
        params=[("ID", stack["image_id"]), ("ID", "no-such-image"), ("ID", "../../etc/passwd")],
    )
    assert r.status_code == 200
    table = votable_table(r.content)
    errors = [row for row in table if row["error_message"]]
    assert len(table) == 5 and len(errors) == 2
    assert all(str(e["error_message"]).startswith("NotFoundFault:") for e in errors)
    assert all(e["semantics"] == "#this" for e in errors)
    empty = httpx.get(f"{base}/datalink/links")
    assert empty.status_code == 200 and len(votable_table(empty.content)) == 0


def test_sia2_results_lead_to_datalink(base: str) -> None:
    import pyvo

    results = pyvo.dal.SIA2Service(f"{base}/sia2").search(pos=(*PLEIADES, 0.01), maxrec=2)
    semantics = [
        {row.semantics for row in links} for links in results.iter_datalinks()
    ]
    assert semantics and all(s == {"#this", "#cutout", "#preview"} for s in semantics)


def test_files_support_range_requests(base: str, stack: dict) -> None:
    whole = httpx.get(stack["access_url"], timeout=60)
    part = httpx.get(stack["access_url"], headers={"Range": "bytes=2880-5759"})
    assert part.status_code == 206 and part.content == whole.content[2880:5760]
    assert whole.headers["content-type"] == stack["access_format"]
    assert int(whole.headers["content-length"]) == len(whole.content)
