"""TAP and UWS at the HTTP level: parameters, job resources, errors, hostile input."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import httpx
import pytest

UWS = "{http://www.ivoa.net/xml/UWS/v1.0}"
# 9e10 row pairs with a condition the engine cannot rule out from statistics.
SLOW = ("SELECT COUNT(*) FROM ls_mock.tractor AS a, ls_mock.tractor AS b "
        "WHERE a.mag_g - b.mag_g BETWEEN 0.001 AND 0.0011")
VOT = "{http://www.ivoa.net/xml/VOTable/v1.3}"


def query_status(body: bytes) -> tuple[str, str]:
    root = ET.fromstring(body)
    info = next(
        i for i in root.iter(f"{VOT}INFO") if i.get("name") == "QUERY_STATUS"
    )
    return info.get("value") or "", (info.text or "").strip()


def phase(client: httpx.Client, job_url: str) -> str:
    return client.get(f"{job_url}/phase").text


def create(client: httpx.Client, tap_url: str, **params: str) -> str:
    response = client.post(f"{tap_url}/async", data=params)
    assert response.status_code == 303, response.text
    return response.headers["location"]


@pytest.fixture
def client() -> httpx.Client:
    with httpx.Client(timeout=60, follow_redirects=False) as c:
        yield c


def test_parameter_names_are_case_insensitive_and_get_equals_post(
    client: httpx.Client, tap_url: str
) -> None:
    query = "SELECT TOP 3 hip FROM hipparcos.hip2 ORDER BY hip"
    by_get = client.get(
        f"{tap_url}/sync", params={"rEqUeSt": "doQuery", "lang": "ADQL-2.1", "query": query,
                                   "responseFormat": "csv"}
    )
    by_post = client.post(
        f"{tap_url}/sync", data={"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": query,
                                 "FORMAT": "text/csv"}
    )
    assert by_get.status_code == by_post.status_code == 200
    assert by_get.text == by_post.text == "hip\r\n1\r\n2\r\n3\r\n"
    assert by_get.headers["content-type"].startswith("text/csv")


def test_maxrec_zero_gives_metadata_only(client: httpx.Client, tap_url: str) -> None:
    response = client.get(
        f"{tap_url}/sync", params={"QUERY": "SELECT hip, ra FROM hipparcos.hip2", "MAXREC": "0"}
    )
    assert response.status_code == 200
    root = ET.fromstring(response.content)
    assert [f.get("name") for f in root.iter(f"{VOT}FIELD")] == ["hip", "ra"]
    assert list(root.iter(f"{VOT}TR")) == []


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"QUERY": "SELECT hpmg FROM hipparcos.hip2"}, "did you mean hpmag"),
        ({"QUERY": "SELECT * FROM read_csv('/etc/passwd')"}, "table functions"),
        ({"QUERY": "SELECT 1 FROM hipparcos.hip2; DROP TABLE x"}, ""),
        ({"QUERY": ""}, "QUERY"),
        ({}, "QUERY"),
        ({"QUERY": "SELECT 1 FROM hipparcos.hip2", "LANG": "PostgreSQL"}, "LANG"),
        ({"QUERY": "SELECT 1 FROM hipparcos.hip2", "REQUEST": "getCapabilities"}, "REQUEST"),
        ({"QUERY": "SELECT 1 FROM hipparcos.hip2", "MAXREC": "-1"}, "MAXREC"),
        ({"QUERY": "SELECT 1 FROM hipparcos.hip2", "MAXREC": "lots"}, "MAXREC"),
        ({"QUERY": "SELECT 1 FROM hipparcos.hip2", "FORMAT": "application/pdf"}, "votable"),
        ({"QUERY": "SELECT 1 FROM hipparcos.hip2", "UPLOAD": "t,file:///etc/passwd"}, "UPLOAD"),
        ({"QUERY": "SELECT 1 FROM hipparcos.hip2", "UPLOAD": "1bad,param:x"}, "UPLOAD name"),
        ({"QUERY": "SELECT 1 FROM hipparcos.hip2", "UPLOAD": "t,param:missing"}, "no file part"),
        (
            {"QUERY": "SELECT 1 FROM hipparcos.hip2", "UPLOAD": "t,http://127.0.0.1:1/x.vot"},
            "does not fetch",
        ),
        ({"QUERY": "SELECT 1 FROM TAP_UPLOAD.nothing"}, "nothing"),
    ],
    ids=lambda v: str(v)[:50],
)
def test_bad_requests_get_a_votable_error_document(
    client: httpx.Client, tap_url: str, params: dict[str, str], fragment: str
) -> None:
    response = client.post(f"{tap_url}/sync", data=params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/x-votable+xml")
    status, message = query_status(response.content)
    assert status == "ERROR"
    assert fragment in message
    assert "Traceback" not in response.text


def test_inline_upload_in_every_format(client: httpx.Client, tap_url: str, tmp_path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from astropy.table import Table

    table = Table({"id": [1, 2, 3], "ra": [10.0, 20.0, 30.0], "dec": [1.0, 2.0, 3.0]})
    table.write(tmp_path / "t.vot", format="votable")
    table.write(tmp_path / "t.csv", format="ascii.csv")
    pq.write_table(pa.table({"id": [1, 2, 3], "ra": [10.0, 20.0, 30.0], "dec": [1.0, 2.0, 3.0]}),
                   tmp_path / "t.parquet")
    for name in ("t.vot", "t.csv", "t.parquet"):
        with open(tmp_path / name, "rb") as fh:
            response = client.post(
                f"{tap_url}/sync",
                data={"QUERY": "SELECT SUM(id) AS s, MAX(dec) AS d FROM TAP_UPLOAD.mine",
                      "UPLOAD": "mine,param:f", "FORMAT": "csv"},
                files={"f": (name, fh)},
            )
        assert response.status_code == 200, response.text
        assert response.text.split() == ["s,d", "6,3"], name


def test_broken_upload_is_refused_with_its_name(client: httpx.Client, tap_url: str) -> None:
    response = client.post(
        f"{tap_url}/sync",
        data={"QUERY": "SELECT * FROM TAP_UPLOAD.junk", "UPLOAD": "junk,param:f"},
        files={"f": ("x.vot", b"<VOTABLE><RESOURCE><TABLE><FIELD name='a' datatype='int'/>"
                              b"<DATA><TABLEDATA><TR><TD>oops</TD></TR>")},
    )
    assert response.status_code == 400
    status, message = query_status(response.content)
    assert status == "ERROR" and "junk" in message
    assert "/tmp" not in message and "upload-" not in message


def test_async_job_lifecycle_over_uws(client: httpx.Client, tap_url: str) -> None:
    job = create(client, tap_url, QUERY="SELECT COUNT(*) AS n FROM openngc.objects",
                 LANG="ADQL", RUNID="my-run", FORMAT="csv")
    document = ET.fromstring(client.get(job).content)
    assert document.findtext(f"{UWS}phase") == "PENDING"
    assert document.findtext(f"{UWS}runId") == "my-run"
    parameters = {p.get("id"): p.text for p in document.iter(f"{UWS}parameter")}
    assert parameters["query"].startswith("SELECT COUNT")

    # Parameters can change while PENDING.
    assert client.post(f"{job}/parameters", data={"QUERY": "SELECT COUNT(*) AS n FROM "
                                                  "openngc.object_types"}).status_code == 303
    assert client.post(f"{job}/executionduration",
                       data={"EXECUTIONDURATION": "120"}).status_code == 303
    assert client.get(f"{job}/executionduration").text == "120"
    assert client.post(f"{job}/destruction",
                       data={"DESTRUCTION": "2099-01-01T00:00:00Z"}).status_code == 303
    assert client.get(f"{job}/destruction").text  # clamped to the site's retention

    assert client.post(f"{job}/phase", data={"PHASE": "RUN"}).status_code == 303
    done = ET.fromstring(client.get(job, params={"WAIT": "60"}).content)
    deadline = time.monotonic() + 60
    while done.findtext(f"{UWS}phase") in ("QUEUED", "EXECUTING") and time.monotonic() < deadline:
        done = ET.fromstring(client.get(job, params={"WAIT": "30"}).content)
    assert done.findtext(f"{UWS}phase") == "COMPLETED"
    result = done.find(f"{UWS}results/{UWS}result")
    href = result.get("{http://www.w3.org/1999/xlink}href")
    assert client.get(href).text.split() == ["n", "21"]
    assert client.get(f"{job}/error").status_code == 404
    # Finished jobs take no new parameters and do not run again.
    assert client.post(job, data={"QUERY": "SELECT 1"}).status_code == 409
    assert client.post(f"{job}/phase", data={"PHASE": "RUN"}).status_code == 409

    assert client.post(job, data={"ACTION": "DELETE"}).status_code == 303
    assert client.get(job).status_code == 404


def test_failed_job_has_an_error_document(client: httpx.Client, tap_url: str) -> None:
    job = create(client, tap_url, QUERY="SELECT nope FROM hipparcos.hip2", PHASE="RUN")
    final = ""
    for _ in range(10):
        final = ET.fromstring(client.get(job, params={"WAIT": "10"}).content).findtext(
            f"{UWS}phase"
        ) or ""
        if final not in ("QUEUED", "EXECUTING", "PENDING"):
            break
    assert final == "ERROR"
    error = client.get(f"{job}/error")
    assert error.status_code == 200
    status, message = query_status(error.content)
    assert status == "ERROR" and "nope" in message
    assert client.delete(job).status_code == 303


def test_abort_a_queued_or_running_job(client: httpx.Client, tap_url: str) -> None:
    job = create(client, tap_url, QUERY=SLOW, PHASE="RUN")
    assert client.post(f"{job}/phase", data={"PHASE": "ABORT"}).status_code == 303
    final = ""
    for _ in range(10):
        final = phase(client, job)
        if final == "ABORTED":
            break
        time.sleep(0.5)
    assert final == "ABORTED"
    client.delete(job)


def test_execution_duration_is_enforced(client: httpx.Client, tap_url: str) -> None:
    job = create(client, tap_url, QUERY=SLOW, EXECUTIONDURATION="1", PHASE="RUN")
    final = ""
    for _ in range(20):
        final = ET.fromstring(client.get(job, params={"WAIT": "5"}).content).findtext(
            f"{UWS}phase"
        ) or ""
        if final in ("ERROR", "COMPLETED", "ABORTED"):
            break
    assert final == "ERROR"
    _, message = query_status(client.get(f"{job}/error").content)
    assert "1 s" in message
    client.delete(job)


def test_anonymous_job_list_shows_nothing_and_jobs_need_their_id(
    client: httpx.Client, tap_url: str
) -> None:
    job = create(client, tap_url, QUERY="SELECT 1 AS x FROM hipparcos.hip2")
    listing = ET.fromstring(client.get(f"{tap_url}/async").content)
    assert listing.tag == f"{UWS}jobs"
    assert list(listing.iter(f"{UWS}jobref")) == []
    assert client.get(f"{tap_url}/async/notajobid12345678").status_code == 404
    assert client.get(f"{tap_url}/async/..%2F..%2Fstate.sqlite").status_code == 404
    client.delete(job)


@pytest.mark.parametrize(
    ("method", "path", "data", "status"),
    [
        ("get", "/async", {"PHASE": "SLEEPING"}, 400),
        ("get", "/async", {"AFTER": "yesterday"}, 400),
        ("get", "/async", {"LAST": "-3"}, 400),
        ("post", "/async/{job}/phase", {"PHASE": "SUSPENDED"}, 400),
        ("post", "/async/{job}/executionduration", {"EXECUTIONDURATION": "soon"}, 400),
        ("post", "/async/{job}/destruction", {"DESTRUCTION": "never"}, 400),
        ("get", "/async/{job}", {"WAIT": "forever"}, 400),
        ("get", "/async/{job}/results/other", {}, 409),
        ("get", "/tables", {"detail": "all"}, 400),
        ("get", "/tables/no.such_table", {}, 404),
    ],
)
def test_bad_uws_requests_are_4xx(
    client: httpx.Client, tap_url: str, method: str, path: str, data: dict, status: int
) -> None:
    job = create(client, tap_url, QUERY="SELECT 1 AS x FROM hipparcos.hip2")
    url = tap_url + path.replace("{job}", job.rsplit("/", 1)[1])
    response = (
        client.get(url, params=data) if method == "get" else client.post(url, data=data)
    )
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text
    client.delete(job)


def test_vosi_resources(client: httpx.Client, tap_url: str) -> None:
    assert client.get(f"{tap_url}/availability").status_code == 200
    capabilities = client.get(f"{tap_url}/capabilities").text
    assert "ivo://ivoa.net/std/TAP" in capabilities and "ivo_healpix_index" in capabilities
    tables = client.get(f"{tap_url}/tables").text
    assert "gaia_dr3.gaia_source" in tables and "_healpix_29" not in tables
    one = client.get(f"{tap_url}/tables/hipparcos.hip2").text
    assert "<name>hpmag</name>" in one
    examples = client.get(f"{tap_url}/examples")
    assert examples.status_code == 200 and 'property="query"' in examples.text


def test_tap_schema_is_queryable(client: httpx.Client, tap_url: str) -> None:
    response = client.get(
        f"{tap_url}/sync",
        params={"QUERY": 'SELECT column_name, "size" FROM TAP_SCHEMA.columns '
                         "WHERE table_name = 'tap_schema.columns' ORDER BY column_index",
                "FORMAT": "csv"},
    )
    assert response.status_code == 200, response.text
    import csv

    names = [row[0] for row in csv.reader(response.text.splitlines()[1:])]
    assert '"size"' in names, "TAP 1.1 §4.3: a reserved word is stored delimited"
    assert "column_name" in names
