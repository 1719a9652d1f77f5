"""VOSpace 2.1 over HTTP at /vospace: nodes, service metadata, transfers, data.

A thin edge (DESIGN.md) over ``datalab.storage``: every authenticated user owns the
tree ``vos://<authority>/<user>/…``; the URL of a node is ``/vospace/nodes/`` plus its
URI path (VOSpace 2.1 §2.1), so ``vos://datalab.local!vospace/demo00/a.txt`` is
``/vospace/nodes/demo00/a.txt``. The root of the space (``/vospace/nodes``) lists only
the caller's own home container; any other user's path is PermissionDenied (403)
whether or not it exists, so a listing reveals nothing about other users.

Errors are the faults of VOSpace 2.1 §5.5 in text/plain bodies (``NodeNotFound vos://…``)
with the status each operation's fault table gives. Anonymous callers get 401 except
for the service metadata (protocols, views, properties, capabilities, availability).

Data moves through endpoints this router serves under ``/vospace/data/``, negotiated by
transfers: each URL carries its own authorisation, an HMAC-SHA256 signature of the
operation, user, path and expiry time made with the per-server secret
``<home>/secret.key`` (created on first use, mode 0600), so that tools which cannot
send our credentials (a browser, curl, another service) can use them.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote

import anyio
import anyio.from_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from datalab.errors import DataLabError, NotFoundError, UsageError
from datalab.jobs import Job, Phase
from datalab.jobs.kinds.vospace_transfer import (
    FAULT_FILE,
    KIND,
    PULL_FROM,
    PUSH_TO,
    TRANSFER_DETAILS,
    NodeAddress,
    Protocol,
    Transfer,
    as_fault,
    authority_for,
    check_external,
    fault,
    node_uri,
    parse_node_uri,
    require_own,
    split_node_path,
)
from datalab.storage import Node, NodeType, Storage
from datalab.web import uws_xml, vospace_xml
from datalab.web.context import Services, services
from datalab.web.identity import identify
from datalab.web.vo_xml import iso_time
from datalab.web.vospace_xml import CORE, READ_ONLY_PROPERTIES

__all__ = ["router"]

log = logging.getLogger("datalab.web.vospace")

router = APIRouter(prefix="/vospace", tags=["VOSpace"])

_XML = "text/xml"
HTTPGET, HTTPPUT = f"{CORE}#httpget", f"{CORE}#httpput"
HTTPSGET, HTTPSPUT = f"{CORE}#httpsget", f"{CORE}#httpsput"
_GET_PROTOCOLS = (HTTPGET, HTTPSGET)
_PUT_PROTOCOLS = (HTTPPUT, HTTPSPUT)
# The properties a client may set: the Dublin-Core-like core set (§3.2.4) plus any
# other URI, stored as text; the computed ones are read-only.
_ACCEPTED_PROPERTIES = tuple(
    f"{CORE}#{name}"
    for name in ("title", "creator", "subject", "description", "publisher", "contributor",
                 "type", "format", "identifier", "source", "language", "relation",
                 "coverage", "rights")
)
_PROVIDED_PROPERTIES = tuple(
    f"{CORE}#{name}" for name in ("length", "date", "mtime", "MD5")
)
# How long a negotiated data URL stays valid, in seconds.
ENDPOINT_LIFETIME = 24 * 3600
# The largest node or transfer document we read.
_MAX_DOCUMENT = 1 << 20
# How long a synchronous transfer (an internal move or copy) may take before the client
# is sent to its job to wait.
_SYNC_WAIT = 60.0
_MAX_WAIT = 120.0
_CONTROL = {"phase", "action", "executionduration", "destruction", "wait"}


# -- per-application state ------------------------------------------------------------------


@dataclass
class _Space:
    """What the router keeps per application: the URI authority, the signing key and the
    nodes being written right now (shown with ``busy="true"``)."""

    authority: str
    key: bytes
    busy: set[tuple[str, str]] = field(default_factory=set)


def _space(request: Request, svc: Services) -> _Space:
    found: _Space | None = getattr(request.app.state, "vospace", None)
    if found is None:
        found = _Space(authority_for(svc.settings), secret_key(svc.settings.paths().home))
        request.app.state.vospace = found
    return found


def secret_key(home: Path) -> bytes:
    """The server's signing secret, ``<home>/secret.key``: read if it exists, otherwise
    created atomically (written to a private temporary file, then linked into place,
    which fails if another process got there first — then theirs is read)."""
    path = home / "secret.key"
    for _ in range(2):
        try:
            key = path.read_bytes().strip()
        except FileNotFoundError:
            key = b""
        if key:
            return key
        fd, temporary = tempfile.mkstemp(prefix=".secret-", dir=home)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, secrets.token_hex(32).encode() + b"\n")
            os.fsync(fd)
            os.close(fd)
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass
        finally:
            os.unlink(temporary)
    raise RuntimeError(f"{path} exists but is empty; remove it to make a new secret")


def _signature(key: bytes, op: str, expires: int, user: str, path: str) -> str:
    message = f"{op}\n{expires}\n{user}\n{path}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _data_url(base: str, space: _Space, op: str, user: str, path: str, lifetime: int) -> str:
    expires = int(time.time()) + lifetime
    sig = _signature(space.key, op, expires, user, path)
    return f"{base}/vospace/data/{op}/{expires}/{sig}/{quote(user)}/{quote(path)}"


# -- the edge: identity, faults, URLs ---------------------------------------------------------


def _base_url(request: Request, svc: Services) -> str:
    return (svc.settings.base_url or str(request.base_url)).rstrip("/")


def _plain(text: str, status: int = 200) -> Response:
    return Response(text, status_code=status, media_type="text/plain; charset=utf-8")


def _xml(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type=_XML)


def _faults(func):  # type: ignore[no-untyped-def]
    """Answer a handler's domain errors as VOSpace faults: text/plain, fault name first."""

    @functools.wraps(func)
    async def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return await func(*args, **kwargs)
        except DataLabError as exc:
            error = as_fault(exc)
            headers = {}
            if error.status_code == 401:
                headers["WWW-Authenticate"] = 'Bearer, Basic realm="Data Lab"'
            return Response(
                error.message + "\n",
                status_code=error.status_code,
                media_type="text/plain; charset=utf-8",
                headers=headers,
            )

    return wrapper


