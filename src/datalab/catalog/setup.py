"""Getting a data directory's catalog ready to serve."""

from __future__ import annotations

from pathlib import Path

import duckdb

from datalab.catalog import metadata as md
from datalab.catalog.connection import connect, scalar
from datalab.catalog.demo import Progress, load_demo
from datalab.catalog.store import CatalogStore

__all__ = ["catalog_is_empty", "prepare_catalog"]


def catalog_is_empty(path: Path) -> bool:
    """True when there is no catalog yet, or it holds no table but TAP_SCHEMA's own."""
    if not path.exists():
        return True
    con = connect(path, read_only=True)
    try:
        count = scalar(
            con,
            f"SELECT count(*) FROM {md.TAP_SCHEMA}.tables WHERE schema_name <> ?",
            [md.TAP_SCHEMA],
        )
    except duckdb.CatalogException:
        return True
    finally:
        con.close()
    return count == 0


def prepare_catalog(
    path: Path,
    *,
    demo: bool,
    mock_rows: int,
    memory_limit: str | None = None,
    threads: int | None = None,
    temp_dir: Path | None = None,
    progress: Progress | None = None,
) -> bool:
    """Create the catalog if missing and load the demo into an empty one.

    Returns True when the demo was loaded. A catalog that already has tables is left
    untouched, so a data center's own catalog is never overwritten by the demo.
    """
    empty = catalog_is_empty(path)
    if not empty:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    with CatalogStore.open(
        path, memory_limit=memory_limit, threads=threads, temp_dir=temp_dir
    ) as store:
        if demo:
            load_demo(store, mock_rows=mock_rows, progress=progress)
            store.con.execute("CHECKPOINT")
    return demo
