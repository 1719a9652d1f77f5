"""Notebooks next to the data: JupyterHub on Data Lab accounts.

``datalab serve`` starts JupyterHub as a child process (``start_hub``) with the
configuration it generates (``hubconfig``); users log in with their Data Lab password
or token (``auth.DataLabAuthenticator``) and get a JupyterLab of their own, rooted at
their vos:// files and sandboxed from everyone else's (``spawner.DataLabSpawner``,
``sandbox``), with ``DATALAB_URL`` and ``DATALAB_TOKEN`` set so the client works with
no login. See docs/notebooks.md.

This package talks to the rest of Data Lab through its domain classes (accounts,
storage) and the settings only. Importing it does not import JupyterHub: the
authenticator and the spawner are loaded by the hub, by their module names.
"""

from datalab.notebooks.addresses import (
    datalab_url,
    notebooks_enabled,
    notebooks_port,
    notebooks_url,
)
from datalab.notebooks.process import Hub, NotebooksUnavailable, start_hub

__all__ = [
    "Hub",
    "NotebooksUnavailable",
    "datalab_url",
    "notebooks_enabled",
    "notebooks_port",
    "notebooks_url",
    "start_hub",
]
