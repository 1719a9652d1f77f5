"""The Data Lab storage service (``/storage``) as the official client and ours speak it.

Each user's ``vos://`` file space, through GETs with query parameters and plain-text
answers, with the status codes the official client compares: ``rm``/``rmdir`` 204,
``mkdir``/``ln`` 201, ``cp``/``mv`` a body saying ``COMPLETED``, ``isdir``/``access``
``true`` or ``false``, ``stat`` a JSON object.

File bytes travel apart from the calls: ``/put`` and ``/get`` answer with a URL,
``<base>/storage/file/<ticket>``, that the client then PUTs the file to or GETs it
from. The official client's GET carries no headers at all, so the URL carries its own
authorisation: the ticket names the operation, the user and the path, expires after
an hour, and is signed (HMAC-SHA256) with a secret kept in the data directory
(``secret.key``, owner-only). A signed ticket cannot be turned into another user's or
another file's, nor a download into an upload. Uploads stream into the storage layer
(atomic, quota-checked); downloads honour ``Range`` so a cut download can resume.

``POST /storage/xfer`` is the official client's chunked upload for myDB imports: the
chunks of one file land in a private staging folder of the user, outside vos://, where
``/query/import?filename=<name>`` finds them.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import anyio.from_thread
import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response
from starlette.requests import ClientDisconnect

from datalab.accounts import AuthenticationError
from datalab.config import Settings
from datalab.errors import (
    ConflictError,
    DataLabError,
    NotFoundError,
    PermissionDeniedError,
    UsageError,
)
from datalab.storage import Node, NodeType, Storage, parse_vos_path
from datalab.web.context import Services, services
from datalab.web.identity import Identity, identity

__all__ = ["TICKET_LIFETIME", "router", "xfer_file"]

router = APIRouter(prefix="/storage", tags=["Data Lab storage"])

# Seconds a /put or /get URL stays usable.
TICKET_LIFETIME = 3600

_XFER_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,199}$")


def text(body: str, status: int = 200) -> Response:
    return PlainTextResponse(body, status_code=status)


def boolean(value: bool) -> Response:
    return text("true" if value else "false")


def _user(who: Identity) -> str:
    if who.user is None:
        raise AuthenticationError("log in first")
    return who.user


def _storage(svc: Services) -> Storage:
    return svc.storage


def vos_path(name: str | None) -> str:
    """A client's ``vos://a/b`` (or bare ``a/b``, as the official client allows) as a
    path relative to the user's root. ``vos:///a`` is ``vos://a``: the official client
    writes the root of a wildcard expansion that way."""
    name = (name or "").strip()
    if "://" not in name:
        name = "vos://" + name
    scheme, _, rest = name.partition("://")
    if scheme.lower() != "vos":
        raise UsageError(f"{name!r} is not a vos:// path")
    return parse_vos_path("vos://" + rest.lstrip("/"))


def _uri(path: str) -> str:
    return f"vos://{path}"


def _name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


async def _run(func: Any, *args: Any) -> Any:
    return await anyio.to_thread.run_sync(lambda: func(*args))


async def _stat_or_none(storage: Storage, user: str, path: str) -> Node | None:
    try:
        return await _run(storage.stat, user, path)  # type: ignore[no-any-return]
    except NotFoundError:
        return None


def _node_json(node: Node) -> dict[str, object]:
    return {
        "name": _name(node.path) if node.path else "",
        "path": _uri(node.path),
        "type": node.type.value,
        "size": node.size,
        "md5": node.md5,
        "modified": node.modified.isoformat(),
        "target": node.target,
        "properties": dict(node.properties),
    }


def _long_line(node: Node) -> str:
    kind = {NodeType.CONTAINER: "d", NodeType.LINK: "l"}.get(node.type, "-")
    name = _name(node.path) + ("/" if node.type == NodeType.CONTAINER else "")
    if node.type == NodeType.LINK and node.target is not None:
        name += f" -> {node.target}"
    when = node.modified.strftime("%Y-%m-%d %H:%M")
    return f"{kind} {node.size:>12} {when} {name}"


# -- signed tickets for /put and /get URLs -------------------------------------------------


def _secret(request: Request, settings: Settings) -> bytes:
    """The server's signing secret: ``<home>/secret.key``, made (mode 0600) on first use.

    Written to a temporary file and linked into place, so that two processes starting
    at once agree on one secret and nobody reads a half-written one.
    """
    cached: bytes | None = getattr(request.app.state, "storage_secret", None)
    if cached is not None:
        return cached
    path = settings.paths().home / "secret.key"
    if not path.exists():
        scratch = path.with_name(f".secret.key.{os.getpid()}.{time.monotonic_ns()}")
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with open(fd, "wb") as out:
                out.write(os.urandom(32).hex().encode())
            with contextlib.suppress(FileExistsError):
                os.link(scratch, path)
        finally:
            scratch.unlink()
    secret = path.read_bytes().strip()
    if len(secret) < 32:
        raise DataLabError(f"the signing secret {path} is too short; delete it to make a new one")
    request.app.state.storage_secret = secret
    return secret


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def make_ticket(
    secret: bytes, op: str, user: str, path: str, lifetime: int = TICKET_LIFETIME
) -> str:
    """A signed ticket letting its bearer ``op`` (get or put) ``user``'s ``path``."""
    payload = _b64(json.dumps(
        {"op": op, "u": user, "p": path, "exp": int(time.time()) + lifetime},
        separators=(",", ":"),
    ).encode())
    signature = hmac.new(secret, payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(signature)}"


