"""Finding the programs and folders the notebooks need, in one documented order.

The proxy and the curated notebooks ship with the source tree, not with the Python
package: ``./scripts/serve`` installs configurable-http-proxy into the repository's
``node_modules/``, and the curated notebooks live in its ``notebooks/``. A package
installed from a checkout (``pip install -e``) runs from ``<tree>/src/datalab``, so
that tree is found from this file; a site that installed otherwise names the folders
in its settings.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from datalab.config import Settings

__all__ = ["PROXY_NAME", "find_bwrap", "find_curated", "find_node", "find_proxy", "source_tree"]

PROXY_NAME = "configurable-http-proxy"


def source_tree() -> Path | None:
    """The checkout this package runs from (``<tree>/src/datalab``), or None when it
    was installed some other way."""
    package = Path(__file__).resolve().parent.parent
    tree = package.parent.parent
    if package.parent.name == "src" and (tree / "pyproject.toml").is_file():
        return tree
    return None


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_proxy(settings: Settings) -> Path | None:
    """configurable-http-proxy: in the ``node_modules`` setting's ``.bin/`` when set
    (and nowhere else, so that a wrong setting is noticed), else in the source tree's
    ``node_modules/.bin/``, else on PATH."""
    if settings.node_modules is not None:
        candidate = settings.node_modules.expanduser().absolute() / ".bin" / PROXY_NAME
        return candidate if _executable(candidate) else None
    tree = source_tree()
    if tree is not None:
        candidate = tree / "node_modules" / ".bin" / PROXY_NAME
        if _executable(candidate):
            return candidate
    found = shutil.which(PROXY_NAME)
    return Path(found) if found else None


def find_node() -> Path | None:
    """Node.js, which runs the proxy (its script starts with ``#!/usr/bin/env node``)."""
    found = shutil.which("node") or shutil.which("nodejs")
    return Path(found) if found else None


def find_curated(settings: Settings) -> Path | None:
    """The folder of curated notebooks: the ``notebooks_curated`` setting, else the
    source tree's ``notebooks/``; None when there is none."""
    if settings.notebooks_curated is not None:
        folder = settings.notebooks_curated.expanduser().absolute()
        return folder if folder.is_dir() else None
    tree = source_tree()
    if tree is not None and (tree / "notebooks").is_dir():
        return tree / "notebooks"
    return None


def find_bwrap() -> Path | None:
    """bubblewrap's ``bwrap`` on PATH (Debian package ``bubblewrap``)."""
    found = shutil.which("bwrap")
    return Path(found) if found else None
