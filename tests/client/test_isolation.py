"""One user cannot reach another's tables or jobs; bad input is refused clearly and
harms nothing that was there before."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from datalab.client import authClient, queryClient
from datalab.client import queryClientError as QueryError
from tests.client.conftest import PASSWORDS, Site

GAIA = "select source_id, ra, dec from gaia_dr3.gaia_source limit 10"


@pytest.fixture
def tokens(site: Site) -> dict[str, str]:
    found = {name: authClient.login(name, pw, raise_errors=True) for name, pw in PASSWORDS.items()}
    queryClient.query(found["demo00"], sql=GAIA, out="mydb://gaia_test", drop=True)
    return found


def count(token: str, table: str) -> int:
    return int(queryClient.query(token, sql=f"select count(*) as n from mydb://{table}")
               .splitlines()[1])


def test_another_user_cannot_see_list_read_or_drop(tokens: dict[str, str]) -> None:
    mine, theirs = tokens["demo00"], tokens["demo01"]
    assert "gaia_test" not in queryClient.mydb_list(theirs).splitlines()
    with pytest.raises(QueryError, match="does not exist"):
        queryClient.query(theirs, sql="select * from mydb://gaia_test")
    with pytest.raises(QueryError, match="no myDB table named gaia_test"):
        queryClient.mydb_list(theirs, "gaia_test")
    with pytest.raises(QueryError, match="no myDB table named gaia_test"):
        queryClient.mydb_drop(theirs, "gaia_test")
    with pytest.raises(QueryError):
        queryClient.mydb_rename(theirs, "gaia_test", "stolen")
    with pytest.raises(QueryError):
        queryClient.query(theirs, sql="select * from demo00.gaia_test")
    # demo01 writing a table of the same name makes their own; demo00's is untouched.
    queryClient.query(theirs, sql=GAIA.replace("10", "3"), out="mydb://gaia_test", drop=True)
    assert count(theirs, "gaia_test") == 3
    assert count(mine, "gaia_test") == 10
    queryClient.mydb_drop(theirs, "gaia_test")
    assert count(mine, "gaia_test") == 10


def test_another_user_cannot_read_a_job(tokens: dict[str, str]) -> None:
    job = queryClient.query(tokens["demo00"], sql=GAIA, async_=True)
    assert queryClient.wait(tokens["demo00"], job, wait=0.2) == "COMPLETED"
    for call in (queryClient.status, queryClient.results, queryClient.abort):
        with pytest.raises(QueryError, match="no job"):
            call(tokens["demo01"], job)
    assert job not in queryClient.jobs(tokens["demo01"])
    assert queryClient.status(tokens["demo00"], job) == "COMPLETED"


def test_anonymous_has_no_mydb(site: Site) -> None:
    with pytest.raises(QueryError, match="log in"):
        queryClient.mydb_list("anonymous.0.0.anon_access")
    with pytest.raises(QueryError, match="log in"):
        queryClient.query(sql=GAIA, out="mydb://anon_table")


@pytest.mark.parametrize(
    "token",
    [
        "demo00.1001.1001.$1$" + "A" * 43,  # the right shape, a secret never issued
        "demo01.1.1.$1$" + "x" * 22,
        "nobody.5.5.$1$" + "-" * 43,
    ],
)
def test_forged_tokens_are_refused(tokens: dict[str, str], token: str) -> None:
    with pytest.raises(QueryError, match="invalid or has expired"):
        queryClient.mydb_list(token)
    assert not authClient.isValidToken(token)


@pytest.mark.parametrize("header", ["garbage", "demo00", "demo00.1001.1001.", "x" * 5000])
def test_malformed_token_headers_are_refused(site: Site, header: str) -> None:
    response = httpx.get(f"{site.url}/query/list", headers={"X-DL-AuthToken": header})
    assert response.status_code in (400, 401, 403)
    assert response.text.startswith("Error")


def test_a_revoked_token_is_refused(tokens: dict[str, str]) -> None:
    token = authClient.login("demo01", PASSWORDS["demo01"], raise_errors=True)
    assert authClient.logout(token) == "OK"
    with pytest.raises(QueryError, match="invalid or has expired"):
        queryClient.query(token, sql=GAIA)
    assert not authClient.isTokenLoggedIn(token)


BAD_NAMES = ["a'b", 'a"b', "x; drop table gaia_test", "demo01.gaia_test", "../gaia_test",
             "a/b", "a" * 10_000, "", "select", "1abc"]


@pytest.mark.parametrize("name", BAD_NAMES, ids=lambda n: n[:20] or "empty")
def test_bad_table_names_are_refused(tokens: dict[str, str], name: str) -> None:
    mine = tokens["demo00"]
    with pytest.raises(QueryError) as out:
        queryClient.query(mine, sql=GAIA, out=f"mydb://{name}", drop=True)
    assert str(out.value).startswith("Error")
    assert len(str(out.value)) < 500  # a huge name is not echoed back whole
    with pytest.raises(QueryError):
        queryClient.mydb_drop(mine, name)
    with pytest.raises(QueryError):
        queryClient.mydb_rename(mine, "gaia_test", name)
    with pytest.raises(QueryError):
        queryClient.mydb_create(mine, name, {"x": "integer"})
    assert count(mine, "gaia_test") == 10


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        ("broken.csv", b"source_id,ra,dec\n1,2,3\n4,five,6,7,8\n\x00\xff\xfe"),
        ("broken.parquet", b"PAR1 this is not parquet at all"),
        ("broken.fits", b"SIMPLE  =  nonsense"),
        ("empty.csv", b""),
    ],
)
def test_a_broken_import_keeps_the_table(
    tokens: dict[str, str], tmp_path: Path, filename: str, content: bytes
) -> None:
    mine = tokens["demo00"]
    bad = tmp_path / filename
    bad.write_bytes(content)
    with pytest.raises(QueryError) as out:
        queryClient.mydb_import(mine, "gaia_test", bad, drop=True)
    assert str(out.value).startswith("Error")
    with pytest.raises(QueryError):
        queryClient.mydb_import(mine, "gaia_test", bad, append=True)
    assert count(mine, "gaia_test") == 10


def test_import_onto_an_existing_table_without_drop_is_refused(
    tokens: dict[str, str], tmp_path: Path
) -> None:
    good = tmp_path / "good.csv"
    good.write_text("a,b\n1,2\n")
    with pytest.raises(QueryError, match="already have a myDB table"):
        queryClient.mydb_import(tokens["demo00"], "gaia_test", good)
    assert count(tokens["demo00"], "gaia_test") == 10


def test_bad_queries_are_clear_errors(tokens: dict[str, str]) -> None:
    with pytest.raises(QueryError, match="give exactly one"):
        queryClient.query(tokens["demo00"], sql="select 1", adql="select 1")
    with pytest.raises(QueryError, match="no_such_table"):
        queryClient.query(tokens["demo00"], sql="select * from hipparcos.no_such_table")
    with pytest.raises(QueryError) as out:
        queryClient.query(tokens["demo00"], sql="selec * frm x")
    assert str(out.value).startswith("Error")
    with pytest.raises(QueryError, match="no job"):
        queryClient.status(tokens["demo00"], "no-such-job")
