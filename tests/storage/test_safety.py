"""Nothing a user names can reach outside their own folder.

Traversal attempts are refused by the path rules; a file-system link planted in a
user's tree (only someone with shell access can make one) is refused by every
operation that would act on or through it, and nothing outside is read or written.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from datalab.errors import DataLabError, NotFoundError, PermissionDeniedError, UsageError
from tests.storage.conftest import read
from datalab.storage import Storage


def _fingerprint(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` with its content hash and every folder, as found."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames:
            found[os.path.join(dirpath, name)] = "dir"
        for name in filenames:
            full = os.path.join(dirpath, name)
            found[full] = hashlib.md5(Path(full).read_bytes()).hexdigest()
    return found


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_bytes(b"not yours")
    (folder / "sub").mkdir()
    return folder


@pytest.fixture
def two_users(storage: Storage) -> Storage:
    storage.ensure_user("bob")
    storage.write("bob", "secret.txt", b"bob's secret")
    storage.mkdir("bob", "private")
    storage.write("alice", "mine.txt", b"alice's")
    return storage


@pytest.mark.parametrize(
    "path", ["vos://../bob/secret.txt", "a/../../bob/secret.txt", "..", "x/..", "..\\bob", "a\x00b"]
)
def test_traversal_is_refused_everywhere(two_users: Storage, path: str) -> None:
    storage = two_users
    calls: list[Callable[[], object]] = [
        lambda: storage.stat("alice", path),
        lambda: storage.list("alice", path),
        lambda: list(storage.walk("alice", path)),
        lambda: storage.open_read("alice", path),
        lambda: storage.local_file("alice", path),
        lambda: storage.write("alice", path, b"x"),
        lambda: storage.mkdir("alice", path, parents=True),
        lambda: storage.delete("alice", path, recursive=True),
        lambda: storage.move("alice", "mine.txt", path),
        lambda: storage.move("alice", path, "stolen"),
        lambda: storage.copy("alice", path, "stolen"),
        lambda: storage.copy("alice", "mine.txt", path),
        lambda: storage.link("alice", path, "vos://mine.txt"),
        lambda: storage.set_properties("alice", path, {"k": "v"}),
    ]
    for call in calls:
        with pytest.raises(UsageError):
            call()
    assert read(storage, "bob", "secret.txt") == b"bob's secret"
    assert [n.path for n in storage.list("alice")] == ["mine.txt"]


def test_absolute_paths_stay_in_the_users_space(storage: Storage, alice_dir: Path) -> None:
    """A leading '/' is the user's root: '/etc/passwd' is the node etc/passwd of alice."""
    with pytest.raises(NotFoundError, match="vos://etc/passwd"):
        storage.stat("alice", "/etc/passwd")
    with pytest.raises(NotFoundError, match="no container vos://etc"):
        storage.write("alice", "/etc/passwd", b"root::0:0::/:/bin/sh\n")
    storage.mkdir("alice", "/etc")
    storage.write("alice", "/etc/passwd", b"mine")
    assert (alice_dir / "etc" / "passwd").read_bytes() == b"mine"
    assert read(storage, "alice", "vos://etc/passwd") == b"mine"


def test_encoded_dots_are_a_plain_name(storage: Storage, alice_dir: Path) -> None:
    storage.write("alice", "%2e%2e", b"just a name")
    assert (alice_dir / "%2e%2e").read_bytes() == b"just a name"
    assert [n.name for n in storage.list("alice")] == ["%2e%2e"]


def test_user_isolation(two_users: Storage) -> None:
    storage = two_users
    # "bob/…" in alice's space is alice's own (absent) folder called bob.
    with pytest.raises(NotFoundError):
        storage.stat("alice", "bob/secret.txt")
    with pytest.raises(NotFoundError):
        storage.open_read("alice", "vos://bob/secret.txt")
    assert [n.name for n in storage.list("bob")] == ["private", "secret.txt"]
    assert [n.name for n in storage.list("alice")] == ["mine.txt"]
    storage.link("alice", "l", "vos://secret.txt")
    with pytest.raises(NotFoundError):
        storage.open_read("alice", "l")  # alice's own secret.txt, which does not exist
    storage.delete_user("alice")
    assert read(storage, "bob", "secret.txt") == b"bob's secret"
    for bad in ("../bob", "Bob", "bob/..", "", "b"):
        with pytest.raises(UsageError):
            storage.list(bad)


