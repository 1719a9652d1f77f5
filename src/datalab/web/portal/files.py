"""The Files page: the logged-in user's vos:// space, browsed, filled and tidied.

The page (``/portal/files?path=…``) shows one folder; its script calls the JSON routes
under ``/portal/api/files`` to list, upload, make folders, rename and delete, and
downloads come from ``/portal/files/download?path=…``. Every path a request names goes
through the storage layer's own checks (``datalab.storage``), which keep each user in
their own space; this module only turns requests into those calls.

Uploads are streamed: the one file of a multipart request goes from the socket to the
storage's atomic writer chunk by chunk (:class:`StreamedPart`), never whole in memory
and never first copied to a temporary file by the form parser, and the quota stops it
as soon as it would be passed. The page asks ``/portal/api/files/check`` first, so a
name clash or a full quota is reported before any byte travels.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from datetime import UTC
from typing import Annotated, Any

import anyio
import anyio.from_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect

from datalab.errors import UsageError
from datalab.storage import CHUNK_SIZE, Node, NodeType, Storage, parse_vos_path
from datalab.web.context import Services, services
from datalab.web.portal.pages import page
from datalab.web.portal.session import CSRF_HEADER, PortalUser, verify_csrf

__all__ = [
    "FormPart",
    "StreamedPart",
    "UploadSource",
    "router",
    "upload_source",
]

router = APIRouter(include_in_schema=False)

SVC = Annotated[Services, Depends(services)]

# Children listed per request; a larger folder is shown page by page ("Show more").
PAGE_SIZE = 500
# After the file part, what a well-formed body still holds is the closing boundary;
# more than this is not read (the answer goes out without it).
_MAX_TRAILER = 1 << 20


# -- request bodies ---------------------------------------------------------------------


class UploadSource(ABC):
    """The single file of an upload request: its name, then its bytes. Used from a
    worker thread; :meth:`open` must come first."""

    filename: str = ""

    @abstractmethod
    def open(self) -> str:
        """Read up to the file's content; its name as the browser sent it."""

    @abstractmethod
    def chunks(self) -> Iterator[bytes]:
        """The file's bytes, a piece at a time."""

    def close(self) -> None:  # noqa: B027 - a stream holds nothing to release
        """Release what the source holds."""


