"""Settings: one model, read from ``DATALAB_*`` environment variables, an optional
TOML file, and defaults. Every field is titled and described so that
``docs/configuration.md`` can be checked against it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DataPaths", "Settings", "load_settings"]


class Settings(BaseSettings):
    """Everything a site can configure."""

    model_config = SettingsConfigDict(env_prefix="DATALAB_", extra="forbid")

    home: Path = Field(
        default=Path("datalab-data"),
        title="Data directory",
        description="Folder holding the catalogs, user databases, state, jobs and files.",
    )
    host: str = Field(
        default="127.0.0.1",
        title="Listen address",
        description="Address the web server binds to.",
    )
    port: int = Field(
        default=8000, ge=0, le=65535, title="Listen port", description="TCP port of the server."
    )
    base_url: str | None = Field(
        default=None,
        title="Public base URL",
        description="URL users reach the server at, if it differs from http://host:port "
        "(e.g. behind a reverse proxy).",
    )
    ssl_certfile: Path | None = Field(
        default=None,
        title="TLS certificate",
        description="PEM certificate (with any intermediate certificates) to serve HTTPS "
        "with; set together with ssl_keyfile. Unset serves plain HTTP.",
    )
    ssl_keyfile: Path | None = Field(
        default=None,
        title="TLS private key",
        description="Unencrypted PEM private key of ssl_certfile.",
    )
    demo: bool = Field(
        default=True,
        title="Load demo data",
        description="Load the demo catalogs when the data directory has no catalogs yet.",
    )
    demo_mock_rows: int = Field(
        default=1_000_000,
        ge=0,
        title="Demo mock survey size",
        description="Field rows of the synthetic ls_mock survey loaded with the demo data; "
        "its injected dwarf-galaxy and RR Lyrae stars come on top (0 to skip the survey).",
    )
    engine_memory_limit: str | None = Field(
        default=None,
        title="Engine memory limit",
        description="DuckDB memory limit such as '8GB'; unset leaves DuckDB's default "
        "(80% of the machine's memory). Larger work spills to the data directory.",
    )
    engine_threads: int | None = Field(
        default=None,
        ge=1,
        title="Engine threads",
        description="Threads DuckDB may use per query; unset uses one per core.",
    )
    ingest_chunk_rows: int = Field(
        default=250_000,
        ge=1,
        title="Ingest chunk size",
        description="Rows read from a file at a time during ingest; bounds ingest memory.",
    )

    tap_default_maxrec: int = Field(
        default=100_000,
        ge=0,
        title="TAP default row limit",
        description="Rows a TAP query returns when it gives no MAXREC; a result cut at "
        "the limit is flagged as overflowing.",
    )
    tap_hard_maxrec: int = Field(
        default=20_000_000,
        ge=0,
        title="TAP hard row limit",
        description="The largest MAXREC a TAP query may ask for.",
    )
    tap_sync_timeout: float = Field(
        default=300.0,
        gt=0,
        title="TAP sync time limit",
        description="Seconds a synchronous TAP query (execution and download) may take; "
        "longer work belongs in an async job.",
    )
    tap_async_default_duration: int = Field(
        default=3600,
        ge=1,
        title="Async default execution duration",
        description="Seconds an async job may run unless it asks for less or more.",
    )
    tap_async_max_duration: int = Field(
        default=86_400,
        ge=1,
        title="Async maximum execution duration",
        description="The longest execution duration an async job may ask for, in seconds.",
    )
    tap_default_retention: int = Field(
        default=7 * 86_400,
        ge=60,
        title="Async job retention",
        description="Seconds after creation at which an async job and its results are "
        "destroyed, unless it asks for less or more.",
    )
    tap_max_retention: int = Field(
        default=30 * 86_400,
        ge=60,
        title="Async maximum retention",
        description="The longest an async job may ask to be kept, in seconds.",
    )
    tap_async_workers: int = Field(
        default=2,
        ge=1,
        title="Async workers",
        description="Async jobs executing at once; the others wait in the QUEUED phase.",
    )
    tap_upload_limit: int = Field(
        default=100_000_000,
        ge=0,
        title="Upload size limit",
        description="Bytes a query's uploaded tables may take in all (TAP UPLOAD).",
    )
    tap_upload_url_hosts: list[str] = Field(
        default_factory=list,
        title="Hosts for URL uploads",
        description="Host names from which TAP may fetch http(s) UPLOAD tables. Empty "
        "(the default) disables URL uploads: a server that fetches any URL can be made "
        "to reach its own network.",
    )

    auth_token_lifetime: int = Field(
        default=30 * 86_400,
        ge=60,
        title="Token lifetime",
        description="Seconds a login token stays valid; after that the user logs in again.",
    )
    auth_max_failures: int = Field(
        default=5,
        ge=1,
        title="Failed logins before lockout",
        description="Failed logins allowed per user name, and separately per client address, "
        "within the lockout period; further attempts are refused (HTTP 429) until it passes.",
    )
    auth_lockout: int = Field(
        default=300,
        ge=1,
        title="Login lockout period",
        description="Seconds over which failed logins are counted, and that a locked user "
        "name or client waits from its oldest counted failure.",
    )
    auth_self_registration: bool = Field(
        default=False,
        title="Self-registration",
        description="Let anyone create an account (POST /auth/register); off by default, "
        "when only the operator adds users (datalab user add).",
    )

    storage_quota: int = Field(
        default=10_000_000_000,
        ge=0,
        title="Storage quota",
        description="Bytes each user's files in vos:// storage may take in all "
        "(default 10 GB); 0 for no limit. An upload that would pass it is refused and "
        "the previous version of the file is kept.",
    )

    notebooks: bool | None = Field(
        default=None,
        title="Notebooks",
        description="Start JupyterHub next to the server (datalab serve), where users log "
        "in with their Data Lab accounts and get JupyterLab on their vos:// files. Unset: "
        "on when the demo data is on (setting demo).",
    )
    notebooks_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        title="Notebooks port",
        description="TCP port of the notebooks (JupyterHub's proxy), on the server's listen "
        "address; unset: the server's port + 1.",
    )
    notebooks_public_url: str | None = Field(
        default=None,
        title="Notebooks public URL",
        description="URL users reach the notebooks at, if it differs from "
        "http(s)://host:notebooks_port/ (e.g. behind a reverse proxy).",
    )
    notebooks_sandbox: Literal["bwrap", "none"] = Field(
        default="bwrap",
        title="Notebook sandbox",
        description="How each user's notebook server is kept from other users' files: "
        "'bwrap' (bubblewrap: a private view of the file system holding only the user's "
        "own files) or 'none' (no isolation at all: every user can read every file the "
        "service can, the state database included; only for a single-user machine).",
    )
    notebooks_curated: Path | None = Field(
        default=None,
        title="Curated notebooks",
        description="Folder of notebooks copied into each user's vos://notebooks/ on their "
        "first start (never over a file of theirs); unset: the notebooks/ folder of the "
        "source tree the package runs from, if there is one.",
    )
    node_modules: Path | None = Field(
        default=None,
        title="node_modules folder",
        description="Folder of the web components installed from npm (npm ci in the "
        "checkout; scripts/serve does it): aladin-lite/ (the sky viewer, served at "
        "/static/vendor/aladin-lite/) and configurable-http-proxy (JupyterHub's proxy) in "
        ".bin/; unset: the node_modules/ of the source tree the package runs from (for "
        "the proxy, then configurable-http-proxy on PATH).",
    )

    def paths(self) -> DataPaths:
        return DataPaths(self.home)


class DataPaths:
    """Where each piece of state lives inside the data directory (DESIGN.md)."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home).absolute()

    @property
    def catalog(self) -> Path:
        return self.home / "catalog.duckdb"

    @property
    def mydb(self) -> Path:
        return self.home / "mydb.duckdb"

    @property
    def state(self) -> Path:
        return self.home / "state.sqlite"

    @property
    def jobs(self) -> Path:
        return self.home / "jobs"

    @property
    def storage(self) -> Path:
        return self.home / "storage"

    @property
    def images(self) -> Path:
        return self.home / "images"

    @property
    def tmp(self) -> Path:
        return self.home / "tmp"

    @property
    def hips(self) -> Path:
        """HiPS tiles built from the images; beside ``images/``, not in it, so that
        ingesting that folder never meets a tile or a ``Moc.fits``."""
        return self.home / "hips"

    @property
    def notebooks(self) -> Path:
        """JupyterHub's own state: its database, secrets, generated configuration, log."""
        return self.home / "notebooks"

    def ensure(self) -> None:
        for folder in (self.home, self.jobs, self.storage, self.images, self.tmp):
            folder.mkdir(parents=True, exist_ok=True)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from a TOML file (if given), then the environment, then ``overrides``.

    Explicit overrides (e.g. command-line options) win over the environment, which wins
    over the file. ``None`` overrides are ignored so unset CLI options fall through.
    """
    values: dict[str, Any] = {}
    if config_file is not None:
        with open(config_file, "rb") as fh:
            values.update(tomllib.load(fh))
    env = Settings()
    for name in Settings.model_fields:
        if name in env.model_fields_set:
            values[name] = getattr(env, name)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values) if values else env
