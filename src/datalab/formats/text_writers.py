"""Query results as CSV, TSV and JSON text, and the cell texts other writers share.

Every conversion works on a whole Arrow column with pyarrow compute kernels (casts,
string joins, regex replacement), so the per-row cost is in C: a row is never a
Python object. The same column → text conversion serves VOTable TABLEDATA, CSV, TSV
and JSON; only quoting and escaping differ by format.

Cell texts: integers in decimal; floats in the shortest form that reads back to the
same value (Arrow's formatter), NaN as ``NaN`` and infinities as ``+Inf``/``-Inf``
(the spellings of VOTable 1.4 §6, which Python and most CSV readers also accept);
timestamps as ISO 8601 ``YYYY-MM-DDThh:mm:ss[.fff]`` in UTC (DALI 1.1 §3.3.3);
arrays as their elements separated by one blank (VOTable 1.4 §5.1), a null element
of a floating array as ``NaN`` and of an integer array as the VALUES null sentinel
(:data:`INT_NULLS`, declared by the VOTable writer); binary values as arrays of bytes.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from datalab.formats.fields import FieldMeta

__all__ = [
    "INT_NULLS",
    "BatchMapper",
    "as_lists",
    "cell_text",
    "csv_chunks",
    "joined_bytes",
    "json_chunks",
    "tsv_chunks",
]

# How a writer applies its per-batch encoder to the batches: ``map``, or a parallel map
# that keeps the order (``pipeline.ordered_map``).
BatchMapper = Callable[
    [Callable[[pa.RecordBatch], bytes], Iterable[pa.RecordBatch]], Iterator[bytes]
]

# The value that stands for null in an integer VOTable datatype (declared with VALUES
# null=, VOTable 1.4 §4.7): the most negative value, or the largest for unsignedByte.
INT_NULLS = {
    "unsignedByte": 255,
    "short": -(1 << 15),
    "int": -(1 << 31),
    "long": -(1 << 63),
}

_INT_DATATYPE = {
    pa.uint8(): "unsignedByte",
    pa.int8(): "short",
    pa.int16(): "short",
    pa.uint16(): "int",
    pa.int32(): "int",
    pa.uint32(): "long",
    pa.int64(): "long",
    pa.uint64(): "long",
}


def int_datatype(t: pa.DataType) -> str:
    """The VOTable integer datatype that holds every value of Arrow integer type ``t``."""
    return _INT_DATATYPE[t]


def joined_bytes(arr: pa.Array) -> bytes:
    """The bytes of all values of a null-free string or binary array, concatenated.

    Taken straight from the value buffer, so no per-value copy is made.
    """
    if len(arr) == 0:
        return b""
    if pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type):
        width = np.int64
    else:
        width = np.int32
    buffers = arr.buffers()
    offsets = np.frombuffer(buffers[1], width, len(arr) + 1, arr.offset * np.dtype(width).itemsize)
    if buffers[2] is None:
        return b""
    return buffers[2][int(offsets[0]) : int(offsets[-1])].to_pybytes()


def _plain(arr: pa.Array) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    return arr


def iso_timestamps(arr: pa.Array) -> pa.Array:
    """ISO 8601 texts of a timestamp or date column; aware timestamps are shown in UTC."""
    t = arr.type
    if pa.types.is_date(t):
        return arr.cast(pa.string())
    if t.tz is not None:  # the stored value is UTC; dropping the zone keeps it as is
        arr = arr.cast(pa.timestamp(t.unit))
    return pc.strftime(arr, format="%Y-%m-%dT%H:%M:%S")


def float_text(arr: pa.Array) -> pa.Array:
    """Shortest round-trip decimal texts, with VOTable spellings of NaN and infinities."""
    text = arr.cast(pa.string())
    special = pc.or_(pc.is_nan(arr), pc.is_inf(arr))
    if not pc.any(special).as_py():
        return text
    signed = pc.if_else(pc.greater(arr, 0), "+Inf", "-Inf")
    return pc.if_else(pc.is_nan(arr), "NaN", pc.if_else(pc.is_inf(arr), signed, text))


def as_lists(arr: pa.Array) -> pa.Array:
    """A binary column as lists of unsigned bytes; list columns unchanged."""
    if not (pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type)):
        return arr
    width = np.int64 if pa.types.is_large_binary(arr.type) else np.int32
    buffers = arr.buffers()
    n = len(arr)
    offsets = np.frombuffer(buffers[1], width, n + 1, arr.offset * np.dtype(width).itemsize)
    start, end = int(offsets[0]), int(offsets[-1])
    data = np.frombuffer(buffers[2], np.uint8)[start:end] if buffers[2] else np.zeros(0, np.uint8)
    return pa.ListArray.from_arrays(
        pa.array((offsets - start).astype(np.int32)), pa.array(data), mask=arr.is_null()
    )


def list_parts(arr: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """The elements of a list column and, per row, where they start and end.

    A null row owns no elements (variable lists) or its full run of slots (fixed-size
    lists), so that ``offsets`` always index ``values``.
    """
    if pa.types.is_fixed_size_list(arr.type):
        size = arr.type.list_size
        values = arr.values.slice(arr.offset * size, len(arr) * size)
        if arr.null_count:  # the slots of a null row may hold anything: make them null
            valid = np.repeat(np.asarray(arr.is_valid()), size)
            values = pc.if_else(pa.array(valid), values, pa.scalar(None, values.type))
        return values, np.arange(len(arr) + 1, dtype=np.int64) * size
    lengths = np.asarray(pc.list_value_length(arr).fill_null(0), np.int64)
    offsets = np.zeros(len(arr) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return pc.list_flatten(arr), offsets


def _element_text(values: pa.Array) -> pa.Array:
    """Texts of array elements, none null (see the module docstring for null elements)."""
    t = values.type
    if pa.types.is_floating(t):
        return float_text(values.fill_null(float("nan")))
    if pa.types.is_integer(t):
        return values.cast(pa.string()).fill_null(str(INT_NULLS[int_datatype(t)]))
    return cell_text(values).fill_null("")


def _join(arr: pa.Array, sep: str, element: Callable[[pa.Array], pa.Array]) -> pa.Array:
    values, offsets = list_parts(arr)
    lists = pa.ListArray.from_arrays(
        pa.array(offsets.astype(np.int32)), element(values), mask=arr.is_null()
    )
    return pc.binary_join(lists, sep)


def cell_text(arr: pa.Array, *, true: str = "T", false: str = "F") -> pa.Array:
    """Plain texts of a column's cells (unescaped); a null cell stays null."""
    arr = _plain(arr)
    t = arr.type
    if pa.types.is_boolean(t):
        return pc.if_else(arr, true, false)
    if pa.types.is_floating(t):
        return float_text(arr)
    if pa.types.is_string(t):
        return arr
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return iso_timestamps(arr)
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        arr = as_lists(arr)
        t = arr.type
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return _join(arr, " ", _element_text)
    return arr.cast(pa.string())


