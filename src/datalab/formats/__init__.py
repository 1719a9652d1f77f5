"""Readers and streaming writers for the table formats users bring and ask for."""

from datalab.formats.base import TableReader
from datalab.formats.fields import FieldMeta
from datalab.formats.fits_writer import FitsTableWriter
from datalab.formats.readers import FORMATS, guess_format, open_table
from datalab.formats.results import (
    RESULT_FORMATS,
    ResultFormat,
    ResultInfo,
    encode_result,
    resolve_format,
    votable_error_document,
)
from datalab.formats.votable_types import votable_arrow_type, votable_type

__all__ = [
    "FORMATS",
    "RESULT_FORMATS",
    "FieldMeta",
    "FitsTableWriter",
    "ResultFormat",
    "ResultInfo",
    "TableReader",
    "encode_result",
    "guess_format",
    "open_table",
    "resolve_format",
    "votable_arrow_type",
    "votable_error_document",
    "votable_type",
]
