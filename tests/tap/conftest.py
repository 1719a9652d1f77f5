"""Fixtures for the TAP tests: the session's demo server, reached as a TAP service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from datalab.catalog.engine import Engine
from tests.conftest import RunningServer


@pytest.fixture(scope="session")
def tap_url(demo_server: RunningServer) -> str:
    return f"{demo_server.url}/tap"


@pytest.fixture(scope="module")
def catalog_con(demo_home: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the demo catalog, for reference answers.

    Opened as the other in-process tests open it (an Engine) and only for one module:
    DuckDB refuses a second connection to the same file with another configuration,
    and the tests of one worker process share that file.
    """
    engine = Engine(demo_home / "catalog.duckdb", threads=1)
    with engine.cursor() as con:
        yield con
    engine.close()
