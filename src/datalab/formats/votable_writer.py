"""Query results as VOTable 1.4 documents (TABLEDATA, BINARY, BINARY2), streamed.

The header (everything before the rows) and the footer are small strings; the rows
are encoded a batch at a time with pyarrow kernels and numpy, never a Python object
per row:

* TABLEDATA (VOTable 1.4 §5.1): each column becomes its cell texts (see
  ``text_writers``), XML-escaped, and the cells of a row are joined by one kernel.
  Characters XML 1.0 forbids (C0 controls other than tab and line feed, U+FFFE,
  U+FFFF) are dropped; a carriage return is written as ``&#13;`` so that it survives
  the line-end normalisation of XML parsers. A null cell is an empty TD.
* BINARY (§5.4) and BINARY2 (§5.5): each column becomes the big-endian bytes of its
  cells (a 4-byte count before variable-size ones), the cells of a row are joined, and
  the rows go through one base64 encoder whose lines are 76 characters long in every
  chunk: a batch's bytes are encoded up to a multiple of 57 and the rest is carried.

Nulls. BINARY2 flags them in each row's leading bit mask. BINARY has no flags, so:
floats are NaN; strings, timestamps and variable arrays are empty (so an empty string
reads back as null); booleans are ``?``; and a nullable integer column declares
``<VALUES null="...">`` with its type's most negative value (255 for unsignedByte),
always, because the header is written before any row is seen. A genuine value equal
to that sentinel then reads back as null: BINARY2 is the exact serialization.
``int8`` is widened to ``short`` and ``uint16``/``uint32`` to the next signed type, so
their sentinels can never collide. Elements of integer arrays have no null flag in
any serialization and use the same declared sentinel.

Strings. In TABLEDATA they are ``char`` with ``arraysize="*"``, as most TAP services
write them: the cell is XML text, so any Unicode character is exact there. In BINARY
and BINARY2 the bytes are what a reader decodes, and VOTable 1.4 §2.1 defines ``char``
as ASCII (astropy 8 refuses other bytes), while the header must be written before
the data are seen; so string columns are declared ``unicodeChar`` (UTF-16, §2.1) in
the binary serializations. Any text then reads back exactly, at two bytes a character.
"""

from __future__ import annotations

import binascii
import functools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datalab.errors import UsageError
from datalab.formats.fields import FieldMeta
from datalab.formats.text_writers import (
    INT_NULLS,
    BatchMapper,
    as_lists,
    cell_text,
    int_datatype,
    iso_timestamps,
    joined_bytes,
    list_parts,
)
from datalab.formats.votable_types import votable_type

if TYPE_CHECKING:
    from datalab.formats.results import ResultInfo

__all__ = [
    "VOTABLE_NS",
    "VOTABLE_VERSION",
    "conform_batch",
    "conformed_schema",
    "resolve_fields",
    "votable_chunks",
    "votable_error_document",
    "votable_metadata_document",
]

VOTABLE_NS = "http://www.ivoa.net/xml/VOTable/v1.3"
VOTABLE_VERSION = "1.4"

_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# The same class in RE2 syntax, for pyarrow's regex kernels.
_FORBIDDEN_RE2 = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{fffe}\x{ffff}]"


# -- column metadata ---------------------------------------------------------------------


def _plain_type(t: pa.DataType) -> pa.DataType:
    return t.value_type if pa.types.is_dictionary(t) else t


def _is_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)


def _is_number(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)


def resolve_fields(schema: pa.Schema, fields: Sequence[FieldMeta]) -> list[FieldMeta]:
    """``fields`` with datatype, arraysize and xtype as the written bytes need them.

    The datatype always follows the Arrow type (votable_types.votable_type), because it
    says how the values are encoded; a differing datatype in the metadata is ignored.
    A variable-length array column whose metadata gives a fixed ``arraysize`` (such as
    ``"2"`` for a DALI point) keeps it, and :func:`conform_batch` makes its rows fixed.
    Strings and timestamps are always ``arraysize="*"``. ``xtype`` comes from the
    metadata when given, else from the Arrow type (``timestamp``).
    """
    if len(fields) != len(schema):
        raise ValueError(f"{len(fields)} FieldMeta for {len(schema)} columns")
    out = []
    for arrow, meta in zip(schema, fields, strict=True):
        t = _plain_type(arrow.type)
        if _is_list(t) and not _is_number(t.value_type):
            raise UsageError(
                f"column {arrow.name!r}: arrays of {t.value_type} cannot be written to VOTable"
            )
        datatype, arraysize, xtype = votable_type(t)
        if _is_list(t) and not pa.types.is_fixed_size_list(t) and (meta.arraysize or "").isdigit():
            arraysize = meta.arraysize
        out.append(replace(meta, datatype=datatype, arraysize=arraysize, xtype=meta.xtype or xtype))
    return out


