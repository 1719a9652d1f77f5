"""`datalab login|query|mydb_*|…` run as a user runs them: real processes, real server."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

from datalab.cli.dl import COMMANDS
from tests.client.conftest import PASSWORDS, Site, datalab


def login(user: str = "demo00") -> None:
    out = datalab("login", f"user={user}", f"password={PASSWORDS[user]}")
    assert out.stdout.strip() == f"Welcome to the Data Lab, {user}"


def failed(*args: str) -> str:
    """Run a command expected to fail: exit 1, one clear line, no traceback."""
    result = datalab(*args, check=False)
    assert result.returncode == 1, result
    assert result.stderr.startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return result.stderr


@pytest.mark.parametrize("command", [c.name or "" for c in COMMANDS])
def test_every_command_has_help(command: str) -> None:
    out = datalab(command, "--help").stdout
    assert "Usage: datalab " + command in out and "--url" in out


def test_login_whoami_logout(site: Site, client_env: Path) -> None:
    assert datalab("whoami").stdout.strip() == "anonymous"
    login()
    assert datalab("whoami").stdout.strip() == "demo00"
    conf = configparser.RawConfigParser()
    conf.read(client_env / "dl.conf")
    assert conf.get("login", "user") == "demo00"
    assert conf.get("demo00", "authtoken") == (client_env / "id_token.demo00").read_text()
    assert "demo00 is logged out" in datalab("logout").stdout
    assert datalab("whoami").stdout.strip() == "anonymous"
    assert "log in" in failed("mydb_list")
    assert "nobody is logged in" in failed("logout")


def test_failed_logins(site: Site) -> None:
    message = failed("login", "user=demo00", "password=wrong-password")
    assert "password" in message.lower()
    assert datalab("whoami").stdout.strip() == "anonymous"
    # No password and no terminal to ask on: refused, not hung.
    result = datalab("login", "user=demo00", check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr


def test_seed_queries(site: Site, tmp_path: Path) -> None:
    login()
    out = datalab("query", "sql=select * from hipparcos.hip2 limit 10").stdout
    assert len(out.splitlines()) == 11
    stored = datalab("query", "sql=select * from gaia_dr3.gaia_source limit 10",
                     "out=mydb://gaia_test", "drop=true")
    assert stored.stdout == ""
    assert "gaia_test" in datalab("mydb_list").stdout.splitlines()
    assert datalab("mydb_list", "table=gaia_test").stdout.splitlines()[0].startswith("source_id,")
    back = datalab("query", "--sql", "select * from mydb://gaia_test").stdout
    assert len(back.splitlines()) == 11
    query_file = tmp_path / "q.adql"
    query_file.write_text("SELECT TOP 4 hip FROM hipparcos.hip2")
    assert len(datalab("query", f"adql={query_file}").stdout.splitlines()) == 5
    target = tmp_path / "out.csv"
    assert datalab("query", "sql=select hip from hipparcos.hip2 limit 7",
                   f"out={target}").stdout == ""
    assert len(target.read_text().splitlines()) == 8
    assert "already have a myDB table" in failed("query", "sql=select 1 as x", "out=mydb://gaia_test")
    assert "no_such_table" in failed("query", "sql=select * from hipparcos.no_such_table")
    assert "exactly one" in failed("query")


def test_async_jobs(site: Site, tmp_path: Path) -> None:
    login()
    job = datalab("query", "sql=select hip from hipparcos.hip2 limit 5", "async=true").stdout.strip()
    assert re.fullmatch(r"\S+", job)
    assert datalab("wait", f"jobid={job}", "interval=0.2").stdout.strip() == "COMPLETED"
    assert datalab("status", f"jobId={job}").stdout.strip() == "COMPLETED"
    assert len(datalab("results", f"jobid={job}").stdout.splitlines()) == 6
    saved = tmp_path / "job.csv"
    datalab("results", f"jobid={job}", f"out={saved}")
    assert len(saved.read_text().splitlines()) == 6
    assert job in datalab("jobs").stdout
    datalab("abort", f"jobid={job}")  # an ended job: its phase is printed unchanged
    bad = datalab("query", "sql=select nope from hipparcos.hip2", "async=true").stdout.strip()
    assert "nope" in failed("wait", f"jobid={bad}", "interval=0.2")
    assert "no job" in failed("status", "jobid=no-such-job")


def test_mydb_commands(site: Site, tmp_path: Path) -> None:
    login()
    schema = tmp_path / "schema.txt"
    schema.write_text("id,integer\nname,text\n")
    datalab("mydb_create", "table=made", f"schema={schema}", "drop=true")
    columns = datalab("mydb_list", "table=made").stdout.split()
    assert [line.split(",")[0] for line in columns] == ["id", "name"]
    data = tmp_path / "points.csv"
    data.write_text("id,ra,dec\n1,10.5,-5.5\n2,20.25,30.0\n")
    datalab("mydb_import", "table=points", f"data={data}", "drop=true")
    datalab("mydb_import", "table=points", f"data={data}", "append=true")
    count = datalab("query", "sql=select count(*) as n from mydb://points").stdout
    assert count.splitlines()[1] == "4"
    datalab("mydb_index", "table=points", "col=ra,dec")
    datalab("mydb_index", "table=points", "col=id")
    datalab("mydb_rename", "source=points", "target=points2")
    datalab("mydb_copy", "source=points2", "target=points3")
    datalab("mydb_truncate", "table=points3")
    names = datalab("mydb_list").stdout.split()
    assert "points" not in names and {"points2", "points3", "made"} <= set(names)
    for name in ("made", "points2", "points3"):
        datalab("mydb_drop", f"table={name}")
    assert "no myDB table named made" in failed("mydb_drop", "table=made")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    failed("mydb_import", "table=points", f"data={broken}")
    assert "points" not in datalab("mydb_list").stdout.split()


def test_another_user_sees_nothing(site: Site) -> None:
    login("demo00")
    datalab("query", "sql=select * from gaia_dr3.gaia_source limit 10", "out=mydb://gaia_test",
            "drop=true")
    login("demo01")
    assert "gaia_test" not in datalab("mydb_list").stdout.split()
    assert "does not exist" in failed("query", "sql=select * from mydb://gaia_test")
    assert "no myDB table named gaia_test" in failed("mydb_drop", "table=gaia_test")


def test_discovery_and_urls(site: Site) -> None:
    assert "hipparcos" in datalab("schema").stdout.split()
    assert "hipparcos.hip2" in datalab("schema", "value=hipparcos").stdout
    assert datalab("services").stdout.strip()
    urls = datalab("svc_urls").stdout
    assert f"{site.url}/query" in urls and f"{site.url}/auth" in urls
    other = datalab("svc_urls", "--url", "http://example.org:1234/").stdout
    assert "http://example.org:1234/query" in other
    assert "cannot reach" in failed("schema", "url=http://127.0.0.1:9")
