"""Row copies: the table's rows again, memory-mapped, exactly as the engine returns them."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datalab.catalog import (
    HEALPIX_COLUMN,
    CatalogStore,
    Engine,
    RowCopy,
    TableSpec,
    ingest_file,
    rowcopy,
)
from datalab.errors import IngestError

SPEC = TableSpec(schema="survey", name="objects", ra="ra", dec="dec")
PLAIN = TableSpec(schema="survey", name="plain")
TABLE = "survey.objects"
# Small stored batches, so that tables of a few thousand rows span many of them.
SMALL_BATCH = 1000
FULL_BATCH = rowcopy.BATCH_ROWS


@pytest.fixture(autouse=True)
def _small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rowcopy, "BATCH_ROWS", SMALL_BATCH)


def _batches(n: int, chunk: int, seed: int = 1, start_id: int = 0) -> Iterator[pa.RecordBatch]:
    """Rows of several types, with a null now and then, and no position every 97th row."""
    rng = np.random.default_rng(seed)
    epoch = datetime(2020, 1, 1)
    for lo in range(0, n, chunk):
        size = min(chunk, n - lo)
        ids = np.arange(start_id + lo, start_id + lo + size, dtype=np.int64)
        ra = rng.uniform(0, 360, size)
        ra[ids % 97 == 5] = np.nan
        mag = rng.uniform(10, 20, size).astype(np.float32)
        yield pa.record_batch(
            {
                "id": pa.array(ids),
                "ra": pa.array(ra),
                "dec": pa.array(np.degrees(np.arcsin(rng.uniform(-1, 1, size)))),
                "mag": pa.array(mag, mask=ids % 13 == 0),
                "flag": pa.array((ids % 3 == 0).tolist(), pa.bool_()),
                "kind": pa.array([["star", "galaxy", None][i % 3] for i in ids], pa.string()),
                "epoch": pa.array(
                    [epoch + timedelta(seconds=int(i)) for i in ids], pa.timestamp("us")
                ),
                "small": pa.array((ids % 1000).astype(np.int16)),
            }
        )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CatalogStore]:
    with CatalogStore.open(tmp_path / "catalog.duckdb") as s:
        yield s


def _root(store: CatalogStore) -> Path:
    assert store.row_copy_root is not None
    return store.row_copy_root


def _directory(store: CatalogStore, table: str = TABLE) -> str | None:
    return rowcopy.read_registry(store.con).get(table)


def _on_disk(store: CatalogStore) -> list[str]:
    root = _root(store)
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def _open(store: CatalogStore, table: str = TABLE) -> RowCopy:
    directory = _directory(store, table)
    assert directory is not None, f"{table} has no row copy"
    return RowCopy.open(_root(store) / directory, table)


def _all_rows(copy: RowCopy) -> pa.Table:
    return pa.Table.from_batches(copy.slice(0, copy.num_rows, copy.schema.names), copy.schema)


def _same(a: pa.Table, b: pa.Table) -> bool:
    """Equal tables, types and all, where a NaN equals a NaN."""
    if not a.schema.equals(b.schema) or a.num_rows != b.num_rows:
        return False
    for x, y in zip(a.columns, b.columns, strict=True):
        if pa.types.is_floating(x.type):
            if not x.is_null().equals(y.is_null()):
                return False
            if not np.array_equal(x.to_numpy(), y.to_numpy(), equal_nan=True):
                return False
        elif not x.equals(y):
            return False
    return True


def _assert_copy_matches(store: CatalogStore, table: str = TABLE) -> RowCopy:
    """The copy holds the engine's rows, in its order, with its types; and the index."""
    copy = _open(store, table)
    schema, name = table.split(".")
    expected = store.con.sql(
        f'SELECT * EXCLUDE ({HEALPIX_COLUMN}) FROM "{schema}"."{name}"'
    ).to_arrow_table()
    assert copy.schema.equals(expected.schema)
    assert copy.num_rows == expected.num_rows
    assert _same(_all_rows(copy), expected)
    directory = _root(store) / (_directory(store, table) or "")
    with pa.memory_map(str(directory / rowcopy.ROWS_FILE)) as source:
        assert _same(pa.ipc.open_file(source).read_all(), expected)
    index = store.con.execute(
        f'SELECT {HEALPIX_COLUMN} FROM "{schema}"."{name}" WHERE {HEALPIX_COLUMN} IS NOT NULL'
    ).fetchnumpy()[HEALPIX_COLUMN]
    healpix = np.load(directory / rowcopy.HEALPIX_FILE)
    assert healpix.dtype == np.int64
    assert np.array_equal(healpix, index)
    return copy