def conformed_schema(schema: pa.Schema, fields: Sequence[FieldMeta]) -> pa.Schema:
    """The schema of the batches :func:`conform_batch` returns."""
    out = []
    for arrow, meta in zip(schema, fields, strict=True):
        t = _plain_type(arrow.type)
        if (pa.types.is_list(t) or pa.types.is_large_list(t)) and (meta.arraysize or "").isdigit():
            t = pa.list_(t.value_type, int(meta.arraysize or 0))
        out.append(pa.field(arrow.name, t, arrow.nullable))
    return pa.schema(out)


def conform_batch(batch: pa.RecordBatch, fields: Sequence[FieldMeta]) -> pa.RecordBatch:
    """``batch`` with dictionaries decoded and arrays made fixed-size where declared so.

    A variable-length row whose length differs from the declared ``arraysize`` makes
    the cast fail with ``pyarrow.ArrowInvalid``.
    """
    columns = []
    changed = False
    for column, meta in zip(batch.columns, fields, strict=True):
        t = column.type
        if pa.types.is_dictionary(t):
            column, t, changed = column.dictionary_decode(), t.value_type, True
        if (pa.types.is_list(t) or pa.types.is_large_list(t)) and (meta.arraysize or "").isdigit():
            column = column.cast(pa.list_(t.value_type, int(meta.arraysize or 0)))
            changed = True
        columns.append(column)
    if not changed:
        return batch
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _needs_sentinel(arrow: pa.Field, serialization: str) -> bool:
    """Whether a FIELD declares VALUES null (see the module docstring)."""
    t = _plain_type(arrow.type)
    if _is_list(t):
        return pa.types.is_integer(t.value_type)
    return serialization == "BINARY" and arrow.nullable and pa.types.is_integer(t)


# -- document parts ----------------------------------------------------------------------


def _clean(text: str) -> str:
    return _FORBIDDEN.sub("", text)


def _attr(value: str) -> str:
    return quoteattr(_clean(value), {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def _field_xml(meta: FieldMeta, sentinel: int | None) -> str:
    attrs = [f"name={_attr(meta.name)}"]
    for key in ("datatype", "arraysize", "xtype", "unit", "ucd", "utype"):
        value = getattr(meta, key)
        if value:
            attrs.append(f"{key}={_attr(value)}")
    inner = ""
    if meta.description:
        inner += f"<DESCRIPTION>{escape(_clean(meta.description))}</DESCRIPTION>"
    if sentinel is not None:
        inner += f'<VALUES null="{sentinel}"/>'
    head = "<FIELD " + " ".join(attrs)
    return f"{head}>{inner}</FIELD>\n" if inner else f"{head}/>\n"


def _info(name: str, value: str) -> str:
    return f"<INFO name={_attr(name)} value={_attr(value)}/>\n"


def _document_start() -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<VOTABLE version="{VOTABLE_VERSION}" xmlns="{VOTABLE_NS}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="{VOTABLE_NS} {VOTABLE_NS}">\n'
    )


def _table_start(
    schema: pa.Schema, fields: Sequence[FieldMeta], info: ResultInfo, serialization: str
) -> str:
    parts = [f"<TABLE name={_attr(info.table_name)}>\n"]
    if info.description:
        parts.append(f"<DESCRIPTION>{escape(_clean(info.description))}</DESCRIPTION>\n")
    for arrow, meta in zip(schema, fields, strict=True):
        sentinel = None
        if _needs_sentinel(arrow, serialization):
            sentinel = INT_NULLS[meta.datatype or ""]
        parts.append(_field_xml(meta, sentinel))
    return "".join(parts)


def votable_metadata_document(
    schema: pa.Schema, fields: Sequence[FieldMeta], info: ResultInfo
) -> str:
    """A VOTable whose TABLE has FIELDs and no DATA (the VO-Parquet metadata)."""
    return (
        _document_start()
        + '<RESOURCE type="results">\n'
        + _table_start(schema, fields, info, "PARQUET")
        + "</TABLE>\n</RESOURCE>\n</VOTABLE>\n"
    )


def votable_error_document(message: str, *, query: str | None = None) -> bytes:
    """A DALI 1.1 §4.4.2 error document: QUERY_STATUS ERROR with ``message`` as content."""
    parts = [_document_start(), '<RESOURCE type="results">\n']
    parts.append(f'<INFO name="QUERY_STATUS" value="ERROR">{escape(_clean(message))}</INFO>\n')
    if query is not None:
        parts.append(_info("QUERY", query))
    parts.append("</RESOURCE>\n</VOTABLE>\n")
    return "".join(parts).encode()


# -- TABLEDATA -------------------------------------------------------------------------


def _xml_text(text: pa.Array) -> pa.Array:
    """Cell texts made safe as XML character data."""
    if pc.any(pc.match_substring_regex(text, _FORBIDDEN_RE2)).as_py():
        text = pc.replace_substring_regex(text, _FORBIDDEN_RE2, "")
    for plain, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\r", "&#13;")):
        text = pc.replace_substring(text, plain, escaped)
    return text


def _tabledata(batch: pa.RecordBatch) -> bytes:
    cells = []
    for column in batch.columns:
        text = cell_text(column)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            text = _xml_text(text)
        cells.append(text.fill_null(""))
    joined = pc.binary_join_element_wise(*cells, "</TD><TD>")
    return joined_bytes(pc.binary_join_element_wise("<TR><TD>", joined, "</TD></TR>\n", ""))


# -- BINARY / BINARY2 --------------------------------------------------------------------

_WIDE = {"unsignedByte": pa.uint8(), "short": pa.int16(), "int": pa.int32(), "long": pa.int64()}
_BIG = {"unsignedByte": "u1", "short": ">i2", "int": ">i4", "long": ">i8"}


def _fixed_binary(values: np.ndarray, width: int) -> pa.Array:
    """Each ``width`` bytes of ``values`` as one binary value."""
    data = np.ascontiguousarray(values).view(np.uint8)
    n = data.size // width if width else 0
    fixed = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), n, [None, pa.py_buffer(data)])
    return fixed.cast(pa.binary())


