"""``DATALAB_TOKEN``: the token of every call that gives none (the notebooks set it), so
code needs no login; a value that is not a token is ignored."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from datalab.client import _config, authClient, queryClient, storeClient
from tests.client.conftest import PASSWORDS, Site, datalab

OTHER = "alice.1001.1001.$1$" + "A" * 43


def test_environment_token_comes_before_dl_conf(
    client_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _config.record_login("alice", OTHER)
    token = "bob.1002.1002.$1$" + "B" * 43
    monkeypatch.setenv("DATALAB_TOKEN", f" {token}\n")
    assert _config.def_token(None) == token
    assert _config.def_token("") == token
    assert _config.def_token(OTHER) == OTHER  # an explicit token still wins
    monkeypatch.setenv("DATALAB_TOKEN", "not a token")
    assert _config.def_token(None) == OTHER


def test_a_notebook_style_environment_queries_without_login(
    site: Site, monkeypatch: pytest.MonkeyPatch, client_env: Path
) -> None:
    token = httpx.get(
        f"{site.url}/auth/login", params={"username": "demo00"},
        headers={"X-DL-Password": PASSWORDS["demo00"]}, timeout=30,
    ).text
    monkeypatch.setenv("DATALAB_TOKEN", token)
    assert not (client_env / "dl.conf").exists()
    assert authClient.whoAmI() == "demo00"
    assert queryClient.query(sql="select 1 as one", fmt="csv").splitlines() == ["one", "1"]
    storeClient.saveAs(data="from the environment", name="vos://env-token.txt")
    assert storeClient.stat(name="vos://env-token.txt")["size"] == len("from the environment")
    # The command line reads it too.
    listing = datalab("ls", "--name", "vos://", "--format", "raw")
    assert "env-token.txt" in json.dumps(json.loads(listing.stdout))
