"""VOTable FIELDs as Arrow columns: types, and decoding of a chunk of cells at a time.

Every decoder works on a whole chunk of one column (a list of TABLEDATA cell texts, or
a matrix of BINARY bytes) with pyarrow or numpy, so the cost per row is in C. Datatypes
and their serializations follow VOTable 1.4 §2 (primitives, arrays) and §6 (primitive
datatypes); null conventions follow §5.5.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datalab.errors import UsageError
from datalab.formats.base import first_bad_utf8
from datalab.formats.fields import FieldMeta

__all__ = [
    "BadCell",
    "VOField",
    "decode_fixed",
    "decode_text",
    "decode_variable",
    "votable_arrow_type",
    "votable_type",
]

_ARROW = {
    "boolean": pa.bool_(),
    "bit": pa.bool_(),
    "unsignedByte": pa.uint8(),
    "short": pa.int16(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "char": pa.string(),
    "unicodeChar": pa.string(),
}


def votable_arrow_type(datatype: str) -> pa.DataType:
    """The Arrow type of a scalar VOTable ``datatype`` (VOTable 1.4 §2.1)."""
    return _ARROW[datatype]


def votable_type(arrow_type: pa.DataType) -> tuple[str, str | None, str | None]:
    """VOTable (datatype, arraysize, xtype) for an Arrow type (VOTable 1.4 §2.1, DALI §3).

    VOTable has no signed 8-bit or unsigned wider types, so those widen to the next
    signed type that holds every value.
    """
    t = arrow_type
    if pa.types.is_boolean(t):
        return "boolean", None, None
    if pa.types.is_uint8(t):
        return "unsignedByte", None, None
    if pa.types.is_int8(t) or pa.types.is_int16(t):
        return "short", None, None
    if pa.types.is_uint16(t) or pa.types.is_int32(t):
        return "int", None, None
    if pa.types.is_uint32(t) or pa.types.is_int64(t) or pa.types.is_uint64(t):
        return "long", None, None
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return "float", None, None
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "double", None, None
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "char", "*", None
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return "char", "*", "timestamp"
    if pa.types.is_fixed_size_list(t):
        inner, _, _ = votable_type(t.value_type)
        return inner, str(t.list_size), None
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        inner, _, _ = votable_type(t.value_type)
        return inner, "*", None
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "unsignedByte", "*", None
    raise UsageError(f"columns of type {t} cannot be served; convert them before loading")


_BIG_ENDIAN = {
    "boolean": "u1",
    "bit": "u1",
    "unsignedByte": "u1",
    "short": ">i2",
    "int": ">i4",
    "long": ">i8",
    "float": ">f4",
    "double": ">f8",
    "char": "u1",
    "unicodeChar": ">u2",
}
_NO_MAGIC = ("boolean", "bit", "char", "unicodeChar")
_TRUE = ["t", "true", "1"]
_FALSE = ["f", "false", "0"]
_NULL_BOOL = ["?", ""]


class BadCell(Exception):
    """A cell that cannot be decoded: ``index`` is its row within the chunk."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.message = message


