"""``Storage.check_write``: the answer ``write`` would give, before any byte is sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from datalab.errors import ConflictError, NotFoundError, PermissionDeniedError, UsageError
from datalab.storage import Storage

from tests.storage.conftest import OpenStorage


def test_a_free_name_that_fits_is_accepted_and_normalised(storage: Storage) -> None:
    storage.mkdir("alice", "data")
    assert storage.check_write("alice", "vos://data//new.csv", 10) == "data/new.csv"
    assert storage.check_write("alice", "/top.bin", 0) == "top.bin"


def test_nothing_is_written_by_a_check(storage: Storage, alice_dir: Path) -> None:
    storage.check_write("alice", "f", 100)
    assert list(alice_dir.iterdir()) == []


def test_existing_nodes_conflict_unless_overwriting_a_file(storage: Storage) -> None:
    storage.write("alice", "f", b"old")
    storage.mkdir("alice", "d")
    storage.link("alice", "l", "vos://f")
    with pytest.raises(ConflictError, match="already exists"):
        storage.check_write("alice", "f", 5, overwrite=False)
    assert storage.check_write("alice", "f", 5, overwrite=True) == "f"
    with pytest.raises(ConflictError, match="is a container"):
        storage.check_write("alice", "d", 5)
    with pytest.raises(ConflictError, match="is a link"):
        storage.check_write("alice", "l", 5)
    with pytest.raises(ConflictError, match="root"):
        storage.check_write("alice", "vos://", 5)


def test_missing_container(storage: Storage) -> None:
    with pytest.raises(NotFoundError, match="no container vos://nowhere"):
        storage.check_write("alice", "nowhere/f", 5)


@pytest.mark.parametrize(
    "path", ["../f", "a/../../f", "f\x00", "a\\b", ".datalab-upload-1", "x" * 300]
)
def test_hostile_paths_are_refused(storage: Storage, path: str) -> None:
    with pytest.raises(UsageError):
        storage.check_write("alice", path, 5)


def test_a_planted_file_system_link_is_refused(storage: Storage, alice_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (alice_dir / "escape").symlink_to(outside)
    with pytest.raises(PermissionDeniedError):
        storage.check_write("alice", "escape/f", 5)
    assert list(outside.iterdir()) == []


def test_the_quota_counts_what_an_overwrite_replaces(open_storage: OpenStorage) -> None:
    storage = open_storage(quota_bytes=1000)
    storage.write("alice", "f", b"x" * 600)
    with pytest.raises(UsageError, match="quota of 1000 bytes exceeded"):
        storage.check_write("alice", "g", 500)
    assert storage.check_write("alice", "g", 400) == "g"
    assert storage.check_write("alice", "f", 1000, overwrite=True) == "f"
    with pytest.raises(UsageError, match="quota"):
        storage.check_write("alice", "f", 1001, overwrite=True)


def test_a_negative_size_is_refused(storage: Storage) -> None:
    with pytest.raises(UsageError, match="negative"):
        storage.check_write("alice", "f", -1)
