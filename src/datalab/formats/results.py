"""Query results in the formats TAP clients ask for, streamed from Arrow record batches.

``encode_result`` turns an iterator of ``pyarrow.RecordBatch`` into an iterator of
byte chunks in one of :data:`RESULT_FORMATS`, holding a few batches at most, whatever
the size of the result. ``resolve_format`` maps a RESPONSEFORMAT value (TAP 1.1
§2.7.1, DALI 1.1 §3.4.3) to a format. The encoders live in ``votable_writer``,
``text_writers`` and ``parquet_writer``; FITS reuses ``FitsTableWriter``.
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
import tempfile
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from datalab.errors import UsageError
from datalab.formats.fields import FieldMeta
from datalab.formats.fits_writer import FitsTableWriter
from datalab.formats.parquet_writer import parquet_chunks
from datalab.formats.pipeline import ordered_map, read_ahead
from datalab.formats.text_writers import csv_chunks, iso_timestamps, json_chunks, tsv_chunks
from datalab.formats.votable_writer import (
    conform_batch,
    conformed_schema,
    resolve_fields,
    votable_chunks,
    votable_error_document,
)

__all__ = [
    "RESULT_FORMATS",
    "ResultFormat",
    "ResultInfo",
    "encode_result",
    "resolve_format",
    "votable_error_document",
]

_VOT = "application/x-votable+xml"


@dataclass(frozen=True)
class ResultFormat:
    """One output format: its short name, the Content-Type sent, and what selects it."""

    name: str
    mime_type: str
    extension: str
    aliases: tuple[str, ...]


def _votable_aliases(serialization: str, *short: str) -> tuple[str, ...]:
    """Short names, then each VOTable MIME type with ``serialization=`` (DALI 1.1 §3.4.3)."""
    mimes = (_VOT, "application/votable+xml", "text/xml")
    return (*short, *(f"{m};serialization={serialization}" for m in mimes))


RESULT_FORMATS: tuple[ResultFormat, ...] = (
    ResultFormat(
        "votable",
        _VOT,
        "vot",
        (
            "votable",
            "votable/td",
            "vot",
            "xml",
            _VOT,
            "application/votable+xml",
            "text/xml",
            *_votable_aliases("TABLEDATA"),
        ),
    ),
    ResultFormat(
        "votable/b",
        f"{_VOT};serialization=BINARY",
        "vot",
        _votable_aliases("BINARY", "votable/b", "votable/binary", "binary"),
    ),
    ResultFormat(
        "votable/b2",
        f"{_VOT};serialization=BINARY2",
        "vot",
        _votable_aliases("BINARY2", "votable/b2", "votable/binary2", "binary2"),
    ),
    ResultFormat("csv", "text/csv", "csv", ("csv", "text/csv", "text/csv;header=present")),
    ResultFormat(
        "tsv",
        "text/tab-separated-values",
        "tsv",
        (
            "tsv",
            "text/tsv",
            "text/tab-separated-values",
            "text/tab-separated-values;header=present",
        ),
    ),
    ResultFormat("fits", "application/fits", "fits", ("fits", "application/fits", "image/fits")),
    ResultFormat(
        "parquet",
        "application/vnd.apache.parquet",
        "parquet",
        ("parquet", "application/vnd.apache.parquet", "application/x-parquet"),
    ),
    ResultFormat("json", "application/json", "json", ("json", "application/json", "text/json")),
)

_SPACES_AROUND = re.compile(r"\s*([;=])\s*")


def _normalise(value: str) -> str:
    return _SPACES_AROUND.sub(r"\1", value.strip()).lower()


_BY_ALIAS = {_normalise(alias): fmt for fmt in RESULT_FORMATS for alias in fmt.aliases}


def resolve_format(value: str | None) -> ResultFormat:
    """The format a RESPONSEFORMAT value asks for; None or blank gives the default.

    Matching ignores case and blanks around ``;`` and ``=``. An unknown value raises
    :class:`UsageError` listing the short names accepted.
    """
    if value is None or not value.strip():
        return RESULT_FORMATS[0]
    fmt = _BY_ALIAS.get(_normalise(value))
    if fmt is None:
        names = ", ".join(f.name for f in RESULT_FORMATS)
        raise UsageError(
            f"unknown RESPONSEFORMAT {value!r}; use one of {names} (or their MIME types)"
        )
    return fmt


@dataclass(frozen=True)
class ResultInfo:
    """What a result document says besides its rows (VOTable INFOs, table name)."""

    query: str | None = None
    table_name: str = "result"
    description: str | None = None
    extra_infos: tuple[tuple[str, str], ...] = ()
    # CSV line end: RFC 4180's CRLF by default; the Data Lab API answers with LF, as
    # its users' scripts (``text.split("\n")``) expect.
    csv_line_end: str = "\r\n"


# -- chunking --------------------------------------------------------------------------------

_LOW = 64 << 10
_HIGH = 1 << 20
_SLICE_BYTES = 2 << 20  # Arrow bytes of input encoded at a time
# The same for the encoders that work on a slice per core at once (``ordered_map``):
# smaller, so that all the slices in flight together hold about what one did.
_PARALLEL_SLICE_BYTES = 1 << 20


def _sliced(
    batches: Iterable[pa.RecordBatch], fields: Sequence[FieldMeta], size: int = _SLICE_BYTES
) -> Iterator[pa.RecordBatch]:
    """Batches of about ``size`` bytes of Arrow data, conformed to ``fields``.

    Encoding a slice holds its text or bytes several times over, so huge batches are
    cut to keep that bounded and the output flowing.
    """
    for batch in batches:
        batch = conform_batch(batch, fields)
        n = batch.num_rows
        rows = max(1024, int(size * n / max(batch.nbytes, 1))) if n else 1
        for start in range(0, n, rows):
            yield batch.slice(start, rows)


def _rechunk(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Pieces regrouped into chunks of at least 64 KiB (but the last) and at most 1 MiB.

    Whole 1 MiB stretches of a large piece are cut straight out of it; only the ends
    go through the buffer, so most bytes are copied once.
    """
    buffer = bytearray()
    for piece in pieces:
        view = memoryview(piece)
        if buffer:
            take = _HIGH - len(buffer)
            buffer += view[:take]
            view = view[take:]
            if len(buffer) >= _HIGH:
                yield bytes(buffer)
                buffer = bytearray()
        while len(view) >= _HIGH:
            yield bytes(view[:_HIGH])
            view = view[_HIGH:]
        buffer += view
        if len(buffer) >= _LOW:
            yield bytes(buffer)
            buffer = bytearray()
    if buffer:
        yield bytes(buffer)


