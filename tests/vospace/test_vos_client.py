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

import httpx
import pytest

from tests.client.conftest import PASSWORDS
from tests.vospace.conftest import Space, TlsSpace
from tests.web.tls import trusting

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


def run_vos(
    space: Space, script: str, tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> dict[str, str]:
    """Run SCRIPT (in this folder) with the vos client as demo00, with a private HOME
    whose registry cache points ivo://datalab.local/vospace at SPACE and whose .netrc
    holds demo00's password; its output lines `key value` as a dict."""
    python = vos_python()
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
        [str(python), str(Path(__file__).parent / script), "demo00", *args],
        capture_output=True, text=True, timeout=300, check=False,
        env={"HOME": str(home), "PATH": os.environ.get("PATH", ""), **(env or {})},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)


def test_vos_client_lists_makes_and_deletes(space: Space, alice, tmp_path: Path) -> None:
    """Containers, listings, node metadata and deletion work over plain HTTP. Copies do
    not: the client asks only for httpsput/httpsget, which a server reached over http
    does not offer (see the HTTPS test below)."""
    from tests.vospace.test_vospace import push

    assert push(alice, "demo00/vos-seed.txt", b"seed").status_code in (200, 201)
    report = run_vos(space, "vos_client_script.py", tmp_path)
    assert report["isdir"] == "True"
    assert report["list"] == "['inner']"
    assert report["size"] == "4"
    assert report["after"] == "[]"
    assert "ProtocolNotSupported" in report["copy"] and "httpput" in report["copy"]


FILES_PROTO = "ivo://ivoa.net/std/VOSpace#files-proto"


def test_vos_client_copies_files_over_https(tls_space: TlsSpace, tmp_path: Path) -> None:
    """Served over HTTPS (`datalab serve` with a certificate), the client negotiates
    httpsput and copies a file in; it lists it with the right size and MD5, negotiates
    httpsget to read it back byte for byte, and deletes it.

    The client verifies the certificate against requests' default CA bundle only:
    cadcutils disables requests' trust_env, so REQUESTS_CA_BUNDLE and SSL_CERT_FILE are
    ignored, and the script points requests' default bundle at the test CA.

    ``Client.copy`` from the space to a local file needs the CADC-specific
    ``VOSpace#files-proto`` capability in /vospace/capabilities: without it, cadcutils
    raises KeyError (its own docstring promises ValueError) before the standard
    pullFromVoSpace fallback that copy() would otherwise take."""
    ca = str(tls_space.cert)
    report = run_vos(
        tls_space, "vos_copy_script.py", tmp_path, ca,
        env={"REQUESTS_CA_BUNDLE": ca, "SSL_CERT_FILE": ca},
    )
    size = str(256 * 4096 + 5)
    assert report["copy-in"] == size
    assert report["list"] == "['upload.bin']"
    assert report["size"] == size
    md5, expected = report["md5"].split()
    assert md5 == expected
    assert report["negotiated"].startswith(f"{tls_space.url}/vospace/data/get/")
    assert report["fetched"] == "True"
    assert report["after"] == "[]"
    assert not (tls_space.home / "storage" / "demo00" / "copies").exists()
    capabilities = httpx.get(
        f"{tls_space.url}/vospace/capabilities", verify=trusting(tls_space.cert), timeout=30
    ).text
    if FILES_PROTO in capabilities:
        assert report["copy-out"] == size
        assert report["copied-same"] == "True"
    else:
        assert report["copy-out"] == f"KeyError '{FILES_PROTO}'"
