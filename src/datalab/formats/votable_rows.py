"""Cutting VOTable data into rows: BINARY/BINARY2 byte layouts, and TABLEDATA text.

Both work on a whole block at a time with numpy or pyarrow kernels. Python-level work
per row is only needed for BINARY streams with variable-size cells, whose row lengths
are known only by reading each row's length prefixes (VOTable 1.4 §5.3).
"""

from __future__ import annotations

import html
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datalab.formats.votable_types import VOField, decode_fixed, decode_variable

__all__ = ["BinaryLayout", "split_tabledata"]

_REFERENCE_RE = re.compile(r"&(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);")


class BinaryLayout:
    """How a BINARY/BINARY2 row is laid out, and how to cut complete rows from bytes."""

    def __init__(self, fields: list[VOField], binary2: bool) -> None:
        self.fields = fields
        self.binary2 = binary2
        self.flag_bytes = (len(fields) + 7) // 8 if binary2 else 0
        self.sizes = [f.byte_size for f in fields]
        self.fixed = all(s is not None for s in self.sizes)
        self.row_size = self.flag_bytes + sum(s or 0 for s in self.sizes)

    def scan(self, buf: bytearray, limit: int) -> tuple[int, int, list[list[int]] | None]:
        """Rows complete in ``buf`` (at most ``limit``), the bytes they take, and for
        variable-size layouts each field's start offsets (then the rows' own)."""
        if self.fixed:
            n = min(len(buf) // self.row_size, limit) if self.row_size else 0
            return n, n * self.row_size, None
        starts: list[list[int]] = [[] for _ in range(len(self.fields) + 1)]
        size, view, pos, rows = len(buf), memoryview(buf), 0, 0
        plan = list(zip(self.sizes, [f.item_size for f in self.fields], starts, strict=False))
        row_starts = starts[-1]
        while rows < limit:
            p = pos + self.flag_bytes
            row_starts.append(pos)
            for fixed, item, out in plan:
                out.append(p)
                if fixed is not None:
                    p += fixed
                elif p + 4 <= size:
                    p += 4 + int.from_bytes(view[p : p + 4], "big") * item
                else:
                    p = size + 1
                    break
            if p > size:
                break
            pos, rows = p, rows + 1
        view.release()
        for lst in starts:
            del lst[rows:]
        return rows, pos, starts

    def decode(
        self, buf: bytes, n: int, starts: list[list[int]] | None, on_column: list[str]
    ) -> list[pa.Array]:
        """The first ``n`` rows of ``buf`` as columns (``starts`` as from :meth:`scan`).

        ``on_column`` receives the name of the column being decoded, for error reports.
        """
        arr = np.frombuffer(buf, np.uint8)
        field_starts = None
        if starts is None:
            rows = arr[: n * self.row_size].reshape(n, self.row_size)
            flags = rows[:, : self.flag_bytes]
        else:
            row_starts = np.asarray(starts[-1], np.int64)
            flags = arr[row_starts[:, None] + np.arange(self.flag_bytes)]
            field_starts = [np.asarray(s, np.int64) for s in starts[:-1]]
        nulls = None
        if self.binary2:  # one bit per column, most significant first (§5.4)
            nulls = np.unpackbits(flags, axis=1)[:, : len(self.fields)].astype(bool)
        columns = []
        offset = self.flag_bytes
        for j, (f, size) in enumerate(zip(self.fields, self.sizes, strict=True)):
            on_column[:] = [f.name]
            row_null = nulls[:, j] if nulls is not None else None
            if field_starts is None:
                assert size is not None
                cells = rows[:, offset : offset + size]
                columns.append(decode_fixed(f, cells, row_null, self.binary2))
                offset += size
            elif size is not None:
                cells = arr[field_starts[j][:, None] + np.arange(size)]
                columns.append(decode_fixed(f, cells, row_null, self.binary2))
            else:
                heads = field_starts[j]
                counts = arr[heads[:, None] + np.arange(4)].view(">u4").reshape(-1)
                nbytes = counts.astype(np.int64) * f.item_size
                ends = np.cumsum(nbytes)
                index = np.arange(int(ends[-1])) + np.repeat(heads + 4 - (ends - nbytes), nbytes)
                data = arr[index]
                columns.append(
                    decode_variable(f, data, counts.astype(np.int64), row_null, self.binary2)
                )
        return columns


def _solid(data: np.ndarray) -> int:
    """Bytes of ``data`` that are not whitespace (nor, leniently, other controls)."""
    return int(np.count_nonzero(data > 0x20))


def _classify(raw: np.ndarray, where: np.ndarray, tags: tuple[bytes, ...]) -> np.ndarray:
    """For each offset in ``where``, the index of the tag found there, or -1."""
    codes = np.full(len(where), -1, np.int8)
    padded = np.concatenate([raw, np.zeros(8, np.uint8)])
    if max(map(len, tags)) <= 8:  # compare 8 bytes at once as one integer
        # A view whose element i is the 8 bytes from offset i (unaligned, overlapping).
        words = np.ndarray((len(raw),), "<u8", buffer=padded, strides=(1,))
        keys = words[where]
        for code, tag in enumerate(tags):
            mask = np.uint64((1 << (8 * len(tag))) - 1)
            codes[(keys & mask) == np.uint64(int.from_bytes(tag, "little"))] = code
        return codes
    for code, tag in enumerate(tags):
        hit = np.ones(len(where), bool)
        for i, byte in enumerate(tag):
            hit &= padded[where + i] == byte
        codes[hit] = code
    return codes


def split_tabledata(data: bytes, prefix: str, ncols: int) -> tuple[pa.Array, int] | None:
    """The TD contents (row-major) and row count of TABLEDATA bytes made of whole rows.

    Only the plain shape that data writers produce is handled: ``<TR>`` elements
    holding ``<TD>text</TD>`` or ``<TD/>``, whitespace between tags, the five predefined
    entities and character references. Every ``<`` must start one of those four tags,
    in the order of a table of ``ncols`` columns, and nothing but whitespace may lie
    between them; else the result is None and the caller hands the bytes to the XML
    parser, which reads them exactly or reports the fault. Works on the bytes with
    numpy, so the cost per cell is a few array operations, not a Python call.
    """
    p = prefix.encode()
    td, td_end, tr, tr_end = (
        b"<" + p + b"TD>",
        b"</" + p + b"TD>",
        b"<" + p + b"TR>",
        b"</" + p + b"TR>",
    )
    if b"\r" in data:  # XML end-of-line handling (XML 1.0 §2.11)
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    data = data.replace(b"<" + p + b"TD/>", td + td_end)
    raw = np.frombuffer(data, np.uint8)
    lt = np.flatnonzero(raw == ord("<"))
    codes = _classify(raw, lt, (td, td_end, tr, tr_end))
    per_row = 2 * ncols + 2
    if (codes < 0).any() or len(codes) % per_row:
        return None
    template = np.array([2, *[0, 1] * ncols, 3], np.int8)
    if not (codes.reshape(-1, per_row) == template).all():
        return None
    rows = len(codes) // per_row
    starts = lt[codes == 0] + len(td)
    ends = lt[codes == 1]
    lengths = ends - starts
    offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    index = np.arange(int(offsets[-1])) + np.repeat(starts - offsets[:-1], lengths)
    text = raw[index]
    # Outside the tags and values, only whitespace.
    in_tags = rows * (len(tr) + len(tr_end) + ncols * (len(td) + len(td_end)))
    if _solid(raw) != in_tags + _solid(text):
        return None
    values = pa.Array.from_buffers(
        pa.string(),
        len(lengths),
        [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(text)],
    )
    try:
        values.validate(full=True)  # the text must be UTF-8
    except pa.ArrowInvalid:
        return None
    if len(values) and pc.any(pc.match_substring(values, "&")).as_py():
        values = _unescape(values)
        if values is None:
            return None
    return values, rows


def _unescape(values: pa.Array) -> pa.Array | None:
    """Entity and character references replaced (None if one is not XML's)."""
    mask = pc.match_substring(values, "&")
    fixed = []
    for value in values.filter(mask).to_pylist():
        if value.count("&") != len(_REFERENCE_RE.findall(value)):
            return None
        fixed.append(html.unescape(value))
    return pc.replace_with_mask(values, mask, pa.array(fixed, pa.string()))
