"""Tables a query brings with it: TAP UPLOAD (TAP 1.1 §2.5.1, DALI 1.1 §3.4.5).

An upload is named in the UPLOAD parameter as ``name,URI`` pairs separated by ``;``;
the URI is ``param:PART`` for a file sent inline in the same multipart request, or an
http(s) URL when the site allows the host. Each table becomes ``TAP_UPLOAD.name`` for
that one query: it is read (VOTable, CSV or Parquet, whatever the file is) into Arrow
and registered on the query's own engine cursor, which no other query can see.

The files are kept in a directory the caller chooses (a temporary one for a sync query,
the job's directory for an async one, so that the job can run later and again after a
restart), under the upload's name.
"""

from __future__ import annotations

import re
import secrets
import shutil
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from datalab.catalog.metadata import ColumnInfo, TableInfo, column_info
from datalab.errors import DataLabError, IngestError, UsageError
from datalab.formats import open_table

__all__ = [
    "UPLOAD_SCHEMA",
    "UploadSpec",
    "UploadedTable",
    "fetch_url",
    "load_uploads",
    "parse_upload",
    "save_part",
]

UPLOAD_SCHEMA = "tap_upload"

# An ADQL regular identifier (ADQL 2.1 §2.1.3), which an upload name must be.
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")

_CHUNK = 1 << 20


@dataclass(frozen=True)
class UploadSpec:
    """One ``name,URI`` pair of the UPLOAD parameter."""

    name: str  # lower case: ADQL regular identifiers are case-insensitive
    uri: str

    @property
    def part(self) -> str | None:
        """The multipart field name for ``param:`` URIs, else None."""
        return self.uri[len("param:") :] if self.uri.startswith("param:") else None


@dataclass(frozen=True)
class UploadedTable:
    """An uploaded table read into memory, with its ADQL description and engine name."""

    info: TableInfo
    table: pa.Table
    engine_name: str


def parse_upload(value: str | None) -> list[UploadSpec]:
    """The pairs of an UPLOAD parameter; UsageError for anything malformed."""
    if not value or not value.strip():
        return []
    specs: list[UploadSpec] = []
    for item in value.split(";"):
        if not item.strip():
            continue
        name, sep, uri = item.partition(",")
        name, uri = name.strip(), uri.strip()
        if not sep or not uri:
            raise UsageError(f"UPLOAD {item.strip()!r} must be name,URI (e.g. mytable,param:file1)")
        if not _NAME.match(name):
            raise UsageError(
                f"UPLOAD name {name!r} must be a letter followed by letters, digits or "
                "underscores (at most 64)"
            )
        scheme = urllib.parse.urlsplit(uri).scheme.lower()
        if scheme == "param":
            if not uri[len("param:") :]:
                raise UsageError(f"UPLOAD {name}: param: needs the name of a request part")
        elif scheme not in ("http", "https"):
            raise UsageError(f"UPLOAD {name}: {uri!r} is not a param: or http(s) URI")
        if any(s.name == name.lower() for s in specs):
            raise UsageError(f"UPLOAD names the table {name!r} twice")
        specs.append(UploadSpec(name.lower(), uri))
    return specs


def save_part(source: BinaryIO, target: Path, budget: int) -> int:
    """Copy an uploaded part to ``target``, refusing it past ``budget`` bytes.

    Returns the bytes written. The limit is checked while copying, so an oversized
    upload costs at most ``budget`` bytes of disk before it is refused and removed.
    """
    written = 0
    with open(target, "wb") as out:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if written > budget:
                out.close()
                target.unlink(missing_ok=True)
                raise UsageError(
                    f"the uploaded tables exceed the limit of {_size(budget)} in all"
                )
            out.write(chunk)
    return written


