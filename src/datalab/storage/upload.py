"""Streaming a data node's new content to disk, atomically and in bounded memory.

The bytes go to a temporary file in the node's own directory (same file system, so
the final ``os.replace`` is atomic), named ``.datalab-upload-<random>``: reserved
names never appear in listings and no user can address one. Size and MD5 are computed
on the way, the caller's ``check`` runs before each chunk is written (the quota), and
the file is fsynced before it may replace anything. Until then the previous version is
untouched; on any failure the temporary file is removed.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from datalab.errors import DataLabError, TransientError, UsageError
from datalab.storage.fs import FILE_MODE, UserTree
from datalab.storage.paths import RESERVED_PREFIX, vos_uri

__all__ = ["CHUNK_SIZE", "Chunks", "Staged", "stage"]

CHUNK_SIZE = 1 << 20
"""Bytes read at a time from a file-like source (and when copying nodes)."""

Chunks = Iterable[bytes] | BinaryIO | bytes


def _pieces(chunks: Chunks) -> Iterator[bytes]:
    """The source as a stream of byte strings, at most ``CHUNK_SIZE`` each when read."""
    if isinstance(chunks, bytes | bytearray | memoryview):
        yield bytes(chunks)
        return
    read = getattr(chunks, "read", None)
    if read is not None:
        while piece := read(CHUNK_SIZE):
            yield piece
        return
    for piece in chunks:  # type: ignore[union-attr]
        if not isinstance(piece, bytes | bytearray | memoryview):
            raise UsageError(f"upload chunks must be bytes, not {type(piece).__name__}")
        yield piece


@dataclass
class Staged:
    """A fully written, fsynced temporary file waiting to replace a node."""

    tree: UserTree
    parent: str
    name: str
    size: int
    md5: str
    mtime_ns: int

    def install(self, path: str) -> None:
        """Put the content in place of ``path`` (same directory); ``sync`` makes it last."""
        with self.tree.dir_fd(self.parent) as fd:
            os.replace(self.name, path.rpartition("/")[2], src_dir_fd=fd, dst_dir_fd=fd)

    def sync(self) -> None:
        """Make the replacement durable (fsync the directory), outside the user's lock."""
        try:
            with self.tree.dir_fd(self.parent) as fd:
                os.fsync(fd)
        except (FileNotFoundError, DataLabError):
            pass  # the folder has been removed or moved since: nothing left to make last

    def discard(self) -> None:
        """Remove the temporary file (nothing happens if it is gone already)."""
        try:
            with self.tree.dir_fd(self.parent) as fd:
                os.unlink(self.name, dir_fd=fd)
        except (FileNotFoundError, DataLabError):
            pass


def _write_all(fd: int, piece: bytes | bytearray | memoryview) -> None:
    view = memoryview(piece)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def stage(
    tree: UserTree, path: str, chunks: Chunks, check: Callable[[int], None]
) -> Staged:
    """Stream ``chunks`` into a temporary file beside ``path``.

    ``check(total)`` is called with the size the file would reach before each chunk
    is written, and raises to stop (the quota). Failures remove the temporary file:
    DataLabErrors pass unchanged; any Exception from the source (a client that went
    away) becomes UsageError, an OSError from our own writes (disk full) becomes
    TransientError; BaseExceptions such as cancellation are re-raised as they are.
    """
    parent = path.rpartition("/")[0]
    name = f"{RESERVED_PREFIX}-upload-{secrets.token_hex(8)}"
    with tree.dir_fd(parent) as dfd:
        fd = os.open(
            name,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            FILE_MODE,
            dir_fd=dfd,
        )
    staged = Staged(tree, parent, name, 0, "", 0)
    digest = hashlib.md5(usedforsecurity=False)
    pieces = _pieces(chunks)
    try:
        try:
            while True:
                try:
                    piece = next(pieces)
                except StopIteration:
                    break
                except DataLabError:
                    raise
                except Exception as exc:  # the source failed: the upload is cut short
                    raise UsageError(
                        f"the upload of {vos_uri(path)} was interrupted: {exc}"
                    ) from exc
                if not piece:
                    continue
                check(staged.size + len(piece))
                _write_all(fd, piece)
                digest.update(piece)
                staged.size += len(piece)
            os.fsync(fd)
            staged.mtime_ns = os.fstat(fd).st_mtime_ns
        finally:
            os.close(fd)
    except DataLabError:
        staged.discard()
        raise
    except OSError as exc:  # our own writes failed: disk full, I/O error
        staged.discard()
        raise TransientError(
            f"could not write {vos_uri(path)}: {exc.strerror or exc}; try again later"
        ) from exc
    except BaseException:
        staged.discard()
        raise
    staged.md5 = digest.hexdigest()
    return staged

