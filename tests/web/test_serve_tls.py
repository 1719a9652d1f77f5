"""`datalab serve --ssl-certfile --ssl-keyfile`: the server speaks HTTPS itself, hands
out https URLs, and refuses an incomplete or unusable certificate before starting."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningServer, copy_catalog, stop_server
from tests.web.tls import make_certificate, start_tls_server, trusting


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_server(
    demo_home: Path, certificate: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp("tls-site")
    copy_catalog(demo_home, home)
    server = start_tls_server(home, *certificate, env={"DATALAB_DEMO": "false"})
    yield server
    stop_server(server)


@pytest.fixture
def client(certificate: tuple[Path, Path], tls_server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=tls_server.url, verify=trusting(certificate[0]), timeout=60,
        follow_redirects=False,
    ) as c:
        yield c


def test_health_and_a_tap_query_over_https(
    client: httpx.Client, tls_server: RunningServer
) -> None:
    assert client.get("/health").status_code == 200
    response = client.post("/tap/sync", data={
        "REQUEST": "doQuery", "LANG": "ADQL",
        "QUERY": "SELECT TOP 3 hip FROM hipparcos.hip2 ORDER BY hip", "FORMAT": "text/csv",
    })
    assert response.status_code == 200, response.text
    assert response.text == "hip\r\n1\r\n2\r\n3\r\n"
    assert f"at {tls_server.url}/" in tls_server.log.read_text()


def test_urls_handed_out_are_https(client: httpx.Client, tls_server: RunningServer) -> None:
    capabilities = client.get("/tap/capabilities").text
    assert f"{tls_server.url}/tap" in capabilities
    assert "http://127.0.0.1" not in capabilities  # (namespaces stay http://www.ivoa.net/…)
    created = client.post("/tap/async", data={
        "LANG": "ADQL", "QUERY": "SELECT TOP 1 hip FROM hipparcos.hip2",
    })
    assert created.status_code == 303
    assert created.headers["location"].startswith(f"{tls_server.url}/tap/async/")
    vospace = client.get("/vospace/capabilities").text
    assert f"{tls_server.url}/vospace" in vospace and "http://127.0.0.1" not in vospace


def test_plain_http_is_not_served_on_the_tls_port(tls_server: RunningServer) -> None:
    with pytest.raises(httpx.TransportError):
        httpx.get(tls_server.url.replace("https://", "http://") + "/health", timeout=5)


def test_an_untrusted_certificate_is_rejected_by_clients(tls_server: RunningServer) -> None:
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{tls_server.url}/health", timeout=5)  # the system CAs only


def _serve(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`datalab serve` on port 1 (never reached: every case fails before binding)."""
    return subprocess.run(
        [sys.executable, "-m", "datalab", "serve", "--data-dir", str(home), "--port", "1",
         *args],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120,
        env={**os.environ, **(env or {})},
    )


def _refused(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.startswith("Error: "), done.stderr
    assert "Traceback" not in done.stderr
    for word in words:
        assert word in done.stderr, done.stderr


def test_bad_tls_files_are_refused_before_starting(
    certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    cert, key = certificate
    home = tmp_path / "never-made"
    other_cert, other_key = make_certificate(tmp_path / "other")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")

    _refused(_serve(home, "--ssl-certfile", str(cert)), "--ssl-keyfile")
    _refused(_serve(home, "--ssl-keyfile", str(key)), "--ssl-certfile")
    _refused(_serve(home, env={"DATALAB_SSL_KEYFILE": str(key)}), "--ssl-certfile")
    missing = tmp_path / "missing.pem"
    _refused(_serve(home, "--ssl-certfile", str(missing), "--ssl-keyfile", str(key)),
             str(missing), "No such file")
    _refused(_serve(home, "--ssl-certfile", str(cert), "--ssl-keyfile", str(tmp_path)),
             "Is a directory")
    _refused(_serve(home, "--ssl-certfile", str(junk), "--ssl-keyfile", str(key)),
             "no PEM certificate")
    _refused(_serve(home, "--ssl-certfile", str(cert), "--ssl-keyfile", str(junk)), str(junk))
    _refused(_serve(home, "--ssl-certfile", str(cert), "--ssl-keyfile", str(other_key)),
             "does not belong")
    _refused(_serve(home, env={"DATALAB_SSL_CERTFILE": str(other_cert),
                               "DATALAB_SSL_KEYFILE": str(key)}), "does not belong")
    assert not home.exists()  # refused before the data directory was touched