def _every_operation(storage: Storage, bad: str) -> list[tuple[str, Callable[[], object]]]:
    """Each operation that acts on or through the link at ``bad``."""
    return [
        ("stat", lambda: storage.stat("alice", bad)),
        ("stat-inside", lambda: storage.stat("alice", f"{bad}/secret.txt")),
        ("list", lambda: storage.list("alice", bad)),
        ("walk", lambda: list(storage.walk("alice", bad))),
        ("read", lambda: storage.open_read("alice", bad)),
        ("read-inside", lambda: storage.open_read("alice", f"{bad}/secret.txt")),
        ("local-file", lambda: storage.local_file("alice", bad)),
        ("local-file-inside", lambda: storage.local_file("alice", f"{bad}/secret.txt")),
        ("write", lambda: storage.write("alice", bad, b"overwritten")),
        ("write-inside", lambda: storage.write("alice", f"{bad}/new.txt", b"planted")),
        ("overwrite-inside", lambda: storage.write("alice", f"{bad}/secret.txt", b"changed")),
        ("mkdir-inside", lambda: storage.mkdir("alice", f"{bad}/newdir")),
        ("mkdir-parents", lambda: storage.mkdir("alice", f"{bad}/x/y", parents=True)),
        ("delete", lambda: storage.delete("alice", bad)),
        ("delete-recursive", lambda: storage.delete("alice", bad, recursive=True)),
        ("delete-inside", lambda: storage.delete("alice", f"{bad}/secret.txt")),
        ("move-away", lambda: storage.move("alice", bad, "moved")),
        ("move-inside-away", lambda: storage.move("alice", f"{bad}/secret.txt", "moved")),
        ("move-into", lambda: storage.move("alice", "mine.txt", f"{bad}/mine.txt")),
        ("copy-from", lambda: storage.copy("alice", bad, "copied")),
        ("copy-inside-from", lambda: storage.copy("alice", f"{bad}/secret.txt", "copied")),
        ("copy-into", lambda: storage.copy("alice", "mine.txt", f"{bad}/mine.txt")),
        ("link-inside", lambda: storage.link("alice", f"{bad}/l", "vos://mine.txt")),
        ("properties", lambda: storage.set_properties("alice", bad, {"k": "v"})),
    ]


@pytest.mark.parametrize("points_to", ["etc", "outside-dir", "outside-file", "other-user"])
def test_planted_symlink_is_refused_by_every_operation(
    two_users: Storage, alice_dir: Path, outside: Path, tmp_path: Path, points_to: str
) -> None:
    storage = two_users
    target = {
        "etc": Path("/etc"),
        "outside-dir": outside,
        "outside-file": outside / "secret.txt",
        "other-user": tmp_path / "storage" / "bob",
    }[points_to]
    (alice_dir / "evil").symlink_to(target)
    (alice_dir / "d").mkdir()
    (alice_dir / "d" / "evil").symlink_to(target)
    watched = [outside, tmp_path / "storage" / "bob"]
    before = {str(p): _fingerprint(p) for p in watched}
    for bad in ("evil", "d/evil"):
        for name, call in _every_operation(storage, bad):
            with pytest.raises(DataLabError) as caught:
                call()
            # Never "not found" for the link itself: it is refused, loudly.
            if name in ("stat", "read", "delete", "write", "properties"):
                assert isinstance(caught.value, PermissionDeniedError), (bad, name, caught.value)
            assert "secret" not in str(caught.value.message).replace(f"{bad}/secret.txt", ""), name
    assert {str(p): _fingerprint(p) for p in watched} == before
    assert (alice_dir / "evil").is_symlink() and (alice_dir / "d" / "evil").is_symlink()
    assert (outside / "secret.txt").read_bytes() == b"not yours"


def test_a_folder_holding_a_symlink_is_not_walked_through(
    two_users: Storage, alice_dir: Path, outside: Path
) -> None:
    storage = two_users
    storage.mkdir("alice", "d")
    storage.write("alice", "d/ok.txt", b"ok")
    (alice_dir / "d" / "evil").symlink_to(outside)
    (alice_dir / "d" / "evil-file").symlink_to(outside / "secret.txt")
    # Links are not nodes: listings and walks leave them out and never enter them.
    assert [n.path for n in storage.list("alice", "d")] == ["d/ok.txt"]
    assert [n.path for n in storage.walk("alice")] == ["d", "mine.txt", "d/ok.txt"]
    assert storage.usage("alice") == len(b"alice's") + 2
    # Operations that would carry or remove the link with the folder are refused
    # before they change anything.
    for call in (
        lambda: storage.delete("alice", "d", recursive=True),
        lambda: storage.move("alice", "d", "e"),
        lambda: storage.copy("alice", "d", "e"),
    ):
        with pytest.raises(PermissionDeniedError):
            call()
    assert read(storage, "alice", "d/ok.txt") == b"ok"
    with pytest.raises(NotFoundError):
        storage.stat("alice", "e")
    assert (outside / "secret.txt").read_bytes() == b"not yours"
    # The operator's removal of the user removes the links, never what they point to.
    storage.delete_user("alice")
    assert not alice_dir.exists()
    assert (outside / "secret.txt").read_bytes() == b"not yours"


def test_a_users_folder_that_is_a_symlink_is_refused(
    two_users: Storage, tmp_path: Path
) -> None:
    storage = two_users
    (tmp_path / "storage" / "mallory").symlink_to(tmp_path / "storage" / "bob")
    for call in (
        lambda: storage.list("mallory"),
        lambda: storage.stat("mallory", "secret.txt"),
        lambda: storage.open_read("mallory", "secret.txt"),
        lambda: storage.write("mallory", "secret.txt", b"x"),
    ):
        with pytest.raises(PermissionDeniedError):
            call()
    storage.delete_user("mallory")
    assert not (tmp_path / "storage" / "mallory").exists()
    assert read(storage, "bob", "secret.txt") == b"bob's secret"


def test_special_files_are_refused(two_users: Storage, alice_dir: Path) -> None:
    os.mkfifo(alice_dir / "fifo")
    with pytest.raises(PermissionDeniedError):
        storage_read = two_users.open_read("alice", "fifo")  # must not block
        storage_read.close()
    assert [n.name for n in two_users.list("alice")] == ["mine.txt"]


def test_link_nodes_never_become_file_system_links(storage: Storage, alice_dir: Path) -> None:
    storage.write("alice", "f", b"x")
    storage.link("alice", "l", "vos://f")
    assert not any(p.is_symlink() for p in alice_dir.rglob("*"))
    assert not (alice_dir / "l").exists()
