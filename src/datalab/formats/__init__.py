"""Readers and streaming writers for the table formats users bring and ask for."""

from datalab.formats.fields import FieldMeta

__all__ = ["FieldMeta"]