# -- FITS ------------------------------------------------------------------------------------


def _fits_type(t: pa.DataType) -> pa.DataType:
    """Timestamps become ISO 8601 text (DALI 1.1 §3.3.3), int8 becomes int16.

    FitsTableWriter stores int8 as a byte offset by -128 and marks nulls with -128,
    which a genuine -128 would contradict; int16 has room for both, as in VOTable.
    """
    if pa.types.is_temporal(t):
        return pa.string()
    if pa.types.is_int8(t):
        return pa.int16()
    if pa.types.is_fixed_size_list(t) and pa.types.is_int8(t.value_type):
        return pa.list_(pa.int16(), t.list_size)
    return t


def _fits_ready(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    columns = [
        iso_timestamps(c) if pa.types.is_temporal(c.type) else c.cast(f.type)
        for c, f in zip(batch.columns, schema, strict=True)
    ]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _fits_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(f.name, _fits_type(f.type), f.nullable) for f in schema])


def _fits_chunks(
    schema: pa.Schema,
    fields: Sequence[FieldMeta],
    batches: Iterable[pa.RecordBatch],
    info: ResultInfo,
    tmp_dir: Path | None,
) -> Iterator[bytes]:
    """A FITS file, written whole to a temporary file and then read out.

    FITS text columns have one width for all rows, known only after the last row, so
    the rows are first spooled to an Arrow IPC file while the widths are measured, then
    written by ``FitsTableWriter`` (which needs a seekable file for NAXIS2). Every error
    therefore raises before the first byte is yielded.
    """
    widths: dict[str, int] = {}
    with (
        tempfile.TemporaryFile(dir=tmp_dir) as spool,
        tempfile.TemporaryFile(dir=tmp_dir) as out,
    ):
        with pa.ipc.new_stream(spool, schema) as stream:
            for batch in batches:
                batch = _fits_ready(batch, schema)
                for name, column in zip(schema.names, batch.columns, strict=True):
                    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                        longest = pc.max(pc.binary_length(column)).as_py() or 0
                        widths[name] = max(widths.get(name, 1), longest)
                stream.write_batch(batch)
        spool.seek(0)
        writer = FitsTableWriter(
            out,
            schema,
            fields,
            description=info.description,
            extname=info.table_name,
            string_widths=widths,
        )
        for batch in pa.ipc.open_stream(spool):
            writer.write_batch(batch)
        writer.close()
        out.seek(0)
        yield from _read_out(out)


def _read_out(file: BinaryIO) -> Iterator[bytes]:
    while chunk := file.read(_HIGH):
        yield chunk


# -- the entry point ---------------------------------------------------------------------

# Parquet's writer takes the batches one after the other, so the engine fetches the
# next batch in a thread of its own meanwhile. (FITS spools the rows to a file first,
# which gains nothing from it.)
_FETCH_AHEAD = frozenset({"parquet"})