def _caller(request: Request, svc: Services) -> str:
    """The authenticated user (whose home exists from now on); 401 for anyone else."""
    who = identify(request)
    if who.user is None:
        error = fault("PermissionDenied", "log in first: VOSpace needs a Bearer token or "
                      "Basic credentials")
        error.status_code = 401
        raise error
    svc.storage.ensure_user(who.user)
    return who.user


def _address(path: str) -> NodeAddress:
    return split_node_path(path, decoded=True)


def _stat(storage: Storage, user: str, address: NodeAddress, uri: str) -> Node:
    """The node at ``address``, with ContainerNotFound / LinkFound for a broken parent."""
    try:
        return storage.stat(user, address.path)
    except NotFoundError:
        pass
    _check_parents(storage, user, address, uri)
    raise fault("NodeNotFound", uri)


def _check_parents(storage: Storage, user: str, address: NodeAddress, uri: str) -> None:
    """ContainerNotFound if an ancestor is missing, LinkFound if one is a link (§5.3.1)."""
    parts = address.path.split("/")[:-1] if address.path else []
    walked = ""
    for part in parts:
        walked = f"{walked}/{part}" if walked else part
        try:
            node = storage.stat(user, walked)
        except NotFoundError:
            raise fault("ContainerNotFound", f"{uri}: {walked} does not exist") from None
        if node.type is NodeType.LINK:
            raise fault("LinkFound", f"{uri}: {walked} is a link to {node.target}")
        if node.type is not NodeType.CONTAINER:
            raise fault("ContainerNotFound", f"{uri}: {walked} is not a container")


def _target_for_storage(target: str, user: str, space: _Space) -> str:
    """A link target as the storage keeps it: ``vos://path`` in the same space, or a URL."""
    if target.lower().startswith("vos:"):
        address = parse_node_uri(target, space.authority)
        if address.user != user:
            raise fault("PermissionDenied", f"{target}: links may point only to your own nodes "
                        "or to http(s) URLs")
        return f"vos://{address.path}"
    if target.lower().startswith(("http://", "https://")):
        return target
    raise fault("InvalidArgument", f"link target {target!r}: give a vos:// URI or an http(s) URL")