def test_copy_matches_the_table_after_create_replace_and_append(store: CatalogStore) -> None:
    store.load(SPEC, _batches(5000, 1700))
    copy = _assert_copy_matches(store)
    assert copy.num_rows == 5000 and len(copy.slice(0, 5000, ["id"])) == 5
    store.load(SPEC, _batches(3000, 1000, seed=2), mode="replace")
    _assert_copy_matches(store)
    store.load(SPEC, _batches(2500, 900, seed=3, start_id=3000), mode="append")
    copy = _assert_copy_matches(store)
    assert copy.num_rows == 5500
    assert len(_on_disk(store)) == 1


def test_copy_of_an_ingested_file(tmp_path: Path, store: CatalogStore) -> None:
    path = tmp_path / "objects.parquet"
    pq.write_table(pa.Table.from_batches(list(_batches(4000, 4000))), path)
    ingest_file(store, path, TABLE, chunk_rows=700)
    _assert_copy_matches(store)
    ingest_file(store, path, "survey.other", chunk_rows=700, row_copy=False)
    assert _directory(store, "survey.other") is None


def test_stored_batches_are_full_but_the_last(store: CatalogStore) -> None:
    store.load(SPEC, _batches(4321, 600))
    directory = _root(store) / (_directory(store) or "")
    with pa.memory_map(str(directory / rowcopy.ROWS_FILE)) as source:
        reader = pa.ipc.open_file(source)
        sizes = [reader.get_batch(i).num_rows for i in range(reader.num_record_batches)]
    assert sizes == [SMALL_BATCH] * 4 + [321]


