"""The Python client against a real server: the seed examples and the issue's calls."""

from __future__ import annotations

import configparser
import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy.io import fits
from astropy.table import Table

from datalab.client import authClient, helpers, queryClient
from datalab.client import queryClientError as QueryError
from tests.client.conftest import PASSWORDS, Site

HIP = "select hip, ra, dec from hipparcos.hip2 order by hip limit 100"


@pytest.fixture
def token(site: Site) -> str:
    token = authClient.login("demo00", PASSWORDS["demo00"])
    assert authClient.isValidToken(token), token
    return token


def rows(token: str, table: str) -> int:
    text = queryClient.query(token, sql=f"select count(*) as n from mydb://{table}")
    return int(text.splitlines()[1])


def test_services_are_alive(site: Site) -> None:
    assert authClient.isAlive()
    assert queryClient.isAlive()


def test_login_stores_the_token_where_the_official_client_does(
    token: str, client_env: Path
) -> None:
    assert token.startswith("demo00.")
    assert (client_env / "id_token.demo00").read_text() == token
    conf = configparser.RawConfigParser()
    conf.read(client_env / "dl.conf")
    assert conf.get("login", "status") == "loggedin"
    assert conf.get("login", "authtoken") == token
    assert authClient.whoAmI() == "demo00"
    assert authClient.isValidUser("demo00")
    assert not authClient.isValidUser("nobody_here")
    assert authClient.isUserLoggedIn("demo00")
    # Without a password, login() reuses the stored valid token.
    assert authClient.login("demo00") == token


def test_wrong_password_is_an_error_string_or_an_exception(site: Site) -> None:
    answer = authClient.login("demo00", "not the password")
    assert answer.startswith("Error") and not authClient.isValidToken(answer)
    with pytest.raises(authClient.dlAuthError) as caught:
        authClient.login("demo00", "not the password", raise_errors=True)
    assert "password" in str(caught.value).lower()


def test_sync_queries_in_every_format(token: str) -> None:
    text = queryClient.query(token, sql=HIP, fmt="csv")
    lines = text.splitlines()
    assert lines[0] == "hip,ra,dec" and len(lines) == 101
    adql = queryClient.query(token, adql="SELECT TOP 5 hip FROM hipparcos.hip2 ORDER BY hip")
    assert adql.splitlines() == [line.split(",")[0] for line in lines[:6]]
    table = queryClient.query(token, sql=HIP, fmt="table")
    assert isinstance(table, Table) and len(table) == 100 and table.colnames == ["hip", "ra", "dec"]
    array = queryClient.query(token, sql=HIP, fmt="array")
    assert isinstance(array, np.ndarray) and array.shape == (100, 3)
    struct = queryClient.query(token, sql=HIP, fmt="structarray")
    assert struct.dtype.names == ("hip", "ra", "dec") and len(struct) == 100
    parquet = queryClient.query(token, sql=HIP, fmt="parquet")
    assert isinstance(parquet, bytes) and pq.read_table(pa.BufferReader(parquet)).num_rows == 100
    fits_bytes = queryClient.query(token, sql=HIP, fmt="fits")
    with fits.open(io.BytesIO(fits_bytes)) as hdus:
        assert len(hdus[1].data) == 100
    votable = queryClient.query(token, sql=HIP, fmt="votable")
    assert isinstance(votable, str) and "<VOTABLE" in votable
    assert queryClient.query(token, sql=HIP, fmt="csv-noheader").splitlines()[0] == lines[1]
    # The official one-argument form: the query alone, default token.
    assert queryClient.query(HIP).splitlines()[0] == "hip,ra,dec"


def test_pandas_result(token: str) -> None:
    pd = pytest.importorskip("pandas", reason="pandas is not installed: fmt='pandas' untested")
    frame = queryClient.query(token, sql=HIP, fmt="pandas")
    assert isinstance(frame, pd.DataFrame) and len(frame) == 100


def test_querist(site: Site) -> None:
    q = helpers.Querist("demo00", PASSWORDS["demo00"])
    table = q(HIP, outfmt="table")
    assert isinstance(table, Table) and len(table) == 100
    assert q(HIP, outfmt="csv").startswith("hip,ra,dec\n")
    assert q(HIP, outfmt="array").shape == (100, 3)
    adql = helpers.Querist("demo00", PASSWORDS["demo00"], language="adql")
    assert len(adql("SELECT TOP 3 hip FROM hipparcos.hip2", outfmt="table")) == 3
    assert q(HIP, outfmt="table", async_=True) is None
    result = None
    for _ in range(100):
        result = q()
        if result is not None:
            break
        queryClient.wait(q.token, q.openjobs[0][0], wait=0.2)
    assert isinstance(result, Table) and len(result) == 100
    with pytest.raises(authClient.dlAuthError):
        helpers.Querist("demo00", "wrong password")


def test_querist_pandas(site: Site) -> None:
    pd = pytest.importorskip("pandas", reason="pandas is not installed: Querist 'pandas' untested")
    frame = helpers.Querist("demo00", PASSWORDS["demo00"])(HIP, outfmt="pandas")
    assert isinstance(frame, pd.DataFrame) and len(frame) == 100


