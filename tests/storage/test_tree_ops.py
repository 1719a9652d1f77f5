"""Moving, copying, linking and deleting nodes and trees."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from datalab.errors import ConflictError, NotFoundError, UsageError
from tests.storage.conftest import read
from datalab.storage import NodeType, Storage


def _tree(storage: Storage) -> None:
    storage.mkdir("alice", "src/sub", parents=True)
    storage.write("alice", "src/a.txt", b"aaa")
    storage.write("alice", "src/sub/b.bin", bytes(range(256)))
    storage.set_properties("alice", "src", {"c": "top"})
    storage.set_properties("alice", "src/sub", {"c": "sub"})
    storage.set_properties("alice", "src/sub/b.bin", {"k": "b"})
    storage.link("alice", "src/sub/to-a", "vos://src/a.txt")


Shape = tuple[str, int, str | None, str | None, dict[str, str]]


def _snapshot(storage: Storage, path: str) -> dict[str, Shape]:
    return {
        n.path[len(path) + 1:]: (n.type, n.size, n.md5, n.target, dict(n.properties))
        for n in storage.walk("alice", path)
    }


def test_move_file_renames_and_carries_properties(storage: Storage, alice_dir: Path) -> None:
    storage.write("alice", "f", b"content")
    storage.set_properties("alice", "f", {"k": "v"})
    node = storage.move("alice", "vos://f", "vos://g")
    assert node.path == "g" and node.properties == {"k": "v"}
    assert node.md5 == hashlib.md5(b"content").hexdigest()
    assert not (alice_dir / "f").exists()
    with pytest.raises(NotFoundError):
        storage.stat("alice", "f")
    # A new node at the old path does not inherit them.
    assert storage.write("alice", "f", b"x").properties == {}


def test_move_into_a_container_keeps_the_name(storage: Storage) -> None:
    storage.write("alice", "f", b"x")
    storage.mkdir("alice", "d")
    assert storage.move("alice", "f", "d").path == "d/f"
    assert storage.move("alice", "d/f", "vos://").path == "f"


def test_move_tree(storage: Storage) -> None:
    _tree(storage)
    before = _snapshot(storage, "src")
    storage.mkdir("alice", "dest")
    node = storage.move("alice", "src", "dest")
    assert node.path == "dest/src" and node.properties == {"c": "top"}
    assert _snapshot(storage, "dest/src") == before
    assert read(storage, "alice", "dest/src/sub/b.bin") == bytes(range(256))
    with pytest.raises(NotFoundError):
        storage.stat("alice", "src")
    # Link targets are absolute in the space: a moved link still names the old path.
    assert storage.stat("alice", "dest/src/sub/to-a").target == "vos://src/a.txt"


def test_move_refusals(storage: Storage) -> None:
    _tree(storage)
    storage.write("alice", "f", b"x")
    with pytest.raises(ConflictError):
        storage.move("alice", "f", "src/a.txt")
    with pytest.raises(UsageError, match="inside itself"):
        storage.move("alice", "src", "src/sub")
    with pytest.raises(UsageError, match="inside itself"):
        storage.move("alice", "src", "src")
    with pytest.raises(UsageError, match="root"):
        storage.move("alice", "", "src")
    with pytest.raises(NotFoundError):
        storage.move("alice", "missing", "x")
    with pytest.raises(NotFoundError):
        storage.move("alice", "f", "nowhere/f")


def test_copy_file_and_tree(storage: Storage) -> None:
    _tree(storage)
    copied = storage.copy("alice", "src/a.txt", "a-copy.txt")
    assert copied.md5 == hashlib.md5(b"aaa").hexdigest()
    assert storage.stat("alice", "src/a.txt").size == 3
    node = storage.copy("alice", "src", "dup")
    assert node.path == "dup" and node.properties == {"c": "top"}
    assert _snapshot(storage, "dup") == _snapshot(storage, "src")
    storage.mkdir("alice", "into")
    assert storage.copy("alice", "src/sub/b.bin", "into").path == "into/b.bin"
    assert storage.stat("alice", "into/b.bin").properties == {"k": "b"}
    assert storage.copy("alice", "src/sub/to-a", "into").type is NodeType.LINK
    with pytest.raises(ConflictError):
        storage.copy("alice", "src/a.txt", "dup/a.txt")
    with pytest.raises(UsageError, match="inside itself"):
        storage.copy("alice", "src", "src/sub")
    # The copy is independent of the original.
    storage.write("alice", "dup/a.txt", b"changed")
    assert read(storage, "alice", "src/a.txt") == b"aaa"


def test_copy_respects_the_quota(open_storage) -> None:  # type: ignore[no-untyped-def]
    storage = open_storage(quota_bytes=1000)
    storage.mkdir("alice", "d")
    storage.write("alice", "d/f", b"x" * 600)
    with pytest.raises(UsageError, match="quota of 1000 bytes exceeded"):
        storage.copy("alice", "d", "e")
    with pytest.raises(NotFoundError):
        storage.stat("alice", "e")
    with pytest.raises(UsageError, match="quota"):
        storage.copy("alice", "d/f", "g")
    assert [n.path for n in storage.walk("alice")] == ["d", "d/f"]
    assert storage.usage("alice") == 600


def test_links(storage: Storage) -> None:
    storage.mkdir("alice", "d")
    storage.write("alice", "d/data", b"payload")
    link = storage.link("alice", "l1", "vos://d/data")
    assert (link.type, link.size, link.md5, link.target) == (NodeType.LINK, 0, None, "vos://d/data")
    storage.link("alice", "l2", "vos:l1")
    assert storage.stat("alice", "l2").target == "vos://l1"
    assert read(storage, "alice", "l2") == b"payload"
    assert storage.local_file("alice", "l2") == storage.local_file("alice", "d/data")
    storage.link("alice", "web", "https://example.org/image.fits")
    with pytest.raises(UsageError, match="outside this storage"):
        storage.open_read("alice", "web")
    storage.link("alice", "to-dir", "vos://d")
    with pytest.raises(UsageError, match="container"):
        storage.open_read("alice", "to-dir")
    storage.link("alice", "dangling", "vos://nothing")
    with pytest.raises(NotFoundError):
        storage.open_read("alice", "dangling")
    storage.link("alice", "loop1", "vos://loop2")
    storage.link("alice", "loop2", "vos://loop1")
    with pytest.raises(UsageError, match="links in a row"):
        storage.open_read("alice", "loop1")
    with pytest.raises(ConflictError):
        storage.link("alice", "d/data", "vos://l1")
    with pytest.raises(ConflictError, match="is a link"):
        storage.write("alice", "l1", b"x")
    with pytest.raises(ConflictError):
        storage.mkdir("alice", "l1")
    # A link is not a container: nothing can be made "inside" it.
    with pytest.raises(NotFoundError):
        storage.write("alice", "to-dir/x", b"x")
    storage.delete("alice", "l1")
    with pytest.raises(NotFoundError):
        storage.stat("alice", "l1")
    assert read(storage, "alice", "d/data") == b"payload"


@pytest.mark.parametrize(
    "target",
    [
        "vos://../bob/secret",
        "vos://a/../../b",
        "/etc/passwd",
        "../bob",
        "file:///etc/passwd",
        "ftp://example.org/x",
        "http://",
        "https://exa mple.org/",
        "vos://.datalab-upload-x",
    ],
)
def test_link_targets_refused(storage: Storage, target: str) -> None:
    with pytest.raises(UsageError):
        storage.link("alice", "l", target)
    with pytest.raises(NotFoundError):
        storage.stat("alice", "l")


def test_delete(storage: Storage, alice_dir: Path) -> None:
    _tree(storage)
    with pytest.raises(ConflictError, match="not empty"):
        storage.delete("alice", "src")
    storage.delete("alice", "src/sub/to-a")
    storage.delete("alice", "src/sub/b.bin")
    storage.delete("alice", "src/sub")
    storage.delete("alice", "src", recursive=True)
    assert list(alice_dir.iterdir()) == []
    with pytest.raises(NotFoundError):
        storage.delete("alice", "src")
    # A container holding only a link is not empty either.
    storage.mkdir("alice", "d")
    storage.link("alice", "d/l", "vos://d")
    with pytest.raises(ConflictError):
        storage.delete("alice", "d")
    storage.delete("alice", "d", recursive=True)
    assert storage.list("alice") == []


def test_usage_follows_writes_and_deletes(open_storage) -> None:  # type: ignore[no-untyped-def]
    storage = open_storage(quota_bytes=100)
    storage.write("alice", "a", b"x" * 60)
    storage.write("alice", "a", b"x" * 90)  # replacing counts only the new size
    with pytest.raises(UsageError):
        storage.write("alice", "b", b"x" * 20)
    storage.delete("alice", "a")
    storage.write("alice", "b", b"x" * 100)
    assert storage.usage("alice") == 100


def test_delete_user(storage: Storage, alice_dir: Path) -> None:
    _tree(storage)
    storage.delete_user("alice")
    assert not alice_dir.exists()
    assert storage.list("alice") == []
    assert storage.usage("alice") == 0
