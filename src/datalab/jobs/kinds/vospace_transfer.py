"""VOSpace 2.1 transfers as UWS jobs (VOSpace 2.1 §3.7, §5.3, §5.5), and the rules for
naming nodes that the web router shares with them.

A transfer is a job of kind ``vospace``. Its parameters are the transfer document's
fields (``target``, ``direction``, ``view``, ``protocol``, ``keepbytes``). Internal
transfers (``direction`` is another vos URI) move or copy nodes here, in the worker.
External transfers (pushToVoSpace, pullFromVoSpace) need no work from the server: the
router negotiates the endpoints when the job is created and leaves the resulting
transfer document in the job's directory (``transferDetails.xml``), or the fault that
stopped the negotiation (``fault.txt``); running the job checks the target again and
publishes that document as the result ``transferDetails``.

Faults are domain errors whose message starts with the fault name of §5.5 and whose
class gives the HTTP status of the operation's fault table, so that a failed job's
error summary and a synchronous answer read the same: ``NodeNotFound vos://…``.

Node identifiers are ``vos://<authority>/<user>/<path>`` with the authority
``<host>!vospace`` (``~`` accepted in place of ``!``), ``<host>`` being the host of the
configured ``base_url``, or ``datalab.local`` when none is set. Each user owns the
tree under their own name and nothing else.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from datalab.config import Settings
from datalab.errors import (
    ConflictError,
    DataLabError,
    NotFoundError,
    PermissionDeniedError,
    UsageError,
)
from datalab.jobs.context import JobContext, JobKind
from datalab.storage import NodeType, Storage

__all__ = [
    "CORE",
    "DEFAULT_AUTHORITY",
    "DIRECTIONS",
    "FAULT_FILE",
    "KIND",
    "TRANSFER_DETAILS",
    "NodeAddress",
    "Transfer",
    "as_fault",
    "authority_for",
    "fault",
    "make_vospace_transfer_kind",
    "node_uri",
    "parse_node_uri",
    "split_node_path",
]

KIND = "vospace"
CORE = "ivo://ivoa.net/vospace/core"
DEFAULT_AUTHORITY = "datalab.local"
PUSH_TO, PULL_FROM = "pushToVoSpace", "pullFromVoSpace"
# The four external directions of §3.7; this service negotiates the two client-initiated ones.
DIRECTIONS = (PUSH_TO, PULL_FROM, "pullToVoSpace", "pushFromVoSpace")
# Files an external transfer's job directory holds (see the module docstring).
TRANSFER_DETAILS = "transferDetails.xml"
FAULT_FILE = "fault.txt"

# §5.5 fault names with the error class (hence HTTP status) each is reported with.
_FAULTS: dict[str, type[DataLabError]] = {
    "InternalFault": DataLabError,
    "PermissionDenied": PermissionDeniedError,
    "InvalidURI": UsageError,
    "NodeNotFound": NotFoundError,
    "ContainerNotFound": NotFoundError,
    "DuplicateNode": ConflictError,
    "InvalidToken": UsageError,
    "InvalidArgument": UsageError,
    "TypeNotSupported": UsageError,
    "ViewNotSupported": UsageError,
    "ProtocolNotSupported": UsageError,
    "OperationNotSupported": UsageError,
    "InvalidData": UsageError,
    "LinkFound": UsageError,
    "NodeBusy": ConflictError,
}
_FAULT_PREFIX = re.compile(r"^([A-Za-z]+)(?:\s|$)")

# A path segment: no control characters, no slash; "." and ".." are refused separately.
_BAD_SEGMENT = re.compile(r"[\x00-\x1f\x7f/\\]")


def fault(name: str, detail: str) -> DataLabError:
    """The error reporting fault ``name`` (VOSpace 2.1 §5.5) with ``detail``."""
    cls = _FAULTS[name]
    error = cls(f"{name} {detail}".strip())
    error.code = name
    return error


def is_fault(exc: DataLabError) -> bool:
    match = _FAULT_PREFIX.match(exc.message)
    return bool(match and match.group(1) in _FAULTS)


def as_fault(exc: DataLabError, *, missing: str = "NodeNotFound", exists: str = "DuplicateNode") -> DataLabError:
    """``exc`` (a storage or other domain error) as a VOSpace fault.

    The name follows the error's class; ``missing`` and ``exists`` choose the name of a
    not-found and a conflict error, which differ by operation (a missing parent is
    ContainerNotFound when creating a node). Errors that already name a fault pass.
    """
    if is_fault(exc):
        return exc
    if isinstance(exc, NotFoundError):
        name = missing
    elif isinstance(exc, ConflictError):
        name = exists
    elif isinstance(exc, PermissionDeniedError):
        name = "PermissionDenied"
    elif isinstance(exc, UsageError):
        name = "InvalidArgument"
    else:
        name = "InternalFault"
    error = fault(name, exc.message)
    if name == "InternalFault":
        error.status_code = exc.status_code if exc.status_code >= 500 else 500
    return error


# -- identifiers ------------------------------------------------------------------------


def authority_for(settings: Settings) -> str:
    """The naming authority of this service's node URIs, ``<host>!vospace``."""
    host = urlsplit(settings.base_url).hostname if settings.base_url else None
    return f"{host or DEFAULT_AUTHORITY}!vospace"


