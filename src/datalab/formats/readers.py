"""Choosing a reader for a file: by the format asked for, its name, or its first bytes."""

from __future__ import annotations

import zlib
from pathlib import Path

from datalab.errors import IngestError
from datalab.formats.base import GZIP_MAGIC, TableReader
from datalab.formats.csv_reader import DEFAULT_BLOCK_SIZE, CsvReader
from datalab.formats.fits_reader import FitsReader
from datalab.formats.parquet_reader import ParquetReader
from datalab.formats.votable_reader import VOTableReader

__all__ = ["FORMATS", "guess_format", "open_table"]

FORMATS = ("csv", "tsv", "parquet", "fits", "votable")

_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".fits": "fits",
    ".fit": "fits",
    ".fts": "fits",
    ".vot": "votable",
    ".votable": "votable",
    ".xml": "votable",
}


def _head(path: Path, size: int = 8192) -> bytes:
    """The first bytes of the file, decompressed if it is gzipped."""
    try:
        with open(path, "rb") as f:
            head = f.read(size)
    except FileNotFoundError:
        raise IngestError("no such file", path=str(path)) from None
    except IsADirectoryError:
        raise IngestError("is a directory, not a file", path=str(path)) from None
    except OSError as exc:
        raise IngestError(f"cannot be opened: {exc.strerror}", path=str(path)) from None
    if head.startswith(GZIP_MAGIC):
        try:
            return zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(head, size)
        except zlib.error:
            return b""
    return head


def guess_format(path: Path) -> str:
    """The format of ``path`` from its extension (``.gz`` aside), else its first bytes."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in _SUFFIXES:
        return _SUFFIXES[suffixes[-1]]
    head = _head(path)
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"SIMPLE  ="):
        return "fits"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<") and b"VOTABLE" in text:
        return "votable"
    first_line = text.split(b"\n", 1)[0]
    if b"\0" not in first_line and not text.startswith(b"<"):
        if b"\t" in first_line:
            return "tsv"
        if b"," in first_line:
            return "csv"
    raise IngestError(
        "cannot tell the file's format from its name or content; give it explicitly "
        f"(one of {', '.join(FORMATS)})",
        path=str(path),
    )


def open_table(
    path: str | Path,
    format: str | None = None,
    *,
    hdu: int | str | None = None,
    block_size: int | None = None,
) -> TableReader:
    """A streaming reader for the table in ``path``.

    ``format`` is one of :data:`FORMATS`, or None to guess it from the file name and,
    failing that, the first bytes. ``hdu`` picks the FITS HDU (number or EXTNAME;
    default: the first binary table). ``block_size`` is how many bytes of CSV/TSV or
    VOTable text are parsed at a time (CSV types are inferred from the first block).
    Raises :class:`IngestError` naming the file when it cannot be read.
    """
    path = Path(path)
    if format is None:
        format = guess_format(path)
    format = format.lower()
    if format not in FORMATS:
        raise IngestError(
            f"unknown format {format!r}; use one of {', '.join(FORMATS)}", path=str(path)
        )
    if hdu is not None and format != "fits":
        raise IngestError(f"an HDU can only be chosen in a FITS file, not {format}", path=str(path))
    if format == "parquet":
        if _head(path, 2).startswith(GZIP_MAGIC):
            raise IngestError(
                "gzip-compressed Parquet is not supported; gunzip it first", path=str(path)
            )
        return ParquetReader(path)
    if format == "fits":
        return FitsReader(path, hdu=hdu)
    if format == "votable":
        return (
            VOTableReader(path)
            if block_size is None
            else VOTableReader(path, block_size=block_size)
        )
    delimiter = "\t" if format == "tsv" else ","
    return CsvReader(path, delimiter=delimiter, block_size=block_size or DEFAULT_BLOCK_SIZE)
