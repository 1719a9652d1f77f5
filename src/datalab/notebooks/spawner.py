"""Each user's JupyterLab, next to the data and on their own files.

A local process per user (JupyterHub's ``LocalProcessSpawner``, without its switch
to a Unix account of the user's name: here every server runs as the service's own
account), started inside the bubblewrap sandbox of ``sandbox`` unless the site chose
``notebooks_sandbox = "none"``. Before the start:

* the user's storage tree (``<data dir>/storage/<user>/``) and private home are made
  if missing, and the curated notebooks they have not had yet are copied in
  (``curated``);
* the server's file browser is rooted at the storage tree, so what a notebook saves
  is in vos:// for that user (storage finds sizes and checksums of files written
  directly on disk when it next looks at them);
* ``DATALAB_URL`` and ``DATALAB_TOKEN`` go into its environment, so that
  ``datalab.client`` (``queryClient.query(...)``, ``storeClient``) and the ``datalab``
  command work in a notebook or a terminal without logging in.

Without a usable ``bwrap`` the start fails with a message saying so: a notebook server
never runs unsandboxed unless the site configured that.
"""

from __future__ import annotations

import asyncio
import json
import os
from functools import cached_property
from pathlib import Path
from typing import Any

from jupyterhub.spawner import LocalProcessSpawner, SpawnException

from datalab.errors import DataLabError
from datalab.notebooks.curated import deliver
from datalab.notebooks.hubconfig import CONFIG_SECTION, PARENT_PID_VARIABLE, HubSettings
from datalab.notebooks.locate import find_bwrap
from datalab.notebooks.sandbox import (
    VOS_MOUNT,
    bwrap_command,
    check_bwrap,
    home_mount,
    identity_files,
)
from datalab.storage import Storage

__all__ = ["DataLabSpawner"]

NO_BWRAP = (
    "This site runs notebooks in a sandbox, and bubblewrap (bwrap) is not installed on "
    "the server, so no notebook server can start. The operator can install it "
    "(Debian: apt-get install bubblewrap) and try again; see docs/notebooks.md."
)


# JupyterLab's defaults for a new user. It would ask whether to fetch news from
# jupyter.org (and the server would then reach out to the internet on its own): a
# self-hosted site opts out. And a notebook opens with the preferred kernel (there is
# one, Python) instead of asking each time. Users may change both in JupyterLab.
_LAB_DEFAULTS = {
    "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "notebook-extension/tracker": {"autoStartDefaultKernel": True},
}


def _lab_defaults(home: Path) -> None:
    folder = home / ".jupyter" / "lab" / "user-settings" / "@jupyterlab"
    for name, values in _LAB_DEFAULTS.items():
        path = folder / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values, indent=2))


def _server_args(home: str) -> list[str]:
    """Jupyter Server options that keep the user's vos:// space as Data Lab sees it.

    JupyterLab's checkpoints (the copies behind "Revert to checkpoint") go into the
    home rather than into a ``.ipynb_checkpoints`` folder next to every notebook, which
    would clutter vos:// and count against the quota. And deleting a file in JupyterLab
    deletes it, as ``datalab rm`` does, instead of moving it to a trash folder where it
    would take space unseen."""
    return [
        f"--FileCheckpoints.root_dir={home}/.local/share/jupyter/checkpoints",
        "--FileContentsManager.delete_to_trash=False",
    ]


