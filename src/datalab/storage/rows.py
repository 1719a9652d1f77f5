"""Reading and writing ``storage_nodes`` rows: what the file system cannot hold.

Each method is one short transaction. Rows describe nodes by their normal path; a row
whose file or folder has gone (say, removed by hand) is ignored by the store and
replaced when a node is made there again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from datalab.storage.paths import name_of, parent_of
from datalab.storage.schema import nodes_table

__all__ = ["NodeRows", "Row"]

n = nodes_table


@dataclass(frozen=True)
class Row:
    """What the database knows about one node."""

    path: str
    kind: str
    target: str | None = None
    md5: str | None = None
    size: int | None = None
    mtime_ns: int | None = None
    properties: Mapping[str, str] = field(default_factory=dict)

    def moved(self, source: str, target: str) -> Row:
        """This row with the prefix ``source`` of its path replaced by ``target``."""
        rest = self.path[len(source):]
        return replace(self, path=target + rest if target else rest.lstrip("/"))


def _from_db(row: Any) -> Row:
    return Row(
        path=row.path,
        kind=row.kind,
        target=row.target,
        md5=row.md5,
        size=row.size,
        mtime_ns=row.mtime_ns,
        properties=json.loads(row.properties or "{}"),
    )


def _to_db(user: str, row: Row) -> dict[str, Any]:
    return {
        "user": user,
        "path": row.path,
        "parent": parent_of(row.path),
        "kind": row.kind,
        "target": row.target,
        "md5": row.md5,
        "size": row.size,
        "mtime_ns": row.mtime_ns,
        "properties": json.dumps(dict(row.properties), sort_keys=True),
    }


_GET = sa.select(n).where(n.c.user == sa.bindparam("u"), n.c.path == sa.bindparam("p"))
_CHILDREN = sa.select(n).where(
    n.c.user == sa.bindparam("u"), n.c.parent == sa.bindparam("p"), n.c.path != ""
)
_DELETE_ONE = n.delete().where(n.c.user == sa.bindparam("u"), n.c.path == sa.bindparam("p"))


def _under(user: str, path: str) -> sa.ColumnElement[bool]:
    """Rows of ``path`` and everything below it (all the user's rows for the root)."""
    if not path:
        return n.c.user == user
    prefix = path + "/"
    return sa.and_(
        n.c.user == user,
        sa.or_(n.c.path == path, sa.func.substr(n.c.path, 1, len(prefix)) == prefix),
    )


class NodeRows:
    """The ``storage_nodes`` table seen through one engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, user: str, path: str) -> Row | None:
        with self._engine.connect() as conn:
            found = conn.execute(_GET, {"u": user, "p": path}).first()
        return None if found is None else _from_db(found)

    def children(self, user: str, parent: str) -> dict[str, Row]:
        """The rows of the nodes directly inside ``parent``, by name."""
        with self._engine.connect() as conn:
            found = conn.execute(_CHILDREN, {"u": user, "p": parent}).all()
        return {name_of(row.path): _from_db(row) for row in found}

    def under(self, user: str, path: str) -> list[Row]:
        """The rows of ``path`` and of every node below it."""
        with self._engine.connect() as conn:
            found = conn.execute(sa.select(n).where(_under(user, path))).all()
        return [_from_db(row) for row in found]

    def put(self, user: str, *rows: Row) -> None:
        """Insert or replace rows (a delete and an insert: portable to every backend)."""
        if rows:
            with self._engine.begin() as conn:
                self._put(conn, user, rows)

    def remove(self, user: str, path: str, *, tree: bool = False) -> None:
        """Forget ``path`` (and, with ``tree``, everything below it)."""
        with self._engine.begin() as conn:
            if tree:
                conn.execute(n.delete().where(_under(user, path)))
            else:
                conn.execute(_DELETE_ONE, {"u": user, "p": path})

    def move(self, user: str, source: str, target: str) -> None:
        """Carry the rows of ``source`` and below to ``target``, in one transaction."""
        with self._engine.begin() as conn:
            selected = conn.execute(sa.select(n).where(_under(user, source)))
            found = [_from_db(row) for row in selected]
            conn.execute(n.delete().where(_under(user, source)))
            conn.execute(n.delete().where(_under(user, target)))
            self._put(conn, user, [row.moved(source, target) for row in found])

    def remove_user(self, user: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(n.delete().where(n.c.user == user))

    @staticmethod
    def _put(conn: Connection, user: str, rows: Iterable[Row]) -> None:
        rows = list(rows)
        if not rows:
            return
        conn.execute(_DELETE_ONE, [{"u": user, "p": row.path} for row in rows])
        conn.execute(n.insert(), [_to_db(user, row) for row in rows])
