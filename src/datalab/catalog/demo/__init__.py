"""The demo data: real catalogs shipped in PyPI packages, plus a synthetic survey."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import pyarrow as pa

from datalab.catalog.demo.gaia import GAIA_SPEC, gaia_batches
from datalab.catalog.demo.hipparcos import HIPPARCOS_SPEC, hipparcos_batches
from datalab.catalog.demo.openngc import OPENNGC_TABLES, openngc_foreign_keys
from datalab.catalog.metadata import TableInfo
from datalab.catalog.mock import MOCK_FIELDS, MOCK_TABLE_DESCRIPTION, generate
from datalab.catalog.store import CatalogStore, TableSpec

__all__ = ["DEMO_TABLES", "load_demo", "mock_spec"]

MOCK_SCHEMA_DESCRIPTION = (
    "Synthetic survey catalogs made by `datalab mock`: simulated data, shaped like the "
    "DESI Legacy Imaging Surveys' tractor catalogs, for demonstrations and benchmarks. "
    "No row describes a real object."
)

DEMO_TABLES = (
    "gaia_dr3.gaia_source",
    "hipparcos.hip2",
    "openngc.object_types",
    "openngc.objects",
    "openngc.identifiers",
    "ls_mock.tractor",
)

Progress = Callable[[str, int], None]
"""Called with (qualified table name, rows loaded so far)."""


def mock_spec(table: str = "ls_mock.tractor") -> TableSpec:
    schema, name = table.split(".", 1)
    return TableSpec(
        schema=schema,
        name=name,
        description=MOCK_TABLE_DESCRIPTION,
        schema_description=MOCK_SCHEMA_DESCRIPTION,
        fields={f.name: f for f in MOCK_FIELDS},
        ra="ra",
        dec="dec",
    )


def _counted(
    table: str, batches: Iterable[pa.RecordBatch], progress: Progress | None
) -> Iterator[pa.RecordBatch]:
    rows = 0
    for batch in batches:
        yield batch
        rows += batch.num_rows
        if progress is not None:
            progress(table, rows)


def load_demo(
    store: CatalogStore, *, mock_rows: int = 1_000_000, progress: Progress | None = None
) -> list[TableInfo]:
    """Load (or reload) every demo table; each replaces any table of the same name."""
    loaded = []
    jobs: list[tuple[TableSpec, Iterable[pa.RecordBatch]]] = [
        (GAIA_SPEC, gaia_batches()),
        (HIPPARCOS_SPEC, hipparcos_batches()),
    ]
    jobs += [(spec, reader()) for spec, reader in OPENNGC_TABLES]
    if mock_rows > 0:
        jobs.append((mock_spec(), generate(mock_rows)))
    for spec, batches in jobs:
        name = spec.qualified_name
        loaded.append(store.load(spec, _counted(name, batches, progress), mode="replace"))
    for source, target, pairs, description in openngc_foreign_keys():
        store.add_foreign_key(source, target, pairs, description)
    return loaded