def _element_bytes(values: pa.Array, sentinel: bool) -> np.ndarray:
    """Big-endian elements of the VOTable datatype of ``values``; nulls as described."""
    t = values.type
    if pa.types.is_boolean(t):
        truth = np.asarray(values.fill_null(False))
        valid = np.asarray(values.is_valid())
        return np.where(valid, np.where(truth, ord("T"), ord("F")), ord("?")).astype(np.uint8)
    datatype = votable_type(t)[0]
    if pa.types.is_floating(t):
        filled = values.fill_null(float("nan"))
        big = ">f4" if datatype == "float" else ">f8"
        return np.asarray(filled.to_numpy(zero_copy_only=False)).astype(big)
    # Widen first (int8 → short...), so that the sentinel fits; uint64 wraps (see above).
    wide = values.cast(_WIDE[datatype], safe=False)
    filled = wide.fill_null(INT_NULLS[datatype] if sentinel else 0)
    return np.asarray(filled.to_numpy(zero_copy_only=False)).astype(_BIG[datatype])


def _counts(lengths: np.ndarray) -> pa.Array:
    """The 4-byte big-endian length prefixes of variable-size cells."""
    return _fixed_binary(lengths.astype(">u4"), 4)


def _bytes_cells(data: np.ndarray, offsets: np.ndarray) -> pa.Array:
    """Rows of ``data`` (uint8) cut at ``offsets``, as a binary column."""
    return pa.BinaryArray.from_buffers(
        pa.binary(),
        len(offsets) - 1,
        [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(np.ascontiguousarray(data))],
    )


def _utf16_cells(column: pa.Array) -> pa.Array:
    """unicodeChar cells: a count of UTF-16 code units, then the big-endian units.

    ASCII text (the usual case) is widened with numpy; only a slice holding other
    characters is encoded value by value.
    """
    text = column.cast(pa.string()).fill_null("")
    if pc.all(pc.string_is_ascii(text)).as_py() is not False:
        n = len(text)
        offsets = np.frombuffer(text.buffers()[1], np.int32, n + 1, text.offset * 4)
        ascii_bytes = np.frombuffer(joined_bytes(text), np.uint8)
        wide = np.zeros(2 * ascii_bytes.size, np.uint8)
        wide[1::2] = ascii_bytes
        relative = offsets.astype(np.int64) - offsets[0]
        return pc.binary_join_element_wise(
            _counts(np.diff(relative)), _bytes_cells(wide, 2 * relative), b""
        )
    cells = pa.array([s.encode("utf-16-be") for s in text.to_pylist()], pa.binary())
    units = np.asarray(pc.binary_length(cells), np.int64) // 2
    return pc.binary_join_element_wise(_counts(units), cells, b"")


