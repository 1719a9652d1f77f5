"""Async jobs survive a server restart; sync queries that run too long point to async."""

from __future__ import annotations

import signal
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from tests.conftest import copy_catalog, start_server, stop_server
from tests.tap.test_protocol import SLOW, UWS, query_status


def _phase(url: str) -> str:
    return httpx.get(f"{url}/phase", timeout=30).text


def _wait_for(url: str, wanted: set[str], seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    current = _phase(url)
    while current not in wanted and time.monotonic() < deadline:
        time.sleep(0.2)
        current = _phase(url)
    return current


def test_jobs_and_results_survive_a_killed_server(
    demo_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    home = tmp_path_factory.mktemp("restart-home")
    copy_catalog(demo_home, home)
    env = {"DATALAB_DEMO": "false", "DATALAB_TAP_SYNC_TIMEOUT": "1"}
    server = start_server(home, env=env)
    try:
        tap = f"{server.url}/tap"

        def submit(**params: str) -> str:
            response = httpx.post(f"{tap}/async", data=params, timeout=30)
            assert response.status_code == 303
            return response.headers["location"].replace(server.url, "")

        done = submit(QUERY="SELECT COUNT(*) AS n FROM openngc.objects", FORMAT="csv",
                      PHASE="RUN")
        assert _wait_for(server.url + done, {"COMPLETED"}) == "COMPLETED"
        pending = submit(QUERY="SELECT TOP 1 name FROM openngc.objects")
        running = submit(QUERY=SLOW, PHASE="RUN")
        assert _wait_for(server.url + running, {"EXECUTING"}) == "EXECUTING"

        # Sync work past the synchronous limit is refused with a pointer to async.
        refused = httpx.post(f"{tap}/sync", data={"QUERY": SLOW}, timeout=60)
        assert refused.status_code == 400
        status, message = query_status(refused.content)
        assert status == "ERROR" and "synchronous limit of 1 s" in message
        assert "/tap/async" in message
    finally:
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()

    server = start_server(home, env=env)
    try:
        base = server.url
        assert _phase(base + done) == "COMPLETED"
        job = ET.fromstring(httpx.get(base + done, timeout=30).content)
        href = job.find(f"{UWS}results/{UWS}result").get("{http://www.w3.org/1999/xlink}href")
        assert httpx.get(href.replace(href.split("/tap/")[0], base), timeout=30).text.split() == [
            "n", "14033"
        ]
        assert _phase(base + pending) == "PENDING"
        assert _phase(base + running) == "ERROR"
        _, message = query_status(httpx.get(f"{base}{running}/error", timeout=30).content)
        assert "restarted" in message
        # The pending job still runs after the restart.
        assert httpx.post(f"{base}{pending}/phase", data={"PHASE": "RUN"},
                          timeout=30).status_code == 303
        assert _wait_for(base + pending, {"COMPLETED", "ERROR"}) == "COMPLETED"
    finally:
        stop_server(server)