def _target_for_client(node: Node, user: str, space: _Space) -> Node:
    if node.type is NodeType.LINK and node.target and node.target.lower().startswith("vos:"):
        path = node.target[4:].lstrip("/")
        target = node_uri(space.authority, NodeAddress(user, path))
        return replace(node, target=target)
    return node


# -- service metadata ------------------------------------------------------------------------


@router.get("/protocols", summary="The transfer protocols of this VOSpace (§5.2.1)")
def get_protocols() -> Response:
    # It serves HTTP GET and PUT endpoints; it fetches nothing itself (no pullToVoSpace).
    return _xml(vospace_xml.protocols_document((), (HTTPGET, HTTPPUT, HTTPSGET, HTTPSPUT)))


@router.get("/views", summary="The views of this VOSpace (§5.2.2)")
def get_views() -> Response:
    return _xml(
        vospace_xml.views_document(
            (vospace_xml.ANY_VIEW,), (vospace_xml.DEFAULT_VIEW, vospace_xml.BINARY_VIEW)
        )
    )


@router.get("/properties", summary="The properties of this VOSpace (§5.2.3)")
def get_properties() -> Response:
    accepts = _ACCEPTED_PROPERTIES
    provides = _PROVIDED_PROPERTIES
    return _xml(vospace_xml.properties_document(accepts, provides, (*provides, *accepts)))


@router.get("/capabilities", summary="VOSI capabilities of the VOSpace service")
def get_capabilities(request: Request, svc: Services = Depends(services)) -> Response:
    return _xml(vospace_xml.capabilities_document(f"{_base_url(request, svc)}/vospace"))


@router.get("/availability", summary="VOSI availability")
def get_availability(svc: Services = Depends(services)) -> Response:
    from datalab.web import vosi

    return _xml(vosi.availability_document(True, up_since=svc.started))


# -- nodes ------------------------------------------------------------------------------------


@router.get("/nodes", summary="The root of the space: the caller's home container")
@router.get("/nodes/{path:path}", summary="getNode: a node's document; a container's children")
@_faults
async def get_node(
    request: Request, path: str = "", svc: Services = Depends(services)
) -> Response:
    user = _caller(request, svc)
    space = _space(request, svc)
    address = _address(path)
    params = {k.lower(): v for k, v in request.query_params.items()}
    detail = (params.get("detail") or "max").strip().lower()
    if detail not in ("min", "max", "properties"):
        raise fault("InvalidArgument", f"detail={detail!r}: use min, max or properties")
    limit = _limit(params.get("limit"))
    uri = node_uri(space.authority, address)
    if address.user is None:
        home = svc.storage.stat(user, "")
        child = node_uri(space.authority, NodeAddress(user))
        children = [] if limit == 0 else [(child, home)]
        return _xml(vospace_xml.node_document(None, uri, detail=detail, children=children))
    require_read(address, user)
    node = await anyio.to_thread.run_sync(_stat, svc.storage, user, address, uri)
    node = _target_for_client(node, user, space)
    children: list[tuple[str, Node | None]] = []
    if node.type is NodeType.CONTAINER and detail != "properties":
        start = params.get("uri")
        listed = await anyio.to_thread.run_sync(
            _page, svc.storage, user, address, space, start, limit
        )
        children = [
            (node_uri(space.authority, address.child(c.name)), _target_for_client(c, user, space))
            for c in listed
        ]
    return _xml(
        vospace_xml.node_document(
            node,
            uri,
            detail=detail,
            children=children,
            busy=(user, address.path) in space.busy,
        )
    )


def require_read(address: NodeAddress, user: str) -> None:
    if address.user != user:
        raise fault("PermissionDenied", f"{address.uri_path} belongs to another user")


