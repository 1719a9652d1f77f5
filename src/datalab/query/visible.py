"""What one user's query may read: the tables the compiler resolves names against."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from datalab.adql import TableCatalog
from datalab.catalog.metadata import TableInfo
from datalab.formats import FieldMeta

__all__ = ["Visible", "result_fields"]


@dataclass(frozen=True)
class Visible:
    """Tables by ADQL name, and the engine names of those stored elsewhere.

    Public catalogs and TAP_SCHEMA for everyone; the user's own myDB tables
    (``mydb.<name>``, stored as ``mydb.<user>.<name>``) for their owner only.
    """

    tables: tuple[TableInfo, ...]
    physical: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def plus(
        self, tables: Iterable[TableInfo], physical: Mapping[str, tuple[str, ...]]
    ) -> Visible:
        return Visible((*self.tables, *tables), {**self.physical, **physical})

    def catalog(self) -> TableCatalog:
        return TableCatalog(self.tables, physical=self.physical)


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
