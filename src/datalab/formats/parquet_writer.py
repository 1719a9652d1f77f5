"""Query results as VO-Parquet, streamed without a seekable file.

Parquet's footer comes last and nothing before it is rewritten, so pyarrow's writer
can write into a sink that hands out what it received after every batch (one row group
per batch). The file follows the IVOA Note "Parquet in the VO" (VO-Parquet 1.0): the
footer's key-value metadata holds ``IVOA.VOTable-Parquet.version`` = ``1.0`` and
``IVOA.VOTable-Parquet.content``, a VOTable document whose TABLE has the FIELDs and no
DATA. Units, UCDs, utypes and descriptions are repeated as Arrow field metadata for
readers that do not know VO-Parquet.

Overflow. The footer is written last, so a truncated result is marked there, with the
key ``datalab.query_status`` = ``OVERFLOW`` (no key when the result is complete). The
VOTable document cannot carry it: pyarrow stores the Arrow schema, metadata included,
when the writer opens, and readers restore that copy over later footer keys, so an
updated ``content`` would read differently through pyarrow and through other readers.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from datalab.formats.fields import FieldMeta
from datalab.formats.votable_writer import votable_metadata_document

if TYPE_CHECKING:
    from datalab.formats.results import ResultInfo

__all__ = ["QUERY_STATUS_KEY", "VO_PARQUET_CONTENT", "VO_PARQUET_VERSION", "parquet_chunks"]

VO_PARQUET_VERSION = "IVOA.VOTable-Parquet.version"
VO_PARQUET_CONTENT = "IVOA.VOTable-Parquet.content"
QUERY_STATUS_KEY = "datalab.query_status"
# Snappy: every Parquet reader has it, and it compresses at several hundred MB/s a
# core, so the result streams as fast as the rows come. zstd makes files about a fifth
# smaller but takes about half as long again to write, which a download over a
# fast network waits for.
COMPRESSION = "snappy"


class _Drain(io.RawIOBase):
    """A write-only sink whose received bytes are taken out with :meth:`take`."""

    def __init__(self) -> None:
        super().__init__()
        self._pieces: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        piece = bytes(data)
        self._pieces.append(piece)
        self._position += len(piece)
        return len(piece)

    def tell(self) -> int:
        return self._position

    def take(self) -> bytes:
        out = b"".join(self._pieces)
        self._pieces.clear()
        return out


def _arrow_schema(schema: pa.Schema, fields: Sequence[FieldMeta]) -> pa.Schema:
    out = []
    for arrow, meta in zip(schema, fields, strict=True):
        pairs = {
            key: value
            for key in ("unit", "ucd", "utype", "description", "xtype")
            if (value := getattr(meta, key))
        }
        out.append(arrow.with_metadata(pairs or None))
    return pa.schema(out)


def _dictionary_columns(schema: pa.Schema) -> list[str]:
    """The columns worth dictionary-encoding: text and bytes, where values repeat.

    Arrow's default tries a dictionary for every column. Measurements and ids hardly
    repeat, so for them the dictionary grows to its page limit and is then dropped for
    plain encoding: time spent hashing every value (about two thirds of the writer's
    work on a typical catalog) for a larger file.
    """
    return [
        f.name
        for f in schema
        if pa.types.is_string(f.type)
        or pa.types.is_large_string(f.type)
        or pa.types.is_binary(f.type)
        or pa.types.is_large_binary(f.type)
    ]


def parquet_chunks(
    schema: pa.Schema,
    fields: Sequence[FieldMeta],
    batches: Iterable[pa.RecordBatch],
    info: ResultInfo,
    overflow: Callable[[], bool],
) -> Iterator[bytes]:
    """The bytes of a VO-Parquet file, a row group per batch, footer last."""
    document = votable_metadata_document(schema, fields, info)
    full = _arrow_schema(schema, fields).with_metadata(
        {VO_PARQUET_VERSION: "1.0", VO_PARQUET_CONTENT: document}
    )
    sink = _Drain()
    writer = pq.ParquetWriter(
        sink, full, compression=COMPRESSION, use_dictionary=_dictionary_columns(full)
    )
    try:
        for batch in batches:
            if batch.num_rows:
                writer.write_batch(pa.RecordBatch.from_arrays(batch.columns, schema=full))
                yield sink.take()
        if overflow():
            writer.add_key_value_metadata({QUERY_STATUS_KEY: "OVERFLOW"})
    finally:
        writer.close()
    yield sink.take()
