"""Large results stream: the server's memory does not grow with the size of the result."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from datalab.catalog.mock import injected_rows
from tests.conftest import TEST_MOCK_ROWS, RunningServer, copy_catalog, start_server, stop_server

# The demo's mock objects (300,000 field rows and the injected stars) × 7 object types:
# 2.1 million rows, computed as they stream.
BIG = (
    "SELECT a.objid, a.ra, a.dec, a.mag_g, a.mag_r, b.type FROM ls_mock.tractor AS a "
    "CROSS JOIN (SELECT TOP 7 type FROM openngc.object_types ORDER BY type) AS b"
)
ROWS = (TEST_MOCK_ROWS + injected_rows()) * 7
# What the server may add to its peak resident memory while streaming any of them.
BOUND = 100 * 2**20


def peak_rss(pid: int) -> int:
    """The process's high-water resident set size (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


@pytest.fixture(scope="module")
def stream_server(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp("stream-home")
    copy_catalog(demo_home, home)
    server = start_server(home, env={"DATALAB_DEMO": "false", "DATALAB_ENGINE_THREADS": "2"})
    # One full stream first, so that what the engine keeps cached from its scan and the
    # encoders' threads count before any test measures: each test then sees what its
    # own stream adds, whichever format a worker happens to run first.
    with httpx.stream("POST", f"{server.url}/tap/sync",
                      data={"QUERY": BIG, "FORMAT": "csv", "MAXREC": "3000000"},
                      timeout=600) as response:
        assert response.status_code == 200
        for _ in response.iter_bytes():
            pass
    yield server
    stop_server(server)


@pytest.mark.parametrize(
    "fmt", ["csv", "tsv", "json", "votable", "votable/b", "votable/b2", "fits", "parquet"]
)
def test_two_million_rows_stream_in_bounded_memory(stream_server: RunningServer, fmt: str) -> None:
    url = f"{stream_server.url}/tap/sync"
    small = httpx.post(url, data={"QUERY": "SELECT TOP 1000 * FROM ls_mock.tractor",
                                  "FORMAT": fmt}, timeout=60)
    assert small.status_code == 200
    before = peak_rss(stream_server.process.pid)
    size = 0
    lines = 0
    with httpx.stream("POST", url, data={"QUERY": BIG, "FORMAT": fmt, "MAXREC": "3000000"},
                      timeout=600) as response:
        assert response.status_code == 200
        for chunk in response.iter_bytes():
            size += len(chunk)
            lines += chunk.count(b"\n")
    growth = peak_rss(stream_server.process.pid) - before
    if fmt == "csv":
        assert lines == ROWS + 1
    print(f"{fmt}: {size / 2**20:.0f} MiB out, peak memory +{growth / 2**20:.0f} MiB")
    assert size > 10 * 2**20, "the result must be far larger than a few batches"
    assert growth < BOUND, f"{fmt}: peak memory grew {growth / 2**20:.0f} MiB for {size / 2**20:.0f} MiB"
