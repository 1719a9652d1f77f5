"""FITS binary tables (FITS Standard 4.0 §7.3), read in chunks of rows.

The header is parsed here rather than by astropy so that rows can be read with plain
sequential reads: a chunk of rows is one ``read`` turned into columns by numpy, so
memory is one chunk whatever the file size, and gzip-compressed files (which can only
be read front to back) work the same way. A memory map would also bound the heap, but
its pages count toward the process's resident size, which would then look like the
whole file to anyone measuring it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datalab.formats.base import Source, TableReader, check_names, first_bad_utf8
from datalab.formats.fields import FieldMeta
from datalab.formats.fits_cards import BLOCK, Header, padding, read_header

__all__ = ["FitsReader"]

_TFORM_RE = re.compile(r"^\s*(\d*)([LXBIJKAEDCMPQ])(.*)$")
_STORED = {"B": "u1", "I": ">i2", "J": ">i4", "K": ">i8", "E": ">f4", "D": ">f8"}
# TZERO that turns the stored signed integers into unsigned ones (and B into signed),
# FITS 4.0 §7.3.2 Table 19.
_OFFSET = {"B": -128, "I": 1 << 15, "J": 1 << 31, "K": 1 << 63}
_SHIFTED = {"B": pa.int8(), "I": pa.uint16(), "J": pa.uint32(), "K": pa.uint64()}
_VOTABLE = {
    "L": "boolean",
    "X": "boolean",
    "B": "unsignedByte",
    "I": "short",
    "J": "int",
    "K": "long",
    "E": "float",
    "D": "double",
    "A": "char",
}
_PLAIN = {
    "L": pa.bool_(),
    "X": pa.bool_(),
    "B": pa.uint8(),
    "I": pa.int16(),
    "J": pa.int32(),
    "K": pa.int64(),
    "E": pa.float32(),
    "D": pa.float64(),
    "A": pa.string(),
}
# Commentary that FITS writers add to every file: not a description of the table.
_BOILERPLATE = (
    "FITS (Flexible Image Transport System) format is defined in 'Astronomy",
    "and Astrophysics', volume 376, page 359; bibcode: 2001A&A...376..359H",
)


@dataclass(frozen=True)
class _Column:
    name: str
    key: str  # field name in the numpy record dtype
    code: str
    repeat: int
    mode: str  # "plain", "shifted" (unsigned/signed via TZERO), "offset", "scaled"
    tnull: int | None
    scale: float
    zero: float | int  # an int when exact: offsets like 2**63 do not fit a float's mantissa

    @property
    def arrow_type(self) -> pa.DataType:
        if self.mode == "shifted":
            base = _SHIFTED[self.code]
        elif self.mode == "offset":
            base = pa.int64()
        elif self.mode == "scaled":
            base = pa.float64()
        else:
            base = _PLAIN[self.code]
        if self.code == "A" or self.repeat == 1:
            return base
        return pa.list_(base, self.repeat)

    def numpy_format(self) -> str | tuple[str, tuple[int]]:
        if self.code == "A":
            return f"S{self.repeat}"
        if self.code == "X":
            return ("u1", ((self.repeat + 7) // 8,))
        stored = "u1" if self.code == "L" else _STORED[self.code]
        return stored if self.repeat == 1 else (stored, (self.repeat,))


class FitsReader(TableReader):
    """The first BINTABLE extension of a FITS file, or the one ``hdu`` names.

    ``hdu`` is an HDU number (0 is the primary) or an EXTNAME. The description is the
    HDU's COMMENT text, as FITS has no keyword for it; ``extname`` is the EXTNAME.
    A truncated file is refused when opened, before any row is read (for a gzipped
    file, whose size is only known at the end, when the first incomplete chunk is read).
    """

    format = "fits"

    def __init__(self, path: Path, *, hdu: int | str | None = None) -> None:
        super().__init__(path)
        self._source = Source(path)
        self.total_bytes = self._source.size
        try:
            header, index = self._find_table(hdu)
            self._open_table(header, index)
        except BaseException:
            self._source.close()
            raise

    def _find_table(self, hdu: int | str | None) -> tuple[Header, int]:
        first = self._source.read(BLOCK)
        if not first.startswith(b"SIMPLE  ="):
            raise self.error("not a FITS file: it does not start with SIMPLE = T")
        unread = [first]

        def read(n: int) -> bytes:
            return unread.pop() if unread else self._source.read(n)

        index = 0
        while True:
            try:
                header = read_header(read)
            except ValueError as exc:
                raise self.error(f"not a readable FITS file: {exc}") from None
            if header is None:
                break
            if index == 0 and header.get("SIMPLE") is not True:
                raise self.error("not a FITS file: it does not start with SIMPLE = T")
            xtension = (header.text("XTENSION") or "").strip()
            extname = (header.text("EXTNAME") or "").strip()
            chosen = (
                (hdu is None and xtension == "BINTABLE" and header.get("ZIMAGE") is not True)
                or (isinstance(hdu, int) and hdu == index)
                or (isinstance(hdu, str) and extname.lower() == hdu.strip().lower())
            )
            if chosen:
                if xtension != "BINTABLE":
                    kind = f"a {xtension} extension" if xtension else "the primary HDU"
                    raise self.error(f"HDU {index} is {kind}, not a binary table (BINTABLE)")
                return header, index
            try:
                self._source.stream.seek(self._source.stream.tell() + _data_size(header))
            except ValueError as exc:
                raise self.error(f"HDU {index}: {exc}") from None
            index += 1
        if hdu is None:
            raise self.error("the file has no binary table (BINTABLE) extension")
        raise self.error(f"the file has no HDU {hdu!r} (it has {index} HDUs)")

    def _open_table(self, header: Header, index: int) -> None:
        try:
            self._row_bytes = header.integer("NAXIS1")
            self._rows = header.integer("NAXIS2")
            tfields = header.integer("TFIELDS")
        except ValueError as exc:
            raise self.error(f"HDU {index}: {exc}") from None
        self.extname = header.text("EXTNAME")
        comments = [c.strip() for c in header.comments if c.strip() not in _BOILERPLATE]
        self.description = " ".join(c for c in comments if c) or None
        columns, formats, offset = [], [], 0
        metas = []
        for i in range(1, tfields + 1):
            col, width = self._column(header, i)
            if width and col is not None:
                columns.append(col)
                formats.append((col.key, col.numpy_format(), offset))
                metas.append(self._meta(header, i, col))
            offset += width
        if offset != self._row_bytes:
            raise self.error(
                f"the columns' TFORMs add up to {offset} bytes but NAXIS1 says {self._row_bytes}"
            )
        names = check_names([c.name for c in columns], self.error)
        self._columns = columns
        self._dtype = np.dtype(
            {
                "names": [f[0] for f in formats],
                "formats": [f[1] for f in formats],
                "offsets": [f[2] for f in formats],
                "itemsize": max(self._row_bytes, 1),
            }
        )
        self.fields = metas
        self.schema = pa.schema([(n, c.arrow_type) for n, c in zip(names, columns, strict=True)])
        self._data_start = self._source.stream.tell()
        if not self._source.compressed:
            present = self.total_bytes - self._data_start
            if present < self._row_bytes * self._rows:
                complete = max(present, 0) // self._row_bytes if self._row_bytes else 0
                raise self.error(
                    f"the file is truncated: the header announces {self._rows:,} rows of "
                    f"{self._row_bytes} bytes, the data holds {complete:,} complete rows",
                    row=complete + 1,
                )

    def _column(self, header: Header, i: int) -> tuple[_Column | None, int]:
        tform = header.text(f"TFORM{i}") or ""
        name = (header.text(f"TTYPE{i}") or f"col{i}").strip()
        match = _TFORM_RE.match(tform.upper())
        if not match:
            raise self.error(f"TFORM{i} = {tform!r} is not a valid column format", column=name)
        repeat, code = int(match.group(1) or 1), match.group(2)
        if code in "PQ":
            raise self.error("variable-length array columns (P/Q) are not supported", column=name)
        if code in "CM":
            raise self.error("complex-valued columns (C/M) are not supported", column=name)
        size = {"L": 1, "B": 1, "A": 1, "I": 2, "J": 4, "K": 8, "E": 4, "D": 8}.get(code, 0)
        width = (repeat + 7) // 8 if code == "X" else repeat * size
        if repeat == 0:
            return None, 0
        dims = re.findall(r"\d+", header.text(f"TDIM{i}") or "")
        if code == "A" and len(dims) > 1 and int(dims[0]) < repeat:
            raise self.error(
                "arrays of strings (TDIM on an A column) are not supported", column=name
            )
        scale = header.number(f"TSCAL{i}")
        zero = header.number(f"TZERO{i}")
        tnull = header.get(f"TNULL{i}")
        mode = "plain"
        if code in _OFFSET and scale in (None, 1) and zero not in (None, 0):
            mode = "shifted" if zero == _OFFSET[code] else "offset"
            if mode == "offset" and float(zero or 0) != int(zero or 0):
                mode = "scaled"
        elif code in "BIJKED" and (scale not in (None, 1) or zero not in (None, 0)):
            mode = "scaled"
        col = _Column(
            name=name,
            key=f"c{i}",
            code=code,
            repeat=repeat,
            mode=mode,
            tnull=tnull if isinstance(tnull, int) and not isinstance(tnull, bool) else None,
            scale=float(scale if scale is not None else 1),
            zero=zero if zero is not None else 0,
        )
        return col, width

    def _meta(self, header: Header, i: int, col: _Column) -> FieldMeta:
        datatype = None
        if col.mode == "plain":
            datatype = _VOTABLE[col.code]
        elif col.mode == "scaled":
            datatype = "double"
        arraysize = None
        if col.code == "A":
            arraysize = f"{col.repeat}*"
        elif col.repeat > 1:
            dims = re.findall(r"\d+", header.text(f"TDIM{i}") or "")
            ok = dims and np.prod([int(d) for d in dims]) == col.repeat
            arraysize = "x".join(dims) if ok else str(col.repeat)
        return FieldMeta(
            name=col.name,
            description=header.text(f"TCOMM{i}") or header.text(f"TDESC{i}"),
            unit=header.text(f"TUNIT{i}"),
            ucd=header.text(f"TUCD{i}"),
            utype=header.text(f"TUTYP{i}"),
            datatype=datatype,
            arraysize=arraysize,
        )

    def _batches(self, chunk_rows: int) -> Iterator[pa.RecordBatch]:
        done = 0
        try:
            while done < self._rows:
                n = min(chunk_rows, self._rows - done)
                data = self._source.read(n * self._row_bytes)
                if len(data) < n * self._row_bytes:
                    raise self.error(
                        f"the file is truncated: the header announces {self._rows:,} rows",
                        row=done + len(data) // self._row_bytes + 1,
                    )
                records = np.frombuffer(data, self._dtype, count=n)
                arrays = []
                for col in self._columns:
                    try:
                        arrays.append(_to_arrow(col, records[col.key]))
                    except _BadText as bad:
                        raise self.error(
                            bad.message, row=done + bad.index + 1, column=col.name
                        ) from None
                yield pa.RecordBatch.from_arrays(arrays, schema=self.schema)
                done += n
                self.bytes_read = min(self._source.position, self.total_bytes)
            self.bytes_read = self.total_bytes
        finally:
            self.close()

    def close(self) -> None:
        self._source.close()


class _BadText(Exception):
    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index, self.message = index, message


def _data_size(header: Header) -> int:
    """Bytes of the data unit after ``header``, padding included (FITS 4.0 §4.4.1)."""
    naxis = header.integer("NAXIS", 0)
    axes = [header.integer(f"NAXIS{i}") for i in range(1, naxis + 1)]
    if header.get("GROUPS") is True and axes and axes[0] == 0:
        axes = axes[1:]
    count = int(np.prod(axes, dtype=np.int64)) if axes else 0
    bits = abs(header.integer("BITPIX"))
    size = bits // 8 * header.integer("GCOUNT", 1) * (header.integer("PCOUNT", 0) + count)
    return size + padding(size)


def _to_arrow(col: _Column, stored: np.ndarray) -> pa.Array:
    """One column of a chunk of records, physical values with nulls (FITS 4.0 §7.3.3)."""
    n = len(stored)
    if col.code == "A":
        binary = pa.array(stored, pa.binary())  # stops at the first NUL, as §7.3.3.1 says
        try:
            text = binary.cast(pa.string())
        except pa.ArrowInvalid:
            raise _BadText(first_bad_utf8(binary), "text that is not UTF-8") from None
        text = pc.utf8_rtrim(text, characters=" ")
        # FITS has no null for text; an empty value is a missing one, as in VOTable.
        return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    if col.code == "X":
        bits = np.unpackbits(stored.reshape(n, -1), axis=1)[:, : col.repeat].astype(bool)
        flat = pa.array(bits.reshape(-1))
    elif col.code == "L":
        flat_bytes = stored.reshape(-1)
        true = flat_bytes == ord("T")
        flat = pa.array(true, mask=~(true | (flat_bytes == ord("F"))))
    else:
        flat = _numbers(col, stored.reshape(-1))
    if col.repeat == 1:
        return flat
    return pa.FixedSizeListArray.from_arrays(flat, col.repeat)


def _numbers(col: _Column, stored: np.ndarray) -> pa.Array:
    raw = stored.astype(stored.dtype.newbyteorder("="))
    mask = raw == col.tnull if col.tnull is not None and col.code in _OFFSET else None
    if col.mode == "shifted":
        bits = 8 * raw.dtype.itemsize
        unsigned = raw.view(f"u{raw.dtype.itemsize}") if col.code != "B" else raw
        values = (unsigned ^ np.array(1 << (bits - 1), unsigned.dtype)).view(
            _SHIFTED[col.code].to_pandas_dtype()
        )
    elif col.mode == "offset":
        values = raw.astype(np.int64) + int(col.zero)
    elif col.mode == "scaled":
        values = raw * col.scale + col.zero
    else:
        values = raw
    if values.dtype.kind == "f" and col.repeat == 1:
        nan = np.isnan(values)
        mask = nan if mask is None else mask | nan
    return pa.array(values, mask=mask)
