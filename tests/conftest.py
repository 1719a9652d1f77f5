"""Fixtures shared by the whole suite: real data directories, real servers."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

# Every compilation the suite reuses (datalab.adql.templates) is compiled in full as
# well and must come out the same, here and in the servers the tests start.
os.environ.setdefault("DATALAB_CHECK_QUERY_TEMPLATES", "1")
# Every cone search answered from a row copy (datalab.query.cones) is run on the engine
# as well and must give the same rows.
os.environ.setdefault("DATALAB_CHECK_ROW_COPIES", "1")

from datalab.catalog.setup import prepare_catalog  # noqa: E402

# Rows of the synthetic survey in the test demo: enough for positional queries to touch
# several row groups, small enough to load in a few seconds.
TEST_MOCK_ROWS = 300_000


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with the demo catalogs, built once and only read afterwards."""
    home = tmp_path_factory.mktemp("demo-home")
    prepare_catalog(home / "catalog.duckdb", demo=True, mock_rows=TEST_MOCK_ROWS)
    return home


def copy_catalog(source_home: Path, home: Path) -> None:
    """Copy a data directory's catalog into ``home``: the database and its row copies."""
    shutil.copy(source_home / "catalog.duckdb", home / "catalog.duckdb")
    rows = source_home / "catalog.rows"
    if rows.is_dir():
        shutil.copytree(rows, home / "catalog.rows")


def copy_demo_with_images(demo_home: Path, home: Path, *, hips: bool = False) -> Path:
    """``home`` with demo_home's catalog copied and the demo images drawn into
    ``home/images`` and indexed (and their HiPS built into ``home/hips`` with ``hips``);
    demo_home itself is shared and only read."""
    from datalab.catalog import Engine
    from datalab.images import ingest_images, make_demo_images

    copy_catalog(demo_home, home)
    images = home / "images"
    images.mkdir()
    engine = Engine(home / "catalog.duckdb")
    try:
        made = make_demo_images(engine, images)
    finally:
        engine.close()
    assert made, "make_demo_images made no image"
    ingest_images([images], home / "catalog.duckdb", images,
                  hips_dir=home / "hips" if hips else None)
    return home


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RunningServer:
    def __init__(self, process: subprocess.Popen[str], url: str, log: Path) -> None:
        self.process = process
        self.url = url
        self.log = log


def start_server(home: Path, *extra: str, env: dict[str, str] | None = None) -> RunningServer:
    """Start `datalab serve` on a free loopback port and wait for /health."""
    port = free_port()
    log = home.parent / f"server-{port}.log"
    # No notebook hub unless a test asks for one (--notebooks or DATALAB_NOTEBOOKS).
    full_env = {**os.environ, "DATALAB_NOTEBOOKS": "false", **(env or {})}
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "datalab", "serve", "--data-dir", str(home), "--port",
             str(port), *extra],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env=full_env,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return RunningServer(process, url, log)
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not become ready: {log.read_text()}")


def stop_server(server: RunningServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def demo_server(demo_home: Path) -> Iterator[RunningServer]:
    """`datalab serve` on the demo data directory, for the whole session."""
    server = start_server(demo_home)
    yield server
    stop_server(server)
