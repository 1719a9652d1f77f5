"""A data directory with the demo catalogs *and* the simulated demo images.

``demo_images_home`` is made the way a first start makes it (``prepare_catalog`` with
an images directory), without the synthetic survey, which images do not need. It
is built once per session and only read afterwards; tests that write make their own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from datalab.catalog.setup import prepare_catalog


@dataclass(frozen=True)
class DemoImagesBuild:
    home: Path
    seconds: float
    files: int
    megabytes: float


@pytest.fixture(scope="session")
def demo_images_build(tmp_path_factory: pytest.TempPathFactory) -> DemoImagesBuild:
    home = tmp_path_factory.mktemp("demo-images-home")
    started = time.monotonic()
    prepare_catalog(
        home / "catalog.duckdb", demo=True, mock_rows=0, images_dir=home / "images"
    )
    seconds = time.monotonic() - started
    files = [p for p in (home / "images").rglob("*.fits")]
    size = sum(p.stat().st_size for p in files) / 1e6
    return DemoImagesBuild(home, seconds, len(files), size)


@pytest.fixture(scope="session")
def demo_images_home(demo_images_build: DemoImagesBuild) -> Path:
    """A data directory (catalog.duckdb, images/) with demo catalogs and demo images."""
    return demo_images_build.home
