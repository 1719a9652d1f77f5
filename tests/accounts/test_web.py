"""The authenticators on a small FastAPI app, through starlette's TestClient."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from datalab.accounts import ANONYMOUS_TOKEN, AccountStore
from datalab.accounts.web import TOKEN_COOKIE, TOKEN_HEADER, authenticators
from datalab.web.errors import install_error_handlers
from datalab.web.identity import Identity, identity

from .conftest import PASSWORD


@pytest.fixture
def client(store: AccountStore, alice: str) -> Iterator[TestClient]:
    app = FastAPI()
    install_error_handlers(app)
    app.state.authenticators = authenticators(store)

    @app.get("/whoami")
    def whoami(who: Identity = Depends(identity)) -> dict[str, str | None]:
        return {"user": who.user}

    with TestClient(app) as test_client:
        yield test_client


def basic(name: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()


def whoami(client: TestClient, **headers: str) -> str | None:
    response = client.get("/whoami", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["user"]


def refused(client: TestClient, status: int = 401, **headers: str) -> str:
    response = client.get("/whoami", headers=headers)
    assert response.status_code == status, response.text
    return str(response.json()["error"]["message"])


def test_no_credentials_is_anonymous(client: TestClient) -> None:
    assert whoami(client) is None


def test_data_lab_header(client: TestClient, store: AccountStore) -> None:
    token = store.login("alice", PASSWORD)
    assert whoami(client, **{TOKEN_HEADER: token}) == "alice"


def test_the_official_clients_anonymous_token_is_anonymous(client: TestClient) -> None:
    assert whoami(client, **{TOKEN_HEADER: ANONYMOUS_TOKEN}) is None
    assert whoami(client, Authorization=f"Bearer {ANONYMOUS_TOKEN}") is None


def test_bearer(client: TestClient, store: AccountStore) -> None:
    token = store.login("alice", PASSWORD)
    assert whoami(client, Authorization=f"Bearer {token}") == "alice"
    assert whoami(client, Authorization=f"bearer  {token}") == "alice"


def test_basic(client: TestClient) -> None:
    assert whoami(client, Authorization=basic("alice", PASSWORD)) == "alice"
    assert whoami(client, Authorization=basic("Alice", PASSWORD)) == "alice"


def test_basic_password_may_contain_colons(client: TestClient, store: AccountStore) -> None:
    store.add_user("bob", "pass:with:colons")
    assert whoami(client, Authorization=basic("bob", "pass:with:colons")) == "bob"


def test_cookie(client: TestClient, store: AccountStore) -> None:
    client.cookies.set(TOKEN_COOKIE, store.login("alice", PASSWORD))
    assert whoami(client) == "alice"


def test_the_data_lab_header_wins(client: TestClient, store: AccountStore) -> None:
    store.add_user("bob", "battery staple")
    alice = store.login("alice", PASSWORD)
    bob = store.login("bob", "battery staple")
    assert whoami(client, **{TOKEN_HEADER: alice, "Authorization": f"Bearer {bob}"}) == "alice"
    # The anonymous token proves nothing, so another credential still counts.
    assert whoami(client, **{TOKEN_HEADER: ANONYMOUS_TOKEN,
                             "Authorization": f"Bearer {bob}"}) == "bob"


def test_other_authorization_schemes_are_left_alone(client: TestClient) -> None:
    assert whoami(client, Authorization="Digest username=alice") is None


@pytest.mark.parametrize(
    "token",
    ["alice.1001.1001.$1$" + "A" * 43, "garbage", "dldemo.99999.99999.demo_access"],
)
def test_invalid_tokens_are_refused_not_anonymous(client: TestClient, token: str) -> None:
    assert "log in again" in refused(client, **{TOKEN_HEADER: token})
    assert "log in again" in refused(client, Authorization=f"Bearer {token}")
    client.cookies.set(TOKEN_COOKIE, token)
    assert "log in again" in refused(client)


def test_a_revoked_token_is_refused(client: TestClient, store: AccountStore) -> None:
    token = store.login("alice", PASSWORD)
    store.logout(token)
    refused(client, **{TOKEN_HEADER: token})


def test_basic_with_a_bad_password_is_refused(client: TestClient) -> None:
    message = refused(client, Authorization=basic("alice", "wrong password"))
    assert message == "wrong user name or password"
    assert refused(client, Authorization=basic("nobody_here", PASSWORD)) == message


@pytest.mark.parametrize("value", ["Basic !!!", "Basic " + base64.b64encode(b"alice").decode()])
def test_malformed_basic_is_refused(client: TestClient, value: str) -> None:
    assert "malformed Basic credentials" in refused(client, Authorization=value)


def test_basic_is_rate_limited(client: TestClient) -> None:
    for _ in range(5):
        refused(client, Authorization=basic("alice", "wrong password"))
    message = refused(client, 429, Authorization=basic("alice", PASSWORD))
    assert "too many failed logins" in message


def test_self_registration_is_off_unless_the_site_allows_it(tmp_path) -> None:
    """Through the real server: 403 by default; with the switch on, an account and a
    token, and the usual name and password rules."""
    import shutil

    import httpx

    from tests.conftest import start_server, stop_server

    for allowed in (False, True):
        home = tmp_path / f"home-{allowed}"
        home.mkdir()
        from datalab.catalog.setup import prepare_catalog

        prepare_catalog(home / "catalog.duckdb", demo=False, mock_rows=0)
        server = start_server(home, env={"DATALAB_DEMO": "false",
                                         "DATALAB_AUTH_SELF_REGISTRATION": str(allowed).lower()})
        try:
            answer = httpx.post(f"{server.url}/auth/register", timeout=30,
                                data={"username": "newuser", "password": "Pleiades-45-stars"})
            if not allowed:
                assert answer.status_code == 403 and "operator" in answer.text
                continue
            assert answer.status_code == 201, answer.text
            assert answer.text.startswith("newuser.1001.1001.$1$")
            again = httpx.post(f"{server.url}/auth/register", timeout=30,
                               data={"username": "newuser", "password": "Pleiades-45-stars"})
            assert again.status_code == 409
            weak = httpx.post(f"{server.url}/auth/register", timeout=30,
                              data={"username": "other", "password": "x"})
            assert weak.status_code == 400 and weak.text.startswith("Error:")
            bad = httpx.post(f"{server.url}/auth/register", timeout=30,
                             data={"username": "../etc", "password": "Pleiades-45-stars"})
            assert bad.status_code == 400
        finally:
            stop_server(server)
        shutil.rmtree(home, ignore_errors=True)
