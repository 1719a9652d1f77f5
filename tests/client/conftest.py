"""A real Data Lab for the client and CLI tests: a server on a copy of the demo catalog,
two users, and a fresh client configuration directory for every test."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from datalab.client import _config
from tests.conftest import RunningServer, copy_catalog, start_server, stop_server

PASSWORDS = {"demo00": "Andromeda-31-galaxy", "demo01": "Triangulum-33-galaxy"}


@dataclass(frozen=True)
class Site:
    url: str
    home: Path
    server: RunningServer


def datalab(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`python -m datalab ARGS` as a user runs it: own process, no terminal on stdin."""
    result = subprocess.run(
        [sys.executable, "-m", "datalab", *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        env=os.environ.copy(),
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}: {result.stdout}{result.stderr}")
    return result


@pytest.fixture(scope="module")
def site(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """`datalab serve` on a private copy of the demo catalog, with users demo00 and
    demo01 added through `datalab user add` while it runs."""
    home = tmp_path_factory.mktemp("dl-site")
    copy_catalog(demo_home, home)
    server = start_server(home, env={"DATALAB_DEMO": "false"})
    try:
        for name, password in PASSWORDS.items():
            secret = home.parent / f"{home.name}-{name}.pw"
            secret.write_text(password + "\n")
            datalab("user", "add", name, "--password-file", str(secret), "--data-dir", str(home))
        yield Site(url=server.url, home=home, server=server)
    finally:
        stop_server(server)


@pytest.fixture(autouse=True)
def client_env(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Path:
    """A private DATALAB_CONFIG_DIR (never the real ~/.datalab) and, for tests that use
    the server, DATALAB_URL pointing at it; no URL set by an earlier test survives."""
    config = tmp_path / "dlconf"
    monkeypatch.setenv("DATALAB_CONFIG_DIR", str(config))
    monkeypatch.delenv("DATALAB_URL", raising=False)
    monkeypatch.setattr(_config, "_explicit_urls", {})
    if "site" in request.fixturenames:
        monkeypatch.setenv("DATALAB_URL", request.getfixturevalue("site").url)
    return config