@dataclass(frozen=True)
class VOField:
    """One FIELD: its attributes as written, and what they mean for decoding."""

    name: str
    datatype: str
    arraysize: str | None = None
    null: str | None = None
    meta: FieldMeta | None = None

    @classmethod
    def from_attrs(
        cls, attrs: Mapping[str, str], description: str | None, null: str | None, index: int
    ) -> VOField:
        """A FIELD from its XML attributes; raises ValueError for what cannot be read."""
        name = attrs.get("name") or attrs.get("ID") or f"col{index}"
        datatype = attrs.get("datatype", "")
        arraysize = attrs.get("arraysize") or None
        extra = {k: v for k, v in attrs.items() if k in ("ID", "precision", "width", "ref")}
        meta = FieldMeta(
            name=name,
            description=description,
            unit=attrs.get("unit") or None,
            ucd=attrs.get("ucd") or None,
            utype=attrs.get("utype") or None,
            datatype=datatype or None,
            arraysize=arraysize,
            xtype=attrs.get("xtype") or None,
            extra=extra,
        )
        f = cls(name, datatype, arraysize, null, meta)
        f.check()
        return f

    def check(self) -> None:
        """Refuse, with a reason, what this reader does not turn into a column."""
        if self.datatype in ("floatComplex", "doubleComplex"):
            raise ValueError(f"datatype {self.datatype!r} (complex numbers) is not supported")
        if self.datatype not in _ARROW:
            raise ValueError(f"unknown datatype {self.datatype!r} (VOTable 1.4 §2.1)")
        dims = self.dims
        if self.datatype == "bit" and dims and dims[-1] is None:
            raise ValueError(f"variable-size bit arrays (arraysize {self.arraysize!r})")
        if dims and len(dims) > 1 and dims[-1] is None:
            raise ValueError(f"multidimensional variable arraysize {self.arraysize!r}")
        if self.is_string and dims and len(dims) > 1:
            raise ValueError(f"arrays of strings (arraysize {self.arraysize!r}) are not supported")
        if self.null is not None and self.datatype not in _NO_MAGIC:
            try:
                self.null_value()
            except ValueError:
                raise ValueError(
                    f"VALUES null={self.null!r} is not a valid {self.datatype}"
                ) from None

    @property
    def dims(self) -> list[int | None]:
        """Array dimensions, None for a variable (last) one; [] for a scalar."""
        if not self.arraysize or (self.arraysize == "1" and not self.is_string):
            return []
        out: list[int | None] = []
        for part in self.arraysize.split("x"):
            if part.endswith("*"):
                out.append(None)
            else:
                try:
                    out.append(int(part))
                except ValueError:
                    raise ValueError(f"arraysize {self.arraysize!r} is not valid") from None
        return out

    @property
    def is_string(self) -> bool:
        return self.datatype in ("char", "unicodeChar")

    @property
    def is_float(self) -> bool:
        return self.datatype in ("float", "double")

    @property
    def count(self) -> int | None:
        """Primitives per cell; None when the cell has a length prefix (variable size)."""
        dims = self.dims
        if not dims:
            return 1
        if dims[-1] is None:
            return None
        return math.prod(d for d in dims if d is not None)

    @property
    def item_size(self) -> int:
        return np.dtype(_BIG_ENDIAN[self.datatype]).itemsize

    @property
    def byte_size(self) -> int | None:
        """Bytes of a BINARY cell; None when variable. Bits are packed (§6)."""
        count = self.count
        if count is None:
            return None
        return (count + 7) // 8 if self.datatype == "bit" else count * self.item_size

    @property
    def arrow_type(self) -> pa.DataType:
        base = _ARROW[self.datatype]
        if self.is_string or not self.dims:
            return base
        count = self.count
        return pa.list_(base) if count is None else pa.list_(base, count)

    def null_value(self) -> float | int | None:
        if self.null is None or self.datatype in _NO_MAGIC:
            return None
        return float(self.null) if self.is_float else _parse_int(self.null)


def _parse_int(text: str) -> int:
    """Decimal, or hexadecimal with ``0x`` (VOTable 1.4 §6), optionally signed."""
    s = text.strip()
    sign = -1 if s.startswith("-") else 1
    body = s.lstrip("+-")
    if body[:2].lower() == "0x":
        return sign * int(body[2:], 16)
    if not body.isdigit():
        raise ValueError(text)
    return sign * int(body)


def _with_nulls(arr: pa.Array, mask: np.ndarray | pa.Array | None) -> pa.Array:
    if mask is None:
        return arr
    mask = pa.array(mask, pa.bool_()) if isinstance(mask, np.ndarray) else mask
    if not pc.any(mask).as_py():
        return arr
    return pc.if_else(mask, pa.scalar(None, arr.type), arr)


# -- TABLEDATA (§5.1): text cells -----------------------------------------------------


