"""Readers and streaming writers for the table formats users bring and ask for."""

from datalab.formats.base import TableReader
from datalab.formats.fields import FieldMeta
from datalab.formats.fits_writer import FitsTableWriter
from datalab.formats.readers import FORMATS, guess_format, open_table
from datalab.formats.votable_types import votable_arrow_type, votable_type

__all__ = [
    "FORMATS",
    "FieldMeta",
    "FitsTableWriter",
    "TableReader",
    "guess_format",
    "open_table",
    "votable_arrow_type",
    "votable_type",
]