def test_a_larger_table_in_full_sized_batches(
    store: CatalogStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rowcopy, "BATCH_ROWS", FULL_BATCH)
    n = 300_000
    rng = np.random.default_rng(11)
    batch = pa.record_batch(
        {
            "id": pa.array(np.arange(n)),
            "ra": pa.array(rng.uniform(0, 360, n)),
            "dec": pa.array(np.degrees(np.arcsin(rng.uniform(-1, 1, n)))),
            "mag": pa.array(rng.uniform(10, 20, n).astype(np.float32)),
        }
    )
    store.load(SPEC, [batch.slice(i, 70_000) for i in range(0, n, 70_000)])
    copy = _assert_copy_matches(store)
    assert len(copy.slice(0, n, ["id"])) == -(-n // FULL_BATCH)
    boundary = 2 * FULL_BATCH
    batches = copy.slice(boundary - 5, boundary + 7, ["id", "mag"])
    assert [b.num_rows for b in batches] == [5, 7]
    expected = store.con.execute(
        f"SELECT id FROM {TABLE} LIMIT 12 OFFSET {boundary - 5}"
    ).fetchnumpy()["id"]
    assert pa.Table.from_batches(batches).column("id").to_pylist() == expected.tolist()


def test_an_empty_table_has_an_empty_copy(tmp_path: Path) -> None:
    path = tmp_path / "catalog.duckdb"
    with CatalogStore.open(path) as store:
        store.load(SPEC, [next(_batches(10, 10)).slice(0, 0)])
        _assert_copy_matches(store)
    engine = Engine(path)
    try:
        copy = engine.row_copy(TABLE)
        assert copy is not None and copy.num_rows == 0
        assert copy.spans(np.array([[0, 1 << 62]])).tolist() == [[0, 0]]
        assert copy.slice(0, 0, ["id"]) == []
    finally:
        engine.close()


def test_rows_without_a_position_come_last(store: CatalogStore) -> None:
    store.load(SPEC, _batches(3000, 1000))
    copy = _assert_copy_matches(store)
    missing = store.con.execute(f"SELECT count(*) FROM {TABLE} WHERE isnan(ra)").fetchall()[0][0]
    assert missing > 0
    healpix = np.load(_root(store) / (_directory(store) or "") / rowcopy.HEALPIX_FILE)
    assert len(healpix) == copy.num_rows - missing
    tail = _all_rows(copy).column("ra").to_numpy()
    assert np.isnan(tail[len(healpix) :]).all() and not np.isnan(tail[: len(healpix)]).any()


def _ranges(store: CatalogStore, rng: np.random.Generator) -> np.ndarray:
    """Ranges of every kind: random, empty, before the first and after the last value,
    and across the stored batches' boundaries."""
    index = store.con.execute(
        f"SELECT {HEALPIX_COLUMN} FROM {TABLE} WHERE {HEALPIX_COLUMN} IS NOT NULL"
    ).fetchnumpy()[HEALPIX_COLUMN]
    lo, hi = int(index[0]), int(index[-1])
    ranges = [(0, lo), (0, lo + 1), (hi, hi + 1), (hi + 1, 12 << 58), (lo, lo), (5, 5)]
    for boundary in range(SMALL_BATCH, len(index), SMALL_BATCH):
        ranges.append((int(index[boundary - 3]), int(index[boundary + 2])))
        ranges.append((int(index[boundary - 1]), int(index[boundary]) + 1))
    for _ in range(40):
        a, b = sorted(rng.integers(lo - 1000, hi + 1000, 2))
        ranges.append((int(a), int(b)))
    return np.array(ranges, dtype=np.int64)


def test_spans_and_slices_agree_with_the_engine(store: CatalogStore) -> None:
    store.load(SPEC, _batches(4500, 1500))
    copy = _open(store)
    ranges = _ranges(store, np.random.default_rng(7))
    spans = copy.spans(ranges)
    assert spans.shape == ranges.shape and spans.dtype == np.int64
    for (a, b), (first, stop) in zip(ranges.tolist(), spans.tolist(), strict=True):
        before_a, before_b, inside = store.con.execute(
            f"SELECT count(*) FILTER ({HEALPIX_COLUMN} < $a), "
            f"count(*) FILTER ({HEALPIX_COLUMN} < $b), "
            f"count(*) FILTER ({HEALPIX_COLUMN} >= $a AND {HEALPIX_COLUMN} < $b) FROM {TABLE}",
            {"a": a, "b": b},
        ).fetchall()[0]
        assert (first, stop) == (before_a, max(before_a, before_b))
        assert stop - first == inside
        ids = store.con.execute(
            f"SELECT id FROM {TABLE} WHERE {HEALPIX_COLUMN} >= ? AND {HEALPIX_COLUMN} < ?",
            [a, b],
        ).fetchnumpy()["id"]
        batches = copy.slice(first, stop, ["dec", "id"])
        assert all(batch.schema.names == ["dec", "id"] for batch in batches)
        got = np.concatenate([b.column("id").to_numpy() for b in batches] or [np.array([])])
        assert sorted(got.tolist()) == sorted(ids.tolist())
        touched = (stop - 1) // SMALL_BATCH - first // SMALL_BATCH + 1 if stop > first else 0
        assert len(batches) == touched


def test_slices_are_zero_copy_and_bounded(store: CatalogStore) -> None:
    store.load(SPEC, _batches(3000, 3000))
    copy = _open(store)
    expected = _all_rows(copy)
    allocated = pa.total_allocated_bytes()
    batches = copy.slice(990, 2010, ["kind", "mag"])
    assert pa.total_allocated_bytes() == allocated
    assert [b.num_rows for b in batches] == [10, 1000, 10]
    assert _same(pa.Table.from_batches(batches), expected.select(["kind", "mag"]).slice(990, 1020))
    assert copy.slice(5, 5, ["id"]) == []
    with pytest.raises(IndexError):
        copy.slice(2990, 3001, ["id"])
    with pytest.raises(KeyError, match="no column 'nope'"):
        copy.slice(0, 10, ["id", "nope"])
    assert [b.schema.names for b in copy.slice(0, 10, ["mag", "id"])] == [["mag", "id"]]


def test_values_read_floating_columns_across_batches(store: CatalogStore) -> None:
    store.load(SPEC, _batches(3000, 3000))
    copy = _open(store)
    expected = _all_rows(copy)
    for first, stop in [(0, 10), (990, 2010), (1500, 1501), (2999, 3000)]:
        for column in ("ra", "dec", "mag"):
            got = copy.values(column, first, stop)
            assert got is not None and len(got) == stop - first
            want = expected.column(column).slice(first, stop - first)
            assert np.array_equal(got, want.to_numpy(zero_copy_only=False), equal_nan=True)
    # Nulls read as NaN (mag is null every 13th id, ra NaN every 97th).
    assert np.isnan(copy.values("mag", 0, 3000)).sum() == expected.column("mag").null_count
    allocated = pa.total_allocated_bytes()
    view = copy.values("dec", 1100, 1200)
    assert view is not None and not view.flags.owndata and not view.flags.writeable
    assert pa.total_allocated_bytes() == allocated
    assert copy.values("id", 0, 10) is None and copy.values("kind", 0, 10) is None
    assert len(copy.values("ra", 7, 7)) == 0
    with pytest.raises(IndexError):
        copy.values("ra", 2990, 3001)
    with pytest.raises(KeyError, match="no column 'nope'"):
        copy.values("nope", 0, 10)


def test_many_threads_share_one_copy(store: CatalogStore) -> None:
    store.load(SPEC, _batches(6000, 2000))
    copy = _open(store)
    expected = _all_rows(copy).column("id").to_numpy()
    rng = np.random.default_rng(3)
    spans = [tuple(sorted(rng.integers(0, 6000, 2).tolist())) for _ in range(400)]

    def ids(span: tuple[int, int]) -> list[int]:
        return [i for b in copy.slice(*span, ["id"]) for i in b.column(0).to_pylist()]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(ids, spans))
    assert all(r == expected[a:b].tolist() for r, (a, b) in zip(results, spans, strict=True))


