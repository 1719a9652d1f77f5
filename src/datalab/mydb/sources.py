"""What users load into myDB, as one stream of Arrow batches with column metadata.

A file is read through :func:`datalab.formats.open_table` (CSV, TSV, FITS, Parquet,
VOTable), which streams it, so importing a file of any size costs a few batches of
memory. In-memory tables (pyarrow, astropy, pandas) are cut into batches too, so that
converting them never doubles a large table in memory at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from datalab.errors import UsageError
from datalab.formats import FieldMeta, open_table

__all__ = ["CHUNK_ROWS", "Source", "open_source"]

CHUNK_ROWS = 65536


@dataclass
class Source:
    """A table to load: its Arrow schema, its batches (read once) and what is known of
    its columns (units, UCDs, descriptions)."""

    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]
    fields: list[FieldMeta] = field(default_factory=list)


@contextmanager
def open_source(
    source: object, *, format: str | None = None, chunk_rows: int = CHUNK_ROWS
) -> Iterator[Source]:
    """The rows of ``source``: a file path, a pyarrow Table or RecordBatch, an astropy
    Table or a pandas DataFrame. A file is closed when the block ends."""
    if isinstance(source, str | Path):
        with open_table(Path(source), format) as reader:
            yield Source(reader.schema, reader.batches(chunk_rows), list(reader.fields))
        return
    if format is not None:
        raise UsageError("a format can only be given for a file, not for an in-memory table")
    if isinstance(source, pa.RecordBatch):
        source = pa.Table.from_batches([source])
    if _is_pandas(source):
        try:
            source = pa.Table.from_pandas(source, preserve_index=False)
        except (pa.ArrowException, ValueError, TypeError) as exc:
            raise UsageError(f"cannot convert the DataFrame: {exc}") from exc
    if isinstance(source, pa.Table):
        yield Source(source.schema, iter(source.to_batches(max_chunksize=chunk_rows)))
        return
    from astropy.table import Table

    if isinstance(source, Table):
        yield _astropy_source(source, chunk_rows)
        return
    raise UsageError(
        f"cannot load a {type(source).__name__}: give a file name, a pyarrow Table, an "
        "astropy Table or a pandas DataFrame"
    )


def _is_pandas(value: object) -> bool:
    """Whether ``value`` is a pandas DataFrame, without importing pandas (optional)."""
    kind = type(value)
    return kind.__module__.split(".")[0] == "pandas" and kind.__name__ == "DataFrame"


def _astropy_source(table: Any, chunk_rows: int) -> Source:
    """An astropy Table as batches, its units, UCDs and descriptions as metadata."""
    names = list(table.colnames)
    fields = [_astropy_meta(name, table[name]) for name in names]
    first = _astropy_batch(table[: min(len(table), 1)], names)
    schema = first.schema

    def batches() -> Iterator[pa.RecordBatch]:
        for start in range(0, len(table), chunk_rows):
            batch = _astropy_batch(table[start : start + chunk_rows], names)
            yield batch.cast(schema) if batch.schema != schema else batch

    return Source(schema, batches(), fields)


def _astropy_meta(name: str, column: Any) -> FieldMeta:
    info = column.info
    unit = None
    if info.unit is not None:
        try:
            unit = info.unit.to_string("vounit")
        except (ValueError, TypeError):
            unit = info.unit.to_string()
    meta = info.meta or {}
    return FieldMeta(
        name,
        description=info.description or None,
        unit=unit or None,
        ucd=meta.get("ucd"),
        utype=meta.get("utype"),
    )


def _astropy_batch(table: Any, names: list[str]) -> pa.RecordBatch:
    return pa.record_batch([_astropy_array(name, table[name]) for name in names], names=names)


def _astropy_array(name: str, column: Any) -> pa.Array:
    """One astropy column (plain, masked, Quantity or Time) as an Arrow array."""
    from astropy.time import Time
    from astropy.units import Quantity

    mask = None
    if isinstance(column, Time):
        mask = np.asarray(column.mask) if np.ndim(column.mask) else None
        values = np.asarray(np.ma.getdata(column.isot))
    elif isinstance(column, Quantity):
        values = np.asarray(getattr(column, "unmasked", column).value)
        if hasattr(column, "mask"):
            mask = np.asarray(column.mask)
    elif hasattr(column, "dtype"):
        values = np.ma.getdata(column)
        if np.ma.isMaskedArray(column):
            mask = np.ma.getmaskarray(column)
        values = np.asarray(values)
    else:
        raise UsageError(f"column {name!r}: a {type(column).__name__} cannot be stored in myDB")
    if values.ndim != 1:
        raise UsageError(
            f"column {name!r} holds arrays ({values.shape[1:]} per row): myDB tables hold "
            "one value per cell"
        )
    if values.dtype.kind == "S":
        values = np.char.decode(values, "utf-8")
    try:
        return pa.array(values, mask=mask if mask is not None and mask.any() else None)
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise UsageError(f"column {name!r} cannot be stored in myDB: {exc}") from exc
