"""The catalog store: survey tables on DuckDB with TAP_SCHEMA metadata and a HEALPix index."""

from datalab.catalog.engine import Engine
from datalab.catalog.ingest import detect_position_columns, ingest_file, split_table_name
from datalab.catalog.metadata import (
    HEALPIX_COLUMN,
    ColumnInfo,
    ForeignKey,
    SchemaInfo,
    TableInfo,
)
from datalab.catalog.metafile import MetadataFile, read_metadata_file
from datalab.catalog.rowcopy import RowCopy
from datalab.catalog.store import CatalogStore, LoadMode, TableSpec

__all__ = [
    "HEALPIX_COLUMN",
    "CatalogStore",
    "ColumnInfo",
    "Engine",
    "ForeignKey",
    "LoadMode",
    "MetadataFile",
    "RowCopy",
    "SchemaInfo",
    "TableInfo",
    "TableSpec",
    "detect_position_columns",
    "ingest_file",
    "read_metadata_file",
    "split_table_name",
]
