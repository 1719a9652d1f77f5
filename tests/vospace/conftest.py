"""A real server for the VOSpace tests: `datalab serve` on a copy of the demo catalog,
users demo00 and demo01, and an HTTP client logged in as each."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from lxml import etree

from tests.client.conftest import PASSWORDS, datalab
from tests.conftest import RunningServer, copy_catalog, start_server, stop_server
from tests.vospace.schema import load_schema
from tests.web.tls import make_certificate, start_tls_server

AUTHORITY = "datalab.local!vospace"


@dataclass(frozen=True)
class Space:
    url: str
    home: Path
    server: RunningServer


def _add_users(home: Path) -> None:
    for name, password in PASSWORDS.items():
        secret = home.parent / f"{home.name}-{name}.pw"
        secret.write_text(password + "\n")
        datalab("user", "add", name, "--password-file", str(secret), "--data-dir", str(home))


@pytest.fixture(scope="session")
def space(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Space]:
    home = tmp_path_factory.mktemp("vospace-site")
    copy_catalog(demo_home, home)
    server = start_server(home, env={"DATALAB_DEMO": "false"})
    try:
        _add_users(home)
        yield Space(url=server.url, home=home, server=server)
    finally:
        stop_server(server)


@dataclass(frozen=True)
class TlsSpace(Space):
    cert: Path  # the server's self-signed certificate: the CA clients must trust


@pytest.fixture(scope="session")
def tls_space(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsSpace]:
    """The same site served over HTTPS by `datalab serve` itself, with a self-signed
    certificate for 127.0.0.1 given through DATALAB_SSL_CERTFILE / DATALAB_SSL_KEYFILE."""
    cert, key = make_certificate(tmp_path_factory.mktemp("vospace-tls"))
    home = tmp_path_factory.mktemp("vospace-tls-site")
    copy_catalog(demo_home, home)
    server = start_tls_server(home, cert, key, env={"DATALAB_DEMO": "false"}, options=False)
    try:
        _add_users(home)
        yield TlsSpace(url=server.url, home=home, server=server, cert=cert)
    finally:
        stop_server(server)


def _client(space: Space, user: str) -> httpx.Client:
    token = httpx.get(
        f"{space.url}/auth/login",
        params={"username": user},
        headers={"X-DL-Password": PASSWORDS[user]},
    ).text.strip()
    return httpx.Client(
        base_url=f"{space.url}/vospace",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )


@pytest.fixture(scope="session")
def alice(space: Space) -> Iterator[httpx.Client]:
    with _client(space, "demo00") as client:
        yield client


@pytest.fixture(scope="session")
def bob(space: Space) -> Iterator[httpx.Client]:
    with _client(space, "demo01") as client:
        yield client


@pytest.fixture(scope="session")
def anonymous(space: Space) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{space.url}/vospace", timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def schema() -> etree.XMLSchema:
    return load_schema()
