"""Client state without a server: where tokens and URLs come from, and the file shapes
the official client reads."""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

import pytest

from datalab.client import _config, authClient, queryClient
from datalab.client._convert import convert
from datalab.client._mydb import _shift

TOKEN = "alice.1001.1001.$1$" + "A" * 43


def test_the_client_imports_nothing_of_the_server() -> None:
    code = (
        "import sys, datalab.client\n"
        "print(' '.join(m for m in sys.modules if m.startswith('datalab.')"
        " and not m.startswith('datalab.client')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_token_shape_is_the_official_one() -> None:
    assert _config.is_auth_token(TOKEN)
    assert _config.is_auth_token("anonymous.0.0.anon_access")
    for bad in ("alice", "alice.1.1.$1$short", "a/b.1.1.$1$" + "x" * 22, "", None, 42):
        assert not _config.is_auth_token(bad)


def test_def_token_resolution(client_env: Path) -> None:
    assert _config.def_token(None) == _config.ANON_TOKEN  # no dl.conf, no token file
    assert _config.def_token(TOKEN) == TOKEN
    assert _config.def_token("not.a.token") == _config.ANON_TOKEN
    _config.record_login("alice", TOKEN)
    assert (client_env / "id_token.alice").read_text() == TOKEN
    assert _config.def_token(None) == TOKEN  # dl.conf says loggedin as alice
    assert _config.def_token("alice") == TOKEN  # a bare user name reads its token file
    assert _config.def_token("bob") == _config.ANON_TOKEN
    assert authClient.whoAmI() == "alice"
    _config.record_logout("alice")
    assert not (client_env / "id_token.alice").exists()
    assert _config.def_token(None) == _config.ANON_TOKEN
    assert authClient.whoAmI() == "anonymous"


def test_dl_conf_has_the_official_sections(client_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATALAB_URL", "http://example.org:8123/")
    _config.record_login("alice", TOKEN)
    conf = configparser.RawConfigParser()
    conf.read(client_env / "dl.conf")
    assert conf.get("login", "status") == "loggedin"
    assert conf.get("login", "user") == "alice"
    assert conf.get("login", "authtoken") == TOKEN
    assert conf.get("query", "svc_url") == "http://example.org:8123/query"
    assert conf.get("auth", "svc_url") == "http://example.org:8123/auth"
    assert conf.get("storage", "profile") == "default"
    assert (client_env / "id_token.alice").stat().st_mode & 0o077 == 0


def test_service_url_precedence(client_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert queryClient.get_svc_url() == "http://127.0.0.1:8000/query"
    client_env.mkdir()
    (client_env / "dl.conf").write_text("[query]\nsvc_url = http://conf.example/query/\n")
    assert queryClient.get_svc_url() == "http://conf.example/query"
    monkeypatch.setenv("DATALAB_URL", "http://env.example:9000/")
    assert queryClient.get_svc_url() == "http://env.example:9000/query"
    assert authClient.get_svc_url() == "http://env.example:9000/auth"
    queryClient.set_svc_url("http://explicit.example/query/")
    assert queryClient.get_svc_url() == "http://explicit.example/query"
    assert authClient.get_svc_url() == "http://env.example:9000/auth"


def test_fixed_accounts_log_in_without_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATALAB_URL", "http://127.0.0.1:9")  # nothing listens there
    assert authClient.login("anonymous", "") == "anonymous.0.0.anon_access"
    assert authClient.login("dldemo", "dldemo") == "dldemo.99999.99999.demo_access"


def test_login_to_no_server_returns_an_error_string(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATALAB_URL", "http://127.0.0.1:9")
    answer = authClient.login("alice", "some password")
    assert answer.startswith("Error: cannot reach the auth service")
    assert not authClient.isValidToken(answer)
    with pytest.raises(authClient.dlAuthError, match="cannot reach"):
        authClient.login("alice", "some password", raise_errors=True)
    with pytest.raises(queryClient.queryClientError, match="cannot reach the query service"):
        queryClient.query(sql="select 1")


def test_official_call_forms_without_a_token() -> None:
    assert _shift("t", None) == (None, ("t",))
    assert _shift(TOKEN, "t") == (TOKEN, ("t",))
    assert _shift("a", "b", None) == (None, ("a", "b"))
    assert _shift(None, "t") == (None, ("t",))


def test_client_side_conversions_rename_duplicate_columns() -> None:
    text = "a,b,a\n1,x,2.5\n3,y,\n"
    table = convert(text, "table")
    assert table.colnames == ["a", "b", "a_1"]
    assert list(table["a"]) == [1, 3]
    arr = convert(text, "structarray")
    assert arr.dtype.names == ("a", "b", "a_1")
    assert convert(text, "csv-noheader") == "1,x,2.5\n3,y,\n"
    assert convert("x,y\n1,2\n3,\n", "array").shape == (2, 2)
