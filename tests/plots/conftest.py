"""Small VO-Parquet results written by the server's own writer, so the plots read the
same files (units and UCDs in the footer) that portal queries leave behind."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

from datalab.formats import FieldMeta, ResultInfo
from datalab.formats.parquet_writer import parquet_chunks

Column = tuple[pa.Array, FieldMeta]
WriteResult = Callable[..., Path]


def write_result(path: Path, columns: dict[str, Column], overflow: bool = False) -> Path:
    """A VO-Parquet result at ``path`` with these columns (name → values, metadata)."""
    arrays = [values for values, _ in columns.values()]
    schema = pa.schema([pa.field(name, values.type) for name, (values, _) in columns.items()])
    fields = [meta for _, meta in columns.values()]
    batch = pa.RecordBatch.from_arrays(arrays, schema=schema)
    with path.open("wb") as out:
        for chunk in parquet_chunks(schema, fields, [batch], ResultInfo(), lambda: overflow):
            out.write(chunk)
    return path


def column(name: str, values: list | pa.Array, dtype: pa.DataType | None = None,
           **meta: str) -> tuple[str, Column]:
    array = values if isinstance(values, pa.Array) else pa.array(values, type=dtype)
    return name, (array, FieldMeta(name, **meta))


@pytest.fixture
def result(tmp_path: Path) -> WriteResult:
    """``result(*columns, overflow=False)``: a result file in this test's directory."""
    made = iter(range(1000))

    def make(*columns: tuple[str, Column], overflow: bool = False) -> Path:
        return write_result(tmp_path / f"result-{next(made)}.parquet", dict(columns), overflow)

    return make
