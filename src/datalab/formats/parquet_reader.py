"""Parquet: row groups streamed by pyarrow; column documentation from the file's metadata.

A VO-Parquet file (IVOA Note "Parquet in the VO", VOParquet 1.0) carries a VOTable
document without data under the key ``IVOA.VOTable-Parquet.content``; its FIELDs
describe the columns, in order. Other Parquet files may carry Arrow field metadata
(``unit``, ``ucd``, ``description``, ``utype``), as datalab's own files do.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from datalab.formats.base import TableReader, check_names
from datalab.formats.fields import FieldMeta

__all__ = ["VO_PARQUET_KEY", "ParquetReader"]

VO_PARQUET_KEY = b"IVOA.VOTable-Parquet.content"


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _text(element: ET.Element | None) -> str | None:
    if element is None:
        return None
    text = "".join(element.itertext()).strip()
    return text or None


def _child(element: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in element if _local(c.tag) == name), None)


def vo_metadata(document: bytes) -> tuple[list[FieldMeta], str | None]:
    """FIELDs and description of the first TABLE of a (data-less) VOTable document."""
    root = ET.fromstring(document)
    table = next((e for e in root.iter() if _local(e.tag) == "TABLE"), None)
    if table is None:
        return [], None
    fields = []
    for element in table:
        if _local(element.tag) != "FIELD":
            continue
        a = element.attrib
        fields.append(
            FieldMeta(
                name=a.get("name") or a.get("ID") or "",
                description=_text(_child(element, "DESCRIPTION")),
                unit=a.get("unit") or None,
                ucd=a.get("ucd") or None,
                utype=a.get("utype") or None,
                datatype=a.get("datatype") or None,
                arraysize=a.get("arraysize") or None,
                xtype=a.get("xtype") or None,
            )
        )
    description = _text(_child(table, "DESCRIPTION"))
    if description is None:
        resource = next((e for e in root.iter() if _local(e.tag) == "RESOURCE"), None)
        description = _text(_child(resource, "DESCRIPTION")) if resource is not None else None
    return fields, description


def _arrow_meta(field: pa.Field) -> FieldMeta:
    meta = {
        k.decode(errors="replace"): v.decode(errors="replace")
        for k, v in (field.metadata or {}).items()
    }
    return FieldMeta(
        name=field.name,
        description=meta.get("description") or None,
        unit=meta.get("unit") or None,
        ucd=meta.get("ucd") or None,
        utype=meta.get("utype") or None,
        xtype=meta.get("xtype") or None,
    )


class ParquetReader(TableReader):
    """A Parquet file, read a chunk of rows at a time across its row groups."""

    format = "parquet"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        if not path.is_file():
            raise self.error("no such file" if not path.exists() else "is not a file")
        try:
            self._file = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as exc:
            raise self.error(f"not a readable Parquet file: {exc}") from None
        self.total_bytes = path.stat().st_size
        try:
            self._describe()
        except BaseException:
            self._file.close()
            raise

    def _describe(self) -> None:
        arrow = self._file.schema_arrow
        check_names(arrow.names, self.error)
        # Batches carry no field metadata: the documentation is in ``fields``.
        self.schema = pa.schema([pa.field(f.name, f.type, f.nullable) for f in arrow])
        self._rows = self._file.metadata.num_rows
        metadata = arrow.metadata or {}
        self.fields = [_arrow_meta(f) for f in arrow]
        description = metadata.get(b"description")
        self.description = description.decode(errors="replace") if description else None
        if VO_PARQUET_KEY in metadata:
            self._apply_vo(metadata[VO_PARQUET_KEY])

    def _apply_vo(self, document: bytes) -> None:
        try:
            vo_fields, description = vo_metadata(document)
        except ET.ParseError as exc:
            raise self.error(f"the VO-Parquet metadata is not valid XML: {exc}") from None
        by_name = {f.name: f for f in vo_fields}
        in_order = len(vo_fields) == len(self.fields)
        merged = []
        for i, own in enumerate(self.fields):
            vo = by_name.get(own.name) or (vo_fields[i] if in_order else None)
            merged.append(own.merged(vo) if vo is not None else own)
        self.fields = merged
        self.description = description or self.description

    def _batches(self, chunk_rows: int) -> Iterator[pa.RecordBatch]:
        done = 0
        try:
            for batch in self._file.iter_batches(batch_size=chunk_rows, use_threads=True):
                done += batch.num_rows
                # Progress by rows: Parquet pages are compressed, so rows are the even measure.
                self.bytes_read = self.total_bytes * done // max(self._rows, 1)
                yield pa.RecordBatch.from_arrays(batch.columns, schema=self.schema)
        except pa.ArrowException as exc:
            raise self.error(f"cannot be read after row {done}: {exc}", row=done + 1) from None
        finally:
            self.close()

    def close(self) -> None:
        self._file.close()
