"""Round trips, containers, listings, walks, properties, and state across a restart."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from datalab.errors import ConflictError, NotFoundError, UsageError
from datalab.storage import Node, NodeType, Storage

from tests.storage.conftest import OpenStorage, read

ALL_BYTES = bytes(range(256)) * 4


@pytest.mark.parametrize(
    "content",
    [
        b"",
        "text with ünïcode\nand lines\r\n".encode(),
        ALL_BYTES,
        os.urandom(3 * 1024 * 1024 + 7),
    ],
    ids=["empty", "text", "all-bytes", "3MiB-random"],
)
def test_round_trip(storage: Storage, alice_dir: Path, content: bytes) -> None:
    pieces = [content[i:i + 65536] for i in range(0, len(content), 65536)]
    node = storage.write("alice", "vos://f.bin", pieces)
    assert node == storage.stat("alice", "f.bin")
    assert node.type is NodeType.DATA
    assert node.path == "f.bin" and node.name == "f.bin" and node.uri == "vos://f.bin"
    assert node.size == len(content)
    assert node.md5 == hashlib.md5(content).hexdigest()
    assert node.modified.tzinfo is UTC
    assert abs((datetime.now(UTC) - node.modified).total_seconds()) < 60
    with storage.open_read("alice", "f.bin") as fh:
        assert fh.read() == content
    assert (alice_dir / "f.bin").read_bytes() == content
    assert storage.local_file("alice", "f.bin") == alice_dir / "f.bin"


def test_write_accepts_files_and_bytes(storage: Storage, tmp_path: Path) -> None:
    source = tmp_path / "local.dat"
    source.write_bytes(ALL_BYTES)
    with open(source, "rb") as fh:
        assert storage.write("alice", "from-file", fh).md5 == hashlib.md5(ALL_BYTES).hexdigest()
    assert storage.write("alice", "from-bytes", b"abc").size == 3


def test_read_from_offset(storage: Storage) -> None:
    storage.write("alice", "f", ALL_BYTES)
    with storage.open_read("alice", "f", offset=1000) as fh:
        assert fh.read() == ALL_BYTES[1000:]
    with pytest.raises(UsageError):
        storage.open_read("alice", "f", offset=-1)


def test_overwrite_rules(storage: Storage) -> None:
    storage.write("alice", "f", b"one")
    assert storage.write("alice", "f", b"two!").size == 4
    with pytest.raises(ConflictError, match="already exists"):
        storage.write("alice", "f", b"three", overwrite=False)
    assert read(storage, "alice", "f") == b"two!"
    storage.mkdir("alice", "d")
    with pytest.raises(ConflictError, match="container"):
        storage.write("alice", "d", b"x")
    with pytest.raises(ConflictError, match="container"):
        storage.write("alice", "", b"x")
    with pytest.raises(NotFoundError, match="vos://missing"):
        storage.write("alice", "missing/f", b"x")
    with pytest.raises(NotFoundError):
        storage.write("alice", "f/g", b"x")


def test_nested_containers(storage: Storage, alice_dir: Path) -> None:
    with pytest.raises(NotFoundError, match="no container vos://a/b"):
        storage.mkdir("alice", "a/b/c")
    node = storage.mkdir("alice", "vos://a/b/c", parents=True)
    assert node.type is NodeType.CONTAINER and node.size == 0 and node.md5 is None
    assert (alice_dir / "a" / "b" / "c").is_dir()
    with pytest.raises(ConflictError):
        storage.mkdir("alice", "a/b")
    with pytest.raises(ConflictError):
        storage.mkdir("alice", "a/b", parents=True)
    storage.write("alice", "a/b/c/deep.txt", b"deep")
    assert [n.path for n in storage.list("alice", "a/b/c")] == ["a/b/c/deep.txt"]
    storage.write("alice", "a/file", b"x")
    with pytest.raises(ConflictError, match="not a container"):
        storage.mkdir("alice", "a/file/sub", parents=True)
    with pytest.raises(ConflictError):
        storage.delete("alice", "a/b")
    storage.delete("alice", "a/b", recursive=True)
    assert not (alice_dir / "a" / "b").exists()
    with pytest.raises(NotFoundError, match="vos://a/b"):
        storage.stat("alice", "a/b")
    with pytest.raises(UsageError, match="root"):
        storage.delete("alice", "vos://", recursive=True)


def test_root_and_new_users(storage: Storage) -> None:
    root = storage.stat("alice", "vos://")
    assert root.path == "" and root.type is NodeType.CONTAINER
    assert storage.list("alice") == []
    # A user never seen before has an empty space, made on first use.
    assert storage.list("carol", "vos://") == []


def test_list_is_sorted_and_pages(storage: Storage) -> None:
    names = [f"f{i:03d}" for i in range(25)]
    for name in reversed(names):
        storage.write("alice", name, name.encode())
    storage.mkdir("alice", "dir")
    storage.link("alice", "link", "vos://f000")
    everything = [n.name for n in storage.list("alice")]
    assert everything == sorted([*names, "dir", "link"])
    pages, after = [], None
    while page := storage.list("alice", limit=10, after=after):
        pages.append([n.name for n in page])
        after = page[-1].name
    assert [len(p) for p in pages] == [10, 10, 7]
    assert sum(pages, []) == everything
    assert storage.list("alice", limit=0) == []
    with pytest.raises(UsageError):
        storage.list("alice", limit=-1)
    with pytest.raises(UsageError, match="not a container"):
        storage.list("alice", "f001")
    with pytest.raises(NotFoundError):
        storage.list("alice", "nothing")


def test_walk_over_ten_thousand_files(storage: Storage) -> None:
    """Written through the API by eight threads at once (which also exercises
    concurrent uploads into the same folders), then walked."""
    expected = []
    for d in range(20):
        for s in range(5):
            storage.mkdir("alice", f"d{d:02d}/s{s}", parents=True)
            expected += [f"d{d:02d}/s{s}/f{f:03d}.txt" for f in range(100)]
    with ThreadPoolExecutor(8) as pool:
        written = list(pool.map(lambda p: storage.write("alice", p, p.encode()), expected))
    assert sorted(n.path for n in written) == sorted(expected)
    nodes = list(storage.walk("alice"))
    assert len(nodes) == 10_000 + 100 + 20
    data = {n.path: n for n in nodes if n.type is NodeType.DATA}
    assert set(data) == set(expected)
    assert all(n.md5 == hashlib.md5(n.path.encode()).hexdigest() for n in data.values())
    seen: set[str] = {""}
    for node in nodes:  # parents come before their children
        assert node.path.rpartition("/")[0] in seen
        seen.add(node.path)
    inner = [n.path for n in storage.walk("alice", "d07/s3")]
    assert inner == [f"d07/s3/f{f:03d}.txt" for f in range(100)]
    assert storage.usage("alice") == sum(len(p) for p in expected)


def test_properties_set_and_delete(storage: Storage) -> None:
    storage.write("alice", "f", b"x")
    description = "ivo://ivoa.net/vospace/core#description"
    node = storage.set_properties("alice", "f", {description: "magnitudes\nof stars", "mytag": ""})
    assert node.properties == {description: "magnitudes\nof stars", "mytag": ""}
    node = storage.set_properties("alice", "f", {"mytag": None, "other": "1", "absent": None})
    assert node.properties == {description: "magnitudes\nof stars", "other": "1"}
    # Overwriting the content keeps the node and its properties.
    storage.write("alice", "f", b"new content")
    assert storage.stat("alice", "f").properties == node.properties
    storage.mkdir("alice", "d")
    assert storage.set_properties("alice", "d", {"k": "v"}).properties == {"k": "v"}
    assert storage.set_properties("alice", "", {"root": "yes"}).properties == {"root": "yes"}
    with pytest.raises(NotFoundError):
        storage.set_properties("alice", "missing", {"k": "v"})
    for bad in ({"": "v"}, {"k\x00": "v"}, {"k": "v\x00"}, {"k": "x" * 70_000}):
        with pytest.raises(UsageError):
            storage.set_properties("alice", "f", bad)
    # A node made again where one was deleted starts without properties.
    storage.delete("alice", "f")
    assert storage.write("alice", "f", b"again").properties == {}


def test_state_survives_a_restart(open_storage: OpenStorage) -> None:
    first = open_storage()
    first.mkdir("alice", "d")
    first.write("alice", "d/f", ALL_BYTES)
    first.set_properties("alice", "d/f", {"k": "v"})
    first.set_properties("alice", "d", {"c": "1"})
    first.link("alice", "l", "https://example.org/x.fits")
    before = list(first.walk("alice"))
    first.close()
    second = open_storage()
    assert list(second.walk("alice")) == before
    assert second.stat("alice", "l").target == "https://example.org/x.fits"
    assert second.stat("alice", "d/f").properties == {"k": "v"}


def test_md5_recomputed_for_a_file_changed_behind_the_service(
    storage: Storage, alice_dir: Path
) -> None:
    storage.write("alice", "f", b"first")
    (alice_dir / "f").write_bytes(b"changed by hand")
    (alice_dir / "g").write_bytes(b"placed by hand")
    assert storage.stat("alice", "f").md5 == hashlib.md5(b"changed by hand").hexdigest()
    found = {n.name: n for n in storage.list("alice")}
    assert found["g"].md5 == hashlib.md5(b"placed by hand").hexdigest()


def test_nodes_are_values(storage: Storage) -> None:
    node = storage.write("alice", "f", b"x")
    with pytest.raises(AttributeError):
        node.size = 3  # type: ignore[misc]
    assert isinstance(node, Node)
