"""The hub lives and dies with `datalab serve`: stopped with it (SIGTERM), even when it
is killed outright, leaving no hub, proxy, sandbox or kernel behind; and what happens
when something the notebooks need is missing."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, start_server, stop_server
from tests.notebooks.conftest import (
    PASSWORDS,
    Kernel,
    add_users,
    api_token,
    hub_client,
    hub_login,
    needs_bwrap,
    needs_proxy,
    process_tree,
    start_notebook_server,
    still_running,
    wait_for_hub,
)


def gone(tree: dict[int, str], timeout: float = 30) -> list[str]:
    """What of ``tree`` is still running once ``timeout`` has passed (or nothing, as
    soon as everything has ended)."""
    deadline = time.monotonic() + timeout
    while (left := still_running(tree)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def serve_with_a_running_notebook(
    home: Path, **env: str
) -> tuple[subprocess.Popen[str], dict[int, str], str]:
    """`datalab serve --notebooks` with demo00's server started and a kernel running;
    the server process, every process below it, and what the kernel printed reading
    the state database."""
    port = free_port()
    server = start_server(home, "--notebooks", "--notebooks-port", str(port),
                          env={"DATALAB_DEMO": "false", **env})
    hub = f"http://127.0.0.1:{port}/"
    try:
        add_users(home)
        wait_for_hub(hub, server)
        with hub_client(hub) as client:
            assert hub_login(client, "demo00", PASSWORDS["demo00"]).status_code == 302
            token = api_token(client, "demo00")
        url = start_notebook_server(hub, "demo00", token)
        kernel = Kernel(url, token)
        assert kernel.run("print(6 * 7)").strip() == "42"
        state = kernel.run(
            f"try:\n    print(open({str(home / 'state.sqlite')!r}, 'rb').read(15))\n"
            "except OSError as exc:\n    print(type(exc).__name__)"
        )
        kernel.ws.close()  # the kernel stays; the hub must stop it
    except BaseException:
        stop_server(server)
        raise
    tree = process_tree(server.process.pid)
    commands = " ".join(tree.values())
    for part in ("jupyterhub", "configurable-http-proxy", "jupyterhub.singleuser", "ipykernel"):
        assert part in commands, f"no {part} among {sorted(tree.values())}"
    return server.process, tree, state.strip()


@needs_proxy
@needs_bwrap
def test_stopping_the_server_stops_the_notebooks(tmp_path: Path) -> None:
    process, tree, state = serve_with_a_running_notebook(tmp_path / "home")
    assert "bwrap" in " ".join(tree.values())
    assert state == "FileNotFoundError"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == -signal.SIGTERM
    assert gone(tree) == []


@needs_proxy
def test_unsandboxed_when_configured_and_a_killed_server_leaves_nothing(tmp_path: Path) -> None:
    """``notebooks_sandbox = "none"`` runs servers without bwrap, and then, as documented,
    a notebook reads the state database. Killing `serve` outright still ends the hub,
    its proxy, the notebook server and its kernel."""
    process, tree, state = serve_with_a_running_notebook(
        tmp_path / "home", DATALAB_NOTEBOOKS_SANDBOX="none"
    )
    assert "bwrap" not in " ".join(tree.values())
    assert state == "b'SQLite format 3'"
    process.kill()
    process.wait(timeout=30)
    assert gone(tree, timeout=60) == []


def test_without_the_proxy_it_serves_without_notebooks(tmp_path: Path) -> None:
    port = free_port()
    server = start_server(
        tmp_path / "home", "--notebooks", "--notebooks-port", str(port),
        env={"DATALAB_DEMO": "false", "DATALAB_NODE_MODULES": str(tmp_path / "empty")},
    )
    try:
        assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/hub/health", timeout=5)
    finally:
        stop_server(server)
    log = server.log.read_text()
    assert "Warning: serving without notebooks: configurable-http-proxy" in log
    assert "(setting node_modules)" in log
    assert not (tmp_path / "home" / "notebooks").exists()


@needs_proxy
def test_without_bwrap_no_notebook_server_starts(tmp_path: Path) -> None:
    """A site whose sandbox cannot run refuses to start servers, saying why; it never
    falls back to running them unsandboxed."""
    bin_dir = tmp_path / "bin"  # PATH with Node.js (for the proxy) and no bwrap
    bin_dir.mkdir()
    node = next(p for p in ("/usr/bin/node", "/usr/bin/nodejs") if os.path.exists(p))
    (bin_dir / "node").symlink_to(node)
    home, port = tmp_path / "home", free_port()
    server = start_server(home, "--notebooks", "--notebooks-port", str(port),
                          env={"DATALAB_DEMO": "false", "PATH": str(bin_dir)})
    hub = f"http://127.0.0.1:{port}/"
    try:
        add_users(home)
        wait_for_hub(hub, server)
        with hub_client(hub) as client:
            assert hub_login(client, "demo00", PASSWORDS["demo00"]).status_code == 302
            token = api_token(client, "demo00")
            answer = httpx.post(f"{hub}hub/api/users/demo00/server",
                                headers={"Authorization": f"token {token}"}, timeout=60)
            assert answer.status_code == 503
            assert "bubblewrap (bwrap) is not installed" in answer.json()["message"]
            page = client.get("hub/spawn/demo00", follow_redirects=True)
            assert "bubblewrap (bwrap) is not installed" in page.text
    finally:
        stop_server(server)
    assert "Warning: bubblewrap (bwrap) is not installed" in server.log.read_text()
    assert not (home / "storage" / "demo00").exists()
