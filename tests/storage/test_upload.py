"""Uploads are atomic, streamed in bounded memory, and checked against the quota."""

from __future__ import annotations

import errno
import hashlib
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from datalab.errors import ConflictError, TransientError, UsageError
from datalab.storage import CHUNK_SIZE, Storage

from tests.storage.conftest import OpenStorage, read

MiB = 1 << 20


def _leftovers(folder: Path) -> list[str]:
    """Temporary files of uploads that should not be there any more."""
    return [p.name for p in folder.rglob(".datalab*")]


def _chunks(total: int, *, fail_at: int | None = None) -> Iterator[bytes]:
    """``total`` bytes in 1 MiB chunks that differ from each other; raises (like a
    client that disconnects) once ``fail_at`` bytes have been sent."""
    sent = 0
    block = bytes(range(256)) * (MiB // 256)
    while sent < total:
        if fail_at is not None and sent >= fail_at:
            raise ConnectionResetError("client went away")
        piece = sent.to_bytes(8, "little") + block[8:min(MiB, total - sent)]
        sent += len(piece)
        yield piece


def _expected_md5(total: int) -> str:
    digest = hashlib.md5()
    for piece in _chunks(total):
        digest.update(piece)
    return digest.hexdigest()


def test_quota_exceeded_midway_keeps_the_previous_version(
    open_storage: OpenStorage, alice_dir: Path
) -> None:
    storage = open_storage(quota_bytes=10 * MiB)
    storage.write("alice", "other", b"x" * MiB)
    storage.write("alice", "f", b"previous")
    with pytest.raises(UsageError, match=f"quota of {10 * MiB} bytes exceeded"):
        storage.write("alice", "f", _chunks(20 * MiB))
    assert read(storage, "alice", "f") == b"previous"
    assert _leftovers(alice_dir) == []
    assert storage.usage("alice") == MiB + len(b"previous")
    # Replacing a file counts only the difference: 9 MiB - 8 bytes fits exactly.
    fits = 10 * MiB - MiB
    assert storage.write("alice", "f", _chunks(fits)).size == fits
    with pytest.raises(UsageError, match="quota"):
        storage.write("alice", "g", b"1")
    storage.delete("alice", "other")
    storage.write("alice", "g", b"1")


def test_no_quota(open_storage: OpenStorage) -> None:
    storage = open_storage(quota_bytes=0)
    assert storage.write("alice", "f", _chunks(3 * MiB)).size == 3 * MiB


def test_interrupted_upload_keeps_the_previous_version(
    storage: Storage, alice_dir: Path
) -> None:
    storage.write("alice", "f", b"previous")
    before = storage.stat("alice", "f")
    with pytest.raises(UsageError, match="interrupted: client went away") as caught:
        storage.write("alice", "f", _chunks(10 * MiB, fail_at=3 * MiB))
    assert isinstance(caught.value.__cause__, ConnectionResetError)
    assert storage.stat("alice", "f") == before
    assert read(storage, "alice", "f") == b"previous"
    assert _leftovers(alice_dir) == []
    # A new file that fails midway leaves nothing at all.
    with pytest.raises(UsageError):
        storage.write("alice", "new", _chunks(2 * MiB, fail_at=MiB))
    assert not (alice_dir / "new").exists()
    assert [n.name for n in storage.list("alice")] == ["f"]


def test_bad_chunks_are_refused_cleanly(storage: Storage, alice_dir: Path) -> None:
    with pytest.raises(UsageError, match="bytes"):
        storage.write("alice", "f", ["text, not bytes"])  # type: ignore[list-item]
    assert _leftovers(alice_dir) == []


def test_disk_errors_become_transient(
    storage: Storage, alice_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk (simulated: os.write fails as it would with ENOSPC)."""
    storage.write("alice", "f", b"previous")
    real_write = os.write

    def full_disk(fd: int, data: bytes) -> int:
        if len(data) > 1000:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(TransientError, match="No space left"):
        storage.write("alice", "f", [b"a" * 10, b"b" * 2000])
    monkeypatch.undo()
    assert read(storage, "alice", "f") == b"previous"
    assert _leftovers(alice_dir) == []


def test_cancellation_passes_through_and_cleans_up(storage: Storage, alice_dir: Path) -> None:
    def cancelled() -> Iterator[bytes]:
        yield b"some"
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        storage.write("alice", "f", cancelled())
    assert _leftovers(alice_dir) == []


def test_upload_in_progress_is_invisible(storage: Storage, alice_dir: Path) -> None:
    seen: list[list[str]] = []

    def watching() -> Iterator[bytes]:
        yield b"first half "
        seen.append([n.name for n in storage.list("alice")])
        seen.append([n.path for n in storage.walk("alice")])
        assert len(_leftovers(alice_dir)) == 1  # it is there, just not a node
        yield b"second half"

    storage.write("alice", "f", b"old")
    storage.write("alice", "f", watching())
    assert seen == [["f"], ["f"]]
    assert read(storage, "alice", "f") == b"first half second half"


def test_conflicts_are_found_before_streaming(storage: Storage) -> None:
    storage.mkdir("alice", "d")

    def never() -> Iterator[bytes]:
        raise AssertionError("the content should not be read")
        yield b""

    with pytest.raises(ConflictError):
        storage.write("alice", "d", never())


def _stream_round_trip(storage: Storage, alice_dir: Path, total: int) -> None:
    tracemalloc.start()
    try:
        node = storage.write("alice", "big.bin", _chunks(total))
        digest = hashlib.md5()
        size = 0
        with storage.open_read("alice", "big.bin") as fh:
            while piece := fh.read(CHUNK_SIZE):
                digest.update(piece)
                size += len(piece)
        with storage.open_read("alice", "big.bin", offset=total - 10) as fh:
            tail = fh.read()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * MiB, f"peak traced memory {peak / MiB:.1f} MiB"
    assert node.size == size == total == os.path.getsize(alice_dir / "big.bin")
    expected = _expected_md5(total)
    assert node.md5 == digest.hexdigest() == expected
    assert len(tail) == 10
    assert _leftovers(alice_dir) == []


def test_200_mb_streams_in_bounded_memory(storage: Storage, alice_dir: Path) -> None:
    _stream_round_trip(storage, alice_dir, 200 * 1000 * 1000)


@pytest.mark.slow
def test_2_gb_streams_in_bounded_memory(storage: Storage, alice_dir: Path) -> None:
    _stream_round_trip(storage, alice_dir, 2 * 1000 * 1000 * 1000)


def test_reading_a_file_object_is_chunked(storage: Storage, tmp_path: Path) -> None:
    source = tmp_path / "local.bin"
    with open(source, "wb") as out:
        for piece in _chunks(5 * MiB + 3):
            out.write(piece)
    tracemalloc.start()
    try:
        with open(source, "rb") as fh:
            node = storage.write("alice", "copy.bin", fh)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert node.md5 == hashlib.md5(source.read_bytes()).hexdigest()
    assert peak < 4 * MiB
