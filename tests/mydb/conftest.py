"""A tiny real catalog and a real myDB file per test: the engine exactly as served."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from datalab.catalog import CatalogStore, Engine, TableSpec
from datalab.formats import FieldMeta
from datalab.mydb import MyDB
from tests.mydb.helpers import star_table


@pytest.fixture(scope="session")
def catalog_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A catalog with one positional table, demo.stars, documented like a survey."""
    path = tmp_path_factory.mktemp("mydb-catalog") / "catalog.duckdb"
    spec = TableSpec(
        "demo",
        "stars",
        description="Test stars",
        ra="ra",
        dec="dec",
        fields={"mag": FieldMeta("mag", unit="mag", ucd="phot.mag", description="Magnitude")},
    )
    with CatalogStore.open(path) as store:
        store.load(spec, star_table().to_batches(max_chunksize=1000))
    return path


@pytest.fixture
def home(tmp_path: Path, catalog_file: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "catalog.duckdb").write_bytes(catalog_file.read_bytes())
    return home


@pytest.fixture
def engine(home: Path) -> Iterator[Engine]:
    engine = Engine(home / "catalog.duckdb", mydb=home / "mydb.duckdb")
    yield engine
    engine.close()


@pytest.fixture
def mydb(engine: Engine) -> MyDB:
    return MyDB(engine)


