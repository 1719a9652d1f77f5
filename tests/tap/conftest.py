"""Fixtures for the TAP tests: the session's demo server, reached as a TAP service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.conftest import RunningServer


@pytest.fixture(scope="session")
def tap_url(demo_server: RunningServer) -> str:
    return f"{demo_server.url}/tap"


@pytest.fixture(scope="session")
def catalog_con(demo_home: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the demo catalog, for reference answers."""
    con = duckdb.connect(str(demo_home / "catalog.duckdb"), read_only=True)
    yield con
    con.close()
