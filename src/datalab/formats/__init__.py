"""Readers and streaming writers for the table formats users bring and ask for."""

from datalab.formats.base import TableReader
from datalab.formats.fields import FieldMeta
from datalab.formats.fits_writer import FitsTableWriter
from datalab.formats.readers import FORMATS, guess_format, open_table

__all__ = ["FORMATS", "FieldMeta", "FitsTableWriter", "TableReader", "guess_format", "open_table"]
