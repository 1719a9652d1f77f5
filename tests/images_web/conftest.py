"""A data directory with the demo catalogs and the demo images indexed, and a server on it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from datalab.catalog import Engine
from datalab.images import make_demo_images
from tests.conftest import RunningServer, start_server, stop_server


@pytest.fixture(scope="session")
def images_home(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """demo_home's catalog copied, the demo images rendered from it and indexed into
    ``ivoa.obscore`` (demo_home itself is shared and only read)."""
    home = tmp_path_factory.mktemp("images-web-home")
    shutil.copy(demo_home / "catalog.duckdb", home / "catalog.duckdb")
    images = home / "images"
    images.mkdir()
    engine = Engine(home / "catalog.duckdb")
    try:
        paths = make_demo_images(engine, images)
    finally:
        engine.close()
    assert paths, "make_demo_images made no image"
    from datalab.images import ingest_images

    ingest_images([images], home / "catalog.duckdb", images)
    return home


@pytest.fixture(scope="session")
def images_server(images_home: Path) -> Iterator[RunningServer]:
    server = start_server(images_home, env={"DATALAB_DEMO": "false"})
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def base(images_server: RunningServer) -> str:
    return images_server.url