class DataLabSpawner(LocalProcessSpawner):  # type: ignore[misc]
    """A sandboxed JupyterLab per Data Lab user, on their vos:// files."""

    @cached_property
    def site(self) -> HubSettings:
        return HubSettings.from_config(self.config.get(CONFIG_SECTION))

    @property
    def sandboxed(self) -> bool:
        return self.site.sandbox == "bwrap"

    async def start(self) -> Any:
        site, user = self.site, self.user.name
        state = await self.user.get_auth_state()
        token = (state or {}).get("token")
        if not isinstance(token, str) or not token:
            raise SpawnException(
                "The notebooks hold no Data Lab token for you: log out and log in again.",
                reason="auth", status_code=403,
            )
        self._datalab_token = token
        bwrap = await self._sandbox() if self.sandboxed else None
        try:
            storage_tree = await asyncio.to_thread(self._prepare)
        except (DataLabError, OSError) as exc:
            raise SpawnException(
                f"Your file space could not be prepared: {exc}", reason="storage"
            ) from exc
        if bwrap is not None:
            passwd, group = identity_files(site.sandbox_files(user), user)
            self.cmd = [
                *bwrap_command(
                    bwrap, user=user, storage=storage_tree, home=site.home_of(user),
                    data_dir=site.data_dir, passwd=passwd, group=group,
                ),
                site.python, "-m", "jupyterhub.singleuser",
            ]
            self.notebook_dir, home = VOS_MOUNT, home_mount(user)
            self.args = _server_args(home)
        else:
            self.cmd = [site.python, "-m", "datalab.notebooks.launch", "jupyterhub.singleuser"]
            self.notebook_dir, home = str(storage_tree), str(site.home_of(user))
            self.popen_kwargs = {**self.popen_kwargs, "cwd": str(storage_tree)}
            self.args = _server_args(home)
            if os.geteuid() == 0:  # Jupyter runs as root only when told (sandboxed: uid 1000)
                self.args.append("--ServerApp.allow_root=True")
        return await super().start()

    async def _sandbox(self) -> Path:
        """bwrap, checked to work here; a SpawnException the user sees otherwise."""
        bwrap = find_bwrap()
        if bwrap is None:
            raise SpawnException(NO_BWRAP, reason="sandbox", status_code=503)
        problem = await asyncio.to_thread(check_bwrap, bwrap)
        if problem is not None:
            raise SpawnException(
                f"The notebook sandbox cannot start: {problem}. The operator can find "
                "what to do in docs/notebooks.md (troubleshooting).",
                reason="sandbox", status_code=503,
            )
        return bwrap

    def _prepare(self) -> Path:
        """Make the user's storage tree and home, and deliver curated notebooks; returns
        the storage tree's path. Runs in a thread: it touches the disk and the database."""
        site, user = self.site, self.user.name
        storage = Storage(
            site.storage, site.state_url, quota_bytes=site.storage_quota or None
        )
        try:
            storage.ensure_user(user)
            if site.curated is not None and site.curated.is_dir():
                written = deliver(
                    storage, user, site.curated, site.delivery_record(user), self.log
                )
                if written:
                    self.log.info("Copied %d curated notebook(s) to %s", len(written), user)
        finally:
            storage.close()
        home = site.home_of(user)
        if not home.exists():
            # Written only into a new home: later, the user (who can make links there)
            # owns it, and the hub writes nothing into it.
            home.mkdir(mode=0o700, parents=True)
            _lab_defaults(home)
        return site.storage / user

    def make_preexec_fn(self, name: str) -> None:
        """No change of Unix user: every server runs as the service's account (the
        sandbox, not file ownership, keeps users apart)."""
        return None

    def user_env(self, env: dict[str, str]) -> dict[str, str]:
        site, user = self.site, self.user.name
        env["USER"] = env["LOGNAME"] = user
        env["SHELL"] = "/bin/bash"
        env["PATH"] = os.pathsep.join(
            [os.path.dirname(site.python), "/usr/local/bin", "/usr/bin", "/bin"]
        )
        env["DATALAB_URL"] = site.datalab_url
        env["DATALAB_TOKEN"] = getattr(self, "_datalab_token", "")
        if self.sandboxed:
            env["HOME"] = home_mount(user)
            env["JUPYTER_RUNTIME_DIR"] = "/tmp/jupyter-runtime"
        else:
            env["HOME"] = str(site.home_of(user))
            env[PARENT_PID_VARIABLE] = str(os.getpid())
        return env

    def clear_state(self) -> None:
        super().clear_state()
        self._datalab_token = ""