def _text_numbers(f: VOField, text: pa.Array, nan_null: bool) -> pa.Array:
    """Trimmed, non-empty number texts to the field's Arrow type (nulls preserved)."""
    target = _ARROW[f.datatype]
    try:
        out = pc.cast(text, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        out = pa.array(_slow_numbers(f, text.to_pylist()), target)
    if f.is_float and nan_null:
        out = _with_nulls(out, pc.is_nan(out))
    null = f.null_value()
    if null is not None:
        out = _with_nulls(out, pc.equal(out, pa.scalar(null, target)))
    return out


def _slow_numbers(f: VOField, texts: Sequence[str | None]) -> list[float | int | None]:
    """Per-value conversion for what the vectorised cast refuses (``+5``, ``-0x1F``)."""
    bits = 8 * f.item_size
    out: list[float | int | None] = []
    for i, s in enumerate(texts):
        if s is None:
            out.append(None)
            continue
        try:
            if f.is_float:
                out.append(float(s))
                continue
            value = _parse_int(s)
        except ValueError:
            raise BadCell(i, f"{s!r} is not a valid {f.datatype}") from None
        signed = f.datatype != "unsignedByte"
        hexadecimal = s.strip().lower().lstrip("+-").startswith("0x")
        if signed and hexadecimal and (1 << (bits - 1)) <= value < (1 << bits):
            value -= 1 << bits  # hexadecimal gives the bit pattern (two's complement)
        low, high = (-(1 << bits - 1), (1 << bits - 1) - 1) if signed else (0, (1 << bits) - 1)
        if not low <= value <= high:
            raise BadCell(i, f"{s!r} is out of range for {f.datatype}")
        out.append(value)
    return out


def _text_booleans(text: pa.Array) -> pa.Array:
    lower = pc.utf8_lower(text)
    is_true, is_false = pc.is_in(lower, pa.array(_TRUE)), pc.is_in(lower, pa.array(_FALSE))
    ok = pc.or_(pc.or_(is_true, is_false), pc.is_in(lower, pa.array(_NULL_BOOL)))
    bad = pc.index(pc.fill_null(ok, True), False).as_py()
    if bad >= 0:
        raise BadCell(bad, f"{text[bad].as_py()!r} is not a valid boolean")
    return pc.if_else(is_true, True, pc.if_else(is_false, False, pa.scalar(None, pa.bool_())))


def _elements(f: VOField, text: pa.Array, nan_null: bool) -> pa.Array:
    if f.datatype in ("boolean", "bit"):
        return _text_booleans(text)
    return _text_numbers(f, text, nan_null)


def decode_text(f: VOField, cells: pa.Array) -> pa.Array:
    """A column from TABLEDATA cell texts; an empty TD is null (§5.1)."""
    raw = _with_nulls(cells, pc.fill_null(pc.equal(cells, ""), False))
    if f.is_string:
        return raw
    trimmed = pc.utf8_trim_whitespace(raw)
    trimmed = _with_nulls(trimmed, pc.fill_null(pc.equal(trimmed, ""), False))
    count = f.count
    if count == 1:
        return _elements(f, trimmed, nan_null=True)
    if f.datatype == "bit":  # a run of 0 and 1 characters, blanks allowed between
        digits = [None if t is None else "".join(t.split()) for t in trimmed.to_pylist()]
        trimmed = pa.array([None if d is None else " ".join(d) for d in digits], pa.string())
    lists = pc.utf8_split_whitespace(trimmed)
    offsets = np.asarray(lists.offsets)
    try:
        values = _elements(f, lists.flatten(), nan_null=False)
    except BadCell as bad:  # an element index: report its row
        row = int(np.searchsorted(offsets, bad.index, side="right") - 1)
        raise BadCell(row, bad.message) from None
    if count is None:
        return pa.ListArray.from_arrays(pa.array(offsets), values, mask=lists.is_null())
    lengths = np.diff(offsets)
    valid = np.asarray(lists.is_valid())
    wrong = np.flatnonzero(valid & (lengths != count))
    if wrong.size:
        row = int(wrong[0])
        raise BadCell(row, f"{lengths[row]} values where arraysize {f.arraysize} needs {count}")
    # Null rows hold no elements; give each the run of filler values FixedSizeList expects.
    take = np.repeat(np.where(valid, offsets[:-1], 0), count) + np.tile(
        np.arange(count), len(lengths)
    )
    take = np.where(np.repeat(valid, count), take, len(values))
    padded = pa.concat_arrays([values, pa.nulls(1, values.type)]).take(pa.array(take))
    return pa.FixedSizeListArray.from_arrays(padded, count, mask=pa.array(~valid))


# -- BINARY / BINARY2 (§5.3, §5.4): bytes -------------------------------------------------


def _bytes_to_values(f: VOField, flat: np.ndarray) -> pa.Array:
    """Big-endian primitives (a flat uint8 array) to an Arrow array of elements."""
    if f.datatype == "boolean":
        true = np.isin(flat, np.frombuffer(b"Tt1", np.uint8))
        false = np.isin(flat, np.frombuffer(b"Ff0", np.uint8))
        return pa.array(true, mask=~(true | false))
    big = np.dtype(_BIG_ENDIAN[f.datatype])
    values = flat.view(big).astype(big.newbyteorder("="))
    null = f.null_value()
    mask = values == null if null is not None else None
    return pa.array(values, mask=mask)


def _strings(f: VOField, binary: pa.Array, row_null: np.ndarray | None, binary2: bool) -> pa.Array:
    """UTF-8 bytes to strings; bytes after a NUL are ignored (VOTable 1.4 §6)."""
    if pc.any(pc.match_substring(binary, "\x00")).as_py():
        binary = pa.array(
            [None if b is None else b.split(b"\x00", 1)[0] for b in binary.to_pylist()],
            pa.binary(),
        )
    try:
        text = binary.cast(pa.string())
    except pa.ArrowInvalid:
        raise BadCell(first_bad_utf8(binary), "invalid UTF-8") from None
    if not binary2:
        # BINARY cannot flag nulls; as in TABLEDATA, an empty string is a null one.
        empty = pc.equal(pc.binary_length(text), 0)
        row_null = np.asarray(empty) if row_null is None else row_null | np.asarray(empty)
    return _with_nulls(text, row_null)


def _utf16(f: VOField, units: np.ndarray, lengths: np.ndarray | None) -> list[str]:
    codes = units.view(">u2")
    if lengths is None:
        width = codes.shape[1]
        return (
            list(codes.astype(np.uint32).view(f"U{width}").reshape(-1))
            if width
            else [""] * len(codes)
        )
    ends = np.cumsum(lengths)
    return [
        codes[e - n : e].tobytes().decode("utf-16-be", "replace")
        for e, n in zip(ends, lengths, strict=True)
    ]


def decode_fixed(
    f: VOField, mat: np.ndarray, row_null: np.ndarray | None, binary2: bool
) -> pa.Array:
    """A column from an (n, size) uint8 matrix of fixed-size cells."""
    n = mat.shape[0]
    mat = np.ascontiguousarray(mat)
    if f.datatype == "bit":
        if not f.dims:
            # The bit is the byte's most significant one (§6), but astropy writes 0x08;
            # padding bits must be 0, so any set bit reads as true either way.
            return _with_nulls(pa.array(mat[:, 0] != 0), row_null)
        bits = np.unpackbits(mat, axis=1)[:, : f.count].astype(bool)
        mask = pa.array(row_null) if row_null is not None else None
        return pa.FixedSizeListArray.from_arrays(pa.array(bits.reshape(-1)), f.count, mask=mask)
    if f.datatype == "char":
        binary = pa.array(mat.view(f"S{mat.shape[1]}").reshape(n) if mat.shape[1] else [b""] * n)
        return _strings(f, binary.cast(pa.binary()), row_null, binary2)
    if f.datatype == "unicodeChar":
        text = pa.array(_utf16(f, mat, None), pa.string())
        return _strings(f, text.cast(pa.binary()), row_null, binary2)
    values = _bytes_to_values(f, mat.reshape(-1))
    count = f.count or 1
    if not f.dims:
        if f.is_float:
            values = _with_nulls(values, pc.is_nan(values))
        return _with_nulls(values, row_null)
    mask = pa.array(row_null) if row_null is not None else None
    return pa.FixedSizeListArray.from_arrays(values, count, mask=mask)


def decode_variable(
    f: VOField, data: np.ndarray, counts: np.ndarray, row_null: np.ndarray | None, binary2: bool
) -> pa.Array:
    """A column of length-prefixed cells: ``counts`` primitives each, packed in ``data``."""
    offsets = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    if offsets[-1] * f.item_size >= 1 << 31:
        raise BadCell(0, "a chunk of variable-size cells exceeds 2 GB; use a smaller chunk")
    offsets32 = offsets.astype(np.int32)
    if f.datatype == "char":
        binary = pa.Array.from_buffers(
            pa.binary(), len(counts), [None, pa.py_buffer(offsets32), pa.py_buffer(data)]
        )
        return _strings(f, binary, row_null, binary2)
    if f.datatype == "unicodeChar":
        text = pa.array(_utf16(f, data, counts), pa.string())
        return _strings(f, text.cast(pa.binary()), row_null, binary2)
    values = _bytes_to_values(f, data)
    mask = pa.array(row_null) if row_null is not None else None
    return pa.ListArray.from_arrays(pa.array(offsets32), values, mask=mask)
