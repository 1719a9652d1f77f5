"""Reading DALI request parameters: GET query strings and POST forms, names in any case.

DALI 1.1 §3.1: parameter names are case-insensitive, values are not; a POST may be
form-encoded or multipart (uploads travel as parts of the same request). Parts that
carry files are kept apart, by their exact name, for ``param:`` upload URIs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect

from datalab.errors import UsageError

__all__ = ["RequestParameters", "read_parameters"]

# Bounds on what a form may hold before anything is parsed (starlette's own defaults
# are tighter for fields, looser for files).
_MAX_FIELDS = 1000
_MAX_FILES = 20
_MAX_FIELD_BYTES = 4 << 20  # a long ADQL query, not a table


@dataclass
class RequestParameters:
    """Single-valued parameters by lower-cased name, and the request's file parts."""

    values: dict[str, str] = field(default_factory=dict)
    files: dict[str, UploadFile] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        return self.values.get(name.lower())

    async def close(self) -> None:
        for upload in self.files.values():
            await upload.close()


async def _read_urlencoded(request: Request, params: RequestParameters) -> None:
    """A form-encoded body, parsed in one call: the general form parser costs more
    than a small query takes to run."""
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > _MAX_FIELD_BYTES:
                raise UsageError(
                    f"the request's form is larger than {_MAX_FIELD_BYTES >> 20} MiB"
                )
    except ClientDisconnect:
        raise UsageError("the request ended before its body was complete") from None
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=False,
            encoding="utf-8",
            errors="strict",
            max_num_fields=_MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"the request's form could not be read: {exc}") from None
    for name, value in pairs:
        params.values.setdefault(name.lower(), value)


async def read_parameters(request: Request) -> RequestParameters:
    """All parameters of the request; a parameter given twice keeps its first value."""
    params = RequestParameters()
    for name, value in request.query_params.multi_items():
        params.values.setdefault(name.lower(), value)
    if request.method != "POST":
        return params
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        await _read_urlencoded(request, params)
        return params
    if content_type != "multipart/form-data":
        if content_type and await request.body():
            raise UsageError(
                f"a POST must be form-encoded or multipart/form-data, not {content_type}"
            )
        return params
    try:
        form = await request.form(
            max_files=_MAX_FILES, max_fields=_MAX_FIELDS, max_part_size=_MAX_FIELD_BYTES
        )
    except ClientDisconnect:
        raise UsageError("the request ended before its body was complete") from None
    except Exception as exc:  # starlette's multipart errors carry a readable reason
        detail = getattr(exc, "detail", None) or str(exc) or type(exc).__name__
        raise UsageError(f"the request's form could not be read: {detail}") from None
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            params.files.setdefault(name, value)
        else:
            params.values.setdefault(name.lower(), value)
    return params