def fetch_url(url: str, target: Path, budget: int, allowed_hosts: Iterable[str]) -> int:
    """Download an http(s) upload from an allowed host, within ``budget`` bytes."""
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    allowed = {h.lower() for h in allowed_hosts}
    if not allowed:
        raise UsageError("this server does not fetch uploads from URLs; send the file inline")
    if host not in allowed:
        raise UsageError(f"this server does not fetch uploads from {host or url!r}")
    import httpx

    try:
        with httpx.stream("GET", url, timeout=30, follow_redirects=False) as response:
            if response.status_code != 200:
                raise UsageError(f"fetching {url} answered HTTP {response.status_code}")
            written = 0
            with open(target, "wb") as out:
                for chunk in response.iter_bytes(_CHUNK):
                    written += len(chunk)
                    if written > budget:
                        raise UsageError(
                            f"the uploaded tables exceed the limit of {_size(budget)} in all"
                        )
                    out.write(chunk)
    except httpx.HTTPError as exc:
        target.unlink(missing_ok=True)
        raise UsageError(f"cannot fetch {url}: {exc}") from None
    except UsageError:
        target.unlink(missing_ok=True)
        raise
    return written


def load_uploads(specs: Sequence[UploadSpec], directory: Path) -> list[UploadedTable]:
    """Read each upload saved as ``directory/<name>`` into an :class:`UploadedTable`."""
    return [_read(spec.name, directory / spec.name) for spec in specs]


def _read(name: str, path: Path) -> UploadedTable:
    if not path.is_file():
        raise UsageError(f"UPLOAD {name}: the request carried no file for it")
    try:
        with open_table(path) as reader:
            fields = {f.name: f for f in reader.fields}
            batches = list(reader.batches(65_536))
            table = pa.Table.from_batches(batches, schema=reader.schema)
    except IngestError as exc:
        message = exc.message.replace(str(path), f"upload {name}")
        raise UsageError(message) from None
    except DataLabError:
        raise
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise UsageError(f"upload {name} could not be read as a table: {exc}") from None
    columns = tuple(
        column_info(f, fields.get(f.name), indexed=False) for f in reader.schema
    )
    _check_column_names(name, columns)
    ra, dec = _position_columns(columns)
    info = TableInfo(
        schema=UPLOAD_SCHEMA,
        name=name,
        description=f"table uploaded with the query as {name}",
        columns=columns,
        ra_column=ra,
        dec_column=dec,
        nrows=table.num_rows,
    )
    return UploadedTable(info, table, f"tap_upload__{name}__{secrets.token_hex(4)}")


def _check_column_names(name: str, columns: Sequence[ColumnInfo]) -> None:
    seen: set[str] = set()
    for col in columns:
        if col.name.lower() in seen:
            raise UsageError(f"upload {name} has two columns named {col.name!r}")
        seen.add(col.name.lower())


def _position_columns(columns: Sequence[ColumnInfo]) -> tuple[str | None, str | None]:
    """RA/Dec columns by UCD (pos.eq.ra;meta.main first), else by the usual names."""

    def pick(test: Callable[[ColumnInfo], bool]) -> str | None:
        found = [c.name for c in columns if test(c)]
        return found[0] if found else None

    ra = pick(lambda c: (c.ucd or "").lower() == "pos.eq.ra;meta.main") or pick(
        lambda c: c.name.lower() in ("ra", "raj2000", "ra_icrs")
    )
    dec = pick(lambda c: (c.ucd or "").lower() == "pos.eq.dec;meta.main") or pick(
        lambda c: c.name.lower() in ("dec", "dej2000", "de_icrs", "decl")
    )
    return (ra, dec) if ra and dec else (None, None)


def _size(n: int) -> str:
    return f"{n / 1e6:g} MB" if n >= 1_000_000 else f"{n:,} bytes"


def remove_directory(directory: Path) -> None:
    """Remove a sync query's upload directory (errors ignored: it is scratch space)."""
    shutil.rmtree(directory, ignore_errors=True)


def engine_tables(uploads: Iterable[UploadedTable]) -> Mapping[str, pa.Table]:
    """Engine name → Arrow table, for registering on the query's cursor."""
    return {u.engine_name: u.table for u in uploads}
