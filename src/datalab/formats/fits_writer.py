"""Writing a FITS binary table (FITS Standard 4.0 §7.3) from Arrow batches, streamed.

Each batch becomes one numpy record array in the file's big-endian layout, filled
column by column, and is written at once: no per-row Python, so 10-million-row files
write at disk speed. The row count is not known until the end, so the NAXIS2 card is
rewritten when the writer is closed; the file must therefore be seekable.

Column types: bool → L, int8 → B with TZERO = -128, uint8 → B, int16/32/64 → I/J/K,
uint16/32/64 → I/J/K with the TZERO offset of §7.3.2, float16/32 → E, float64 → D,
strings, dates and timestamps (as ISO text) → A, fixed-size lists of those numbers →
repeated columns. Nulls: NaN for floats, the TNULLn value for integers, 0 for logicals,
an empty string for text (FITS cannot tell an empty string from a missing one). Text
is written as UTF-8: FITS asks for ASCII, so other characters are only readable by
tools that decode UTF-8 (this package's reader does). Header text is made ASCII.

String widths: ``string_widths[name]`` if given, else the field's numeric
``arraysize`` (``"12"`` or ``"12*"``), else the longest value (in UTF-8 bytes) of the
first batch written. A later value longer than its column raises :class:`UsageError`
rather than being cut: give ``string_widths`` for data whose first batch is not typical.

Integer nulls: a nullable integer column gets TNULLn = the stored form of its type's
minimum (signed) or maximum (unsigned) value. If the column turns out to have no null
at all, the TNULLn card is blanked on close, so that value stays an ordinary value; if
it has both nulls and that value, the write fails with :class:`UsageError`.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datalab.errors import UsageError
from datalab.formats.fields import FieldMeta
from datalab.formats.fits_cards import CARD, card, padding

__all__ = ["FitsTableWriter"]

# Arrow integer type → (TFORM code, stored numpy type, TZERO, physical null value)
_INTEGERS = {
    pa.int8(): ("B", "u1", -128, -128),
    pa.uint8(): ("B", "u1", 0, 255),
    pa.int16(): ("I", ">i2", 0, -(1 << 15)),
    pa.uint16(): ("I", ">i2", 1 << 15, (1 << 16) - 1),
    pa.int32(): ("J", ">i4", 0, -(1 << 31)),
    pa.uint32(): ("J", ">i4", 1 << 31, (1 << 32) - 1),
    pa.int64(): ("K", ">i8", 0, -(1 << 63)),
    pa.uint64(): ("K", ">i8", 1 << 63, (1 << 64) - 1),
}
_FLOATS = {pa.float16(): ("E", ">f4"), pa.float32(): ("E", ">f4"), pa.float64(): ("D", ">f8")}


@dataclass
class _Column:
    name: str
    kind: str  # "int", "float", "bool", "str"
    code: str
    repeat: int
    stored: str
    zero: int = 0
    null: int | None = None  # physical null value of an integer column
    tnull_at: int | None = None  # file offset of the TNULLn card
    has_nulls: bool = False
    has_null_value: bool = False

    @property
    def tform(self) -> str:
        return f"{self.repeat}{self.code}"

    @property
    def width(self) -> int:
        return self.repeat * np.dtype(self.stored).itemsize


def _arrow_meta(f: pa.Field) -> FieldMeta:
    meta = {k.decode(): v.decode() for k, v in (f.metadata or {}).items()}
    return FieldMeta(
        f.name,
        description=meta.get("description"),
        unit=meta.get("unit"),
        ucd=meta.get("ucd"),
        utype=meta.get("utype"),
    )


def _width_hint(meta: FieldMeta | None) -> int | None:
    size = (meta.arraysize or "").rstrip("*") if meta else ""
    return int(size) if size.isdigit() and int(size) > 0 else None


class FitsTableWriter:
    """A FITS file with one binary table, written batch by batch.

    ``fields`` (a list or a name → FieldMeta mapping) gives TUNIT/TUCD/TCOMM/TUTYP;
    without it, Arrow field metadata (``unit``, ``ucd``, ``description``) is used.
    ``description`` goes into COMMENT cards, ``extname`` into EXTNAME.
    """

    def __init__(
        self,
        file: str | Path | BinaryIO,
        schema: pa.Schema,
        fields: Sequence[FieldMeta] | Mapping[str, FieldMeta] | None = None,
        *,
        description: str | None = None,
        extname: str | None = None,
        string_widths: Mapping[str, int] | None = None,
    ) -> None:
        for f in schema:
            self._kind(f)  # refuse unsupported types before anything is written
        self._file: BinaryIO
        if isinstance(file, str | Path):
            self._owned, self._file = True, open(file, "wb")  # noqa: SIM115 - closed in close()
        elif file.seekable():
            self._owned, self._file = False, file
        else:
            raise UsageError("a FITS table is written to a seekable file (NAXIS2 is set last)")
        self.schema = schema
        metas = fields.values() if isinstance(fields, Mapping) else (fields or [])
        by_name = {m.name: m for m in metas}
        self._metas = [by_name.get(f.name) or _arrow_meta(f) for f in schema]
        self._description = description
        self._extname = extname
        self._widths = dict(string_widths or {})
        self._columns: list[_Column] | None = None
        self._dtype: np.dtype | None = None
        self._start = self._file.tell()
        self._naxis2_at = 0
        self.rows_written = 0
        self._closed = False

    # -- header --------------------------------------------------------------------------

    def _kind(self, f: pa.Field) -> tuple[str, pa.DataType, int]:
        t, repeat = f.type, 1
        if pa.types.is_dictionary(t):
            t = t.value_type
        if pa.types.is_fixed_size_list(t):
            t, repeat = t.value_type, t.list_size
            if not (t in _INTEGERS or t in _FLOATS or pa.types.is_boolean(t)):
                raise UsageError(f"column {f.name!r}: arrays of {t} cannot be written to FITS")
        if t in _INTEGERS:
            return "int", t, repeat
        if t in _FLOATS:
            return "float", t, repeat
        if pa.types.is_boolean(t):
            return "bool", t, repeat
        if (
            pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_temporal(t)
        ) and repeat == 1:
            return "str", t, 1
        raise UsageError(f"column {f.name!r} of type {f.type} cannot be written to FITS")

    def _plan(self, first: pa.RecordBatch | None) -> list[_Column]:
        columns = []
        for i, f in enumerate(self.schema):
            kind, t, repeat = self._kind(f)
            if kind == "int":
                code, stored, zero, null = _INTEGERS[t]
                columns.append(
                    _Column(f.name, kind, code, repeat, stored, zero, null if f.nullable else None)
                )
            elif kind == "float":
                code, stored = _FLOATS[t]
                columns.append(_Column(f.name, kind, code, repeat, stored))
            elif kind == "bool":
                columns.append(_Column(f.name, kind, "L", repeat, "u1"))
            else:
                width = self._widths.get(f.name) or _width_hint(self._metas[i])
                if width is None and first is not None and first.num_rows:
                    lengths = pc.binary_length(_as_text(first.column(i)))
                    width = pc.max(lengths).as_py()
                columns.append(_Column(f.name, kind, "A", max(width or 1, 1), "S1"))
        return columns

    def _write_header(self, first: pa.RecordBatch | None) -> None:
        self._columns = columns = self._plan(first)
        out = io.BytesIO()
        out.write(card("SIMPLE", True, "conforms to FITS standard"))
        out.write(card("BITPIX", 8) + card("NAXIS", 0) + card("EXTEND", True))
        out.write(b"END".ljust(CARD))
        out.write(b" " * padding(out.tell()))
        out.write(card("XTENSION", "BINTABLE", "binary table extension"))
        out.write(card("BITPIX", 8) + card("NAXIS", 2))
        out.write(card("NAXIS1", sum(c.width for c in columns), "bytes per row"))
        self._naxis2_at = self._start + out.tell()
        out.write(card("NAXIS2", 0, "number of rows"))
        out.write(card("PCOUNT", 0) + card("GCOUNT", 1) + card("TFIELDS", len(columns)))
        for n, (col, meta) in enumerate(zip(columns, self._metas, strict=True), start=1):
            out.write(card(f"TTYPE{n}", col.name) + card(f"TFORM{n}", col.tform))
            for key, value in (
                ("TUNIT", meta.unit),
                ("TUCD", meta.ucd),
                ("TUTYP", meta.utype),
                ("TCOMM", meta.description),
            ):
                if value:
                    out.write(card(f"{key}{n}", value))
            if col.zero:
                out.write(card(f"TZERO{n}", col.zero))
            if col.null is not None:
                col.tnull_at = self._start + out.tell()
                out.write(card(f"TNULL{n}", self._stored_int(col, col.null)))
        if self._extname:
            out.write(card("EXTNAME", self._extname))
        for line in _wrap(self._description or ""):
            out.write(card("COMMENT", line))
        out.write(b"END".ljust(CARD))
        out.write(b" " * padding(out.tell()))
        self._file.write(out.getvalue())
        self._dtype = np.dtype(
            [
                (
                    f"c{n}",
                    c.stored if c.kind != "str" else f"S{c.repeat}",
                    (c.repeat,) if c.repeat > 1 and c.kind != "str" else (),
                )
                for n, c in enumerate(columns)
            ]
        )

    @staticmethod
    def _stored_int(col: _Column, physical: int) -> int:
        bits = 8 * np.dtype(col.stored).itemsize
        stored = physical - col.zero
        return stored - (1 << bits) if col.stored != "u1" and stored >= 1 << (bits - 1) else stored

    # -- data ----------------------------------------------------------------------------

    def write_batch(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Append the rows of ``batch`` (its columns in the order of ``schema``)."""
        if self._closed:
            raise UsageError("the FITS writer is closed")
        if isinstance(batch, pa.Table):
            for b in batch.to_batches():
                self.write_batch(b)
            return
        if batch.schema.names != self.schema.names or batch.schema.types != self.schema.types:
            raise UsageError(f"batch schema {batch.schema} differs from the writer's {self.schema}")
        if self._columns is None:
            self._write_header(batch)
        assert self._columns is not None and self._dtype is not None
        records = np.zeros(batch.num_rows, self._dtype)
        for n, col in enumerate(self._columns):
            records[f"c{n}"] = self._values(col, batch.column(n))
        self._file.write(records.data)
        self.rows_written += batch.num_rows

    def _values(self, col: _Column, arr: pa.Array) -> np.ndarray:
        if pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_decode()
        if col.kind == "str":
            return self._text(col, arr)
        valid = np.asarray(arr.is_valid())
        if col.repeat > 1:  # nulls of whole arrays apply to each element
            valid = valid.repeat(col.repeat)
            arr = arr.values.slice(arr.offset * col.repeat, len(arr) * col.repeat)
            valid &= np.asarray(arr.is_valid())
        if col.kind == "bool":
            truth = np.asarray(arr.fill_null(False))
            values = np.where(valid, np.where(truth, ord("T"), ord("F")), 0).astype(np.uint8)
        elif col.kind == "float":
            values = np.asarray(arr.fill_null(np.nan))
            if not valid.all():
                values = np.where(valid, values, np.nan)
        else:
            values = self._integers(col, arr, valid)
        return values.reshape(-1, col.repeat) if col.repeat > 1 else values

    def _integers(self, col: _Column, arr: pa.Array, valid: np.ndarray) -> np.ndarray:
        """Stored integers: nulls replaced by the TNULL value, TZERO taken off."""
        physical = np.asarray(arr.fill_null(0))
        if not valid.all():
            if col.null is None:
                raise UsageError(f"column {col.name!r} is declared not nullable but has nulls")
            col.has_nulls = True
        if col.null is not None:
            clash = valid & (physical == col.null)
            col.has_null_value |= bool(clash.any())
            if col.has_nulls and col.has_null_value:
                where = clash if clash.any() else ~valid
                row = self.rows_written + int(np.argmax(where)) // col.repeat + 1
                raise UsageError(
                    f"column {col.name!r} has nulls and also the value {col.null} (row {row}), "
                    "the value FITS would need to mark them (TNULL); cast it to a wider type"
                )
            if col.has_nulls:
                physical = np.where(valid, physical, col.null).astype(physical.dtype)
        if col.zero:
            # Offsetting by the sign bit is a flip of that bit (FITS 4.0 §7.3.2 Table 19).
            width = physical.dtype.itemsize
            unsigned = physical.view(f"u{width}")
            flipped = unsigned ^ np.array(1 << (8 * width - 1), unsigned.dtype)
            return flipped if col.zero == -128 else flipped.view(f"i{width}")
        return physical

    def _text(self, col: _Column, arr: pa.Array) -> np.ndarray:
        """Fixed-width bytes from an Arrow string column, gathered from its buffers."""
        text = _as_text(arr).cast(pa.large_binary())
        lengths = np.asarray(pc.binary_length(text).fill_null(0), np.int64)
        too_long = np.flatnonzero(lengths > col.repeat)
        if too_long.size:
            row = self.rows_written + int(too_long[0]) + 1
            raise UsageError(
                f"column {col.name!r} row {row}: a value of {lengths[too_long[0]]} bytes does "
                f"not fit the FITS column width {col.repeat}; give string_widths="
                f"{{{col.name!r}: N}}"
            )
        n = len(text)
        out = np.zeros((n, col.repeat), np.uint8)
        total = int(lengths.sum())
        if total:
            offsets = np.frombuffer(text.buffers()[1], np.int64, n + 1, text.offset * 8)
            data = np.frombuffer(text.buffers()[2], np.uint8)
            rows = np.repeat(np.arange(n), lengths)
            cols = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            if offsets[-1] - offsets[0] == total:  # no bytes behind nulls: one slice
                out[rows, cols] = data[offsets[0] : offsets[-1]]
            else:
                out[rows, cols] = data[np.repeat(offsets[:-1], lengths) + cols]
        return out.view(f"S{col.repeat}").reshape(n)

    # -- finishing -----------------------------------------------------------------------

    def close(self) -> None:
        """Write the row count and final padding; close the file if this writer opened it."""
        if self._closed:
            return
        if self._columns is None:
            self._write_header(None)
        assert self._columns is not None
        end = self._file.tell()
        self._file.write(b"\0" * padding(end - self._start))
        final = self._file.tell()
        self._file.seek(self._naxis2_at)
        self._file.write(card("NAXIS2", self.rows_written, "number of rows"))
        for col in self._columns:
            if col.tnull_at is not None and not col.has_nulls:
                self._file.seek(col.tnull_at)
                self._file.write(b" " * CARD)
        self._file.seek(final)
        self._file.flush()
        self._closed = True
        if self._owned:
            self._file.close()

    def __enter__(self) -> FitsTableWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        elif self._owned:
            self._closed = True
            self._file.close()


def _as_text(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_temporal(arr.type):
        arr = arr.cast(pa.string())
    return arr


def _wrap(text: str, width: int = 72) -> list[str]:
    """Words of ``text`` in lines of at most ``width`` characters (long words split)."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        while len(word) > width:
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:width])
            word = word[width:]
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    return lines
