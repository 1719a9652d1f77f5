"""One way to call a Data Lab service: the headers every call carries, and how a
failed answer becomes the module's exception with the server's own words in it."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import httpx

from datalab import __version__
from datalab.client._config import def_token, service_url, token_user

__all__ = [
    "ClientError",
    "Progress",
    "call",
    "dlAuthError",
    "download",
    "headers",
    "queryClientError",
]

# Called with (bytes so far, total bytes or None when the server does not say).
Progress = Callable[[int, int | None], None]

CONNECT_TIMEOUT = 10.0


class ClientError(Exception):
    """A call failed; ``message`` is the server's answer (``Error: …``) or ours."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class dlAuthError(ClientError):  # noqa: N801 - the official client's name
    """An auth service call failed."""


class queryClientError(ClientError):  # noqa: N801 - the official client's name
    """A query service call failed (any non-200 answer)."""


def headers(token: str | None) -> dict[str, str]:
    """The official client's identification headers; the server trusts only the token."""
    resolved = def_token(token)
    return {
        "X-DL-AuthToken": resolved,
        "X-DL-User": token_user(resolved),
        "X-DL-ClientVersion": f"datalab-client {__version__}",
    }


def _timeout(seconds: float | None) -> httpx.Timeout:
    return httpx.Timeout(seconds, connect=CONNECT_TIMEOUT)


def _unreachable(service: str, url: str, exc: Exception) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"Error: the {service} service at {url} did not answer in time"
    return f"Error: cannot reach the {service} service at {url}: {exc}"


def _error_text(response: httpx.Response) -> str:
    """``Error: …`` from a failed answer: the plain-text body the protocol prescribes,
    or the message of a JSON error envelope (``{"error": {"message": …}}``), which some
    servers' front layers send instead."""
    body = response.text.strip()
    if body.startswith("{"):
        try:
            message = json.loads(body)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = None
        if isinstance(message, str) and message:
            return f"Error: {message}"
    return body or f"Error: HTTP {response.status_code} {response.reason_phrase}"


def call(
    service: str,
    verb: str,
    *,
    token: str | None,
    params: Mapping[str, Any] | None = None,
    method: str = "GET",
    data: Mapping[str, str] | None = None,
    files: Mapping[str, tuple[str, IO[bytes], str]] | None = None,
    extra_headers: Mapping[str, str] | None = None,
    timeout: float | None = 60.0,
    error: type[ClientError] = queryClientError,
) -> httpx.Response:
    """``method <service root>/<verb>``; the response when it is a 200, else ``error``."""
    root = service_url(service)
    url = f"{root}/{verb}" if verb else root
    sent = {**headers(token), **(extra_headers or {})}
    try:
        response = httpx.request(
            method, url, params=params, data=data, files=files, headers=sent,
            timeout=_timeout(timeout),
        )
    except httpx.HTTPError as exc:
        raise error(_unreachable(service, root, exc)) from exc
    if response.status_code != 200:
        raise error(_error_text(response))
    return response


def download(
    service: str,
    verb: str,
    target: Path,
    *,
    token: str | None,
    params: Mapping[str, Any] | None = None,
    extra_headers: Mapping[str, str] | None = None,
    timeout: float | None = 300.0,
    progress: Progress | None = None,
    error: type[ClientError] = queryClientError,
) -> int:
    """Stream the answer into ``target`` (replaced only once complete); the byte count.

    The body goes to a temporary file beside ``target`` first, so a failed or cut
    download never leaves half a file where the previous one was.
    """
    root = service_url(service)
    sent = {**headers(token), **(extra_headers or {})}
    partial = target.with_name(f".{target.name}.part")
    written = 0
    try:
        with httpx.stream(
            "GET", f"{root}/{verb}", params=params, headers=sent, timeout=_timeout(timeout)
        ) as response:
            if response.status_code != 200:
                response.read()
                raise error(_error_text(response))
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            with open(partial, "wb") as out:
                for chunk in response.iter_bytes(1 << 20):
                    out.write(chunk)
                    written += len(chunk)
                    if progress is not None:
                        progress(written, total)
        partial.replace(target)
    except httpx.HTTPError as exc:
        raise error(_unreachable(service, root, exc)) from exc
    except OSError as exc:
        raise error(f"Error: cannot write {target}: {exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return written


def alive(url: str, timeout: float = 5.0) -> bool:
    """Whether ``url`` (a service root) answers 200 starting ``Hello World``."""
    try:
        response = httpx.get(url.rstrip("/"), timeout=timeout)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and response.text[:11].lower() == "hello world"


def iter_lines(text: str) -> Iterator[str]:
    """The non-blank lines of a plain-text answer."""
    return (line for line in text.splitlines() if line.strip())
