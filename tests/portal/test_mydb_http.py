"""The myDB page's routes over plain HTTP: login, CSRF, hostile names, and one user's
tables out of every other user's reach."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.portal.conftest import PortalSite, csrf_of
from tests.portal.test_mydb_browser import fresh, rest_tables, rest_token, save_table

Sessions = Callable[..., httpx.Client]

HOSTILE = "<script>alert(1)</script>"


def error_of(answer: httpx.Response) -> dict[str, object]:
    """The JSON error envelope, checked for its fixed shape."""
    assert answer.headers["content-type"].startswith("application/json"), answer.text
    body = answer.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "detail"}
    return body["error"]  # type: ignore[no-any-return]


def test_anonymous_visitors_are_sent_to_log_in(portal: PortalSite, sessions: Sessions) -> None:
    client = sessions(None)
    answer = client.get("/portal/mydb")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/portal/login?next=/portal/mydb"
    listed = client.get("/portal/api/mydb/tables")
    assert listed.status_code == 401
    assert error_of(listed)["code"] == "login_required"
    dropped = client.delete("/portal/api/mydb/tables/t1", headers={"X-CSRF-Token": csrf_of(client)})
    assert dropped.status_code == 401


def test_page_and_listing_show_the_users_tables(portal: PortalSite, sessions: Sessions) -> None:
    token = rest_token(portal, "demo00")
    name = fresh("http_list")
    save_table(portal, token, name, 7)
    client = sessions("demo00")
    listed = client.get("/portal/api/mydb/tables").json()["tables"]
    mine = next(t for t in listed if t["name"] == name)
    assert mine["rows"] == 7 and mine["adql"] == f"mydb.{name}"
    assert [c["name"] for c in mine["columns"]] == ["source_id", "ra", "dec", "phot_g_mean_mag"]
    assert mine["columns"][1]["unit"] == "deg"
    assert mine["created"].endswith("+00:00")
    assert mine["query"] == f"SELECT TOP 100 * FROM mydb.{name}"
    assert mine["query_url"] == f"/portal/query?q=SELECT+TOP+100+%2A+FROM+mydb.{name}"
    assert client.get(f"/portal/api/mydb/tables/{name}").json() == mine
    page = client.get("/portal/mydb")
    assert page.status_code == 200 and f'"name": "{name}"' in page.text
    client.delete(f"/portal/api/mydb/tables/{name}", headers={"X-CSRF-Token": csrf_of(client)})


def test_another_user_can_neither_see_nor_touch_a_table(portal: PortalSite, sessions: Sessions) -> None:
    token = rest_token(portal, "demo00")
    name = fresh("private")
    save_table(portal, token, name, 4)
    intruder = sessions("demo01")
    headers = {"X-CSRF-Token": csrf_of(intruder)}
    assert name not in [t["name"] for t in intruder.get("/portal/api/mydb/tables").json()["tables"]]
    assert name not in intruder.get("/portal/mydb").text
    for answer in (
        intruder.get(f"/portal/api/mydb/tables/{name}"),
        intruder.delete(f"/portal/api/mydb/tables/{name}", headers=headers),
        intruder.post(f"/portal/api/mydb/tables/{name}/rename", json={"name": "stolen"}, headers=headers),
        intruder.get(f"/portal/api/mydb/tables/mydb.{name}"),
    ):
        assert answer.status_code == 404, answer.text
        assert error_of(answer)["message"] == f"you have no myDB table named {name}"
    # demo01 may use the same name for a table of their own; demo00's is untouched.
    imported = intruder.post(
        "/portal/api/mydb/import", params={"table": name}, headers=headers,
        files={"file": ("mine.csv", b"a,b\n1,2\n")},
    )
    assert imported.status_code == 201, imported.text
    assert imported.json()["rows"] == 1
    owner = sessions("demo00")
    assert owner.get(f"/portal/api/mydb/tables/{name}").json()["rows"] == 4
    intruder.delete(f"/portal/api/mydb/tables/{name}", headers=headers)
    assert owner.get(f"/portal/api/mydb/tables/{name}").json()["rows"] == 4
    owner.delete(f"/portal/api/mydb/tables/{name}", headers={"X-CSRF-Token": csrf_of(owner)})


def test_changes_need_the_csrf_token(portal: PortalSite, sessions: Sessions) -> None:
    token = rest_token(portal, "demo00")
    name = fresh("csrf")
    save_table(portal, token, name, 2)
    client = sessions("demo00")
    for headers in ({}, {"X-CSRF-Token": "not-the-token-of-this-browser-at-all"}):
        answers = [
            client.delete(f"/portal/api/mydb/tables/{name}", headers=headers),
            client.post(f"/portal/api/mydb/tables/{name}/rename", json={"name": "other"}, headers=headers),
            client.post("/portal/api/mydb/import", params={"table": fresh("x")}, headers=headers,
                        files={"file": ("a.csv", b"a\n1\n")}),
        ]
        assert [a.status_code for a in answers] == [403, 403, 403]
        assert all("security token" in str(error_of(a)["message"]) for a in answers)
    foreign = client.delete(f"/portal/api/mydb/tables/{name}",
                            headers={"X-CSRF-Token": csrf_of(client), "Origin": "https://evil.example"})
    assert foreign.status_code == 403
    assert name in rest_tables(portal, token)
    client.delete(f"/portal/api/mydb/tables/{name}", headers={"X-CSRF-Token": csrf_of(client)})
    assert name not in rest_tables(portal, token)


@pytest.mark.parametrize(
    ("wanted", "message"),
    [
        (HOSTILE, "invalid table name"),
        ("Robert'); DROP TABLE x;--", "invalid table name"),
        ("a" * 500, "too long"),
        ("x" * 5000, "at most 1000 characters"),
        ("select", "reserved word"),
        ("other.schema", "no schema, dot or slash"),
        ("", "empty"),
        ("9lives", "use a letter"),
    ],
)
def test_bad_new_names_are_refused_precisely(
    portal: PortalSite, sessions: Sessions, wanted: str, message: str
) -> None:
    token = rest_token(portal, "demo00")
    name = fresh("named")
    save_table(portal, token, name, 1)
    client = sessions("demo00")
    headers = {"X-CSRF-Token": csrf_of(client)}
    answer = client.post(f"/portal/api/mydb/tables/{name}/rename", json={"name": wanted}, headers=headers)
    assert answer.status_code == 400
    assert message in str(error_of(answer)["message"])
    imported = client.post("/portal/api/mydb/import", params={"table": wanted}, headers=headers,
                           files={"file": ("a.csv", b"a\n1\n")})
    assert imported.status_code == 400
    assert name in rest_tables(portal, token)
    client.delete(f"/portal/api/mydb/tables/{name}", headers=headers)


def test_bad_table_ids_in_the_url(portal: PortalSite, sessions: Sessions) -> None:
    client = sessions("demo00")
    headers = {"X-CSRF-Token": csrf_of(client)}
    cases = {
        "%3Cscript%3E": 400,
        "no_such_table": 404,
        "x" * 3000: 400,
        "mydb.no_such": 404,
        "_datalab": 400,
    }
    for name, status in cases.items():
        for answer in (client.get(f"/portal/api/mydb/tables/{name}"),
                       client.delete(f"/portal/api/mydb/tables/{name}", headers=headers)):
            assert answer.status_code == status, (name, answer.text)
            error_of(answer)


def test_import_checks_and_errors(portal: PortalSite, sessions: Sessions) -> None:
    client = sessions("demo00")
    headers = {"X-CSRF-Token": csrf_of(client)}
    name = fresh("imp")
    too_big = client.get("/portal/api/mydb/check", params={"table": name, "size": 10**12})
    assert too_big.status_code == 400 and "at most" in str(error_of(too_big)["message"])
    assert client.get("/portal/api/mydb/check", params={"table": name, "size": 10}).json() == {"table": name}
    for filename, content, message in (
        ("empty.csv", b"", "the file is empty"),
        ("twice.csv", b"a,a\n1,2\n", "twice.csv: column name 'a' is used twice"),
        (f"{HOSTILE}.fits", b"SIMPLE  = garbage", "not a readable FITS file"),
    ):
        answer = client.post("/portal/api/mydb/import", params={"table": name}, headers=headers,
                             files={"file": (filename, content)})
        assert answer.status_code == 400, answer.text
        text = str(error_of(answer)["message"])
        assert message in text
        assert str(portal.home) not in answer.text and "/tmp/" not in answer.text
    no_file = client.post("/portal/api/mydb/import", params={"table": name}, headers=headers,
                          files={"other": (None, b"just a field")})
    assert no_file.status_code == 400 and "holds no file" in str(error_of(no_file)["message"])
    not_multipart = client.post("/portal/api/mydb/import", params={"table": name},
                                headers={**headers, "Content-Type": "text/csv"}, content=b"a\n1\n")
    assert not_multipart.status_code == 400
    assert name not in [t["name"] for t in client.get("/portal/api/mydb/tables").json()["tables"]]
    # The form-field way of sending the token works too (the form is parsed to find it).
    by_form = client.post("/portal/api/mydb/import", params={"table": name},
                          data={"csrf_token": csrf_of(client)},
                          files={"file": ("by_form.tsv", b"x\ty\n1\t2\n3\t4\n")})
    assert by_form.status_code == 201, by_form.text
    assert by_form.json()["rows"] == 2
    clash = client.post("/portal/api/mydb/import", params={"table": name}, headers=headers,
                        files={"file": ("a.csv", b"a\n1\n")})
    assert clash.status_code == 409
    replaced = client.post("/portal/api/mydb/import", params={"table": name, "replace": "true"},
                           headers=headers, files={"file": ("a.csv", b"a\n1\n2\n3\n")})
    assert replaced.status_code == 201 and replaced.json()["rows"] == 3
    client.delete(f"/portal/api/mydb/tables/{name}", headers=headers)
