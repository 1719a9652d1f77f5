"""Files in your Data Lab space (``vos://``): the official ``dl.storeClient`` functions.

Paths are ``vos://dir/name`` (a bare ``dir/name`` means the same). Every function
takes the token first, or leaves it out (``ls('vos://dir')``): a first argument that
is not token-shaped is taken as the next argument, as in the official client.

Return values are the official ones (``put``/``get`` to files: a list with one
``'OK'`` per file; ``rm``, ``mkdir``… ``'OK'``; ``ls`` the listing text), but where
the official client returns an error message as if it were a result, these raise
:class:`storeClientError` carrying the server's text (``Error: …``).

File bytes stream in 1 MiB pieces both ways, so files of any size take little memory.
``get`` to a local file writes ``.<name>.part`` beside it and renames it when complete;
if the transfer is cut, the next ``get`` of the same file to the same place resumes
from where it stopped (a ``Range`` request), provided the remote file has not changed
since (its modification time is older than the partial file's); otherwise, or when the
result's size or MD5 does not match the remote file's, it starts over.
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import os
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from datalab.client._config import is_auth_token, service_url, set_service_url
from datalab.client._http import ClientError, alive, headers

__all__ = [
    "access",
    "cp",
    "get",
    "get_svc_url",
    "isAlive",
    "isdir",
    "ln",
    "load",
    "ls",
    "mkdir",
    "mv",
    "put",
    "rm",
    "rmdir",
    "save",
    "saveAs",
    "set_svc_url",
    "stat",
    "storeClientError",
    "tag",
]

CHUNK = 1 << 20
CONNECT_TIMEOUT = 10.0
# Characters the official client refuses in file names: they would break its URLs.
URI_RESERVED = set(":;?/@&=+$,")


class storeClientError(ClientError):  # noqa: N801 - the official client's name
    """A storage call failed; ``message`` is the server's answer or ours."""


def set_svc_url(svc_url: str) -> None:
    """Use ``svc_url`` (e.g. ``http://host:8000/storage``) for the storage service."""
    set_service_url("storage", svc_url)


def get_svc_url() -> str:
    """The storage service URL in use."""
    return service_url("storage")


def isAlive(svc_url: str | None = None) -> bool:  # noqa: N802 - the official name
    """Whether the storage service (or ``svc_url``) answers its liveness check."""
    return alive(svc_url or get_svc_url())


# -- plumbing -----------------------------------------------------------------------------


def _shift(token: str | None, *rest: Any) -> tuple[str | None, tuple[Any, ...]]:
    """``f(name)`` as well as ``f(token, name)``: a first argument that is not a token
    moves every argument one place right (the last one, then unset, falls off)."""
    if token is not None and not is_auth_token(token):
        return None, (token, *rest[:-1])
    return token, rest


def _vos(name: str | None) -> str:
    name = (name or "").strip()
    return name if "://" in name else f"vos://{name}"


def _request(
    verb: str, token: str | None, params: dict[str, str], ok: tuple[int, ...] = (200,),
    timeout: float = 60.0,
) -> httpx.Response:
    root = get_svc_url()
    try:
        response = httpx.get(f"{root}/{verb}", params=params, headers=headers(token),
                             timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT))
    except httpx.HTTPError as exc:
        raise storeClientError(f"Error: cannot reach the storage service at {root}: {exc}") from exc
    if response.status_code not in ok:
        body = response.text.strip()
        raise storeClientError(body or f"Error: HTTP {response.status_code} "
                                       f"{response.reason_phrase}")
    return response


def _has_meta(name: str) -> bool:
    return any(c in name for c in "*?[")


