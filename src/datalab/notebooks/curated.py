"""Copying the site's curated notebooks into a user's vos:// space.

Each curated file goes to ``vos://notebooks/<its path>`` once: a record per user (kept
by the hub, outside the user's reach) lists what has been delivered, so a notebook the
user deleted does not come back, one they edited is never overwritten, and a notebook
the site adds later still reaches everyone at their next start. A file of the user's
already at the target path is left alone.

The copy goes through ``datalab.storage.Storage``, as any other write to vos://: it
never follows a link the user planted in their tree (their notebook server can make
file-system links there), it counts against the quota, and the checksums are right.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from datalab.errors import DataLabError, NotFoundError
from datalab.storage import Storage

__all__ = ["TARGET", "curated_files", "deliver"]

log = logging.getLogger("datalab.notebooks")

TARGET = "notebooks"
"""The container in each user's space that receives the curated notebooks."""

_SKIPPED_TOP = {"README.md"}
"""The folder's own description, for the people who maintain it, not for users."""


def curated_files(folder: Path) -> Iterator[str]:
    """Relative paths (``/``-separated) of the files to deliver: every regular file
    below ``folder`` except hidden ones (and hidden folders), Jupyter's checkpoints and
    the top-level README.md. Sorted, so deliveries are reproducible."""
    found = []
    for top, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
        rel_top = os.path.relpath(top, folder)
        for name in files:
            if name.startswith("."):
                continue
            rel = name if rel_top == "." else f"{rel_top.replace(os.sep, '/')}/{name}"
            if rel in _SKIPPED_TOP or not os.path.isfile(os.path.join(top, name)):
                continue
            if os.path.islink(os.path.join(top, name)):
                continue
            found.append(rel)
    yield from sorted(found)


def _read_record(record: Path) -> set[str]:
    try:
        value = json.loads(record.read_text())
    except (OSError, ValueError):
        return set()
    return {item for item in value if isinstance(item, str)} if isinstance(value, list) else set()


def _write_record(record: Path, delivered: set[str]) -> None:
    record.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = record.with_suffix(".tmp")
    partial.write_text(json.dumps(sorted(delivered), indent=0))
    os.replace(partial, record)


def deliver(
    storage: Storage, user: str, folder: Path, record: Path, logger: logging.Logger | None = None
) -> list[str]:
    """Copy the curated files ``user`` has not had yet into ``vos://notebooks/``;
    returns the vos paths written. Problems with one file (quota, a name taken by a
    container or a link) are logged and skip that file: they must not keep the user
    from their notebooks."""
    delivered = _read_record(record)
    written: list[str] = []
    pending = [rel for rel in curated_files(folder) if rel not in delivered]
    for rel in pending:
        target = f"{TARGET}/{rel}"
        try:
            if _exists(storage, user, target):
                delivered.add(rel)  # the user's own file: never overwritten
                continue
            parent = target.rpartition("/")[0]
            if not _exists(storage, user, parent):
                storage.mkdir(user, parent, parents=True)
            with open(folder / rel, "rb") as source:
                storage.write(user, target, source, overwrite=False)
        except (DataLabError, OSError) as exc:
            (logger or log).warning("curated notebook %s not copied for %s: %s", rel, user, exc)
            continue
        delivered.add(rel)
        written.append(target)
    if pending:
        _write_record(record, delivered)
    return written


def _exists(storage: Storage, user: str, path: str) -> bool:
    """Whether a node (file, folder or link) is at ``path``."""
    try:
        storage.stat(user, path)
    except NotFoundError:
        return False
    return True
