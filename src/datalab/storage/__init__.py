"""Each user's private file space behind vos:// (the domain layer; no HTTP).

Files and folders live under ``<home>/storage/<user>/``; links, properties and MD5s in
the state database. Every path is normalised and checked (``parse_vos_path``) and the
disk is reached without following file-system links, so nothing a user names can
leave their own space.
"""

from datalab.storage.model import Node, NodeType
from datalab.storage.paths import check_storage_user, parse_vos_path
from datalab.storage.store import MAX_LINK_HOPS, Storage
from datalab.storage.upload import CHUNK_SIZE

__all__ = [
    "CHUNK_SIZE",
    "MAX_LINK_HOPS",
    "Node",
    "NodeType",
    "Storage",
    "check_storage_user",
    "parse_vos_path",
]
