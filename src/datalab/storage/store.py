"""``Storage``: each user's private file space behind vos:// (no HTTP here).

The tree of ``root/<user>/`` holds containers (folders) and data nodes (files); the
state database's ``storage_nodes`` holds links, properties and MD5s (``schema``).
Paths are normalised by ``parse_vos_path`` and reach the disk only through
``fs.UserTree``, which never follows a file-system link: nothing a user names can
reach outside their own folder.

Changes to one user's nodes are serialised by a per-user lock, except the streaming
part of an upload or copy, which runs unlocked into a temporary file; the lock is
taken again to check the target and put the file in place.
"""

from __future__ import annotations

import builtins
import os
import stat
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

from datalab.errors import ConflictError, NotFoundError, UsageError
from datalab.storage.fs import UserTree, not_found
from datalab.storage.lookup import Lookup, from_ns
from datalab.storage.model import Node, NodeType
from datalab.storage.paths import (
    check_storage_user,
    join,
    parent_of,
    parse_vos_path,
    vos_uri,
)
from datalab.storage.props import check_link_target, merge_properties
from datalab.storage.quota import Quota
from datalab.storage.rows import NodeRows, Row
from datalab.storage.schema import create_storage_engine, create_tables
from datalab.storage.upload import Chunks, stage

__all__ = ["MAX_LINK_HOPS", "Storage"]

MAX_LINK_HOPS = 8
"""Links followed in a row when reading, so a loop of links ends in an error."""