def check_ticket(secret: bytes, ticket: str, op: str) -> tuple[str, str]:
    """(user, path) of a valid ticket for ``op``; PermissionDeniedError otherwise."""
    refused = PermissionDeniedError("this file URL is invalid or has expired: ask for a new one")
    payload, _, signature = ticket.partition(".")
    try:
        given = _unb64(signature)
    except (binascii.Error, ValueError):
        raise refused from None
    expected = hmac.new(secret, payload.encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(given, expected):
        raise refused
    try:
        claims = json.loads(_unb64(payload))
        user, path, kind, expires = claims["u"], claims["p"], claims["op"], claims["exp"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise refused from None
    if kind != op or not isinstance(expires, int) or expires < time.time():
        raise refused
    return str(user), str(path)


def _file_url(request: Request, settings: Settings, ticket: str) -> str:
    base = (settings.base_url or str(request.base_url)).rstrip("/")
    return f"{base}/storage/file/{ticket}"


# -- the calls ---------------------------------------------------------------------------


@router.get("", summary="Liveness, as the client checks it")
def alive() -> Response:
    return text("Hello World")


@router.get("/ls", summary="List a folder: names (format=csv), one a line (ascii), "
            "long lines (long) or JSON (raw)")
async def ls(
    name: str = "vos://", format: str = "csv",  # noqa: A002 - the protocol's name
    svc: Services = Depends(services), who: Identity = Depends(identity),
) -> Response:
    user, path, storage = _user(who), vos_path(name), _storage(svc)
    node = await _run(storage.stat, user, path)
    if node.type == NodeType.LINK and node.target is not None and await _is_dir(
            storage, user, path):
        path = vos_path(node.target)
        node = await _run(storage.stat, user, path)
    if node.type == NodeType.CONTAINER:
        nodes: list[Node] = await _run(storage.list, user, path)
    else:
        nodes = [node]
    fmt = format.strip().lower()
    if fmt == "csv":
        return text(",".join(_name(n.path) for n in nodes))
    if fmt == "raw":
        return Response(json.dumps([_node_json(n) for n in nodes]), media_type="application/json")
    if fmt == "long":
        return text("\n".join(_long_line(n) for n in nodes))
    return text("\n".join(
        _name(n.path) + ("/" if n.type == NodeType.CONTAINER else "") for n in nodes))


async def _is_dir(storage: Storage, user: str, path: str) -> bool:
    """Whether ``path`` is a folder, or a link to one (followed once)."""
    node = await _stat_or_none(storage, user, path)
    if node is not None and node.type == NodeType.LINK and (node.target or "").startswith(
            "vos://"):
        node = await _stat_or_none(storage, user, node.target or "")
    return node is not None and node.type == NodeType.CONTAINER


@router.get("/isdir", summary="Whether a path is a folder: true or false")
async def isdir(
    name: str = "", svc: Services = Depends(services), who: Identity = Depends(identity)
) -> Response:
    return boolean(await _is_dir(_storage(svc), _user(who), vos_path(name)))


@router.get("/access", summary="Whether a path exists for you: true or false")
async def access(
    name: str = "", mode: str = "", svc: Services = Depends(services),
    who: Identity = Depends(identity),
) -> Response:
    user, path, storage = _user(who), vos_path(name), _storage(svc)
    if await _stat_or_none(storage, user, path) is not None:
        return boolean(True)
    # A file that does not exist yet may be written where its folder exists.
    parent = path.rsplit("/", 1)[0] if "/" in path else ""
    return boolean("w" in mode.lower() and await _is_dir(storage, user, parent))


@router.get("/stat", summary="A path's type, size, md5, time, link target and tags (JSON)")
async def stat(
    name: str = "", svc: Services = Depends(services), who: Identity = Depends(identity)
) -> Response:
    node = await _run(_storage(svc).stat, _user(who), vos_path(name))
    return Response(json.dumps(_node_json(node)), media_type="application/json")


@router.get("/put", summary="A URL to PUT a file's bytes to (valid for an hour)")
async def put(
    request: Request, name: str = "", svc: Services = Depends(services),
    who: Identity = Depends(identity),
) -> Response:
    user, path, storage = _user(who), vos_path(name), _storage(svc)
    if not path:
        raise UsageError("give the file's name: vos://name")
    if await _is_dir(storage, user, path):
        raise ConflictError(f"{_uri(path)} is a folder; data cannot be uploaded to a container")
    ticket = make_ticket(_secret(request, svc.settings), "put", user, path)
    return text(_file_url(request, svc.settings, ticket))


@router.get("/get", summary="A URL to GET a file's bytes from (valid for an hour)")
async def get(
    request: Request, name: str = "", svc: Services = Depends(services),
    who: Identity = Depends(identity),
) -> Response:
    user, path, storage = _user(who), vos_path(name), _storage(svc)
    if await _is_dir(storage, user, path):
        raise UsageError(f"{_uri(path)} is a folder; get its files (vos://…/*)")
    await _run(storage.stat, user, path)  # 404 for a missing file
    ticket = make_ticket(_secret(request, svc.settings), "get", user, path)
    return text(_file_url(request, svc.settings, ticket))


@router.api_route("/file/{ticket}", methods=["GET", "HEAD"],
                  summary="A file's bytes (Range requests resume a cut download)")
async def download(ticket: str, request: Request, svc: Services = Depends(services)) -> Response:
    user, path = check_ticket(_secret(request, svc.settings), ticket, "get")
    local: Path = await _run(_storage(svc).local_file, user, path)
    return FileResponse(local, media_type="application/octet-stream", filename=_name(path),
                        content_disposition_type="attachment")


@router.put("/file/{ticket}", summary="Store a file's bytes (streamed; replaces it at once "
            "when complete, never half-written)")
async def upload(ticket: str, request: Request, svc: Services = Depends(services)) -> Response:
    user, path = check_ticket(_secret(request, svc.settings), ticket, "put")
    length = request.headers.get("content-length")
    expected = int(length) if length and length.isdigit() else None
    body = request.stream().__aiter__()

    def chunks() -> Iterator[bytes]:
        received = 0
        while True:
            try:
                chunk = anyio.from_thread.run(body.__anext__)
            except StopAsyncIteration:
                break
            except ClientDisconnect:
                raise UsageError("the upload ended before the file was complete") from None
            received += len(chunk)
            if chunk:
                yield chunk
        if expected is not None and received != expected:
            raise UsageError(f"the upload ended after {received} of {expected} bytes")

    node = await anyio.to_thread.run_sync(lambda: _storage(svc).write(user, path, chunks()))
    return text(f"OK {node.size}", 201)


@router.get("/rm", summary="Delete a file (204)")
async def rm(
    file: str = "", name: str = "", svc: Services = Depends(services),
    who: Identity = Depends(identity),
) -> Response:
    user, path, storage = _user(who), vos_path(file or name), _storage(svc)
    if not path:
        raise PermissionDeniedError("the root folder cannot be deleted")
    node = await _run(storage.stat, user, path)
    if node.type == NodeType.CONTAINER:
        raise UsageError(f"{_uri(path)} is a folder: use rmdir")
    await _run(storage.delete, user, path)
    return Response(status_code=204)


@router.get("/mkdir", summary="Create a folder (201)")
async def mkdir(
    dir: str = "", name: str = "", svc: Services = Depends(services),  # noqa: A002
    who: Identity = Depends(identity),
) -> Response:
    user, path = _user(who), vos_path(dir or name)
    if not path:
        raise ConflictError("vos:// (your root folder) exists already")
    await _run(_storage(svc).mkdir, user, path)
    return text("OK", 201)


@router.get("/rmdir", summary="Delete an empty folder (204)")
async def rmdir(
    dir: str = "", name: str = "", svc: Services = Depends(services),  # noqa: A002
    who: Identity = Depends(identity),
) -> Response:
    user, path, storage = _user(who), vos_path(dir or name), _storage(svc)
    if not path:
        raise PermissionDeniedError("the root folder cannot be deleted")
    node = await _run(storage.stat, user, path)
    if node.type != NodeType.CONTAINER:
        raise UsageError(f"{_uri(path)} is not a folder: use rm")
    await _run(storage.delete, user, path)
    return Response(status_code=204)


@router.get("/cp", summary="Copy a file or folder; answers COMPLETED")
async def cp(
    request: Request, svc: Services = Depends(services), who: Identity = Depends(identity)
) -> Response:
    user, storage = _user(who), _storage(svc)
    source = vos_path(request.query_params.get("from"))
    node: Node = await _run(storage.copy, user, source, vos_path(request.query_params.get("to")))
    return text(f"COMPLETED {_uri(source)} -> {_uri(node.path)}")


@router.get("/mv", summary="Move or rename a file or folder; answers COMPLETED")
async def mv(
    request: Request, svc: Services = Depends(services), who: Identity = Depends(identity)
) -> Response:
    user, storage = _user(who), _storage(svc)
    source = vos_path(request.query_params.get("from"))
    if not source:
        raise PermissionDeniedError("the root folder cannot be moved")
    node: Node = await _run(storage.move, user, source, vos_path(request.query_params.get("to")))
    return text(f"COMPLETED {_uri(source)} -> {_uri(node.path)}")


@router.get("/ln", summary="Make a link from= pointing to to= (201)")
async def ln(
    request: Request, svc: Services = Depends(services), who: Identity = Depends(identity)
) -> Response:
    user = _user(who)
    link = vos_path(request.query_params.get("from"))
    target = (request.query_params.get("to") or "").strip()
    if not target.lower().startswith(("http://", "https://")):
        target = _uri(vos_path(target))
    await _run(_storage(svc).link, user, link, target)
    return text("OK", 201)


@router.get("/tag", summary="Tag a path (an empty tag removes it)")
async def tag(
    name: str = "", tag: str = "", svc: Services = Depends(services),
    who: Identity = Depends(identity),
) -> Response:
    user, path = _user(who), vos_path(name)
    await _run(_storage(svc).set_properties, user, path, {"tag": tag or None})
    return text("OK")


@router.get("/load", summary="Fetch a URL into a file (hosts allowed by the site only)")
async def load(
    name: str = "", endpoint: str = "", svc: Services = Depends(services),
    who: Identity = Depends(identity),
) -> Response:
    user, path, storage = _user(who), vos_path(name), _storage(svc)
    parts = urlsplit(endpoint)
    allowed = svc.settings.tap_upload_url_hosts
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError("give an http:// or https:// endpoint")
    if parts.hostname not in allowed:
        raise PermissionDeniedError(
            f"this site does not fetch files from {parts.hostname}; allowed hosts: "
            f"{', '.join(allowed) or 'none'} (setting tap_upload_url_hosts)")
    if await _is_dir(storage, user, path):
        path = f"{path}/{_name(parts.path) or 'download'}" if path else (
            _name(parts.path) or "download")

    def fetch() -> Node:
        try:
            with httpx.stream("GET", endpoint, timeout=httpx.Timeout(60.0),
                              follow_redirects=False) as answer:
                if answer.status_code != 200:
                    raise UsageError(f"{endpoint} answered HTTP {answer.status_code}")
                return storage.write(user, path, answer.iter_bytes(1 << 20))
        except httpx.HTTPError as exc:
            raise UsageError(f"cannot fetch {endpoint}: {exc}") from exc

    node: Node = await anyio.to_thread.run_sync(fetch)
    return text(f"OK {_uri(node.path)}")


# -- chunked uploads for myDB imports ----------------------------------------------------------


def xfer_file(settings: Settings, user: str, name: str) -> Path:
    """Where the chunks of ``name`` sent to ``/storage/xfer`` by ``user`` are kept."""
    name = name.strip()
    if not _XFER_NAME.match(name) or ".." in name:
        raise UsageError(f"{name!r} is not a plain file name (letters, digits, _ . + -)")
    return settings.paths().tmp / "xfer" / user / name


@router.post("/xfer", summary="Receive a file in chunks (X-DL-FileName, X-DL-InitXfer), "
             "for /query/import?filename=")
async def xfer(
    request: Request, svc: Services = Depends(services), who: Identity = Depends(identity)
) -> Response:
    user = _user(who)
    target = xfer_file(svc.settings, user, request.headers.get("X-DL-FileName", ""))
    first = request.headers.get("X-DL-InitXfer", "").strip().lower() == "true"
    limit = svc.settings.tap_upload_limit
    await anyio.to_thread.run_sync(lambda: target.parent.mkdir(parents=True, exist_ok=True))
    if not first and not target.exists():
        raise NotFoundError(f"no upload {target.name!r} under way: send X-DL-InitXfer: True first")
    size = 0 if first else target.stat().st_size
    async with await anyio.open_file(target, "wb" if first else "ab") as out:
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise UsageError(f"uploads for import may hold at most {limit} bytes")
                await out.write(chunk)
        except ClientDisconnect:
            raise UsageError("the chunk ended before it was complete") from None
        except UsageError:
            await out.aclose()
            target.unlink(missing_ok=True)
            raise
    return text("OK")


@router.get("/services", summary="The storage services on offer")
def list_services() -> Response:
    return text("default\tvos:// file space of each user")


@router.get("/profiles", summary="Storage profiles (one: default)")
def profiles() -> Response:
    return text("default")