def test_replace_swaps_directories_and_drop_removes_the_copy(store: CatalogStore) -> None:
    store.load(SPEC, _batches(2000, 1000))
    first = _directory(store)
    assert first is not None and first.startswith(f"{TABLE}.")
    store.load(SPEC, _batches(2000, 1000, seed=5), mode="replace")
    second = _directory(store)
    assert second not in (None, first)
    assert _on_disk(store) == [second]
    store.drop(TABLE)
    assert _directory(store) is None and _on_disk(store) == []


def test_failed_replace_keeps_the_previous_copy(store: CatalogStore) -> None:
    store.load(SPEC, _batches(2000, 1000))
    before = _directory(store)

    def broken() -> Iterator[pa.RecordBatch]:
        yield from _batches(1500, 500, seed=9)
        raise IngestError("not a number", path="x.csv", row=1501, column="dec")

    with pytest.raises(IngestError):
        store.load(SPEC, broken(), mode="replace")
    assert _directory(store) == before and _on_disk(store) == [before]
    _assert_copy_matches(store)


def test_rollback_after_the_copy_is_written_deletes_it(
    store: CatalogStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.load(SPEC, _batches(2000, 1000))
    before = _directory(store)
    real = rowcopy.set_row_copy

    def fails(con: duckdb.DuckDBPyConnection, name: str, directory: str | None) -> str | None:
        real(con, name, directory)
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(rowcopy, "set_row_copy", fails)
    with pytest.raises(RuntimeError, match="disk went away"):
        store.load(SPEC, _batches(1000, 1000, seed=4), mode="replace")
    assert _directory(store) == before and _on_disk(store) == [before]
    assert store.table(TABLE).nrows == 2000


def test_opting_out_or_losing_the_position_removes_the_copy(store: CatalogStore) -> None:
    store.load(SPEC, _batches(2000, 1000))
    store.load(SPEC, _batches(2000, 1000), mode="replace", row_copy=False)
    assert _directory(store) is None and _on_disk(store) == []
    assert store.refresh_row_copy(TABLE)
    _assert_copy_matches(store)
    unplaced = TableSpec(schema="survey", name="objects")
    store.load(unplaced, _batches(100, 100), mode="replace")
    assert _directory(store) is None and _on_disk(store) == []
    assert not store.refresh_row_copy(TABLE)
    store.load(PLAIN, _batches(100, 100))
    assert _directory(store, "survey.plain") is None


def test_unsorted_rows_get_no_copy(store: CatalogStore, caplog: pytest.LogCaptureFixture) -> None:
    root = _root(store)
    store.con.execute("CREATE SCHEMA s")
    store.con.execute(
        f"CREATE TABLE s.shuffled AS SELECT range AS id, (range * 7919) % 5000 AS {HEALPIX_COLUMN} "
        "FROM range(5000)"
    )
    store.con.execute(
        f"CREATE TABLE s.holes AS SELECT range AS id, "
        f"CASE WHEN range = 2500 THEN NULL ELSE range END AS {HEALPIX_COLUMN} FROM range(5000)"
    )
    with caplog.at_level(logging.WARNING, logger="datalab.catalog"):
        assert rowcopy.write_row_copy(store.con, "s.shuffled", root) is None
        assert rowcopy.write_row_copy(store.con, "s.holes", root) is None
        store.con.execute("CREATE TABLE s.unindexed AS SELECT range AS id FROM range(10)")
        assert rowcopy.write_row_copy(store.con, "s.unindexed", root) is None
    assert "not sorted" in caplog.text and "without a position comes before" in caplog.text
    assert f"no {HEALPIX_COLUMN} column" in caplog.text
    assert list(root.iterdir()) == []


def test_a_writable_store_sweeps_what_is_not_registered(tmp_path: Path) -> None:
    path = tmp_path / "catalog.duckdb"
    with CatalogStore.open(path) as store:
        store.load(SPEC, _batches(1000, 1000))
        kept = _directory(store)
        root = _root(store)
    orphan = root / f"{TABLE}.{'0' * 32}"
    orphan.mkdir()
    (orphan / rowcopy.ROWS_FILE).write_bytes(b"half")
    (root / "notes").mkdir()
    CatalogStore.open(path, read_only=True).close()
    assert orphan.exists()
    with CatalogStore.open(path) as store:
        assert sorted(p.name for p in root.iterdir()) == sorted([kept, "notes"])
        assert _directory(store) == kept
    shutil.rmtree(root / (kept or ""))
    with CatalogStore.open(path) as store:
        assert _directory(store) is None, "a copy that is gone is forgotten"


def test_engine_maps_the_copies(tmp_path: Path) -> None:
    path = tmp_path / "catalog.duckdb"
    with CatalogStore.open(path) as store:
        store.load(SPEC, _batches(3000, 1000))
        store.load(PLAIN, _batches(100, 100))
    engine = Engine(path)
    try:
        copy = engine.row_copy(TABLE)
        assert copy is not None and copy.name == TABLE and copy.num_rows == 3000
        assert engine.row_copy("SURVEY.Objects") is copy
        assert engine.row_copy("survey.plain") is None
        assert engine.row_copy("survey.nothing") is None
        with engine.cursor() as cur:
            expected = cur.sql(
                f"SELECT * EXCLUDE ({HEALPIX_COLUMN}) FROM {TABLE}"
            ).to_arrow_reader(SMALL_BATCH).read_all()
        assert _same(_all_rows(copy), expected)
    finally:
        engine.close()


def test_engine_without_a_registry_has_no_copies(tmp_path: Path) -> None:
    path = tmp_path / "catalog.duckdb"
    with CatalogStore.open(path) as store:
        store.load(SPEC, _batches(1000, 1000))
        store.con.execute(f"DROP TABLE {rowcopy.REGISTRY}")
    engine = Engine(path)
    try:
        assert engine.row_copy(TABLE) is None
    finally:
        engine.close()


def test_engine_skips_a_missing_or_mismatched_copy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "catalog.duckdb"
    with CatalogStore.open(path) as store:
        store.load(SPEC, _batches(1000, 1000))
        other = TableSpec(schema="survey", name="other", ra="ra", dec="dec")
        store.load(other, _batches(1000, 1000))
        root = _root(store)
        shutil.rmtree(root / (_directory(store) or ""))
        store.con.execute("DELETE FROM survey.other WHERE id < 10")
        store.con.execute(
            "UPDATE _datalab.tables SET nrows = 990 WHERE table_name = 'survey.other'"
        )
    with caplog.at_level(logging.WARNING, logger="datalab.catalog"):
        engine = Engine(path)
    try:
        assert engine.row_copy(TABLE) is None
        assert engine.row_copy("survey.other") is None
    finally:
        engine.close()
    assert f"row copy of {TABLE} is not used" in caplog.text
    assert "row copy of survey.other is not used: it has 1000 rows" in caplog.text