def test_query_to_mydb_then_list_read_drop(token: str) -> None:
    sql = "select source_id, ra, dec from gaia_dr3.gaia_source limit 10"
    assert queryClient.query(token, sql=sql, out="mydb://gaia_test") == "OK"
    assert "gaia_test" in queryClient.mydb_list(token).splitlines()
    assert queryClient.list(token).splitlines() == queryClient.mydb_list(token).splitlines()
    columns = queryClient.mydb_list(token, "gaia_test").splitlines()
    assert [c.split(",")[0] for c in columns] == ["source_id", "ra", "dec"]
    back = queryClient.query(token, sql="select * from mydb://gaia_test")
    assert len(back.splitlines()) == 11
    with pytest.raises(QueryError, match="already have a myDB table"):
        queryClient.query(token, sql=sql, out="mydb://gaia_test")
    more = "select source_id, ra, dec from gaia_dr3.gaia_source limit 20"
    assert queryClient.query(token, sql=more, out="mydb://gaia_test", drop=True) == "OK"
    assert rows(token, "gaia_test") == 20
    assert queryClient.mydb_drop(token, "gaia_test") == "OK"
    assert "gaia_test" not in queryClient.mydb_list(token).splitlines()
    with pytest.raises(QueryError, match="does not exist"):
        queryClient.query(token, sql="select * from mydb://gaia_test")


def test_rename_copy_index_truncate(token: str) -> None:
    sql = "select source_id, ra, dec from gaia_dr3.gaia_source limit 50"
    queryClient.query(token, sql=sql, out="mydb://stars", drop=True)
    assert queryClient.mydb_rename(token, "stars", "stars2") == "OK"
    assert queryClient.mydb_copy(token, "stars2", "stars3") == "OK"
    names = queryClient.mydb_list(token).splitlines()
    assert "stars" not in names and {"stars2", "stars3"} <= set(names)
    assert queryClient.mydb_index(token, "stars2", "source_id") == "OK"
    assert queryClient.mydb_index(token, "stars2", "ra,dec") == "OK"
    cone = queryClient.query(
        token,
        adql="SELECT COUNT(*) AS n FROM mydb.stars2 WHERE "
        "1=CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 0, 0, 180))",
    )
    assert int(cone.splitlines()[1]) == 50
    assert queryClient.mydb_truncate(token, "stars3") == "OK"
    assert rows(token, "stars3") == 0 and rows(token, "stars2") == 50
    for name in ("stars2", "stars3"):
        queryClient.mydb_drop(token, name)


def test_create_and_import(token: str, tmp_path: Path) -> None:
    assert queryClient.mydb_create(token, "made", {"id": "integer", "name": "text"}) == "OK"
    assert [c.split(",")[0] for c in queryClient.mydb_list(token, "made").splitlines()] == [
        "id", "name"]
    assert queryClient.mydb_create(token, "made", "x,double\ny,double", drop=True) == "OK"
    assert [c.split(",")[0] for c in queryClient.mydb_list(token, "made").splitlines()] == [
        "x", "y"]
    csv = tmp_path / "points.csv"
    csv.write_text("id,ra,dec\n1,10.5,-5.5\n2,20.25,30.0\n3,300.0,-80.0\n")
    assert queryClient.mydb_import(token, "points", str(csv)) == "OK"
    assert rows(token, "points") == 3
    assert queryClient.mydb_import(token, "points", csv, append=True) == "OK"
    assert rows(token, "points") == 6
    parquet = tmp_path / "points.parquet"
    pq.write_table(pa.table({"id": [1, 2], "mag": [12.5, 13.0]}), parquet)
    assert queryClient.mydb_import(token, "points", parquet, drop=True) == "OK"
    assert rows(token, "points") == 2
    table = Table({"id": [7, 8, 9], "flux": [1.5, 2.5, np.nan]})
    assert queryClient.mydb_import(token, "from_table", table) == "OK"
    back = queryClient.query(token, sql="select id, flux from mydb://from_table order by id",
                             fmt="table")
    assert list(back["id"]) == [7, 8, 9]
    for name in ("made", "points", "from_table"):
        queryClient.mydb_drop(token, name)


def test_async_query_wait_results(token: str) -> None:
    job = queryClient.query(token, sql=HIP, async_=True)
    assert job and "\n" not in job
    assert queryClient.wait(token, job, wait=0.2) == "COMPLETED"
    assert queryClient.status(token, job) == "COMPLETED"
    assert queryClient.results(token, job).splitlines()[0] == "hip,ra,dec"
    assert job in queryClient.jobs(token)
    # The `async` keyword, and waiting inside query().
    table = queryClient.query(token, sql=HIP, fmt="table", wait=True, poll=0.2, **{"async": True})
    assert isinstance(table, Table) and len(table) == 100
    failing = queryClient.query(token, sql="select no_such_column from hipparcos.hip2",
                                async_=True)
    assert queryClient.wait(token, failing, wait=0.2) == "ERROR"
    assert "no_such_column" in queryClient.error(token, failing)
    with pytest.raises(QueryError):
        queryClient.results(token, failing)


def test_local_out_file(token: str, tmp_path: Path) -> None:
    target = tmp_path / "hip.csv"
    seen: list[int] = []
    answer = queryClient.query(token, sql=HIP, out=str(target),
                               progress=lambda done, total: seen.append(done))
    assert answer == "OK" and seen
    assert target.read_text().splitlines()[0] == "hip,ra,dec"
    assert len(target.read_text().splitlines()) == 101


def test_schema_and_services(site: Site) -> None:
    assert "hipparcos" in queryClient.schema().splitlines()
    assert "hipparcos.hip2" in queryClient.schema("hipparcos")
    assert "ra" in queryClient.schema("hipparcos.hip2")
    assert queryClient.services().strip()
    with pytest.raises(QueryError, match="no schema"):
        queryClient.schema("no_such_schema")


def test_logout_revokes_the_token(token: str, client_env: Path) -> None:
    assert authClient.logout(token) == "OK"
    assert not (client_env / "id_token.demo00").exists()
    assert authClient.whoAmI() == "anonymous"
    assert not authClient.isValidToken(token)
    with pytest.raises(QueryError, match="invalid or has expired"):
        queryClient.mydb_list(token)
