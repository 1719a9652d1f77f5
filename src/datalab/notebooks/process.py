"""JupyterHub as a child process of ``datalab serve``.

``start_hub`` checks what the hub needs (a port, configurable-http-proxy, Node.js),
writes its configuration and starts it; anything missing is a ``NotebooksUnavailable``
naming it, which ``serve`` reports before serving without notebooks. ``Hub.stop``
ends it: SIGTERM, on which JupyterHub stops every notebook server and its proxy, then
SIGKILL for whatever is left after a grace period. The hub runs in its own session
(a Ctrl-C in the terminal reaches ``serve`` only, which then stops the hub in order)
and dies with its parent (``launch``), so a ``serve`` killed outright leaves nothing
behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from datalab.config import Settings
from datalab.errors import DataLabError
from datalab.notebooks.addresses import datalab_url, notebooks_port, notebooks_url
from datalab.notebooks.hubconfig import (
    PARENT_PID_VARIABLE,
    HubFiles,
    hub_settings,
    write_hub_config,
)
from datalab.notebooks.locate import PROXY_NAME, find_bwrap, find_curated, find_node, find_proxy

__all__ = ["Hub", "NotebooksUnavailable", "start_hub"]

Notify = Callable[[str], None]


class NotebooksUnavailable(DataLabError):
    """The hub cannot start here; the message says what is missing and how to fix it."""

    code = "notebooks_unavailable"
    status_code = 503


def _bind_url(settings: Settings, port: int) -> str:
    host = settings.host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    scheme = "https" if settings.ssl_certfile else "http"
    return f"{scheme}://{host}:{port}/"


def _check_proxy(settings: Settings) -> Path:
    proxy = find_proxy(settings)
    if proxy is None:
        where = (
            f"in {settings.node_modules}/.bin (setting node_modules)"
            if settings.node_modules is not None
            else "in the source tree's node_modules/.bin nor on PATH"
        )
        raise NotebooksUnavailable(
            f"{PROXY_NAME}, JupyterHub's proxy, is not installed {where}: run "
            "./scripts/serve (which installs it with npm) or `npm install "
            f"{PROXY_NAME}` and set node_modules"
        )
    if find_node() is None:
        raise NotebooksUnavailable(
            f"Node.js, which runs {PROXY_NAME}, is not installed (Debian: apt-get install nodejs)"
        )
    return proxy


class Hub:
    """A running JupyterHub started by ``start_hub``."""

    def __init__(
        self, process: subprocess.Popen[bytes], url: str, files: HubFiles, notify: Notify
    ) -> None:
        self.process = process
        self.url = url
        self.files = files
        self._notify = notify
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="hub-watch", daemon=True)
        self._watcher.start()

    @property
    def log(self) -> Path:
        return self.files.log

    def _watch(self) -> None:
        """Tell the operator if the hub ends by itself (a port taken, a bad certificate)."""
        status = self.process.wait()
        if not self._stopping.is_set():
            self._notify(
                f"Warning: JupyterHub exited with status {status}; the notebooks at "
                f"{self.url} are unavailable. See {self.files.log}"
            )

    def stop(self, grace: float = 30.0) -> None:
        """Stop the hub, its proxy and every notebook server; returns when they are gone."""
        self._stopping.set()
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self._notify(f"JupyterHub did not stop within {grace:.0f} s; killing it")
                # It leads its own process group, so this reaches all it runs in it;
                # notebook servers die with it (bwrap --die-with-parent, or launch).
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._watcher.join(timeout=5)
        self._stop_stray_proxy()

    def _stop_stray_proxy(self) -> None:
        """The proxy runs in its own session; a hub that was killed before it could stop
        it leaves its pid file behind."""
        try:
            pid = int(self.files.proxy_pid.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        if PROXY_NAME.encode() in cmdline:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGTERM)
        with contextlib.suppress(OSError):
            self.files.proxy_pid.unlink()


def start_hub(settings: Settings, notify: Notify) -> Hub:
    """Start JupyterHub for ``settings`` (notebooks enabled); NotebooksUnavailable when
    it cannot run here. Returns at once: the hub takes a few seconds to answer."""
    port = notebooks_port(settings)
    if port is None:
        raise NotebooksUnavailable(
            "the notebooks need a port: set notebooks_port (--notebooks-port), since the "
            "server's port + 1 is not one"
        )
    proxy = _check_proxy(settings)
    if settings.notebooks_sandbox == "bwrap" and find_bwrap() is None:
        notify(
            "Warning: bubblewrap (bwrap) is not installed, so the notebooks will refuse to "
            "start notebook servers (Debian: apt-get install bubblewrap; see "
            "docs/notebooks.md)"
        )
    elif settings.notebooks_sandbox == "none":
        notify(
            "Warning: notebooks_sandbox is 'none': notebook servers run without isolation "
            "and every user can read every other user's files and the state database"
        )
    hub = hub_settings(settings, datalab_url(settings), find_curated(settings))
    ssl = None
    if settings.ssl_certfile is not None and settings.ssl_keyfile is not None:
        ssl = (settings.ssl_certfile.absolute(), settings.ssl_keyfile.absolute())
    files = write_hub_config(hub, bind_url=_bind_url(settings, port), proxy=proxy, ssl=ssl)
    if files.log.exists():
        os.replace(files.log, files.log.with_name(files.log.name + ".1"))
    env = {
        **os.environ,
        "CONFIGPROXY_AUTH_TOKEN": files.proxy_token,
        "JUPYTERHUB_CRYPT_KEY": files.crypt_key,
        PARENT_PID_VARIABLE: str(os.getpid()),
    }
    command = [
        sys.executable, "-m", "datalab.notebooks.launch", "jupyterhub", "-f", str(files.config)
    ]
    fd = os.open(files.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=hub.hub_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = notebooks_url(settings) or _bind_url(settings, port)
    return Hub(process, url, files, notify)