@dataclass(frozen=True)
class NodeAddress:
    """A node of the space: ``user`` (None for the root of the space) and the path
    below that user's home ("" for the home itself)."""

    user: str | None
    path: str = ""

    @property
    def uri_path(self) -> str:
        if self.user is None:
            return ""
        return f"{self.user}/{self.path}" if self.path else self.user

    @property
    def name(self) -> str:
        return posixpath.basename(self.uri_path)

    def child(self, name: str) -> NodeAddress:
        if self.user is None:
            return NodeAddress(name, "")
        return NodeAddress(self.user, f"{self.path}/{name}" if self.path else name)

    def parent(self) -> NodeAddress:
        if self.user is None:
            return self
        if not self.path:
            return NodeAddress(None)
        return NodeAddress(self.user, posixpath.dirname(self.path))


def split_node_path(raw: str, *, decoded: bool) -> NodeAddress:
    """The node a URI path (``user/dir/file``) names. ``decoded``: the path has already
    been percent-decoded (a URL path as the web framework hands it over); otherwise it
    is decoded here, once. Empty segments are ignored, ``.`` and ``..`` (also encoded
    as ``%2e``), control characters and encoded slashes are refused with InvalidURI."""
    segments: list[str] = []
    for part in raw.split("/"):
        if not part:
            continue
        text = part if decoded else unquote(part, errors="strict")
        # A name that decodes (once more) to a dot segment is refused too: some layer
        # on the way might decode it again.
        if text in (".", "..") or unquote(text) in (".", "..") or _BAD_SEGMENT.search(text):
            raise fault("InvalidURI", f"the path {raw!r} has a segment {text!r} that names no node")
        segments.append(text)
    if not segments:
        return NodeAddress(None)
    return NodeAddress(segments[0], "/".join(segments[1:]))


def parse_node_uri(uri: str, authority: str) -> NodeAddress:
    """The node ``uri`` names; InvalidURI unless it is a vos URI of this service."""
    text = uri.strip()
    parts = urlsplit(text)
    if parts.scheme.lower() != "vos" or not parts.netloc:
        raise fault("InvalidURI", f"{uri!r} is not a vos:// node URI")
    ours = authority.lower()
    given = parts.netloc.lower().replace("~", "!")
    if given != ours:
        raise fault(
            "InvalidURI",
            f"{uri!r} names the authority {parts.netloc!r}; this service is vos://{authority}",
        )
    return split_node_path(parts.path, decoded=False)


def node_uri(authority: str, address: NodeAddress) -> str:
    """The vos URI of ``address``, percent-encoded per RFC 3986."""
    from urllib.parse import quote

    path = address.uri_path
    return f"vos://{authority}/{quote(path)}" if path else f"vos://{authority}"


def require_own(address: NodeAddress, user: str) -> str:
    """The storage path of ``address`` if ``user`` may touch it; PermissionDenied else."""
    if address.user != user:
        where = address.uri_path or "the root of the space"
        raise fault("PermissionDenied", f"{user} may not change {where}: only nodes under "
                    f"{user}/ belong to {user}")
    return address.path


# -- transfers --------------------------------------------------------------------------


@dataclass(frozen=True)
class Protocol:
    uri: str
    endpoint: str | None = None
    security: tuple[str, ...] = ()


@dataclass(frozen=True)
class Transfer:
    """A transfer request or result (VOSpace 2.1 §3.7.1)."""

    target: str
    direction: str
    view: str | None = None
    protocols: tuple[Protocol, ...] = ()
    keep_bytes: bool | None = None
    params: tuple[tuple[str, str], ...] = field(default=())

    @property
    def internal(self) -> bool:
        return self.direction not in DIRECTIONS

    def parameters(self) -> dict[str, str]:
        """The job parameters recording this request (one ``protocol`` per line)."""
        values = {"target": self.target, "direction": self.direction}
        if self.view:
            values["view"] = self.view
        if self.protocols:
            values["protocol"] = "\n".join(
                " ".join((p.uri, *p.security)) for p in self.protocols
            )
        if self.keep_bytes is not None:
            values["keepbytes"] = "true" if self.keep_bytes else "false"
        return values

    @classmethod
    def from_parameters(cls, values: Mapping[str, str]) -> Transfer:
        protocols = []
        for line in (values.get("protocol") or "").splitlines():
            uri, *security = line.split()
            protocols.append(Protocol(uri, None, tuple(security)))
        keep = values.get("keepbytes")
        return cls(
            target=values.get("target", ""),
            direction=values.get("direction", ""),
            view=values.get("view") or None,
            protocols=tuple(protocols),
            keep_bytes=None if keep is None else keep.strip().lower() == "true",
        )


