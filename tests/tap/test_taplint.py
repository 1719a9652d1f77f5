"""STILTS taplint, the IVOA's TAP validator, against a server started for it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningServer, copy_catalog, start_server, stop_server

# Every stage except those for data models served later (ObsCore) or not at all
# (ObsLocTAP).
STAGES = "TMV TME TMS TMC CPV CAP AVV QGE QPO QAS UWS MDQ UPL EXA"

# Reports taplint 3.4.7 (Debian 12) makes that are its own mistakes, with the reason.
KNOWN = {
    # ADQL 2.1 §4.8 defines this feature key; this taplint predates it.
    "E-CAP-KEYX": "features-adql-conditional",
}

needs_stilts = pytest.mark.skipif(
    shutil.which("stilts") is None and os.environ.get("CI") != "true",
    reason="STILTS is installed by ./scripts/test",
)


@pytest.fixture(scope="module")
def lint_server(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server of its own (taplint creates jobs), allowing URL uploads from itself so
    that the upload methods TAP 1.1 expects are all declared."""
    home = tmp_path_factory.mktemp("lint-home")
    copy_catalog(demo_home, home)
    server = start_server(
        home, env={"DATALAB_TAP_UPLOAD_URL_HOSTS": '["127.0.0.1"]', "DATALAB_DEMO": "false"}
    )
    yield server
    stop_server(server)


@needs_stilts
def test_taplint_reports_no_errors(lint_server: RunningServer) -> None:
    done = subprocess.run(
        ["stilts", "taplint", f"tapurl={lint_server.url}/tap", f"stages={STAGES}",
         "report=EWF", "maxrepeat=20"],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert "Totals:" in done.stdout, done.stdout + done.stderr
    problems = [
        line for line in done.stdout.splitlines()
        if re.match(r"^[EF]-", line)
        and not any(line.startswith(code) and why in line for code, why in KNOWN.items())
    ]
    assert problems == [], done.stdout