# -- CSV (RFC 4180) ----------------------------------------------------------------------


def _csv_ready(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Columns Arrow's CSV writer spells our way: ISO timestamps, arrays as text."""
    columns = []
    for column in batch.columns:
        t = column.type
        if pa.types.is_dictionary(t):
            column, t = column.dictionary_decode(), t.value_type
        if pa.types.is_timestamp(t) or pa.types.is_date(t) or pa.types.is_nested(t):
            column = cell_text(column)
        elif pa.types.is_binary(t) or pa.types.is_large_binary(t):
            column = cell_text(column)
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def csv_chunks(
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    *,
    line_end: str = "\r\n",
    map_batches: BatchMapper = map,
) -> Iterator[bytes]:
    """RFC 4180 CSV: a header row, CRLF line ends, fields quoted when they need it.

    Arrow's writer quotes every string value, which RFC 4180 allows, so an empty string
    (``""``) and a null (nothing) stay apart. Numbers are written unquoted, floats
    in Arrow's shortest round-trip form (``nan``, ``inf`` for the special values).
    Batches are independent, so ``map_batches`` may encode several at once.
    """
    # The header is written here: Arrow quotes every name, and readers that take the
    # first line as plain column names (most do) would keep the quotes.
    yield (",".join(_csv_name(name) for name in schema.names) + line_end).encode("utf-8")
    yield from map_batches(functools.partial(_csv_rows, line_end=line_end), batches)


def _csv_rows(batch: pa.RecordBatch, line_end: str) -> bytes:
    """The CSV lines of one batch, without a header."""
    sink = pa.BufferOutputStream()
    options = pacsv.WriteOptions(include_header=False, eol=line_end)
    pacsv.write_csv(_csv_ready(batch), sink, options)
    return sink.getvalue().to_pybytes()


def _csv_name(name: str) -> str:
    """A header field, quoted only when RFC 4180 requires it."""
    if any(ch in name for ch in ',"\r\n') or name != name.strip():
        return '"' + name.replace('"', '""') + '"'
    return name


# -- TSV (IANA text/tab-separated-values) --------------------------------------------------


def _tsv_cells(column: pa.Array) -> pa.Array:
    """A column's texts, tabs and line breaks replaced by blanks (TSV cannot quote)."""
    text = cell_text(column, true="true", false="false")
    if pa.types.is_string(text.type) and pc.any(pc.match_substring_regex(text, "[\t\r\n]")).as_py():
        text = pc.replace_substring_regex(text, "[\t\r\n]", " ")
    return text.fill_null("")


def tsv_chunks(
    schema: pa.Schema, batches: Iterable[pa.RecordBatch], *, map_batches: BatchMapper = map
) -> Iterator[bytes]:
    """Tab-separated values with a header row; a null cell is empty, like an empty string.

    Batches are independent, so ``map_batches`` may encode several at once.
    """
    header = pa.array(schema.names, pa.string())
    header = pc.replace_substring_regex(header, "[\t\r\n]", " ").to_pylist()
    yield ("\t".join(header) + "\n").encode()
    yield from map_batches(_tsv_rows, (b for b in batches if b.num_rows))


def _tsv_rows(batch: pa.RecordBatch) -> bytes:
    """The TSV lines of one non-empty batch."""
    cells = pc.binary_join_element_wise(*[_tsv_cells(c) for c in batch.columns], "\t")
    return joined_bytes(pc.binary_join_element_wise(cells, "\n", ""))


# -- JSON ------------------------------------------------------------------------------------

_JSON_ESCAPES = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"))


def _json_strings(text: pa.Array) -> pa.Array:
    """JSON string literals (RFC 8259 §7) of a string column; nulls become ``null``."""
    if pc.any(pc.match_substring_regex(text, r"[\x00-\x08\x0b\x0c\x0e-\x1f]")).as_py():
        # Rare control characters need \\uXXXX escapes, which no kernel writes.
        return pa.array([json.dumps(s, ensure_ascii=False) for s in text.to_pylist()], pa.string())
    for plain, escaped in _JSON_ESCAPES:
        text = pc.replace_substring(text, plain, escaped)
    return pc.binary_join_element_wise('"', text, '"', "").fill_null("null")


def _json_numbers(arr: pa.Array) -> pa.Array:
    text = arr.cast(pa.string())
    if pa.types.is_floating(arr.type):  # JSON has no NaN or infinities
        special = pc.or_(pc.is_nan(arr), pc.is_inf(arr))
        text = pc.if_else(special, pa.scalar(None, pa.string()), text)
    return text


def _json_elements(values: pa.Array) -> pa.Array:
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        return _json_numbers(values).fill_null("null")
    return _json_cells(values)


def _json_cells(arr: pa.Array) -> pa.Array:
    arr = _plain(arr)
    t = arr.type
    if pa.types.is_boolean(t):
        out = pc.if_else(arr, "true", "false")
    elif pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        out = _json_numbers(arr)
    elif pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_nested(t):
        lists = _join(as_lists(arr), ",", _json_elements)
        out = pc.binary_join_element_wise("[", lists, "]", "")
    else:
        return _json_strings(cell_text(arr))
    return out.fill_null("null")


def _json_rows(batch: pa.RecordBatch) -> bytes:
    """The rows of one non-empty batch, each as ``,\\n[...]``."""
    cells = pc.binary_join_element_wise(*[_json_cells(c) for c in batch.columns], ",")
    return joined_bytes(pc.binary_join_element_wise(",\n[", cells, "]", ""))


def _json_field(meta: FieldMeta) -> dict[str, str | None]:
    return {
        "name": meta.name,
        "datatype": meta.datatype,
        "arraysize": meta.arraysize,
        "xtype": meta.xtype,
        "unit": meta.unit,
        "ucd": meta.ucd,
        "utype": meta.utype,
        "description": meta.description,
    }


def json_chunks(
    fields: Sequence[FieldMeta],
    batches: Iterable[pa.RecordBatch],
    overflow: Callable[[], bool],
    *,
    map_batches: BatchMapper = map,
) -> Iterator[bytes]:
    """``{"metadata": [...], "data": [[...], ...], "overflow": bool}``, one row a line.

    The shape Gaia's TAP service writes and astroquery's TapPlus reads; ``fields``
    must have their VOTable datatype, arraysize and xtype filled in already.
    Batches are independent, so ``map_batches`` may encode several at once.
    """
    metadata = json.dumps([_json_field(m) for m in fields], ensure_ascii=False)
    yield f'{{"metadata": {metadata},\n"data": ['.encode()
    first = True
    for data in map_batches(_json_rows, (b for b in batches if b.num_rows)):
        yield data[1:] if first else data
        first = False
    yield f'\n],\n"overflow": {"true" if overflow() else "false"}}}\n'.encode()