class Storage:
    """Users' file spaces under ``root`` (``DataPaths.storage``), rows in ``state_url``.

    ``quota_bytes`` limits each user's total file size (None or 0: no limit).
    """

    def __init__(self, root: Path, state_url: str, *, quota_bytes: int | None = None) -> None:
        Path(root).mkdir(parents=True, exist_ok=True)
        # The configured root is trusted, so it is resolved once here (it may itself
        # sit behind a link); everything below it is checked on every operation.
        self.root = os.path.realpath(root)
        self._engine = create_storage_engine(state_url)
        create_tables(self._engine)
        self._rows = NodeRows(self._engine)
        self._quota = Quota(quota_bytes)
        self._locks: dict[str, threading.RLock] = {}
        self._guard = threading.Lock()
        self._ready: set[str] = set()

    def close(self) -> None:
        """Close the database connections; the storage must not be used afterwards."""
        self._engine.dispose()

    # -- users ------------------------------------------------------------------------

    def ensure_user(self, user: str) -> None:
        """Create the user's (empty) space if it does not exist yet."""
        self._lookup(user)

    def usage(self, user: str) -> int:
        """Bytes the user's files take now (counted afresh)."""
        return self._quota.refresh(user, self._lookup(user).tree)

    def delete_user(self, user: str) -> None:
        """Remove the user's whole space, files and rows (an operator's action).

        File-system links planted inside are removed, never followed.
        """
        check_storage_user(user)
        with self._lock(user):
            tree = UserTree(self.root, user)
            if os.path.islink(tree.top):
                os.unlink(tree.top)
            elif os.path.isdir(tree.top):
                tree.remove_tree("", allow_links=True)
            self._rows.remove_user(user)
            self._quota.forget(user)
            with self._guard:
                self._ready.discard(user)

    # -- reading ----------------------------------------------------------------------

    def stat(self, user: str, path: str) -> Node:
        """The node at ``path`` (a link itself, not its target); NotFoundError."""
        look = self._lookup(user)
        return self._get(look, self._path(look, path))

    def list(
        self, user: str, path: str = "", *, limit: int | None = None, after: str | None = None
    ) -> builtins.list[Node]:
        """The children of a container, sorted by name; paged by ``after`` (the name
        of the last child already seen) and ``limit``. UsageError for a non-container."""
        if limit is not None and limit < 0:
            raise UsageError("the listing limit must not be negative")
        look = self._lookup(user)
        p = self._path(look, path)
        self._container(look, p)
        found = look.children(p)
        names = sorted(name for name in found if after is None or name > after)
        if limit is not None:
            names = names[:limit]
        return look.nodes(p, names, found)

    def walk(self, user: str, path: str = "") -> Iterator[Node]:
        """Every node below the container ``path`` (not ``path`` itself): each
        container's children together, sorted by name, after the container and before
        anything deeper in it. Links are listed, not followed; file-system links are
        not nodes and are left out. One directory is read at a time."""
        look = self._lookup(user)
        p = self._path(look, path)
        self._container(look, p)
        stack = [p]
        while stack:
            current = stack.pop()
            found = look.children(current)
            nodes = look.nodes(current, sorted(found), found)
            pending = []
            for node in nodes:
                yield node
                if node.type == NodeType.CONTAINER:
                    pending.append(node.path)
            stack.extend(reversed(pending))

    def open_read(self, user: str, path: str, *, offset: int = 0) -> BinaryIO:
        """The content of a data node, from byte ``offset``; links are followed."""
        if offset < 0:
            raise UsageError("the read offset must not be negative")
        look = self._lookup(user)
        fh = look.tree.open_read(self._data_path(look, self._path(look, path)))
        if offset:
            fh.seek(offset)
        return fh

    def local_file(self, user: str, path: str) -> Path:
        """The file of a data node (links followed), for a server that sends it itself."""
        look = self._lookup(user)
        p = self._data_path(look, self._path(look, path))
        full = look.tree.real_path(p)
        if look.tree.lstat(p) is None:
            raise not_found(p)
        return Path(full)

    # -- writing ----------------------------------------------------------------------

    def write(
        self, user: str, path: str, chunks: Iterable[bytes] | BinaryIO | bytes, *,
        overwrite: bool = True,
    ) -> Node:
        """Store a data node's content, atomically (see ``upload.stage``).

        ``chunks`` is an iterable of byte strings, a binary file, or one byte string.
        NotFoundError if the container is missing; ConflictError if ``path`` is a
        container or link, or exists and ``overwrite`` is False; UsageError when the
        quota would be passed (the previous version stays).
        """
        look = self._lookup(user)
        return self._write(look, self._path(look, path), chunks, overwrite, None)

    def check_write(self, user: str, path: str, size: int, *, overwrite: bool = True) -> str:
        """The normal form of ``path`` if ``write`` would now accept ``size`` bytes there;
        otherwise the error it would raise (bad path, missing container, an existing
        node, the quota).

        Lets a client that knows a file's size before sending it (a browser) be told
        at once, rather than after part of the bytes have travelled. ``write`` checks
        everything again: the space may change in between.
        """
        if size < 0:
            raise UsageError("the size of a file must not be negative")
        look = self._lookup(user)
        p = self._path(look, path)
        if not p:
            raise ConflictError("vos:// is your root container; give a file name in it")
        replaced, _ = self._writable(look, p, overwrite)
        self._quota.check(user, look.tree, replaced, size)
        return p

    def mkdir(self, user: str, path: str, *, parents: bool = False) -> Node:
        """A new container; with ``parents`` its missing ancestors too. ConflictError
        if it exists; NotFoundError if its container is missing (without ``parents``)."""
        look = self._lookup(user)
        p = self._path(look, path)
        with self._lock(user):
            if parents:
                done = ""
                for segment in parent_of(p).split("/") if parent_of(p) else []:
                    done = join(done, segment)
                    node = look.find(done)
                    if node is None:
                        self._mkdir(look, done)
                    elif node.type != NodeType.CONTAINER:
                        raise ConflictError(f"{vos_uri(done)} exists and is not a container")
            self._free(look, p)
            self._mkdir(look, p)
            return self._get(look, p)

    def delete(self, user: str, path: str, *, recursive: bool = False) -> None:
        """Remove a data node or link, or a container (only if empty unless ``recursive``)."""
        look = self._lookup(user)
        p = self._path(look, path)
        if not p:
            raise UsageError("your root container (vos://) cannot be deleted")
        with self._lock(user):
            node = self._get(look, p)
            if node.type == NodeType.DATA:
                look.tree.unlink(p)
                self._quota.adjust(user, -node.size)
            elif node.type == NodeType.CONTAINER:
                if recursive:
                    freed = sum(e.size for _, e in look.tree.tree(p) if e.kind == "file")
                    look.tree.remove_tree(p)
                    self._quota.adjust(user, -freed)
                else:
                    if look.children(p):
                        raise ConflictError(f"the container {vos_uri(p)} is not empty")
                    look.tree.rmdir(p)
            self._rows.remove(user, p, tree=True)

    def move(self, user: str, source: str, target: str) -> Node:
        """Move or rename a node, with its properties (and everything below it).

        If ``target`` is an existing container the node goes into it, keeping its name;
        otherwise ``target`` is the new path, which must be free (ConflictError).
        """
        look = self._lookup(user)
        s, t = self._path(look, source), self._path(look, target)
        if not s:
            raise UsageError("your root container (vos://) cannot be moved")
        with self._lock(user):
            node = self._get(look, s)
            dest = self._destination(look, node, t)
            if node.type == NodeType.CONTAINER:
                look.tree.tree(s)  # refuses file-system links inside before anything moves
            if node.type != NodeType.LINK:
                look.tree.rename(s, dest)
            self._rows.move(user, s, dest)
            return self._get(look, dest)

    def copy(self, user: str, source: str, target: str) -> Node:
        """Copy a node (containers recursively) with its properties; the same
        "into an existing container" rule as ``move``. The quota applies: a tree that
        would not fit is refused before anything is copied."""
        look = self._lookup(user)
        s, t = self._path(look, source), self._path(look, target)
        with self._lock(user):
            node = self._get(look, s)
            dest = self._destination(look, node, t)
        if node.type == NodeType.LINK:
            with self._lock(user):
                self._free(look, dest)
                self._put_link(user, dest, node.target or "", node.properties)
        elif node.type == NodeType.DATA:
            self._copy_data(look, s, dest, node.properties)
        else:
            self._copy_tree(look, s, dest)
        return self._get(look, dest)

    def link(self, user: str, path: str, target: str) -> Node:
        """A link node at ``path`` to ``target``: ``vos://…`` in the same space or an
        http(s) URL. Only a row: no file-system link is ever made."""
        look = self._lookup(user)
        p = self._path(look, path)
        normal = check_link_target(target)
        with self._lock(user):
            self._free(look, p)
            self._put_link(user, p, normal, {})
            return self._get(look, p)

    def set_properties(
        self, user: str, path: str, properties: Mapping[str, str | None]
    ) -> Node:
        """Set (or, with None, delete) user properties of a node; returns the node."""
        look = self._lookup(user)
        p = self._path(look, path)
        with self._lock(user):
            node = self._get(look, p)  # also refreshes a data node's row
            merged = merge_properties(node.properties, properties)
            row = self._rows.get(user, p)
            if row is None or row.kind != node.type:
                row = Row(p, node.type)
            self._rows.put(user, Row(p, row.kind, row.target, row.md5, row.size,
                                     row.mtime_ns, merged))
            return self._get(look, p)

    # -- internals --------------------------------------------------------------------

    def _lookup(self, user: str) -> Lookup:
        check_storage_user(user)
        tree = UserTree(self.root, user)
        with self._guard:
            ready = user in self._ready
        if not ready:
            tree.make_top()
            with self._guard:
                self._ready.add(user)
        return Lookup(user, tree, self._rows)

    @staticmethod
    def _path(look: Lookup, value: str) -> str:
        """The normal form of a path a user gave, checked to resolve inside their folder
        without passing a file-system link (the first of the two checks in ``fs``)."""
        path = parse_vos_path(value)
        look.tree.real_path(path)
        return path

    def _lock(self, user: str) -> threading.RLock:
        with self._guard:
            return self._locks.setdefault(user, threading.RLock())

    def _get(self, look: Lookup, path: str) -> Node:
        node = look.find(path)
        if node is None:
            raise not_found(path)
        return node

    def _container(self, look: Lookup, path: str) -> None:
        if self._get(look, path).type != NodeType.CONTAINER:
            raise UsageError(f"{vos_uri(path)} is not a container")

    def _parent(self, look: Lookup, path: str) -> None:
        """NotFoundError unless the container of ``path`` exists."""
        if not path:
            raise ConflictError("vos:// is your root container; it always exists")
        if not look.is_container(parent_of(path)):
            raise NotFoundError(f"no container {vos_uri(parent_of(path))}")

    def _free(self, look: Lookup, path: str) -> None:
        """Check that a new node can be made at ``path``."""
        self._parent(look, path)
        if look.find(path) is not None:
            raise ConflictError(f"{vos_uri(path)} already exists")

    def _mkdir(self, look: Lookup, path: str) -> None:
        self._parent(look, path)
        look.tree.mkdir(path)
        self._rows.remove(look.user, path, tree=True)  # rows left by nodes removed by hand

    def _destination(self, look: Lookup, node: Node, target: str) -> str:
        """Where a move or copy of ``node`` to ``target`` lands (checked to be free)."""
        found = look.find(target)
        dest = target
        if found is not None and found.type == NodeType.CONTAINER:
            dest = join(target, node.name)
        if node.type == NodeType.CONTAINER and (
            dest == node.path or dest.startswith(node.path + "/") or not node.path
        ):
            raise UsageError(f"{vos_uri(node.path)} cannot go inside itself ({vos_uri(dest)})")
        self._free(look, dest)
        return dest

    def _put_link(self, user: str, path: str, target: str, properties: Mapping[str, str]) -> None:
        self._rows.put(user, Row(path, NodeType.LINK, target=target, mtime_ns=time.time_ns(),
                                 properties=dict(properties)))

    def _data_path(self, look: Lookup, path: str) -> str:
        """The data node ``path`` names, following links within the space."""
        for _ in range(MAX_LINK_HOPS + 1):
            node = self._get(look, path)
            if node.type == NodeType.DATA:
                return path
            if node.type == NodeType.CONTAINER:
                raise UsageError(f"{vos_uri(path)} is a container, not a file")
            target = node.target or ""
            if not target.lower().startswith("vos:"):
                raise UsageError(f"{vos_uri(path)} links to {target}, outside this storage")
            path = self._path(look, target)
        raise UsageError(f"more than {MAX_LINK_HOPS} links in a row from a link; is there a loop?")

    def _writable(self, look: Lookup, path: str, overwrite: bool) -> tuple[int, Row | None]:
        """(size to be replaced, row of the node replaced) for writing ``path``; errors
        if it may not be written. Only the disk and the row: no hashing."""
        st = look.tree.child_stat(path)
        row = self._rows.get(look.user, path)
        if st is None:
            if row is not None and row.kind == NodeType.LINK:
                raise ConflictError(
                    f"{vos_uri(path)} is a link; delete it first to write a file there"
                )
            return 0, None
        if stat.S_ISDIR(st.st_mode):
            raise ConflictError(f"{vos_uri(path)} is a container")
        if not overwrite:
            raise ConflictError(f"{vos_uri(path)} already exists")
        return st.st_size, row if row is not None and row.kind == NodeType.DATA else None

    def _write(
        self, look: Lookup, path: str, chunks: Chunks, overwrite: bool,
        properties: Mapping[str, str] | None,
    ) -> Node:
        user = look.user
        if not path:
            raise ConflictError("vos:// is your root container; it always exists")
        replaced, _ = self._writable(look, path, overwrite)  # fail early, before streaming
        staged = stage(
            look.tree, path, chunks,
            lambda total: self._quota.check(user, look.tree, replaced, total),
        )
        try:
            with self._lock(user):
                replaced, old = self._writable(look, path, overwrite)
                kept = dict(properties if properties is not None else old.properties if old else {})
                row = Row(path, NodeType.DATA, md5=staged.md5, size=staged.size,
                          mtime_ns=staged.mtime_ns, properties=kept)
                staged.install(path)
                self._quota.adjust(user, staged.size - replaced)
                self._rows.put(user, row)
        except BaseException:
            staged.discard()
            raise
        staged.sync()
        return Node(path, NodeType.DATA, row.size or 0, row.md5, from_ns(staged.mtime_ns),
                    properties=kept)

    def _copy_data(
        self, look: Lookup, source: str, dest: str, properties: Mapping[str, str]
    ) -> None:
        with look.tree.open_read(source) as fh:
            self._write(look, dest, fh, False, properties)

    def _copy_tree(self, look: Lookup, source: str, dest: str) -> None:
        below = look.tree.tree(source)  # refuses file-system links before anything is made
        need = sum(entry.size for _, entry in below if entry.kind == "file")
        self._quota.check(look.user, look.tree, 0, need)
        rows = {row.path: row for row in self._rows.under(look.user, source)}
        with self._lock(look.user):
            self._free(look, dest)
            self._mkdir(look, dest)
        self._rows.put(look.user, *[
            row.moved(source, dest) for row in rows.values()
            if row.kind == NodeType.LINK or (row.kind == NodeType.CONTAINER and row.properties)
        ])
        for child, entry in below:
            new = dest + child[len(source):]
            if entry.kind == "dir":
                look.tree.mkdir(new)
            else:
                row = rows.get(child)
                own = row is not None and row.kind == NodeType.DATA
                self._copy_data(look, child, new, row.properties if row is not None and own else {})
