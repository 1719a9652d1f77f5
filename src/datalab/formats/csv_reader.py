"""CSV and TSV: a header row, then values whose types are inferred from the first block.

The file is cut into blocks at record boundaries here, and each block is parsed by
pyarrow's multithreaded CSV parser. Owning the cuts (rather than handing the whole file
to ``pyarrow.csv.open_csv``) is what lets errors name the absolute row: we know the
row and line each block starts at, and pyarrow reports conversion errors without a row
and parse errors with at most a block-relative one. On an error the failing block is
re-examined to find the row.

Records are cut at a newline outside quotes. Quotes are tracked by parity, which is
exact for RFC 4180 CSV (a quote char inside a value is always doubled and the value
quoted); TSV has no quoting (IANA text/tab-separated-values), so every newline ends a
record.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from datalab.errors import IngestError
from datalab.formats.base import RowBuffer, Source, TableReader, check_names, first_failure
from datalab.formats.fields import FieldMeta

__all__ = ["DEFAULT_BLOCK_SIZE", "NULL_VALUES", "CsvReader"]

DEFAULT_BLOCK_SIZE = 8 << 20
"""Bytes of text parsed at a time; the first block is also what types are inferred from."""

NULL_VALUES = ["", "NULL", "null", "NaN", "nan"]
"""Unquoted values read as null. A quoted empty value (``""``) stays an empty string."""

_BOM = b"\xef\xbb\xbf"
_LF, _CR, _QUOTE = ord("\n"), ord("\r"), ord('"')
_MAX_RECORD = 64 << 20
_COLUMN_RE = re.compile(r"column #(\d+)")
_VALUE_RE = re.compile(r"invalid value '(.*)'$", re.DOTALL)


class _Cut(NamedTuple):
    """Where a block of whole records ends in the pending bytes, and what it holds."""

    end: int  # offset just past the block's last record
    lines: int  # newlines in the block
    multiline: bool  # a quoted value in the block holds a line break


class CsvReader(TableReader):
    """Comma- (``delimiter=","``) or tab-separated (``"\\t"``) text with a header row."""

    format = "csv"

    def __init__(
        self, path: Path, *, delimiter: str = ",", block_size: int = DEFAULT_BLOCK_SIZE
    ) -> None:
        super().__init__(path)
        self.format = "tsv" if delimiter == "\t" else "csv"
        self._delimiter = delimiter
        self._quoted = delimiter != "\t"
        self._block_size = max(block_size, 1)
        self._source = Source(path)
        self.total_bytes = self._source.size
        self._pending = b""
        self._eof = False
        self._inferred_rows = 0
        self._rows_before = 0  # data rows in the blocks already parsed
        self._lines_before = 0  # newlines in everything already parsed, header included
        try:
            self._names = self._read_header()
            self.fields = [FieldMeta(name) for name in self._names]
            self._first: pa.Table | None = self._parse_first()
        except BaseException:
            self._source.close()
            raise
        self.schema = self._first.schema
        self._types = dict(zip(self._names, self.schema.types, strict=True))

    # -- cutting the text into blocks of whole records ---------------------------------

    def _fill(self) -> bool:
        """Read one more block of bytes onto ``_pending``; False at the end of the file."""
        if self._eof:
            return False
        data = self._source.read(self._block_size)
        if not data:
            self._eof = True
            return False
        self._pending += data
        return True

    def _record_end(self, buf: bytes) -> int:
        """Offset just past the first complete record in ``buf`` (the header), or 0."""
        start = 0
        while (nl := buf.find(b"\n", start)) >= 0:
            if not self._quoted or buf.count(b'"', 0, nl) % 2 == 0:
                return nl + 1
            start = nl + 1
        return 0

    def _cut(self, buf: bytes) -> _Cut:
        """Where the last complete record in ``buf`` ends (all of it at the end of the file).

        One vectorised pass over the bytes finds the record ends, counts the lines (for
        error messages) and tells whether a quoted value holds a line break: only then
        does pyarrow need ``newlines_in_values``, which stops it from splitting the block
        between its threads at any newline and costs a fifth of the parsing time.
        """
        data = np.frombuffer(buf, np.uint8)
        newlines = np.flatnonzero(data == _LF)
        if not self._quoted or buf.find(b'"') < 0:
            end = len(buf) if self._eof else (int(newlines[-1]) + 1 if len(newlines) else 0)
            return _Cut(end, int(np.searchsorted(newlines, end)), multiline=False)
        quotes = np.flatnonzero(data == _QUOTE)
        # RFC 4180 doubles a quote inside a value, so a line break is inside a value
        # exactly when an odd number of quotes precede it.
        inside = np.searchsorted(quotes, newlines) & 1
        if self._eof:
            end = len(buf)
        else:
            ends = newlines[inside == 0]
            end = int(ends[-1]) + 1 if len(ends) else 0
        lines = int(np.searchsorted(newlines, end))
        multiline = bool(inside[:lines].any())
        if not multiline and buf.find(b"\r", 0, end) >= 0:  # pyarrow also breaks at a lone CR
            returns = np.flatnonzero(data[:end] == _CR)
            multiline = bool((np.searchsorted(quotes, returns) & 1).any())
        return _Cut(end, lines, multiline)

    def _next_block(self) -> tuple[bytes, _Cut] | None:
        """The next run of whole records, with where it ends; None at the end of the file."""
        while True:
            if not self._eof and len(self._pending) < self._block_size:
                self._fill()
                continue
            if not self._pending:
                return None
            cut = self._cut(self._pending)
            if cut.end:
                block, self._pending = self._pending[: cut.end], self._pending[cut.end :]
                return block, cut
            if len(self._pending) > _MAX_RECORD:
                raise self.error(
                    f"no end of record within {_MAX_RECORD >> 20} MB: a quoted value opened "
                    f"after line {self._lines_before} is never closed",
                    row=self._rows_before + 1,
                )
            self._fill()

    def _read_header(self) -> list[str]:
        while not (end := self._record_end(self._pending)):
            if not self._fill():
                end = len(self._pending)
                break
        header, self._pending = self._pending[:end], self._pending[end:]
        if header.startswith(_BOM):
            header = header[len(_BOM) :]
        self._lines_before = header.count(b"\n")
        text = header.decode("utf-8", errors="replace").rstrip("\r\n")
        if not text.strip():
            raise self.error("the first line must be a header row naming the columns")
        names = next(self._records(text))
        return check_names([n.strip() for n in names], self.error)

    # -- parsing -----------------------------------------------------------------------

    def _parse_first(self) -> pa.Table:
        """Parse the first block, inferring the column types from it."""
        block = self._next_block()
        if block is None:
            return pa.table({n: pa.array([], pa.string()) for n in self._names})
        table = self._parse(*block, None)
        self._inferred_rows = table.num_rows
        # A column with no value in the first block has no type; text holds anything.
        for i, name in enumerate(self._names):
            if pa.types.is_null(table.schema.field(i).type):
                table = table.set_column(i, name, table.column(i).cast(pa.string()))
        return table

    def _options(
        self, multiline: bool, types: dict[str, pa.DataType] | None
    ) -> tuple[pacsv.ReadOptions, pacsv.ParseOptions, pacsv.ConvertOptions]:
        return (
            pacsv.ReadOptions(column_names=self._names, use_threads=True),
            pacsv.ParseOptions(
                delimiter=self._delimiter,
                quote_char='"' if self._quoted else False,
                double_quote=True,
                newlines_in_values=multiline,
                ignore_empty_lines=True,
            ),
            pacsv.ConvertOptions(
                column_types=types,
                null_values=NULL_VALUES,
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )

    def _parse(self, block: bytes, cut: _Cut, types: dict[str, pa.DataType] | None) -> pa.Table:
        read, parse, convert = self._options(cut.multiline, types)
        try:
            # An Arrow buffer, not a Python file: pyarrow's threads read it without the GIL.
            table = pacsv.read_csv(pa.BufferReader(block), read, parse, convert)
        except pa.ArrowInvalid as exc:
            raise self._locate(block, cut, str(exc), types) from None
        self._rows_before += table.num_rows
        self._lines_before += cut.lines
        return table

    def _batches(self, chunk_rows: int) -> Iterator[pa.RecordBatch]:
        buffer = RowBuffer(self.schema, chunk_rows)
        table, self._first = self._first, None
        try:
            while table is not None:
                self.bytes_read = min(self._source.position, self.total_bytes)
                for batch in table.to_batches():
                    yield from buffer.add(batch)
                block = self._next_block()
                table = self._parse(*block, self._types) if block is not None else None
            yield from buffer.flush()
            self.bytes_read = self.total_bytes
        finally:
            self.close()

    def close(self) -> None:
        self._source.close()

    # -- finding the row behind an error -------------------------------------------------

    def _records(self, text: str) -> Iterator[list[str]]:
        """Records of ``text`` split the way the parser splits them (for error reports)."""
        if self._quoted:
            return csv.reader(io.StringIO(text, newline=""), delimiter=self._delimiter)
        return csv.reader(
            io.StringIO(text, newline=""), delimiter=self._delimiter, quoting=csv.QUOTE_NONE
        )

    def _scan(self, block: bytes) -> Iterator[tuple[int, int, int]]:
        """(row index in block, line number in file, field count) of each record."""
        reader = self._records(block.decode("utf-8", errors="replace"))
        index, line = 0, self._lines_before + 1
        for record in reader:  # type: ignore[attr-defined]
            if record:  # empty lines are skipped by the parser too
                yield index, line, len(record)
                index += 1
            line = self._lines_before + reader.line_num + 1  # type: ignore[attr-defined]

    def _line_of(self, block: bytes, index: int) -> int | None:
        for i, line, _ in self._scan(block):
            if i == index:
                return line
        return None

    def _locate(
        self, block: bytes, cut: _Cut, message: str, types: dict[str, pa.DataType] | None
    ) -> IngestError:
        """An error naming the row (and column) of the first bad record in ``block``."""
        first_row = self._rows_before + 1
        match = _COLUMN_RE.search(message)
        if "conversion error" in message and match and types is not None:
            column = self._names[int(match.group(1))]
            target = types[column]
            read, parse, convert = self._options(cut.multiline, {column: pa.binary()})
            convert.include_columns = [column]
            raw = pacsv.read_csv(io.BytesIO(block), read, parse, convert).column(0)
            raw = raw.combine_chunks()
            bad = None
            value_match = _VALUE_RE.search(message)
            if value_match:
                hits = pc.equal(raw, pa.scalar(value_match.group(1).encode(), pa.binary()))
                index = pc.index(hits, True).as_py()
                bad = index if index >= 0 else None
            if bad is None:

                def works(lo: int, hi: int) -> bool:
                    try:
                        pc.cast(raw.slice(lo, hi - lo).cast(pa.string()), target)
                    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                        return False
                    return True

                bad = first_failure(len(raw), works)
            if bad is not None:
                value = raw[bad].as_py().decode("utf-8", errors="replace")
                line = self._line_of(block, bad)
                return self.error(
                    f"value {value!r} is not a valid {target} (line {line}; the column's type "
                    f"was inferred from the first {self._inferred_rows:,} rows)",
                    row=first_row + bad,
                    column=column,
                )
        if "Expected" in message and "columns" in message:
            for index, line, count in self._scan(block):
                if count != len(self._names):
                    return self.error(
                        f"{count} fields where the header has {len(self._names)} (line {line})",
                        row=first_row + index,
                    )
        detail = message.split("\n")[0]
        return self.error(
            f"cannot be read as {self.format.upper()} in the rows from {first_row} "
            f"(line {self._lines_before + 1}) on: {detail}"
        )
