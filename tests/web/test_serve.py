"""`datalab serve` on a fresh data directory: loads the demo, then reports ready."""

from __future__ import annotations

from pathlib import Path

import httpx

from datalab.catalog.mock import injected_rows
from tests.conftest import start_server, stop_server


def test_first_start_loads_demo_then_serves(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    server = start_server(home, env={"DATALAB_DEMO_MOCK_ROWS": "2000"})
    try:
        page = httpx.get(server.url + "/", timeout=10).text
        # 2,000 field rows, the injected dwarf-galaxy and RR Lyrae stars on top.
        assert "ls_mock.tractor" in page and f"{2000 + injected_rows():,}" in page
        assert (home / "catalog.duckdb").exists()
    finally:
        stop_server(server)
    log = server.log.read_text()
    assert "Loading the demo data" in log
    assert "at http://127.0.0.1:" in log
    # A second start finds the catalog and does not load again.
    server = start_server(home)
    stop_server(server)
    assert "Loading the demo data" not in server.log.read_text()
