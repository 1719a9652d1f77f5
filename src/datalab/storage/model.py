"""The nodes of a user's space, as VOSpace 2.1 and the Data Lab storage API see them."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["Node", "NodeType"]


class NodeType(enum.StrEnum):
    """The three kinds of node: folders, files, and links to a node or a URL."""

    CONTAINER = "container"
    DATA = "data"
    LINK = "link"


@dataclass(frozen=True)
class Node:
    """One node as it is now; a snapshot, not a handle (it does not follow later changes).

    ``path`` is normal (see ``parse_vos_path``), relative to the user's root, ``""``
    for the root. ``size`` is 0 for containers and links. ``md5`` is the hex digest of
    a data node's content, None for the others. ``target`` is a link's ``vos://…``
    path (in the same user's space) or http(s) URL. ``properties`` are those the user
    set, keyed by URI or by a plain Data Lab tag name.
    """

    path: str
    type: NodeType
    size: int
    md5: str | None
    modified: datetime
    target: str | None = None
    properties: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The last segment of the path (``""`` for the root)."""
        return self.path.rpartition("/")[2]

    @property
    def uri(self) -> str:
        """The node's ``vos://`` URI relative to its owner's root."""
        return f"vos://{self.path}"
