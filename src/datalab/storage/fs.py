"""One user's folder on disk, reached without ever following a file-system link.

Paths given here are already normal (``paths.parse_vos_path``), so they hold no ``..``
and are not absolute; this module is the second wall. Every operation

* first resolves the real path and checks that it is the path itself, inside the
  user's folder (``os.path.realpath`` + ``os.path.commonpath``): a link anywhere on
  the way makes the two differ;
* then acts through directory descriptors opened one component at a time with
  ``O_NOFOLLOW | O_DIRECTORY``, and ``*at`` calls (``dir_fd=``) on the last name, so a
  directory swapped for a link between the check and the use is refused too.

A file-system link (planted by someone with shell access: the service never makes
one) or any other special file is not a node: acting on or through one raises
PermissionDeniedError; listings leave it out.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from datalab.errors import ConflictError, NotFoundError, PermissionDeniedError
from datalab.storage.paths import is_reserved_name, join, name_of, parent_of, vos_uri

__all__ = ["DIR_MODE", "FILE_MODE", "Entry", "UserTree", "kind_of", "not_found", "refused"]

DIR_MODE = 0o700
FILE_MODE = 0o600
"""Files and folders are private to the service's account (the umask may narrow them)."""

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def refused(path: str) -> PermissionDeniedError:
    """The error for a file-system link or special file met at or above ``path``."""
    return PermissionDeniedError(
        f"{vos_uri(path)} is or passes through a file-system link or special file, "
        "which storage never follows; ask the operator to remove it"
    )


def not_found(path: str) -> NotFoundError:
    return NotFoundError(f"no node {vos_uri(path)}")


@dataclass(frozen=True)
class Entry:
    """A directory entry: ``kind`` is "dir", "file", or "other" (a link or special file)."""

    name: str
    kind: str
    size: int
    mtime_ns: int


def kind_of(st: os.stat_result) -> str:
    if stat.S_ISDIR(st.st_mode):
        return "dir"
    if stat.S_ISREG(st.st_mode):
        return "file"
    return "other"


