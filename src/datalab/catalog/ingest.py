"""Loading a file into the catalog: a reader's Arrow batches into ``CatalogStore.load``."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa

from datalab.catalog.metadata import TableInfo
from datalab.catalog.metafile import read_metadata_file
from datalab.catalog.store import CatalogStore, LoadMode, TableSpec
from datalab.errors import UsageError
from datalab.formats import FieldMeta, open_table

__all__ = ["detect_position_columns", "ingest_file", "split_table_name"]

ProgressCallback = Callable[[int, int], None]
"""Called with (bytes read so far, total bytes) after each batch."""


def split_table_name(table: str) -> tuple[str, str]:
    parts = table.split(".")
    if len(parts) != 2 or not all(parts):
        raise UsageError(f"table name {table!r}: give it as schema.table, e.g. mysurvey.objects")
    return parts[0], parts[1]


def detect_position_columns(fields: Sequence[FieldMeta]) -> tuple[str | None, str | None]:
    """The (RA, Dec) columns a table declares by UCD, else columns named ``ra``/``dec``.

    UCD1+ marks the main position with ``pos.eq.ra;meta.main`` and
    ``pos.eq.dec;meta.main``; those win over names so that a table with several
    positions is indexed on the one its authors call main.
    """

    def by_ucd(word: str) -> str | None:
        for f in fields:
            words = {w.strip().lower() for w in (f.ucd or "").split(";")}
            if word in words and "meta.main" in words:
                return f.name
        return None

    def by_name(name: str) -> str | None:
        for f in fields:
            if f.name.lower() == name:
                return f.name
        return None

    ra, dec = by_ucd("pos.eq.ra"), by_ucd("pos.eq.dec")
    if ra and dec:
        return ra, dec
    ra, dec = by_name("ra"), by_name("dec")
    if ra and dec:
        return ra, dec
    return None, None


def ingest_file(
    store: CatalogStore,
    path: Path,
    table: str,
    *,
    ra: str | None = None,
    dec: str | None = None,
    meta_file: Path | None = None,
    mode: LoadMode = "create",
    chunk_rows: int = 250_000,
    file_format: str | None = None,
    progress: ProgressCallback | None = None,
    row_copy: bool = True,
) -> TableInfo:
    """Load one file as ``table`` (``schema.table``), streamed in chunks of ``chunk_rows``.

    Column documentation comes from the file and, taking precedence, from ``meta_file``.
    Position columns: ``ra``/``dec`` if given, else the metadata file's, else detected.
    ``row_copy`` is passed to :meth:`CatalogStore.load`.
    """
    schema, name = split_table_name(table)
    meta = read_metadata_file(meta_file) if meta_file is not None else None
    with _page_keeping_pool(), open_table(path, file_format) as reader:
        fields = {f.name: f for f in reader.fields}
        if meta is not None:
            for col, extra in meta.fields.items():
                if col not in fields:
                    raise UsageError(
                        f"{meta_file}: column {col!r} is not in {path} "
                        f"(its columns: {', '.join(fields)})"
                    )
                fields[col] = fields[col].merged(extra)
        if ra is None and dec is None and meta is not None:
            ra, dec = meta.ra, meta.dec
        if ra is None and dec is None:
            ra, dec = detect_position_columns(list(fields.values()))
        for role, col in (("--ra", ra), ("--dec", dec)):
            if col is not None and col not in fields:
                raise UsageError(f"{role} {col!r}: {path} has no such column")
        spec = TableSpec(
            schema=schema,
            name=name,
            description=(meta.description if meta else None) or reader.description,
            schema_description=meta.schema_description if meta else None,
            fields=fields,
            ra=ra,
            dec=dec,
            principal=meta.principal if meta else {},
        )

        def batches() -> Iterator[pa.RecordBatch]:
            for batch in reader.batches(chunk_rows):
                yield batch
                if progress is not None:
                    progress(reader.bytes_read, reader.total_bytes)

        return store.load(spec, batches(), mode=mode, row_copy=row_copy)


@contextmanager
def _page_keeping_pool() -> Iterator[None]:
    """Arrow allocations from jemalloc (else the C library's malloc) while loading.

    pyarrow's default allocator, mimalloc, returns the pages of every freed chunk to the
    operating system and maps them again for the next one; a load allocates and frees
    its whole file chunk by chunk, and that churn cost up to a second of system time
    per two million rows. The default pool is restored afterwards; buffers remember
    the pool they came from, so those still alive are freed correctly either way.
    """
    previous = pa.default_memory_pool()
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:  # a pyarrow built without jemalloc
        pool = pa.system_memory_pool()
    pa.set_memory_pool(pool)
    try:
        yield
    finally:
        pa.set_memory_pool(previous)
