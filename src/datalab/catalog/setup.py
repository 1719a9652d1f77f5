"""Getting a data directory's catalog ready to serve."""

from __future__ import annotations

from pathlib import Path

import duckdb

from datalab.catalog import metadata as md
from datalab.catalog.connection import connect, scalar
from datalab.catalog.demo import Progress, load_demo
from datalab.catalog.engine import Engine
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
    images_dir: Path | None = None,
) -> bool:
    """Create the catalog if missing and load the demo into an empty one.

    Returns True when the demo was loaded. A catalog that already has tables is left
    untouched, so a data center's own catalog is never overwritten by the demo.

    With ``images_dir``, the demo also gets its simulated images: drawn from the
    catalogs just loaded into ``images_dir`` and indexed as ``ivoa.obscore``. Only on
    this first start, so a data center's images are never joined by simulated ones.
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
    if demo and images_dir is not None:
        _prepare_demo_images(path, images_dir, threads=threads, progress=progress)
    return demo


def _prepare_demo_images(
    path: Path, images_dir: Path, *, threads: int | None, progress: Progress | None
) -> None:
    """Draw and index the demo images, unless the catalog already has an image index,
    then build their HiPS (the sky viewer's tiles) in the data directory's ``hips/``.

    The catalog is closed for writing while the images are drawn: the engine reads it
    read-only, and DuckDB allows one configuration per file in a process.
    """
    from datalab.config import DataPaths
    from datalab.images import (
        OBSCORE_TABLE,
        build_hips_for_catalog,
        ingest_images,
        make_demo_images,
    )

    engine = Engine(path, threads=threads)
    try:
        schema, name = OBSCORE_TABLE.split(".")
        if any(t.schema == schema and t.name == name for t in engine.tables()):
            return
        if progress is not None:
            progress(OBSCORE_TABLE, 0)
        written = make_demo_images(engine, images_dir)
    finally:
        engine.close()
    report = ingest_images(written, path, images_dir)
    if progress is not None:
        progress(OBSCORE_TABLE, report.indexed)
        progress("hips (tiles)", 0)
    hips = build_hips_for_catalog(path, images_dir, DataPaths(path.parent).hips, threads=threads)
    if progress is not None:
        progress("hips (tiles)", hips.tiles)
