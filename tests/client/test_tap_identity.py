"""TAP for logged-in users: their myDB tables and jobs, and nobody else's."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx
import pyvo
import pytest

from tests.client.conftest import PASSWORDS, Site

UWS = "{http://www.ivoa.net/xml/UWS/v1.0}"


def login(site: Site, user: str) -> str:
    response = httpx.get(f"{site.url}/auth/login", params={"username": user},
                         headers={"X-DL-Password": PASSWORDS[user]}, timeout=30)
    assert response.status_code == 200, response.text
    return response.text


@pytest.fixture(scope="module")
def tokens(site: Site) -> dict[str, str]:
    found = {user: login(site, user) for user in PASSWORDS}
    saved = httpx.get(
        f"{site.url}/query/query",
        params={"sql": "select hip, ra, dec from hipparcos.hip2 where hpmag < 4",
                "out": "mydb://bright", "drop": "True"},
        headers={"X-DL-AuthToken": found["demo00"]}, timeout=60,
    )
    assert saved.status_code == 200, saved.text
    return found


def test_owner_queries_mydb_through_tap_with_a_bearer_token(site: Site, tokens: dict) -> None:
    session = httpx.Client(headers={"Authorization": f"Bearer {tokens['demo00']}"}, timeout=60)
    with session:
        response = session.post(f"{site.url}/tap/sync", data={
            "QUERY": "SELECT COUNT(*) AS n FROM mydb.bright", "FORMAT": "csv"})
        assert response.status_code == 200, response.text
        assert int(response.text.split()[1]) > 100
        assert "mydb.bright" in session.get(f"{site.url}/tap/tables").text


def test_pyvo_with_http_basic_sees_mydb(site: Site, tokens: dict) -> None:
    import requests

    auth_session = requests.Session()
    auth_session.auth = ("demo00", PASSWORDS["demo00"])
    service = pyvo.dal.TAPService(f"{site.url}/tap", session=auth_session)
    rows = service.run_sync("SELECT TOP 3 hip FROM mydb.bright ORDER BY hip").to_table()
    assert len(rows) == 3
    auth_session.close()


def test_other_users_and_anonymous_do_not_see_the_table(site: Site, tokens: dict) -> None:
    for headers in ({"Authorization": f"Bearer {tokens['demo01']}"}, {}):
        response = httpx.post(f"{site.url}/tap/sync", headers=headers, timeout=60,
                              data={"QUERY": "SELECT COUNT(*) FROM mydb.bright"})
        assert response.status_code == 400
        assert "bright" in response.text and "does not exist" in response.text
        assert "mydb.bright" not in httpx.get(f"{site.url}/tap/tables", headers=headers,
                                              timeout=60).text


def test_job_lists_and_job_ids_are_private(site: Site, tokens: dict) -> None:
    mine = {"Authorization": f"Bearer {tokens['demo00']}"}
    theirs = {"Authorization": f"Bearer {tokens['demo01']}"}
    created = httpx.post(f"{site.url}/tap/async", headers=mine, timeout=60,
                         data={"QUERY": "SELECT COUNT(*) FROM mydb.bright"})
    job_url = created.headers["location"]
    job_id = job_url.rsplit("/", 1)[1]

    def listed(headers: dict) -> list[str]:
        root = ET.fromstring(httpx.get(f"{site.url}/tap/async", headers=headers, timeout=60).content)
        return [ref.get("id") for ref in root.iter(f"{UWS}jobref")]

    assert job_id in listed(mine)
    assert job_id not in listed(theirs) and listed({}) == []
    for headers in (theirs, {}):
        assert httpx.get(job_url, headers=headers, timeout=60).status_code == 404
        assert httpx.delete(job_url, headers=headers, timeout=60).status_code == 404
        assert httpx.get(f"{site.url}/query/status", params={"jobid": job_id}, headers={
            "X-DL-AuthToken": tokens["demo01"]} if headers else {}, timeout=60).status_code == 404
    root = ET.fromstring(httpx.get(job_url, headers=mine, timeout=60).content)
    assert root.findtext(f"{UWS}ownerId") == "demo00"
    httpx.delete(job_url, headers=mine, timeout=60)


def test_bad_credentials_on_tap_are_401_votable(site: Site) -> None:
    for headers in ({"Authorization": "Bearer demo00.1001.1001.$1$forgedforgedforgedforged"},
                    {"Authorization": "Basic ZGVtbzAwOndyb25n"}):
        response = httpx.get(f"{site.url}/tap/sync", headers=headers, timeout=60,
                             params={"QUERY": "SELECT 1 AS x FROM hipparcos.hip2"})
        assert response.status_code == 401
        assert "QUERY_STATUS" in response.text