def _limit(value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        limit = int(value)
    except ValueError:
        raise fault("InvalidArgument", f"limit={value!r} is not a whole number") from None
    if limit < 0:
        raise fault("InvalidArgument", f"limit={limit} is negative")
    return limit


def _page(
    storage: Storage,
    user: str,
    address: NodeAddress,
    space: _Space,
    start: str | None,
    limit: int | None,
) -> list[Node]:
    """A container's children in name order, from the child ``start`` names (inclusive,
    §5.4.1) and at most ``limit`` of them."""
    if limit == 0:
        return []
    if not start:
        return list(storage.list(user, address.path, limit=limit))
    first = parse_node_uri(start, space.authority)
    if first.user != user or first.parent() != address:
        raise fault("InvalidURI", f"uri={start}: not a child of {node_uri(space.authority, address)}")
    page: list[Node] = []
    try:
        page.append(storage.stat(user, first.path))
    except NotFoundError:
        pass
    rest = None if limit is None else limit - len(page)
    if rest != 0:
        page.extend(storage.list(user, address.path, limit=rest, after=first.name))
    return page


@router.put("/nodes/{path:path}", status_code=201, summary="createNode (§5.3.1)")
@_faults
async def create_node(path: str, request: Request, svc: Services = Depends(services)) -> Response:
    user = _caller(request, svc)
    space = _space(request, svc)
    address = _address(path)
    uri = node_uri(space.authority, address)
    template = vospace_xml.parse_node(await _body(request))
    given = parse_node_uri(template.uri, space.authority)
    if given != address:
        raise fault("InvalidURI", f"the document's uri {template.uri} is not the node of the "
                    f"request's path ({uri})")
    if address.user is None or address.user != user:
        raise fault("PermissionDenied", f"{user} may create nodes only under {user}/")
    if not address.path:
        raise fault("DuplicateNode", uri)
    _refuse_read_only(template.properties)
    node = await anyio.to_thread.run_sync(_create, svc.storage, user, address, uri, template, space)
    node = _target_for_client(node, user, space)
    return _xml(vospace_xml.node_document(node, uri), status=201)


def _create(
    storage: Storage,
    user: str,
    address: NodeAddress,
    uri: str,
    template: vospace_xml.NodeTemplate,
    space: _Space,
) -> Node:
    _check_parents(storage, user, address, uri)
    try:
        storage.stat(user, address.path)
    except NotFoundError:
        pass
    else:
        raise fault("DuplicateNode", uri)
    try:
        if template.type is NodeType.CONTAINER:
            storage.mkdir(user, address.path)
        elif template.type is NodeType.LINK:
            if not template.target:
                raise fault("InvalidArgument", "a LinkNode needs a <vos:target>")
            storage.link(user, address.path, _target_for_storage(template.target, user, space))
        else:
            storage.write(user, address.path, [b""], overwrite=False)
        values = {k: v for k, v in template.properties.items() if v is not None}
        if values:
            return storage.set_properties(user, address.path, values) or storage.stat(
                user, address.path
            )
        return storage.stat(user, address.path)
    except DataLabError as exc:
        raise as_fault(exc, missing="ContainerNotFound") from exc


def _refuse_read_only(properties: dict[str, str | None]) -> None:
    for key in properties:
        if key in READ_ONLY_PROPERTIES:
            raise fault("PermissionDenied", f"the property {key} is read-only")


@router.post("/nodes/{path:path}", summary="setNode: add, change or delete properties (§5.4.2)")
@_faults
async def set_node(path: str, request: Request, svc: Services = Depends(services)) -> Response:
    user = _caller(request, svc)
    space = _space(request, svc)
    address = _address(path)
    uri = node_uri(space.authority, address)
    template = vospace_xml.parse_node(await _body(request))
    if parse_node_uri(template.uri, space.authority) != address:
        raise fault("InvalidURI", f"the document's uri {template.uri} is not {uri}")
    require_read(address, user)
    _refuse_read_only(template.properties)

    def work() -> Node:
        _stat(svc.storage, user, address, uri)
        if template.properties:
            try:
                svc.storage.set_properties(user, address.path, template.properties)
            except DataLabError as exc:
                raise as_fault(exc) from exc
        return svc.storage.stat(user, address.path)

    node = await anyio.to_thread.run_sync(work)
    node = _target_for_client(node, user, space)
    children: list[tuple[str, Node | None]] = []
    if node.type is NodeType.CONTAINER:
        listed = await anyio.to_thread.run_sync(_page, svc.storage, user, address, space, None, None)
        children = [(node_uri(space.authority, address.child(c.name)), c) for c in listed]
    return _xml(vospace_xml.node_document(node, uri, children=children))


@router.delete("/nodes/{path:path}", status_code=204, summary="deleteNode (§5.3.4)")
@_faults
async def delete_node(path: str, request: Request, svc: Services = Depends(services)) -> Response:
    user = _caller(request, svc)
    space = _space(request, svc)
    address = _address(path)
    uri = node_uri(space.authority, address)
    require_own(address, user)
    if not address.path:
        raise fault("PermissionDenied", f"{uri} is {user}'s home and cannot be deleted")

    def work() -> None:
        _stat(svc.storage, user, address, uri)
        try:
            svc.storage.delete(user, address.path, recursive=True)
        except DataLabError as exc:
            raise as_fault(exc) from exc

    await anyio.to_thread.run_sync(work)
    return Response(status_code=204)


async def _body(request: Request) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_DOCUMENT:
            raise fault("InvalidArgument", f"the document is larger than {_MAX_DOCUMENT} bytes")
    return body


# -- transfers: negotiation ----------------------------------------------------------------


def _negotiate(
    transfer: Transfer, user: str, base: str, space: _Space, storage: Storage
) -> Transfer:
    """The transfer result of a pushToVoSpace or pullFromVoSpace request: the protocols
    asked for that we serve, each with a signed endpoint (§3.7.4)."""
    if transfer.direction not in (PUSH_TO, PULL_FROM):
        raise fault("OperationNotSupported", f"direction {transfer.direction}: this service "
                    "negotiates pushToVoSpace and pullFromVoSpace, and moves or copies nodes")
    if transfer.view and transfer.view not in (
        vospace_xml.ANY_VIEW, vospace_xml.BINARY_VIEW, vospace_xml.DEFAULT_VIEW
    ):
        raise fault("ViewNotSupported", transfer.view)
    check_external(storage, user, space.authority, transfer)
    address = parse_node_uri(transfer.target, space.authority)
    op, offered = (
        ("put", _PUT_PROTOCOLS) if transfer.direction == PUSH_TO else ("get", _GET_PROTOCOLS)
    )
    secure = base.startswith("https://")
    protocols = []
    for asked in transfer.protocols:
        if asked.uri not in offered or (asked.uri in (HTTPSGET, HTTPSPUT)) != secure:
            continue  # §3.7.4: ignore what we cannot serve on this base URL
        url = _data_url(base, space, op, user, address.path, ENDPOINT_LIFETIME)
        protocols.append(Protocol(asked.uri, url, asked.security))
    if not protocols:
        served = ", ".join(p for p in offered if (p in (HTTPSGET, HTTPSPUT)) == secure)
        raise fault("ProtocolNotSupported", f"none of the requested protocols can be served "
                    f"here; use {served}")
    return replace(
        transfer, target=node_uri(space.authority, address), protocols=tuple(protocols)
    )


def _transfer_from_parameters(params: dict[str, list[str]]) -> Transfer:
    """The 2.1 URL-parameter form of a synchronous transfer (§3.7.2)."""

    def one(name: str) -> str:
        values = params.get(name) or []
        if len(values) != 1 or not values[0].strip():
            raise fault("InvalidArgument", f"give exactly one {name.upper()} parameter")
        return values[0].strip()

    target, direction, protocol = one("target"), one("direction"), one("protocol")
    if direction not in (PUSH_TO, PULL_FROM):
        raise fault("InvalidArgument", f"DIRECTION={direction}: the parameter form allows "
                    "pushToVoSpace and pullFromVoSpace only")
    security = tuple(v for v in params.get("securitymethod", []) if v.strip())
    views = params.get("view") or []
    return Transfer(target, direction, views[0] if views else None,
                    (Protocol(protocol, None, security),))


@router.api_route("/synctrans", methods=["GET", "POST"], summary="Synchronous transfers (§5.5)")
@_faults
async def sync_transfer(request: Request, svc: Services = Depends(services)) -> Response:
    user = _caller(request, svc)
    space = _space(request, svc)
    base = _base_url(request, svc)
    params: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        params.setdefault(name.lower(), []).append(value)
    body = await _body(request) if request.method == "POST" else b""
    content_type = request.headers.get("content-type", "")
    if body and "form" in content_type:
        from urllib.parse import parse_qsl

        for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
            params.setdefault(name.lower(), []).append(value)
        body = b""
    if not body.strip():
        # The parameter form: the transfer document is the answer, or a redirect to it.
        transfer = _transfer_from_parameters(params)
        result = await anyio.to_thread.run_sync(
            _negotiate, transfer, user, base, space, svc.storage
        )
        redirect = (params.get("request") or [""])[0].strip().lower() == "redirect"
        if redirect and transfer.direction == PULL_FROM:
            return RedirectResponse(result.protocols[0].endpoint or "", status_code=303)
        return _xml(vospace_xml.transfer_document(result))
    transfer = vospace_xml.parse_transfer(body)
    job = await _create_transfer_job(transfer, user, base, space, svc)
    svc.runner.run(job.job_id)
    await _wait_final(svc, job.job_id, _SYNC_WAIT)
    return RedirectResponse(
        f"{_transfers_url(request, svc)}/{job.job_id}/results/transferDetails", status_code=303
    )


@router.get("/files/{path:path}", summary="A node's bytes: a redirect to a signed download URL")
@_faults
async def get_file(path: str, request: Request, svc: Services = Depends(services)) -> Response:
    """The same answer as a pullFromVoSpace in the parameter form with REQUEST=redirect,
    for the node ``vos://<authority>!vospace/<path>``."""
    user = _caller(request, svc)
    space = _space(request, svc)
    base = _base_url(request, svc)
    secure = base.startswith("https:")
    transfer = Transfer(
        f"vos://{space.authority}!vospace/{path}",
        PULL_FROM,
        None,
        (Protocol(HTTPSGET if secure else HTTPGET, None, ()),),
    )
    result = await anyio.to_thread.run_sync(_negotiate, transfer, user, base, space, svc.storage)
    return RedirectResponse(result.protocols[0].endpoint or "", status_code=303)


async def _create_transfer_job(
    transfer: Transfer, user: str, base: str, space: _Space, svc: Services
) -> Job:
    """A PENDING transfer job. An external transfer is negotiated now; its result (or
    the fault that stopped it) waits in the job's directory for the run (see the kind)."""
    job = svc.jobs.create(KIND, user, transfer.parameters())
    if not transfer.internal:
        directory = svc.jobs.job_dir(job.job_id)
        directory.mkdir(parents=True, exist_ok=True)
        try:
            result = await anyio.to_thread.run_sync(
                _negotiate, transfer, user, base, space, svc.storage
            )
        except DataLabError as exc:
            (directory / FAULT_FILE).write_text(as_fault(exc).message, encoding="utf-8")
        else:
            (directory / TRANSFER_DETAILS).write_bytes(vospace_xml.transfer_document(result))
    return job


async def _wait_final(svc: Services, job_id: str, timeout: float) -> Job:
    end = time.monotonic() + timeout
    job = svc.jobs.get(job_id)
    while job.phase in (Phase.PENDING, Phase.QUEUED, Phase.EXECUTING):
        remaining = end - time.monotonic()
        if remaining <= 0 or job.phase is Phase.PENDING:
            break
        job = await anyio.to_thread.run_sync(svc.runner.wait, job_id, remaining, None)
    return job


# -- transfers: UWS -----------------------------------------------------------------------------


def _transfers_url(request: Request, svc: Services) -> str:
    return f"{_base_url(request, svc)}/vospace/transfers"


def _own_job(svc: Services, job_id: str, user: str) -> Job:
    job = svc.jobs.get(job_id)
    if job.kind != KIND or job.owner != user:
        raise NotFoundError(f"no transfer {job_id!r}: it never existed or was destroyed")
    return job


@router.post("/transfers", summary="Create an asynchronous transfer (UWS job, §5.3.2)")
@_faults
async def create_transfer(request: Request, svc: Services = Depends(services)) -> Response:
    user = _caller(request, svc)
    space = _space(request, svc)
    transfer = vospace_xml.parse_transfer(await _body(request))
    job = await _create_transfer_job(transfer, user, _base_url(request, svc), space, svc)
    if (request.query_params.get("PHASE") or request.query_params.get("phase") or "").upper() == "RUN":
        svc.runner.run(job.job_id)
    return RedirectResponse(f"{_transfers_url(request, svc)}/{job.job_id}", status_code=303)


@router.get("/transfers", summary="The caller's transfers (UWS job list)")
@_faults
async def list_transfers(request: Request, svc: Services = Depends(services)) -> Response:
    user = _caller(request, svc)
    jobs = [j for j in svc.jobs.list(user) if j.kind == KIND]
    return _xml(uws_xml.job_list_document(jobs, _transfers_url(request, svc)))


@router.get("/auth/transfers/{job_id}", include_in_schema=False)  # CADC clients' spelling
@router.get("/transfers/{job_id}", summary="A transfer job (UWS 1.1, with the transfer as jobInfo)")
@_faults
async def get_transfer(job_id: str, request: Request, svc: Services = Depends(services)) -> Response:
    user = _caller(request, svc)
    job = _own_job(svc, job_id, user)
    wait = request.query_params.get("WAIT") or request.query_params.get("wait")
    if wait is not None:
        try:
            seconds = float(wait)
        except ValueError:
            raise UsageError(f"WAIT={wait!r} is not a number") from None
        seconds = _MAX_WAIT if seconds < 0 else min(seconds, _MAX_WAIT)
        if job.phase in (Phase.PENDING, Phase.QUEUED, Phase.EXECUTING):
            job = await anyio.to_thread.run_sync(svc.runner.wait, job_id, seconds, None)
    url = f"{_transfers_url(request, svc)}/{job_id}"
    return _xml(vospace_xml.transfer_job_document(job, url))


@router.post("/transfers/{job_id}", summary="Change a transfer: ACTION=DELETE, PHASE=RUN|ABORT")
@_faults
async def post_transfer(job_id: str, request: Request, svc: Services = Depends(services)) -> Response:
    user = _caller(request, svc)
    _own_job(svc, job_id, user)
    values = await _form(request)
    if values.get("action", "").upper() == "DELETE":
        svc.runner.delete(job_id)
        return RedirectResponse(_transfers_url(request, svc), status_code=303)
    if "phase" in values:
        _change_phase(svc, job_id, values["phase"])
    return RedirectResponse(f"{_transfers_url(request, svc)}/{job_id}", status_code=303)


@router.delete("/transfers/{job_id}", summary="Delete a transfer job")
@_faults
async def delete_transfer(job_id: str, request: Request, svc: Services = Depends(services)) -> Response:
    user = _caller(request, svc)
    _own_job(svc, job_id, user)
    svc.runner.delete(job_id)
    return RedirectResponse(_transfers_url(request, svc), status_code=303)


@router.get("/auth/transfers/{job_id}/phase", include_in_schema=False)  # CADC clients' spelling
@router.get("/transfers/{job_id}/phase", summary="A transfer's phase")
@_faults
async def get_transfer_phase(job_id: str, request: Request, svc: Services = Depends(services)) -> Response:
    user = _caller(request, svc)
    return _plain(uws_xml.phase_text(_own_job(svc, job_id, user)))


@router.post("/transfers/{job_id}/phase", summary="Run or abort a transfer (PHASE=RUN|ABORT)")
@_faults
async def post_transfer_phase(
    job_id: str, request: Request, svc: Services = Depends(services)
) -> Response:
    user = _caller(request, svc)
    _own_job(svc, job_id, user)
    values = await _form(request)
    _change_phase(svc, job_id, values.get("phase", ""))
    return RedirectResponse(f"{_transfers_url(request, svc)}/{job_id}", status_code=303)


def _change_phase(svc: Services, job_id: str, value: str) -> None:
    wanted = value.strip().upper()
    if wanted == "RUN":
        svc.runner.run(job_id)
    elif wanted == "ABORT":
        svc.runner.abort(job_id)
    else:
        raise UsageError(f"PHASE={value!r}: a job's phase can be set to RUN or ABORT only")


@router.get("/auth/transfers/{job_id}/error", include_in_schema=False)  # CADC clients' spelling
@router.get("/transfers/{job_id}/error", summary="Why a transfer failed: its fault")
@_faults
async def get_transfer_error(job_id: str, request: Request, svc: Services = Depends(services)) -> Response:
    user = _caller(request, svc)
    job = _own_job(svc, job_id, user)
    if job.error is None:
        raise NotFoundError(f"transfer {job_id} has no error (its phase is {job.phase.value})")
    return _plain(job.error.message + "\n")


@router.get("/transfers/{job_id}/results", summary="A transfer's results (UWS XML)")
@_faults
async def get_transfer_results(
    job_id: str, request: Request, svc: Services = Depends(services)
) -> Response:
    user = _caller(request, svc)
    job = _own_job(svc, job_id, user)
    return _xml(uws_xml.results_document(job, f"{_transfers_url(request, svc)}/{job_id}"))


@router.get("/auth/transfers/{job_id}/results/transferDetails", include_in_schema=False)  # CADC clients' spelling
@router.get("/transfers/{job_id}/results/transferDetails", summary="The negotiated transfer")
@_faults
async def get_transfer_details(
    job_id: str, request: Request, svc: Services = Depends(services)
) -> Response:
    user = _caller(request, svc)
    job = _own_job(svc, job_id, user)
    path = svc.jobs.job_dir(job_id) / TRANSFER_DETAILS
    if job.phase is Phase.COMPLETED and path.is_file():
        return FileResponse(path, media_type=_XML)
    # Not (yet) available: the request without protocols (§5.5.1: "if an error occurs
    # with the synchronous convenience mode, the resulting transfer document SHOULD
    # have no protocols"); the job document says why.
    bare = replace(Transfer.from_parameters(job.parameters), protocols=())
    return _xml(vospace_xml.transfer_document(bare))


@router.get("/transfers/{job_id}/{attribute}", summary="Other UWS job attributes")
@_faults
async def get_transfer_attribute(
    job_id: str, attribute: str, request: Request, svc: Services = Depends(services)
) -> Response:
    user = _caller(request, svc)
    job = _own_job(svc, job_id, user)
    if attribute == "parameters":
        return _xml(uws_xml.parameters_document(job))
    if attribute == "owner":
        return _plain(job.owner or "")
    if attribute == "executionduration":
        return _plain(str(job.execution_duration))
    if attribute == "destruction":
        return _plain(iso_time(job.destruction))
    if attribute == "quote":
        return _plain(iso_time(job.quote) if job.quote else "")
    raise NotFoundError(f"a transfer job has no {attribute!r}")


async def _form(request: Request) -> dict[str, str]:
    values = {k.lower(): v for k, v in request.query_params.items()}
    body = await _body(request)
    if body:
        from urllib.parse import parse_qsl

        for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
            values[name.lower()] = value
    return values


# -- data endpoints ----------------------------------------------------------------------------


def _check_signature(space: _Space, op: str, expires: str, sig: str, user: str, path: str) -> None:
    try:
        when = int(expires)
    except ValueError:
        raise fault("PermissionDenied", "this data URL is malformed") from None
    expected = _signature(space.key, op, when, user, path)
    if not hmac.compare_digest(expected, sig):
        raise fault("PermissionDenied", "this data URL's signature is not valid")
    if when < time.time():
        raise fault("PermissionDenied", "this data URL has expired: negotiate a new transfer")


@router.get("/data/get/{expires}/{sig}/{user}/{path:path}", summary="Read a node's bytes")
@_faults
async def read_data(
    expires: str, sig: str, user: str, path: str, request: Request,
    svc: Services = Depends(services),
) -> Response:
    space = _space(request, svc)
    _check_signature(space, "get", expires, sig, user, path)
    node = await anyio.to_thread.run_sync(svc.storage.stat, user, path)
    if node.type is not NodeType.DATA:
        raise fault("InvalidArgument", f"{path} is a {node.type.value} node, not data")
    local = await anyio.to_thread.run_sync(svc.storage.local_file, user, path)
    headers = {"Content-MD5": base64.b64encode(bytes.fromhex(node.md5)).decode()} if node.md5 else {}
    return FileResponse(
        local, media_type="application/octet-stream", filename=node.name, headers=headers,
        content_disposition_type="inline",
    )


@router.put("/data/put/{expires}/{sig}/{user}/{path:path}", summary="Write a node's bytes")
@_faults
async def write_data(
    expires: str, sig: str, user: str, path: str, request: Request,
    svc: Services = Depends(services),
) -> Response:
    space = _space(request, svc)
    _check_signature(space, "put", expires, sig, user, path)
    key = (user, path)
    if key in space.busy:
        raise fault("NodeBusy", f"{path} is being written by another transfer")
    space.busy.add(key)
    try:
        stream = request.stream().__aiter__()

        async def next_chunk() -> bytes | None:
            try:
                return await stream.__anext__()
            except StopAsyncIteration:
                return None

        def chunks() -> Iterator[bytes]:
            while True:
                chunk = anyio.from_thread.run(next_chunk)
                if chunk is None:
                    return
                if chunk:
                    yield chunk

        def write() -> Node:
            try:
                return svc.storage.write(user, path, chunks())
            except DataLabError as exc:
                raise as_fault(exc, missing="ContainerNotFound") from exc

        node = await anyio.to_thread.run_sync(write)
    finally:
        space.busy.discard(key)
    headers = {"ETag": f'"{node.md5}"'} if node.md5 else {}
    return Response(status_code=201, headers=headers)
