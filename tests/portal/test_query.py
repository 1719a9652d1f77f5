"""The query page's JSON routes over plain HTTP: checking, running, paging, downloads,
saving, and everything a hostile or curious caller might try."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
from astropy.io import fits
from astropy.io.votable import parse_single_table

from tests.portal.conftest import PortalSite, csrf_of

Sessions = Callable[..., httpx.Client]

PLEIADES = (
    "SELECT source_id, ra, dec, phot_g_mean_mag FROM gaia_dr3.gaia_source "
    "WHERE 1=CONTAINS(POINT(ra,dec), CIRCLE(56.75, 24.12, 1))"
)
HOSTILE = '<script>alert("x")</script>'
# Pairs of rows of the synthetic survey: rows stream from the start (so an abort
# stops the engine between batches) and 20 million of them take far longer than a
# test lasts.
LONG_QUERY = (
    "SELECT a.objid AS a_id, b.objid AS b_id FROM ls_mock.tractor AS a "
    "CROSS JOIN ls_mock.tractor AS b WHERE SIN(a.ra * b.dec) > 0.9999"
)
LONG_LIMIT = 20_000_000


def post(client: httpx.Client, url: str, body: Any = None, **kwargs: Any) -> httpx.Response:
    """A state-changing call as the page makes it: JSON with the CSRF header."""
    return client.post(url, json=body, headers={"X-CSRF-Token": csrf_of(client)}, **kwargs)


def run(client: httpx.Client, query: str, limit: int = 1000) -> dict[str, Any]:
    """Run ``query`` and wait until its job has finished."""
    answer = post(client, "/portal/api/queries", {"query": query, "limit": limit})
    assert answer.status_code == 201, answer.text
    job = answer.json()
    while not job["final"]:
        job = client.get(f"/portal/api/queries/{job['id']}", params={"wait": 10}).json()
    return job


@pytest.fixture(scope="module")
def pleiades(portal: PortalSite) -> dict[str, Any]:
    """One completed cone query of demo00, shared by the tests that only read it."""
    from tests.portal.conftest import http_session

    client = http_session(portal, "demo00")
    try:
        job = run(client, PLEIADES)
    finally:
        client.close()
    assert job["phase"] == "COMPLETED", job
    assert job["rows"] > 50
    return job


def rows(client: httpx.Client, job_id: str, **params: Any) -> httpx.Response:
    if "filter" in params and not isinstance(params["filter"], str):
        params["filter"] = json.dumps(params["filter"])
    return client.get(f"/portal/api/queries/{job_id}/rows", params=params)


# -- checking and running ---------------------------------------------------------------


def test_check_names_the_position_of_an_error(sessions: Sessions) -> None:
    client = sessions()
    good = post(client, "/portal/api/adql/check", {"query": PLEIADES})
    assert good.json() == {
        "ok": True,
        "columns": ["source_id", "ra", "dec", "phot_g_mean_mag"],
        "error": None,
    }
    bad = post(
        client,
        "/portal/api/adql/check",
        {"query": "SELECT TOP 5 ra,\n  dec FRM gaia_dr3.gaia_source"},
    )
    assert bad.status_code == 200
    answer = bad.json()
    assert answer["ok"] is False
    assert (answer["error"]["line"], answer["error"]["column"]) == (2, 11)
    assert "syntax error" in answer["error"]["message"]


def test_a_refused_query_is_answered_at_once_with_its_position(sessions: Sessions) -> None:
    client = sessions()
    before = len(client.get("/portal/api/queries").json()["queries"])
    answer = post(
        client, "/portal/api/queries", {"query": "SELECT nosuch FROM gaia_dr3.gaia_source"}
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "adql_error"
    assert error["detail"]["line"] == 1 and error["detail"]["column"] == 8
    # No failed job is left behind.
    assert len(client.get("/portal/api/queries").json()["queries"]) == before


def test_run_returns_a_quick_query_completed_and_lists_it(
    sessions: Sessions, pleiades: dict[str, Any]
) -> None:
    assert pleiades["limit"] == 1000
    assert pleiades["error"] is None and pleiades["overflow"] is False
    client = sessions()
    recent = client.get("/portal/api/queries").json()["queries"]
    assert pleiades["id"] in [q["id"] for q in recent]
    tap = client.get(f"/portal/api/queries/{pleiades['id']}").json()
    assert tap["phase"] == "COMPLETED" and tap["rows"] == pleiades["rows"]


def test_a_query_failing_in_the_engine_ends_in_error(sessions: Sessions) -> None:
    client = sessions()
    job = run(client, "SELECT TOP 3 CAST(name AS INTEGER) AS n FROM openngc.objects")
    assert job["phase"] == "ERROR"
    assert job["error"]["message"].startswith("the query failed: Could not convert string")
    assert job["rows"] is None
    answer = rows(client, job["id"])
    assert answer.status_code == 409


def test_row_limit_is_kept_and_checked(sessions: Sessions, portal: PortalSite) -> None:
    client = sessions()
    job = run(client, "SELECT TOP 500 ra FROM gaia_dr3.gaia_source", limit=20)
    assert job["rows"] == 20 and job["overflow"] is True and job["limit"] == 20
    for limit in (0, -5, "many", 10**12, True):
        answer = post(
            client,
            "/portal/api/queries",
            {"query": "SELECT TOP 1 ra FROM hipparcos.hip2", "limit": limit},
        )
        assert answer.status_code == 400, limit
        assert "row limit" in answer.json()["error"]["message"]


def test_huge_query_text_is_refused_with_a_clear_message(sessions: Sessions) -> None:
    client = sessions()
    long = "SELECT ra FROM gaia_dr3.gaia_source WHERE " + " OR ".join(["ra > 1"] * 40_000)
    answer = post(client, "/portal/api/queries", {"query": long})
    assert answer.status_code == 400
    assert "characters long; the limit is 200,000" in answer.json()["error"]["message"]
    huge = post(client, "/portal/api/adql/check", {"query": "x" * (3 << 20)})
    assert huge.status_code == 413
    assert "larger than 2 MiB" in huge.json()["error"]["message"]


@pytest.mark.parametrize(
    "body",
    [None, [], "SELECT 1", {"query": 5}, {"query": ""}, {"query": "   "}, {"query": ["x"]}],
)
def test_malformed_bodies_are_usage_errors(sessions: Sessions, body: Any) -> None:
    client = sessions()
    for url in ("/portal/api/queries", "/portal/api/adql/check"):
        answer = (
            post(client, url, body)
            if body is not None
            else client.post(url, content=b"{not json", headers={"X-CSRF-Token": csrf_of(client)})
        )
        assert answer.status_code == 400, (url, body, answer.text)
        assert answer.json()["error"]["message"]


# -- pages of rows ------------------------------------------------------------------------------


def test_rows_page_sort_and_filter(sessions: Sessions, pleiades: dict[str, Any]) -> None:
    client = sessions()
    job = pleiades["id"]
    first = rows(client, job, offset=0, limit=25).json()
    assert [c["name"] for c in first["columns"]] == ["source_id", "ra", "dec", "phot_g_mean_mag"]
    mag = first["columns"][3]
    assert (mag["unit"], mag["ucd"], mag["numeric"]) == ("mag", "phot.mag;em.opt", True)
    assert first["row_ids"] == list(range(25))
    assert first["total"] == first["total_all"] == pleiades["rows"]
    # Gaia source ids pass 2**53: they travel as text, exactly.
    assert all(isinstance(r[0], str) and int(r[0]) > 2**53 for r in first["rows"])

    bright = rows(
        client,
        job,
        limit=100,
        sort="phot_g_mean_mag",
        order="asc",
        filter=[{"column": "phot_g_mean_mag", "op": "<", "value": "6"}],
    ).json()
    mags = [r[3] for r in bright["rows"]]
    assert mags == sorted(mags) and all(m < 6 for m in mags)
    assert bright["total"] == len(mags) < pleiades["rows"]
    assert bright["sort"] == "phot_g_mean_mag" and bright["order"] == "asc"

    last = rows(client, job, offset=pleiades["rows"] - 2, limit=25, sort="ra", order="desc").json()
    assert len(last["rows"]) == 2
    top = rows(client, job, limit=1, sort="RA", order="desc").json()
    assert top["rows"][0][1] >= max(r[1] for r in first["rows"])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"sort": 'ra" DESC; DROP TABLE result; --'}, "no column"),
        ({"sort": "_row"}, "no column"),
        ({"order": "sideways"}, "order must be"),
        ({"limit": "501"}, "limit must be"),
        ({"limit": "0"}, "limit must be"),
        ({"offset": "-1"}, "offset must be"),
        ({"offset": "1e3"}, "offset must be"),
        ({"filter": "[{'column': 'ra'}]"}, "JSON list"),
        ({"filter": [{"column": "ra) OR 1=1 --", "op": "=", "value": "1"}]}, "no column"),
        ({"filter": [{"column": "ra", "op": "; DELETE", "value": "1"}]}, "unknown filter operator"),
        ({"filter": [{"column": "ra", "op": "<", "value": "1 OR 1=1"}]}, "is not a number"),
        (
            {"filter": [{"column": "phot_g_mean_mag", "op": ">", "value": HOSTILE}]},
            "is not a number",
        ),
        ({"filter": [{"column": "ra", "op": "=", "value": "9" * 2000}]}, "longer than"),
    ],
)
def test_hostile_paging_requests_are_refused_precisely(
    sessions: Sessions, pleiades: dict[str, Any], params: dict[str, Any], message: str
) -> None:
    answer = rows(sessions(), pleiades["id"], **params)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert message in answer.json()["error"]["message"]
    assert "Traceback" not in answer.text


def test_injection_in_a_text_filter_is_only_text(sessions: Sessions) -> None:
    client = sessions()
    job = run(client, "SELECT TOP 30 name, type FROM openngc.objects")
    for value in ("' OR '1'='1", "x'); DROP TABLE result; --", HOSTILE):
        page = rows(
            client, job["id"], filter=[{"column": "name", "op": "contains", "value": value}]
        )
        assert page.status_code == 200 and page.json()["total"] == 0
    # The result is still whole afterwards.
    assert rows(client, job["id"]).json()["total"] == 30


def test_rows_of_a_query_without_a_result_are_a_conflict(sessions: Sessions) -> None:
    client = sessions()
    job = post(client, "/portal/api/queries", {"query": LONG_QUERY, "limit": LONG_LIMIT}).json()
    try:
        answer = rows(client, job["id"])
        assert answer.status_code == 409
        assert "no result yet" in answer.json()["error"]["message"]
    finally:
        post(client, f"/portal/api/queries/{job['id']}/abort")


# -- downloads -------------------------------------------------------------------------------


def test_downloads_in_every_format_keep_the_field_metadata(
    sessions: Sessions, pleiades: dict[str, Any]
) -> None:
    client = sessions()
    url = f"/portal/api/queries/{pleiades['id']}/download"
    n = pleiades["rows"]
    for name in ("votable", "votable-binary", "votable-binary2"):
        answer = client.get(url, params={"format": name})
        assert answer.status_code == 200
        assert answer.headers["content-disposition"].endswith('.vot"')
        table = parse_single_table(io.BytesIO(answer.content))
        assert len(table.array) == n
        field = table.get_field_by_id_or_name("phot_g_mean_mag")
        assert (str(field.unit), field.ucd) == ("mag", "phot.mag;em.opt")
    csv = client.get(url, params={"format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert lines[0].strip() == "source_id,ra,dec,phot_g_mean_mag" and len(lines) == n + 1
    tsv = client.get(url, params={"format": "tsv"}).text.strip().splitlines()
    assert tsv[0].split("\t") == ["source_id", "ra", "dec", "phot_g_mean_mag"]
    fits_file = fits.open(io.BytesIO(client.get(url, params={"format": "fits"}).content))
    assert fits_file[1].header["NAXIS2"] == n
    assert fits_file[1].columns["phot_g_mean_mag"].unit == "mag"
    parquet = pq.read_table(io.BytesIO(client.get(url, params={"format": "parquet"}).content))
    assert parquet.num_rows == n
    assert b"IVOA.VOTable-Parquet.content" in parquet.schema.metadata
    data = client.get(url, params={"format": "json"}).json()
    assert len(data["data"]) == n
    assert client.get(url, params={"format": "xls"}).status_code == 400


def test_selected_rows_download(sessions: Sessions, pleiades: dict[str, Any]) -> None:
    client = sessions()
    page = rows(client, pleiades["id"], limit=10).json()
    chosen = [page["row_ids"][i] for i in (7, 2, 5)]
    answer = post(
        client, f"/portal/api/queries/{pleiades['id']}/download", {"format": "csv", "rows": chosen}
    )
    assert answer.status_code == 200
    assert "-selected.csv" in answer.headers["content-disposition"]
    lines = answer.text.strip().splitlines()
    assert lines[1:] == [",".join(str(v) for v in page["rows"][i]) for i in (2, 5, 7)]
    for body, message in (
        ({"format": "csv", "rows": []}, "no rows"),
        ({"format": "csv", "rows": [10**9]}, "not in the result"),
        ({"format": "csv", "rows": ["1; DROP"]}, "list of row numbers"),
        ({"format": "exe", "rows": [1]}, "unknown format"),
    ):
        refused = post(client, f"/portal/api/queries/{pleiades['id']}/download", body)
        assert refused.status_code == 400 and message in refused.json()["error"]["message"]


# -- saving ---------------------------------------------------------------------------------------


def test_save_to_mydb_then_query_it_back(sessions: Sessions, pleiades: dict[str, Any]) -> None:
    client = sessions()
    name = f"pleiades_{uuid.uuid4().hex[:8]}"
    saved = post(
        client,
        f"/portal/api/queries/{pleiades['id']}/save",
        {"target": "mydb", "name": name, "replace": False},
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["table"] == f"mydb.{name}" and saved.json()["rows"] == pleiades["rows"]
    again = post(
        client,
        f"/portal/api/queries/{pleiades['id']}/save",
        {"target": "mydb", "name": name, "replace": False},
    )
    assert again.status_code == 409
    replaced = post(
        client,
        f"/portal/api/queries/{pleiades['id']}/save",
        {"target": "mydb", "name": name, "replace": True},
    )
    assert replaced.status_code == 200
    back = run(client, f"SELECT COUNT(*) AS n, MIN(phot_g_mean_mag) AS m FROM mydb.{name}")
    assert back["phase"] == "COMPLETED"
    assert rows(client, back["id"]).json()["rows"][0][0] == pleiades["rows"]
    # The column documentation came along.
    described = post(client, "/portal/api/adql/check", {"query": f"SELECT * FROM mydb.{name}"})
    assert described.json()["ok"] is True


@pytest.mark.parametrize(
    "name", ["", "1abc", "a b", "mydb.x.y", "../etc", "select", HOSTILE, "x" * 100]
)
def test_bad_mydb_names_are_refused(
    sessions: Sessions, pleiades: dict[str, Any], name: str
) -> None:
    answer = post(
        sessions(), f"/portal/api/queries/{pleiades['id']}/save", {"target": "mydb", "name": name}
    )
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"]["code"] == "usage_error"


def test_save_to_file_space(
    sessions: Sessions, portal: PortalSite, pleiades: dict[str, Any]
) -> None:
    client = sessions()
    name = f"pleiades-{uuid.uuid4().hex[:8]}.vot"
    saved = post(
        client,
        f"/portal/api/queries/{pleiades['id']}/save",
        {"target": "vos", "path": f"vos://{name}", "format": "votable"},
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["path"] == f"vos://{name}"
    stored = portal.home / "storage" / "demo00" / name
    table = parse_single_table(io.BytesIO(stored.read_bytes()))
    assert len(table.array) == pleiades["rows"]
    exists = post(
        client,
        f"/portal/api/queries/{pleiades['id']}/save",
        {"target": "vos", "path": f"vos://{name}", "format": "csv"},
    )
    assert exists.status_code == 409
    for path in ("vos://../demo01/x.csv", "vos://", "vos://a\x00b", "vos://no/such/folder.csv"):
        refused = post(
            client,
            f"/portal/api/queries/{pleiades['id']}/save",
            {"target": "vos", "path": path, "format": "csv"},
        )
        assert refused.status_code in (400, 404), (path, refused.text)
    assert not (portal.home / "storage" / "demo01" / "x.csv").exists()
    nowhere = post(client, f"/portal/api/queries/{pleiades['id']}/save", {"target": "ftp"})
    assert nowhere.status_code == 400


# -- who may do what ----------------------------------------------------------------------------


def test_other_users_queries_are_not_found(sessions: Sessions, pleiades: dict[str, Any]) -> None:
    other = sessions("demo01")
    job = pleiades["id"]
    reads = [
        f"/portal/api/queries/{job}",
        f"/portal/api/queries/{job}/rows",
        f"/portal/api/queries/{job}/download?format=csv",
    ]
    for url in reads:
        answer = other.get(url)
        assert answer.status_code == 404, url
        assert answer.json()["error"]["message"] == "no such query"
    for url, body in (
        (f"/portal/api/queries/{job}/abort", None),
        (f"/portal/api/queries/{job}/download", {"format": "csv", "rows": [0]}),
        (f"/portal/api/queries/{job}/save", {"target": "mydb", "name": "stolen"}),
        (
            f"/portal/api/queries/{job}/save",
            {"target": "vos", "path": "vos://stolen.csv", "format": "csv"},
        ),
    ):
        assert post(other, url, body).status_code == 404, url
    assert job not in [q["id"] for q in other.get("/portal/api/queries").json()["queries"]]
    page = other.get("/portal/query", params={"job": job})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    # Nothing was made on demo01's side either.
    check = post(other, "/portal/api/adql/check", {"query": "SELECT * FROM mydb.stolen"})
    assert check.json()["ok"] is False


@pytest.mark.parametrize("job_id", ["nosuchjob", "x" * 100, "../../etc/passwd", HOSTILE, "%00"])
def test_bad_job_ids_are_not_found(sessions: Sessions, job_id: str) -> None:
    answer = sessions().get(f"/portal/api/queries/{job_id}/rows")
    assert answer.status_code == 404
    assert "Traceback" not in answer.text


def test_missing_csrf_token_is_refused(sessions: Sessions, pleiades: dict[str, Any]) -> None:
    client = sessions()
    for url, body in (
        ("/portal/api/queries", {"query": PLEIADES}),
        ("/portal/api/adql/check", {"query": PLEIADES}),
        (f"/portal/api/queries/{pleiades['id']}/abort", None),
        (f"/portal/api/queries/{pleiades['id']}/save", {"target": "mydb", "name": "nocsrf"}),
        (f"/portal/api/queries/{pleiades['id']}/download", {"format": "csv", "rows": [0]}),
    ):
        answer = client.post(url, json=body)
        assert answer.status_code == 403, url
        assert "security token" in answer.json()["error"]["message"]
        wrong = client.post(url, json=body, headers={"X-CSRF-Token": "x" * 43})
        assert wrong.status_code == 403


def test_anonymous_callers_get_401_and_the_page_a_login(
    portal: PortalSite, sessions: Sessions, pleiades: dict[str, Any]
) -> None:
    anonymous = sessions(None)
    for url in ("/portal/api/queries", f"/portal/api/queries/{pleiades['id']}/rows"):
        answer = anonymous.get(url)
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "login_required"
    answer = post(anonymous, "/portal/api/queries", {"query": PLEIADES})
    assert answer.status_code == 401
    page = anonymous.get("/portal/query", params={"table": "gaia_dr3.gaia_source"})
    assert page.status_code == 303
    assert (
        page.headers["location"]
        == "/portal/login?next=/portal/query%3Ftable%3Dgaia_dr3.gaia_source"
    )


def test_abort_stops_a_long_query(sessions: Sessions) -> None:
    client = sessions()
    job = post(client, "/portal/api/queries", {"query": LONG_QUERY, "limit": LONG_LIMIT}).json()
    try:
        assert job["phase"] in ("QUEUED", "EXECUTING"), job
    finally:
        aborted = post(client, f"/portal/api/queries/{job['id']}/abort")
    assert aborted.status_code == 200 and aborted.json()["phase"] == "ABORTED"
    assert client.get(f"/portal/api/queries/{job['id']}").json()["phase"] == "ABORTED"
    again = post(client, f"/portal/api/queries/{job['id']}/abort")
    assert again.status_code == 200  # aborting an aborted query changes nothing
    # The engine was stopped too: the job's worker takes the next query.
    assert run(client, "SELECT TOP 1 ra FROM hipparcos.hip2")["phase"] == "COMPLETED"
    bad_wait = client.get(f"/portal/api/queries/{job['id']}", params={"wait": "forever"})
    assert bad_wait.status_code == 400
