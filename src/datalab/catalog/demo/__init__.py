"""The demo data: real catalogs shipped in PyPI packages, plus a synthetic survey."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import pyarrow as pa

from datalab.catalog.demo.gaia import GAIA_SPEC, gaia_batches
from datalab.catalog.demo.hipparcos import HIPPARCOS_SPEC, hipparcos_batches
from datalab.catalog.demo.openngc import OPENNGC_TABLES, openngc_foreign_keys
from datalab.catalog.metadata import TableInfo
from datalab.catalog.mock import PRODUCTS, generate_product
from datalab.catalog.store import CatalogStore, TableSpec

__all__ = [
    "DEMO_TABLES",
    "MOCK_SCHEMA",
    "load_demo",
    "load_mock",
    "mock_foreign_keys",
    "mock_spec",
]

MOCK_SCHEMA = "ls_mock"
MOCK_SCHEMA_DESCRIPTION = (
    "Synthetic survey catalogs made by `datalab mock`: simulated data, shaped like the "
    "DESI Legacy Imaging Surveys' tractor catalogs, for demonstrations and benchmarks. "
    "No row describes a real object. Besides the tractor table: light curves "
    "(measurements) of a subset of stars, with injected RR Lyrae stars, faint dwarf "
    "galaxies injected as stellar overdensities, and truth tables (truth_objects, "
    "truth_dwarfs, truth_rrlyrae) that say what every simulated row really is."
)

DEMO_TABLES = (
    "gaia_dr3.gaia_source",
    "hipparcos.hip2",
    "openngc.object_types",
    "openngc.objects",
    "openngc.identifiers",
    *(f"{MOCK_SCHEMA}.{name}" for name in PRODUCTS),
)

Progress = Callable[[str, int], None]
"""Called with (qualified table name, rows loaded so far)."""


def mock_spec(table: str = "ls_mock.tractor", product: str = "tractor") -> TableSpec:
    """How to load one table of the synthetic survey (``product``) as ``table``."""
    spec = PRODUCTS[product]
    schema, name = table.split(".", 1)
    return TableSpec(
        schema=schema,
        name=name,
        description=spec.description,
        schema_description=MOCK_SCHEMA_DESCRIPTION,
        fields={f.name: f for f in spec.fields},
        ra=spec.ra,
        dec=spec.dec,
    )


def mock_foreign_keys(
    schema: str = MOCK_SCHEMA,
) -> list[tuple[str, str, list[tuple[str, str]], str]]:
    """(from table, target table, column pairs, description): objid -> tractor.objid."""
    return [
        (f"{schema}.{name}", f"{schema}.tractor", [("objid", "objid")], spec.foreign_key)
        for name, spec in PRODUCTS.items()
        if spec.foreign_key is not None
    ]


def _mock_jobs(
    rows: int, seed: int, schema: str, inject: bool
) -> list[tuple[TableSpec, Iterable[pa.RecordBatch]]]:
    return [
        (
            mock_spec(f"{schema}.{name}", name),
            generate_product(name, rows, seed=seed, inject=inject),
        )
        for name in PRODUCTS
    ]


def load_mock(
    store: CatalogStore,
    rows: int,
    *,
    seed: int = 42,
    schema: str = MOCK_SCHEMA,
    inject: bool = True,
    progress: Progress | None = None,
) -> list[TableInfo]:
    """Load (or reload) every table of the synthetic survey into ``schema``, with its keys.

    ``rows`` field rows; with ``inject`` (as in the demo) plus the injected dwarf
    galaxies and RR Lyrae, whatever ``rows`` is.
    """
    loaded = [
        store.load(spec, _counted(spec.qualified_name, batches, progress), mode="replace")
        for spec, batches in _mock_jobs(rows, seed, schema, inject)
    ]
    for source, target, pairs, description in mock_foreign_keys(schema):
        store.add_foreign_key(source, target, pairs, description)
    return loaded


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
    """Load (or reload) every demo table; each replaces any table of the same name.

    ``mock_rows`` is the synthetic survey's number of field rows; its injected objects
    come on top, and 0 leaves the whole survey out.
    """
    loaded = []
    jobs: list[tuple[TableSpec, Iterable[pa.RecordBatch]]] = [
        (GAIA_SPEC, gaia_batches()),
        (HIPPARCOS_SPEC, hipparcos_batches()),
    ]
    jobs += [(spec, reader()) for spec, reader in OPENNGC_TABLES]
    for spec, batches in jobs:
        name = spec.qualified_name
        loaded.append(store.load(spec, _counted(name, batches, progress), mode="replace"))
    for source, target, pairs, description in openngc_foreign_keys():
        store.add_foreign_key(source, target, pairs, description)
    if mock_rows > 0:
        loaded += load_mock(store, mock_rows, progress=progress)
    return loaded