class StreamedPart(UploadSource):
    """The first file part of a ``multipart/form-data`` body, read as it arrives.

    ``pull`` returns the next chunk of the body (None at its end); it is called from a
    worker thread and fetches from the event loop. Memory holds one body chunk.
    """

    def __init__(self, pull: Callable[[], bytes | None], content_type: str) -> None:
        kind, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise UsageError("send the file as multipart/form-data (a form with a file field)")
        self._pull = pull
        self._pending: list[bytes] = []
        self._field = bytearray()
        self._value = bytearray()
        self._disposition = ""
        self._state = "before"  # before the file part, "in" it, or "after" it
        self._finished = False
        callbacks: Any = {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._field.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self._value.extend(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }
        try:
            self._parser = MultipartParser(boundary, callbacks)
        except FormParserError as exc:
            raise UsageError(f"the upload could not be read: {exc}") from None

    # parser callbacks: they only record, so that no error is raised inside the parser

    def _part_begin(self) -> None:
        self._disposition = ""

    def _header_end(self) -> None:
        if self._field.decode("latin-1").strip().lower() == "content-disposition":
            self._disposition = self._value.decode("latin-1")
        self._field.clear()
        self._value.clear()

    def _headers_finished(self) -> None:
        if self._state != "before":
            return
        _, options = parse_options_header(self._disposition)
        if b"filename" in options:
            self.filename = options[b"filename"].decode("utf-8", errors="replace")
            self._state = "in"

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._state == "in" and end > start:
            self._pending.append(bytes(data[start:end]))

    def _part_end(self) -> None:
        if self._state == "in":
            self._state = "after"

    # reading

    def _feed(self) -> bool:
        """Parse the next body chunk; False at the end of the body."""
        if self._finished:
            return False
        chunk = self._pull()
        if chunk is None:
            self._finished = True
            return False
        try:
            self._parser.write(chunk)
        except FormParserError as exc:
            raise UsageError(f"the upload could not be read: {exc}") from None
        return True

    def open(self) -> str:
        while self._state == "before":
            if not self._feed():
                raise UsageError("the upload holds no file: choose a file to send")
        return self.filename

    def chunks(self) -> Iterator[bytes]:
        while True:
            if self._pending:
                data = b"".join(self._pending)
                self._pending.clear()
                yield data
            if self._state != "in":
                break
            if not self._feed():
                break
        if self._state == "in":
            raise UsageError("the upload ended before the file was complete")
        self._drain()

    def _drain(self) -> None:
        """Read what follows the file (the closing boundary), within reason."""
        left = _MAX_TRAILER
        while left > 0 and not self._finished:
            chunk = self._pull()
            if chunk is None:
                self._finished = True
            else:
                left -= len(chunk)


class FormPart(UploadSource):
    """A file part that the form parser already holds: the CSRF token was sent as a
    form field, so the body was parsed to find it."""

    def __init__(self, upload: UploadFile | None) -> None:
        self._upload = upload

    def open(self) -> str:
        if self._upload is None:
            raise UsageError("the upload holds no file: choose a file to send")
        self.filename = self._upload.filename or ""
        return self.filename

    def chunks(self) -> Iterator[bytes]:
        if self._upload is None:
            return
        self._upload.file.seek(0)
        while piece := self._upload.file.read(CHUNK_SIZE):
            yield piece

    def close(self) -> None:
        if self._upload is not None:
            self._upload.file.close()


def _puller(request: Request) -> Callable[[], bytes | None]:
    """A function for a worker thread that returns the body's next chunk (None at the
    end), fetched from the event loop."""
    body = request.stream().__aiter__()

    def pull() -> bytes | None:
        while True:
            try:
                chunk: bytes = anyio.from_thread.run(body.__anext__)
            except StopAsyncIteration:
                return None
            except ClientDisconnect:
                raise UsageError("the upload was cut off before it was complete") from None
            if chunk:
                return chunk

    return pull


async def upload_source(request: Request) -> UploadSource:
    """The file an upload request carries, however its CSRF token came.

    With the token in the header (the page's script) the body is still unread and is
    streamed. With the token as a form field, ``verify_csrf`` had to parse the form to
    find it, so the file comes from that parsed form (spooled to disk by the parser).
    """
    if request.headers.get(CSRF_HEADER):
        return StreamedPart(_puller(request), request.headers.get("content-type", ""))
    form = await request.form()
    upload = next((v for _, v in form.multi_items() if isinstance(v, UploadFile)), None)
    return FormPart(upload)


def check_file_name(name: str) -> str:
    """A name for a new file or folder inside the folder on view: one path segment.
    (The storage checks it again with the whole path.)"""
    name = name.strip()
    if not name:
        raise UsageError("give a name")
    if "/" in name:
        raise UsageError(f"a name cannot contain '/': {name[:80]!r}")
    return name


# -- what the pages show ----------------------------------------------------------------


def _uri(path: str) -> str:
    return f"vos://{path}"


def node_json(node: Node) -> dict[str, object]:
    return {
        "name": node.name,
        "path": node.path,
        "uri": _uri(node.path),
        "type": node.type.value,
        "size": node.size if node.type == NodeType.DATA else None,
        "md5": node.md5,
        "modified": node.modified.astimezone(UTC).isoformat(),
        "target": node.target,
    }


def crumbs(path: str) -> list[dict[str, str]]:
    """The folders from the root down to ``path``, for the breadcrumb trail."""
    trail = [{"name": "vos://", "path": ""}]
    done = ""
    for segment in path.split("/") if path else []:
        done = f"{done}/{segment}" if done else segment
        trail.append({"name": segment, "path": done})
    return trail


def listing(storage: Storage, user: str, path: str, after: str | None = None) -> dict[str, object]:
    """One page of a folder's children, folders first, each group by name."""
    normal = parse_vos_path(path)
    node = storage.stat(user, normal)
    if node.type != NodeType.CONTAINER:
        raise UsageError(f"{_uri(normal)} is not a folder")
    nodes = storage.list(user, normal, limit=PAGE_SIZE, after=after or None)
    more = nodes[-1].name if len(nodes) == PAGE_SIZE else None
    nodes.sort(key=lambda n: (n.type != NodeType.CONTAINER, n.name.lower(), n.name))
    return {
        "path": normal,
        "uri": _uri(normal),
        "crumbs": crumbs(normal),
        "nodes": [node_json(n) for n in nodes],
        "more": more,
    }


def usage_json(svc: Services, user: str) -> dict[str, int | None]:
    return {"used": svc.storage.usage(user), "limit": svc.settings.storage_quota or None}


# -- the page and the download ----------------------------------------------------------


@router.get("/portal/files", response_class=HTMLResponse)
def files_page(request: Request, svc: SVC, user: PortalUser, path: str = "") -> Response:
    data = listing(svc.storage, user, path)
    return page(
        request,
        "files.html",
        user=user,
        section="files",
        title="Files",
        listing=data,
        usage=usage_json(svc, user),
    )


@router.api_route("/portal/files/download", methods=["GET", "HEAD"])
def download(svc: SVC, user: PortalUser, path: str = "") -> Response:
    """The file's bytes as an attachment; Range requests resume a cut download."""
    normal = parse_vos_path(path)
    if not normal:
        raise UsageError("vos:// is a folder; choose a file to download")
    local = svc.storage.local_file(user, normal)
    response = FileResponse(
        local,
        media_type="application/octet-stream",
        filename=normal.rpartition("/")[2],
        content_disposition_type="attachment",
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# -- the JSON routes --------------------------------------------------------------------


class NewFolder(BaseModel):
    path: str = Field("", max_length=8192, description="the folder to make it in")
    name: str = Field(max_length=4096)


class Delete(BaseModel):
    path: str = Field(max_length=8192)
    recursive: bool = False


class Move(BaseModel):
    path: str = Field(max_length=8192)
    to: str = Field(max_length=8192, description="a new name, or vos://… for another place")


@router.get("/portal/api/files")
def list_folder(svc: SVC, user: PortalUser, path: str = "", after: str = "") -> dict[str, object]:
    return listing(svc.storage, user, path, after or None)


@router.get("/portal/api/files/usage")
def usage(svc: SVC, user: PortalUser) -> dict[str, int | None]:
    return usage_json(svc, user)


@router.get("/portal/api/files/check")
def check(
    svc: SVC, user: PortalUser, path: str = "", size: int = 0, overwrite: bool = False
) -> dict[str, object]:
    """Whether an upload of ``size`` bytes to ``path`` would be accepted now."""
    normal = svc.storage.check_write(user, path, size, overwrite=overwrite)
    return {"path": normal, "uri": _uri(normal)}


@router.post("/portal/api/files/upload", dependencies=[Depends(verify_csrf)])
async def upload(
    request: Request, svc: SVC, user: PortalUser, folder: str = "", overwrite: bool = False
) -> Response:
    """Store the request's one file in ``folder``, under the name it was sent with."""
    folder = parse_vos_path(folder)
    source = await upload_source(request)

    def store() -> Node:
        try:
            name = check_file_name(source.open())
            target = _uri(f"{folder}/{name}" if folder else name)
            return svc.storage.write(user, target, source.chunks(), overwrite=overwrite)
        finally:
            source.close()

    node = await anyio.to_thread.run_sync(store)
    return JSONResponse(node_json(node), status_code=201)


@router.post("/portal/api/files/folder", dependencies=[Depends(verify_csrf)])
def new_folder(body: NewFolder, svc: SVC, user: PortalUser) -> JSONResponse:
    parent = parse_vos_path(body.path)
    name = check_file_name(body.name)
    node = svc.storage.mkdir(user, _uri(f"{parent}/{name}" if parent else name))
    return JSONResponse(node_json(node), status_code=201)


@router.post("/portal/api/files/delete", dependencies=[Depends(verify_csrf)])
def delete(body: Delete, svc: SVC, user: PortalUser) -> dict[str, str]:
    normal = parse_vos_path(body.path)
    svc.storage.delete(user, normal, recursive=body.recursive)
    return {"deleted": _uri(normal)}


@router.post("/portal/api/files/move", dependencies=[Depends(verify_csrf)])
def move(body: Move, svc: SVC, user: PortalUser) -> dict[str, object]:
    """Rename within the folder (a plain name) or move elsewhere (``vos://…``)."""
    source = parse_vos_path(body.path)
    if not source:
        raise UsageError("your root folder (vos://) cannot be moved")
    wanted = body.to.strip()
    if wanted.lower().startswith("vos:"):
        target = parse_vos_path(wanted)
    else:
        name = check_file_name(wanted)
        parent = source.rpartition("/")[0]
        target = parse_vos_path(f"{parent}/{name}" if parent else name)
    return node_json(svc.storage.move(user, source, target))