def _binary_cells(column: pa.Array, meta: FieldMeta, sentinel: bool) -> pa.Array:
    """The BINARY bytes of each cell of one column (VOTable 1.4 §5.4)."""
    t = column.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return _utf16_cells(column)
    if pa.types.is_temporal(t):
        text = iso_timestamps(column).cast(pa.binary()).fill_null(b"")
        lengths = np.asarray(pc.binary_length(text), np.int64)
        return pc.binary_join_element_wise(_counts(lengths), text, b"")
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        column = as_lists(column)
        t = column.type
    if _is_list(t):
        values, offsets = list_parts(column)
        raw = _element_bytes(values, sentinel=True).view(np.uint8)
        size = raw.size // len(values) if len(values) else 0
        cells = _bytes_cells(raw, offsets * size)
        if pa.types.is_fixed_size_list(t):
            return cells
        return pc.binary_join_element_wise(_counts(np.diff(offsets)), cells, b"")
    raw = _element_bytes(column, sentinel)
    return _fixed_binary(raw, raw.dtype.itemsize)


def _binary_rows(
    batch: pa.RecordBatch, fields: Sequence[FieldMeta], sentinels: Sequence[bool], binary2: bool
) -> bytes:
    cells = [
        _binary_cells(c, m, s) for c, m, s in zip(batch.columns, fields, sentinels, strict=True)
    ]
    if binary2:  # one bit per column, most significant first, set for a null (§5.5)
        nulls = np.column_stack([np.asarray(c.is_null()) for c in batch.columns])
        flags = np.packbits(nulls, axis=1)
        cells.insert(0, _fixed_binary(flags, flags.shape[1]))
    return joined_bytes(pc.binary_join_element_wise(*cells, b""))


class _Base64:
    """Base64 in 76-character lines across any number of pieces of input."""

    _LINE = 57  # input bytes per line

    def __init__(self) -> None:
        self._carry = b""

    def feed(self, data: bytes) -> bytes:
        data = self._carry + data
        cut = len(data) - len(data) % self._LINE
        self._carry = data[cut:]
        return _lines(data[:cut])

    def finish(self) -> bytes:
        out, self._carry = _lines(self._carry), b""
        return out


def _lines(data: bytes) -> bytes:
    if not data:
        return b""
    encoded = np.frombuffer(binascii.b2a_base64(data, newline=False), np.uint8)
    full = encoded.size // 76
    body = np.empty((full, 77), np.uint8)
    body[:, :76] = encoded[: full * 76].reshape(full, 76)
    body[:, 76] = ord("\n")
    tail = encoded[full * 76 :].tobytes()
    return body.tobytes() + (tail + b"\n" if tail else b"")


def _unicode(arrow: pa.Field, meta: FieldMeta) -> FieldMeta:
    """String columns as unicodeChar, for the binary serializations."""
    t = _plain_type(arrow.type)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return replace(meta, datatype="unicodeChar")
    return meta


# -- the document ------------------------------------------------------------------------


def votable_chunks(
    serialization: str,
    schema: pa.Schema,
    fields: Sequence[FieldMeta],
    batches: Iterable[pa.RecordBatch],
    info: ResultInfo,
    overflow: Callable[[], bool],
    *,
    map_batches: BatchMapper = map,
) -> Iterator[bytes]:
    """The pieces of a VOTable result; ``serialization`` is TABLEDATA, BINARY or BINARY2.

    ``fields`` come from :func:`resolve_fields` and ``batches`` through
    :func:`conform_batch`. The rows of each batch are encoded on their own (only the
    base64 line breaks run across batches), so ``map_batches`` may encode several at
    once.
    """
    head = [_document_start(), '<RESOURCE type="results">\n', _info("QUERY_STATUS", "OK")]
    if info.query is not None:
        head.append(_info("QUERY", info.query))
    head.extend(_info(name, value) for name, value in info.extra_infos)
    if serialization != "TABLEDATA":
        fields = [_unicode(arrow, meta) for arrow, meta in zip(schema, fields, strict=True)]
    head.append(_table_start(schema, fields, info, serialization))
    if serialization == "TABLEDATA":
        head.append("<DATA><TABLEDATA>\n")
    else:
        head.append(f'<DATA><{serialization}><STREAM encoding="base64">\n')
    yield "".join(head).encode()
    nonempty = (b for b in batches if b.num_rows)
    if serialization == "TABLEDATA":
        yield from map_batches(_tabledata, nonempty)
        tail = "</TABLEDATA></DATA>\n</TABLE>\n"
    else:
        sentinels = [_needs_sentinel(f, serialization) for f in schema]
        rows = functools.partial(
            _binary_rows, fields=fields, sentinels=sentinels, binary2=serialization == "BINARY2"
        )
        encoder = _Base64()
        for data in map_batches(rows, nonempty):
            yield encoder.feed(data)
        yield encoder.finish()
        tail = f"</STREAM></{serialization}></DATA>\n</TABLE>\n"
    if overflow():
        tail += _info("QUERY_STATUS", "OVERFLOW")
    yield (tail + "</RESOURCE>\n</VOTABLE>\n").encode()