def _expand(token: str | None, pattern: str) -> list[str]:
    """The ``vos://`` files a pattern names: itself, or for ``dir/*.csv`` and ``dir/``
    the matching entries of the folder (listed by the server, matched here)."""
    uri = _vos(pattern)
    path = uri.split("://", 1)[1]
    if not _has_meta(path) and not path.endswith("/"):
        return [uri]
    if path.endswith("/"):
        folder, leaf = path.rstrip("/"), "*"
    else:
        folder, _, leaf = path.rpartition("/")
    if _has_meta(folder):
        raise storeClientError("Error: wildcards may only appear in the file name, not in folders")
    names = [n for n in ls(token, f"vos://{folder}", format="csv").split(",") if n]
    found = []
    for name in sorted(n for n in names if fnmatch.fnmatchcase(n, leaf)):
        full = f"vos://{folder}/{name}" if folder else f"vos://{name}"
        if stat(token, full).get("type") != "container":  # files and links, not folders
            found.append(full)
    return found


def _size(num: float) -> str:
    for unit in ("B", "K", "M", "G", "T"):
        if abs(num) < 1024 or unit == "T":
            return f"{int(num)}{unit}" if unit == "B" else f"{num:.1f}{unit}"
        num /= 1024
    return f"{num:.1f}T"