# Batches of fewer cells than this are encoded in the calling thread (``ordered_map``'s
# ``small``): for a few rows the hand-over to an encoding thread costs more. Counted in
# cells, not bytes: the byte size of a slice takes longer to work out than a cone.
_INLINE_CELLS = 20_000

R = TypeVar("R")


def _map(func: Callable[[pa.RecordBatch], R], batches: Iterable[pa.RecordBatch]) -> Iterator[R]:
    return ordered_map(
        func, batches, small=lambda batch: batch.num_rows * batch.num_columns < _INLINE_CELLS
    )


@functools.lru_cache(maxsize=256)
def _resolved(
    schema: pa.Schema, fields: tuple[FieldMeta, ...]
) -> tuple[tuple[FieldMeta, ...], pa.Schema]:
    """The written fields and the conformed schema: the same for every result of a query
    shape, and worth keeping (a tenth of a millisecond per column to work out)."""
    resolved = tuple(resolve_fields(schema, fields))
    return resolved, conformed_schema(schema, resolved)


def encode_result(
    fmt: ResultFormat,
    schema: pa.Schema,
    fields: Sequence[FieldMeta],
    batches: Iterable[pa.RecordBatch],
    info: ResultInfo,
    *,
    overflow: Callable[[], bool] = lambda: False,
    tmp_dir: Path | None = None,
) -> Iterator[bytes]:
    """The result encoded in ``fmt``, as chunks of 64 KiB to 1 MiB (the last may be less).

    ``fields`` is aligned with ``schema``; a FieldMeta's datatype, arraysize and xtype
    may be None (they are derived from the Arrow type; see
    ``votable_writer.resolve_fields``). ``overflow`` is called once, after ``batches``
    is exhausted: when true, VOTable gets a trailing QUERY_STATUS OVERFLOW INFO (DALI
    1.1 §4.4.1, TAP 1.1 §2.9), JSON ``"overflow": true`` and Parquet the footer key
    ``datalab.query_status`` = ``OVERFLOW``; CSV, TSV and FITS have no place for it. FITS is written
    to temporary files in ``tmp_dir`` (default: the system's).

    Columns this format cannot hold raise :class:`UsageError` here, before any
    iteration; the encoding itself happens as the chunks are pulled. The text and
    VOTable encoders work on several batches at once (``pipeline.ordered_map``), one
    per core; Parquet reads ``batches`` one ahead in a thread of its own
    (``pipeline.read_ahead``). Either way ``batches`` is read by one thread at a time
    and no longer once the chunks have run out or been closed, so the caller may then
    close the query.
    """
    if len(fields) != len(schema):
        raise ValueError(f"{len(fields)} FieldMeta for {len(schema)} columns")
    if not len(schema):
        raise UsageError("a result needs at least one column")
    resolved, target = _resolved(schema, tuple(fields))
    fetched = read_ahead(iter(batches), 1, wait=True) if fmt.name in _FETCH_AHEAD else None
    size = _SLICE_BYTES if fmt.name == "fits" else _PARALLEL_SLICE_BYTES
    rows = _sliced(fetched or batches, resolved, size)
    chunks: Iterator[bytes]
    if fmt.name.startswith("votable"):
        serialization = {"votable": "TABLEDATA", "votable/b": "BINARY"}.get(fmt.name, "BINARY2")
        chunks = votable_chunks(
            serialization, target, resolved, rows, info, overflow, map_batches=_map
        )
    elif fmt.name == "csv":
        chunks = csv_chunks(target, rows, line_end=info.csv_line_end, map_batches=_map)
    elif fmt.name == "tsv":
        chunks = tsv_chunks(target, rows, map_batches=_map)
    elif fmt.name == "json":
        chunks = json_chunks(resolved, rows, overflow, map_batches=_map)
    elif fmt.name == "parquet":
        # Unsliced: a row group per incoming batch keeps the file's row groups large.
        whole = (conform_batch(b, resolved) for b in fetched or batches)
        chunks = parquet_chunks(target, resolved, whole, info, overflow)
    elif fmt.name == "fits":
        fits_schema = _fits_schema(target)
        # Refuses the column types FITS cannot hold, before any row is read.
        FitsTableWriter(io.BytesIO(), fits_schema, resolved)
        chunks = _fits_chunks(fits_schema, resolved, rows, info, tmp_dir)
    else:
        raise UsageError(f"no encoder for the format {fmt.name!r}")
    if fetched is not None:
        return _closing(_rechunk(chunks), fetched)
    return _rechunk(chunks)


def _closing(
    chunks: Iterator[bytes], fetched: Generator[pa.RecordBatch, None, None]
) -> Iterator[bytes]:
    """``chunks``; then, however they end (even by an error), the fetching thread stopped.

    Left to garbage collection, the thread could still be reading the query when the
    caller closes it, if an error's traceback kept the generators alive.
    """
    with contextlib.closing(fetched):
        yield from chunks
