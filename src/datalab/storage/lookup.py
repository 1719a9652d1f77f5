"""Building ``Node`` values from the two places a node lives: the disk and its row.

The disk says what exists as a container or data node (and its size and time); the
row adds properties, the cached MD5, and links, which exist only as rows. A row left
behind by a node removed outside the service is ignored: a row counts only if its kind
matches what is on disk, and a link only if its container exists.
"""

from __future__ import annotations

import hashlib
import os
import stat
from datetime import UTC, datetime

from datalab.storage.fs import Entry, UserTree
from datalab.storage.model import Node, NodeType
from datalab.storage.paths import join, parent_of
from datalab.storage.rows import NodeRows, Row
from datalab.storage.upload import CHUNK_SIZE

__all__ = ["Lookup", "from_ns"]


def from_ns(ns: int) -> datetime:
    """An aware UTC time from nanoseconds since the epoch (microsecond precision)."""
    return datetime.fromtimestamp(ns // 1_000_000_000, UTC).replace(
        microsecond=(ns // 1000) % 1_000_000
    )


class Lookup:
    """Finds one user's nodes."""

    def __init__(self, user: str, tree: UserTree, rows: NodeRows) -> None:
        self.user = user
        self.tree = tree
        self.rows = rows

    def find(self, path: str) -> Node | None:
        """The node at ``path`` (links not followed), or None."""
        st = self.tree.lstat(path)
        row = self.rows.get(self.user, path)
        if st is None:
            if row is not None and row.kind == NodeType.LINK and self.is_container(parent_of(path)):
                return self._link(row)
            return None
        kind = "dir" if stat.S_ISDIR(st.st_mode) else "file"
        return self._from_disk(path, Entry(path, kind, st.st_size, st.st_mtime_ns), row)

    def is_container(self, path: str) -> bool:
        st = self.tree.lstat(path)
        return st is not None and stat.S_ISDIR(st.st_mode)

    def children(self, path: str) -> dict[str, Entry | Row]:
        """What is directly inside the container ``path``: disk entries and link rows,
        by name. File-system links and special files are left out (never nodes)."""
        found: dict[str, Entry | Row] = {
            entry.name: entry for entry in self.tree.entries(path) if entry.kind != "other"
        }
        for name, row in self.rows.children(self.user, path).items():
            if row.kind == NodeType.LINK and name not in found:
                found[name] = row
        return found

    def nodes(self, path: str, names: list[str], found: dict[str, Entry | Row]) -> list[Node]:
        """The nodes of the chosen children (one query for all their rows)."""
        rows = self.rows.children(self.user, path) if names else {}
        nodes = []
        for name in names:
            item = found[name]
            if isinstance(item, Row):
                nodes.append(self._link(item))
            else:
                nodes.append(self._from_disk(join(path, name), item, rows.get(name)))
        return nodes

    def _link(self, row: Row) -> Node:
        return Node(
            path=row.path,
            type=NodeType.LINK,
            size=0,
            md5=None,
            modified=from_ns(row.mtime_ns or 0),
            target=row.target,
            properties=dict(row.properties),
        )

    def _from_disk(self, path: str, entry: Entry, row: Row | None) -> Node:
        if entry.kind == "dir":
            own = row is not None and row.kind == NodeType.CONTAINER
            properties = row.properties if row is not None and own else {}
            return Node(path, NodeType.CONTAINER, 0, None, from_ns(entry.mtime_ns),
                        properties=dict(properties))
        if row is not None and row.kind != NodeType.DATA:
            row = None
        if row is None or row.size != entry.size or row.mtime_ns != entry.mtime_ns or not row.md5:
            row = self._rehash(path, row)
        return Node(path, NodeType.DATA, row.size or 0, row.md5, from_ns(row.mtime_ns or 0),
                    properties=dict(row.properties))

    def _rehash(self, path: str, row: Row | None) -> Row:
        """Hash a file whose MD5 is unknown or stale, and remember the result."""
        digest = hashlib.md5(usedforsecurity=False)
        with self.tree.open_read(path) as fh:
            while piece := fh.read(CHUNK_SIZE):
                digest.update(piece)
            st = os.fstat(fh.fileno())
        fresh = Row(path, NodeType.DATA, md5=digest.hexdigest(), size=st.st_size,
                    mtime_ns=st.st_mtime_ns, properties=row.properties if row else {})
        self.rows.put(self.user, fresh)
        return fresh
