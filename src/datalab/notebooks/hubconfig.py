"""The JupyterHub configuration ``datalab serve`` writes at every start.

It is one JSON file, ``<data dir>/notebooks/jupyterhub_config.json``, which JupyterHub
reads with ``-f``: plain JupyterHub settings (ports, database, the proxy, which
authenticator and spawner to use) and, in its own ``DataLabHub`` section, what Data
Lab's authenticator and spawner need (``HubSettings``). Data only, generated from the
Data Lab settings each time, so that editing the settings is the one way to change it.

The secrets are not in it. They live next to it in files only the service account
can read, created once and kept across restarts: ``crypt_key`` (encrypts the
per-user auth state, which holds each user's Data Lab token) and ``proxy_token``
(between the hub and its proxy); JupyterHub keeps its cookie secret in
``jupyterhub_cookie_secret``. They are handed to the hub in its environment.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from datalab.config import Settings

__all__ = [
    "CONFIG_SECTION",
    "HubFiles",
    "HubSettings",
    "PARENT_PID_VARIABLE",
    "hub_settings",
    "jupyterhub_config",
    "read_or_create_secret",
    "write_hub_config",
]

CONFIG_SECTION = "DataLabHub"
"""The section of the JupyterHub configuration that holds ``HubSettings``."""

PARENT_PID_VARIABLE = "DATALAB_PARENT_PID"
"""The parent's pid, for a child started through ``launch`` to check it is still there."""


class HubSettings(BaseModel):
    """What the authenticator and the spawner need to know about the Data Lab site."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data_dir: Path
    storage: Path
    state_url: str
    hub_dir: Path
    datalab_url: str
    sandbox: Literal["bwrap", "none"]
    curated: Path | None
    token_lifetime: int
    max_failures: int
    lockout: int
    storage_quota: int
    python: str

    def home_of(self, user: str) -> Path:
        """The user's private home (dot files), outside their storage tree."""
        return self.hub_dir / "home" / user

    def sandbox_files(self, user: str) -> Path:
        """Where the user's sandbox identity files (passwd, group) are written."""
        return self.hub_dir / "sandbox" / user

    def delivery_record(self, user: str) -> Path:
        """The record of curated notebooks already copied to the user."""
        return self.hub_dir / "curated" / f"{user}.json"

    @classmethod
    def from_config(cls, section: Any) -> HubSettings:
        """From the ``DataLabHub`` section of the loaded JupyterHub configuration."""
        if not section:
            raise RuntimeError(
                f"the JupyterHub configuration has no {CONFIG_SECTION} section: start the "
                "hub with `datalab serve`, which writes it"
            )
        return cls.model_validate(dict(section))


def hub_settings(settings: Settings, datalab_url: str, curated: Path | None) -> HubSettings:
    """The ``HubSettings`` of a site, for the Data Lab server reachable at ``datalab_url``."""
    paths = settings.paths()
    return HubSettings(
        data_dir=paths.home,
        storage=paths.storage,
        state_url=f"sqlite:///{paths.state}",
        hub_dir=paths.notebooks,
        datalab_url=datalab_url,
        sandbox=settings.notebooks_sandbox,
        curated=curated,
        token_lifetime=settings.auth_token_lifetime,
        max_failures=settings.auth_max_failures,
        lockout=settings.auth_lockout,
        storage_quota=settings.storage_quota,
        python=sys.executable,
    )


def _loopback_ports(count: int) -> list[int]:
    """Distinct ports free on the loopback address now, for the hub's internal
    endpoints (held open together, so the system cannot hand out one twice)."""
    held = []
    try:
        for _ in range(count):
            s = socket.socket()
            held.append(s)
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in held]
    finally:
        for s in held:
            s.close()


@dataclass(frozen=True)
class HubFiles:
    """The files of one hub start: its configuration, log, and the secrets for its
    environment."""

    config: Path
    log: Path
    proxy_pid: Path
    proxy_token: str
    crypt_key: str


def read_or_create_secret(path: Path, nbytes: int = 32) -> str:
    """The hex secret in ``path``, made (``nbytes`` random bytes, owner-only) if the file
    does not exist yet; an existing file is made owner-only too."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)
        value = path.read_text().strip()
        if value:
            return value
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    value = secrets.token_hex(nbytes)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def jupyterhub_config(
    hub: HubSettings,
    *,
    bind_url: str,
    proxy: Path,
    ssl: tuple[Path, Path] | None,
    hub_port: int,
    api_port: int,
) -> dict[str, Any]:
    """The configuration as JupyterHub's traitlets read it from JSON."""
    folder = hub.hub_dir
    config: dict[str, Any] = {
        "JupyterHub": {
            "bind_url": bind_url,
            "hub_bind_url": f"http://127.0.0.1:{hub_port}",
            "db_url": f"sqlite:///{folder / 'jupyterhub.sqlite'}",
            "cookie_secret_file": str(folder / "jupyterhub_cookie_secret"),
            "authenticator_class": "datalab.notebooks.auth.DataLabAuthenticator",
            "spawner_class": "datalab.notebooks.spawner.DataLabSpawner",
            "cleanup_servers": True,
            "cleanup_proxy": True,
            "template_vars": {
                "announcement_login": "Log in with your Data Lab user name and password, "
                "or with a Data Lab token as the password.",
            },
        },
        "ConfigurableHTTPProxy": {
            "command": [str(proxy)],
            "api_url": f"http://127.0.0.1:{api_port}",
            "pid_file": str(folder / "proxy.pid"),
        },
        "Authenticator": {
            "allow_all": True,
            "enable_auth_state": True,
            "refresh_pre_spawn": True,
            "auth_refresh_age": 300,
        },
        "Spawner": {
            "default_url": "/lab",
            "start_timeout": 180,
            "http_timeout": 180,
        },
        CONFIG_SECTION: json.loads(hub.model_dump_json()),
    }
    if ssl is not None:
        config["JupyterHub"]["ssl_cert"] = str(ssl[0])
        config["JupyterHub"]["ssl_key"] = str(ssl[1])
    return config


def write_hub_config(
    hub: HubSettings, *, bind_url: str, proxy: Path, ssl: tuple[Path, Path] | None
) -> HubFiles:
    """Write the configuration (with fresh internal ports) into the hub's folder, made
    owner-only; returns where everything is."""
    folder = hub.hub_dir
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    hub_port, api_port = _loopback_ports(2)
    config = jupyterhub_config(
        hub, bind_url=bind_url, proxy=proxy, ssl=ssl, hub_port=hub_port, api_port=api_port
    )
    path = folder / "jupyterhub_config.json"
    partial = folder / "jupyterhub_config.json.tmp"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(config, fh, indent=2)
    os.replace(partial, path)
    return HubFiles(
        config=path,
        log=folder / "jupyterhub.log",
        proxy_pid=folder / "proxy.pid",
        proxy_token=read_or_create_secret(folder / "proxy_token"),
        crypt_key=read_or_create_secret(folder / "crypt_key"),
    )