def internal_transfer(
    storage: Storage, user: str, authority: str, transfer: Transfer
) -> NodeAddress:
    """Move or copy (``keep_bytes``) the target to the direction URI (§5.3.2, §5.3.3).

    A destination that is an existing container receives the source inside it; any
    other existing destination is a DuplicateNode. Returns the node created.
    """
    source = parse_node_uri(transfer.target, authority)
    destination = parse_node_uri(transfer.direction, authority)
    src = require_own(source, user)
    dst = require_own(destination, user)
    if not src:
        raise fault("PermissionDenied", f"{user}'s home container cannot be moved or copied")
    try:
        storage.stat(user, src)
    except NotFoundError:
        raise fault("NodeNotFound", transfer.target) from None
    try:
        found = storage.stat(user, dst)
    except NotFoundError:
        found = None
    if found is not None:
        if found.type is not NodeType.CONTAINER:
            raise fault("DuplicateNode", transfer.direction)
        destination = destination.child(source.name)
        dst = destination.path
        try:
            storage.stat(user, dst)
        except NotFoundError:
            pass
        else:
            raise fault("DuplicateNode", node_uri(authority, destination))
    else:
        parent = destination.parent()
        try:
            if parent.user is None or storage.stat(user, parent.path).type is not NodeType.CONTAINER:
                raise fault("ContainerNotFound", node_uri(authority, parent))
        except NotFoundError:
            raise fault("ContainerNotFound", node_uri(authority, parent)) from None
    if dst == src or dst.startswith(src + "/"):
        raise fault("InvalidURI", f"{transfer.direction} is inside {transfer.target}")
    try:
        if transfer.keep_bytes:
            storage.copy(user, src, dst)
        else:
            storage.move(user, src, dst)
    except DataLabError as exc:
        raise as_fault(exc) from exc
    return destination


def check_external(storage: Storage, user: str, authority: str, transfer: Transfer) -> None:
    """That a negotiated push or pull still makes sense: the target is the caller's, a
    pull reads an existing data node, a push writes into an existing container."""
    address = parse_node_uri(transfer.target, authority)
    path = require_own(address, user)
    if transfer.direction == PULL_FROM:
        try:
            node = storage.stat(user, path)
        except NotFoundError:
            raise fault("NodeNotFound", transfer.target) from None
        if node.type is not NodeType.DATA:
            raise fault("InvalidArgument", f"{transfer.target} is a {node.type.value} node: only "
                        "data nodes have bytes to read")
        return
    if not path:
        raise fault("PermissionDenied", f"{transfer.target} is a home container, not a data node")
    parent = address.parent()
    try:
        if storage.stat(user, parent.path).type is not NodeType.CONTAINER:
            raise fault("ContainerNotFound", node_uri(authority, parent))
    except NotFoundError:
        raise fault("ContainerNotFound", node_uri(authority, parent)) from None
    try:
        if storage.stat(user, path).type is NodeType.CONTAINER:
            raise fault("InvalidArgument", f"{transfer.target} is a container: push data to a "
                        "data node")
    except NotFoundError:
        pass


def make_vospace_transfer_kind(storage_for: Callable[[], Storage], settings: Settings) -> JobKind:
    """The ``vospace`` job kind, working on the storage ``storage_for()`` returns."""
    authority = authority_for(settings)

    def run(ctx: JobContext) -> None:
        owner = ctx.job.owner
        if owner is None:
            raise fault("PermissionDenied", "transfers need an authenticated owner")
        transfer = Transfer.from_parameters(ctx.job.parameters)
        storage = storage_for()
        if transfer.internal:
            internal_transfer(storage, owner, authority, transfer)
            return
        failure = ctx.directory / FAULT_FILE
        if failure.is_file():
            text = failure.read_text(encoding="utf-8")
            name = text.split(" ", 1)[0]
            raise fault(name if name in _FAULTS else "InternalFault", text.partition(" ")[2])
        check_external(storage, owner, authority, transfer)
        if not (ctx.directory / TRANSFER_DETAILS).is_file():
            raise fault("InternalFault", "the negotiated transfer details are missing")
        ctx.add_result("transferDetails", TRANSFER_DETAILS, "text/xml")

    return run
