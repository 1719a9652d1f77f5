"""A real Data Lab with its real JupyterHub for the notebooks' tests, and the clients
that talk to them: the hub's login form and REST API over httpx, a Jupyter kernel
over its websocket.

Every server here runs sandboxed with bubblewrap, as a site runs them.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx
import pytest
import websocket

from datalab.config import Settings
from datalab.notebooks.locate import find_bwrap, find_node, find_proxy
from tests.client.conftest import PASSWORDS, datalab
from tests.conftest import RunningServer, copy_catalog, free_port, start_server, stop_server

needs_proxy = pytest.mark.skipif(
    find_proxy(Settings()) is None or find_node() is None,
    reason="configurable-http-proxy or Node.js is not installed (scripts/test installs them)",
)
needs_bwrap = pytest.mark.skipif(
    find_bwrap() is None, reason="bubblewrap is not installed (scripts/test installs it)"
)



@dataclass(frozen=True)
class HubSite:
    url: str
    hub: str
    home: Path
    server: RunningServer


def wait_for_hub(hub: str, server: RunningServer, timeout: float = 180) -> None:
    """Wait until the hub answers through its proxy (it starts after the server)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited: {server.log.read_text()}")
        try:
            if httpx.get(f"{hub}hub/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the hub did not come up: {server.log.read_text()}")


def add_users(home: Path) -> None:
    for name, password in PASSWORDS.items():
        secret = home.parent / f"{home.name}-{name}.pw"
        secret.write_text(password + "\n")
        datalab("user", "add", name, "--password-file", str(secret), "--data-dir", str(home))


@pytest.fixture(scope="module")
def hub_site(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubSite]:
    """`datalab serve --notebooks` on a copy of the demo catalog, users demo00 and
    demo01, and a curated notebook to deliver."""
    home = tmp_path_factory.mktemp("nb-site")
    copy_catalog(demo_home, home)
    curated = tmp_path_factory.mktemp("curated")
    (curated / "welcome.ipynb").write_text(json.dumps(notebook("print('welcome')")))
    port = free_port()
    server = start_server(
        home, "--notebooks", "--notebooks-port", str(port),
        env={"DATALAB_DEMO": "false", "DATALAB_NOTEBOOKS_CURATED": str(curated)},
    )
    try:
        add_users(home)
        hub = f"http://127.0.0.1:{port}/"
        wait_for_hub(hub, server)
        yield HubSite(url=server.url, hub=hub, home=home, server=server)
    finally:
        stop_server(server)


def notebook(*sources: str) -> dict[str, object]:
    """A minimal nbformat 4 notebook with one code cell per source."""
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "cells": [
            {"cell_type": "code", "id": uuid.uuid4().hex[:8], "metadata": {},
             "execution_count": None, "outputs": [], "source": source}
            for source in sources
        ],
    }


def hub_client(hub: str) -> httpx.Client:
    """An HTTP client for the hub that keeps its cookies, as a browser does."""
    return httpx.Client(base_url=hub, timeout=60)


def hub_login(client: httpx.Client, username: str, secret: str) -> httpx.Response:
    """Log in through the hub's form as a browser does: GET it (which sets the _xsrf
    cookie and puts the same token in the form), then POST the form with it."""
    form = client.get("hub/login")
    assert form.status_code == 200
    found = re.search(r'name="_xsrf" value="([^"]+)"', form.text)
    assert found, "the login form has no _xsrf field"
    return client.post(
        "hub/login",
        data={"username": username, "password": secret, "_xsrf": found.group(1)},
    )


def api_token(client: httpx.Client, username: str) -> str:
    """A hub API token for the logged-in user (cookie requests need the xsrf header)."""
    answer = client.post(
        f"hub/api/users/{username}/tokens",
        json={"note": "tests", "expires_in": 3600},
        headers={"X-XSRFToken": client.cookies.get("_xsrf") or ""},
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def start_notebook_server(hub: str, username: str, token: str, timeout: float = 240) -> str:
    """Ask the hub to start the user's server and wait until it is ready; its URL."""
    headers = {"Authorization": f"token {token}"}
    answer = httpx.post(f"{hub}hub/api/users/{username}/server", headers=headers, timeout=60)
    assert answer.status_code in (201, 202), answer.text
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        model = httpx.get(f"{hub}hub/api/users/{username}", headers=headers, timeout=30).json()
        server = model["servers"].get("")
        if server is None:
            raise AssertionError(f"the server of {username} failed to start: {model}")
        if server["ready"]:
            return f"{hub.rstrip('/')}{server['url']}"
        time.sleep(0.5)
    raise AssertionError(f"the server of {username} did not become ready")


class Kernel:
    """A Python kernel in a user's notebook server, run over the Jupyter websocket
    protocol: ``run(code)`` returns what the code printed, errors as ``ERROR name: value``."""

    def __init__(self, server_url: str, token: str) -> None:
        self.server_url = server_url.rstrip("/")
        self.headers = {"Authorization": f"token {token}"}
        model = httpx.post(
            f"{self.server_url}/api/kernels", headers=self.headers,
            json={"name": "python3"}, timeout=60,
        )
        assert model.status_code == 201, model.text
        self.id = model.json()["id"]
        ws_url = re.sub(r"^http", "ws", self.server_url) + f"/api/kernels/{self.id}/channels"
        self.ws = websocket.create_connection(
            ws_url, header=[f"Authorization: token {token}"], timeout=180
        )

    def run(self, code: str) -> str:
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": "tests",
                       "username": "tests", "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
        }))
        out: list[str] = []
        while True:
            message = json.loads(self.ws.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                out.append(content["text"])
            elif kind == "error":
                out.append(f"ERROR {content['ename']}: {content['evalue']}")
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(out)

    def close(self) -> None:
        self.ws.close()
        httpx.delete(f"{self.server_url}/api/kernels/{self.id}", headers=self.headers, timeout=60)

    def __enter__(self) -> Kernel:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def process_tree(root: int) -> dict[int, str]:
    """The process ``root`` and all its descendants now, pid to command line."""
    parents: dict[int, int] = {}
    cmdlines: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            raw = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
        cmdlines[int(entry)] = raw.replace(b"\0", b" ").decode(errors="replace").strip()
    tree = {root}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return {pid: cmdlines.get(pid, "") for pid in tree}


def still_running(tree: dict[int, str]) -> list[str]:
    """Those of ``tree`` that still run (same pid, same command line)."""
    left = []
    for pid, cmdline in tree.items():
        try:
            now = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if now.replace(b"\0", b" ").decode(errors="replace").strip() == cmdline:
            left.append(f"{pid}: {cmdline}")
    return left
