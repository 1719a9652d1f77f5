"""The notebooks' addresses, the generated hub configuration and its secrets, from the
settings alone (no hub running)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from datalab.config import Settings
from datalab.notebooks import datalab_url, notebooks_enabled, notebooks_port, notebooks_url
from datalab.notebooks.hubconfig import (
    CONFIG_SECTION,
    HubSettings,
    hub_settings,
    read_or_create_secret,
    write_hub_config,
)
from datalab.notebooks.locate import find_curated, find_proxy, source_tree


def test_on_by_default_with_the_demo_and_otherwise_as_set() -> None:
    assert notebooks_enabled(Settings())
    assert not notebooks_enabled(Settings(demo=False))
    assert notebooks_enabled(Settings(demo=False, notebooks=True))
    assert not notebooks_enabled(Settings(notebooks=False))


def test_port_is_the_next_one_unless_set() -> None:
    assert notebooks_port(Settings(port=8000)) == 8001
    assert notebooks_port(Settings(port=8000, notebooks_port=9999)) == 9999
    assert notebooks_port(Settings(port=65535)) is None
    assert notebooks_port(Settings(port=0)) is None


@pytest.mark.parametrize(
    ("values", "host", "expected"),
    [
        ({}, None, "http://127.0.0.1:8001/"),
        ({"port": 9000, "notebooks_port": 9100}, None, "http://127.0.0.1:9100/"),
        ({"host": "0.0.0.0"}, "lab.example.org", "http://lab.example.org:8001/"),
        ({"host": "0.0.0.0", "base_url": "https://dl.example.org/"}, None,
         "http://dl.example.org:8001/"),
        ({"host": "::"}, None, "http://127.0.0.1:8001/"),
        ({"host": "::1"}, None, "http://[::1]:8001/"),
        ({"ssl_certfile": "c.pem", "ssl_keyfile": "k.pem"}, None, "https://127.0.0.1:8001/"),
        ({"notebooks_public_url": "https://nb.example.org/hub-front"}, None,
         "https://nb.example.org/hub-front/"),
        ({"notebooks": False}, None, None),
    ],
)
def test_public_url(values: dict[str, object], host: str | None, expected: str | None) -> None:
    assert notebooks_url(Settings(**values), host) == expected


def test_notebooks_reach_the_server_on_its_listen_address() -> None:
    assert datalab_url(Settings(port=8123)) == "http://127.0.0.1:8123"
    assert datalab_url(Settings(host="0.0.0.0", port=8123, base_url="https://x.org/")) == (
        "http://127.0.0.1:8123"
    )
    assert datalab_url(Settings(host="::", port=8123)) == "http://[::1]:8123"


def test_generated_configuration(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", auth_token_lifetime=3600)
    hub = hub_settings(settings, "http://127.0.0.1:8000", None)
    proxy = tmp_path / "chp"
    files = write_hub_config(hub, bind_url="http://127.0.0.1:8001/", proxy=proxy, ssl=None)
    folder = tmp_path / "home" / "notebooks"
    assert files.config == folder / "jupyterhub_config.json"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(files.config.stat().st_mode) == 0o600
    config = json.loads(files.config.read_text())
    hubconf = config["JupyterHub"]
    assert hubconf["bind_url"] == "http://127.0.0.1:8001/"
    assert hubconf["db_url"] == f"sqlite:///{folder / 'jupyterhub.sqlite'}"
    assert hubconf["cookie_secret_file"] == str(folder / "jupyterhub_cookie_secret")
    assert hubconf["hub_bind_url"].startswith("http://127.0.0.1:")
    assert config["ConfigurableHTTPProxy"]["command"] == [str(proxy)]
    assert config["ConfigurableHTTPProxy"]["api_url"] != hubconf["hub_bind_url"]
    assert config["Authenticator"]["enable_auth_state"] is True
    # The secrets go to the hub's environment, not into the file.
    assert files.crypt_key not in files.config.read_text()
    assert files.proxy_token not in files.config.read_text()
    site = HubSettings.from_config(config[CONFIG_SECTION])
    assert site == hub
    assert site.token_lifetime == 3600
    assert site.state_url == f"sqlite:///{tmp_path / 'home' / 'state.sqlite'}"
    assert site.datalab_url == "http://127.0.0.1:8000"
    assert site.home_of("alice") == folder / "home" / "alice"


def test_secrets_are_made_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "crypt_key"
    first = read_or_create_secret(path)
    assert len(bytes.fromhex(first)) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)
    assert read_or_create_secret(path) == first  # kept across restarts
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_missing_section_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="datalab serve"):
        HubSettings.from_config(None)


def test_proxy_and_curated_notebooks_are_found_in_the_source_tree(tmp_path: Path) -> None:
    tree = source_tree()
    assert tree is not None and (tree / "pyproject.toml").is_file()
    installed = tree / "node_modules" / ".bin" / "configurable-http-proxy"
    if installed.exists():  # ./scripts/test installs it
        assert find_proxy(Settings()) == installed
    assert find_curated(Settings()) == tree / "notebooks"
    # A node_modules setting is the only place looked at: a wrong one is noticed.
    assert find_proxy(Settings(node_modules=tmp_path)) is None
    assert find_curated(Settings(notebooks_curated=tmp_path)) == tmp_path
    assert find_curated(Settings(notebooks_curated=tmp_path / "missing")) is None


def test_a_bad_sandbox_setting_is_a_clear_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "datalab", "serve", "--data-dir", str(tmp_path / "home")],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "DATALAB_NOTEBOOKS_SANDBOX": "maybe"},
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "Error: invalid setting notebooks_sandbox (DATALAB_NOTEBOOKS_SANDBOX): "
        "Input should be 'bwrap' or 'none', not 'maybe'"
    )
    assert not (tmp_path / "home").exists()
