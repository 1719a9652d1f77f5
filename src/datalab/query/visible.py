"""What one user's query may read: the tables the compiler resolves names against."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from datalab.adql import TableCatalog
from datalab.catalog.metadata import TableInfo
from datalab.formats import FieldMeta
from datalab.images.records import OBSCORE_TABLE

__all__ = ["SERVER_RELATIVE_URLS", "Visible", "result_fields"]

_OBSCORE_SCHEMA, _OBSCORE_NAME = OBSCORE_TABLE.split(".")

SERVER_RELATIVE_URLS: tuple[tuple[str, str, str], ...] = (
    (_OBSCORE_SCHEMA, _OBSCORE_NAME, "access_url"),
)
"""Columns that store server-relative paths (``/images/<id>``), served as absolute URLs.

The server's public address is not known when the tables are written, so each request
puts its base URL in front of them (:meth:`Visible.served_at`).
"""


@dataclass(frozen=True)
class Visible:
    """Tables by ADQL name, and the engine names of those stored elsewhere.

    Public catalogs and TAP_SCHEMA for everyone; the user's own myDB tables
    (``mydb.<name>``, stored as ``mydb.<user>.<name>``) for their owner only.
    """

    tables: tuple[TableInfo, ...]
    physical: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # (schema, table, column) -> the string the engine puts in front of its values
    # (TableCatalog's ``prefixes``).
    prefixes: Mapping[tuple[str, str, str], str] = field(default_factory=dict)

    def plus(
        self, tables: Iterable[TableInfo], physical: Mapping[str, tuple[str, ...]]
    ) -> Visible:
        return Visible((*self.tables, *tables), {**self.physical, **physical}, self.prefixes)

    def served_at(self, base_url: str | None) -> Visible:
        """These tables as a request to ``base_url`` sees them: the columns of
        :data:`SERVER_RELATIVE_URLS` become absolute URLs under it (unchanged without one)."""
        if not base_url:
            return self
        base = base_url.rstrip("/")
        return replace(
            self, prefixes={**self.prefixes, **{key: base for key in SERVER_RELATIVE_URLS}}
        )

    def catalog(self) -> TableCatalog:
        return TableCatalog(self.tables, physical=self.physical, prefixes=self.prefixes)


def result_fields(columns) -> list[FieldMeta]:  # type: ignore[no-untyped-def]
    """FIELD metadata for result columns (``Translation.columns``).

    The datatype is left to the writers, which derive it from the Arrow type of the
    rows (the catalog's type and the computed one can differ, e.g. a SUM of
    integers); array shapes and xtypes (DALI geometry, timestamps) are kept.
    """
    return [
        FieldMeta(
            name=c.name,
            description=c.description,
            unit=c.unit,
            ucd=c.ucd,
            utype=c.utype,
            arraysize=c.arraysize if c.xtype else None,
            xtype=c.xtype,
        )
        for c in columns
    ]
