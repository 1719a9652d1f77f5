"""CADC's `vos` client (PyPI `vos`), unmodified, against this server.

It gets a virtual environment of its own (``.venv-vos`` at the repository root, made
on first use and kept). It finds a service through CADC's registry: the
``resource-caps`` file it caches under ``~/.config/cadc-registry`` is written here
(with a private HOME) so that ``ivo://datalab.local/vospace`` resolves to this
server's /vospace/capabilities without any network access; it authenticates with
HTTP Basic from ``~/.netrc`` (its token mode sends CADC's own delegation header).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.client.conftest import PASSWORDS
from tests.vospace.conftest import Space

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-vos"


def vos_python() -> Path:
    python = VENV / "bin" / "python"
    marker = VENV / ".vos-installed"
    if marker.exists():
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "vos"],
        capture_output=True, text=True, timeout=900, check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"the vos client could not be installed here: {done.stderr[-300:]}")
    marker.touch()
    return python


def test_vos_client_lists_makes_and_deletes(space: Space, alice, tmp_path: Path) -> None:
    """Containers, listings, node metadata and deletion work. Copies do not over plain
    HTTP: the client asks only for httpsput/httpsget, which this server offers (and so
    the copy works) only when its base_url is https, i.e. behind a TLS proxy."""
    python = vos_python()
    from tests.vospace.test_vospace import push

    assert push(alice, "demo00/vos-seed.txt", b"seed").status_code in (200, 201)
    home = tmp_path / "home"
    registry = home / ".config" / "cadc-registry"
    registry.mkdir(parents=True)
    (registry / "resource-caps").write_text(
        f"ivo://datalab.local/vospace = {space.url}/vospace/capabilities\n"
    )
    host = urlsplit(space.url).hostname
    netrc = home / ".netrc"
    netrc.write_text(f"machine {host} login demo00 password {PASSWORDS['demo00']}\n")
    netrc.chmod(0o600)
    done = subprocess.run(
        [str(python), str(Path(__file__).parent / "vos_client_script.py"), "demo00"],
        capture_output=True, text=True, timeout=300, check=False,
        env={"HOME": str(home), "PATH": os.environ.get("PATH", "")}, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    assert report["isdir"] == "True"
    assert report["list"] == "['inner']"
    assert report["size"] == "4"
    assert report["after"] == "[]"
    assert "ProtocolNotSupported" in report["copy"] and "httpput" in report["copy"]