class _GetProgress:
    """``(1/3) [=======             ] [  12.3M] name``, redrawn on one line of stdout."""

    def __init__(self, number: int, count: int, name: str, total: int | None) -> None:
        self.number, self.count, self.name, self.total = number, count, name, total
        self.shown = -1.0

    def __call__(self, done: int, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.shown < 0.2:
            return
        self.shown = now
        filled = 20 if final else (int(20 * done / self.total) if self.total else 0)
        sys.stdout.write(f"\r({self.number}/{self.count}) [{'=' * filled}{' ' * (20 - filled)}] "
                         f"[{_size(done):>7}] {self.name}")
        if final:
            sys.stdout.write("\n")
        sys.stdout.flush()


# -- listing and metadata -----------------------------------------------------------------


def ls(token: str | None = None, name: str = "vos://", format: str = "csv",  # noqa: A002
       verbose: bool = False) -> str:
    """The entries of a folder: names separated by ``,`` (``format='csv'``), one a line
    (``ascii``), ``ls -l`` style lines (``long``) or JSON (``raw``)."""
    token, (name,) = _shift(token, name)
    params = {"name": _vos(name or "vos://"), "format": format, "verbose": str(verbose)}
    return _request("ls", token, params).text


def isdir(token: str | None = None, name: str = "") -> bool:
    """Whether ``name`` is a folder (or a link to one)."""
    token, (name,) = _shift(token, name)
    return _request("isdir", token, {"name": _vos(name)}).text.strip().lower() == "true"


def access(token: str | None = None, name: str = "", mode: str = "r",
           verbose: bool = True) -> bool:
    """Whether ``name`` exists (``mode='w'``: or could be written, its folder existing)."""
    token, (name, mode) = _shift(token, name, mode)
    params = {"name": _vos(name), "mode": mode or "r", "verbose": str(verbose)}
    return _request("access", token, params).text.strip().lower() == "true"


def stat(token: str | None = None, name: str = "", verbose: bool = True) -> dict[str, Any]:
    """``{'name', 'path', 'type' (container|data|link), 'size', 'md5', 'modified',
    'target', 'properties'}``; ``{}`` when there is no such path (as the official)."""
    token, (name,) = _shift(token, name)
    response = _request("stat", token, {"name": _vos(name), "verbose": str(verbose)},
                        ok=(200, 404))
    if response.status_code == 404:
        return {}
    found: dict[str, Any] = response.json()
    return found


def tag(token: str | None = None, name: str = "", tag: str = "") -> str:
    """Tag ``name`` (an empty tag removes it); ``'OK'``."""
    token, (name, tag) = _shift(token, name, tag)
    _request("tag", token, {"name": _vos(name), "tag": tag or ""})
    return "OK"


# -- changing the tree --------------------------------------------------------------------


def mkdir(token: str | None = None, name: str = "") -> str:
    """Create a folder; ``'OK'``."""
    token, (name,) = _shift(token, name)
    _request("mkdir", token, {"dir": _vos(name)}, ok=(201,))
    return "OK"


def rmdir(token: str | None = None, name: str = "", verbose: bool = False) -> str:
    """Delete an empty folder; ``'OK'``."""
    token, (name,) = _shift(token, name)
    _refuse_special(name)
    _request("rmdir", token, {"dir": _vos(name)}, ok=(204,))
    return "OK"


def _refuse_special(name: str | None) -> None:
    if _vos(name).split("://", 1)[1].strip("/") in ("", "tmp", "public"):
        raise storeClientError("Error: operation not permitted")


def rm(token: str | None = None, name: str = "", verbose: bool = False) -> str:
    """Delete a file, or the files a pattern (``vos://dir/*.csv``) names; ``'OK'``."""
    token, (name,) = _shift(token, name)
    _refuse_special(name)
    files = _expand(token, name)
    if not files:
        raise storeClientError(f"Error: no file matches {_vos(name)}")
    for uri in files:
        _request("rm", token, {"file": uri}, ok=(204,))
    return "OK"


def _move_or_copy(verb: str, token: str | None, fr: str, to: str) -> str:
    for side in (fr, to):
        if "://" not in side and side.startswith(("/", ".")):
            raise storeClientError(f"Error: {side} is a local path; use put() or get()")
    sources = _expand(token, fr)
    if not sources:
        raise storeClientError(f"Error: no file matches {_vos(fr)}")
    for uri in sources:
        answer = _request(verb, token, {"from": uri, "to": _vos(to)}, timeout=3600)
        if "COMPLETED" not in answer.text:
            raise storeClientError(answer.text.strip())
    return "OK"


def cp(token: str | None = None, fr: str = "", to: str = "", verbose: bool = False) -> str:
    """Copy a file or folder (or the files a pattern names, into a folder); ``'OK'``."""
    token, (fr, to) = _shift(token, fr, to)
    return _move_or_copy("cp", token, fr, to)


def mv(token: str | None = None, fr: str = "", to: str = "", verbose: bool = False) -> str:
    """Move or rename a file or folder (or the files a pattern names); ``'OK'``."""
    token, (fr, to) = _shift(token, fr, to)
    return _move_or_copy("mv", token, fr, to)


def ln(token: str | None = None, fr: str = "", target: str = "", verbose: bool = False) -> str:
    """Make the link ``fr`` pointing to ``target``; ``'OK'``."""
    token, (fr, target) = _shift(token, fr, target)
    _request("ln", token, {"from": _vos(fr), "to": _vos(target)}, ok=(201,))
    return "OK"


def load(token: str | None = None, name: str = "", endpoint: str = "",
         is_vospace: bool = False) -> str:
    """Have the server fetch ``endpoint`` (a URL on a host the site allows) into ``name``."""
    token, (name, endpoint) = _shift(token, name, endpoint)
    params = {"name": _vos(name), "endpoint": endpoint, "is_vospace": str(is_vospace)}
    return _request("load", token, params, timeout=3600).text


# -- bytes up -----------------------------------------------------------------------------


def _upload(token: str | None, uri: str, body: Iterator[bytes], size: int) -> None:
    url = _request("put", token, {"name": uri}).text.strip()
    sent = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
    try:
        answer = httpx.put(url, content=body, headers=sent,
                           timeout=httpx.Timeout(3600, connect=CONNECT_TIMEOUT))
    except httpx.HTTPError as exc:
        raise storeClientError(f"Error: the upload of {uri} failed: {exc}") from exc
    if answer.status_code not in (200, 201, 204):
        raise storeClientError(answer.text.strip() or f"Error: HTTP {answer.status_code}")


def _file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


def _join(folder: str, name: str) -> str:
    return folder + name if folder.endswith("://") else f"{folder.rstrip('/')}/{name}"


def _plan(token: str | None, fr: str, target: str) -> tuple[list[str], list[tuple[Path, str]]]:
    """(folders to create, (local file, vos:// destination) pairs) for a put.

    A local folder is copied with its tree, like ``cp -r``: into ``target`` under its
    own name when ``target`` is a folder, else as ``target``. Files (one, or those a
    pattern matches) go into ``target`` when it is a folder (or ends with ``/``), else
    a single file becomes ``target``."""
    into = target.endswith("/") or target.endswith("://") or isdir(token, target)
    local = Path(os.path.expanduser(fr))
    if local.is_dir():
        base = _join(target, local.resolve().name) if into else target
        folders, files = [], []
        for folder, dirs, names in os.walk(local):
            dirs.sort()
            rel = Path(folder).relative_to(local).as_posix()
            here = base if rel == "." else _join(base, rel)
            folders.append(here)
            files += [(Path(folder) / n, _join(here, n)) for n in sorted(names)]
        return folders, files
    found = [Path(p) for p in sorted(glob.glob(os.path.expanduser(fr))) if Path(p).is_file()]
    if not found:
        raise storeClientError(f"Error: Local file '{fr}' does not exist")
    if len(found) > 1 and not into:
        raise storeClientError(f"Error: {target} must be an existing folder to hold several "
                               "files")
    return [], [(p, _join(target, p.name) if into else target) for p in found]


def put(token: str | None = None, fr: str = "", to: str = "vos://", verbose: bool = True,
        debug: bool = False) -> list[str]:
    """Upload local files: ``fr`` is a file, a pattern (``*.csv``) or a folder (copied
    with its tree). Into ``to`` when it is a folder or ends with ``/``, else as ``to``.
    Prints ``(1 / 2) a.csv -> vos://dir/a.csv`` per file when ``verbose``. Returns one
    ``'OK'`` per file."""
    token, (fr, to) = _shift(token, fr, to)
    folders, files = _plan(token, fr, _vos(to or "vos://"))
    for folder in folders:
        if not isdir(token, folder):
            mkdir(token, folder)
    results = []
    for number, (path, uri) in enumerate(files, 1):
        if any(c in path.name for c in URI_RESERVED):
            raise storeClientError(f"Error: URI reserved char in source filename: {path}")
        if verbose:
            sys.stdout.write(f"({number} / {len(files)}) {path} -> ")
            sys.stdout.flush()
        _upload(token, uri, _file_chunks(path), path.stat().st_size)
        if verbose:
            sys.stdout.write(f"{uri}\n")
            sys.stdout.flush()
        results.append("OK")
    return results


def save(token: str | None = None, name: str = "", data: str | bytes = "") -> str:
    """Store ``data`` (text or bytes) as the file ``name``; ``'OK'``."""
    token, (name, data) = _shift(token, name, data)
    body = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    _upload(token, _vos(name), iter([body]), len(body))
    return "OK"


def saveAs(token: str | None = None, data: str | bytes = "", name: str = "") -> str:  # noqa: N802
    """The official spelling of :func:`save`, arguments in its order."""
    return save(token, name, data)


# -- bytes down ---------------------------------------------------------------------------


def _get_url(token: str | None, uri: str) -> str:
    return _request("get", token, {"name": uri}).text.strip()


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _resume_from(part: Path, remote: dict[str, Any]) -> int:
    """Bytes of ``part`` worth keeping (see the module docstring), else 0 (deleted)."""
    try:
        kept = part.stat()
    except FileNotFoundError:
        return 0
    size = remote.get("size")
    modified = remote.get("modified")
    try:
        changed = datetime.fromisoformat(str(modified)).timestamp() if modified else None
    except ValueError:
        changed = None
    if isinstance(size, int) and 0 < kept.st_size < size and changed is not None \
            and changed <= kept.st_mtime:
        return kept.st_size
    part.unlink()
    return 0


def _download(uri: str, url: str, dest: Path, remote: dict[str, Any],
              progress: _GetProgress | None) -> None:
    part = dest.with_name(f".{dest.name}.part")
    offset = _resume_from(part, remote)
    asked = {"Range": f"bytes={offset}-"} if offset else {}
    done = offset
    try:
        with httpx.stream("GET", url, headers=asked,
                          timeout=httpx.Timeout(300, connect=CONNECT_TIMEOUT)) as answer:
            resumed = answer.status_code == 206 and answer.headers.get(
                "content-range", "").startswith(f"bytes {offset}-")
            if answer.status_code not in (200, 206) or (answer.status_code == 206
                                                          and not resumed):
                answer.read()
                raise storeClientError(answer.text.strip() or f"Error: HTTP {answer.status_code}")
            if not resumed:
                done = 0
            with open(part, "ab" if resumed else "wb") as out:
                for chunk in answer.iter_bytes(CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done)
    except httpx.HTTPError as exc:
        raise storeClientError(f"Error: the download of {uri} was cut after {done} bytes "
                               f"({exc}); get it again to resume") from exc
    size, md5 = remote.get("size"), remote.get("md5")
    if isinstance(size, int) and done != size:
        raise storeClientError(f"Error: the download of {uri} stopped after {done} of {size} "
                               "bytes; get it again to resume")
    if md5 and _md5(part) != md5:
        part.unlink()
        raise storeClientError(f"Error: {uri} arrived damaged (MD5 mismatch); get it again")
    part.replace(dest)
    if progress is not None:
        progress(done, final=True)


def get(token: str | None = None, fr: str = "", to: str = "", mode: str = "text",
        verbose: bool = True, debug: bool = False, timeout: float = 30) -> Any:
    """Download ``fr`` (a file, a pattern like ``vos://dir/*.fits``, or ``vos://dir/``).

    Without ``to``: the content of one file (text, or bytes with ``mode='binary'``).
    With ``to``: a local file name or, for several files, a folder; returns one
    ``'OK'`` per file, printing ``(1/2) [====] [   281B] name`` lines when ``verbose``.
    A cut download resumes on the next call (see the module docstring).
    """
    token, (fr, to) = _shift(token, fr, to)
    uri = _vos(fr)
    if not to:
        if _has_meta(uri.split("://", 1)[1]):
            raise storeClientError("Error: multi-file requests require a download location")
        url = _get_url(token, uri)
        try:
            answer = httpx.get(url, timeout=httpx.Timeout(300, connect=CONNECT_TIMEOUT))
        except httpx.HTTPError as exc:
            raise storeClientError(f"Error: the download of {uri} failed: {exc}") from exc
        if answer.status_code != 200:
            raise storeClientError(answer.text.strip() or f"Error: HTTP {answer.status_code}")
        return answer.content if mode == "binary" else answer.content.decode("utf-8", "replace")
    files = _expand(token, uri)
    several = _has_meta(uri.split("://", 1)[1]) or uri.endswith("/")
    local = Path(os.path.expanduser(to))
    if several and not local.is_dir():
        raise storeClientError(f"Error: {to} must be an existing folder for several files")
    if not files:
        raise storeClientError(f"Error: no file matches {uri}")
    results = []
    for number, remote_uri in enumerate(files, 1):
        name = remote_uri.rstrip("/").rsplit("/", 1)[-1]
        dest = local / name if (several or local.is_dir() or to.endswith("/")) else local
        remote = stat(token, remote_uri)
        if not remote:
            raise storeClientError(f"Error: no file {remote_uri}")
        shown = remote_uri.split("://", 1)[1]
        progress = _GetProgress(number, len(files), shown, remote.get("size")) if verbose else None
        _download(remote_uri, _get_url(token, remote_uri), dest, remote, progress)
        results.append("OK")
    return results

