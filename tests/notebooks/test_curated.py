"""Curated notebooks reach each user once, through the real storage, and never replace
or escape what the user has."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from datalab.notebooks.curated import curated_files, deliver
from datalab.storage import Storage


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    store = Storage(tmp_path / "storage", f"sqlite:///{tmp_path / 'state.sqlite'}")
    store.ensure_user("alice")
    store.ensure_user("bob")
    yield store
    store.close()


@pytest.fixture
def curated(tmp_path: Path) -> Path:
    folder = tmp_path / "curated"
    (folder / "intro").mkdir(parents=True)
    (folder / ".hidden").mkdir()
    (folder / "README.md").write_text("for the maintainers\n")
    (folder / "01-query.ipynb").write_text('{"cells": []}\n')
    (folder / "intro" / "stars.csv").write_text("ra,dec\n1,2\n")
    (folder / "intro" / ".ipynb_checkpoints").mkdir()
    (folder / "intro" / ".ipynb_checkpoints" / "x.ipynb").write_text("{}")
    (folder / ".hidden" / "secret").write_text("no")
    return folder


def test_what_is_delivered(curated: Path) -> None:
    assert list(curated_files(curated)) == ["01-query.ipynb", "intro/stars.csv"]


def test_first_delivery_then_nothing_is_overwritten_or_brought_back(
    storage: Storage, curated: Path, tmp_path: Path
) -> None:
    record = tmp_path / "hub" / "curated" / "alice.json"
    written = deliver(storage, "alice", curated, record)
    assert written == ["notebooks/01-query.ipynb", "notebooks/intro/stars.csv"]
    node = storage.stat("alice", "notebooks/intro/stars.csv")
    assert node.md5 == hashlib.md5(b"ra,dec\n1,2\n").hexdigest()
    assert storage.list("bob") == []  # only the user asked for

    # The user edits one notebook and deletes the other.
    storage.write("alice", "notebooks/01-query.ipynb", b"my own version")
    storage.delete("alice", "notebooks/intro/stars.csv")
    assert deliver(storage, "alice", curated, record) == []
    with storage.open_read("alice", "notebooks/01-query.ipynb") as fh:
        assert fh.read() == b"my own version"
    assert [n.name for n in storage.list("alice", "notebooks/intro")] == []

    # A notebook the site adds later arrives at the next start.
    (curated / "02-new.ipynb").write_text("{}")
    assert deliver(storage, "alice", curated, record) == ["notebooks/02-new.ipynb"]


def test_a_file_of_the_user_at_the_same_path_is_kept(
    storage: Storage, curated: Path, tmp_path: Path
) -> None:
    storage.mkdir("alice", "notebooks")
    storage.write("alice", "notebooks/01-query.ipynb", b"mine")
    written = deliver(storage, "alice", curated, tmp_path / "alice.json")
    assert written == ["notebooks/intro/stars.csv"]
    with storage.open_read("alice", "notebooks/01-query.ipynb") as fh:
        assert fh.read() == b"mine"


def test_a_planted_link_is_not_followed(
    storage: Storage, curated: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A notebook server can make file-system links in its own tree; the copy, made by
    the hub with the service's rights, must not write through one into bob's tree."""
    os.symlink(tmp_path / "storage" / "bob", tmp_path / "storage" / "alice" / "notebooks")
    with caplog.at_level(logging.WARNING, logger="datalab.notebooks"):
        assert deliver(storage, "alice", curated, tmp_path / "alice.json") == []
    assert "link" in caplog.text
    assert os.listdir(tmp_path / "storage" / "bob") == []


def test_a_full_quota_skips_files_without_failing(curated: Path, tmp_path: Path) -> None:
    store = Storage(tmp_path / "storage", f"sqlite:///{tmp_path / 'state.sqlite'}",
                    quota_bytes=16)
    try:
        written = deliver(store, "alice", curated, tmp_path / "alice.json")
    finally:
        store.close()
    assert written == ["notebooks/01-query.ipynb"]
