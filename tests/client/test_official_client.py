"""The official astro-datalab client (PyPI), unmodified, against this server.

It pins Python < 3.12 and old releases of astropy, numpy and pycurl, so it gets a
virtual environment of its own (``.venv-official`` at the repository root, made on
first use and kept).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.client.conftest import PASSWORDS, Site

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-official"
VERSION = "2.24.0"


def official_python() -> Path:
    python = VENV / "bin" / "python"
    marker = VENV / f".astro-datalab-{VERSION}"
    if marker.exists():
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", f"astro-datalab=={VERSION}"],
        capture_output=True, text=True, timeout=900, check=False,
    )
    if done.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"cannot install astro-datalab: {done.stderr[-2000:]}")
        pytest.skip(f"astro-datalab could not be installed here: {done.stderr[-300:]}")
    marker.touch()
    return python


def test_seed_examples_with_the_official_client(site: Site, tmp_path: Path) -> None:
    python = official_python()
    home = tmp_path / "home"  # the official client keeps its files under $HOME/.datalab
    home.mkdir()
    done = subprocess.run(
        [str(python), str(Path(__file__).parent / "official_seed.py"), site.url, "demo00",
         PASSWORDS["demo00"]],
        capture_output=True, text=True, timeout=300, check=False,
        env={"HOME": str(home), "PATH": os.environ.get("PATH", "")},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if not line.startswith("Total time")]
    report = dict(line.split(" ", 1) for line in lines if " " in line)
    assert report["alive"] == "True True"
    assert report["bad"] == "login is a token: False"
    assert report["valid"] == "True"
    assert report["csv"] == ("hip,ra|1,0.0009118508717948024|2,0.003797375190054703|"
                             "3,0.0050079433379189115")
    assert report["table"] == "3 ['hip', 'hpmag']"
    assert report["save"] == "OK"
    assert report["back"] == "['n', '10']"
    assert report["wait"] == "COMPLETED" and report["status"] == "COMPLETED"
    assert report["results"] == "['n', '117955']"
    assert report["drop"] == "OK"
    assert report["logout"] == "OK" and report["after"] == "logout False"
    assert "gaia_test" not in report["list"]
    assert report["sc_alive"] == "True"
    assert report["sc_put"] == "['OK']"
    assert "seed.txt" in report["sc_ls"].split(",")
    assert report["sc_get"] == "seed file"
    assert report["sc_getfile"] == "['OK'] seed file"
    assert report["sc_rm"] == "OK"
    assert "seed.txt" not in report["sc_after"].split(",")
    assert report["vos_save"] == "OK"
    assert report["vos_ls"] == "foo2.csv"
    assert report["vos_back"] == report["csv"]
    assert report["vos_rm"] == "OK"
