"""Malformed parameters and identifiers that try to leave the image store: 4xx, never 500."""

from __future__ import annotations

import httpx
import pytest

from tests.images_web.helpers import assert_votable_error, votable_table

BAD_SIA2 = [
    {"POS": "CIRCLE 56 24"},
    {"POS": "CIRCLE a b c"},
    {"POS": "CIRCLE 56 NaN 0.1"},
    {"POS": "CIRCLE 56 124 0.1"},
    {"POS": "CIRCLE 56 24 -0.1"},
    {"POS": "RANGE 1 2 30 20"},
    {"POS": "RANGE 1 2 3"},
    {"POS": "POLYGON 1 2 3 4"},
    {"POS": "POLYGON 1 2 3 4 5 x"},
    {"POS": "SQUARE 1 2 3"},
    {"BAND": "5 1"},
    {"BAND": "NaN"},
    {"BAND": "1 2 3"},
    {"TIME": "x"},
    {"TIME": "60000 59000"},
    {"EXPTIME": "-Inf"},
    {"FOV": ""+"1e400x"},
    {"CALIB": "7"},
    {"MAXREC": "-1"},
    {"MAXREC": "ten"},
    {"RESPONSEFORMAT": "image/gif"},
]

BAD_SIA1 = [
    {"POS": "56.75"},
    {"POS": "56.75,24,1"},
    {"POS": "abc,24"},
    {"POS": "56.75,NaN"},
    {"POS": "56.75,95"},
    {"POS": "56.75,24", "SIZE": "-1"},
    {"POS": "56.75,24", "SIZE": "x"},
    {"POS": "56.75,24", "SIZE": "1,2,3"},
    {"POS": "56.75,24", "SIZE": "nan"},
    {"POS": "56.75,24", "INTERSECT": "NEAR"},
    {"POS": "56.75,24", "VERB": "9"},
    {"SIZE": "1"},
]

BAD_SODA_REGIONS = [
    {"CIRCLE": "56 24"},
    {"CIRCLE": "56 24 NaN"},
    {"CIRCLE": "56 -91 0.1"},
    {"POLYGON": "56 24 57 24"},
    {"POLYGON": "56 24 57 24 57 x"},
    {"POS": "RANGE 57 56 25 24 1"},
    {"POS": "RANGE 56 57 25 24"},
    {"POS": "RANGE 0 360 -10 10"},
    {"POS": "RANGE -Inf +Inf -Inf +Inf"},
    {"POS": "ELLIPSE 1 2 3"},
    {"CIRCLE": "56.75 24.1 0.01", "BAND": "x"},
    {"CIRCLE": "56.75 24.1 0.01", "BAND": "2 1"},
]


@pytest.mark.parametrize("params", BAD_SIA2)
def test_bad_sia2_parameters(base: str, params: dict[str, str]) -> None:
    assert assert_votable_error(httpx.get(f"{base}/sia2/query", params=params)).startswith(
        "UsageFault:"
    )


def test_huge_values_are_refused(base: str) -> None:
    huge = "POLYGON " + " ".join(["1"] * 30000)  # in a POST body: URLs that long are cut
    r = httpx.post(f"{base}/sia2/query", data={"POS": huge})
    assert "longer than" in assert_votable_error(r, 400)


@pytest.mark.parametrize("params", BAD_SIA1)
def test_bad_sia1_parameters(base: str, params: dict[str, str]) -> None:
    assert_votable_error(httpx.get(f"{base}/sia", params=params), 400)


@pytest.fixture(scope="module")
def an_image(base: str) -> str:
    r = httpx.get(f"{base}/sia2/query", params={"MAXREC": "1"})
    return str(votable_table(r.content)["image_id"][0])


@pytest.mark.parametrize("params", BAD_SODA_REGIONS)
def test_bad_soda_regions(base: str, an_image: str, params: dict[str, str]) -> None:
    r = httpx.get(f"{base}/soda/sync", params={"ID": an_image, **params})
    assert assert_votable_error(r, 400).startswith("UsageError:")


HOSTILE_IDS = [
    "../../etc/passwd",
    "/etc/passwd",
    "..",
    ".",
    "%2e%2e%2fetc%2fpasswd",
    "..%2f..%2fetc%2fpasswd",
    "ivo://datalab.local/images?../../etc/passwd",
    "catalog.duckdb",
    "../catalog.duckdb",
    "no-such-image",
    "x" * 5000,
    "a\x00b",
]


@pytest.mark.parametrize("value", HOSTILE_IDS)
def test_ids_outside_the_store_serve_nothing(base: str, value: str) -> None:
    r = httpx.get(f"{base}/soda/sync", params={"ID": value, "CIRCLE": "56.75 24.1 0.01"})
    assert_votable_error(r, 404)
    links = httpx.get(f"{base}/datalink/links", params={"ID": value})
    assert links.status_code == 200 and b"NotFoundFault" in links.content
    assert b"root:" not in links.content


@pytest.mark.parametrize(
    "path",
    [
        "/images/..%2f..%2fetc%2fpasswd",
        "/images/%2e%2e/%2e%2e/etc/passwd",
        "/images/%2Fetc%2Fpasswd",
        "/images/..%2Fcatalog.duckdb",
        "/images/no-such-image",
        "/images/no-such-image/preview.png",
        "/images/..%2f..%2fetc%2fpasswd/preview.png",
        "/images/.hidden",
    ],
)
def test_file_paths_outside_the_store_serve_nothing(base: str, path: str) -> None:
    with httpx.Client() as client:
        request = client.build_request("GET", base + path)
        request.url = httpx.URL(base + path)  # keep the encoded dots as sent
        r = client.send(request)
    assert 400 <= r.status_code < 500
    assert b"root:" not in r.content and b"DUCK" not in r.content[:64]


def test_preview_stretch_is_checked(base: str, an_image: str) -> None:
    r = httpx.get(f"{base}/images/{an_image}/preview.png", params={"stretch": "log"})
    assert_votable_error(r, 400)


def test_large_cutouts_are_clipped_to_the_image(base: str, an_image: str) -> None:
    r = httpx.get(f"{base}/soda/sync", params={"ID": an_image, "CIRCLE": "56.75 24.1 90"})
    assert r.status_code in (200, 204)
