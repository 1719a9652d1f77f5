"""What every table reader offers, and the pieces the format readers share.

Readers stream: ``batches`` produces Arrow record batches one at a time and keeps no
more than a chunk (plus one block of the file) in memory, so a catalog of tens of GB
loads in bounded memory. Schema and column metadata are known before the first batch,
because the catalog creates the table (and its TAP_SCHEMA entry) before filling it.
"""

from __future__ import annotations

import gzip
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import pyarrow as pa

from datalab.errors import IngestError, UsageError
from datalab.formats.fields import FieldMeta

__all__ = [
    "RowBuffer",
    "Source",
    "TableReader",
    "check_names",
    "first_bad_utf8",
    "first_failure",
]

GZIP_MAGIC = b"\x1f\x8b"


class TableReader(ABC):
    """One table in one file, read as a stream of Arrow record batches.

    ``schema``, ``fields`` and ``description`` are filled in by the constructor;
    ``bytes_read`` grows towards ``total_bytes`` (the size of the file on disk, so for
    compressed files both count compressed bytes) as batches are produced.
    A reader can be iterated once: the file is read front to back, never held whole.
    """

    format: str = ""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.schema: pa.Schema = pa.schema([])
        self.fields: list[FieldMeta] = []
        self.description: str | None = None
        self.total_bytes = 0
        self.bytes_read = 0
        self._iterated = False

    def batches(self, chunk_rows: int) -> Iterator[pa.RecordBatch]:
        """Record batches of at most ``chunk_rows`` rows, each with ``self.schema``."""
        if chunk_rows < 1:
            raise UsageError(f"chunk_rows must be at least 1, not {chunk_rows}")
        if self._iterated:
            raise UsageError(f"{self.path}: a table reader can be iterated only once")
        self._iterated = True
        return self._batches(chunk_rows)

    @abstractmethod
    def _batches(self, chunk_rows: int) -> Iterator[pa.RecordBatch]:
        """The format's own batch generator (arguments already checked)."""

    @abstractmethod
    def close(self) -> None:
        """Release the file; safe to call more than once."""

    def error(
        self, message: str, *, row: int | None = None, column: str | None = None
    ) -> IngestError:
        """An :class:`IngestError` naming this reader's file."""
        return IngestError(message, path=str(self.path), row=row, column=column)

    def __enter__(self) -> TableReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.format} {str(self.path)!r}>"


class Source:
    """A file opened for sequential binary reading, transparently gunzipped.

    gzip can only be read front to back, which is all the CSV, FITS and VOTable readers
    need; ``position`` is the offset in the file on disk, so progress stays meaningful
    for compressed input.
    """

    def __init__(self, path: Path) -> None:
        try:
            self._raw: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed in close()
        except FileNotFoundError:
            raise IngestError("no such file", path=str(path)) from None
        except IsADirectoryError:
            raise IngestError("is a directory, not a file", path=str(path)) from None
        except OSError as exc:
            raise IngestError(f"cannot be opened: {exc.strerror}", path=str(path)) from None
        self.path = path
        self.size = os.fstat(self._raw.fileno()).st_size
        self.compressed = self._raw.read(2) == GZIP_MAGIC
        self._raw.seek(0)
        self.stream: BinaryIO = (
            gzip.GzipFile(fileobj=self._raw, mode="rb") if self.compressed else self._raw  # type: ignore[assignment]
        )

    @property
    def position(self) -> int:
        """Bytes of the file on disk consumed so far."""
        return self._raw.tell() if not self._raw.closed else self.size

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes; fewer only at the end of the data."""
        try:
            return self.stream.read(n)
        except (EOFError, gzip.BadGzipFile, OSError) as exc:
            raise IngestError(f"cannot be decompressed: {exc}", path=str(self.path)) from None

    def close(self) -> None:
        if self.stream is not self._raw:
            self.stream.close()
        self._raw.close()


def check_names(names: Iterable[str], error: Callable[[str], IngestError]) -> list[str]:
    """The column names, refused if one is empty or repeated (a table cannot hold them)."""
    seen: dict[str, int] = {}
    result = []
    for i, name in enumerate(names, start=1):
        if not name.strip():
            raise error(f"column {i} has no name")
        key = name.lower()
        if key in seen:
            raise error(
                f"column name {name!r} is used twice (columns {seen[key]} and {i}); "
                "column names must be unique, ignoring case"
            )
        seen[key] = i
        result.append(name)
    return result


def first_failure(n: int, works: Callable[[int, int], bool]) -> int | None:
    """Smallest index ``i`` in ``[0, n)`` such that ``works(0, i + 1)`` is False.

    ``works(lo, hi)`` tries a vectorised conversion of rows ``lo:hi``. Bisecting on
    prefixes finds the first bad row with O(log n) whole-array conversions, so the
    error path stays fast and uses exactly the conversion that failed, not a
    re-implementation of it. None when all of ``[0, n)`` works.
    """
    if works(0, n):
        return None
    lo, hi = 0, n  # works(0, lo) holds; works(0, hi) fails
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if works(0, mid):
            lo = mid
        else:
            hi = mid
    return hi - 1


def first_bad_utf8(binary: pa.Array) -> int:
    """Index of the first value of ``binary`` that is not valid UTF-8.

    Called after a whole-array cast to string has failed, to name the row in the error.
    """

    def works(lo: int, hi: int) -> bool:
        try:
            binary.slice(lo, hi - lo).cast(pa.string())
        except pa.ArrowInvalid:
            return False
        return True

    return first_failure(len(binary), works) or 0


class RowBuffer:
    """Collects record batches of any size and hands them out ``chunk_rows`` at a time.

    Readers parse files in blocks of bytes whose row counts vary; the consumer asked for
    chunks of rows. Only up to one chunk plus one block is held.
    """

    def __init__(self, schema: pa.Schema, chunk_rows: int) -> None:
        self.schema = schema
        self.chunk_rows = chunk_rows
        self._pending: list[pa.RecordBatch] = []
        self._rows = 0

    def add(self, batch: pa.RecordBatch) -> Iterator[pa.RecordBatch]:
        """Buffer ``batch``; yield every full chunk now available."""
        if batch.num_rows:
            self._pending.append(batch)
            self._rows += batch.num_rows
        while self._rows >= self.chunk_rows:
            yield self._take(self.chunk_rows)

    def flush(self) -> Iterator[pa.RecordBatch]:
        """Yield what is left (fewer than ``chunk_rows`` rows), if anything."""
        if self._rows:
            yield self._take(self._rows)

    def _take(self, n: int) -> pa.RecordBatch:
        self._rows -= n
        first = self._pending[0]
        if first.num_rows >= n:
            if first.num_rows == n:
                self._pending.pop(0)
                return first
            self._pending[0] = first.slice(n)
            return first.slice(0, n)
        table = pa.Table.from_batches(self._pending, schema=self.schema)
        rest = table.slice(n)
        self._pending = rest.to_batches() if rest.num_rows else []
        return table.slice(0, n).combine_chunks().to_batches()[0]
