"""A real storage on a temporary data directory: real files, a real SQLite state file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from datalab.storage import Storage

OpenStorage = Callable[..., Storage]


@pytest.fixture
def open_storage(tmp_path: Path) -> Iterator[OpenStorage]:
    """Opens storages on the same root and state database (a "restart" is another call)."""
    opened: list[Storage] = []

    def make(*, quota_bytes: int | None = None) -> Storage:
        storage = Storage(
            tmp_path / "storage", f"sqlite:///{tmp_path / 'state.sqlite'}", quota_bytes=quota_bytes
        )
        opened.append(storage)
        return storage

    yield make
    for storage in opened:
        storage.close()


@pytest.fixture
def storage(open_storage: OpenStorage) -> Storage:
    store = open_storage()
    store.ensure_user("alice")
    return store


@pytest.fixture
def alice_dir(tmp_path: Path) -> Path:
    return tmp_path / "storage" / "alice"


def read(storage: Storage, user: str, path: str) -> bytes:
    """A node's whole content (the file closed again)."""
    with storage.open_read(user, path) as fh:
        return fh.read()
