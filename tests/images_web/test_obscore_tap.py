"""ivoa.obscore through TAP: access_url is an absolute URL that downloads the image."""

from __future__ import annotations

import csv
import io
import time
import xml.etree.ElementTree as ET

import httpx
import pytest

from tests.images_web.helpers import votable_table

UWS = "{http://www.ivoa.net/xml/UWS/v1.0}"
XLINK = "{http://www.w3.org/1999/xlink}href"
QUERY = "SELECT TOP 3 obs_id, access_url FROM ivoa.obscore ORDER BY obs_id"


@pytest.fixture
def client() -> httpx.Client:
    with httpx.Client(timeout=60, follow_redirects=False) as c:
        yield c


def assert_downloads(client: httpx.Client, base: str, urls: list[str]) -> None:
    assert len(urls) == 3
    for url in urls:
        assert url.startswith(f"{base}/images/"), url
        response = client.get(url, follow_redirects=True)
        assert response.status_code == 200, (url, response.text[:300])
        assert response.content.startswith(b"SIMPLE")


def wait_done(client: httpx.Client, job: str) -> ET.Element:
    deadline = time.monotonic() + 120
    document = ET.fromstring(client.get(job, params={"WAIT": "30"}).content)
    while (
        document.findtext(f"{UWS}phase") in ("PENDING", "QUEUED", "EXECUTING")
        and time.monotonic() < deadline
    ):
        document = ET.fromstring(client.get(job, params={"WAIT": "30"}).content)
    return document


def test_sync_query_serves_absolute_access_urls(client: httpx.Client, base: str) -> None:
    response = client.post(f"{base}/tap/sync", data={"LANG": "ADQL", "QUERY": QUERY})
    assert response.status_code == 200, response.text[:500]
    table = votable_table(response.content)
    assert table.colnames == ["obs_id", "access_url"]
    assert_downloads(client, base, [str(u) for u in table["access_url"]])


def test_conditions_see_the_absolute_url(client: httpx.Client, base: str) -> None:
    query = (
        "SELECT COUNT(*) AS n FROM ivoa.obscore "
        f"WHERE access_url LIKE '{base}/images/%'"
    )
    response = client.post(
        f"{base}/tap/sync", data={"LANG": "ADQL", "QUERY": query, "FORMAT": "csv"}
    )
    assert response.status_code == 200, response.text[:500]
    assert int(response.text.split()[1]) > 0


def test_async_job_serves_absolute_access_urls(client: httpx.Client, base: str) -> None:
    created = client.post(
        f"{base}/tap/async",
        # A client cannot choose the base URL: reserved parameters are the server's.
        data={"LANG": "ADQL", "QUERY": QUERY, "FORMAT": "csv", "_base_url": "http://evil"},
    )
    assert created.status_code == 303, created.text
    job = created.headers["location"]
    pending = ET.fromstring(client.get(job).content)
    shown = {p.get("id") for p in pending.iter(f"{UWS}parameter")}
    assert "query" in shown and not any(name.startswith("_") for name in shown)
    assert client.post(f"{job}/phase", data={"PHASE": "RUN"}).status_code == 303
    done = wait_done(client, job)
    assert done.findtext(f"{UWS}phase") == "COMPLETED", ET.tostring(done)[:1000]
    href = done.find(f"{UWS}results/{UWS}result").get(XLINK)
    rows = list(csv.DictReader(io.StringIO(client.get(href).text)))
    assert_downloads(client, base, [row["access_url"] for row in rows])
    assert client.delete(job).status_code == 303


def test_data_lab_query_serves_absolute_access_urls(client: httpx.Client, base: str) -> None:
    sql = "SELECT obs_id, access_url FROM ivoa.obscore ORDER BY obs_id LIMIT 3"
    response = client.get(f"{base}/query/query", params={"sql": sql, "ofmt": "csv"})
    assert response.status_code == 200, response.text[:500]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert_downloads(client, base, [row["access_url"] for row in rows])

    started = client.get(f"{base}/query/query", params={"sql": sql, "ofmt": "csv",
                                                        "async": "True"})
    assert started.status_code == 200, started.text
    job = f"{base}/tap/async/{started.text.strip()}"
    done = wait_done(client, job)
    assert done.findtext(f"{UWS}phase") == "COMPLETED", ET.tostring(done)[:1000]
    href = done.find(f"{UWS}results/{UWS}result").get(XLINK)
    rows = list(csv.DictReader(io.StringIO(client.get(href).text)))
    assert_downloads(client, base, [row["access_url"] for row in rows])