class UserTree:
    """The folder ``root/<user>``; ``root`` must already be a real (resolved) path."""

    def __init__(self, root: str, user: str) -> None:
        self.top = os.path.join(root, user)

    # -- checks ---------------------------------------------------------------------

    def real_path(self, path: str) -> str:
        """The file-system path of a node, after checking no link lies on the way."""
        full = os.path.join(self.top, *path.split("/")) if path else self.top
        real = os.path.realpath(full)
        if real != full or os.path.commonpath([real, self.top]) != self.top:
            raise refused(path)
        return full

    @contextlib.contextmanager
    def dir_fd(self, path: str) -> Iterator[int]:
        """A descriptor of the directory at ``path``, opened component by component.

        NotFoundError if some component is missing or is a file; PermissionDeniedError
        if one is a link or special file. (This alone keeps to the user's folder;
        callers check ``real_path`` too, once per path a user gives.)
        """
        try:
            fd = os.open(self.top, _DIR_FLAGS)
        except FileNotFoundError:
            raise not_found(path) from None
        except NotADirectoryError:
            raise refused(path) from None
        try:
            done = ""
            for segment in path.split("/") if path else []:
                done = join(done, segment)
                child = self._open_child(fd, segment, done)
                os.close(fd)
                fd = child
            yield fd
        finally:
            os.close(fd)

    def _open_child(self, fd: int, name: str, path: str) -> int:
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=fd)
        except FileNotFoundError:
            raise not_found(path) from None
        except OSError as exc:
            if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
                raise
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if kind_of(st) == "other":
                raise refused(path) from None
            raise NotFoundError(f"{vos_uri(path)} is not a container") from None

    # -- reading --------------------------------------------------------------------

    def lstat(self, path: str) -> os.stat_result | None:
        """The node's own status, None if nothing is there; links and specials refused."""
        if not path:
            with self.dir_fd("") as fd:
                return os.fstat(fd)
        try:
            with self.dir_fd(parent_of(path)) as fd:
                st = os.stat(name_of(path), dir_fd=fd, follow_symlinks=False)
        except (NotFoundError, FileNotFoundError):
            return None
        if kind_of(st) == "other":
            raise refused(path)
        return st

    def child_stat(self, path: str) -> os.stat_result | None:
        """Like ``lstat``, but NotFoundError (naming the container) when the container
        of ``path`` is missing, with a single walk down the tree."""
        parent = parent_of(path)
        try:
            with self.dir_fd(parent) as fd:
                st = os.stat(name_of(path), dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        except NotFoundError:
            raise NotFoundError(f"no container {vos_uri(parent)}") from None
        if kind_of(st) == "other":
            raise refused(path)
        return st

    def entries(self, path: str, *, reserved: bool = False) -> list[Entry]:
        """The entries of the directory at ``path``, unsorted; the service's own files
        (reserved names, such as uploads in progress) only with ``reserved``."""
        found = []
        with self.dir_fd(path) as fd, os.scandir(fd) as it:
            for entry in it:
                if is_reserved_name(entry.name) and not reserved:
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                found.append(Entry(entry.name, kind_of(st), st.st_size, st.st_mtime_ns))
        return found

    def open_read(self, path: str) -> BinaryIO:
        """The regular file at ``path`` opened for reading (never through a link)."""
        with self.dir_fd(parent_of(path)) as dfd:
            try:
                fd = os.open(
                    name_of(path),
                    os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                    dir_fd=dfd,
                )
            except FileNotFoundError:
                raise not_found(path) from None
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise refused(path) from None
                raise
        if kind_of(os.fstat(fd)) != "file":
            os.close(fd)
            raise refused(path)
        return os.fdopen(fd, "rb")

    def usage(self) -> int:
        """Bytes in the user's regular files; links and special files count nothing."""
        total = 0
        stack = [""]
        while stack:
            path = stack.pop()
            for entry in self.entries(path):
                if entry.kind == "file":
                    total += entry.size
                elif entry.kind == "dir":
                    stack.append(join(path, entry.name))
        return total

    # -- changing -------------------------------------------------------------------

    def make_top(self) -> None:
        """Create the user's folder if it is missing; refuse one that is a link."""
        try:
            os.mkdir(self.top, DIR_MODE)
        except FileExistsError:
            pass
        st = os.lstat(self.top)
        if not stat.S_ISDIR(st.st_mode):
            raise refused("")

    def mkdir(self, path: str) -> None:
        with self.dir_fd(parent_of(path)) as fd:
            try:
                os.mkdir(name_of(path), DIR_MODE, dir_fd=fd)
            except FileExistsError:
                raise ConflictError(f"{vos_uri(path)} already exists") from None

    def unlink(self, path: str) -> None:
        with self.dir_fd(parent_of(path)) as fd:
            os.unlink(name_of(path), dir_fd=fd)

    def rmdir(self, path: str) -> None:
        with self.dir_fd(parent_of(path)) as fd:
            try:
                os.rmdir(name_of(path), dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                    raise ConflictError(f"the container {vos_uri(path)} is not empty") from None
                raise

    def rename(self, source: str, target: str) -> None:
        """Rename within the user's folder; the caller checked ``target`` is free."""
        with self.dir_fd(parent_of(source)) as sfd, self.dir_fd(parent_of(target)) as tfd:
            os.rename(name_of(source), name_of(target), src_dir_fd=sfd, dst_dir_fd=tfd)

    def tree(
        self, path: str, *, allow_links: bool = False, reserved: bool = False
    ) -> list[tuple[str, Entry]]:
        """Every entry below the directory ``path``, parents before children.

        A link or special file raises PermissionDeniedError unless ``allow_links``
        (then it is listed as "other", never entered). Reserved names (the service's
        own files) are listed only with ``reserved``. An explicit stack rather than
        recursion: a tree may be deeper than Python's recursion limit.
        """
        found: list[tuple[str, Entry]] = []
        stack = [path]
        while stack:
            current = stack.pop()
            listing = self.entries(current, reserved=reserved)
            for entry in sorted(listing, key=lambda e: e.name, reverse=True):
                child = join(current, entry.name)
                if entry.kind == "other" and not allow_links:
                    raise refused(child)
                found.append((child, entry))
                if entry.kind == "dir":
                    stack.append(child)
        return found

    def remove_tree(self, path: str, *, allow_links: bool = False) -> None:
        """Remove the directory ``path`` and all below it, children first.

        Links are unlinked, never followed, and only with ``allow_links``; otherwise
        the whole removal is refused before anything is removed. The service's own
        temporary files go too (an upload into a removed folder then fails).
        """
        below = self.tree(path, allow_links=allow_links, reserved=True)
        for child, entry in reversed(below):
            if entry.kind == "dir":
                self.rmdir(child)
            else:
                self.unlink(child)
        if path:
            self.rmdir(path)
        else:
            os.rmdir(self.top)
