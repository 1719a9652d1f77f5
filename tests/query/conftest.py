"""Fixtures shared by the query tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from datalab.catalog import Engine


@pytest.fixture(scope="module")
def engine(demo_home: Path) -> Iterator[Engine]:
    engine = Engine(demo_home / "catalog.duckdb")
    yield engine
    engine.close()
