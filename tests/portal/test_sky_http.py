"""The sky viewer's page and JSON routes over plain HTTP: the page's bookmarkable
parameters, name resolution from our own catalogs, image discovery, and what hostile
or curious callers get."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import httpx
import pytest

from tests.portal.conftest import csrf_of

Sessions = Callable[..., httpx.Client]

HOSTILE = '<script>alert("x")</script>'


def page_config(html: str) -> dict[str, object]:
    found = re.search(r'<script type="application/json" id="sky-config">(.*?)</script>', html, re.S)
    assert found, html[:500]
    return json.loads(found.group(1))


def test_the_page_is_public_and_lists_our_hips(sessions: Sessions) -> None:
    answer = sessions(None).get("/portal/sky")
    assert answer.status_code == 200
    assert 'aria-current="page">Sky<' in answer.text
    config = page_config(answer.text)
    ids = {h["id"] for h in config["hips"]}  # type: ignore[union-attr]
    assert {"band-g", "band-r", "band-i"} <= ids and any(i.startswith("colour-") for i in ids)
    assert config["user"] is None
    assert '<option value="band-g">' in answer.text
    assert "Log in</a> to draw your own query results" in answer.text
    script = sessions(None).get("/static/portal/sky.js")
    assert script.status_code == 200 and "/static/vendor/aladin-lite/aladin.js" in script.text


def test_a_bookmarked_view_reaches_the_script(sessions: Sessions) -> None:
    answer = sessions("demo00").get(
        "/portal/sky", params={"ra": "56.75", "dec": "24.12", "fov": "0.5", "hips": "band-r", "job": "abc_123"}
    )
    assert answer.status_code == 200
    config = page_config(answer.text)
    assert config["view"] == {"ra": 56.75, "dec": 24.12, "fov": 0.5, "hips": "band-r", "target": None}
    assert config["job"] == "abc_123" and config["user"] == "demo00"
    assert 'id="job-select"' in answer.text


def test_hostile_page_parameters_stay_escaped(sessions: Sessions) -> None:
    answer = sessions(None).get("/portal/sky", params={"target": HOSTILE})
    assert answer.status_code == 200
    assert HOSTILE not in answer.text
    assert page_config(answer.text)["view"]["target"] == HOSTILE  # type: ignore[index]


@pytest.mark.parametrize(
    ("params", "status", "said"),
    [
        ({"ra": "400", "dec": "0"}, 400, "ra must be from 0 to 360 degrees"),
        ({"ra": "10", "dec": "-91"}, 400, "dec must be from -90 to 90 degrees"),
        ({"ra": "nan", "dec": "0"}, 400, "ra must be from 0 to 360"),
        ({"ra": "10"}, 400, "give both ra and dec"),
        ({"ra": "1", "dec": "1", "fov": "0"}, 400, "fov must be from"),
        ({"ra": HOSTILE, "dec": "1"}, 400, "ra must be a number of degrees"),
        ({"hips": HOSTILE}, 404, "there is no HiPS survey"),
        ({"target": "M" * 500}, 400, "the limit is 100"),
        ({"job": "../../etc/passwd"}, 404, "no such query"),
    ],
)
def test_bad_page_parameters_give_an_error_page(
    sessions: Sessions, params: dict[str, str], status: int, said: str
) -> None:
    answer = sessions(None).get("/portal/sky", params=params)
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("text/html")
    assert said in answer.text
    assert "<script>alert" not in answer.text and "Traceback" not in answer.text


def test_names_resolve_from_our_catalogs(sessions: Sessions) -> None:
    client = sessions(None)
    m45 = client.get("/portal/api/sky/resolve", params={"name": "M45"})
    assert m45.status_code == 200
    body = m45.json()
    assert body["name"] == "Mel022 (Pleiades)" and body["source"] == "openngc.objects"
    assert body["ra"] == pytest.approx(56.87, abs=0.1) and body["dec"] == pytest.approx(24.1, abs=0.1)
    hip = client.get("/portal/api/sky/resolve", params={"name": "HIP 17702"}).json()
    assert hip["source"] == "hipparcos.hip2"
    coords = client.get("/portal/api/sky/resolve", params={"name": "03:47:00 +24:07:00"}).json()
    assert coords["ra"] == pytest.approx(56.75) and coords["source"] == "coordinates"
    assert coords["fov"] is None


@pytest.mark.parametrize(
    ("name", "status", "said"),
    [
        (HOSTILE, 404, "no object named"),
        ("x' OR '1'='1", 404, "no object named"),
        ("M45'; DROP TABLE openngc.objects; --", 404, "no object named"),
        ("Z" * 5000, 400, "5,000 characters long; the limit is 100"),
        ("", 400, "give a name"),
        ("91 91", 400, "declination 91 is outside"),
    ],
)
def test_unknown_and_hostile_names(sessions: Sessions, name: str, status: int, said: str) -> None:
    client = sessions(None)
    reply = client.get("/portal/api/sky/resolve", params={"name": name})
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert said in error["message"]
    assert len(error["message"]) < 400
    # Nothing was harmed: the catalog still answers.
    assert client.get("/portal/api/sky/resolve", params={"name": "M45"}).status_code == 200


def test_images_at_the_pleiades(sessions: Sessions) -> None:
    client = sessions(None)
    answer = client.get("/portal/api/sky/images", params={"ra": "56.75", "dec": "24.1167"})
    assert answer.status_code == 200
    images = answer.json()["images"]
    assert {i["band"] for i in images} >= {"g", "r", "i"}
    assert images[0]["proctype"] == "Stacked"  # stacks first
    first = images[0]
    preview = client.get(first["preview_url"])
    assert preview.status_code == 200 and preview.content.startswith(b"\x89PNG")
    head = client.get(first["file_url"], headers={"Range": "bytes=0-79"})
    assert head.status_code == 206 and head.content.startswith(b"SIMPLE  =")
    nowhere = client.get("/portal/api/sky/images", params={"ra": "180", "dec": "-10"}).json()
    assert nowhere["images"] == []


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"ra": "56.75"}, "give ra and dec"),
        ({"ra": "56.75", "dec": HOSTILE}, "dec must be a number of degrees"),
        ({"ra": "56.75", "dec": "24", "radius": "45"}, "radius must be from 0 to 10"),
        ({"ra": "1e999", "dec": "0"}, "ra must be from 0 to 360"),
    ],
)
def test_bad_image_searches(sessions: Sessions, params: dict[str, str], said: str) -> None:
    answer = sessions(None).get("/portal/api/sky/images", params=params)
    assert answer.status_code == 400
    assert said in answer.json()["error"]["message"]


def test_one_users_query_result_is_not_anothers(sessions: Sessions) -> None:
    """What the page's script fetches for ?job=: the owner's result, and 404 for anyone
    else, exactly as for a job that does not exist."""
    owner = sessions("demo00")
    made = owner.post(
        "/portal/api/queries",
        json={"query": "SELECT TOP 3 ra, dec FROM hipparcos.hip2", "limit": 10},
        headers={"X-CSRF-Token": csrf_of(owner)},
    )
    assert made.status_code == 201, made.text
    job = made.json()
    while not job["final"]:
        job = owner.get(f"/portal/api/queries/{job['id']}", params={"wait": 10}).json()
    url = f"/portal/api/queries/{job['id']}/download?format=votable"
    assert owner.get(url).status_code == 200
    other = sessions("demo01").get(url)
    assert other.status_code == 404 and other.json()["error"]["message"] == "no such query"
    assert sessions(None).get(url).status_code == 401
    # demo01's page may carry the id, but it is only text for the script.
    page = sessions("demo01").get("/portal/sky", params={"job": job["id"]})
    assert page.status_code == 200 and page_config(page.text)["job"] == job["id"]
