"""A data directory with the demo catalogs and the demo images indexed, and a server on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningServer, copy_demo_with_images, start_server, stop_server


@pytest.fixture(scope="session")
def images_home(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """demo_home's catalog copied, the demo images rendered from it and indexed into
    ``ivoa.obscore`` (demo_home itself is shared and only read)."""
    home = tmp_path_factory.mktemp("images-web-home")
    copy_demo_with_images(demo_home, home)
    return home


@pytest.fixture(scope="session")
def images_server(images_home: Path) -> Iterator[RunningServer]:
    server = start_server(images_home, env={"DATALAB_DEMO": "false"})
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def base(images_server: RunningServer) -> str:
    return images_server.url
