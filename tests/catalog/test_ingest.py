"""Loading streams: the input read in its own thread while the engine sorts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from datalab.catalog import HEALPIX_COLUMN, CatalogStore, TableSpec, ingest_file
from datalab.errors import IngestError, UsageError

SPEC = TableSpec(schema="survey", name="objects", ra="ra", dec="dec")


def _batch(lo: int, size: int, id_type: pa.DataType = pa.int64()) -> pa.RecordBatch:
    rng = np.random.default_rng(lo)
    return pa.record_batch(
        {
            "id": pa.array(np.arange(lo, lo + size), id_type),
            "ra": pa.array(rng.uniform(0, 360, size)),
            "dec": pa.array(np.degrees(np.arcsin(rng.uniform(-1, 1, size)))),
        }
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CatalogStore]:
    with CatalogStore.open(tmp_path / "catalog.duckdb") as s:
        yield s


def _ids(store: CatalogStore) -> list[int]:
    return [r[0] for r in store.con.execute("SELECT id FROM survey.objects ORDER BY id").fetchall()]


def test_input_error_surfaces_as_raised_and_appending_keeps_the_table(
    store: CatalogStore,
) -> None:
    store.load(SPEC, [_batch(0, 500)])

    def broken() -> Iterator[pa.RecordBatch]:
        yield _batch(500, 300)
        yield _batch(800, 300)
        raise IngestError("not a number", path="x.csv", row=1101, column="dec")

    with pytest.raises(IngestError) as info:
        store.load(SPEC, broken(), mode="append")
    assert (info.value.row, info.value.column) == (1101, "dec")
    assert _ids(store) == list(range(500))
    assert store.table("survey.objects").nrows == 500


def test_error_in_first_batch_and_empty_input(store: CatalogStore) -> None:
    def fails_at_once() -> Iterator[pa.RecordBatch]:
        raise IngestError("truncated", path="x.fits", row=1)
        yield  # pragma: no cover

    with pytest.raises(IngestError, match="truncated"):
        store.load(SPEC, fails_at_once())
    with pytest.raises(UsageError, match="nothing to load"):
        store.load(SPEC, [])
    assert not store.exists("survey", "objects")


def test_source_is_iterated_and_closed_in_one_thread(store: CatalogStore) -> None:
    seen: set[int] = set()

    def source() -> Iterator[pa.RecordBatch]:
        try:
            for lo in range(0, 5000, 1000):
                seen.add(threading.get_ident())
                yield _batch(lo, 1000)
        finally:
            seen.add(threading.get_ident())

    info = store.load(SPEC, source())
    assert info.nrows == 5000 and len(seen) == 1


def test_source_stopped_early_is_closed_in_its_thread(store: CatalogStore) -> None:
    store.load(SPEC, [_batch(0, 10)])
    closed_in: list[int] = []
    started_in: list[int] = []

    def endless() -> Iterator[pa.RecordBatch]:
        started_in.append(threading.get_ident())
        lo = 0
        try:
            while True:
                yield pa.record_batch({"ra": [1.0], "dec": [2.0], "other": [lo]})
                lo += 1
        finally:
            closed_in.append(threading.get_ident())

    with pytest.raises(UsageError, match="columns differ"):
        store.load(SPEC, endless(), mode="append")
    assert closed_in == started_in
    assert _ids(store) == list(range(10))


def test_later_batches_are_cast_to_the_first_ones_types(store: CatalogStore) -> None:
    info = store.load(SPEC, [_batch(0, 100), _batch(100, 100, pa.int32())])
    assert info.nrows == 200
    index = store.con.execute(f"SELECT {HEALPIX_COLUMN} FROM survey.objects").fetchnumpy()
    assert np.all(np.diff(index[HEALPIX_COLUMN]) >= 0)
    with pytest.raises(UsageError, match="lacks the column"):
        store.load(
            SPEC,
            [_batch(0, 10), pa.record_batch({"ra": [1.0], "dec": [2.0]})],
            mode="replace",
        )
    assert store.table("survey.objects").nrows == 200


def test_csv_with_quoted_newlines_past_the_first_block(tmp_path: Path, store: CatalogStore) -> None:
    # Over 8 MB, so that later blocks are parsed with the first one's types, and only some
    # blocks hold a value with a line break in it.
    n = 200_000
    rows = [f'{i},{i % 360}.25,{(i % 170) - 85}.5,"object number {i:08d}"' for i in range(n)]
    for i in (3, 120_001, 199_998):
        rows[i] = f'{i},10.0,20.0,"two\nlines {i}"'
    path = tmp_path / "objects.csv"
    path.write_text("id,ra,dec,label\n" + "\n".join(rows) + "\n")
    assert path.stat().st_size > 8 << 20
    info = ingest_file(store, path, "survey.objects", chunk_rows=50_000)
    assert info.nrows == n and info.ra_column == "ra"
    labels = store.con.execute(
        "SELECT id, label FROM survey.objects WHERE label LIKE 'two%' ORDER BY id"
    ).fetchall()
    assert labels == [(i, f"two\nlines {i}") for i in (3, 120_001, 199_998)]
    assert _ids(store) == list(range(n))


def test_ingest_restores_arrow_memory_pool(tmp_path: Path, store: CatalogStore) -> None:
    path = tmp_path / "t.csv"
    path.write_text("ra,dec\n1.0,2.0\n")
    before = pa.default_memory_pool().backend_name
    ingest_file(store, path, "survey.t")
    assert pa.default_memory_pool().backend_name == before
